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
    resources: {cpus_per_trial: 1, gpus_per_trial: 0.25}   # or gpus_per_trial: auto (measured)
    max_failures: 1
    search:                 # used by `fcdd tune`
      trials: 20
      scheduler: asha       # asha | median | none
      objectives: val_auc   # or [val_auc, gpu_seconds]: multi-objective, no early stopping
      pick: within:1.2      # which Pareto point is rerun: best | within:F | knee
      space:
        optim.lr: {type: loguniform, low: 1.0e-4, high: 1.0e-1}

Overrides are applied to the final base config in one step (:func:`with_implied`): an
``anomalies.oe_folder`` alone also selects outlier exposure from that folder, whatever the base.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from fcdd.anomalies.registry import OE_FOLDER_SOURCES
from fcdd.config import RunConfig, check_types
from fcdd.presets import DEFAULT_SEEDS, get_preset
from tune.objectives import check_objectives, parse_pick

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
    space: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_SPACE))
    scheduler: str = "asha"  # early stopping on the per-epoch validation AUC
    grace_epochs: int = 1  # epochs every trial gets before it can be stopped
    validation_fraction: float = 0.1  # nominal training images held out for the objective
    search_class: int | None = None  # nominal class the search trains on (None: the first class of the spec)
    storage: str | None = None  # Optuna storage URL; None: SQLite file in the results folder
    sampler_seed: int = 0
    # What the search optimises (tune.objectives); with two, the study is multi-objective and
    # `pick` chooses the Pareto point the final reruns take to the test split.
    objectives: tuple[str, ...] = ("val_auc",)
    pick: str = "within:1.2"

    def __post_init__(self) -> None:
        check_types(self)
        check_objectives(self.objectives)
        parse_pick(self.pick)
        if len(self.objectives) > 1 and self.scheduler != "none":
            raise ValueError(
                f"`search.objectives` {','.join(self.objectives)} needs `search.scheduler` none "
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
    if not isinstance(value, list | tuple) or not value or not all(_is_int(s) and s >= 0 for s in value):
        raise ValueError(f"`seeds` must be a count N >= 1 (seeds 0..N-1) or a list of seeds >= 0, got {value!r}")
    return tuple(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What each section of a spec file may hold; keys are checked with "did you mean".
_SECTION_KEYS = {
    "resources": RESOURCE_KEYS,
    "search": tuple(f.name for f in dataclasses.fields(SearchSpec)),
}
_SETTING_KEYS = ("name", "overrides")
_PARAM_KEYS = ("type", "low", "high", "choices", "log", "step", "when")


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
                if key not in _PARAM_KEYS:
                    raise _unknown(f"search.space.{name}.{key}", _PARAM_KEYS, f"`search.space.{name}`")
    settings = raw.get("settings")
    if settings is not None:
        if not isinstance(settings, list) or not settings:
            raise ValueError(
                f"`settings` must be a non-empty list of {{name: ..., overrides: {{...}}}}, got {settings!r}"
            )
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
    if "baselines" in raw and not isinstance(raw["baselines"], bool):
        raise ValueError(f"`baselines` must be true or false, got {raw['baselines']!r}")
    if "max_failures" in raw and not (_is_int(raw["max_failures"]) and raw["max_failures"] >= 0):
        raise ValueError(f"`max_failures` must be an integer >= 0, got {raw['max_failures']!r}")


def with_implied(overrides: dict[str, Any], base: RunConfig) -> dict[str, Any]:
    """``overrides`` plus the settings they imply on ``base``: an OE folder alone selects outlier exposure.

    A ``data.dataset`` other than the base's resets the preprocessing to that dataset's default.
    ``anomalies.oe_folder`` without a noise mode means "outlier exposure from that folder": noise
    mode ``folder`` and supervise mode ``noise``, unless the base's noise mode already reads the
    folder (``imagenet``, ``imagenet22k``, ``emnist`` take it as their root).
    """
    changes = dict(overrides)
    if changes.get("data.dataset", base.data.dataset) != base.data.dataset and "data.preprocessing" not in changes:
        # Another dataset than the base's: its own default pipeline (the base's may not exist for it).
        changes["data.preprocessing"] = None
    if changes.get("anomalies.oe_folder") and "anomalies.noise_mode" not in changes:
        if base.anomalies.noise_mode not in OE_FOLDER_SOURCES:
            changes["anomalies.noise_mode"] = "folder"
        if "anomalies.supervise_mode" not in changes and base.anomalies.supervise_mode != "noise":
            changes["anomalies.supervise_mode"] = "noise"
    return changes


def fit_input_to_network(base: RunConfig) -> RunConfig:
    """A custom folder without ``image_size`` takes the network's input size (and greyscale for a 1-channel net).

    Known instead of refused: the default 224 would only fail against a 28² or 32² network after
    every image was decoded at that size.
    """
    if base.data.dataset != "custom" or base.data.image_size is not None:
        return base
    from fcdd.networks.build import network_input_shape

    channels, side, _ = network_input_shape(base.network.name)
    changes: dict[str, Any] = {"data.image_size": side}
    if base.data.channels is None and channels == 1:
        changes["data.channels"] = 1
    return base.replace(**changes)


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
    if base.anomalies.oe_folder is not None:  # the AE sees no anomalies, so no outlier-exposure folder either
        ae["anomalies.oe_folder"] = None
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
    settings = [(s["name"], tuple(sorted((s.get("overrides") or {}).items()))) for s in entries]
    for name, changes in settings:
        try:
            base.replace(**dict(changes))
        except ValueError as error:
            raise ValueError(f"setting {name!r}: {error}") from None
    if raw.get("baselines"):
        if base.objective != "fcdd":
            raise ValueError(f"baselines are added to an FCDD config; this one's objective is {base.objective}")
        if settings == [("default", ())]:
            settings = [("fcdd", ())]
        settings += baseline_settings(base)
    return tuple(settings)


def _search(raw: dict[str, Any], base: RunConfig) -> SearchSpec:
    search_raw = dict(raw.get("search") or {})
    objectives = search_raw.get("objectives")
    if isinstance(objectives, str):  # "val_auc,gpu_seconds", as the flag and YAML may give it
        objectives = [name.strip() for name in objectives.split(",") if name.strip()]
    if isinstance(objectives, list):
        search_raw["objectives"] = tuple(objectives)
        if len(objectives) > 1:  # no early stopping unless asked for (and then refused with the reason)
            search_raw.setdefault("scheduler", "none")
    if "space" in search_raw:
        search_raw["space"] = {k: dict(v) for k, v in search_raw["space"].items()}
    elif base.anomalies.oe_folder is None:  # the default space offers folder OE only when there is a folder
        space = {k: dict(v) for k, v in DEFAULT_SPACE.items()}
        space[ANOMALY_MODE_KEY]["choices"] = [c for c in space[ANOMALY_MODE_KEY]["choices"] if c != "noise/folder"]
        search_raw["space"] = space
    return SearchSpec(**search_raw)


def spec_from_dict(
    raw: dict[str, Any],
    *,
    n_classes: int | None = None,
    overrides: dict[str, Any] | None = None,
    source: str | None = None,
) -> BenchmarkSpec:
    """Build a spec from a parsed YAML mapping; ``overrides`` (dotted keys, the flags) win over the file's.

    The file's overrides and then the flags are applied to the preset (or config) with
    :func:`with_implied`, so a flag means the same whatever the spec's base. ``n_classes`` skips
    looking at the data for the class names (classes are then indices only). ``source`` names
    where ``raw`` came from (``benchmark spec x.yaml``) in errors about what only the file sets.
    """
    prefix = f"{source}: " if source else ""
    check_raw(raw)
    try:
        base = _base_config(raw)
        base = base.replace(**with_implied(dict(raw.get("overrides") or {}), base))
        settings = _settings(raw, base)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    base = fit_input_to_network(base.replace(**with_implied(dict(overrides or {}), base)))
    if overrides:
        settings = _settings(raw, base)
    resources = parse_resources(raw.get("resources") or {})
    if base.threads is None:  # the trial's threads follow its CPUs unless the config says otherwise
        base = base.replace(threads=resources.threads)
    if n_classes is None:
        from fcdd.data.loading import dataset_classes

        names = dataset_classes(base.data)
    else:
        names = tuple(str(i) for i in range(n_classes))
    from fcdd.data.loading import resolve_classes

    return BenchmarkSpec(
        name=raw.get("name") or default_name(base),
        base=base,
        classes=resolve_classes(raw.get("classes", "all"), names),
        seeds=parse_seeds(raw.get("seeds", DEFAULT_SEEDS)),
        class_names=tuple(names),
        settings=settings,
        resources=resources,
        max_failures=raw.get("max_failures", 1),
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
    try:
        check_raw(raw)
    except ValueError as error:
        raise ValueError(f"benchmark spec {path}: {error}") from None
    return raw


def with_changes(spec: BenchmarkSpec, **changes: Any) -> BenchmarkSpec:
    """A copy of ``spec`` with fields replaced (validated again)."""
    return dataclasses.replace(spec, **changes)
