"""Fashion-MNIST loader on tiny IDX fixtures (plus one check on the real data when installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fcdd.data import fmnist
from fcdd.data.idx import write_idx
from fcdd.data.preprocess import class_constants

N_TRAIN, N_TEST = 30, 20


def write_fmnist(folder: Path, *, fill: int = 0, compress: bool = True, skip: str | None = None) -> None:
    """Write the 4 IDX files; pixel (0, 0) of image i holds i, every other pixel ``fill``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = np.full((n, 28, 28), fill, dtype=np.uint8)
        images[:, 0, 0] = np.arange(n)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            if name == skip:
                continue
            write_idx(folder / (name + ".gz" if compress else name), array, compress=compress)


@pytest.fixture(autouse=True)
def no_fallbacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Keep the machine's real /usr/share copy out of the fixture tests.
    monkeypatch.setattr(fmnist, "FALLBACK_DIRS", (tmp_path / "no-such-fallback",))


@pytest.mark.parametrize("compress", [True, False])
def test_one_vs_rest_split(tmp_path: Path, compress: bool) -> None:
    write_fmnist(tmp_path, compress=compress)
    data = fmnist.load(tmp_path, 3, preprocessing="lcnaug1")
    assert data.name == "fmnist"
    assert data.normal_class == 3
    assert data.class_names[3] == "Dress"
    assert len(data.class_names) == 10
    assert data.train_images.dtype == torch.uint8
    # Training images 3, 13, 23 are class 3 (labels are i % 10).
    assert data.train_images.shape == (3, 1, 28, 28)
    assert data.train_images[:, 0, 0, 0].tolist() == [3, 13, 23]
    assert data.train_anomalies is not None
    assert data.train_anomalies.shape == (27, 1, 28, 28)
    assert data.test_images.shape == (N_TEST, 1, 28, 28)
    expected_classes = torch.arange(N_TEST) % 10
    assert torch.equal(data.test_classes, expected_classes)
    assert torch.equal(data.test_labels, (expected_classes != 3).long())
    assert data.test_labels.dtype == torch.int64
    assert data.raw_shape == (1, 28, 28)
    assert data.input_shape == (1, 28, 28)
    assert data.preprocessing.name == "lcnaug1"


def test_search_order_prefers_torchvision_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fmnist(tmp_path / "FashionMNIST" / "raw", fill=1)
    write_fmnist(tmp_path, fill=2)
    fallback = tmp_path / "fallback"
    write_fmnist(fallback, fill=3)
    monkeypatch.setattr(fmnist, "FALLBACK_DIRS", (fallback,))
    assert fmnist.search_dirs(tmp_path) == [tmp_path / "FashionMNIST" / "raw", tmp_path]
    assert int(fmnist.load_arrays(tmp_path)[0][0, 0, 5, 5]) == 1


def test_root_before_fallback_and_fallback_without_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, fallback = tmp_path / "root", tmp_path / "fallback"
    write_fmnist(root, fill=2)
    write_fmnist(fallback, fill=3)
    monkeypatch.setattr(fmnist, "FALLBACK_DIRS", (fallback,))
    assert int(fmnist.load_arrays(root)[0][0, 0, 5, 5]) == 2
    assert int(fmnist.load_arrays(None)[0][0, 0, 5, 5]) == 3
    assert fmnist.search_dirs(None) == [fallback]


def test_a_data_dir_given_never_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run's config.json records the data dir: training on the system copy instead would be a lie.
    from fcdd.config import DataConfig

    write_fmnist(tmp_path / "root", fill=2, skip="t10k-labels-idx1-ubyte")
    (tmp_path / "empty").mkdir()
    write_fmnist(tmp_path / "fallback", fill=3)
    monkeypatch.setattr(fmnist, "FALLBACK_DIRS", (tmp_path / "fallback",))
    for root in (tmp_path / "root", tmp_path / "empty"):
        with pytest.raises(FileNotFoundError, match="drop --data-dir to use the system copy"):
            fmnist.load_arrays(root)
        with pytest.raises(FileNotFoundError, match="drop --data-dir"):
            fmnist.check(root, DataConfig(data_dir=str(root)))
    assert int(fmnist.load_arrays(None)[0][0, 0, 5, 5]) == 3


def test_plain_file_preferred_over_gz(tmp_path: Path) -> None:
    write_fmnist(tmp_path, fill=7, compress=True)
    write_fmnist(tmp_path, fill=8, compress=False)
    assert int(fmnist.load_arrays(tmp_path)[0][0, 0, 5, 5]) == 8


def test_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        fmnist.load_arrays(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    for part in (
        str(tmp_path / "FashionMNIST" / "raw"),
        "--download",
        "apt-get install dataset-fashion-mnist",
        "drop --data-dir",
        "train-images-idx3-ubyte[.gz]",
    ):
        assert part in message


def test_download_through_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    calls = []

    class FakeFashionMNIST:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append((root, train, download))
            write_fmnist(Path(root) / "FashionMNIST" / "raw", fill=5)

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    train_x, *_ = fmnist.load_arrays(tmp_path, download=True)
    assert calls == [(str(tmp_path), True, True)]
    assert int(train_x[0, 0, 5, 5]) == 5
    # Files present now: no second download.
    fmnist.load_arrays(tmp_path, download=True)
    assert len(calls) == 1


def test_download_needs_root() -> None:
    with pytest.raises(ValueError, match="--data-dir DIR with --download"):
        fmnist.load_arrays(None, download=True)


def test_inconsistent_files(tmp_path: Path) -> None:
    write_fmnist(tmp_path, compress=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8), compress=False)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte holds images of shape"):
        fmnist.load_arrays(tmp_path)


def test_bad_label_value(tmp_path: Path) -> None:
    write_fmnist(tmp_path, compress=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(N_TEST, 12, dtype=np.uint8), compress=False)
    with pytest.raises(ValueError, match="holds label 12"):
        fmnist.load_arrays(tmp_path)


def test_image_size_is_fixed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fixed at 28, got 32"):
        fmnist.load(tmp_path, 0, image_size=32)


REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte.gz").exists(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist() -> None:
    data = fmnist.load(REAL, 0, preprocessing="lcnaug1")
    assert data.train_images.shape == (6000, 1, 28, 28)
    assert data.train_anomalies is not None
    assert data.train_anomalies.shape[0] == 54000
    assert data.test_images.shape[0] == 10000
    assert int((data.test_labels == 0).sum()) == 1000
    # The min-max constants are the extremes of the LCN'd class-0 training images,
    # so the test pipeline maps those images onto exactly [0, 1].
    test_view = data.preprocessing.test(data.train_images)
    assert abs(float(test_view.min())) < 1e-5
    assert abs(float(test_view.max()) - 1) < 1e-5
    assert class_constants("fmnist", 0).lcn_max[0] == pytest.approx(24.85, abs=5e-3)
    # The random crops move content and zero-pad, so the train pipeline lands roughly in [0, 1].
    generator = torch.Generator().manual_seed(0)
    out, _ = data.preprocessing.train(data.train_images[:512].float(), generator)
    assert out.shape == (512, 1, 28, 28)
    assert float(out.min()) > -0.1
    assert float(out.max()) < 1.1
    assert float(((out >= 0) & (out <= 1)).float().mean()) > 0.999
