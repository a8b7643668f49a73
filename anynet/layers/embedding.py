"""Embedding layer: one learned row per category, ``y = W[ids]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import init as initializers
from ..backends import Backend, backend_of, is_array, to_numpy
from ..dtypes import dtype_name
from ..errors import InputError, InputTypeError
from ..random import Seed, as_generator
from ..registry import register
from ..validation import as_host_array, raise_mismatch
from .base import Array, Backward, Layer, positive_int

#: float32 holds every whole number up to 2**24 exactly, and not all of them beyond
_FLOAT32_WHOLE = 2**24


def _index_dtype(xp: Any, n: int) -> Any:
    """int32 for indices below 2**31 (every backend has it; JAX without x64 has no int64), else int64."""
    return xp.int32 if n < 2**31 else xp.int64


@register("layer")
class Embedding(Layer):
    """A learned vector per category: ``y[i] = W[ids[i]]`` (a lookup table, as
    ``torch.nn.Embedding`` and Keras's ``Embedding``), for categorical columns.

    Arguments:
        n_categories: how many categories; ids run from 0 to ``n_categories - 1``.
        dim: the width of each category's vector (the output width).
        init: initialiser of ``W`` (default ``"normal"``, N(0, 1), as torch's), a name from
            :mod:`anynet.init` or a callable ``(shape, rng) -> ndarray``.
        seed: a seed or ``numpy.random.Generator`` for ``W`` (drawn on the host: the same
            weights on every backend).
        dtype: float dtype of ``W`` (default: the scoped default, float32).
        backend: backend spec of ``W`` (default: the current backend).

    Shapes:
        ids: (n,) or (n, 1) → y: (n, dim). ``params["W"]``: (n_categories, dim).

    Input: integer category ids; a float array of whole numbers is accepted too (what a network's
    input is today, since networks cast their inputs to the model's float dtype), exact up to 2**24
    in float32 (refused beyond: use float64 or integer ids). An id that is negative, not below
    ``n_categories``, fractional, NaN or infinite, and a bool array, raise
    :class:`~anynet.InputError` naming the layer and the value, wherever the values can be read
    without a device synchronisation in a training step: on the checked entries (``layer(x)``,
    ``checked_forward``), in inference (``training=False``: one read per call) and on NumPy
    (no device). A training step on a device reads nothing: the rows of bad ids come out NaN,
    so the loss is NaN and ``fit`` stops at the end of the epoch (NonFiniteLossError); no bad id
    ever reads another category's row.

    The gradient of ``W`` (a scatter-add, which the Array API lacks) is computed by sorting the
    ids and a segmented tree sum of the output gradient's rows: each row of ``grads["W"]`` is a
    sum of exactly the rows of its category's samples, with additions only, in the same order on
    every backend (bit-identical across backends; equal to ``torch.nn.Embedding``'s gradient
    within summation-order rounding: 1e-12 relative in float64, 1e-6 in float32, exact for
    exactly representable sums). A category absent from the batch gets a zero row. The input
    gradient is zero (ids are not differentiable).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Embedding
        >>> layer = Embedding(10, 4, seed=0)
        >>> y, backward = layer.forward(np.asarray([3, 1, 3]), training=True)
        >>> _ = backward(np.ones((3, 4), np.float32))
        >>> y.shape, layer.grads["W"][3].tolist(), layer.grads["W"][0].tolist()
        ((3, 4), [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0])
    """

    in_features = 1

    def __init__(
        self,
        n_categories: int,
        dim: int,
        *,
        init: Any = "normal",
        seed: Seed = None,
        dtype: Any = None,
        backend: Backend | str | None = None,
    ) -> None:
        super().__init__()
        self.n_categories = positive_int(n_categories, "Embedding", "n_categories")
        self.dim = positive_int(dim, "Embedding", "dim")
        self.init = initializers.get(init)
        self._place(backend, dtype)
        self._initialize(seed)

    def output_features(self, in_features: int | Sequence[int]) -> int:
        self._one_width(in_features)
        return self.dim

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.n_categories, self.dim)}

    def reset_parameters(self, rng: Seed = None) -> None:
        rng = as_generator(rng)
        self.params = {"W": self._send(initializers.sample(self.init, (self.n_categories, self.dim), rng,
                                                           self.dtype))}
        self.grads = {}

    # -- ids ---------------------------------------------------------------------------------------
    def _flat(self, xp: Any, x: Array, where: str) -> tuple[Array, str]:
        """``x`` as (n,) and its kind, after the checks that read no values (shape, dtype); ``xp``
        is the ids' namespace (asked of no array: a traced JAX array cannot say its device)."""
        kind = _kind(xp, x)
        if kind not in ("int", "float"):
            hint = " (bool is not a category id: convert with x.astype('int64') if 0/1 are the ids)" \
                if kind == "bool" else ""
            raise InputTypeError(f"{where}: category ids must be integers (or floats holding whole numbers), got "
                                 f"dtype {x.dtype}{hint}")
        shape = tuple(x.shape)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise InputError(f"{where}: category ids must have shape (n,) or (n, 1), one id per sample, got shape "
                             f"{shape}; give each categorical column an Embedding of its own")
        if shape[0] == 0:
            raise InputError(f"{where}: got 0 samples (shape {shape}); at least 1 is required")
        if kind == "float" and dtype_name(x.dtype) == "float32" and self.n_categories > _FLOAT32_WHOLE:
            raise InputError(f"{where}: {self.n_categories} categories do not fit float32 ids exactly (whole numbers "
                             f"are exact up to {_FLOAT32_WHOLE}); pass integer ids or use a float64 model")
        return (x if len(shape) == 1 else xp.reshape(x, (-1,))), kind

    def _valid(self, xp: Any, flat: Array, kind: str) -> Array:
        """(n,) bool, on the ids' device: which ids name a category (no host read)."""
        ok = (flat >= 0) & (flat < self.n_categories)
        if kind == "float":  # NaN and ±inf fail the range test; fractions fail this one
            ok = ok & (flat == xp.floor(flat))
        return ok

    def _raise_bad(self, flat: Array, ok: Array, where: str) -> None:
        """The error for the first id that ``ok`` refuses (reads that one id: the error path only)."""
        xp = backend_of(flat).xp
        first = int(to_numpy(xp.argmax(xp.astype(~ok, xp.int8))))
        value = to_numpy(flat[first:first + 1])[0]
        shown = repr(int(value)) if np.isfinite(value) and value == np.floor(value) else repr(float(value))
        why = "not a whole number" if np.isfinite(value) and value != np.floor(value) else \
            f"outside [0, {self.n_categories})"
        raise InputError(f"{where}: category id {shown} at row {first} is {why}; ids must be whole numbers from 0 to "
                         f"{self.n_categories - 1}. Map unseen or missing categories to an id of their own (and "
                         f"count it in n_categories), or build Embedding with more categories")

    def check_ids(self, x: Any, where: str | None = None) -> Array:
        """Check category ids (shape, dtype and values; one explicit host read for a device array,
        none for NumPy) and return them as (n,) integers on their backend (int32 below 2**31
        categories, else int64). Raises InputError or
        InputTypeError naming the layer and the first bad id."""
        where = where or f"{self!r}"
        x = as_host_array(x, where, "ids")
        xp = backend_of(x).xp
        flat, kind = self._flat(xp, x, where)
        ok = self._valid(xp, flat, kind)
        if not bool(to_numpy(xp.all(ok))):
            self._raise_bad(flat, ok, where)
        index = _index_dtype(xp, self.n_categories)
        return flat if flat.dtype == index else xp.astype(flat, index)

    def _check_input(self, x: Any) -> Array:
        where = f"{self!r}.forward"
        if isinstance(x, (list, tuple)) and x and is_array(x[0]):
            raise InputTypeError(f"{where}: X is a list of {len(x)} arrays but Embedding takes one input, a column "
                                 "of category ids")
        x = as_host_array(x, where, "ids")
        if self.backend is not None and self.params and backend_of(x) != self.backend:
            raise_mismatch(where, "ids", backend_of(x), self.backend)
        return self.check_ids(x, where)

    # -- running -----------------------------------------------------------------------------------
    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        W = self.params["W"]
        xp = self.backend.xp  # type: ignore[union-attr]
        where = f"{self!r}.forward"
        if isinstance(x, np.ndarray) or not training:
            # the values can be read here (NumPy has no device; inference is no training step)
            ids = self.check_ids(x, where)
            y = xp.take(W, ids, axis=0)
        else:
            flat, kind = self._flat(xp, x, where)
            ok = self._valid(xp, flat, kind)
            ids = xp.astype(xp.where(ok, flat, xp.zeros_like(flat)), _index_dtype(xp, self.n_categories))
            rows = xp.take(W, ids, axis=0)
            # a bad id's row is NaN, never another category's: the loss shows it at the epoch's end
            y = xp.where(xp.reshape(ok, (-1, 1)), rows, xp.full_like(rows, float("nan")))
        n_categories, device = self.n_categories, self.backend.device  # type: ignore[union-attr]

        def backward(dy: Array) -> Array:
            self.grads["W"] = scatter_add_rows(ids, dy, n_categories, xp=xp, device=device)
            return xp.zeros_like(x, dtype=W.dtype) if need_dx else None

        return y, backward

    def config(self) -> dict[str, Any]:
        return {"n_categories": self.n_categories, "dim": self.dim}


def _kind(xp: Any, x: Array) -> str:
    """``"int"``, ``"float"``, ``"bool"`` or ``"other"``: :func:`~anynet.validation.dtype_kind` with
    the namespace given."""
    for kind, name in (("bool", "bool"), ("float", "real floating"), ("int", "integral")):
        if xp.isdtype(x.dtype, name):
            return kind
    return "other"


def scatter_add_rows(ids: Array, rows: Array, n_out: int, *, xp: Any = None, device: Any = None) -> Array:
    """``out[c] = Σ rows[i] for ids[i] == c``, with standard Array API operations only.

    Sorts the ids (stably), then a segmented inclusive scan (Hillis–Steele, ⌈log2 n⌉ steps of
    shifted additions within runs of equal ids) leaves each run's sum at its last row, which a
    ``searchsorted`` per output row gathers. Additions only (no multiplication by a 0/1 mask, so a
    non-finite row never leaks into another category's sum), in an order fixed by the sorted ids:
    the same result, bit for bit, on every backend.

    ``xp`` and ``device`` (default: asked of ``rows``) are given where ``rows`` cannot say them
    (a JAX array traced by ``jax.jit``).

    Shapes:
        ids: (n,) integers in [0, n_out); rows: (n, d) → (n_out, d).
    """
    if xp is None:
        b = backend_of(rows)
        xp, device = b.xp, b.device
    order = xp.argsort(ids, stable=True)
    keys = xp.take(ids, order)
    acc = xp.take(rows, order, axis=0)
    n = int(keys.shape[0])
    shift = 1
    while shift < n:
        same = xp.reshape(keys[shift:] == keys[:-shift], (-1, 1))
        earlier = acc[:-shift, :]
        acc = xp.concat([acc[:shift, :], acc[shift:, :] + xp.where(same, earlier, xp.zeros_like(earlier))], axis=0)
        shift *= 2
    cats = xp.arange(n_out, dtype=keys.dtype, device=device)
    last = xp.searchsorted(keys, cats, side="right") - 1  # the last row of each category's run (if any)
    at = xp.astype(xp.maximum(last, xp.zeros_like(last)), keys.dtype)
    present = (last >= 0) & (xp.take(keys, at) == cats)
    picked = xp.take(acc, at, axis=0)
    return xp.where(xp.reshape(present, (-1, 1)), picked, xp.zeros_like(picked))
