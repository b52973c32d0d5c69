"""Names without traps, read from the source and the parsers: Ray's `tune` module never takes the name of
this package, and the search's goals are `--optimize`, never a public `--objectives` beside the method's
`--objective`."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path

from tune.cli import make_parser

ROOT = Path(__file__).resolve().parents[1]


def _bindings(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """(imported module or object, the name it is bound to) for every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, alias.asname or alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", alias.asname or alias.name


def test_no_module_of_the_tune_package_calls_rays_module_tune():
    offenders = [
        f"{path.relative_to(ROOT)}: {source} as {name}"
        for path in sorted((ROOT / "tune").rglob("*.py"))
        for source, name in _bindings(ast.parse(path.read_text(encoding="utf-8")))
        if name == "tune" and source.split(".")[0] == "ray"
    ]
    assert not offenders, f"import Ray's module under another name (e.g. `raytune`): {offenders}"


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_objectives_is_only_a_hidden_alias_of_optimize():
    parsers = dict(_parsers(make_parser()))
    for prog, parser in parsers.items():
        for action in parser._actions:
            if "--objectives" in action.option_strings:
                assert action.help == argparse.SUPPRESS and action.dest == "optimize", prog
        assert "--objectives" not in parser.format_help(), prog
    assert "--optimize" in parsers["fcdd tune"].format_help()
    assert "--objective " in parsers["fcdd train"].format_help()  # the method's flag, as the original names it
