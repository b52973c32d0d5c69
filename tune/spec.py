"""A benchmark as data: what to run (preset + overrides, classes, seeds, named settings), on what resources.

A spec comes from a YAML file, a run's ``config.json``, or a preset, plus command-line flags; all
go through :func:`spec_from_dict` (via :func:`tune.resolve.resolve_spec` from the CLI) and give the
same frozen :class:`BenchmarkSpec`. Example YAML::

    name: fmnist-oe
    preset: fmnist          # or `config: {...}`, a RunConfig as config.json holds it
    overrides: {optim.epochs: 10, anomalies.oe_folder: /data/cifar10/test}
    classes: all            # or [0, 3], or "0,3", or class names
    seeds: 5                # or [0, 1, 2]; default 5, the original runners' repeats
    settings:               # optional: named variants, each a set of overrides
      - {name: default}
      - {name: low-lr, overrides: {optim.lr: 0.001}}
    baselines: false        # true adds the HSC and AE baselines as settings `hsc` and `ae`
    resources: {cpus_per_trial: 1, gpus_per_trial: 0.25}
    max_failures: 1
    search:                 # used by `fcdd tune`
      trials: 20
      scheduler: asha       # asha | median | none
      space:
        optim.lr: {type: loguniform, low: 1.0e-4, high: 1.0e-1}

Overrides are applied to the final base config in one step (:func:`with_implied`): an
``anomalies.oe_folder`` alone also selects outlier exposure from that folder, whatever the base.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from fcdd.anomalies.registry import OE_FOLDER_SOURCES
from fcdd.config import RunConfig
from fcdd.presets import DEFAULT_SEEDS, get_preset

SCHEDULERS = ("asha", "median", "none")
PARAM_TYPES = ("loguniform", "uniform", "int", "categorical")
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

# `anomalies.mode` is "<supervise mode>/<noise mode>": one categorical, because which noise modes
# make sense depends on the supervise mode, and Optuna needs one fixed distribution per name.
ANOMALY_MODE_KEY = "anomalies.mode"

# The default search space: learning rate, weight decay and the anomaly settings. `when` makes a
# parameter conditional on the values of others (define-by-run).
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "optim.weight_decay": {"type": "loguniform", "low": 1e-7, "high": 1e-3},
    ANOMALY_MODE_KEY: {
        "type": "categorical",
        "choices": [
            "noise/folder",
            "noise/confetti",
            "noise/mixed_blob",
            "malformed_normal/confetti",
            "malformed_normal/gaussian",
        ],
    },
    "anomalies.oe_limit": {
        "type": "categorical",
        "choices": [16, 256, 4096, None],
        "when": {ANOMALY_MODE_KEY: ["noise/folder", "noise/cifar100"]},
    },
    "anomalies.p": {"type": "uniform", "low": 0.25, "high": 0.75},
}

# What a dry run changes: the same path at a tiny budget.
DRY_RUN_LIMITS = {"optim.epochs": 1, "data.train_limit": 512, "data.test_limit": 1000, "heatmap.n_samples": 8}


def local_cpus() -> float:
    """CPU cores of this machine: the default CPUs (and torch threads) per trial."""
    return float(os.cpu_count() or 1)


@dataclass(frozen=True)
class Resources:
    """What one trial asks for. Fractional GPUs let several small trials share one GPU.

    ``cpus_per_trial`` is also the trial's torch thread count (rounded down, at least 1), recorded
    in its config: the same config with the same threads gives the same AUC on every runner.
    """

    cpus_per_trial: float = field(default_factory=local_cpus)
    gpus_per_trial: float = 0.0

    def __post_init__(self) -> None:
        if not self.cpus_per_trial > 0:
            raise ValueError(f"`cpus_per_trial` must be > 0, got {self.cpus_per_trial}")
        if not self.gpus_per_trial >= 0:
            raise ValueError(f"`gpus_per_trial` must be >= 0, got {self.gpus_per_trial}")
        if self.gpus_per_trial > 1 and self.gpus_per_trial != int(self.gpus_per_trial):
            raise ValueError(f"`gpus_per_trial` above 1 must be a whole number, got {self.gpus_per_trial}")

    @property
    def threads(self) -> int:
        """Torch threads of a trial."""
        return max(1, int(self.cpus_per_trial))

    def as_ray(self) -> dict[str, float]:
        """Ray's resource dict."""
        return {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}


