"""IDX reader: round trips through real IDX bytes, and clear errors on broken files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from fcdd.data.idx import read_idx, write_idx

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` as an IDX file (big-endian, as the format demands)."""
    header = struct.pack(">BBBB", 0, 0, _CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_uint8(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(array)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == torch.uint8
    assert torch.equal(out, torch.from_numpy(array))


def test_big_endian_wider_types(tmp_path: Path) -> None:
    # 258 = 0x00000102 must not come back byte-swapped as 0x02010000.
    ints = np.array([258, -1], dtype=np.int32)
    (tmp_path / "i").write_bytes(idx_bytes(ints))
    assert read_idx(tmp_path / "i").tolist() == [258, -1]
    floats = np.array([[1.5, -2.25]], dtype=np.float32)
    (tmp_path / "f").write_bytes(idx_bytes(floats))
    assert read_idx(tmp_path / "f").tolist() == [[1.5, -2.25]]


def test_bad_magic_names_file(tmp_path: Path) -> None:
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    with pytest.raises(ValueError, match=r"not-idx is not an IDX file"):
        read_idx(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="bad magic number empty"):
        read_idx(path)


def test_truncated_data_names_file(tmp_path: Path) -> None:
    path = tmp_path / "short-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(10, dtype=np.uint8))[:-3])
    with pytest.raises(ValueError, match=r"truncated IDX file .*short-idx1-ubyte.*needs 10 data bytes, found 7"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "hdr"
    path.write_bytes(idx_bytes(np.zeros((2, 2, 2), dtype=np.uint8))[:9])
    with pytest.raises(ValueError, match="header cut short"):
        read_idx(path)


def test_oversized_data(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="oversized IDX file"):
        read_idx(path)


def test_truncated_gzip_names_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError, match=r"corrupt or truncated gzip file .*cut\.gz"):
        read_idx(path)


def test_written_idx_reads_back_with_its_header(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "x-idx3-ubyte.gz", array, compresslevel=1)
    assert gzip.decompress(path.read_bytes())[:16] == bytes([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    assert torch.equal(read_idx(path), torch.from_numpy(array))
