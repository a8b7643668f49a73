"""Dense (fully-connected) layer: ``y = act(x @ W + b)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import activations
from .. import init as initializers
from ..backends import Backend
from ..random import Seed, as_generator
from ..registry import register
from .base import Array, Backward, Layer, positive_int


@register("layer")
class Dense(Layer):
    """Fully-connected layer ``y = x @ W + b``, optionally followed by an activation.

    Arguments:
        in_features: width of the input.
        out_features: width of the output.
        init: weight initialiser: a name from :mod:`anynet.init` or a callable
            ``(shape, rng) -> ndarray`` (default ``"glorot_uniform"``).
        bias: whether to add a bias ``b``.
        bias_init: the bias initialiser (default zeros).
        activation: an optional activation fused into the layer (a name from
            :mod:`anynet.activations`); saves a layer call and a temporary.
        seed: a seed or ``numpy.random.Generator`` for the initial weights (drawn on the host).
        dtype: float dtype of the parameters (default: the scoped default, float32).
        backend: backend spec of the parameters (default: the current backend).

    Shapes:
        x: (n, in_features) → y: (n, out_features). ``params["W"]``: (in_features, out_features),
        ``params["b"]``: (out_features,). After ``backward``, ``grads`` has the same keys.

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Dense
        >>> layer = Dense(3, 2, seed=0)
        >>> y, backward = layer.forward(np.ones((4, 3), np.float32), training=True)
        >>> y.shape, backward(np.ones((4, 2), np.float32)).shape, layer.grads["W"].shape
        ((4, 2), (4, 3), (3, 2))
    """

    in_features: int  # always set by the constructor (Layer's default, None, means any width)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: Any = "glorot_uniform",
        bias: bool = True,
        bias_init: Any = "zeros",
        activation: Any = None,
        seed: Seed = None,
        dtype: Any = None,
        backend: Backend | str | None = None,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "Dense", "in_features")
        self.out_features = positive_int(out_features, "Dense", "out_features")
        self.init = initializers.get(init)
        self.bias_init = initializers.get(bias_init)
        self.use_bias = bool(bias)
        self.activation = None if activation is None else activations.get(activation)
        self._place(backend, dtype)
        self._initialize(seed)

    def output_features(self, in_features: int | Sequence[int]) -> int:
        self._one_width(in_features)
        return self.out_features

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"W": (self.in_features, self.out_features)}
        if self.use_bias:
            shapes["b"] = (self.out_features,)
        return shapes

    def reset_parameters(self, rng: Seed = None) -> None:
        rng = as_generator(rng)
        # drawn in float64 and cast in blocks: the values of a whole float64 draw, without its memory
        sample = initializers.sample
        self.params = {"W": self._send(sample(self.init, (self.in_features, self.out_features), rng, self.dtype))}
        if self.use_bias:
            self.params["b"] = self._send(sample(self.bias_init, (self.out_features,), rng, self.dtype))
        self.grads = {}

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        W = self.params["W"]
        b = self.params.get("b")
        inplace = self._inplace
        z = x @ W
        if b is not None:
            if inplace:
                z += b
            else:
                z = z + b
        act = self.activation
        y = z if act is None else act.forward(z)
        xp = self.backend.xp  # type: ignore[union-attr]
        matmul_reusing = self.backend.adapter.matmul_reusing  # type: ignore[union-attr]

        def backward(dy: Array) -> Array:
            dz = dy if act is None else act.backward(z, y, dy)
            # NumPy writes a large weight gradient into last step's buffer (see Layer.grads)
            grads = self.grads
            grads["W"] = matmul_reusing(x.T, dz, grads.get("W"))
            if b is not None:
                grads["b"] = xp.sum(dz, axis=0)
            # the first layer of a network needs no input gradient: skip that matmul
            return dz @ W.T if need_dx else None

        return y, backward

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"in_features": self.in_features, "out_features": self.out_features}
        if not self.use_bias:
            cfg["bias"] = False
        if self.activation is not None:
            cfg["activation"] = self.activation.name
            cfg.update({f"activation_{k}": v for k, v in self.activation.options.items()})
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        cfg = dict(config)
        act = cfg.pop("activation", None)
        opts = {k[len("activation_"):]: cfg.pop(k) for k in list(cfg) if k.startswith("activation_")}
        return cls(**cfg, activation=None if act is None else activations.get(act, **opts))
