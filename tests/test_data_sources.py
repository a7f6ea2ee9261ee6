"""Finding, verifying and downloading dataset files; the decoded-array cache; the command line.

Downloads run for real against an HTTP server on 127.0.0.1 in a thread. Nothing here touches the
real user cache: every test points XDG_CACHE_HOME at its own temporary folder.
"""

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from idx_encoding import idx_bytes

from dstraight.data import (
    DatasetNotFoundError,
    cache_dir,
    fetch,
    fetch_all,
    load_array,
    locate,
    sources,
)
from dstraight.data.__main__ import main
from dstraight.data.sources import (
    FASHION_MNIST_SPEC,
    MNIST_SPEC,
    DatasetSpec,
    RemoteFile,
    get_spec,
    search_dirs,
    verify,
)

REPO = Path(__file__).resolve().parents[1]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


pytestmark = pytest.mark.usefixtures("private_cache")


class Tiny:
    """A made-up two-file dataset with real digests, for the search and download machinery."""

    def __init__(self, tmp_path: Path):
        rng = np.random.default_rng(0)
        self.arrays = {
            "t10k-images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
            "t10k-labels": rng.integers(0, 10, 6, dtype=np.uint8),
        }
        self.payloads = {k: idx_bytes(a) for k, a in self.arrays.items()}
        # mtime=0 makes the archive reproducible, like an "official" download.
        self.archives = {k: gzip.compress(p, mtime=0) for k, p in self.payloads.items()}
        self.files = tuple(
            RemoteFile(
                k,
                f"{k}-idx{3 if 'images' in k else 1}-ubyte.gz",
                hashlib.md5(self.archives[k]).hexdigest(),
                hashlib.sha256(self.payloads[k]).hexdigest(),
            )
            for k in self.arrays
        )
        self.system = tmp_path / "system"

    def spec(self, mirrors=(), name="tiny") -> DatasetSpec:
        system = (str(self.system),)
        return DatasetSpec(name, "Tiny", self.files, tuple(mirrors), system, "tiny-pkg")

    def put(self, folder: Path, key: str, content: bytes | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.spec().file(key).filename
        path.write_bytes(self.archives[key] if content is None else content)
        return path

    def recompressed(self, key: str) -> bytes:
        # What Debian ships: the same payload in a differently compressed archive.
        return gzip.compress(self.payloads[key], compresslevel=1, mtime=12345)


@pytest.fixture
def tiny(tmp_path):
    return Tiny(tmp_path)


class Server:
    """Serves ``routes`` (path -> behaviour) on 127.0.0.1 and counts requests per path.

    Behaviours: ``("status", code)``; ``("ok", body)``; ``("cut", body, n)`` (announce the body,
    send ``n`` bytes, hang up); ``("paced", body, size, pause)`` (``size`` bytes every ``pause``
    seconds: a trickle when small); ``("slow-headers", pause)`` (a header line that never ends).
    """

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.hits: dict[str, int] = {}
        self.stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                kind, *args = server.routes.get(self.path, ("status", 404))
                if kind == "status":
                    self.send_error(args[0])
                    return
                if kind == "slow-headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not server.stopping.wait(args[0]):
                        self.wfile.write(b"z")
                        self.wfile.flush()
                    return
                body = args[0]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if kind == "ok":
                    self.wfile.write(body)
                elif kind == "cut":  # announce the whole file, send part of it, hang up
                    self.wfile.write(body[: args[1]])
                    self.wfile.flush()
                    self.close_connection = True
                elif kind == "paced":
                    size, pause = args[1], args[2]
                    for start in range(0, len(body), size):
                        if server.stopping.wait(pause):
                            break
                        self.wfile.write(body[start : start + size])
                        self.wfile.flush()
                    self.close_connection = True

            def handle(self):
                # A client that gave up on a slow transfer hangs up on us: that is no error.
                with contextlib.suppress(ConnectionError):
                    super().handle()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more: connection refused


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- where files are looked for ------------------------------------------------------------------


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "xdg-cache" / "dstraight"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec: ignored
    assert cache_dir() == Path.home() / ".cache" / "dstraight"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "dstraight"


def test_search_order(tiny, tmp_path, monkeypatch, private_cache):
    monkeypatch.setenv("DSTRAIGHT_DATA", str(tmp_path / "env"))
    root = tmp_path / "root"
    places = {
        "root": root,
        "root-sub": root / "tiny",
        "env": tmp_path / "env" / "tiny",
        "cache": private_cache / "tiny",
        "system": tiny.system,
    }
    assert [d for _, d in search_dirs(tiny.spec(), root)] == list(places.values())
    paths = {name: tiny.put(folder, "t10k-labels") for name, folder in places.items()}
    for name in places:
        assert locate(tiny.spec(), "t10k-labels", root) == paths[name]
        paths[name].unlink()
    assert locate(tiny.spec(), "t10k-labels", root) is None


def test_get_spec_and_file_lookup():
    assert get_spec("fashion-mnist") is FASHION_MNIST_SPEC
    assert get_spec("Fashion_MNIST") is FASHION_MNIST_SPEC
    assert get_spec(MNIST_SPEC) is MNIST_SPEC
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; expected one of \['fashion"):
        get_spec("cifar")
    with pytest.raises(ValueError, match=r"MNIST has no file 'train'; expected one of \['t10k"):
        MNIST_SPEC.file("train")


# -- verification --------------------------------------------------------------------------------


def test_verify_accepts_either_digest(tiny, tmp_path):
    remote = tiny.spec().file("t10k-images")
    official = tiny.put(tmp_path / "a", "t10k-images")
    assert verify(official, remote) == (tiny.payloads["t10k-images"], "sha256 of payload")
    # Only the archive's MD5 on record (as for MNIST's training images).
    md5_only = dataclasses.replace(remote, sha256=None)
    assert verify(official, md5_only)[1] == "md5 of archive"
    repacked = tiny.put(tmp_path / "b", "t10k-images", tiny.recompressed("t10k-images"))
    assert hashlib.md5(repacked.read_bytes()).hexdigest() != remote.md5
    assert verify(repacked, remote)[1] == "sha256 of payload"


def test_verify_mismatch_names_file_and_digests(tiny, tmp_path):
    remote = tiny.spec().file("t10k-labels")
    other = gzip.compress(idx_bytes(np.zeros(6, np.uint8)), mtime=0)
    path = tiny.put(tmp_path, "t10k-labels", other)
    md5 = hashlib.md5(other).hexdigest()
    with pytest.raises(ValueError, match=rf"{path}: checksum mismatch") as info:
        verify(path, remote)
    message = str(info.value)
    assert f"MD5 {remote.md5} (got {md5})" in message
    assert f"SHA-256 {remote.sha256} (got" in message


def test_verify_reports_a_damaged_archive_as_such(tiny, tmp_path):
    path = tiny.put(tmp_path, "t10k-images", tiny.archives["t10k-images"][:100])
    with pytest.raises(ValueError, match=r"gzip stream is truncated"):
        verify(path, tiny.spec().file("t10k-images"))


# -- fetch: found copies -------------------------------------------------------------------------


def test_found_copy_is_used_without_network(tiny, tmp_path, server):
    spec = tiny.spec([server.url("m")])
    path = tiny.put(tmp_path / "root", "t10k-labels", tiny.recompressed("t10k-labels"))
    assert fetch(spec, "t10k-labels", tmp_path / "root", progress=False) == path
    assert server.hits == {}


def test_corrupt_user_copy_is_an_error_and_kept(tiny, tmp_path, server):
    spec = tiny.spec([server.url("m")])
    path = tiny.put(tmp_path / "root", "t10k-labels", b"\x1f\x8bnot really")
    with pytest.raises(ValueError, match=r"root/t10k-labels-idx1-ubyte.gz: not a valid gzip"):
        fetch(spec, "t10k-labels", tmp_path / "root", progress=False)
    assert path.exists() and server.hits == {}


def test_bad_cached_copy_is_removed_and_fetched_again(tiny, server, private_cache):
    server.routes["/m/t10k-labels-idx1-ubyte.gz"] = ("ok", tiny.archives["t10k-labels"])
    spec = tiny.spec([server.url("m")])
    bad = tiny.put(private_cache / "tiny", "t10k-labels", tiny.recompressed("t10k-images"))
    path = fetch(spec, "t10k-labels", progress=False)
    assert path == bad
    assert path.read_bytes() == tiny.archives["t10k-labels"]
    assert server.hits == {"/m/t10k-labels-idx1-ubyte.gz": 1}


def test_bad_cached_copy_gives_way_to_a_system_copy(tiny, server, private_cache):
    spec = tiny.spec([server.url("m")])
    bad = tiny.put(private_cache / "tiny", "t10k-labels", b"junk")
    good = tiny.put(tiny.system, "t10k-labels")
    assert fetch(spec, "t10k-labels", progress=False) == good
    assert not bad.exists() and server.hits == {}


# -- fetch: downloads ----------------------------------------------------------------------------


def test_download_into_cache_with_progress(tiny, server, private_cache, capfd):
    for key, archive in tiny.archives.items():
        server.routes[f"/m/{tiny.spec().file(key).filename}"] = ("ok", archive)
    paths = fetch_all(tiny.spec([server.url("m")]), progress=True)
    assert set(paths) == {"t10k-images", "t10k-labels"}
    for key, path in paths.items():
        assert path.parent == private_cache / "tiny"
        assert path.read_bytes() == tiny.archives[key]
        assert path.stat().st_mode & 0o777 == 0o644
    assert leftovers(private_cache / "tiny") == sorted(p.name for p in paths.values())
    assert "t10k-images-idx3-ubyte.gz" in capfd.readouterr().err  # tqdm's bar, on stderr


def test_download_goes_into_root_when_given(tiny, server, tmp_path, private_cache):
    server.routes["/m/t10k-labels-idx1-ubyte.gz"] = ("ok", tiny.archives["t10k-labels"])
    path = fetch(tiny.spec([server.url("m")]), "t10k-labels", tmp_path / "mine", progress=False)
    assert path == tmp_path / "mine" / "t10k-labels-idx1-ubyte.gz"
    assert not (private_cache / "tiny").exists()


@pytest.mark.parametrize(
    "first",
    [("status", 404), ("status", 500), ("ok", b"<html>moved</html>"), ("cut", None, 100)],
    ids=["404", "500", "wrong-content", "cut-off"],
)
def test_failing_mirror_then_working_one(tiny, server, private_cache, first):
    name = "t10k-images-idx3-ubyte.gz"
    archive = tiny.archives["t10k-images"]
    if first[0] == "cut":
        first = ("cut", archive, first[2])
    server.routes[f"/bad/{name}"] = first
    server.routes[f"/good/{name}"] = ("ok", archive)
    spec = tiny.spec([server.url("bad"), server.url("good")])
    path = fetch(spec, "t10k-images", progress=False)
    assert path.read_bytes() == archive
    assert server.hits == {f"/bad/{name}": 1, f"/good/{name}": 1}
    assert leftovers(private_cache / "tiny") == [name]


def test_cut_off_transfer_leaves_nothing_trusted(tiny, server, private_cache):
    name = "t10k-images-idx3-ubyte.gz"
    archive = tiny.archives["t10k-images"]
    server.routes[f"/m/{name}"] = ("cut", archive, len(archive) // 2)
    spec = tiny.spec([server.url("m")])
    with pytest.raises(DatasetNotFoundError, match=r"incomplete transfer: received \d+ of "):
        fetch(spec, "t10k-images", progress=False)
    assert leftovers(private_cache / "tiny") == []  # no file, no .part
    # The next run starts afresh and succeeds once the server behaves.
    server.routes[f"/m/{name}"] = ("ok", archive)
    assert fetch(spec, "t10k-images", progress=False).read_bytes() == archive


def test_wrong_content_everywhere_is_reported_per_mirror(tiny, server, private_cache):
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes[f"/a/{name}"] = ("ok", tiny.archives["t10k-images"])
    spec = tiny.spec([server.url("a"), server.url("b")])
    with pytest.raises(DatasetNotFoundError) as info:
        fetch(spec, "t10k-labels", progress=False)
    message = str(info.value)
    assert f"{server.url('a')}{name}: " in message and "checksum mismatch" in message
    assert f"{server.url('b')}{name}: HTTP 404" in message
    assert leftovers(private_cache / "tiny") == []


def test_unresponsive_mirror_times_out(tiny):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(DatasetNotFoundError, match=r"timed out"):
            fetch(tiny.spec([url]), "t10k-labels", timeout=0.3, progress=False)


def test_dead_first_mirror_does_not_stop_fetch_all(tiny, server):
    for key, archive in tiny.archives.items():
        server.routes[f"/m/{tiny.spec().file(key).filename}"] = ("ok", archive)
    paths = fetch_all(tiny.spec([closed_port_url(), server.url("m")]), progress=False)
    assert {k: p.read_bytes() for k, p in paths.items()} == tiny.archives


def test_offline_error_lists_every_way_to_provide_the_data(private_cache):
    spec = dataclasses.replace(FASHION_MNIST_SPEC, mirrors=(closed_port_url(),), system_dirs=())
    with pytest.raises(DatasetNotFoundError) as info:
        fetch(spec, "train-images", progress=False)
    message = str(info.value)
    assert "Fashion-MNIST file train-images-idx3-ubyte.gz was not found" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "$DSTRAIGHT_DATA/fashion-mnist/" in message
    assert f"{private_cache / 'fashion-mnist'}/" in message
    assert f"{spec.mirrors[0]}t10k-labels-idx1-ubyte.gz" in message
    assert "Connection refused" in message
    assert isinstance(info.value, FileNotFoundError)


# -- decoded-array cache -------------------------------------------------------------------------


def test_load_array_caches_a_verified_decoded_copy(tiny, tmp_path, private_cache):
    spec = tiny.spec()
    source = tiny.put(tmp_path / "root", "t10k-images")
    first = load_array(spec, "t10k-images", tmp_path / "root")
    np.testing.assert_array_equal(first, tiny.arrays["t10k-images"])
    (npy,) = (private_cache / "tiny").glob("*.npy")
    assert npy.name.startswith("t10k-images-idx3-ubyte.")
    source.unlink()  # from now on only the decoded copy can answer
    np.testing.assert_array_equal(load_array(spec, "t10k-images"), tiny.arrays["t10k-images"])


def test_tampered_decoded_copy_is_rebuilt(tiny, tmp_path, private_cache):
    spec = tiny.spec()
    tiny.put(tmp_path / "root", "t10k-images")
    load_array(spec, "t10k-images", tmp_path / "root")
    (npy,) = (private_cache / "tiny").glob("*.npy")
    tampered = np.load(npy)
    tampered[0, 0, 0] ^= 1
    np.save(npy, tampered)
    again = load_array(spec, "t10k-images", tmp_path / "root")
    np.testing.assert_array_equal(again, tiny.arrays["t10k-images"])
    np.testing.assert_array_equal(np.load(npy), tiny.arrays["t10k-images"])
    npy.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(
        load_array(spec, "t10k-images", tmp_path / "root"), tiny.arrays["t10k-images"]
    )


def test_no_decoded_copy_without_a_payload_digest(tiny, tmp_path, private_cache):
    files = tuple(dataclasses.replace(f, sha256=None) for f in tiny.files)
    spec = dataclasses.replace(tiny.spec(), files=files)
    tiny.put(tmp_path / "root", "t10k-labels")
    np.testing.assert_array_equal(
        load_array(spec, "t10k-labels", tmp_path / "root"), tiny.arrays["t10k-labels"]
    )
    assert not list(private_cache.rglob("*.npy"))


# -- command line --------------------------------------------------------------------------------


@pytest.fixture
def tiny_as_mnist(tiny, monkeypatch, server):
    """The command line resolves names through DATASETS: let 'mnist' mean the tiny dataset."""
    spec = tiny.spec([server.url("m")], name="mnist")
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    return spec


def test_cli_where_missing_then_fetch_then_where(tiny, tiny_as_mnist, server, capsys):
    assert main(["where", "mnist"]) == 1
    out, err = capsys.readouterr()
    assert "t10k-images-idx3-ubyte.gz: missing" in out
    assert "Provide the Tiny files in any one of these ways" in err
    for key, archive in tiny.archives.items():
        server.routes[f"/m/{tiny.spec().file(key).filename}"] = ("ok", archive)
    assert main(["fetch", "mnist", "--quiet"]) == 0
    out, _ = capsys.readouterr()
    assert "t10k-labels-idx1-ubyte.gz: " in out
    assert main(["where", "mnist"]) == 0
    out, _ = capsys.readouterr()
    assert out.count("(cache, verified by sha256 of payload)") == 2


def test_cli_where_reports_corrupt_files(tiny, tiny_as_mnist, tmp_path, capsys):
    tiny.put(tmp_path / "r", "t10k-images")
    tiny.put(tmp_path / "r", "t10k-labels", b"junk")
    assert main(["where", "mnist", "--root", str(tmp_path / "r")]) == 1
    out, _ = capsys.readouterr()
    assert "t10k-images-idx3-ubyte.gz: " in out and "(root, verified by sha256 of payload)" in out
    assert "t10k-labels-idx1-ubyte.gz: " in out and "CORRUPT: " in out


def test_cli_fetch_offline_fails_with_the_ways(monkeypatch, capsys):
    spec = dataclasses.replace(MNIST_SPEC, mirrors=(closed_port_url(),), system_dirs=())
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    assert main(["fetch", "mnist", "--quiet", "--timeout", "2"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("error: MNIST file train-images-idx3-ubyte.gz was not found")
    assert "download them by hand" in err


def test_cli_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit) as info:
        main(["where", "cifar10"])
    assert info.value.code == 2
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist absent")
def test_cli_where_fashion_mnist_as_the_makefile_runs_it(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    env.pop("DSTRAIGHT_DATA", None)
    done = subprocess.run(
        [sys.executable, "-m", "dstraight.data", "where", "fashion-mnist"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    for line, remote in zip(lines, FASHION_MNIST_SPEC.files, strict=True):
        assert line.startswith(f"{remote.filename}: {DEBIAN_FASHION / remote.filename} (system")
