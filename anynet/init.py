"""Weight initialisers, drawn on the host so one seed gives the same weights on every backend.

An initialiser is a callable ``init(shape, rng) -> numpy.ndarray`` (float64, on the host); the
layer casts it to its dtype and sends it to its device. For a weight of shape (fan_in, fan_out)
the fans are read from the shape.

Example:
    >>> import numpy as np
    >>> from anynet import init
    >>> w = init.get("glorot_uniform", fan_offset=1)((784, 50), np.random.default_rng(0))
    >>> bool(abs(w).max() <= (6 / (784 + 50 + 1)) ** 0.5)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Shape = tuple[int, ...]
Initializer = Callable[[Shape, np.random.Generator], np.ndarray]


def _fans(shape: Shape) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[-1]


@dataclass(frozen=True)
class Constant:
    """Every entry equal to ``value`` (``zeros``/``ones`` are 0 and 1)."""

    value: float = 0.0

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, float(self.value))


@dataclass(frozen=True)
class Normal:
    """N(mean, std²). Document 000 uses std 1 (plain ``randn``), document 003 std 0.01."""

    std: float = 1.0
    mean: float = 0.0

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return self.mean + self.std * rng.standard_normal(shape)


@dataclass(frozen=True)
class Uniform:
    """U(low, high)."""

    low: float = -0.05
    high: float = 0.05

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=shape)


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
        if self.mode not in ("fan_in", "fan_out", "fan_avg", "sum"):
            raise ValueError(f"mode must be fan_in, fan_out, fan_avg or sum, got {self.mode!r}")
        if self.distribution not in ("normal", "uniform"):
            raise ValueError(f"distribution must be normal or uniform, got {self.distribution!r}")

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "sum": fan_in + fan_out}[self.mode] + self.fan_offset
        var = self.scale / max(n, 1.0)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape)
        return math.sqrt(var) * rng.standard_normal(shape)


def glorot_uniform(gain: float = 1.0, fan_offset: float = 0.0) -> VarianceScaling:
    """U(±gain·√(6/(fan_in + fan_out + fan_offset))) (Glorot & Bengio 2010)."""
    return VarianceScaling(2.0 * gain**2, "sum", "uniform", fan_offset)


def glorot_normal(gain: float = 1.0) -> VarianceScaling:
    """N(0, gain²·2/(fan_in + fan_out))."""
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


REGISTRY: dict[str, Callable[..., Initializer]] = {
    "zeros": lambda: Constant(0.0),
    "ones": lambda: Constant(1.0),
    "constant": Constant,
    "normal": Normal,
    "uniform": Uniform,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "variance_scaling": VarianceScaling,
}
_ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
}


def names() -> list[str]:
    return list(REGISTRY) + list(_ALIASES)


def get(spec: str | Initializer, **options: float) -> Initializer:
    """An initialiser from a name (with options) or a callable ``(shape, rng) -> ndarray``."""
    if callable(spec) and not isinstance(spec, str):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in REGISTRY:
            raise ValueError(
                f"unknown initialiser {spec!r}; known: {', '.join(names())}, "
                "or pass a callable (shape, rng) -> numpy array"
            )
        try:
            return REGISTRY[key](**options)
        except TypeError:
            raise ValueError(f"initialiser {key!r} does not take options {sorted(options)}") from None
    raise TypeError(f"init must be a name or a callable (shape, rng) -> array, got {spec!r}")


def describe(init: Initializer) -> dict | None:
    """A JSON-able description of a built-in initialiser (None for a user's callable)."""
    for cls in (Constant, Normal, Uniform, VarianceScaling):
        if type(init) is cls:
            return {"type": cls.__name__, **init.__dict__}
    return None


def from_description(desc: dict) -> Initializer:
    """Rebuild a built-in initialiser from :func:`describe` output (no names are imported)."""
    classes = {c.__name__: c for c in (Constant, Normal, Uniform, VarianceScaling)}
    fields = dict(desc)
    cls = classes.get(fields.pop("type", None))
    if cls is None:
        raise ValueError(f"unknown initialiser description {desc!r}")
    return cls(**fields)
