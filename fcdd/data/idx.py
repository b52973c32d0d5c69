"""Reader (and writer) for the IDX format used by (Fashion-)MNIST, gzip-compressed or plain.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian uint32 dimension sizes, then the array in C order, big-endian.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

# IDX type byte -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    # Decide by content, not by name: torchvision keeps both forms side by side and
    # users rename files.
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"corrupt or truncated gzip file {path}: {err}; delete it and download it again") from err


def read_idx(path: str | Path) -> Tensor:
    """Read one IDX file (gzip or plain) into a tensor of its stored shape and type.

    Raises ``ValueError`` naming the file when the magic number is wrong or the data
    is shorter or longer than the header announces.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'}); delete it and download it again"
        )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated IDX file {path}: header cut short; delete it and download it again")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        kind = "truncated" if found < expected else "oversized"
        raise ValueError(
            f"{kind} IDX file {path}: header shape {tuple(shape)} needs {expected} data bytes, "
            f"found {found}; delete it and download it again"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def write_idx(path: str | Path, array: np.ndarray, compresslevel: int = 9, *, compress: bool = True) -> Path:
    """Write a uint8 array as an IDX file (gzipped unless ``compress`` is False): Fashion-MNIST's format."""
    path = Path(path)
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, data.ndim) + struct.pack(f">{data.ndim}I", *data.shape)
    if not compress:
        path.write_bytes(header + data.tobytes())
        return path
    with gzip.open(path, "wb", compresslevel=compresslevel) as handle:
        handle.write(header + data.tobytes())
    return path
