"""Pascal VOC 2007 horse: XML parsing, splits, which side is nominal, download path, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fcdd.config import DataConfig
from fcdd.data import voc as voc_module
from fcdd.data.loading import load_dataset
from tests.helpers.voc import write_voc


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_voc(tmp_path_factory.mktemp("voc"))


def test_paper_setup_horses_are_anomalous(root: Path) -> None:
    data = voc_module.load(root, 0, image_size=32, show_progress=False)
    assert data.class_names == ("horse",) and data.raw_shape == (3, 32, 32) and data.input_shape == (3, 32, 32)
    # Train: only the train image with a horse; its colour survives the square resize.
    assert data.train_images.shape == (1, 3, 32, 32)
    assert (data.train_images.float().mean(dim=(0, 2, 3)) - torch.tensor([200.0, 10, 10])).abs().max() < 4
    # Test: the val split, horse (000003) labelled 1 = anomalous.
    assert data.test_labels.tolist() == [1, 0] and data.test_classes.tolist() == [0, -1]
    assert data.test_groups == ("horse", "no horse")
    assert data.train_label == 1
    assert data.train_anomalies is None


def test_horses_nominal_option(root: Path) -> None:
    data = voc_module.load(root, 0, image_size=16, horse_is="nominal", show_progress=False)
    assert data.test_labels.tolist() == [0, 1]
    assert data.train_label == 0


def test_preprocessing_matches_the_original(root: Path) -> None:
    data = load_dataset(DataConfig(dataset="pascalvoc", data_dir=str(root), normal_class=0, image_size=24))
    pre = data.preprocessing
    assert pre.shift == voc_module.MEAN and pre.scale == voc_module.STD
    assert pre.recipe.augment and not pre.recipe.hflip and pre.recipe.pad == 0
    assert pre.recipe.jitter == 0.01 and pre.recipe.noise == 0.001
    x, _ = pre.train(data.train_images.float(), torch.Generator().manual_seed(0))
    assert x.shape == (1, 3, 24, 24)


def test_download_goes_through_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    calls = []

    class FakeVOC:
        def __init__(self, root: str, year: str, image_set: str, download: bool) -> None:
            calls.append((year, image_set, download))
            write_voc(Path(root))

    monkeypatch.setattr(torchvision.datasets, "VOCDetection", FakeVOC)
    data = voc_module.load(tmp_path, 0, image_size=8, download=True, show_progress=False)
    assert calls == [("2007", "trainval", True)] and data.test_images.shape == (2, 3, 8, 8)


def test_errors(root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pass --download"):
        voc_module.load(tmp_path, 0)
    with pytest.raises(ValueError, match="one class, 0 = horse"):
        voc_module.load(root, 1)
    with pytest.raises(ValueError, match="needs a data dir"):
        voc_module.load(None, 0)
    broken = write_voc(tmp_path / "broken")
    (broken / "VOCdevkit" / "VOC2007" / "Annotations" / "000004.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match=r"cannot read VOC annotation .*000004\.xml"):
        voc_module.load(broken, 0)
    no_horse = write_voc(tmp_path / "nohorse")
    (no_horse / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "train.txt").write_text("000002\n")
    with pytest.raises(ValueError, match="annotated with a horse"):
        voc_module.load(no_horse, 0)
