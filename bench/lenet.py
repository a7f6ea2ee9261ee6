"""LeNet-5 on Fashion-MNIST: where the convolution's lowering decides the epoch time.

The network (the same in every case): conv(6, 5x5, pad 2) - ReLU - max-pool 2 - conv(16, 5x5) -
ReLU - max-pool 2 - dense 120 - ReLU - dense 84 - ReLU - dense 10, softmax cross-entropy, plain
SGD, batch 128, one shuffled epoch with the last short batch dropped. Every case starts from the
same weights (PyTorch's default uniform(+-1/sqrt(fan_in)) drawn once with NumPy).

- ``lenet_lax``: hand-written JAX, the epoch one ``lax.scan``, ``lax.conv_general_dilated`` and
  ``lax.reduce_window`` (what a JAX user writes first; the slow baseline on CPU).
- ``lenet_ops``: the same scan with ``dstraight.ops.conv2d`` / ``max_pool2d`` (``impl="auto"``).
- ``lenet_steps``: the same step as ``lenet_ops``, jitted on its own and called once per batch
  from Python (on a CPU, XLA's convolution is several times slower inside the scan's loop: JAX
  issue 12868; this is what ``fit_epoch`` does there for a network with a convolution).
- ``lenet_gluon``: the book's way, ``nn.Conv2D``/``nn.MaxPool2D``/``nn.Dense`` in a
  ``Sequential``, ``DataLoader`` and ``Trainer.fit_epoch`` (the compiled epoch of the engine).
- ``lenet_torch``: idiomatic PyTorch eager, ``torch.nn`` layers over index slices of tensors
  already in memory, ``torch.optim.SGD``, default threads.

A case is ``make(problem, device) -> run_epoch``; add one by adding it to :data:`LENET_CASES`.
:func:`bench.timing.time_interleaved` times the cases in turns (A B C A B C ...), so that load
from other processes hits all of them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from dstraight import ops

EpochFn = Callable[[], float]


@dataclass(frozen=True)
class LeNetProblem:
    """Images, labels, hyperparameters and the initial weights every case starts from."""

    name: str
    X: np.ndarray  # float32 (N, 28, 28, 1), NHWC
    y: np.ndarray  # int32 (N,)
    batch_size: int
    lr: float
    params: dict  # NumPy arrays; conv weights HWIO, dense weights (in, out)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.X) // self.batch_size


def lenet_problem(X: np.ndarray, y: np.ndarray, batch_size: int = 128, lr: float = 0.1,
                  seed: int = 0) -> LeNetProblem:
    """Fashion-MNIST as ``(N, 784)`` floats in [0, 1] -> the LeNet problem with fresh weights."""
    rng = np.random.default_rng(seed)
    shapes = {"conv1": (5, 5, 1, 6), "conv2": (5, 5, 6, 16),
              "dense1": (400, 120), "dense2": (120, 84), "dense3": (84, 10)}
    params = {}
    for name, shape in shapes.items():
        bound = 1 / np.sqrt(np.prod(shape[:-1]))  # fan_in: all dimensions but the outputs
        params[name] = {
            "w": rng.uniform(-bound, bound, shape).astype(np.float32),
            "b": rng.uniform(-bound, bound, shape[-1]).astype(np.float32),
        }
    return LeNetProblem(f"LeNet-5 Fashion-MNIST, batch {batch_size}",
                        X.reshape(-1, 28, 28, 1).astype(np.float32), y.astype(np.int32),
                        batch_size, lr, params)


def _lax_conv(x, w, padding):
    return lax.conv_general_dilated(x, w, (1, 1), [(padding, padding)] * 2,
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _lax_pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _ops_conv(x, w, padding):
    return ops.conv2d(x, w, padding=padding)


def lenet_apply(params, x, conv, pool):
    """The forward pass, given a ``conv(x, w, padding)`` and a 2x2 ``pool(x)``."""
    x = pool(jax.nn.relu(conv(x, params["conv1"]["w"], 2) + params["conv1"]["b"]))
    x = pool(jax.nn.relu(conv(x, params["conv2"]["w"], 0) + params["conv2"]["b"]))
    x = x.reshape(len(x), -1)
    for name in ("dense1", "dense2"):
        x = jax.nn.relu(x @ params[name]["w"] + params[name]["b"])
    return x @ params["dense3"]["w"] + params["dense3"]["b"]


def _sgd_step(problem: LeNetProblem, device: jax.Device, conv, pool):
    """The images on ``device`` and one plain-SGD step ``(params, idx) -> (params, loss)`` on
    the batch of rows ``idx``, gathered from them."""
    X = jax.device_put(problem.X, device)
    y = jax.device_put(problem.y, device)

    def batch_loss(p, xb, yb):
        logits = lenet_apply(p, xb, conv, pool)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def step(p, idx):
        value, grads = jax.value_and_grad(batch_loss)(p, X[idx], y[idx])
        return jax.tree.map(lambda a, g: a - problem.lr * g, p, grads), value

    return X, step


def make_scan_epoch(problem: LeNetProblem, device: jax.Device, conv, pool,
                    seed: int = 1) -> EpochFn:
    """Hand-written JAX: shuffle, then ``lax.scan`` over the batches, all one XLA program."""
    X, step = _sgd_step(problem, device, conv, pool)
    steps, bs = problem.steps_per_epoch, problem.batch_size

    @jax.jit
    def epoch(p, key):
        order = jax.random.permutation(key, X.shape[0])[: steps * bs].reshape(steps, bs)
        p, losses = lax.scan(step, p, order)
        return p, losses.mean()

    state = {"params": jax.device_put(problem.params, device), "key": jax.random.key(seed)}

    def run_epoch() -> float:
        state["key"], sub = jax.random.split(state["key"])
        state["params"], mean_loss = epoch(state["params"], sub)
        return float(mean_loss)

    return run_epoch


def make_step_loop(problem: LeNetProblem, device: jax.Device, conv, pool,
                   seed: int = 1) -> EpochFn:
    """Hand-written JAX: shuffle, then one compiled step per batch, called from Python."""
    X, step = _sgd_step(problem, device, conv, pool)
    step = jax.jit(step)
    steps, bs = problem.steps_per_epoch, problem.batch_size

    state = {"params": jax.device_put(problem.params, device), "key": jax.random.key(seed)}

    def run_epoch() -> float:
        state["key"], sub = jax.random.split(state["key"])
        order = np.asarray(jax.random.permutation(sub, X.shape[0])[: steps * bs])
        p, losses = state["params"], []
        for idx in order.reshape(steps, bs):
            p, value = step(p, idx)
            losses.append(value)
        state["params"] = p
        return float(jnp.mean(jnp.stack(losses)))

    return run_epoch


def make_lax(problem: LeNetProblem, device: jax.Device) -> EpochFn:
    """(i) ``lax.conv_general_dilated`` and ``lax.reduce_window``."""
    return make_scan_epoch(problem, device, _lax_conv, _lax_pool)


def make_ops(problem: LeNetProblem, device: jax.Device) -> EpochFn:
    """(ii) ``dstraight.ops.conv2d`` and ``max_pool2d`` with ``impl="auto"``."""
    return make_scan_epoch(problem, device, _ops_conv, ops.max_pool2d)


def make_steps(problem: LeNetProblem, device: jax.Device) -> EpochFn:
    """(ii b) ``lenet_ops``'s step, called once per batch."""
    return make_step_loop(problem, device, _ops_conv, ops.max_pool2d)


