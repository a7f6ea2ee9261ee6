"""`dstraight.data` under faults: files it cannot verify, slow mirrors, bad arguments, clutter.

Network cases run against the HTTP server on 127.0.0.1 of test_data_sources; every fetch has a
timeout of a second or less, so each test ends in a few seconds even when the code under test would
hang (then it fails instead). The permission cases run in a child process without root's power to
ignore file modes (see ``unprivileged``), since the tests run as root.
"""

import dataclasses
import fcntl
import gzip
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from idx_encoding import idx_bytes
from test_data_sources import Server, Tiny, closed_port_url, leftovers

from dstraight.data import MNIST, DatasetNotFoundError, fetch, fetch_all, load_array, sources
from dstraight.data.__main__ import main
from dstraight.data.sources import MNIST_SPEC, RemoteFile

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def tiny(tmp_path):
    return Tiny(tmp_path)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def md5_only(tiny: Tiny, mirrors=()) -> sources.DatasetSpec:
    """Tiny with only archive MD5s on record, as MNIST's training images have."""
    files = tuple(dataclasses.replace(f, sha256=None) for f in tiny.files)
    return dataclasses.replace(tiny.spec(mirrors), files=files)


def finish_within(seconds: float, call, *args, **kwargs):
    """Run ``call`` in a thread; fail if it is still running after ``seconds`` (a hang).

    A bound against hanging for ever, far above what the call needs: not a speed measurement.
    """
    outcome = {}

    def run():
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as err:  # handed to the test below
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{call.__name__} still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- 1. a file the loader cannot verify is never destroyed -----------------------------------------


def test_unverifiable_mnist_train_images_in_the_cache_are_set_aside_not_deleted(
    monkeypatch, private_cache
):
    # What the reader does on reading the offline message: put a (recompressed) copy in the cache.
    # Only the archive's MD5 is on record for MNIST's training images, so it cannot be verified.
    spec = dataclasses.replace(MNIST_SPEC, mirrors=(closed_port_url(),), system_dirs=())
    monkeypatch.setattr(MNIST, "spec", spec)
    folder = private_cache / "mnist"
    folder.mkdir(parents=True)
    theirs = gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)), compresslevel=1)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(theirs)
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(train=True)
    aside = folder / "train-images-idx3-ubyte.gz.unverified"
    message = str(info.value)
    assert f"{path} did not verify; it was moved aside to {aside}, not deleted" in message
    assert "Only the MD5 of the published archive is on record for train-images" in message
    assert "use that file exactly as published, neither recompressed nor gunzipped" in message
    assert aside.read_bytes() == theirs and not path.exists()


def test_set_aside_copies_are_never_overwritten(tiny, private_cache):
    spec = md5_only(tiny, [closed_port_url()])
    folder = private_cache / "tiny"
    for round_ in range(3):
        tiny.put(folder, "t10k-labels", f"copy {round_}".encode())
        with pytest.raises(DatasetNotFoundError, match=r"moved aside to .*\.unverified"):
            fetch(spec, "t10k-labels", progress=False)
    name = "t10k-labels-idx1-ubyte.gz"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {
        f"{name}.unverified": b"copy 0",
        f"{name}.unverified-1": b"copy 1",
        f"{name}.unverified-2": b"copy 2",
    }


def test_unverifiable_copy_stays_while_mirrors_deliver_only_bad_files(tiny, server, private_cache):
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes[f"/m/{name}"] = ("ok", b"<html>moved</html>")
    spec = tiny.spec([server.url("m")])
    theirs = tiny.put(private_cache / "tiny", "t10k-labels", b"\x1f\x8bdamaged")
    with pytest.raises(
        DatasetNotFoundError, match=r"m/t10k-labels-idx1-ubyte.gz: .*checksum mis"
    ) as info:
        fetch(spec, "t10k-labels", progress=False)
    assert f"{theirs} did not verify; it was moved aside" in str(info.value)
    assert (private_cache / "tiny" / f"{name}.unverified").read_bytes() == b"\x1f\x8bdamaged"
    # Once a mirror delivers, the download takes the file's place; the set-aside copy stays.
    server.routes[f"/m/{name}"] = ("ok", tiny.archives["t10k-labels"])
    assert fetch(spec, "t10k-labels", progress=False).read_bytes() == tiny.archives["t10k-labels"]
    assert leftovers(private_cache / "tiny") == [name, f"{name}.unverified"]


