"""CIFAR-10: one-vs-rest over the 10 classes, read from the python-pickle batches."""

from __future__ import annotations

import functools
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
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
from fcdd.data.preprocess import Recipe, build_preprocessing

log = logging.getLogger(__name__)

NAME = "cifar10"
CLASS_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
RAW_SHAPE = (3, 32, 32)
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
# The first recipe is the default.
RECIPES: dict[str, Recipe] = {
    "aug1": Recipe(augment=True, pad=4, hflip=True, jitter=0.01, noise=0.001),
    # aug1 with the image centre (60% of each side) or, inverted, its border zeroed in training.
    "aug1_blackcenter": Recipe(augment=True, pad=4, hflip=True, jitter=0.01, noise=0.001, black_center=0.6),
    "aug1_blackcenter_inverted": Recipe(
        augment=True, pad=4, hflip=True, jitter=0.01, noise=0.001, black_center=0.6, black_center_inverted=True
    ),
    "lcn": Recipe(lcn=True),
    "none": Recipe(),
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR pickle holds (dicts, lists, bytes, numpy arrays); CIFAR-10 and -100 alike.

    The batches are pickles from the internet; refusing every other global keeps a
    tampered file from running code.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _reconstruct()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles store bytes
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a CIFAR batch")


def _reconstruct() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray._reconstruct


def search_dirs(root: str | Path | None) -> list[Path]:
    """Folders that may hold the batch files: ``<root>/cifar-10-batches-py``, then ``<root>``."""
    return [] if root is None else [Path(root) / BATCH_DIR, Path(root)]


def locate(root: str | Path | None) -> Path | None:
    """First folder that holds all six batch files, else None."""
    for directory in search_dirs(root):
        if all((directory / name).is_file() for name in TRAIN_BATCHES + TEST_BATCHES):
            return directory
    return None


def read_pickle(path: Path, what: str = "CIFAR-10 batch") -> dict[bytes, Any]:
    """One CIFAR python pickle (a CIFAR-10 batch, CIFAR-100's ``train``) as its dict, read safely.

    Only the globals a CIFAR pickle holds are allowed (:class:`_BatchUnpickler`), so a tampered
    file is refused before it can run code; any unreadable file is a ``ValueError`` naming it.
    """
    try:
        with Path(path).open("rb") as f:
            entry = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as err:  # an untrusted file: whatever it makes the unpickler raise means "corrupt"
        raise ValueError(f"corrupt {what} {path}: {err!r}; delete it and download it again") from None
    if not isinstance(entry, dict):
        raise ValueError(f"{what} {path} holds a {type(entry).__name__}, not a dict; delete it and download it again")
    return entry


def read_batches(paths: list[Path]) -> tuple[Tensor, Tensor]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) from CIFAR-10 pickle batches."""
    images, labels = [], []
    for path in paths:
        batch = read_pickle(path)
        try:
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            targets = np.asarray(batch[b"labels"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"corrupt CIFAR-10 batch {path}: {err!r}; delete it and download it again") from err
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or targets.shape != (data.shape[0],):
            raise ValueError(
                f"CIFAR-10 batch {path} holds data of shape {data.shape} and {targets.shape} labels; "
                "expected (N, 3072) and (N,); delete it and download it again"
            )
        if targets.size and not 0 <= targets.min() <= targets.max() < len(CLASS_NAMES):
            raise ValueError(f"CIFAR-10 batch {path} holds labels outside 0..9; delete it and download it again")
        images.append(torch.from_numpy(data.reshape(-1, *RAW_SHAPE)))
        labels.append(torch.from_numpy(targets))
    return torch.cat(images), torch.cat(labels)


def _download(root: str | Path | None) -> Path:
    if root is None:
        raise ValueError("downloading CIFAR-10 needs a target folder; pass --data-dir DIR with --download")
    import torchvision  # deferred: only needed for downloads

    log.info("downloading CIFAR-10 to %s", root)
    torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    return Path(root) / BATCH_DIR


def load_arrays(root: str | Path | None, download: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Train images, train labels, test images, test labels; images uint8 (N, 3, 32, 32)."""
    directory = locate(root)
    if directory is None and download:
        directory = _download(root)
    if directory is None:
        raise _not_found(root)
    log.info("reading CIFAR-10 from %s", directory)
    train_x, train_y = read_batches([directory / n for n in TRAIN_BATCHES])
    test_x, test_y = read_batches([directory / n for n in TEST_BATCHES])
    return train_x, train_y, test_x, test_y


classes = fixed_classes(CLASS_NAMES)


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "aug1",
    download: bool = False,
    one_vs_rest: bool = True,
    image_size: int | None = None,
) -> ADData:
    """CIFAR-10 as a one-vs-rest problem with ``normal_class`` nominal.

    ``one_vs_rest`` is accepted for a uniform interface; this dataset is always one-vs-rest.
    """
    if image_size is not None and image_size != RAW_SHAPE[1]:
        raise ValueError(f"`image_size` for cifar10 is fixed at {RAW_SHAPE[1]}, got {image_size}; leave it unset")
    train_x, train_y, test_x, test_y = load_arrays(root, download)
    pre = build_preprocessing(preprocessing, NAME, normal_class, RAW_SHAPE, recipes=RECIPES)
    return split_one_vs_rest(NAME, CLASS_NAMES, normal_class, train_x, train_y, test_x, test_y, pre)


def _not_found(root: str | Path | None) -> FileNotFoundError:
    searched = ", ".join(str(d) for d in search_dirs(root)) or "nothing (no data dir given)"
    return FileNotFoundError(
        f"CIFAR-10 batches ({', '.join(TRAIN_BATCHES + TEST_BATCHES)}) not found; searched {searched}; "
        "pass --download, or --data-dir DIR holding cifar-10-batches-py/"
    )


@functools.lru_cache(maxsize=4)
def _label_counts(directory: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # Every batch read in full, with the safe reader: a tampered file is refused here, before any run.
    counts = []
    for names in (TRAIN_BATCHES, TEST_BATCHES):
        _, labels = read_batches([directory / n for n in names])
        counts.append(tuple(int(c) for c in torch.bincount(labels, minlength=len(CLASS_NAMES))))
    return counts[0], counts[1]


def check(root: Path | None, data: DataConfig) -> ClassSummary:
    """The six batch files are there and read safely as CIFAR-10."""
    name = CLASS_NAMES[data.normal_class]
    directory = locate(root)
    if directory is None:
        if data.download and root is not None:
            return ClassSummary(name, f"not on disk yet: --download fetches CIFAR-10 into {root}")
        raise _not_found(root)
    train, test = _label_counts(directory.resolve())
    counts = (
        ("train nominal", train[data.normal_class]),
        ("test nominal", test[data.normal_class]),
        ("test anomalous", sum(test) - test[data.normal_class]),
    )
    return ClassSummary(name, f"python batches in {directory}", counts, ("32x32",), ("RGB",))


LOADER = DatasetLoader(
    load=load,
    classes=classes,
    recipes=RECIPES,
    one_vs_rest=always_one_vs_rest,
    input_shape=fixed_shape(NAME, RAW_SHAPE),
    check=check,
)
