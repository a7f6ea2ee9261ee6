"""Where the dataset files come from, how they are checked, and how they are downloaded.

Each file is looked for, in this order, in

1. the ``root`` argument (the files directly in it, or in ``root/<dataset>/``);
2. ``$DSTRAIGHT_DATA/<dataset>/``;
3. the user cache, ``$XDG_CACHE_HOME/dstraight/<dataset>/`` (default ``~/.cache/dstraight/...``);
4. the folders where distributions install them (Debian's ``dataset-fashion-mnist`` package puts
   Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``);

under its published name (``train-images-idx3-ubyte.gz``) or as left by ``gunzip``
(``train-images-idx3-ubyte``), and is downloaded from the official mirrors, in turn, when it is
nowhere. Downloads go into ``root`` when given, else into the user cache. They are written to a
``.part`` file, verified, and only then renamed into place, so an interrupted or corrupt download
never leaves behind a file that a later run would trust; a ``.part`` left by a killed process is
removed by the next fetch of that file. A mirror is given up on when it does not answer within
``timeout`` seconds or falls behind :data:`MIN_RATE` (a server trickling bytes would otherwise keep
a download going for ever).

A file is trusted when either digest published for it matches: the MD5 of the official gzip archive,
or the SHA-256 of its decompressed payload (Debian recompresses the archives, so their MD5s differ
while the payload is byte-for-byte the official one). Where only the MD5 is on record (MNIST's
training images), only the archive exactly as published can be verified.

A file that does not verify is never deleted unless a verified copy is already in hand. Outside the
cache it is an error naming the file and both digests, since it is the reader's to fix. In the
cache the search goes on: a verified copy found further on, or downloaded (which replaces it), makes
it redundant and it is removed; if none can be had, it is moved aside to ``<name>.unverified`` (and
the error says so), so that nothing the reader put there is lost.

Decoded arrays are also cached as ``.npy`` files in the user cache, named after the payload digest
and checked against it on every load, which makes loading the 60,000 training images take a
fraction of a second once the archive has been decompressed one time. When such a decoded copy
exists it is used even if ``root`` is given: it holds exactly the payload any verified file would
give, so the file in ``root`` is then not opened at all.

This module checks the files and puts the pieces together (:func:`fetch`, :func:`load_array`):
the places searched are in :mod:`dstraight.data.places`, the downloading in
:mod:`dstraight.data.download`, the decoded copies in :mod:`dstraight.data.decoded`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .decoded import load_npy, npy_path, save_npy
from .download import (
    DEFAULT_TIMEOUT,
    MIN_RATE,
    UnwritableFolder,
    check_timeout,
    download,
    remove_quietly,
    remove_stale_parts,
)
from .idx import decompress, parse_idx
from .places import cache_dir, candidate_names, how_to_provide, locate, search_dirs
from .specs import DATASETS, FASHION_MNIST_SPEC, MNIST_SPEC, DatasetSpec, RemoteFile, get_spec

# The specs, the search places and the timeout check are defined next door and offered here too,
# where the functions that take them live.
__all__ = [
    "RemoteFile",
    "DatasetSpec",
    "DatasetNotFoundError",
    "MNIST_SPEC",
    "FASHION_MNIST_SPEC",
    "DATASETS",
    "get_spec",
    "cache_dir",
    "search_dirs",
    "locate",
    "verify",
    "fetch",
    "fetch_all",
    "load_array",
    "check_timeout",
    "DEFAULT_TIMEOUT",
    "MIN_RATE",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is in none of the searched places and could not be downloaded."""


