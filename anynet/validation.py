"""Input validation: the one place every public entry point checks what it was given.

Messages name the function, what was expected, what came, and the fix. Checks that need the
values (NaN, label ranges) run once at an entry point (``fit``, ``predict``, a layer called by a
user), never inside the training step, so they cost no device synchronisation per batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .backends import Backend, backend_of, is_array
from .errors import InputError, InputTypeError


def dtype_kind(x: Any) -> str:
    """``"float"``, ``"int"``, ``"bool"``, ``"complex"`` or ``"other"`` for an array of any backend."""
    xp = backend_of(x).xp
    dt = x.dtype
    for kind, name in (("bool", "bool"), ("float", "real floating"), ("int", "integral"),
                       ("complex", "complex floating")):
        try:
            if xp.isdtype(dt, name):
                return kind
        except TypeError:
            continue
    return "other"


def as_host_array(x: Any, where: str, what: str = "X") -> np.ndarray | Any:
    """Accept an array of any backend, or a nested list of numbers (turned into NumPy). A NumPy
    masked array is refused when it masks anything (its hidden values would be used)."""
    if isinstance(x, np.ma.MaskedArray):
        if np.ma.count_masked(x):
            raise InputError(f"{where}: {what} is a masked array with {np.ma.count_masked(x)} masked values; anynet "
                             f"would read the values under the mask. Drop those rows or fill them "
                             f"({what}.filled(value)) first")
        return np.asarray(x.data)
    if is_array(x):
        return x
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as exc:
            raise InputError(f"{where}: {what} is a ragged list and cannot become an array ({exc})") from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise InputTypeError(f"{where}: {what} must hold numbers, got a list of {arr.dtype}")
        return arr
    if isinstance(x, np.generic):
        return np.asarray(x)
    raise InputTypeError(
        f"{where}: {what} must be an array (NumPy, CuPy, torch, JAX, array-api-strict), "
        f"got {type(x).__name__}"
    )


def check_features(
    x: Any,
    *,
    where: str,
    width: int | None = None,
    what: str = "X",
    finite: bool = True,
    backend: Backend | None = None,
) -> Any:
    """Check a 2-D float input of shape (n_samples, width); return it unchanged.

    ``finite=True`` reads the values (one device synchronisation): use it at entry points only.
    """
    x = as_host_array(x, where, what)
    if isinstance(x, np.ndarray) and x.dtype == object:
        raise InputTypeError(f"{where}: {what} has dtype object; convert it with {what}.astype('float32')")
    if backend is not None and backend_of(x) != backend:
        raise_mismatch(where, what, backend_of(x), backend)
    kind = dtype_kind(x)
    if kind != "float":
        raise InputTypeError(
            f"{where}: {what} must be a floating-point array, got dtype {x.dtype} ({kind}); "
            f"convert it with {what}.astype('float32') (or 'float64')"
        )
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise InputError(
            f"{where}: {what} must be 2-D with shape (n_samples, n_features), got shape {shape}"
            + ("; for one sample use x.reshape(1, -1)" if len(shape) == 1 else "")
        )
    if shape[0] == 0:
        raise InputError(f"{where}: {what} has 0 samples (shape={shape}); at least 1 is required")
    if shape[1] == 0:
        raise InputError(f"{where}: {what} has 0 features (shape={shape}); at least 1 is required")
    if width is not None and shape[1] != width:
        raise InputError(
            f"{where}: {what} has {shape[1]} features per sample but {width} were expected "
            f"(got shape {shape}, expected (n_samples, {width}))"
        )
    if finite:
        check_finite(x, where=where, what=what)
    return x


#: NumPy data is read in chunks of at most this many rows and bytes: a memory-mapped file (or any large
#: array) is checked without a whole-array temporary, and a small one is one chunk, checked as before
CHUNK_ROWS, CHUNK_BYTES = 65_536, 4 << 20


def chunk_rows(x: Any, row_bytes: int | None = None) -> int:
    """Rows per chunk for reading ``x`` piecewise: at most ``CHUNK_ROWS`` rows and ``CHUNK_BYTES``
    bytes (of ``row_bytes`` per row when given: what a row becomes, e.g. a one-hot row)."""
    if row_bytes is None:
        row_bytes = math.prod(x.shape[1:]) * x.dtype.itemsize
    return max(1, min(CHUNK_ROWS, CHUNK_BYTES // max(row_bytes, 1)))


def row_chunks(x: Any, rows: int | None = None) -> Iterator[tuple[int, Any]]:
    """``(start, x[start:stop])`` for consecutive row chunks of ``x`` (:func:`chunk_rows` rows each)."""
    step = rows or chunk_rows(x)
    for a in range(0, int(x.shape[0]), step):
        yield a, x[a:a + step, ...]


def check_finite(x: Any, *, where: str, what: str = "X") -> None:
    """Raise if ``x`` holds NaN or ±inf (reads the values), naming the first row that does.

    A NumPy array (a ``numpy.memmap`` included) is read in row chunks by its minimum and maximum
    (NaN and ±inf show in them), so the check allocates nothing the size of the data.
    """
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biu":
            return  # integers are finite
        if x.ndim == 0:
            if not np.isfinite(x):
                _raise_nonfinite(x, where, what, 0)
            return
        if x.shape[0] <= CHUNK_ROWS and x.nbytes <= CHUNK_BYTES:  # one chunk (a batch): no slicing
            if x.size and not _all_finite(x):
                _raise_nonfinite(x, where, what, 0)
            return
        for a, part in row_chunks(x):
            if part.size and not _all_finite(part):
                _raise_nonfinite(part, where, what, a)
        return
    xp = backend_of(x).xp
    if not bool(_read(xp.all(xp.isfinite(x)))):
        _raise_nonfinite(x, where, what, 0)


def _read(x: Any) -> np.ndarray:
    """A device value on the host, read explicitly (``float(x)`` or ``bool(x)`` of a CuPy array is a
    device synchronisation hidden in a conversion): the one way these checks read what they reduce."""
    return np.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else np.asarray(backend_of(x).to_numpy(x))


def _all_finite(part: np.ndarray) -> bool:
    if part.dtype.kind == "f":  # NaN propagates through min and max, and ±inf is one of them: no temporary
        return bool(np.isfinite(part.min()) and np.isfinite(part.max()))
    return bool(np.isfinite(part).all())


def _raise_nonfinite(x: Any, where: str, what: str, start: int) -> None:
    """The error for non-finite ``x`` (rows from ``start`` on), with the kind and row of the first bad value."""
    host = np.asarray(x) if isinstance(x, np.ndarray) else backend_of(x).to_numpy(x)
    bad = ~np.isfinite(host)
    if host.ndim == 0:
        kind = "NaN" if np.isnan(host) else "infinity"
        raise InputError(f"{where}: {what} contains {kind}; remove or impute those values first")
    row = int(np.argmax(bad.reshape(host.shape[0], -1).any(axis=1)))
    kind = "NaN" if np.isnan(host[row, ...]).any() else "infinity"
    raise InputError(f"{where}: {what} contains {kind} (first in row {start + row}); remove or impute those values "
                     "first")


def raise_mismatch(where: str, what: str, got: Backend, expected: Backend) -> None:
    from .errors import BackendMismatchError

    raise BackendMismatchError(
        f"{where}: {what} is on {got.spec} but the model is on {expected.spec}; move it with "
        f"{what} = anynet.to_device({what}, {expected.spec!r}) or move the model with "
        f"model.to({got.spec!r})"
    )


def check_class_labels(y: Any, n_classes: int, *, where: str, n_samples: int | None = None) -> Any:
    """Check integer class labels in [0, n_classes); returns them as an integer array.

    Float arrays holding whole numbers are accepted (and converted); fractions are refused.
    Runs before any gather, on every backend (CuPy would wrap bad indices silently).
    """
    y = as_host_array(y, where, "y")
    xp = backend_of(y).xp
    if len(tuple(y.shape)) != 1:
        raise InputError(f"{where}: class labels y must be 1-D of shape (n_samples,), got shape {tuple(y.shape)}")
    if n_samples is not None and y.shape[0] != n_samples:
        raise InputError(f"{where}: y has {y.shape[0]} labels but X has {n_samples} samples")
    kind = dtype_kind(y)
    if kind == "float":
        finite, whole = _read(xp.stack([xp.all(xp.isfinite(y)), xp.all(y == xp.round(y))])).tolist()
        if not finite:
            raise InputError(f"{where}: labels y contain NaN or infinity")
        if not whole:
            raise InputError(f"{where}: labels y must be whole numbers (class indices), got fractional values")
        y = xp.astype(y, xp.int64)
    elif kind == "bool":
        y = xp.astype(y, xp.int64)
    elif kind != "int":
        raise InputTypeError(f"{where}: labels y must be integers in [0, {n_classes}), got dtype {y.dtype}")
    if y.shape[0]:
        lo, hi = _read(xp.stack([xp.min(y), xp.max(y)])).tolist()
        if lo < 0 or hi >= n_classes:
            first = int(_read(xp.argmax(xp.astype((y < 0) | (y >= n_classes), xp.int8))))  # the error path only
            raise InputError(
                f"{where}: labels must lie in [0, {n_classes}) for {n_classes} classes, got values "
                f"from {lo} to {hi}; the first out of range is at index {first} of these labels "
                f"(value {int(_read(y[first]))})"
            )
    return y
