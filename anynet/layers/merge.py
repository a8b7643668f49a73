"""Layers with several inputs, for graphs: ``Add`` and ``Concatenate``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..backends import namespace_of
from ..errors import InputError
from .base import Array, Layer, register_layer

MultiBackward = Callable[[Array], list[Array]]


class Merge(Layer):
    """Base of layers that take a list of inputs: ``_forward_multi(xs, training)``."""

    multi_input = True

    def output_features_multi(self, widths: Sequence[int]) -> int:
        raise NotImplementedError

    def _forward_multi(self, xs: list[Array], training: bool) -> tuple[Array, MultiBackward]:
        raise NotImplementedError

    def _forward(self, x: Array, training: bool, need_dx: bool = True):
        return self._forward_multi([x], training)


@register_layer
class Add(Merge):
    """Elementwise sum of inputs of equal width: (n, d) × k → (n, d).

    Example:
        >>> import numpy as np
        >>> y, back = Add()._forward_multi([np.ones((1, 2)), np.ones((1, 2))], False)
        >>> y.tolist(), len(back(np.ones((1, 2))))
        ([[2.0, 2.0]], 2)
    """

    def output_features_multi(self, widths: Sequence[int]) -> int:
        if len(set(widths)) != 1:
            raise InputError(f"Add: all inputs must have the same width, got widths {list(widths)}")
        return widths[0]

    def _forward_multi(self, xs: list[Array], training: bool) -> tuple[Array, MultiBackward]:
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        k = len(xs)
        return y, lambda dy: [dy] * k


@register_layer
class Concatenate(Merge):
    """Join inputs along the feature axis: (n, d1), (n, d2) … → (n, d1 + d2 + …).

    Example:
        >>> import numpy as np
        >>> y, back = Concatenate()._forward_multi([np.zeros((1, 2)), np.ones((1, 1))], False)
        >>> y.tolist(), [d.shape for d in back(np.ones((1, 3)))]
        ([[0.0, 0.0, 1.0]], [(1, 2), (1, 1)])
    """

    def output_features_multi(self, widths: Sequence[int]) -> int:
        return sum(widths)

    def _forward_multi(self, xs: list[Array], training: bool) -> tuple[Array, MultiBackward]:
        xp = namespace_of(xs[0])
        widths = [int(x.shape[1]) for x in xs]
        y = xp.concat(xs, axis=1)

        def backward(dy: Array) -> list[Array]:
            out, start = [], 0
            for w in widths:
                out.append(dy[:, start:start + w])
                start += w
            return out

        return y, backward
