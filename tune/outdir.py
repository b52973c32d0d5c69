"""The results folder: can it be written, does it hold this plan, and replacing it only by a finished one.

Every experiment command checks its ``--out`` here before anything is created: a file, an
unwritable or read-only location, a folder of another plan or no results folder at all is a
one-line error, and the existing folder stays byte-identical. ``--restart`` works in a staging
folder next to ``--out`` and swaps it in only when the whole plan has finished, so an
interrupted or failing restart leaves the old results as they were.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fcdd.config import EXECUTION_KEYS, RunConfig

PLAN_FILE = "benchmark.json"  # what `fcdd train` / `benchmark` planned in a folder
SUITE_FILE = "suite.json"  # a suite's folder: its benchmarks (each in <out>/<name>) and those it found no data for
SEARCH_FILE = "search.json"  # what `fcdd tune` planned in a folder
STORE_FILE = "trials.jsonl"  # the results store (tune.store)
PROGRESS_FILE = "progress.json"  # the driver's live view (tune.progress_file)
ARTIFACTS_DIR = "artifacts"  # a search's Optuna artifact store (heatmap grids), beside its study.db
PARETO_FILE = "pareto.csv"  # a two-objective search's completed trials: values, on the front, picked
VAL_VS_TEST_FILE = "val_vs_test.csv"  # a search's trials: validation AUC beside test AUC (tune.selection)
# Files a results folder may hold before its plan file exists (a run stopped during the first write).
_RESULT_NAMES = (
    PLAN_FILE, SUITE_FILE, SEARCH_FILE, STORE_FILE, "runs", "report", "study.db", "best", "search", ARTIFACTS_DIR,
)  # fmt: skip


def read_json(path: Path, what: str) -> dict[str, Any] | None:
    """A JSON mapping this package wrote, or None if absent; a damaged one is a one-line error."""
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{what} {path} cannot be read ({type(error).__name__}); pass --restart to replace the folder, "
            "or another --out"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} {path} is not a mapping; pass --restart to replace the folder, or another --out")
    return value


def plan_identity(base_config: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """What must match for a rerun to continue a folder: every setting but how trials execute.

    Classes and seeds may differ (a rerun with more of them extends the folder); a changed
    epoch count, learning rate or dataset is another plan.
    """
    flat = RunConfig.from_dict(base_config).to_flat()
    return {
        "base": {k: v for k, v in sorted(flat.items()) if k not in EXECUTION_KEYS},
        "settings": json.loads(json.dumps(settings, sort_keys=True)),
    }


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable keys that differ between two plan identities (first few)."""
    keys = []
    for key in sorted(set(old["base"]) | set(new["base"])):
        if old["base"].get(key) != new["base"].get(key):
            keys.append(f"{key} {old['base'].get(key)!r} → {new['base'].get(key)!r}")
    if old["settings"] != new["settings"]:
        keys.append(f"settings {sorted(old['settings'])} → {sorted(new['settings'])}")
    return keys


def check_same_plan(out: Path, plan_file: str, identity: dict[str, Any], what: str) -> dict[str, Any] | None:
    """The folder's recorded plan, refused when it is another plan; None for a new or empty folder.

    A non-empty folder without a plan file is not a results folder and is refused too: results
    are never written into a folder that holds something else.
    """
    if not out.is_dir() or not any(out.iterdir()):
        return None
    recorded = read_json(out / plan_file, "the plan file")
    if recorded is None:
        held = sorted(p.name for p in out.iterdir())
        if any(name in _RESULT_NAMES for name in held):
            kind = "a `fcdd tune` folder" if plan_file == PLAN_FILE and (out / SEARCH_FILE).exists() else "results"
            raise ValueError(
                f"--out {out} holds {kind} of another kind than {what} (no {plan_file}); pass another --out"
            )
        raise ValueError(
            f"--out {out} is not empty and holds no fcdd results ({', '.join(held[:3])}...); pass a new or empty --out"
        )
    try:
        old = plan_identity(recorded["base_config"], recorded.get("settings") or {})
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"the plan file {out / plan_file} is damaged; pass --restart to replace the folder, or another --out"
        ) from None
    changed = differences(old, identity)
    if changed:
        raise ValueError(
            f"--out {out} holds another plan ({'; '.join(changed[:3])}); pass --restart to replace it, "
            "or another --out to keep both"
        )
    return recorded


def staging_dir(out: Path) -> Path:
    """Where ``--restart`` builds the new results before they replace ``out``."""
    return out.parent / f".{out.name}.restart"


@contextmanager
def replaced_when_done(out: Path) -> Iterator[Path]:
    """Yield a fresh staging folder; when the block finishes, it replaces ``out`` (kept as is otherwise).

    A restart that fails or is interrupted removes its staging folder: rerunning it starts over.
    """
    staging = staging_dir(out)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:  # interrupted or failed: the old results stay, the half-done restart goes
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, out)


def swap_in(staging: Path, out: Path) -> None:
    """Put the finished ``staging`` folder at ``out``; the old folder is removed only once the new one is in place."""
    rewrite_paths(staging, out)
    old = out.parent / f".{out.name}.replaced"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    if old.exists():
        shutil.rmtree(old)


def rewrite_paths(staging: Path, out: Path) -> None:
    """Run folders recorded under the staging path, recorded at their final place instead."""
    from fcdd.artifacts import write_text

    before, after = json.dumps(str(staging))[1:-1], json.dumps(str(out))[1:-1]  # as JSON strings hold them
    for store in staging.rglob("trials.jsonl"):
        text = store.read_text(encoding="utf-8")
        if before in text:
            write_text(store, text.replace(before, after))
