"""The ``fcdd`` console script: the experiment commands (`train`, `benchmark`, `tune`, `report`) and the
method's own (`explain`, `nets`, `presets`, from :mod:`fcdd.cli`; `export`, from :mod:`fcdd.deploy.cli`).

`train`, `benchmark` and `tune` resolve their command line with one function
(:func:`tune.resolve.resolve_spec`) and run the plan through one driver
(:func:`tune.experiment.run_benchmark`): `train` on the serial runner in this process, `benchmark`
and `tune` on Ray. Nothing here imports torch or Ray at module level, so ``fcdd --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcdd import cli as method_cli
from fcdd.cli import CliError, Parser, count, path_arg, positive_int
from fcdd.deploy import cli as deploy_cli
from tune.deprecated import RenamedFlag
from tune.flags import add_config_arguments
from tune.snapshots import KEEP_SNAPSHOTS
from tune.spec import SCHEDULERS

if TYPE_CHECKING:
    from tune.experiment import BenchmarkOptions
    from tune.runners.base import Runner
    from tune.runners.ray import RayRunner
    from tune.suite_spec import Suite

log = logging.getLogger("fcdd")


def _add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """What every experiment command takes: where the settings come from, the plan, the output."""
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--preset",
        help="starting settings (see `fcdd presets`; default fmnist), or paper: the paper's whole benchmark, "
        "a suite of one benchmark per table (tune/specs/paper.yaml; train and benchmark)",
    )
    source.add_argument("--config", type=path_arg, help="a run's config.json to start from instead of a preset")
    source.add_argument(
        "--spec", type=path_arg, help="benchmark spec YAML (see tune/spec_file.py); flags below override it"
    )
    p.add_argument("--classes", help="nominal classes: comma-separated indices or names, or 'all' (default all)")
    p.add_argument("--seeds", type=positive_int, help="seeds 0..N-1 per class (default 5, as the original runners)")
    p.add_argument("--baselines", action="store_true", default=None, help="add the HSC and AE baselines as settings")
    p.add_argument(
        "--name", help="benchmark name (default <dataset>-benchmark); names the results folder and the study"
    )
    p.add_argument("--out", type=path_arg, help="results folder (default results/<name>); rerunning resumes it")
    p.add_argument("--restart", action="store_true", help="rerun every trial from scratch instead of resuming")
    p.add_argument(
        "--cpus-per-trial", type=float, help="CPU cores per trial, also its torch threads (default: all cores here)"
    )
    p.add_argument("--max-failures", type=count, help="retries of a failing trial (default 1)")
    p.add_argument(
        "--dry-run", action="store_true", help="same path, tiny budget: 2 classes, 1 seed, 1 epoch, data subset"
    )
    p.add_argument("--plan-only", action="store_true", help="print the trials and exit without running anything")
    p.add_argument(
        "--keep-snapshots",
        choices=KEEP_SNAPSHOTS,
        default="all",
        help="which finished, recorded trials keep their snapshot.pt (the trained network `fcdd explain` loads): "
        "all (default); best: per setting and class the seed whose AUC is closest to the class's median; none. "
        "Removed once the plan's run ends; a failed or unfinished trial keeps its checkpoint",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--mlflow",
        metavar="URI",
        help="also log every trial as an MLflow run (params, per-epoch metrics, figures) to this tracking URI, "
        "e.g. http://127.0.0.1:5000; nested under one parent run per benchmark or search",
    )
    add_config_arguments(p)


def _add_suite_arguments(p: argparse.ArgumentParser) -> None:
    """What `train` and `benchmark` take for a suite (a spec with `suite:`, or --preset paper)."""
    p.add_argument(
        "--skip-missing",
        action="store_true",
        help="a suite: run the benchmarks whose data is there and list the others in the suite report "
        "(default: refuse to start, naming each benchmark without data)",
    )


def gpus_arg(text: str) -> float | str:
    """argparse type of --gpus-per-trial: a number of GPUs, or ``auto`` (measured by a probe on a GPU node)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs or auto, got {text!r}") from None


