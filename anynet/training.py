"""The training loop (``fit``), prediction and evaluation, over any network.

``fit`` checks its options and data once, builds a batch iterator (:mod:`anynet.batches`) and runs
``train_epoch`` per epoch; the history, the progress display and the non-finite check are
callbacks (:mod:`anynet.callbacks`). Inside a step nothing is read back to the host: the step's
loss stays on the device and the epoch's losses are read once, at its end.

What training keeps between calls — loss, optimizer (which owns its state, keyed by parameter
path), metrics, epoch and step counters, the wrap-around stream — is a :class:`TrainState`, not
part of the network.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from . import callbacks as cb
from . import metrics as metrics_mod
from .backends import is_array, to_numpy
from .batches import (
    UNSET,
    epoch_steps,
    evaluation_batches,
    forward_rows,
    is_stream,
    n_rows,
    prepare_x,
    reads_by_rows,
    rows,
    serve,
    stream_steps,
    training_batches,
    x_batches,
)
from .distributed import DataParallel
from .errors import ConfigError, InputError
from .losses import Loss
from .losses import get as get_loss
from .optim import Optimizer
from .optim import get as get_optimizer
from .random import as_generator
from .step import Runner

Array = Any


@dataclass
class TrainState:
    """What training carries between ``fit`` calls and into checkpoints."""

    loss: Loss | None = None
    optimizer: Optimizer | None = None
    metrics: list[str] = field(default_factory=list)
    epoch: int = 0
    step: int = 0
    #: the wrap-around stream's permutation and position (``batching="wrap"``)
    stream: dict[str, Any] | None = None
    #: the per-step losses of the last epoch, on the host
    step_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __getitem__(self, key: str) -> Any:
        """Read access by name: ``state["epoch"]``, ``state["step"]``, ``state["stream"]``."""
        if key not in ("epoch", "step", "stream", "loss", "optimizer", "metrics"):
            raise KeyError(key)
        return getattr(self, key)


def _count(where: str, name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{where}: {name} must be an int ≥ {low}, got {value!r}")
    return int(value)


def metric_names(metrics: Any, *, matrices: bool = False) -> list[str]:
    """The keys of ``metrics``: one name, Metric or function ``f(y_true, y_pred)``, or a sequence of
    them (:func:`anynet.metrics.keys`); ``matrices``: whether ``confusion_matrix`` is allowed (evaluate)."""
    return metrics_mod.keys(metrics, matrices=matrices)


def is_dask(X: Any) -> bool:
    """Whether X (or the first array of a dict X) is a Dask collection, recognised without importing Dask."""
    first = next(iter(X.values()), None) if isinstance(X, Mapping) else X
    return type(first).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(first, "__dask_graph__")


def compile_state(model: Any, where: str, loss: Any, optimizer: Any, metrics: Any) -> TrainState:
    """Resolve loss, optimizer and metrics against the model's training state and store them."""
    state = model.train_state
    loss = get_loss(loss) if loss is not None else state.loss
    if loss is None:
        raise InputError(f"{where}: give a loss, e.g. loss='softmax_cross_entropy' or 'mse'")
    opt = get_optimizer(optimizer) if optimizer is not None else state.optimizer
    if opt is None:
        raise InputError(f"{where}: give an optimizer, e.g. optimizer=anynet.optim.SGD(lr=0.1)")
    state.loss, state.optimizer, state.metrics = loss, opt, metric_names(metrics)
    return state


#: the models being fitted now, each with the thread fitting it; read and written under _FITTING_LOCK. Kept
#: outside the model (weakly: a model dropped is forgotten), so pickle and deepcopy never see a lock
_FITTING: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_FITTING_LOCK = threading.Lock()
_F = TypeVar("_F", bound=Callable[..., Any])


