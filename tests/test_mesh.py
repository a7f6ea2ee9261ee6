"""dstraight on several devices: 8 simulated CPU devices, and two processes forming one cluster.

JAX fixes the number of CPU devices when its backend starts, once per process, and the rest of
the suite runs on one device; so the mesh checks (tests/mesh_checks.py) run in a pytest of their
own with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``, and the two-process test
launches two Python processes that join over 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
TIMEOUT = 900  # seconds; generous: a 2-core machine shared with other jobs needs minutes


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    flag = f"--xla_force_host_platform_device_count={devices}"
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _tail(text: str, n: int = 6000) -> str:
    return text[-n:]


def test_mesh_checks_on_8_simulated_devices():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "mesh_checks.py"), "-q", "-p",
         "no:cacheprovider", "-p", "no:nbval", "-o", "addopts=", "-rs"],
        env=_env(8), capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE.parent,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, _tail(out)
    assert "skipped" not in out.splitlines()[-1], _tail(out)  # they ran, on 8 devices


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    script = str(HERE / "mesh_process.py")
    ref = tmp_path / "single.npz"
    subprocess.run([sys.executable, script, str(ref)], env=_env(1), check=True,
                   capture_output=True, timeout=TIMEOUT, cwd=HERE.parent)
    port = _free_port()
    outs = [tmp_path / f"proc{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, script, str(outs[i]), str(port), str(i), "2"],
                         env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, cwd=HERE.parent)
        for i in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, _tail(log)
    single = np.load(ref)
    results = [np.load(o) for o in outs]
    for i, r in enumerate(results):
        assert r["devices"].tolist() == [2, 4]  # two processes, two devices each
        assert r["parts"].tolist() == [2, i]  # each loads its half of every batch
    names = [k for k in single.files if k not in ("parts", "devices")]
    for k in names:
        np.testing.assert_array_equal(results[0][k], results[1][k], err_msg=k)
        np.testing.assert_allclose(results[0][k], single[k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("owner", ["DataLoader", "NDArrayIter"])
def test_parts_of_each_batch_without_a_mesh(owner):
    from dstraight import data

    X = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10, dtype=np.float32)

    def labels(part):
        if owner == "DataLoader":
            loader = data.DataLoader(data.ArrayDataset(X, y), 4, num_parts=2, part_index=part)
            return [yb.tolist() for _, yb in loader]
        it = data.NDArrayIter(X, y, 4, last_batch_handle="discard", num_parts=2,
                              part_index=part)
        return [b.label[0].tolist() for b in it]

    if owner == "DataLoader":
        assert labels(0) == [[0.0, 1.0], [4.0, 5.0], [8.0]]
        assert labels(1) == [[2.0, 3.0], [6.0, 7.0], [9.0]]
    else:
        assert labels(0) == [[0.0, 1.0], [4.0, 5.0]]
        assert labels(1) == [[2.0, 3.0], [6.0, 7.0]]
    loader = data.DataLoader(data.ArrayDataset(X, y), 4)
    assert (loader.num_parts, loader.part_index) == (1, 0)  # one process: the whole batch
    with pytest.raises(ValueError, match="batch_size=5 .* num_parts=2"):
        data.DataLoader(data.ArrayDataset(X, y), 5, num_parts=2, part_index=0)
    with pytest.raises(ValueError, match="part_index"):
        data.DataLoader(data.ArrayDataset(X, y), 4, num_parts=2, part_index=2)


def test_mesh_with_one_device_in_this_process():
    """The suite's own process has one device: a mesh of it behaves like that device."""
    import dstraight
    from dstraight import Trainer, data, loss, nn

    mesh = dstraight.data_parallel()
    assert mesh.size == 1
    X = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    results = []
    for device in (mesh, None):
        net = nn.Dense(1)
        net.initialize("zeros", device=device)
        loader = data.DataLoader(data.ArrayDataset(X, 2 * X[:, 0]), 8, device=device)
        Trainer(net, "sgd", {"learning_rate": 0.5}).fit_epoch(net, loss.L2Loss(), loader)
        results.append(np.asarray(net.weight.data()))
    np.testing.assert_array_equal(*results)
    with pytest.raises(TypeError, match="mesh"):
        data.DataLoader(data.ArrayDataset(X, X[:, 0]), 8, device="gpu")
