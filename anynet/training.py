"""The training loop (``fit``), prediction and evaluation.

Data given as NumPy is checked once (shape, dtype, NaN, labels) and moved to the model's device
once. Every epoch draws its shuffle on the host (so every backend sees the same batches), sends
the indices to the device in one copy, and takes batches with ``take`` on the device. Inside a
step nothing is read back to the host: losses stay on the device and are read once per epoch
(and at most twice a second for the progress bar).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optim as optim_mod
from .activations import sigmoid, softmax
from .backends import backend_of, is_array, to_numpy
from .callbacks import Callback
from .dtypes import dtype_name
from .errors import InputError, InputTypeError, NonFiniteLossError
from .random import as_generator
from .validation import (as_host_array, check_class_labels, check_features, check_finite, dtype_kind,
                         raise_mismatch)

Array = Any


@dataclass
class History:
    """Per-epoch losses and metrics: ``history.history["loss"]``, ``["val_accuracy"]`` …;
    ``history.step_losses`` holds the loss of every step (read once per epoch)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def log(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)


def _positive_int(where: str, name: str, value: Any, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        raise InputError(f"{where}: {name} must be an int ≥ {0 if allow_zero else 1}, got {value!r}")
    return int(value)


# -- data ------------------------------------------------------------------------------------
def prepare_x(model: Any, X: Any, where: str) -> Array:
    """Check X once and put it on the model's device in the model's dtype (on NumPy, a float
    array of the model's dtype is used as it is: read, never copied or written). A graph with
    several inputs takes ``{input name: array}`` and gets a dict back."""
    return model.each_input(X, where, lambda v, what, width: _prepare_one(model, v, where, what, width))


def _prepare_one(model: Any, X: Any, where: str, what: str, width: int) -> Array:
    X = as_host_array(X, where, what)
    if isinstance(X, np.ndarray):
        check_features(X, where=where, width=width, what=what)
        return model.backend.asarray(X, dtype=model.dtype, copy=False)
    X = check_features(X, where=where, width=width, what=what, backend=model.backend)
    if dtype_name(X.dtype) != model.dtype:
        raise InputTypeError(f"{where}: {what} has dtype {dtype_name(X.dtype)} but the model is {model.dtype}; "
                             f"convert it with {what}.astype('{model.dtype}')")
    return X


def _n_rows(x: Array | dict[str, Array]) -> int:
    return int(next(iter(x.values())).shape[0]) if isinstance(x, dict) else int(x.shape[0])


def prepare_y(model: Any, y: Any, loss: Any, n: int, where: str) -> Array:
    """Check targets once (length, NaN, label range) and put them on the model's device."""
    y = as_host_array(y, where, "y")
    if is_array(y) and not isinstance(y, np.ndarray) and backend_of(y) != model.backend:
        raise_mismatch(where, "y", backend_of(y), model.backend)
    if len(y.shape) == 0 or y.shape[0] != n:
        raise InputError(f"{where}: y has {y.shape[0] if len(y.shape) else 0} rows but X has {n} samples; "
                         "they must match")
    out = model.out_features
    if isinstance(loss, losses_mod.SoftmaxCrossEntropy) and len(y.shape) == 1:
        y = check_class_labels(y, out, where=where, n_samples=n)
        labels = model.backend.asarray(y) if isinstance(y, np.ndarray) else y
        # one-hot once for the whole data set, rather than once per step
        return losses_mod.one_hot(labels, out, model.backend.dtype(model.dtype))
    kind = dtype_kind(y)
    if kind not in ("float", "int", "bool"):
        raise InputTypeError(f"{where}: y must be numeric, got dtype {y.dtype}")
    if kind == "float":
        check_finite(y, where=where, what="y")
    xp = backend_of(y).xp
    if len(y.shape) == 1:
        if out != 1:
            raise InputError(f"{where}: y has shape {tuple(y.shape)} but the model has {out} outputs; "
                             f"give y of shape (n, {out})" + (" or integer class labels with a "
                                                              "softmax_cross_entropy loss" if out > 1 else ""))
        y = xp.reshape(y, (-1, 1))
    if tuple(y.shape[1:]) != (out,):
        raise InputError(f"{where}: y has shape {tuple(y.shape)} but the model gives (n, {out})")
    if isinstance(y, np.ndarray):
        return model.backend.asarray(y, dtype=model.dtype)
    return y if dtype_name(y.dtype) == model.dtype else xp.astype(y, model.backend.dtype(model.dtype))


def _rows(x: Array, idx: Any, xp: Any = None) -> Array:
    """The rows ``idx`` (a slice or an index array) of an array, or of each array of a dict."""
    if isinstance(x, dict):
        return {k: _rows(v, idx, xp) for k, v in x.items()}
    if isinstance(idx, slice):
        return x[idx, ...]
    return (xp or backend_of(x).xp).take(x, idx, axis=0)


# -- fit -------------------------------------------------------------------------------------
def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    loss: Any = None,
    optimizer: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float | None = None,
    metrics: Sequence[Any] = (),
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    batching: str = "epoch",
    steps_per_epoch: int | None = None,
    on_nonfinite: str = "raise",
) -> History:
    """Train ``model`` on ``(X, y)`` for ``epochs`` more epochs; returns a :class:`History`.

    Arguments:
        X: (n, in_features) floats, or for a graph with several inputs ``{input name: (n, width)}``;
            y: (n, out) targets, (n,) for one output, or (n,) integer labels with
            ``softmax_cross_entropy``.
        loss: a loss name or :class:`~anynet.losses.Loss` (default: the model's last one).
        optimizer: an optimizer or name (default: the model's last one; state carries over).
        epochs: how many epochs to run now (counting continues across calls and checkpoints).
        batch_size: samples per step; the last, smaller batch of an epoch is used too.
        shuffle: reshuffle every epoch with the model's host generator.
        seed: re-seed that generator (default: continue its stream; set by the model's seed).
        validation_data / validation_split: data scored after every epoch (a split takes the
            last fraction of X before shuffling, as Keras).
        metrics: names from :mod:`anynet.metrics` (``accuracy``, ``mae``, ``mse``, ``r2``).
        callbacks: e.g. :class:`~anynet.callbacks.EarlyStopping`, :class:`~anynet.callbacks.ModelCheckpoint`.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        batching: ``"epoch"`` (each sample once per epoch) or ``"wrap"`` (document 004's data
            layer: full batches from an endless shuffled stream that wraps around the end;
            ``steps_per_epoch`` batches make an epoch).
        on_nonfinite: ``"raise"`` (NonFiniteLossError naming the step) or ``"stop"`` (stop
            cleanly, restoring the parameters of the last finite epoch).
    """
    where = f"{type(model).__name__}.fit"
    epochs = _positive_int(where, "epochs", epochs, allow_zero=True)
    batch_size = _positive_int(where, "batch_size", batch_size)
    if batching not in ("epoch", "wrap"):
        raise InputError(f"{where}: batching must be 'epoch' or 'wrap', got {batching!r}")
    if on_nonfinite not in ("raise", "stop"):
        raise InputError(f"{where}: on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")
    if steps_per_epoch is not None:
        steps_per_epoch = _positive_int(where, "steps_per_epoch", steps_per_epoch)
    if loss is None:
        loss = model.loss
        if loss is None:
            raise InputError(f"{where}: give a loss, e.g. loss='softmax_cross_entropy' or 'mse'")
    loss = losses_mod.get(loss)
    if optimizer is None:
        optimizer = model.optimizer
        if optimizer is None:
            raise InputError(f"{where}: give an optimizer, e.g. optimizer=anynet.optim.SGD(lr=0.1)")
    optimizer = optim_mod.get(optimizer)
    metric_names = [m if isinstance(m, str) else m.name for m in metrics]
    from_logits = isinstance(loss, losses_mod.BCEWithLogits)
    train_metrics = [metrics_mod.get(m, from_logits=from_logits) if m in ("accuracy", "acc")
                     else metrics_mod.get(m) for m in metric_names]

    Xd = prepare_x(model, X, where)
    n = _n_rows(Xd)
    yd = prepare_y(model, y, loss, n, where)
    val = None
    if validation_data is not None and validation_split is not None:
        raise InputError(f"{where}: give validation_data or validation_split, not both")
    if validation_split is not None:
        if not 0.0 < validation_split < 1.0:
            raise InputError(f"{where}: validation_split must be in (0, 1), got {validation_split!r}")
        n_val = int(round(n * validation_split))
        if n_val < 1 or n - n_val < 1:
            raise InputError(f"{where}: validation_split={validation_split} leaves no training or validation samples")
        val = (_rows(Xd, slice(n - n_val, n)), _rows(yd, slice(n - n_val, n)))
        Xd, yd, n = _rows(Xd, slice(0, n - n_val)), _rows(yd, slice(0, n - n_val)), n - n_val
    elif validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise InputError(f"{where}: validation_data must be a pair (X_val, y_val)")
        vx = prepare_x(model, validation_data[0], f"{where} (validation_data)")
        val = (vx, prepare_y(model, validation_data[1], loss, _n_rows(vx), f"{where} (validation_data)"))

    model.loss, model.optimizer, model.metrics = loss, optimizer, metric_names
    if seed is not None:
        model.rng = as_generator(seed)
    backend = model.backend
    xp = backend.xp
    history = History()
    model.stop_training = False
    for cb in callbacks:
        cb.on_train_begin(model)
    state = model.train_state
    # (path, param dict, grad dict, key) for every parameter: built once, not per step
    slots = [(f"{n}.{k}", layer.params, layer.grads, k) for n, layer in model.nodes.items() for k in layer.params]
    bar = _progress(verbose)
    start_epoch = int(state.get("epoch", 0))
    try:
        for epoch in range(start_epoch, start_epoch + epochs):
            plan = _epoch_plan(model, n, batch_size, shuffle, batching, steps_per_epoch)
            snapshot = None
            if on_nonfinite == "stop":
                snapshot = {k: xp.asarray(v, copy=True) for k, v in model.parameters().items()}
            step_losses: list[Array] = []
            sizes: list[int] = []
            for m in train_metrics:
                m.reset()
            last_shown = time.monotonic()
            if bar is not None:
                bar.reset(total=len(plan))
                bar.set_description(f"epoch {epoch + 1}/{start_epoch + epochs}")
            params = model.params
            for idx in plan:
                xb, yb = _rows(Xd, idx, xp), _rows(yd, idx, xp)
                out, back = model.forward_backward(xb, training=True, need_dx=False)
                value, lback = loss._forward(out, yb)
                back(lback())
                optimizer.apply(slots)
                step_losses.append(value)
                sizes.append(_n_rows(xb))
                for m in train_metrics:
                    m.update(out, yb)
                state["step"] = int(state.get("step", 0)) + 1
                if bar is not None:
                    bar.update(1)
                    now = time.monotonic()
                    if now - last_shown > 0.5:  # a rare read of the loss, for the display only
                        bar.set_postfix(loss=f"{float(value):.4g}")
                        last_shown = now
            values = to_numpy(xp.stack(step_losses)).astype(np.float64)
            history.step_losses.extend(values.tolist())
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                first = int(bad[0])
                global_step = int(state["step"]) - len(values) + first
                if on_nonfinite == "raise":
                    raise NonFiniteLossError(
                        f"{where}: the loss became {values[first]} at step {global_step} (epoch "
                        f"{epoch + 1}, batch {first + 1}); lower the learning rate, clip gradients "
                        f"(clip_norm=) or check the data. The parameters now hold non-finite values; "
                        f"no checkpoint was written after step {global_step}"
                    )
                for path, arr in (snapshot or {}).items():
                    params[path] = arr
                break
            logs = {"loss": float(np.dot(values, sizes) / sum(sizes))}
            for m in train_metrics:
                logs[m.name] = m.result()
            if val is not None:
                logs.update({f"val_{k}": v for k, v in
                             _score(model, val[0], val[1], loss, metric_names, from_logits, batch_size * 4).items()})
            state["epoch"] = epoch + 1
            history.log(epoch, logs)
            if verbose:
                text = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
                (bar.write if bar is not None else print)(f"epoch {epoch + 1}/{start_epoch + epochs} - {text}")
            for cb in callbacks:
                cb.on_epoch_end(model, epoch, logs)
            if model.stop_training:
                break
    finally:
        if bar is not None:
            bar.close()
    for cb in callbacks:
        cb.on_train_end(model)
    return history


