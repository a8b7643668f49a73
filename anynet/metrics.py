"""Metrics accumulated on the device over batches and read once per epoch.

``update`` does only array operations (no synchronisation); ``result`` reads the value. Get a
fresh metric configured for a loss with ``metrics.get(name, loss=loss)``: accuracy then knows
whether a single output is a logit (threshold 0) or a probability (threshold 0.5).

Registering your own: subclass :class:`Metric` (``update``, ``result``, and ``reset`` if it keeps
more than the running sums of ``_add``) and register the class with
``@anynet.register("metric", "my_metric")``; ``fit(metrics=["my_metric"])`` then logs it under
that name. Override the class method ``for_loss`` to configure it from the loss.

Example:
    >>> import numpy as np
    >>> import anynet
    >>> from anynet import metrics
    >>> m = metrics.get("accuracy")
    >>> m.update(np.asarray([[2.0, 1.0], [0.0, 3.0]]), np.asarray([0, 0]))
    >>> m.result()
    0.5
    >>> @anynet.register("metric", "bias")
    ... class Bias(metrics.Metric):
    ...     def update(self, pred, target):
    ...         xp = anynet.backends.namespace_of(pred)
    ...         self._add("sum", xp.sum(pred - xp.reshape(target, pred.shape)))
    ...         self.count += int(pred.shape[0])
    ...     def result(self):
    ...         return float(self._sums["sum"]) / self.count if self.count else float("nan")
    >>> m = metrics.get("bias")
    >>> m.update(np.asarray([[1.0], [2.0]]), np.asarray([1.5, 0.5]))
    >>> m.name, m.result()
    ('bias', 0.5)
    >>> anynet.registry.unregister("metric", "bias")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import registry
from .backends import namespace_of, to_numpy
from .errors import ConfigError, InputTypeError, UnknownNameError
from .registry import register

Array = Any


class Metric:
    """Base class: a value accumulated over batches with ``update`` and read with ``result``.

    Attributes:
        name: the key it is logged under (the name its class is registered under).
        greater_is_better: True when a larger value is better (for early stopping's mode="auto").
        count: the number of samples seen since the last ``reset``.

    Subclasses accumulate device arrays with ``self._add(key, value)`` (a running sum in
    ``self._sums[key]``, no synchronisation) and read them in ``result``.
    """

    greater_is_better = False

    def __init__(self) -> None:
        self.reset()

    name = registry.name_property("metric")

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        """A fresh metric for a model trained with ``loss`` (default: ``cls(**options)``)."""
        return cls(**options)

    def reset(self) -> None:
        self._sums: dict[str, Any] = {}
        self.count = 0

    def _add(self, key: str, value: Array) -> None:
        self._sums[key] = value if key not in self._sums else self._sums[key] + value

    def all_reduce(self, sum_array: Callable[[Array], Array], sum_count: Callable[[int], int]) -> None:
        """Sum the running sums and the count over every process of data-parallel training
        (:mod:`anynet.distributed`), so :meth:`result` gives the value over the global data. A metric
        that keeps more than ``_add``'s sums and ``count`` overrides this."""
        self._sums = {k: sum_array(v) for k, v in sorted(self._sums.items())}
        self.count = sum_count(self.count)

    def update(self, pred: Array, target: Array) -> None:
        """Add a batch: ``pred`` the model's outputs (n, outputs), ``target`` the prepared targets."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(pred, target)")

    def result(self) -> float:
        """The value over every batch since the last ``reset`` (reads the device: once per epoch)."""
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@register("metric", "accuracy", aliases=("acc",))
class Accuracy(Metric):
    """Fraction of correct predictions. Multi-class: argmax of the outputs against integer
    labels or the argmax of one-hot targets. One output: threshold at 0.5 (probabilities) or 0
    (logits, for a loss with ``from_logits``, e.g. ``BCEWithLogits``).

    Arguments:
        from_logits: whether a single output is a logit (threshold 0) rather than a probability.
    """

    greater_is_better = True

    def __init__(self, *, from_logits: bool = False) -> None:
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ConfigError(f"Accuracy: from_logits must be True or False, got {from_logits!r}")
        self.from_logits = bool(from_logits)
        super().__init__()

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        options.setdefault("from_logits", bool(getattr(loss, "from_logits", False)))
        return cls(**options)

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        n = int(pred.shape[0])
        if pred.ndim == 2 and pred.shape[1] > 1:
            guess = xp.argmax(pred, axis=1)
            truth = xp.argmax(target, axis=1) if target.ndim == 2 else xp.astype(target, guess.dtype)
            hits = guess == truth
        else:
            threshold = 0.0 if self.from_logits else 0.5
            p = xp.reshape(pred, (-1,))
            t = xp.reshape(target, (-1,))
            hits = (p > threshold) == (t > 0.5)
        self._add("hits", xp.sum(xp.astype(hits, pred.dtype)))
        self.count += n

    def result(self) -> float:
        return float(self._sums["hits"]) / self.count if self.count else float("nan")

    def __repr__(self) -> str:
        return f"Accuracy(from_logits={self.from_logits})"


class MeanError(Metric):
    """Mean absolute (``power=1``) or squared (``power=2``) error over every output."""

    #: 1 for the absolute error, 2 for the squared error
    power = 1

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        target = xp.reshape(target, pred.shape)
        d = pred - target
        self._add("err", xp.sum(xp.abs(d) if self.power == 1 else d * d))
        self.count += int(pred.shape[0]) * (int(pred.shape[1]) if pred.ndim == 2 else 1)

    def result(self) -> float:
        return float(self._sums["err"]) / self.count if self.count else float("nan")


@register("metric", "mae")
class MAE(MeanError):
    """Mean absolute error over every output."""

    power = 1


@register("metric", "mse")
class MSE(MeanError):
    """Mean squared error over every output."""

    power = 2


@register("metric", "r2")
class R2(Metric):
    """Coefficient of determination 1 − SSE/SST, averaged over outputs (scikit-learn's
    ``r2_score`` with uniform averaging)."""

    greater_is_better = True

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        target = xp.reshape(target, pred.shape)
        d = pred - target
        self._add("sse", xp.sum(d * d, axis=0))
        self._add("sum", xp.sum(target, axis=0))
        self._add("sum2", xp.sum(target * target, axis=0))
        self.count += int(pred.shape[0])

    def result(self) -> float:
        if not self.count:
            return float("nan")
        sse, s, s2 = (to_numpy(self._sums[k]).astype("float64") for k in ("sse", "sum", "sum2"))
        sst = s2 - s * s / self.count
        scores = [1.0 - a / b if b > 0 else 0.0 for a, b in zip(sse.tolist(), sst.tolist())]
        return float(sum(scores) / len(scores))


#: the built-in names in the order they are listed to users (users' own follow, sorted)
_LISTED = ("accuracy", "mae", "mse", "r2")


def names() -> list[str]:
    """Every registered metric name (aliases left out): the built-in ones, then users'."""
    known = registry.names("metric")
    return [n for n in _LISTED if n in known] + [n for n in known if n not in _LISTED]


def get(spec: str | Metric | type[Metric], *, loss: Any = None, **options: Any) -> Metric:
    """A fresh metric, configured for ``loss``, from a registered name (``"accuracy"``/``"acc"``,
    ``"mae"``, ``"mse"``, ``"r2"``, or your own) or a Metric class; a Metric instance is returned
    as it is.

    Arguments:
        spec: the name, class or instance.
        loss: the loss the model is trained with (its ``from_logits`` sets accuracy's threshold).
        **options: keyword options of the metric's class (e.g. ``from_logits=True``), which take
            precedence over what the loss implies.

    Raises:
        UnknownNameError: a name that is not registered (the message lists the known ones).
        ConfigError: options the metric does not take.

    Example:
        >>> from anynet import losses, metrics
        >>> metrics.get("acc", loss=losses.BCEWithLogits())
        Accuracy(from_logits=True)
    """
    if isinstance(spec, Metric):
        if options:
            raise ConfigError(f"metrics.get: options {sorted(options)} apply only to a name or class, "
                              f"not to {spec!r}")
        return spec
    if isinstance(spec, str):
        try:
            cls = registry.lookup("metric", spec)
        except UnknownNameError:
            raise UnknownNameError(f"unknown metric {spec[:80]!r}; known: {', '.join(names())} "
                                   "(register your own Metric subclass with anynet.register('metric'))") from None
        if not (isinstance(cls, type) and issubclass(cls, Metric)):
            raise ConfigError(f"the metric registered as {spec!r} is {cls!r}, not a subclass of "
                              "anynet.metrics.Metric")
    elif isinstance(spec, type) and issubclass(spec, Metric):
        cls = spec
    else:
        raise InputTypeError(f"metric must be a name, a Metric class or an anynet.metrics.Metric, got {spec!r}")
    try:
        inspect.signature(cls).bind(**options)
    except TypeError:
        raise ConfigError(f"metric {spec if isinstance(spec, str) else cls.__name__!r} does not take options "
                          f"{sorted(options)}") from None
    except ValueError:  # no signature to read: let the call decide
        pass
    return cls.for_loss(loss, **options)


__all__ = ["MAE", "MSE", "R2", "Accuracy", "MeanError", "Metric", "get", "names"]
