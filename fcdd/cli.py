"""Command line: ``fcdd train``, ``fcdd explain``, ``fcdd nets``, ``fcdd presets``.

Input errors end the process with one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fcdd.config import NOISE_MODES, OBJECTIVES, OPTIMIZERS, PRECISIONS, SCHEDULERS, SUPERVISE_MODES, RunConfig

log = logging.getLogger("fcdd")

# CLI flag → dotted RunConfig key. argparse stores each under its dotted key; None = keep the preset.
_OVERRIDES: list[tuple[str, str, dict[str, Any]]] = [
    ("--dataset", "data.dataset", {"help": "dataset: fmnist, cifar10, custom"}),
    ("--data-dir", "data.data_dir", {"help": "dataset root folder"}),
    ("--preprocessing", "data.preprocessing", {"help": "lcnaug1, aug1, lcn, none (default: the dataset's)"}),
    ("--image-size", "data.image_size", {"type": int, "help": "network input side (custom, mvtec, imagenet, voc)"}),
    ("--channels", "data.channels", {"type": int, "help": "custom folders: 1 = greyscale, 3 = RGB"}),
    ("--epoch-repeats", "data.epoch_repeats", {"type": int, "help": "passes over the training images per epoch"}),
    ("--train-limit", "data.train_limit", {"type": int, "help": "use only N nominal training images"}),
    ("--test-limit", "data.test_limit", {"type": int, "help": "use a seeded subset of N test images"}),
    (
        "--validation-fraction",
        "data.validation_fraction",
        {"type": float, "help": "hold out this share of nominal training images (plus anomalies) for validation"},
    ),
    ("--net", "network.name", {"help": "network (see `fcdd nets`)"}),
    ("--weights", "network.weights", {"help": "local vgg11_bn state-dict file for the pretrained VGG nets"}),
    ("--objective", "objective", {"choices": OBJECTIVES}),
    ("--supervise-mode", "anomalies.supervise_mode", {"choices": SUPERVISE_MODES}),
    ("--noise-mode", "anomalies.noise_mode", {"choices": NOISE_MODES}),
    (
        "--oe-folder",
        "anomalies.oe_folder",
        {"help": "any image folder used as outlier exposure (implies --noise-mode folder)"},
    ),
    ("--oe-limit", "anomalies.oe_limit", {"type": int, "help": "number of distinct OE images"}),
    ("--anomaly-p", "anomalies.p", {"type": float, "help": "probability a training sample is replaced by an anomaly"}),
    ("--epochs", "optim.epochs", {"type": int}),
    ("--batch-size", "optim.batch_size", {"type": int}),
    (
        "--micro-batch-size",
        "optim.micro_batch_size",
        {"type": int, "help": "forward/backward in chunks of this size (bounds memory)"},
    ),
    ("--optimizer", "optim.optimizer", {"choices": OPTIMIZERS}),
    ("--lr", "optim.lr", {"type": float, "help": "learning rate"}),
    ("--weight-decay", "optim.weight_decay", {"type": float}),
    ("--scheduler", "optim.scheduler", {"choices": SCHEDULERS}),
    ("--gamma", "optim.gamma", {"type": float, "help": "lr decay factor (per epoch or per milestone)"}),
    (
        "--milestones",
        "optim.milestones",
        {"type": lambda s: tuple(int(x) for x in s.split(",") if x), "help": "comma-separated epochs, e.g. 400,500"},
    ),
    ("--gauss-std", "heatmap.gauss_std", {"type": float, "help": "σ of the receptive-field upsampling"}),
    ("--quantile", "heatmap.quantile", {"type": float, "help": "heatmap colour saturation quantile"}),
    ("--device", "device", {"help": "auto, cpu, cuda, cuda:N"}),
    ("--precision", "precision", {"choices": PRECISIONS}),
    (
        "--eval-every",
        "eval_every",
        {"type": int, "help": "report the AUC every k epochs (validation AUC when held out, else test AUC)"},
    ),
]


# On/off settings: flag → dotted RunConfig key (absent = keep the preset's value).
_SWITCHES: list[tuple[str, str, str]] = [
    ("--offline", "anomalies.offline", "offline supervision: N anomalies for N nominal images, fixed for all epochs"),
    ("--ground-truth-maps", "data.ground_truth_maps", "custom folders: read train_maps/ and test_maps/"),
    ("--blur-heatmaps", "heatmap.blur", "blur HSC/AE heatmaps over the FCDD counterpart's receptive field"),
]


class CliError(Exception):
    """A user mistake on the command line; printed as one line, exit code 2."""


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The flags that override RunConfig fields; shared with the orchestrator's commands."""
    p.add_argument(
        "--download",
        action="store_true",
        default=None,
        dest="data.download",
        help="download missing datasets (needs internet)",
    )
    p.add_argument(
        "--one-vs-rest",
        action="store_true",
        default=None,
        dest="data.one_vs_rest",
        help="custom folders: train/<class>/ and test/<class>/ layout",
    )
    p.add_argument(
        "--no-pretrained",
        action="store_false",
        default=None,
        dest="network.pretrained",
        help="random initialisation for the VGG nets",
    )
    for flag, dest, help_text in _SWITCHES:
        p.add_argument(flag, action="store_true", default=None, dest=dest, help=help_text)
    for flag, key, kwargs in _OVERRIDES:
        p.add_argument(flag, dest=key, default=None, **kwargs)


