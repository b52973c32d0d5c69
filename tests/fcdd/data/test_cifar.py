"""CIFAR-10 loader on tiny python-pickle batch fixtures."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fcdd.data import cifar
from fcdd.data.preprocess import class_constants

PER_BATCH = 10


def write_batch(path: Path, labels: list[int], offset: int) -> None:
    """One batch in the real layout: rows are the R, G, B planes of a 32x32 image, flattened."""
    n = len(labels)
    data = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    data[:, 0] = 10  # red plane
    data[:, 1] = 20  # green plane
    data[:, 2] = 30  # blue plane
    data[:, 0, 0, 0] = offset + np.arange(n)  # image id in the first red pixel
    batch = {b"batch_label": b"fixture", b"labels": labels, b"data": data.reshape(n, -1), b"filenames": [b"x"] * n}
    with path.open("wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(cifar.TRAIN_BATCHES):
        write_batch(folder / name, [j % 10 for j in range(PER_BATCH)], offset=i * PER_BATCH)
    write_batch(folder / "test_batch", [(j * 3) % 10 for j in range(PER_BATCH)], offset=100)


def test_one_vs_rest_split(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    data = cifar.load(tmp_path, 2)
    assert data.class_names[2] == "bird"
    assert data.train_images.dtype == torch.uint8
    # One image of class 2 per batch, ids 2, 12, 22, 32, 42.
    assert data.train_images.shape == (5, 3, 32, 32)
    assert data.train_images[:, 0, 0, 0].tolist() == [2, 12, 22, 32, 42]
    # Channel planes land in the right channels.
    assert data.train_images[0, :, 5, 5].tolist() == [10, 20, 30]
    assert data.train_anomalies is not None
    assert data.train_anomalies.shape == (45, 3, 32, 32)
    test_classes = torch.tensor([(j * 3) % 10 for j in range(PER_BATCH)])
    assert torch.equal(data.test_classes, test_classes)
    assert torch.equal(data.test_labels, (test_classes != 2).long())
    assert data.preprocessing.name == "aug1"
    assert data.preprocessing.shift == class_constants("cifar10", 2).mean
    assert data.input_shape == (3, 32, 32)


def test_batches_directly_in_root(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    assert cifar.locate(tmp_path) == tmp_path
    assert cifar.load_arrays(tmp_path)[0].shape == (50, 3, 32, 32)


def test_missing_message(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_arrays(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "--download" in message
    assert "--data-dir" in message
    with pytest.raises(FileNotFoundError, match="no data dir given"):
        cifar.load_arrays(None)


def test_truncated_batch_names_file(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    data = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"corrupt CIFAR-10 batch .*data_batch_3"):
        cifar.load_arrays(tmp_path)


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {marker}",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"corrupt CIFAR-10 batch .*test_batch.*unexpected global"):
        cifar.load_arrays(tmp_path)
    assert not marker.exists()


def test_wrong_shape(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    with (folder / "test_batch").open("wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"test_batch holds data of shape \(2, 100\)"):
        cifar.load_arrays(tmp_path)


def test_download_through_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    calls = []

    class FakeCIFAR10:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append((root, train, download))
            write_cifar(Path(root) / "cifar-10-batches-py")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    assert cifar.load_arrays(tmp_path, download=True)[2].shape == (PER_BATCH, 3, 32, 32)
    assert calls == [(str(tmp_path), True, True)]
    with pytest.raises(ValueError, match="--data-dir DIR with --download"):
        cifar.load_arrays(None, download=True)
