"""The layer contract that every layer follows, merge layers included.

Contract (thinc's): ``y, backward = layer.forward(x, training=..., need_dx=...)``; ``dx = backward(dy)``
returns the gradient with respect to the input and stores the gradients with respect to the
parameters in ``layer.grads`` (same keys as ``layer.params``). No state is kept between the two
calls except inside the closure, so a layer can run several forward passes before any backward.
A merge layer (:class:`~anynet.layers.Add`, :class:`~anynet.layers.Concatenate`) takes a list of
arrays and its ``backward`` returns a list.

``forward`` is unchecked: networks call it, having checked the data once at their own entry point.
Users call the checked entries ``layer(x)`` (inference) and ``layer.checked_forward(x, training=...)``,
which validate the input (rank, width, dtype, backend, NaN) with messages that give the fix.

Saving and loading go through ``state_shapes()`` (declared shapes, known before anything is
allocated; see :func:`deferred_init`), ``extra_state()`` / ``load_extra_state()`` (JSON-able
non-array state) and ``check_state()`` (values a layer cannot hold).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..backends import Backend, backend_of, get_backend, is_array, resolve, to_device
from ..dtypes import dtype_name
from ..errors import ConfigError, InputError, InputTypeError
from ..random import Seed
from ..validation import check_features

Array = Any
Backward = Callable[[Array], Array]

_DEFERRED: ContextVar[bool] = ContextVar("anynet_deferred_init", default=False)


@contextmanager
def deferred_init() -> Iterator[None]:
    """While active, building a built-in layer allocates no parameters or buffers.

    The layer knows its configuration, backend and dtype, and ``state_shapes()`` answers, but
    ``params`` and ``buffers`` stay empty until someone fills them (checkpoint loading does, after
    checking the declared shapes against the file). Scoped to the current thread/context.

    Example:
        >>> from anynet.layers import Dense, deferred_init
        >>> with deferred_init():
        ...     layer = Dense(1000, 1000)
        >>> layer.params, layer.state_shapes()
        ({}, {'W': (1000, 1000), 'b': (1000,)})
    """
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


# -- constructor argument checks shared by the built-in layers ---------------------------------
def positive_int(value: Any, where: str, name: str) -> int:
    """``value`` as a Python int if it is an int ≥ 1 (NumPy integers too, bool not), else ConfigError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def is_real(value: Any) -> bool:
    """True for a Python or NumPy int or float (bool excluded)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def positive_eps(value: Any, where: str) -> float:
    """A finite ``eps > 0`` as a Python float, else ConfigError."""
    if not is_real(value) or not math.isfinite(value) or not value > 0:
        raise ConfigError(f"{where}: eps must be > 0 (and finite), got {value!r}")
    return float(value)


class Layer:
    """Base class of every layer.

    Subclasses implement :meth:`forward`; everything else has a default.

    Attributes:
        params: parameter arrays by name (e.g. ``"W"``, ``"b"``).
        grads: gradients of the last backward pass, same keys as ``params``. Like PyTorch's
            ``.grad``, the arrays may be overwritten in place by the next backward pass (NumPy
            reuses the buffers of large gradients); copy a gradient to keep it.
        buffers: non-trainable state saved with the layer (e.g. BatchNorm running statistics).
        backend: where the parameters live (None before the layer has any).
        in_features: the input width the layer requires (None: any).
        min_batch_size: the smallest batch the layer can train on (BatchNorm: 2).
    """

    #: the number of input features the layer expects (None: any)
    in_features: int | None = None
    #: the smallest batch ``forward(..., training=True)`` accepts; a training loop drops smaller ones
    min_batch_size: int = 1
    #: False freezes the layer: training hands its parameters to no optimizer (saved in checkpoints)
    trainable: bool = True

    def __init__(self) -> None:
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.buffers: dict[str, Array] = {}
        self.backend: Backend | None = None
        self.dtype: str | None = None

    # -- building -----------------------------------------------------------------------
    def output_features(self, in_features: int | Sequence[int]) -> int:
        """Width of the output for an input of width ``in_features`` (default: unchanged).

        Single-input layers take an int, merge layers a list of ints; the other kind raises
        :class:`~anynet.ConfigError` with a message a network can show as it is.
        """
        return self._one_width(in_features)

    def _one_width(self, in_features: Any) -> int:
        """Check a single input's width: an int ≥ 1, equal to ``in_features`` when the layer fixes it."""
        name = type(self).__name__
        if isinstance(in_features, (list, tuple)):
            raise ConfigError(f"{name} takes one input; join them with Add() or Concatenate() "
                              f"(got the widths {list(in_features)})")
        width = positive_int(in_features, f"{name}.output_features", "in_features")
        if self.in_features is not None and width != self.in_features:
            raise ConfigError(f"{self!r} expects {self.in_features} input features, got {width}")
        return width

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of every parameter and buffer by key. Built-in layers compute them from their
        configuration, without allocating (see :func:`deferred_init`); the default reads the arrays."""
        return {k: tuple(int(s) for s in v.shape) for k, v in {**self.params, **self.buffers}.items()}

    def buffer_keys(self) -> frozenset[str]:
        """The keys of :meth:`state_shapes` that are buffers (not trained), known without allocating;
        the default reads ``buffers``."""
        return frozenset(self.buffers)

    def reset_parameters(self, rng: Seed = None) -> None:
        """Draw the parameters again from ``rng`` (a seed or Generator). No-op without params."""

    def _initialize(self, seed: Seed) -> None:
        """Constructors call this last: allocate the parameters unless :func:`deferred_init` is active."""
        if not _DEFERRED.get():
            self.reset_parameters(seed)

    def build(self, *, seed: Seed = None, dtype: Any = None, backend: Backend | str | None = None) -> Layer:
        """Put the layer on ``backend`` in ``dtype`` (defaults: the current ones) and create its
        parameters with ``reset_parameters(seed)`` (skipped while checkpoint loading defers them).
        A layer with parameters calls this at the end of its constructor; returns self."""
        self._place(backend, dtype)
        self._initialize(seed)
        return self

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
    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        """Unchecked forward pass: ``(y, backward)``; ``backward(dy)`` returns dx and fills ``grads``.

        ``need_dx=False`` lets a layer skip computing the input gradient (its backward may then
        return None): networks pass it to the layers that read the network's input.
        """
        hint = (" (it defines _forward, this method's name before the layer contract was made "
                "public: rename it to forward)") if hasattr(self, "_forward") else ""
        raise NotImplementedError(f"{type(self).__name__} does not implement "
                                  f"forward(x, *, training=False, need_dx=True) -> (y, backward){hint}")

    def checked_forward(self, x: Array, *, training: bool = False) -> tuple[Array, Backward]:
        """Checked forward pass: validates ``x`` (rank, width, dtype, backend, NaN), then ``forward``."""
        return self.forward(self._check_input(x), training=training)

    def __call__(self, x: Array) -> Array:
        """Inference, checked: the output for ``x`` (shape (n, in) -> (n, out))."""
        return self.forward(self._check_input(x), training=False)[0]

    def _check_input(self, x: Any) -> Array:
        where = f"{self!r}.forward"
        if isinstance(x, (list, tuple)) and x and is_array(x[0]):
            raise InputTypeError(f"{where}: X is a list of {len(x)} arrays but {type(self).__name__} takes one "
                                 "input; join them with Add() or Concatenate()")
        x = check_features(x, where=where, width=self.in_features,
                           backend=self.backend if self.params else None)
        self._check_dtype(x, where)
        return x

    def _check_dtype(self, x: Array, where: str) -> None:
        if self.dtype is not None and dtype_name(x.dtype) != self.dtype:
            raise InputTypeError(
                f"{where}: X has dtype {dtype_name(x.dtype)} but the layer's parameters "
                f"are {self.dtype}; convert X with X.astype('{self.dtype}') or the layer with "
                f"layer.astype('{dtype_name(x.dtype)}')"
            )

    def _backend_for(self, x: Array) -> Backend:
        return self.backend if self.backend is not None else backend_of(x)

    # -- saving -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments; ``type(self).from_config(config)`` rebuilds it."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def extra_state(self) -> dict[str, Any] | None:
        """JSON-able state that is not an array (e.g. Dropout's generator), saved with the
        layer; None when there is none (the default)."""
        return None

    def load_extra_state(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`extra_state` returned; raises InputError for malformed state.
        ``None`` (nothing was saved) keeps the current state."""
        if state is not None:
            raise InputError(f"{self!r}.load_extra_state: {type(self).__name__} keeps no extra state, got "
                             f"{str(state)[:80]}; the checkpoint does not belong to this layer type")

    def check_state(self, key: str, array: np.ndarray) -> None:
        """Raise InputError if the host array ``array`` is a value this layer cannot hold under
        ``key`` (called by ``load_state_dict`` before anything is assigned). Default: accept."""

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def n_params(self) -> int:
        return sum(math.prod(map(int, p.shape)) for p in self.params.values())

