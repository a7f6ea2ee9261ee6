"""Measure each lowering of ``dstraight.ops``: ``python -m bench.conv_lowerings [--reps N]``.

Part 1 times each convolution lowering at LeNet-5's two layer sizes, separately for the forward
pass, the input gradient (dx) and the weight gradient (dw), and each pooling lowering forward and
forward+backward. Part 2 times LeNet-5 training steps (a ``lax.scan`` over ``--steps`` batches of
Fashion-MNIST, as in ``bench/lenet.py``) with each combination, next to PyTorch eager. Every
candidate is timed in turns with the others; the table gives the minimum and the median, since on
a shared machine the minimum is the better estimate of the cost itself. ``impl="auto"`` in
``dstraight/ops.py`` names the fastest here per platform.

Measured on the 2-core AMD EPYC CPU that the book's benchmark uses, shared with other jobs
(minimum ms over 24 runs, batch 128, jax 0.10.2; dx of conv1 is never needed in LeNet):

    lowering   conv1 28x28x1->6         conv2 14x14x6->16        max-pool 2x2 fwd+bwd
               fwd     dx      dw       fwd     dx      dw       28x28x6  10x10x16
    xla        20.3    27.8    3.9      1.6     5.1     6.8      10.3     1.56
    patches    15.5    4.2     14.6     6.5     6.1     6.0      -        -
    taps       1.9     16.6    9.4      6.1     7.8     7.9      -        -
    hybrid     2.7     7.1     3.6      1.8     5.9     2.6      -        -
    slices     -       -       -        -       -       -        2.4      0.39
    reshape    -       -       -        -       -       -        5.4      1.46

On a GPU the default stays ``lax.conv_general_dilated`` (cuDNN); this table is CPU only.

Since then ``hybrid``'s dx of conv2 is col2im (``dstraight._conv_lowerings.input_grad_cols``):
1.2 ms against XLA's 3.4 ms with ``dy`` and ``w`` as arguments, and a LeNet epoch of 120
steps through one compiled step per batch 8-17% faster (1.37 s against 1.49 s, 8 turns, AMD
EPYC). Part 1 closes over ``dy`` as a constant, which XLA compiles differently: it shows less.
Computing that product tap-major (``w @ dy^T``, so that each tap's block is a contiguous slice
that XLA fuses into the sum instead of copying it out) made a LeNet step with Fashion-MNIST
batches 5-8% faster (AMD EPYC, in turns of 30 steps: 1.08-1.20x PyTorch's step against
1.17-1.29x; a 468-step epoch 1.25x against 1.32x). Tried and dropped, being slower with real
batches: the max-pool's gradient to each window's first maximum, found in the forward pass, with
a conditional around col2im's output to keep XLA from recomputing it in the pool's gradient.

Then the ``reshape`` max-pool's gradient (``dstraight/_pool_lowerings.py``) went to each window's
first maximum, found in the backward pass by one int32 reduction, with the cotangent and the
one-channel convolution's output behind ``dstraight._fusion_barrier.materialized``. In a profile
of one LeNet step, pool 1's and ReLU 1's gradients took 0.6 ms against 2.1 ms; the same search
in int8 or float32 went to XLA's YNN library and took 1.9-2.0 ms. With one barrier only, the step
was slower than before (the convolution's alone 1.19x, the cotangent's alone 1.34x); with both,
0.89-0.92x. With Fashion-MNIST batches
in turns the steps were 0.89-0.98x as long as before (the machine was noisy: PyTorch's step
moved from 7.6 to 10 ms between runs), and ``make bench`` stored ``lenet_gluon`` at 3.80 s,
1.09x PyTorch's epoch (4.33 s and 1.11x before; the run just before it, 1.33x). Measured slower
and not kept: the forward max as an elementwise maximum of the window's slices (pool 1's
output then went unmaterialized and conv2's weight gradient recomputed it, 2x the step), a
two-stage col2im sum (1.5-1.7 ms against 1.4) and conv1's or conv2's weight gradient as one
product of the patches laid out tap-major (2.8 ms against XLA's 1.7; 1.8 ms against the taps'
1.2).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from bench.lenet import (
    LeNetProblem,
    _lax_conv,
    _lax_pool,
    lenet_problem,
    make_scan_epoch,
    make_torch,
)
from dstraight import ops

LAYERS = {  # name: (input NHWC, weight HWIO, padding)
    "conv1 28x28x1->6": ((128, 28, 28, 1), (5, 5, 1, 6), 2),
    "conv2 14x14x6->16": ((128, 14, 14, 6), (5, 5, 6, 16), 0),
}
POOLS = {"pool 28x28x6": (128, 28, 28, 6), "pool 10x10x16": (128, 10, 10, 16)}


def in_turns(fns: dict, reps: int, inner: int = 3) -> dict[str, list[float]]:
    for f in fns.values():
        f()  # compile
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, f in fns.items():
            for _ in range(inner):
                t0 = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t0)
    return times


def show(times: dict[str, list[float]], scale: float = 1e3, unit: str = "ms") -> None:
    for name, ts in times.items():
        print(f"  {name:<34}min {min(ts) * scale:8.2f} {unit}   median "
              f"{statistics.median(ts) * scale:8.2f} {unit}")


def timed(f, *args):
    """A no-argument call of jitted ``f`` that waits for the result."""
    return lambda: jax.block_until_ready(f(*args))


def conv_gradients(conv, dy):
    """The jitted input and weight gradients of ``conv(x, w)`` against cotangent ``dy``."""
    dx = jax.jit(lambda x, w: jax.vjp(lambda x: conv(x, w), x)[1](dy)[0])
    dw = jax.jit(lambda x, w: jax.vjp(lambda w: conv(x, w), w)[1](dy)[0])
    return dx, dw


def conv_pieces(reps: int) -> None:
    key = jax.random.split(jax.random.key(0), 3)
    for layer, (xs, ws, pad) in LAYERS.items():
        x, w = jax.random.normal(key[0], xs), jax.random.normal(key[1], ws)
        dy = jax.random.normal(key[2], ops.conv2d_output_shape(xs, ws[3], ws[:2], padding=pad))
        fns = {}
        for impl in ops.CONV_IMPLS:
            def conv(x, w, impl=impl, pad=pad):
                return ops.conv2d(x, w, padding=pad, impl=impl)
            dx, dw = conv_gradients(conv, dy)
            for part, f in (("forward", jax.jit(conv)), ("dx", dx), ("dw", dw)):
                fns[f"{impl:<8} {part}"] = timed(f, x, w)
        print(f"{layer}: x {xs}, w {ws}, padding {pad}")
        show(in_turns(fns, reps))


def pool_pieces(reps: int) -> None:
    for name, shape in POOLS.items():
        x = jax.random.normal(jax.random.key(0), shape)
        g = jax.random.normal(jax.random.key(1), ops.pool2d_output_shape(shape, 2))
        fns = {}
        for impl in ops.POOL_IMPLS:
            def pool(x, impl=impl):
                return ops.max_pool2d(x, 2, impl=impl)
            fns[f"{impl:<8} forward"] = timed(jax.jit(pool), x)
            fns[f"{impl:<8} forward+backward"] = timed(
                jax.jit(lambda x, p=pool, g=g: jax.vjp(p, x)[1](g)[0]), x)
        print(f"max {name}")
        show(in_turns(fns, reps))


def lenet_steps(problem: LeNetProblem, reps: int, conv_impls, pool_impls) -> None:
    device = jax.devices()[0]
    makers = {"lax (conv_general_dilated, reduce_window)":
              lambda: make_scan_epoch(problem, device, _lax_conv, _lax_pool)}
    for ci in conv_impls:
        for pi in pool_impls:
            def conv(x, w, padding, ci=ci):
                return ops.conv2d(x, w, padding=padding, impl=ci)

            def pool(x, pi=pi):
                return ops.max_pool2d(x, 2, impl=pi)
            makers[f"ops conv={ci} pool={pi}"] = (
                lambda c=conv, p=pool: make_scan_epoch(problem, device, c, p))
    try:
        import torch  # noqa: F401
        makers["torch eager"] = lambda: make_torch(problem, device)
    except ImportError:
        pass
    fns = {name: make() for name, make in makers.items()}
    print(f"LeNet-5 training, {problem.steps_per_epoch} steps of batch {problem.batch_size}, "
          f"ms per step")
    show(in_turns(fns, reps, inner=1), scale=1e3 / problem.steps_per_epoch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="rounds of turns")
    parser.add_argument("--steps", type=int, default=50, help="LeNet steps per timed run")
    parser.add_argument("--parts", default="conv,pool,lenet")
    parser.add_argument("--conv", default=",".join(ops.CONV_IMPLS))
    parser.add_argument("--pool", default="xla,slices,reshape")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"backend {jax.default_backend()}; auto: conv={ops.resolve_impl('auto')}, "
          f"pool={ops.resolve_impl('auto', op='pool')}")
    if "conv" in parts:
        conv_pieces(args.reps)
    if "pool" in parts:
        pool_pieces(args.reps)
    if "lenet" in parts:
        from bench.__main__ import load_fashion_mnist

        X, y = load_fashion_mnist()
        n = args.steps * 128
        problem = lenet_problem(X[:n], y[:n])
        lenet_steps(problem, args.reps, args.conv.split(","), args.pool.split(","))


if __name__ == "__main__":
    main()
