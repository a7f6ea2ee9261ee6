"""Run the benchmark: ``python -m bench [--epochs N] [--cases ...] [--out PATH]`` (``make bench``).

Each case trains a warm-up epoch (which includes compilation); then the cases of a problem are
timed in turns (A B C A B C ..., ten turns for the short regression epochs, ``--epochs`` for
LeNet), so that the machine's drift hits them alike (``bench/timing.py``). The tables report the
median epoch, samples per second, and ratios to the hand-written JAX references (c, c') and to
PyTorch (d) measured in the same run. Then LeNet-5 on Fashion-MNIST (``bench/lenet.py``), the
convolution lowerings against PyTorch, and the mesh case (``bench/mesh.py``, 8 simulated CPU
devices in a process of its own). Results go to ``bench/results/<machine>.json``.
Nothing here is asserted: the test suite never times anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from bench.cases import CASES, Problem, torch_available
from bench.lenet import LENET_CASES, lenet_problem
from bench.timing import time_interleaved
from dstraight.ops import resolve_impl

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "optax", "numpy", "torch", "dstraight"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def load_fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    from dstraight.data import FashionMNIST

    train = FashionMNIST(train=True)
    X = (train.data.reshape(len(train.data), -1) / np.float32(255)).astype(np.float32)
    return X, train.label.astype(np.int32)


def linear_problem() -> Problem:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 2), dtype=np.float32)
    y = (X @ np.array([2.0, -3.4], np.float32) + 4.2
         + 0.01 * rng.standard_normal(10_000, dtype=np.float32))
    return Problem("linear regression 10000x2", X, y.reshape(-1, 1).astype(np.float32), units=1,
                   batch_size=4, lr=0.001, classification=False)


def time_loading() -> dict:
    """Fashion-MNIST's training split from disk into arrays: cold (fresh cache) and cached."""
    from dstraight.data import FashionMNIST

    cache = tempfile.mkdtemp(prefix="dstraight-bench-cache-")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = cache
    try:
        t0 = time.perf_counter()
        FashionMNIST(train=True)
        first = time.perf_counter() - t0
        cached = []
        for _ in range(5):
            t0 = time.perf_counter()
            FashionMNIST(train=True)
            cached.append(time.perf_counter() - t0)
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
        shutil.rmtree(cache, ignore_errors=True)
    return {"first_s": first, "cached_s": statistics.median(cached)}


def run_lenet(names: list[str], X: np.ndarray, y: np.ndarray, device, epochs: int) -> dict:
    """The LeNet-5 cases, timed in turns (A B C A B C ...) so that outside load hits all alike."""
    problem = lenet_problem(X, y)
    print(f"\n{problem.name} ({problem.steps_per_epoch} steps/epoch, cases timed in turns)")
    rows = time_interleaved({n: LENET_CASES[n] for n in names}, problem, device, epochs)
    lax_row, torch_row = rows.get("lenet_lax"), rows.get("lenet_torch")
    print(f"{'case':<14}{'median':>9}{'min':>9}{'samples/s':>11}{'compile':>9}{'loss':>8}"
          f"{'vs lax':>9}{'vs torch':>10}")
    for name, row in rows.items():
        row["speedup_over_lax"] = lax_row["epoch_s"] / row["epoch_s"] if lax_row else None
        row["speedup_over_torch"] = torch_row["epoch_s"] / row["epoch_s"] if torch_row else None
        vs_lax = f"{row['speedup_over_lax']:>8.2f}x" if lax_row else f"{'-':>9}"
        vs_torch = f"{row['speedup_over_torch']:>9.2f}x" if torch_row else f"{'-':>10}"
        print(f"{name:<14}{row['epoch_s']:>8.2f}s{row['min_epoch_s']:>8.2f}s"
              f"{row['samples_per_s']:>11.0f}{row['compile_s']:>8.1f}s{row['losses'][-1]:>8.3f}"
              f"{vs_lax}{vs_torch}")
    return {"problem": problem.name, "batch_size": problem.batch_size,
            "steps_per_epoch": problem.steps_per_epoch, "conv_impl": resolve_impl("auto"),
            "pool_impl": resolve_impl("auto", op="pool"), "cases": rows}


