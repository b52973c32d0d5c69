"""The command-line flags that override RunConfig fields, shared by `fcdd train`, `benchmark` and `tune`.

Each flag is stored under its dotted RunConfig key; ``None`` means "keep what the preset or spec
says". Choices come from the registries, so a new noise mode or method is a valid flag value
without touching this file. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fcdd.anomalies.registry import SUPERVISE_MODES, noise_mode_names
from fcdd.cli import DeferredHelp, path_arg
from fcdd.config import OPTIMIZERS, PRECISIONS, SCHEDULERS, VALIDATION_ANOMALIES
from fcdd.data.registry import DATASETS, preprocessing_names
from fcdd.methods.registry import METHODS


def _path_text(text: str) -> str:
    """argparse type of the path flags: an empty value is a mistake, not the current folder."""
    path_arg(text)
    return text


PREPROCESSING_HELP = "the dataset's preprocessing pipeline (default: its first)"


def _preprocessings() -> str:
    """The ``--preprocessing`` help: each registered dataset's pipelines, read from its recipes."""
    listed = "; ".join(f"{name}: {', '.join(preprocessing_names(name))}" for name in DATASETS)
    return f"{PREPROCESSING_HELP}: {listed}"


# CLI flag → dotted RunConfig key, argparse keyword arguments. Choices and help texts from a
# registry are functions, read when the parser is built, so entries registered after import are
# valid too.
VALUE_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--dataset", "data.dataset", {"help": lambda: f"dataset: {', '.join(DATASETS)}"}),
    ("--data-dir", "data.data_dir", {"type": _path_text, "help": "dataset root folder"}),
    ("--preprocessing", "data.preprocessing", {"help": lambda: DeferredHelp(PREPROCESSING_HELP, _preprocessings)}),
    (
        "--image-size",
        "data.image_size",
        {"type": int, "help": "network input side, for datasets that resize (fixed-size ones refuse another)"},
    ),
    ("--channels", "data.channels", {"type": int, "help": "custom folders: 1 = greyscale, 3 = RGB"}),
    ("--epoch-repeats", "data.epoch_repeats", {"type": int, "help": "passes over the training images per epoch"}),
    ("--train-limit", "data.train_limit", {"type": int, "help": "use only N nominal training images"}),
    ("--test-limit", "data.test_limit", {"type": int, "help": "use a seeded subset of N test images"}),
    (
        "--validation-fraction",
        "data.validation_fraction",
        {"type": float, "help": "hold out this share of nominal training images (plus anomalies) for validation"},
    ),
    (
        "--validation-anomalies",
        "data.validation_anomalies",
        {
            "choices": VALIDATION_ANOMALIES,
            "help": "validation anomalies: the training split's other classes (the classes the test split calls "
            "anomalous: optimistic), synthetic confetti, or outlier-exposure images; auto = other-classes "
            "where the dataset has them, else the run's own generator",
        },
    ),
    ("--net", "network.name", {"help": "network (see `fcdd nets`)"}),
    (
        "--weights",
        "network.weights",
        {"type": _path_text, "help": "local vgg11_bn state-dict file for the pretrained VGG nets"},
    ),
    (
        "--objective",
        "objective",
        {"choices": lambda: tuple(METHODS), "help": "the method (fcdd: the paper's; --baselines adds every baseline)"},
    ),
    ("--supervise-mode", "anomalies.supervise_mode", {"choices": lambda: tuple(SUPERVISE_MODES)}),
    ("--noise-mode", "anomalies.noise_mode", {"choices": noise_mode_names}),
    (
        "--oe-folder",
        "anomalies.oe_folder",
        {"type": _path_text, "help": "any image folder used as outlier exposure (implies --noise-mode folder)"},
    ),
    ("--oe-limit", "anomalies.oe_limit", {"type": int, "help": "size of the outlier-exposure pool (distinct images)"}),
    (
        "--defects-per-type",
        "anomalies.defects_per_type",
        {"type": int, "help": "noise modes mvtec/mvtec_gt: real defects per defect type moved into training"},
    ),
    ("--anomaly-p", "anomalies.p", {"type": float, "help": "probability a training sample is replaced by an anomaly"}),
    ("--epochs", "optim.epochs", {"type": int}),
    ("--batch-size", "optim.batch_size", {"type": int}),
    (
        "--micro-batch-size",
        "optim.micro_batch_size",
        {
            "type": int,
            "help": "forward/backward in chunks of this size, gradients summed: bounds memory, but BatchNorm then "
            "normalises each chunk alone (not the method's statistics over the whole batch)",
        },
    ),
    ("--optimizer", "optim.optimizer", {"choices": OPTIMIZERS}),
    ("--lr", "optim.lr", {"type": float, "help": "learning rate"}),
    ("--weight-decay", "optim.weight_decay", {"type": float}),
    ("--scheduler", "optim.scheduler", {"choices": SCHEDULERS}),
    ("--gamma", "optim.gamma", {"type": float, "help": "lr decay factor (per epoch or per milestone)"}),
    (
        "--milestones",
        "optim.milestones",
        {"type": lambda s: tuple(int(x) for x in s.split(",") if x), "help": "comma-separated epochs, e.g. 400,500"},
    ),
    ("--gauss-std", "heatmap.gauss_std", {"type": float, "help": "σ of the receptive-field upsampling"}),
    (
        "--blur-std",
        "heatmap.blur_std",
        {"type": float, "help": "σ of the baselines' heatmap blur (default: --gauss-std)"},
    ),
    ("--quantile", "heatmap.quantile", {"type": float, "help": "heatmap colour saturation quantile"}),
    ("--device", "device", {"help": "auto, cpu, cuda, cuda:N"}),
    ("--precision", "precision", {"choices": PRECISIONS}),
    (
        "--eval-every",
        "eval_every",
        {"type": int, "help": "report the AUC every k epochs (validation AUC when held out, else test AUC)"},
    ),
]

