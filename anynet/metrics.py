"""Metrics accumulated on the device over batches and read once per epoch.

``update`` does only array operations (no synchronisation); ``result`` reads the value.

Example:
    >>> import numpy as np
    >>> from anynet import metrics
    >>> m = metrics.get("accuracy")
    >>> m.update(np.asarray([[2.0, 1.0], [0.0, 3.0]]), np.asarray([0, 0]))
    >>> m.result()
    0.5
"""

from __future__ import annotations

from typing import Any

from .backends import namespace_of

Array = Any


class Metric:
    name = "metric"
    #: True when a larger value is better (for early stopping's mode="auto")
    greater_is_better = False

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, Any] = {}
        self.count = 0

    def _add(self, key: str, value: Array) -> None:
        self._sums[key] = value if key not in self._sums else self._sums[key] + value

    def update(self, pred: Array, target: Array) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError


class Accuracy(Metric):
    """Fraction of correct predictions. Multi-class: argmax of the outputs against integer
    labels or the argmax of one-hot targets. One output: threshold at 0.5 (probabilities) or 0
    (logits, when trained with ``BCEWithLogits``)."""

    name = "accuracy"
    greater_is_better = True

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = from_logits
        super().__init__()

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


class MeanError(Metric):
    """Mean absolute (``power=1``) or squared (``power=2``) error over every output."""

    def __init__(self, power: int) -> None:
        self.power = power
        self.name = "mae" if power == 1 else "mse"
        super().__init__()

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        target = xp.reshape(target, pred.shape)
        d = pred - target
        self._add("err", xp.sum(xp.abs(d) if self.power == 1 else d * d))
        self.count += int(pred.shape[0]) * (int(pred.shape[1]) if pred.ndim == 2 else 1)

    def result(self) -> float:
        return float(self._sums["err"]) / self.count if self.count else float("nan")


class R2(Metric):
    """Coefficient of determination 1 − SSE/SST, averaged over outputs (scikit-learn's
    ``r2_score`` with uniform averaging)."""

    name = "r2"
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
        from .backends import to_numpy

        sse, s, s2 = (to_numpy(self._sums[k]).astype("float64") for k in ("sse", "sum", "sum2"))
        sst = s2 - s * s / self.count
        scores = [1.0 - a / b if b > 0 else 0.0 for a, b in zip(sse.tolist(), sst.tolist())]
        return float(sum(scores) / len(scores))


METRICS = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "mae": lambda **kw: MeanError(1),
    "mse": lambda **kw: MeanError(2),
    "r2": R2,
}


def get(name: str | Metric, **options: Any) -> Metric:
    """A fresh metric by name (``accuracy``, ``mae``, ``mse``, ``r2``) or the instance given."""
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str) or name.lower() not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: accuracy, mae, mse, r2")
    factory = METRICS[name.lower()]
    return factory(**options) if name.lower() in ("accuracy", "acc") else factory()