def test_a_verified_download_replaces_an_unverifiable_copy_in_place(tiny, server, private_cache):
    name = "t10k-images-idx3-ubyte.gz"
    server.routes[f"/m/{name}"] = ("ok", tiny.archives["t10k-images"])
    # A gunzipped copy that does not verify is removed too, once the download is in hand.
    tiny.put(private_cache / "tiny", "t10k-images", b"not it")
    (private_cache / "tiny" / name.removesuffix(".gz")).write_bytes(b"not it either")
    path = fetch(tiny.spec([server.url("m")]), "t10k-images", progress=False)
    assert path == private_cache / "tiny" / name
    assert path.read_bytes() == tiny.archives["t10k-images"]
    assert leftovers(private_cache / "tiny") == [name]


# -- 2. a slow mirror is given up on ---------------------------------------------------------------


def test_trickling_mirror_is_given_up_on_and_named(tiny, server, private_cache):
    name = "t10k-images-idx3-ubyte.gz"
    archive = tiny.archives["t10k-images"]
    server.routes[f"/slow/{name}"] = ("paced", archive, 1, 0.2)  # 5 bytes/s: hours for the file
    spec = tiny.spec([server.url("slow")])
    with pytest.raises(DatasetNotFoundError) as info:
        finish_within(20, fetch, spec, "t10k-images", timeout=0.5, progress=False)
    message = str(info.value)
    assert f"{server.url('slow')}{name}: timed out, the mirror is too slow: " in message
    assert f" of {len(archive)} bytes in " in message
    assert "behind the minimum of 1024 bytes/s by more than timeout=0.5 s" in message
    assert leftovers(private_cache / "tiny") == []


def test_after_a_trickling_mirror_the_next_one_delivers(tiny, server):
    for key, archive in tiny.archives.items():
        name = tiny.spec().file(key).filename
        server.routes[f"/slow/{name}"] = ("paced", archive, 1, 0.2)
        server.routes[f"/good/{name}"] = ("ok", archive)
    spec = tiny.spec([server.url("slow"), server.url("good")])
    # a timeout that a busy machine's good mirror meets with room to spare
    paths = finish_within(30, fetch_all, spec, timeout=2.0, progress=False)
    assert {k: p.read_bytes() for k, p in paths.items()} == tiny.archives
    # The slow mirror is asked once; for the second file it is skipped.
    assert server.hits == {
        "/slow/t10k-images-idx3-ubyte.gz": 1,
        "/good/t10k-images-idx3-ubyte.gz": 1,
        "/good/t10k-labels-idx1-ubyte.gz": 1,
    }


def test_headers_that_never_end_are_given_up_on(tiny, server):
    server.routes["/m/t10k-labels-idx1-ubyte.gz"] = ("slow-headers", 0.05)
    with pytest.raises(
        DatasetNotFoundError,
        match=r"m/t10k-labels-idx1-ubyte.gz: timed out, the mirror is too slow: no file data",
    ):
        finish_within(30, fetch, tiny.spec([server.url("m")]), "t10k-labels", timeout=1.0)


def test_a_slow_but_steady_mirror_is_not_given_up_on(server, private_cache):
    # 32 kB at about 12 kB/s: longer than `timeout`, so only the bytes arriving keep it going;
    # the slack of 2 s covers a server thread that a busy machine leaves waiting.
    payload = idx_bytes(np.random.default_rng(3).integers(0, 256, 32000, dtype=np.uint8))
    archive = gzip.compress(payload, compresslevel=0, mtime=0)  # stored: as big as the payload
    remote = RemoteFile("t10k-labels", "big-idx1-ubyte.gz", hashlib.md5(archive).hexdigest(), None)
    spec = sources.DatasetSpec("steady", "Steady", (remote,), (server.url("m"),))
    server.routes["/m/big-idx1-ubyte.gz"] = ("paced", archive, 1000, 0.08)
    path = finish_within(30, fetch, spec, "t10k-labels", timeout=2.0, progress=False)
    assert path.read_bytes() == archive


