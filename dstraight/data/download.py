"""Downloading one file from a list of mirrors, safely: bounded in time, never half-written.

A download streams into a ``.part`` file created next to its destination under a unique name and
locked (``fcntl.flock``) for as long as its process writes it; only once the caller's check has
passed is it renamed into place, so an interrupted or corrupt download never leaves behind a file
that a later run would trust. A ``.part`` whose lock is gone was left by a killed process and is
removed by :func:`remove_stale_parts`. A mirror is given up on when it does not answer within
``timeout`` seconds or falls behind :data:`MIN_RATE` bytes per second (a server trickling bytes
would otherwise keep a download going for ever): a watchdog thread cuts its connection.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import math
import numbers
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, stale downloads are told apart by age alone
    fcntl = None

__all__ = [
    "DEFAULT_TIMEOUT",
    "MIN_RATE",
    "UnwritableFolder",
    "check_timeout",
    "download",
    "lock",
    "remove_quietly",
    "remove_stale_parts",
]

DEFAULT_TIMEOUT = 10.0  # seconds; offline machines fail on connect, long before this
MIN_RATE = (
    1024  # bytes per second: a mirror falling behind this (plus `timeout` of slack) is dropped
)
# Far above the largest published file (30 MB): a body that never ends is refused.
_MAX_BYTES = 1 << 30
# A download locks its .part right after creating it; a .part younger than this may be one whose
# creator has not taken the lock yet. Without locks (Windows) only a day's silence marks it stale.
_STALE_AFTER = 5.0
_STALE_AFTER_UNLOCKED = 86400.0


def remove_quietly(path: Path) -> None:
    """Delete ``path`` if possible; a failure is ignored.

    Best effort: what is left over (in a read-only folder, say) costs space, never correctness.
    """
    with contextlib.suppress(OSError):
        path.unlink()


def check_timeout(timeout: object) -> float:
    """``timeout`` as a float, or a TypeError/ValueError saying what a timeout must be.

    Examples:
        >>> check_timeout(3)
        3.0
    """
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            f"timeout must be a number of seconds, e.g. timeout=10, got {timeout!r} of type "
            f"{type(timeout).__name__}."
        )
    seconds = float(timeout)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"timeout must be a finite number of seconds > 0, e.g. timeout=10, got {timeout!r}."
        )
    return seconds


class _Watchdog:
    """Cuts the connections of a transfer that falls behind ``MIN_RATE``, headers included.

    A socket timeout bounds each read, not the whole transfer: a server sending one byte now and
    then never trips it. The deadline starts ``timeout`` seconds after the request; every byte
    received pushes it back by ``1 / MIN_RATE`` seconds, but never more than ``timeout`` seconds
    beyond now, so no fast start buys a later stall.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.start = time.monotonic()
        self.deadline = self.start + timeout
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="dstraight-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def progress(self, nbytes: int) -> None:
        with self._lock:
            self.deadline = min(self.deadline + nbytes / MIN_RATE, time.monotonic() + self.timeout)

    def _watch(self) -> None:
        while not self._done.wait(min(0.05, self.timeout / 4)):
            with self._lock:
                if time.monotonic() <= self.deadline:
                    continue
                self.expired = True
                for sock in self._sockets:
                    # The plain socket's shutdown, also under TLS: it wakes the blocked reader
                    # without touching the TLS state that thread is using.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            return

    def describe(self, received: int, total: int | None) -> str:
        elapsed = time.monotonic() - self.start
        if not received:
            return (
                f"timed out, the mirror is too slow: no file data within {elapsed:.1f} s "
                f"(timeout={self.timeout:g})"
            )
        got = f"{received} of {total} bytes" if total is not None else f"{received} bytes"
        return (
            f"timed out, the mirror is too slow: {got} in {elapsed:.1f} s, behind the minimum "
            f"of {MIN_RATE} bytes/s by more than timeout={self.timeout:g} s"
        )


def _watched_connection(base: type, watchdog: _Watchdog) -> type:
    class Watched(base):
        def connect(self):
            super().connect()
            watchdog.watch(self.sock)

    return Watched


class _Watched:
    """Mixed into urllib's handlers so that each connection they open is watched."""

    watchdog: _Watchdog

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_watched_connection(http_class, self.watchdog), req, **kwargs)


