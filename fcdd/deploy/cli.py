"""``fcdd export``: its flags and its one printed line; the work is :func:`fcdd.deploy.export.export_run`.

Registered by the console script (:func:`tune.cli.make_parser`). Nothing here imports torch at
module level, so ``fcdd --help`` stays instant.
"""

from __future__ import annotations

import argparse
import math

from fcdd.cli import Parser, path_arg
from fcdd.deploy.card import GRAPH_FILES


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    """Add ``export``."""
    p = sub.add_parser(
        "export",
        help="a trained run as an ONNX or TorchScript model (preprocessing, network, heatmaps) with a model.json card",
        description="Export a finished run as one graph that takes raw images (N, C, H, W) on the 0..255 scale at "
        "the run's raw size and gives scores, upsampled heatmaps and, with --threshold, decisions; beside it "
        "model.json describes and seals it. The export is checked against the run's own model before it is kept.",
    )
    p.add_argument(
        "--run", type=path_arg, required=True, help="a finished run folder (runs/<setting>/normal_<c>/it_<s>)"
    )
    p.add_argument("--format", required=True, choices=tuple(GRAPH_FILES), help="onnx (ONNX Runtime) or torchscript")
    p.add_argument(
        "--out", type=path_arg, help="the export's folder (default <run>/export-<format>); replaces an export"
    )
    p.add_argument(
        "--threshold", type=finite_float, help="decision threshold baked into the graph: a score above it is anomalous"
    )
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from fcdd.deploy.export import export_run

    written = export_run(args.run, args.format, args.out, threshold=args.threshold)
    card = written.card
    shape = "x".join(map(str, card.input_shape))
    decision = f", anomalous above {card.threshold.value:g}" if card.threshold is not None else ""
    print(f"{written.folder / card.graph}: {card.network} ({card.objective}), images N x {shape} on 0..255{decision}")
    print(f"{written.folder / 'model.json'}: the card (sha256 {card.provenance.graph_sha256[:12]}…)")
    return 0
