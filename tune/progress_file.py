"""The driver's ``progress.json``: its live view of a benchmark, shared by every runner (counts, ETA,
running trials); :mod:`tune.status` reads it back. (Progress bars are :mod:`fcdd.progress`.)

``<out>/progress.json`` is rewritten after every epoch and every finished trial (which trial runs
on which Ray node, at which epoch and attempt), and one log line per finished trial says
``[done/total, failed] per class | elapsed, ETA``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcdd import artifacts
from tune.outdir import PROGRESS_FILE
from tune.plan import TrialSpec

log = logging.getLogger(__name__)


class Progress:
    """Counts and running trials of one benchmark run, written to ``<root>/progress.json``."""

    def __init__(self, root: Path, *, benchmark: str, totals: dict[int, int], named: bool = False) -> None:
        self.root = Path(root)
        self.benchmark = benchmark
        self.named = named  # the log line names the benchmark (a suite's benchmarks log side by side)
        self.totals = dict(totals)  # trials to run per nominal class
        self.total = sum(self.totals.values())
        self.started = time.time()
        self.done: dict[int, int] = {}
        self.finished = 0
        self.failed = 0
        self.running: dict[str, dict[str, Any]] = {}
        self.write()  # at once: `fcdd status` sees a live driver before the first trial reports

    @classmethod
    def of(cls, root: Path, benchmark: str, trials: list[TrialSpec], *, named: bool = False) -> Progress:
        """The progress of running ``trials``."""
        return cls(root, benchmark=benchmark, totals=dict(Counter(t.normal_class for t in trials)), named=named)

    def eta_seconds(self) -> float | None:
        """Seconds left at the mean pace of the trials finished so far (None before the first)."""
        elapsed = time.time() - self.started
        return elapsed / self.finished * (self.total - self.finished) if self.finished else None

    def trial_started(self, trial: TrialSpec, *, attempt: int, node_id: str | None = None) -> None:
        """A trial's attempt began (a retry after a failure starts again here)."""
        self.running[trial.trial_id] = {
            "trial_id": trial.trial_id,
            "setting": trial.setting,
            "normal_class": trial.normal_class,
            "seed": trial.seed,
            "node_id": node_id,
            "epoch": 0,
            "epochs": trial.config.get("optim.epochs"),
            "attempt": attempt,
            "started_at": datetime.now(UTC).isoformat(),
        }
        self.write()

    def epoch_done(self, trial: TrialSpec, *, epoch: int, attempt: int, node_id: str | None = None) -> None:
        """A running trial finished an epoch."""
        entry = self.running.setdefault(trial.trial_id, {"trial_id": trial.trial_id, "setting": trial.setting,
                                                         "normal_class": trial.normal_class, "seed": trial.seed,
                                                         "started_at": datetime.now(UTC).isoformat()})  # fmt: skip
        entry.update(epoch=epoch, epochs=trial.config.get("optim.epochs"), attempt=attempt, node_id=node_id)
        self.write()

    def attempt_failed(self, trial: TrialSpec) -> None:
        """A trial's attempt failed and it will be retried: off the running list until the retry reports."""
        self.running.pop(trial.trial_id, None)
        self.write()

    def trial_finished(self, trial: TrialSpec, *, ok: bool) -> None:
        """A trial ended for good (ok, or failed after its retries)."""
        self.running.pop(trial.trial_id, None)
        self.finished += 1
        self.failed += not ok
        if ok:
            self.done[trial.normal_class] = self.done.get(trial.normal_class, 0) + 1
        self.write()
        eta = self.eta_seconds()
        per_class = ", ".join(f"class {c}: {self.done.get(c, 0)}/{n}" for c, n in sorted(self.totals.items()))
        log.info(
            "%s[%d/%d done, %d failed] %s | elapsed %.0f s, ETA %s",
            f"{self.benchmark} " if self.named else "",
            self.finished,
            self.total,
            self.failed,
            per_class,
            time.time() - self.started,
            "?" if eta is None else f"{eta:.0f} s",
        )

    def write(self) -> None:
        """Rewrite ``progress.json`` (atomically)."""
        artifacts.write_json(
            self.root / PROGRESS_FILE,
            {
                "benchmark": self.benchmark,
                "updated_at": datetime.now(UTC).isoformat(),  # stale when the driver is gone
                # `fcdd status` tells a running driver from a crashed one by this process.
                "driver": {"pid": os.getpid(), "host": socket.gethostname()},
                "totals": {str(c): n for c, n in sorted(self.totals.items())},
                "total": self.total,
                "finished": self.finished,
                "failed": self.failed,
                "elapsed_seconds": round(time.time() - self.started, 1),
                "eta_seconds": self.eta_seconds(),
                "running": sorted(self.running.values(), key=lambda r: r["trial_id"]),
            },
        )