class _WatchedHTTPHandler(_Watched, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPSHandler(_Watched, urllib.request.HTTPSHandler):
    pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    # build_opener keeps urllib's other defaults: proxies from the environment, redirects.
    handlers = [_WatchedHTTPHandler(), _WatchedHTTPSHandler()]
    for handler in handlers:
        handler.watchdog = watchdog
    return urllib.request.build_opener(*handlers)


def _download_to(url: str, out, desc: str, timeout: float, progress: bool) -> None:
    """Stream ``url`` into the open file ``out``, checking the length if announced."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "dstraight"})
    received, total = 0, None
    with _Watchdog(timeout) as watchdog:
        try:
            with _opener(watchdog).open(request, timeout=timeout) as response:
                announced = response.headers.get("Content-Length")
                total = int(announced) if announced and announced.isdigit() else None
                if total is not None and total > _MAX_BYTES:
                    raise OSError(f"the server announces {total} bytes; no dataset file is as big")
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=desc,
                    disable=not progress,
                    leave=False,
                ) as bar:
                    # read1 returns what one read brings: the watchdog hears of every byte.
                    while chunk := response.read1(1 << 16):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                        watchdog.progress(len(chunk))
                        if received > _MAX_BYTES:
                            raise OSError(f"more than {_MAX_BYTES} bytes and no end in sight")
        except (OSError, http.client.HTTPException, ValueError) as err:
            if watchdog.expired:
                raise TimeoutError(watchdog.describe(received, total)) from err
            raise
    # A connection cut by the watchdog can read as an orderly end of the body.
    if watchdog.expired:
        raise TimeoutError(watchdog.describe(received, total))
    out.flush()
    # http.client returns a short body without complaint when the server hangs up early.
    if total is not None and received != total:
        raise OSError(f"incomplete transfer: received {received} of {total} bytes")


def lock(f: BinaryIO) -> None:
    """Mark ``f`` as being written by a live process: the lock dies with the process."""
    if fcntl is not None:
        # Where the file system has no locks, the cleaner cannot take one either and keeps it.
        with contextlib.suppress(OSError):
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale_parts(folder: Path, name: str) -> None:
    """Remove the ``.part`` files of ``name`` that no live process is writing (``kill -9``)."""
    try:
        parts = list(folder.glob(f"{glob.escape(name)}-tmp-*.part"))
    except OSError:
        return
    now = time.time()
    for part in parts:
        with contextlib.suppress(OSError):
            age = now - part.stat().st_mtime
            if fcntl is None:
                if age > _STALE_AFTER_UNLOCKED:
                    part.unlink()
                continue
            if age < _STALE_AFTER:
                continue
            with open(part, "rb") as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another process is downloading into it right now
                part.unlink()


class UnwritableFolder(Exception):
    """The download folder cannot hold a ``.part`` file."""

    def __init__(self, folder: Path, error: OSError):
        super().__init__(folder, error)
        self.folder, self.error = folder, error


def download(
    mirrors: tuple[str, ...],
    filename: str,
    dest_dir: Path,
    check: Callable[[Path], bytes],
    *,
    timeout: float,
    progress: bool,
    dead_mirrors: set[str],
    errors: list[str],
) -> tuple[Path, bytes] | None:
    """Download ``filename`` from the first mirror that delivers a copy passing ``check``.

    Args:
        mirrors: base URLs, each ending in ``/``, tried in turn.
        filename: the name on the mirrors, and of the file written into ``dest_dir``.
        dest_dir: the folder the file goes into (created if need be).
        check: given the downloaded ``.part``, returns its payload or raises ``ValueError``
            (a corrupt or wrong file: the next mirror is tried).
        timeout: seconds a mirror may take to answer or to catch up with :data:`MIN_RATE`.
        progress: show a tqdm progress bar on stderr.
        dead_mirrors: mirrors found unreachable or too slow; they are skipped, and ones found so
            now are added, so a run over several files does not wait on them again.
        errors: one line per failed attempt is appended.

    Returns:
        ``(path, payload)``, or None when no mirror delivered (``errors`` says why).

    Raises:
        UnwritableFolder: before any mirror is contacted, when ``dest_dir`` cannot hold a file.
    """
    dest = dest_dir / filename
    for mirror in mirrors:
        url = mirror + filename
        if mirror in dead_mirrors:
            errors.append(f"{url}: skipped, the mirror was unreachable or too slow a moment ago")
            continue
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            # A unique name per attempt: concurrent fetches never write into each other's file.
            fd, part_name = tempfile.mkstemp(
                dir=dest_dir, prefix=f"{filename}-tmp-", suffix=".part"
            )
        except OSError as err:
            raise UnwritableFolder(dest_dir, err) from err
        part = Path(part_name)
        try:
            # The lock is held until the file has its final name, so that a concurrent fetch
            # never takes this .part for the leftover of a killed process.
            with os.fdopen(fd, "wb") as out:
                lock(out)
                _download_to(url, out, filename, timeout, progress)
                payload = check(part)
                os.chmod(part, 0o644)  # mkstemp makes it private; a dataset is not
                os.replace(part, dest)  # also replaces a copy of ours that did not verify
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
            remove_quietly(part)
    return None
