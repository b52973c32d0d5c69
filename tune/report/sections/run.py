"""The report section "Run": what was run, when, with which versions, and every failed trial's error."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from tune.outdir import PLAN_FILE
from tune.report.context import ReportContext
from tune.report.html import Block, Bullets, Details, Link, Paragraph, Section, Table
from tune.report.sections.cells import last_line

INLINE_ERRORS = 20  # full error messages on the page; all of them go to failed_trials.txt beyond that


def run_section(ctx: ReportContext) -> Section:
    """The run's facts and its failed trials; notes on planned classes without trials go to ``ctx.note``."""
    table = ctx.table
    failed = table[table["status"] != "ok"]
    for note in _plan(ctx.results_dir).get("notes") or []:
        ctx.note(str(note))
    _note_missing_classes(ctx)
    blocks: list[Block] = [Bullets(_facts(ctx))]
    if len(failed):
        blocks += _failures(ctx, failed)
    return Section("Run", blocks)


def _facts(ctx: ReportContext) -> list[str]:
    table = ctx.table
    ok, failed = table[table["status"] == "ok"], table[table["status"] != "ok"]
    versions = []
    for key in ("fcdd_version", "torch_version", "ray_version"):
        values = sorted({str(v) for v in table[key].dropna()})
        if values:
            versions.append(f"{key.removesuffix('_version')} {', '.join(values)}")
    facts = [
        f"results folder: {ctx.results_dir.resolve()}",
        f"report generated {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"trials: {len(table)} ({len(ok)} ok, {len(failed)} failed) over {len(ctx.ranked)} setting(s), "
        f"{table['normal_class'].nunique()} class(es), {table['seed'].nunique()} seed(s)",
        f"datasets: {', '.join(sorted({str(d) for d in table['dataset'].dropna()})) or '—'}",
    ]
    if versions:
        facts.append("versions: " + "; ".join(versions))
    if table["started_at"].notna().any():
        facts.append(f"first trial started {table['started_at'].dropna().min()}, "
                     f"last finished {table['finished_at'].dropna().max()}")  # fmt: skip
    return facts


def _note_missing_classes(ctx: ReportContext) -> None:
    planned = _planned_classes(ctx.results_dir)
    for setting in ctx.ranked if planned else ():
        present = set(ctx.table.loc[ctx.table["setting"] == setting, "normal_class"].dropna().astype(int))
        missing = [c for c in planned or () if c not in present]
        if missing:
            ctx.note(f"setting {setting}: no trials yet for planned classes {missing}")


def _failures(ctx: ReportContext, failed: pd.DataFrame) -> list[Block]:
    """Up to :data:`INLINE_ERRORS` failed trials: a row each with its error's last line, and every full
    message. More: a row per distinct error (how many trials, which settings and classes), the first
    messages, and every one in ``failed_trials.txt``, so the page stays short at any scale.
    """
    ordered = failed.sort_values(["setting", "normal_class", "seed"])
    reasons = [last_line(e) for e in ordered["error"]]
    messages = [f"[{r.trial_id}] setting {r.setting}, class {r.normal_class}, seed {r.seed}, {r.attempts} attempt(s)"
                f"\n{r.error}" for r in ordered.itertuples()]  # fmt: skip
    if len(messages) <= INLINE_ERRORS:
        rows = [[r.trial_id, str(r.setting), str(r.normal_class), str(r.seed), str(r.attempts), reason]
                for r, reason in zip(ordered.itertuples(), reasons, strict=True)]  # fmt: skip
        return [
            Paragraph("Failed trials (last line of the error):"),
            Table(["trial", "setting", "class", "seed", "attempts", "error"], rows),
            Details("full error messages", "\n\n".join(messages)),
        ]
    ctx.files.text("failed_trials", "failed_trials.txt", "\n\n".join(messages) + "\n")
    grouped = ordered.assign(reason=reasons).groupby("reason", sort=False)
    rows = [[reason, str(len(group)), ", ".join(sorted({str(s) for s in group["setting"]})),
             ", ".join(str(c) for c in sorted(set(group["normal_class"])))]
            for reason, group in sorted(grouped, key=lambda item: -len(item[1]))]  # fmt: skip
    return [
        Paragraph(f"{len(messages)} failed trials, by the last line of their error:"),
        Table(["error", "trials", "settings", "classes"], rows),
        Details(
            f"full error messages (the first {INLINE_ERRORS} of {len(messages)})", "\n\n".join(messages[:INLINE_ERRORS])
        ),  # fmt: skip
        Link(f"every failed trial and its full error ({len(messages)})", "failed_trials.txt"),
    ]


def _plan(results_dir: Path) -> dict[str, Any]:
    """The plan in ``benchmark.json`` ({} without one)."""
    try:
        plan = json.loads((results_dir / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return plan if isinstance(plan, dict) else {}


def _planned_classes(results_dir: Path) -> list[int] | None:
    """The classes the plan names (None without a plan)."""
    try:
        return [int(c) for c in _plan(results_dir)["classes"]]
    except (KeyError, TypeError, ValueError):
        return None
