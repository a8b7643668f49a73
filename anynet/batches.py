"""Data for training: checked once, put on the device once, then served as batches.

``prepare_x`` / ``prepare_y`` check a whole data set at the entry point (shape, dtype, NaN, labels)
so the training step checks nothing. A batch iterator yields ``(X, y)`` pairs of device arrays:

- :class:`ArrayBatches`: each sample once per epoch, shuffled on the host (so every backend sees
  the same batches) with one index copy to the device per epoch;
- :class:`WrapBatches`: document 004's data layer: full batches from an endless shuffled stream
  that wraps around the end; its position lives in the training state so a checkpoint resumes it;
- :class:`StreamBatches`: the user's own iterable of ``(X, y)`` batches (a list, a generator, a
  ``torch.utils.data.DataLoader``), each batch checked and put on the device as it arrives.

Data bigger than memory: a ``numpy.memmap`` (or any NumPy array of at least ``READ_BY_ROWS_BYTES``)
is read by rows (:func:`reads_by_rows`). It is checked in row chunks (:func:`anynet.validation.row_chunks`:
no temporary the size of the data), and ``predict`` and ``evaluate`` run it through the model a chunk
of rows at a time. Where the model would convert or copy a memory-mapped array whole (another backend
than NumPy, or another dtype; on NumPy also a large array in memory of another dtype) it stays on the
host as :class:`HostRows`: each batch's rows are gathered on the host, converted and copied to the
device as the batch is served, one host-to-device copy per batch, of that batch only.

``shard=(rank, size)`` (data-parallel training, :mod:`anynet.distributed`): the batches are the same
global batches, and each process gets its contiguous slice of every one (:func:`shard_span`).

Example:
    >>> import numpy as np
    >>> from anynet.batches import ArrayBatches
    >>> from anynet.backends import get_backend
    >>> batches = ArrayBatches(np.arange(10.0).reshape(5, 2), np.arange(5.0), batch_size=2, shuffle=False,
    ...                        rng_of=np.random.default_rng, backend=get_backend("numpy"))
    >>> [len(yb) for _, yb in batches]
    [2, 2, 1]
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .backends import Backend, backend_of, get_backend, is_array, to_numpy
from .dtypes import dtype_name
from .errors import InputError, InputTypeError
from .validation import as_host_array, check_features, check_finite, chunk_rows, raise_mismatch, row_chunks

Array = Any


class _Unset:
    """The default of ``fit``'s ``batch_size`` and ``shuffle``: a stream of batches refuses them only
    when they are given, so it must tell "not given" from the default value."""

    def __repr__(self) -> str:
        return "<default>"


UNSET: Any = _Unset()
BATCH_SIZE, SHUFFLE = 32, True  # what UNSET means for arrays

#: a NumPy array at least this large is read by rows like a memory-mapped one: checked in chunks, run
#: through predict and evaluate in chunks, and on NumPy never converted to the model's dtype whole
READ_BY_ROWS_BYTES = 64 << 20
#: the most rows predict and evaluate run through the model at once for data read by rows
FORWARD_ROWS = 8192


class HostRows:
    """A NumPy array kept on the host and served by rows: a memory-mapped array (or, on NumPy, a large
    one) that the model would otherwise convert or copy to its device whole. Each batch's rows are
    gathered on the host, then ``convert`` makes them what the model reads (its dtype on its
    device, targets one-hot): one host-to-device copy per batch, of that batch only.

    Arguments:
        data: the host array, e.g. a ``numpy.memmap``; convert: host rows → the model's batch.

    Shapes:
        data: (n, ...); :meth:`take` of k rows → ``convert`` of (k, ...).

    Example:
        >>> import numpy as np
        >>> held = HostRows(np.arange(6.0).reshape(3, 2), lambda part: part.astype("float32"))
        >>> held.shape, held.take(np.array([2, 0])).tolist(), held.subset(1, 3).shape
        ((3, 2), [[4.0, 5.0], [0.0, 1.0]], (2, 2))
    """

    def __init__(self, data: np.ndarray, convert: Callable[[np.ndarray], Array]) -> None:
        self.data, self.convert, self.shape = data, convert, tuple(data.shape)

    def take(self, idx: slice | np.ndarray) -> Array:
        """The rows ``idx`` (a slice or a host index array), converted."""
        part = self.data[idx, ...] if isinstance(idx, slice) else self.data.take(idx, axis=0)
        return self.convert(np.asarray(part))  # np.asarray: a gathered memmap is an ndarray in memory

    def subset(self, start: int, stop: int) -> HostRows:
        """Rows ``[start, stop)``, still on the host (a view)."""
        return HostRows(self.data[start:stop, ...], self.convert)

    def __repr__(self) -> str:
        return f"HostRows({type(self.data).__name__} of shape {self.shape}, dtype {self.data.dtype})"


def _mapped(x: np.ndarray) -> bool:
    """Whether ``x`` is a ``numpy.memmap`` or a view of one (its ``base`` chain reaches a mapping)."""
    base: Any = x
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def reads_by_rows(x: Any) -> bool:
    """True for data read by rows: a ``numpy.memmap`` (or a view of one), a NumPy array of at least
    ``READ_BY_ROWS_BYTES``, :class:`HostRows`, or a dict holding one.

    Example:
        >>> import numpy as np
        >>> reads_by_rows(np.zeros((4, 2))), reads_by_rows(np.zeros((READ_BY_ROWS_BYTES // 8, 1)))
        (False, True)
    """
    if isinstance(x, Mapping):
        return any(reads_by_rows(v) for v in x.values())
    if isinstance(x, HostRows):
        return True
    return isinstance(x, np.ndarray) and (x.nbytes >= READ_BY_ROWS_BYTES or _mapped(x))


def _stays_on_host(X: np.ndarray, backend: Backend, dtype: str) -> bool:
    """Whether ``X`` is served by rows (:class:`HostRows`) rather than converted or copied whole: a
    memory-mapped array the model cannot read in place, and on NumPy a large one it would convert. A
    large array already in memory goes to another backend's device whole, once, as any other (so a
    GPU gathers its batches there, with no copy per batch)."""
    on_numpy = backend.name == "numpy"
    if on_numpy and X.dtype == dtype and X.flags.c_contiguous:
        return False  # read in place: gathered by rows already, nothing converted or copied
    return _mapped(X) or (on_numpy and X.nbytes >= READ_BY_ROWS_BYTES)


def forward_rows(x: Any) -> int:
    """Rows per forward pass for data read by rows: at most ``FORWARD_ROWS``, and a chunk's worth."""
    if isinstance(x, Mapping):
        return min(forward_rows(v) for v in x.values())
    data = x.data if isinstance(x, HostRows) else x
    return min(FORWARD_ROWS, chunk_rows(data)) if isinstance(data, np.ndarray) else FORWARD_ROWS


def prepare_x(model: Any, X: Any, where: str, *, fitting: bool = False, by_rows: bool = False) -> Array:
    """Check X once and put it on the model's device in the model's dtype (on NumPy, a float
    array of the model's dtype is used as it is: read, never copied or written). A graph with
    several inputs takes ``{input name: array}`` and gets a dict back. A pandas DataFrame is read
    by column name: ``fit`` stores its names in ``model.metadata["feature_names"]`` and later calls
    match columns by those names (reordered columns give the same outputs).

    With ``by_rows`` (the batch iterators and ``predict``), data read by rows (:func:`reads_by_rows`)
    that would be converted or copied whole comes back as :class:`HostRows`, served batch by batch."""
    if _is_frame(X):
        X = _frame_values(model, X, where, fitting)
    ids = _id_readers(model)
    return model.each_input(X, where, lambda v, what, width: _prepare_one(model, v, where, what, width, by_rows,
                                                                          ids.get(what, ())))


def _id_readers(model: Any) -> dict[str, list[Any]]:
    """``{what: layers}`` for the inputs (named as ``each_input`` names them) that only layers taking
    category ids read (those with ``check_ids``, e.g. Embedding): their values are checked as ids."""
    names = list(model.inputs)
    out = {}
    for name in names:
        readers = [(model.nodes[n], e) for n, e in model.edges.items()
                   if e == name or (not isinstance(e, str) and name in e)]
        if readers and all(e == name and hasattr(layer, "check_ids") for layer, e in readers):
            out["X" if len(names) == 1 else f"X[{name!r}]"] = [layer for layer, _ in readers]
    return out


def _is_frame(x: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas."""
    return type(x).__module__.startswith("pandas") and hasattr(x, "columns") and hasattr(x, "to_numpy")


def _is_series(x: Any) -> bool:
    return type(x).__module__.startswith("pandas") and hasattr(x, "to_numpy") and not hasattr(x, "columns")


def _frame_values(model: Any, frame: Any, where: str, fitting: bool) -> np.ndarray:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{where}: the DataFrame has duplicate column names {repeated}")
    known = model.metadata.get("feature_names")
    if fitting or known is None:
        if fitting:
            model.metadata["feature_names"] = names
        order = names
    else:
        missing, unknown = [n for n in known if n not in names], [n for n in names if n not in known]
        if missing or unknown:
            raise InputError(f"{where}: the DataFrame's columns do not match the {len(known)} the model was fitted on: "
                             f"missing {missing}, unknown {unknown}")
        order = known
    columns = []
    for name in order:
        col = frame[frame.columns[names.index(name)]].to_numpy()
        if col.dtype.kind not in "biuf":
            raise InputTypeError(f"{where}: column {name!r} has dtype {col.dtype}; anynet needs numbers (encode "
                                 "categories first, e.g. pandas.get_dummies)")
        columns.append(col)
    return np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0))


def _prepare_one(model: Any, X: Any, where: str, what: str, width: int, by_rows: bool = False,
                 id_readers: Any = ()) -> Array:
    X = as_host_array(X, where, what)
    if id_readers:
        # category ids, integers or whole floats: checked once here (on the host for NumPy data, one
        # read for a device array), then held in the model's dtype, exact where check_ids allows them
        for layer in id_readers:
            layer.check_ids(X, f"{where}: {what}")
        xp = backend_of(X).xp
        if len(tuple(X.shape)) == 1:
            X = xp.reshape(X, (-1, 1))
        if not isinstance(X, np.ndarray):
            if backend_of(X) != model.backend:
                raise_mismatch(where, what, backend_of(X), model.backend)
            return xp.astype(X, model.backend.dtype(model.dtype))
        return model.backend.asarray(X, dtype=model.dtype, copy=False)
    if isinstance(X, np.ndarray):
        check_features(X, where=where, width=width, what=what)
        if model.dtype == "float32" and X.dtype == np.float64:
            _check_fits_float32(X, where, what)
        backend, dtype = model.backend, model.dtype
        if by_rows and _stays_on_host(X, backend, dtype):
            # the batch's rows alone are converted and copied (copy=False: a gathered batch is only read)
            return HostRows(X, lambda part: backend.asarray(part, dtype=dtype, copy=False))
        return model.backend.asarray(X, dtype=model.dtype, copy=False)
    X = check_features(X, where=where, width=width, what=what, backend=model.backend)
    if dtype_name(X.dtype) != model.dtype:
        raise InputTypeError(f"{where}: {what} has dtype {dtype_name(X.dtype)} but the model is {model.dtype}; "
                             f"convert it with {what}.astype('{model.dtype}')")
    return X


_F32_MAX = float(np.finfo(np.float32).max)


def _check_fits_float32(X: np.ndarray, where: str, what: str) -> None:
    """float64 values beyond float32's range would silently become inf in a float32 model. Read in
    row chunks by their minimum and maximum: no temporary the size of the data. (NaN and ±inf are
    left to the finiteness check, which names them.)"""
    top = 0.0
    for _, part in row_chunks(X):
        if part.size:
            top = max(top, float(part.max()), -float(part.min()))
    if _F32_MAX < top < math.inf:
        _beyond_float32(top, where, what)


def _beyond_float32(top: float, where: str, what: str) -> None:
    raise InputError(f"{where}: {what} holds magnitudes up to {top:.3g}, beyond float32's range "
                     f"(±{_F32_MAX:.3g}), but the model is float32; scale the data or use a float64 model "
                     "(dtype='float64')")


def _check_y_fits(model: Any, y: Any, where: str) -> None:
    """Float targets wider than float32 for a float32 model: checked as X is (:func:`_check_fits_float32`,
    in row chunks on the host; one reduction and one read for an array on the device), as they would
    become inf, and the loss with them."""
    if model.dtype != "float32" or dtype_name(y.dtype) not in ("float64", "longdouble", "float128"):
        return
    if isinstance(y, np.ndarray):
        _check_fits_float32(y, where, "y")
        return
    xp = model.backend.xp
    if math.prod(y.shape):
        top = float(to_numpy(xp.max(xp.abs(y))))  # (one explicit read, at the entry point)
        if _F32_MAX < top < math.inf:
            _beyond_float32(top, where, "y")


def n_rows(x: Array | dict[str, Array]) -> int:
    return int(next(iter(x.values())).shape[0]) if isinstance(x, dict) else int(x.shape[0])


def prepare_y(model: Any, y: Any, loss: Any, n: int, where: str, *, by_rows: bool = False) -> Array:
    """Check targets once (length, values, label range, as ``loss`` needs them) and put them on
    the model's device. With ``by_rows``, memory-mapped targets (on NumPy also large ones) are
    checked in row chunks and come back as :class:`HostRows`, prepared batch by batch."""
    if _is_series(y) or _is_frame(y):
        y = y.to_numpy()
        if y.dtype == object:
            raise InputTypeError(f"{where}: y holds {y.dtype} values; give numbers (class indices or targets)")
    y = as_host_array(y, where, "y")
    if not isinstance(y, np.ndarray) and backend_of(y) != model.backend:
        raise_mismatch(where, "y", backend_of(y), model.backend)
    if len(y.shape) == 0 or y.shape[0] != n:
        raise InputError(f"{where}: y has {y.shape[0] if len(y.shape) else 0} rows but X has {n} samples; "
                         "they must match")
    _check_y_fits(model, y, where)
    if by_rows and isinstance(y, np.ndarray) and (_mapped(y) or (model.backend.name == "numpy" and
                                                                 y.nbytes >= READ_BY_ROWS_BYTES)):
        return _targets_by_rows(model, y, loss, where)  # as X: prepared (one-hot, dtype) batch by batch
    return loss.prepare_targets(y, model.out_features, backend=model.backend, dtype=model.dtype, where=where)


def _targets_by_rows(model: Any, y: np.ndarray, loss: Any, where: str) -> HostRows:
    """Targets read by rows: checked chunk by chunk here (on the host, as the loss checks them), then
    prepared for the device one batch at a time. Where the loss prepared every chunk as
    :func:`_plain_targets` does, a batch is prepared that way, without checking its rows again."""
    if y.dtype.kind == "f":
        check_finite(y, where=where, what="y")  # names the row; the chunks below would name a row of a chunk
    out, dtype, host, backend = model.out_features, model.dtype, get_backend("numpy"), model.backend
    wide = max(out, math.prod(y.shape[1:])) * 8  # a prepared row: one-hot or float64
    plain = True
    for a, part in row_chunks(y, chunk_rows(y, row_bytes=wide)):
        prepared = loss.prepare_targets(part, out, backend=host, dtype=dtype,
                                        where=f"{where} (rows {a} to {a + part.shape[0] - 1} of y)")
        plain = plain and _same(prepared, _plain_targets(part, out, dtype))
    if plain:
        return HostRows(y, lambda part: backend.asarray(_plain_targets(part, out, dtype), copy=False))
    return HostRows(y, lambda part: loss.prepare_targets(part, out, backend=backend, dtype=dtype, where=where))


def _plain_targets(part: np.ndarray, out: int, dtype: str) -> np.ndarray:
    """Targets as most losses prepare them: one-hot rows for labels of several classes, else the
    values as (n, out) floats."""
    if part.ndim == 1 and out > 1:
        return (part[:, None] == np.arange(out)).astype(dtype)
    return part.reshape(part.shape[0], -1).astype(dtype, copy=False)


def _same(a: Any, b: np.ndarray) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


def rows(x: Array, idx: Any, xp: Any = None) -> Array:
    """The rows ``idx`` (a slice or an index array) of an array, or of each array of a dict."""
    if isinstance(x, dict):
        return {k: rows(v, idx, xp) for k, v in x.items()}
    if isinstance(idx, slice):
        return x[idx, ...]
    return (xp or backend_of(x).xp).take(x, idx, axis=0)


def serve(x: Any, idx: Any, device_idx: Any = None, xp: Any = None) -> Array:
    """One batch of ``x`` (an array, :class:`HostRows` or a dict of them) on the device: the rows
    ``idx`` (a slice, or a host index array that :class:`HostRows` gathers with), ``device_idx``
    the same index on the device for device arrays (default ``idx``)."""
    if isinstance(x, dict):
        return {k: serve(v, idx, device_idx, xp) for k, v in x.items()}
    if isinstance(x, HostRows):
        return x.take(idx)
    return rows(x, idx if device_idx is None else device_idx, xp)


def subset(x: Any, start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of an array, :class:`HostRows` or dict of them, not yet served."""
    if isinstance(x, dict):
        return {k: subset(v, start, stop) for k, v in x.items()}
    if isinstance(x, HostRows):
        return x.subset(start, stop)
    return x[start:stop, ...]


def _host_rows(x: Any, every: bool = False) -> bool:
    """Whether x (or any, with ``every`` each, array of a dict x) is :class:`HostRows`."""
    if isinstance(x, dict):
        return (all if every else any)(_host_rows(v) for v in x.values())
    return isinstance(x, HostRows)


def shard_span(start: int, stop: int, shard: tuple[int, int] | None) -> tuple[int, int, int, int]:
    """``(start, stop, offset, total)``: this process's rows ``[start, stop)`` of the global batch
    ``[start, stop)`` of ``total`` rows, of which they are rows ``[offset, offset + stop - start)``.
    With ``shard=(rank, size)`` rank r gets rows ``[n*r//size, n*(r+1)//size)`` of a batch of n.

    Example:
        >>> [shard_span(10, 20, (r, 3)) for r in range(3)]
        [(10, 13, 0, 10), (13, 16, 3, 10), (16, 20, 6, 10)]
    """
    n = stop - start
    if shard is None:
        return start, stop, 0, n
    rank, size = shard
    lo, hi = n * rank // size, n * (rank + 1) // size
    return start + lo, start + hi, lo, n


def _check_shard(shard: Any, where: str) -> tuple[int, int]:
    ok = isinstance(shard, tuple) and len(shard) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shard)
    if not ok or not 0 <= shard[0] < shard[1]:
        raise InputError(f"{where}: shard must be (rank, size) with 0 ≤ rank < size, got {shard!r}")
    return int(shard[0]), int(shard[1])


def training_batches(model: Any, X: Any, y: Any, *, batch_size: int, shuffle: bool, batching: str,
                     steps: int | None, validation_data: Any, validation_split: Any,
                     where: str, shard: tuple[int, int] | None = None) -> tuple[Any, Any]:
    """``(batches, validation batches or None)`` for ``fit``: the data checked once and on the
    device (data read by rows: checked in chunks, served by rows); the training batches re-iterable
    once per epoch, shuffled from ``model.rng``. With ``shard=(rank, size)`` each training batch is
    this process's slice of the global batch (a short last one may leave a process no rows), and so
    is each validation batch when there are at least as many validation rows as processes."""
    if batching not in ("epoch", "wrap"):
        raise InputError(f"{where}: batching must be 'epoch' or 'wrap', got {batching!r}")
    loss = model.train_state.loss
    if shard is not None:
        shard = _check_shard(shard, where)
    if is_stream(X) or y is None:
        if shard is not None:
            raise InputError(f"{where}: a stream of batches cannot be split across processes; give arrays X, y "
                             "(each process then takes its slice of every batch), or give each process its own "
                             "stream and train without comm")
        return _stream_batches(model, X, y, batch_size=batch_size, shuffle=shuffle, batching=batching, steps=steps,
                               validation_data=validation_data, validation_split=validation_split, where=where)
    batch_size = BATCH_SIZE if batch_size is UNSET else batch_size
    shuffle = check_shuffle(SHUFFLE if shuffle is UNSET else shuffle, where)
    if shard is not None and batch_size < shard[1]:
        raise InputError(f"{where}: batch_size={batch_size} is smaller than the number of processes ({shard[1]}); "
                         f"each process needs rows of every batch: give batch_size ≥ {shard[1]} (it counts the "
                         "rows of a global batch, over all processes)")
    Xd = prepare_x(model, X, where, fitting=True, by_rows=True)
    yd = prepare_y(model, y, loss, n_rows(Xd), where, by_rows=True)
    if shard is not None and n_rows(Xd) < shard[1]:
        raise InputError(f"{where}: X has {n_rows(Xd)} samples, fewer than the {shard[1]} processes; give more "
                         "data or use fewer processes")
    val = None
    if validation_data is not None and validation_split is not None:
        raise InputError(f"{where}: give validation_data or validation_split, not both")
    if validation_split is not None:
        n = n_rows(Xd)
        if isinstance(validation_split, bool) or not isinstance(validation_split, (float, int, np.floating)) \
                or not 0.0 < validation_split < 1.0:
            raise InputError(f"{where}: validation_split must be in (0, 1), got {validation_split!r}")
        cut = n - int(round(n * validation_split))
        if cut < 1 or cut == n:
            raise InputError(f"{where}: validation_split={validation_split} leaves no training or validation samples")
        val = (subset(Xd, cut, n), subset(yd, cut, n))
        Xd, yd = subset(Xd, 0, cut), subset(yd, 0, cut)
    elif validation_data is not None:
        val_batches: Any = _validation_stream(model, validation_data, loss, where)
        if val_batches is not None:
            return _training_batches(model, Xd, yd, batch_size, shuffle, batching, steps, shard), val_batches
        vx = prepare_x(model, validation_data[0], f"{where} (validation_data)", by_rows=True)
        val = (vx, prepare_y(model, validation_data[1], loss, n_rows(vx), f"{where} (validation_data)", by_rows=True))
    batches = _training_batches(model, Xd, yd, batch_size, shuffle, batching, steps, shard)
    # data-parallel: each process scores its slice of the validation rows (fit sums the results), unless
    # there are fewer rows than processes
    val_shard = shard if val is not None and shard is not None and n_rows(val[0]) >= shard[1] else None
    val_batches = None if val is None else ArrayBatches(*val, batch_size=batch_size * 4, shuffle=False,
                                                        rng_of=lambda: None, backend=model.backend, shard=val_shard)
    return batches, val_batches


def check_shuffle(shuffle: Any, where: str) -> Any:
    """``fit``'s ``shuffle``: True, False, or an order function ``order(n)``; refused otherwise."""
    if isinstance(shuffle, (bool, np.bool_)):
        return bool(shuffle)
    if callable(shuffle):
        return shuffle
    raise InputError(f"{where}: shuffle must be True (a new order every epoch from the model's generator), False, "
                     f"or a function n -> order (a permutation of range(n)) called once per epoch, got {shuffle!r}")


def epoch_order(shuffle: Any, rng_of: Any, n: int) -> np.ndarray:
    """This epoch's order of the ``n`` rows: a permutation from the generator ``rng_of()``, or what the
    order function ``shuffle(n)`` gives, checked to be a permutation of ``range(n)``."""
    if not callable(shuffle):
        return rng_of().permutation(n)
    order = np.asarray(shuffle(n))
    bad = order.shape != (n,) or order.dtype.kind not in "iu"
    if not bad and n:
        bad = int(order.min()) < 0 or int(order.max()) >= n or bool((np.bincount(order, minlength=n) != 1).any())
    if bad:
        raise InputError(f"fit: the shuffle function gave {str(order)[:80]} (shape {order.shape}, dtype {order.dtype}) "
                         f"for n={n}; it must return a permutation of range({n}): each row index once, as integers")
    return order


def _training_batches(model: Any, Xd: Array, yd: Array, batch_size: int, shuffle: bool, batching: str,
                      steps: int | None, shard: tuple[int, int] | None = None) -> Any:
    rng_of = lambda: model.rng  # noqa: E731 - read at every epoch: seed= and checkpoints replace it
    if batching == "wrap":
        batches: Any = WrapBatches(Xd, yd, batch_size=batch_size, shuffle=shuffle, state=model.train_state,
                                   rng_of=rng_of, backend=model.backend, steps=steps, shard=shard)
    else:
        batches = ArrayBatches(Xd, yd, batch_size=batch_size, shuffle=shuffle, rng_of=rng_of, backend=model.backend,
                               steps=steps, min_batch=_min_batch(model), shard=shard, empty_slices=True)
    return batches


def _min_batch(model: Any) -> int:
    return max(layer.min_batch_size for layer in model.nodes.values())


def _stream_batches(model: Any, X: Any, y: Any, *, batch_size: Any, shuffle: Any, batching: str,
                    steps: int | None, validation_data: Any, validation_split: Any, where: str) -> tuple[Any, Any]:
    """``fit``'s batches when X is a stream of ``(X, y)`` batches (see :func:`training_batches`)."""
    _check_stream_call(X, y, where)
    given = [name for name, value in (("batch_size", batch_size), ("shuffle", shuffle)) if value is not UNSET]
    given += ["validation_split"] * (validation_split is not None) + ["batching='wrap'"] * (batching == "wrap")
    if given:
        raise InputError(f"{where}: {', '.join(given)} do not apply to a stream of batches (the stream decides the "
                         "batches and their order); leave them out, or give arrays X, y")
    loss = model.train_state.loss
    batches = StreamBatches(model, X, loss=loss, steps=steps, where=where, fitting=True, min_batch=_min_batch(model))
    if validation_data is None:
        return batches, None
    val: Any = _validation_stream(model, validation_data, loss, where)
    if val is None:
        vx = prepare_x(model, validation_data[0], f"{where} (validation_data)")
        vy = prepare_y(model, validation_data[1], loss, n_rows(vx), f"{where} (validation_data)")
        val = ArrayBatches(vx, vy, batch_size=BATCH_SIZE * 4, shuffle=False, rng_of=lambda: None,
                           backend=model.backend)
    return batches, val


def _check_stream_call(X: Any, y: Any, where: str) -> None:
    if y is not None:
        raise InputError(f"{where}: X is a stream of (X, y) batches ({type(X).__name__}) and y was given too; give "
                         "the batches alone (y=None), or arrays X and y")
    if not is_stream(X):
        raise InputError(f"{where}: y is missing; give targets y, or X as an iterable of (X, y) batches "
                         f"(got X of type {type(X).__name__})")


def _validation_stream(model: Any, data: Any, loss: Any, where: str) -> StreamBatches | None:
    """``validation_data`` as batches when it is a re-iterable of ``(X, y)`` batches; None for a pair
    ``(X_val, y_val)``."""
    w = f"{where} (validation_data)"
    if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_pair(data[0]):
        return None
    if not is_stream(data):
        raise InputError(f"{where}: validation_data must be a pair (X_val, y_val) or a re-iterable of (X, y) "
                         f"batches, got {type(data).__name__}")
    if isinstance(data, Iterator):
        raise InputError(f"{where}: validation_data is a one-shot iterator ({type(data).__name__}), but it is "
                         "read after every epoch; give a list or another re-iterable (e.g. a DataLoader)")
    return StreamBatches(model, data, loss=loss, steps=None, where=w)


def _is_data(x: Any) -> bool:
    """An array, a dict of arrays or a DataFrame: one data set or one batch, not a stream."""
    return is_array(x) or isinstance(x, Mapping) or _is_frame(x)


def _is_pair(item: Any) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2 and _is_data(item[0])


def is_stream(x: Any) -> bool:
    """True for an iterable of batches rather than one data set: a generator, iterator or other
    iterable that is not an array, dict, DataFrame or string, or a list/tuple whose first item is a
    batch (an array of rank ≥ 2, a dict, or a sequence starting with one). A nested list of numbers
    is data, as always."""
    if _is_data(x) or _is_series(x) or isinstance(x, (str, bytes, np.generic)):
        return False
    if isinstance(x, (list, tuple)):
        first: Any = x[0] if x else None
        if isinstance(first, (tuple, list)) and first:
            first = first[0]
        return isinstance(first, Mapping) or _is_frame(first) or (is_array(first) and len(first.shape) >= 2)
    return isinstance(x, Iterable)


def x_batches(model: Any, X: Any, where: str) -> Iterator[tuple[Any, Array]]:
    """``(batch as given, batch checked on the device)`` for each X batch of a stream; a batch may
    also be a tuple whose first item is X (a DataLoader's ``[X]`` or ``(X, y)``)."""
    for i, item in enumerate(X):
        if isinstance(item, (tuple, list)) and item and (_is_data(item[0]) or isinstance(item[0], (list, tuple))):
            item = item[0]
        yield item, prepare_x(model, item, f"{where}: batch {i}")


def stream_steps(X: Any, steps: Any, where: str) -> int | None:
    """``steps`` of ``predict`` and ``evaluate`` checked: an int ≥ 1, the most batches read of a stream X,
    or None, which a one-shot iterator (a generator, ``iter(X) is X``) may not have: it may never end,
    and its outputs would grow without bound. Arrays refuse ``steps`` (``batch_size`` splits them)."""
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise InputError(f"{where}: steps must be an int ≥ 1 (the most batches to read), got {steps!r}")
        if not is_stream(X):
            raise InputError(f"{where}: steps applies to a stream of batches, and X is one data set "
                             f"({type(X).__name__}); leave steps out (batch_size sets the rows per forward pass)")
        return int(steps)
    if isinstance(X, Iterator):
        call = where.rsplit(".", 1)[-1]
        raise InputError(f"{where}: X is a one-shot iterator ({type(X).__name__}), which may never end (a "
                         f"'while True' generator does not); give steps=, the number of batches to read, e.g. "
                         f"model.{call}(batches(), steps=100), or give a re-iterable that ends, such as a list or a "
                         "DataLoader")
    return None


def evaluation_batches(model: Any, X: Any, y: Any, loss: Any, batch_size: int | None, where: str, *,
                       steps: int | None = None) -> Any:
    """``(X, y)`` checked once and served in order, ``batch_size`` rows at a time (default: all, or
    :func:`forward_rows` for data read by rows); or an iterable of ``(X, y)`` batches (y None), each
    checked as it arrives, at most ``steps`` of them (:func:`stream_steps`)."""
    if is_stream(X) or y is None:
        _check_stream_call(X, y, where)
        if batch_size is not None:
            raise InputError(f"{where}: batch_size does not apply to a stream of batches; leave it out")
        return StreamBatches(model, X, loss=loss, steps=stream_steps(X, steps, where), where=where)
    stream_steps(X, steps, where)  # (refuses steps for arrays)
    Xd = prepare_x(model, X, where, by_rows=True)
    yd = prepare_y(model, y, loss, n_rows(Xd), where, by_rows=True)
    if batch_size is None and (reads_by_rows(Xd) or reads_by_rows(yd)):
        batch_size = forward_rows(Xd)  # data read by rows: a chunk's intermediates at a time, not all rows'
    return ArrayBatches(Xd, yd, batch_size=batch_size or max(n_rows(Xd), 1), shuffle=False, rng_of=lambda: None,
                        backend=model.backend)


class ArrayBatches:
    """Each sample once per epoch in batches of ``batch_size`` (the last may be smaller).

    Arguments:
        X, y: device arrays (X may be a dict of arrays) with the same number of rows, or
            :class:`HostRows`, whose rows are gathered on the host and copied to the device per batch.
        batch_size: rows per batch; ``steps``: stop after this many batches (default: all).
        shuffle: draw a new order every epoch from ``rng_of()`` (a ``numpy.random.Generator``
            asked for at the start of each epoch, so it may be replaced between epochs), or an order
            function ``shuffle(n)`` called at the start of each epoch (:func:`epoch_order`).
        min_batch: a last batch smaller than this is merged into the one before (BatchNorm needs 2).
        shard: ``(rank, size)``: yield only this process's slice of each global batch (the batches
            and their order are those without ``shard``; :func:`shard_span`).
        empty_slices: with ``shard``, a last global batch of fewer than ``size`` rows leaves some
            processes an empty slice, as training needs to stay equal to one process; by default it
            joins the batch before, so every process gets rows of every batch (as scoring needs).

    While a batch is in use (set as it is yielded), ``current`` is ``(offset, total)``: where its rows sit in the global
    batch of ``total`` rows (``(0, rows)`` without ``shard``).
    """

    def __init__(self, X: Array, y: Array, *, batch_size: int, shuffle: bool, rng_of: Any, backend: Backend,
                 steps: int | None = None, min_batch: int = 1, shard: tuple[int, int] | None = None,
                 empty_slices: bool = False) -> None:
        self.X, self.y, self.backend, self.rng_of = X, y, backend, rng_of
        self.n, self.batch_size, self.shuffle = n_rows(X), batch_size, shuffle
        if shard is not None:
            shard = _check_shard(shard, "ArrayBatches")
            min_batch = min_batch if empty_slices else max(min_batch, shard[1])
        starts = list(range(0, self.n, batch_size))
        if len(starts) > 1 and self.n - starts[-1] < min_batch:
            starts.pop()  # the short tail joins the batch before it
        ends = starts[1:] + [self.n]
        self.spans = list(zip(starts, ends))[:steps]
        self.parts = [shard_span(a, b, shard) for a, b in self.spans]
        self.by_rows = _host_rows(X) or _host_rows(y)
        self.current = (0, 0)
        #: whether the batches are one process's slices (their losses and metrics must be summed)
        self.sharded = shard is not None

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        if self.by_rows:
            order = epoch_order(self.shuffle, self.rng_of, self.n) if self.shuffle else None
            yield from _served(self, order)
            return
        X, y, xp = self.X, self.y, self.backend.xp
        if not self.shuffle:
            for a, b, offset, total in self.parts:
                self.current = (offset, total)
                yield rows(X, slice(a, b)), y[a:b, ...]
            return
        # one copy to the device per epoch (none on NumPy, where the order is only read)
        idx = self.backend.asarray(epoch_order(self.shuffle, self.rng_of, self.n), copy=False)
        for a, b, offset, total in self.parts:
            part = idx[a:b]
            self.current = (offset, total)
            yield rows(X, part, xp), xp.take(y, part, axis=0)


def _served(batches: Any, order: np.ndarray | None) -> Iterator[tuple[Array, Array]]:
    """The batches ``batches.parts`` of ``order`` (None: in order) when X or y is :class:`HostRows`:
    those gather their rows on the host; device arrays take them with the order copied to the device
    once (only when some are)."""
    X, y, xp = batches.X, batches.y, batches.backend.xp
    on_device = None
    if order is not None and not (_host_rows(X, every=True) and _host_rows(y, every=True)):
        on_device = batches.backend.asarray(order, copy=False)
    for a, b, offset, total in batches.parts:
        batches.current = (offset, total)
        if order is None:
            yield serve(X, slice(a, b)), serve(y, slice(a, b))
        else:
            part, dpart = order[a:b], None if on_device is None else on_device[a:b]
            yield serve(X, part, dpart, xp), serve(y, part, dpart, xp)


class WrapBatches:
    """Full batches from an endless shuffled stream that wraps around the end (document 004).

    ``state`` is the training state: its ``stream`` (``{"perm": ndarray, "pos": int}``) is read
    and advanced, so the stream continues across ``fit`` calls and checkpoints. X and y may be
    :class:`HostRows`; ``shard=(rank, size)`` yields this process's slice of each batch and sets
    ``current`` as :class:`ArrayBatches` does.
    """

    def __init__(self, X: Array, y: Array, *, batch_size: int, shuffle: bool, state: Any, rng_of: Any,
                 backend: Backend, steps: int | None = None, shard: tuple[int, int] | None = None) -> None:
        self.X, self.y, self.backend, self.state, self.rng_of = X, y, backend, state, rng_of
        self.n, self.batch_size, self.shuffle = n_rows(X), batch_size, shuffle
        self.steps = steps or math.ceil(self.n / batch_size)
        shard = None if shard is None else _check_shard(shard, "WrapBatches")
        self.parts = [shard_span(i * batch_size, (i + 1) * batch_size, shard) for i in range(self.steps)]
        self.by_rows = _host_rows(X) or _host_rows(y)
        self.current = (0, 0)
        #: whether the batches are one process's slices (their losses and metrics must be summed)
        self.sharded = shard is not None

    def __len__(self) -> int:
        return self.steps

    def _order(self) -> np.ndarray:
        return epoch_order(self.shuffle, self.rng_of, self.n) if self.shuffle else np.arange(self.n)

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        stream = self.state.stream
        perm = np.asarray(stream["perm"], dtype=np.int64) if stream else None
        pos = int(stream["pos"]) if stream else 0
        if perm is None or perm.shape[0] != self.n:
            perm, pos = self._order(), 0
        chunks, need = [], self.steps * self.batch_size
        while need > 0:
            take = min(need, self.n - pos)
            chunks.append(perm[pos:pos + take])
            pos, need = pos + take, need - take
            if pos == self.n:
                perm, pos = self._order(), 0
        self.state.stream = {"perm": perm, "pos": pos}
        if self.by_rows:
            yield from _served(self, np.concatenate(chunks))
            return
        idx = self.backend.asarray(np.concatenate(chunks))
        xp = self.backend.xp
        for a, b, offset, total in self.parts:
            part = idx[a:b]
            self.current = (offset, total)
            yield rows(self.X, part, xp), xp.take(self.y, part, axis=0)


class StreamBatches:
    """The user's ``(X, y)`` batches, each checked (:func:`prepare_x`, :func:`prepare_y`) and put on
    the device as it arrives; errors name the batch ("batch 3: X contains NaN").

    Arguments:
        source: an iterable of ``(X, y)`` pairs. A re-iterable (``iter()`` gives a fresh iterator:
            a list, a DataLoader) is one pass per epoch; a one-shot iterator (a generator) gives
            ``steps`` batches per epoch, so ``fit`` needs ``steps`` for it.
        loss: checks the targets; steps: batches per epoch (a cap for a re-iterable, and for scoring).
        fitting: ``fit``'s batches (a DataFrame's column names are recorded, a one-shot iterator
            needs ``steps``); min_batch: the fewest rows a training batch may have (BatchNorm: 2).

    Example:
        >>> import numpy as np
        >>> from anynet import Sequential
        >>> from anynet.layers import Dense
        >>> from anynet.losses import get
        >>> model = Sequential([Dense(2, 1)], seed=0)
        >>> pairs = [(np.ones((3, 2)), np.zeros(3)), (np.ones((2, 2)), np.zeros(2))]
        >>> [len(yb) for _, yb in StreamBatches(model, pairs, loss=get("mse"), steps=None, where="demo")]
        [3, 2]
    """

    def __init__(self, model: Any, source: Any, *, loss: Any, steps: int | None, where: str, fitting: bool = False,
                 min_batch: int = 1) -> None:
        self.model, self.source, self.loss, self.steps, self.where = model, source, loss, steps, where
        self.fitting, self.min_batch = fitting, max(min_batch, 1)
        # iter(x) is x for a one-shot iterator; asked without calling iter(), which may start a DataLoader's workers
        self.one_shot = isinstance(source, Iterator)
        if self.one_shot and steps is None and fitting:
            raise InputError(f"{where}: X is a one-shot iterator ({type(source).__name__}), so the epochs cannot be "
                             "told apart; give steps_per_epoch (batches per epoch), or a re-iterable such as a list "
                             "or a DataLoader")
        n = len(source) if steps is None and hasattr(source, "__len__") else None
        self.n_steps: int | None = steps if steps is not None else n

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        it = self.source if self.one_shot else iter(self.source)
        i = 0
        while self.steps is None or i < self.steps:
            try:
                item = next(it)
            except StopIteration:
                if self.one_shot and self.steps is not None and self.fitting:
                    raise InputError(f"{self.where}: the stream ran out at epoch {self.model.train_state.epoch}, "
                                     f"batch {i} (counting from 0): steps_per_epoch={self.steps} asks for more "
                                     "batches than it had left; lower steps_per_epoch or epochs, or give a longer "
                                     "stream") from None
                return
            yield self._prepare(item, i)
            i += 1

    def _prepare(self, item: Any, i: int) -> tuple[Array, Array]:
        where = f"{self.where}: batch {i}"
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise InputError(f"{where} is a {type(item).__name__}, not an (X, y) pair; a stream gives (X, y) "
                             "batches (to train on one data set, give arrays X and y)")
        xb = prepare_x(self.model, item[0], where, fitting=self.fitting and i == 0)
        n = n_rows(xb)
        if n < self.min_batch:
            raise InputError(f"{where} has {n} rows; {'training needs' if self.fitting else 'give'} at least "
                             f"{self.min_batch} per batch" + (" (a BatchNorm layer needs 2)" * (self.min_batch > 1)))
        return xb, prepare_y(self.model, item[1], self.loss, n, where)


def epoch_steps(batches: Any) -> int | None:
    """Batches per epoch, None when a stream does not say."""
    return batches.n_steps if isinstance(batches, StreamBatches) else len(batches)