def _one_fit_at_a_time(train: _F) -> _F:
    """Refuse a second ``fit`` of one model while the first runs (in another thread, or from a callback):
    two loops stepping the same parameters and counters would interleave their updates and epochs. A
    non-blocking claim: the second call fails at once instead of waiting."""

    @functools.wraps(train)
    def sole(model: Any, *args: Any, **kwargs: Any) -> Any:
        where, me = f"{type(model).__name__}.fit", threading.get_ident()
        with _FITTING_LOCK:
            owner = _FITTING.get(model)
            if owner is None:
                _FITTING[model] = me
        if owner == me:
            raise InputError(f"{where}: fit was called again while this model is being fitted, from inside the "
                             "running fit (a callback?); stop the running fit first (model.stop_training = True), "
                             "or fit a copy (copy.deepcopy(model))")
        if owner is not None:
            raise InputError(f"{where}: this model is already being fitted in another thread; two fits of one model "
                             "would interleave their steps and epoch counts. Wait for that fit to return (e.g. "
                             "join its thread), or give each thread its own model (copy.deepcopy(model) before "
                             "the fits start: a copy taken meanwhile may catch a step half done)")
        try:
            return train(model, *args, **kwargs)
        finally:
            with _FITTING_LOCK:
                _FITTING.pop(model, None)

    return sole  # type: ignore[return-value]


