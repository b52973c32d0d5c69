"""The one image path: which files are images, listing them, opening and converting them (16-bit
greyscale scaled, bombs and corrupt files one line), decoding many in threads, square geometry.

Every reader (datasets, masks, outlier exposure, explain) goes through this module: no other
module opens image files with PIL, lists image folders or builds its own decoding thread pool
(``tests/test_image_path.py`` checks it).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from fcdd.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")

# Suffixes PIL decodes that image folders hold in practice; compared case-insensitively.
IMAGE_EXTENSIONS = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})
# Decoding threads at most: PIL releases the GIL while decoding and resizing, but beyond this
# the threads only contend for memory bandwidth.
MAX_DECODE_WORKERS = 16
# Files submitted ahead of the one being handed out, per worker: enough to keep every thread
# busy, few enough that an endless stream (or a failing file) leaves little queued work.
_LOOKAHEAD = 4


def is_image_name(name: str | Path) -> bool:
    """Whether a file name has an image suffix and is not hidden.

    Hidden files include macOS AppleDouble files (``._photo.png``: a few bytes of metadata that
    copying to a non-Mac disk leaves beside each image), which no decoder reads.
    """
    base = os.path.basename(name)
    return not base.startswith(".") and os.path.splitext(base)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """The image files in ``folder`` (:func:`is_image_name`), below it too when ``recursive``, sorted.

    Hidden folders are skipped like hidden files, and linked folders below ``folder`` are not
    followed (no cycles); linked files are listed. The order is the tree's, each folder's entries
    by name (``sorted`` of the paths), so the same folder always gives the same images in the
    same order.
    """
    return [Path(directory, name) for directory, name in iter_images(folder, recursive=recursive)]


def iter_images(folder: str | Path, *, recursive: bool = True) -> Iterator[tuple[str, str]]:
    """:func:`list_images` as ``(folder, file name)`` strings: cheaper where a tree holds millions of files."""
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                yield from iter_images(entry.path, recursive=True)
        elif is_image_name(entry.name) and entry.is_file():
            yield os.fspath(folder), entry.name


def decode_workers() -> int:
    """How many threads decode images: the CPUs this process may use, plus a few to hide file latency."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_DECODE_WORKERS, cpus + 4)


def decode_in_threads(
    decode: Callable[[T], R], items: Iterable[T], *, workers: int | None = None
) -> Generator[R, None, None]:
    """``decode`` of every item, computed in :func:`decode_workers` threads and handed out in order.

    ``items`` may be endless (a stream): only a few are submitted ahead. When ``decode`` raises,
    or the caller stops iterating, the queued items are dropped instead of decoded.
    """
    count = workers or decode_workers()
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="fcdd-decode") as pool:
        try:
            for item in items:
                pending.append(pool.submit(decode, item))
                if len(pending) >= _LOOKAHEAD * count:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def decode_all(
    paths: Sequence[Path],
    decode_one: Callable[[Path], np.ndarray],
    shape: tuple[int, int, int],
    *,
    skip_broken: bool = False,
    show_progress: bool = True,
    desc: str = "decoding images",
) -> tuple[np.ndarray, list[int]]:
    """Decode ``paths`` in threads into one uint8 ``(K, C, H, W)`` array; also returns the indices decoded.

    ``decode_one`` returns an ``(H, W[, C])`` uint8 array or raises ``ValueError``. A broken file
    raises unless ``skip_broken``, which leaves it out (K <= len(paths)).
    """
    c, h, w = shape
    out = np.empty((len(paths), c, h, w), dtype=np.uint8)
    ok = [False] * len(paths)

    def work(i: int) -> None:
        try:
            array = decode_one(paths[i])
        except ValueError:
            if skip_broken:
                return
            raise
        out[i] = array.reshape(h, w, c).transpose(2, 0, 1)
        ok[i] = True

    jobs = decode_in_threads(work, range(len(paths)))
    for _ in progress_bar(jobs, total=len(paths), desc=desc, unit="img", show=show_progress):
        pass
    kept = [i for i, good in enumerate(ok) if good]
    return (out if len(kept) == len(paths) else out[kept]), kept


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


def read_size(path: str | Path, what: str = "image") -> tuple[int, int]:
    """(width, height) of an image file from its header, without decoding its pixels."""
    with open_image(path, what) as image:
        return image.size


def decode_resized(path: Path, size: tuple[int, int], mode: str = "RGB") -> np.ndarray:
    """An image file as a uint8 ``(H, W[, C])`` array in ``mode``, resized straight to ``size`` = (H, W).

    Bilinear and antialiased; the aspect ratio is not kept (the original's outlier-exposure path).
    Raises a one-line ``ValueError`` naming the file when it cannot be decoded.
    """
    height, width = size
    with open_image(path) as image:
        # JPEGs can be decoded at 1/2..1/8 scale in the DCT domain; keeping at least twice
        # the target size leaves the antialiased resize below nearly unchanged, and makes
        # large photos (ImageNet) several times cheaper to decode. The colour mode is kept:
        # libjpeg's own greyscale output differs from PIL's RGB -> 'L' by up to ~9 levels.
        image.draft(image.mode, (2 * width, 2 * height))
        resized = convert(image, mode).resize((width, height), Image.Resampling.BILINEAR)
        return np.array(resized, dtype=np.uint8)  # a writable copy for torch.from_numpy


def decode_short_side(path: Path, size: int | tuple[int, int], mode: str = "RGB") -> np.ndarray:
    """Decode an image, resize it (bilinear) to cover ``size`` (H, W) and centre-crop it to that.

    For a square ``size`` this is torchvision's ``Resize(side)`` + ``CenterCrop(side)``: the
    short side becomes ``side`` and the long one is truncated to ``int(side * long / short)``.
    Raises a one-line ``ValueError`` naming the file when it cannot be decoded.
    """
    height, width = (size, size) if isinstance(size, int) else size
    with open_image(path) as image:
        w, h = image.size
        if w * height <= h * width:  # relatively taller than the target: fit the width
            new_w, new_h = width, max(height, int(width * h / w))
        else:
            new_w, new_h = max(width, int(height * w / h)), height
        # Decode JPEGs at a reduced DCT scale, at least twice the target (see decode_resized).
        image.draft(image.mode, (2 * new_w, 2 * new_h))
        resized = convert(image, mode).resize((new_w, new_h), Image.Resampling.BILINEAR)
        left, top = round((new_w - width) / 2), round((new_h - height) / 2)
        return np.array(resized.crop((left, top, left + width, top + height)), dtype=np.uint8)


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
