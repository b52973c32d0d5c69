"""The method's own commands: ``fcdd explain``, ``fcdd nets``, ``fcdd presets``; and how every command fails.

The ``fcdd`` console script (:func:`tune.cli.main`) adds these next to the experiment commands.
Input errors end the process with one line on stderr and exit code 2, before anything is written.
Nothing here imports torch at module level: ``fcdd --help`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from pathlib import Path

log = logging.getLogger("fcdd")


class CliError(Exception):
    """A user mistake on the command line; printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is the same one ``fcdd: error:`` line as every other input error."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"fcdd: error: {message} (see `{self.prog} --help`)\n")


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


def _add_explain(sub: argparse._SubParsersAction) -> None:
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
    from fcdd.explain import explain_images, load_trained_run

    trained = load_trained_run(args.run)
    out = (args.out or args.run / "explain").resolve()
    for path, score, written in explain_images(trained, args.images, out):
        print(f"{score:.6f}\t{path}\t{written}")
    return 0


def _add_nets(sub: argparse._SubParsersAction) -> None:
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


def _add_presets(sub: argparse._SubParsersAction) -> None:
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``explain``, ``nets`` and ``presets`` to a sub-command parser."""
    for add in (_add_explain, _add_nets, _add_presets):
        add(sub)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; input errors become one ``fcdd: error:`` line and exit code 2."""
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
