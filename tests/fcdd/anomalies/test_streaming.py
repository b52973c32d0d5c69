"""The streaming outlier-exposure pool on a generated tree of a few thousand files."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from fcdd.anomalies.large_pools import imagenet22k_files
from fcdd.anomalies.streaming import StreamingPool
from fcdd.data.images import decode_short_side
from tests.helpers import gen

N_FILES = 2400


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """2400 tiny PNGs in 24 <wnid> folders; each image's colour encodes its number."""
    root = tmp_path_factory.mktemp("22k")
    for i in range(N_FILES):
        folder = root / f"n{90000000 + i % 24:08d}"
        folder.mkdir(exist_ok=True)
        Image.new("RGB", (12, 8), (i % 256, i // 256, 7)).save(folder / f"{i}.png")
    return root


def _numbers(images: torch.Tensor) -> list[int]:
    """The file number each drawn image shows (its centre pixel's R + 256 G)."""
    centre = images[:, :, 4, 4].round().long()
    return (centre[:, 0] + 256 * centre[:, 1]).tolist()


def _pool(tree, seed=0, **kwargs):
    return StreamingPool(imagenet22k_files(tree, ()), (3, 8, 8), decode_short_side, seed=seed, **kwargs)


def test_every_file_is_drawn_once_per_pass_in_a_seeded_order(tree):
    pool = _pool(tree, buffer=64)
    drawn = []
    while len(drawn) < N_FILES:
        drawn += _numbers(pool(100, (3, 8, 8), gen(0)))  # batches of any size: the stream is one order
    assert sorted(drawn[:N_FILES]) == list(range(N_FILES))  # the whole folder, each file once
    again = _pool(tree, buffer=16)
    assert _numbers(again(300, (3, 8, 8), gen(9))) == drawn[:300]  # same seed, same images
    other = _pool(tree, seed=1)
    assert _numbers(other(300, (3, 8, 8), gen(0))) != drawn[:300]
    pool.close(), again.close(), other.close()


def test_memory_stays_bounded_by_the_buffer(tree):
    pool = _pool(tree, buffer=32)
    tracemalloc.start()
    try:
        for _ in range(30):  # 3000 images drawn: more than the folder
            pool(100, (3, 8, 8), gen(0))
            assert pool.buffered() <= 32
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pool.close()
    assert peak < 8 * 2**20  # far below what decoding every file would hold, and independent of N
    assert pool.drawn == 0  # a closed pool starts over


def test_undecodable_files_are_skipped(tmp_path):
    for i in range(5):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "5.png").write_bytes(b"not an image")
    pool = StreamingPool(imagenet22k_files(tmp_path, ()), (3, 8, 8), decode_short_side, seed=0)
    assert sorted(_numbers(pool(5, (3, 8, 8), gen(0)))) == [0, 1, 2, 3, 4]
    pool.close()
    assert pool.skipped >= 1


def test_imagenet22k_streams_by_default_and_fits_in_memory_with_a_limit(tree):
    from fcdd.anomalies.oe_modes import imagenet22k
    from fcdd.anomalies.outlier_exposure import OutlierPool
    from fcdd.presets import get_preset
    from tests.helpers.supervision import toy_data

    config = get_preset("imagenet").replace(**{"anomalies.oe_folder": str(tree), "data.dataset": "fmnist"})
    data = toy_data(masks=False)
    streamed = imagenet22k(config, data).pool
    assert isinstance(streamed, StreamingPool) and len(streamed) == N_FILES
    limited = imagenet22k(config.replace(**{"anomalies.oe_limit": 50}), data).pool
    assert isinstance(limited, OutlierPool) and len(limited) == 50
    assert np.isfinite(streamed(4, data.raw_shape, gen(0)).numpy()).all()
    streamed.close()


def test_a_broken_stream_fails_the_draw_instead_of_hanging(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "0.png")

    def crash(path, size, mode):
        raise TypeError("a decoder bug")  # not a ValueError: not an undecodable file to skip

    pool = StreamingPool([tmp_path / "0.png"], (3, 8, 8), crash, seed=0)
    outcome: list[BaseException] = []

    def draw():
        try:
            pool(2, (3, 8, 8), gen(0))
        except RuntimeError as error:
            outcome.append(error)

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the draw waits forever on a stream that stopped"
    assert "stream stopped: a decoder bug" in str(outcome[0])
    pool.close()
