"""Layer normalisation: each sample normalised over its own features."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import Backend, namespace_of
from ..random import Seed
from ..registry import register
from .base import Array, Backward, Layer, positive_eps, positive_int


@register("layer")
class LayerNorm(Layer):
    """Normalise each sample over its features, then scale by ``gamma`` and shift by ``beta``.

    ``y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta``, with the mean and the biased
    variance taken over the features of each row, as ``torch.nn.LayerNorm``. Unlike
    :class:`~anynet.layers.BatchNorm` it keeps no running statistics: training and evaluation
    compute the same thing, and a batch of one sample is fine. A constant row gives ``beta``.

    Arguments:
        num_features: width d of the input.
        eps: added to the variance before the square root.
        elementwise_affine: learn ``gamma`` (initially ones) and ``beta`` (initially zeros);
            without them the layer has no parameters.
        dtype: float dtype of the parameters (default: the scoped default, float32).
        backend: backend spec of the parameters (default: the current backend). Without
            ``elementwise_affine``, ``dtype`` and ``backend`` are unused: the input's are kept.

    Shapes:
        x: (n, d) → y: (n, d); ``params["gamma"]``, ``params["beta"]``: (d,).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import LayerNorm
        >>> y = LayerNorm(3)(np.asarray([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], np.float32))
        >>> np.round(y.astype(np.float64), 3).tolist()
        [[-1.225, 0.0, 1.225], [0.0, 0.0, 0.0]]
    """

    in_features: int  # always set by the constructor (Layer's default, None, means any width)

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Any = None,
        backend: Backend | str | None = None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(num_features, "LayerNorm", "num_features")
        self.eps = positive_eps(eps, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            # without parameters, like Activation, it takes any backend and dtype
            self._place(backend, dtype)
            self._initialize(None)

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        d = (self.in_features,)
        return {"gamma": d, "beta": d} if self.elementwise_affine else {}

    def reset_parameters(self, rng: Seed = None) -> None:
        d = self.in_features
        assert d is not None
        self.params = {"gamma": self._send(np.ones(d)), "beta": self._send(np.zeros(d))} \
            if self.elementwise_affine else {}
        self.grads = {}

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        affine = self.elementwise_affine
        # without parameters the layer is not tied to a backend: follow the input's
        xp = self.backend.xp if affine else namespace_of(x)  # type: ignore[union-attr]
        mean = xp.mean(x, axis=1, keepdims=True)
        centred = x - mean
        # two passes (centre, then square) keep the variance >= 0 and accurate for large offsets
        var = xp.mean(centred * centred, axis=1, keepdims=True)
        inv = 1.0 / xp.sqrt(var + self.eps)
        xhat = centred * inv
        if affine:
            gamma = self.params["gamma"]
            y = xhat * gamma + self.params["beta"]
        else:
            y = xhat

        def backward(dy: Array) -> Array | None:
            if affine:
                self.grads["gamma"] = xp.sum(dy * xhat, axis=0)
                self.grads["beta"] = xp.sum(dy, axis=0)
                dxhat = dy * gamma
            else:
                dxhat = dy
            if not need_dx:
                return None
            # d/dx of (x - mean) * inv, per row: the two means are over the row's features
            return inv * (dxhat - xp.mean(dxhat, axis=1, keepdims=True)
                          - xhat * xp.mean(dxhat * xhat, axis=1, keepdims=True))

        return y, backward

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"num_features": self.in_features}
        if self.eps != 1e-5:
            cfg["eps"] = self.eps
        if not self.elementwise_affine:
            cfg["elementwise_affine"] = False
        return cfg
