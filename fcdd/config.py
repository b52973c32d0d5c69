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
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fcdd import registry
from fcdd.anomalies.registry import SUPERVISE_MODES, noise_mode_names
from fcdd.data.registry import DATASETS
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


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    # NaN compares False with everything, so `value < 0` alone would let it through.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {name}={value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be {bound}, got {name}={value!r}")


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
    epoch_repeats: int = 1  # passes over the training images per epoch (MVTec: 10, as the original's "enlarge")
    ground_truth_maps: bool = False  # custom folders: read train_maps/ and test_maps/
    channels: int | None = None  # custom folders: 1 = greyscale, 3 = RGB (default)

    def __post_init__(self) -> None:
        registry.check(DATASETS, self.dataset, "dataset")
        _positive("normal_class", self.normal_class, allow_zero=True)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"`validation_fraction` must be in [0, 1), got validation_fraction={self.validation_fraction!r}"
            )
        _positive("epoch_repeats", self.epoch_repeats)
        for name in ("image_size", "train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None:
                _positive(name, value)


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
        registry.check(SUPERVISE_MODES, self.supervise_mode, "supervise mode")
        registry.check(dict.fromkeys(noise_mode_names()), self.noise_mode, "noise mode")
        object.__setattr__(self, "exclude_words", tuple(self.exclude_words))
        if self.oe_limit is not None:
            _positive("oe_limit", self.oe_limit)
        _positive("defects_per_type", self.defects_per_type)
        if not 0.0 < self.p <= 1.0:
            raise ValueError(f"`p` must be in (0, 1], got p={self.p!r}")


@dataclass(frozen=True)
class NetworkConfig:
    """Which network to build."""

    name: str = "FCDD_CNN28_W"  # registry name (fcdd.networks.registry; `fcdd nets`)
    bias: bool = True  # conv bias and BatchNorm affine in the custom nets
    pretrained: bool = True  # ImageNet weights for the VGG nets that take them
    weights: str | None = None  # local vgg11_bn state-dict file instead of a download

    def __post_init__(self) -> None:
        registry.check(NETWORKS, self.name, "network", fold_case=True)


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
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _positive("lr", self.lr)
        _positive("weight_decay", self.weight_decay, allow_zero=True)
        _positive("gamma", self.gamma)
        _positive("batch_size", self.batch_size)
        if self.micro_batch_size is not None:
            _positive("micro_batch_size", self.micro_batch_size)
        _positive("epochs", self.epochs, allow_zero=True)
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
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
        registry.check(METHODS, self.objective, "objective")
        if self.threads is not None:
            _positive("threads", self.threads)
        _choice("precision", self.precision, PRECISIONS)
        _positive("seed", self.seed, allow_zero=True)
        _positive("eval_every", self.eval_every, allow_zero=True)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"`device` must be auto, cpu, cuda or cuda:N, got {self.device!r}")

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with fields changed; dotted keys reach into sections (``optim.lr=0.1``)."""
        flat = self.to_flat()
        for key, value in changes.items():
            key = key.replace("__", ".")
            if key not in flat:
                _unknown_key(key, flat)
            flat[key] = value
        return RunConfig.from_flat(flat)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain-JSON dict."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

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
        elif key in ("milestones", "exclude_words") and value is not None:
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "anomalies": AnomalyConfig,
    "network": NetworkConfig,
    "optim": OptimConfig,
    "heatmap": HeatmapConfig,
}
