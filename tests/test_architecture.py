"""The layout's rules, read from the source: imports point one way, no cycles, Ray in one module, cheap start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer and the layers below it, never one above.
# Registries are tables of names with lazy references ("module:attribute"), so they sit at the
# bottom: the config validates names against them without importing the implementations.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "registries",
        (
            "fcdd.registry",
            "fcdd.data.registry",
            "fcdd.networks.registry",
            "fcdd.anomalies.registry",
            "fcdd.methods.registry",
        ),
    ),  # fmt: skip
    ("config", ("fcdd.config", "fcdd.metrics", "fcdd.paper", "fcdd.progress")),
    ("data", ("fcdd.data",)),
    ("networks", ("fcdd.networks",)),
    ("anomalies", ("fcdd.anomalies",)),
    ("presets", ("fcdd.presets",)),
    ("methods", ("fcdd.methods",)),
    ("engine", ("fcdd.engine",)),
    ("pictures", ("fcdd.pictures",)),
    ("artifacts", ("fcdd.artifacts",)),
    ("runner", ("fcdd.runner", "fcdd.probe")),
    ("method commands", ("fcdd.explain", "fcdd.cli", "fcdd.deploy", "fcdd")),
    ("experiment specs", ("tune.flags", "tune.objectives", "tune.spec", "tune.resources", "tune.remote", "tune")),
    ("experiment plans", ("tune.plan", "tune.search", "tune.preflight")),
    ("results", ("tune.store", "tune.collect", "tune.ranking", "tune.progress", "tune.status")),
    ("reports", ("tune.report",)),
    ("trackers", ("tune.tracking",)),
    ("runners", ("tune.runners",)),
    ("experiments", ("tune.resolve", "tune.selection", "tune.experiment")),
    ("console script", ("tune.cli",)),
]


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("fcdd", "tune"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, f"{module} is in no layer of tests/test_architecture.py; add it"
    return rank


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(module: str) -> set[str]:
    """Our modules that ``module`` imports anywhere in its file (function-level imports too)."""
    tree = ast.parse(MODULES[module].read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from fcdd import registry` imports the module fcdd.registry.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]  # fmt: skip
        else:
            continue
        found |= {name for name in names if name in MODULES and name != module}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    mine = _layer(module)
    upward = [f"{target} ({LAYERS[_layer(target)][0]})" for target in GRAPH[module] if _layer(target) > mine]
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports a higher layer: {upward}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)


def test_only_one_module_imports_ray():
    importers = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "ray" or name.startswith("ray.") for name in names):
                importers.add(module)
    assert importers == {"tune.runners.ray"}


def test_only_one_module_imports_mlflow():
    importers = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(name == "mlflow" or name.startswith("mlflow.") for name in names):
                importers.add(module)
    assert importers == {"tune.tracking.mlflow"}


def test_the_method_never_imports_the_orchestrator():
    for module, targets in GRAPH.items():
        if module.startswith("fcdd"):
            assert not [t for t in targets if t.startswith("tune")], module


CLI_MODULES = ("tune.cli", "fcdd.cli", "tune.flags", "fcdd.presets", "fcdd.config")


def test_importing_the_cli_loads_no_torch():
    code = (
        "import sys; import "
        + ", ".join(CLI_MODULES)
        + "; print(sorted(m for m in ('torch', 'ray', 'pandas', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv", [["--help"], ["presets"], ["report", "--help"], ["train", "--help"], ["export", "--help"]]
)
def test_cheap_commands_load_no_torch(argv):
    code = (
        "import sys\nfrom tune.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO TORCH', file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stderr.strip().splitlines()[-1] == "NO TORCH", out.stderr


def test_the_package_exports_resolve():
    import fcdd

    for name in fcdd.__all__:
        assert getattr(fcdd, name) is not None, name
