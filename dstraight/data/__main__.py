"""Command line: ``python -m dstraight.data where|fetch fashion-mnist|mnist``.

``where`` prints where each file was found and whether it verified; it exits with 1 when a file is
missing, unreadable or corrupt. ``fetch`` makes sure verified copies exist, downloading what is
missing into the user cache (or ``--root``); offline it fails within seconds, listing the other ways
to provide the files. Either way a problem with the files, the folders or the network is a message
and exit status 1, never a traceback; a bad argument is argparse's message and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from .download import DEFAULT_TIMEOUT, check_timeout
from .places import how_to_provide, search_dirs
from .sources import fetch, verify
from .specs import DATASETS, get_spec


def _seconds(text: str) -> float:
    try:
        return check_timeout(float(text))
    except ValueError as err:  # float() and check_timeout() both say ValueError
        raise argparse.ArgumentTypeError(
            f"expected a finite number of seconds > 0, e.g. --timeout 10, got {text!r}"
        ) from err


def _where(name: str, root: str | None) -> int:
    spec = get_spec(name)
    ok = True
    dirs = search_dirs(spec, root)
    for remote in spec.files:
        names = dict.fromkeys((remote.filename, remote.stem))  # as published, then gunzipped
        found = next(
            (
                (label, d / n)
                for label, d in dirs
                for n in names
                if os.path.isfile(d / n)  # a folder we may not enter holds no file we can use
            ),
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
        except OSError as err:
            print(
                f"{remote.filename}: {path} ({label}) UNREADABLE: {err.strerror or err}; make it "
                "readable (e.g. chmod a+r) or move it away"
            )
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
        except (OSError, ValueError) as err:  # DatasetNotFoundError is an OSError
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
        type=_seconds,
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
