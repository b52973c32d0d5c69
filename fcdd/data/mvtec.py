"""MVTec-AD (``--dataset mvtec``): one category's good images are nominal, its defects anomalous.

Layout under the data dir (the extracted MVTec-AD archive; any folder in this layout works)::

    <category>/train/good/*.png                      nominal training images
    <category>/test/<defect>/*.png                   "good" = nominal, any other defect = anomalous
    <category>/ground_truth/<defect>/<stem>_mask.png  pixel masks of the defect images (> 0 = anomalous)

Categories are the sorted names of the folders holding ``train/good``, so the 15 MVTec-AD
categories get the paper's indices 0..14. Images become RGB and, jointly with their masks,
are resized to a square raw size of ``round(image_size * 240 / 224)`` (240 for the default
input of 224) with ``torchvision.transforms.v2.Resize``: bilinear with antialiasing for the
image, nearest for the mask. (The original resized images with nearest too; antialiasing keeps
the downscaled images free of aliasing and does not move any mask pixel.) The masks at the
original resolution stay on disk; ``ADData.test_mask_files`` names them for the pixel AUC.

Normalisation constants come from ``constants.json`` for the 15 MVTec-AD categories (by name,
wherever the category sits in the folder) and are otherwise measured on the category's
training images at load time, through the test pipeline's geometry.

The ``lcnaug1``/``aug1`` train pipelines (method notes §4.2) run batched on tensors (see
``Preprocessing.train``); every random choice is still made per sample. Where they differ
from the original's per-sample torchvision/PIL transforms:

- ColorJitter applies brightness, contrast, saturation, hue in a fixed order (torchvision
  shuffles the order per call) and on floats, without PIL's rounding to 8 bits after each op.
- Nearest resizing samples pixel centres like PIL's ``NEAREST`` (what the original used on
  its PIL images); crop and resize are both computed for the batch and selected per sample.
- The test pipeline resizes masks with the same nearest op as images, so a pixel of the
  224 heatmap and of the 224 mask always cover the same area.

Not done here: the original repeated the training set ×10 per epoch to amortise its
DataLoader start-up; with in-memory batches an epoch is simply one pass.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

from fcdd.config import DataConfig
from fcdd.data import archive
from fcdd.data.augment import resize_nearest
from fcdd.data.base import ADData, ClassSummary, DatasetLoader, never_one_vs_rest, square_shape
from fcdd.data.images import binary_mask, convert, decode_in_threads, list_images, open_image, survey
from fcdd.data.preprocess import ClassConstants, Recipe, build_preprocessing, class_constants, lcn
from fcdd.progress import progress_bar

log = logging.getLogger(__name__)

NAME = "mvtec"
# The archive the original downloads (its older FTP link died); FCDD_MVTEC_URL overrides it.
MVTEC_URL = (
    "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/"
    "420938113-1629952094/mvtec_anomaly_detection.tar.xz"
)
URL_ENV = "FCDD_MVTEC_URL"
# MVTec-AD's categories in class-index order: the row order of constants.json's "mvtec" block.
CATEGORIES: tuple[str, ...] = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
    "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
)  # fmt: skip
GOOD = "good"
DEFAULT_IMAGE_SIZE = 224
RAW_RATIO = 240 / 224  # the original stores 240 x 240 and feeds 224 x 224
LAYOUT = "<category>/train/good/, <category>/test/<defect>/, <category>/ground_truth/<defect>/<name>_mask.png"
_JITTERS = ((0.04, 0.04, 0.04, 0.04), (0.005, 0.0005, 0.0005, 0.0005))
# The first recipe is the default. `lcn` and `none` resize to the input size (the original's
# asserted raw == input size and could not run, method notes §9.1 item 8).
RECIPES: dict[str, Recipe] = {
    "lcnaug1": Recipe(augment=True, resize=True, jitters=_JITTERS, rel_noise=0.1, lcn=True),
    "aug1": Recipe(augment=True, resize=True, jitters=_JITTERS, rel_noise=0.1),
    "lcn": Recipe(resize=True, lcn=True),
    "none": Recipe(resize=True),
}
_CHUNK = 64  # images per float copy when measuring constants


@dataclass(frozen=True)
class TestSample:
    """One test image, its defect type and its mask file (None for good images)."""

    image: Path
    group: str
    mask: Path | None


@dataclass(frozen=True)
class CategoryFiles:
    """The files of one category, in a stable (sorted) order."""

    name: str
    train: tuple[Path, ...]
    test: tuple[TestSample, ...]


def _has_categories(root: Path) -> bool:
    return root.is_dir() and any((p / "train" / GOOD).is_dir() for p in root.iterdir() if p.is_dir())


def find_categories(root: Path) -> tuple[str, ...]:
    """Sorted names of the category folders under ``root``; raises on a broken layout."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"MVTec data folder {root} does not exist; pass --data-dir DIR holding the category folders "
            "(or --download to fetch MVTec-AD there)"
        )
    if (root / "train" / GOOD).is_dir():
        raise ValueError(f"{root} is itself a category folder (it holds train/good/); pass its parent folder instead")
    names = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (sub / "train" / GOOD).is_dir():
            names.append(sub.name)
        elif (sub / "train").is_dir() or (sub / "test").is_dir():
            raise ValueError(f"MVTec category folder {sub} has no train/good/ folder; expected {LAYOUT}")
    if not names:
        raise ValueError(
            f"no MVTec category folder (one holding train/good/) in {root}; expected {LAYOUT}, "
            "or pass --download to fetch MVTec-AD there"
        )
    return tuple(names)


