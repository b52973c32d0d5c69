"""The run configuration: one frozen, validated dataclass shared by the CLI, the Ray trainable and the reports.

A :class:`RunConfig` describes exactly one training run (one nominal class, one seed). Sections are
small frozen dataclasses, each validated at construction, so an invalid setting fails where it is
made, not three epochs into a run. ``to_dict``/``from_dict`` round-trip through JSON and reject
unknown keys; ``to_flat``/``from_flat`` give the dotted-key form used for Ray's ``param_space`` and
result tables.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from fcdd import registry
from fcdd.anomalies.registry import OE_SOURCES, SUPERVISE_MODES, noise_mode_names
from fcdd.data.registry import DATASETS
from fcdd.implied import fitted_input, implied
from fcdd.methods.registry import METHODS
from fcdd.networks.registry import NETWORKS

OPTIMIZERS = ("sgd", "adam")
# Where and how a run executes, not what it is: left out of a trial's identity (so a benchmark
# resumed on other hardware finds its finished trials) and free to change when a run resumes.
# The thread count does change floating-point results; it is recorded with every run.
EXECUTION_KEYS = ("device", "eval_every", "threads", "deterministic")
SCHEDULERS = ("lambda", "milestones")
PRECISIONS = ("auto", "fp32", "bf16")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}; got {value!r}{hint}")


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    if origin is tuple:
        plural = {int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(typing.get_args(hint)[0], 'values')}"
    if origin is dict:
        return "a mapping"
    names = {type(None): "null", bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_types(config: object) -> None:
    """Raise a one-line ``ValueError`` for a field whose value has the wrong type (a quoted number, a list...)."""
    for name, hint in _hints(cast(Any, type(config))).items():
        value = getattr(config, name)
        if not _matches(value, hint):
            raise ValueError(f"`{name}` must be {_describe(hint)}, got {name}={value!r}")


def _path_as_str(config: object, name: str) -> None:
    # Python callers pass pathlib paths; the config holds plain strings (it is JSON).
    value = getattr(config, name)
    if isinstance(value, os.PathLike):
        object.__setattr__(config, name, os.fspath(value))


def _at_least(name: str, value: int, low: int, why: str) -> None:
    if value < low:
        raise ValueError(f"`{name}` must be >= {low} ({why}), got {name}={value!r}")


def _path(name: str, value: str | None) -> None:
    # An empty path would silently mean the current folder.
    if value is not None and not value.strip():
        raise ValueError(f"`{name}` is an empty path; give a folder or file, or leave it unset")


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    # NaN compares False with everything, so `value < 0` alone would let it through.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {name}={value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be {bound}, got {name}={value!r}")


# Where the validation split's anomalies come from (searches); each has its bias, see the README.
VALIDATION_ANOMALIES = ("auto", "other-classes", "synthetic", "outlier-exposure")


@dataclass(frozen=True)
class DataConfig:
    """Which data a run trains and tests on."""

    dataset: str = "fmnist"  # registry name (fcdd.data.registry.DATASETS)
    data_dir: str | None = None  # dataset root; None = the dataset's default search locations
    normal_class: int = 0  # index of the nominal class (one-vs-rest)
    preprocessing: str | None = None  # None = the dataset's default pipeline
    download: bool = False  # fetch the dataset when it is missing (needs internet)
    one_vs_rest: bool = False  # custom folders: train/<class>/ and test/<class>/ layout
    image_size: int | None = None  # custom folders: network input side (None = 224)
    train_limit: int | None = None  # use only the first N nominal training images (dry runs)
    test_limit: int | None = None  # use a seeded subset of N test images that keeps both labels (dry runs)
    validation_fraction: float = 0.0  # hold out this share of nominal training images for validation (searches)
    # The validation anomalies: the training split's other classes (or labelled anomalies), confetti-malformed
    # held-out images, or outlier-exposure images; "auto" = other-classes where the dataset has them, else the
    # run's own anomaly generator.
    validation_anomalies: str = "auto"
    epoch_repeats: int = 1  # passes over the training images per epoch (MVTec: 10, as the original's "enlarge")
    ground_truth_maps: bool = False  # custom folders: read train_maps/ and test_maps/
    channels: int | None = None  # custom folders: 1 = greyscale, 3 = RGB (default)

    def __post_init__(self) -> None:
        _path_as_str(self, "data_dir")
        check_types(self)
        registry.check(DATASETS, self.dataset, "dataset")
        _positive("normal_class", self.normal_class, allow_zero=True)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"`validation_fraction` must be in [0, 1), got validation_fraction={self.validation_fraction!r}"
            )
        if self.validation_anomalies not in VALIDATION_ANOMALIES:
            raise ValueError(
                f"`validation_anomalies` must be one of {', '.join(VALIDATION_ANOMALIES)}, "
                f"got validation_anomalies={self.validation_anomalies!r}"
            )
        _positive("epoch_repeats", self.epoch_repeats)
        if self.image_size is not None:
            _positive("image_size", self.image_size)
        # A one-image training set trains nothing (one-image batches are skipped: no BatchNorm
        # statistics); a one-image test set has one label and no AUC.
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None:
                _at_least(name, value, 2, "a run needs both a batch to train on and both labels to test")
        for name in ("data_dir",):
            _path(name, getattr(self, name))


@dataclass(frozen=True)
class AnomalyConfig:
    """How anomalies are brought into training (supervise mode, noise or outlier-exposure source)."""

    supervise_mode: str = "noise"  # fcdd.anomalies.registry.SUPERVISE_MODES
    noise_mode: str = "cifar100"  # synthetic noise or OE source (fcdd.anomalies.registry); "folder" reads `oe_folder`
    oe_folder: str | None = None  # any folder of natural images used as outlier exposure
    oe_limit: int | None = None  # size of the outlier-exposure pool (distinct images, drawn once per run); None = all
    defects_per_type: int = 1  # mvtec/mvtec_gt noise modes: real defects per defect type moved from test to training
    p: float = 0.5  # online mixing: each training sample is replaced with probability p (paper: 0.5)
    offline: bool = False  # offline supervision: N anomalies for N nominal images, made once, fixed for all epochs
    exclude_words: tuple[str, ...] = ()  # imagenet OE: drop classes whose name contains one of these words

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_words", _as_tuple(self.exclude_words))
        _path_as_str(self, "oe_folder")
        check_types(self)
        registry.check(SUPERVISE_MODES, self.supervise_mode, "supervise mode")
        registry.check(dict.fromkeys(noise_mode_names()), self.noise_mode, "noise mode")
        if self.oe_limit is not None:
            _positive("oe_limit", self.oe_limit)
        _positive("defects_per_type", self.defects_per_type)
        if not 0.0 < self.p <= 1.0:
            raise ValueError(f"`p` must be in (0, 1], got p={self.p!r}")
        _path("oe_folder", self.oe_folder)
        if self.supervise_mode == "unsupervised" and self.oe_folder is not None:
            raise ValueError(
                f"`oe_folder` {self.oe_folder} is outlier exposure, but supervise mode 'unsupervised' trains on "
                "nominal images only; drop --oe-folder or pick --supervise-mode noise"
            )


@dataclass(frozen=True)
class NetworkConfig:
    """Which network to build."""

    name: str = "FCDD_CNN28_W"  # registry name (fcdd.networks.registry; `fcdd nets`)
    bias: bool = True  # conv bias and BatchNorm affine in the custom nets
    pretrained: bool = True  # ImageNet weights for the VGG nets that take them
    weights: str | None = None  # local vgg11_bn state-dict file instead of a download

    def __post_init__(self) -> None:
        _path_as_str(self, "weights")
        check_types(self)
        registry.check(NETWORKS, self.name, "network", fold_case=True)
        _path("weights", self.weights)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and budget."""

    optimizer: str = "sgd"  # sgd (Nesterov, momentum 0.9) | adam
    lr: float = 1e-2
    weight_decay: float = 1e-6  # L2 penalty, as in the paper
    scheduler: str = "lambda"  # lambda: lr * gamma**epoch; milestones: lr * gamma**(#milestones passed)
    gamma: float = 0.98
    milestones: tuple[int, ...] = ()
    batch_size: int = 128
    # Forward/backward in chunks of this many samples, gradients summed: bounds activation memory
    # (the original's MVTec batch is 16 x 8 accumulated). None: the whole batch at once.
    micro_batch_size: int | None = None
    epochs: int = 400

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", _as_tuple(self.milestones))
        check_types(self)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _positive("lr", self.lr)
        _positive("weight_decay", self.weight_decay, allow_zero=True)
        _positive("gamma", self.gamma)
        # BatchNorm needs two samples: a one-sample batch is skipped, so batch size 1 would train nothing.
        _at_least("batch_size", self.batch_size, 2, "one-sample batches are skipped (BatchNorm needs two)")
        if self.micro_batch_size is not None:
            _at_least("micro_batch_size", self.micro_batch_size, 2, "one-sample chunks have no BatchNorm statistics")
        _positive("epochs", self.epochs, allow_zero=True)
        if self.scheduler == "milestones" and not self.milestones:
            raise ValueError("`scheduler='milestones'` needs `milestones`, e.g. --milestones 400,500")


