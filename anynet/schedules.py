"""Learning-rate schedules: callables ``schedule(step) -> lr``, step counted from 0.

Any plain callable works where a schedule is expected (``lambda step: 0.1 / (1 + step)``); the
classes here can also be saved in checkpoints and composed (``Warmup`` wraps any schedule,
``Chain`` switches schedules at given steps).

Example:
    >>> from anynet import schedules
    >>> s = schedules.Inv(0.1, gamma=0.0005, power=0.75)   # document 004's policy
    >>> round(s(0), 6), round(s(800), 6)
    (0.1, 0.077697)
    >>> w = schedules.Warmup(schedules.Constant(1.0), steps=4)
    >>> [w(i) for i in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

Schedule = Callable[[int], float]

#: class name -> class; checkpoints name schedules only through this registry
SCHEDULES: dict[str, type] = {}


def _register(cls: type) -> type:
    SCHEDULES[cls.__name__] = cls
    return cls


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok or math.isnan(value):
        raise ValueError(f"{name} must be {'≥ 0' if allow_zero else '> 0'}, got {value!r}")


@_register
@dataclass(frozen=True)
class Constant:
    """The same rate at every step (document 004's ``fixed`` policy)."""

    lr: float

    def __post_init__(self) -> None:
        _positive("Constant: lr", self.lr, allow_zero=True)

    def __call__(self, step: int) -> float:
        return float(self.lr)


@_register
@dataclass(frozen=True)
class Inv:
    """``base_lr · (1 + gamma·step)^(−power)`` (Caffe's and document 004's ``inv`` policy)."""

    base_lr: float
    gamma: float = 0.0005
    power: float = 0.75

    def __post_init__(self) -> None:
        _positive("Inv: base_lr", self.base_lr)
        _positive("Inv: gamma", self.gamma, allow_zero=True)
        _positive("Inv: power", self.power, allow_zero=True)

    def __call__(self, step: int) -> float:
        return self.base_lr * (1.0 + self.gamma * step) ** (-self.power)


@_register
@dataclass(frozen=True)
class Step:
    """``base_lr · gamma^(step // step_size)``."""

    base_lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _positive("Step: base_lr", self.base_lr)
        if isinstance(self.step_size, bool) or not isinstance(self.step_size, int) or self.step_size < 1:
            raise ValueError(f"Step: step_size must be a positive int, got {self.step_size!r}")
        _positive("Step: gamma", self.gamma)

    def __call__(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


@_register
@dataclass(frozen=True)
class Exponential:
    """``base_lr · gamma^step``."""

    base_lr: float
    gamma: float

    def __post_init__(self) -> None:
        _positive("Exponential: base_lr", self.base_lr)
        _positive("Exponential: gamma", self.gamma)

    def __call__(self, step: int) -> float:
        return self.base_lr * self.gamma**step


@_register
@dataclass(frozen=True)
class Cosine:
    """Cosine decay from ``base_lr`` to ``min_lr`` over ``total_steps``, then ``min_lr``."""

    base_lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        _positive("Cosine: base_lr", self.base_lr)
        _positive("Cosine: min_lr", self.min_lr, allow_zero=True)
        if isinstance(self.total_steps, bool) or not isinstance(self.total_steps, int) or self.total_steps < 1:
            raise ValueError(f"Cosine: total_steps must be a positive int, got {self.total_steps!r}")

    def __call__(self, step: int) -> float:
        t = min(step, self.total_steps) / self.total_steps
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * t))


@_register
@dataclass(frozen=True)
class Warmup:
    """Linear warm-up over ``steps`` steps into ``after`` (from ``start_factor``·after(0)).

    During warm-up the rate is ``after(step) · (start + (1 − start)·(step + 1)/steps)``; from
    step ``steps`` on it is ``after(step)``.
    """

    after: Any
    steps: int
    start_factor: float = 0.0

    def __post_init__(self) -> None:
        if not callable(self.after):
            raise ValueError(f"Warmup: after must be a schedule or a number-valued callable, got {self.after!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"Warmup: steps must be a positive int, got {self.steps!r}")
        if not 0.0 <= self.start_factor <= 1.0:
            raise ValueError(f"Warmup: start_factor must be in [0, 1], got {self.start_factor!r}")

    def __call__(self, step: int) -> float:
        base = float(self.after(step))
        if step >= self.steps:
            return base
        s = self.start_factor
        return base * (s + (1.0 - s) * (step + 1) / self.steps)


@_register
@dataclass(frozen=True)
class Chain:
    """Switch schedules at given steps: ``Chain([(0, s1), (1000, s2)])``; each schedule sees
    the step counted from its own start."""

    parts: tuple

    def __post_init__(self) -> None:
        parts = tuple((int(start), s) for start, s in self.parts)
        if not parts or parts[0][0] != 0:
            raise ValueError("Chain: the first part must start at step 0")
        if any(b[0] <= a[0] for a, b in zip(parts, parts[1:])):
            raise ValueError("Chain: part starts must increase")
        object.__setattr__(self, "parts", parts)

    def __call__(self, step: int) -> float:
        start, sched = self.parts[0]
        for s, part in self.parts:
            if step >= s:
                start, sched = s, part
        return float(sched(step - start))


def to_config(schedule: Any) -> Any:
    """A JSON-able description of a number or built-in schedule; None for a user's callable."""
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        return float(schedule)
    cls = type(schedule)
    if SCHEDULES.get(cls.__name__) is not cls:
        return None
    out: dict[str, Any] = {"type": cls.__name__}
    for f in fields(schedule):
        value = getattr(schedule, f.name)
        if f.name == "after":
            value = to_config(value)
            if value is None:
                return None
        elif f.name == "parts":
            value = [[start, to_config(s)] for start, s in value]
            if any(v[1] is None for v in value):
                return None
        out[f.name] = value
    return out


def from_config(config: Any) -> Any:
    """Rebuild what :func:`to_config` described; names resolve only through the registry."""
    if isinstance(config, (int, float)) and not isinstance(config, bool):
        return float(config)
    if not isinstance(config, dict) or config.get("type") not in SCHEDULES:
        raise ValueError(f"unknown schedule description {config!r}; known: {', '.join(SCHEDULES)}")
    cls = SCHEDULES[config["type"]]
    kwargs = {k: v for k, v in config.items() if k != "type"}
    if "after" in kwargs:
        kwargs["after"] = from_config(kwargs["after"])
    if "parts" in kwargs:
        kwargs["parts"] = tuple((start, from_config(s)) for start, s in kwargs["parts"])
    return cls(**kwargs)


__all__ = ["Chain", "Constant", "Cosine", "Exponential", "Inv", "SCHEDULES", "Step", "Warmup",
           "from_config", "to_config"]
