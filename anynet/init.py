"""Weight initialisers, drawn on the host so one seed gives the same weights on every backend.

An initialiser is a callable ``init(shape, rng) -> numpy.ndarray`` (float64, on the host); the
layer casts it to its dtype (with :func:`sample`, a block of rows at a time, so a float32 weight
never needs a float64 copy of itself) and sends it to its device. For a weight of shape (fan_in, fan_out)
the fans are read from the shape.

Registering your own, with ``anynet.register("initializer", name)``, one of:

* a class whose instances are initialisers (its constructor takes the options; a dataclass, or
  a class with ``config() -> dict`` of constructor arguments), so ``init.get(name, **options)``
  builds one and :func:`describe` / :func:`from_description` save and rebuild it;
* a factory function ``(**options) -> initialiser`` (its parameters all have defaults or are
  keyword-only);
* an initialiser function ``(shape, rng) -> ndarray`` itself, which takes no options.

Example:
    >>> import numpy as np
    >>> import anynet
    >>> from dataclasses import dataclass
    >>> from anynet import init
    >>> w = init.get("glorot_uniform", fan_offset=1)((784, 50), np.random.default_rng(0))
    >>> bool(abs(w).max() <= (6 / (784 + 50 + 1)) ** 0.5)
    True
    >>> @anynet.register("initializer", "orthogonal")
    ... @dataclass(frozen=True)
    ... class Orthogonal:
    ...     gain: float = 1.0
    ...     def __call__(self, shape, rng):
    ...         q, _ = np.linalg.qr(rng.standard_normal((max(shape), min(shape))))
    ...         return self.gain * (q if shape[0] >= shape[1] else q.T)
    >>> ortho = init.get("orthogonal", gain=2.0)
    >>> w = ortho((4, 3), np.random.default_rng(0))
    >>> bool(np.allclose(w.T @ w, 4 * np.eye(3)))
    True
    >>> init.describe(ortho)
    {'type': 'orthogonal', 'gain': 2.0}
    >>> init.from_description(init.describe(ortho)) == ortho
    True
    >>> anynet.registry.unregister("initializer", "orthogonal")
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import registry
from .errors import ConfigError, InputTypeError, UnknownNameError
from .registry import register

Shape = tuple[int, ...]
Initializer = Callable[[Shape, np.random.Generator], np.ndarray]


def _real(where: str, value: Any, *, low: float = -math.inf) -> float:
    """A finite real option ≥ ``low`` (numpy scalars accepted, bool refused), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < low:
        bound = "" if low == -math.inf else f" ≥ {low:g}"
        raise ConfigError(f"{where} must be a finite number{bound}, got {value!r}")
    return float(value)


def _fans(shape: Shape) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[-1]


@dataclass(frozen=True)
class Constant:
    """Every entry equal to ``value`` (``zeros``/``ones`` are 0 and 1)."""

    value: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _real("Constant: value", self.value))

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return self.rows(shape, shape[0] if shape else 1, rng)

    def rows(self, shape: Shape, count: int, rng: np.random.Generator) -> np.ndarray:
        """The next ``count`` leading rows of a draw of ``shape`` (see :func:`sample`)."""
        return np.full((count, *shape[1:]) if shape else (), float(self.value))


@dataclass(frozen=True)
class Normal:
    """N(mean, std²). Document 000 uses std 1 (plain ``randn``), document 003 std 0.01."""

    std: float = 1.0
    mean: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "std", _real("Normal: std", self.std, low=0.0))
        object.__setattr__(self, "mean", _real("Normal: mean", self.mean))

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return self.mean + self.std * rng.standard_normal(shape)

    def rows(self, shape: Shape, count: int, rng: np.random.Generator) -> np.ndarray:
        """The next ``count`` leading rows of a draw of ``shape`` (see :func:`sample`)."""
        return self(_leading(shape, count), rng)


@dataclass(frozen=True)
class Uniform:
    """U(low, high)."""

    low: float = -0.05
    high: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _real("Uniform: low", self.low))
        object.__setattr__(self, "high", _real("Uniform: high", self.high, low=self.low))

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=shape)

    def rows(self, shape: Shape, count: int, rng: np.random.Generator) -> np.ndarray:
        """The next ``count`` leading rows of a draw of ``shape`` (see :func:`sample`)."""
        return self(_leading(shape, count), rng)