def list_category(root: Path, name: str) -> CategoryFiles:
    """Training images, and test images paired with their masks, of category ``name``."""
    folder = root / name
    train = list_images(folder / "train" / GOOD, recursive=False)
    if not train:
        raise ValueError(f"no images in {folder / 'train' / GOOD}; the category needs nominal training images")
    if not (folder / "test").is_dir():
        raise FileNotFoundError(f"MVTec category {name!r} has no test/ folder at {folder / 'test'}; expected {LAYOUT}")
    test: list[TestSample] = []
    for defect in sorted(p for p in (folder / "test").iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = list_images(defect, recursive=False)
        if not files:
            log.warning("skipping empty test folder %s", defect)
        for image in files:
            mask = None
            if defect.name != GOOD:
                mask = folder / "ground_truth" / defect.name / f"{image.stem}_mask.png"
                if not mask.is_file():
                    raise FileNotFoundError(
                        f"mask {mask} of defect image {image} is missing; add it or remove the image"
                    )
            test.append(TestSample(image, defect.name, mask))
    if not test:
        raise ValueError(f"no test images in {folder / 'test'}; expected {LAYOUT}")
    return CategoryFiles(name, tuple(train), tuple(test))


def _read(path: Path, mode: str, binarise: bool = False) -> Tensor:
    """Decode one file as uint8 ``(C, H, W)`` in PIL ``mode`` (``binarise``: 1 where > 0, else 0).

    A corrupt file raises a ``ValueError`` naming it.
    """
    with open_image(path) as file:  # a truncated file fails in convert(), and is reported alike
        array = np.array(convert(file, mode), dtype=np.uint8)
    if binarise:  # in numpy: tiny torch ops in many threads oversubscribe torch's own thread pool
        array = binary_mask(array, path)
    tensor = torch.from_numpy(array)
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)


def decode_pair(image_path: Path, mask_path: Path | None, size: int) -> tuple[Tensor, Tensor | None]:
    """An RGB image and its binarised mask, resized jointly to ``size`` x ``size`` (one v2.Resize call)."""
    resize = v2.Resize((size, size), antialias=True)  # nearest for tv_tensors.Mask
    image = tv_tensors.Image(_read(image_path, "RGB"))
    if mask_path is None:
        return resize(image).as_subclass(Tensor), None
    mask = tv_tensors.Mask(_read(mask_path, "L", binarise=True))
    if mask.shape[-2:] != image.shape[-2:]:
        (mh, mw), (ih, iw) = mask.shape[-2:], image.shape[-2:]
        raise ValueError(
            f"mask {mask_path} is {mw}x{mh} (w x h) but its image {image_path} is {iw}x{ih}; "
            "a mask needs its image's size"
        )
    image, mask = resize(image, mask)
    return image.as_subclass(Tensor), mask.as_subclass(Tensor)


