"""Custom image folders (``--dataset custom``).

Two layouts under the data dir::

    per-class nominal/anomalous          one-vs-rest (--one-vs-rest)
    train/<class>/normal/...             train/<class>/...
    train/<class>/anomalous/... (opt.)   test/<class>/...
    test/<class>/normal/...
    test/<class>/anomalous/...

Class names are the sorted folder names under ``train/``. Images are decoded with
PIL, converted to RGB (or L), cut to their central square (the short side, so the aspect
ratio is kept, like the original's short-side resize and centre crop), resized to the raw
size (``image_size * 248/224``, so 248 for the default input of 224) and kept in memory as uint8.

With ``ground_truth_maps``, binary maps in ``train_maps/`` and ``test_maps/`` (same
relative file names) are loaded too, resized like their images (nearest); see
:mod:`fcdd.data.folder_maps`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from fcdd.config import DataConfig
from fcdd.data.base import ADData, ClassSummary, DatasetLoader
from fcdd.data.folder_maps import check_consistency, decode_maps, find_maps, map_root
from fcdd.data.images import IMAGE_EXTENSIONS, convert, decode_all, fit_square, list_images, open_image, survey
from fcdd.data.preprocess import Recipe, build_preprocessing

log = logging.getLogger(__name__)

NAME = "custom"
DEFAULT_IMAGE_SIZE = 224
# The original resizes to 248 and crops 224; keep that ratio for other input sizes.
RAW_RATIO = 248 / 224
# The first recipe is the default.
RECIPES: dict[str, Recipe] = {
    "aug1": Recipe(augment=True, hflip=True, jitter=0.01, noise=0.001),
    "none": Recipe(),
}
# With ground-truth maps (§4.2 "custom-gtms"): per sample a random crop or a nearest resize to
# the input size, images and maps jointly; the test pipeline resizes (nearest) instead of
# centre-cropping, so heatmaps cover the whole image like its map. Same names as RECIPES.
GTMS_RECIPES: dict[str, Recipe] = {
    "aug1": Recipe(augment=True, resize=True, hflip=True, jitter=0.01, noise=0.001),
    "none": Recipe(resize=True),
}


@dataclass(frozen=True)
class Sample:
    """One image file, its class and, in the per-class layout, whether it is anomalous."""

    path: Path
    class_index: int
    anomalous: bool = False


@dataclass(frozen=True)
class FolderSamples:
    """Everything :func:`make_samples` finds under a data dir."""

    class_names: tuple[str, ...]
    train: tuple[Sample, ...]
    test: tuple[Sample, ...]


def _require_dir(path: Path, fix: str) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"custom data folder {path} is missing; {fix}")


def _images_of(folder: Path, class_index: int, anomalous: bool) -> list[Sample]:
    paths = list_images(folder)
    if not paths:
        raise ValueError(
            f"no images in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}); add images or remove the class"
        )
    return [Sample(p, class_index, anomalous) for p in paths]


def make_samples(root: str | Path, one_vs_rest: bool) -> FolderSamples:
    """Discover classes and image files under ``root``; raises on any layout problem."""
    root = Path(root)
    layout = (
        "train/<class>/ and test/<class>/" if one_vs_rest else "train/<class>/normal/, test/<class>/{normal,anomalous}/"
    )
    _require_dir(root, f"pass --data-dir DIR holding {layout}")
    for split in ("train", "test"):
        _require_dir(root / split, f"the data dir must hold {layout}")
    names = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not names:
        raise ValueError(f"no class folders in {root / 'train'}; expected {layout}")
    if one_vs_rest:
        per_class = next((n for n in names if (root / "train" / n / "normal").is_dir()), None)
        if per_class is not None:
            # Read as one-vs-rest, train/<c>/anomalous/ would be taken as nominal images of class c.
            raise ValueError(
                f"--one-vs-rest reads train/<class>/*.png, but {root / 'train' / per_class} holds normal/ "
                "(and anomalous/) folders, the per-class layout; drop --one-vs-rest"
            )
        if len(names) < 2:
            raise ValueError(
                f"--one-vs-rest needs at least two classes in {root / 'train'} (the other classes are the "
                f"anomalies), found only {names[0]!r}; add classes or use the per-class layout without --one-vs-rest"
            )
    extra = sorted({p.name for p in (root / "test").iterdir() if p.is_dir()} - set(names))
    if extra:
        log.warning("ignoring test folders without a train folder: %s", ", ".join(extra))
    train: list[Sample] = []
    test: list[Sample] = []
    for index, name in enumerate(names):
        train_dir, test_dir = root / "train" / name, root / "test" / name
        _require_dir(test_dir, f"every class in train/ needs test/{name}/ too")
        if one_vs_rest:
            train += _images_of(train_dir, index, False)
            test += _images_of(test_dir, index, False)
            continue
        hint = "(or pass --one-vs-rest for the train/<class>/*.png layout)"
        _require_dir(train_dir / "normal", f"class {name!r} needs train/{name}/normal/ {hint}")
        _require_dir(test_dir / "normal", f"class {name!r} needs test/{name}/normal/ {hint}")
        _require_dir(test_dir / "anomalous", f"class {name!r} needs test/{name}/anomalous/ {hint}")
        train += _images_of(train_dir / "normal", index, False)
        if (train_dir / "anomalous").is_dir() and list_images(train_dir / "anomalous"):
            train += _images_of(train_dir / "anomalous", index, True)
        test += _images_of(test_dir / "normal", index, False)
        test += _images_of(test_dir / "anomalous", index, True)
    return FolderSamples(names, tuple(train), tuple(test))


def raw_size_for(image_size: int) -> int:
    """Side of the stored square images for a network input of ``image_size``."""
    return round(image_size * RAW_RATIO)


def decode_images(
    paths: list[Path], size: int, channels: int = 3, show_progress: bool = True, *, crop_square: bool = False
) -> Tensor:
    """Decode, convert and resize image files into a uint8 ``(N, channels, size, size)`` tensor.

    ``crop_square`` takes each image's central square (its short side) before resizing, so the
    aspect ratio is kept (custom folders, like the original's short-side resize and centre crop);
    without it the whole image is squashed into the square (Pascal VOC, like the original).
    Threads overlap the decoding (:func:`~fcdd.data.images.decode_all`); a corrupt file raises a
    ``ValueError`` that names it.
    """
    mode = {1: "L", 3: "RGB"}[channels]

    def decode(path: Path) -> np.ndarray:
        with open_image(path) as file:  # a truncated file fails in convert(), and is reported alike
            converted = convert(file, mode)
            if crop_square:
                image = fit_square(converted, size, Image.Resampling.BILINEAR)
            else:
                image = converted.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)

    shown = show_progress and len(paths) >= 256
    images, _ = decode_all(paths, decode, (channels, size, size), show_progress=shown)
    return torch.from_numpy(images)


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the [0, 1] scale of uint8 ``(N, C, H, W)`` images.

    Counts the 256 grey levels per channel, so it is exact and needs no float copy.
    """
    levels = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).to(torch.float64)
        total = counts.sum()
        mean = (counts * levels).sum() / total
        var = (counts * (levels - mean) ** 2).sum() / total
        means.append(mean.item())
        stds.append(var.sqrt().item())
    if min(stds) < 1 / 255:
        log.warning("nominal images have (almost) constant channels, std %s; using std >= 1/255", stds)
        stds = [max(s, 1 / 255) for s in stds]
    return tuple(means), tuple(stds)


