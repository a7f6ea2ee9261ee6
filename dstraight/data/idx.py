"""The IDX file format of MNIST and Fashion-MNIST, read with strict validation.

An IDX file is a tiny header followed by a dense array in big-endian byte order::

    0x00 0x00 <dtype code> <number of dims>   4 bytes
    <size of dim 0> ... <size of dim n-1>      4 bytes each, big-endian unsigned
    <payload>                                  product of the sizes times the item size

The published files are gzip-compressed. Everything that can be wrong with a file on disk (a cut-off
download, a flipped bit, an HTML error page saved under the file's name) becomes a ``ValueError``
that names the file and says what is wrong, never a bare ``zlib`` or ``struct`` error.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "parse_idx", "decompress", "idx_sha256"]

# IDX dtype codes -> big-endian NumPy dtypes (the format stores multi-byte values big-endian).
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
# NumPy 2 arrays have at most 64 dimensions, NumPy 1 at most 32: a header asking for more is
# damaged, and is said to be before NumPy refuses it with a message that names no file.
_MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


def decompress(raw: bytes, source: str) -> bytes:
    """Return the payload of ``raw``: gunzipped when it starts with the gzip magic, else as is.

    Args:
        raw: the bytes of a file.
        source: where the bytes came from, for error messages.

    Raises:
        ValueError: the gzip stream is truncated or corrupt.

    Examples:
        >>> decompress(gzip.compress(b"abc"), "x.gz")
        b'abc'
    """
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as err:
        raise ValueError(
            f"{source}: the gzip stream is truncated ({len(raw)} bytes on disk; {err}). "
            "The file was probably cut off while downloading; delete it and fetch it again."
        ) from err
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(
            f"{source}: not a valid gzip file ({err}). Delete it and fetch it again."
        ) from err


def parse_idx(payload: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the (decompressed) bytes of an IDX file into a native-endian NumPy array.

    Args:
        payload: the uncompressed file contents.
        source: where the bytes came from, for error messages.

    Returns:
        A writable array with the file's shape and dtype (uint8, int8, int16, int32, float32 or
        float64).

    Raises:
        ValueError: bad magic number, unknown dtype code, an impossible number of dimensions, or a
            payload whose length does not match the dimensions in the header.

    Examples:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        array([7, 8, 9], dtype=uint8)
    """
    if len(payload) < 4:
        raise ValueError(
            f"{source}: an IDX file needs a 4-byte magic number, but the file has only "
            f"{len(payload)} bytes."
        )
    zero, code, ndim = payload[:2], payload[2], payload[3]
    if zero != b"\x00\x00" or code not in _DTYPES:
        raise ValueError(
            f"{source}: not an IDX file: expected a magic number 00 00 <dtype code> <ndim> with a "
            f"dtype code in {{{', '.join(f'0x{c:02X}' for c in _DTYPES)}}}, got "
            f"{payload[:4].hex(' ')}. Is this an IDX file (e.g. train-images-idx3-ubyte.gz)?"
        )
    if not 1 <= ndim <= _MAX_DIMS:
        raise ValueError(
            f"{source}: the IDX header declares {ndim} dimensions; expected 1 to {_MAX_DIMS} "
            "(MNIST's files have 1 or 3). The header is damaged; fetch the file again."
        )
    header_len = 4 + 4 * ndim
    if len(payload) < header_len:
        raise ValueError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(payload)}."
        )
    shape = struct.unpack(f">{ndim}I", payload[4:header_len])
    dtype = _DTYPES[code]
    # Python integers: a damaged header's dimensions must not overflow into a negative size, and
    # nothing is allocated before the size is known to match the bytes at hand.
    expected = math.prod(shape) * dtype.itemsize
    actual = len(payload) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"{source}: IDX payload {what}: the header declares shape {shape} of {dtype.name} "
            f"({expected} bytes), but {actual} bytes follow the header. The file is cut off or "
            "its header is damaged; fetch it again."
        )
    flat = np.frombuffer(payload, dtype=dtype, offset=header_len)
    # astype copies into native byte order, which also makes the array writable.
    return flat.astype(dtype.newbyteorder("=")).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw (told apart by content, not by the file name).

    Args:
        path: the file to read.

    Returns:
        The array stored in the file, in native byte order.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is truncated or corrupt; the message names the file.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
        >>> _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 4, 2]))
        >>> read_idx(p)
        array([4, 2], dtype=uint8)
    """
    source = os.fspath(path)
    with open(source, "rb") as f:
        raw = f.read()
    return parse_idx(decompress(raw, source), source)


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 of the IDX encoding of ``array``: the digest of the file's uncompressed payload.

    This lets a decompressed copy (an ``.npy`` file) be checked against the published payload
    digest without keeping the original around.

    Examples:
        >>> import hashlib
        >>> idx_sha256(np.array([4, 2], np.uint8)) == hashlib.sha256(
        ...     bytes([0, 0, 8, 1, 0, 0, 0, 2, 4, 2])).hexdigest()
        True
    """
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"IDX cannot store dtype {array.dtype}; expected one of "
            f"{', '.join(dt.name for dt in _CODES)}."
        )
    h = hashlib.sha256(bytes([0, 0, code, array.ndim]))
    h.update(struct.pack(f">{array.ndim}I", *array.shape))
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    h.update(memoryview(big).cast("B"))
    return h.hexdigest()
