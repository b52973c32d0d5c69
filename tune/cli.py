"""The ``fcdd`` console script: the experiment commands (`train`, `benchmark`, `tune`, `report`) and the
method's own (`explain`, `nets`, `presets`, from :mod:`fcdd.cli`).

`train`, `benchmark` and `tune` resolve their command line with one function
(:func:`tune.resolve.resolve_spec`) and run the plan through one driver
(:func:`tune.experiment.run_benchmark`): `train` on the serial runner in this process, `benchmark`
and `tune` on Ray. Nothing here imports torch or Ray at module level, so ``fcdd --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcdd import cli as method_cli
from fcdd.cli import CliError
from tune.flags import add_config_arguments

log = logging.getLogger("fcdd")


def _add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """What every experiment command takes: where the settings come from, the plan, the output."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--preset", help="starting settings (see `fcdd presets`; default fmnist)")
    source.add_argument("--config", type=Path, help="a run's config.json to start from instead of a preset")
    source.add_argument("--spec", type=Path, help="benchmark spec YAML (see tune/spec.py); flags below override it")
    p.add_argument("--classes", help="nominal classes: comma-separated indices or names, or 'all' (default all)")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 per class (default 5, as the original runners)")
    p.add_argument("--baselines", action="store_true", default=None, help="add the HSC and AE baselines as settings")
    p.add_argument(
        "--name", help="benchmark name (default <dataset>-benchmark); names the results folder and the study"
    )
    p.add_argument("--out", type=Path, help="results folder (default results/<name>); rerunning resumes it")
    p.add_argument("--restart", action="store_true", help="rerun every trial from scratch instead of resuming")
    p.add_argument(
        "--cpus-per-trial", type=float, help="CPU cores per trial, also its torch threads (default: all cores here)"
    )
    p.add_argument("--max-failures", type=int, help="retries of a failing trial (default 1)")
    p.add_argument(
        "--dry-run", action="store_true", help="same path, tiny budget: 2 classes, 1 seed, 1 epoch, data subset"
    )
    p.add_argument("--plan-only", action="store_true", help="print the trials and exit without running anything")
    add_config_arguments(p)


def _add_ray_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster address (default: the cluster of `ray job submit`, else a local Ray)")
    p.add_argument(
        "--remote-storage",
        help="object-store URI (s3://bucket/path, gs://...) for run folders when the nodes share no folder; "
        "--out then only holds the driver's results and report",
    )
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; fractions share a GPU (default 0)")
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


def _ray_runner(args: argparse.Namespace) -> Any:
    from tune.runners.ray import RayRunner

    return RayRunner(
        address=args.address, remote_storage=args.remote_storage, check_resources=not args.skip_resource_check
    )


def _finish(summary: dict[str, Any], out: Path) -> int:
    from tune.experiment import summary_lines

    for line in summary_lines(out):
        print(line)
    print(f"{summary['ok']} trial(s) ok, {summary['failed']} failed, {summary['ran']} run now; results in {out}")
    if "html" in summary["report"]:
        print(f"report: {summary['report']['html']}")
    return 1 if summary["failed"] else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from tune.experiment import run_benchmark
    from tune.resolve import resolve_spec
    from tune.runners.serial import SerialRunner

    spec = resolve_spec(args)
    out = _out_dir(args, spec)
    runner = SerialRunner(show_progress=not args.quiet)
    summary = run_benchmark(spec, out, runner, plan_only=args.plan_only, restart=args.restart)
    return 0 if args.plan_only else _finish(summary, out)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from tune.experiment import run_benchmark
    from tune.resolve import resolve_spec

    spec = resolve_spec(args)
    out = _out_dir(args, spec)
    summary = run_benchmark(spec, out, _ray_runner(args), plan_only=args.plan_only, restart=args.restart)
    return 0 if args.plan_only else _finish(summary, out)