def _epoch_plan(model: Any, n: int, batch_size: int, shuffle: bool, batching: str,
                steps: int | None) -> list[Any]:
    """The batches of one epoch: slices, or index arrays sent to the device in one copy."""
    state = model.train_state
    backend = model.backend
    if batching == "wrap":
        steps = steps or math.ceil(n / batch_size)
        stream = state.get("stream")
        perm = np.asarray(stream["perm"], dtype=np.int64) if stream else None
        pos = int(stream["pos"]) if stream else 0
        if perm is None or perm.shape[0] != n:
            perm, pos = (model.rng.permutation(n) if shuffle else np.arange(n)), 0
        chunks, need = [], steps * batch_size
        while need > 0:
            take = min(need, n - pos)
            chunks.append(perm[pos:pos + take])
            pos += take
            need -= take
            if pos == n:
                perm, pos = (model.rng.permutation(n) if shuffle else np.arange(n)), 0
        state["stream"] = {"perm": perm, "pos": pos}
        idx = backend.asarray(np.concatenate(chunks))
        return [idx[i * batch_size:(i + 1) * batch_size] for i in range(steps)]
    starts = range(0, n, batch_size)
    if steps is not None:
        starts = list(starts)[:steps]
    if not shuffle:
        return [slice(s, min(s + batch_size, n)) for s in starts]
    idx = backend.asarray(model.rng.permutation(n))
    return [idx[s:min(s + batch_size, n)] for s in starts]