def config_overrides(args: argparse.Namespace, base: RunConfig) -> dict[str, Any]:
    """Dotted-key overrides given on the command line, with paths made absolute.

    ``--oe-folder`` alone also selects outlier exposure from that folder.
    """
    changes = {key: value for key, value in vars(args).items() if "." in key and value is not None}
    changes.update(
        {
            k: getattr(args, k)
            for k in ("objective", "device", "precision", "eval_every")
            if getattr(args, k, None) is not None
        }
    )
    if changes.get("anomalies.oe_folder") and "anomalies.noise_mode" not in changes:
        changes["anomalies.noise_mode"] = "folder"
        if "anomalies.supervise_mode" not in changes and base.anomalies.supervise_mode != "noise":
            changes["anomalies.supervise_mode"] = "noise"
    for key in ("data.data_dir", "anomalies.oe_folder", "network.weights"):
        if changes.get(key):  # Ray trials run elsewhere: every path absolute
            changes[key] = str(Path(changes[key]).expanduser().resolve())
    return changes


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train and evaluate FCDD over classes × seeds",
        description="Train FCDD one-vs-rest for each class and seed; write per-run folders and a summary.",
    )
    p.add_argument("--preset", default="fmnist", help="starting settings (see `fcdd presets`)")
    p.add_argument("--config", type=Path, help="a run's config.json to start from instead of a preset")
    p.add_argument("--classes", default="all", help="nominal classes: comma-separated indices or 'all'")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds per class (0..N-1)")
    p.add_argument("--out", type=Path, help="results folder (default: results/<dataset>_<time>)")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints and finished runs in --out")
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also run the HSC and AE baselines with the counterpart networks, into <out>_hsc and <out>_ae",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_arguments(p)
    p.set_defaults(func=_cmd_train)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of a ``train`` command line: preset (or --config file), then the overrides."""
    import json

    from fcdd.presets import get_preset

    if args.config is not None:
        if not args.config.is_file():
            raise CliError(f"--config {args.config}: no such file; pass a run's config.json")
        base = RunConfig.from_dict(json.loads(args.config.read_text()))
    else:
        base = get_preset(args.preset)
    return base.replace(**config_overrides(args, base))


def parse_classes(text: str, class_names: Sequence[str]) -> list[int]:
    """``"all"`` or comma-separated class indices or names, validated against the dataset's classes."""
    from fcdd.data.registry import resolve_classes

    try:
        return list(resolve_classes(text, class_names))
    except ValueError as error:
        raise CliError(f"--classes {text!r}: {error}") from None


