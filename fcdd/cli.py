"""The method's own commands (``fcdd explain``, ``check``, ``nets``, ``presets``) and how every command fails.

The ``fcdd`` console script (:func:`tune.cli.main`) adds these next to the experiment commands.
Input errors end the process with one line on stderr and exit code 2, before anything is written.
Nothing here imports torch at module level: ``fcdd --help`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import typing
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("fcdd")


class CliError(Exception):
    """A user mistake on the command line; printed as one line, exit code 2."""


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C (a BaseException, so no trial records it as its own failure)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def handle_termination() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread.

    Called at start and again after libraries that install their own handler (``ray.init``
    makes SIGTERM a bare ``sys.exit``), so a terminated command ends with our one line.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


RESUME_HINT = "rerun the same command to resume from the last checkpoint"


class DeferredHelp(str):
    """A help text completed only when the help is shown; the string itself is its short form.

    For texts that read more than the registries' names (e.g. each dataset's preprocessings):
    building the parser stays cheap, and only ``--help`` pays for them.
    """

    def __new__(cls, short: str, make: Callable[[], str]) -> DeferredHelp:
        text = super().__new__(cls, short)
        text.make = make
        return text

    make: Callable[[], str]


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is the same one ``fcdd: error:`` line as every other input error."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"fcdd: error: {message} (see `{self.prog} --help`)\n")

    def format_help(self) -> str:
        """The help, with every :class:`DeferredHelp` completed."""
        for action in self._actions:
            if isinstance(action.help, DeferredHelp):
                action.help = action.help.make()
        return super().format_help()


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def count(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def path_arg(text: str) -> Path:
    """argparse type: a path, never empty (``Path('')`` would silently be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; pass a folder path")
    return Path(text)


def _add_explain(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "explain",
        help="anomaly score and heatmap overlay for images, from a trained run",
        description="Score images with a trained run and write a heatmap overlay PNG per image.",
    )
    p.add_argument("--run", type=path_arg, required=True, help="a run folder (runs/<setting>/normal_<c>/it_<s>)")
    p.add_argument("--out", type=path_arg, help="where the PNGs go (default: <run>/explain)")
    p.add_argument("images", nargs="+", type=path_arg, help="image files")
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    from fcdd.artifacts import check_writable
    from fcdd.explain import explain_images, load_trained_run

    out = (args.out or args.run / "explain").resolve()
    check_writable(out)
    trained = load_trained_run(args.run)
    for path, score, written in explain_images(trained, args.images, out):
        print(f"{score:.6f}\t{path}\t{written}")
    return 0


def _add_nets(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("nets", help="list the FCDD networks with their receptive fields")
    p.set_defaults(func=_cmd_nets)


def _cmd_nets(args: argparse.Namespace) -> int:
    from fcdd.networks.build import describe_networks

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


def _add_presets(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("presets", help="list the presets and their settings")
    p.set_defaults(func=_cmd_presets)


def _cmd_presets(args: argparse.Namespace) -> int:
    from fcdd.presets import DEFAULT_SEEDS, DEVIATIONS, PRESETS

    print(f"(each: the original runner's settings, {DEFAULT_SEEDS} seeds per class; * marks a deviation)")
    for name, preset in PRESETS.items():
        o, a = preset.optim, preset.anomalies
        milestones = f" @{','.join(map(str, o.milestones))}" if o.milestones else ""
        print(
            f"{name}: {preset.data.dataset}, {preset.network.name}, {a.supervise_mode}/{a.noise_mode}, "
            f"{preset.data.preprocessing}, batch {o.batch_size}, {o.epochs} epochs, {o.optimizer} lr {o.lr:g} "
            f"wd {o.weight_decay:g}, {o.scheduler} γ {o.gamma:g}{milestones}, σ {preset.heatmap.gauss_std:g}, "
            f"quantile {preset.heatmap.quantile:g}"
        )
        for deviation in DEVIATIONS.get(name, ()):
            print(f"  * differs from the original: {deviation.what} ({deviation.why}); original: {deviation.faithful}")
    return 0


def _add_check(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "check",
        help="check a data folder: layout, every image and mask, per class counts and sizes",
        description="Run the data part of the pre-flight on its own: what `fcdd train` would find in DATA_DIR, "
        "per class, without training. Errors are one line, as in training.",
    )
    p.add_argument("data_dir", type=path_arg, help="the dataset folder")
    p.add_argument("--dataset", help="dataset kind (default: mvtec for MVTec-style category folders, else custom)")
    p.add_argument("--one-vs-rest", action="store_true", help="custom folders: train/<class>/, test/<class>/ layout")
    p.add_argument("--ground-truth-maps", action="store_true", help="custom folders: check train_maps/, test_maps/")
    p.add_argument("--channels", type=int, help="custom folders: 1 = greyscale, 3 = RGB")
    p.add_argument("--classes", help="comma-separated classes to check (default: all)")
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    import dataclasses

    from fcdd.config import DataConfig
    from fcdd.data.loading import check_data, dataset_classes, resolve_classes

    root = args.data_dir.expanduser().resolve()
    if not root.is_dir():
        raise CliError(f"{root} is not a folder; pass the dataset folder (see the README's data layouts)")
    dataset = args.dataset or _guess_dataset(root)
    data = DataConfig(
        dataset=dataset,
        data_dir=str(root),
        one_vs_rest=args.one_vs_rest,
        ground_truth_maps=args.ground_truth_maps,
        channels=args.channels,
    )
    names = dataset_classes(data)
    classes = resolve_classes(args.classes or "all", names)
    print(f"{dataset} data in {root}: {len(names)} class(es)")
    warnings = 0
    for normal_class in classes:
        summary = check_data(dataclasses.replace(data, normal_class=normal_class))
        counts = ", ".join(f"{what} {n}" for what, n in summary.counts)
        print(f"class {normal_class} {summary.name}: {summary.layout}")
        if counts:
            print(f"  {counts}")
        if summary.sizes or summary.modes:
            more = " (and more)" if len(summary.sizes) >= 4 else ""
            print(f"  image sizes {', '.join(summary.sizes)}{more}; modes {', '.join(summary.modes)}")
        for warning in summary.warnings:
            warnings += 1
            print(f"  warning: {warning}")
    print(f"ok: {len(classes)} class(es) checked" + (f", {warnings} warning(s)" if warnings else ""))
    return 0


def _guess_dataset(root: Path) -> str:
    # MVTec-style: category folders that each hold train/good/.
    if any((p / "train" / "good").is_dir() for p in root.iterdir() if p.is_dir()):
        return "mvtec"
    return "custom"


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    """Add ``explain``, ``check``, ``nets`` and ``presets`` to a sub-command parser."""
    for add in (_add_explain, _add_check, _add_nets, _add_presets):
        add(sub)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; input errors become one ``fcdd: error:`` line and exit code 2."""
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    handle_termination()
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, FileNotFoundError, NotADirectoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"fcdd: error: {message}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as interrupt:
        return _stopped(interrupt)
    except BrokenPipeError:  # `fcdd status OUT | head`: the reader is gone, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except Exception as error:
        # A signal that arrives inside a C extension (Ray's wait loop) can surface as a
        # SystemError whose context is our exception: it is still an interrupt, not a crash.
        cause = next((e for e in _causes(error) if isinstance(e, KeyboardInterrupt | Terminated)), None)
        if cause is None:
            raise
        return _stopped(cause)


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _stopped(stop: BaseException) -> int:
    if isinstance(stop, Terminated):
        print(f"fcdd: terminated (SIGTERM); {RESUME_HINT}", file=sys.stderr)
        return 143
    print(f"fcdd: interrupted; {RESUME_HINT}", file=sys.stderr)
    return 130
