"""Where the files of a dataset are looked for, and how a reader can provide them by hand.

The folders are searched in order (see :mod:`dstraight.data.sources`): the ``root`` argument,
``$DSTRAIGHT_DATA/<dataset>/``, the user cache, then the folders where distributions install the
files; in each, a file may have its published name or the name ``gunzip`` leaves.
"""

from __future__ import annotations

import os
from pathlib import Path

from .specs import DatasetSpec, RemoteFile, get_spec

__all__ = ["cache_dir", "candidate_names", "how_to_provide", "locate", "search_dirs"]


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


def candidate_names(remote: RemoteFile) -> tuple[str, ...]:
    """The names a copy of ``remote`` may have: as published, then as ``gunzip`` leaves it."""
    return (remote.filename, remote.stem) if remote.stem != remote.filename else (remote.filename,)


def locate(
    dataset: str | DatasetSpec, key: str, root: str | os.PathLike | None = None
) -> Path | None:
    """The first place where the file ``key`` of ``dataset`` exists (unverified), or None.

    In each folder the published name is looked for first, then the name without ``.gz``.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "t10k-labels-idx1-ubyte").write_bytes(b"")
        >>> locate("mnist", "t10k-labels", root=root) == root / "t10k-labels-idx1-ubyte"
        True
    """
    spec = get_spec(dataset)
    remote = spec.file(key)
    for _, d in search_dirs(spec, root):
        for name in candidate_names(remote):
            # os.path.isfile, not Path.is_file: a folder we may not enter is no file, not a crash.
            if os.path.isfile(d / name):
                return d / name
    return None


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
    lines.append(
        f"The files are: {', '.join(f.filename for f in spec.files)} (gunzipped copies, without "
        "the .gz, are accepted too)."
    )
    md5_only = [f.filename for f in spec.files if f.sha256 is None]
    if md5_only:
        lines.append(
            f"Only the archive's MD5 is on record for {', '.join(md5_only)}: use that file exactly "
            "as published, neither recompressed nor gunzipped."
        )
    return "\n".join(lines)
