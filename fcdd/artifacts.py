"""Writing run artifacts: atomic JSON, NPZ, PNG, figure and checkpoint files, and reading them back.

Every file is written to a temporary name in the same folder and renamed into place, so a crash
or a kill never leaves a half-written file behind under the final name.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:  # torch is imported where a checkpoint is read or written: `fcdd report` never loads it
    from torch import Tensor

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

HEATMAP_GRID = "heatmaps_test.png"  # a run's test heatmaps, the picture a search trial is judged by at a glance


def check_writable(out: Path, flag: str = "--out") -> None:
    """``out`` is a folder or can become one, in a location this process can write.

    Probes the first existing ancestor with a temporary folder that is removed at once: a
    read-only file system, ``/sys`` or missing permissions fail here rather than mid-run.
    """
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{flag} {out} is a file, not a folder; pass a folder for the results")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(
            f"{flag} {out}: {ancestor} is a file, so no folder can be made there; pass another {flag}"
        )
    try:
        probe = tempfile.mkdtemp(prefix=".fcdd-write-probe-", dir=ancestor)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(
            f"{flag} {out} is not writable ({reason} in {ancestor}); pass a folder you can write"
        ) from None
    os.rmdir(probe)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: NaN/inf become None, tuples lists, keys strings, numpy scalars numbers, paths text.

    JSON has no NaN: null says "not available", which is what a NaN AUC means here. The one
    sanitiser of everything fcdd and the orchestrator write as JSON.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars from metric code
        return jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


def write_bytes(path: Path, data: bytes) -> Path:
    """A binary file (an encoded PNG, a copy), written atomically."""
    return atomic_write(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> Path:
    """A text file, written atomically."""
    return atomic_write(path, lambda f: f.write(text), mode="w")


def write_json(path: Path, data: Any) -> Path:
    """Pretty JSON, NaN/inf written as null."""
    return write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Compressed NumPy archive."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **cast(dict[str, Any], arrays))  # numpy's stubs read **arrays as allow_pickle
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def write_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """A torch checkpoint of state dicts and plain values (loadable with weights_only=True)."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


class CheckpointError(ValueError):
    """A ``snapshot.pt`` that cannot be used: corrupt, empty, another program's, or holding code."""


def read_checkpoint(path: Path, fix: str = "delete it or pass --restart") -> dict[str, Any]:
    """Load a run's checkpoint without unpickling arbitrary objects; any unusable file is one ``CheckpointError``.

    ``weights_only`` refuses every global but tensors and plain containers, so a tampered file
    cannot run code; ``fix`` ends the message (what the caller's user can do about it).
    """
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" in str(error).lower():  # torch refused a global (a function to call): it would have run code
            raise CheckpointError(
                f"checkpoint {path} holds objects other than tensors and was not loaded; {fix}"
            ) from None
        raise CheckpointError(f"checkpoint {path} cannot be read (not a torch file); {fix}") from None
    except Exception as error:  # an untrusted file: whatever torch.load raises means "unreadable"
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason}); {fix}") from None
    if not isinstance(state, dict) or not isinstance(state.get("net"), dict):
        raise CheckpointError(f"checkpoint {path} is not an fcdd snapshot (no network weights in it); {fix}")
    return state


def image_to_pil(image: Tensor, row_labels: list[tuple[int, str]] | None = None, margin: int = 0) -> PILImage:
    """(3, H, W) float [0, 1] → PIL image, optionally with text labels in a left margin.

    ``row_labels`` holds (y position, text) pairs drawn into a white margin of ``margin`` pixels.
    """
    from PIL import Image, ImageDraw

    array = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array)
    if not row_labels:
        return picture
    canvas = Image.new("RGB", (picture.width + margin, picture.height), "white")
    canvas.paste(picture, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for y, text in row_labels:
        draw.text((3, y), text, fill="black")
    return canvas


def write_png(path: Path, image: Tensor, row_labels: list[tuple[int, str]] | None = None, margin: int = 0) -> Path:
    """Save a (3, H, W) float image in [0, 1] as PNG."""
    picture = image_to_pil(image, row_labels, margin)
    return atomic_write(path, lambda f: picture.save(f, format="PNG"))


def write_figure(path: Path, figure: Any) -> Path:
    """Save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda f: figure.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(figure)


def read_metrics(run_dir: str | Path) -> dict[str, Any] | None:
    """The metrics of a finished run folder, or None when the run did not finish."""
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        return None
    metrics: dict[str, Any] = json.loads(path.read_text())
    return metrics
