"""Dataset registry: name -> loader, plus the two entry points the rest of fcdd uses.

Adding a dataset family: write its module (``load``, ``classes``, ``RECIPES`` and a
``LOADER``), add one line to :data:`DATASETS`, and, for stored normalisation
constants, a block in ``constants.json``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcdd.data import cifar, fmnist, folder, imagenet, mvtec, voc
from fcdd.data.base import ADData, DatasetLoader
from fcdd.data.preprocess import pick_recipe

DATASETS: dict[str, DatasetLoader] = {
    fmnist.NAME: fmnist.LOADER,
    cifar.NAME: cifar.LOADER,
    folder.NAME: folder.LOADER,
    mvtec.NAME: mvtec.LOADER,
    imagenet.NAME: imagenet.LOADER,
    voc.NAME: voc.LOADER,
}


def list_datasets() -> list[str]:
    """Sorted names of the registered datasets."""
    return sorted(DATASETS)


def get_loader(name: str) -> DatasetLoader:
    """The registry entry for ``name``; unknown names raise a ``ValueError`` with suggestions."""
    if name not in DATASETS:
        close = difflib.get_close_matches(name, DATASETS)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}; choose one of {list_datasets()}{hint}")
    return DATASETS[name]


def _as_path(root: str | Path | None, *, download: bool = False) -> Path | None:
    if root is None:
        return None
    path = Path(root).expanduser()
    # A mistyped --data-dir must not silently fall back to another copy of the data.
    if not download and not path.is_dir():
        raise FileNotFoundError(
            f"data folder {path} does not exist; check --data-dir (or pass --download to fetch the data there)"
        )
    return path


def dataset_classes(name: str, root: str | Path | None, *, one_vs_rest: bool = False) -> tuple[str, ...]:
    """Class names of a dataset, in class-index order (custom folders are read from ``root``)."""
    loader = get_loader(name)
    return loader.classes(_as_path(root, download=True), one_vs_rest=one_vs_rest)


def check_class(name: str, class_names: tuple[str, ...], normal_class: int) -> None:
    """Raise a ``ValueError`` listing the valid indices when ``normal_class`` is out of range."""
    if not 0 <= normal_class < len(class_names):
        valid = ", ".join(f"{i}={c}" for i, c in enumerate(class_names))
        raise ValueError(f"unknown class {normal_class} for dataset {name!r}; valid classes: {valid}")


def load_dataset(
    name: str,
    root: str | Path | None,
    normal_class: int,
    *,
    preprocessing: str | None = None,
    download: bool = False,
    one_vs_rest: bool = False,
    image_size: int | None = None,
    ground_truth_maps: bool = False,
    channels: int | None = None,
) -> ADData:
    """Load dataset ``name`` with ``normal_class`` nominal.

    ``preprocessing`` defaults to the dataset's default pipeline (``lcnaug1`` for
    fmnist, ``aug1`` otherwise). ``one_vs_rest`` and ``image_size`` only matter for
    custom folders; fmnist and cifar10 are always one-vs-rest at their native size.
    """
    loader = get_loader(name)
    path = _as_path(root, download=download)
    check_class(name, loader.classes(path, one_vs_rest=one_vs_rest), normal_class)
    pre = loader.default_preprocessing if preprocessing is None else preprocessing
    pick_recipe(loader.recipes, pre, name)  # fail on a bad name before any slow loading
    extra = {}
    if ground_truth_maps:  # only custom folders have map folders to read
        if name != "custom":
            raise ValueError(f"--ground-truth-maps reads train_maps/ and test_maps/ of custom folders, not {name!r}")
        extra["ground_truth_maps"] = True
    if channels is not None:  # custom folders decode to this many channels (1 = greyscale)
        if name != "custom":
            raise ValueError(f"--channels applies to custom folders; {name!r} has a fixed number of channels")
        if channels not in (1, 3):
            raise ValueError(f"--channels must be 1 (greyscale) or 3 (RGB), got {channels}")
        extra["channels"] = channels
    return loader.load(
        path,
        normal_class,
        preprocessing=pre,
        download=download,
        one_vs_rest=one_vs_rest,
        image_size=image_size,
        **extra,
    )


def resolve_classes(value: Any, class_names: Sequence[str]) -> tuple[int, ...]:
    """Nominal classes from ``"all"``, a comma-separated string or a list of indices and/or names.

    Names match case-insensitively (``tire``, ``Ankle boot``); unknown entries list the valid ones.
    """
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return tuple(range(len(class_names)))
        value = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, int):
        value = [value]
    by_name = {name.lower(): i for i, name in enumerate(class_names)}
    classes = []
    for item in value:
        text = str(item).strip()
        if text.lstrip("-").isdigit() and 0 <= int(text) < len(class_names):
            classes.append(int(text))
        elif text.lower() in by_name:
            classes.append(by_name[text.lower()])
        else:
            listing = ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
            raise ValueError(f"unknown class {text!r}; valid classes: {listing}")
    if not classes:
        raise ValueError("no class given; pass class indices or names, or 'all'")
    return tuple(classes)
