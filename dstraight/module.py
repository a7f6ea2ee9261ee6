"""Module: MXNet's high-level ``fit`` / ``predict`` / ``score`` API around a block.

MXNet's ``mx.mod.Module`` binds a symbol to data and label names and trains it with one call. Here
the network is a ``dstraight`` block and the loss an ordinary loss object; everything runs through
the compiled paths of :class:`dstraight.Trainer` and :mod:`dstraight.metric`:

* with a ``DataLoader`` or ``NDArrayIter`` (device-resident data) each epoch of :meth:`Module.fit`
  is one compiled ``jax.lax.scan`` over the batch indices; the training metric is summed on the
  device inside it;
* a batch-end callback with a ``frequent`` attribute (``callback.Speedometer``) splits the epoch
  into compiled chunks of ``frequent`` batches and is called between them; any other batch-end
  callback makes ``fit`` run the compiled step batch by batch;
* :meth:`Module.predict` and :meth:`Module.score` are compiled scans too, and drop the padding of
  ``NDArrayIter(last_batch_handle='pad')``.

Examples:
    >>> import numpy as np
    >>> from dstraight import Module, data, nn
    >>> X = np.random.default_rng(0).uniform(size=(100, 2)).astype(np.float32)
    >>> y = X[:, 0] + 2 * X[:, 1]
    >>> train_iter = data.NDArrayIter(X, y, batch_size=10, label_name="lin_reg_label")
    >>> model = Module(nn.Dense(1), label_names=["lin_reg_label"])
    >>> model.fit(train_iter, optimizer_params={"learning_rate": 0.5}, num_epoch=30)
    ...     # doctest: +ELLIPSIS
    Epoch[0] Train-mse=...
    Epoch[29] Train-mse=...
    >>> model.net.params["weight"].ravel().round(1).tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from dstraight import init as _init
from dstraight import loss as _loss
from dstraight import metric as _metric
from dstraight.callback import BatchEndParam
from dstraight.trainer import Trainer, _zero_acc

__all__ = ["Module"]

_DEFAULT_OPTIMIZER_PARAMS = (("learning_rate", 0.01),)

# The progress bar appears only once a run has lasted this long: short runs print no bar.
_PROGRESS_DELAY_S = 2.0


def _names(value: Any, what: str, allow_none: bool) -> tuple[str, ...] | None:
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"Module({what}=None): give at least one name, e.g. ('data',).")
    if isinstance(value, str):
        return (value,)
    names = tuple(value)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"Module({what}=...) must be a sequence of str, got {value!r}.")
    return names


def _as_list(callbacks: Any) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, list | tuple):
        return list(callbacks)
    return [callbacks]


def _frequency(callback: Any) -> int | None:
    freq = getattr(callback, "frequent", None)
    if isinstance(freq, int) and not isinstance(freq, bool) and freq > 0:
        return freq
    return None


class _Progress:
    """A tqdm bar over the batches of a run (stderr), created only when it is worth showing.

    ``mode=None``: the clock starts after the first epoch, whose time is mostly compilation, and
    the bar appears once the run has gone on for ``_PROGRESS_DELAY_S`` more seconds.
    """

    def __init__(self, mode: bool | None):
        self.mode, self.bar, self.done, self.total, self.t0 = mode, None, 0, None, None
        if mode:
            self.bar = tqdm(unit="batch", file=sys.stderr, dynamic_ncols=True)

    def _maybe_start(self) -> None:
        if (
            self.mode is None
            and self.bar is None
            and self.t0 is not None
            and self.done < self.total
            and time.perf_counter() - self.t0 > _PROGRESS_DELAY_S
        ):
            self.bar = tqdm(total=self.total, initial=self.done, unit="batch", file=sys.stderr,
                            dynamic_ncols=True)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            self._maybe_start()

    def epoch_done(self, total: int) -> None:
        self.total = total
        if self.bar is not None and self.bar.total is None:
            self.bar.total = total
            self.bar.refresh()
        if self.t0 is None:
            self.t0 = time.perf_counter()
        self._maybe_start()

    def write(self, line: str) -> None:
        if self.bar is not None:
            tqdm.write(line, file=sys.stdout)  # clears and redraws the bar around the line
        else:
            print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Module:
    """Trains, evaluates and applies a block with MXNet's ``Module`` interface.

    Args:
        net: the network (a ``dstraight.nn`` block).
        loss: the training loss, ``(y_hat, y) -> per-example losses``; ``None`` means
            ``loss.L2Loss()``, the loss that MXNet's ``LinearRegressionOutput`` trains with.
        data_names: the data names; they must match the iterator's (``NDArrayIter(data_name=)``).
        label_names: the label names; they must match the iterator's
            (``NDArrayIter(label_name=)``). ``None`` for a module that only predicts.
        device: where :meth:`fit` initializes the parameters (``None``: JAX's default device).

    MXNet binds inputs to a model by name, so ``Module(label_names=('lin_reg_label',))`` needs an
    iterator built with ``label_name='lin_reg_label'``; a mismatch raises a ``ValueError`` that
    says which names to change. Iterators without names (``DataLoader``, lists of batches) are
    accepted as they are.

    Examples:
        >>> from dstraight import Module, loss, nn
        >>> model = Module(nn.Dense(10), loss=loss.SoftmaxCrossEntropyLoss())
        >>> model.label_names
        ('softmax_label',)
    """

    def __init__(
        self,
        net: Any,
        loss: Callable[[Any, Any], jax.Array] | None = None,
        data_names: Sequence[str] = ("data",),
        label_names: Sequence[str] | None = ("softmax_label",),
        device: jax.Device | None = None,
    ):
        if not (hasattr(net, "apply") and hasattr(net, "collect_params")):
            raise TypeError(
                f"Module(net) expects a dstraight.nn block (e.g. nn.Dense(1)), got "
                f"{type(net).__name__}."
            )
        if loss is not None and not callable(loss):
            raise TypeError(
                f"Module(loss=...) must be a loss such as loss.L2Loss(), got {type(loss).__name__}."
            )
        self.net = net
        self.loss = loss if loss is not None else _loss.L2Loss()
        self.data_names = _names(data_names, "data_names", allow_none=False)
        self.label_names = _names(label_names, "label_names", allow_none=True)
        self.device = device
        self.params_initialized = False
        self._trainer: Trainer | None = None
        self._trainer_args: tuple | None = None

    def __repr__(self) -> str:
        return (
            f"Module(net={self.net!r}, loss={type(self.loss).__name__}, "
            f"data_names={self.data_names}, label_names={self.label_names})"
        )

    # -- names ----------------------------------------------------------------------------------

    def _check_names(self, data_iter: Any, what: str, need_label: bool) -> None:
        """Compares the module's data/label names with those the iterator provides."""
        if hasattr(data_iter, "provide_data"):
            data = tuple(d.name for d in data_iter.provide_data)
            label = tuple(d.name for d in (getattr(data_iter, "provide_label", None) or []))
        elif hasattr(data_iter, "data_name"):
            data = (data_iter.data_name,)
            label_name = getattr(data_iter, "label_name", None)
            label = (label_name,) if label_name is not None else ()
        else:
            return  # DataLoader and plain iterables carry no names
        rule = (
            "MXNet binds an iterator's arrays to the model by name, so the names given to "
            "Module(data_names=..., label_names=...) must equal the iterator's data_name and "
            "label_name."
        )
        if data != self.data_names:
            raise ValueError(
                f"{what} provides data named {list(data)} but the Module expects data_names="
                f"{list(self.data_names)}. {rule} Pass data_names={list(data)} to Module, or "
                f"data_name={self.data_names[0]!r} to NDArrayIter."
            )
        if not need_label:
            return
        if not label:
            raise ValueError(
                f"{what} provides no labels, but training and scoring need them; build it with "
                "labels, e.g. NDArrayIter(X, y, batch_size)."
            )
        if not self.label_names:
            raise ValueError(
                f"This Module was built with label_names=None, so it cannot train or score; "
                f"build it with label_names={list(label)} to match {what}."
            )
        if label != self.label_names:
            raise ValueError(
                f"{what} provides labels named {list(label)} but the Module expects "
                f"label_names={list(self.label_names)}. {rule} Pass label_names={list(label)} "
                f"to Module, or label_name={self.label_names[0]!r} to NDArrayIter."
            )

    # -- parameters -----------------------------------------------------------------------------

    def init_params(
        self, initializer: Any = None, key: Any = 0, force_init: bool = False
    ) -> None:
        """Initializes the network's parameters unless that was done already.

        A network that was initialized by hand keeps its parameters unless ``initializer`` is
        given or ``force_init`` is true. Otherwise the parameters are drawn from
        ``initializer``, by default ``init.Uniform(0.01)`` (MXNet's default for ``Module``);
        biases keep their own initializer (zeros).

        Args:
            initializer: an initializer or its name.
            key: ``jax.random`` key or integer seed.
            force_init: draw new values even if the parameters exist.

        Examples:
            >>> from dstraight import Module, nn
            >>> model = Module(nn.Dense(1, in_units=2))
            >>> model.init_params()
            >>> float(abs(model.net.params["weight"]).max()) <= 0.01
            True
        """
        if self.params_initialized and not force_init and initializer is None:
            return
        params = self.net.collect_params()
        by_hand = all(p.is_initialized for p in params.values())
        if force_init or initializer is not None or not by_hand:
            chosen = initializer if initializer is not None else _init.Uniform(0.01)
            self.net.initialize(chosen, key=key, force_reinit=True, device=self.device)
        self.params_initialized = True

    def get_params(self) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
        """Returns ``(arg_params, aux_params)``: name -> value dicts, as MXNet does.

        ``aux_params`` is always empty (no layer here has auxiliary states).
        """
        params = self.net.collect_params()
        return {name: p.data() for name, p in params.items()}, {}

    def _params_for(self, X: Any) -> Any:
        return _metric._materialised_params(self.net, X)

    # -- training -------------------------------------------------------------------------------

    def _get_trainer(self, optimizer: Any, optimizer_params: Any) -> Trainer:
        if not isinstance(optimizer, str) and optimizer_params == _DEFAULT_OPTIMIZER_PARAMS:
            optimizer_params = None  # the default only makes sense for optimizer names
        args = (optimizer, optimizer_params)
        # MXNet keeps an initialized optimizer across fit() calls; so does this, which also
        # keeps the compiled programs, unless the optimizer settings change.
        if self._trainer is None or self._trainer_args != args:
            self._trainer = Trainer(self.net, optimizer, optimizer_params)
            self._trainer_args = args
        return self._trainer

    def fit(
        self,
        train_data: Any,
        eval_data: Any = None,
        optimizer: Any = "sgd",
        optimizer_params: Any = _DEFAULT_OPTIMIZER_PARAMS,
        num_epoch: int = 1,
        eval_metric: Any = "mse",
        initializer: Any = None,
        key: Any = 0,
        batch_end_callback: Any = None,
        epoch_end_callback: Any = None,
        validation_metric: Any = None,
        begin_epoch: int = 0,
        force_init: bool = False,
        progress_bar: bool | None = None,
    ) -> None:
        """Trains the network, printing the training metric after every epoch.

        Each epoch prints ``Epoch[i] Train-<metric>=<value>`` (4 significant digits; the metric
        over the whole epoch, computed with the parameters each batch saw, as MXNet does) and,
        with ``eval_data``, ``Epoch[i] Validation-<metric>=<value>``. A progress bar (on stderr)
        appears when the run lasts longer than two seconds.

        An ``NDArrayIter`` is ``reset()`` at the start of every epoch (MXNet resets it at the
        end), so an iterator that was consumed before works too.

        Speed: with a ``DataLoader`` or ``NDArrayIter`` the epoch runs as one compiled program
        (compiled at the first epoch, reused after). A batch-end callback with an integer
        ``frequent`` attribute, such as ``callback.Speedometer``, is called after batch 0 and
        every ``frequent``-th batch, with the batches in between compiled together, so its lines
        and speeds are those of the compiled epoch. Other batch-end callbacks are called after
        every batch, with the compiled step run batch by batch.

        Args:
            train_data: an ``NDArrayIter``, a ``DataLoader`` or an iterable of ``(X, y)``.
            eval_data: optional validation data, scored after every epoch.
            optimizer: an optimizer name or an optax transformation (see :class:`Trainer`).
            optimizer_params: the optimizer's hyperparameters (dict or ``(name, value)`` pairs).
            num_epoch: train until this epoch (exclusive).
            eval_metric: the training metric: a name, a metric or a function (see
                ``metric.create``). It is updated in place.
            initializer: initializer for a network that is not initialized yet (default
                ``init.Uniform(0.01)``); see :meth:`init_params`.
            key: ``jax.random`` key or integer seed for the initializer.
            batch_end_callback: a function of a ``callback.BatchEndParam``, or a list of them.
            epoch_end_callback: a function ``f(epoch, net, arg_params, aux_params)`` (MXNet's
                signature, the block in the place of the symbol), or a list of them.
            validation_metric: the metric for ``eval_data`` (default: like ``eval_metric``).
            begin_epoch: the first epoch's number (to continue an earlier run).
            force_init: re-initialize the parameters even if they exist.
            progress_bar: ``True`` always shows the bar, ``False`` never, ``None`` on long runs.

        Raises:
            ValueError: if the iterator's data or label names differ from the module's.
            FloatingPointError: if the training loss became NaN or infinite (checked once per
                epoch); lower the learning rate.

        Examples:
            >>> import numpy as np
            >>> from dstraight import Module, callback, data, nn
            >>> X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(-1, 1)
            >>> it = data.NDArrayIter(X, 3 * X[:, 0], batch_size=4, label_name="lin_reg_label")
            >>> model = Module(nn.Dense(1), label_names=("lin_reg_label",))
            >>> model.fit(it, optimizer_params={"learning_rate": 0.5}, num_epoch=1,
            ...           batch_end_callback=callback.Speedometer(4, frequent=5))
            ...           # doctest: +ELLIPSIS
            Epoch[0] Batch [5] Speed: ... samples/sec mse=...
            Epoch[0] Train-mse=...
        """
        if isinstance(num_epoch, bool) or not isinstance(num_epoch, int):
            raise TypeError(f"num_epoch must be an int, got {num_epoch!r}.")
        if num_epoch < begin_epoch:
            raise ValueError(
                f"num_epoch={num_epoch} is smaller than begin_epoch={begin_epoch}; training runs "
                "from begin_epoch up to num_epoch (exclusive)."
            )
        self._check_names(train_data, "train_data", need_label=True)
        if eval_data is not None:
            self._check_names(eval_data, "eval_data", need_label=True)
        train_metric = _metric.create(eval_metric)
        if validation_metric is not None:
            val_metric = _metric.create(validation_metric)
        else:
            val_metric = copy.deepcopy(train_metric)  # same kind, separate accumulators
        self.init_params(initializer, key=key, force_init=force_init)
        trainer = self._get_trainer(optimizer, optimizer_params)
        batch_callbacks = _as_list(batch_end_callback)
        epoch_callbacks = _as_list(epoch_end_callback)
        leaves = tuple(_metric._leaves(train_metric))
        bar = _Progress(progress_bar)
        try:
            for epoch in range(begin_epoch, num_epoch):
                train_metric.reset()
                nbatches = self._fit_epoch(
                    trainer, train_data, leaves, train_metric, batch_callbacks, epoch, bar
                )
                bar.epoch_done(nbatches * (num_epoch - begin_epoch))
                for name, value in train_metric.get_global_name_value():
                    bar.write(f"Epoch[{epoch}] Train-{name}={value:.4g}")
                if epoch_callbacks:
                    arg_params, aux_params = self.get_params()
                    for cb in epoch_callbacks:
                        cb(epoch, self.net, arg_params, aux_params)
                if eval_data is not None:
                    for name, value in self.score(eval_data, val_metric):
                        bar.write(f"Epoch[{epoch}] Validation-{name}={value:.4g}")
        finally:
            bar.close()

    def _fit_epoch(
        self,
        trainer: Trainer,
        train_data: Any,
        leaves: tuple,
        train_metric: Any,
        callbacks: list,
        epoch: int,
        bar: Any,
    ) -> int:
        """Trains one epoch; returns the number of batches."""
        frequencies = [_frequency(cb) for cb in callbacks]
        if _metric._has_fast_path(train_data) and all(f is not None for f in frequencies):
            arrays = _metric._data_label(train_data)
            bs = train_data.batch_size
            params = trainer._current_params(self.net, lambda: arrays[0][:bs])
            specs = [jax.ShapeDtypeStruct((bs, *a.shape[1:]), a.dtype) for a in arrays]
            if _metric._jittable(leaves, self.net, params, *specs):
                return self._fit_epoch_compiled(
                    trainer, train_data, arrays, leaves, train_metric, callbacks, frequencies,
                    epoch, bar,
                )
        return self._fit_epoch_stepwise(trainer, train_data, leaves, train_metric, callbacks,
                                        epoch, bar)

    def _call_back(self, callbacks: list, epoch: int, nbatch: int, train_metric: Any,
                   local_vars: dict) -> None:
        param = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=train_metric,
                              locals=local_vars)
        for cb in callbacks:
            cb(param)

    def _fit_epoch_compiled(self, trainer, train_data, arrays, leaves, train_metric, callbacks,
                            frequencies, epoch, bar) -> int:
        program = trainer._program(self.net, self.loss, leaves)
        _metric._rewind(train_data)
        full, rest = train_data.epoch_indices()
        nfull = int(full.shape[0])
        total = nfull + (1 if rest.shape[0] else 0)
        if total == 0:
            raise ValueError("train_data yielded no batch in this epoch; it holds no data.")
        # Batches after which the callbacks run (MXNet numbers them from 0 in every epoch).
        points = sorted({p for f in frequencies for p in range(0, total, f)})
        params = trainer._current_params(self.net)
        state = trainer._ensure_state(params)
        pending: list = []  # device results not yet added to the metrics
        loss_total = 0.0

        def run(rows):
            nonlocal params, state
            params, state, loss_sum, stats = program.rows(params, state, arrays, rows)
            pending.append((loss_sum, stats))
            bar.update(rows.shape[0])

        def flush():
            # one transfer for everything since the last flush, then plain float arithmetic
            nonlocal loss_total
            for loss_sum, stats in jax.device_get(pending):
                loss_total += float(loss_sum)
                for m, (total_, count) in zip(leaves, stats, strict=True):
                    m._add(float(total_), float(count))
            pending.clear()

        def call_back(nbatch):
            flush()
            trainer._commit(params, state)
            self._call_back(callbacks, epoch, nbatch, train_metric, locals())

        start = 0
        if points and points[0] < nfull:
            # Slicing the indices on the host costs nothing; on the device every slice would be
            # one more dispatch per chunk.
            full = np.asarray(jax.device_get(full))
        for p in points:
            if p >= nfull:
                break
            run(full[start : p + 1])
            start = p + 1
            call_back(p)
        if start < nfull:
            run(full[start:] if start else full)
        if rest.shape[0]:
            run(rest[None])
            if nfull in points:
                call_back(nfull)
        flush()
        trainer._commit(params, state)
        trainer._check_finite(loss_total / (full.size + rest.size), f"in epoch {epoch}")
        return total

    def _fit_epoch_stepwise(self, trainer, train_data, leaves, train_metric, callbacks, epoch,
                            bar) -> int:
        carry = None
        program = None
        jittable = True
        nbatch = -1
        for nbatch, batch in enumerate(_metric._iterate(train_data)):
            X, y, _ = _metric._unpack_batch(batch)
            if y is None:
                raise _metric._missing_labels()
            if carry is None:
                params = trainer._current_params(self.net, X)
                jittable = _metric._jittable(leaves, self.net, params, X, y)
                program = trainer._program(self.net, self.loss, leaves if jittable else ())
                carry = (params, trainer._ensure_state(params),
                         _zero_acc(leaves if jittable else ()))
            carry, _, y_hat = program.step(*carry, X, y)
            if not jittable:
                _metric._update_eager(leaves, y, y_hat)
            bar.update(1)
            if callbacks:
                params, state, (loss_sum, loss_count, states) = carry
                trainer._commit(params, state)
                for m, st in zip(leaves if jittable else (), states, strict=True):
                    _metric._set_state(m, st)
                self._call_back(callbacks, epoch, nbatch, train_metric, locals())
                if jittable:
                    states = tuple(_metric._get_state(m) for m in leaves)
                carry = (params, state, (loss_sum, loss_count, states))
        if carry is None:
            raise ValueError(
                "train_data yielded no batch. An MXNet-style iterator that was consumed must be "
                "reset() first; a DataLoader must not be empty."
            )
        self._finish_epoch(trainer, carry, leaves if jittable else (), epoch)
        return nbatch + 1

    def _finish_epoch(self, trainer: Trainer, carry: tuple, leaves: tuple, epoch: int) -> None:
        params, state, (loss_sum, loss_count, states) = carry
        trainer._commit(params, state)
        loss_sum, loss_count, states = jax.device_get((loss_sum, loss_count, states))
        for m, st in zip(leaves, states, strict=True):
            _metric._set_state(m, [float(v) for v in st])
        trainer._check_finite(float(loss_sum) / float(loss_count), f"in epoch {epoch}")

    # -- inference ------------------------------------------------------------------------------

    def predict(self, eval_data: Any) -> jax.Array:
        """Runs the network over all the data and returns the outputs, concatenated.

        Padding added by ``NDArrayIter(last_batch_handle='pad')`` is dropped, so there is one
        output per example. With a ``DataLoader`` or ``NDArrayIter`` the pass is one compiled
        scan; an array is passed through the network as one batch.

        Args:
            eval_data: an ``NDArrayIter``, a ``DataLoader``, an iterable of batches, or an array.

        Returns:
            The outputs, shape ``(num_examples, ...)``.

        Examples:
            >>> import numpy as np
            >>> from dstraight import Module, data, nn
            >>> net = nn.Dense(1, in_units=1)
            >>> net.initialize("ones")
            >>> it = data.NDArrayIter(np.arange(5, dtype=np.float32).reshape(-1, 1), batch_size=2)
            >>> Module(net).predict(it)[:, 0].tolist()
            [0.0, 1.0, 2.0, 3.0, 4.0]
        """
        snet = _metric._static_net(self.net)
        if isinstance(eval_data, np.ndarray | jax.Array):
            X = jnp.asarray(eval_data)
            return _metric._forward(snet, self._params_for(X), X)
        self._check_names(eval_data, "eval_data", need_label=False)
        if _metric._has_fast_path(eval_data):
            data = _metric._data_label(eval_data, need_label=False)[0]
            params = self._params_for(data[: eval_data.batch_size])
            _metric._rewind(eval_data)
            rows, tail = _metric._epoch_rows(eval_data)
            outputs = []
            if rows.shape[0]:
                out = _metric._forward_rows(snet, params, data, rows)
                outputs.append(out.reshape(-1, *out.shape[2:]))
            if tail.shape[0]:
                outputs.append(_metric._forward_rows(snet, params, data, tail[None])[0])
        else:
            outputs, params = [], None
            for batch in _metric._iterate(eval_data):
                X, _, pad = _metric._unpack_batch(batch)
                X = jnp.asarray(X)
                if params is None:
                    params = self._params_for(X)
                out = _metric._forward(snet, params, X)
                outputs.append(out[: out.shape[0] - pad] if pad else out)
        if not outputs:
            raise ValueError("eval_data yielded no batch; there is nothing to predict.")
        return outputs[0] if len(outputs) == 1 else jnp.concatenate(outputs)

    def score(self, eval_data: Any, eval_metric: Any) -> list[tuple[str, float]]:
        """Evaluates a metric over all of ``eval_data`` (padding dropped), compiled and batched.

        Args:
            eval_data: an ``NDArrayIter``, a ``DataLoader`` or an iterable of ``(X, y)``.
            eval_metric: a name, a metric or a function (see ``metric.create``); a metric
                object is reset first and holds the result afterwards.

        Returns:
            A list of ``(name, value)`` pairs.

        Examples:
            >>> import numpy as np
            >>> from dstraight import Module, data, nn
            >>> net = nn.Dense(1, in_units=1)
            >>> net.initialize("ones")
            >>> X = np.arange(5, dtype=np.float32).reshape(-1, 1)
            >>> it = data.NDArrayIter(X, X[:, 0] + 1, batch_size=2)
            >>> Module(net).score(it, "mse")
            [('mse', 1.0)]
        """
        self._check_names(eval_data, "eval_data", need_label=True)
        metric = _metric.create(eval_metric)
        metric.reset()
        _metric._run_eval(self.net, None, eval_data, metric)
        return metric.get_name_value()
