"""Inverted dropout with masks drawn on the host from an explicit generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..random import Seed, as_generator
from .base import Array, Backward, Layer, register_layer


@register_layer
class Dropout(Layer):
    """Zero each input with probability ``p`` while training, scaling the rest by 1/(1-p).

    In evaluation (``training=False``) it is the identity. The mask is drawn with a
    ``numpy.random.Generator`` on the host and sent to the device, so the same seed drops the
    same units on every backend (at the cost of one small host-to-device copy per step).

    Arguments:
        p: drop probability in [0, 1).
        seed: seed or Generator of the masks (a model's ``seed`` replaces it).

    Shapes:
        x: (n, d) → y: (n, d).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Dropout
        >>> y, _ = Dropout(0.5, seed=0).forward(np.ones((2, 4)), training=True)
        >>> sorted(set(y.ravel().tolist()))
        [0.0, 2.0]
    """

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = as_generator(seed)

    def reset_parameters(self, rng: Seed = None) -> None:
        self.rng = as_generator(rng)

    def _forward(self, x: Array, training: bool, need_dx: bool = True) -> tuple[Array, Backward]:
        if not training or self.p == 0.0:
            return x, lambda dy: dy
        keep = self.rng.random(tuple(x.shape)) >= self.p
        mask = self._backend_for(x).asarray(keep.astype(np.float64) / (1.0 - self.p), dtype=x.dtype)
        return x * mask, lambda dy: dy * mask

    def config(self) -> dict[str, Any]:
        return {"p": self.p}