@dataclass(frozen=True)
class SearchSpec:
    """An Optuna search: how many trials, the space, early stopping, the study's storage."""

    trials: int = 8
    space: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_SPACE))
    scheduler: str = "asha"  # early stopping on the per-epoch validation AUC
    grace_epochs: int = 1  # epochs every trial gets before it can be stopped
    validation_fraction: float = 0.1  # nominal training images held out for the objective
    search_class: int | None = None  # nominal class the search trains on (None: the first class of the spec)
    storage: str | None = None  # Optuna storage URL; None: SQLite file in the results folder
    sampler_seed: int = 0

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"`search.trials` must be >= 1, got {self.trials}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"`search.scheduler` must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"`search.validation_fraction` must be in (0, 1), got {self.validation_fraction}")
        for key, param in self.space.items():
            kind = param.get("type")
            if kind not in PARAM_TYPES:
                raise ValueError(f"search space {key!r}: `type` must be one of {', '.join(PARAM_TYPES)}, got {kind!r}")
            if kind == "categorical" and not param.get("choices"):
                raise ValueError(f"search space {key!r}: a categorical parameter needs `choices`")
            if kind != "categorical" and not ("low" in param and "high" in param and param["low"] < param["high"]):
                raise ValueError(f"search space {key!r}: needs `low` < `high`, got {param}")


Setting = tuple[str, tuple[tuple[str, Any], ...]]  # name, sorted dotted-key overrides


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything a benchmark or a search runs; expands into trials with :func:`tune.plan.expand`."""

    name: str
    base: RunConfig
    classes: tuple[int, ...]
    seeds: tuple[int, ...]
    class_names: tuple[str, ...] = ()  # the dataset's class names, by class index
    settings: tuple[Setting, ...] = (("default", ()),)
    resources: Resources = field(default_factory=Resources)
    max_failures: int = 1  # retries of a failing trial before it is reported as failed
    search: SearchSpec = field(default_factory=SearchSpec)
    notes: tuple[str, ...] = ()  # what the plan changed on its own (a dry run's substitutions), for the report

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a benchmark needs at least one class")
        if not self.seeds:
            raise ValueError("a benchmark needs at least one seed")
        names = [name for name, _ in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f"setting names must be unique, got {names}")
        if self.max_failures < 0:
            raise ValueError(f"`max_failures` must be >= 0, got {self.max_failures}")
        for _, overrides in self.settings:  # fail on a bad override now, not inside a Ray worker
            self.base.replace(**dict(overrides))

    def setting_config(self, setting: str) -> RunConfig:
        """The base config with a named setting's overrides applied."""
        for name, overrides in self.settings:
            if name == setting:
                return self.base.replace(**dict(overrides))
        raise ValueError(f"unknown setting {setting!r}; the spec has {', '.join(n for n, _ in self.settings)}")

    def class_name(self, normal_class: int) -> str:
        """The name of class ``normal_class`` (its index as text when the names are unknown)."""
        names = self.class_names
        return names[normal_class] if 0 <= normal_class < len(names) else str(normal_class)


