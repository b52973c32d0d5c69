"""Which files count as images, for every folder reader (datasets, masks, outlier exposure)."""

from __future__ import annotations

from pathlib import Path

# Suffixes PIL decodes that image folders hold in practice; compared case-insensitively.
IMAGE_EXTENSIONS = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})


def is_image_name(name: str | Path) -> bool:
    """Whether a file name has an image suffix and is not hidden (macOS ``._*`` files and the like)."""
    path = Path(name)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
