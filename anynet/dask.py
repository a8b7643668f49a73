"""Prediction and evaluation on Dask arrays: lazily, one task per chunk of rows.

``model.predict(X)``, ``model.predict_proba(X)`` and ``model.evaluate(X, y)`` come here when X is
a Dask array (or a dict of them, for a graph with several inputs); the functions below are the
same calls spelled out. They run wherever Dask runs: the local threaded scheduler or a
``dask.distributed`` cluster.

- :func:`predict` returns a lazy ``dask.array.Array``: nothing is computed until you ask
  (``.compute()``, ``.to_zarr(...)``, ...). Its shape, dtype and chunks are known at once: one
  output chunk per chunk of rows of X, ``(rows, outputs)`` in the model's float type, NumPy
  chunks. Each chunk is NumPy's ``model.predict`` of its rows, so the result is
  ``model.predict(X.compute())`` (up to the rounding of matrix products of other sizes).
- :func:`evaluate` computes, in one ``dask.compute``, each chunk's summed loss and its metrics'
  running sums, then adds them up: the values of NumPy's ``evaluate`` up to float rounding.
  Metrics are combined across chunks by :meth:`anynet.metrics.Metric.all_reduce`, the protocol
  that sums them over the processes of data-parallel training, so a metric of your own that
  trains data-parallel also evaluates on Dask.
- The model enters the task graph once, as its checkpoint bytes under one key that every chunk's
  task depends on: a cluster builds it once per worker, never once per task. It is a snapshot:
  training the model further does not change a result already built (build it again). So the
  model must be savable (its parts registered, its weights finite), as pickling needs anyway.
- The chunks run on the model's backend (a model on ``cupy:0`` needs the GPU on the worker) and
  come back as NumPy arrays.
- X is a 2-D Dask array whose row chunks have known lengths (after boolean indexing or a
  DataFrame's ``to_dask_array()``, call ``X.compute_chunk_sizes()`` first); chunks along the
  columns are joined. The inputs of a graph, and y, are rechunked to the row chunks of the first
  input. The data is checked chunk by chunk as it is computed, with NumPy's messages, which also
  name the chunk's rows.

``fit`` does not take Dask arrays: call ``X.compute()`` when it fits in memory, or stream its
chunks as batches, ``fit(((X.blocks[i].compute(), y.blocks[i].compute()) for i in ...),
steps_per_epoch=...)``.

This module imports Dask (``pip install "anynet-nn[dask]"``, which also installs ``distributed``
for clusters); ``import anynet`` does not.

Example:
    >>> import dask.array as da
    >>> import numpy as np
    >>> import anynet
    >>> from anynet.layers import Dense
    >>> model = anynet.Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0, dtype="float64")
    >>> X = da.from_array(np.random.default_rng(0).standard_normal((1000, 4)), chunks=(250, 4))
    >>> out = model.predict(X)              # lazy: nothing has run yet
    >>> out.shape, out.dtype, out.chunks
    ((1000, 3), dtype('float64'), ((250, 250, 250, 250), (3,)))
    >>> bool(np.allclose(out.compute(), model.predict(X.compute()), rtol=1e-12, atol=0))
    True
    >>> y = da.from_array(np.arange(1000) % 3, chunks=100)
    >>> scores = model.evaluate(X, y, loss="softmax_cross_entropy", metrics=["accuracy"])
    >>> sorted(scores)
    ['accuracy', 'loss']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask.layers import ArraySliceDep  # each chunk's rows, without a task (as dask's from_array uses it)
except ImportError as exc:  # the optional extra is missing
    raise ImportError('anynet.dask needs Dask; install it with: pip install "anynet-nn[dask]" '
                      "(dask[array] and distributed)") from exc

from . import checkpoint, training
from . import metrics as metrics_mod
from .backends import to_numpy
from .batches import evaluation_batches, n_rows
from .errors import AnynetError, InputError, InputTypeError
from .losses import get as get_loss

Array = Any

__all__ = ["evaluate", "predict"]


# -- the public calls ----------------------------------------------------------------------------
def predict(model: Any, X: Any, *, proba: bool = False, batch_size: int | None = None) -> da.Array:
    """The outputs of ``model`` for the Dask array ``X``, as a lazy Dask array.

    Arguments:
        model: an anynet model (:class:`anynet.Sequential` or :class:`anynet.Graph`).
        X: a 2-D ``dask.array.Array`` of floats, or ``{input name: Dask array}`` for a graph with
            several inputs (the same number of rows each).
        proba: the class probabilities (``predict_proba``) rather than the raw outputs.
        batch_size: rows per forward pass inside a chunk (default: the whole chunk).

    Shapes:
        X: (n, in_features) in chunks of rows; returns (n, out_features) in the model's dtype, chunked
        as X's rows, one task per chunk.

    Example:
        >>> import dask.array as da
        >>> import numpy as np
        >>> import anynet, anynet.dask
        >>> from anynet.layers import Dense
        >>> model = anynet.Sequential([Dense(2, 3)], seed=0)
        >>> out = anynet.dask.predict(model, da.ones((10, 2), chunks=(5, 1)))
        >>> out.chunks, out.dtype
        (((5, 5), (3,)), dtype('float32'))
    """
    where = f"{type(model).__name__}.{'predict_proba' if proba else 'predict'}"
    arrays, rows, names = _inputs(model, X, where)
    # one row of zeros through NumPy's own call: X's dtype checked with its message, the output's width and
    # dtype known without computing any chunk (and predict_proba refused at once for a regression loss)
    probe = _probe(model, arrays, names, proba=proba, batch_size=batch_size)
    width, dtype = int(probe.shape[1]), probe.dtype
    args: list[Any] = [_model_in_graph(model, where), None, ArraySliceDep((rows,)), ("i",)]
    for k, v in enumerate(arrays.values()):
        args += [v, ("i", f"col{k}")]
    # the arrays are aligned above (align_arrays=False: dask would not know the slices' chunks as an array's)
    return da.blockwise(_predict_chunk, ("i", "out"), *args, new_axes={"out": width}, concatenate=True,
                        align_arrays=False, dtype=dtype, meta=np.empty((0, width), dtype), token="anynet-predict",
                        names=names, proba=bool(proba), batch_size=batch_size, width=width,
                        dtype_name=str(dtype))


def evaluate(model: Any, X: Any, y: Any, *, loss: Any = None, metrics: Any = None,
             batch_size: int | None = None) -> dict[str, float]:
    """``{"loss": …, metric: …}`` of ``model`` on the Dask arrays ``(X, y)``, computed chunk by chunk.

    Each chunk's task returns its summed loss, its row count and its metrics' running sums; they are
    added up on the caller's side (a few numbers per chunk travel, never the outputs).

    Arguments:
        model: an anynet model.
        X: a 2-D Dask array, or ``{input name: Dask array}``, as for :func:`predict`.
        y: the targets: a Dask array (rechunked to X's row chunks) or anything NumPy's ``evaluate``
            takes (NumPy, a pandas Series), of X's length.
        loss, metrics: as for ``model.evaluate`` (default: the last fit's).
        batch_size: rows per forward pass inside a chunk (default: the whole chunk).

    Example:
        >>> import dask.array as da
        >>> import numpy as np
        >>> import anynet, anynet.dask
        >>> from anynet.layers import Dense
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0, dtype="float64")
        >>> X = np.random.default_rng(0).standard_normal((40, 2))
        >>> y = X.sum(axis=1)
        >>> lazy = anynet.dask.evaluate(model, da.from_array(X, chunks=10), y, loss="mse", metrics=["r2"])
        >>> eager = model.evaluate(X, y, loss="mse", metrics=["r2"])
        >>> bool(np.allclose(lazy["loss"], eager["loss"])), bool(np.allclose(lazy["r2"], eager["r2"]))
        (True, True)
    """
    where = f"{type(model).__name__}.evaluate"
    loss = get_loss(loss) if loss is not None else model.train_state.loss
    if loss is None:
        raise InputError(f"{where}: give loss= (the model has not been fit), e.g. loss='mse'")
    names = training.metric_names(metrics, matrices=True) if metrics is not None else list(model.train_state.metrics)
    for name in names:  # an unknown name is refused now, not inside a chunk's task
        metrics_mod.get(name, loss=loss)
    arrays, rows, input_names = _inputs(model, X, where)
    _probe(model, arrays, input_names, proba=False, batch_size=batch_size)
    targets = _targets(y, rows, where)
    model_key = _model_in_graph(model, where)
    blocks = [v.to_delayed(optimize_graph=False).ravel() for v in (*arrays.values(), targets)]
    score = dask.delayed(_score_chunk, pure=True)
    tasks = [score(model_key, start, *(b[i] for b in blocks), names=input_names, loss=loss,
                   metrics=names, batch_size=batch_size, where=where)
             for i, start in enumerate(_starts(rows).tolist()) if rows[i] > 0]
    parts = dask.compute(*tasks)
    total, count = sum(p[0] for p in parts), sum(p[1] for p in parts)
    logs = {"loss": total / count}
    for j, name in enumerate(names):
        logs[name] = _combined([p[2][j] for p in parts], where).result()
    return logs


# -- checking the inputs -------------------------------------------------------------------------
def _inputs(model: Any, X: Any, where: str) -> tuple[dict[str, da.Array], tuple[int, ...], list[str] | None]:
    """``({input name: 2-D Dask array with one chunk of columns}, the row chunks, the input names a chunk's
    task rebuilds X's dict with (None for one bare array))``: the arrays checked (kind, rank, known chunk
    lengths, width, rows), every one on the first's row chunks."""
    if not (hasattr(model, "train_state") and hasattr(model, "each_input")):
        raise InputTypeError(f"anynet.dask: model must be an anynet model (Sequential or Graph), got "
                             f"{type(model).__name__}")

    def check(v: Any, what: str, width: int) -> da.Array:
        if not isinstance(v, da.Array):
            hint = (f" (a Dask DataFrame: {what}.to_dask_array(lengths=True))" if hasattr(v, "to_dask_array")
                    else "")
            raise InputTypeError(f"{where}: {what} is a {type(v).__module__}.{type(v).__name__}; with Dask data "
                                 f"every input must be a dask.array.Array{hint}")
        if v.ndim != 2:
            raise InputError(f"{where}: {what} must be 2-D with shape (n_samples, n_features), got a Dask array "
                             f"of shape {v.shape}")
        _known_rows(v, where, what)
        if v.shape[0] == 0:
            raise InputError(f"{where}: {what} has 0 samples (shape={v.shape}); at least 1 is required")
        if v.shape[1] != width:
            raise InputError(f"{where}: {what} has {v.shape[1]} features per sample but {width} were expected "
                             f"(got a Dask array of shape {v.shape}, expected (n_samples, {width}))")
        return v.rechunk({1: -1}) if len(v.chunks[1]) > 1 else v

    checked = model.each_input(X, where, check)
    arrays = dict(checked) if isinstance(checked, Mapping) else {"X": checked}
    rows = next(iter(arrays.values())).chunks[0]
    aligned = {k: v if v.chunks[0] == rows else v.rechunk({0: rows}) for k, v in arrays.items()}
    return aligned, rows, list(arrays) if isinstance(checked, Mapping) else None


def _known_rows(v: da.Array, where: str, what: str) -> None:
    if any(math.isnan(c) for c in v.chunks[0]):
        raise InputError(f"{where}: {what} has chunks of unknown length (nan), as boolean indexing or a "
                         f"DataFrame's to_dask_array() leave them; call {what}.compute_chunk_sizes() first "
                         "(or to_dask_array(lengths=True))")


def _targets(y: Any, rows: tuple[int, ...], where: str) -> da.Array:
    """y as a Dask array on X's row chunks (one chunk of columns); its values are checked per chunk."""
    if y is None:
        raise InputError(f"{where}: X is a Dask array, so give y (a Dask array or NumPy targets of X's length)")
    if hasattr(y, "__dask_graph__") and not isinstance(y, da.Array):
        raise InputTypeError(f"{where}: y is a {type(y).__module__}.{type(y).__name__}; give a dask.array.Array "
                             "(a Dask Series or DataFrame: y.to_dask_array(lengths=True))")
    if not isinstance(y, da.Array):
        y = da.from_array(np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y), chunks=-1)
    if y.ndim not in (1, 2):
        raise InputError(f"{where}: y must be 1-D or 2-D, got shape {y.shape}")
    _known_rows(y, where, "y")
    n = sum(rows)
    if y.shape[0] != n:
        raise InputError(f"{where}: y has {y.shape[0]} rows but X has {n} samples; they must match")
    return y.rechunk({0: rows, **({1: -1} if y.ndim == 2 else {})})


