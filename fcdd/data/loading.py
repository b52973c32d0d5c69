"""Loading a registered dataset: its class names, its one-vs-rest problem, and class selection.

The entry points the rest of fcdd uses; the table of datasets is :data:`fcdd.data.registry.DATASETS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcdd import registry
from fcdd.config import DataConfig
from fcdd.data.base import ADData, DatasetLoader
from fcdd.data.preprocess import pick_recipe
from fcdd.data.registry import DATASETS


def list_datasets() -> list[str]:
    """Sorted names of the registered datasets."""
    return sorted(DATASETS)


def get_loader(name: str) -> DatasetLoader:
    """The registry entry for ``name``; unknown names raise a ``ValueError`` with suggestions."""
    loader: DatasetLoader = registry.lookup(DATASETS, name, "dataset")
    return loader


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


def dataset_classes(data: DataConfig) -> tuple[str, ...]:
    """Class names of the config's dataset, in class-index order (custom folders are read from its ``data_dir``)."""
    loader = get_loader(data.dataset)
    return loader.classes(_as_path(data.data_dir, download=True), one_vs_rest=data.one_vs_rest)


def check_data(data: DataConfig) -> None:
    """The pre-flight of a DataConfig: the class exists and, where the dataset checks its files, they can load."""
    loader = get_loader(data.dataset)
    path = _as_path(data.data_dir, download=data.download)
    check_class(data.dataset, loader.classes(path, one_vs_rest=data.one_vs_rest), data.normal_class)
    if loader.check is not None:
        loader.check(path, data.normal_class)


def check_class(name: str, class_names: tuple[str, ...], normal_class: int) -> None:
    """Raise a ``ValueError`` listing the valid indices when ``normal_class`` is out of range."""
    if not 0 <= normal_class < len(class_names):
        valid = ", ".join(f"{i}={c}" for i, c in enumerate(class_names))
        raise ValueError(f"unknown class {normal_class} for dataset {name!r}; valid classes: {valid}")


def load_dataset(data: DataConfig) -> ADData:
    """Load the dataset a :class:`~fcdd.config.DataConfig` names, with its ``normal_class`` nominal.

    ``preprocessing`` defaults to the dataset's default pipeline (``lcnaug1`` for fmnist, ``aug1``
    otherwise). ``one_vs_rest``, ``image_size``, ``ground_truth_maps`` and ``channels`` only matter
    for the datasets that read them (custom folders; ``image_size`` also mvtec, imagenet, voc).
    The subset limits and the validation split are applied by the caller.
    """
    loader = get_loader(data.dataset)
    path = _as_path(data.data_dir, download=data.download)
    check_class(data.dataset, loader.classes(path, one_vs_rest=data.one_vs_rest), data.normal_class)
    pre = loader.default_preprocessing if data.preprocessing is None else data.preprocessing
    pick_recipe(loader.recipes, pre, data.dataset)  # fail on a bad name before any slow loading
    extra: dict[str, Any] = {}
    if data.ground_truth_maps:  # only custom folders have map folders to read
        if data.dataset != "custom":
            raise ValueError(
                f"--ground-truth-maps reads train_maps/ and test_maps/ of custom folders, not {data.dataset!r}"
            )
        extra["ground_truth_maps"] = True
    if data.channels is not None:  # custom folders decode to this many channels (1 = greyscale)
        if data.dataset != "custom":
            raise ValueError(f"--channels applies to custom folders; {data.dataset!r} has a fixed number of channels")
        if data.channels not in (1, 3):
            raise ValueError(f"--channels must be 1 (greyscale) or 3 (RGB), got {data.channels}")
        extra["channels"] = data.channels
    return loader.load(
        path,
        data.normal_class,
        preprocessing=pre,
        download=data.download,
        one_vs_rest=data.one_vs_rest,
        image_size=data.image_size,
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