def classes(root: Path | None, *, one_vs_rest: bool = False) -> tuple[str, ...]:
    """Class names (sorted folder names under ``train/``)."""
    if root is None:
        raise ValueError("dataset 'custom' needs a data dir; pass --data-dir DIR holding train/ and test/")
    return make_samples(root, one_vs_rest).class_names


def input_shape(data: DataConfig) -> tuple[int, int, int]:
    """(channels, image_size, image_size); the defaults 3 and 224 when unset."""
    size = DEFAULT_IMAGE_SIZE if data.image_size is None else data.image_size
    return (data.channels or 3, size, size)


def class_files(samples: FolderSamples, normal_class: int, one_vs_rest: bool) -> dict[str, list[Path]]:
    """The files one class's problem reads: nominal training images, training anomalies, test images by label."""

    def anomalous(s: Sample) -> bool:
        return s.anomalous or s.class_index != normal_class

    test = [s for s in samples.test if one_vs_rest or s.class_index == normal_class]
    return {
        "train nominal": [s.path for s in samples.train if not anomalous(s)],
        # Per-class layout: anomalies only from this class's own anomalous/ folder.
        "train anomalous": [
            s.path for s in samples.train if anomalous(s) and (one_vs_rest or s.class_index == normal_class)
        ],
        "test nominal": [s.path for s in test if not anomalous(s)],
        "test anomalous": [s.path for s in test if anomalous(s)],
    }


def check(root: Path | None, data: DataConfig) -> ClassSummary:
    """The layout and every file of class ``data.normal_class``: each image's structure, sizes, modes, maps."""
    if root is None:
        raise ValueError("dataset 'custom' needs a data dir; pass --data-dir DIR holding train/ and test/")
    samples = make_samples(root, data.one_vs_rest)
    name = samples.class_names[data.normal_class]
    files = class_files(samples, data.normal_class, data.one_vs_rest)
    every = [p for paths in files.values() for p in paths]
    sizes, modes = survey(every)
    counts = [(what, len(paths)) for what, paths in files.items()]
    if data.ground_truth_maps:
        maps = [m for m in find_maps(root, every) if m is not None]
        survey(maps, "ground-truth map")
        counts.append(("maps", len(maps)))
    layout = (
        f"one-vs-rest: {root}/train/{name}/, the other classes' images are its anomalies"
        if data.one_vs_rest
        else f"per class: {root}/train/{name}/normal/, {root}/test/{name}/{{normal,anomalous}}/"
    )
    return ClassSummary(name, layout, tuple(counts), sizes[:4], modes)


