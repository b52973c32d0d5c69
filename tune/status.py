"""What is running now? The state of a benchmark or search folder, from its files alone.

``read_status(folder)`` combines the plan (``benchmark.json``: which trial is which class), the
results store (``trials.jsonl``: what finished, ok or failed) and the driver's live file
(``progress.json``: which trials run where, at which epoch and attempt, and the driver's process).
It works on a finished, running or crashed folder, and on a ``fcdd tune`` folder (its search, then
its best-setting reruns). ``format_status`` renders it as the table ``fcdd status`` prints.

The driver counts as running while its process is alive (same host), or while ``progress.json``
was rewritten recently (another host, e.g. the head node of a cluster).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tune.outdir import PLAN_FILE, PROGRESS_FILE, SEARCH_FILE, STORE_FILE

# A driver on another host that has not rewritten progress.json for this long is taken as gone.
STALE_SECONDS = 15 * 60


@dataclass(frozen=True)
class ClassStatus:
    normal_class: int
    class_name: str
    planned: int | None  # None when the folder holds no plan (a search)
    ok: int
    failed: int
    running: int


@dataclass(frozen=True)
class RunningTrial:
    trial_id: str
    setting: str
    normal_class: int
    seed: int
    node: str
    epoch: int
    epochs: int | None
    attempt: int
    elapsed_seconds: float | None


@dataclass(frozen=True)
class Status:
    folder: Path
    name: str
    state: str  # "finished", "running", "stopped" (driver gone before the end), "not started"
    classes: list[ClassStatus]
    running: list[RunningTrial]
    total: int | None
    done: int
    failed: int
    eta_seconds: float | None
    updated_seconds_ago: float | None
    driver: str
    parts: list[Status] = field(default_factory=list)  # a search folder: its search and best reruns
    pruned: int = 0  # of ``done``: search trials the scheduler stopped early
    driver_alive: bool = False


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _store_rows(folder: Path) -> list[dict[str, Any]]:
    """The latest row per trial; torn lines skipped (a crashed driver may leave one)."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        text = (folder / STORE_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("trial_id"), str):
            latest[row["trial_id"]] = row
    return list(latest.values())


def _age(stamp: Any, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(str(stamp))).total_seconds()
    except ValueError:
        return None


def _driver_alive(progress: dict[str, Any], age: float | None) -> tuple[bool, str]:
    driver = progress.get("driver") or {}
    pid, host = driver.get("pid"), driver.get("host")
    if isinstance(pid, int) and pid > 0 and host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False, f"pid {pid} on this host (gone)"
        except PermissionError:
            pass  # alive, another user's
        return True, f"pid {pid} on this host"
    where = f"pid {pid} on {host}" if host else "unknown driver"
    return age is not None and age < STALE_SECONDS, where


def read_status(folder: str | Path, now: datetime | None = None) -> Status:
    """The status of a results folder (``fcdd train`` / ``benchmark`` / ``tune``); see the module docstring."""
    folder = Path(folder)
    now = now or datetime.now(UTC)
    if (folder / "search").is_dir() or (folder / SEARCH_FILE).is_file():
        return _tune_status(folder, now)
    plan = _read(folder / PLAN_FILE) or {}
    progress = _read(folder / PROGRESS_FILE) or {}
    planned: dict[str, dict[str, Any]] = plan.get("trials") or {}
    totals = _totals(plan, planned, progress)
    age = _age(progress.get("updated_at"), now) if progress else None
    alive, driver = _driver_alive(progress, age) if progress else (False, "")
    live = list(progress.get("running") or []) if alive else []
    stored = _store_rows(folder)
    # A trial that failed before and runs again (a resumed plan) counts as running, not failed.
    rows = [r for r in stored if r["trial_id"] not in {e.get("trial_id") for e in live}]
    running = [_running_trial(entry, now) for entry in live]
    total = len(planned) if planned else (sum(int(n) for n in totals.values()) if totals else None)
    failed = sum(r.get("status") == "failed" for r in rows)
    done = len(rows) - failed
    pruned = sum(r.get("status") == "pruned" for r in rows)
    if total is not None and done + failed >= total and not running:
        state = "finished"
    elif alive:
        state = "running"
    else:
        state = "stopped" if rows or progress else "not started"
    eta = progress.get("eta_seconds") if state == "running" else None
    if eta is not None and age is not None:
        eta = max(float(eta) - age, 0.0)
    classes = _classes(planned, totals, stored, rows, live)
    name = str(plan.get("name") or progress.get("benchmark") or folder.name)
    return Status(
        folder, name, state, classes, running, total, done, failed, eta, age, driver, pruned=pruned, driver_alive=alive
    )


