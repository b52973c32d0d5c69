"""The one experiment path: plan, skip finished work, run on a runner, collect, report.

`fcdd train` (serial runner), `fcdd benchmark` (Ray runner) and the final reruns of `fcdd tune`
all go through :func:`run_benchmark`, so they write the same layout, the same store and the same
report. :func:`run_search` runs the Optuna search on the Ray runner, then the best setting through
:func:`run_benchmark`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcdd import artifacts
from fcdd.config import RunConfig
from fcdd.paper import PAPER
from tune.outdir import PARETO_FILE, PLAN_FILE, SEARCH_FILE, check_same_plan, plan_identity, replaced_when_done
from tune.plan import TrialSpec, expand, format_plan
from tune.preflight import check_plan, check_snapshots, check_storage_url, redacted
from tune.runners.base import MeasuresGpus, PushesResults, Runner, SearchRunner
from tune.spec import BenchmarkSpec, with_changes
from tune.store import ResultsStore
from tune.tracking.mlflow import check_tracking, tracking

if TYPE_CHECKING:
    import optuna

    from tune.ties import TieResult

log = logging.getLogger(__name__)


def _write_plan(
    out: Path, spec: BenchmarkSpec, trials: list[TrialSpec], runner: Runner, previous: dict[str, Any] | None
) -> None:
    # A rerun with more classes or seeds extends the folder: its plan is the union of both.
    classes, seeds, ids = list(spec.classes), list(spec.seeds), [t.trial_id for t in trials]
    # Which trial is which: what `fcdd status` counts per class without opening any run folder.
    planned = {
        t.trial_id: {"setting": t.setting, "normal_class": t.normal_class, "class_name": t.class_name, "seed": t.seed}
        for t in trials
    }
    if previous is not None:
        classes = sorted(set(previous.get("classes") or []) | set(classes))
        seeds = sorted(set(previous.get("seeds") or []) | set(seeds))
        ids = list(dict.fromkeys([*(previous.get("trial_ids") or []), *ids]))
        planned = {**(previous.get("trials") or {}), **planned}
    artifacts.write_json(
        out / PLAN_FILE,
        {
            "name": spec.name,
            "runner": runner.name,
            "classes": classes,
            "seeds": seeds,
            "settings": _settings_dict(spec),
            "resources": dataclasses.asdict(spec.resources),
            "max_failures": spec.max_failures,
            "base_config": spec.base.to_dict(),
            "notes": list(spec.notes),
            "trial_ids": ids,
            "trials": planned,
        },
    )


def _settings_dict(spec: BenchmarkSpec) -> dict[str, dict[str, Any]]:
    return {name: dict(overrides) for name, overrides in spec.settings}


def check_output(out: Path, spec: BenchmarkSpec, *, restart: bool) -> dict[str, Any] | None:
    """The output folder's pre-flight: writable, and (unless restarting) empty, new, or this plan's own folder.

    Returns the folder's recorded plan when it continues one. With ``restart`` any folder is fine:
    it is replaced, but only once the new plan has finished.
    """
    artifacts.check_writable(out)
    if restart:
        return None
    identity = plan_identity(spec.base.to_dict(), _settings_dict(spec))
    return check_same_plan(out, PLAN_FILE, identity, "`fcdd train` or `fcdd benchmark`")


@dataclasses.dataclass(frozen=True)
class BenchmarkOptions:
    """How :func:`run_benchmark` runs a plan; the defaults run it and write the report."""

    plan_only: bool = False  # print the trials (and which are done) and run nothing
    restart: bool = False  # rerun every trial from scratch; ``out`` is replaced once the new plan finished
    report: bool = True  # write the report after the tables
    title: str | None = None  # the report's title (default: "fcdd <spec name>")
    study: optuna.Study | None = None  # the search study whose best setting these trials rerun (its report section)
    checked: bool = False  # the caller already ran the pre-flight checks of the plan and the tracking URI
    mlflow: str | None = None  # a tracking URI that gets every trial as a run under one parent run
    mlflow_parent: str | None = None  # the MLflow run the parent run nests under (see tune.tracking.mlflow)
    keep_snapshots: str = "all"  # which finished trials keep snapshot.pt: all, best, none (tune.snapshots)


def run_benchmark(
    spec: BenchmarkSpec, out: str | Path, runner: Runner, options: BenchmarkOptions | None = None
) -> dict[str, Any]:
    """Run every trial of ``spec`` not yet finished in ``out`` on ``runner``; return counts and the report files.

    Rerunning with the same ``out`` resumes: trials whose id has an "ok" row in the results store
    are skipped, interrupted ones continue from their last epoch checkpoint. A rerun with more
    classes or seeds extends the folder; one with other settings is refused. ``options.restart``
    reruns every trial from scratch in a staging folder that replaces ``out`` only once it is
    complete. Everything that can be checked without training is checked before anything is
    written (unless ``options.checked``: the caller did so already).
    """
    options = options or BenchmarkOptions()
    out = Path(out).expanduser().resolve()
    if options.plan_only:
        return show_plan(spec, out, options)
    planned = prepare_runner(check_benchmark(spec, out, options), runner)
    if options.restart and out.is_dir() and any(out.iterdir()):
        with replaced_when_done(out) as staging:
            files = _execute(planned.moved(staging), runner, options)
        return benchmark_summary(planned, {role: out / p.relative_to(staging) for role, p in files.items()})
    return benchmark_summary(planned, _execute(planned, runner, options))


def show_plan(spec: BenchmarkSpec, out: Path, options: BenchmarkOptions) -> dict[str, Any]:
    """``--plan-only``: print the trials, marking those finished in ``out``; run nothing."""
    trials = expand(spec)
    store = ResultsStore(out)
    done = set() if options.restart or not store.path.exists() else store.finished_ids()
    print(format_plan(spec, trials, done))
    return {"trials": len(trials), "done": len(done & {t.trial_id for t in trials}), "ran": 0}


@dataclasses.dataclass(frozen=True)
class PlannedBenchmark:
    """A benchmark checked before anything is written: its folder, its trials, those still to run."""

    spec: BenchmarkSpec
    out: Path
    trials: list[TrialSpec]
    todo: list[TrialSpec]
    previous: dict[str, Any] | None  # the plan the folder holds (a resume extends it), None for a new one

    def moved(self, staging: Path) -> PlannedBenchmark:
        """The same plan run afresh in ``staging`` (``--restart``): nothing is continued there."""
        return dataclasses.replace(self, out=staging, previous=None)


def check_benchmark(spec: BenchmarkSpec, out: Path, options: BenchmarkOptions) -> PlannedBenchmark:
    """Every check of ``spec`` in ``out`` that needs no runner, nothing written; what is left to run.

    The folder (new, or this plan's own), its store, the tracking URI, then the pre-flight of the
    trials still to run (data, network, outlier exposure; their checkpoints). ``options.checked``
    leaves out the tracking URI and the plan's pre-flight: the caller ran them.
    """
    trials = expand(spec)
    store = ResultsStore(out)
    previous = check_output(out, spec, restart=options.restart)
    store.check_parses()
    done = set() if options.restart or not store.path.exists() else store.finished_ids()
    todo = [t for t in trials if t.trial_id not in done]
    if options.mlflow is not None and not options.checked:
        check_tracking(options.mlflow, *(() if options.restart else (out,)))
    if todo and not options.checked:
        check_plan(spec)
    if todo and not options.restart:
        check_snapshots(todo, out)
    return PlannedBenchmark(spec, out, trials, todo, previous)


def prepare_runner(planned: PlannedBenchmark, runner: Runner) -> PlannedBenchmark:
    """The runner's pre-flight for the trials to run (Ray: connect, placement), then the GPU share measured."""
    if not planned.todo:
        return planned
    spec = planned.spec
    target = _probe_target(spec, runner, lambda: [(_trial_label(t), t.run_config()) for t in planned.todo])
    runner.prepare(spec)
    return dataclasses.replace(planned, spec=_measure_gpus(spec, runner, target))


def _trial_label(trial: TrialSpec) -> str:
    return f"trial {trial.trial_id} ({trial.setting}, class {trial.normal_class}, seed {trial.seed})"


def _probe_target(
    spec: BenchmarkSpec, runner: Runner, candidates: Callable[[], list[tuple[str, RunConfig]]]
) -> tuple[str, RunConfig] | None:
    """What ``--gpus-per-trial auto`` will probe (the largest of ``candidates``), checked before connecting.

    None when there is nothing to measure, or the runner shares no GPUs (the serial runner).
    """
    if not spec.resources.gpus_unmeasured or not isinstance(runner, MeasuresGpus):
        return None
    from tune.resources import probe_target

    return probe_target(spec.resources, candidates())


def _measure_gpus(spec: BenchmarkSpec, runner: Runner, target: tuple[str, RunConfig] | None) -> BenchmarkSpec:
    """The spec with ``--gpus-per-trial auto`` measured on the runner's GPU nodes (after its pre-flight)."""
    if target is None or not isinstance(runner, MeasuresGpus):
        return spec
    return runner.resolve_gpus(spec, *target)


def _execute(planned: PlannedBenchmark, runner: Runner, options: BenchmarkOptions) -> dict[str, Path]:
    """Write the plan, run the trials still to run, then the tables and the report; return the report's files."""
    begin_benchmark(planned, runner)
    spec, out = planned.spec, planned.out
    # Also with nothing to run: trials of an earlier run without --mlflow are logged now.
    run_name = options.title or spec.name
    with tracking(options.mlflow, out, experiment=spec.name, run_name=run_name, parent_run_id=options.mlflow_parent):
        if planned.todo:
            runner.run(planned.todo, out, spec)
    return finish_benchmark(planned, runner, options)


def begin_benchmark(planned: PlannedBenchmark, runner: Runner) -> None:
    """Create the folder and write its plan (``benchmark.json``), when there is something to run."""
    out, trials, todo = planned.out, planned.trials, planned.todo
    if todo:
        out.mkdir(parents=True, exist_ok=True)
        _write_plan(out, planned.spec, trials, runner, planned.previous)
        if len(todo) < len(trials):
            log.info("resuming %s: %d of %d trials already finished", out, len(trials) - len(todo), len(trials))
    else:
        log.info("all %d trials of %s already finished", len(trials), out)


def finish_benchmark(planned: PlannedBenchmark, runner: Runner, options: BenchmarkOptions) -> dict[str, Path]:
    """After the trials: snapshots pruned (``--keep-snapshots``), the tables, the report (unless
    ``options.report`` is off), the results pushed. Returns the report's files by role.
    """
    out, spec = planned.out, planned.spec
    store = ResultsStore(out)
    if options.keep_snapshots != "all" and store.path.exists():  # only now: every trial run here has ended
        from tune.snapshots import prune_snapshots

        prune_snapshots(out, planned.trials, options.keep_snapshots)
    files: dict[str, Path] = {}
    if store.path.exists():
        store.write_tables()
        if options.report:
            from tune.report.build import build_report

            files = build_report(out, paper=PAPER, study=options.study, title=options.title or f"fcdd {spec.name}")
        if isinstance(runner, PushesResults):
            runner.push_results(out)
    return files


def benchmark_summary(planned: PlannedBenchmark, files: dict[str, Path]) -> dict[str, Any]:
    """Counts of a benchmark after its run (trials planned, run now, ok, failed), its folder and report files."""
    out = planned.out
    store = ResultsStore(out)
    ids = {t.trial_id for t in planned.trials}
    rows = [r for r in store.rows() if r["trial_id"] in ids] if store.path.exists() else []
    return {
        "trials": len(planned.trials),
        "ran": len(planned.todo),
        "ok": sum(r["status"] == "ok" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "report": files,
        "out": out,
    }


def _study_storage_url(spec: BenchmarkSpec, out: Path) -> str:
    return spec.search.storage or f"sqlite:///{out / 'study.db'}"


def open_study(name: str, url: str, goals: tuple[str, ...] = ("val_auc",)) -> optuna.Study:
    """Create or load the study ``name`` optimising ``goals``.

    A missing driver, an unreachable server or an existing study of other goals is one clear error.
    The goals are recorded on the study under the user attribute ``"objectives"`` (the name older
    studies carry too).
    """
    import optuna
    import sqlalchemy.exc

    from tune.search_goals import GOALS

    maximize, minimize = optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE
    directions = [maximize if GOALS[o].direction == "max" else minimize for o in goals]
    try:
        study = optuna.create_study(study_name=name, storage=url, directions=directions, load_if_exists=True)
    except ImportError as error:
        raise ValueError(
            f"the study storage {redacted(url)} needs a database driver that is not installed "
            f"(pip install 'fcdd[postgres]' for postgresql://): {error}"
        ) from error
    except sqlalchemy.exc.OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise ValueError(
            f"cannot reach the study database {redacted(url)} ({reason}); start it or fix --storage"
        ) from error
    recorded = study.user_attrs.get("objectives")
    if (recorded is not None and tuple(recorded) != tuple(goals)) or len(study.directions) != len(directions):
        raise ValueError(
            f"study {name} in {redacted(url)} optimises {','.join(recorded or ['val_auc'])}, not "
            f"{','.join(goals)}; pass those to --optimize, or another --name for a new study"
        )
    if recorded is None:
        study.set_user_attr("objectives", list(goals))
    return study


def _fail_zombies(study: optuna.Study) -> int:
    """Trials left RUNNING by a killed driver can never finish; mark them FAIL so the count is right."""
    import optuna

    zombies = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
    for t in zombies:
        study._storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
    return len(zombies)


def search_identity(spec: BenchmarkSpec) -> dict[str, Any]:
    """What must match for `fcdd tune` to continue a folder's study: the searched config and the search itself."""
    from tune.search_trials import search_base_config

    search = spec.search
    fixed = {"space": search.space, "scheduler": search.scheduler, "grace_epochs": search.grace_epochs,
             "sampler_seed": search.sampler_seed, "study": spec.name}  # fmt: skip
    if search.optimize != ("val_auc",):  # folders of single-objective searches keep their identity
        fixed["objectives"] = list(search.optimize)  # the stored name: older folders must still resume
    return plan_identity(search_base_config(spec).to_dict(), {"search": fixed})


def run_search(
    spec: BenchmarkSpec,
    out: str | Path,
    runner: SearchRunner,
    *,
    max_concurrent: int | None = None,
    restart: bool = False,
    mlflow: str | None = None,
    keep_snapshots: str = "all",
) -> dict[str, Any]:
    """Optuna search on the validation split (Ray runner), then the best setting over classes × seeds on the test split.

    The study lives in Optuna storage (SQLite in ``out`` by default) under the spec's name; running
    again resumes it and only adds the trials still missing. Everything is checked before anything
    is created; ``restart`` searches afresh in a staging folder that replaces ``out`` when done.
    ``mlflow``: a tracking URI that gets the search trials under one parent run, and the best
    setting's reruns under a parent run nested in it. ``keep_snapshots`` applies to those reruns
    (:mod:`tune.snapshots`); the search trials keep theirs (their test AUC is measured from them).
    """
    out = Path(out).expanduser().resolve()
    artifacts.check_writable(out)
    if restart and spec.search.storage:
        raise ValueError(
            f"--restart cannot start over a study kept in --storage {redacted(spec.search.storage)}; "
            "pass another --name (a new study) or delete the study there"
        )
    if not restart:
        check_same_plan(out, SEARCH_FILE, search_identity(spec), "this `fcdd tune` search")
    check_plan(spec, search=True)
    _warn_coarse_validation(spec)
    if spec.search.storage:
        check_storage_url(spec.search.storage)
    if mlflow is not None:
        check_tracking(mlflow, *(() if restart else (out / "search", out / "best")))
    target = _probe_target(spec, runner, lambda: [_search_probe(spec)])
    runner.prepare(spec)
    spec = _measure_gpus(spec, runner, target)  # the search and the best setting's reruns share the measured share
    if restart and out.is_dir() and any(out.iterdir()):
        with replaced_when_done(out) as staging:
            summary = _search(
                spec, staging, runner, max_concurrent=max_concurrent, mlflow=mlflow, keep_snapshots=keep_snapshots
            )
        summary["out"] = out
        summary["report"] = {role: out / p.relative_to(staging) for role, p in summary["report"].items()}
        return summary
    return _search(spec, out, runner, max_concurrent=max_concurrent, mlflow=mlflow, keep_snapshots=keep_snapshots)


def _warn_coarse_validation(spec: BenchmarkSpec) -> None:
    """Before the search: a validation split too small to separate settings is worth a warning."""
    from tune.search_trials import search_base_config
    from tune.ties import search_resolution_warning

    if spec.search.optimize[0] != "val_auc":  # a pixel AUC counts pixels: its resolution is fine
        return
    warning = search_resolution_warning(search_base_config(spec))
    if warning:
        logging.getLogger("fcdd").warning("warning: %s", warning)


def _search_probe(spec: BenchmarkSpec) -> tuple[str, RunConfig]:
    """A search's largest trial: its base config at the space's largest batch and image size."""
    from tune.resources import largest_in_space
    from tune.search_trials import search_base_config

    config = largest_in_space(search_base_config(spec), spec.search.space)
    return f"the search's largest trial (batch {config.optim.batch_size}, class {config.data.normal_class})", config


def _search(
    spec: BenchmarkSpec,
    out: Path,
    runner: SearchRunner,
    *,
    max_concurrent: int | None,
    mlflow: str | None = None,
    keep_snapshots: str = "all",
) -> dict[str, Any]:
    """Run the search trials still missing from the study, pick the setting, rerun it into ``<out>/best``."""
    import optuna

    from tune.search_trials import search_base_config

    out.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out / SEARCH_FILE, {"name": spec.name, "base_config": search_base_config(spec).to_dict(),
                                             "settings": search_identity(spec)["settings"]})  # fmt: skip
    url = _study_storage_url(spec, out)
    finished = _resume_study(spec, url)
    remaining = spec.search.trials - finished
    with tracking(mlflow, out / "search", experiment=spec.name, run_name=f"fcdd tune {spec.name}: search") as tracker:
        if remaining > 0:
            runner.search(
                spec,
                search_base_config(spec),
                out,
                n_trials=remaining,
                storage_url=url,
                sampler_seed=spec.search.sampler_seed + finished,
                max_concurrent=max_concurrent or runner.max_concurrent(spec.resources),
            )
    study = optuna.load_study(study_name=spec.name, storage=url)
    best, overrides, ties = _write_pick(spec, out, study, redacted(url))
    summary = _rerun_best(
        spec, out, runner, study, overrides, mlflow=mlflow, keep_snapshots=keep_snapshots,
        mlflow_parent=tracker.parent_run_id if tracker is not None else None,  # nested under the search's run
    )  # fmt: skip
    summary.update(best_value=best.values[0], best_values=best.values, best_params=best.params, study=spec.name,
                   storage=redacted(url), objectives=spec.search.optimize,
                   ties=ties.describe(spec.search.optimize[0]) if ties is not None else "")  # fmt: skip
    return summary


def _resume_study(spec: BenchmarkSpec, url: str) -> int:
    """Open (or create) the search's study and mark its interrupted trials FAIL; how many trials finished."""
    import optuna

    study = open_study(spec.name, url, spec.search.optimize)
    zombies = _fail_zombies(study)
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    finished = sum(t.state in finished_states for t in study.get_trials(deepcopy=False))
    log.info(
        "study %s at %s: %d trials finished, %d to run%s",
        spec.name,
        redacted(url),  # for logs and files: never the password
        finished,
        max(spec.search.trials - finished, 0),
        f" ({zombies} interrupted trials marked FAIL)" if zombies else "",
    )
    return finished


def _write_pick(
    spec: BenchmarkSpec, out: Path, study: optuna.Study, shown_url: str
) -> tuple[optuna.trial.FrozenTrial, dict[str, Any], TieResult | None]:
    """Pick the setting to rerun, write ``best_params.json``; the picked trial, its config overrides, its ties."""
    import optuna

    from tune.search_trials import overrides_from_params, search_base_config, search_trial

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {spec.name} has no completed trial; look at {out / 'search' / 'trials.jsonl'}")
    best, front, ties = pick_rerun(study, spec, out)
    overrides = overrides_from_params(best.params)
    # Only now, with the pick made: each search trial's test AUC beside its validation AUC.
    from tune.selection import val_vs_test

    val_vs_test(out / "search")
    choice = search_base_config(spec).data.validation_anomalies
    study.set_user_attr("validation_anomalies", choice)
    artifacts.write_json(
        out / "best_params.json",
        {
            "value": best.values[0],
            "objectives": list(spec.search.optimize),  # the file format keeps the name it had before --optimize
            "values": best.values,
            "pick": spec.search.pick if front else None,
            "trial_id": search_trial(search_base_config(spec), best.params).trial_id,  # its row in search/
            "pareto_front": front,
            "params": best.params,
            "overrides": overrides,
            "trial_number": best.number,
            "study": spec.name,
            "storage": shown_url,  # where `fcdd report` finds the study again (pass --storage if redacted)
            # The folder's own study.db: `fcdd report` reads that one, wherever the folder is moved to.
            "storage_in_folder": spec.search.storage is None,
            "validation_anomalies": choice,
            # One objective: the trials tied at the best value, and how the pick among them was made.
            "ties": None if ties is None else ties.to_dict(),
        },
    )
    log.info("picked trial #%d (%s) with %s", best.number, _describe_values(spec, best.values), overrides)
    return best, overrides, ties


def _rerun_best(
    spec: BenchmarkSpec,
    out: Path,
    runner: SearchRunner,
    study: optuna.Study,
    overrides: dict[str, Any],
    *,
    mlflow: str | None,
    mlflow_parent: str | None,
    keep_snapshots: str = "all",
) -> dict[str, Any]:
    """The picked setting over classes × seeds on the test split, in ``<out>/best``."""
    best_spec = with_changes(spec, settings=(("best", tuple(sorted(overrides.items()))),))
    try:  # another best setting than last time: its reruns replace the old ones
        check_output(out / "best", best_spec, restart=False)
        replace_best = False
    except ValueError:
        replace_best = True
    options = BenchmarkOptions(
        restart=replace_best,
        title=f"fcdd tune {spec.name}: best setting on the test split",
        study=study,
        checked=True,
        mlflow=mlflow,
        mlflow_parent=mlflow_parent,
        keep_snapshots=keep_snapshots,
    )
    return run_benchmark(best_spec, out / "best", runner.for_subfolder("best"), options)


def _describe_values(spec: BenchmarkSpec, values: list[float]) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in zip(spec.search.optimize, values, strict=True))