def _checked_size(root: Path | None, channels: int, image_size: int | None) -> tuple[Path, int]:
    """The root and network input side of a custom folder, after the checks that need no file."""
    if root is None:
        raise ValueError("dataset 'custom' needs a data dir; pass --data-dir DIR holding train/ and test/")
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3, got {channels}")
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if size < 1:
        raise ValueError(f"`image_size` must be >= 1, got {size}")
    return root, size


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "aug1",
    download: bool = False,
    one_vs_rest: bool = False,
    image_size: int | None = None,
    channels: int = 3,
    ground_truth_maps: bool = False,
    show_progress: bool = True,
) -> ADData:
    """Load class ``normal_class`` of a custom image folder as an anomaly-detection problem.

    Per-class layout: train on ``train/<c>/normal``, real anomalies from
    ``train/<c>/anomalous`` (if any), test on ``test/<c>/{normal,anomalous}``.
    One-vs-rest: train on ``train/<c>``, the other classes' training images are the real
    anomalies, test on every class's test images. ``download`` is ignored; ``channels=1`` is greyscale.

    ``ground_truth_maps`` also loads ``train_maps/`` and ``test_maps/`` into
    ``train_masks``, ``train_anomaly_masks`` and ``test_masks`` (raw size, {0, 1}) and
    ``test_mask_files`` (original-resolution map paths, None for a nominal image without a
    map). Images without a map get a constant map of their label. Every test image has a
    map, in one-vs-rest too (the original loaded the nominal class's only, §9.1 item 15).
    The pixel AUC needs a map file for every anomalous test image: where one is missing,
    ``test_mask_files`` is None (as in the original, which skips the pixel AUC then).
    """
    root, size = _checked_size(root, channels, image_size)
    samples = make_samples(root, one_vs_rest)
    if not 0 <= normal_class < len(samples.class_names):
        raise ValueError(f"`normal_class` must be in [0, {len(samples.class_names)}) for {root}, got {normal_class}")

    files = class_files(samples, normal_class, one_vs_rest)
    nominal, outliers = files["train nominal"], files["train anomalous"]
    test = [s for s in samples.test if one_vs_rest or s.class_index == normal_class]
    labels = [s.anomalous or s.class_index != normal_class for s in test]
    raw = raw_size_for(size)
    maps = _load_maps(Path(root), nominal, outliers, [s.path for s in test], labels, raw) if ground_truth_maps else {}
    decode = functools.partial(
        decode_images, size=raw, channels=channels, show_progress=show_progress, crop_square=True
    )
    train_images = decode(nominal)
    mean, std = channel_stats(train_images)
    recipes = GTMS_RECIPES if ground_truth_maps else RECIPES
    pre = build_preprocessing(
        preprocessing, NAME, normal_class, (channels, raw, raw), input_size=size, mean=mean, std=std, recipes=recipes
    )
    return ADData(
        name=NAME,
        class_names=samples.class_names,
        normal_class=normal_class,
        train_images=train_images,
        test_images=decode([s.path for s in test]),
        test_labels=torch.tensor(labels, dtype=torch.int64),
        test_classes=torch.tensor([s.class_index for s in test], dtype=torch.int64),
        preprocessing=pre,
        train_anomalies=decode(outliers) if outliers else None,
        mask_files_center_square=ground_truth_maps,
        **maps,
    )


def _load_maps(
    root: Path, nominal: list[Path], outliers: list[Path], test: list[Path], test_labels: list[bool], raw: int
) -> dict[str, Any]:
    """The ADData map fields of a custom folder (see :func:`load`); maps are checked before any image decodes."""
    if not map_root(root, "test").is_dir():
        raise FileNotFoundError(
            f"ground-truth maps are on but {map_root(root, 'test')} is missing; put binary maps in train_maps/ and "
            "test_maps/ under the same relative names as train/ and test/ (or turn ground-truth maps off)"
        )
    splits = {
        "train_masks": (nominal, [False] * len(nominal)),
        "train_anomaly_masks": (outliers, [True] * len(outliers)),
        "test_masks": (test, test_labels),
    }
    files = {field: find_maps(root, paths) for field, (paths, _) in splits.items()}
    fields: dict[str, Any] = {}
    for field, (paths, labels) in splits.items():
        masks = decode_maps(files[field], paths, labels, raw)
        check_consistency(field, masks, labels, files[field])
        fields[field] = masks if paths else None
    test_files = files["test_masks"]
    missing = [p for p, f, a in zip(test, test_files, test_labels, strict=True) if a and f is None]
    if missing:
        log.warning(
            "%d anomalous test images have no ground-truth map (e.g. %s): no pixel AUC for this problem",
            len(missing),
            missing[0],
        )
    fields["test_mask_files"] = None if missing else tuple(None if f is None else str(f) for f in test_files)
    return fields


def is_one_vs_rest(data: DataConfig) -> bool:
    """A custom folder is one-vs-rest with ``--one-vs-rest`` (``train/<class>/`` and ``test/<class>/``)."""
    return data.one_vs_rest


LOADER = DatasetLoader(
    load=load, classes=classes, recipes=RECIPES, one_vs_rest=is_one_vs_rest, input_shape=input_shape, check=check
)
