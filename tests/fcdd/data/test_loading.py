"""Registry look-ups, class validation and the package's public surface."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import fcdd.data.cifar
from fcdd.config import DataConfig
from fcdd.data import fmnist
from fcdd.data.idx import write_idx
from fcdd.data.loading import dataset_classes, get_loader, list_datasets, load_dataset
from fcdd.data.registry import DATASETS
from tests.helpers import write_custom_tree


def write_tiny_fmnist(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 20), ("t10k", 10)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


def write_tiny_custom(root: Path) -> None:
    write_custom_tree(root, size=(12, 12), images=1)


@pytest.fixture(autouse=True)
def no_fallbacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fmnist, "FALLBACK_DIRS", (tmp_path / "no-such-fallback",))


def test_registered_names() -> None:
    assert list_datasets() == ["cifar10", "custom", "fmnist", "imagenet", "mvtec", "pascalvoc"]
    assert set(DATASETS) == {"fmnist", "cifar10", "custom", "imagenet", "mvtec", "pascalvoc"}
    assert get_loader("fmnist").default_preprocessing == "lcnaug1"
    assert get_loader("cifar10").default_preprocessing == "aug1"
    assert get_loader("custom").default_preprocessing == "aug1"


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown dataset 'cifar' \(did you mean 'cifar10'\?\); choose one of cifar10, custom, fmnist, .*",
    ):
        get_loader("cifar")


def test_dataset_classes() -> None:
    assert dataset_classes(DataConfig(dataset="fmnist"))[9] == "Ankle boot"
    assert dataset_classes(DataConfig(dataset="cifar10")) == fcdd.data.cifar.CLASS_NAMES
    with pytest.raises(ValueError, match="needs a data dir"):
        dataset_classes(DataConfig(dataset="custom"))


def test_custom_classes_from_folder(tmp_path: Path) -> None:
    write_tiny_custom(tmp_path)
    assert dataset_classes(DataConfig(dataset="custom", data_dir=tmp_path)) == ("metal", "wood")
    assert dataset_classes(DataConfig(dataset="custom", data_dir=str(tmp_path))) == ("metal", "wood")


def test_unknown_class_lists_valid(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown class 10 for dataset 'fmnist'; valid classes: 0=T-shirt/top, 1=Trouser, .*9=Ankle boot",
    ):
        load_dataset(DataConfig(dataset="fmnist", data_dir=str(tmp_path), normal_class=10))
    write_tiny_custom(tmp_path / "c")
    # A negative class is now refused by DataConfig itself, before any folder is read.
    with pytest.raises(ValueError, match=r"`normal_class` must be >= 0, got normal_class=-1"):
        load_dataset(DataConfig(dataset="custom", data_dir=str(tmp_path / "c"), normal_class=-1))


def test_bad_preprocessing_fails_before_loading(tmp_path: Path) -> None:
    # No files exist: the name check must come first.
    with pytest.raises(
        ValueError,
        match=r"unknown preprocessing 'aug2' for dataset 'cifar10'; "
        r"choose one of \['aug1', 'aug1_blackcenter', .*'none'\]",
    ):
        load_dataset(DataConfig(dataset="cifar10", data_dir=str(tmp_path), normal_class=0, preprocessing="aug2"))


def test_load_through_registry(tmp_path: Path) -> None:
    write_tiny_fmnist(tmp_path)
    config = DataConfig(dataset="fmnist", data_dir=str(tmp_path), normal_class=2)
    data = load_dataset(config)
    assert data.preprocessing.name == "lcnaug1"
    assert data.train_images.shape == (2, 1, 28, 28)
    assert load_dataset(dataclasses.replace(config, preprocessing="none")).preprocessing.name == "none"
    write_tiny_custom(tmp_path / "c")
    custom = load_dataset(DataConfig(dataset="custom", data_dir=str(tmp_path / "c"), normal_class=1, image_size=16))
    assert custom.input_shape == (3, 16, 16)
    assert custom.raw_shape == (3, 18, 18)
    assert custom.test_labels.tolist() == [0, 1]


def test_resolve_classes_by_index_and_name():
    from fcdd.data.loading import resolve_classes

    names = ("T-shirt/top", "Trouser", "tire")
    assert resolve_classes("all", names) == (0, 1, 2)
    assert resolve_classes("2,trouser", names) == (2, 1)
    assert resolve_classes([0, "TIRE"], names) == (0, 2)
    with pytest.raises(ValueError, match="unknown class 'wheel'; valid classes: 0=T-shirt/top"):
        resolve_classes("wheel", names)