def parse_seeds(value: Any) -> tuple[int, ...]:
    """An int N means seeds 0..N-1; a list is taken as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"`seeds` must be >= 1, got {value}")
        return tuple(range(value))
    return tuple(int(s) for s in value)


def with_implied(overrides: dict[str, Any], base: RunConfig) -> dict[str, Any]:
    """``overrides`` plus the settings they imply on ``base``: an OE folder alone selects outlier exposure.

    ``anomalies.oe_folder`` without a noise mode means "outlier exposure from that folder": noise
    mode ``folder`` and supervise mode ``noise``, unless the base's noise mode already reads the
    folder (``imagenet``, ``imagenet22k``, ``emnist`` take it as their root).
    """
    changes = dict(overrides)
    if changes.get("anomalies.oe_folder") and "anomalies.noise_mode" not in changes:
        if base.anomalies.noise_mode not in OE_FOLDER_SOURCES:
            changes["anomalies.noise_mode"] = "folder"
        if "anomalies.supervise_mode" not in changes and base.anomalies.supervise_mode != "noise":
            changes["anomalies.supervise_mode"] = "noise"
    return changes


def baseline_settings(base: RunConfig) -> tuple[Setting, Setting]:
    """The HSC and AE baselines of an FCDD config, with the counterpart networks (reference §3.3).

    Both blur their heatmaps over the FCDD net's receptive field; the AE trains on nominal images
    only (unsupervised), as the paper's AE baseline does.
    """
    from fcdd.methods.build import get_method

    net = base.network.name
    hsc = {"objective": "hsc", "network.name": get_method("hsc").counterpart(net), "heatmap.blur": True}
    ae = {
        "objective": "ae",
        "network.name": get_method("ae").counterpart(net),
        "heatmap.blur": True,
        "anomalies.supervise_mode": "unsupervised",
    }
    return ("hsc", tuple(sorted(hsc.items()))), ("ae", tuple(sorted(ae.items())))


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
    settings = [(str(s["name"]), tuple(sorted((s.get("overrides") or {}).items()))) for s in entries]
    if raw.get("baselines"):
        if base.objective != "fcdd":
            raise ValueError(f"baselines are added to an FCDD config; this one's objective is {base.objective}")
        if settings == [("default", ())]:
            settings = [("fcdd", ())]
        settings += baseline_settings(base)
    return tuple(settings)


def _search(raw: dict[str, Any], base: RunConfig) -> SearchSpec:
    search_raw = dict(raw.get("search") or {})
    if "space" in search_raw:
        search_raw["space"] = {k: dict(v) for k, v in search_raw["space"].items()}
    elif base.anomalies.oe_folder is None:  # the default space offers folder OE only when there is a folder
        space = {k: dict(v) for k, v in DEFAULT_SPACE.items()}
        space[ANOMALY_MODE_KEY]["choices"] = [c for c in space[ANOMALY_MODE_KEY]["choices"] if c != "noise/folder"]
        search_raw["space"] = space
    return SearchSpec(**search_raw)


def spec_from_dict(
    raw: dict[str, Any], *, n_classes: int | None = None, overrides: dict[str, Any] | None = None
) -> BenchmarkSpec:
    """Build a spec from a parsed YAML mapping; ``overrides`` (dotted keys, the flags) win over the file's.

    The file's overrides and then the flags are applied to the preset (or config) with
    :func:`with_implied`, so a flag means the same whatever the spec's base. ``n_classes`` skips
    looking at the data for the class names (classes are then indices only).
    """
    unknown = set(raw) - set(SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown benchmark spec keys: {', '.join(sorted(unknown))}; known: {', '.join(SPEC_KEYS)}")
    base = _base_config(raw)
    for changes in (raw.get("overrides") or {}, overrides or {}):
        base = base.replace(**with_implied(dict(changes), base))
    resources = Resources(**(raw.get("resources") or {}))
    if base.threads is None:  # the trial's threads follow its CPUs unless the config says otherwise
        base = base.replace(threads=resources.threads)
    if n_classes is None:
        from fcdd.data.loading import dataset_classes

        names = dataset_classes(base.data)
    else:
        names = tuple(str(i) for i in range(n_classes))
    from fcdd.data.loading import resolve_classes

    return BenchmarkSpec(
        name=str(raw.get("name") or default_name(base)),
        base=base,
        classes=resolve_classes(raw.get("classes", "all"), names),
        seeds=parse_seeds(raw.get("seeds", DEFAULT_SEEDS)),
        class_names=tuple(names),
        settings=_settings(raw, base),
        resources=resources,
        max_failures=int(raw.get("max_failures", 1)),
        search=_search(raw, base),
    )


def default_name(base: RunConfig) -> str:
    """The name of a benchmark that was given none: ``<dataset>-benchmark``."""
    return f"{base.data.dataset}-benchmark"


def dry_run(spec: BenchmarkSpec) -> BenchmarkSpec:
    """The same benchmark at a tiny budget: 2 classes, 1 seed, 1 epoch, a data subset.

    A spec with the default name becomes ``<dataset>-dry-run``, so a dry run never resumes into the real one.
    """
    name = spec.name
    if name == default_name(spec.base):
        name = f"{spec.base.data.dataset}-dry-run"
    return dataclasses.replace(
        spec,
        name=name,
        base=spec.base.replace(**DRY_RUN_LIMITS),
        classes=spec.classes[:2],
        seeds=spec.seeds[:1],
        search=dataclasses.replace(spec.search, trials=min(spec.search.trials, 4)),
    )


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML benchmark spec into its raw mapping (see :func:`spec_from_dict`)."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark spec {path} does not exist; pass --spec FILE.yaml")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"benchmark spec {path} must be a YAML mapping, got {type(raw).__name__}")
    return raw


def with_changes(spec: BenchmarkSpec, **changes: Any) -> BenchmarkSpec:
    """A copy of ``spec`` with fields replaced (validated again)."""
    return dataclasses.replace(spec, **changes)
