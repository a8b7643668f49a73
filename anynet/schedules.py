"""Learning-rate schedules: callables ``schedule(step) -> lr``, step counted from 0.

Any plain callable works where a schedule is expected (``lambda step: 0.1 / (1 + step)``); the
classes here can also be saved in checkpoints and composed (``Warmup`` wraps any schedule,
``Chain`` switches schedules at given steps).

Registering your own: a schedule is a class with ``__call__(step) -> float`` and
``config() -> dict`` of JSON-able constructor arguments (a dataclass needs no ``config``: its
fields are used), registered with ``@anynet.register("schedule")`` (the name defaults to the
class name). :func:`to_config` then describes it as ``{"type": name, **config}`` and
:func:`from_config` rebuilds it with ``cls.from_config(config)`` if the class has one, else
``cls(**config)``; so an optimizer using it can be saved and loaded.

Example:
    >>> import anynet
    >>> from anynet import schedules
    >>> s = schedules.Inv(0.1, gamma=0.0005, power=0.75)   # document 004's policy
    >>> round(s(0), 6), round(s(800), 6)
    (0.1, 0.077697)
    >>> w = schedules.Warmup(schedules.Constant(1.0), steps=4)
    >>> [w(i) for i in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    >>> @anynet.register("schedule")
    ... class Halving:
    ...     def __init__(self, base_lr, every=10):
    ...         self.base_lr, self.every = base_lr, every
    ...     def __call__(self, step):
    ...         return self.base_lr * 0.5 ** (step // self.every)
    ...     def config(self):
    ...         return {"base_lr": self.base_lr, "every": self.every}
    >>> cfg = schedules.to_config(schedules.Warmup(Halving(1.0, every=4), steps=2))
    >>> cfg["after"]
    {'type': 'Halving', 'base_lr': 1.0, 'every': 4}
    >>> schedules.from_config(cfg)(8)
    0.25
    >>> anynet.registry.unregister("schedule", "Halving")
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import registry
from .errors import ConfigError, InputError, UnknownNameError
from .registry import register

Schedule = Callable[[int], float]


def _real(where: str, value: Any, *, low: float = 0.0, allow_low: bool = False, high: float = math.inf,
          allow_high: bool = False) -> float:
    """A finite real number (numpy scalars accepted, bool refused) in the given range, as a float."""
    # the checks in a named bool, not an isinstance narrowing: typeshed's numbers.Real supports no comparison
    real = not isinstance(value, bool) and isinstance(value, numbers.Real)
    ok = (real and math.isfinite(value)
          and (value >= low if allow_low else value > low) and (value <= high if allow_high else value < high))
    if not ok:
        lo = f"{'≥' if allow_low else '>'} {low:g}"
        hi = "" if high == math.inf else f" and {'≤' if allow_high else '<'} {high:g}"
        raise ConfigError(f"{where} must be a finite number {lo}{hi}, got {value!r}")
    return float(value)


def _count(where: str, value: Any) -> int:
    """A positive integer (numpy integers accepted, bool and floats refused), as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{where} must be a positive int, got {value!r}")
    return int(value)


def _step(where: str, step: Any) -> int | float:
    """The step a schedule is called with: a number ≥ 0."""
    real = not isinstance(step, bool) and isinstance(step, numbers.Real)  # a named bool: see _real
    if not real or not step >= 0:
        raise InputError(f"{where}: step must be a number ≥ 0 (steps count from 0), got {step!r}")
    return step


def _finite(where: str, value: float, step: Any) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{where}: the learning rate overflows at step {step} (it exceeds the largest float); "
                          "use a factor ≤ 1 or a schedule that stays bounded")
    return value