def _progress(verbose: int) -> Any:
    if verbose != 1:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the per-epoch lines still show progress
        return None
    return tqdm(total=0, leave=False, file=sys.stderr, dynamic_ncols=True)


# -- predict and evaluate ----------------------------------------------------------------------
def _forward_batches(model: Any, Xd: Array, batch_size: int | None) -> Array:
    n = _n_rows(Xd)
    if batch_size is None or batch_size >= n:
        return model.forward_backward(Xd, training=False)[0]
    xp = model.backend.xp
    outs = [model.forward_backward(_rows(Xd, slice(s, min(s + batch_size, n))), training=False)[0]
            for s in range(0, n, batch_size)]
    return xp.concat(outs, axis=0)


def _returned(X: Any, out: Array) -> Array:
    first = next(iter(X.values())) if isinstance(X, Mapping) and X else X
    return to_numpy(out) if not is_array(first) or isinstance(first, np.ndarray) else out


def predict(model: Any, X: Any, *, batch_size: int | None = None) -> Array:
    """Outputs of ``model`` for ``X``: NumPy in (or lists) → NumPy out; device arrays stay."""
    where = f"{type(model).__name__}.predict"
    if batch_size is not None:
        _positive_int(where, "batch_size", batch_size)
    Xd = prepare_x(model, X, where)
    return _returned(X, _forward_batches(model, Xd, batch_size))


