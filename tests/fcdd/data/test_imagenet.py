"""ImageNet-30: folder discovery, seeded test order, decoding, archive preparation, errors."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from fcdd.config import DataConfig
from fcdd.data import imagenet as inet
from fcdd.data.imagenet_classes import IMAGENET30, IMAGENET30_WNIDS, VOC_CLASS_WORDS, imagenet1k_classes, wnids_named_by
from fcdd.data.images import list_images
from fcdd.data.loading import dataset_classes, load_dataset
from tests.helpers.imagenet import TRAIN_PER_CLASS, VAL_PER_CLASS, colour, write_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("imagenet"))


def test_class_tables() -> None:
    names = imagenet1k_classes()
    assert len(names) == 1000 and list(names) == sorted(names)
    assert len(IMAGENET30) == 30 and set(IMAGENET30_WNIDS) <= set(names)
    assert names["n03187595"].startswith("dial telephone")  # class 21, rotary_dial_telephone
    voc = wnids_named_by(VOC_CLASS_WORDS)
    # tabby cat, dining table, sports car, horse cart
    assert {"n02123045", "n03201208", "n04285008", "n03538406"} <= voc
    assert not {"n02981792", "n02963159"} & voc  # catamaran, cardigan: "cat" and "car" are whole words only


def test_load_one_vs_rest(tree: Path) -> None:
    data = inet.load(tree, 3, image_size=32, anomalies_per_class=2, show_progress=False)
    raw = inet.raw_size_for(32)
    assert raw == 37 and data.raw_shape == (3, raw, raw) and data.input_shape == (3, 32, 32)
    assert data.class_names[3] == "american_alligator"
    assert data.train_images.shape == (TRAIN_PER_CLASS, 3, raw, raw)
    assert data.train_anomalies is not None and data.train_anomalies.shape == (29 * 2, 3, raw, raw)
    assert data.test_images.shape == (30 * VAL_PER_CLASS, 3, raw, raw)
    assert torch.bincount(data.test_classes, minlength=30).tolist() == [VAL_PER_CLASS] * 30
    assert torch.equal(data.test_labels, (data.test_classes != 3).long())
    # Solid colours survive decoding: train images are class 3's colour, test images their class's.
    assert (data.train_images.float().mean(dim=(0, 2, 3)) - torch.tensor(colour(3))).abs().max() < 4
    first = data.test_images[0].float().mean(dim=(1, 2))
    assert (first - torch.tensor(colour(int(data.test_classes[0])))).abs().max() < 4
    assert data.preprocessing.shift == inet.MEAN and data.preprocessing.recipe.hflip


def test_test_order_is_fixed_shuffled_and_class_independent(tree: Path) -> None:
    a = inet.load(tree, 0, image_size=16, anomalies_per_class=0, show_progress=False)
    b = inet.load(tree, 7, image_size=16, anomalies_per_class=0, show_progress=False)
    assert torch.equal(a.test_classes, b.test_classes)
    assert not torch.equal(a.test_classes, a.test_classes.sort().values)  # shuffled, not class-sorted
    assert torch.equal(a.test_images, b.test_images)
    assert a.train_anomalies is None


def test_registry_and_preprocessing(tree: Path) -> None:
    assert dataset_classes(DataConfig(dataset="imagenet")) == inet.CLASS_NAMES
    data = load_dataset(DataConfig(dataset="imagenet", data_dir=str(tree), normal_class=1, image_size=24))
    x, _ = data.preprocessing.train(data.train_images.float(), torch.Generator().manual_seed(0))
    assert x.shape == (TRAIN_PER_CLASS, 3, 24, 24) and x.dtype == torch.float32
    assert data.preprocessing.test(data.test_images[:4]).shape == (4, 3, 24, 24)


def test_missing_classes_error(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "partial", IMAGENET30_WNIDS[2:])
    with pytest.raises(FileNotFoundError) as err:
        inet.load(root, 5, image_size=16, show_progress=False)
    message = str(err.value)
    assert "\n" not in message and "lacks 2 of the 30" in message
    assert "n12267677 (acorn)" in message and "n02690373 (airliner)" in message and "train/<wnid>" in message


def test_missing_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected <root>/train/<wnid>"):
        inet.load(tmp_path, 0, show_progress=False)
    with pytest.raises(ValueError, match="needs a data dir"):
        inet.load(None, 0)
    with pytest.raises(ValueError, match=r"normal_class.*\[0, 30\)"):
        inet.load(tmp_path, 30)


def test_val_archive_is_prepared_with_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.imagenet as tv

    # torchvision checks the real archives' MD5 sums; a tiny stand-in needs that check off.
    monkeypatch.setattr(tv, "_verify_archive", lambda *args: None)
    root = tmp_path / "imagenet"
    root.mkdir()
    wnids = ["n01440764", "n01443537", "n01440764"]  # the class of val images 1, 2, 3
    with tarfile.open(root / inet.ARCHIVES["val"], "w") as tar:
        for i in range(3):
            buffer = io.BytesIO()
            Image.new("RGB", (8, 8), (i * 50, 0, 0)).save(buffer, format="JPEG")
            info = tarfile.TarInfo(f"ILSVRC2012_val_{i + 1:08d}.JPEG")
            info.size = buffer.tell()
            buffer.seek(0)
            tar.addfile(info, buffer)
    torch.save(({w: (w,) for w in wnids}, wnids), root / inet.META_FILE)  # what the devkit parser writes
    with pytest.raises(FileNotFoundError, match="pass --download to extract"):
        inet.split_dir(tmp_path, "val")
    val = inet.split_dir(tmp_path, "val", download=True)  # finds <root>/imagenet
    assert val == root / "val"
    assert [p.name for p in list_images(val / "n01440764", recursive=False)] == [
        "ILSVRC2012_val_00000001.JPEG",
        "ILSVRC2012_val_00000003.JPEG",
    ]
    shutil.rmtree(val)
    (root / inet.META_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_devkit_t12.tar.gz is missing"):
        inet.split_dir(root, "val", download=True)
