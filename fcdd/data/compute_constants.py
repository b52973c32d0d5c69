"""Regenerate the Fashion-MNIST block of ``constants.json`` from the raw training data.

For each class, over that class's 6000 training images on the [0, 1] scale:
mean and (population) std of all pixels, and the min and max over all pixels of the
LCN'd images. The result is checked against the 4-significant-digit values of the
method reference before anything is written.

Usage::

    python -m fcdd.data.compute_constants [--data-dir DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fcdd.data import fmnist
from fcdd.data.preprocess import lcn

CONSTANTS_PATH = Path(__file__).with_name("constants.json")
# Method reference, section 4.3: mean, std, LCN min, LCN max per class (4 significant digits).
REFERENCE_FMNIST: tuple[tuple[float, float, float, float], ...] = (
    (0.3256, 0.3507, -2.681, 24.85),
    (0.2229, 0.3435, -2.578, 11.17),
    (0.3767, 0.3587, -2.808, 19.13),
    (0.2589, 0.3542, -1.953, 18.66),
    (0.3853, 0.3763, -2.61, 19.17),
    (0.1367, 0.2631, -1.236, 28.46),
    (0.3318, 0.3393, -3.252, 24.2),
    (0.1677, 0.2948, -1.081, 16.88),
    (0.3536, 0.3653, -3.656, 11.35),
    (0.3012, 0.3705, -1.386, 11.43),
)
FMNIST_SOURCE = (
    "computed by fcdd/data/compute_constants.py at float64 precision from the Fashion-MNIST "
    "training split (Debian dataset-fashion-mnist); agrees with the method reference to 4 significant digits"
)


def fmnist_constants(train_images: Tensor, train_labels: Tensor) -> dict[str, list[list[float]]]:
    """Per-class mean, std, LCN min and LCN max (one channel) of uint8 training images."""
    block: dict[str, list[list[float]]] = {"mean": [], "std": [], "lcn_min": [], "lcn_max": []}
    for c in range(len(fmnist.CLASS_NAMES)):
        x = train_images[train_labels == c].to(torch.float64) / 255
        normed = lcn(x)
        block["mean"].append([x.mean().item()])
        block["std"].append([x.std(correction=0).item()])
        block["lcn_min"].append([normed.min().item()])
        block["lcn_max"].append([normed.max().item()])
    return block


def _round_sig(value: float, digits: int = 4) -> float:
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def mismatches(block: dict[str, list[list[float]]]) -> list[str]:
    """Entries that do not round to the reference's 4-significant-digit values."""
    out = []
    for c, reference in enumerate(REFERENCE_FMNIST):
        for key, expected in zip(("mean", "std", "lcn_min", "lcn_max"), reference, strict=True):
            value = block[key][c][0]
            if _round_sig(value) != expected:
                out.append(f"class {c} {key}: computed {value:.6g}, reference {expected}")
    return out


def dumps(table: dict[str, Any]) -> str:
    """JSON with one line per innermost list, so each class's values stay on one line."""
    text = json.dumps(table, indent=2)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Compute, compare with the reference, and optionally write the Fashion-MNIST block."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the IDX files (default: fallbacks)")
    parser.add_argument("--write", action="store_true", help=f"update {CONSTANTS_PATH.name} in place")
    args = parser.parse_args(argv)
    train_images, train_labels, _, _ = fmnist.load_arrays(args.data_dir)
    block = fmnist_constants(train_images, train_labels)
    for c in range(len(fmnist.CLASS_NAMES)):
        values = "  ".join(f"{key}={block[key][c][0]:.8f}" for key in block)
        print(f"class {c} ({fmnist.CLASS_NAMES[c]}): {values}")
    bad = mismatches(block)
    if bad:
        print("disagrees with the reference:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    print("all values agree with the reference to 4 significant digits")
    if args.write:
        table = json.loads(CONSTANTS_PATH.read_text(encoding="utf-8"))
        table["fmnist"] = {"source": FMNIST_SOURCE, **block}
        CONSTANTS_PATH.write_text(dumps(table), encoding="utf-8")
        print(f"wrote {CONSTANTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