def verify(path: str | os.PathLike, remote: RemoteFile) -> tuple[bytes, str]:
    """Check a file against the digests of ``remote``; return its payload and the check that passed.

    Args:
        path: the file on disk, gzip-compressed as published or already decompressed.
        remote: the published file it claims to be.

    Returns:
        ``(payload, how)``: the decompressed contents and ``'sha256 of payload'`` or
        ``'md5 of archive'``.

    Raises:
        ValueError: corrupt, or neither digest matches (the message names the file, the expected
            and the actual digests).
        OSError: the file cannot be read.

    Examples:
        >>> import gzip, tempfile
        >>> payload = bytes([0, 0, 8, 1, 0, 0, 0, 1, 7])
        >>> path = Path(tempfile.mkdtemp()) / "tiny.gz"
        >>> _ = path.write_bytes(gzip.compress(payload))
        >>> remote = RemoteFile("tiny", "tiny.gz", "0" * 32, hashlib.sha256(payload).hexdigest())
        >>> verify(path, remote)[1]
        'sha256 of payload'
    """
    source = os.fspath(path)
    with open(source, "rb") as f:
        raw = f.read()
    payload = decompress(raw, source)  # a damaged archive is reported as such, not as a mismatch
    sha = hashlib.sha256(payload).hexdigest()
    if sha == remote.sha256:
        return payload, "sha256 of payload"
    md5 = hashlib.md5(raw).hexdigest()
    if md5 == remote.md5:
        return payload, "md5 of archive"
    expected = f"the archive's MD5 {remote.md5} (got {md5})"
    if remote.sha256:
        expected += f" or the payload's SHA-256 {remote.sha256} (got {sha})"
        hint = "The file is corrupt or not the official one; replace it with a good copy."
    else:
        hint = (
            f"Only the MD5 of the published archive is on record for {remote.filename}, so only "
            "that archive, byte for byte, can be verified: a recompressed or gunzipped copy "
            "cannot be, even when its contents are right. Use the .gz file as downloaded."
        )
    raise ValueError(
        f"{source}: checksum mismatch for {remote.filename}: expected {expected}. {hint}"
    )


