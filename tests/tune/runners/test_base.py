"""What every runner shares: a trial's outcome as its record, the error line, times and versions."""

from __future__ import annotations

from datetime import datetime
from importlib import metadata
from pathlib import Path

from tests.helpers import run_metrics
from tune.plan import expand
from tune.runners.base import error_line, iso, make_record, versions
from tune.spec_file import spec_from_dict

SPEC = spec_from_dict({"preset": "fmnist", "name": "b", "classes": [3], "seeds": 1}, n_classes=10)
TRIAL = expand(SPEC)[0]


def test_an_ok_trial_records_its_metrics_and_where_it_ran(tmp_path: Path) -> None:
    metrics = run_metrics(auc=0.75)
    rec = make_record(TRIAL, SPEC, tmp_path, runner="serial", metrics=metrics, error=None, attempt_seconds=[1.5, 2.0],
                      started=0.0, node="n1")  # fmt: skip
    assert (rec.status, rec.error, rec.metrics, rec.attempts, rec.trial_seconds) == ("ok", None, metrics, 2, 3.5)
    assert (rec.benchmark, rec.normal_class, rec.class_name, rec.dataset) == ("b", 3, SPEC.class_name(3), "fmnist")
    assert rec.run_dir == str(TRIAL.run_dir(tmp_path)) and rec.config == TRIAL.config
    assert (rec.node, rec.started_at, rec.cpus) == ("n1", "1970-01-01T00:00:00+00:00", SPEC.resources.cpus_per_trial)


def test_a_failed_trial_keeps_its_error_and_never_metrics(tmp_path: Path) -> None:
    failed = make_record(TRIAL, SPEC, tmp_path, runner="ray", metrics=None, error="ValueError: boom",
                         attempt_seconds=[1.0], started=None)  # fmt: skip
    assert (failed.status, failed.error, failed.metrics, failed.started_at) == (
        "failed",
        "ValueError: boom",
        None,
        None,
    )
    unknown = make_record(TRIAL, SPEC, tmp_path, runner="ray", metrics=None, error=None, attempt_seconds=[],
                          started=None, status="pruned")  # fmt: skip
    assert (unknown.status, unknown.error, unknown.attempts) == ("pruned", "unknown error", 0)


def test_error_line_is_the_type_and_the_first_line() -> None:
    assert error_line(ValueError("bad lr\nTraceback ...")) == "ValueError: bad lr"
    assert error_line(KeyError()) == "KeyError"


def test_iso_times_and_installed_versions() -> None:
    assert iso(None) is None and datetime.fromisoformat(iso(86400.5) or "").timestamp() == 86400.5
    assert versions()["torch_version"] == metadata.version("torch")
    assert set(versions()) == {"fcdd_version", "torch_version", "ray_version"}
