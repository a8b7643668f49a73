"""Batch normalisation for 2-D input, with running statistics for evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import Backend
from ..errors import ConfigError, InputError
from ..random import Seed
from ..registry import register
from ..shard import current as current_shard
from .base import Array, Backward, Layer, is_real, positive_eps, positive_int


@register("layer")
class BatchNorm(Layer):
    """Normalise each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Training uses the batch mean and (biased) variance and updates the running statistics
    ``running = (1 - momentum)·running + momentum·batch`` (unbiased variance, as PyTorch);
    evaluation uses the running statistics. Training needs at least 2 samples per batch
    (``min_batch_size``): the variance of one sample is 0, and it would collapse the running variance.

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

    in_features: int  # always set by the constructor (Layer's default, None, means any width)

    #: one sample has no variance to learn from
    min_batch_size = 2

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
        self.in_features = positive_int(num_features, "BatchNorm", "num_features")
        if not is_real(momentum) or not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.eps = positive_eps(eps, "BatchNorm")
        self._place(backend, dtype)
        self._initialize(None)

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        d = (self.in_features,)
        return {"gamma": d, "beta": d, "running_mean": d, "running_var": d}

    def buffer_keys(self) -> frozenset[str]:
        return frozenset(("running_mean", "running_var"))

    def reset_parameters(self, rng: Seed = None) -> None:
        d = self.in_features
        assert d is not None
        self.params = {"gamma": self._send(np.ones(d)), "beta": self._send(np.zeros(d))}
        self.buffers = {"running_mean": self._send(np.zeros(d)), "running_var": self._send(np.ones(d))}
        self.grads = {}

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        xp = self.backend.xp  # type: ignore[union-attr]
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            inv = 1.0 / xp.sqrt(self.buffers["running_var"] + self.eps)
            xhat = (x - self.buffers["running_mean"]) * inv
            y = gamma * xhat + beta

            def backward_eval(dy: Array) -> Array | None:
                self.grads["gamma"] = xp.sum(dy * xhat, axis=0)
                self.grads["beta"] = xp.sum(dy, axis=0)
                return dy * gamma * inv if need_dx else None

            return y, backward_eval

        part = current_shard()  # data-parallel: statistics over the global batch (synchronized BatchNorm)
        n = int(x.shape[0]) if part is None else part.total
        if n < 2:
            raise InputError(f"{self!r}: expected more than 1 sample per feature in training mode, got a batch "
                             f"of {n} (its variance is 0 and would collapse running_var); train on batches "
                             "of 2 or more, or call it with training=False")
        total = (lambda a: xp.sum(a, axis=0)) if part is None else (lambda a: part.allreduce(xp.sum(a, axis=0)))
        average = (lambda a: xp.mean(a, axis=0)) if part is None else (lambda a: total(a) / n)
        mean = average(x)
        centred = x - mean
        var = average(centred * centred)
        inv = 1.0 / xp.sqrt(var + self.eps)
        xhat = centred * inv
        y = gamma * xhat + beta
        m = self.momentum
        unbiased = var * (n / (n - 1))
        # rebinding (not in place) works on every backend, JAX included
        self.buffers["running_mean"] = (1.0 - m) * self.buffers["running_mean"] + m * mean
        self.buffers["running_var"] = (1.0 - m) * self.buffers["running_var"] + m * unbiased

        def backward(dy: Array) -> Array | None:
            self.grads["gamma"] = xp.sum(dy * xhat, axis=0)
            self.grads["beta"] = xp.sum(dy, axis=0)
            if not need_dx:
                return None
            dxhat = dy * gamma
            return (inv / n) * (n * dxhat - total(dxhat) - xhat * total(dxhat * xhat))

        return y, backward

    def check_state(self, key: str, array: np.ndarray) -> None:
        """``running_var`` must be finite and ≥ 0 (a variance; a negative one gives NaN outputs)."""
        if key != "running_var":
            return
        values = np.asarray(array, dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{self!r}: running_var must be >= 0 and finite (it is a variance), got "
                             f"{float(values.reshape(-1)[i])} at index {i}; the state dict or checkpoint is corrupt")

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"num_features": self.in_features}
        if self.momentum != 0.1:
            cfg["momentum"] = self.momentum
        if self.eps != 1e-5:
            cfg["eps"] = self.eps
        return cfg