@dataclass(frozen=True)
class VarianceScaling:
    """Scale ∝ 1/fan: the family behind Glorot/Xavier, He/Kaiming and LeCun.

    variance = gain² · scale / n, where n = fan_in, fan_out or (fan_in + fan_out)/2 by ``mode``,
    plus ``fan_offset`` (document 004's Xavier uses U(±√6/√(n_in + n_out + 1)), which is
    mode "sum", fan_offset 1, uniform). Uniform draws use the limit √(3·variance).
    """

    scale: float = 1.0
    mode: str = "fan_in"  # fan_in | fan_out | fan_avg | sum
    distribution: str = "normal"  # normal | uniform
    fan_offset: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _real("VarianceScaling: scale", self.scale, low=0.0))
        if self.mode not in ("fan_in", "fan_out", "fan_avg", "sum"):
            raise ConfigError(f"VarianceScaling: mode must be fan_in, fan_out, fan_avg or sum, got {self.mode!r}")
        if self.distribution not in ("normal", "uniform"):
            raise ConfigError(f"VarianceScaling: distribution must be normal or uniform, got {self.distribution!r}")
        object.__setattr__(self, "fan_offset", _real("VarianceScaling: fan_offset", self.fan_offset, low=0.0))

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return self.rows(shape, shape[0], rng)

    def rows(self, shape: Shape, count: int, rng: np.random.Generator) -> np.ndarray:
        """The next ``count`` leading rows of a draw of ``shape`` (see :func:`sample`): the
        scale comes from the fans of the whole ``shape``."""
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "sum": fan_in + fan_out}[self.mode] + self.fan_offset
        var = self.scale / max(n, 1.0)
        part = _leading(shape, count)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=part)
        return math.sqrt(var) * rng.standard_normal(part)


def _leading(shape: Shape, count: int) -> Shape:
    return (count, *shape[1:])


#: the float64 temporary that :func:`sample` draws at a time, in bytes
SAMPLE_CHUNK_BYTES = 1 << 26


def sample(init: Initializer, shape: Shape, rng: np.random.Generator, dtype: Any = "float64", *,
           chunk_bytes: int | None = None) -> np.ndarray:
    """``init(shape, rng)`` as a host array of ``dtype``, with the float64 temporary bounded.

    The values are exactly those of ``init(shape, rng).astype(dtype)``, and ``rng`` ends in the
    same state as after one whole draw: the blocks change no weight of any seed. An initialiser
    with a ``rows(shape, count, rng)`` method beside its ``__call__`` (the built-in ones; yours
    may have one), which draws the next ``count`` leading rows of a draw of ``shape``, is drawn
    in float64 about ``chunk_bytes`` at a time and cast row block by row block: a float32
    (1e5, 1e5) weight needs its 37 GiB, not 75 GiB more
    (``chunk_bytes`` default: ``SAMPLE_CHUNK_BYTES``, 64 MiB).
    Any other initialiser is called once and cast.

    Shapes:
        → ``shape``, of ``dtype``.
    """
    dtype = np.dtype(dtype)
    rows = getattr(init, "rows", None) if _draws_rows(init) else None
    if rows is None or dtype == np.float64 or len(shape) == 0:
        return np.asarray(init(shape, rng)).astype(dtype, copy=False)
    out = np.empty(shape, dtype)
    per_row = math.prod(shape[1:]) * 8
    step = max(1, (SAMPLE_CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // max(per_row, 1))
    for start in range(0, shape[0], step):
        count = min(step, shape[0] - start)
        out[start:start + count] = rows(shape, count, rng)
    return out


def _draws_rows(init: Any) -> bool:
    """Whether ``init``'s ``rows`` is as trustworthy as its ``__call__``: both are defined by the
    same class (a subclass that redefines ``__call__`` alone is called whole)."""
    for cls in type(init).__mro__:
        if "__call__" in vars(cls):
            return "rows" in vars(cls)
    return False


def glorot_uniform(gain: float = 1.0, fan_offset: float = 0.0) -> VarianceScaling:
    """U(±gain·√(6/(fan_in + fan_out + fan_offset))) (Glorot & Bengio 2010)."""
    gain = _real("glorot_uniform: gain", gain)
    return VarianceScaling(2.0 * gain**2, "sum", "uniform", fan_offset)


def glorot_normal(gain: float = 1.0) -> VarianceScaling:
    """N(0, gain²·2/(fan_in + fan_out))."""
    gain = _real("glorot_normal: gain", gain)
    return VarianceScaling(2.0 * gain**2, "sum", "normal")


def he_uniform() -> VarianceScaling:
    """U(±√(6/fan_in)) (He et al. 2015), for ReLU layers."""
    return VarianceScaling(2.0, "fan_in", "uniform")


def he_normal() -> VarianceScaling:
    """N(0, 2/fan_in)."""
    return VarianceScaling(2.0, "fan_in", "normal")


def lecun_uniform() -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "uniform")


def lecun_normal() -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "normal")