def _probe(model: Any, arrays: Mapping[str, da.Array], names: list[str] | None, *, proba: bool,
           batch_size: int | None) -> Array:
    """NumPy's predict of one row of zeros shaped as X's rows, in X's dtype."""
    zeros = [np.zeros((1, v.shape[1]), dtype=v.dtype) for v in arrays.values()]
    call = training.predict_proba if proba else training.predict
    return call(model, _chunk_x(zeros, names), batch_size=batch_size)


def _starts(rows: Sequence[int]) -> np.ndarray:
    """The first row of every chunk."""
    return np.cumsum((0, *rows[:-1]), dtype=np.int64)


# -- the model in the graph ----------------------------------------------------------------------
def _model_in_graph(model: Any, where: str) -> Any:
    """A Delayed that builds the model from its checkpoint bytes: one key, named by the bytes, that every
    chunk's task depends on. The scheduler runs it once; the workers share its result."""
    try:
        data = checkpoint.dumps(model)
    except AnynetError as exc:
        raise InputError(f"{where}: the model goes into the Dask graph as its checkpoint bytes (as pickle sends "
                         f"it), and cannot be: {exc}") from None
    spec = model.backend.spec
    return dask.delayed(_load_model, pure=True)(data, spec, dask_key_name=f"anynet-model-{tokenize(data, spec)}")