def pick_rerun(
    study: optuna.Study, spec: BenchmarkSpec, out: Path
) -> tuple[optuna.trial.FrozenTrial, list[int], TieResult | None]:
    """The trial the final reruns take to the test split, the Pareto front (trial numbers; [] for one
    objective) and the ties at the best value (None for two objectives).

    One objective: the best trial, ties broken by :func:`tune.ties.break_ties` (:func:`_tie_pick`).
    Two: Optuna's Pareto front, and the point ``search.pick`` chooses
    (:func:`tune.search_goals.pick_point`); every completed trial's values go to ``search/pareto.csv``.
    """
    import optuna
    import pandas as pd

    from tune.search_goals import GOALS, pick_point

    if len(spec.search.optimize) == 1:
        best, ties = _tie_pick(study, spec, out)
        return best, [], ties
    trials = {t.number: t for t in study.best_trials}
    directions = [GOALS[o].direction for o in spec.search.optimize]
    chosen = pick_point({n: t.values for n, t in trials.items()}, directions, spec.search.pick)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    records = [
        {"number": t.number, **dict(zip(spec.search.optimize, t.values, strict=True)),
         "on_front": t.number in trials, "picked": t.number == chosen}
        for t in complete
    ]  # fmt: skip
    frame = pd.DataFrame.from_records(records)
    (out / "search").mkdir(parents=True, exist_ok=True)
    frame.sort_values("number").to_csv(out / "search" / PARETO_FILE, index=False, float_format="%.6g")
    return trials[chosen], sorted(trials), None


