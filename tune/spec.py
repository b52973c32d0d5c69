"""A benchmark as data: what to run (a base config, classes, seeds, named settings), on what resources.

The schema only: :class:`BenchmarkSpec` and its parts, each validated at construction. A spec is
made from a YAML file, a run's ``config.json`` or a preset, plus command-line flags, by
:func:`tune.spec_file.spec_from_dict` (the file format is described there); the search space's
parameters are :mod:`tune.space`'s.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from fcdd.config import RunConfig, check_types
from tune.search_goals import check_goals, parse_pick
from tune.space import check_space, default_space

SCHEDULERS = ("asha", "median", "none")  # early stopping of a search (`search.scheduler`, --early-stopping)

# What a dry run changes: the same path at a tiny budget.
DRY_RUN_LIMITS = {"optim.epochs": 1, "data.train_limit": 512, "data.test_limit": 1000, "heatmap.n_samples": 8}


def local_cpus() -> float:
    """CPU cores of this machine: the default CPUs (and torch threads) per trial."""
    return float(os.cpu_count() or 1)


@dataclass(frozen=True)
class GpuProbe:
    """What ``--gpus-per-trial auto`` measured: a short run of the plan's largest trial on one GPU.

    The numbers behind the fraction (:func:`tune.resources.gpu_share`), kept in ``benchmark.json``.
    """

    trial: str  # which trial was probed, in words (`trial <id> (class 0, seed 0, default)`)
    peak_bytes: int  # the most the probe held on the GPU (torch's caching allocator, reserved)
    total_bytes: int  # the GPU's memory
    trials_per_gpu: int  # how many such trials fit side by side (0: not even one with the margin)
    margin: float  # the peak was multiplied by this
    reserve_bytes: int  # plus this per trial (its CUDA context, which torch does not count)
    device_name: str = ""


AUTO = "auto"  # `gpus_per_trial: auto` / `--gpus-per-trial auto`


@dataclass(frozen=True)
class Resources:
    """What one trial asks for. Fractional GPUs let several small trials share one GPU.

    ``cpus_per_trial`` is also the trial's torch thread count (rounded down, at least 1), recorded
    in its config: the same config with the same threads gives the same AUC on every runner.
    ``gpus_auto`` (``gpus_per_trial: auto``) leaves the GPU share to a probe of the plan's largest
    trial on a GPU node (:meth:`tune.runners.ray.RayRunner.resolve_gpus`): until then
    ``gpus_per_trial`` is 0 and ``probe`` None; after, ``gpus_per_trial`` is the measured share
    and ``probe`` what it was measured from.
    """

    cpus_per_trial: float = field(default_factory=local_cpus)
    gpus_per_trial: float = 0.0
    gpus_auto: bool = False
    probe: GpuProbe | None = None

    def __post_init__(self) -> None:
        check_types(self)
        if not self.cpus_per_trial > 0:
            raise ValueError(f"`cpus_per_trial` must be > 0, got {self.cpus_per_trial}")
        if not self.gpus_per_trial >= 0:
            raise ValueError(f"`gpus_per_trial` must be >= 0, got {self.gpus_per_trial}")
        if self.gpus_per_trial > 1 and self.gpus_per_trial != int(self.gpus_per_trial):
            raise ValueError(f"`gpus_per_trial` above 1 must be a whole number, got {self.gpus_per_trial}")
        if self.probe is not None and not self.gpus_auto:
            raise ValueError("a GPU probe belongs to `gpus_per_trial: auto` only")
        if self.gpus_auto and self.probe is None and self.gpus_per_trial != 0:
            raise ValueError(f"`gpus_per_trial` is auto or a number, not both (got {self.gpus_per_trial})")

    @property
    def threads(self) -> int:
        """Torch threads of a trial."""
        return max(1, int(self.cpus_per_trial))

    @property
    def gpus_unmeasured(self) -> bool:
        """``gpus_per_trial: auto`` whose probe has not run yet: no GPU share to hand to Ray."""
        return self.gpus_auto and self.probe is None

    @property
    def gpus_label(self) -> str:
        """The GPU share as a plan prints it: ``0.25``, or ``auto`` before the probe."""
        return AUTO if self.gpus_unmeasured else f"{self.gpus_per_trial:g}"

    def measured(self, gpus_per_trial: float, probe: GpuProbe) -> Resources:
        """The same request with the GPU share the probe found."""
        return dataclasses.replace(self, gpus_per_trial=gpus_per_trial, probe=probe)

    def as_ray(self) -> dict[str, float]:
        """Ray's resource dict."""
        if self.gpus_unmeasured:
            raise RuntimeError("`gpus_per_trial: auto` must be measured before the trials start (resolve_gpus)")
        return {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}


