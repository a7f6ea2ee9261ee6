"""Timing a problem's cases in turns (A B C A B C ...): how every table of the bench is made.

This VM's speed drifts by up to 2x within an hour, and differently for compute-bound epochs (one
compiled scan) and dispatch-bound ones (a Python loop of small programs). Timed one case after the
other, a ratio between two cases measures the drift as much as the cases; timed in turns, every
case sees the same machine, and the median of the turns is what the tables report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["time_interleaved"]


def time_interleaved(makers: dict[str, Callable], problem: Any, device: jax.Device,
                     epochs: int) -> dict[str, dict]:
    """Build every case and run its first epoch (compilation), then time epochs in turns."""
    runs, rows = {}, {}
    for name, make in makers.items():
        start = time.perf_counter()
        runs[name] = make(problem, device)
        first_loss = runs[name]()
        rows[name] = {"first_epoch_s": time.perf_counter() - start, "times": [],
                      "losses": [first_loss]}
        print(f"  {name}: first epoch {rows[name]['first_epoch_s']:.1f} s", flush=True)
    for turn in range(epochs):
        for name, run_epoch in runs.items():
            t0 = time.perf_counter()
            rows[name]["losses"].append(run_epoch())
            rows[name]["times"].append(time.perf_counter() - t0)
        print(f"  turn {turn + 1}/{epochs}: " + ", ".join(
            f"{name} {row['times'][-1]:.2f} s" for name, row in rows.items()), flush=True)
    for row in rows.values():
        row["epoch_s"] = statistics.median(row["times"])
        row["min_epoch_s"] = min(row["times"])
        row["samples_per_s"] = problem.steps_per_epoch * problem.batch_size / row["epoch_s"]
        row["compile_s"] = max(row["first_epoch_s"] - row["epoch_s"], 0.0)
        row["epochs_timed"] = epochs
    return rows