def _load_model(data: bytes, spec: str) -> Any:
    """The model in ``data``, validated as any checkpoint, on the backend it was on."""
    return checkpoint.loads(data, backend=spec)


# -- what runs per chunk -------------------------------------------------------------------------
@contextmanager
def _chunk_rows(start: int, stop: int) -> Iterator[None]:
    """Errors raised on a chunk say which rows of X it holds."""
    try:
        yield
    except AnynetError as exc:
        raise type(exc)(f"{exc} (in the Dask chunk of rows {start} to {stop - 1}; a row number above counts "
                        "from that chunk's first row)") from None


def _chunk_x(blocks: Sequence[Array], names: list[str] | None) -> Any:
    return blocks[0] if names is None else dict(zip(names, blocks))


def _predict_chunk(model: Any, span: tuple[slice], *blocks: Array, names: list[str] | None, proba: bool,
                   batch_size: int | None, width: int, dtype_name: str) -> np.ndarray:
    n = int(blocks[0].shape[0])
    if n == 0:  # an empty chunk: NumPy's predict refuses 0 rows, a chunk of Dask may have them
        return np.empty((0, width), dtype=dtype_name)
    call = training.predict_proba if proba else training.predict
    with _chunk_rows(span[0].start, span[0].stop):
        return call(model, _chunk_x(blocks, names), batch_size=batch_size)


