"""Where the Optuna study lives: clear errors for a missing driver or an unreachable database."""

from __future__ import annotations

import optuna
import pytest

from tests.helpers import free_port
from tune.experiment import open_study
from tune.preflight import redacted


def test_password_never_reaches_messages():
    assert redacted("postgresql://fcdd:s3cret@db.internal:5432/studies") == (
        "postgresql://fcdd:***@db.internal:5432/studies"
    )
    assert redacted("sqlite:////tmp/study.db") == "sqlite:////tmp/study.db"


def test_missing_database_driver_is_one_clear_error():
    with pytest.raises(ValueError, match=r"needs a database driver .*pip install 'fcdd\[postgres\]'") as error:
        open_study("s", "postgresql+pg8000://fcdd:s3cret@127.0.0.1/studies")
    assert "s3cret" not in str(error.value)


def test_unreachable_database_is_one_clear_error():
    url = f"postgresql://fcdd:s3cret@127.0.0.1:{free_port()}/studies"
    with pytest.raises(ValueError, match=r"cannot reach the study database .*start it or fix --storage") as error:
        open_study("s", url)
    assert "s3cret" not in str(error.value) and "\n" not in str(error.value)


def test_sqlite_study_is_created_then_loaded(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    open_study("s", url).add_trial(optuna.trial.create_trial(value=0.5))
    assert [t.value for t in open_study("s", url).trials] == [0.5]