@_one_fit_at_a_time
def fit(model: Any, X: Any, y: Any = None, *, loss: Any = None, optimizer: Any = None, epochs: int = 1,
        batch_size: int = UNSET, shuffle: Any = UNSET, seed: Any = None, validation_data: Any = None,
        validation_split: float | None = None, metrics: Any = (), callbacks: Sequence[cb.Callback] = (),
        verbose: int = 1, batching: str = "epoch", steps_per_epoch: int | None = None,
        on_nonfinite: str = "raise", comm: Any = None, compile: Any = "auto") -> cb.History:
    """Train ``model`` on ``(X, y)`` for ``epochs`` more epochs; returns a :class:`~anynet.callbacks.History`.

    Arguments:
        X: (n, in_features) floats, or ``{input name: (n, width)}`` for several inputs; y: (n, out)
            targets, (n,) for one output, or (n,) integer labels with ``softmax_cross_entropy``.
            Or X an iterable of ``(X, y)`` batches, y None: a re-iterable (list, DataLoader) is an epoch
            per pass, a generator ``steps_per_epoch`` batches; batch_size, shuffle, validation_split don't apply.
        loss, optimizer: a name or object (default: the last fit's; optimizer state carries over).
        epochs: how many epochs to run now (counting continues across calls and checkpoints).
        batch_size: samples per step (default 32); steps_per_epoch: cap (``"epoch"``, a re-iterable
            stream) or count (``"wrap"``, a generator).
        shuffle: reshuffle every epoch with the model's host generator (default True), or give each
            epoch's order yourself: a function ``n -> permutation of range(n)``, called once per epoch
            (scikit-learn's order, a curriculum); seed: re-seed the generator.
        validation_data / validation_split: data scored after every epoch: ``(X_val, y_val)`` or a
            re-iterable of batches; a split takes the last fraction of X before shuffling, as Keras.
        metrics: names from :func:`anynet.metrics.names` (``accuracy``, ``f1_macro``, ``roc_auc``, ...),
            :class:`~anynet.metrics.Metric` objects, or functions ``f(y_true, y_pred)`` (logged under their name).
        callbacks: :class:`~anynet.callbacks.Callback` objects, run after the built-in ones.
        verbose: 0 silent, 1 progress bar (one line per epoch off a terminal), 2 one line per epoch.
        batching: ``"epoch"`` (each sample once per epoch) or ``"wrap"`` (document 004's data layer).
        on_nonfinite: ``"raise"`` (NonFiniteLossError naming the step) or ``"stop"`` (restore the last
            finite epoch's parameters and stop).
        comm: an MPI communicator (:func:`anynet.distributed.init`) to train data-parallel: each process
            trains on its slice of every global batch of ``batch_size`` rows, with the result of one process
            (see :mod:`anynet.distributed`); only rank 0 shows progress and runs ``root_only`` callbacks.
            Every process passes all of X and y.
        compile: ``"auto"`` (default: on JAX, the training step compiled with ``jax.jit``, several steps per
            dispatch unless a callback has per-batch hooks; eager elsewhere, and for custom layers, losses or
            optimizers), True (compile; :class:`~anynet.ConfigError` on a backend without a compiler; a step
            that cannot be traced falls back to eager with a warning), False (eager). The results are the
            same either way (float64: to rounding); the compile time is printed once at ``verbose ≥ 1``.

    An epoch whose stream gives no batch raises :class:`~anynet.InputError` (there is no loss to report),
    and so does a second ``fit`` of the same model while one runs (another thread, or a callback).
    """
    where = f"{type(model).__name__}.fit"
    _refuse_dask(X, where)
    epochs = _count(where, "epochs", epochs, low=0)
    batch_size = batch_size if batch_size is UNSET else _count(where, "batch_size", batch_size)
    steps = None if steps_per_epoch is None else _count(where, "steps_per_epoch", steps_per_epoch)
    dp = DataParallel.begin(comm, model, where)  # every process must leave fit together (dp.close)
    if dp is not None and dp.rank != 0:  # one process reports and writes files
        verbose, callbacks = 0, [c for c in callbacks if not getattr(c, "root_only", False)]
    last_batch = LastBatch(dp)  # NonFiniteCheck runs the model on it once per epoch
    hooks = cb.CallbackList([cb.NonFiniteCheck(on_nonfinite, probe=last_batch), history := cb.History(),
                             cb.ProgressBar(verbose), *callbacks])
    state = compile_state(model, where, loss, optimizer, metrics)
    assert state.loss is not None and state.optimizer is not None  # compile_state refused a fit without them
    _check_metrics(model, state, dp, where)
    runner = Runner(model, state.loss, state.optimizer, compile, where=where, verbose=verbose, data_parallel=dp)
    if seed is not None:
        model.rng = as_generator(seed)
    batches, val = training_batches(model, X, y, batch_size=batch_size, shuffle=shuffle, batching=batching,
                                    steps=steps, validation_data=validation_data,
                                    validation_split=validation_split, where=where,
                                    shard=None if dp is None else (dp.rank, dp.size))
    if dp is not None:
        dp.check_agreement(model, batches, epochs, X, where, val=val)
        dp.broadcast_model(model)
    model.stop_training, last = False, state.epoch + epochs
    hooks.on_train_begin(model)
    try:
        for epoch in range(state.epoch, last):
            hooks.on_epoch_begin(model, epoch, {"steps": epoch_steps(batches), "last_epoch": last})
            opt = state.optimizer
            assert opt is not None  # compile_state refused a fit without one
            lr = opt.current_lr()  # the rate the epoch starts with (callbacks may have set it)
            logs = train_epoch(model, batches, hooks, dp, where=where, last=last_batch, runner=runner)
            if val is not None:
                shared = dp if getattr(val, "sharded", False) else None
                scored = score(model, val, dp=shared, where=f"{where} (validation_data, epoch {epoch + 1})")
                logs.update({f"val_{k}": v for k, v in scored.items()})
            logs["lr"] = lr
            state.epoch = epoch + 1
            try:
                hooks.on_epoch_end(model, epoch, logs)
            except cb.StopTraining:
                if dp is None:
                    raise
                model.stop_training = True  # raised on some processes only, it stops them all (below)
            if dp is not None:  # every process stops after the epoch where one asks (one small all-reduce)
                model.stop_training = dp.agree_stop(model.stop_training)
            if model.stop_training:
                break
    except cb.StopTraining:
        if dp is not None:  # in the middle of an epoch: every process raised it, or the job is aborted
            dp.stopped(where)
    finally:
        last_batch.batch = None  # (the batch is not kept on the device after fit)
    if dp is not None:  # every process has left the collective steps together
        dp.close()
    hooks.on_train_end(model)
    return history