def _zeros() -> Constant:
    return Constant(0.0)


def _ones() -> Constant:
    return Constant(1.0)


register("initializer", "zeros")(_zeros)
register("initializer", "ones")(_ones)
register("initializer", "constant")(Constant)
register("initializer", "normal")(Normal)
register("initializer", "uniform")(Uniform)
register("initializer", "glorot_uniform", aliases=("xavier_uniform",))(glorot_uniform)
register("initializer", "glorot_normal", aliases=("xavier_normal",))(glorot_normal)
register("initializer", "he_uniform", aliases=("kaiming_uniform",))(he_uniform)
register("initializer", "he_normal", aliases=("kaiming_normal",))(he_normal)
register("initializer", "lecun_uniform")(lecun_uniform)
register("initializer", "lecun_normal")(lecun_normal)
# the class name too: descriptions written before the registry named it so
register("initializer", "variance_scaling", aliases=("VarianceScaling",))(VarianceScaling)


#: the built-in names in the order they are listed to users (users' own follow, sorted)
_LISTED = ("zeros", "ones", "constant", "normal", "uniform", "glorot_uniform", "glorot_normal", "he_uniform",
           "he_normal", "lecun_uniform", "lecun_normal", "variance_scaling")


def names() -> list[str]:
    """Every registered initialiser name (aliases such as ``xavier_uniform`` left out)."""
    known = registry.names("initializer")
    return [n for n in _LISTED if n in known] + [n for n in known if n not in _LISTED]


def _is_factory(entry: Any) -> bool:
    """A class, or a function callable with keyword options alone (an initialiser function
    ``(shape, rng)`` has two required positional parameters)."""
    if isinstance(entry, type):
        return True
    try:
        params = inspect.signature(entry).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   for p in params)


def _make(entry: Any, name: str, options: dict[str, Any]) -> Initializer:
    if not _is_factory(entry):
        if options:
            raise ConfigError(f"initialiser {name!r} does not take options {sorted(options)}")
        return entry
    made = registry.construct(entry, options, what=f"initialiser {name!r}")
    if not callable(made):
        raise ConfigError(f"the initialiser factory registered as {name!r} returned {made!r}, not a callable "
                          "(shape, rng) -> array")
    return made


def get(spec: str | Initializer, **options: Any) -> Initializer:
    """An initialiser from a registered name (with options) or a callable ``(shape, rng) -> ndarray``.

    Raises:
        UnknownNameError: a name that is not registered (the message lists the known ones).
        ConfigError: options the initialiser does not take, or bad values.

    Example:
        >>> from anynet import init
        >>> init.get("kaiming_normal")
        VarianceScaling(scale=2.0, mode='fan_in', distribution='normal', fan_offset=0.0)
    """
    if callable(spec) and not isinstance(spec, str):
        if options:
            raise ConfigError(f"init.get: options {sorted(options)} apply only to a name, not to {spec!r}")
        return spec
    if not isinstance(spec, str):
        raise InputTypeError(f"init must be a name or a callable (shape, rng) -> array, got {spec!r}")
    try:
        entry = registry.lookup("initializer", spec)
    except UnknownNameError:
        raise UnknownNameError(f"unknown initialiser {spec[:80]!r}; known: {', '.join(names())}, or pass a "
                               "callable (shape, rng) -> numpy array, or register your own with "
                               "anynet.register('initializer')") from None
    return _make(entry, registry.name_of("initializer", entry) or spec, options)


def describe(init: Initializer) -> dict | None:
    """A JSON-able description ``{"type": name, **options}`` of a registered initialiser (an
    instance of a registered class, or a registered function); None for anything else."""
    name = registry.name_of("initializer", init)
    if name is not None and not _is_factory(init):
        return {"type": name}
    name = registry.name_of("initializer", type(init))
    if name is None:
        return None
    own_config = getattr(init, "config", None)
    if callable(own_config):
        config = own_config()
    elif dataclasses.is_dataclass(init):
        config = {f.name: getattr(init, f.name) for f in dataclasses.fields(init)}
    else:
        return None
    return None if config is None else {"type": name, **config}


def from_description(desc: dict) -> Initializer:
    """Rebuild an initialiser from :func:`describe` output; names resolve only through the registry."""
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise ConfigError(f"unknown initialiser description {str(desc)[:80]}: expected {{'type': name, ...}}")
    options = {k: v for k, v in desc.items() if k != "type"}
    return get(desc["type"], **options)


__all__ = [
    "Constant", "Initializer", "Normal", "Uniform", "VarianceScaling", "describe", "from_description", "get",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "names",
    "sample",
]