def _epoch_printer(prefix: str) -> Callable:
    def report(r: Any) -> None:
        auc = f"  test AUC {r.test_auc:.4f}" if r.test_auc is not None else ""
        auc += f"  validation AUC {r.val_auc:.4f}" if r.val_auc is not None else ""
        log.info(
            "%s epoch %d/%d  loss %.4f (nominal %.4f, anomalous %.4f)  lr %.2e  %.1f s  %.0f img/s%s",
            prefix,
            r.epoch,
            r.epochs,
            r.loss,
            r.loss_nominal,
            r.loss_anomalous,
            r.lr,
            r.seconds,
            r.images_per_second,
            auc,
        )

    return report


def baseline_configs(config: RunConfig) -> list[tuple[str, RunConfig]]:
    """An FCDD config rerun as its HSC and AE baselines, with the counterpart networks.

    Both blur their heatmaps over the FCDD net's receptive field; the AE trains on nominal images
    only (unsupervised), as the paper's AE baseline does.
    """
    from fcdd.networks import baselines_for

    hsc, ae = baselines_for(config.network.name)
    return [
        ("hsc", config.replace(objective="hsc", **{"network.name": hsc, "heatmap.blur": True})),
        (
            "ae",
            config.replace(
                objective="ae", **{"network.name": ae, "heatmap.blur": True, "anomalies.supervise_mode": "unsupervised"}
            ),
        ),
    ]


