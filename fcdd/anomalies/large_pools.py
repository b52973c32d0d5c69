"""Outlier pools of the large datasets of the paper's runs (FCDD method notes §5.2, §5.4).

Each loader reads one dataset in its own layout; unlike the small pools of
:mod:`fcdd.anomalies.outlier_exposure` (any folder, CIFAR-100), these are capped to fit in
memory. Which ``noise_mode`` uses which pool is said in :mod:`fcdd.anomalies.oe_modes`.

* :func:`load_emnist_pool`: EMNIST ``letters`` train split (the ``emnist`` noise mode).
* :func:`load_imagenet22k_pool`: an extracted ImageNet-22k (fall 2011) folder, without the
  ImageNet-30 classes (``imagenet22k``; the default OE of the ImageNet-30 runs).
* :func:`load_imagenet1k_val_pool`: the ImageNet-1k val split, optionally without every class
  named by some words (``imagenet``; the Pascal VOC run drops the VOC classes).

Each returns an :class:`OutlierPool` held in memory, so, unlike the original (which read one
image at a time), a pool cannot hold all of a 14-million-image folder: without ``limit`` a pool
larger than :data:`MAX_POOL_BYTES` is cut to a seeded random subset that fits, with a warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

import torch

from fcdd.anomalies.outlier_exposure import OutlierPool, check_pool_shape, resize_uint8, seeded_subset
from fcdd.data import imagenet
from fcdd.data.idx import read_idx
from fcdd.data.imagenet_classes import IMAGENET30_WNIDS, imagenet1k_classes, wnids_named_by
from fcdd.data.images import (
    IMAGE_EXTENSIONS,
    decode_all,
    decode_resized,
    decode_short_side,
    is_image_name,
    iter_images,
    list_images,
)

log = logging.getLogger(__name__)

MAX_POOL_BYTES = 4 * 2**30
EMNIST_FILE = "emnist-letters-train-images-idx3-ubyte"
FILELIST_CACHE = ".fcdd_filelist.json"
_FILELIST_VERSION = 1


def pool_limit(count: int, limit: int | None, shape: tuple[int, int, int], what: str) -> int | None:
    """``limit``; or, when None and ``count`` images of ``shape`` exceed :data:`MAX_POOL_BYTES`, the most that fit."""
    if limit is not None:
        return limit
    fit = MAX_POOL_BYTES // math.prod(shape)
    if count <= fit:
        return None
    log.warning(
        "%s has %d images, %.1f GiB at %s, too many to hold in memory; drawing %d of them (set --oe-limit to choose)",
        what,
        count,
        count * math.prod(shape) / 2**30,
        tuple(shape),
        fit,
    )
    return fit


# --- EMNIST ------------------------------------------------------------------------------------


def emnist_search_dirs(root: str | Path) -> list[Path]:
    """Folders searched for the EMNIST IDX file: torchvision's layout, the original's, ``root``."""
    root = Path(root)
    return [root / "EMNIST" / "raw", root / "emnist" / "EMNIST" / "raw", root]


def find_emnist(root: str | Path) -> Path | None:
    """The EMNIST letters IDX file (plain or gzipped) in the first of :func:`emnist_search_dirs` holding it."""
    for directory in emnist_search_dirs(root):
        for name in (EMNIST_FILE, f"{EMNIST_FILE}.gz"):
            if (directory / name).is_file():
                return directory / name
    return None


def load_emnist_pool(
    root: str | Path,
    shape: tuple[int, int, int],
    *,
    limit: int | None = None,
    seed: int = 0,
    download: bool = False,
) -> OutlierPool:
    """EMNIST ``letters`` train split (124 800 handwritten letters) as an :class:`OutlierPool` at ``shape``.

    Reads torchvision's raw IDX file ``<root>/EMNIST/raw/emnist-letters-train-images-idx3-ubyte[.gz]``;
    ``download=True`` fetches it with torchvision when missing. EMNIST stores images transposed,
    so they are transposed back; other sizes than 28×28 are resized bilinearly (antialiased), and
    the grey value is repeated for C=3.
    """
    c, h, w = check_pool_shape(shape)
    path = find_emnist(root)
    if path is None and download:
        from torchvision.datasets import EMNIST  # deferred: only needed for downloads

        log.info("downloading EMNIST to %s", root)
        EMNIST(str(root), split="letters", train=True, download=True)
        path = find_emnist(root)
    if path is None:
        searched = ", ".join(str(d) for d in emnist_search_dirs(root))
        raise FileNotFoundError(
            f"EMNIST file {EMNIST_FILE}[.gz] not found in {searched}; pass --download, or put torchvision's "
            "EMNIST/raw/ folder under the data dir"
        )
    data = read_idx(path)
    if data.dim() != 3 or tuple(data.shape[1:]) != (28, 28) or data.dtype != torch.uint8:
        raise ValueError(
            f"{path} holds {data.dtype} of shape {tuple(data.shape)}, expected uint8 (N, 28, 28); replace it"
        )
    keep = seeded_subset(data.shape[0], pool_limit(data.shape[0], limit, (c, h, w), "EMNIST"), seed)
    images = data[keep].transpose(1, 2).unsqueeze(1)
    if (h, w) != (28, 28):
        images = resize_uint8(images, h, w)
    log.info("outlier pool: %d EMNIST letters at %s", images.shape[0], (c, h, w))
    return OutlierPool(images.expand(-1, c, -1, -1).contiguous())


# --- ImageNet-22k ------------------------------------------------------------------------------


def _signature(root: Path) -> list[list[object]]:
    """Name and modification time of every top-level entry: changes when a class folder is added,
    removed or its files change (22k folders are one level deep)."""
    signature: list[list[object]] = []
    with os.scandir(root) as entries:
        for entry in entries:
            try:
                if entry.name != FILELIST_CACHE and not entry.name.startswith(f"{FILELIST_CACHE}."):
                    signature.append([entry.name, entry.stat().st_mtime_ns])
            except OSError:  # a dangling link: not listed by _walk either
                continue
    return sorted(signature)


def _walk(root: Path) -> dict[str, list[str]]:
    """Image file names per folder (relative posix path, "." for ``root``), all sorted."""
    folders: dict[str, list[str]] = {}
    with os.scandir(root) as entries:
        tops = sorted(entries, key=lambda e: e.name)
    for top in tops:
        if top.name.startswith("."):
            continue
        if top.is_file():
            if is_image_name(top.name):
                folders.setdefault(".", []).append(top.name)
        elif top.is_dir():  # top-level class folders may be links (iter_images follows none below them)
            last, names = "", []
            for directory, name in iter_images(top.path):
                if directory != last:  # one relative path per folder, not per file: trees hold millions
                    last, names = directory, folders.setdefault(Path(directory).relative_to(root).as_posix(), [])
                names.append(name)
    return folders


# Lists of folders where the cache file cannot be written, keyed by (folder, signature).
_UNWRITABLE_CACHE: dict[tuple[str, str], dict[str, list[str]]] = {}


def image_files(root: Path) -> dict[str, list[str]]:
    """:func:`_walk` of ``root``, cached in ``root/.fcdd_filelist.json`` (in memory when not writable).

    Listing millions of files takes minutes; the cache is reused while no top-level entry changes.
    """
    signature = _signature(root)
    cache = root / FILELIST_CACHE
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("version") == _FILELIST_VERSION and stored.get("signature") == signature:
            return dict(stored["folders"])
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    key = (str(root.resolve()), json.dumps(signature))
    if key in _UNWRITABLE_CACHE:
        return _UNWRITABLE_CACHE[key]
    folders = _walk(root)
    temp = cache.with_name(f"{FILELIST_CACHE}.{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps({"version": _FILELIST_VERSION, "signature": signature, "folders": folders}))
        os.replace(temp, cache)  # atomic: concurrent trials never read a half-written list
    except OSError as err:
        log.info("cannot cache the file list in %s (%s); keeping it in memory", cache, err)
        temp.unlink(missing_ok=True)
        _UNWRITABLE_CACHE[key] = folders
    return folders


def load_imagenet22k_pool(
    folder: str | Path,
    shape: tuple[int, int, int],
    *,
    limit: int | None = None,
    seed: int = 0,
    exclude_wnids: Iterable[str] = IMAGENET30_WNIDS,
    show_progress: bool = True,
) -> OutlierPool:
    """Images of an extracted ImageNet-22k folder (``<folder>/<wnid>/*.JPEG``) as an :class:`OutlierPool`.

    Files whose path (relative to ``folder``) contains an excluded WordNet id are dropped first
    (by default the 30 ImageNet-30 classes, the test classes of the ImageNet runs); then a seeded
    subset of ``limit`` is drawn. Each image's short side is resized to the pool size and the
    centre cropped. Files that cannot be decoded are skipped with a logged count (the original
    used black images in their place); it is an error only when none decodes.
    """
    c, h, w = check_pool_shape(shape)
    root = Path(folder)
    files = imagenet22k_files(root, exclude_wnids)
    keep = seeded_subset(len(files), pool_limit(len(files), limit, (c, h, w), "ImageNet-22k"), seed)
    paths = [files[i] for i in keep.tolist()]
    mode = "L" if c == 1 else "RGB"
    images, kept = decode_all(
        paths,
        lambda p: decode_short_side(p, (h, w), mode),
        (c, h, w),
        skip_broken=True,
        show_progress=show_progress and len(paths) >= 256,
        desc="ImageNet-22k outlier images",
    )
    if not kept:
        raise ValueError(f"none of the {len(paths)} images drawn from {str(root)!r} could be decoded; check the folder")
    if len(kept) < len(paths):
        log.warning(
            "skipped %d of %d ImageNet-22k images that could not be decoded", len(paths) - len(kept), len(paths)
        )
    log.info("outlier pool: %d ImageNet-22k images (of %d kept) at %s", len(kept), len(files), shape)
    return OutlierPool(torch.from_numpy(images))


def imagenet22k_files(folder: str | Path, exclude_wnids: Iterable[str] = IMAGENET30_WNIDS) -> list[Path]:
    """Every image of an extracted ImageNet-22k folder, sorted, without paths that hold an excluded WordNet id.

    By default the 30 ImageNet-30 classes are excluded: the test classes of the ImageNet runs.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet-22k folder {str(root)!r} does not exist; pass the extracted <wnid>/ folders")
    folders = image_files(root)
    excluded = sorted({x.strip() for x in exclude_wnids} - {""})
    pattern = re.compile("|".join(map(re.escape, excluded))) if excluded else None
    total, files = 0, []
    for name, names in sorted(folders.items()):
        total += len(names)
        prefix = "" if name == "." else f"{name}/"
        if pattern is None or not pattern.search(name):
            files += [prefix + f for f in names if pattern is None or not pattern.search(f)]
    if not files:
        what = (
            f"after excluding {len(excluded)} WordNet ids"
            if total
            else f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
        raise ValueError(f"no images in ImageNet-22k folder {str(root)!r} {what}; pass the extracted <wnid>/ folders")
    log.info("ImageNet-22k: %d images listed, %d kept after excluding %d WordNet ids", total, len(files), len(excluded))
    return [root / f for f in files]


# --- ImageNet-1k val ---------------------------------------------------------------------------


def load_imagenet1k_val_pool(
    root: str | Path,
    shape: tuple[int, int, int],
    *,
    limit: int | None = None,
    seed: int = 0,
    exclude_words: Iterable[str] = (),
    download: bool = False,
    show_progress: bool = True,
) -> OutlierPool:
    """ImageNet-1k val images (``<root>/val/<wnid>/*.JPEG``) as an :class:`OutlierPool` at ``shape``.

    Every class whose synonyms contain one of ``exclude_words`` as a whole word is dropped
    (see :func:`~fcdd.data.imagenet_classes.wnids_named_by`) *before* the seeded ``limit``
    subset is drawn; the original drew the subset from the unfiltered list, losing the
    exclusion (§9.1 item 9). Images are resized straight to (H, W), as in the original.
    ``download=True`` extracts the val archive in ``root`` when the folder is missing.
    """
    c, h, w = check_pool_shape(shape)
    val = imagenet.split_dir(root, "val", download=download)
    wnids = sorted(d.name for d in val.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not wnids:
        raise ValueError(f"no class folders in {val}; expected {imagenet.LAYOUT}")
    words = tuple(exclude_words)
    dropped = wnids_named_by(words)
    unknown = [x for x in wnids if x not in imagenet1k_classes()]
    if unknown and words:
        log.warning("%d folders of %s are not ImageNet-1k classes and cannot be excluded by name", len(unknown), val)
    files = [p for wnid in wnids if wnid not in dropped for p in list_images(val / wnid, recursive=False)]
    if not files:
        raise ValueError(
            f"no images left in {val} after excluding the classes named by {', '.join(words)}; "
            f"expected {imagenet.LAYOUT}"
        )
    keep = seeded_subset(len(files), pool_limit(len(files), limit, (c, h, w), "ImageNet-1k val"), seed)
    paths = [files[i] for i in keep.tolist()]
    mode = "L" if c == 1 else "RGB"
    images, _ = decode_all(
        paths,
        lambda p: decode_resized(p, (h, w), mode),
        (c, h, w),
        show_progress=show_progress and len(paths) >= 256,
        desc="ImageNet-1k outliers",
    )
    excluded = sum(x in dropped for x in wnids)
    log.info("outlier pool: %d ImageNet-1k val images (%d classes excluded) at %s", len(paths), excluded, shape)
    return OutlierPool(torch.from_numpy(images))