# What a spec's `resources:` may set (the rest is filled in by the probe).
RESOURCE_KEYS = ("cpus_per_trial", "gpus_per_trial")


def parse_resources(raw: dict[str, Any]) -> Resources:
    """A spec's ``resources:`` mapping (or the flags'); ``gpus_per_trial: auto`` asks for a probe."""
    values = dict(raw)
    gpus = values.get("gpus_per_trial")
    if isinstance(gpus, str):
        if gpus.strip().lower() != AUTO:
            raise ValueError(
                f"`gpus_per_trial` must be a number or auto (measured on a GPU before the run), got {gpus!r}"
            )
        values.update(gpus_per_trial=0.0, gpus_auto=True)
    return Resources(**values)


@dataclass(frozen=True)
class SearchSpec:
    """An Optuna search: how many trials, the space, early stopping, the study's storage."""

    trials: int = 8
    space: dict[str, dict[str, Any]] = field(default_factory=lambda: default_space(oe_folder=True))
    scheduler: str = "asha"  # early stopping on the per-epoch validation AUC
    grace_epochs: int = 1  # epochs every trial gets before it can be stopped
    validation_fraction: float = 0.1  # nominal training images held out for the objective
    search_class: int | None = None  # nominal class the search trains on (None: the first class of the spec)
    storage: str | None = None  # Optuna storage URL; None: SQLite file in the results folder
    sampler_seed: int = 0
    # What the search optimises (tune.search_goals); with two, the study is multi-objective and
    # `pick` chooses the Pareto point the final reruns take to the test split.
    optimize: tuple[str, ...] = ("val_auc",)
    pick: str = "within:1.2"

    def __post_init__(self) -> None:
        check_types(self)
        check_goals(self.optimize)
        parse_pick(self.pick)
        if len(self.optimize) > 1 and self.scheduler != "none":
            raise ValueError(
                f"`search.optimize` {','.join(self.optimize)} needs `search.scheduler` none "
                "(--early-stopping none): the schedulers stop trials on the validation AUC alone, which would cut "
                "cheap points off the Pareto front, and Optuna cannot prune a multi-objective trial"
            )
        if self.trials < 1:
            raise ValueError(f"`search.trials` must be >= 1, got {self.trials}")
        if self.grace_epochs < 1:
            raise ValueError(f"`search.grace_epochs` must be >= 1, got {self.grace_epochs}")
        if self.search_class is not None and self.search_class < 0:
            raise ValueError(f"`search.search_class` must be >= 0, got {self.search_class}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"`search.scheduler` must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"`search.validation_fraction` must be in (0, 1), got {self.validation_fraction}")
        check_space(self.space)


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
        check_name("benchmark name", self.name)
        if not self.classes:
            raise ValueError("a benchmark needs at least one class")
        if not self.seeds:
            raise ValueError("a benchmark needs at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"`seeds` must not repeat a seed, got {list(self.seeds)}")
        names = [name for name, _ in self.settings]
        for name in names:
            check_name("setting name", name)
        if len(set(names)) != len(names):
            raise ValueError(f"setting names must be unique, got {names}")
        if isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int):
            raise ValueError(f"`max_failures` must be an integer, got {self.max_failures!r}")
        if self.max_failures < 0:
            raise ValueError(f"`max_failures` must be >= 0, got {self.max_failures}")
        last = len(self.class_names) - 1
        if self.class_names and self.search.search_class is not None and self.search.search_class > last:
            raise ValueError(
                f"`search_class` (--search-class) {self.search.search_class} is not a class of "
                f"{self.base.data.dataset}; pick one of 0..{last}"
            )
        for _, overrides in self.settings:  # fail on a bad override now, not inside a Ray worker
            if overrides:
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


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_name(what: str, name: Any) -> None:
    """Names become folder names (``results/<name>``, ``runs/<setting>``): one plain path component."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name or len(name) > 100:
        raise ValueError(
            f"{what} {name!r} is not a plain folder name; use letters, digits, '.', '_', '-' "
            "(no '/', no '..'; pass --out to choose where the results go)"
        )


def parse_seeds(value: Any) -> tuple[int, ...]:
    """An int N means seeds 0..N-1; a list of ints is taken as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"`seeds` must be >= 1, got {value}")
        return tuple(range(value))
    if not isinstance(value, list | tuple) or not value or not all(is_int(s) and s >= 0 for s in value):
        raise ValueError(f"`seeds` must be a count N >= 1 (seeds 0..N-1) or a list of seeds >= 0, got {value!r}")
    return tuple(value)


def is_int(value: Any) -> bool:
    """An int that is not a bool (YAML's ``true`` is one to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


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


def with_changes(spec: BenchmarkSpec, **changes: Any) -> BenchmarkSpec:
    """A copy of ``spec`` with fields replaced (validated again)."""
    return dataclasses.replace(spec, **changes)