def _same_file(path: Path, seen: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return False
    return (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) == (
        seen.st_ino,
        seen.st_dev,
        seen.st_size,
        seen.st_mtime_ns,
    )


def _set_aside(path: Path, seen: os.stat_result) -> str:
    """Rename a cached copy that did not verify out of the way; say what became of it."""
    if not _same_file(path, seen):
        return f"{path} did not verify and has since been replaced or moved by another process."
    target = path.with_name(f"{path.name}.unverified")
    n = 1
    while os.path.lexists(target):  # never overwrite a copy set aside before
        target = path.with_name(f"{path.name}.unverified-{n}")
        n += 1
    try:
        os.rename(path, target)
    except OSError as err:
        return f"{path} did not verify; it could not be moved aside ({err}) and was left in place."
    return (
        f"{path} did not verify; it was moved aside to {target}, not deleted. Delete it once "
        "you have a verified copy."
    )


def _obtain(
    spec: DatasetSpec,
    key: str,
    root: str | os.PathLike | None,
    timeout: float,
    progress: bool,
    dead_mirrors: set[str],
) -> tuple[Path, bytes]:
    remote = spec.file(key)
    owned = cache_dir() / spec.name
    dest_dir = Path(root).expanduser() if root is not None else owned
    for folder in {dest_dir, owned}:  # downloads go to either, depending on `root`
        remove_stale_parts(folder, remote.filename)
    looked_in: list[str] = []
    rejected: list[tuple[Path, os.stat_result]] = []  # copies in the cache that did not verify
    found = None
    for label, d in search_dirs(spec, root):
        looked_in.append(f"{d} ({label})")
        for name in candidate_names(remote):
            candidate = d / name
            if not os.path.isfile(candidate):
                continue
            try:
                seen = candidate.stat()
                payload, _ = verify(candidate, remote)
            except FileNotFoundError:
                continue  # gone in the meantime: moved aside or replaced by another process
            except (OSError, ValueError) as err:
                if d != owned:
                    if isinstance(err, OSError):
                        raise type(err)(
                            err.errno,
                            f"{candidate} ({label}) cannot be read: {err.strerror}. Make it "
                            "readable (e.g. chmod a+r), or move it away so that the file is "
                            "looked for elsewhere and downloaded",
                        ) from err
                    raise
                # Ours to repair, but not by deleting: it may be the reader's only copy. It stays
                # until a verified copy is in hand, and is moved aside if none can be had.
                rejected.append((candidate, seen))
                looked_in[-1] += f" - {name} did not verify: {err}"
                continue
            found = candidate, payload
            break
        if found:
            break
    errors: list[str] = []
    if found is None:
        try:
            found = download(
                spec.mirrors,
                remote.filename,
                dest_dir,
                lambda part: verify(part, remote)[0],
                timeout=timeout,
                progress=progress,
                dead_mirrors=dead_mirrors,
                errors=errors,
            )
        except UnwritableFolder as unwritable:
            notes = [_set_aside(path, seen) for path, seen in rejected]
            raise DatasetNotFoundError(
                _unwritable_message(spec, remote, unwritable, looked_in, notes)
            ) from None
    if found is not None:
        for path, seen in rejected:
            if path != found[0] and _same_file(path, seen):
                remove_quietly(path)  # a verified copy is in hand: nothing is lost
        return found
    notes = [_set_aside(path, seen) for path, seen in rejected]
    raise DatasetNotFoundError(
        f"{spec.title} file {remote.filename} was not found and could not be downloaded.\n"
        "Looked in:\n"
        + "\n".join(f"  {d}" for d in looked_in)
        + "\nDownload attempts:\n"
        + "\n".join(f"  {e}" for e in errors or ["(no mirrors configured)"])
        + "\n"
        + "".join(f"{note}\n" for note in notes)
        + how_to_provide(spec)
    )


def _unwritable_message(
    spec: DatasetSpec,
    remote: RemoteFile,
    unwritable: UnwritableFolder,
    looked_in: list[str],
    notes: list[str],
) -> str:
    err = unwritable.error
    reason = err.strerror or str(err)
    looked = "; ".join(looked_in)
    return (
        f"{spec.title} file {remote.filename} was not found, and it cannot be downloaded: the "
        f"folder {unwritable.folder} is not writable ({reason}). Make that folder writable; or "
        "download into another folder, with root='a/writable/folder' (--root on the command "
        "line) or, for the cache, XDG_CACHE_HOME=/a/writable/folder; or put the file, obtained "
        f"elsewhere, into one of the folders looked in ({looked}), e.g. "
        f"$DSTRAIGHT_DATA/{spec.name}/ with DSTRAIGHT_DATA set."
        + "".join(f"\n{note}" for note in notes)
    )


def fetch(
    dataset: str | DatasetSpec,
    key: str,
    root: str | os.PathLike | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Make sure a verified copy of one file exists (searching, then downloading); return its path.

    Args:
        dataset: ``'mnist'``, ``'fashion-mnist'`` or a :class:`DatasetSpec`.
        key: ``'train-images'``, ``'train-labels'``, ``'t10k-images'`` or ``'t10k-labels'``.
        root: a folder searched first, and where a download goes (default: the user cache).
        timeout: seconds (a finite number > 0) to wait for a mirror to answer or to send more
            data before trying the next; a mirror that falls behind :data:`MIN_RATE` bytes per
            second by more than ``timeout`` seconds is given up on too, so a fetch always ends.
        progress: show a tqdm progress bar on stderr while downloading.

    Raises:
        TypeError, ValueError: ``timeout`` is not a finite number of seconds > 0.
        ValueError: a file found outside the cache is corrupt or not the official one.
        OSError: a file found outside the cache cannot be read.
        DatasetNotFoundError: nowhere to be found and no mirror delivered a verified copy, or the
            download folder is not writable; the message lists the ways to provide the file and
            what became of a cached copy that did not verify.

    Examples:
        >>> path = fetch("fashion-mnist", "t10k-labels")  # doctest: +SKIP
    """
    timeout = check_timeout(timeout)
    spec = get_spec(dataset)
    return _obtain(spec, key, root, timeout, progress, set())[0]


def fetch_all(
    dataset: str | DatasetSpec,
    root: str | os.PathLike | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> dict[str, Path]:
    """:func:`fetch` every file of ``dataset``; stop at the first that cannot be had.

    Examples:
        >>> paths = fetch_all("fashion-mnist")  # doctest: +SKIP
    """
    timeout = check_timeout(timeout)
    spec = get_spec(dataset)
    dead: set[str] = set()
    return {f.key: _obtain(spec, f.key, root, timeout, progress, dead)[0] for f in spec.files}


def load_array(
    dataset: str | DatasetSpec,
    key: str,
    root: str | os.PathLike | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> np.ndarray:
    """Load one file of ``dataset`` as a verified NumPy array (fetching it if need be).

    The decoded array is cached as ``.npy`` in the user cache, keyed by and checked against the
    payload's SHA-256, so later loads skip the decompression. That decoded copy wins over the
    files, ``root`` included: it holds the very payload a verified file would give, so a file in
    ``root`` is not even opened while it exists (and a damaged one there goes unnoticed until it
    is needed).

    Examples:
        >>> labels = load_array("fashion-mnist", "t10k-labels")  # doctest: +SKIP
        >>> labels.shape  # doctest: +SKIP
        (10000,)
    """
    timeout = check_timeout(timeout)
    spec = get_spec(dataset)
    remote = spec.file(key)
    npy = npy_path(spec, remote)
    array = load_npy(npy, remote)
    if array is not None:
        return array
    path, payload = _obtain(spec, key, root, timeout, progress, set())
    array = parse_idx(payload, os.fspath(path))
    save_npy(npy, array)
    return array
