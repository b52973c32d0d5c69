"""``--keep-snapshots``: which finished trials keep their ``snapshot.pt``, and the disk a run folder takes.

A run's ``snapshot.pt`` (its trained network, a few MB) is what a resume continues from and what
`fcdd explain` loads; a thousand copies are rarely wanted. ``all`` keeps every one (the default),
``best`` keeps, per setting and class, the snapshot of the representative seed: the one whose AUC
is closest to the median AUC of the class's seeds (ties: the lower seed), ``none`` removes them all.

Only snapshots of trials whose latest record in the store is "ok" are removed, and only once the
runner has returned: a failed or interrupted trial keeps its checkpoint, so a resume continues it.
``best`` removes a class's snapshots only once every planned seed of it is "ok" (the median needs
them all). Each removal re-appends the trial's record with ``snapshot_kept`` false and the run
folder's new ``run_bytes`` (the last line of a trial wins), so the store and the cost table say
what is left on disk.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tune.plan import TrialSpec

log = logging.getLogger("fcdd")

KEEP_SNAPSHOTS = ("all", "best", "none")
SNAPSHOT_FILE = "snapshot.pt"


def folder_bytes(folder: str | Path) -> int | None:
    """Bytes of every file under ``folder`` (None when there is no such folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed while we walked (an atomic write's temporary file)
                continue
    return total


def representative(aucs: Mapping[int, float], among: Iterable[int] | None = None) -> int:
    """The seed of ``among`` (default: all) whose AUC is closest to the median of all ``aucs`` (seed → AUC).

    Ties: the lower seed. A seed without a finite AUC is never closer than one with one.
    """
    seeds = sorted(aucs if among is None else among)
    if not seeds:
        raise ValueError("`among` must hold at least one seed")
    finite = sorted(v for v in aucs.values() if math.isfinite(v))
    if not finite:
        return seeds[0]
    middle = len(finite) // 2
    median = finite[middle] if len(finite) % 2 else (finite[middle - 1] + finite[middle]) / 2

    def distance(seed: int) -> float:
        value = aucs[seed]
        return abs(value - median) if math.isfinite(value) else math.inf

    return min(seeds, key=lambda seed: (distance(seed), seed))


def snapshots_to_remove(
    trials: Sequence[TrialSpec],
    rows: Mapping[str, Mapping[str, Any]],
    keep: str,
    present: Callable[[TrialSpec], bool],
) -> list[TrialSpec]:
    """The trials of the plan whose snapshot ``keep`` removes now; ``rows``: the store's latest row per trial id.

    ``present`` says whether a trial's snapshot is still on disk. ``best`` picks among the seeds
    whose snapshot is present the one closest to the median AUC of all the class's "ok" seeds, so
    a plan extended by more seeds later never needs a snapshot removed before.
    """
    if keep not in KEEP_SNAPSHOTS:
        raise ValueError(f"--keep-snapshots must be one of {', '.join(KEEP_SNAPSHOTS)}, got {keep!r}")
    finished = [t for t in trials if (rows.get(t.trial_id) or {}).get("status") == "ok"]
    if keep == "all":
        return []
    if keep == "none":
        return [t for t in finished if present(t)]
    groups: dict[tuple[str, int], list[TrialSpec]] = {}
    for trial in trials:
        groups.setdefault((trial.setting, trial.normal_class), []).append(trial)
    done = {t.trial_id for t in finished}
    remove: list[TrialSpec] = []
    for members in groups.values():
        if any(t.trial_id not in done for t in members):  # a seed still to finish: the median is not known
            continue
        aucs = {t.seed: _auc(rows[t.trial_id]) for t in members}
        candidates = [t for t in members if present(t)]
        if len(candidates) < 2:
            continue
        kept = representative(aucs, among=[t.seed for t in candidates])
        remove.extend(t for t in candidates if t.seed != kept)
    return remove


def _auc(row: Mapping[str, Any]) -> float:
    value = row.get("auc")
    return float(value) if isinstance(value, (int, float)) else math.nan


@dataclasses.dataclass(frozen=True)
class Pruned:
    """What :func:`prune_snapshots` did."""

    removed: tuple[str, ...]  # trial ids whose snapshot was removed now
    freed_bytes: int


def prune_snapshots(out: Path, trials: Sequence[TrialSpec], keep: str) -> Pruned:
    """Remove the snapshots ``keep`` does not keep among the finished, recorded trials of ``trials`` in ``out``.

    Call it only when the runner has returned. Every trial of the plan whose record says its
    snapshot is there while it is not (removed here, or by hand) gets its record re-appended with
    ``snapshot_kept`` false and its folder's bytes measured again.
    """
    from tune.store import ResultsStore, TrialRecord

    store = ResultsStore(out)
    rows = {row["trial_id"]: row for row in store.rows()}
    freed, removed = 0, []
    for trial in snapshots_to_remove(trials, rows, keep, lambda t: (t.run_dir(out) / SNAPSHOT_FILE).is_file()):
        path = trial.run_dir(out) / SNAPSHOT_FILE
        freed += path.stat().st_size
        path.unlink()
        removed.append(trial.trial_id)
    for trial in trials:
        row = rows.get(trial.trial_id)
        if row is None or row.get("status") != "ok" or row.get("snapshot_kept") is False:
            continue
        if not (trial.run_dir(out) / SNAPSHOT_FILE).is_file():
            record = TrialRecord.from_row(row)
            store.append(dataclasses.replace(record, snapshot_kept=False, run_bytes=folder_bytes(trial.run_dir(out))))
    if removed:
        log.info("--keep-snapshots %s: removed the snapshot.pt of %d finished trial(s), %.1f MB", keep, len(removed),
                 freed / 2**20)  # fmt: skip
    return Pruned(tuple(removed), freed)