def _cmd_tune(args: argparse.Namespace) -> int:
    from tune.experiment import run_search
    from tune.resolve import resolve_spec
    from tune.search import search_base_config

    spec = resolve_spec(args)
    out = _out_dir(args, spec)
    if args.plan_only:
        print(
            f"search {spec.name}: {spec.search.trials} trials on class {search_base_config(spec).data.normal_class}, "
            f"space {', '.join(spec.search.space)}, scheduler {spec.search.scheduler}, then the best setting "
            f"over classes {list(spec.classes)} × seeds {list(spec.seeds)}"
        )
        return 0
    summary = run_search(spec, out, _ray_runner(args), max_concurrent=args.max_concurrent)
    print(f"best validation AUC {summary['best_value']:.4f}: {summary['best_params']}")
    print(f"study {summary['study']} in {summary['storage']}")
    return _finish(summary, out / "best")


def _cmd_report(args: argparse.Namespace) -> int:
    from fcdd.paper import PAPER
    from tune.report.build import build_report

    results = args.results.expanduser().resolve()
    study = None
    if (results / "best").is_dir() and (results / "best_params.json").exists():
        study = _load_search_study(results, args.storage)
        results = results / "best"
    if not (results / "trials.jsonl").exists():
        raise CliError(f"{results} holds no trials.jsonl; pass the --out folder of `fcdd train`, `benchmark` or `tune`")
    files = build_report(results, paper=PAPER, study=study, gallery_seeds=args.gallery_seeds)
    for role, path in sorted(files.items()):
        print(f"{role}: {path}")
    return 0


def _load_search_study(results: Path, storage: str | None) -> Any:
    """The study of a `fcdd tune` folder: from --storage, else where best_params.json says, else study.db."""
    import json

    from tune.experiment import open_study

    info = json.loads((results / "best_params.json").read_text())
    url = storage or info.get("storage") or f"sqlite:///{results / 'study.db'}"
    if "***" in url:
        raise CliError(f"the study's storage URL had a password ({url}); pass it with --storage")
    name = info.get("study")
    if name is None:  # written before best_params.json named its study
        import optuna

        names = optuna.get_all_study_names(storage=url)
        name = names[0] if names else None
    return open_study(name, url) if name else None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `train`, `benchmark`, `tune` and `report`."""
    p = sub.add_parser(
        "train",
        help="train + evaluate classes × seeds in this process (serial runner), then the report",
        description="Run a plan (classes × seeds × settings) one trial after another in this process; "
        "the same layout, results store and report as `fcdd benchmark`.",
    )
    _add_plan_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "benchmark",
        help="the full benchmark (classes × seeds × settings) on Ray",
        description="Run a benchmark plan on Ray (embedded local Ray by default) and write a report.",
    )
    _add_plan_arguments(p)
    _add_ray_arguments(p)
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser(
        "tune",
        help="Optuna search with early stopping on Ray, then the best setting on all classes",
        description="Search lr, weight decay and anomaly settings on a validation split, with early "
        "stopping; rerun the best setting over classes × seeds on the test split.",
    )
    _add_plan_arguments(p)
    _add_ray_arguments(p)
    p.add_argument("--trials", type=int, help="number of search trials (default 8)")
    p.add_argument(
        "--early-stopping",
        dest="early_stopping",
        choices=("asha", "median", "none"),
        help="early-stopping scheduler on the per-epoch validation AUC (default asha)",
    )
    p.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db (default SQLite in --out)")
    p.add_argument("--search-class", type=int, help="nominal class the search trains on (default: the first class)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: what the cluster's CPUs allow)")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("report", help="(re)build the report of a results folder (train, benchmark or tune)")
    p.add_argument("results", type=Path, help="the --out folder of `fcdd train`, `benchmark` or `tune`")
    p.add_argument("--storage", help="Optuna storage URL of a `fcdd tune` study (default: the one it was run with)")
    p.add_argument("--gallery-seeds", type=int, help="heatmaps of the lowest N seeds per class (default: every seed)")
    p.set_defaults(func=_cmd_report)


def make_parser() -> argparse.ArgumentParser:
    """The ``fcdd`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="fcdd", description="Explainable deep one-class anomaly detection (FCDD).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    method_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fcdd`` console script."""
    args = make_parser().parse_args(argv)
    return method_cli.dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