def _check_metrics(model: Any, state: TrainState, dp: DataParallel | None, where: str) -> None:
    """Refuse, before the first step, a metric that does not fit the model's outputs, or one that needs
    every output at once (ROC-AUC, a function) under data-parallel, where only sums travel."""
    for m in (metrics_mod.get(k, loss=state.loss) for k in state.metrics):
        m.check_outputs(model.out_features)
        if dp is not None and dp.size > 1 and not m.summable:
            raise ConfigError(f"{where}: metric {m.name!r} is computed from every output at once, so it cannot be "
                              f"summed over {dp.size} processes; leave it out of metrics= (compute it after fit on "
                              "one process)")


def _refuse_dask(X: Any, where: str) -> None:
    if is_dask(X):
        first = next(iter(X.values()), None) if isinstance(X, Mapping) else X
        raise InputError(
            f"{where}: X is a Dask {type(first).__name__}; fit does not train from Dask collections (predict and "
            "evaluate take them, lazily): call X.compute() and y.compute() if they fit in memory, or stream the "
            "chunks as batches, one chunk per step: n = X.numblocks[0]; y = y.rechunk({0: X.chunks[0]}); "
            "model.fit(((X.blocks[i].compute(), y.blocks[i].compute()) for _ in range(epochs) for i in range(n)), "
            "steps_per_epoch=n, epochs=epochs, ...)")


def train_epoch(model: Any, batches: Iterable[tuple[Array, Array]], hooks: cb.CallbackList,
                dp: DataParallel | None = None, *, where: str = "fit",
                last: LastBatch | None = None, runner: Runner | None = None) -> dict[str, float]:
    """One pass over ``batches``: forward, backward and an optimizer step per batch. The losses stay
    on the device and are read once at the end; returns the epoch's mean loss and metrics. With
    ``dp`` the batches are this process's slices (``batches.current`` says where each sits) and the
    gradients, losses and metrics are summed over the processes. ``last`` is given the epoch's last
    batch. A pass that gives no batch raises :class:`~anynet.InputError` (there is no loss to report).
    The steps are ``runner``'s (``anynet.step.Runner``: eager or compiled; default eager), the one
    training step of :mod:`anynet.step` with or without ``dp``."""
    state = model.train_state
    loss, opt, xp = state.loss, state.optimizer, model.backend.xp
    mets = [metrics_mod.get(m, loss=loss) for m in state.metrics]
    runner = runner if runner is not None else Runner(model, loss, opt, False, where=where, data_parallel=dp)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NonFiniteCheck reports instead
        values, sizes, final = runner.epoch(batches, hooks, mets, state)
    if not values:
        _no_batches(batches, state.epoch, where)
    if last is not None:
        last.batch = final  # the loop's last: nothing is kept per step
    state.step_losses = to_numpy(xp.concat([xp.reshape(v, (-1,)) for v in values])).astype(np.float64)
    if dp is not None:  # (the step losses are the global batches': summed with the gradients)
        dp.reduce_metrics(mets)
    with np.errstate(invalid="ignore", over="ignore"):
        logs = {"loss": float(np.dot(state.step_losses, sizes) / max(sum(sizes), 1))}
    logs.update({m.name: m.result() for m in mets})
    return logs


def _no_batches(batches: Any, epoch: int, where: str) -> None:
    source = getattr(batches, "source", batches)
    raise InputError(
        f"{where}: epoch {epoch + 1} had no batches: the {type(source).__name__} of (X, y) batches gave none on this "
        "pass, so there is no loss to report (and nothing was trained). A torch DataLoader with drop_last=True "
        "gives none when the data set has fewer samples than batch_size (lower batch_size or set drop_last=False); "
        "an iterable must give batches on every pass (a generator runs dry after one: give steps_per_epoch, or a "
        "list)")


