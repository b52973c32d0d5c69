"""Pre-flight of what lies outside the plan's files: the cluster address, the study storage, the store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers import free_port
from tune.preflight import check_address, check_storage_url
from tune.store import ResultsStore


def test_dead_address_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"no Ray cluster answers there \(Connection refused"):
        check_address(f"127.0.0.1:{free_port()}", timeout=2)
    assert time.monotonic() - started < 3
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        check_address("nowhere")
    for fine in (None, "auto", "local"):
        check_address(fine)


def test_storage_urls(tmp_path: Path) -> None:
    check_storage_url(f"sqlite:///{tmp_path / 'study.db'}")
    assert not (tmp_path / "study.db").exists()  # checked, not created
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_storage_url(f"sqlite:///{tmp_path / 'no' / 'study.db'}")
    with pytest.raises(ValueError, match="unknown database kind 'bogus'"):
        check_storage_url("bogus://x")
    with pytest.raises(ValueError, match="is not a database URL"):
        check_storage_url("bogus")
    with pytest.raises(ValueError, match="cannot reach the study database postgresql://u:\\*\\*\\*@127.0.0.1"):
        check_storage_url(f"postgresql://u:secret@127.0.0.1:{free_port()}/db")


def test_store_that_parses_nothing_is_refused(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.check_parses()  # no file: nothing to refuse
    store.path.write_text('{"trial_id": "a", "status": "ok"}\n{"torn')
    store.check_parses()  # a torn last line after good rows is normal
    store.path.write_text('{"trial_id": "a", "sta')
    with pytest.raises(ValueError, match="holds no readable trial row"):
        store.check_parses()
