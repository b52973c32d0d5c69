"""Running a suite: every benchmark's trials from one command, each benchmark in its own folder.

`fcdd train` and `fcdd benchmark` run a suite (:mod:`tune.suite_spec`) through :func:`run_suite`::

    <out>/
      suite.json          the suite: its benchmarks (name, dataset, folder), those without data and why
      <name>/             one results folder per benchmark, the layout of `fcdd train` / `fcdd benchmark`
                          (plan, store, progress, runs, its own report)
      report/             the suite report (tune.report.suite): report.html, report.md, suite_summary.csv
      ray/                Ray Tune's experiment state (`fcdd benchmark`)

Every benchmark is checked as :func:`tune.experiment.run_benchmark` checks one (its folder, store,
checkpoints, data, network, outlier exposure) before anything is written. A benchmark whose data
is missing stops the suite there, all such benchmarks named in one line, unless
``skip_missing``: then the others run and the suite report lists it. The trials still to run of
every benchmark then fan out together: one Ray Tune run on a runner that can
(:class:`~tune.runners.base.RunsTogether`), else one after another in this process. Rerunning
the same command resumes every benchmark: finished trials are skipped, interrupted ones continue.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcdd import artifacts
from tune.experiment import (
    BenchmarkOptions,
    PlannedBenchmark,
    begin_benchmark,
    benchmark_summary,
    check_benchmark,
    finish_benchmark,
    prepare_runner,
    show_plan,
)
from tune.outdir import SUITE_FILE, read_json, replaced_when_done
from tune.preflight import check_plan
from tune.runners.base import BenchmarkTrials, Runner, RunsTogether
from tune.suite_spec import Suite, as_missing
from tune.tracking.mlflow import check_tracking, tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteOptions:
    """How :func:`run_suite` runs a suite; the defaults run it and write the reports."""

    plan_only: bool = False  # print every benchmark's trials (and which are done) and run nothing
    restart: bool = False  # rerun every trial from scratch; each benchmark's folder is replaced once all finished
    skip_missing: bool = False  # run the benchmarks that have their data, list the others in the report
    mlflow: str | None = None  # a tracking URI: each benchmark's trials under one parent run of its own


def run_suite(suite: Suite, out: str | Path, runner: Runner, options: SuiteOptions | None = None) -> dict[str, Any]:
    """Run every benchmark of ``suite`` into ``<out>/<its name>``, then each one's report and the suite report.

    Returns the totals (trials, ran, ok, failed), each benchmark's summary under ``benchmarks``,
    the benchmarks not run under ``missing``, the suite report's files under ``report``.
    """
    options = options or SuiteOptions()
    out = Path(out).expanduser().resolve()
    if options.plan_only:
        return _show_plans(suite, out, options)
    check_suite_folder(out)
    planned, suite = _check(suite, out, options)
    planned = [prepare_runner(p, _runner_for(runner, p)) for p in planned]
    out.mkdir(parents=True, exist_ok=True)
    info = _write_suite_file(out, suite, runner)
    summaries = _run(planned, out, runner, options, suite.name)
    report = write_suite_report(out, info)
    totals = {key: sum(s[key] for s in summaries.values()) for key in ("trials", "ran", "ok", "failed")}
    return {**totals, "benchmarks": summaries, "missing": list(suite.missing), "report": report, "out": out}


def check_suite_folder(out: Path) -> None:
    """A suite's ``--out`` must be writable, and new, empty or a suite's own folder."""
    artifacts.check_writable(out)
    if out.is_dir() and any(out.iterdir()) and not (out / SUITE_FILE).is_file():
        held = ", ".join(sorted(p.name for p in out.iterdir())[:3])
        raise ValueError(f"--out {out} is not empty and holds no suite (no {SUITE_FILE}; {held}...); pass a new or "
                         "empty --out, or the folder of this suite")  # fmt: skip


def _show_plans(suite: Suite, out: Path, options: SuiteOptions) -> dict[str, Any]:
    """``--plan-only``: each benchmark's trials, the benchmarks without data; nothing runs."""
    counts = {"trials": 0, "done": 0, "ran": 0}
    for spec in suite.benchmarks:
        shown = show_plan(spec, out / spec.name, BenchmarkOptions(plan_only=True, restart=options.restart))
        counts = {key: counts[key] + shown[key] for key in counts}
    for missing in suite.missing:
        print(f"benchmark {missing.name}: no data ({missing.reason})")
    print(f"suite {suite.name}: {len(suite.benchmarks)} benchmark(s), {counts['trials']} trials, into {out}")
    return counts


def _check(suite: Suite, out: Path, options: SuiteOptions) -> tuple[list[PlannedBenchmark], Suite]:
    """Every benchmark's checks, nothing written; a benchmark whose files are missing is refused or left out."""
    folders = [out / spec.name for spec in suite.benchmarks]
    if options.mlflow is not None:
        check_tracking(options.mlflow, *(() if options.restart else folders))
    checks = BenchmarkOptions(restart=options.restart, checked=True)  # the plan's pre-flight follows here
    planned, missing = [], []
    for spec, folder in zip(suite.benchmarks, folders, strict=True):
        benchmark = check_benchmark(spec, folder, checks)
        if benchmark.todo:
            try:
                check_plan(spec)
            except (FileNotFoundError, ValueError) as error:
                found = as_missing(spec, error)
                if found is None:
                    raise ValueError(f"benchmark {spec.name} of suite {suite.name}: {error}") from None
                missing.append(found)
                continue
        planned.append(benchmark)
    suite = suite.without(missing)
    _refuse_missing(suite, skip=options.skip_missing)
    return planned, suite


