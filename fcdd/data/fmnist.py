"""Fashion-MNIST: one-vs-rest over the 10 classes, read from the raw IDX files."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import Tensor

from fcdd.config import DataConfig
from fcdd.data.base import (
    ADData,
    ClassSummary,
    DatasetLoader,
    always_one_vs_rest,
    fixed_classes,
    fixed_shape,
    split_one_vs_rest,
)
from fcdd.data.idx import read_idx
from fcdd.data.preprocess import Recipe, build_preprocessing

log = logging.getLogger(__name__)

NAME = "fmnist"
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
RAW_SHAPE = (1, 28, 28)
# Searched after the data dir; the Debian package `dataset-fashion-mnist` installs here.
FALLBACK_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The first recipe is the default.
RECIPES: dict[str, Recipe] = {
    "lcnaug1": Recipe(augment=True, pad=2, hflip=True, lcn=True),
    "aug1": Recipe(augment=True, pad=3, hflip=True, jitter=0.1, noise=0.01),
    # aug1 with the image centre (60% of each side) or, inverted, its border zeroed in training.
    "aug1_blackcenter": Recipe(augment=True, pad=3, hflip=True, jitter=0.1, noise=0.01, black_center=0.6),
    "aug1_blackcenter_inverted": Recipe(
        augment=True, pad=3, hflip=True, jitter=0.1, noise=0.01, black_center=0.6, black_center_inverted=True
    ),
    "lcn": Recipe(lcn=True),
    "none": Recipe(),
}


def search_dirs(root: str | Path | None) -> list[Path]:
    """Folders searched for the IDX files: torchvision's layout under the root, the root; without one, the fallbacks.

    A data dir given is the only place looked at: falling back to the system copy would train on
    other data than the run's config.json records.
    """
    if root is None:
        return list(FALLBACK_DIRS)
    return [Path(root) / "FashionMNIST" / "raw", Path(root)]


def _files_in(directory: Path) -> dict[str, Path] | None:
    found = {}
    for key, name in FILES.items():
        # Prefer the uncompressed copy when both exist: it reads faster.
        candidates = [directory / name, directory / f"{name}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found[key] = path
    return found


def locate(root: str | Path | None) -> dict[str, Path] | None:
    """Paths of the 4 IDX files from the first folder that holds all of them, else None."""
    for directory in search_dirs(root):
        files = _files_in(directory)
        if files is not None:
            return files
    return None


def _download(root: str | Path | None) -> dict[str, Path]:
    if root is None:
        raise ValueError("downloading Fashion-MNIST needs a target folder; pass --data-dir DIR with --download")
    import torchvision  # deferred: only needed for downloads

    log.info("downloading Fashion-MNIST to %s", root)
    torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
    files = _files_in(Path(root) / "FashionMNIST" / "raw")
    if files is None:
        raise FileNotFoundError(
            f"torchvision's download did not leave the IDX files in {Path(root) / 'FashionMNIST' / 'raw'}"
        )
    return files


def load_arrays(root: str | Path | None, download: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Train images, train labels, test images, test labels; images uint8 (N, 1, 28, 28)."""
    files = locate(root)
    if files is None and download:
        files = _download(root)
    if files is None:
        raise _not_found(root)
    log.info("reading Fashion-MNIST from %s", files["train_images"].parent)
    arrays = []
    for split in ("train", "test"):
        images = read_idx(files[f"{split}_images"])
        labels = read_idx(files[f"{split}_labels"])
        if images.dim() != 3 or tuple(images.shape[1:]) != RAW_SHAPE[1:] or labels.shape != images.shape[:1]:
            raise ValueError(
                f"{files[f'{split}_images']} holds images of shape {tuple(images.shape)} and "
                f"{files[f'{split}_labels']} labels of shape {tuple(labels.shape)}; expected (N, 28, 28) "
                "and (N,); replace the files"
            )
        if labels.numel() and int(labels.max()) >= len(CLASS_NAMES):
            raise ValueError(
                f"{files[f'{split}_labels']} holds label {int(labels.max())}, expected 0..9; replace the file"
            )
        arrays += [images.unsqueeze(1).contiguous(), labels.long()]
    return arrays[0], arrays[1], arrays[2], arrays[3]


def _not_found(root: str | Path | None) -> FileNotFoundError:
    searched = ", ".join(str(d) for d in search_dirs(root))
    fix = (
        "pass --download to fetch them there, or drop --data-dir to use the system copy "
        "(apt-get install dataset-fashion-mnist)"
        if root is not None
        else "pass --download with --data-dir DIR, or `apt-get install dataset-fashion-mnist`, or --data-dir DIR"
    )
    return FileNotFoundError(
        f"Fashion-MNIST IDX files ({', '.join(f'{n}[.gz]' for n in FILES.values())}) not found in {searched}; {fix}"
    )


def check(root: Path | None, data: DataConfig) -> ClassSummary:
    """The four IDX files are there (in the data dir, if one is given) and their labels name 10 classes."""
    name = CLASS_NAMES[data.normal_class]
    files = locate(root)
    if files is None:
        if data.download and root is not None:
            return ClassSummary(name, f"not on disk yet: --download fetches Fashion-MNIST into {root}")
        raise _not_found(root)
    labels = {}
    for split in ("train", "test"):
        labels[split] = read_idx(files[f"{split}_labels"]).long()
        if labels[split].numel() and int(labels[split].max()) >= len(CLASS_NAMES):
            path = files[f"{split}_labels"]
            raise ValueError(f"{path} holds label {int(labels[split].max())}, expected 0..9; replace the file")
    nominal = {split: int((values == data.normal_class).sum()) for split, values in labels.items()}
    counts = (
        ("train nominal", nominal["train"]),
        ("test nominal", nominal["test"]),
        ("test anomalous", labels["test"].numel() - nominal["test"]),
    )
    layout = f"IDX files in {files['train_images'].parent}"
    return ClassSummary(name, layout, counts, ("28x28",), ("L",))


classes = fixed_classes(CLASS_NAMES)


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "lcnaug1",
    download: bool = False,
    one_vs_rest: bool = True,
    image_size: int | None = None,
) -> ADData:
    """Fashion-MNIST as a one-vs-rest problem with ``normal_class`` nominal.

    ``one_vs_rest`` is accepted for a uniform interface; this dataset is always one-vs-rest.
    """
    if image_size is not None and image_size != RAW_SHAPE[1]:
        raise ValueError(f"`image_size` for fmnist is fixed at {RAW_SHAPE[1]}, got {image_size}; leave it unset")
    train_x, train_y, test_x, test_y = load_arrays(root, download)
    pre = build_preprocessing(preprocessing, NAME, normal_class, RAW_SHAPE, recipes=RECIPES)
    return split_one_vs_rest(NAME, CLASS_NAMES, normal_class, train_x, train_y, test_x, test_y, pre)


LOADER = DatasetLoader(
    load=load,
    classes=classes,
    recipes=RECIPES,
    one_vs_rest=always_one_vs_rest,
    input_shape=fixed_shape(NAME, RAW_SHAPE),
    check=check,
)
