"""The serial runner: every trial in this process, one after another (`fcdd train`; a laptop or one GPU).

Same trials, same run folders, same records and progress file as the Ray runner; a failing trial
is retried ``spec.max_failures`` times from its last checkpoint, then recorded as failed, and the
rest of the plan continues. Ctrl-C stops at once; rerunning the command resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from fcdd.engine.fit import EpochReport
from fcdd.runner import run
from tune.plan import TrialSpec
from tune.progress_file import Progress
from tune.runners.base import error_line, make_record
from tune.spec import BenchmarkSpec
from tune.store import ResultsStore

log = logging.getLogger("fcdd")


def release_memory() -> None:
    """Hand memory freed by a finished run back to the OS before the next one starts.

    glibc keeps freed large blocks in its arenas; over many classes in one process that shows up
    as a growing resident size although nothing is alive.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def _epoch_printer(prefix: str) -> Callable[[EpochReport], None]:
    def report(r: EpochReport) -> None:
        auc = f"  test AUC {r.test_auc:.4f}" if r.test_auc is not None else ""
        auc += f"  validation AUC {r.val_auc:.4f}" if r.val_auc is not None else ""
        log.info(
            "%s epoch %d/%d  loss %.4f (nominal %.4f, anomalous %.4f)  lr %.2e  %.1f s  %.0f img/s%s",
            prefix,
            r.epoch,
            r.epochs,
            r.loss,
            r.loss_nominal,
            r.loss_anomalous,
            r.lr,
            r.seconds,
            r.images_per_second,
            auc,
        )

    return report


class SerialRunner:
    """Runs trials in this process; ``show_progress`` shows a progress bar per epoch."""

    name = "serial"

    def __init__(self, *, show_progress: bool = True) -> None:
        self.show_progress = show_progress

    def prepare(self, spec: BenchmarkSpec) -> None:
        """Nothing to connect to."""

    def run(self, trials: list[TrialSpec], out: Path, spec: BenchmarkSpec) -> None:
        """Run every trial; each outcome is appended to ``<out>/trials.jsonl``."""
        store = ResultsStore(out)
        progress = Progress.of(out, spec.name, trials)
        for trial in trials:
            self._run_trial(trial, out, spec, store, progress)

    def _run_trial(
        self, trial: TrialSpec, out: Path, spec: BenchmarkSpec, store: ResultsStore, progress: Progress
    ) -> None:
        config = trial.run_config()
        label = f"[{trial.setting} class {trial.normal_class} seed {trial.seed}]"
        log.info("%s %s (%s) → %s", label, config.objective, trial.class_name, trial.run_dir(out))
        printer = _epoch_printer(label)
        seconds: list[float] = []
        started = time.time()
        for attempt in range(1, spec.max_failures + 2):
            progress.trial_started(trial, attempt=attempt)

            def on_epoch(report: EpochReport, attempt: int = attempt) -> None:
                progress.epoch_done(trial, epoch=report.epoch, attempt=attempt)
                printer(report)

            attempt_started = time.time()
            try:
                # A retry continues from the failed attempt's last checkpoint, as on Ray.
                result = run(config, trial.run_dir(out), on_epoch_end=on_epoch, show_progress=self.show_progress)
            except Exception as error:  # any failure of one trial is recorded; the plan goes on
                seconds.append(time.time() - attempt_started)
                reason = error_line(error)
                if attempt <= spec.max_failures:
                    log.warning("%s failed (%s); retrying, attempt %d", label, reason, attempt + 1)
                    progress.attempt_failed(trial)
                    continue
                log.error("%s failed for good: %s", label, reason)
                store.append(
                    make_record(
                        trial, spec, out, runner=self.name, metrics=None, error=reason, attempt_seconds=seconds,
                        started=started,
                    )
                )  # fmt: skip
                progress.trial_finished(trial, ok=False)
                return
            finally:
                release_memory()
            seconds.append(time.time() - attempt_started)
            m = result.metrics
            pixel = f", pixel AUC {m.pixel_auc:.4f}" if m.pixel_auc is not None else ""
            log.info("%s AUC %.4f%s (%.1f s training, %.0f img/s)", label, m.auc, pixel, m.train_seconds,
                     m.images_per_second)  # fmt: skip
            store.append(
                make_record(
                    trial, spec, out, runner=self.name, metrics=m, error=None, attempt_seconds=seconds, started=started
                )
            )
            progress.trial_finished(trial, ok=True)
            return
