"""The contenders of the benchmark: one function per way of training an epoch.

Every case is built by a ``make_*`` function that receives the same arrays and hyperparameters and
returns a callable ``run_epoch() -> float`` (the epoch's mean loss, which also forces the work to
finish before the clock stops). All cases see the same number of examples per epoch: the last,
short batch is dropped everywhere, so that no case pays for an extra compilation the others skip.

- ``reference``: hand-written JAX, the whole epoch one ``lax.scan`` over device-resident data (c).
- ``steps_reference``: the same hand-written step, jitted on its own and called once per batch
  from Python, gathering its batch inside (c'): what any Python loop of compiled steps costs on
  this machine, the floor for ``gluon_python_loop`` and ``plain_loop``.
- ``gluon``: the book's gluon-style loop, ``DataLoader`` + ``Trainer.fit_epoch`` (a).
- ``gluon_python_loop``: the same objects driven batch by batch from Python, one jitted fused step
  per batch; where the per-step dispatch cost shows.
- ``plain_loop``: the book's explicit loop, ``jax.jit(jax.value_and_grad(...))`` of
  ``net.apply`` and ``trainer.step(grads, batch_size)`` per batch: two compiled calls per step.
- ``module``: ``Module.fit`` on an ``NDArrayIter`` (b).
- ``gluon_mesh`` (``bench/mesh.py``, not in ``CASES``): (a) on a mesh of all devices, against (a)
  on one device of the same process.
- ``torch``: an idiomatic PyTorch eager loop over the same data (d), when torch is installed.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dstraight
from dstraight import data, loss, nn

EpochFn = Callable[[], float]


@dataclass(frozen=True)
class Problem:
    """A training problem every case solves the same way."""

    name: str
    X: np.ndarray  # float32 (N, D)
    y: np.ndarray  # int32 (N,) class ids, or float32 (N, 1) targets
    units: int  # outputs of the single Dense layer
    batch_size: int
    lr: float
    classification: bool

    @property
    def steps_per_epoch(self) -> int:
        return len(self.X) // self.batch_size


def jax_loss(problem: Problem):
    """The per-example loss as a pure function of (prediction, label)."""
    if problem.classification:
        return lambda y_hat, y: optax.softmax_cross_entropy_with_integer_labels(y_hat, y)
    return lambda y_hat, y: 0.5 * jnp.sum((y_hat - y) ** 2, axis=-1)


def dstraight_loss(problem: Problem):
    return loss.SoftmaxCrossEntropyLoss() if problem.classification else loss.L2Loss()


def _reference_parts(problem: Problem, device: jax.Device, seed: int):
    """The hand-written references' data on the device, initial parameters and batch loss."""
    per_example = jax_loss(problem)
    X = jax.device_put(jnp.asarray(problem.X), device)
    y = jax.device_put(jnp.asarray(problem.y), device)
    params = {
        "w": jax.random.normal(jax.random.key(seed), (problem.X.shape[1], problem.units)) * 0.01,
        "b": jnp.zeros(problem.units),
    }

    def batch_loss(p, xb, yb):
        return per_example(xb @ p["w"] + p["b"], yb).mean()

    return X, y, jax.device_put(params, device), batch_loss


def _epoch_order(key: jax.Array, n: int, steps: int, bs: int) -> jax.Array:
    """The references' epoch: a permutation of the examples cut into ``steps`` rows of ``bs``."""
    return jax.random.permutation(key, n)[: steps * bs].reshape(steps, bs)


def make_reference(problem: Problem, device: jax.Device, seed: int = 0) -> EpochFn:
    """(c) Hand-written JAX: shuffle, then scan over the batches, all inside one XLA program."""
    X, y, params, batch_loss = _reference_parts(problem, device, seed)
    steps, bs, lr = problem.steps_per_epoch, problem.batch_size, problem.lr

    @jax.jit
    def epoch(p, key):
        order = _epoch_order(key, X.shape[0], steps, bs)

        def body(p, idx):
            value, grads = jax.value_and_grad(batch_loss)(p, X[idx], y[idx])
            return jax.tree.map(lambda a, g: a - lr * g, p, grads), value

        p, losses = jax.lax.scan(body, p, order)
        return p, losses.mean()

    state = {"params": params, "key": jax.random.key(seed + 1)}

    def run_epoch() -> float:
        state["key"], sub = jax.random.split(state["key"])
        state["params"], mean_loss = epoch(state["params"], sub)
        return float(mean_loss)

    return run_epoch


def make_steps_reference(problem: Problem, device: jax.Device, seed: int = 0) -> EpochFn:
    """(c') The reference's step jitted on its own, called once per batch from Python."""
    X, y, params, batch_loss = _reference_parts(problem, device, seed)
    steps, bs, lr = problem.steps_per_epoch, problem.batch_size, problem.lr

    @jax.jit
    def step(p, table, i):
        idx = table[i]
        value, grads = jax.value_and_grad(batch_loss)(p, X[idx], y[idx])
        return jax.tree.map(lambda a, g: a - lr * g, p, grads), value

    shuffle = jax.jit(lambda key: _epoch_order(key, X.shape[0], steps, bs))
    state = {"params": params, "key": jax.random.key(seed + 1)}

    def run_epoch() -> float:
        state["key"], sub = jax.random.split(state["key"])
        table, p, losses = shuffle(sub), state["params"], []
        for i in range(steps):
            p, value = step(p, table, np.int32(i))
            losses.append(value)
        state["params"] = p
        return float(jnp.mean(jnp.stack(losses)))

    return run_epoch


