"""The layout's rules, read from the source: imports point one way, no cycles, Ray in one module, cheap start-up;
and the tests' own: they mirror the code, share builders through tests.helpers only, and mark slow work `slow`."""

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
    # The nets need nothing but their registry; the config asks one its input shape (fcdd.implied).
    ("networks", ("fcdd.networks",)),
    ("config", ("fcdd.config", "fcdd.implied", "fcdd.metrics", "fcdd.paper", "fcdd.progress")),
    ("data", ("fcdd.data",)),
    ("anomalies", ("fcdd.anomalies",)),
    ("presets", ("fcdd.presets",)),
    ("methods", ("fcdd.methods",)),
    ("engine", ("fcdd.engine",)),
    ("pictures", ("fcdd.pictures",)),
    ("artifacts", ("fcdd.artifacts",)),
    ("runner", ("fcdd.runner", "fcdd.probe")),
    ("method commands", ("fcdd.explain", "fcdd.cli", "fcdd.deploy", "fcdd")),
    ("experiment specs", ("tune.flags", "tune.search_goals", "tune.spec", "tune.resources", "tune.remote", "tune")),
    ("experiment plans", ("tune.plan", "tune.search_trials", "tune.preflight", "tune.ties", "tune.suite_spec")),
    (
        "results",
        ("tune.store", "tune.collect", "tune.significance", "tune.progress_file", "tune.status", "tune.snapshots"),
    ),
    ("reports", ("tune.report",)),
    ("trackers", ("tune.tracking",)),
    ("runners", ("tune.runners",)),
    ("experiments", ("tune.resolve", "tune.selection", "tune.experiment", "tune.suite")),
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


@pytest.mark.slow
def test_importing_the_cli_loads_no_torch():
    code = (
        "import sys; import "
        + ", ".join(CLI_MODULES)
        + "; print(sorted(m for m in ('torch', 'ray', 'pandas', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
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


MAX_FUNCTION_LINES = 60  # a function longer than a screen does more than one thing


def test_no_function_is_longer_than_sixty_lines():
    long = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.add((module, node.name))
    assert long == set(), "split these by concern"


# --- the tests' own layout ------------------------------------------------------------------------

TESTS = ROOT / "tests"
TEST_FILES = sorted(TESTS.rglob("*.py"))


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_test_modules_import_no_other_test_module():
    # Shared builders live in tests.helpers; a folder's own non-test modules (tests/badinput/world.py,
    # tests/cluster/ray_nodes.py) serve that folder only. Importing a test module runs its fixtures'
    # and marks' side effects twice and hides where a builder lives.
    wrong = []
    for path in TEST_FILES:
        package = _dotted(path.parent)
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if not name.startswith("tests.") or name == "tests.helpers" or name.startswith("tests.helpers."):
                    continue
                if name.rsplit(".", 1)[-1].startswith("test_") or name.rsplit(".", 1)[0] != package:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "import shared test code from tests.helpers:\n" + "\n".join(wrong)


def test_method_tests_mirror_the_method_package():
    # tests/fcdd/<package>/test_<module>[_<aspect>].py for fcdd/<package>/<module>.py: a newcomer finds
    # the tests of a module by its path.
    wrong = []
    for path in sorted((TESTS / "fcdd").rglob("test_*.py")):
        source = ROOT / "fcdd" / path.parent.relative_to(TESTS / "fcdd")
        modules = {p.stem for p in source.glob("*.py") if p.stem != "__init__"} if source.is_dir() else set()
        stem = path.stem.removeprefix("test_")
        if not any(stem == m or stem.startswith(m + "_") for m in modules):
            wrong.append(f"{path.relative_to(ROOT)} names no module of {source.relative_to(ROOT)}/")
    assert not wrong, "\n".join(wrong)


# What makes a test slow: a fixture that starts Ray or trains (the session's `ray_cluster`, the bad-input
# suites' `world`), and starting a process (the CLI in a subprocess, a server, Ray by hand).
SLOW_FIXTURES = {"ray_cluster": TESTS / "conftest.py", "world": TESTS / "badinput" / "conftest.py"}
SPAWNING_NAMES = {"run_cli", "subprocess", "Popen"}


def _is_slow_mark(node: ast.expr) -> bool:
    return ast.unparse(node).replace(" ", "") in {"pytest.mark.slow", "[pytest.mark.slow]"} or (
        isinstance(node, ast.List | ast.Tuple) and any(_is_slow_mark(e) for e in node.elts)
    )


def _uses(function: ast.FunctionDef) -> set[str]:
    """Every name, attribute and parameter (fixture) a function refers to, nested functions included."""
    used = {a.arg for a in function.args.args}
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
            if isinstance(node.value, ast.Name) and node.value.id == "ray" and node.attr == "init":
                used.add("ray.init")
    return used


def unmarked_slow_tests(source: str) -> list[str]:
    """The tests of a module that start Ray, train on a session fixture or spawn a process, unmarked ``slow``.

    A module function or fixture that does so makes every test that calls or requests it slow too.
    """
    tree = ast.parse(source)
    if any(
        isinstance(n, ast.Assign) and any(ast.unparse(t) == "pytestmark" for t in n.targets) and _is_slow_mark(n.value)
        for n in tree.body
    ):
        return []
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    uses = {name: _uses(f) for name, f in functions.items()}
    slow = {name for name, used in uses.items() if used & (SPAWNING_NAMES | set(SLOW_FIXTURES) | {"ray.init"})}
    while grown := {name for name, used in uses.items() if name not in slow and used & slow}:
        slow |= grown
    return [
        name
        for name in sorted(slow)
        if name.startswith("test_") and not any(_is_slow_mark(d) for d in functions[name].decorator_list)
    ]


def test_the_slow_fixtures_are_where_the_slow_rule_looks():
    for name, conftest in SLOW_FIXTURES.items():
        assert f"def {name}(" in conftest.read_text(), f"{name} moved: update SLOW_FIXTURES"


def test_tests_that_start_ray_train_or_spawn_processes_are_marked_slow():
    unmarked = [
        f"{path.relative_to(ROOT)}::{name}"
        for path in TEST_FILES
        if path.name.startswith("test_")
        for name in unmarked_slow_tests(path.read_text())
    ]
    assert not unmarked, "mark these @pytest.mark.slow (or the module: pytestmark = pytest.mark.slow):\n" + "\n".join(
        unmarked
    )


def test_the_slow_rule_sees_fixtures_helpers_and_module_marks():
    source = """
import pytest, subprocess
@pytest.fixture
def server():
    return subprocess.Popen(["x"])
def _helper():
    return run_cli(["train"])
def test_fixture(server): ...
def test_helper(): _helper()
def test_ray(ray_cluster): ...
def test_plain(tmp_path): ...
@pytest.mark.slow
def test_marked(ray_cluster): ...
"""
    assert unmarked_slow_tests(source) == ["test_fixture", "test_helper", "test_ray"]
    assert unmarked_slow_tests("import pytest\npytestmark = pytest.mark.slow\n" + source) == []
