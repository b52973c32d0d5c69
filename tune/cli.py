"""Sub-commands `fcdd benchmark`, `fcdd tune` and `fcdd report`, plugged into the `fcdd` CLI.

They reach the `fcdd` console script through the "fcdd.commands" entry point (pyproject.toml),
so the method package never imports the orchestrator.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from fcdd.cli import CliError, add_config_arguments, config_overrides
from fcdd.presets import get_preset

log = logging.getLogger("fcdd")


def _add_spec_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", type=Path, help="benchmark spec YAML (see tune/spec.py); flags below override it")
    p.add_argument("--preset", help="starting settings when no --spec is given (default fmnist)")
    p.add_argument("--classes", help="nominal classes: comma-separated indices or 'all' (default all)")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 per class (default 1)")
    p.add_argument(
        "--name", help="benchmark name (default <dataset>-benchmark); names the results folder and the study"
    )
    p.add_argument("--out", type=Path, help="results folder (default results/<name>); rerunning resumes it")
    p.add_argument("--address", help="Ray cluster address (default: the cluster of `ray job submit`, else a local Ray)")
    p.add_argument(
        "--remote-storage",
        help="object-store URI (s3://bucket/path, gs://...) for run folders when the nodes share no folder; "
        "--out then only holds the driver's results and report",
    )
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; fractions share a GPU (default 0)")
    p.add_argument("--max-failures", type=int, help="retries of a failing trial (default 1)")
    p.add_argument(
        "--dry-run", action="store_true", help="same path, tiny budget: 2 classes, 1 seed, 1 epoch, data subset"
    )
    p.add_argument("--plan-only", action="store_true", help="print the trials and exit without running anything")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (also automatic when it exists)")
    p.add_argument(
        "--skip-resource-check",
        action="store_true",
        help="do not check that some node can hold a trial (autoscaling clusters that start nodes on demand)",
    )
    add_config_arguments(p)


def build_spec(args: argparse.Namespace) -> Any:
    """The BenchmarkSpec of a command line: --spec file or preset, then flags."""
    import dataclasses

    from tune.benchmark import dry_run
    from tune.spec import Resources, SearchSpec, load_spec, spec_from_dict

    raw: dict[str, Any] = {}
    if args.spec is None:
        raw["preset"] = args.preset or "fmnist"
    base_for_flags = get_preset(args.preset or "fmnist")
    overrides = config_overrides(args, base_for_flags)
    extra = {"classes": args.classes, "seeds": args.seeds, "name": args.name}
    if args.spec is not None:
        spec = load_spec(args.spec, overrides=overrides)
        changes: dict[str, Any] = {}
        if args.name:
            changes["name"] = args.name
        from fcdd.data.registry import resolve_classes
        from tune.spec import parse_seeds

        if args.classes:
            from tune.benchmark import class_names

            changes["classes"] = resolve_classes(args.classes, class_names(spec))
        if args.seeds:
            changes["seeds"] = parse_seeds(args.seeds)
        spec = dataclasses.replace(spec, **changes)
    else:
        raw.update({k: v for k, v in extra.items() if v is not None})
        raw["overrides"] = overrides
        spec = spec_from_dict(raw)
    resources = Resources(
        cpus_per_trial=args.cpus_per_trial if args.cpus_per_trial is not None else spec.resources.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial if args.gpus_per_trial is not None else spec.resources.gpus_per_trial,
    )
    search: SearchSpec = spec.search
    search_changes = {
        k: v
        for k, v in (
            ("trials", getattr(args, "trials", None)),
            ("scheduler", getattr(args, "early_stopping", None)),
            ("storage", getattr(args, "storage", None)),
            ("search_class", getattr(args, "search_class", None)),
        )
        if v is not None
    }
    if search_changes:
        search = dataclasses.replace(search, **search_changes)
    spec = dataclasses.replace(
        spec,
        resources=resources,
        search=search,
        max_failures=args.max_failures if args.max_failures is not None else spec.max_failures,
    )
    return dry_run(spec) if args.dry_run else spec


def _out_dir(args: argparse.Namespace, spec: Any) -> Path:
    out = (args.out or Path("results") / spec.name).expanduser().resolve()
    if args.resume and not out.exists():
        raise CliError(f"--resume: {out} does not exist; drop --resume to start a new benchmark there")
    return out


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from tune.benchmark import read_results_summary, run_benchmark

    spec = build_spec(args)
    out = _out_dir(args, spec)
    summary = run_benchmark(
        spec,
        out,
        address=args.address,
        plan_only=args.plan_only,
        check_resources=not args.skip_resource_check,
        remote_storage=args.remote_storage,
    )
    if args.plan_only:
        return 0
    print(read_results_summary(out), end="")
    print(f"{summary['ok']} trial(s) ok, {summary['failed']} failed, {summary['ran']} run now; results in {out}")
    if "html" in summary["report"]:
        print(f"report: {summary['report']['html']}")
    return 1 if summary["failed"] else 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from tune.benchmark import read_results_summary, run_search

    spec = build_spec(args)
    out = _out_dir(args, spec)
    if args.plan_only:
        from tune.search import search_base_config

        print(
            f"search {spec.name}: {spec.search.trials} trials on class {search_base_config(spec).data.normal_class}, "
            f"space {', '.join(spec.search.space)}, scheduler {spec.search.scheduler}, then the best setting "
            f"over classes {list(spec.classes)} × seeds {list(spec.seeds)}"
        )
        return 0
    summary = run_search(
        spec,
        out,
        address=args.address,
        max_concurrent=args.max_concurrent,
        check_resources=not args.skip_resource_check,
        remote_storage=args.remote_storage,
    )
    print(f"best validation AUC {summary['best_value']:.4f}: {summary['best_params']}")
    print(read_results_summary(out / "best"), end="")
    print(f"study {summary['study']} in {summary['storage']}; results in {out}")
    return 1 if summary["failed"] else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from fcdd.presets import PAPER_AUC
    from tune.report import build_report

    results = args.results.expanduser().resolve()
    study = None
    if (results / "best").is_dir() and (results / "best_params.json").exists():
        study = _load_search_study(results, args.storage)
        results = results / "best"
    if not (results / "trials.jsonl").exists():
        raise CliError(f"{results} holds no trials.jsonl; pass the --out folder of `fcdd benchmark` or `fcdd tune`")
    files = build_report(results, paper_auc=PAPER_AUC, study=study)
    for role, path in sorted(files.items()):
        print(f"{role}: {path}")
    return 0


def _load_search_study(results: Path, storage: str | None) -> Any:
    """The study of a `fcdd tune` folder: from --storage, else where best_params.json says, else study.db."""
    import json

    from tune.benchmark import open_study

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
    """Add `benchmark`, `tune` and `report` to the `fcdd` CLI."""
    p = sub.add_parser(
        "benchmark",
        help="the full benchmark (classes × seeds × settings) on Ray",
        description="Run a benchmark plan on Ray (embedded local Ray by default) and write a report.",
    )
    _add_spec_arguments(p)
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser(
        "tune",
        help="Optuna search with early stopping on Ray, then the best setting on all classes",
        description="Search lr, weight decay and anomaly settings on a validation split, with early "
        "stopping; rerun the best setting over classes × seeds on the test split.",
    )
    _add_spec_arguments(p)
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

    p = sub.add_parser("report", help="(re)build the report of a benchmark or search results folder")
    p.add_argument("results", type=Path, help="the --out folder of `fcdd benchmark` or `fcdd tune`")
    p.add_argument("--storage", help="Optuna storage URL of a `fcdd tune` study (default: the one it was run with)")
    p.set_defaults(func=_cmd_report)