def _tune_status(folder: Path, now: datetime) -> Status:
    """A ``fcdd tune`` folder: its search, then its best-setting reruns, as two parts."""
    parts = [read_status(folder / "search", now)]
    if (folder / "best").is_dir():
        parts.append(read_status(folder / "best", now))
    states = [p.state for p in parts]
    complete = len(parts) == 2 and states == ["finished", "finished"]
    # Between the search and its reruns (scoring the search trials), the driver lives on.
    if "running" in states or (not complete and any(p.driver_alive for p in parts)):
        state = "running"
    elif complete:
        state = "finished"
    elif states == ["not started"]:
        state = "not started"
    else:
        state = "stopped"
    name = str((_read(folder / SEARCH_FILE) or {}).get("name") or folder.name)
    return Status(folder, name, state, [], [], None, 0, 0, None, None, "", parts)


def _totals(plan: dict[str, Any], planned: dict[str, Any], progress: dict[str, Any]) -> dict[Any, Any]:
    """Trials per class where the plan does not name its trials; {} where it does."""
    if planned:
        return {}
    if plan.get("classes"):  # a plan written before plans named their trials
        per_class = len(plan.get("seeds") or []) * max(len(plan.get("settings") or {}), 1)
        return {c: per_class for c in plan["classes"]}
    return progress.get("totals") or {}  # no plan: a search's own folder


def _running_trial(entry: dict[str, Any], now: datetime) -> RunningTrial:
    return RunningTrial(
        trial_id=str(entry["trial_id"]),
        setting=str(entry.get("setting")),
        normal_class=int(entry["normal_class"]),
        seed=int(entry["seed"]),
        node=str(entry.get("node_id") or "local"),
        epoch=int(entry.get("epoch") or 0),
        epochs=entry.get("epochs"),
        attempt=int(entry.get("attempt") or 1),
        elapsed_seconds=_age(entry.get("started_at"), now),
    )


def _classes(
    planned: dict[str, dict[str, Any]],
    totals: dict[Any, Any],
    stored: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    live: list[dict[str, Any]],
) -> list[ClassStatus]:
    """Planned, ok, failed and running trials per class; ``rows`` are the stored rows not running again."""
    by_class: dict[int, dict[str, int]] = {}

    def entry(cls: Any) -> dict[str, int]:
        return by_class.setdefault(int(cls), {"planned": 0, "ok": 0, "failed": 0, "running": 0})

    for trial in planned.values():
        entry(trial["normal_class"])["planned"] += 1
    for cls, n in totals.items():
        entry(cls)["planned"] = int(n)
    for row in rows:
        if row.get("normal_class") is not None:
            # A search trial its scheduler stopped early ("pruned") ended as planned: it counts as ok.
            entry(row["normal_class"])["failed" if row.get("status") == "failed" else "ok"] += 1
    for running in live:
        entry(running["normal_class"])["running"] += 1
    names = {int(t["normal_class"]): str(t.get("class_name") or "") for t in planned.values()}
    names.update({int(r["normal_class"]): str(r["class_name"]) for r in stored if r.get("class_name")})
    has_plan = bool(planned) or bool(totals)
    return [
        ClassStatus(c, names.get(c, ""), e["planned"] if has_plan else None, e["ok"], e["failed"], e["running"])
        for c, e in sorted(by_class.items())
    ]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return [line, *body]


def format_status(status: Status, title: str | None = None) -> str:
    """The printable table of :func:`read_status`'s result."""
    if status.parts:
        blocks = [f"{status.folder}: fcdd tune {status.name}, {status.state}"]
        for part, label in zip(status.parts, ("search (validation split)", "best setting (test split)"), strict=False):
            blocks.append(format_status(part, label))
        return "\n\n".join(blocks)
    head = f"{title or status.folder}: {status.name}, {status.state}"
    total = "?" if status.total is None else str(status.total)
    stopped = f" ({status.pruned} stopped early)" if status.pruned else ""
    head += f" — {status.done}/{total} ok{stopped}, {status.failed} failed"
    if status.state == "running":
        head += f", {len(status.running)} running, ETA {_duration(status.eta_seconds)}"
    if status.updated_seconds_ago is not None:
        head += f"; progress.json updated {_duration(status.updated_seconds_ago)} ago ({status.driver})"
    lines = [head]
    if status.state == "stopped":
        lines.append("the driver is gone before the plan finished: rerun the same command to resume")
    if status.classes:
        rows = []
        for c in status.classes:
            planned = "?" if c.planned is None else str(c.planned)
            left = "" if c.planned is None else str(max(c.planned - c.ok - c.failed - c.running, 0))
            rows.append([str(c.normal_class), c.class_name, planned, str(c.ok), str(c.running), str(c.failed), left])
        lines += ["", *_table(["class", "name", "planned", "ok", "running", "failed", "left"], rows)]
    if status.running:
        rows = [
            [t.trial_id, t.setting, str(t.normal_class), str(t.seed), t.node,
             f"{t.epoch}/{t.epochs if t.epochs is not None else '?'}", str(t.attempt), _duration(t.elapsed_seconds)]
            for t in status.running
        ]  # fmt: skip
        lines += ["", *_table(["running trial", "setting", "class", "seed", "node", "epoch", "attempt", "elapsed"],
                              rows)]  # fmt: skip
    return "\n".join(lines)
