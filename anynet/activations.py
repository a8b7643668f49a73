"""Activation functions and their derivatives, registered by name.

Each activation is a pair of plain functions written against the Array API standard:
``forward(x) -> y`` and ``backward(x, y, dy) -> dx`` (the vector-Jacobian product, which for
elementwise functions is ``dy * f'(x)``; taking ``y`` too lets tanh and sigmoid reuse their
output), held in an :class:`ActivationFn`. None of them overflows or warns for any finite input.

Registering your own: register an :class:`ActivationFn` (an activation without options) or a
factory ``(**options) -> ActivationFn`` with ``anynet.register("activation", name)``. A
registered activation can be named wherever one is expected (``Dense(..., activation="cube")``)
and is saved in checkpoints by its name and options, so a model using it can be loaded again
(in a process that registered it too). An unregistered ``ActivationFn`` or pair ``(f, df)`` works
for training but cannot be saved.

Example:
    >>> import numpy as np
    >>> import anynet
    >>> from anynet import activations
    >>> from anynet.activations import ActivationFn
    >>> float(activations.sigmoid(np.asarray(7.0)))
    0.9990889488055994
    >>> act = activations.get("leaky_relu", alpha=0.1)
    >>> act.forward(np.asarray([-1.0, 2.0])).tolist()
    [-0.1, 2.0]
    >>> cube = anynet.register("activation")(
    ...     ActivationFn("cube", lambda x: x * x * x, lambda x, y, dy: 3 * x * x * dy))
    >>> activations.get("cube").forward(np.asarray([2.0])).tolist()
    [8.0]
    >>> @anynet.register("activation", "scaled_tanh")
    ... def scaled_tanh(scale=1.0):
    ...     def forward(x):
    ...         return scale * activations.tanh(x)
    ...     def backward(x, y, dy):
    ...         return dy * (scale - y * y / scale)
    ...     return ActivationFn("scaled_tanh", forward, backward, {"scale": scale})
    >>> act = activations.get("scaled_tanh", scale=2.0)
    >>> act.name, act.options, act.forward(np.asarray([0.0])).tolist()
    ('scaled_tanh', {'scale': 2.0}, [0.0])
    >>> anynet.registry.unregister("activation", "cube")
    >>> anynet.registry.unregister("activation", "scaled_tanh")
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import registry
from .backends import namespace_of
from .errors import ConfigError, InputTypeError, UnknownNameError
from .registry import register

Array = Any


@dataclass(frozen=True)
class ActivationFn:
    """A named activation: ``forward(x)`` and ``backward(x, y, dy)``.

    Arguments:
        name: the name it is registered (and saved) under; ``"custom"`` for unregistered pairs.
        forward: ``x -> y``, any shape.
        backward: ``(x, y, dy) -> dx``, the vector-Jacobian product.
        options: the keyword options it was made with (saved in checkpoints, passed back to its
            factory on loading).

    Shapes:
        x, y, dy, dx: all the same shape; elementwise activations accept any shape, ``softmax``
        works over the last axis.

    Example:
        >>> import numpy as np
        >>> from anynet.activations import ActivationFn
        >>> square = ActivationFn("square", lambda x: x * x, lambda x, y, dy: 2 * x * dy)
        >>> square(np.asarray([3.0])).tolist()
        [9.0]
    """

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array, Array], Array]
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"ActivationFn: name must be a non-empty string, got {self.name!r}")
        for what in ("forward", "backward"):
            if not callable(getattr(self, what)):
                raise ConfigError(f"ActivationFn {self.name!r}: {what} must be callable, got "
                                  f"{getattr(self, what)!r}")
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise ConfigError(f"ActivationFn {self.name!r}: options must be a dict with string keys, "
                              f"got {self.options!r}")

    def __call__(self, x: Array) -> Array:
        return self.forward(x)


def _real(where: str, name: str, value: Any) -> float:
    """A finite real option (numpy scalars accepted, bool refused) as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)


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
    # derivative 0 at x = 0, as PyTorch and Keras. y = max(x, 0) ≥ 0, so sign(y) is the 0/1 mask
    # itself, in dy's dtype: two operations (no comparison cast to floats), and on NumPy about
    # twice as fast as `where(x > 0, dy, 0)`
    return dy * namespace_of(y).sign(y)


def _leaky_relu(alpha: float = 0.01) -> ActivationFn:
    alpha = _real("leaky_relu", "alpha", alpha)

    def forward(x: Array) -> Array:
        return namespace_of(x).where(x > 0, x, alpha * x)

    def backward(x: Array, y: Array, dy: Array) -> Array:
        return namespace_of(x).where(x > 0, dy, alpha * dy)

    return ActivationFn("leaky_relu", forward, backward, {"alpha": alpha})


