"""Where the dataset files come from, how they are checked, and how they are downloaded.

Each file is looked for, in this order, in

1. the ``root`` argument (the files directly in it, or in ``root/<dataset>/``);
2. ``$DSTRAIGHT_DATA/<dataset>/``;
3. the user cache, ``$XDG_CACHE_HOME/dstraight/<dataset>/`` (default ``~/.cache/dstraight/...``);
4. the folders where distributions install them (Debian's ``dataset-fashion-mnist`` package puts
   Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``);

and is downloaded from the official mirrors, in turn, when it is nowhere. Downloads go into
``root`` when given, else into the user cache. They are written to a ``.part`` file, verified, and
only then renamed into place, so an interrupted or corrupt download never leaves behind a file that
a later run would trust.

A file is trusted when either digest published for it matches: the MD5 of the official gzip archive,
or the SHA-256 of its decompressed payload (Debian recompresses the archives, so their MD5s differ
while the payload is byte-for-byte the official one). A bad file in the cache, which this module
owns, is removed and fetched again; a bad file anywhere else is an error naming the file and both
digests, since it is the user's to fix.

Decoded arrays are also cached as ``.npy`` files next to the downloads, named after the payload
digest and checked against it on every load, which makes loading the 60,000 training images take a
fraction of a second once the archive has been decompressed one time.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .idx import decompress, idx_sha256, parse_idx

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
]

DEFAULT_TIMEOUT = 10.0  # seconds; offline machines fail on connect, long before this


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is in none of the searched places and could not be downloaded."""


@dataclass(frozen=True)
class RemoteFile:
    """One published file and its digests.

    Attributes:
        key: short name such as ``'train-images'``.
        filename: the published file name, e.g. ``'train-images-idx3-ubyte.gz'``.
        md5: MD5 of the official gzip archive.
        sha256: SHA-256 of the decompressed payload, or None where none is on record (then only the
            archive's MD5 is accepted, and the decoded array is not cached).
    """

    key: str
    filename: str
    md5: str
    sha256: str | None

    @property
    def stem(self) -> str:
        """The file name without ``.gz``."""
        return self.filename.removesuffix(".gz")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, check and download one dataset.

    Attributes:
        name: folder and command-line name, e.g. ``'fashion-mnist'``.
        title: name for messages, e.g. ``'Fashion-MNIST'``.
        files: the published files.
        mirrors: base URLs (ending in ``/``) tried in turn.
        system_dirs: folders where distributions install the files.
        debian_package: the Debian/Ubuntu package that ships the files, if any.
    """

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    _by_key: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_key", {f.key: f for f in self.files})

    def file(self, key: str) -> RemoteFile:
        """The file called ``key`` (e.g. ``'t10k-labels'``)."""
        try:
            return self._by_key[key]
        except KeyError:
            raise ValueError(
                f"{self.title} has no file {key!r}; expected one of {sorted(self._by_key)}."
            ) from None


MNIST_SPEC = DatasetSpec(
    name="mnist",
    title="MNIST",
    files=(
        RemoteFile(
            "train-images",
            "train-images-idx3-ubyte.gz",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            None,  # no payload digest on record: only the archive's MD5 can vouch for this one
        ),
        RemoteFile(
            "train-labels",
            "train-labels-idx1-ubyte.gz",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        RemoteFile(
            "t10k-images",
            "t10k-images-idx3-ubyte.gz",
            "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        RemoteFile(
            "t10k-labels",
            "t10k-labels-idx1-ubyte.gz",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    # The mirrors torchvision and TensorFlow use; LeCun's own page no longer serves the files.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist", "/usr/local/share/datasets/mnist"),
)

FASHION_MNIST_SPEC = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=(
        RemoteFile(
            "train-images",
            "train-images-idx3-ubyte.gz",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        RemoteFile(
            "train-labels",
            "train-labels-idx1-ubyte.gz",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        RemoteFile(
            "t10k-images",
            "t10k-images-idx3-ubyte.gz",
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        RemoteFile(
            "t10k-labels",
            "t10k-labels-idx1-ubyte.gz",
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    # The project's S3 website serves plain HTTP only; the digests make that safe. The GitHub copy
    # in the project's repository is the HTTPS fallback.
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist", "/usr/local/share/datasets/fashion-mnist"),
    debian_package="dataset-fashion-mnist",
)

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (MNIST_SPEC, FASHION_MNIST_SPEC)}


def get_spec(dataset: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name (``'mnist'`` or ``'fashion-mnist'``); specs pass through.

    Examples:
        >>> get_spec("fashion-mnist").title
        'Fashion-MNIST'
    """
    if isinstance(dataset, DatasetSpec):
        return dataset
    if isinstance(dataset, str):
        key = dataset.lower().replace("_", "-")
        if key in DATASETS:
            return DATASETS[key]
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}.")


