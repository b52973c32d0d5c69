"""What a search optimises (its goals), and which point of a Pareto front it reruns: pure functions, no Optuna.

Named apart from ``--objective`` (the method's loss: fcdd, hsc, ae). `fcdd tune --optimize
val_auc,gpu_seconds` searches for two goals at once. Optuna keeps the
Pareto front (the trials no other trial beats on both); ``--pick`` names the rule that chooses
the one point the final reruns take to the test split:

- ``best``: the best first objective on the front (what a single-objective search would rerun);
- ``within:F``: the best first objective among the front's points whose second objective is
  within a factor ``F`` of the front's best second objective (``within:1.2``: the most accurate
  setting costing at most 1.2× the cheapest);
- ``knee``: the point nearest the ideal corner once both objectives are scaled to [0, 1] over the
  front (a balanced compromise that needs no factor).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    """One goal of a search: the trial result it reads, and whether more is better."""

    name: str
    direction: str  # "max" or "min"
    meaning: str


GOALS: dict[str, Goal] = {
    "val_auc": Goal("val_auc", "max", "sample ROC AUC on the validation split"),
    "val_pixel_auc": Goal("val_pixel_auc", "max", "pixel ROC AUC on the validation split (needs masks)"),
    "gpu_seconds": Goal(
        "gpu_seconds", "min", "training seconds × the GPU share the trial held (× 1 on a CPU-only trial)"
    ),
}
QUALITY = ("val_auc", "val_pixel_auc")  # goals that may come first: what the search is for
PICK_RULES = ("best", "within:F", "knee")


def check_goals(names: Sequence[str]) -> None:
    """Raise a one-line ``ValueError`` unless ``names`` is one or two known goals, a quality first."""
    if not 1 <= len(names) <= 2:
        raise ValueError(f"`search.optimize` takes one or two objectives, got {list(names)}")
    unknown = [n for n in names if n not in GOALS]
    if unknown:
        raise ValueError(f"unknown objective {unknown[0]!r} in `search.optimize`; choose from {', '.join(GOALS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"`search.optimize` names an objective twice: {list(names)}")
    if names[0] not in QUALITY:
        raise ValueError(
            f"the first objective is what the search is for and must be one of {', '.join(QUALITY)}, "
            f"got {names[0]!r} (e.g. --optimize val_auc,{names[0]})"
        )


def parse_pick(text: str) -> tuple[str, float | None]:
    """``"best"`` / ``"knee"`` / ``"within:1.2"`` → (rule, factor); a bad rule is a one-line ``ValueError``."""
    rule, _, factor = text.partition(":")
    if rule in ("best", "knee") and not factor:
        return rule, None
    if rule == "within":
        try:
            value = float(factor)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 1:
            return rule, value
        raise ValueError(f"`search.pick` within:F needs a factor F >= 1 (e.g. within:1.2), got {text!r}")
    raise ValueError(f"`search.pick` must be one of {', '.join(PICK_RULES)}, got {text!r}")


def gpu_seconds(train_seconds: float, gpus_per_trial: float) -> float:
    """What a trial cost: its training seconds × the GPU share it held; a CPU-only trial counts its seconds."""
    return train_seconds * (gpus_per_trial if gpus_per_trial > 0 else 1.0)


def goal_values(result: Mapping[str, Any], names: Sequence[str]) -> list[float | None]:
    """The goals of a trial's final result (``None`` where the result lacks one or it is not finite)."""
    values: list[float | None] = []
    for name in names:
        value = result.get(name)
        values.append(None if value is None or not math.isfinite(float(value)) else float(value))
    return values


def _sign(direction: str) -> float:
    return 1.0 if direction == "max" else -1.0


def pick_point(front: Mapping[int, Sequence[float]], directions: Sequence[str], pick: str) -> int:
    """The key of the front point that ``pick`` chooses (ties: the lower key, the earlier trial).

    ``front`` maps trial numbers to their objective values; Optuna's ``study.best_trials`` is the front.
    """
    if not front:
        raise ValueError("the Pareto front is empty: no trial finished with every objective")
    rule, factor = parse_pick(pick)
    keys = sorted(front)
    first = {k: _sign(directions[0]) * front[k][0] for k in keys}
    if len(directions) == 1 or rule == "best":
        return max(keys, key=lambda k: (first[k], -k))
    second = {k: front[k][1] for k in keys}
    if rule == "within":
        assert factor is not None
        if directions[1] == "min":
            bound = min(second.values())
            eligible = [k for k in keys if second[k] <= factor * bound]
        else:
            bound = max(second.values())
            eligible = [k for k in keys if second[k] * factor >= bound]
        return max(eligible, key=lambda k: (first[k], -k))
    # knee: scale each objective to [0, 1] over the front (1 = best), nearest to (1, 1) wins
    scaled = []
    for index, direction in enumerate(directions):
        values = [_sign(direction) * front[k][index] for k in keys]
        low, high = min(values), max(values)
        scaled.append({k: 1.0 if high == low else (v - low) / (high - low) for k, v in zip(keys, values, strict=True)})
    return min(keys, key=lambda k: (math.hypot(1 - scaled[0][k], 1 - scaled[1][k]), k))