def _elu(alpha: float = 1.0) -> ActivationFn:
    alpha = _real("elu", "alpha", alpha)

    def forward(x: Array) -> Array:
        xp = namespace_of(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))

    def backward(x: Array, y: Array, dy: Array) -> Array:
        xp = namespace_of(x)
        return xp.where(x > 0, dy, dy * (y + alpha))

    return ActivationFn("elu", forward, backward, {"alpha": alpha})


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
    raise ConfigError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")


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


# -- the registry -------------------------------------------------------------------------------
for _fn, _aliases in (
    (ActivationFn("identity", identity, _identity_vjp), ("linear", "none")),
    (ActivationFn("sigmoid", sigmoid, _sigmoid_vjp), ()),
    (ActivationFn("tanh", tanh, _tanh_vjp), ()),
    (ActivationFn("relu", relu, _relu_vjp), ()),
    (ActivationFn("softplus", softplus, _softplus_vjp), ()),
    (ActivationFn("silu", silu, _silu_vjp), ("swish",)),
    (ActivationFn("softmax", softmax, _softmax_vjp), ()),
):
    register("activation", aliases=_aliases)(_fn)
register("activation", "leaky_relu")(_leaky_relu)
register("activation", "elu")(_elu)
register("activation", "gelu")(_gelu)

#: the built-in names in the order they are listed to users (users' own follow, sorted)
_LISTED = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus", "silu", "softmax")


def names() -> list[str]:
    """Every registered activation name (aliases left out): the built-in ones, then users'."""
    known = registry.names("activation")
    return [n for n in _LISTED if n in known] + [n for n in known if n not in _LISTED]


def _custom_pair(f: Callable[[Array], Array], df: Callable[[Array], Array]) -> ActivationFn:
    def backward(x: Array, y: Array, dy: Array) -> Array:
        return dy * df(x)

    return ActivationFn("custom", f, backward)


def get(spec: str | ActivationFn | tuple, **options: Any) -> ActivationFn:
    """An :class:`ActivationFn` from a registered name (with its options), an ActivationFn, or a
    pair of callables.

    A pair ``(f, df)`` is taken as an elementwise function and its derivative: ``df(x)`` is
    f'(x), and the backward pass is ``dy * df(x)`` (it is named ``"custom"`` and cannot be saved).
    A name comes back with ``.name`` set to the name it is registered under and ``.options`` to
    the options it was made with, which is what checkpoints save.

    Raises:
        UnknownNameError: a name that is not registered (the message lists the known ones).
        ConfigError: options the activation does not take, or of the wrong type.

    Example:
        >>> from anynet import activations
        >>> activations.get("swish").name
        'silu'
        >>> activations.get("gelu", approximate="none").options
        {'approximate': 'none'}
    """
    if isinstance(spec, ActivationFn) or (isinstance(spec, tuple) and len(spec) == 2
                                          and all(callable(f) for f in spec)):
        if options:
            raise ConfigError(f"activations.get: options {sorted(options)} apply only to a registered name, "
                              f"not to {spec!r}")
        return spec if isinstance(spec, ActivationFn) else _custom_pair(*spec)
    if not isinstance(spec, str):
        raise InputTypeError(
            f"activation must be a name, an ActivationFn or a pair (f, df) of callables, got {spec!r}")
    try:
        entry = registry.lookup("activation", spec)
    except UnknownNameError:
        raise UnknownNameError(
            f"unknown activation {spec[:80]!r}; known: {', '.join(names())}; or pass a pair (f, df) of "
            "callables, or register your own with anynet.register('activation')") from None
    name = registry.name_of("activation", entry) or spec
    if isinstance(entry, ActivationFn):
        if options:
            raise ConfigError(f"activation {name!r} does not take options {sorted(options)}")
        fn = entry
    else:
        try:
            inspect.signature(entry).bind(**options)
        except TypeError:
            raise ConfigError(f"activation {name!r} does not take options {sorted(options)}") from None
        except ValueError:  # a callable without a signature: let the call decide
            pass
        fn = entry(**options)
        if not isinstance(fn, ActivationFn):
            raise ConfigError(f"the activation factory registered as {name!r} returned {fn!r}, "
                              "not an anynet.activations.ActivationFn")
        if options and not fn.options:  # a user's factory that did not record its options
            fn = dataclasses.replace(fn, options=dict(options))
    # saved by this name, so a factory need not repeat it
    return fn if fn.name == name else dataclasses.replace(fn, name=name)


__all__ = [
    "ActivationFn", "gelu", "gelu_exact", "get", "identity", "names", "normal_cdf", "relu",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]
