"""Loading a registered dataset: its class names, its one-vs-rest problem, and class selection.

The entry points the rest of fcdd uses; the table of datasets is :data:`fcdd.data.registry.DATASETS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcdd import registry
from fcdd.config import DataConfig
from fcdd.data.base import ADData, ClassSummary, DatasetLoader
from fcdd.data.preprocess import pick_recipe
from fcdd.data.registry import DATASETS


def list_datasets() -> list[str]:
    """Sorted names of the registered datasets."""
    return sorted(DATASETS)


def get_loader(name: str) -> DatasetLoader:
    """The registry entry for ``name``; unknown names raise a ``ValueError`` with suggestions."""
    loader = registry.lookup(DATASETS, name, "dataset", DatasetLoader)
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


def check_data(data: DataConfig) -> ClassSummary:
    """The pre-flight of a DataConfig: options, the class, and the class's files where the dataset checks them.

    Returns what was found (`fcdd check` prints it); raises a one-line ``ValueError`` or
    ``FileNotFoundError`` naming the path and the fix. Nothing is decoded but masks.
    """
    loader = get_loader(data.dataset)
    path = _as_path(data.data_dir, download=data.download)
    names = loader.classes(path, one_vs_rest=data.one_vs_rest)
    check_class(data.dataset, names, data.normal_class)
    _check_options(data, loader)
    if loader.input_shape is not None:
        loader.input_shape(data)  # a fixed-size dataset refuses another --image-size here
    if loader.check is None:
        return ClassSummary(names[data.normal_class], f"{data.dataset} in {path or 'its default location'}")
    summary = loader.check(path, data)
    check_training_size(summary.count("train nominal"), data, summary.name)
    return summary


def check_training_size(n_nominal: int, data: DataConfig, name: str) -> None:
    """A run needs at least two training images (a one-image batch has no BatchNorm statistics and is skipped)."""
    if not n_nominal:  # not counted (a download still to come)
        return
    n = min(n_nominal, data.train_limit or n_nominal)
    held_out = 0
    if data.validation_fraction > 0:
        from fcdd.data.subsets import validation_size

        held_out = validation_size(n, data.validation_fraction)
    if n - held_out < 2:
        what = f"validation_fraction={data.validation_fraction:g} leaves {n - held_out}" if held_out else f"only {n}"
        raise ValueError(
            f"class {name!r} has {what} nominal training image(s) of {n}; a run needs at least 2 "
            "(lower --validation-fraction, raise --train-limit, or add images)"
        )


def input_shape(data: DataConfig) -> tuple[int, int, int] | None:
    """The (C, H, W) the dataset's preprocessing gives the network, from the config alone (None: unknown)."""
    loader = get_loader(data.dataset)
    return None if loader.input_shape is None else loader.input_shape(data)


def _check_options(data: DataConfig, loader: DatasetLoader) -> None:
    pre = loader.default_preprocessing if data.preprocessing is None else data.preprocessing
    pick_recipe(loader.recipes, pre, data.dataset)
    if data.ground_truth_maps and data.dataset != "custom":  # only custom folders have map folders to read
        raise ValueError(
            f"--ground-truth-maps reads train_maps/ and test_maps/ of custom folders, not {data.dataset!r}"
        )
    if data.channels is not None:  # custom folders decode to this many channels (1 = greyscale)
        if data.dataset != "custom":
            raise ValueError(f"--channels applies to custom folders; {data.dataset!r} has a fixed number of channels")
        if data.channels not in (1, 3):
            raise ValueError(f"--channels must be 1 (greyscale) or 3 (RGB), got {data.channels}")


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
    _check_options(data, loader)  # fail on a bad option before any slow loading
    pre = loader.default_preprocessing if data.preprocessing is None else data.preprocessing
    extra: dict[str, Any] = {}
    if data.ground_truth_maps:
        extra["ground_truth_maps"] = True
    if data.channels is not None:
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
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or any(isinstance(v, bool) or not isinstance(v, int | str) for v in value):
        raise ValueError(f"`classes` must be 'all', class indices or names, got {value!r}")
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
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        # Twice the same class would be one run reported as two seeds' worth of results.
        twice = f"{class_names[repeated[0]]!r} ({repeated[0]})"
        raise ValueError(f"class {twice} is given twice in `classes`; name each class once")
    return tuple(classes)