def _score_chunk(model: Any, start: int, *blocks: Array, names: list[str] | None, loss: Any, metrics: list[str],
                 batch_size: int | None, where: str) -> tuple[float, int, list[metrics_mod.Metric]]:
    """``(loss summed over the chunk's rows, rows, its metrics)``, as ``training.score`` sums them."""
    *xs, y = blocks
    mets = [metrics_mod.get(m, loss=loss) for m in metrics]
    total: Any = 0.0
    count = 0
    with _chunk_rows(start, start + int(y.shape[0])):
        for xb, yb in evaluation_batches(model, _chunk_x(xs, names), y, loss, batch_size, where):
            out = model.forward(xb)[0]
            rows = n_rows(xb)
            total, count = total + loss.compute(out, yb)[0] * float(rows), count + rows
            for m in mets:
                m.update(out, yb)
    return float(to_numpy(total)), count, mets  # the chunk's one host read, an explicit transfer


# -- adding up the chunks' metrics ---------------------------------------------------------------
def _visits(metric: metrics_mod.Metric) -> tuple[list[Array], list[int]]:
    """The running values and counts ``metric.all_reduce`` hands to its summing functions, in order."""
    arrays: list[Array] = []
    counts: list[int] = []

    def keep(into: list[Any]) -> Callable[[Any], Any]:
        def seen(value: Any) -> Any:
            into.append(value)
            return value
        return seen

    metric.all_reduce(keep(arrays), keep(counts))
    return arrays, counts


def _combined(parts: list[metrics_mod.Metric], where: str) -> metrics_mod.Metric:
    """The first chunk's metric holding the sums over every chunk. ``all_reduce`` visits a metric's
    running values in the same order on every copy (as data-parallel training relies on); each value
    it visits here becomes the sum of that value over the chunks, in chunk order."""
    seen = [_visits(m) for m in parts]
    if len({(len(a), len(c)) for a, c in seen}) > 1:
        raise InputError(f"{where}: the metric {parts[0].name!r} keeps different running values in different "
                         "chunks, so they cannot be added up; its all_reduce must visit the same values in the "
                         "same order on every copy")
    position = {"array": 0, "count": 0}

    def summed(kind: str, index: int) -> Callable[[Any], Any]:
        def add(value: Any) -> Any:
            i = position[kind]
            position[kind] = i + 1
            for other in seen[1:]:
                value = value + other[index][i]
            return value
        return add

    first = parts[0]
    first.all_reduce(summed("array", 0), summed("count", 1))
    return first
