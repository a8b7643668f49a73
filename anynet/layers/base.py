"""The layer contract that every layer follows, and the registry of layer types.

Contract (thinc's): ``y, backward = layer.forward(x, training=...)``; ``dx = backward(dy)``
returns the gradient with respect to the input and stores the gradients with respect to the
parameters in ``layer.grads`` (same keys as ``layer.params``). No state is kept between the two
calls except inside the closure, so a layer can run several forward passes before any backward.

``forward`` checks its input (shape, dtype, backend, NaN) because users call it;
models call ``_forward``, having checked the data once at their own entry point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backends import Backend, backend_of, get_backend, resolve, to_device
from ..dtypes import dtype_name
from ..random import Seed
from ..validation import check_features

Array = Any
Backward = Callable[[Array], Array]

#: layer type name -> class; checkpoints name layer types only through this registry
LAYERS: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer type loadable from checkpoints by its class name."""
    LAYERS[cls.__name__] = cls
    return cls


class Layer:
    """Base class of every layer.

    Attributes:
        params: parameter arrays by name (e.g. ``"W"``, ``"b"``).
        grads: gradients of the last backward pass, same keys as ``params``. Like PyTorch's
            ``.grad``, the arrays may be overwritten in place by the next backward pass (NumPy
            reuses the buffers of large gradients); copy a gradient to keep it.
        buffers: non-trainable state saved with the layer (e.g. BatchNorm running statistics).
        backend: where the parameters live (None before the layer has any).
    """

    #: the number of input features the layer expects (None: any)
    in_features: int | None = None

    def __init__(self) -> None:
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.buffers: dict[str, Array] = {}
        self.backend: Backend | None = None
        self.dtype: str | None = None

    # -- building -----------------------------------------------------------------------
    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of width ``in_features`` (default: unchanged)."""
        return in_features

    def reset_parameters(self, rng: Seed = None) -> None:
        """Draw the parameters again from ``rng`` (a seed or Generator). No-op without params."""

    def _place(self, backend: Backend | str | None, dtype: Any) -> None:
        self.backend = get_backend(backend) if not isinstance(backend, Backend) else backend
        self.dtype = dtype_name(self.backend.dtype(dtype))

    @property
    def backend(self) -> Backend | None:
        return self._backend

    @backend.setter
    def backend(self, value: Backend | None) -> None:
        self._backend = value
        # read on every forward pass, so kept as a plain attribute
        self._inplace = value is not None and value.writeable

    def _send(self, host: np.ndarray) -> Array:
        assert self.backend is not None and self.dtype is not None
        return self.backend.asarray(host, dtype=self.dtype)

    def to(self, spec: str | Backend) -> Layer:
        """Move parameters and buffers to another backend/device (in place; returns self)."""
        target = resolve(spec)
        if self.backend is not None:
            target.dtype(self.dtype)  # refuse float64 on a device without it, before moving
        self.params = to_device(self.params, target)
        self.buffers = to_device(self.buffers, target)
        self.grads = {}
        self.backend = target
        return self

    def astype(self, dtype: Any) -> Layer:
        """Cast parameters and buffers to another float dtype (in place; returns self)."""
        backend = self.backend or get_backend()
        dt = backend.dtype(dtype)
        xp = backend.xp
        self.params = {k: xp.astype(v, dt) for k, v in self.params.items()}
        self.buffers = {k: xp.astype(v, dt) for k, v in self.buffers.items()}
        self.grads = {}
        self.dtype = dtype_name(dt)
        self.backend = backend
        return self

    # -- running ------------------------------------------------------------------------
    def forward(self, x: Array, *, training: bool = False) -> tuple[Array, Backward]:
        """Checked forward pass: ``(y, backward)``; ``backward(dy)`` returns dx, fills grads."""
        x = check_features(x, where=f"{self!r}.forward", width=self.in_features,
                           backend=self.backend if self.params else None)
        if self.dtype is not None and dtype_name(x.dtype) != self.dtype:
            raise TypeError(
                f"{self!r}.forward: X has dtype {dtype_name(x.dtype)} but the layer's parameters "
                f"are {self.dtype}; convert X with X.astype('{self.dtype}') or the layer with "
                f"layer.astype('{dtype_name(x.dtype)}')"
            )
        return self._forward(x, training)

    def forward_backward(self, x: Array, *, training: bool = True) -> tuple[Array, Backward]:
        """The contract shared with models: checked ``(y, backward)``."""
        return self.forward(x, training=training)

    def __call__(self, x: Array) -> Array:
        """Inference: the output for ``x`` (shape (n, in) -> (n, out))."""
        return self.forward(x, training=False)[0]

    def _forward(self, x: Array, training: bool, need_dx: bool = True) -> tuple[Array, Backward]:
        """Unchecked forward. ``need_dx=False`` lets a layer skip computing the input gradient
        (its backward may then return None): models pass it to their first layer."""
        raise NotImplementedError

    def _backend_for(self, x: Array) -> Backend:
        return self.backend if self.backend is not None else backend_of(x)

    # -- saving -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments; ``type(self).from_config(config)`` rebuilds it."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def n_params(self) -> int:
        return sum(math.prod(map(int, p.shape)) for p in self.params.values())
