"""What every report section is given: :class:`ReportContext`, and the writer that records its files.

A section is a function ``section(ctx) -> Section | None`` (:data:`ReportSection`): it reads the
results from the context, writes its figures and tables through ``ctx.files`` (which records each
under a role, so the caller learns what was written without a dict kept by hand) and returns its
blocks, or None when it has nothing to show. Notes for the reader (a run folder that is gone, a
plan note) go to ``ctx.note``; the report lists them under the run facts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from fcdd.artifacts import write_bytes, write_text
from fcdd.paper import PaperTable
from tune.report import figures
from tune.report.html import Section


@dataclass(frozen=True)
class ReportFiles:
    """Writes files into the report folder and records each under its role (``roc_by_class:<setting>``, ...)."""

    folder: Path
    _written: dict[str, Path] = field(default_factory=dict, repr=False)

    def figure(self, role: str, name: str, figure: Figure) -> Path:
        """Render ``figure`` (:mod:`tune.report.figures`) to the PNG ``folder/name``, atomically."""
        return self._record(role, write_bytes(self.folder / name, figures.png(figure)))

    def png(self, role: str, name: str, png: bytes) -> Path:
        """Write PNG bytes already rendered (one figure saved under two names) to ``folder/name``."""
        return self._record(role, write_bytes(self.folder / name, png))

    def copy(self, role: str, name: str, source: Path) -> Path:
        """Put a run's picture at ``folder/name``: the report folder holds everything it shows.

        A hard link where the file system allows one (no second copy of 1,000 pictures on disk, and
        nothing to do when the report is rebuilt), else a copy. Either way the report folder can be
        zipped or moved on its own: a link is a file like any other.
        """
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and os.path.samefile(target, source):
            return self._record(role, target)
        staged = target.with_name(f".{target.name}.link")
        try:
            staged.unlink(missing_ok=True)
            os.link(source, staged)
            os.replace(staged, target)  # atomic, like every other file of the report
        except OSError:  # another file system, or no links allowed
            staged.unlink(missing_ok=True)
            write_bytes(target, source.read_bytes())
        return self._record(role, target)

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
    gallery_seeds: int | None = None  # heatmaps per class on the first page (None: the gallery's default rule)
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