class LastBatch:
    """The last training batch of an epoch, and ``__call__``: whether the model's outputs and loss on
    it are finite now, after the epoch's last step (whose own loss was computed before its update).

    Called by :class:`~anynet.callbacks.NonFiniteCheck` once per epoch: one forward (inference mode: no
    Dropout draw, no BatchNorm update) and no host read of its own; with ``dp`` the flags of every
    process's slice are summed, so every process decides alike. Finite parameters can still be far
    too large (an update with a huge step): their outputs overflow."""

    def __init__(self, dp: DataParallel | None = None) -> None:
        self.dp = dp
        self.batch: tuple[Array, Array] | None = None

    def __call__(self, model: Any) -> Array | None:
        """A 0-d device boolean (None before the first batch); the batch is dropped."""
        if self.batch is None:
            return None
        (xb, yb), self.batch = self.batch, None
        xp = model.backend.xp
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = model.forward(xb)[0]
            ok = xp.all(xp.isfinite(out))
            if n_rows(xb):  # (a process with no rows of a short last batch has no loss)
                ok = xp.logical_and(ok, xp.all(xp.isfinite(model.train_state.loss.compute(out, yb)[0])))
        if self.dp is None:
            return ok
        bad = self.dp.allreduce(xp.astype(xp.logical_not(ok), out.dtype))  # the processes whose outputs are not
        return bad == 0


# -- predict and evaluate ----------------------------------------------------------------------
def _forward_batches(model: Any, Xd: Array, batch_size: int | None) -> tuple[Array, bool]:
    """``(outputs for all rows of Xd, whether they are a fresh NumPy array no layer holds)``. Data
    read by rows (a memmap, a large array, :class:`~anynet.batches.HostRows`) goes through the model
    a chunk at a time even without ``batch_size``: only the outputs are kept for every row."""
    n, by_rows = n_rows(Xd), reads_by_rows(Xd)
    step = batch_size or (forward_rows(Xd) if by_rows else n)
    if step >= n and not by_rows:
        return model.forward(Xd)[0], False
    outs, full = [], None
    for s in range(0, n, step):
        part = slice(s, min(s + step, n))
        out = model.forward(serve(Xd, part) if by_rows else rows(Xd, part))[0]
        if isinstance(out, np.ndarray):  # written into one output array: no list and concatenated copy
            full = np.empty((n, *out.shape[1:]), dtype=out.dtype) if full is None else full
            full[s:s + out.shape[0], ...] = out
        else:
            outs.append(out)
    if full is not None:
        return full, True
    return (outs[0] if len(outs) == 1 else model.backend.xp.concat(outs, axis=0)), False


def _returned(X: Any, out: Array, fresh: bool = False) -> Array:
    first = next(iter(X.values())) if isinstance(X, Mapping) and X else X
    if fresh and isinstance(out, np.ndarray):
        return out  # the caller's own array already: no second copy of every row's outputs
    return to_numpy(out) if not is_array(first) or isinstance(first, np.ndarray) else out


def _outputs(model: Any, X: Any, batch_size: int | None, where: str,
             steps: int | None = None) -> tuple[Any, Array, bool]:
    """``(X or a stream's first batch, the model's outputs for all of X on the device, whether they
    are a fresh NumPy array)``; of a stream, at most ``steps`` batches."""
    if batch_size is not None:
        _count(where, "batch_size", batch_size)
    steps = stream_steps(X, steps, where)
    if not is_stream(X):
        return (X, *_forward_batches(model, prepare_x(model, X, where, by_rows=True), batch_size))
    if batch_size is not None:
        raise InputError(f"{where}: batch_size does not apply to a stream of batches; leave it out")
    first, outs = None, []
    source = X if steps is None else itertools.islice(X, steps)  # (islice reads no batch beyond the last)
    for given, xb in x_batches(model, source, where):  # one batch on the device at a time
        first = given if first is None else first
        outs.append(model.forward(xb)[0])
    if not outs:
        raise InputError(f"{where}: the stream of X batches ({type(X).__name__}) gave no batches")
    return first, outs[0] if len(outs) == 1 else model.backend.xp.concat(outs, axis=0), False


