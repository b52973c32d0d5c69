"""Progress bars: shown per call, and never when the process is quiet (TQDM_DISABLE), whatever a call asks."""

from __future__ import annotations

import pytest

from fcdd.progress import progress_bar, quiet


@pytest.mark.parametrize(("value", "is_quiet"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_quiet_reads_tqdm_disable(monkeypatch: pytest.MonkeyPatch, value: str | None, is_quiet: bool) -> None:
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    assert quiet() is is_quiet


def test_a_bar_shows_only_when_asked_and_not_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with progress_bar(range(3), show=True) as shown, progress_bar(range(3), show=False) as hidden:
        assert not shown.disable and hidden.disable
        assert list(hidden) == [0, 1, 2]  # a hidden bar still iterates
    monkeypatch.setenv("TQDM_DISABLE", "1")
    with progress_bar(range(3), show=True) as bar:
        assert bar.disable
