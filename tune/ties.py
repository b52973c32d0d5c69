"""When a search cannot choose: trials tied at the best value, how the tie is broken, and a warning before the search.

A validation AUC counts the nominal-anomalous pairs a setting orders right, so it moves in steps
of ``1 / (n_nominal · n_anomalous)`` of the validation split: its *resolution*. Two settings
whose validation AUCs differ by at most one step are not told apart by it; a single-objective
search treats every completed trial within one step of the best value as tied, and picks among
them by :data:`TIE_RULE` (:func:`break_ties`), not by Optuna's arbitrary ``best_trial``.
A split coarser than :data:`COARSE_RESOLUTION` gets a warning before the search starts
(:func:`resolution_warning`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fcdd.config import RunConfig

# Coarser than this (fewer than 100 nominal-anomalous pairs), the validation AUC cannot separate
# settings whose AUCs differ by a percentage point: worth a warning before the search starts.
COARSE_RESOLUTION = 0.01
TIE_RULE = "cheaper first (trial seconds), then the earlier trial"


@dataclass(frozen=True)
class TieResult:
    """The trials tied at the best value and the one :data:`TIE_RULE` picks among them."""

    picked: int  # its trial number
    trial_numbers: tuple[int, ...]  # every tied trial, the picked one included, in ascending order
    tolerance: float  # how far below the best value a trial still ties (0: exact ties only)
    rule: str = TIE_RULE

    @property
    def count(self) -> int:
        """How many trials tied (1: the best was alone)."""
        return len(self.trial_numbers)

    def to_dict(self) -> dict[str, Any]:
        """What ``best_params.json`` records under ``ties``."""
        return {"count": self.count, "tolerance": self.tolerance, "rule": self.rule,
                "trial_numbers": list(self.trial_numbers)}  # fmt: skip

    def describe(self, objective: str) -> str:
        """One line for the driver's last lines; empty when nothing tied."""
        return describe_ties(self.to_dict(), self.picked, objective) if self.count > 1 else ""


def auc_resolution(n_nominal: int | None, n_anomalous: int | None) -> float | None:
    """The step of a ROC AUC over ``n_nominal`` nominal and ``n_anomalous`` anomalous images (None: unknown)."""
    if not n_nominal or not n_anomalous or n_nominal < 0 or n_anomalous < 0:
        return None
    return 1.0 / (n_nominal * n_anomalous)


def break_ties(
    values: Sequence[float], costs: Sequence[float | None], numbers: Sequence[int], tolerance: float
) -> TieResult:
    """Among trials ``numbers`` with ``values`` (more is better), those within ``tolerance`` of the best, and the pick.

    The pick is the cheapest of them (``costs``: trial seconds; a missing cost counts as the
    dearest), then the earliest (lowest number). A value is tied when it is at most ``tolerance``
    below the best (plus a relative 1e-9, so a float step of exactly ``tolerance`` ties).
    """
    if not len(values) == len(costs) == len(numbers) or not values:
        raise ValueError("`values`, `costs` and `numbers` must be non-empty and of equal length")
    if not tolerance >= 0:
        raise ValueError(f"`tolerance` must be >= 0, got {tolerance!r}")
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        raise ValueError("no trial has a finite value")
    best = max(finite)
    slack = tolerance + 1e-9 * max(abs(best), tolerance)
    tied = [i for i, v in enumerate(values) if math.isfinite(v) and best - v <= slack]

    def key(i: int) -> tuple[bool, float, int]:
        cost = costs[i]
        known = cost is not None and math.isfinite(cost)
        return (not known, cost if known and cost is not None else 0.0, numbers[i])

    picked = min(tied, key=key)
    return TieResult(numbers[picked], tuple(sorted(numbers[i] for i in tied)), tolerance)


def expected_validation_sizes(config: RunConfig) -> tuple[int, int] | None:
    """(nominal, anomalous) validation images a run of ``config`` will hold out, from the file counts alone.

    None when the dataset is not counted yet (a download to come) or ``config`` holds out nothing.
    An estimate where the anomalies are real: a one-vs-rest dataset's other classes are assumed to
    be at least as many; the trials report the exact sizes (``n_validation``, ``n_validation_anomalous``).
    """
    from fcdd.data.loading import check_data
    from fcdd.data.subsets import validation_size

    data = config.data
    if data.validation_fraction <= 0:
        return None
    summary = check_data(data)
    available = summary.count("train nominal")
    if not available:
        return None
    nominal = validation_size(min(available, data.train_limit or available), data.validation_fraction)
    real = summary.count("train anomalous")  # counted by custom folders; one-vs-rest datasets have plenty
    use_real = data.validation_anomalies in ("auto", "other-classes")
    return nominal, min(nominal, real) if use_real and real else nominal


def resolution_warning(n_nominal: int, n_anomalous: int, what: str = "the search's validation split") -> str | None:
    """The warning a validation split coarser than :data:`COARSE_RESOLUTION` deserves (None: fine)."""
    step = auc_resolution(n_nominal, n_anomalous)
    if step is None or step <= COARSE_RESOLUTION:
        return None
    return (
        f"{what} holds {n_nominal} nominal and {n_anomalous} anomalous images: its AUC moves in steps of "
        f"1/{n_nominal * n_anomalous} = {step:.3g}, coarser than {COARSE_RESOLUTION:g}, so settings closer than "
        "that tie; raise --validation-fraction or --train-limit to tell them apart"
    )


def search_resolution_warning(config: RunConfig) -> str | None:
    """:func:`resolution_warning` of the validation split of a search's base ``config`` (before the search)."""
    sizes = expected_validation_sizes(config)
    if sizes is None:
        return None
    return resolution_warning(*sizes, what=f"the search's validation split (class {config.data.normal_class})")


def describe_ties(ties: Mapping[str, Any], chosen: int | None, objective: str, shown: int = 20) -> str:
    """One sentence about ``ties`` (as :meth:`TieResult.to_dict` wrote it) for the report and the console.

    ``chosen`` is the picked trial's number; at most ``shown`` tied trial numbers are listed.
    """
    count, tolerance = int(ties["count"]), float(ties["tolerance"])
    step = f"{tolerance:.3g}, one step of the validation AUC"
    picked = f"trial #{chosen}" if chosen is not None else "one of them"
    if count <= 1:
        near = f"within {step}" if tolerance > 0 else "with the same value"
        return f"No tie at the best {objective}: no other trial {near}; {picked} is the pick."
    numbers = [int(n) for n in ties["trial_numbers"]]
    listed = ", ".join(f"#{n}" for n in numbers[:shown])
    if len(numbers) > shown:
        listed += f" and {len(numbers) - shown} more"
    return (
        f"{count} trials tied at the best {objective} ({f'within {step}' if tolerance > 0 else 'exactly'}): "
        f"{listed}. The validation split cannot tell them apart; the tie was broken by {ties['rule']}: {picked}."
    )