def _gluon_net(problem: Problem, device: jax.Device):
    net = nn.Dense(problem.units, in_units=problem.X.shape[1])
    net.initialize(dstraight.init.Normal(0.01), key=0, device=device)
    trainer = dstraight.Trainer(net.collect_params(), "sgd", {"learning_rate": problem.lr})
    loader = data.DataLoader(
        data.ArrayDataset(problem.X, problem.y),
        batch_size=problem.batch_size,
        shuffle=True,
        last_batch="discard",
        seed=0,
        device=device,
    )
    return net, trainer, loader


def make_gluon(problem: Problem, device: jax.Device) -> EpochFn:
    """(a) The book's gluon-style training: DataLoader + Trainer, the epoch compiled."""
    net, trainer, loader = _gluon_net(problem, device)
    loss_fn = dstraight_loss(problem)
    return lambda: float(trainer.fit_epoch(net, loss_fn, loader))


def make_gluon_python_loop(problem: Problem, device: jax.Device) -> EpochFn:
    """The gluon-style loop driven from Python: one jitted fused step per batch."""
    net, trainer, loader = _gluon_net(problem, device)
    step = trainer.fused_step(net, dstraight_loss(problem))

    def run_epoch() -> float:
        losses = [step(X, y) for X, y in loader]
        return float(jnp.mean(jnp.stack(losses)))

    return run_epoch


def make_plain_loop(problem: Problem, device: jax.Device) -> EpochFn:
    """The explicit loop of the gluon chapters: jitted value_and_grad, then trainer.step."""
    net, trainer, loader = _gluon_net(problem, device)
    loss_fn = dstraight_loss(problem)
    value_and_grad = jax.jit(jax.value_and_grad(
        lambda p, X, y: loss_fn(net.apply(p, X), y).sum()))

    def run_epoch() -> float:
        total = jnp.zeros(())
        for X, y in loader:
            value, grads = value_and_grad(net.params, X, y)
            trainer.step(grads, problem.batch_size)
            total = total + value
        return float(total) / (problem.steps_per_epoch * problem.batch_size)

    return run_epoch


def make_module(problem: Problem, device: jax.Device) -> EpochFn:
    """(b) ``Module.fit``, one epoch per call, on a device-resident NDArrayIter."""
    net = nn.Dense(problem.units, in_units=problem.X.shape[1])
    net.initialize(dstraight.init.Normal(0.01), key=0, device=device)
    label = problem.y if problem.classification else problem.y.reshape(-1, 1)
    it = data.NDArrayIter(
        problem.X, label, batch_size=problem.batch_size, shuffle=True,
        last_batch_handle="discard", seed=0, device=device,
    )
    mod = dstraight.Module(net, loss=dstraight_loss(problem), device=device)
    metric = "acc" if problem.classification else "mse"

    def run_epoch() -> float:
        it.reset()
        with contextlib.redirect_stdout(io.StringIO()):  # fit prints one line per epoch
            mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": problem.lr},
                    num_epoch=1, eval_metric=metric)
        # Module.fit returns nothing, as MXNet's does; reading a parameter waits for the epoch.
        return float(jnp.sum(net.collect_params().tree()["weight"]))

    return run_epoch


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def make_torch(problem: Problem, device: jax.Device) -> EpochFn:
    """(d) Idiomatic PyTorch eager mode: tensors already in memory, randperm, slicing, optim.SGD."""
    import torch

    dev = "cuda" if device.platform == "gpu" and torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    X = torch.from_numpy(problem.X).to(dev)
    if problem.classification:
        y = torch.from_numpy(problem.y.astype(np.int64)).to(dev)
        criterion = torch.nn.CrossEntropyLoss()
    else:
        y = torch.from_numpy(problem.y.reshape(-1, 1)).to(dev)
        mse = torch.nn.MSELoss()
        criterion = lambda out, target: 0.5 * mse(out, target)  # noqa: E731  same loss as JAX
    model = torch.nn.Linear(problem.X.shape[1], problem.units).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=problem.lr)
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


def make_gluon_mesh(problem: Problem, device: jax.Device) -> EpochFn:
    """(a) on a data-parallel mesh of every device: ``device=dstraight.data_parallel()``.

    ``device`` is ignored: the mesh spans ``jax.devices()``. Run by ``bench/mesh.py`` in a process
    of its own, where the CPU can be split into simulated devices (they share its cores, so the
    ratio to one device measures the cost of the collectives and of the split, not a speed-up).
    """
    net, trainer, loader = _gluon_net(problem, dstraight.data_parallel())
    loss_fn = dstraight_loss(problem)
    return lambda: float(trainer.fit_epoch(net, loss_fn, loader))


CASES: dict[str, Callable[[Problem, jax.Device], EpochFn]] = {
    "reference": make_reference,
    "steps_reference": make_steps_reference,
    "gluon": make_gluon,
    "gluon_python_loop": make_gluon_python_loop,
    "plain_loop": make_plain_loop,
    "module": make_module,
    "torch": make_torch,
}