def _to_proba(model: Any, out: Array, where: str) -> Array:
    loss = model.loss
    if isinstance(loss, losses_mod.SoftmaxCrossEntropy):
        return softmax(out)
    if isinstance(loss, losses_mod.BCEWithLogits):
        return sigmoid(out)
    last = model.nodes[model.output]
    act = getattr(last, "activation", None) or getattr(last, "fn", None)
    if act is not None and act.name in ("softmax", "sigmoid"):
        return out
    raise InputError(f"{where}: the model's outputs are not probabilities (no softmax/sigmoid output "
                     "and no cross-entropy loss from logits); use predict()")


def predict_proba(model: Any, X: Any, *, batch_size: int | None = None) -> Array:
    """Class probabilities for ``X`` (softmax or sigmoid of logits where the loss says so)."""
    where = f"{type(model).__name__}.predict_proba"
    Xd = prepare_x(model, X, where)
    return _returned(X, _to_proba(model, _forward_batches(model, Xd, batch_size), where))


def _score(model: Any, Xd: Array, yd: Array, loss: Any, metric_names: Sequence[str],
           from_logits: bool, batch_size: int | None) -> dict[str, float]:
    n = _n_rows(Xd)
    bs = n if batch_size is None else batch_size
    mets = [metrics_mod.get(m, from_logits=from_logits) if m in ("accuracy", "acc") else metrics_mod.get(m)
            for m in metric_names]
    total = None
    for s in range(0, n, bs):
        xb, yb = _rows(Xd, slice(s, min(s + bs, n))), _rows(yd, slice(s, min(s + bs, n)))
        out = model.forward_backward(xb, training=False)[0]
        if loss is not None:
            v = loss._forward(out, yb)[0] * float(_n_rows(xb))
            total = v if total is None else total + v
        for m in mets:
            m.update(out, yb)
    logs = {} if loss is None else {"loss": float(total) / n}
    logs.update({m.name: m.result() for m in mets})
    return logs


def evaluate(model: Any, X: Any, y: Any, *, loss: Any = None, metrics: Sequence[str] | None = None,
             batch_size: int | None = None) -> dict[str, float]:
    """``{"loss": …, metric: …}`` on ``(X, y)``; the loss and metrics default to the last fit's."""
    where = f"{type(model).__name__}.evaluate"
    loss = losses_mod.get(loss) if loss is not None else model.loss
    metrics = list(metrics) if metrics is not None else list(model.metrics)
    if loss is None and not metrics:
        raise InputError(f"{where}: nothing to compute; give loss= or metrics=")
    Xd = prepare_x(model, X, where)
    yd = prepare_y(model, y, loss, _n_rows(Xd), where)
    return _score(model, Xd, yd, loss, metrics, isinstance(loss, losses_mod.BCEWithLogits), batch_size)