def _refuse_missing(suite: Suite, *, skip: bool) -> None:
    """One line naming every benchmark without its data and the fixes; with ``skip``, a warning per benchmark."""
    if not suite.missing:
        return
    listed = ", ".join(f"{m.name} ({m.reason})" for m in suite.missing)
    which = "benchmark" if len(suite.missing) == 1 else "benchmarks"
    if not skip:
        raise FileNotFoundError(
            f"suite {suite.name}: no data for {which} {listed}; set its folders in the `overrides` of its suite entry "
            "(data.data_dir, anomalies.oe_folder), drop it from the suite, or pass --skip-missing to run the rest"
        )
    if not suite.benchmarks:
        raise FileNotFoundError(f"suite {suite.name}: no benchmark has its data: {listed}")
    for m in suite.missing:
        log.warning("skipping benchmark %s of suite %s: %s", m.name, suite.name, m.reason)


def _runner_for(runner: Runner, planned: PlannedBenchmark) -> Runner:
    """The runner of one benchmark: its own sub-folder of the suite's (remote storage alike)."""
    return runner.for_subfolder(planned.spec.name) if isinstance(runner, RunsTogether) else runner


def _write_suite_file(out: Path, suite: Suite, runner: Runner) -> dict[str, Any]:
    """``suite.json``: what `fcdd report` and `fcdd status` read back; returned as written."""
    info = {
        "name": suite.name,
        "runner": runner.name,
        "benchmarks": [
            {"name": spec.name, "dataset": spec.base.data.dataset, "folder": spec.name} for spec in suite.benchmarks
        ],
        "missing": [{"name": m.name, "dataset": m.dataset, "reason": m.reason} for m in suite.missing],
    }
    artifacts.write_json(out / SUITE_FILE, info)
    return info


def _run(
    planned: list[PlannedBenchmark], out: Path, runner: Runner, options: SuiteOptions, name: str
) -> dict[str, dict[str, Any]]:
    """Write each plan, run every trial still to run, then each benchmark's tables and report; the summaries."""
    report_files: dict[str, dict[str, Path]] = {}
    with ExitStack() as replaced:
        staged = [_staged(p, replaced) if options.restart else p for p in planned]
        for benchmark in staged:
            begin_benchmark(benchmark, runner)
        with ExitStack() as trackers:
            for b in staged:
                trackers.enter_context(tracking(options.mlflow, b.out, experiment=b.spec.name, run_name=b.spec.name))
            _run_trials(staged, out, runner, name)
        for benchmark, final in zip(staged, planned, strict=True):
            files = finish_benchmark(benchmark, _runner_for(runner, benchmark), BenchmarkOptions())
            moved = {role: final.out / path.relative_to(benchmark.out) for role, path in files.items()}
            report_files[final.spec.name] = moved
    return {p.spec.name: benchmark_summary(p, report_files[p.spec.name]) for p in planned}


def _staged(planned: PlannedBenchmark, stack: ExitStack) -> PlannedBenchmark:
    """``--restart``: the benchmark run afresh in a staging folder that replaces its folder when the suite is done."""
    out = planned.out
    if not (out.is_dir() and any(out.iterdir())):
        return planned
    return planned.moved(stack.enter_context(replaced_when_done(out)))


def _run_trials(planned: list[PlannedBenchmark], out: Path, runner: Runner, name: str) -> None:
    """Every benchmark's trials still to run: together where the runner can, else one benchmark after another."""
    parts = [BenchmarkTrials(p.todo, p.out, p.spec) for p in planned if p.todo]
    if not parts:
        log.info("every trial of suite %s already finished", name)
    elif isinstance(runner, RunsTogether):
        runner.run_together(parts, out, name)
    else:
        for part in parts:
            runner.run(part.trials, part.out, part.spec)


def write_suite_report(out: Path, info: dict[str, Any]) -> dict[str, Path]:
    """The suite report of ``out`` (``info``: its ``suite.json``): each benchmark beside the paper's table."""
    from tune.report.suite import build_suite_report

    return build_suite_report(out, info)


def report_suite(out: Path, *, gallery_seeds: int | None = None) -> dict[str, Path]:
    """`fcdd report` on a suite folder: each benchmark's own report rebuilt, then the suite report."""
    from fcdd.paper import PAPER
    from tune.report.build import build_report as build_benchmark_report
    from tune.store import ResultsStore

    info = read_suite(out)
    for bench in info["benchmarks"]:
        store = ResultsStore(out / bench["folder"])
        if store.path.is_file():
            store.check_parses()  # a damaged store must not replace a good report with an empty one
            build_benchmark_report(store.root, paper=PAPER, gallery_seeds=gallery_seeds)
    return write_suite_report(out, info)


def read_suite(out: Path) -> dict[str, Any]:
    """A suite folder's ``suite.json``; one-line errors for a folder that holds none or a damaged one."""
    info = read_json(out / SUITE_FILE, "the suite file")
    if info is None or not isinstance(info.get("benchmarks"), list):
        raise ValueError(f"{out} holds no suite ({SUITE_FILE}); pass the --out folder of a suite")
    return info
