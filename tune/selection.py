"""Can I trust what the search picked? Every search trial's validation AUC beside its test AUC.

Run by ``fcdd tune`` once the search is over (nothing here feeds back into the search): a trial
that ran to its end has the test AUC its run measured at the end (the searcher only ever saw its
validation AUC); a trial the scheduler stopped early is scored on the test split from its last
checkpoint (:func:`fcdd.runner.evaluate_snapshot`). The table is written to
``<out>/search/val_vs_test.csv``; the report correlates the two columns per class.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from fcdd.config import RunConfig
from fcdd.progress import progress_bar
from fcdd.runner import evaluate_snapshot
from tune.outdir import VAL_VS_TEST_FILE
from tune.store import ResultsStore

log = logging.getLogger(__name__)

COLUMNS = (
    "trial_id", "normal_class", "status", "epochs", "val_auc", "test_auc", "test_from",
    "validation_anomalies",  # the choice (--validation-anomalies)
    "validation_source",  # what it resolved to, as the run reported it (trials that ran to their end)
)  # fmt: skip


def val_vs_test(search_dir: Path) -> pd.DataFrame:
    """The table (columns :data:`COLUMNS`) of every ok or pruned search trial, written beside its store."""
    records = []
    rows = [r for r in ResultsStore(search_dir).records() if r.status in ("ok", "pruned")]
    for record in progress_bar(rows, desc="test AUC of the search trials", unit="trial"):
        config = RunConfig.from_flat(record.config)
        metrics = record.metrics
        entry = {
            "trial_id": record.trial_id,
            "normal_class": record.normal_class,
            "status": record.status,
            "validation_anomalies": config.data.validation_anomalies,
        }
        if metrics is not None and metrics.val_auc is not None:
            entry.update(epochs=metrics.epochs, val_auc=metrics.val_auc, test_auc=metrics.auc)
            entry["test_from"] = "its run's end"
            entry["validation_source"] = metrics.validation_anomalies
        else:
            run_dir = Path(record.run_dir)
            if not (run_dir / "snapshot.pt").is_file():
                log.warning("search trial %s: no snapshot.pt in %s; not in val_vs_test", record.trial_id, run_dir)
                continue
            scores = evaluate_snapshot(config, run_dir)
            entry.update(epochs=scores.epochs, val_auc=scores.val_auc, test_auc=scores.test_auc,
                         test_from="its last checkpoint, after the search")  # fmt: skip
        records.append(entry)
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    frame.to_csv(search_dir / VAL_VS_TEST_FILE, index=False, float_format="%.6f")
    return frame
