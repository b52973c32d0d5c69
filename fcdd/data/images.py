"""Which files count as images, for every folder reader (datasets, masks, outlier exposure); square geometry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