def _cmd_train(args: argparse.Namespace) -> int:
    from fcdd.data import dataset_classes

    config = build_config(args)
    if args.seeds < 1:
        raise CliError(f"--seeds must be >= 1, got {args.seeds}")
    names = dataset_classes(config.data.dataset, config.data.data_dir, one_vs_rest=config.data.one_vs_rest)
    classes = parse_classes(args.classes, names)
    out = (args.out or Path("results") / f"{config.data.dataset}_{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    variants = [(out, config)]
    if args.baselines:  # siblings <out>_hsc and <out>_ae, each with its own summary
        variants += [(out.with_name(f"{out.name}_{name}"), cfg) for name, cfg in baseline_configs(config)]
    for variant_out, variant in variants:
        _train_variant(args, variant, variant_out, classes, names)
    return 0


def _train_variant(
    args: argparse.Namespace, config: RunConfig, out: Path, classes: list[int], names: Sequence[str]
) -> None:
    from fcdd.runner import read_metrics, run
    from fcdd.summary import write_summary

    rows = []
    for cls in classes:
        for seed in range(args.seeds):
            run_config = config.replace(**{"data.normal_class": cls, "seed": seed})
            run_dir = out / f"normal_{cls}" / f"it_{seed}"
            done = None if args.restart else read_metrics(run_dir)
            if done is not None and _same_settings(run_dir, run_config):
                log.info("class %d seed %d: finished earlier (AUC %.4f), skipped", cls, seed, done["auc"])
                rows.append(done)
                continue
            log.info("%s class %d (%s) seed %d → %s", config.objective, cls, names[cls], seed, run_dir)
            result = run(
                run_config,
                run_dir,
                on_epoch_end=_epoch_printer(f"[{config.objective} class {cls} seed {seed}]"),
                resume=not args.restart,
                show_progress=not args.quiet,
            )
            m = result.metrics
            pixel = f", pixel AUC {m['pixel_auc']:.4f}" if "pixel_auc" in m else ""
            log.info(
                "class %d seed %d: AUC %.4f%s  (%.1f s training, %.0f img/s)",
                cls,
                seed,
                m["auc"],
                pixel,
                m["train_seconds"],
                m["images_per_second"],
            )
            rows.append(m)
            write_summary(out, rows)
            del result
            release_memory()
    summary = write_summary(out, rows)
    for cls, stats in summary["classes"].items():
        print(
            f"{config.objective} class {cls} ({names[int(cls)]}): AUC {stats['mean']:.4f} ± {stats['std']:.4f} "
            f"over {stats['n_seeds']} seed(s)"
        )
    print(f"{config.objective} mean AUC over {len(summary['classes'])} class(es): {summary['mean_auc']:.4f}")
    print(f"results: {out}")


def release_memory() -> None:
    """Hand memory freed by a finished run back to the OS before the next one starts.

    glibc keeps freed large blocks in its arenas; over many classes in one process that shows up
    as a growing resident size although nothing is alive.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def _same_settings(run_dir: Path, config: RunConfig) -> bool:
    import json

    try:
        saved = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError):
        return False
    return saved.fingerprint(ignore=("device",)) == config.fingerprint(ignore=("device",))


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="anomaly score and heatmap overlay for images, from a trained run",
        description="Score images with a trained run and write a heatmap overlay PNG per image.",
    )
    p.add_argument("--run", type=Path, required=True, help="a run folder (normal_<c>/it_<s>) with snapshot.pt")
    p.add_argument("--out", type=Path, help="where the PNGs go (default: <run>/explain)")
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    from fcdd.explain import explain_images, load_trained_run

    trained = load_trained_run(args.run)
    out = (args.out or args.run / "explain").resolve()
    for path, score, written in explain_images(trained, args.images, out):
        print(f"{score:.6f}\t{path}\t{written}")
    return 0


def _add_nets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nets", help="list the networks with their receptive fields")
    p.set_defaults(func=_cmd_nets)


def _cmd_nets(args: argparse.Namespace) -> int:
    from fcdd.networks import describe_networks

    header = f"{'network':<22} {'input':<11} {'output':<7} {'RF':>4} {'jump':>5} {'start':>6}  pretrained"
    print(header)
    print("-" * len(header))
    for row in describe_networks():
        c, h, w = row["input_shape"]
        oh, ow = row["output_size"]
        print(
            f"{row['name']:<22} {f'{c}x{h}x{w}':<11} {f'{oh}x{ow}':<7} {row['receptive_field']:>4} "
            f"{row['jump']:>5} {row['start']:>6}  {'ImageNet' if row['pretrained'] else '-'}"
        )
    return 0


def _add_presets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the presets and their settings")
    p.set_defaults(func=_cmd_presets)


def _cmd_presets(args: argparse.Namespace) -> int:
    from fcdd.presets import PRESETS

    for name, preset in PRESETS.items():
        o, a = preset.optim, preset.anomalies
        milestones = f" @{','.join(map(str, o.milestones))}" if o.milestones else ""
        print(
            f"{name}: {preset.data.dataset}, {preset.network.name}, {a.supervise_mode}/{a.noise_mode}, "
            f"{preset.data.preprocessing}, batch {o.batch_size}, {o.epochs} epochs, {o.optimizer} lr {o.lr:g} "
            f"wd {o.weight_decay:g}, {o.scheduler} γ {o.gamma:g}{milestones}, σ {preset.heatmap.gauss_std:g}, "
            f"quantile {preset.heatmap.quantile:g}"
        )
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The ``fcdd`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="fcdd", description="Explainable deep one-class anomaly detection (FCDD).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_explain, _add_nets, _add_presets):
        add(sub)
    for add in _EXTRA_COMMANDS:
        try:
            add(sub)
        except Exception as error:  # a broken plug-in must not take `fcdd train` down with it
            log.warning("could not add sub-commands from %s: %s", getattr(add, "__module__", add), error)
    return parser


# Other installed packages (the orchestrator in `tune/`) add sub-commands through the
# "fcdd.commands" entry-point group, so the method never imports them by name.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def _load_extra_commands() -> None:
    from importlib.metadata import entry_points

    _EXTRA_COMMANDS.clear()
    for entry in entry_points(group="fcdd.commands"):
        try:
            _EXTRA_COMMANDS.append(entry.load())
        except ImportError as error:  # a missing optional dependency must not break `fcdd train`
            log.debug("sub-commands of %s unavailable: %s", entry.value, error)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fcdd`` console script."""
    _load_extra_commands()
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, FileNotFoundError, NotADirectoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"fcdd: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fcdd: interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
