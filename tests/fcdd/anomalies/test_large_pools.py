"""EMNIST, ImageNet-22k and ImageNet-1k val outlier pools: layouts, exclusions, limits, errors."""

from __future__ import annotations

import gzip
import json
import logging
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcdd.anomalies import large_pools as oe
from fcdd.data.imagenet_classes import VOC_CLASS_WORDS

# --- EMNIST ------------------------------------------------------------------------------------


def write_emnist(raw: Path, n: int = 6) -> None:
    """IDX gz of ``n`` letters; image i has one bright pixel at stored (row 2, col i)."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        images[i, 2, i] = 255
    raw.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", n, 28, 28)
    with gzip.open(raw / f"{oe.EMNIST_FILE}.gz", "wb") as f:
        f.write(header + images.tobytes())


def test_emnist_pool_is_transposed(tmp_path: Path) -> None:
    write_emnist(tmp_path / "EMNIST" / "raw")
    pool = oe.load_emnist_pool(tmp_path, (1, 28, 28))
    assert pool.images.shape == (6, 1, 28, 28)
    for i in range(6):  # stored transposed: the pixel at (2, i) is shown at (i, 2)
        assert pool.images[i, 0, i, 2] == 255 and int(pool.images[i].sum()) == 255


def test_emnist_pool_resize_channels_and_limit(tmp_path: Path) -> None:
    write_emnist(tmp_path / "EMNIST" / "raw")
    pool = oe.load_emnist_pool(tmp_path, (3, 14, 14), limit=3, seed=1)
    assert pool.images.shape == (3, 3, 14, 14)
    assert torch.equal(pool.images[:, 0], pool.images[:, 2])
    again = oe.load_emnist_pool(tmp_path, (3, 14, 14), limit=3, seed=1)
    assert torch.equal(pool.images, again.images)


def test_emnist_missing_and_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="pass --download"):
        oe.load_emnist_pool(tmp_path, (1, 28, 28))
    import torchvision.datasets

    calls = []

    class FakeEMNIST:
        def __init__(self, root: str, split: str, train: bool, download: bool) -> None:
            calls.append((split, train, download))
            write_emnist(Path(root) / "EMNIST" / "raw", n=2)

    monkeypatch.setattr(torchvision.datasets, "EMNIST", FakeEMNIST)
    pool = oe.load_emnist_pool(tmp_path, (1, 28, 28), download=True)
    assert calls == [("letters", True, True)] and len(pool) == 2


def test_pool_limit_caps_only_unlimited_pools(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(oe, "MAX_POOL_BYTES", 10 * 3 * 4 * 4)
    assert oe.pool_limit(10, None, (3, 4, 4), "x") is None
    assert oe.pool_limit(11, 50, (3, 4, 4), "x") == 50
    with caplog.at_level(logging.WARNING):
        assert oe.pool_limit(11, None, (3, 4, 4), "x") == 10
    assert "--oe-limit" in caplog.text


# --- ImageNet-22k ------------------------------------------------------------------------------

ACORN = "n12267677"  # an ImageNet-30 class: excluded by default
KEPT = {"n00000001": (200, 0, 0), "n00000002": (0, 0, 200)}


def write_22k(root: Path) -> Path:
    for wnid, colour in {ACORN: (0, 200, 0), **KEPT}.items():
        (root / wnid).mkdir(parents=True)
        for i in range(2):
            # Wide images whose centre square is the colour and whose sides are white.
            pixels = np.full((16, 48, 3), 255, dtype=np.uint8)
            pixels[:, 16:32] = colour
            Image.fromarray(pixels).save(root / wnid / f"{wnid}_{i}.png")
    (root / "n00000002" / "n00000002_9.JPEG").write_bytes(b"broken download")
    return root


def test_imagenet22k_excludes_crops_and_skips_broken(tmp_path: Path, caplog) -> None:
    root = write_22k(tmp_path / "22k")
    with caplog.at_level(logging.WARNING):
        pool = oe.load_imagenet22k_pool(root, (3, 16, 16), show_progress=False)
    assert pool.images.shape == (4, 3, 16, 16)  # 2 + 2 kept; acorn excluded, the broken file skipped
    colours = {tuple(img[:, 8, 8].tolist()) for img in pool.images}
    assert colours == set(KEPT.values())
    assert (pool.images == pool.images[:, :, :1, :1]).all()  # short side 16: the centre square, no white border
    assert "skipped 1 of 5" in caplog.text
    cached = json.loads((root / oe.FILELIST_CACHE).read_text())
    assert sorted(cached["folders"]) == sorted([ACORN, *KEPT])


def test_imagenet22k_reuses_the_file_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_22k(tmp_path / "22k")
    oe.load_imagenet22k_pool(root, (3, 8, 8), limit=2, show_progress=False)
    monkeypatch.setattr(oe, "_walk", lambda root: pytest.fail("listed the folder again"))
    pool = oe.load_imagenet22k_pool(root, (3, 8, 8), limit=2, seed=3, show_progress=False, exclude_wnids=())
    assert len(pool) <= 2


def test_imagenet22k_unwritable_folder_keeps_list_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_22k(tmp_path / "22k")

    def refuse(*args: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(oe.os, "replace", refuse)
    pool = oe.load_imagenet22k_pool(root, (1, 8, 8), show_progress=False)
    assert pool.images.shape == (4, 1, 8, 8)
    assert not (root / oe.FILELIST_CACHE).exists() and not list(root.glob("*.tmp"))
    monkeypatch.setattr(oe, "_walk", lambda root: pytest.fail("listed the folder again"))
    assert len(oe.load_imagenet22k_pool(root, (1, 8, 8), show_progress=False)) == 4


def test_imagenet22k_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        oe.load_imagenet22k_pool(tmp_path / "nope", (3, 8, 8))
    only_acorn = tmp_path / "acorn"
    (only_acorn / ACORN).mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(only_acorn / ACORN / "a.png")
    with pytest.raises(ValueError, match="after excluding 30 WordNet ids"):
        oe.load_imagenet22k_pool(only_acorn, (3, 8, 8), show_progress=False)
    broken = tmp_path / "broken" / "n00000001"
    broken.mkdir(parents=True)
    (broken / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="none of the 1 images"):
        oe.load_imagenet22k_pool(broken.parent, (3, 8, 8), show_progress=False)


# --- ImageNet-1k val ---------------------------------------------------------------------------

VAL = {
    "n02123045": (255, 0, 0),  # tabby, tabby cat: dropped by "cat"
    "n03201208": (0, 255, 0),  # dining table: dropped by "table"
    "n01440764": (0, 0, 255),  # tench: kept
    "n01443537": (255, 255, 0),  # goldfish: kept
    "n02981792": (0, 255, 255),  # catamaran: kept ("cat" is a whole word)
}
DROPPED = {VAL["n02123045"], VAL["n03201208"]}


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imagenet1k")
    for wnid, colour in VAL.items():
        (root / "val" / wnid).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 12), colour).save(root / "val" / wnid / f"ILSVRC2012_val_{wnid}{i}.png")
    return root


def _colours(images: torch.Tensor) -> list[tuple[int, ...]]:
    return [tuple(img[:, 0, 0].tolist()) for img in images]


def test_imagenet1k_val_exclusion_before_limit(imagenet_root: Path) -> None:
    everything = oe.load_imagenet1k_val_pool(imagenet_root, (3, 6, 6), show_progress=False)
    assert len(everything) == 15 and DROPPED <= set(_colours(everything.images))
    for seed in range(8):  # the subset is drawn from the kept classes only (§9.1 item 9)
        pool = oe.load_imagenet1k_val_pool(
            imagenet_root, (3, 6, 6), limit=4, seed=seed, exclude_words=VOC_CLASS_WORDS, show_progress=False
        )
        assert len(pool) == 4 and not DROPPED & set(_colours(pool.images))
    all_kept = oe.load_imagenet1k_val_pool(
        imagenet_root, (1, 6, 6), limit=100, exclude_words=VOC_CLASS_WORDS, show_progress=False
    )
    assert all_kept.images.shape == (9, 1, 6, 6)


def test_imagenet1k_val_errors(imagenet_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no images left .* after excluding"):
        oe.load_imagenet1k_val_pool(
            imagenet_root, (3, 6, 6), exclude_words=("cat", "table", "tench", "goldfish", "catamaran")
        )
    with pytest.raises(FileNotFoundError, match="val folder .* does not exist"):
        oe.load_imagenet1k_val_pool(tmp_path, (3, 6, 6))