@dataclass(frozen=True)
class HeatmapConfig:
    """Receptive-field upsampling and how heatmap pictures are normalised."""

    # σ of the receptive-field Gaussian that upsamples FCDD maps: heatmaps, pixel AUC and the
    # per-pixel training loss on ground-truth maps all use it, as in the original.
    gauss_std: float = 1.2
    quantile: float = 0.85  # heatmap colours saturate at this quantile
    n_samples: int = 20  # samples per row group in the heatmap grids
    tile_size: int = 64  # maximum pixel size of one tile in the grids
    blur: bool = False  # blur HSC/AE heatmaps with a Gaussian as wide as the FCDD counterpart's receptive field
    blur_std: float | None = None  # σ of that blur; None = gauss_std (the original uses one σ for both)

    def __post_init__(self) -> None:
        check_types(self)
        _positive("gauss_std", self.gauss_std)
        if self.blur_std is not None:
            _positive("blur_std", self.blur_std)
        if not 0.0 < self.quantile <= 1.0:
            raise ValueError(f"`quantile` must be in (0, 1], got quantile={self.quantile!r}")
        _positive("n_samples", self.n_samples)
        _positive("tile_size", self.tile_size)


@dataclass(frozen=True)
class RunConfig:
    """Everything one run (one nominal class, one seed) needs; presets are RunConfigs."""

    data: DataConfig = field(default_factory=DataConfig)
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    objective: str = "fcdd"  # the method (fcdd.methods.registry): fcdd, or the hsc / ae baselines
    seed: int = 0  # every random choice of the run derives from this
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 autocast where it is fast) | fp32 | bf16
    # Evaluate every k epochs and report it (0 = only at the end): the validation AUC when the run
    # holds out validation data, else the test AUC.
    eval_every: int = 0
    # CPU threads for torch during the run (None: leave the process's setting). Part of the
    # recorded config because the thread count changes the floating-point reduction order, and
    # so the trained model: same config, same threads, same AUC.
    threads: int | None = None
    # Deterministic kernels only (cuDNN deterministic, torch.use_deterministic_algorithms): what
    # makes GPU runs repeatable; CPU runs repeat bit for bit with the same threads anyway.
    deterministic: bool = False

    def __post_init__(self) -> None:
        check_types(self)
        registry.check(METHODS, self.objective, "objective")
        if self.threads is not None:
            _positive("threads", self.threads)
        _choice("precision", self.precision, PRECISIONS)
        _positive("seed", self.seed, allow_zero=True)
        _positive("eval_every", self.eval_every, allow_zero=True)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"`device` must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.data.validation_anomalies == "outlier-exposure" and (
            self.anomalies.noise_mode not in OE_SOURCES or self.anomalies.supervise_mode == "unsupervised"
        ):
            raise ValueError(
                "validation anomalies from outlier exposure need an outlier-exposure source, but the run uses "
                f"{self.anomalies.supervise_mode}/{self.anomalies.noise_mode}; pass --oe-folder DIR or another "
                "--validation-anomalies"
            )

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with exactly the fields named changed; dotted keys reach into sections (``optim.lr=0.1``).

        :meth:`update` applies the same changes with the settings they imply.
        """
        flat = self.to_flat()
        flat.update(_dotted(changes, flat))
        return RunConfig.from_flat(flat)

    def update(self, *layers: Mapping[str, Any], **changes: Any) -> RunConfig:
        """A copy with ``changes`` and the settings they imply: what the command line makes of the same flags.

        Beyond :meth:`replace`, the method's rules (:mod:`fcdd.implied`): an ``anomalies.oe_folder``
        selects outlier exposure from that folder, another ``data.dataset`` its own default
        preprocessing, and a custom folder without ``image_size`` takes the network's input. So
        ``get_preset("fmnist").update(**{"anomalies.oe_folder": d})`` is the base config of
        ``fcdd train --preset fmnist --oe-folder d`` (but for the threads the command sets).
        ``layers`` are earlier changes, each implying against what the ones before it made (a spec
        file's overrides, then the flags); ``changes`` come last. One validation, at the end.
        """
        flat = self.to_flat()
        for layer in (*layers, changes):
            flat.update(implied(_dotted(layer, flat), flat))
        flat.update(fitted_input(flat))
        return RunConfig.from_flat(flat)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain-JSON dict."""
        plain: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self)))
        return plain

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys take defaults."""
        return _build(cls, raw, "")

    def to_flat(self) -> dict[str, Any]:
        """Dotted-key dict (``{"optim.lr": 0.01, ...}``) for Ray's param_space and result rows."""
        flat: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        return flat

    @classmethod
    def from_flat(cls, flat: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_flat`."""
        nested: dict[str, Any] = {}
        for key, value in flat.items():
            section, _, name = key.partition(".")
            if name:
                nested.setdefault(section, {})[name] = value
            else:
                nested[key] = value
        return cls.from_dict(nested)

    def fingerprint(self, *, ignore: tuple[str, ...] = ()) -> str:
        """Stable short hash of the settings (dotted keys in ``ignore`` left out)."""
        flat = {k: v for k, v in self.to_flat().items() if k not in ignore}
        return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:12]


T = TypeVar("T")


def _as_tuple(value: Any) -> Any:
    """Lists (from JSON or YAML) of a tuple field as the tuple; anything else as it is, for the type check."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _dotted(changes: Mapping[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with ``a__b`` keys as ``a.b``; a key ``flat`` lacks is an error that names the closest."""
    dotted = {}
    for key, value in changes.items():
        key = key.replace("__", ".")
        if key not in flat:
            _unknown_key(key, flat)
        dotted[key] = value
    return dotted


def _unknown_key(key: str, known: dict[str, Any] | tuple[str, ...]) -> None:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown config key {key!r}{hint}")


def _build(cls: type[T], raw: dict[str, Any], prefix: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            _unknown_key(prefix + key, tuple(prefix + k for k in fields))
        sub = _SECTIONS.get(key) if cls is RunConfig else None
        if sub is not None:
            if not isinstance(value, dict):
                raise ValueError(f"config section {key!r} must be a mapping, got {type(value).__name__}")
            value = _build(sub, value, f"{key}.")
        kwargs[key] = value
    return cls(**kwargs)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "anomalies": AnomalyConfig,
    "network": NetworkConfig,
    "optim": OptimConfig,
    "heatmap": HeatmapConfig,
}
