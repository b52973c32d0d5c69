"""A benchmark spec from its YAML file or raw mapping: loaded, shape-checked, made a :class:`~tune.spec.BenchmarkSpec`.

A YAML file, a run's ``config.json`` or a preset, plus command-line flags, all go through
:func:`spec_from_dict` (via :func:`tune.resolve.resolve_spec` from the CLI) and give the same
frozen spec. Example YAML::

    name: fmnist-oe
    preset: fmnist          # or `config: {...}`, a RunConfig as config.json holds it
    overrides: {optim.epochs: 10, anomalies.oe_folder: /data/cifar10/test}
    classes: all            # or [0, 3], or "0,3", or class names
    seeds: 5                # or [0, 1, 2]; default 5, the original runners' repeats
    settings:               # optional: named variants, each a set of overrides
      - {name: default}
      - {name: low-lr, overrides: {optim.lr: 0.001}}
    baselines: false        # true adds every baseline method (HSC, AE) as a setting named after it
    resources: {cpus_per_trial: 1, gpus_per_trial: 0.25}   # or gpus_per_trial: auto (measured)
    max_failures: 1
    search:                 # used by `fcdd tune`
      trials: 20
      scheduler: asha       # asha | median | none
      optimize: val_auc     # or [val_auc, gpu_seconds]: multi-objective, no early stopping
      pick: within:1.2      # which Pareto point is rerun: best | within:F | knee
      space:
        optim.lr: {type: loguniform, low: 1.0e-4, high: 1.0e-1}

Overrides, then flags, are applied to the preset (or config) with the settings they imply
(:meth:`fcdd.config.RunConfig.update`): an ``anomalies.oe_folder`` alone also selects outlier
exposure from that folder, whatever the base — as it does from Python.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from typing import Any

from fcdd.config import RunConfig
from fcdd.presets import DEFAULT_SEEDS, get_preset
from tune.deprecated import upgrade_keys
from tune.space import PARAM_KEYS, default_space
from tune.spec import (
    RESOURCE_KEYS,
    BenchmarkSpec,
    SearchSpec,
    Setting,
    check_name,
    default_name,
    is_int,
    parse_resources,
    parse_seeds,
)

SPEC_KEYS = (
    "name",
    "preset",
    "config",
    "overrides",
    "classes",
    "seeds",
    "settings",
    "baselines",
    "resources",
    "max_failures",
    "search",
)
# What each section of a spec file may hold; keys are checked with "did you mean".
_SECTION_KEYS = {
    "resources": RESOURCE_KEYS,
    "search": tuple(f.name for f in dataclasses.fields(SearchSpec)),
}
_SETTING_KEYS = ("name", "overrides")


def _unknown(key: str, known: tuple[str, ...], where: str) -> ValueError:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown key {key!r} in {where}{hint}; known: {', '.join(known)}")


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"`{what}` must be a mapping (key: value), got a {type(value).__name__}: {value!r}")
    return value


def check_raw(raw: Any) -> None:
    """The shape of a raw spec (what a YAML file holds): known keys in every section, the right kinds.

    Values are checked again where they are used (the configs validate theirs); this catches what
    would otherwise be silently ignored or fail late: a misspelt key, a list where a mapping goes.
    """
    raw = _mapping(raw, "benchmark spec")
    for key in raw:
        if key not in SPEC_KEYS:
            raise _unknown(str(key), SPEC_KEYS, "the benchmark spec")
    if "preset" in raw and not isinstance(raw["preset"], str):
        raise ValueError(f"`preset` must be a preset name (see `fcdd presets`), got {raw['preset']!r}")
    if "overrides" in raw and raw["overrides"] is not None:
        _mapping(raw["overrides"], "overrides")
    for section, known in _SECTION_KEYS.items():
        if raw.get(section) is None:
            continue
        for key in _mapping(raw[section], section):
            if key not in known:
                raise _unknown(f"{section}.{key}", known, f"`{section}`")
    space = (raw.get("search") or {}).get("space")
    if space is not None:
        for name, param in _mapping(space, "search.space").items():
            for key in _mapping(param, f"search.space.{name}"):
                if key not in PARAM_KEYS:
                    raise _unknown(f"search.space.{name}.{key}", PARAM_KEYS, f"`search.space.{name}`")
    if raw.get("settings") is not None:
        _check_settings(raw["settings"])
    if "baselines" in raw and not isinstance(raw["baselines"], bool):
        raise ValueError(f"`baselines` must be true or false, got {raw['baselines']!r}")
    if "max_failures" in raw and not (is_int(raw["max_failures"]) and raw["max_failures"] >= 0):
        raise ValueError(f"`max_failures` must be an integer >= 0, got {raw['max_failures']!r}")


def _check_settings(settings: Any) -> None:
    if not isinstance(settings, list) or not settings:
        raise ValueError(f"`settings` must be a non-empty list of {{name: ..., overrides: {{...}}}}, got {settings!r}")
    for i, setting in enumerate(settings):
        entry = _mapping(setting, f"settings[{i}]")
        for key in entry:
            if key not in _SETTING_KEYS:
                raise _unknown(f"settings[{i}].{key}", _SETTING_KEYS, f"`settings[{i}]`")
        if "name" not in entry:
            raise ValueError(f"`settings[{i}]` has no `name`; every setting needs one (it names runs/<name>)")
        check_name(f"settings[{i}].name", entry["name"])
        if entry.get("overrides") is not None:
            _mapping(entry["overrides"], f"settings[{i}].overrides")


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML benchmark spec into its raw mapping (see :func:`spec_from_dict`; a suite: :mod:`tune.suite_spec`)."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark spec {path} does not exist; pass --spec FILE.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"benchmark spec {path} is not UTF-8 text; pass a YAML file") from None
    except yaml.YAMLError as error:
        # safe_load also refuses Python tags (!!python/object...) here, without constructing anything.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"benchmark spec {path} is not valid YAML{where}: {problem}; fix the file") from None
    if raw is None:
        # An empty file would otherwise be the full 400-epoch benchmark of the default preset.
        raise ValueError(f"benchmark spec {path} is empty; give at least `preset:` (see the README's spec example)")
    if not isinstance(raw, dict):
        raise ValueError(f"benchmark spec {path} must be a YAML mapping (key: value lines), got a {type(raw).__name__}")
    if "suite" in raw:  # several benchmarks: tune.suite_spec checks and builds them
        return raw
    try:
        raw = upgrade_keys(raw)  # before any flag lands beside an old key
        check_raw(raw)
    except ValueError as error:
        raise ValueError(f"benchmark spec {path}: {error}") from None
    return raw


def _base_config(raw: dict[str, Any]) -> RunConfig:
    if "config" in raw and "preset" in raw:
        raise ValueError("a benchmark spec takes `preset` or `config`, not both")
    if "config" in raw:
        if not isinstance(raw["config"], dict):
            raise ValueError(f"`config` must be a mapping (a run's config.json), got {type(raw['config']).__name__}")
        return RunConfig.from_dict(raw["config"])
    return get_preset(str(raw.get("preset", "fmnist")))


def _settings(raw: dict[str, Any], base: RunConfig) -> tuple[Setting, ...]:
    entries = raw.get("settings") or [{"name": "default"}]
    settings = [(s["name"], tuple(sorted((s.get("overrides") or {}).items()))) for s in entries]
    for name, changes in settings:
        try:
            if changes:
                base.replace(**dict(changes))
        except ValueError as error:
            raise ValueError(f"setting {name!r}: {error}") from None
    if raw.get("baselines"):
        from fcdd.methods.build import baseline_changes  # loads the methods (torch) only when asked for

        baselines = baseline_changes(base)
        if settings == [("default", ())]:
            settings = [("fcdd", ())]
        settings += [(name, tuple(sorted(changes.items()))) for name, changes in baselines.items()]
    return tuple(settings)


def _search(raw: dict[str, Any], base: RunConfig) -> SearchSpec:
    search_raw = dict(raw.get("search") or {})
    goals = search_raw.get("optimize")
    if isinstance(goals, str):  # "val_auc,gpu_seconds", as the flag and YAML may give it
        goals = [name.strip() for name in goals.split(",") if name.strip()]
    if isinstance(goals, list):
        search_raw["optimize"] = tuple(goals)
        if len(goals) > 1:  # no early stopping unless asked for (and then refused with the reason)
            search_raw.setdefault("scheduler", "none")
    if "space" in search_raw:
        search_raw["space"] = {k: dict(v) for k, v in search_raw["space"].items()}
    elif base.anomalies.oe_folder is None:  # the default space offers folder OE only when there is a folder
        search_raw["space"] = default_space(oe_folder=False)
    return SearchSpec(**search_raw)


def _class_names(base: RunConfig, n_classes: int | None) -> tuple[str, ...]:
    if n_classes is not None:
        return tuple(str(i) for i in range(n_classes))
    from fcdd.data.loading import dataset_classes

    return tuple(dataset_classes(base.data))


def spec_from_dict(
    raw: dict[str, Any],
    *,
    n_classes: int | None = None,
    overrides: dict[str, Any] | None = None,
    source: str | None = None,
) -> BenchmarkSpec:
    """Build a spec from a parsed YAML mapping; ``overrides`` (dotted keys, the flags) win over the file's.

    The file's overrides and then the flags are applied to the preset (or config) as two layers of
    one :meth:`~fcdd.config.RunConfig.update`, so a flag means the same whatever the spec's base.
    ``n_classes`` skips looking at the data for the class names (classes are then indices only).
    ``source`` names where ``raw`` came from (``benchmark spec x.yaml``) in errors about what only
    the file sets.
    """
    prefix = f"{source}: " if source else ""
    if isinstance(raw, dict):
        raw = upgrade_keys(raw)
    check_raw(raw)
    file_changes = dict(raw.get("overrides") or {})
    try:
        start = _base_config(raw)
        file_base = start.update(file_changes) if file_changes else start
        settings = _settings(raw, file_base)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    resources = parse_resources(raw.get("resources") or {})
    flags = dict(overrides or {})
    if flags.get("threads", file_base.threads) is None:  # a trial's threads follow its CPUs unless set
        flags["threads"] = resources.threads
    base = start.update(file_changes, flags)
    if overrides:
        settings = _settings(raw, base)
    names = _class_names(base, n_classes)
    from fcdd.data.loading import resolve_classes

    return BenchmarkSpec(
        name=raw.get("name") or default_name(base),
        base=base,
        classes=resolve_classes(raw.get("classes", "all"), names),
        seeds=parse_seeds(raw.get("seeds", DEFAULT_SEEDS)),
        class_names=names,
        settings=settings,
        resources=resources,
        max_failures=raw.get("max_failures", 1),
        search=_search(raw, base),
    )
