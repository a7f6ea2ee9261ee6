"""Readers run the notebooks in JupyterLab (``make lab``): a smoke test of exactly that.

Starts JupyterLab from this environment on 127.0.0.1 with a token and private runtime/config
folders, checks that ``/lab`` answers, opens a chapter notebook through the contents API, starts a
``python3`` kernel through the REST API and runs ``import dstraight`` and the notebook's first cells
over the kernel's websocket, comparing the printed output with the one stored in the notebook;
then shuts the kernel and the server down. The server is always killed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

import nbformat
import pytest

pytest.importorskip("jupyterlab", reason="JupyterLab is in the 'book' extra")
websocket = pytest.importorskip("websocket", reason="websocket-client comes with jupyter_server")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/chapter01_crashcourse/arrays.ipynb"
START_TIMEOUT_S = 90
EXECUTE_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, token: str, proc: subprocess.Popen, log: Path):
        self.base = f"http://127.0.0.1:{port}"
        self.port, self.token, self.proc, self.log = port, token, proc, log

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except URLError as err:
            if hasattr(err, "code"):  # an HTTPError carries the status and body
                return err.code, err.read()
            raise

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jupyterlab")
    port, token = free_port(), secrets.token_hex(24)
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        IPYTHONDIR=str(tmp / "ipython"),
        JAX_PLATFORMS="cpu",
    )
    log = tmp / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
        # CI runs as root, where Jupyter refuses to start without this.
        "--ServerApp.allow_root=True",
        # Offline and private: no update checks, no news, no extension manager asking PyPI.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
        "--LabApp.extension_manager=readonly",
    ]
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(port, token, proc, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if server.request("GET", "/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"jupyter lab did not answer within {START_TIMEOUT_S} s:\n{server.log_tail()}"
                )
            time.sleep(0.5)
        yield server
    finally:
        try:
            if proc.poll() is None:
                server.request("POST", "/api/shutdown")
                proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=15)


def test_lab_page_answers(lab):
    status, body = lab.request("GET", "/lab")
    assert status == 200, lab.log_tail()
    assert b"JupyterLab" in body or b"jupyter-config-data" in body


def test_unauthenticated_requests_are_refused(lab):
    with pytest.raises(URLError) as info:
        urlopen(f"{lab.base}/api/contents/{NOTEBOOK}", timeout=30)
    assert getattr(info.value, "code", None) == 403


def test_chapter_notebook_opens_through_the_contents_api(lab):
    status, body = lab.request("GET", f"/api/contents/{NOTEBOOK}?content=1&type=notebook")
    assert status == 200, body[:500]
    model = json.loads(body)
    assert model["type"] == "notebook" and model["format"] == "json"
    stored = nbformat.read(ROOT / NOTEBOOK, as_version=4)
    assert len(model["content"]["cells"]) == len(stored.cells)
    assert model["content"]["metadata"]["kernelspec"]["name"] == "python3"


def execute(ws, code: str) -> tuple[str, str]:
    """Runs code through the kernel's websocket; returns (execute_reply status, stdout)."""
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    stdout, status, idle = [], None, False
    deadline = time.monotonic() + EXECUTE_TIMEOUT_S
    while status is None or not idle:
        ws.settimeout(max(deadline - time.monotonic(), 0.1))
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            stdout.append(content["text"])
        elif kind == "error":
            stdout.append("\n".join(content["traceback"]))
        elif kind == "execute_reply":
            status = content["status"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    return status, "".join(stdout)


def test_kernel_runs_dstraight_and_a_chapter_cell(lab):
    status, body = lab.request(
        "POST", "/api/kernels", {"name": "python3", "path": str(Path(NOTEBOOK).parent)}
    )
    assert status == 201, body[:500]
    kernel_id = json.loads(body)["id"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels",
        header=[f"Authorization: token {lab.token}"],
        timeout=EXECUTE_TIMEOUT_S,
    )
    try:
        status, out = execute(
            ws, "import dstraight\nprint(dstraight.__name__, callable(dstraight.try_gpu))"
        )
        assert (status, out) == ("ok", "dstraight True\n"), out
        # The notebook's code cells up to the first one with printed output, compared with it.
        stored = nbformat.read(ROOT / NOTEBOOK, as_version=4)
        for cell in (c for c in stored.cells if c.cell_type == "code"):
            status, out = execute(ws, cell.source)
            assert status == "ok", out
            expected = "".join(o.text for o in cell.outputs if o.get("name") == "stdout")
            if expected:
                assert out == expected
                break
        else:
            pytest.fail(f"{NOTEBOOK} prints nothing; pick a chapter with printed output")
    finally:
        ws.close()
        status, _ = lab.request("DELETE", f"/api/kernels/{kernel_id}")
    assert status == 204
    status, body = lab.request("GET", "/api/kernels")
    assert kernel_id not in {k["id"] for k in json.loads(body)}