def run_mesh(epochs: int, devices: int = 8) -> dict | None:
    """The mesh case (bench/mesh.py), in a process of its own (JAX fixes its device count)."""
    command = [sys.executable, "-m", "bench.mesh", "--devices", str(devices),
               "--epochs", str(epochs)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                              cwd=Path(__file__).resolve().parent.parent, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        print(f"\nmesh case failed: {err}")
        return None
    row = json.loads(done.stdout.strip().splitlines()[-1])
    kind = "simulated CPU devices sharing the cores" if row["simulated"] else row["platform"]
    print(f"\n{row['problem']} on a mesh of {row['devices']} {kind}: epoch "
          f"{row['cases']['gluon_mesh']['epoch_s'] * 1e3:.1f} ms against "
          f"{row['cases']['gluon_one_device']['epoch_s'] * 1e3:.1f} ms on one device "
          f"({row['ratio_mesh_to_one']:.2f}x the time)")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per case (>= 5)")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<machine>)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--lenet-cases", default=",".join(LENET_CASES),
                        help="comma-separated subset of the LeNet cases ('' skips them)")
    parser.add_argument("--skip-mesh", action="store_true",
                        help="skip the mesh case (8 simulated CPU devices, in a subprocess)")
    args = parser.parse_args()
    for option, given, known in (("--cases", args.cases, CASES),
                                 ("--lenet-cases", args.lenet_cases, LENET_CASES)):
        unknown = [c for c in given.split(",") if c and c not in known]
        if unknown:
            parser.error(f"{option}: unknown case(s) {', '.join(unknown)}; the cases are "
                         f"{', '.join(known)}")

    device = jax.devices()[0]
    names = [c for c in args.cases.split(",") if c and (c != "torch" or torch_available())]
    skipped = [] if torch_available() else ["torch (not installed: pip install torch)"]

    X, y = load_fashion_mnist()
    problems = [
        Problem("softmax regression Fashion-MNIST, batch 64", X, y, 10, 64, 0.1, True),
        Problem("softmax regression Fashion-MNIST, batch 256", X, y, 10, 256, 0.1, True),
        linear_problem(),
    ]
    report = {
        "machine": {
            "cpu": cpu_name(),
            "cores": len(os.sched_getaffinity(0)),  # the cores this process may run on
            "device": device.device_kind if device.platform == "gpu" else "cpu",
            "platform": device.platform,
        },
        "versions": versions(),
        "skipped": skipped,
        "results": [],
    }
    for problem in problems if names else []:
        print(f"\n{problem.name} ({problem.steps_per_epoch} steps/epoch)")
        # short epochs: twice the turns, since one stray pause moves a 0.2 s epoch a lot
        rows = time_interleaved({n: CASES[n] for n in names}, problem, device,
                                2 * max(args.epochs, 5))
        ref, torch_row = rows.get("reference"), rows.get("torch")
        print(f"{'case':<20}{'epoch':>10}{'samples/s':>12}{'compile':>10}{'vs ref':>9}"
              f"{'vs torch':>10}")
        for name, row in rows.items():
            row["ratio_to_reference"] = row["epoch_s"] / ref["epoch_s"] if ref else None
            row["speedup_over_torch"] = (torch_row["epoch_s"] / row["epoch_s"]
                                         if torch_row else None)
            vs_torch = (f"{row['speedup_over_torch']:>9.1f}x" if torch_row else f"{'-':>10}")
            print(f"{name:<20}{row['epoch_s'] * 1e3:>8.1f}ms{row['samples_per_s']:>12.0f}"
                  f"{row['compile_s']:>9.2f}s{row['ratio_to_reference']:>8.2f}x{vs_torch}")
        report["results"].append({"problem": problem.name, "batch_size": problem.batch_size,
                                  "steps_per_epoch": problem.steps_per_epoch, "cases": rows})
    lenet_names = [c for c in args.lenet_cases.split(",") if c]
    if not torch_available():
        lenet_names = [c for c in lenet_names if c != "lenet_torch"]
    if lenet_names:
        report["lenet"] = run_lenet(lenet_names, X, y, device, max(args.epochs, 5))
    if not args.skip_mesh:
        report["mesh"] = run_mesh(max(args.epochs, 5))
    report["loading"] = time_loading()
    print(f"\nFashion-MNIST train split into arrays: first {report['loading']['first_s']:.3f} s, "
          f"cached {report['loading']['cached_s']:.3f} s")
    if skipped:
        print("skipped: " + "; ".join(skipped))

    machine = report["machine"]
    default_name = (f"cpu-{machine['cores']}core" if machine["platform"] == "cpu"
                    else machine["device"].lower().replace(" ", "-"))
    out = args.out or RESULTS / f"{default_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
