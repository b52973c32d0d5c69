"""Drivers of `fcdd benchmark` and `fcdd tune`: plan, skip finished work, run on Ray, collect, report.

Ray is imported only through :mod:`tune.ray_backend`, and only once there is something to run.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from fcdd import outputs
from fcdd.data import dataset_classes
from fcdd.presets import PAPER_AUC
from tune.plan import TrialSpec, expand, format_plan
from tune.spec import BenchmarkSpec, with_changes
from tune.store import ResultsStore

log = logging.getLogger(__name__)

DRY_RUN_LIMITS = {"optim.epochs": 1, "data.train_limit": 512, "data.test_limit": 1000, "heatmap.n_samples": 8}


def dry_run(spec: BenchmarkSpec) -> BenchmarkSpec:
    """The same benchmark at a tiny budget: 2 classes, 1 seed, 1 epoch, a data subset."""
    return with_changes(
        spec,
        base=spec.base.replace(**DRY_RUN_LIMITS),
        classes=spec.classes[:2],
        seeds=spec.seeds[:1],
        search=dataclasses.replace(spec.search, trials=min(spec.search.trials, 4)),
    )


def class_names(spec: BenchmarkSpec) -> tuple[str, ...]:
    """The dataset's class names."""
    data = spec.base.data
    return dataset_classes(data.dataset, data.data_dir, one_vs_rest=data.one_vs_rest)


def _write_spec(out: Path, spec: BenchmarkSpec, trials: list[TrialSpec]) -> None:
    outputs.write_json(
        out / "benchmark.json",
        {
            "name": spec.name,
            "classes": list(spec.classes),
            "seeds": list(spec.seeds),
            "settings": {name: dict(overrides) for name, overrides in spec.settings},
            "resources": dataclasses.asdict(spec.resources),
            "max_failures": spec.max_failures,
            "base_config": spec.base.to_dict(),
            "trial_ids": [t.trial_id for t in trials],
        },
    )


