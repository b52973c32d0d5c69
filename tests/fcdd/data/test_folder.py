"""Custom image-folder datasets on tiny PNG/JPEG trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcdd.data import folder

SIZE = 32  # network input; raw side = round(32 * 248 / 224) = 35


def save(path: Path, color: tuple[int, int, int], mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image = image.convert(mode) if mode != "RGB" else image
    image.save(path)


def make_tree(root: Path, *, train_anomalies: bool = True) -> None:
    """Classes a, b: nominal images red-ish, anomalies blue-ish; mixed formats and modes."""
    for name in ("a", "b"):
        save(root / "train" / name / "normal" / "0.png", (200, 10, 10))
        save(root / "train" / name / "normal" / "1.jpg", (180, 20, 20))
        save(root / "train" / name / "normal" / "sub" / "2.png", (100, 100, 100), mode="L")
        save(root / "test" / name / "normal" / "0.png", (200, 10, 10), mode="RGBA")
        save(root / "test" / name / "anomalous" / "0.png", (10, 10, 200))
        save(root / "test" / name / "anomalous" / "1.jpeg", (10, 10, 220))
    if train_anomalies:
        save(root / "train" / "a" / "anomalous" / "0.png", (0, 0, 255))
    (root / "train" / "a" / "normal" / "notes.txt").write_text("not an image")


def make_ovr_tree(root: Path) -> None:
    for i, name in enumerate(("cat", "dog", "owl")):
        for j in range(i + 1):
            save(root / "train" / name / f"{j}.png", (50 * i, 0, 0))
        save(root / "test" / name / "0.png", (50 * i, 0, 0))
        save(root / "test" / name / "1.png", (50 * i, 5, 5))


def test_make_samples_per_class(tmp_path: Path) -> None:
    make_tree(tmp_path)
    samples = folder.make_samples(tmp_path, one_vs_rest=False)
    assert samples.class_names == ("a", "b")
    train_a = [s for s in samples.train if s.class_index == 0]
    assert [s.path.relative_to(tmp_path).as_posix() for s in train_a] == [
        "train/a/normal/0.png",
        "train/a/normal/1.jpg",
        "train/a/normal/sub/2.png",
        "train/a/anomalous/0.png",
    ]
    assert [s.anomalous for s in train_a] == [False, False, False, True]
    assert sum(s.anomalous for s in samples.test) == 4
    assert len(samples.test) == 6


def test_load_per_class(tmp_path: Path) -> None:
    make_tree(tmp_path)
    data = folder.load(tmp_path, 0, image_size=SIZE, show_progress=False)
    assert data.class_names == ("a", "b")
    assert data.train_images.shape == (3, 3, 35, 35)
    assert data.train_images.dtype == torch.uint8
    assert data.raw_shape == (3, 35, 35)
    assert data.input_shape == (3, SIZE, SIZE)
    # Red PNG stays red; the grayscale image becomes three equal channels.
    assert data.train_images[0, :, 10, 10].tolist() == [200, 10, 10]
    assert data.train_images[2, :, 10, 10].tolist() == [100, 100, 100]
    assert data.test_images.shape == (3, 3, 35, 35)
    assert data.test_labels.tolist() == [0, 1, 1]
    assert data.test_classes.tolist() == [0, 0, 0]
    assert data.train_anomalies is not None
    assert data.train_anomalies.shape == (1, 3, 35, 35)
    assert data.train_anomalies[0, :, 3, 3].tolist() == [0, 0, 255]
    # Empirical per-channel mean/std of the nominal training images.
    x = data.train_images.double() / 255
    assert data.preprocessing.shift == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert data.preprocessing.scale == pytest.approx(x.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)
    assert data.preprocessing.name == "aug1"
    # Class b has no train/b/anomalous folder.
    assert folder.load(tmp_path, 1, image_size=SIZE, show_progress=False).train_anomalies is None


def test_load_one_vs_rest(tmp_path: Path) -> None:
    make_ovr_tree(tmp_path)
    data = folder.load(tmp_path, 1, one_vs_rest=True, image_size=SIZE, show_progress=False)
    assert data.class_names == ("cat", "dog", "owl")
    assert data.train_images.shape[0] == 2
    assert data.train_anomalies is not None
    assert data.train_anomalies.shape[0] == 1 + 3
    assert data.test_classes.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.test_labels.tolist() == [1, 1, 0, 0, 1, 1]


def test_grayscale_option(tmp_path: Path) -> None:
    make_tree(tmp_path)
    data = folder.load(tmp_path, 0, image_size=SIZE, channels=1, show_progress=False)
    assert data.train_images.shape == (3, 1, 35, 35)
    assert data.input_shape == (1, SIZE, SIZE)


def test_raw_size() -> None:
    assert folder.raw_size_for(224) == 248
    assert folder.raw_size_for(32) == 35


def test_channel_stats_exact() -> None:
    images = torch.tensor([[[[0, 255]], [[51, 51]]]], dtype=torch.uint8)  # (1, 2, 1, 2)
    mean, std = folder.channel_stats(images)
    assert mean == pytest.approx((0.5, 0.2))
    assert std[0] == pytest.approx(0.5)
    assert std[1] == pytest.approx(1 / 255)  # a constant channel is floored, not 0


def test_errors_root_and_splits(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such.*is missing; pass --data-dir"):
        folder.make_samples(tmp_path / "no-such", False)
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"test is missing"):
        folder.make_samples(tmp_path, False)
    (tmp_path / "test").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        folder.make_samples(tmp_path, False)
    with pytest.raises(ValueError, match="needs a data dir"):
        folder.load(None, 0)


def test_error_missing_normal(tmp_path: Path) -> None:
    save(tmp_path / "train" / "a" / "0.png", (1, 2, 3))
    save(tmp_path / "test" / "a" / "0.png", (1, 2, 3))
    with pytest.raises(FileNotFoundError, match=r"class 'a' needs train/a/normal/ .*--one-vs-rest"):
        folder.make_samples(tmp_path, False)
    with pytest.raises(ValueError, match="--one-vs-rest needs at least two classes"):
        folder.make_samples(tmp_path, True)  # one class: no anomalies to test against
    save(tmp_path / "train" / "b" / "0.png", (1, 2, 3))
    save(tmp_path / "test" / "b" / "0.png", (1, 2, 3))
    assert folder.make_samples(tmp_path, True).class_names == ("a", "b")


def test_error_missing_test_class_and_anomalous(tmp_path: Path) -> None:
    make_tree(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "test" / "b" / "anomalous")
    with pytest.raises(FileNotFoundError, match=r"needs test/b/anomalous/"):
        folder.make_samples(tmp_path, False)
    shutil.rmtree(tmp_path / "test" / "b")
    with pytest.raises(FileNotFoundError, match=r"needs test/b/ too"):
        folder.make_samples(tmp_path, False)


def test_error_empty_class(tmp_path: Path) -> None:
    make_tree(tmp_path)
    for p in (tmp_path / "test" / "a" / "normal").iterdir():
        p.unlink()
    with pytest.raises(ValueError, match=r"no images in .*test/a/normal"):
        folder.make_samples(tmp_path, False)


def test_error_corrupt_image_names_file(tmp_path: Path) -> None:
    make_tree(tmp_path)
    bad = tmp_path / "test" / "a" / "anomalous" / "1.jpeg"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cannot decode image .*anomalous/1\.jpeg"):
        folder.load(tmp_path, 0, image_size=SIZE, show_progress=False)
    (tmp_path / "test" / "a" / "anomalous" / "2.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot decode image .*2\.png"):
        folder.decode_images([tmp_path / "test" / "a" / "anomalous" / "2.png"], 8)


def test_error_bad_class_and_options(tmp_path: Path) -> None:
    make_tree(tmp_path)
    with pytest.raises(ValueError, match=r"`normal_class` must be in \[0, 2\)"):
        folder.load(tmp_path, 2, image_size=SIZE)
    with pytest.raises(ValueError, match="`channels` must be 1 or 3"):
        folder.load(tmp_path, 0, channels=2)


def test_decode_many_in_threads(tmp_path: Path) -> None:
    paths = []
    for i in range(40):
        paths.append(tmp_path / f"{i:02d}.png")
        Image.fromarray(np.full((9, 7, 3), i, dtype=np.uint8)).save(paths[-1])
    out = folder.decode_images(paths, 5, show_progress=False)
    assert out.shape == (40, 3, 5, 5)
    assert out[:, 0, 2, 2].tolist() == list(range(40))


def test_non_square_images_keep_their_aspect_ratio(tmp_path: Path) -> None:
    # 60 x 20: red left third, green middle, blue right third. The original resizes the short side
    # and centre-crops, so the image shows the green middle only; squashing would show all three.
    image = Image.new("RGB", (60, 20), (0, 255, 0))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    image.paste((0, 0, 255), (40, 0, 60, 20))
    for sub in ("train/a/normal", "test/a/normal", "test/a/anomalous"):
        (tmp_path / sub).mkdir(parents=True)
        image.save(tmp_path / sub / "0.png")
    data = folder.load(tmp_path, 0, image_size=16, show_progress=False)
    pixels = data.train_images[0].flatten(1)
    assert data.raw_shape == (3, 18, 18)
    assert (pixels[1] == 255).all() and (pixels[0] == 0).all() and (pixels[2] == 0).all()
