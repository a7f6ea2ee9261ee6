"""Command line: ``python -m dstraight.data where|fetch fashion-mnist|mnist``.

``where`` prints where each file was found and whether it verified; it exits with 1 when a file is
missing or corrupt. ``fetch`` makes sure verified copies exist, downloading what is missing into
the user cache (or ``--root``); offline it fails within seconds, listing the other ways to provide
the files.
"""

from __future__ import annotations

import argparse
import sys

from .sources import (
    DATASETS,
    DEFAULT_TIMEOUT,
    DatasetNotFoundError,
    fetch,
    get_spec,
    how_to_provide,
    search_dirs,
    verify,
)


def _where(name: str, root: str | None) -> int:
    spec = get_spec(name)
    ok = True
    dirs = search_dirs(spec, root)
    for remote in spec.files:
        found = next(
            ((label, d / remote.filename) for label, d in dirs if (d / remote.filename).is_file()),
            None,
        )
        if found is None:
            print(f"{remote.filename}: missing")
            ok = False
            continue
        label, path = found
        try:
            _, how = verify(path, remote)
        except ValueError as err:
            print(f"{remote.filename}: {path} ({label}) CORRUPT: {err}")
            ok = False
        else:
            print(f"{remote.filename}: {path} ({label}, verified by {how})")
    if not ok:
        looked = "\n".join(f"  {d} ({label})" for label, d in dirs)
        print(f"Looked in:\n{looked}\n{how_to_provide(spec)}", file=sys.stderr)
    return 0 if ok else 1


def _fetch(name: str, root: str | None, timeout: float, progress: bool) -> int:
    spec = get_spec(name)
    for remote in spec.files:
        try:
            path = fetch(spec, remote.key, root, timeout=timeout, progress=progress)
        except (DatasetNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{remote.filename}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m dstraight.data",
        description="Find or download the MNIST and Fashion-MNIST files.",
    )
    parser.add_argument("command", choices=("where", "fetch"))
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--root", help="a folder searched first (and where downloads go)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait on a mirror before trying the next (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.command == "where":
        return _where(args.dataset, args.root)
    return _fetch(args.dataset, args.root, args.timeout, not args.quiet)


if __name__ == "__main__":
    sys.exit(main())