def predict(model: Any, X: Any, *, batch_size: int | None = None, steps: int | None = None) -> Array:
    """Outputs of ``model`` for ``X``: NumPy in (or lists) → NumPy out; device arrays stay. X may
    be an iterable of X batches (or of ``(X, …)`` tuples, as a DataLoader gives): the outputs are
    concatenated, of the first batch's kind. A ``numpy.memmap`` (or any large array) goes through
    the model a chunk of rows at a time: memory for the outputs, not for every row's intermediates.

    ``steps``: read at most this many batches of a stream. A one-shot iterator (a generator) needs it,
    as it may never end; a re-iterable (a list, a DataLoader) is read to its end without it."""
    where = f"{type(model).__name__}.predict"
    return _returned(*_outputs(model, X, batch_size, where, steps))


def predict_proba(model: Any, X: Any, *, batch_size: int | None = None, steps: int | None = None) -> Array:
    """Class probabilities for ``X`` (arrays or an iterable of batches, with ``steps`` as :func:`predict`):
    the outputs as the training loss reads them (softmax or sigmoid of logits, probabilities as they are)."""
    where = f"{type(model).__name__}.predict_proba"
    loss = model.train_state.loss
    if loss is None:
        raise InputError(f"{where}: the model has no loss yet, so it cannot tell whether its outputs are logits; "
                         "fit it first, or use predict()")
    first, out, _ = _outputs(model, X, batch_size, where, steps)
    return _returned(first, loss.to_proba(out))


def score(model: Any, batches: Iterable[tuple[Array, Array]], *, loss: Any = None,
          metrics: Sequence[str] | None = None, dp: DataParallel | None = None,
          where: str = "score") -> dict[str, float]:
    """Loss and metrics over prepared ``(X, y)`` batches (default: the training state's); with
    ``dp``, the batches are this process's slices and the sums are taken over every process.
    Batches without a row raise :class:`~anynet.InputError` naming ``where``."""
    state = model.train_state
    loss = state.loss if loss is None else loss
    mets = [metrics_mod.get(m, loss=loss) for m in (state.metrics if metrics is None else metrics)]
    total: Any = None  # the loss summed on the device; None before the first batch
    n = 0
    for xb, yb in batches:
        out = model.forward(xb)[0]
        rows_b = n_rows(xb)
        v = loss.compute(out, yb)[0] * float(rows_b)
        total, n = (v if total is None else total + v), n + rows_b
        for m in mets:
            m.update(out, yb)
    if dp is not None:  # every process saw rows of every batch (ArrayBatches' shard rule)
        total, n = dp.allreduce(total), dp.comm.allreduce(n)
        dp.reduce_metrics(mets)
    if n == 0:
        source = getattr(batches, "source", batches)
        raise InputError(f"{where}: there is nothing to score: the {type(source).__name__} of (X, y) batches gave no "
                         "batches on this pass; give a non-empty list or DataLoader (a DataLoader with "
                         "drop_last=True gives none when it holds fewer samples than its batch_size)")
    logs = {"loss": float(to_numpy(total)) / n}  # the one read of the loss
    logs.update({m.name: m.result() for m in mets})
    return logs


def evaluate(model: Any, X: Any, y: Any = None, *, loss: Any = None, metrics: Any = None,
             batch_size: int | None = None, steps: int | None = None) -> dict[str, float]:
    """``{"loss": …, metric: …}`` on ``(X, y)``, or on X an iterable of ``(X, y)`` batches (y None),
    at most ``steps`` of them (a one-shot iterator, e.g. a generator, needs ``steps``: it may never
    end); the loss and metrics default to the last fit's."""
    where = f"{type(model).__name__}.evaluate"
    loss = get_loss(loss) if loss is not None else model.train_state.loss
    names = metric_names(metrics, matrices=True) if metrics is not None else list(model.train_state.metrics)
    if loss is None:
        raise InputError(f"{where}: give loss= (the model has not been fit), e.g. loss='mse'")
    if batch_size is not None:
        _count(where, "batch_size", batch_size)
    return score(model, evaluation_batches(model, X, y, loss, batch_size, where, steps=steps), loss=loss,
                 metrics=names, where=where)
