"""ImageNet-30: one-vs-rest over 30 ImageNet-1k classes (FCDD method notes §4.1, §4.2).

Data layout under the data dir (``<root>`` or ``<root>/imagenet``)::

    train/<wnid>/*.JPEG     ImageNet-1k train images, one folder per class
    val/<wnid>/*.JPEG       ImageNet-1k val images, sorted into class folders

Only the 30 ImageNet-30 folders are read. With ``download=True`` (``--download``), the
official archives in the same folder (``ILSVRC2012_img_train.tar``, ``ILSVRC2012_img_val.tar``,
``ILSVRC2012_devkit_t12.tar.gz``) are extracted into that layout once with torchvision's
ImageNet parsers; nothing is fetched from the internet (ImageNet needs a manual download).

* Train: the nominal class's train images (~1300).
* Test: the val images of the 30 classes (50 each) in one fixed, seeded random order
  (:data:`TEST_ORDER_SEED`). The original shipped its own order file; it indexes the original's
  file list and is not reused, so figures pick different (but again fixed) test images.
* ``train_anomalies``: a fixed seeded sample of at most ``anomalies_per_class`` train images
  of each other class (all 29 × 1300 would take ~7 GB at 256²); for validation splits.

Images are stored at the raw size ``image_size * 256/224`` (256 for the default input of 224):
short side resized to it, then centre-cropped square so that they stack into one tensor. The
original resizes the short side only and random-crops 224 from the whole non-square image; the
test path (resize, centre crop 224) is identical.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from fcdd.data.base import ADData, DatasetLoader, always_one_vs_rest, fixed_classes, square_shape
from fcdd.data.imagenet_classes import IMAGENET30, IMAGENET30_NAMES
from fcdd.data.images import decode_all, decode_short_side, list_images
from fcdd.data.preprocess import Recipe, build_preprocessing

log = logging.getLogger(__name__)

NAME = "imagenet"
CLASS_NAMES: tuple[str, ...] = IMAGENET30_NAMES
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
DEFAULT_IMAGE_SIZE = 224
RAW_RATIO = 256 / 224  # the original resizes to 256 and crops 224
TEST_ORDER_SEED = 0
ANOMALY_SAMPLE_SEED = 0
TRAIN_ANOMALIES_PER_CLASS = 50
ARCHIVES = {"train": "ILSVRC2012_img_train.tar", "val": "ILSVRC2012_img_val.tar"}
DEVKIT_ARCHIVE = "ILSVRC2012_devkit_t12.tar.gz"
META_FILE = "meta.bin"  # what torchvision's devkit parser writes: wnid -> names, val wnids
LAYOUT = "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG (or the ILSVRC2012 archives in <root>)"
# The first recipe is the default. Unlike the original, "none" normalises with the ImageNet
# mean/std per channel (the original indexed them by class, an IndexError for classes >= 3).
RECIPES: dict[str, Recipe] = {
    "aug1": Recipe(augment=True, hflip=True, jitter=0.01, noise=0.001),
    "none": Recipe(),
}


def raw_size_for(image_size: int) -> int:
    """Side of the stored square images for a network input of ``image_size``."""
    return round(image_size * RAW_RATIO)


def find_root(root: str | Path) -> Path:
    """``root`` or ``root/imagenet``, whichever holds the extracted folders or the archives."""
    root = Path(root)
    names = ("train", "val", *ARCHIVES.values())
    for candidate in (root, root / "imagenet"):
        if any((candidate / n).exists() for n in names):
            return candidate
    return root


def prepare(root: str | Path, splits: Sequence[str] = ("train", "val")) -> None:
    """Extract the ILSVRC2012 archives in ``root`` into ``root/<split>/<wnid>/`` for each missing split.

    Uses torchvision's parsers (which check the archives' MD5 sums first; the train archive
    is ~140 GB, so this takes a long time, once). The val split needs the devkit archive too.
    """
    from torchvision.datasets import imagenet as tv  # deferred: only needed to extract archives

    root = Path(root)
    for split in splits:
        if (root / split).is_dir():
            continue
        archive = root / ARCHIVES[split]
        if not archive.is_file():
            raise FileNotFoundError(
                f"ImageNet {split} split not found: neither {root / split}/ nor {archive}; expected {LAYOUT}"
            )
        try:
            if split == "val" and not (root / META_FILE).is_file():
                if not (root / DEVKIT_ARCHIVE).is_file():
                    raise FileNotFoundError(
                        f"{root / DEVKIT_ARCHIVE} is missing; it says which class each val image belongs to, "
                        "put it next to the val archive"
                    )
                log.warning("parsing %s", root / DEVKIT_ARCHIVE)
                tv.parse_devkit_archive(str(root))
            log.warning("extracting %s into %s (one time; this takes a while)", archive, root / split)
            (tv.parse_train_archive if split == "train" else tv.parse_val_archive)(str(root))
        except RuntimeError as err:  # torchvision's "archive ... not present ... or is corrupted"
            raise ValueError(
                f"cannot extract {archive}: {' '.join(str(err).split())}; download it again, "
                f"and delete the partial {root / split}/ folder"
            ) from err


def split_dir(root: str | Path | None, split: str, *, download: bool = False) -> Path:
    """The extracted ``<root>/<split>`` folder; with ``download`` the archives are extracted first."""
    if root is None:
        raise ValueError(f"dataset {NAME!r} needs a data dir; pass --data-dir DIR holding {LAYOUT}")
    base = find_root(root)
    if not (base / split).is_dir():
        if download:
            prepare(base, (split,))
        elif (base / ARCHIVES[split]).is_file():
            raise FileNotFoundError(
                f"found {base / ARCHIVES[split]} but no extracted {base / split}/ folder; pass --download "
                "to extract the ImageNet archives once (torchvision's parsers), or extract them yourself"
            )
        else:
            raise FileNotFoundError(f"ImageNet {split} folder {base / split} does not exist; expected {LAYOUT}")
    return base / split


def class_files(folder: Path, wnids: Sequence[str], names: Sequence[str]) -> list[list[Path]]:
    """The image files of each class folder ``folder/<wnid>``; one-line error naming any missing class."""
    missing = [f"{w} ({n})" for w, n in zip(wnids, names, strict=True) if not (folder / w).is_dir()]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise FileNotFoundError(
            f"{folder} lacks {len(missing)} of the {len(wnids)} ImageNet-30 class folders: {shown}; expected {LAYOUT}"
        )
    files = [list_images(folder / w, recursive=False) for w in wnids]
    empty = [f"{w} ({n})" for w, n, f in zip(wnids, names, files, strict=True) if not f]
    if empty:
        raise ValueError(
            f"no images in {len(empty)} class folders of {folder}: {', '.join(empty[:8])}; expected {LAYOUT}"
        )
    return files


def seeded_sample(files: Sequence[Path], k: int, generator: torch.Generator) -> list[Path]:
    """At most ``k`` of ``files``, drawn without replacement, in their original order."""
    if k >= len(files):
        return list(files)
    pick = torch.randperm(len(files), generator=generator)[:k].sort().values
    return [files[i] for i in pick.tolist()]


def _test_split(val: list[list[Path]]) -> tuple[list[Path], Tensor]:
    """The val images of the 30 classes and their class indices, in the fixed seeded test order."""
    paths = [p for files in val for p in files]
    targets = torch.tensor([c for c, files in enumerate(val) for _ in files], dtype=torch.int64)
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(TEST_ORDER_SEED))
    return [paths[i] for i in order.tolist()], targets[order]


def _decode_square(paths: list[Path], raw: int, what: str, show_progress: bool) -> Tensor:
    """Image files as uint8 ``(N, 3, raw, raw)``: short side resized to ``raw``, centre cropped."""
    shown = show_progress and len(paths) >= 256
    images, _ = decode_all(paths, lambda p: decode_short_side(p, raw), (3, raw, raw), show_progress=shown, desc=what)
    return torch.from_numpy(images)


classes = fixed_classes(CLASS_NAMES)


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "aug1",
    download: bool = False,
    one_vs_rest: bool = True,
    image_size: int | None = None,
    anomalies_per_class: int = TRAIN_ANOMALIES_PER_CLASS,
    show_progress: bool = True,
) -> ADData:
    """ImageNet-30 as a one-vs-rest problem with ``normal_class`` nominal (see the module docstring).

    ``image_size`` is the network input (default 224); images are stored at ``raw_size_for``
    of it. ``anomalies_per_class=0`` leaves ``train_anomalies`` None.
    """
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if size < 1:
        raise ValueError(f"`image_size` must be >= 1, got {size}")
    if not 0 <= normal_class < len(CLASS_NAMES):
        raise ValueError(f"`normal_class` for {NAME} must be in [0, {len(CLASS_NAMES)}), got {normal_class}")
    if anomalies_per_class < 0:
        raise ValueError(f"`anomalies_per_class` must be >= 0, got {anomalies_per_class}")
    wnids = [w for _, w in IMAGENET30]
    # Check both splits before any slow decoding.
    train = class_files(split_dir(root, "train", download=download), wnids, CLASS_NAMES)
    val = class_files(split_dir(root, "val", download=download), wnids, CLASS_NAMES)

    test_paths, test_targets = _test_split(val)

    # Drawn for all 30 classes in turn, so each class's sample is the same whichever class is nominal.
    generator = torch.Generator().manual_seed(ANOMALY_SAMPLE_SEED)
    samples = [seeded_sample(files, anomalies_per_class, generator) for files in train]
    others = [p for c, files in enumerate(samples) if c != normal_class for p in files]

    raw = raw_size_for(size)
    shape = (3, raw, raw)

    def decode(paths: list[Path], what: str) -> Tensor:
        return _decode_square(paths, raw, what, show_progress)

    log.info(
        "reading ImageNet-30 class %d (%s) from %s", normal_class, CLASS_NAMES[normal_class], find_root(root or ".")
    )
    pre = build_preprocessing(
        preprocessing, NAME, normal_class, shape, input_size=size, mean=MEAN, std=STD, recipes=RECIPES
    )
    return ADData(
        name=NAME,
        class_names=CLASS_NAMES,
        normal_class=normal_class,
        train_images=decode(train[normal_class], "ImageNet-30 train"),
        test_images=decode(test_paths, "ImageNet-30 test"),
        test_labels=(test_targets != normal_class).long(),
        test_classes=test_targets,
        preprocessing=pre,
        train_anomalies=decode(others, "ImageNet-30 other classes") if others else None,
    )


LOADER = DatasetLoader(
    load=load,
    classes=classes,
    recipes=RECIPES,
    one_vs_rest=always_one_vs_rest,
    input_shape=square_shape(DEFAULT_IMAGE_SIZE),
)