# On/off flags: flag → dotted RunConfig key, the value it sets, help.
SWITCH_FLAGS: list[tuple[str, str, bool, str]] = [
    ("--download", "data.download", True, "download missing datasets (needs internet)"),
    ("--one-vs-rest", "data.one_vs_rest", True, "custom folders: train/<class>/ and test/<class>/ layout"),
    ("--no-pretrained", "network.pretrained", False, "random initialisation for the VGG nets"),
    ("--offline", "anomalies.offline", True, "offline supervision: N anomalies for N nominal images, made once"),
    ("--ground-truth-maps", "data.ground_truth_maps", True, "custom folders: read train_maps/ and test_maps/"),
    ("--blur-heatmaps", "heatmap.blur", True, "blur HSC/AE heatmaps over the FCDD counterpart's receptive field"),
    ("--deterministic", "deterministic", True, "deterministic kernels only (cuDNN, torch): repeatable GPU runs"),
]

_PATH_KEYS = ("data.data_dir", "anomalies.oe_folder", "network.weights")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Add the flags that override RunConfig fields."""
    for flag, key, value, help_text in SWITCH_FLAGS:
        p.add_argument(flag, dest=key, action="store_const", const=value, default=None, help=help_text)
    for flag, key, kwargs in VALUE_FLAGS:
        kwargs = {
            key: value() if key in ("choices", "help") and callable(value) else value for key, value in kwargs.items()
        }
        choices = kwargs.get("choices")
        if choices is None:  # `--oe-folder OE_FOLDER`, not the dotted dest
            kwargs = {"metavar": flag.lstrip("-").upper().replace("-", "_"), **kwargs}
        p.add_argument(flag, dest=key, default=None, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The dotted-key overrides given on the command line, paths made absolute (trials may run elsewhere)."""
    keys = {key for _, key, _ in VALUE_FLAGS} | {key for _, key, _, _ in SWITCH_FLAGS}
    changes = {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}
    for key in _PATH_KEYS:
        if changes.get(key):
            changes[key] = str(Path(changes[key]).expanduser().resolve())
    return changes
