"""A benchmark as data: what to run (preset + overrides, classes, seeds, named settings), on what resources.

A spec comes from a YAML file or from a preset plus command-line overrides; both produce the same
frozen :class:`BenchmarkSpec`. Example YAML::

    name: fmnist-oe
    preset: fmnist
    overrides: {optim.epochs: 10, anomalies.oe_folder: /data/cifar10/test, anomalies.noise_mode: folder}
    classes: all            # or [0, 3]
    seeds: 5                # or [0, 1, 2]
    settings:               # optional: named variants, each a set of overrides
      - {name: default}
      - {name: low-lr, overrides: {optim.lr: 0.001}}
    resources: {cpus_per_trial: 1, gpus_per_trial: 0.25}
    max_failures: 1
    search:                 # used by `fcdd tune`
      trials: 20
      scheduler: asha       # asha | median | none
      space:
        optim.lr: {type: loguniform, low: 1.0e-4, high: 1.0e-1}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcdd.config import RunConfig
from fcdd.data.registry import resolve_classes
from fcdd.presets import get_preset

SCHEDULERS = ("asha", "median", "none")
PARAM_TYPES = ("loguniform", "uniform", "int", "categorical")

# `anomalies.mode` is "<supervise mode>/<noise mode>": one categorical, because which noise modes
# make sense depends on the supervise mode, and Optuna needs one fixed distribution per name.
ANOMALY_MODE_KEY = "anomalies.mode"
OE_NOISE_MODES = ("folder", "cifar100")

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


@dataclass(frozen=True)
class Resources:
    """What one trial asks the cluster for. Fractional GPUs let several small trials share one GPU."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0

    def __post_init__(self) -> None:
        if self.cpus_per_trial <= 0:
            raise ValueError(f"`cpus_per_trial` must be > 0, got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise ValueError(f"`gpus_per_trial` must be >= 0, got {self.gpus_per_trial}")
        if self.gpus_per_trial > 1 and self.gpus_per_trial != int(self.gpus_per_trial):
            raise ValueError(f"`gpus_per_trial` above 1 must be a whole number, got {self.gpus_per_trial}")

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


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything a benchmark or a search runs; expands into trials with :func:`tune.plan.expand`."""

    name: str
    base: RunConfig
    classes: tuple[int, ...]
    seeds: tuple[int, ...]
    settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (("default", ()),)
    resources: Resources = field(default_factory=Resources)
    max_failures: int = 1  # retries of a failing trial before it is reported as failed
    search: SearchSpec = field(default_factory=SearchSpec)

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


def parse_seeds(value: Any) -> tuple[int, ...]:
    """An int N means seeds 0..N-1; a list is taken as is."""
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"`seeds` must be >= 1, got {value}")
        return tuple(range(value))
    return tuple(int(s) for s in value)


def spec_from_dict(
    raw: dict[str, Any], *, n_classes: int | None = None, overrides: dict[str, Any] | None = None
) -> BenchmarkSpec:
    """Build a spec from a parsed YAML mapping; ``overrides`` (dotted keys) win over the file's.

    ``n_classes`` skips looking at the data for the class names (classes are then indices only).
    """
    known = {
        "name",
        "preset",
        "config",
        "overrides",
        "classes",
        "seeds",
        "settings",
        "resources",
        "max_failures",
        "search",
    }
    unknown = set(raw) - known
    if unknown:
        raise ValueError(
            f"unknown benchmark spec keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    base = RunConfig.from_dict(raw["config"]) if "config" in raw else get_preset(raw.get("preset", "fmnist"))
    base = base.replace(**{**(raw.get("overrides") or {}), **(overrides or {})})
    if n_classes is None:
        from fcdd.data import dataset_classes

        names = dataset_classes(base.data.dataset, base.data.data_dir, one_vs_rest=base.data.one_vs_rest)
    else:
        names = tuple(str(i) for i in range(n_classes))
    settings = tuple(
        (str(s["name"]), tuple(sorted((s.get("overrides") or {}).items())))
        for s in raw.get("settings") or [{"name": "default"}]
    )
    search_raw = dict(raw.get("search") or {})
    if "space" in search_raw:
        search_raw["space"] = {k: dict(v) for k, v in search_raw["space"].items()}
    elif base.anomalies.oe_folder is None:  # the default space offers folder OE only when there is a folder
        space = {k: dict(v) for k, v in DEFAULT_SPACE.items()}
        space[ANOMALY_MODE_KEY]["choices"] = [c for c in space[ANOMALY_MODE_KEY]["choices"] if c != "noise/folder"]
        search_raw["space"] = space
    return BenchmarkSpec(
        name=str(raw.get("name") or f"{base.data.dataset}-benchmark"),
        base=base,
        classes=resolve_classes(raw.get("classes", "all"), names),
        seeds=parse_seeds(raw.get("seeds", 1)),
        settings=settings,
        resources=Resources(**(raw.get("resources") or {})),
        max_failures=int(raw.get("max_failures", 1)),
        search=SearchSpec(**search_raw),
    )


def load_spec(path: str | Path, **kwargs: Any) -> BenchmarkSpec:
    """Read a YAML benchmark spec."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark spec {path} does not exist; pass --spec FILE.yaml")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"benchmark spec {path} must be a YAML mapping, got {type(raw).__name__}")
    return spec_from_dict(raw, **kwargs)


def with_changes(spec: BenchmarkSpec, **changes: Any) -> BenchmarkSpec:
    """A copy of ``spec`` with fields replaced (validated again)."""
    return dataclasses.replace(spec, **changes)
