"""Layers with several inputs, for graphs: ``Add`` and ``Concatenate``.

They follow the one layer contract with lists in place of single arrays: ``forward(xs)`` takes
a list of arrays of equal row count, ``backward(dy)`` returns one gradient per input, and
``output_features`` takes the list of input widths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..backends import backend_of, namespace_of
from ..dtypes import dtype_name
from ..errors import BackendMismatchError, ConfigError, InputError, InputTypeError
from ..registry import register
from ..validation import check_features
from .base import Array, Layer, positive_int

MultiBackward = Callable[[Array], list[Array]]


class Merge(Layer):
    """Base of layers that read several inputs: ``forward(xs)`` takes a list of arrays of equal
    row count and ``backward(dy)`` returns a list; ``output_features`` takes a list of widths.

    Subclasses implement ``forward`` and ``output_features`` (the built-in ones implement
    ``_merged_width``, given widths already checked to be a non-empty list of positive ints).
    The base class gives them the checked entries ``layer([x1, x2])`` and ``checked_forward``.
    """

    def output_features(self, in_features: int | Sequence[int]) -> int:
        return self._merged_width(self._many_widths(in_features))

    def _merged_width(self, widths: list[int]) -> int:
        raise NotImplementedError

    def _many_widths(self, in_features: Any) -> list[int]:
        name = type(self).__name__
        if not isinstance(in_features, (list, tuple)):
            raise ConfigError(f"{name} takes a list of inputs, e.g. ({name}(), ['a', 'b']), "
                              f"got a single input of width {in_features!r}")
        if not in_features:
            raise ConfigError(f"{name} needs at least one input, got an empty list")
        return [positive_int(w, f"{name}.output_features", "every input width") for w in in_features]

    def _check_input(self, xs: Any) -> list[Array]:
        where = f"{self!r}.forward"
        if not isinstance(xs, (list, tuple)):
            raise InputTypeError(f"{where}: X must be a list of arrays, one per input, got {type(xs).__name__}; "
                                 "call it as layer([x1, x2])")
        if not xs:
            raise InputError(f"{where}: X is an empty list; give one array per input")
        out = [check_features(x, where=where, what=f"X[{i}]") for i, x in enumerate(xs)]
        first = backend_of(out[0])
        for i, x in enumerate(out):
            b = backend_of(x)
            if b != first:
                raise BackendMismatchError(f"{where}: X[{i}] is on {b.spec} but X[0] is on {first.spec}; move it "
                                           f"with X[{i}] = anynet.to_device(X[{i}], {first.spec!r})")
            if dtype_name(x.dtype) != dtype_name(out[0].dtype):
                raise InputTypeError(f"{where}: X[{i}] has dtype {dtype_name(x.dtype)} but X[0] has "
                                     f"{dtype_name(out[0].dtype)}; convert them to one dtype")
            self._check_dtype(x, where)
        rows = [int(x.shape[0]) for x in out]
        if len(set(rows)) > 1:
            raise InputError(f"{where}: the inputs have different numbers of samples {rows}; they must match")
        try:
            self.output_features([int(x.shape[1]) for x in out])
        except ConfigError as exc:
            raise InputError(f"{where}: {exc}") from None
        return out


@register("layer")
class Add(Merge):
    """Elementwise sum of inputs of equal width.

    Shapes:
        xs: k arrays (n, d) → y: (n, d); ``backward(dy)`` returns k arrays (n, d).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Add
        >>> y, back = Add().forward([np.ones((1, 2)), np.ones((1, 2))])
        >>> y.tolist(), len(back(np.ones((1, 2))))
        ([[2.0, 2.0]], 2)
    """

    def _merged_width(self, widths: list[int]) -> int:
        if len(set(widths)) != 1:
            raise ConfigError(f"Add: all inputs must have the same width, got widths {widths}")
        return widths[0]

    def forward(self, x: list[Array], *, training: bool = False,
                need_dx: bool = True) -> tuple[Array, MultiBackward]:
        y = x[0]
        for xi in x[1:]:
            y = y + xi
        k = len(x)
        if not need_dx:
            return y, lambda dy: [None] * k
        # the same dy for every input: no layer writes into the gradient it receives
        return y, lambda dy: [dy] * k


@register("layer")
class Concatenate(Merge):
    """Join inputs along the feature axis.

    Shapes:
        xs: (n, d1), (n, d2) … → y: (n, d1 + d2 + …); ``backward(dy)`` returns the slices of
        dy, (n, d1), (n, d2) ….

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Concatenate
        >>> y, back = Concatenate().forward([np.zeros((1, 2)), np.ones((1, 1))])
        >>> y.tolist(), [d.shape for d in back(np.ones((1, 3)))]
        ([[0.0, 0.0, 1.0]], [(1, 2), (1, 1)])
    """

    def _merged_width(self, widths: list[int]) -> int:
        return sum(widths)

    def forward(self, x: list[Array], *, training: bool = False,
                need_dx: bool = True) -> tuple[Array, MultiBackward]:
        xp = namespace_of(x[0])
        widths = [int(xi.shape[1]) for xi in x]
        y = xp.concat(x, axis=1)

        def backward(dy: Array) -> list[Array]:
            if not need_dx:
                return [None] * len(widths)
            out, start = [], 0
            for w in widths:
                out.append(dy[:, start:start + w])
                start += w
            return out

        return y, backward
