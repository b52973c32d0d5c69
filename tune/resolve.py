"""The one function that turns a command line into a :class:`~tune.spec.BenchmarkSpec`.

`fcdd train`, `fcdd benchmark` and `fcdd tune` all call :func:`resolve_spec`: the plan's source
(a preset, a run's ``config.json`` or a spec YAML), then the flags, merged into the same raw
mapping and parsed once by :func:`tune.spec_file.spec_from_dict`. Identical flags therefore give
identical trial configs through every command and every runner.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fcdd.cli import CliError
from fcdd.config import RunConfig
from tune.flags import config_overrides
from tune.preflight import offline_fallback
from tune.spec import BenchmarkSpec, dry_run
from tune.spec_file import load_spec, spec_from_dict

# Plan-level flags: argparse dest → (section of the raw spec or None for the top level, key).
_PLAN_FLAGS: dict[str, tuple[str | None, str]] = {
    "name": (None, "name"),
    "classes": (None, "classes"),
    "seeds": (None, "seeds"),
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
    return {"preset": args.preset or "fmnist"}


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
    """The spec of a `train`, `benchmark` or `tune` command line: its source, then its flags."""
    raw = _source(args)
    for dest, (section, key) in _PLAN_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if section is None:
            raw[key] = value
        else:
            raw[section] = {**(raw.get(section) or {}), key: value}
    if getattr(args, "baselines", False):
        raw["baselines"] = True
    overrides = config_overrides(args)
    if getattr(args, "command", None) == "tune" and "data.validation_fraction" in overrides:
        # For a search the flag sizes the search's validation split; the final reruns of the best
        # setting train on the whole training split and are judged on the test split.
        raw["search"] = {**(raw.get("search") or {}), "validation_fraction": overrides.pop("data.validation_fraction")}
    source = f"benchmark spec {args.spec}" if args.spec is not None else None
    spec = spec_from_dict(raw, overrides=overrides, source=source)
    return offline_fallback(dry_run(spec)) if args.dry_run else spec