def make_gluon(problem: LeNetProblem, device: jax.Device) -> EpochFn:
    """(iv) dstraight's blocks, ``DataLoader`` and ``Trainer.fit_epoch``."""
    from dstraight import Trainer, data, loss, nn

    net = nn.Sequential()
    net.add(nn.Conv2D(6, 5, padding=2, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
            nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10))
    net.initialize(device=device)
    net(problem.X[:2])
    layers = [b for b in net if isinstance(b, nn.Conv2D | nn.Dense)]
    for layer, name in zip(layers, problem.params, strict=True):  # the shared initial weights
        layer.weight.set_data(problem.params[name]["w"])
        layer.bias.set_data(problem.params[name]["b"])
    loader = data.DataLoader(data.ArrayDataset(problem.X, problem.y), problem.batch_size,
                             shuffle=True, last_batch="discard", seed=1, device=device)
    trainer = Trainer(net, "sgd", {"learning_rate": problem.lr})
    loss_fn = loss.SoftmaxCrossEntropyLoss()
    return lambda: float(trainer.fit_epoch(net, loss_fn, loader))


def torch_lenet(problem: LeNetProblem):
    """The same network as a ``torch.nn.Sequential`` (NCHW) holding the problem's weights."""
    import torch

    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    # The shared initial weights: HWIO -> OIHW, (in, out) -> (out, in). Flatten after NCHW
    # pooling orders dense1's 400 inputs (C, H, W), the JAX cases' NHWC flatten (H, W, C): its
    # rows are permuted once so that both compute the same function.
    layers = [m for m in model if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        for layer, name in zip(layers, problem.params, strict=True):
            w = problem.params[name]["w"]
            if name == "dense1":
                w = w.reshape(5, 5, 16, 120).transpose(2, 0, 1, 3).reshape(400, 120)
            w = w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T
            layer.weight.copy_(torch.from_numpy(w.copy()))
            layer.bias.copy_(torch.from_numpy(problem.params[name]["b"]))
    return model


def make_torch(problem: LeNetProblem, device: jax.Device) -> EpochFn:
    """(iii) PyTorch eager: ``torch.nn`` layers, a loop over index slices, ``optim.SGD``."""
    import torch

    dev = "cuda" if device.platform == "gpu" and torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    X = torch.from_numpy(problem.X.transpose(0, 3, 1, 2).copy()).to(dev)  # NCHW
    y = torch.from_numpy(problem.y.astype(np.int64)).to(dev)
    model = torch_lenet(problem).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=problem.lr)
    criterion = torch.nn.CrossEntropyLoss()
    bs, steps = problem.batch_size, problem.steps_per_epoch

    def run_epoch() -> float:
        order = torch.randperm(len(X), device=dev)
        total = torch.zeros((), device=dev)
        for i in range(steps):
            idx = order[i * bs : (i + 1) * bs]
            optimizer.zero_grad()
            batch_loss = criterion(model(X[idx]), y[idx])
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.detach()
        return float(total / steps)

    return run_epoch


LENET_CASES: dict[str, Callable[[LeNetProblem, jax.Device], EpochFn]] = {
    "lenet_lax": make_lax,
    "lenet_ops": make_ops,
    "lenet_steps": make_steps,
    "lenet_gluon": make_gluon,
    "lenet_torch": make_torch,
}
