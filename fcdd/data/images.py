"""Image files for every reader (datasets, masks, outlier exposure, explain): which files count, how they
open and convert (16-bit greyscale scaled, bombs and corrupt files one line), square geometry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Suffixes PIL decodes that image folders hold in practice; compared case-insensitively.
IMAGE_EXTENSIONS = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})


def is_image_name(name: str | Path) -> bool:
    """Whether a file name has an image suffix and is not hidden (macOS ``._*`` files and the like)."""
    path = Path(name)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def center_square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the central square whose side is the image's short side."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def fit_square(image: Any, size: int, resample: Any) -> Any:
    """A PIL image as ``size`` x ``size``: its central square (short side) resized, aspect ratio kept.

    The original's "Resize(short side) + CenterCrop" for custom folders; unlike squashing the whole
    image into a square, a non-square image keeps its proportions.
    """
    return image.crop(center_square_box(*image.size)).resize((size, size), resample)


# What PIL raises for a file that is not a decodable image (a decompression bomb included).
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
)

# Integer modes PIL gives 16-bit greyscale files (PNG, TIFF); "I" is 32-bit and holds either.
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@contextmanager
def open_image(path: str | Path, what: str = "image") -> Iterator[Image.Image]:
    """Open an image file; any way it cannot be read is a one-line ``ValueError`` naming the file.

    PIL refuses images above ``Image.MAX_IMAGE_PIXELS`` × 2 as decompression bombs already when
    the header is read, before any memory is spent; that is reported like a corrupt file.
    """
    try:
        with Image.open(path) as image:
            yield image
    except DECODE_ERRORS as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"cannot decode {what} {path}: {reason}; replace or remove the file") from None


def survey(paths: Sequence[Path], what: str = "image") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The distinct sizes (``"WxH"``) and PIL modes of image files, each file's structure verified.

    Reads headers and checks each file's structure (PNG checksums) without decoding its pixels,
    so a corrupt or truncated file is found before a run decodes thousands of others.
    """
    sizes: dict[str, None] = {}
    modes: dict[str, None] = {}
    for path in paths:
        with open_image(path, what) as image:
            sizes[f"{image.width}x{image.height}"] = None
            modes[image.mode] = None
            image.verify()
    return tuple(sizes), tuple(modes)


def convert(image: Image.Image, mode: str) -> Image.Image:
    """``image.convert(mode)``, but 16-bit greyscale is scaled to 8 bits instead of clipped to white.

    PIL's own conversion of ``I;16`` saturates every value above 255, so a 16-bit PNG (depth
    cameras, industrial sensors, many medical formats) would become an almost white image.
    """
    if image.mode in _WIDE_MODES:
        values = np.asarray(image).astype(np.float64)
        wide = image.mode != "I" or values.max(initial=0) > 255
        scaled = np.round(values / 257.0) if wide else values
        image = Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L")
    elif image.mode == "F":  # 32-bit float images: as PIL does, but clipped explicitly
        image = Image.fromarray(np.asarray(image).clip(0, 255).astype(np.uint8), "L")
    return image.convert(mode)


# Share of a mask's pixels allowed to be neither 0 nor the mask's maximum (anti-aliased edges);
# more means the file is a photo or a soft mask rather than a binary one.
GREY_TOLERANCE = 0.01


def binary_mask(grey: np.ndarray, path: str | Path, what: str = "mask") -> np.ndarray:
    """A greyscale mask as uint8 {0, 1} (pixels > 0 are anomalous); a mask that is not binary is refused.

    Every mask reader (MVTec masks, custom ground-truth maps) applies the same rule, so one file
    is accepted or refused alike by all of them.
    """
    top = int(grey.max(initial=0))
    if top > 0:
        grey_share = float(((grey != 0) & (grey != top)).mean())
        if grey_share > GREY_TOLERANCE:
            raise ValueError(
                f"{what} {path} is not binary: {grey_share:.1%} of its pixels are neither 0 nor {top}; "
                "save masks as black (nominal) / white (anomalous) images, e.g. PNG"
            )
    return (grey > 0).astype(np.uint8)
