"""The one path from a command line to a :class:`~tune.spec.BenchmarkSpec` (or a suite of them).

`fcdd train` and `fcdd benchmark` call :func:`resolve_plan`, `fcdd tune` :func:`resolve_spec`:
the plan's source (a preset, a run's ``config.json`` or a spec YAML), then the flags, merged into
the same raw mapping and parsed once by :func:`tune.spec_file.spec_from_dict` (for a suite, once
per entry). Identical flags therefore give identical trial configs through every command and
every runner.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fcdd.cli import CliError
from fcdd.config import RunConfig
from tune.flags import config_overrides
from tune.preflight import offline_fallback
from tune.spec import BenchmarkSpec, dry_run
from tune.spec_file import load_spec, spec_from_dict
from tune.suite_spec import SUITE_KEY, Suite, check_suite_raw, is_suite, shipped_suite, suite_from_dict

# Plan-level flags: argparse dest → (section of the raw spec or None for the top level, key).
_PLAN_FLAGS: dict[str, tuple[str | None, str]] = {
    "name": (None, "name"),
    "classes": (None, "classes"),
    "seeds": (None, "seeds"),
    "baselines": (None, "baselines"),  # --baselines is None unless given
    "max_failures": (None, "max_failures"),
    "cpus_per_trial": ("resources", "cpus_per_trial"),
    "gpus_per_trial": ("resources", "gpus_per_trial"),
    "trials": ("search", "trials"),
    "early_stopping": ("search", "scheduler"),
    "storage": ("search", "storage"),
    "search_class": ("search", "search_class"),
    "optimize": ("search", "optimize"),
    "pick": ("search", "pick"),
}


def _source(args: argparse.Namespace) -> dict[str, Any]:
    given = [flag for flag, value in (("--spec", args.spec), ("--config", args.config), ("--preset", args.preset))
             if value is not None]  # fmt: skip
    if len(given) > 1:
        raise CliError(f"{' and '.join(given)} both name the starting settings; pass one of them")
    if args.spec is not None:
        return load_spec(args.spec)
    if args.config is not None:
        return {"config": read_config_file(args.config)}
    shipped = shipped_suite(args.preset)
    if shipped is not None:
        return load_spec(shipped)
    return {"preset": args.preset or "fmnist"}


def _source_name(args: argparse.Namespace) -> str | None:
    """Where a spec came from, for its errors: the file, or the shipped suite ``--preset`` named."""
    if args.spec is not None:
        return f"benchmark spec {args.spec}"
    return f"--preset {args.preset}" if shipped_suite(args.preset) is not None else None


def read_config_file(path: Path) -> dict[str, Any]:
    """A run's ``config.json`` as a mapping; every way it can be unreadable is one line naming the file."""
    if not path.is_file():
        raise CliError(f"--config {path}: no such file; pass a run's config.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"--config {path} is not UTF-8 text; pass a run's config.json") from None
    except json.JSONDecodeError as error:
        raise CliError(
            f"--config {path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "pass a run's config.json"
        ) from None
    if not isinstance(raw, dict):
        raise CliError(f"--config {path} holds a JSON {type(raw).__name__}, not a run's config (a mapping)")
    try:
        RunConfig.from_dict(raw)
    except (TypeError, ValueError) as error:
        raise CliError(f"--config {path}: {error}") from None
    return raw


def resolve_spec(args: argparse.Namespace) -> BenchmarkSpec:
    """The spec of a `train`, `benchmark` or `tune` command line: its source, then its flags.

    A suite (a spec listing several benchmarks) is refused: `fcdd tune` searches one benchmark.
    """
    raw = _source(args)
    if is_suite(raw):
        raise CliError(
            f"{_source_name(args)} lists several benchmarks (`suite:`); a suite runs with `fcdd train` or "
            "`fcdd benchmark`, while `fcdd tune` searches one benchmark: pass the spec of one"
        )
    return _one_spec(raw, args)


def resolve_plan(args: argparse.Namespace) -> BenchmarkSpec | Suite:
    """What `fcdd train` and `fcdd benchmark` run: one benchmark, or a suite of them.

    In a suite the plan flags apply to every entry (``--classes``, ``--seeds``, the resources,
    ``--baselines``), ``--name`` and ``--max-failures`` to the suite, and every setting flag
    overrides every entry's settings (:mod:`tune.suite_spec` gives the precedence).
    """
    raw = _source(args)
    if not is_suite(raw):
        return _one_spec(raw, args)
    source = _source_name(args)
    try:
        check_suite_raw(raw)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    raw = _with_flags(raw, args, _SUITE_FLAGS)
    raw[SUITE_KEY] = [_with_flags(entry, args, _PLAN_FLAGS.keys() - _SUITE_FLAGS) for entry in raw[SUITE_KEY]]
    return suite_from_dict(raw, overrides=config_overrides(args), source=source, dry=args.dry_run)


_SUITE_FLAGS = {"name", "max_failures"}  # a suite's own; the other plan flags apply to each of its benchmarks


def _with_flags(raw: dict[str, Any], args: argparse.Namespace, dests: Iterable[str]) -> dict[str, Any]:
    """``raw`` with the plan flags ``dests`` given on the command line set in it (a copy)."""
    raw = dict(raw)
    for dest in dests:
        section, key = _PLAN_FLAGS[dest]
        value = getattr(args, dest, None)
        if value is None:
            continue
        if section is None:
            raw[key] = value
        else:
            raw[section] = {**(raw.get(section) or {}), key: value}
    return raw


def _one_spec(raw: dict[str, Any], args: argparse.Namespace) -> BenchmarkSpec:
    raw = _with_flags(raw, args, _PLAN_FLAGS)
    overrides = config_overrides(args)
    if getattr(args, "command", None) == "tune" and "data.validation_fraction" in overrides:
        # For a search the flag sizes the search's validation split; the final reruns of the best
        # setting train on the whole training split and are judged on the test split.
        raw["search"] = {**(raw.get("search") or {}), "validation_fraction": overrides.pop("data.validation_fraction")}
    spec = spec_from_dict(raw, overrides=overrides, source=_source_name(args))
    return offline_fallback(dry_run(spec)) if args.dry_run else spec
