"""Outlier-exposure pools: folder discovery and decoding, CIFAR-100 pickles, sampling, errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, features

import fcdd.anomalies.outlier_exposure as oe
from fcdd.anomalies.outlier_exposure import OutlierPool, load_cifar100_pool, load_folder_pool

# Solid colours make every format (JPEG included) decode to a known value.
COLOURS = {
    "a/red.png": (255, 0, 0),
    "a/b/green.JPG": (0, 255, 0),
    "a/b/c/blue.jpeg": (0, 0, 255),
    "grey.bmp": (128, 128, 128),
    "yellow.gif": (255, 255, 0),
    "z/white.tiff": (255, 255, 255),
    "z/black.webp": (0, 0, 0),
}


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "oe"
    for rel, colour in COLOURS.items():
        if rel.endswith(".webp") and not features.check("webp"):
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), colour).save(path)
    (root / "notes.txt").write_text("not an image")
    return root


def _sorted_files(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and p.suffix != ".txt"), key=lambda p: p.relative_to(root).as_posix()
    )


def test_folder_pool_rgb(image_folder: Path) -> None:
    pool = load_folder_pool(image_folder, (3, 8, 6), show_progress=False)
    files = _sorted_files(image_folder)
    assert pool.images.shape == (len(files), 3, 8, 6)
    assert pool.images.dtype == torch.uint8
    for i, path in enumerate(files):
        colour = torch.tensor(COLOURS[path.relative_to(image_folder).as_posix()], dtype=torch.int16)
        got = pool.images[i].to(torch.int16)
        assert (got - colour.view(3, 1, 1)).abs().max() <= 3, path  # JPEG rounding


def test_folder_pool_order_is_by_relative_path_text(tmp_path: Path) -> None:
    """The order seeded --oe-limit subsets index into; "a-b" sorts before "a/" as text (not as a tree)."""
    for i, rel in enumerate(["a/x.png", "a-b.png", "a.png", "b.png"]):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (4, 4), 10 * i).save(tmp_path / rel)
    assert [p.relative_to(tmp_path).as_posix() for p in oe.folder_images(tmp_path)] == [
        "a-b.png",
        "a.png",
        "a/x.png",
        "b.png",
    ]
    assert load_folder_pool(tmp_path, (1, 2, 2), show_progress=False).images[:, 0, 0, 0].tolist() == [10, 20, 0, 30]


def test_folder_pool_grayscale_matches_pil(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    pool = load_folder_pool(tmp_path, (1, 12, 10), show_progress=False)
    expected = np.asarray(Image.fromarray(pixels).convert("L").resize((10, 12), Image.Resampling.BILINEAR))
    assert pool.images.shape == (1, 1, 12, 10)
    assert torch.equal(pool.images[0, 0], torch.from_numpy(expected.copy()))


def test_folder_pool_limit_is_a_seeded_subset_decoded_once(image_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real = oe.decode_resized

    def counting(path: Path, size: tuple[int, int], mode: str) -> np.ndarray:
        calls.append(path)
        return real(path, size, mode)

    monkeypatch.setattr(oe, "decode_resized", counting)
    a = load_folder_pool(image_folder, (3, 4, 4), limit=3, seed=0, show_progress=False)
    assert len(a) == 3
    assert len(calls) == 3, "only the chosen files are decoded"
    b = load_folder_pool(image_folder, (3, 4, 4), limit=3, seed=0, show_progress=False)
    assert torch.equal(a.images, b.images)
    subsets = {tuple(p.name for p in calls[:3])}
    for seed in (1, 2, 3):
        calls.clear()
        load_folder_pool(image_folder, (3, 4, 4), limit=3, seed=seed, show_progress=False)
        subsets.add(tuple(p.name for p in calls))
    assert len(subsets) > 1, "different seeds pick different subsets"
    assert len(load_folder_pool(image_folder, (3, 4, 4), limit=100, show_progress=False)) == len(
        _sorted_files(image_folder)
    )


def test_folder_pool_errors(tmp_path: Path, image_folder: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*pass --oe-folder DIR with images"):
        load_folder_pool(missing, (3, 8, 8))
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.md").write_text("no images")
    with pytest.raises(ValueError, match=r"no images in .*empty.*\.jpg"):
        load_folder_pool(empty, (3, 8, 8))
    with pytest.raises(ValueError, match=r"`limit`.*got limit=0"):
        load_folder_pool(image_folder, (3, 8, 8), limit=0)
    with pytest.raises(ValueError, match=r"C in \(1, 3\)"):
        load_folder_pool(image_folder, (2, 8, 8))
    (image_folder / "a" / "broken.png").write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match=r"cannot decode image .*broken\.png: .*replace or remove the file"):
        load_folder_pool(image_folder, (3, 8, 8), show_progress=False)


def test_truncated_jpeg_is_reported(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), (10, 20, 30)).save(tmp_path / "ok.jpg", quality=90)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"cannot decode image .*cut\.jpg"):
        load_folder_pool(tmp_path, (3, 8, 8), show_progress=False)


# ---------------------------------------------------------------- the pool as an anomaly source


def test_pool_sampling() -> None:
    images = (torch.arange(4, dtype=torch.uint8) * 50).view(4, 1, 1, 1).expand(4, 2, 3, 3).contiguous()
    with pytest.raises(ValueError, match="uint8"):
        OutlierPool(images.float())
    pool = OutlierPool(images[:, :1]).to("cpu")
    assert isinstance(pool, OutlierPool)
    assert pool.shape == (1, 3, 3)
    g = torch.Generator().manual_seed(0)
    x = pool(2000, (1, 3, 3), g)
    assert x.shape == (2000, 1, 3, 3)
    assert x.dtype == torch.float32
    counts = torch.bincount((x[:, 0, 0, 0] / 50).long(), minlength=4)
    assert (counts - 500).abs().max() < 90, "uniform with replacement"
    assert torch.equal(x, pool(2000, (1, 3, 3), torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r"shape \(1, 3, 3\).*shape=\(3, 3, 3\)"):
        pool(2, (3, 3, 3), g)


# ---------------------------------------------------------------- CIFAR-100 pickles


def _write_cifar100(root: Path, n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        b"batch_label": b"training batch 1 of 1",
        b"fine_labels": [int(i % 100) for i in range(n)],
        b"coarse_labels": [int(i % 20) for i in range(n)],
        b"data": data,
    }
    with open(folder / "train", "wb") as fh:
        pickle.dump(entry, fh, protocol=2)
    return data


def test_cifar100_pool_rgb_grey_and_resized(tmp_path: Path) -> None:
    data = _write_cifar100(tmp_path)
    rgb = load_cifar100_pool(tmp_path, (3, 32, 32))
    assert torch.equal(rgb.images, torch.from_numpy(data).view(20, 3, 32, 32))
    grey = load_cifar100_pool(tmp_path, (1, 32, 32))
    hwc = data.reshape(20, 3, 32, 32).transpose(0, 2, 3, 1)
    expected = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in hwc])
    assert torch.equal(grey.images[:, 0], torch.from_numpy(expected)), "greyscale equals PIL's 'L'"
    small = load_cifar100_pool(tmp_path, (1, 28, 28))
    assert small.images.shape == (20, 1, 28, 28)
    assert small.images.dtype == torch.uint8
    assert abs(small.images.float().mean().item() - grey.images.float().mean().item()) < 2.0


def test_cifar100_pool_limit_and_errors(tmp_path: Path) -> None:
    data = torch.from_numpy(_write_cifar100(tmp_path)).view(20, 3, 32, 32)
    a = load_cifar100_pool(tmp_path, (3, 32, 32), limit=5, seed=3)
    assert len(a) == 5
    assert torch.equal(a.images, load_cifar100_pool(tmp_path, (3, 32, 32), limit=5, seed=3).images)
    assert all(any(torch.equal(img, row) for row in data) for img in a.images), "subset of the real rows"
    assert not torch.equal(a.images, load_cifar100_pool(tmp_path, (3, 32, 32), limit=5, seed=4).images)
    with pytest.raises(FileNotFoundError, match=r"cifar-100-python.*download=True.*--oe-folder"):
        load_cifar100_pool(tmp_path / "elsewhere", (3, 32, 32))
    with open(tmp_path / "cifar-100-python" / "train", "wb") as fh:
        pickle.dump({b"data": np.zeros((3, 10), dtype=np.uint8)}, fh)
    with pytest.raises(ValueError, match="not a CIFAR-100 pickle"):
        load_cifar100_pool(tmp_path, (3, 32, 32))


def test_cifar100_download_flag_calls_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    seen: list[tuple[str, bool, bool]] = []

    class FakeCIFAR100:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            seen.append((root, train, download))
            _write_cifar100(Path(root), n=4)

    monkeypatch.setattr(torchvision.datasets, "CIFAR100", FakeCIFAR100)
    pool = load_cifar100_pool(tmp_path, (3, 32, 32), download=True)
    assert seen == [(str(tmp_path), True, True)]
    assert len(pool) == 4


def test_malicious_cifar100_pickle_is_refused_before_it_runs(tmp_path: Path) -> None:
    # CIFAR-100 (the default outlier exposure of the fmnist and cifar10 presets) goes through the
    # same restricted unpickler as CIFAR-10: a tampered file is refused without running anything.
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"corrupt CIFAR-100 pickle .*train.*unexpected global posix.system"):
        load_cifar100_pool(tmp_path, (3, 32, 32))
    assert not marker.exists()


def test_apple_double_and_hidden_files_are_not_outlier_images(tmp_path: Path) -> None:
    """macOS leaves ``._name`` AppleDouble files (not images) beside each image copied to a foreign disk."""
    root = tmp_path / "oe"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (10, 10), (200, 0, 0)).save(root / "x.png")
    Image.new("RGB", (10, 10), (0, 200, 0)).save(root / "sub" / "y.png")
    (root / "._x.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (root / "sub" / "._y.png").write_bytes(b"\x00\x05\x16\x07")
    Image.new("RGB", (10, 10), (0, 0, 200)).save(root / ".hidden.png")
    pool = load_folder_pool(root, (3, 4, 4), show_progress=False)
    assert len(pool) == 2
    assert pool.images[:, :, 0, 0].tolist() == [[0, 200, 0], [200, 0, 0]]  # sub/y.png, x.png: no blue