class _Described:
    """``config()`` from the dataclass fields, nested schedules described by :func:`to_config`."""

    def config(self) -> dict[str, Any] | None:
        """The JSON-able constructor arguments (None when a nested schedule cannot be described)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = getattr(self, f.name)
        return out

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # frozen dataclass: normalise in __post_init__


@register("schedule")
@dataclass(frozen=True)
class Constant(_Described):
    """The same rate at every step (document 004's ``fixed`` policy).

    Arguments:
        lr: the rate, a finite number ≥ 0.
    """

    lr: float

    def __post_init__(self) -> None:
        self._set("lr", _real("Constant: lr", self.lr, allow_low=True))

    def __call__(self, step: int) -> float:
        _step("Constant", step)
        return self.lr


@register("schedule")
@dataclass(frozen=True)
class Inv(_Described):
    """``base_lr · (1 + gamma·step)^(−power)`` (Caffe's and document 004's ``inv`` policy).

    Arguments:
        base_lr: the rate at step 0, > 0.
        gamma, power: ≥ 0.
    """

    base_lr: float
    gamma: float = 0.0005
    power: float = 0.75

    def __post_init__(self) -> None:
        self._set("base_lr", _real("Inv: base_lr", self.base_lr))
        self._set("gamma", _real("Inv: gamma", self.gamma, allow_low=True))
        self._set("power", _real("Inv: power", self.power, allow_low=True))

    def __call__(self, step: int) -> float:
        # (1 + gamma·step) ≥ 1 and power ≥ 0: the rate only falls, nothing overflows
        return self.base_lr * (1.0 + self.gamma * _step("Inv", step)) ** (-self.power)


def _power(where: str, base_lr: float, gamma: float, exponent: float, step: Any) -> float:
    """base_lr · gamma^exponent, as a ConfigError where it would overflow."""
    try:
        factor = gamma**exponent
    except OverflowError:  # the result, or a huge integer exponent, is beyond a float
        factor = math.inf if gamma > 1.0 else (1.0 if gamma == 1.0 else 0.0)
    return _finite(where, base_lr * factor, step)


@register("schedule")
@dataclass(frozen=True)
class Step(_Described):
    """``base_lr · gamma^(step // step_size)``.

    Arguments:
        base_lr: the rate at step 0, > 0.
        step_size: steps between changes, a positive int.
        gamma: the factor at each change, > 0 (a factor > 1 that makes the rate overflow raises
            ConfigError when the schedule reaches that step).
    """

    base_lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        self._set("base_lr", _real("Step: base_lr", self.base_lr))
        self._set("step_size", _count("Step: step_size", self.step_size))
        self._set("gamma", _real("Step: gamma", self.gamma))

    def __call__(self, step: int) -> float:
        return _power("Step", self.base_lr, self.gamma, _step("Step", step) // self.step_size, step)


@register("schedule")
@dataclass(frozen=True)
class Exponential(_Described):
    """``base_lr · gamma^step``.

    Arguments:
        base_lr: the rate at step 0, > 0.
        gamma: the factor per step, > 0 (a factor > 1 that makes the rate overflow raises
            ConfigError when the schedule reaches that step).
    """

    base_lr: float
    gamma: float

    def __post_init__(self) -> None:
        self._set("base_lr", _real("Exponential: base_lr", self.base_lr))
        self._set("gamma", _real("Exponential: gamma", self.gamma))

    def __call__(self, step: int) -> float:
        return _power("Exponential", self.base_lr, self.gamma, _step("Exponential", step), step)


@register("schedule")
@dataclass(frozen=True)
class Cosine(_Described):
    """Cosine decay from ``base_lr`` to ``min_lr`` over ``total_steps``, then ``min_lr``.

    Arguments:
        base_lr: the rate at step 0, > 0.
        total_steps: the length of the decay, a positive int.
        min_lr: the final rate, ≥ 0.
    """

    base_lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("base_lr", _real("Cosine: base_lr", self.base_lr))
        self._set("total_steps", _count("Cosine: total_steps", self.total_steps))
        self._set("min_lr", _real("Cosine: min_lr", self.min_lr, allow_low=True))

    def __call__(self, step: int) -> float:
        t = min(_step("Cosine", step), self.total_steps) / self.total_steps
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * t))


@register("schedule")
@dataclass(frozen=True)
class Warmup(_Described):
    """Linear warm-up over ``steps`` steps into ``after`` (from ``start_factor``·after(0)).

    During warm-up the rate is ``after(step) · (start + (1 − start)·(step + 1)/steps)``; from
    step ``steps`` on it is ``after(step)``.

    Arguments:
        after: the schedule to warm up into (any callable ``step -> lr``).
        steps: the length of the warm-up, a positive int.
        start_factor: the fraction of the rate at the start, in [0, 1].
    """

    after: Any
    steps: int
    start_factor: float = 0.0

    def __post_init__(self) -> None:
        if not callable(self.after):
            raise ConfigError(f"Warmup: after must be a schedule or a number-valued callable, got {self.after!r}")
        self._set("steps", _count("Warmup: steps", self.steps))
        self._set("start_factor", _real("Warmup: start_factor", self.start_factor, allow_low=True, high=1.0,
                                        allow_high=True))

    def __call__(self, step: int) -> float:
        base = float(self.after(_step("Warmup", step)))
        if step >= self.steps:
            return base
        s = self.start_factor
        return base * (s + (1.0 - s) * (step + 1) / self.steps)

    def config(self) -> dict[str, Any] | None:
        after = to_config(self.after)
        return None if after is None else {**super().config(), "after": after}  # type: ignore[dict-item]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Warmup:
        return _build(cls, "Warmup", {**config, "after": from_config(config.get("after"))})


@register("schedule")
@dataclass(frozen=True)
class Chain(_Described):
    """Switch schedules at given steps: ``Chain([(0, s1), (1000, s2)])``; each schedule sees
    the step counted from its own start.

    Arguments:
        parts: pairs ``(start step, schedule)``; starts are ints that begin at 0 and increase; a
            number as the schedule means :class:`Constant`.
    """

    parts: tuple

    def __post_init__(self) -> None:
        try:
            pairs = [tuple(p) for p in self.parts]
        except TypeError:
            raise ConfigError(f"Chain: parts must be a list of (start step, schedule) pairs, got {self.parts!r}") \
                from None
        parts = []
        for pair in pairs:
            if len(pair) != 2:
                raise ConfigError(f"Chain: each part must be a pair (start step, schedule), got {pair!r}")
            start, sched = pair
            if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
                raise ConfigError(f"Chain: a part's start must be an int ≥ 0, got {start!r}")
            number = isinstance(sched, numbers.Real) and not isinstance(sched, bool)  # a named bool: see _real
            if number:
                sched = Constant(sched)
            if not callable(sched):
                raise ConfigError(f"Chain: a part's schedule must be a schedule or a number, got {sched!r}")
            parts.append((int(start), sched))
        if not parts or parts[0][0] != 0:
            raise ConfigError("Chain: the first part must start at step 0")
        if any(b[0] <= a[0] for a, b in zip(parts, parts[1:])):
            raise ConfigError("Chain: part starts must increase")
        self._set("parts", tuple(parts))

    def __call__(self, step: int) -> float:
        _step("Chain", step)
        start, sched = self.parts[0]
        for s, part in self.parts:
            if step >= s:
                start, sched = s, part
        return float(sched(step - start))

    def config(self) -> dict[str, Any] | None:
        parts = [[start, to_config(s)] for start, s in self.parts]
        return None if any(p[1] is None for p in parts) else {"parts": parts}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Chain:
        parts = config.get("parts")
        if not isinstance(parts, list) or not all(isinstance(p, list) and len(p) == 2 for p in parts):
            raise ConfigError(f"Chain: parts must be a list of [start, schedule] pairs, got {str(parts)[:80]}")
        return _build(cls, "Chain", {**config, "parts": [(start, from_config(s)) for start, s in parts]})


@register("schedule")
@dataclass(frozen=True)
class Scaled:
    """A schedule times a factor: ``max(factor · after(step), min(min_lr, after(step)))``.

    The factor never takes the rate below ``min_lr``; where ``after`` itself goes lower, its own
    value is kept. :class:`~anynet.callbacks.ReduceLROnPlateau` wraps an optimizer's schedule in it; it is saved
    with the optimizer (``model.save``) whenever ``after`` can be (a registered schedule).

    Arguments:
        after: the schedule (any callable ``step -> lr``).
        factor: the multiplier, a finite number ≥ 0.
        min_lr: the floor of the scaled rate, ≥ 0.

    Example:
        >>> from anynet import schedules
        >>> from anynet.schedules import Scaled
        >>> s = Scaled(schedules.Step(1.0, step_size=10, gamma=0.25), 0.5, min_lr=0.2)
        >>> s(0), s(10), s(20)     # 0.5·1, the floor 0.2 (not 0.5·0.25), the schedule's own 0.0625
        (0.5, 0.2, 0.0625)
        >>> schedules.from_config(schedules.to_config(s)) == s
        True
    """

    after: Any
    factor: float
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if not callable(self.after):
            raise ConfigError(f"Scaled: after must be a schedule (a callable step -> lr), got {self.after!r}")
        object.__setattr__(self, "factor", _real("Scaled: factor", self.factor, allow_low=True))
        object.__setattr__(self, "min_lr", _real("Scaled: min_lr", self.min_lr, allow_low=True))

    def __call__(self, step: int) -> float:
        base = float(self.after(step))
        return max(self.factor * base, min(self.min_lr, base))

    def config(self) -> dict[str, Any] | None:
        """The JSON-able description (None when ``after`` cannot be described)."""
        after = to_config(self.after)
        return None if after is None else {"after": after, "factor": self.factor, "min_lr": self.min_lr}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Scaled:
        """The schedule :meth:`config` described (names resolve through the registry)."""
        if not isinstance(config, dict) or "after" not in config or "factor" not in config \
                or not set(config) <= {"after", "factor", "min_lr"}:
            raise ConfigError(f"Scaled: expected {{'after': schedule, 'factor': number, 'min_lr': number}}, "
                              f"got {str(config)[:120]}")
        return cls(from_config(config["after"]), config["factor"], config.get("min_lr", 0.0))


def _build(cls: Callable[..., Any], name: str, kwargs: dict[str, Any]) -> Any:
    return registry.construct(cls, kwargs, what=f"schedule {name!r}")


def to_config(schedule: Any) -> Any:
    """A JSON-able description of a number or registered schedule: ``{"type": name, **config}``;
    None for a callable that is not registered (or whose ``config()`` is None)."""
    if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
        return float(schedule)
    cls = type(schedule)
    name = registry.name_of("schedule", cls)
    if name is None:
        return None
    if callable(getattr(schedule, "config", None)):
        config = schedule.config()
    elif dataclasses.is_dataclass(schedule):
        config = {f.name: getattr(schedule, f.name) for f in dataclasses.fields(schedule)}
    else:
        return None
    if config is None:
        return None
    if not isinstance(config, dict) or "type" in config:
        raise ConfigError(f"{cls.__name__}.config() must return a dict of constructor arguments without a 'type' "
                          f"key, got {config!r}")
    return {"type": name, **config}


def from_config(config: Any) -> Any:
    """Rebuild what :func:`to_config` described; names resolve only through the registry."""
    if isinstance(config, numbers.Real) and not isinstance(config, bool):
        return float(config)
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ConfigError(f"unknown schedule description {str(config)[:80]}: expected a number or "
                          "{'type': name, ...}")
    try:
        cls = registry.lookup("schedule", config["type"])
    except UnknownNameError:
        raise UnknownNameError(f"unknown schedule {config['type'][:80]!r}; known: "
                               f"{', '.join(registry.names('schedule'))} (register your own with "
                               "anynet.register('schedule'))") from None
    kwargs = {k: v for k, v in config.items() if k != "type"}
    from_config = getattr(cls, "from_config", None) if isinstance(cls, type) else None
    if callable(from_config):
        return from_config(kwargs)
    return _build(cls, config["type"], kwargs)


def names() -> list[str]:
    """Every registered schedule name."""
    return registry.names("schedule")


__all__ = ["Chain", "Constant", "Cosine", "Exponential", "Inv", "Scaled", "Schedule", "Step", "Warmup",
           "from_config", "names", "to_config"]
