"""Custom folders with ground-truth maps (train_maps/, test_maps/): RGB, greyscale, one-vs-rest, errors."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcdd.data import folder
from fcdd.data.folder_maps import find_maps

SIZE = 32  # network input; raw side = round(32 * 248 / 224) = 35
W, H = 40, 30  # file size of every image and map


def save_image(path: Path, color: tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (W, H), color).convert(mode).save(path)


def save_map(path: Path, rows: slice | None = None, cols: slice | None = None, on: int = 255, size=(W, H)) -> None:
    """A binary map, anomalous (``on``) in ``rows`` x ``cols`` (nothing when rows is None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((size[1], size[0]), dtype=np.uint8)
    if rows is not None:
        array[rows, cols if cols is not None else slice(None)] = on
    Image.fromarray(array).save(path)


def make_tree(root: Path, mode: str = "RGB") -> None:
    """Classes a, b. Class a's maps: one nominal map missing, one anomalous map named .png for a .jpg."""
    for name in ("a", "b"):
        save_image(root / "train" / name / "normal" / "0.png", (200, 10, 10), mode)
        save_image(root / "train" / name / "normal" / "1.png", (180, 20, 20), mode)
        save_image(root / "test" / name / "normal" / "0.png", (200, 10, 10), mode)
        save_image(root / "test" / name / "normal" / "1.png", (190, 10, 10), mode)
        save_image(root / "test" / name / "anomalous" / "0.png", (10, 10, 200), mode)
        save_image(root / "test" / name / "anomalous" / "1.jpg", (10, 10, 220), mode)
        save_map(root / "test_maps" / name / "normal" / "0.png")
        # test/<name>/normal/1.png has no map: a nominal constant-zero map, file None
        save_map(root / "test_maps" / name / "anomalous" / "0.png", rows=slice(0, 15))  # top half
        save_map(root / "test_maps" / name / "anomalous" / "1.png", cols=slice(0, 20), rows=slice(None), on=1)
    save_image(root / "train" / "a" / "anomalous" / "0.png", (0, 0, 255), mode)
    save_map(root / "train_maps" / "a" / "normal" / "0.png")
    # train/a/normal/1.png has no map: zeros
    save_map(root / "train_maps" / "a" / "anomalous" / "0.png", rows=slice(15, 30))  # bottom half


def _load(root: Path, **kwargs: object) -> folder.ADData:
    return folder.load(
        root,
        0,
        image_size=SIZE,
        ground_truth_maps=True,
        show_progress=False,
        **kwargs,  # type: ignore[arg-type]
    )


# Images and maps are 40 x 30: their central square is columns 5..34, all 30 rows. PIL nearest from
# 30 to 35: position r reads source floor((r + 0.5) * 30 / 35), so source rows 0..14 land on rows
# 0..16 and 15..29 on 17..34; map columns 0..19 of the file are square columns 0..14, which land on 0..16.
TOP, LEFT = 17, 17


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_load_with_maps(tmp_path: Path, mode: str) -> None:
    make_tree(tmp_path, mode)
    channels = 1 if mode == "L" else 3
    data = _load(tmp_path, channels=channels)
    assert data.raw_shape == (channels, 35, 35)
    assert data.test_labels.tolist() == [0, 0, 1, 1]
    assert data.test_masks is not None and data.train_masks is not None and data.train_anomaly_masks is not None
    assert data.test_masks.shape == (4, 1, 35, 35)
    assert data.test_masks.dtype == torch.uint8
    assert not data.test_masks[:2].any(), "nominal test images: an all-zero map and a missing one"
    top = torch.zeros(35, 35, dtype=torch.uint8)
    top[:TOP] = 1
    left = torch.zeros(35, 35, dtype=torch.uint8)
    left[:, :LEFT] = 1
    assert torch.equal(data.test_masks[2, 0], top)
    assert torch.equal(data.test_masks[3, 0], left), "a {0, 1} map found under another extension"
    assert data.train_masks.shape == (2, 1, 35, 35)
    assert not data.train_masks.any()
    assert data.train_anomaly_masks.shape == (1, 1, 35, 35)
    assert torch.equal(data.train_anomaly_masks[0, 0], 1 - top)
    assert data.test_mask_files == (
        str(tmp_path / "test_maps/a/normal/0.png"),
        None,
        str(tmp_path / "test_maps/a/anomalous/0.png"),
        str(tmp_path / "test_maps/a/anomalous/1.png"),
    )
    # The maps pipeline: resize (not crop) at test time, masks follow their images in training.
    assert data.preprocessing.recipe == folder.GTMS_RECIPES["aug1"]
    assert data.preprocessing.input_shape == (channels, SIZE, SIZE)
    inputs, masks = data.preprocessing.train(
        data.test_images.float(), torch.Generator().manual_seed(0), data.test_masks.float()
    )
    assert inputs.shape == (4, channels, SIZE, SIZE)
    assert masks is not None and masks.shape == (4, 1, SIZE, SIZE)
    assert not masks[:2].any() and masks[2:].flatten(1).any(dim=1).all()


def test_without_maps_option_nothing_changes(tmp_path: Path) -> None:
    make_tree(tmp_path)
    data = folder.load(tmp_path, 0, image_size=SIZE, show_progress=False)
    assert data.test_masks is None and data.train_masks is None and data.test_mask_files is None
    assert data.train_anomaly_masks is None
    assert data.preprocessing.recipe == folder.RECIPES["aug1"]


def test_missing_anomalous_map_is_all_ones_and_turns_off_pixel_auc(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_tree(tmp_path)
    (tmp_path / "test_maps/a/anomalous/0.png").unlink()
    (tmp_path / "train_maps/a/anomalous/0.png").unlink()
    with caplog.at_level(logging.WARNING):
        data = _load(tmp_path)
    assert data.test_masks is not None and data.train_anomaly_masks is not None
    assert (data.test_masks[2] == 1).all(), "a missing map is a constant map of the label"
    assert (data.train_anomaly_masks == 1).all()
    assert data.test_mask_files is None
    assert "1 anomalous test images have no ground-truth map" in caplog.text


def test_one_vs_rest_has_a_map_for_every_test_image(tmp_path: Path) -> None:
    for i, name in enumerate(("cat", "dog", "owl")):
        for j in range(2):
            save_image(tmp_path / "train" / name / f"{j}.png", (60 * i, 0, 0))
            save_image(tmp_path / "test" / name / f"{j}.png", (60 * i, 5, 5))
            save_map(tmp_path / "test_maps" / name / f"{j}.png", rows=slice(0, 15) if name != "cat" else None)
        save_map(tmp_path / "train_maps" / name / "0.png", rows=slice(0, 15) if name != "cat" else None)
    for normal in (0, 1):
        data = folder.load(
            tmp_path, normal, image_size=SIZE, one_vs_rest=True, ground_truth_maps=True, show_progress=False
        )
        assert data.test_masks is not None and data.test_mask_files is not None
        assert data.test_masks.shape == (6, 1, 35, 35)
        assert len(data.test_mask_files) == 6
        assert all(f is not None for f in data.test_mask_files)
        anomalous = data.train_anomalies
        assert anomalous is not None and data.train_anomaly_masks is not None
        assert data.train_anomaly_masks.shape == (len(anomalous), 1, 35, 35)
    assert data.test_classes.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.test_masks.flatten(1).any(dim=1).tolist() == [False, False, True, True, True, True]


def test_errors_name_the_files(tmp_path: Path) -> None:
    make_tree(tmp_path)
    bad = tmp_path / "test_maps/a/anomalous/0.png"
    save_map(bad, rows=slice(0, 3), size=(20, 30))
    with pytest.raises(ValueError, match="20x30") as err:
        _load(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(bad) in message and "20x30" in message
    assert str(tmp_path / "test/a/anomalous/0.png") in message and "40x30" in message

    gradient = np.tile(np.arange(W, dtype=np.uint8) * 6, (H, 1))
    Image.fromarray(gradient).save(bad)
    with pytest.raises(ValueError, match=r"ground-truth map .*0\.png is not binary"):
        _load(tmp_path)

    save_map(bad)
    save_map(bad.with_suffix(".bmp"))
    image = tmp_path / "test/a/anomalous/0.jpg"
    with pytest.raises(ValueError, match="several ground-truth maps"):
        find_maps(tmp_path, [image])

    other = tmp_path / "other"
    make_tree(other)
    shutil.rmtree(other / "test_maps")
    with pytest.raises(FileNotFoundError, match="test_maps is missing"):
        _load(other)


def test_antialiased_edges_are_tolerated(tmp_path: Path) -> None:
    make_tree(tmp_path)
    path = tmp_path / "test_maps/a/anomalous/0.png"
    array = np.zeros((H, W), dtype=np.uint8)
    array[:15] = 255
    array[15, :10] = 128  # 10 grey pixels of 1200: under the 1% tolerance, and > 0 = anomalous
    Image.fromarray(array).save(path)
    data = _load(tmp_path)
    assert data.test_masks is not None
    assert data.test_masks[2].sum() > 0
