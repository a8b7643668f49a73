"""Activation functions and their derivatives, in a registry of names.

Each activation is a pair of plain functions written against the Array API standard:
``forward(x) -> y`` and ``backward(x, y, dy) -> dx`` (the vector-Jacobian product, which for
elementwise functions is ``dy * f'(x)``; taking ``y`` too lets tanh and sigmoid reuse their
output). None of them overflows or warns for any finite input.

Example:
    >>> import numpy as np
    >>> from anynet import activations
    >>> float(activations.sigmoid(np.asarray(7.0)))
    0.9990889488055994
    >>> act = activations.get("leaky_relu", alpha=0.1)
    >>> act.forward(np.asarray([-1.0, 2.0])).tolist()
    [-0.1, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backends import namespace_of

Array = Any


@dataclass(frozen=True)
class ActivationFn:
    """A named activation: ``forward(x)`` and ``backward(x, y, dy)``.

    Attributes:
        name: registry name (``"custom"`` for user pairs).
        forward: ``x -> y``, any shape.
        backward: ``(x, y, dy) -> dx``, same shapes.
        options: the keyword arguments it was made with (saved in checkpoints).
    """

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array, Array], Array]
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: Array) -> Array:
        return self.forward(x)


# -- the functions -----------------------------------------------------------------------------
def identity(x: Array) -> Array:
    return x


def _identity_vjp(x: Array, y: Array, dy: Array) -> Array:
    return dy


def sigmoid(x: Array) -> Array:
    """1 / (1 + exp(−x)) written as exp(min(x, 0)) / (1 + exp(−|x|)): both exponents are ≤ 0, so
    nothing overflows, each side is the exact branch formula, and no ``where`` is needed."""
    xp = namespace_of(x)
    return xp.exp(xp.minimum(x, 0.0)) / (1.0 + xp.exp(-xp.abs(x)))


def _sigmoid_vjp(x: Array, y: Array, dy: Array) -> Array:
    return dy * y * (1.0 - y)


def tanh(x: Array) -> Array:
    return namespace_of(x).tanh(x)


def _tanh_vjp(x: Array, y: Array, dy: Array) -> Array:
    return dy * (1.0 - y * y)


def relu(x: Array) -> Array:
    return namespace_of(x).maximum(x, 0.0)


def _relu_vjp(x: Array, y: Array, dy: Array) -> Array:
    # derivative 0 at x = 0, as PyTorch and Keras; a multiply by the 0/1 mask is several times
    # faster than `where` on NumPy
    xp = namespace_of(x)
    return dy * xp.astype(x > 0, dy.dtype)


def _leaky_relu(alpha: float = 0.01) -> ActivationFn:
    def forward(x: Array) -> Array:
        return namespace_of(x).where(x > 0, x, alpha * x)

    def backward(x: Array, y: Array, dy: Array) -> Array:
        return namespace_of(x).where(x > 0, dy, alpha * dy)

    return ActivationFn("leaky_relu", forward, backward, {"alpha": float(alpha)})


def _elu(alpha: float = 1.0) -> ActivationFn:
    def forward(x: Array) -> Array:
        xp = namespace_of(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))

    def backward(x: Array, y: Array, dy: Array) -> Array:
        xp = namespace_of(x)
        return xp.where(x > 0, dy, dy * (y + alpha))

    return ActivationFn("elu", forward, backward, {"alpha": float(alpha)})


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def gelu(x: Array) -> Array:
    """GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    xp = namespace_of(x)
    # beyond |x| = 10 the tanh is ±1 to double precision; clipping keeps x³ from overflowing
    xc = xp.clip(x, -10.0, 10.0)
    return 0.5 * x * (1.0 + xp.tanh(_GELU_C * (xc + _GELU_K * xc * xc * xc)))


def _gelu_vjp(x: Array, y: Array, dy: Array) -> Array:
    xp = namespace_of(x)
    xc = xp.clip(x, -10.0, 10.0)
    t = xp.tanh(_GELU_C * (xc + _GELU_K * xc * xc * xc))
    inner = _GELU_C * (1.0 + 3.0 * _GELU_K * xc * xc)
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner)