# -- 3. folders and files that cannot be written or read -------------------------------------------

CHILD_PRELUDE = f"""
import json, os, sys, types
# The data modules alone, as the package would import them, without loading JAX (seconds a child).
for name, folder in (("dstraight", "dstraight"), ("dstraight.data", "dstraight/data")):
    module = types.ModuleType(name)
    module.__path__ = [os.path.join({str(REPO)!r}, folder)]
    sys.modules[name] = module
from dstraight.data import sources
from dstraight.data.__main__ import main
cfg = json.loads(os.environ["TINY_SPEC"])
spec = sources.DatasetSpec(
    "tiny", "Tiny", tuple(sources.RemoteFile(**f) for f in cfg["files"]), tuple(cfg["mirrors"]),
    tuple(cfg["system"]))
sources.DATASETS["mnist"] = spec  # the command line resolves names through DATASETS
"""


def spec_config(spec: sources.DatasetSpec) -> str:
    """``spec`` as the child's prelude reads it from $TINY_SPEC."""
    files = [dataclasses.asdict(f) for f in spec.files]
    return json.dumps(
        {"files": files, "mirrors": list(spec.mirrors), "system": list(spec.system_dirs)}
    )


def unprivileged(code: str, spec: sources.DatasetSpec) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python that file modes apply to, even when the tests run as root.

    As root, the child drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (the capabilities that let
    root ignore file modes) with setpriv; it stays root otherwise, so it owns the test's files.
    """
    command = [sys.executable, "-c", CHILD_PRELUDE + code]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *command]
    env = {**os.environ, "TINY_SPEC": spec_config(spec)}
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    except FileNotFoundError:
        pytest.skip("setpriv (util-linux) is needed to drop root's file-mode override")


@pytest.fixture(scope="module")
def modes_apply(tmp_path_factory):
    """Skip the permission tests where even the child ignores file modes (no right to drop them)."""
    probe = tmp_path_factory.mktemp("probe")
    probe.chmod(0o555)
    try:
        done = unprivileged(
            f"open({str(probe / 'x')!r}, 'w')", sources.DatasetSpec("p", "P", (), ())
        )
    finally:
        probe.chmod(0o755)
    if done.returncode == 0:
        pytest.skip("file modes do not apply to the child here (cannot drop privileges)")
    assert "PermissionError" in done.stderr, done.stderr


@pytest.fixture
def read_only(modes_apply):
    """Set folder and file modes for a test (restored after, so that tmp_path can be removed)."""
    changed = []

    def make(path: Path, mode: int = 0o555) -> Path:
        if not path.exists():
            path.mkdir(parents=True)
        changed.append((path, path.stat().st_mode & 0o777))
        path.chmod(mode)
        return path

    yield make
    for path, mode in reversed(changed):
        path.chmod(mode)


def npy_name(remote: RemoteFile) -> str:
    """Where the loader keeps the decoded copy (see sources' docstring: named after the digest)."""
    return f"{remote.stem}.{remote.sha256[:16]}.npy"


def test_read_only_cache_is_one_clear_error_before_any_network(
    tiny, server, private_cache, read_only
):
    spec = tiny.spec([server.url("m")])
    folder = read_only(private_cache / "tiny")
    done = unprivileged(
        "try:\n"
        "    sources.fetch(spec, 't10k-labels', progress=False)\n"
        "except sources.DatasetNotFoundError as err:\n"
        "    print(err)\n",
        spec,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"Tiny file t10k-labels-idx1-ubyte.gz was not found, and it cannot be downloaded: the "
        f"folder {folder} is not writable (Permission denied). Make that folder writable; or "
        "download into another folder, with root="
    )
    assert "XDG_CACHE_HOME=" in done.stdout and "$DSTRAIGHT_DATA/tiny/" in done.stdout
    assert server.hits == {} and leftovers(folder) == []


def test_cli_fetch_into_read_only_folder_exits_1_without_traceback(
    tiny, server, tmp_path, read_only
):
    spec = tiny.spec([server.url("m")])
    root = read_only(tmp_path / "root")
    done = unprivileged(
        f"sys.exit(main(['fetch', 'mnist', '--quiet', '--root', {str(root)!r}]))", spec
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: Tiny file t10k-images-idx3-ubyte.gz was not found, and")
    assert f"the folder {root} is not writable (Permission denied)" in done.stderr
    assert "Traceback" not in done.stderr and server.hits == {}


def test_read_only_cache_with_corrupt_copy_falls_back_to_the_system_copy(
    tiny, private_cache, read_only
):
    spec = tiny.spec()
    tiny.put(tiny.system, "t10k-images")
    bad = tiny.put(private_cache / "tiny", "t10k-images", b"junk")
    # A damaged decoded copy too: it cannot be removed either, and is simply not used.
    (private_cache / "tiny" / npy_name(spec.file("t10k-images"))).write_bytes(b"not an npy file")
    read_only(private_cache / "tiny")
    done = unprivileged(
        "array = sources.load_array(spec, 't10k-images', progress=False)\n"
        "print(array.shape, int(array.sum()))\n"
        "print(sources.fetch(spec, 't10k-images', progress=False))\n",
        spec,
    )
    assert done.returncode == 0, done.stderr
    expected = tiny.arrays["t10k-images"]
    assert done.stdout.splitlines() == [
        f"{expected.shape} {int(expected.sum())}",
        str(tiny.system / "t10k-images-idx3-ubyte.gz"),
    ]
    assert bad.read_bytes() == b"junk"  # could not be removed: left alone, no error


def test_read_only_cache_with_unverifiable_copy_says_it_is_left_in_place(
    tiny, private_cache, read_only
):
    spec = md5_only(tiny, [closed_port_url()])
    # The first file the command line fetches: it stops there.
    theirs = tiny.put(private_cache / "tiny", "t10k-images", tiny.recompressed("t10k-images"))
    folder = read_only(private_cache / "tiny")
    done = unprivileged("sys.exit(main(['fetch', 'mnist', '--quiet']))", spec)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"the folder {folder} is not writable (Permission denied)" in done.stderr
    assert (
        f"{theirs} did not verify; it could not be moved aside ([Errno 13] Permission denied"
        in done.stderr
    )
    assert "and was left in place." in done.stderr
    assert theirs.read_bytes() == tiny.recompressed("t10k-images")


def test_unreadable_file_is_reported_by_where_and_fetch_without_traceback(
    tiny, tmp_path, read_only
):
    spec = tiny.spec([closed_port_url()])
    root = tmp_path / "root"
    locked = tiny.put(root, "t10k-labels")
    tiny.put(root, "t10k-images")
    read_only(locked, 0o000)
    done = unprivileged(
        f"where = main(['where', 'mnist', '--root', {str(root)!r}])\n"
        f"fetched = main(['fetch', 'mnist', '--quiet', '--root', {str(root)!r}])\n"
        "print('exit', where, fetched)\n",
        spec,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == (
        f"t10k-images-idx3-ubyte.gz: {root / 't10k-images-idx3-ubyte.gz'} (root, verified by "
        "sha256 of payload)"
    )
    assert out[1] == (
        f"t10k-labels-idx1-ubyte.gz: {locked} (root) UNREADABLE: Permission denied; make it "
        "readable (e.g. chmod a+r) or move it away"
    )
    assert out[-1] == "exit 1 1"
    assert (
        f"error: [Errno 13] {locked} (root) cannot be read: Permission denied. Make it readable"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


# -- 4. arguments are checked before anything else -------------------------------------------------

BAD_TIMEOUTS = [
    (-1, ValueError, r"timeout must be a finite number of seconds > 0, e\.g\. timeout=10, got -1"),
    (0, ValueError, r"seconds > 0, e\.g\. timeout=10, got 0\."),
    (math.nan, ValueError, r"got nan\."),
    (math.inf, ValueError, r"got inf\."),
    (
        "10",
        TypeError,
        r"timeout must be a number of seconds, e\.g\. timeout=10, got '10' of type str",
    ),
    (None, TypeError, r"got None of type NoneType"),
    (True, TypeError, r"got True of type bool"),
]


@pytest.mark.parametrize("timeout, kind, message", BAD_TIMEOUTS, ids=lambda v: repr(v)[:12])
@pytest.mark.parametrize("function", ["fetch", "fetch_all", "load_array"])
def test_bad_timeout_is_refused_before_the_network(tiny, server, function, timeout, kind, message):
    spec = tiny.spec([server.url("m")])
    call = {
        "fetch": lambda: fetch(spec, "t10k-labels", timeout=timeout),
        "fetch_all": lambda: fetch_all(spec, timeout=timeout),
        "load_array": lambda: load_array(spec, "t10k-labels", timeout=timeout),
    }[function]
    with pytest.raises(kind, match=message):
        call()
    assert server.hits == {}


def test_numpy_and_integer_timeouts_are_accepted(tiny, tmp_path):
    tiny.put(tmp_path, "t10k-labels")
    for timeout in (np.float32(0.5), 2, np.int64(3)):
        assert fetch(tiny.spec(), "t10k-labels", tmp_path, timeout=timeout).parent == tmp_path


@pytest.mark.parametrize("text", ["-1", "0", "nan", "inf", "soon"])
def test_cli_bad_timeout_is_a_usage_error(tiny, server, monkeypatch, capsys, text):
    monkeypatch.setitem(sources.DATASETS, "mnist", tiny.spec([server.url("m")], name="mnist"))
    with pytest.raises(SystemExit) as info:
        main(["fetch", "mnist", "--timeout", text])
    assert info.value.code == 2
    assert (
        "argument --timeout: expected a finite number of seconds > 0, e.g. --timeout 10, got "
        f"'{text}'" in capsys.readouterr().err
    )
    assert server.hits == {}


# -- 5. files as a reader leaves them --------------------------------------------------------------


@pytest.mark.parametrize("place", ["root", "root/tiny", "$DSTRAIGHT_DATA", "cache"])
def test_gunzipped_files_are_accepted(tiny, tmp_path, monkeypatch, private_cache, server, place):
    monkeypatch.setenv("DSTRAIGHT_DATA", str(tmp_path / "env"))
    folder = {
        "root": tmp_path / "root",
        "root/tiny": tmp_path / "root" / "tiny",
        "$DSTRAIGHT_DATA": tmp_path / "env" / "tiny",
        "cache": private_cache / "tiny",
    }[place]
    folder.mkdir(parents=True)
    spec = tiny.spec([server.url("m")], name="tiny")
    for key, payload in tiny.payloads.items():
        (folder / spec.file(key).stem).write_bytes(payload)
    paths = fetch_all(spec, tmp_path / "root", progress=False)
    assert paths == {k: folder / spec.file(k).stem for k in tiny.payloads}
    for key, array in tiny.arrays.items():
        np.testing.assert_array_equal(load_array(spec, key, tmp_path / "root"), array)
    assert server.hits == {}


def test_cli_where_shows_gunzipped_files(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sources.DATASETS, "mnist", tiny.spec(name="mnist"))
    for key, payload in tiny.payloads.items():
        (tmp_path / tiny.spec().file(key).stem).write_bytes(payload)
    assert main(["where", "mnist", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"t10k-images-idx3-ubyte.gz: {tmp_path / 't10k-images-idx3-ubyte'} (root, verified by "
        "sha256 of payload)",
        f"t10k-labels-idx1-ubyte.gz: {tmp_path / 't10k-labels-idx1-ubyte'} (root, verified by "
        "sha256 of payload)",
    ]


def test_gunzipped_copy_of_an_md5_only_file_is_refused_with_the_reason(tiny, tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(tiny.payloads["t10k-labels"])
    with pytest.raises(ValueError, match=r"Only the MD5 of the published archive is on record"):
        fetch(md5_only(tiny), "t10k-labels", tmp_path, progress=False)
    assert path.read_bytes() == tiny.payloads["t10k-labels"]  # the reader's file: kept


def test_decoded_copy_in_the_cache_wins_over_root(tiny, tmp_path):
    # As documented: the decoded copy holds the verified payload, so root's file is not opened.
    spec = tiny.spec()
    tiny.put(tmp_path / "a", "t10k-labels")
    load_array(spec, "t10k-labels", tmp_path / "a")
    tiny.put(tmp_path / "b", "t10k-labels", tiny.archives["t10k-labels"][:-9])
    np.testing.assert_array_equal(
        load_array(spec, "t10k-labels", tmp_path / "b"), tiny.arrays["t10k-labels"]
    )
    with pytest.raises(
        ValueError, match=r"b/t10k-labels-idx1-ubyte.gz: the gzip stream is truncated"
    ):
        fetch(spec, "t10k-labels", tmp_path / "b")  # asked for the file itself, it is checked


# -- 7. leftovers of killed downloads --------------------------------------------------------------


def test_part_left_by_kill_9_is_removed_by_the_next_fetch(tiny, server, private_cache):
    name = "t10k-images-idx3-ubyte.gz"
    server.routes[f"/m/{name}"] = ("paced", tiny.archives["t10k-images"], 1, 0.05)
    spec = tiny.spec([server.url("m")])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + "sources.fetch(spec, 't10k-images', timeout=30)"],
        env={**os.environ, "TINY_SPEC": spec_config(spec)},
        stderr=subprocess.DEVNULL,
    )
    folder = private_cache / "tiny"
    try:
        for _ in range(400):  # until the child is downloading (at most 20 s)
            if server.hits and any(folder.glob("*.part")):
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    (part,) = folder.glob(f"{name}-tmp-*.part")
    old = time.time() - 60  # as if the next fetch came a minute later
    os.utime(part, (old, old))
    server.routes[f"/m/{name}"] = ("ok", tiny.archives["t10k-images"])
    assert fetch(spec, "t10k-images", progress=False).read_bytes() == tiny.archives["t10k-images"]
    assert leftovers(folder) == [name]


def test_part_of_a_live_download_and_a_fresh_one_are_kept(tiny, tmp_path, private_cache):
    tiny.put(tmp_path, "t10k-labels")
    folder = private_cache / "tiny"
    folder.mkdir(parents=True)
    live = folder / "t10k-labels-idx1-ubyte.gz-tmp-live.part"
    fresh = folder / "t10k-labels-idx1-ubyte.gz-tmp-fresh.part"
    stale = folder / "t10k-labels-idx1-ubyte.gz-tmp-stale.part"
    other = folder / "t10k-images-idx3-ubyte.gz-tmp-other.part"  # another file's: not this fetch's
    for part in (live, fresh, stale, other):
        part.write_bytes(b"partial")
    old = time.time() - 60
    for part in (live, stale, other):
        os.utime(part, (old, old))
    with open(live, "rb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # as the downloading process holds it
        fetch(tiny.spec(), "t10k-labels", tmp_path, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (live, fresh, other))


def test_stale_part_of_a_decoded_copy_is_removed(tiny, tmp_path, private_cache):
    spec = tiny.spec()
    tiny.put(tmp_path, "t10k-labels")
    npy = private_cache / "tiny" / npy_name(spec.file("t10k-labels"))
    npy.parent.mkdir(parents=True)
    stale = npy.with_name(f"{npy.name}-tmp-x.part")
    stale.write_bytes(b"half an array")
    os.utime(stale, (time.time() - 60,) * 2)
    load_array(spec, "t10k-labels", tmp_path)
    assert leftovers(npy.parent) == [npy.name]