def _tie_pick(study: optuna.Study, spec: BenchmarkSpec, out: Path) -> tuple[optuna.trial.FrozenTrial, TieResult]:
    """The best completed trial of a one-objective search, ties within the validation AUC's resolution broken
    cheaper first, then earlier (:func:`tune.ties.break_ties`).

    Costs and validation sizes come from the search's store (``search/trials.jsonl``): a row per
    trial id, which a trial's sampled parameters give. The tolerance is the resolution of the best
    trial's validation split for ``val_auc``; 0 (exact ties) for ``val_pixel_auc`` or an older
    record without the sizes.
    """
    import optuna

    from tune.search_trials import search_base_config, search_trial
    from tune.ties import auc_resolution, break_ties

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    base = search_base_config(spec)
    store = ResultsStore(out / "search")
    rows = {row["trial_id"]: row for row in store.rows()} if store.path.exists() else {}
    found = [rows.get(search_trial(base, t.params).trial_id) or {} for t in complete]
    values = [float(t.values[0]) for t in complete]
    tolerance = 0.0
    if spec.search.optimize[0] == "val_auc":
        best = found[max(range(len(complete)), key=lambda i: (values[i], -complete[i].number))]
        total, anomalous = best.get("n_validation"), best.get("n_validation_anomalous")
        step = auc_resolution(total - anomalous, anomalous) if total is not None and anomalous is not None else None
        tolerance = step or 0.0
    ties = break_ties(values, [row.get("trial_seconds") for row in found], [t.number for t in complete], tolerance)
    return next(t for t in complete if t.number == ties.picked), ties


def summary_lines(out: Path) -> list[str]:
    """AUC mean ± std per setting and class from the report's summary table, for the console."""
    import pandas as pd

    path = out / "report" / "summary_by_class.csv"
    if not path.exists():
        return []
    table = pd.read_csv(path)
    lines = []
    for row in table.itertuples(index=False):
        overall = row.class_name == "overall"
        label = "all classes (mean of class means)" if overall else f"class {int(row.normal_class)} ({row.class_name})"
        lines.append(f"{row.setting}: {label}: AUC {row.auc_mean:.4f} ± {row.auc_std:.4f} over {row.n_seeds} run(s)"
                     + (f", {row.n_failed} failed" if row.n_failed else ""))  # fmt: skip
    return lines
