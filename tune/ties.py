"""Ties at the top of a search: the trials its validation split cannot tell apart, and the one it takes.

A validation AUC over ``n`` nominal and ``m`` anomalous images counts the (nominal, anomalous)
pairs a trial orders correctly, out of ``n·m``: it moves in steps of ``1/(n·m)``
(:func:`auc_resolution`). Two trials whose values differ by at most one step are told apart by a
single image pair: that is noise, not a better setting. :func:`break_ties` takes every completed
trial within that tolerance of the best as tied, and picks among them by :data:`RULE` (the cheaper
trial first, then the earlier one), so the pick is reproducible and says why it was made.

Pure functions, no I/O: ``fcdd tune`` calls them where it picks the trial to rerun and records
``Ties.to_json()`` under ``ties`` in ``best_params.json``; the report's search section reads that
back (:func:`describe_ties`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RULE = "lowest cost (trial seconds) first, then the earliest trial"
# Values are floats: one step of 1/(n·m) computed by subtraction may come out a hair above the step.
_SLACK = 1e-9


@dataclass(frozen=True)
class Candidate:
    """A completed search trial: its number, its objective value, and what it cost (None: unknown)."""

    number: int
    value: float
    cost: float | None = None


@dataclass(frozen=True)
class Ties:
    """The trials tied at the best value (by number, the chosen one among them) and how it was chosen."""

    trial_numbers: tuple[int, ...]
    chosen: int
    tolerance: float
    rule: str = RULE

    @property
    def count(self) -> int:
        """How many trials tied (1: the best trial stands alone)."""
        return len(self.trial_numbers)

    def to_json(self) -> dict[str, Any]:
        """What ``best_params.json`` records under ``ties`` (the chosen trial is its ``trial_number``)."""
        return {"count": self.count, "tolerance": self.tolerance, "rule": self.rule,
                "trial_numbers": list(self.trial_numbers)}  # fmt: skip


def auc_resolution(n_nominal: int | None, n_anomalous: int | None) -> float:
    """The step of an AUC over ``n_nominal`` × ``n_anomalous`` images, ``1/(n_nominal·n_anomalous)``;
    0.0 when either count is unknown or zero (then only equal values tie).
    """
    if not n_nominal or not n_anomalous or n_nominal < 0 or n_anomalous < 0:
        return 0.0
    return 1.0 / (n_nominal * n_anomalous)


def validation_resolution(counts: Iterable[tuple[int | None, int | None]]) -> float:
    """The coarsest AUC step over the trials' validation splits, from each trial's
    ``(n_validation, n_validation_anomalous)`` (:class:`fcdd.metrics.RunMetrics`); 0.0 without any.

    A search's trials share one validation split, so the steps agree; the coarsest is the safe one.
    """
    steps = [auc_resolution(total - anomalous, anomalous) for total, anomalous in counts
             if total is not None and anomalous is not None]  # fmt: skip
    return max(steps, default=0.0)


def break_ties(candidates: Sequence[Candidate], tolerance: float, *, maximize: bool = True) -> Ties:
    """Every candidate within ``tolerance`` of the best value, and the one :data:`RULE` picks among them.

    ``tolerance`` is inclusive (a value exactly one step below the best ties). Costs that are None
    rank after every known cost. Raises ValueError without candidates, or for a negative or NaN
    tolerance or value.
    """
    if not candidates:
        raise ValueError("`candidates` must hold at least one completed trial, got none")
    if not tolerance >= 0:  # also NaN
        raise ValueError(f"`tolerance` must be >= 0, got tolerance={tolerance!r}")
    missing = [c.number for c in candidates if math.isnan(c.value)]
    if missing:
        raise ValueError(f"every candidate needs a value, got NaN for trials {missing}")
    sign = 1.0 if maximize else -1.0
    best = max(sign * c.value for c in candidates)
    limit = tolerance * (1 + _SLACK) + _SLACK * max(1.0, abs(best))
    tied = sorted((c for c in candidates if best - sign * c.value <= limit), key=lambda c: c.number)
    chosen = min(tied, key=lambda c: (c.cost is None, c.cost if c.cost is not None else 0.0, c.number))
    return Ties(tuple(c.number for c in tied), chosen.number, tolerance)


def describe_ties(ties: Mapping[str, Any], chosen: int | None, objective: str, shown: int = 20) -> str:
    """One sentence about ``ties`` (as :meth:`Ties.to_json` wrote it) for the report and the console.

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
