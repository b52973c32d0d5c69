"""What every report section is given: :class:`ReportContext`, and the writer that records its files.

A section is a function ``section(ctx) -> Section | None`` (:data:`ReportSection`): it reads the
results from the context, writes its figures and tables through ``ctx.files`` (which records each
under a role, so the caller learns what was written without a dict kept by hand) and returns its
blocks, or None when it has nothing to show. Notes for the reader (a run folder that is gone, a
plan note) go to ``ctx.note``; the report lists them under the run facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fcdd.artifacts import write_bytes, write_text
from fcdd.paper import PaperTable
from tune.report.html import Section


@dataclass(frozen=True)
class ReportFiles:
    """Writes files into the report folder and records each under its role (``roc_by_class:<setting>``, ...)."""

    folder: Path
    _written: dict[str, Path] = field(default_factory=dict, repr=False)

    def figure(self, role: str, name: str, png: bytes) -> Path:
        """Write a PNG (drawn, or a run's picture copied) to ``folder/name``, atomically."""
        return self._record(role, write_bytes(self.folder / name, png))

    def text(self, role: str, name: str, text: str) -> Path:
        """Write ``text`` to ``folder/name``, atomically."""
        return self._record(role, write_text(self.folder / name, text))

    def csv(self, role: str, name: str, frame: pd.DataFrame) -> Path:
        """Write ``frame`` as CSV without its index, floats to six decimals."""
        return self.text(role, name, frame.to_csv(index=False, float_format="%.6f"))

    @property
    def written(self) -> dict[str, Path]:
        """Every file written so far, by role (a copy)."""
        return dict(self._written)

    def _record(self, role: str, path: Path) -> Path:
        self._written[role] = path
        return path


@dataclass(frozen=True)
class ReportContext:
    """The results a report is built from, its folder and options; one per :func:`build_report` call."""

    results_dir: Path
    table: pd.DataFrame  # the store's table: one row per trial (tune.store.ResultsStore.table)
    summary: pd.DataFrame  # tune.collect.summary_by_class, with the paper's values when given
    cost: pd.DataFrame  # tune.collect.cost_by_class
    ranked: list[Any]  # every setting, the highest overall AUC first
    files: ReportFiles
    paper: Sequence[PaperTable] | None = None
    study: Any = None  # an optuna.Study: the search sections
    max_settings: int = 6  # settings that get their own tables and ROC figures
    gallery_seeds: int | None = None  # the lowest that many seeds per class in the gallery (None: all)
    notes: list[str] = field(default_factory=list)

    @property
    def out(self) -> Path:
        """The report folder."""
        return self.files.folder

    @property
    def shown(self) -> list[Any]:
        """The best ``max_settings`` settings: the ones with their own tables and figures."""
        return self.ranked[: self.max_settings]

    def note(self, text: str) -> None:
        """A line for the reader, listed under the run facts."""
        self.notes.append(text)

    def run_folder(self, run_dir: Any) -> Path | None:
        """A trial's run folder, also when the results folder was copied elsewhere after the run."""
        if not isinstance(run_dir, str) or not run_dir:
            return None
        path = Path(run_dir)
        if path.is_dir():
            return path
        parts = path.parts[1:] if path.is_absolute() else path.parts
        for start in range(len(parts)):  # longest trailing part of the recorded path first
            candidate = self.results_dir.joinpath(*parts[start:])
            if candidate.is_dir():
                return candidate
        return None


ReportSection = Callable[[ReportContext], Section | None]
