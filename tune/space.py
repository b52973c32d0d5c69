"""The search space of `fcdd tune`: its parameters' shape, the default space, and their checks.

A space maps a dotted RunConfig key (or :data:`ANOMALY_MODE_KEY`) to a parameter
``{type, low, high, choices, log, step, when}``; :func:`tune.search_trials.suggest` samples it define-by-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PARAM_TYPES = ("loguniform", "uniform", "int", "categorical")
PARAM_KEYS = ("type", "low", "high", "choices", "log", "step", "when")  # what one parameter may hold

# `anomalies.mode` is "<supervise mode>/<noise mode>": one categorical, because which noise modes
# make sense depends on the supervise mode, and Optuna needs one fixed distribution per name.
ANOMALY_MODE_KEY = "anomalies.mode"
FOLDER_MODE = "noise/folder"  # outlier exposure from --oe-folder: offered only when there is a folder

# The default search space: learning rate, weight decay and the anomaly settings. `when` makes a
# parameter conditional on the values of others (define-by-run).
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "optim.weight_decay": {"type": "loguniform", "low": 1e-7, "high": 1e-3},
    ANOMALY_MODE_KEY: {
        "type": "categorical",
        "choices": [
            FOLDER_MODE,
            "noise/confetti",
            "noise/mixed_blob",
            "malformed_normal/confetti",
            "malformed_normal/gaussian",
        ],
    },
    "anomalies.oe_limit": {
        "type": "categorical",
        "choices": [16, 256, 4096, None],
        "when": {ANOMALY_MODE_KEY: [FOLDER_MODE, "noise/cifar100"]},
    },
    "anomalies.p": {"type": "uniform", "low": 0.25, "high": 0.75},
}


def default_space(*, oe_folder: bool) -> dict[str, dict[str, Any]]:
    """A copy of :data:`DEFAULT_SPACE`; without a folder, outlier exposure from one is not among the anomaly modes."""
    space = {key: dict(param) for key, param in DEFAULT_SPACE.items()}
    if not oe_folder:
        modes = space[ANOMALY_MODE_KEY]["choices"]
        space[ANOMALY_MODE_KEY]["choices"] = [mode for mode in modes if mode != FOLDER_MODE]
    return space


def check_space(space: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise a one-line ``ValueError`` for a parameter of unknown type, without choices, or ``low`` >= ``high``."""
    for key, param in space.items():
        kind = param.get("type")
        if kind not in PARAM_TYPES:
            raise ValueError(f"search space {key!r}: `type` must be one of {', '.join(PARAM_TYPES)}, got {kind!r}")
        if kind == "categorical" and not param.get("choices"):
            raise ValueError(f"search space {key!r}: a categorical parameter needs `choices`")
        if kind != "categorical" and not ("low" in param and "high" in param and param["low"] < param["high"]):
            raise ValueError(f"search space {key!r}: needs `low` < `high`, got {param}")
