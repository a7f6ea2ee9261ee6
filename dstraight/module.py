"""Module: MXNet's high-level ``fit`` / ``predict`` / ``score`` API around a block.

MXNet's ``mx.mod.Module`` binds a symbol to data and label names and trains it with one call. Here
the network is a ``dstraight`` block and the loss an ordinary loss object; everything runs through
the compiled paths of :class:`dstraight.Trainer` and :mod:`dstraight.metric`:

* with a ``DataLoader`` or ``NDArrayIter`` (device-resident data) each epoch of :meth:`Module.fit`
  is one compiled ``jax.lax.scan`` over the batch indices; the training metric is summed on the
  device inside it (classification losses are scored with accuracy by default, as in MXNet);
* a batch-end callback with a ``frequent`` attribute (``callback.Speedometer``) splits the epoch
  into compiled chunks of ``frequent`` batches and is called between them; any other batch-end
  callback makes ``fit`` run the compiled step batch by batch;
* :meth:`Module.predict` and :meth:`Module.score` are compiled scans too; they visit every example
  once, in dataset order, whatever the iterator's shuffling, padding or last-batch mode, so
  ``predict`` returns exactly one output per example, in order.

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
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from dstraight import _engine
from dstraight import init as _init
from dstraight import loss as _loss
from dstraight import metric as _metric
from dstraight._batch_callbacks import as_list, train_epoch
from dstraight._iterator_names import as_names, check_names
from dstraight.progress import Progress
from dstraight.trainer import Trainer

__all__ = ["Module"]

_DEFAULT_OPTIMIZER_PARAMS = (("learning_rate", 0.01),)


def _is_classification(loss_fn: Any) -> bool:
    names = ("SoftmaxCrossEntropyLoss", "SigmoidBinaryCrossEntropyLoss", "HingeLoss",
             "SquaredHingeLoss", "LogisticLoss")
    classes = tuple(getattr(_loss, n) for n in names if hasattr(_loss, n))
    return isinstance(loss_fn, classes)


class Module:
    """Trains, evaluates and applies a block with MXNet's ``Module`` interface.

    Args:
        net: the network (a ``dstraight.nn`` block).
        loss: the training loss, ``(y_hat, y) -> per-example losses``; ``None`` means
            ``loss.L2Loss()``, the loss that MXNet's ``LinearRegressionOutput`` trains with.
        data_names: the data names; they must match the iterator's (``NDArrayIter(data_name=)``).
        label_names: the label names; they must match the iterator's
            (``NDArrayIter(label_name=)``). ``None`` for a module that only predicts.
        device: where :meth:`fit` initializes the parameters (``None``: JAX's default device; a
            mesh, ``dstraight.data_parallel()``, replicates them on its devices).

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
        self.data_names = as_names(data_names, "data_names", allow_none=False)
        self.label_names = as_names(label_names, "label_names", allow_none=True)
        self.device = device
        self.params_initialized = False
        self._trainer: Trainer | None = None
        self._trainer_args: tuple | None = None

    def __repr__(self) -> str:
        return (
            f"Module(net={self.net!r}, loss={type(self.loss).__name__}, "
            f"data_names={self.data_names}, label_names={self.label_names})"
        )

    # -- parameters -----------------------------------------------------------------------------

    def init_params(self, initializer: Any = None, key: Any = 0, force_init: bool = False,
                    arg_params: Any = None, aux_params: Any = None,
                    allow_missing: bool = False) -> None:
        """Initializes the network's parameters unless that was done already.

        As in MXNet, once the parameters are initialized a later call (and a later ``fit``)
        leaves them alone, whatever ``initializer`` it gives, unless ``force_init`` is true;
        forcing also starts the optimizer afresh. A network initialized by hand keeps its
        parameters. Otherwise they are drawn from ``initializer``, by default
        ``init.Uniform(0.01)`` (MXNet's default for ``Module``); biases keep their own
        initializer (zeros).

        Args:
            initializer: an initializer or its name.
            key: ``jax.random`` key or integer seed.
            force_init: draw new values even if the parameters exist.
            arg_params, aux_params: values by full name to set after initializing (MXNet).
            allow_missing: with ``arg_params``, draw the parameters it lacks.

        Examples:
            >>> from dstraight import Module, nn
            >>> model = Module(nn.Dense(1, in_units=2))
            >>> model.init_params()
            >>> float(abs(model.net.params["weight"]).max()) <= 0.01
            True
        """
        if self.params_initialized and not force_init:
            if initializer is not None:
                warnings.warn(
                    "Parameters already initialized and force_init=False: the initializer is "
                    "ignored (as in MXNet). Pass force_init=True to draw new values.",
                    stacklevel=2,
                )
            return
        params = self.net.collect_params()
        by_hand = all(p.is_initialized for p in params.values())
        if force_init or initializer is not None or not by_hand:
            chosen = initializer if initializer is not None else _init.Uniform(0.01)
            self.net.initialize(chosen, key=key, force_reinit=True, device=self.device)
            self._trainer = None  # new values: a new optimizer state
        if arg_params is not None or aux_params is not None:
            self.set_params(arg_params or {}, aux_params or {}, allow_missing=allow_missing)
        self.params_initialized = True

    def get_params(self) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
        """Returns ``(arg_params, aux_params)``: name -> value dicts, as MXNet does.

        ``aux_params`` holds the state (BatchNorm's running statistics).
        """
        params = self.net.collect_params()
        arg = {n: p.data() for n, p in params.items() if p.kind == "param"}
        aux = {n: p.data() for n, p in params.items() if p.kind == "state"}
        return arg, aux

    def set_params(self, arg_params: Any, aux_params: Any, allow_missing: bool = False,
                   force_init: bool = True, allow_extra: bool = False) -> None:
        """Sets parameter values by full name (MXNet's ``set_params``)."""
        from dstraight.checkpoint import match_arrays

        values = {**dict(arg_params), **dict(aux_params)}
        match_arrays(self.net.collect_params(), {k: np.asarray(v) for k, v in values.items()},
                     "set_params", allow_missing, allow_extra)
        self.params_initialized = True

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

    @property
    def trainer(self) -> Trainer | None:
        """The trainer of the last ``fit`` (its optimizer state, learning rate)."""
        return self._trainer

    def fit(
        self,
        train_data: Any,
        eval_data: Any = None,
        optimizer: Any = "sgd",
        optimizer_params: Any = _DEFAULT_OPTIMIZER_PARAMS,
        num_epoch: int = 1,
        eval_metric: Any = None,
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
        every ``frequent``-th batch, with the batches in between compiled together. Other
        batch-end callbacks are called after every batch, with the compiled step run batch by
        batch.

        Args:
            train_data: an ``NDArrayIter``, a ``DataLoader`` or an iterable of ``(X, y)``.
            eval_data: optional validation data, scored after every epoch.
            optimizer: an optimizer name or an optax transformation (see :class:`Trainer`).
            optimizer_params: the optimizer's hyperparameters (dict or ``(name, value)`` pairs).
            num_epoch: train until this epoch (exclusive).
            eval_metric: the training metric: a name, a metric or a function (see
                ``metric.create``); default ``'acc'`` for classification losses (as MXNet) and
                ``'mse'`` otherwise. It is updated in place.
            initializer: initializer for a network that is not initialized yet (default
                ``init.Uniform(0.01)``); see :meth:`init_params`.
            key: ``jax.random`` key or integer seed for the initializer.
            batch_end_callback: a function of a ``callback.BatchEndParam``, or a list of them.
            epoch_end_callback: a function ``f(epoch, net, arg_params, aux_params)`` (MXNet's
                signature, the block in the place of the symbol), or a list of them.
            validation_metric: the metric for ``eval_data`` (default: like ``eval_metric``).
            begin_epoch: the first epoch's number (to continue an earlier run).
            force_init: re-initialize the parameters (and the optimizer) even if they exist.
            progress_bar: ``True`` always shows the bar, ``False`` never, ``None`` on long runs.

        Raises:
            ValueError: if the iterator's data or label names differ from the module's.
            FloatingPointError: if the training loss became NaN or infinite; lower the
                learning rate.

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
        check_names(train_data, "train_data", True, self.data_names, self.label_names)
        if eval_data is not None:
            check_names(eval_data, "eval_data", True, self.data_names, self.label_names)
        if eval_metric is None:
            eval_metric = "acc" if _is_classification(self.loss) else "mse"
        train_metric = _metric.create(eval_metric)
        if validation_metric is not None:
            val_metric = _metric.create(validation_metric)
        else:
            val_metric = copy.deepcopy(train_metric)  # same kind, separate accumulators
        self.init_params(initializer, key=key, force_init=force_init)
        trainer = self._get_trainer(optimizer, optimizer_params)
        batch_callbacks = as_list(batch_end_callback)
        epoch_callbacks = as_list(epoch_end_callback)
        leaves = tuple(_metric.leaves(train_metric))
        bar = Progress(progress_bar)
        try:
            for epoch in range(begin_epoch, num_epoch):
                train_metric.reset()
                nbatches = train_epoch(trainer, self.net, self.loss, train_data, leaves,
                                       train_metric, batch_callbacks, epoch, bar)
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

    # -- inference ------------------------------------------------------------------------------

    def predict(self, eval_data: Any) -> jax.Array:
        """Runs the network over all the data and returns the outputs, concatenated.

        There is exactly one output per example, in dataset order: the iterator's shuffling,
        padding (``last_batch_handle='pad'``) and last-batch mode (``'discard'``,
        ``'roll_over'``) are for training and do not apply here. An array is passed through the
        network as one batch.

        Args:
            eval_data: an ``NDArrayIter``, a ``DataLoader``, an iterable of batches, or an array.

        Returns:
            The outputs, shape ``(num_examples, ...)``.

        Examples:
            >>> import numpy as np
            >>> from dstraight import Module, data, nn
            >>> net = nn.Dense(1, in_units=1)
            >>> net.initialize("ones")
            >>> X = np.arange(5, dtype=np.float32).reshape(-1, 1)
            >>> it = data.NDArrayIter(X, batch_size=2, shuffle=True)
            >>> Module(net).predict(it)[:, 0].tolist()
            [0.0, 1.0, 2.0, 3.0, 4.0]
        """
        if not isinstance(eval_data, np.ndarray | jax.Array):
            check_names(eval_data, "eval_data", False, self.data_names, self.label_names)
        return _engine.predict(self.net, eval_data)

    def score(self, eval_data: Any, eval_metric: Any) -> list[tuple[str, float]]:
        """Evaluates a metric over every example of ``eval_data``, compiled and batched.

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
        check_names(eval_data, "eval_data", True, self.data_names, self.label_names)
        metric = _metric.create(eval_metric)
        metric.reset()
        _engine.evaluate(self.net, eval_data, _metric.leaves(metric))
        return metric.get_name_value()

    # -- checkpoints ----------------------------------------------------------------------------

    def save_checkpoint(self, prefix: str, epoch: int, save_optimizer_states: bool = False) -> None:
        """Saves ``{prefix}-{epoch:04d}.params`` (and ``.states``), as MXNet names them.

        The files are ``.npz`` archives of plain arrays, written atomically. MXNet also writes
        the network's symbol; here the network is Python code, passed again to :meth:`load`.
        """
        self.net.save_parameters(f"{prefix}-{epoch:04d}.params")
        if save_optimizer_states:
            if self._trainer is None:
                raise ValueError("save_optimizer_states=True, but this Module has not trained "
                                 "yet, so it has no optimizer state.")
            self._trainer.save_states(f"{prefix}-{epoch:04d}.states")

    @classmethod
    def load(cls, prefix: str, epoch: int, net: Any = None, load_optimizer_states: bool = False,
             optimizer: Any = "sgd", optimizer_params: Any = _DEFAULT_OPTIMIZER_PARAMS,
             **kwargs: Any) -> Module:
        """A Module whose network holds the parameters saved by :meth:`save_checkpoint`.

        Args:
            prefix, epoch: as given to ``save_checkpoint``.
            net: the network, built as the saved one was (same layers, same names).
            load_optimizer_states: also restore the optimizer state of ``optimizer``.
            **kwargs: passed to ``Module(net, ...)`` (``loss``, ``label_names``, ...).
        """
        if net is None:
            raise TypeError(
                "Module.load needs the network: MXNet rebuilds it from the saved symbol, but a "
                "dstraight network is Python code. Build it as before and pass net=..."
            )
        module = cls(net, **kwargs)
        net.load_parameters(f"{prefix}-{epoch:04d}.params")
        module.params_initialized = True
        if load_optimizer_states:
            trainer = module._get_trainer(optimizer, optimizer_params)
            trainer.load_states(f"{prefix}-{epoch:04d}.states")
        return module
