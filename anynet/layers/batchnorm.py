"""Batch normalisation for 2-D input, with running statistics for evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import Backend
from ..random import Seed
from .base import Array, Backward, Layer, register_layer


@register_layer
class BatchNorm(Layer):
    """Normalise each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Training uses the batch mean and (biased) variance and updates the running statistics
    ``running = (1 - momentum)·running + momentum·batch`` (unbiased variance, as PyTorch);
    evaluation uses the running statistics.

    Arguments:
        num_features: width d of the input.
        momentum: weight of the new batch in the running statistics.
        eps: added to the variance before the square root.

    Shapes:
        x: (n, d) → y: (n, d); ``params["gamma"]``, ``params["beta"]``: (d,);
        ``buffers["running_mean"]``, ``buffers["running_var"]``: (d,).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import BatchNorm
        >>> y, _ = BatchNorm(2).forward(np.asarray([[1.0, 2.0], [3.0, 6.0]], np.float32), training=True)
        >>> np.round(y, 3).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype: Any = None,
        backend: Backend | str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNorm: num_features must be a positive int, got {num_features!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps!r}")
        self.in_features = num_features
        self.momentum = float(momentum)
        self.eps = float(eps)
        self._place(backend, dtype)
        self.reset_parameters()

    def reset_parameters(self, rng: Seed = None) -> None:
        d = self.in_features
        assert d is not None
        self.params = {"gamma": self._send(np.ones(d)), "beta": self._send(np.zeros(d))}
        self.buffers = {"running_mean": self._send(np.zeros(d)), "running_var": self._send(np.ones(d))}
        self.grads = {}

    def _forward(self, x: Array, training: bool, need_dx: bool = True) -> tuple[Array, Backward]:
        xp = self.backend.xp  # type: ignore[union-attr]
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            inv = 1.0 / xp.sqrt(self.buffers["running_var"] + self.eps)
            xhat = (x - self.buffers["running_mean"]) * inv
            y = gamma * xhat + beta

            def backward_eval(dy: Array) -> Array:
                self.grads["gamma"] = xp.sum(dy * xhat, axis=0)
                self.grads["beta"] = xp.sum(dy, axis=0)
                return dy * gamma * inv

            return y, backward_eval

        n = x.shape[0]
        mean = xp.mean(x, axis=0)
        centred = x - mean
        var = xp.mean(centred * centred, axis=0)
        inv = 1.0 / xp.sqrt(var + self.eps)
        xhat = centred * inv
        y = gamma * xhat + beta
        m = self.momentum
        unbiased = var * (n / (n - 1)) if n > 1 else var
        # rebinding (not in place) works on every backend, JAX included
        self.buffers["running_mean"] = (1.0 - m) * self.buffers["running_mean"] + m * mean
        self.buffers["running_var"] = (1.0 - m) * self.buffers["running_var"] + m * unbiased

        def backward(dy: Array) -> Array:
            self.grads["gamma"] = xp.sum(dy * xhat, axis=0)
            self.grads["beta"] = xp.sum(dy, axis=0)
            dxhat = dy * gamma
            return (inv / n) * (n * dxhat - xp.sum(dxhat, axis=0) - xhat * xp.sum(dxhat * xhat, axis=0))

        return y, backward

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"num_features": self.in_features}
        if self.momentum != 0.1:
            cfg["momentum"] = self.momentum
        if self.eps != 1e-5:
            cfg["eps"] = self.eps
        return cfg