# -- the normal CDF Φ for exact GELU, from standard operations only ---------------------------------
# The standard has no erf. Φ(x) = ½·erfc(−x/√2) is computed from erf's Maclaurin series (Horner form)
# where |x/√2| < 2, and from the continued fraction of erfc beyond; each branch is evaluated on
# clipped input, so nothing overflows. Against math.erfc on [−37, 37]: relative error ≤ 2e-13.
_SQRT2 = math.sqrt(2.0)
_SQRT_PI = math.sqrt(math.pi)
_ERF_SERIES = [(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(36)]
_ERF_SWITCH = 2.0
_ERFC_TERMS = 60


def normal_cdf(x: Array) -> Array:
    """Φ(x), the standard normal CDF, accurate to about 1e-13 relative in both tails."""
    xp = namespace_of(x)
    z = x / _SQRT2
    a = xp.abs(z)
    s = xp.minimum(a, _ERF_SWITCH)
    y = s * s
    acc = xp.zeros_like(s) + _ERF_SERIES[-1]
    for c in reversed(_ERF_SERIES[:-1]):
        acc = acc * y + c
    erfc_small = 1.0 - (2.0 / _SQRT_PI) * s * acc
    c = xp.clip(a, _ERF_SWITCH, 40.0)
    t = c
    for k in range(_ERFC_TERMS, 0, -1):
        t = c + (0.5 * k) / t
    erfc_large = xp.exp(-c * c) / (_SQRT_PI * t)
    erfc_a = xp.where(a < _ERF_SWITCH, erfc_small, erfc_large)
    return xp.where(z < 0, 0.5 * erfc_a, 1.0 - 0.5 * erfc_a)


def gelu_exact(x: Array) -> Array:
    """GELU as defined, x·Φ(x) (about 200 elementwise operations: use it where exactness matters)."""
    return x * normal_cdf(x)


def _gelu_exact_vjp(x: Array, y: Array, dy: Array) -> Array:
    xp = namespace_of(x)
    xc = xp.clip(x, -40.0, 40.0)  # φ(x) is 0 to double precision beyond; keeps x² finite
    pdf = xp.exp(-0.5 * xc * xc) / math.sqrt(2.0 * math.pi)
    return dy * (normal_cdf(x) + x * pdf)


def _gelu(approximate: str = "tanh") -> ActivationFn:
    """GELU; ``approximate="tanh"`` (default, fast) or ``"none"`` (exact, through :func:`normal_cdf`).
    PyTorch's default is the exact form; anynet's is the tanh form because the standard has no erf."""
    if approximate == "tanh":
        return ActivationFn("gelu", gelu, _gelu_vjp, {"approximate": "tanh"})
    if approximate == "none":
        return ActivationFn("gelu", gelu_exact, _gelu_exact_vjp, {"approximate": "none"})
    raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")


def softplus(x: Array) -> Array:
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): no overflow."""
    xp = namespace_of(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def _softplus_vjp(x: Array, y: Array, dy: Array) -> Array:
    return dy * sigmoid(x)


def silu(x: Array) -> Array:
    """x · sigmoid(x) (also called swish)."""
    return x * sigmoid(x)


def _silu_vjp(x: Array, y: Array, dy: Array) -> Array:
    s = sigmoid(x)
    return dy * (s + x * s * (1.0 - s))


def softmax(x: Array) -> Array:
    """Softmax over the last axis, shifted by the row maximum (no overflow)."""
    xp = namespace_of(x)
    e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def _softmax_vjp(x: Array, y: Array, dy: Array) -> Array:
    xp = namespace_of(x)
    return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))


def _fixed(name: str, forward: Callable, backward: Callable) -> Callable[[], ActivationFn]:
    def make() -> ActivationFn:
        return ActivationFn(name, forward, backward)

    make.__name__ = name
    return make


#: name -> factory taking the activation's keyword options
REGISTRY: dict[str, Callable[..., ActivationFn]] = {
    "identity": _fixed("identity", identity, _identity_vjp),
    "sigmoid": _fixed("sigmoid", sigmoid, _sigmoid_vjp),
    "tanh": _fixed("tanh", tanh, _tanh_vjp),
    "relu": _fixed("relu", relu, _relu_vjp),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "softplus": _fixed("softplus", softplus, _softplus_vjp),
    "silu": _fixed("silu", silu, _silu_vjp),
    "softmax": _fixed("softmax", softmax, _softmax_vjp),
}
_ALIASES = {"linear": "identity", "swish": "silu", "none": "identity"}


def register(name: str, forward: Callable[[Array], Array],
             backward: Callable[[Array, Array, Array], Array]) -> ActivationFn:
    """Add an activation to the registry under ``name`` (so models using it can be saved and
    loaded): ``forward(x) -> y`` and ``backward(x, y, dy) -> dx``, both with standard operations.

    Example:
        >>> import numpy as np
        >>> from anynet import activations
        >>> act = activations.register("square", lambda x: x * x, lambda x, y, dy: 2 * x * dy)
        >>> activations.get("square").forward(np.asarray([3.0])).tolist()
        [9.0]
    """
    key = name.lower()
    if not key.isidentifier():
        raise ValueError(f"activation name must be an identifier, got {name!r}")
    if key in REGISTRY or key in _ALIASES:
        raise ValueError(f"activation {name!r} is already registered")
    REGISTRY[key] = _fixed(key, forward, backward)
    return REGISTRY[key]()


def names() -> list[str]:
    """Every registered activation name (aliases excluded)."""
    return list(REGISTRY)


def get(spec: str | ActivationFn | tuple, **options: float) -> ActivationFn:
    """An :class:`ActivationFn` from a name, an ActivationFn, or a pair of callables.

    A pair ``(f, df)`` is taken as an elementwise function and its derivative: ``df(x)`` is
    f'(x), and the backward pass is ``dy * df(x)``.
    """
    if isinstance(spec, ActivationFn):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        f, df = spec

        def backward(x: Array, y: Array, dy: Array) -> Array:
            return dy * df(x)

        return ActivationFn("custom", f, backward)
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in REGISTRY:
            raise ValueError(
                f"unknown activation {spec!r}; known: {', '.join(REGISTRY)} "
                f"(aliases: {', '.join(_ALIASES)}), or pass a pair (f, df) of callables"
            )
        try:
            return REGISTRY[key](**options)
        except TypeError:
            raise ValueError(f"activation {key!r} does not take options {sorted(options)}") from None
    raise TypeError(
        f"activation must be a name, an ActivationFn or a pair (f, df) of callables, got {spec!r}"
    )
