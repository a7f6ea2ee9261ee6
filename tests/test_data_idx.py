"""The IDX reader: round trips for every dtype, and a clear ValueError for each kind of bad file."""

import gzip
import hashlib
import struct

import numpy as np
import pytest
from idx_encoding import CODES, idx_bytes

from dstraight.data import read_idx
from dstraight.data.idx import decompress, idx_sha256, parse_idx


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(CODES))
def test_round_trip_every_dtype(tmp_path, dtype, compress):
    arr = sample(dtype, (3, 4, 5))
    raw = idx_bytes(arr)
    path = tmp_path / ("x.gz" if compress else "x")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    got = read_idx(path)
    assert got.dtype == dtype and got.dtype.isnative
    assert got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, arr)
    assert got.flags.writeable


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 1, 3, 2)])
def test_shapes_and_str_paths(tmp_path, shape):
    arr = sample(np.uint8, shape)
    path = tmp_path / "y-idx-ubyte"
    path.write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(str(path)), arr)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    arr = sample(np.int32, (4,))
    plain, packed = tmp_path / "plain.gz", tmp_path / "packed"
    plain.write_bytes(idx_bytes(arr))
    packed.write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(plain), arr)
    np.testing.assert_array_equal(read_idx(packed), arr)


def test_empty_array_allowed(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    assert read_idx(path).shape == (0, 28, 28)


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))

BAD_FILES = {
    "empty": (b"", r"needs a 4-byte magic number, but the file has only 0 bytes"),
    "html error page": (b"<!DOCTYPE html><html>Not found</html>", r"not an IDX file.*3c 21 44 4f"),
    "unknown dtype": (bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]), r"dtype code in \{0x08.*00 00 0a 01"),
    "zero dims": (bytes([0, 0, 8, 0]), r"declares 0 dimensions"),
    "truncated header": (GOOD[:9], r"truncated IDX header: 2 dimensions need 12 header bytes"),
    "truncated payload": (GOOD[:-1], r"payload truncated.*shape \(3, 4\).*12 bytes.*but 11 bytes"),
    "trailing bytes": (GOOD + b"\0", r"payload has trailing bytes.*but 13 bytes"),
    # Damaged headers: sizes that overflow 64 bits, dimensions no array can have.
    "huge dims": (
        bytes([0, 0, 0x0E, 4]) + struct.pack(">4I", *[0xFFFFFFFF] * 4) + b"\0" * 8,
        rf"payload truncated: the header declares shape \(4294967295, 4294967295, 4294967295, "
        rf"4294967295\) of float64 \({(2**32 - 1) ** 4 * 8} bytes\), but 8 bytes follow the "
        r"header\. The file is cut off or its header is damaged",
    ),
    "100 dims": (
        bytes([0, 0, 8, 100]) + struct.pack(">100I", *[1] * 100) + b"\7",
        r"the IDX header declares 100 dimensions; expected 1 to 64 .*The header is damaged",
    ),
    "65 dims": (
        bytes([0, 0, 8, 65]) + struct.pack(">65I", *[1] * 65) + b"\7",
        r"declares 65 dimensions; expected 1 to 64",
    ),
}


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_payloads_name_the_file(tmp_path, case, compress):
    content, message = BAD_FILES[case]
    path = tmp_path / f"bad-{case.replace(' ', '-')}"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_64_dimensions_are_still_read(tmp_path):
    arr = np.arange(2, dtype=np.uint8).reshape((1,) * 63 + (2,))
    path = tmp_path / "deep"
    path.write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(path), arr)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(sample(np.uint8, (50, 28, 28))))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz: the gzip stream is truncated"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(sample(np.uint8, (50, 28, 28)))))
    packed[-6] ^= 0xFF  # inside the CRC32 trailer: the stream inflates, the check fails
    path = tmp_path / "flip.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match=r"flip\.gz: not a valid gzip file \(CRC check failed"):
        read_idx(path)


def test_garbage_after_gzip_magic(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"junk\.gz: not a valid gzip file"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_parse_and_decompress_directly():
    arr = np.array([7, 8, 9], np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(arr)), arr)
    assert decompress(b"plain", "x") == b"plain"
    assert decompress(gzip.compress(b"packed"), "x") == b"packed"


@pytest.mark.parametrize("dtype", list(CODES))
def test_idx_sha256_matches_the_encoded_file(dtype):
    arr = sample(dtype, (2, 3, 4), seed=1)
    assert idx_sha256(arr) == hashlib.sha256(idx_bytes(arr)).hexdigest()


def test_idx_sha256_rejects_unstorable_dtype():
    with pytest.raises(TypeError, match=r"IDX cannot store dtype int64; expected one of uint8"):
        idx_sha256(np.zeros(3, np.int64))
