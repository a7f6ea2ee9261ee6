"""Trainer: gluon's ``Trainer`` over optax, every path through the one loop engine.

The gluon contract is kept: losses are per example, their *sum* is differentiated, and
``trainer.step(grads, batch_size)`` divides the gradients by the batch size before the optimizer
sees them. The optimizer is built by :func:`dstraight.optimizer.create` (gluon's names and MXNet's
update rules on optax); its learning rate is an injected hyperparameter, so
:meth:`Trainer.set_learning_rate` changes a value in the optimizer state and recompiles nothing.

Three ways to train, from most explicit to fastest:

* ``grads = jax.grad(...)(net.params)`` then ``trainer.step(grads, batch_size)``;
* ``step = trainer.fused_step(net, loss_fn)`` then ``step(X, y)`` per batch: loss, gradient and
  update in one compiled call;
* ``trainer.fit_epoch(net, loss_fn, loader)``: the whole epoch as one compiled ``jax.lax.scan``
  over the loader's batch indices, gathering the batches on the device.

A trainer over some of a network's parameters (``net.collect_params('.*weight')``, or
parameters with ``grad_req='null'``) trains only those; the others stay as they are in every
path. A step whose loss or gradient is not finite is skipped, so NaN never reaches the
parameters, and a ``FloatingPointError`` lists the likely causes.

Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from dstraight import Trainer, loss, nn
    >>> net = nn.Dense(1, in_units=2)
    >>> net.initialize("zeros")
    >>> trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    >>> X, y = jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([1.0, 2.0])
    >>> grads = jax.grad(lambda p: loss.l2_loss(net.apply(p, X), y).sum())(net.params)
    >>> trainer.step(grads, batch_size=2)
    >>> round(float(net.params["bias"][0]), 4)
    0.15
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _engine
from . import optimizer as _optimizer
from ._trainer_inputs import check_net_and_loss, gradients_in_order, trained_parameters
from .checkpoint import load_arrays, save_arrays

__all__ = ["Trainer"]

# How often at most the count of skipped (non-finite) steps is read back when it is not ready
# yet: reading it waits for the step, and per step that wait costs as much as a small step.
_CHECK_EVERY = 16


def _hashable(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


class Trainer:
    """Applies an optimizer to a set of parameters (gluon's ``Trainer``, optax underneath).

    Args:
        params: ``net.collect_params()`` (or a selection of it), a block, or a list or dict
            of Parameters. Parameters with ``grad_req='null'`` and state (BatchNorm's running
            statistics) are never trained.
        optimizer: 'sgd', 'nag', 'adam', 'adamw', 'adagrad', 'rmsprop' or 'adadelta'
            (case-insensitive), or any optax ``GradientTransformation``.
        optimizer_params: hyperparameters with MXNet's names, as a dict or as ``(name, value)``
            pairs (see :func:`dstraight.optimizer.create`), ``lr_scheduler`` included.
        kvstore, compression_params, update_on_kvstore: accepted for gluon code; one process
            needs no key-value store (several devices: see the parallel chapter).

    Each parameter's ``lr_mult`` and ``wd_mult`` are honoured as in MXNet (``_get_lr`` and
    ``_get_wd``): the parameter is updated with the learning rate ``learning_rate * lr_mult``
    (inside the momentum buffer for sgd and nag) and the weight decay ``wd * wd_mult`` (adamw's
    decoupled decay included), in ``step``, ``fused_step``, ``fit_epoch`` and ``Module.fit``
    alike. They are read at every step: setting ``p.wd_mult = 0`` after training started
    applies from the next step on (the step is compiled again for the new values). With an
    optax transformation, ``lr_mult`` scales the parameter's updates and ``wd_mult`` must stay
    1.0.

    Raises:
        ValueError: for an unknown optimizer name or parameter (the message lists the valid
            ones) or an out-of-range value.
        TypeError: if ``params`` or ``optimizer`` has the wrong type.

    Examples:
        >>> from dstraight import Trainer, nn
        >>> net = nn.Dense(1)
        >>> net.initialize()
        >>> hyper = (("learning_rate", 0.1), ("momentum", 0.9))  # MXNet style; a dict works too
        >>> trainer = Trainer(net.collect_params(), "sgd", hyper)
        >>> trainer.learning_rate
        0.1
    """

    def __init__(self, params: Any, optimizer: Any,
                 optimizer_params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
                 kvstore: Any = "device", compression_params: Any = None,
                 update_on_kvstore: Any = None):
        given, paths = trained_parameters(params)
        keep = [i for i, p in enumerate(given) if p.kind == "param" and p.grad_req != "null"]
        self._params = tuple(given[i] for i in keep)
        self._paths = tuple(paths[i] for i in keep)
        self._opt = _optimizer.create(optimizer, optimizer_params)
        if self._opt.name is not None:
            tx_key = ("named", self._opt.name,
                      tuple(sorted((k, _hashable(v)) for k, v in self._opt.hyperparams.items())))
        else:
            tx_key = ("id", id(self._opt.tx), self._opt.tx)
        self._run = _engine.Optimizing(self._opt.tx, tx_key, self._params,
                                       build=self._opt.with_multipliers)
        self._bad: jax.Array | None = None  # skipped trainer.step updates, on the device
        self._seen_bad = 0.0
        self._unchecked = 0
        self._pending_lr: float | None = None

    # -- optimizer state and learning rate ------------------------------------------------------

    @property
    def optimizer(self) -> Any:
        """The optax transformation that computes the updates (with the parameters' current
        ``lr_mult`` and ``wd_mult`` applied)."""
        return self._run.tx

    @property
    def opt_state(self) -> Any:
        """A copy of the optax state (``None`` until the first update)."""
        state = self._run.opt_state
        return None if state is None else jax.tree.map(jnp.copy, state)

    @property
    def trace_count(self) -> int:
        """How many times dstraight's compiled training and evaluation programs were traced.

        It grows by one per new batch shape and path, and stays put afterwards: a second epoch
        of ``fit_epoch`` on the same loader does not change it.
        """
        return _engine.trace_count()

    @property
    def learning_rate(self) -> float:
        """The current learning rate (following the ``lr_scheduler`` if there is one).

        Raises:
            ValueError: for an optax transformation whose learning rate is not injected.
        """
        state = self._run.opt_state
        if state is None:
            if self._pending_lr is not None:
                return self._pending_lr
            if self._opt.learning_rate is None:
                self._opt.get_learning_rate(self._probe_state())  # raises the clear message
            if self._opt.scheduler is not None:
                return float(self._opt.scheduler(0))
            return self._opt.learning_rate
        return self._opt.get_learning_rate(state)

    def _probe_state(self) -> Any:
        try:
            return self._opt.init({})
        except Exception:  # a transformation that needs real parameters to initialise
            return None

    def set_learning_rate(self, lr: float) -> None:
        """Sets the learning rate used by the following updates (no recompilation).

        With SGD momentum the rate enters the momentum buffer (MXNet's rule), so a change
        affects only the contributions of the following gradients.

        Examples:
            >>> from dstraight import Trainer, nn
            >>> trainer = Trainer(nn.Dense(1).collect_params(), "adam")
            >>> trainer.set_learning_rate(0.01)
            >>> trainer.learning_rate
            0.01
        """
        state = self._run.opt_state
        if state is None:
            # no parameter values yet (deferred shapes): set it on a state made now
            self._opt.set_learning_rate(self._probe_state(), lr)  # validates; refuses schedules
            self._pending_lr = float(lr)
            return
        self._run.opt_state = self._opt.set_learning_rate(state, lr)

    def _ready(self) -> None:
        """Creates the optimizer state once the parameter values exist."""
        if self._run.opt_state is None:
            self._run.state_for(self._run.values())
            lr = self._pending_lr
            if lr is not None:
                self._run.opt_state = self._opt.set_learning_rate(self._run.opt_state, lr)
                self._pending_lr = None

    # -- gluon's step ----------------------------------------------------------------------------

    def _watch(self, bad_total: jax.Array, where: str, force: bool = False) -> None:
        """Raises if the device count of skipped steps grew.

        The count is read when it is ready anyway, and at least every ``_CHECK_EVERY`` steps
        (a read waits for the step to finish, which a read per step would do every time).
        """
        self._unchecked += 1
        if not (force or self._unchecked >= _CHECK_EVERY or bad_total.is_ready()):
            return
        steps, self._unchecked = self._unchecked, 0
        bad = float(np.asarray(bad_total))  # cheaper than float() of a device scalar
        if bad > self._seen_bad:
            new, self._seen_bad = int(bad - self._seen_bad), bad
            raise FloatingPointError(_engine.divergence_message(new, steps, f"the last {where}",
                                                                self._lr_hint()))

    def _lr_hint(self) -> str:
        try:
            return f" (now {self.learning_rate:g})"
        except ValueError:
            return ""

    def step(self, grads: Any, batch_size: int | None = None,
             ignore_stale_grad: bool = False) -> None:
        """Applies one update from gradients of the *summed* loss of a batch.

        The gradients are divided by ``batch_size`` (gluon's contract) and handed to the
        optimizer; the parameters are updated in place. Gradients of parameters this trainer
        does not train (a frozen subset) may be present and are ignored. If the gradients are
        not finite the update is skipped and ``FloatingPointError`` is raised, usually at once and
        at the latest 16 calls later (the check reads a device value only when it is ready).

        Args:
            grads: a pytree shaped like ``net.params``, e.g. from
                ``jax.grad(lambda p: loss(net.apply(p, X), y).sum())(net.params)``, or a dict
                from parameter names to gradients.
            batch_size: the number of examples the loss was summed over.
            ignore_stale_grad: accepted for gluon compatibility; not used.

        Raises:
            ValueError: if ``grads`` does not match the parameters or ``batch_size`` is not a
                positive finite number.
            FloatingPointError: if the gradients of this or a recent step were not finite.

        Examples:
            >>> import jax.numpy as jnp
            >>> from dstraight import Trainer, nn
            >>> net = nn.Dense(1, in_units=1)
            >>> net.initialize("zeros")
            >>> trainer = Trainer(net, "sgd", {"learning_rate": 1.0})
            >>> trainer.step({"weight": jnp.full((1, 1), 4.0), "bias": jnp.ones(1)}, batch_size=4)
            >>> net.params["weight"].tolist(), net.params["bias"].tolist()
            ([[-1.0]], [-0.25])
        """
        values = gradients_in_order(grads, batch_size, self._params, self._paths)
        if self._run.opt_state is None:
            self._ready()
        if self._bad is None:
            self._bad = jnp.zeros((), jnp.float32)
        self._bad = _engine.apply_gradients(self._run, values, 1.0 / float(batch_size),
                                            self._bad)
        self._watch(self._bad, "trainer.step updates:")

    def allreduce_grads(self) -> None:
        """Nothing to reduce across devices in one process (kept for gluon code)."""

    def update(self, batch_size: int, ignore_stale_grad: bool = False) -> None:
        raise TypeError(
            "trainer.update(batch_size) applies gradients stored in the parameters, and JAX "
            "stores none: pass them, trainer.step(grads, batch_size)."
        )

    # -- compiled paths --------------------------------------------------------------------------

    def fused_step(self, net: Any, loss_fn: Callable) -> Callable[..., jax.Array]:
        """Returns ``step(X, y)``: loss, gradient and update of one batch in one compiled call.

        Equivalent to computing ``grads`` of ``loss_fn(net.apply(params, X, training=True),
        y).sum()`` and calling ``self.step(grads, len(X))``, but compiled once per batch shape.
        A step whose loss or gradient is not finite is skipped and reported
        (``FloatingPointError``) within at most 16 calls, usually at once.

        Args:
            net: the block whose parameters this trainer updates.
            loss_fn: ``(y_hat, y) -> losses`` with one loss per example, e.g. ``loss.L2Loss()``.

        Returns:
            ``step(X, y) -> jax.Array``: the batch's mean loss (a device scalar; converting it
            with ``float`` waits for the step to finish).

        Examples:
            >>> import jax.numpy as jnp
            >>> from dstraight import Trainer, loss, nn
            >>> net = nn.Dense(1)
            >>> net.initialize("zeros")
            >>> step = Trainer(net, "sgd", {"learning_rate": 0.1}).fused_step(net, loss.L2Loss())
            >>> X, y = jnp.array([[1.0], [2.0]]), jnp.array([2.0, 4.0])
            >>> [round(float(step(X, y)), 4) for _ in range(3)]
            [5.0, 2.1825, 0.9649]
        """
        check_net_and_loss(net, loss_fn)
        runner = _engine.StepRunner(net, loss_fn, self._run)
        seen = [0.0]

        def step(X: Any, y: Any) -> jax.Array:
            inputs = tuple(X) if isinstance(X, tuple) else (X,)
            if self._run.opt_state is None:
                _engine.ensure_shapes(net, tuple(jnp.asarray(x) for x in inputs))
                self._ready()
            mean_loss = runner(inputs, y)
            self._seen_bad, saved = seen[0], self._seen_bad
            try:
                self._watch(runner.bad_total, "fused steps:")
            finally:
                seen[0], self._seen_bad = self._seen_bad, saved
            return mean_loss

        return step

    def fit_epoch(self, net: Any, loss_fn: Callable, loader: Any) -> float:
        """Trains for one epoch and returns the mean per-example loss over it.

        When ``loader`` follows :class:`dstraight.data.DeviceLoader` (``DataLoader``,
        ``NDArrayIter``), the epoch is one compiled ``jax.lax.scan`` over the shuffled batch
        indices that gathers the batches from the device-resident arrays, plus one compiled step
        for a short last batch; both are compiled once per shape and reused by the following
        epochs. (On a CPU, a network whose step holds a convolution is trained by one compiled
        call per batch instead, gathering on the device just the same: XLA's CPU convolution runs
        several times slower inside a compiled loop.) Any other iterable of ``(X, y)`` batches
        is trained on batch by batch with the compiled step of :meth:`fused_step`. Layers run in
        training mode (dropout, batch statistics), with keys drawn from the network's key.

        The loss is reported per example, averaged over the epoch with the parameters each batch
        saw. An ``NDArrayIter`` is ``reset()`` first, so calling ``fit_epoch`` once per epoch
        needs no manual reset.

        Raises:
            FloatingPointError: if a step's loss or gradient was not finite (those steps are
                skipped; the parameters hold their last finite values).
            ValueError: if the loader has no labels or yields no batch.

        Examples:
            >>> import jax.numpy as jnp
            >>> from dstraight import Trainer, data, loss, nn
            >>> X = jnp.linspace(-1, 1, 64).reshape(-1, 1)
            >>> loader = data.DataLoader(data.ArrayDataset(X, 3 * X[:, 0]), batch_size=8)
            >>> net = nn.Dense(1)
            >>> net.initialize("zeros")
            >>> trainer = Trainer(net, "sgd", {"learning_rate": 0.5})
            >>> losses = [trainer.fit_epoch(net, loss.L2Loss(), loader) for _ in range(20)]
            >>> round(losses[-1], 6), round(float(net.params["weight"][0, 0]), 3)
            (0.0, 3.0)
        """
        result = self.train_epoch(net, loss_fn, loader)
        return result.mean_loss

    def train_epoch(self, net: Any, loss_fn: Callable, loader: Any, metrics: Any = (),
                    points: Any = (), on_point: Any = None,
                    on_batch: Any = None) -> _engine.EpochResult:
        """:meth:`fit_epoch` with metrics and callbacks; returns the epoch's sums (for Module)."""
        check_net_and_loss(net, loss_fn)
        if _engine.is_device_loader(loader):
            arrays = tuple(loader.data_arrays)
            _engine.ensure_shapes(net, lambda: tuple(a[: loader.batch_size] for a in arrays))
        self._ready_if_possible()
        result = _engine.train_epoch(net, loss_fn, loader, self._run, metrics, points, on_point,
                                     on_batch)
        if result.bad_steps or not math.isfinite(result.mean_loss):
            raise FloatingPointError(_engine.divergence_message(
                result.bad_steps, result.steps, "this epoch's steps:", self._lr_hint()))
        return result

    def _ready_if_possible(self) -> None:
        if all(p.has_value for p in self._params):
            self._ready()

    # -- saving ------------------------------------------------------------------------------------

    def save_states(self, fname: str) -> None:
        """Saves the optimizer state (momentum buffers, step count, learning rate) to ``.npz``."""
        if self._run.opt_state is None:
            raise ValueError("The trainer has made no update yet, so there is no state to save.")
        save_arrays(fname, _optimizer.state_to_arrays(self._run.opt_state))

    def load_states(self, fname: str) -> None:
        """Loads a state saved by :meth:`save_states` for the same optimizer and parameters.

        Raises:
            ValueError: naming every mismatched entry.
        """
        self._ready()
        self._run.opt_state = _optimizer.state_from_arrays(self._run.opt_state, load_arrays(fname))
