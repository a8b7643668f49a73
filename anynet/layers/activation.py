"""Activation as a layer: ``Activation("tanh")``."""

from __future__ import annotations

from typing import Any

from .. import activations
from ..registry import register
from .base import Array, Backward, Layer


@register("layer")
class Activation(Layer):
    """An elementwise (or row-wise, for softmax) activation as a layer without parameters.

    Arguments:
        activation: a name from :mod:`anynet.activations` (``"relu"``, ``"leaky_relu"``, ...),
            an :class:`~anynet.activations.ActivationFn`, or a pair ``(f, df)`` of callables.
        **options: the activation's options (e.g. ``alpha=0.1`` for leaky_relu).

    Shapes:
        x: (n, d) → y: (n, d).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Activation
        >>> Activation("relu")(np.asarray([[-1.0, 2.0]])).tolist()
        [[0.0, 2.0]]
    """

    def __init__(self, activation: Any = "relu", **options: float) -> None:
        super().__init__()
        self.fn = activations.get(activation, **options)

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        fn = self.fn
        y = fn.forward(x)

        def backward(dy: Array) -> Array | None:
            return fn.backward(x, y, dy) if need_dx else None

        return y, backward

    def config(self) -> dict[str, Any]:
        return {"activation": self.fn.name, **self.fn.options}
