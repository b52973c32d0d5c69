"""MVTec-AD loading: discovery, labels, joint image/mask geometry, constants, recipes, errors."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from fcdd.config import DataConfig
from fcdd.data import mvtec
from fcdd.data.augment import color_jitter_choice, relative_noise, resize_nearest
from fcdd.data.loading import load_dataset
from fcdd.data.preprocess import Preprocessing, Recipe, class_constants
from tests.helpers.mvtec import DEFECTS, HEIGHT, TEST_GOOD, TRAIN_GOOD, WIDTH, write_tree

SIZE = 22  # network input; raw = round(22 * 240 / 224) = 24
RAW = 24
# The shared data folder sits beside the checkout (as in CI); the test skips without it.
TIRE = Path(__file__).resolve().parents[4] / "shared" / "data" / "mvtec3d_tire"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("mvtec") / "data")


@pytest.fixture
def copy(tree: Path, tmp_path: Path) -> Path:
    """A private copy of the tree, for tests that break it."""
    return Path(shutil.copytree(tree, tmp_path / "data"))


def load(root: Path, normal_class: int = 0, **kwargs: object) -> mvtec.ADData:
    return mvtec.load(root, normal_class, image_size=SIZE, show_progress=False, **kwargs)  # type: ignore[arg-type]


def test_raw_size_and_recipe_names() -> None:
    assert mvtec.raw_size_for(224) == 240
    assert mvtec.raw_size_for(SIZE) == RAW
    assert list(mvtec.RECIPES)[:2] == ["lcnaug1", "aug1"]  # lcnaug1 is the default


def test_categories_match_the_constants_table_order() -> None:
    from fcdd.data.preprocess import load_constants

    source = load_constants()["mvtec"]["source"]
    assert ", ".join(mvtec.CATEGORIES) in source
    assert len(load_constants()["mvtec"]["mean"]) == len(mvtec.CATEGORIES) == 15
    assert list(mvtec.CATEGORIES) == sorted(mvtec.CATEGORIES)


def test_discovery_and_labels(tree: Path) -> None:
    assert mvtec.classes(tree) == ("widget", "zipper")
    data = load(tree, 1)
    n_test = TEST_GOOD + sum(DEFECTS.values())
    assert data.class_names == ("widget", "zipper") and data.normal_class == 1
    assert data.train_images.shape == (TRAIN_GOOD, 3, RAW, RAW) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (n_test, 3, RAW, RAW)
    # Defect folders in sorted order: crack (3), good (2), stain (2).
    assert data.test_groups == ("crack",) * 3 + ("good",) * 2 + ("stain",) * 2
    assert data.test_labels.tolist() == [1, 1, 1, 0, 0, 1, 1]
    assert data.test_classes.tolist() == [1] * n_test
    assert data.train_anomalies is None
    assert data.test_mask_files is not None
    assert data.test_mask_files[3] is None and data.test_mask_files[4] is None
    assert data.test_mask_files[0] == str(tree / "zipper" / "ground_truth" / "crack" / "000_mask.png")
    assert data.test_masks is not None and data.test_masks.shape == (n_test, 1, RAW, RAW)
    has_mask = data.test_masks.flatten(1).amax(dim=1)
    assert has_mask.tolist() == data.test_labels.tolist()
    assert set(data.test_masks.unique().tolist()) == {0, 1}
    assert data.input_shape == (3, SIZE, SIZE)


def test_registry_entry(tree: Path) -> None:
    config = DataConfig(dataset="mvtec", data_dir=str(tree), normal_class=0, image_size=SIZE)
    data = load_dataset(config)
    assert data.name == "mvtec" and data.preprocessing.name == "lcnaug1"
    assert load_dataset(dataclasses.replace(config, preprocessing="aug1")).preprocessing.name == "aug1"


def test_raw_resize_keeps_masks_on_their_squares(tree: Path) -> None:
    data = load(tree, 0)
    assert data.test_masks is not None
    for i in torch.nonzero(data.test_labels).flatten().tolist():
        bright = data.test_images[i].float().mean(dim=0) > 127
        mask = data.test_masks[i, 0].bool()
        iou = (bright & mask).sum() / (bright | mask).sum()
        assert float(iou) > 0.75
    # 48 x 32 -> 24 x 24: rows 16..31 -> 8..15, columns 8..23 -> 6..17, exactly under nearest.
    expected = torch.zeros(RAW, RAW, dtype=torch.uint8)
    expected[8:16, 6:18] = 1
    assert torch.equal(data.test_masks[0, 0], expected)


def test_train_geometry_moves_masks_with_images() -> None:
    # Images that ARE their masks: after any joint crop or resize they must still coincide exactly.
    gen = torch.Generator().manual_seed(3)
    masks = (torch.rand(32, 1, RAW, RAW, generator=gen) > 0.7).float()
    images = (masks * 255).expand(32, 3, RAW, RAW)
    pre = Preprocessing("geo", (3, SIZE, SIZE), (0.0,), (1.0,), Recipe(augment=True, resize=True))
    out, out_masks = pre.train(images, torch.Generator().manual_seed(0), masks)
    assert out_masks is not None and out_masks.shape == (32, 1, SIZE, SIZE)
    assert torch.equal(out, out_masks.expand_as(out))
    resized = resize_nearest(masks, (SIZE, SIZE))
    same = (out_masks == resized).flatten(1).all(dim=1)
    assert 0 < int(same.sum()) < 32  # both branches (resize, random crop) were taken
    # The test pipeline resizes images and masks alike.
    assert torch.equal(pre.test(images), resized.expand(32, 3, SIZE, SIZE))
    assert torch.equal(pre.test_masks(masks), resized)


def test_lcnaug1_train_batch_on_real_defects(tree: Path) -> None:
    data = load(tree, 0)
    assert data.test_masks is not None
    images, masks = data.test_images.float(), data.test_masks.float()
    out, out_masks = data.preprocessing.train(images, torch.Generator().manual_seed(0), masks)
    assert out.shape == (len(images), 3, SIZE, SIZE) and out.dtype == torch.float32
    assert out_masks is not None and out_masks.shape == (len(images), 1, SIZE, SIZE)
    assert set(out_masks.unique().tolist()) <= {0.0, 1.0}
    assert torch.isfinite(out).all()
    # The mask still marks the bright square: (almost) all its pixels are above the image's median.
    for i in torch.nonzero(data.test_labels).flatten().tolist():
        grey = out[i].mean(dim=0)
        inside = grey[out_masks[i, 0].bool()]
        assert float((inside > grey.median()).float().mean()) > 0.9


def test_jitter_choice_picks_one_option_per_sample() -> None:
    x = torch.rand(64, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.1
    out = color_jitter_choice(x, ((0.0, 0.0, 0.0, 0.0), (0.5, 0.0, 0.0, 0.0)), torch.Generator().manual_seed(1))
    ratio = (out / x).flatten(1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)  # one brightness factor per sample
    unchanged = (ratio[:, 0] == 1).sum()
    assert 16 < int(unchanged) < 48  # option 0 (identity) for about half of the samples
    with pytest.raises(ValueError, match="jitter option"):
        color_jitter_choice(x, ((0.1, 0.1, 0.1),), torch.Generator())  # type: ignore[arg-type]


def test_relative_noise_half_the_samples_scaled_by_their_std() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 3, 16, 16, generator=gen) * 0.5 + 0.25
    x[100:] = x[100:] * 0.2 + 0.4  # a second half with a 5x smaller std
    out = relative_noise(x, 0.1, torch.Generator().manual_seed(1))
    delta = (out - x).flatten(1)
    noised = delta.abs().amax(dim=1) > 0
    assert 70 < int(noised.sum()) < 130  # p = 0.5 per sample
    ratio = delta.std(dim=1) / x.flatten(1).std(dim=1)
    assert ratio[noised].tolist() == pytest.approx([0.1] * int(noised.sum()), rel=0.15)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_recipe_determinism(tree: Path) -> None:
    data = load(tree, 0, preprocessing="aug1")
    images = data.train_images.float()

    def run(seed: int) -> torch.Tensor:
        return data.preprocessing.train(images, torch.Generator().manual_seed(seed))[0]

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))


def test_constants_from_table_by_name(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fcdd.data.mvtec"):
        lcn_pre = load(tree, 1).preprocessing  # zipper: index 1 here, 14 in the table
    assert "from constants.json" in caplog.text
    table = class_constants("mvtec", mvtec.CATEGORIES.index("zipper"))
    assert lcn_pre.shift == pytest.approx(table.lcn_min)
    assert lcn_pre.scale == pytest.approx(tuple(hi - lo for lo, hi in zip(table.lcn_min, table.lcn_max, strict=True)))
    std_pre = load(tree, 1, preprocessing="aug1").preprocessing
    assert std_pre.shift == pytest.approx(table.mean) and std_pre.scale == pytest.approx(table.std)


def test_empirical_constants_normalise_the_training_images(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fcdd.data.mvtec"):
        data = load(tree, 0)  # widget: not an MVTec-AD category
    assert "measured on its 4 training images" in caplog.text
    # LCN + min-max with the class's own extremes maps its training images onto exactly [0, 1].
    x = data.preprocessing.test(data.train_images)
    assert x.amin(dim=(0, 2, 3)).tolist() == pytest.approx([0.0] * 3, abs=1e-5)
    assert x.amax(dim=(0, 2, 3)).tolist() == pytest.approx([1.0] * 3, abs=1e-5)
    # Mean/std with the class's own statistics: zero mean, unit (population) std per channel.
    y = load(tree, 0, preprocessing="aug1").preprocessing.test(data.train_images)
    assert y.mean(dim=(0, 2, 3)).tolist() == pytest.approx([0.0] * 3, abs=1e-4)
    assert y.std(dim=(0, 2, 3), correction=0).tolist() == pytest.approx([1.0] * 3, abs=1e-4)


def test_lcn_and_none_recipes_work_at_a_smaller_input(tree: Path) -> None:
    # The original asserted raw == input size for these and could not run (§9.1 item 8).
    for name in ("lcn", "none"):
        data = load(tree, 0, preprocessing=name)
        out, masks = data.preprocessing.train(data.test_images.float(), torch.Generator(), data.test_masks)
        assert out.shape[-2:] == (SIZE, SIZE) and masks is not None and masks.shape[-2:] == (SIZE, SIZE)


def test_classes_of_a_missing_or_empty_root_are_the_download(tmp_path: Path) -> None:
    assert mvtec.classes(tmp_path / "absent") == mvtec.CATEGORIES
    assert mvtec.classes(tmp_path) == mvtec.CATEGORIES


def test_download_with_a_local_url(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive_path = tmp_path / "mvtec_anomaly_detection.tar.gz"
    with tarfile.open(archive_path, "w:gz") as handle:
        for child in sorted(tree.iterdir()):
            handle.add(child, arcname=child.name)
    monkeypatch.setenv(mvtec.URL_ENV, archive_path.as_uri())
    root = tmp_path / "fetched"
    data = load(root, 1, download=True)
    assert data.class_names == ("widget", "zipper") and len(data.test_images) == 7
    assert not (root / archive_path.name).exists()  # the archive is removed after extraction


# Every error is one line and names the offending path.


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.*does not exist"):
        load(tmp_path / "absent")


def test_root_without_categories(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    with pytest.raises(ValueError, match=r"no MVTec category folder .*train/good"):
        load(tmp_path)


def test_category_without_train_good(copy: Path) -> None:
    shutil.rmtree(copy / "widget" / "train" / "good")
    with pytest.raises(ValueError, match=r"widget has no train/good/"):
        load(copy)


def test_root_is_a_category(copy: Path) -> None:
    with pytest.raises(ValueError, match=r"zipper is itself a category folder.*parent"):
        load(copy / "zipper")


def test_defect_image_without_mask(copy: Path) -> None:
    missing = copy / "widget" / "ground_truth" / "stain" / "001_mask.png"
    missing.unlink()
    with pytest.raises(FileNotFoundError) as err:
        load(copy)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_mask_of_the_wrong_size(copy: Path) -> None:
    mask = copy / "widget" / "ground_truth" / "crack" / "002_mask.png"
    Image.new("L", (WIDTH + 1, HEIGHT)).save(mask)
    with pytest.raises(ValueError, match="a mask needs its image's size") as err:
        load(copy)
    message = str(err.value)
    assert str(mask) in message and str(copy / "widget" / "test" / "crack" / "002.png") in message
    assert f"{WIDTH + 1}x{HEIGHT}" in message and f"{WIDTH}x{HEIGHT}" in message


def test_corrupt_image(copy: Path) -> None:
    broken = copy / "widget" / "test" / "good" / "001.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match=r"cannot decode image .*good/001\.png"):
        load(copy)


def test_bad_class_and_one_vs_rest(tree: Path) -> None:
    with pytest.raises(ValueError, match="valid classes: 0=widget, 1=zipper"):
        load(tree, 2)
    with pytest.raises(ValueError, match="one-vs-rest"):
        load(tree, 0, one_vs_rest=True)


@pytest.mark.skipif(not (TIRE / "tire").is_dir(), reason="shared MVTec 3D-AD tire folder not present")
def test_shared_tire_folder() -> None:
    data = mvtec.load(TIRE, 0, show_progress=False)
    assert mvtec.classes(TIRE) == ("tire",)
    assert data.train_images.shape == (100, 3, 240, 240)
    assert data.test_images.shape == (112, 3, 240, 240)
    assert data.test_mask_files is not None and sum(f is not None for f in data.test_mask_files) == 87
    assert data.test_masks is not None and int(data.test_masks.flatten(1).amax(dim=1).sum()) == 87
    assert int(data.test_labels.sum()) == 87
    assert data.input_shape == (3, 224, 224)
