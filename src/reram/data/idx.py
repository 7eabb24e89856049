"""IDX files (the MNIST format), plain or gzip-compressed."""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into a numpy array.

    Raises:
        ValueError: the file is not IDX (bad magic, type code, or size).

    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip, unreadable file
        raise ValueError(f"{path}: cannot be read as {'gzip-compressed ' if path.suffix == '.gz' else ''}IDX "
                         f"({type(exc).__name__}: {exc or 'truncated'})") from None  # fmt: skip
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {data[:4]!r})")
    dtype, ndim = np.dtype(_DTYPES[data[2]]), data[3]  # type: ignore[call-overload]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: IDX header of {ndim} dims is cut off ({len(data)} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 0
    if len(data) - offset != count * dtype.itemsize:
        raise ValueError(f"{path}: IDX header says {dims} x {dtype.itemsize} bytes, file holds {len(data) - offset}")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8, int8, int16, int32) as an IDX file, gzip if the name ends in .gz (atomic)."""
    path = Path(path)
    arr = np.asarray(array)
    big = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    if big not in _CODES:
        raise ValueError(f"dtype {arr.dtype} cannot be written as IDX: use uint8, int8, int16 or int32")
    header = bytes([0, 0, _CODES[big], arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    payload = header + arr.astype(big).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    os.replace(tmp, path)