def _add_ray_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster address (default: the cluster of `ray job submit`, else a local Ray)")
    p.add_argument(
        "--remote-storage",
        help="object-store URI (s3://bucket/path, gs://...) for run folders when the nodes share no folder; "
        "--out then only holds the driver's results and report",
    )
    p.add_argument(
        "--gpus-per-trial",
        type=gpus_arg,
        help="GPUs per trial; fractions share a GPU (default 0). auto: measure the largest trial's peak GPU "
        "memory in a short probe on a GPU node and share each GPU among as many trials as fit",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out (also automatic when it exists)")
    p.add_argument(
        "--skip-resource-check",
        action="store_true",
        help="do not check that some node can hold a trial (autoscaling clusters that start nodes on demand)",
    )


def _out_dir(args: argparse.Namespace, spec: Any) -> Path:
    out: Path = (args.out or Path("results") / spec.name).expanduser().resolve()
    if getattr(args, "resume", False) and not out.exists():
        raise CliError(f"--resume: {out} does not exist; drop --resume to start a new benchmark there")
    return out


def _ray_runner(args: argparse.Namespace) -> RayRunner:
    from tune.runners.ray import RayRunner

    if getattr(args, "restart", False) and args.remote_storage:
        # The trials pull their run folders from the object store first: they would resume, not restart.
        raise CliError(
            f"--restart cannot start over runs kept in --remote-storage {args.remote_storage} (the trials would "
            "resume their checkpoints there); pass another --remote-storage prefix, or delete that one first"
        )

    return RayRunner(
        address=args.address, remote_storage=args.remote_storage, check_resources=not args.skip_resource_check
    )


def _quiet(args: argparse.Namespace) -> None:
    if getattr(args, "quiet", False):  # every bar, also dataset decoding and outlier-exposure pools (tqdm reads it)
        os.environ["TQDM_DISABLE"] = "1"


def _finish(summary: dict[str, Any], out: Path) -> int:
    from tune.experiment import summary_lines

    for line in summary_lines(out):
        print(line)
    print(f"{summary['ok']} trial(s) ok, {summary['failed']} failed, {summary['ran']} run now; results in {out}")
    if "html" in summary["report"]:
        print(f"report: {summary['report']['html']}")
    return 1 if summary["failed"] else 0


def _options(args: argparse.Namespace) -> BenchmarkOptions:
    """The options `train` and `benchmark` take from their command line."""
    from tune.experiment import BenchmarkOptions

    return BenchmarkOptions(
        plan_only=args.plan_only, restart=args.restart, mlflow=args.mlflow, keep_snapshots=args.keep_snapshots
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from tune.runners.serial import SerialRunner

    return _run_plan(args, lambda: SerialRunner(show_progress=not args.quiet))


def _cmd_benchmark(args: argparse.Namespace) -> int:
    return _run_plan(args, lambda: _ray_runner(args))


def _run_plan(args: argparse.Namespace, make_runner: Callable[[], Runner]) -> int:
    """`train` and `benchmark`: the plan of the command line (one benchmark or a suite) on the runner."""
    from tune.experiment import run_benchmark
    from tune.resolve import resolve_plan
    from tune.suite_spec import Suite

    _quiet(args)
    plan = resolve_plan(args)
    if isinstance(plan, Suite):
        return _run_suite(args, plan, make_runner)
    if args.skip_missing:
        raise CliError("--skip-missing leaves out a suite's benchmarks without data; this plan is one benchmark")
    out = _out_dir(args, plan)
    summary = run_benchmark(plan, out, make_runner(), _options(args))
    return 0 if args.plan_only else _finish(summary, out)


def _run_suite(args: argparse.Namespace, suite: Suite, make_runner: Callable[[], Runner]) -> int:
    from tune.suite import SuiteOptions, run_suite

    out = _out_dir(args, suite)
    options = SuiteOptions(
        plan_only=args.plan_only, restart=args.restart, skip_missing=args.skip_missing, mlflow=args.mlflow
    )
    summary = run_suite(suite, out, make_runner(), options)
    if args.plan_only:
        return 0
    from tune.experiment import summary_lines

    for name, part in summary["benchmarks"].items():
        for line in summary_lines(part["out"]):
            print(f"{name}: {line}")
        counts = f"{part['ok']} trial(s) ok, {part['failed']} failed, {part['ran']} run now"
        print(f"{name}: {counts}; results in {part['out']}")
    for missing in summary["missing"]:
        print(f"{missing.name}: not run, no data ({missing.reason})")
    print(f"suite {suite.name}: {summary['ok']} trial(s) ok, {summary['failed']} failed, {summary['ran']} run now")
    if "html" in summary["report"]:
        print(f"report: {summary['report']['html']}")
    return 1 if summary["failed"] else 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from tune.experiment import run_search
    from tune.resolve import resolve_spec
    from tune.search_trials import search_base_config

    _quiet(args)
    spec = resolve_spec(args)
    out = _out_dir(args, spec)
    if args.plan_only:
        print(
            f"search {spec.name}: {spec.search.trials} trials on class {search_base_config(spec).data.normal_class}, "
            f"space {', '.join(spec.search.space)}, optimize {','.join(spec.search.optimize)}"
            + (f" (pick {spec.search.pick})" if len(spec.search.optimize) > 1 else "")
            + f", scheduler {spec.search.scheduler}, then the picked setting "
            f"over classes {list(spec.classes)} × seeds {list(spec.seeds)}"
        )
        return 0
    summary = run_search(
        spec, out, _ray_runner(args), max_concurrent=args.max_concurrent, restart=args.restart, mlflow=args.mlflow,
        keep_snapshots=args.keep_snapshots,
    )  # fmt: skip
    picked = zip(summary["objectives"], summary["best_values"], strict=True)
    values = ", ".join(f"{name} {value:.4g}" for name, value in picked)
    print(f"picked {values}: {summary['best_params']}")
    if summary["ties"]:  # several trials were as good: say so, and how the pick was made
        print(summary["ties"])
    print(f"study {summary['study']} in {summary['storage']}")
    return _finish(summary, out / "best")


def _cmd_report(args: argparse.Namespace) -> int:
    from fcdd.paper import PAPER
    from tune.outdir import SUITE_FILE
    from tune.report.build import build_report
    from tune.store import ResultsStore

    results = args.results.expanduser().resolve()
    if not results.is_dir():
        raise CliError(f"{results} is not a folder; pass the --out folder of `fcdd train`, `benchmark` or `tune`")
    if (results / SUITE_FILE).is_file():
        from tune.suite import report_suite

        files = report_suite(results, gallery_seeds=args.gallery_seeds)
        for role, path in sorted(files.items()):
            print(f"{role}: {path}")
        return 0
    study = None
    if (results / "best").is_dir() and (results / "best_params.json").exists():
        study, where = _load_search_study(results, args.storage)
        log.info("study %s read from %s", study.study_name, where)
        results = results / "best"
    if not (results / "trials.jsonl").exists():
        raise CliError(f"{results} holds no trials.jsonl; pass the --out folder of `fcdd train`, `benchmark` or `tune`")
    ResultsStore(results).check_parses()  # a damaged store must not replace a good report with an empty one
    files = build_report(results, paper=PAPER, study=study, gallery_seeds=args.gallery_seeds)
    pictures = [role for role in files if role.startswith("gallery:")]  # one per ok run: counted, not listed
    for role, path in sorted(files.items()):
        if role not in pictures:
            print(f"{role}: {path}")
    if pictures:
        print(f"gallery: {len(pictures)} heatmap pictures in {files[pictures[0]].parent}")
    return 0


def _load_search_study(results: Path, storage: str | None) -> tuple[Any, str]:
    """The study of a `fcdd tune` folder and where it came from; never creates one.

    --storage wins; else the folder's own ``study.db`` when the search kept its study there (the
    default, wherever the folder was moved or copied since); else the storage it was run with.
    """
    import optuna

    from tune.outdir import read_json
    from tune.preflight import check_storage_url, redacted

    info = read_json(results / "best_params.json", "search summary") or {}
    recorded = str(info.get("storage") or "")
    in_folder = info.get("storage_in_folder")
    if in_folder is None:  # written before the flag: the default URL ends in the folder's study.db
        in_folder = recorded.startswith("sqlite:///") and recorded.endswith("/study.db")
    if storage is not None:
        url, where = storage, f"--storage {storage}"
    elif in_folder:
        own = results / "study.db"
        if not own.is_file():
            raise CliError(
                f"{results} holds no study.db, where its search kept the study (recorded as {recorded}); "
                "restore the file, or pass --storage URL of a copy"
            )
        url, where = f"sqlite:///{own}", f"this folder's {own.name}"
    else:
        if "***" in recorded:
            raise CliError(f"the study's storage URL had a password ({recorded}); pass it with --storage")
        url, where = recorded, f"the storage the search ran with ({recorded})"
    check_storage_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CliError(f"no study database at {url}; pass --storage URL of the study")
    name = info.get("study")
    try:
        if name is None:  # written before best_params.json named its study
            names = optuna.get_all_study_names(storage=url)
            if len(names) != 1:
                raise CliError(f"{redacted(url)} holds {len(names)} studies and best_params.json names none")
            name = names[0]
        return optuna.load_study(study_name=name, storage=url), where
    except KeyError:
        raise CliError(f"no study named {name!r} in {redacted(url)}; pass --storage URL of the study") from None


GALLERY_SEEDS_HELP = (
    "heatmaps per class on the report's first page: N seeds spread over the AUC order (default: 3, the lowest, "
    "median and highest AUC; fewer with more than 10 classes); every seed is on its class's own page"
)


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    """Add `train`, `benchmark`, `tune`, `report` and `status`."""
    for add in (_add_train, _add_benchmark, _add_tune, _add_report, _add_status):
        add(sub)


def _add_train(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "train",
        help="train + evaluate classes × seeds in this process (serial runner), then the report",
        description="Run a plan (classes × seeds × settings) one trial after another in this process; "
        "the same layout, results store and report as `fcdd benchmark`.",
    )
    _add_plan_arguments(p)
    _add_suite_arguments(p)
    p.set_defaults(func=_cmd_train)


def _add_benchmark(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "benchmark",
        help="the full benchmark (classes × seeds × settings) on Ray",
        description="Run a benchmark plan on Ray (embedded local Ray by default) and write a report.",
    )
    _add_plan_arguments(p)
    _add_ray_arguments(p)
    _add_suite_arguments(p)
    p.set_defaults(func=_cmd_benchmark)


def _add_tune(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "tune",
        help="Optuna search with early stopping on Ray, then the best setting on all classes",
        description="Search lr, weight decay and anomaly settings on a validation split, with early "
        "stopping; rerun the best setting over classes × seeds on the test split.",
    )
    _add_plan_arguments(p)
    _add_ray_arguments(p)
    p.add_argument("--trials", type=positive_int, help="number of search trials (default 8)")
    p.add_argument(
        "--early-stopping",
        dest="early_stopping",
        choices=SCHEDULERS,
        help="early-stopping scheduler on the per-epoch validation AUC (default asha)",
    )
    p.add_argument(
        "--optimize",
        metavar="GOALS",
        help="what the search optimises: val_auc (default), or two of val_auc, val_pixel_auc, gpu_seconds, "
        "comma-separated, e.g. val_auc,gpu_seconds (a multi-objective study: no early stopping)",
    )
    p.add_argument("--objectives", dest="optimize", action=RenamedFlag, new="--optimize")
    p.add_argument(
        "--pick",
        help="which Pareto point of a two-objective search is rerun on the test split: best (first objective), "
        "within:F (best first objective within F× the best second, e.g. within:1.2, the default), knee",
    )
    p.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db (default SQLite in --out)")
    p.add_argument("--search-class", type=count, help="nominal class the search trains on (default: the first class)")
    p.add_argument(
        "--max-concurrent", type=positive_int, help="trials at once (default: what the cluster's CPUs allow)"
    )
    p.set_defaults(func=_cmd_tune)


def _add_report(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("report", help="(re)build the report of a results folder (train, benchmark or tune)")
    p.add_argument("results", type=path_arg, help="the --out folder of `fcdd train`, `benchmark` or `tune`")
    p.add_argument("--storage", help="Optuna storage URL of a `fcdd tune` study (default: the one it was run with)")
    p.add_argument("--gallery-seeds", type=positive_int, help=GALLERY_SEEDS_HELP)
    p.set_defaults(func=_cmd_report)


def _add_status(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "status",
        help="per class done / running / failed, running trials and ETA of a results folder",
        description="The state of a `fcdd train`, `benchmark` or `tune` folder (finished, running or stopped), "
        "from its plan, results store and progress.json.",
    )
    p.add_argument("results", type=path_arg, help="the --out folder of `fcdd train`, `benchmark` or `tune`")
    p.add_argument(
        "--watch", type=positive_int, nargs="?", const=5, metavar="SECONDS",
        help="redraw every SECONDS (default 5) until the plan is no longer running or Ctrl-C",
    )  # fmt: skip
    p.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace) -> int:
    import time

    from tune.status import format_status, read_status

    results = args.results.expanduser()
    if not results.is_dir():
        raise CliError(f"{results} is not a folder; pass the --out folder of `fcdd train`, `benchmark` or `tune`")
    folders = _status_folders(results)
    while True:
        statuses = [read_status(folder) for folder in folders]
        text = "\n\n".join(format_status(status) for status in statuses)
        if args.watch and sys.stdout.isatty():
            print("\033[H\033[J", end="")  # clear the terminal between redraws
        print(text, flush=True)
        if not args.watch or all(status.state != "running" for status in statuses):
            return 0
        time.sleep(args.watch)
        if not sys.stdout.isatty():
            print()


def _status_folders(results: Path) -> list[Path]:
    """The results folders `fcdd status` reads: the folder itself, or each benchmark folder of a suite."""
    from tune.outdir import SUITE_FILE

    if (results / SUITE_FILE).is_file():
        from tune.suite import read_suite

        folders = [results / bench["folder"] for bench in read_suite(results)["benchmarks"]]
        return [folder for folder in folders if folder.is_dir()] or [results]
    marks = ("benchmark.json", "trials.jsonl", "progress.json", "search.json", "search")
    if not any((results / mark).exists() for mark in marks):
        raise CliError(f"{results} holds no fcdd results; pass the --out folder of `fcdd train`, `benchmark` or `tune`")
    return [results]


def make_parser() -> argparse.ArgumentParser:
    """The ``fcdd`` argument parser with every sub-command."""
    parser = Parser(prog="fcdd", description="Explainable deep one-class anomaly detection (FCDD).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    method_cli.add_commands(sub)
    deploy_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fcdd`` console script."""
    args = make_parser().parse_args(argv)
    return method_cli.dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