def decode_category(files: CategoryFiles, size: int, show_progress: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Train images, test images and test masks (zeros for good images) as uint8 tensors at ``size``."""
    train = torch.empty((len(files.train), 3, size, size), dtype=torch.uint8)
    test = torch.empty((len(files.test), 3, size, size), dtype=torch.uint8)
    masks = torch.zeros((len(files.test), 1, size, size), dtype=torch.uint8)
    Job = tuple[Path, Path | None, Tensor, Tensor | None, int]  # image, mask, outputs, index
    jobs: list[Job] = [(p, None, train, None, i) for i, p in enumerate(files.train)]
    jobs += [(s.image, s.mask, test, masks, i) for i, s in enumerate(files.test)]

    def run(job: Job) -> None:
        image_path, mask_path, images_out, masks_out, index = job
        image, mask = decode_pair(image_path, mask_path, size)
        images_out[index] = image
        if mask is not None and masks_out is not None:
            masks_out[index] = mask

    done = decode_in_threads(run, jobs)  # PIL and torch release the GIL; an error drops the queued files
    for _ in progress_bar(done, total=len(jobs), desc=f"mvtec {files.name}", show=show_progress and len(jobs) >= 64):
        pass
    return train, test, masks


def table_constants(category: str) -> ClassConstants | None:
    """The stored constants of an MVTec-AD category, by name; None for other categories."""
    return class_constants(NAME, CATEGORIES.index(category)) if category in CATEGORIES else None


def empirical_constants(images: Tensor, input_size: int) -> ClassConstants:
    """Per-channel mean/std and LCN min/max of uint8 training images as the test pipeline sees them.

    Images are nearest-resized to ``input_size`` and put on [0, 1] first, like the test
    pipeline of the MVTec recipes, so min-max normalised training images span [0, 1].
    """
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    low = torch.full((channels,), float("inf"))
    high = torch.full((channels,), float("-inf"))
    for start in range(0, images.shape[0], _CHUNK):
        x = resize_nearest(images[start : start + _CHUNK].float() / 255, (input_size, input_size))
        total += x.double().sum(dim=(0, 2, 3))
        squares += x.double().square().sum(dim=(0, 2, 3))
        normed = lcn(x)
        low = torch.minimum(low, normed.amin(dim=(0, 2, 3)))
        high = torch.maximum(high, normed.amax(dim=(0, 2, 3)))
    count = images.shape[0] * input_size * input_size
    mean = total / count
    std = (squares / count - mean.square()).clamp(min=0).sqrt()
    if float(std.min()) < 1 / 255 or float((high - low).min()) <= 0:
        log.warning("nominal images have (almost) constant channels; widening their normalisation scale")
        std = std.clamp(min=1 / 255)
        high = torch.maximum(high, low + 1)
    return ClassConstants(*(tuple(float(v) for v in t) for t in (mean, std, low, high)))


def fetch(root: Path, show_progress: bool = True) -> None:
    """Download the MVTec-AD archive (``MVTEC_URL`` or ``$FCDD_MVTEC_URL``) into ``root`` and extract it there."""
    url = os.environ.get(URL_ENV) or MVTEC_URL
    name = Path(urllib.parse.urlparse(url).path).name or "mvtec_anomaly_detection.tar.xz"
    archive.archive_kind(name)  # fail on an unknown archive type before downloading gigabytes
    path = archive.download(url, root / name, show_progress=show_progress)
    archive.safe_extract(path, root)
    path.unlink()  # ~5 GB; the extracted folders are what we read


def raw_size_for(image_size: int) -> int:
    """Side of the stored square images for a network input of ``image_size``."""
    return round(image_size * RAW_RATIO)


def classes(root: Path | None, *, one_vs_rest: bool = False) -> tuple[str, ...]:
    """Category names under ``root``; for a missing or empty ``root``, the 15 a download would bring."""
    if root is None:
        raise ValueError(f"dataset 'mvtec' needs a data dir; pass --data-dir DIR holding {LAYOUT}")
    if not root.is_dir() or not any(root.iterdir()):
        return CATEGORIES  # load() downloads them there with --download, or says what is missing
    return find_categories(root)


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "lcnaug1",
    download: bool = False,
    one_vs_rest: bool = False,
    image_size: int | None = None,
    show_progress: bool = True,
) -> ADData:
    """Category ``normal_class`` of an MVTec-AD-style folder as an anomaly-detection problem.

    Train on ``train/good``; test on every ``test/<defect>`` image (good -> 0, defects -> 1)
    with masks, defect types in ``test_groups``. ``download`` fetches and extracts MVTec-AD
    into ``root`` when it holds no category yet.
    """
    if root is None:
        raise ValueError(f"dataset 'mvtec' needs a data dir; pass --data-dir DIR holding {LAYOUT}")
    if one_vs_rest:
        raise ValueError(
            "--one-vs-rest does not apply to mvtec (each category's test set has its own defects); drop it"
        )
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if size < 1:
        raise ValueError(f"`image_size` must be >= 1, got {size}")
    root = Path(root)
    if download and not _has_categories(root):
        fetch(root, show_progress)
    names = find_categories(root)
    if not 0 <= normal_class < len(names):
        valid = ", ".join(f"{i}={n}" for i, n in enumerate(names))
        raise ValueError(f"unknown class {normal_class} for mvtec in {root}; valid classes: {valid}")
    files = list_category(root, names[normal_class])
    raw = raw_size_for(size)
    train, test, masks = decode_category(files, raw, show_progress)
    constants = table_constants(files.name)
    if constants is None:
        constants = empirical_constants(train, size)
        log.info("mvtec %s: normalisation constants measured on its %d training images", files.name, len(train))
    else:
        log.info("mvtec %s: normalisation constants from constants.json", files.name)
    pre = build_preprocessing(
        preprocessing, NAME, normal_class, (3, raw, raw), input_size=size, recipes=RECIPES, constants=constants
    )
    labels = torch.tensor([s.group != GOOD for s in files.test], dtype=torch.int64)
    log.info("mvtec %s: %d train, %d test images (%d anomalous)", files.name, len(train), len(test), int(labels.sum()))
    return ADData(
        name=NAME,
        class_names=names,
        normal_class=normal_class,
        train_images=train,
        test_images=test,
        test_labels=labels,
        test_classes=torch.full((len(files.test),), normal_class, dtype=torch.int64),
        preprocessing=pre,
        test_masks=masks,
        test_mask_files=tuple(None if s.mask is None else str(s.mask) for s in files.test),
        test_groups=tuple(s.group for s in files.test),
    )


# Masks are white where the defect is. When they cover most of their images on average, they are
# more likely inverted (white = nominal) than showing real defects: warned about, still used.
MOSTLY_ANOMALOUS = 0.5


def check(root: Path | None, data: DataConfig) -> ClassSummary:
    """Category ``data.normal_class``: layout, every image's structure, every mask binary and of its image's size.

    Decodes the masks only (small, binary PNGs), so it is quick enough to run before anything starts.
    """
    if root is None or not root.is_dir() or not any(root.iterdir()):
        if data.download:
            return ClassSummary(str(data.normal_class), f"not on disk yet: --download fetches MVTec-AD into {root}")
        find_categories(Path(root or "."))  # raises the error that names the layout
    assert root is not None
    name = find_categories(root)[data.normal_class]
    files = list_category(root, name)
    sizes, modes = survey([*files.train, *(s.image for s in files.test)])
    covered = []
    for sample in files.test:
        if sample.mask is None:
            continue
        with open_image(sample.image) as image:
            image_size = image.size
        with open_image(sample.mask, "mask") as file:
            mask_size = file.size
            grey = np.asarray(convert(file, "L"))
        if mask_size != image_size:
            (mw, mh), (iw, ih) = mask_size, image_size
            raise ValueError(
                f"mask {sample.mask} is {mw}x{mh} (w x h) but its image {sample.image} is {iw}x{ih}; "
                "a mask needs its image's size"
            )
        covered.append(float(binary_mask(grey, sample.mask).mean()))
    warnings = []
    if covered and sum(covered) / len(covered) > MOSTLY_ANOMALOUS:
        warnings.append(
            f"the masks of {name} mark {sum(covered) / len(covered):.0%} of their images anomalous on average; "
            "masks are white where the defect is: are they inverted?"
        )
    good = sum(s.mask is None for s in files.test)
    counts = (
        ("train nominal", len(files.train)),
        ("test nominal", good),
        ("test anomalous", len(files.test) - good),
        ("masks", len(covered)),
    )
    layout = f"MVTec: {root / name}/train/good/, test/<defect>/, ground_truth/<defect>/*_mask.png"
    return ClassSummary(name, layout, counts, sizes[:4], modes, tuple(warnings))


LOADER = DatasetLoader(
    load=load,
    classes=classes,
    recipes=RECIPES,
    one_vs_rest=never_one_vs_rest,
    input_shape=square_shape(DEFAULT_IMAGE_SIZE),
    check=check,
)