def run_benchmark(
    spec: BenchmarkSpec,
    out: str | Path,
    *,
    address: str | None = None,
    plan_only: bool = False,
    check_resources: bool = True,
    report: bool = True,
    remote_storage: str | None = None,
) -> dict[str, Any]:
    """Run every trial of ``spec`` not yet finished in ``out``; return counts and the report files.

    Rerunning with the same ``out`` resumes: trials whose id has an "ok" row in the results store
    are skipped, interrupted ones continue from their last epoch checkpoint. With
    ``remote_storage`` (an object-store URI) the run folders live there instead of a shared
    folder; the driver copies finished ones into ``out`` for the report.
    """
    out = Path(out).expanduser().resolve()
    trials = expand(spec)
    store = ResultsStore(out)
    done = store.finished_ids() if (out / "trials.jsonl").exists() else set()
    if plan_only:
        print(format_plan(spec, trials, done))
        return {"trials": len(trials), "done": len(done & {t.trial_id for t in trials}), "ran": 0}
    todo = [t for t in trials if t.trial_id not in done]
    names = class_names(spec)
    remote = None
    if remote_storage:
        from tune.remote import check_storage

        remote = check_storage(remote_storage)  # a bad URI fails before Ray starts
    if todo:
        from tune import ray_backend

        ray_backend.connect(address, num_cpus=None)
        if check_resources:
            ray_backend.preflight(spec.resources)
        out.mkdir(parents=True, exist_ok=True)
        _write_spec(out, spec, trials)
        if done:
            log.info("resuming %s: %d of %d trials already finished", out, len(trials) - len(todo), len(trials))
        ray_backend.run_benchmark_trials(
            todo,
            out,
            benchmark=spec.name,
            resources=spec.resources,
            max_failures=spec.max_failures,
            class_names=names,
            storage=remote_storage,
        )
    else:
        log.info("all %d trials of %s already finished", len(trials), out)
    files: dict[str, Path] = {}
    if (out / "trials.jsonl").exists():
        store.write_tables()
        if report:
            from tune.report import build_report

            files = build_report(out, paper_auc=PAPER_AUC, title=f"fcdd benchmark {spec.name}")
        if remote is not None:
            remote.push_results(out)
    ids = {t.trial_id for t in trials}
    rows = [r for r in store.rows() if r["trial_id"] in ids] if (out / "trials.jsonl").exists() else []
    return {
        "trials": len(trials),
        "ran": len(todo),
        "ok": sum(r["status"] == "ok" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "report": files,
        "out": out,
    }


def _study_storage_url(spec: BenchmarkSpec, out: Path) -> str:
    return spec.search.storage or f"sqlite:///{out / 'study.db'}"


def _redacted(url: str) -> str:
    """The storage URL without its password, for messages and files."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL: Optuna will say so itself
        return url


def open_study(name: str, url: str) -> Any:
    """Create or load the study ``name``; a missing driver or an unreachable server is one clear error."""
    import optuna
    import sqlalchemy.exc

    try:
        return optuna.create_study(study_name=name, storage=url, direction="maximize", load_if_exists=True)
    except ImportError as error:
        raise ValueError(
            f"the study storage {_redacted(url)} needs a database driver that is not installed "
            f"(pip install 'fcdd[postgres]' for postgresql://): {error}"
        ) from error
    except sqlalchemy.exc.OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise ValueError(
            f"cannot reach the study database {_redacted(url)} ({reason}); start it or fix --storage"
        ) from error


def _fail_zombies(study: Any) -> int:
    """Trials left RUNNING by a killed driver can never finish; mark them FAIL so the count is right."""
    import optuna

    zombies = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
    for t in zombies:
        study._storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
    return len(zombies)


def run_search(
    spec: BenchmarkSpec,
    out: str | Path,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    check_resources: bool = True,
    remote_storage: str | None = None,
) -> dict[str, Any]:
    """Optuna search on the validation split, then the best setting over all classes × seeds on the test split.

    The study lives in Optuna storage (SQLite in ``out`` by default) under the spec's name; running
    again resumes it and only adds the trials still missing.
    """
    import optuna

    from tune.search import overrides_from_params, search_base_config

    out = Path(out).expanduser().resolve()
    if remote_storage:
        from tune.remote import check_storage

        check_storage(remote_storage)  # a bad URI fails before anything is created
    out.mkdir(parents=True, exist_ok=True)
    url = _study_storage_url(spec, out)
    shown_url = _redacted(url)  # for logs and files: never the password
    study = open_study(spec.name, url)
    zombies = _fail_zombies(study)
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    finished = sum(t.state in finished_states for t in study.get_trials(deepcopy=False))
    remaining = spec.search.trials - finished
    log.info(
        "study %s at %s: %d trials finished, %d to run%s",
        spec.name,
        shown_url,
        finished,
        max(remaining, 0),
        f" ({zombies} interrupted trials marked FAIL)" if zombies else "",
    )
    names = class_names(spec)
    if remaining > 0:
        from tune import ray_backend

        ray_backend.connect(address)
        if check_resources:
            ray_backend.preflight(spec.resources)
        concurrency = max_concurrent or max(
            1, int(sum(n.get("CPU", 0) for n in ray_backend.node_resources()) // spec.resources.cpus_per_trial)
        )
        ray_backend.run_search_trials(
            base=search_base_config(spec),
            space=spec.search.space,
            n_trials=remaining,
            out=out,
            study_name=spec.name,
            storage_url=url,
            resources=spec.resources,
            max_failures=spec.max_failures,
            scheduler=spec.search.scheduler,
            grace_epochs=spec.search.grace_epochs,
            sampler_seed=spec.search.sampler_seed + finished,
            class_names=names,
            max_concurrent=concurrency,
            remote_storage=f"{remote_storage.rstrip('/')}/search" if remote_storage else None,
        )
    study = optuna.load_study(study_name=spec.name, storage=url)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {spec.name} has no completed trial; look at {out / 'search' / 'trials.jsonl'}")
    best = study.best_trial
    overrides = overrides_from_params(best.params)
    outputs.write_json(
        out / "best_params.json",
        {
            "value": best.value,
            "params": best.params,
            "overrides": overrides,
            "trial_number": best.number,
            "study": spec.name,
            "storage": shown_url,  # where `fcdd report` finds the study again (pass --storage if redacted)
        },
    )
    log.info("best validation AUC %.4f with %s", best.value, overrides)
    best_spec = with_changes(spec, settings=(("best", tuple(sorted(overrides.items()))),))
    summary = run_benchmark(
        best_spec,
        out / "best",
        address=address,
        check_resources=check_resources,
        report=False,
        remote_storage=f"{remote_storage.rstrip('/')}/best" if remote_storage else None,
    )
    from tune.report import build_report

    summary["report"] = build_report(
        out / "best", paper_auc=PAPER_AUC, study=study, title=f"fcdd tune {spec.name}: best setting on the test split"
    )
    summary.update(best_value=best.value, best_params=best.params, study=spec.name, storage=shown_url)
    return summary


def read_results_summary(out: Path) -> str:
    """One line per class from the report's summary table, for the console."""
    path = out / "report" / "summary_by_class.csv"
    return path.read_text() if path.exists() else ""