def cache_dir() -> Path:
    """The user cache, ``$XDG_CACHE_HOME/dstraight`` or ``~/.cache/dstraight``.

    Read from the environment at every call, so that changing ``XDG_CACHE_HOME`` takes effect.

    Examples:
        >>> cache_dir().name
        'dstraight'
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "dstraight"


def search_dirs(
    dataset: str | DatasetSpec, root: str | os.PathLike | None = None
) -> list[tuple[str, Path]]:
    """The folders searched for the files of ``dataset``, in order, each with a label.

    Examples:
        >>> [label for label, _ in search_dirs("fashion-mnist")][-2:]
        ['system', 'system']
    """
    spec = get_spec(dataset)
    dirs: list[tuple[str, Path]] = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [("root", root), ("root", root / spec.name)]
    env = os.environ.get("DSTRAIGHT_DATA")
    if env:
        dirs.append(("$DSTRAIGHT_DATA", Path(env).expanduser() / spec.name))
    dirs.append(("cache", cache_dir() / spec.name))
    dirs += [("system", Path(d)) for d in spec.system_dirs]
    return dirs


def locate(
    dataset: str | DatasetSpec, key: str, root: str | os.PathLike | None = None
) -> Path | None:
    """The first place where the file ``key`` of ``dataset`` exists (unverified), or None.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
        >>> locate("mnist", "t10k-labels", root=root) == root / "t10k-labels-idx1-ubyte.gz"
        True
    """
    spec = get_spec(dataset)
    remote = spec.file(key)
    for _, d in search_dirs(spec, root):
        candidate = d / remote.filename
        if candidate.is_file():
            return candidate
    return None


def verify(path: str | os.PathLike, remote: RemoteFile) -> tuple[bytes, str]:
    """Check a file against the digests of ``remote``; return its payload and the check that passed.

    Args:
        path: the file on disk.
        remote: the published file it claims to be.

    Returns:
        ``(payload, how)``: the decompressed contents and ``'sha256 of payload'`` or
        ``'md5 of archive'``.

    Raises:
        ValueError: corrupt, or neither digest matches (the message names the file, the expected
            and the actual digests).

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
    raise ValueError(
        f"{source}: checksum mismatch for {remote.filename}: expected {expected}. "
        "The file is corrupt or not the official one; delete it and fetch it again."
    )


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _download_to(url: str, dest: Path, desc: str, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``dest`` (a fresh ``.part`` file), checking the length if announced."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "dstraight"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced and announced.isdigit() else None
        received = 0
        with (
            open(dest, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=desc,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            while chunk := response.read(1 << 16):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client returns a short body without complaint when the server hangs up early.
    if total is not None and received != total:
        raise OSError(f"incomplete transfer: received {received} of {total} bytes")


def how_to_provide(spec: DatasetSpec) -> str:
    """The ways to provide the files of ``spec`` by hand, for error messages."""
    lines = [
        f"Provide the {spec.title} files in any one of these ways, then check with "
        f"`python -m dstraight.data where {spec.name}`:"
    ]
    if spec.debian_package:
        dirs = " or ".join(spec.system_dirs[:1])
        lines.append(
            f"  - install the Debian/Ubuntu package: sudo apt-get install {spec.debian_package} "
            f"(it puts them in {dirs});"
        )
    lines.append(
        f"  - put the {len(spec.files)} files in a folder and pass root='that/folder', or into "
        f"$DSTRAIGHT_DATA/{spec.name}/ with the environment variable DSTRAIGHT_DATA set;"
    )
    lines.append(f"  - put them into the cache folder {cache_dir() / spec.name}/;")
    if spec.mirrors:
        lines.append("  - download them by hand (any of these mirrors):")
        lines += [f"      {spec.mirrors[0]}{f.filename}" for f in spec.files]
        lines += [f"      {m}" for m in spec.mirrors[1:]]
    lines.append(f"The files are: {', '.join(f.filename for f in spec.files)}.")
    return "\n".join(lines)


def _download(
    spec: DatasetSpec,
    remote: RemoteFile,
    dest_dir: Path,
    timeout: float,
    progress: bool,
    dead_mirrors: set[str],
    looked_in: list[str],
) -> tuple[Path, bytes]:
    errors: list[str] = []
    dest = dest_dir / remote.filename
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        errors.append(f"cannot create {dest_dir}: {err}")
    else:
        for mirror in spec.mirrors:
            url = mirror + remote.filename
            if mirror in dead_mirrors:
                errors.append(f"{url}: skipped, the mirror was unreachable a moment ago")
                continue
            # A unique name per attempt: concurrent fetches never write into each other's file.
            fd, part_name = tempfile.mkstemp(
                dir=dest_dir, prefix=f"{remote.filename}-tmp-", suffix=".part"
            )
            os.close(fd)
            part = Path(part_name)
            try:
                _download_to(url, part, remote.filename, timeout, progress)
                payload, _ = verify(part, remote)
                os.chmod(part, 0o644)  # mkstemp makes it private; a dataset is not
                os.replace(part, dest)
                return dest, payload
            except urllib.error.HTTPError as err:
                errors.append(f"{url}: HTTP {err.code} {err.reason}")
            except urllib.error.URLError as err:
                # No route, no DNS, refused: the mirror itself is out of reach; skip it for the
                # remaining files instead of waiting for the same failure again.
                dead_mirrors.add(mirror)
                errors.append(f"{url}: {err.reason}")
            except (OSError, http.client.HTTPException, ValueError) as err:
                if isinstance(err, TimeoutError):
                    dead_mirrors.add(mirror)
                errors.append(f"{url}: {err}")
            finally:
                _remove_quietly(part)
    raise DatasetNotFoundError(
        f"{spec.title} file {remote.filename} was not found and could not be downloaded.\n"
        "Looked in:\n"
        + "\n".join(f"  {d}" for d in looked_in)
        + "\nDownload attempts:\n"
        + "\n".join(f"  {e}" for e in errors or ["(no mirrors configured)"])
        + "\n"
        + how_to_provide(spec)
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
    looked_in: list[str] = []
    for label, d in search_dirs(spec, root):
        candidate = d / remote.filename
        looked_in.append(f"{d} ({label})")
        if not candidate.is_file():
            continue
        try:
            payload, _ = verify(candidate, remote)
        except ValueError:
            if d != owned:
                raise
            # Ours to repair: a bad copy in the cache is removed; the search goes on and, if
            # nothing else turns up, the file is downloaded again.
            candidate.unlink()
            looked_in[-1] += " - a corrupt copy was removed"
            continue
        return candidate, payload
    dest_dir = Path(root).expanduser() if root is not None else owned
    return _download(spec, remote, dest_dir, timeout, progress, dead_mirrors, looked_in)


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
        timeout: seconds to wait on a connection or a read before trying the next mirror.
        progress: show a tqdm progress bar on stderr while downloading.

    Raises:
        ValueError: a file found outside the cache is corrupt or not the official one.
        DatasetNotFoundError: nowhere to be found and no mirror delivered a verified copy; the
            message lists the ways to provide the file.

    Examples:
        >>> path = fetch("fashion-mnist", "t10k-labels")  # doctest: +SKIP
    """
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
    spec = get_spec(dataset)
    dead: set[str] = set()
    return {f.key: _obtain(spec, f.key, root, timeout, progress, dead)[0] for f in spec.files}


def _npy_path(spec: DatasetSpec, remote: RemoteFile) -> Path | None:
    if remote.sha256 is None:
        return None  # nothing to check a decoded copy against
    return cache_dir() / spec.name / f"{remote.stem}.{remote.sha256[:16]}.npy"


def _load_npy(path: Path | None, remote: RemoteFile) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
        if idx_sha256(array) == remote.sha256:
            return array
    except (OSError, ValueError, TypeError, EOFError):
        pass
    # A stale or damaged decoded copy: drop it, the archive is decoded again.
    _remove_quietly(path)
    return None


def _save_npy(path: Path | None, array: np.ndarray) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}-tmp-", suffix=".part")
    except OSError:
        return  # a read-only cache only costs speed
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:
        _remove_quietly(Path(tmp))


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
    payload's SHA-256, so later loads skip the decompression.

    Examples:
        >>> labels = load_array("fashion-mnist", "t10k-labels")  # doctest: +SKIP
        >>> labels.shape  # doctest: +SKIP
        (10000,)
    """
    spec = get_spec(dataset)
    remote = spec.file(key)
    npy = _npy_path(spec, remote)
    array = _load_npy(npy, remote)
    if array is not None:
        return array
    path, payload = _obtain(spec, key, root, timeout, progress, set())
    array = parse_idx(payload, os.fspath(path))
    _save_npy(npy, array)
    return array
