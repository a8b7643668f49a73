"""Metrics accumulated on the device over batches and read once per epoch.

``update`` does only array operations (no synchronisation); ``result`` reads the value. Get a
fresh metric configured for a loss with ``metrics.get(name, loss=loss)``: accuracy then knows
whether a single output is a logit (threshold 0) or a probability (threshold 0.5).

The metrics, by the name ``fit(metrics=[...])`` and ``evaluate`` take (scikit-learn's scoring
strings where scikit-learn has one; each equals ``sklearn.metrics`` on the same predictions):

- ``accuracy`` (``acc``): the fraction of correct predictions.
- ``top_k_accuracy``: the true class among the ``k`` highest outputs (``k=2``).
- ``precision``, ``recall``, ``f1``: of class 1, for two classes (``average="binary"``).
- ``precision_macro``, ``recall_macro``, ``f1_macro``: the mean over the classes present in the
  targets or the predictions (``average="macro"``).
- ``precision_micro``, ``recall_micro``, ``f1_micro``: from the counts summed over the classes
  (``average="micro"``; each equals accuracy).
- ``precision_weighted``, ``recall_weighted``, ``f1_weighted``: the mean over the classes weighted
  by their numbers of true samples (``average="weighted"``).
- ``roc_auc``: the area under the ROC curve of two classes (exact, a tie counting 1/2).
- ``roc_auc_ovr``: the mean over the classes of each one's ROC-AUC against the rest.
- ``log_loss``: the mean cross-entropy of the probabilities (lower is better).
- ``confusion_matrix``: the counts of (true class, predicted class); from ``evaluate`` only.
- ``mae``, ``mse``, ``r2``: regression's mean absolute and squared errors, and R².

Classes come from the outputs as :class:`Accuracy` reads them: the argmax of several outputs, or a
single output thresholded at 0.5 (0 for logits); targets are class labels, one-hot rows or 0/1.
A class that is never predicted has precision 0 (scikit-learn's default ``zero_division``), and
one that has no true sample has recall 0; the macro mean leaves out a class that appears in
neither. ``roc_auc`` scores a single output as it is (a logit ranks as its probability does) and
two outputs by the probability of class 1; ``roc_auc_ovr`` and ``log_loss`` read the
probabilities the loss gives (``predict_proba``); ``top_k_accuracy`` ranks the outputs, ties
broken as scikit-learn breaks them.

The counting metrics add a confusion matrix per batch (``one_hot(true).T @ one_hot(pred)``) on the
device; data-parallel training and :func:`anynet.dask.evaluate` sum those counts, so the value is
the global one. ROC-AUC and a function metric keep every batch's outputs on the device and
compute at ``result``; those cannot be summed from per-process parts, so they are refused, with a
message, where parts would be added up (more than one process or Dask chunk).

Any function ``f(y_true, y_pred)`` is a metric too (e.g. ``sklearn.metrics.balanced_accuracy_score``),
logged under its ``__name__`` and computed on the host at the end of the epoch; see
:func:`from_function` for what ``y_pred`` holds. A lambda is refused: its ``__name__``,
``<lambda>``, would say nothing of what was measured and two of them would overwrite each other
in the History; define the function with ``def`` or name it with ``from_function(f, name=...)``.

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
    >>> m = metrics.get("f1_macro")
    >>> m.update(np.asarray([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.asarray([0, 1, 1]))
    >>> round(m.result(), 4)
    0.6667
    >>> @anynet.register("metric", "bias")
    ... class Bias(metrics.Metric):
    ...     def update(self, pred, target):
    ...         xp = anynet.backends.namespace_of(pred)
    ...         self._add("sum", xp.sum(pred - xp.reshape(target, pred.shape)))
    ...         self.count += int(pred.shape[0])
    ...     def result(self):
    ...         return float(anynet.backends.to_numpy(self._sums["sum"])) / self.count if self.count else float("nan")
    >>> m = metrics.get("bias")
    >>> m.update(np.asarray([[1.0], [2.0]]), np.asarray([1.5, 0.5]))
    >>> m.name, m.result()
    ('bias', 0.5)
    >>> anynet.registry.unregister("metric", "bias")
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import registry
from .activations import sigmoid, softmax
from .backends import backend_of, namespace_of, to_numpy
from .errors import ConfigError, InputError, InputTypeError, UnknownNameError
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
    #: False for a metric whose per-process parts cannot be summed (it keeps the outputs themselves)
    summable = True
    #: False for a metric whose result is not one number (``confusion_matrix``): ``evaluate`` only
    scalar = True

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

    def check_outputs(self, outputs: int) -> None:
        """Refuse, with :class:`~anynet.ConfigError`, a model of ``outputs`` output columns this
        metric is not defined for (default: every width is fine). ``update`` calls it; a training
        loop may call it before its first step."""

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
            t = xp.reshape(xp.astype(target, pred.dtype), (-1,))  # (integer labels compare as floats)
            hits = (p > threshold) == (t > 0.5)
        self._add("hits", xp.sum(xp.astype(hits, pred.dtype)))
        self.count += n

    def result(self) -> float:
        return _read(self._sums["hits"]) / self.count if self.count else float("nan")

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
        return _read(self._sums["err"]) / self.count if self.count else float("nan")


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


# -- helpers shared by the classification metrics ------------------------------------------------
class UndefinedMetricWarning(UserWarning):
    """A metric undefined on the data seen (ROC-AUC with only one class among the targets): its
    value is nan, as scikit-learn gives it."""


def _read(x: Array) -> float:
    """One 0-d device value as a Python float: an explicit transfer (``to_numpy``), once per epoch."""
    return _read_all(x)[0]


def _read_all(*values: Array) -> list[float]:
    """0-d values of one dtype as Python floats, in one explicit transfer (NumPy's scalars need none)."""
    if all(isinstance(v, (np.generic, np.ndarray)) for v in values):
        return [float(np.asarray(v)) for v in values]
    return [float(v) for v in to_numpy(namespace_of(values[0]).stack(values)).tolist()]


def _labelled(name: str, found: float, count: int, classes: int) -> None:
    """Refuse targets that were not all class labels in [0, classes): ``found`` of ``count`` were."""
    if abs(found - count) > 1e-6 * max(count, 1):
        raise InputError(f"{name}: {count - found:g} of {count} targets are not class labels in [0, {classes}) (nor "
                         f"one-hot rows); give labels 0 … {classes - 1}, one per output column")


def _check_from_logits(owner: str, from_logits: Any) -> bool:
    if not isinstance(from_logits, (bool, np.bool_)):
        raise ConfigError(f"{owner}: from_logits must be True or False, got {from_logits!r}")
    return bool(from_logits)


def _is_classifier(loss: Any) -> bool:
    """Whether ``loss`` turns outputs into probabilities (a cross-entropy: it overrides ``to_proba``)."""
    from .losses import Loss

    to_proba = getattr(type(loss), "to_proba", None)
    return loss is not None and to_proba is not None and to_proba is not getattr(Loss, "to_proba", None)


def _labels(pred: Array, target: Array, from_logits: bool) -> tuple[Array, Array, int]:
    """``(true classes, predicted classes, number of classes)``: integer (n,) arrays on pred's device.

    Several outputs: the argmax of ``pred``; targets are integer labels (n,) or (n, 1), or rows of
    one-hot (or class-probability) targets, read by their argmax. One output: two classes, the
    output thresholded at 0 (``from_logits``) or 0.5, the target at 0.5."""
    xp = namespace_of(pred)
    if pred.ndim == 2 and int(pred.shape[1]) > 1:
        classes = int(pred.shape[1])
        guess = xp.argmax(pred, axis=1)
        truth = (xp.argmax(target, axis=1) if target.ndim == 2 and int(target.shape[1]) > 1
                 else xp.reshape(target, (-1,)))
    else:
        classes = 2
        guess = xp.reshape(pred, (-1,)) > (0.0 if from_logits else 0.5)
        truth = xp.reshape(xp.astype(target, pred.dtype), (-1,)) > 0.5
    ints = _ints(pred)
    return xp.astype(truth, ints), xp.astype(guess, ints), classes


def _width(pred: Array) -> int:
    """The number of output columns of ``pred`` (n, outputs) or (n,)."""
    return int(pred.shape[1]) if pred.ndim == 2 else 1


def _one_hot(labels: Array, classes: int, dtype: Any) -> Array:
    """(n,) integer labels → (n, classes) of ``dtype`` (a label outside [0, classes) gives a zero row)."""
    xp = namespace_of(labels)
    k = xp.arange(classes, dtype=labels.dtype, device=backend_of(labels).device)
    return xp.astype(xp.reshape(labels, (-1, 1)) == k, dtype)


class _FromLoss:
    """Mixin of the metrics that read class probabilities: ``self.proba(pred)`` is the loss's
    ``to_proba`` for a cross-entropy loss, else softmax / sigmoid of logits (``from_logits``) or the
    outputs as they are."""

    from_logits = False
    _to_proba: Callable[[Array], Array] | None = None

    def proba(self, pred: Array) -> Array:
        if self._to_proba is not None:
            return self._to_proba(pred)
        if not self.from_logits:
            return pred
        return softmax(pred) if pred.ndim == 2 and int(pred.shape[1]) > 1 else sigmoid(pred)

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        """Probabilities as ``loss`` gives them (an explicit ``from_logits`` takes precedence)."""
        explicit = "from_logits" in options
        options.setdefault("from_logits", bool(getattr(loss, "from_logits", False)))
        metric = cls(**options)
        if not explicit and _is_classifier(loss):
            metric._to_proba = loss.to_proba
        return metric  # type: ignore[return-value]


# -- counts per class: precision, recall, F1, the confusion matrix -------------------------------
class ClassCounts(Metric):
    """A confusion matrix summed over batches on the device: ``counts[i, j]`` is the number of
    samples of true class ``i`` predicted as class ``j`` (``one_hot(true).T @ one_hot(pred)`` per
    batch, kept as integers). Subclasses read a score from it; data-parallel sums it.

    Arguments:
        from_logits: whether a single output is a logit (threshold 0) rather than a probability.
    """

    greater_is_better = True

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = _check_from_logits(type(self).__name__, from_logits)
        super().__init__()

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        options.setdefault("from_logits", bool(getattr(loss, "from_logits", False)))
        return cls(**options)

    def update(self, pred: Array, target: Array) -> None:
        """Add a batch. Shapes: ``pred`` (n, C) or (n, 1); ``target`` (n,), (n, 1) or (n, C)."""
        xp = namespace_of(pred)
        truth, guess, classes = _labels(pred, target, self.from_logits)
        self.check_outputs(_width(pred))
        dtype = pred.dtype  # a float matmul (exact: 0/1 products, below 2^24 rows a batch in float32)
        counts = xp.matmul(xp.matrix_transpose(_one_hot(truth, classes, dtype)), _one_hot(guess, classes, dtype))
        self._add("counts", xp.astype(counts, _ints(pred)))
        self.count += int(pred.shape[0])

    def counts(self) -> np.ndarray:
        """The (C, C) int64 confusion matrix on the host (rows: true class, columns: predicted).

        Raises:
            InputError: a target label outside [0, C) (its sample fell in no cell).
        """
        if not self.count:
            raise InputError(f"{self.name}: no batch was added since the last reset, so there are no counts")
        counts = to_numpy(self._sums["counts"]).astype(np.int64)
        _labelled(self.name, int(counts.sum()), self.count, int(counts.shape[0]))
        return counts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


@register("metric", "confusion_matrix")
class ConfusionMatrix(ClassCounts):
    """The confusion matrix itself, as ``sklearn.metrics.confusion_matrix(y_true, y_pred,
    labels=range(C))``: a (C, C) int64 NumPy array, rows the true class, columns the predicted
    one (C = 2 for a single output). Not a number, so ``evaluate(metrics=["confusion_matrix"])``
    gives it and ``fit`` refuses it (the History, the progress line and callbacks log numbers).

    Example:
        >>> import numpy as np
        >>> from anynet import metrics
        >>> m = metrics.get("confusion_matrix")
        >>> m.update(np.asarray([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.asarray([0, 1, 1]))
        >>> m.result().tolist()
        [[1, 0], [1, 1]]
    """

    scalar = False

    def result(self) -> np.ndarray:  # type: ignore[override]
        return self.counts()


def _per_class(counts: np.ndarray, score: str) -> tuple[np.ndarray, np.ndarray]:
    """``(numerator, denominator)`` per class of ``score`` from a confusion matrix (float64)."""
    c = counts.astype(np.float64)
    tp, true, predicted = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    return {"precision": (tp, predicted), "recall": (tp, true), "f1": (2.0 * tp, true + predicted)}[score]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's default ``zero_division``, without its warning)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _binary(counts: np.ndarray, score: str) -> float:
    num, den = _per_class(counts, score)
    return float(_ratio(num, den)[1])


def _micro(counts: np.ndarray, score: str) -> float:
    num, den = _per_class(counts, score)
    return float(_ratio(np.asarray(num.sum()), np.asarray(den.sum())))


def _present(counts: np.ndarray) -> np.ndarray:
    """The classes scikit-learn averages over: present among the targets or the predictions."""
    return (counts.sum(axis=0) + counts.sum(axis=1)) > 0


def _macro(counts: np.ndarray, score: str) -> float:
    num, den = _per_class(counts, score)
    return float(np.mean(_ratio(num, den)[_present(counts)]))


def _weighted(counts: np.ndarray, score: str) -> float:
    num, den = _per_class(counts, score)
    support = counts.sum(axis=1).astype(np.float64)
    keep = _present(counts)
    return float(np.sum(_ratio(num, den)[keep] * support[keep]) / np.sum(support[keep]))


#: how each ``average`` combines the per-class scores (scikit-learn's ``average=``)
_AVERAGES: dict[str, Callable[[np.ndarray, str], float]] = {
    "binary": _binary, "micro": _micro, "macro": _macro, "weighted": _weighted}


class ClassScore(ClassCounts):
    """Precision, recall or F1 from the summed confusion matrix, as ``sklearn.metrics``'s
    ``precision_score``, ``recall_score`` and ``f1_score`` with their defaults (``pos_label=1``,
    ``zero_division`` 0). Subclasses set ``score`` (``"precision"``, ``"recall"``, ``"f1"``) and
    ``average`` (``"binary"``, ``"micro"``, ``"macro"``, ``"weighted"``)."""

    score = "f1"
    average = "binary"

    def check_outputs(self, outputs: int) -> None:
        classes = max(outputs, 2)
        if self.average == "binary" and classes != 2:
            raise ConfigError(f"metric {self.name!r} is the score of class 1 of two classes (scikit-learn's "
                              f"average='binary'), but the model has {classes} outputs, one per class; use "
                              f"'{self.score}_macro', '{self.score}_micro' or '{self.score}_weighted'")

    def result(self) -> float:
        if not self.count:
            return float("nan")
        return _AVERAGES[self.average](self.counts(), self.score)


@register("metric", "precision")
class Precision(ClassScore):
    """Precision of class 1 of two: ``precision_score(y, p)``."""

    score, average = "precision", "binary"


@register("metric", "precision_macro")
class PrecisionMacro(ClassScore):
    """Mean per-class precision: ``precision_score(y, p, average="macro")``."""

    score, average = "precision", "macro"


@register("metric", "precision_micro")
class PrecisionMicro(ClassScore):
    """Precision of the summed counts: ``precision_score(y, p, average="micro")``."""

    score, average = "precision", "micro"


@register("metric", "precision_weighted")
class PrecisionWeighted(ClassScore):
    """Per-class precision weighted by support: ``precision_score(y, p, average="weighted")``."""

    score, average = "precision", "weighted"


@register("metric", "recall")
class Recall(ClassScore):
    """Recall of class 1 of two: ``recall_score(y, p)``."""

    score, average = "recall", "binary"


@register("metric", "recall_macro")
class RecallMacro(ClassScore):
    """Mean per-class recall (balanced accuracy): ``recall_score(y, p, average="macro")``."""

    score, average = "recall", "macro"


@register("metric", "recall_micro")
class RecallMicro(ClassScore):
    """Recall of the summed counts: ``recall_score(y, p, average="micro")``."""

    score, average = "recall", "micro"


@register("metric", "recall_weighted")
class RecallWeighted(ClassScore):
    """Per-class recall weighted by support: ``recall_score(y, p, average="weighted")``."""

    score, average = "recall", "weighted"


@register("metric", "f1")
class F1(ClassScore):
    """F1 of class 1 of two: ``f1_score(y, p)``."""

    score, average = "f1", "binary"


@register("metric", "f1_macro")
class F1Macro(ClassScore):
    """Mean per-class F1: ``f1_score(y, p, average="macro")``."""

    score, average = "f1", "macro"


@register("metric", "f1_micro")
class F1Micro(ClassScore):
    """F1 of the summed counts: ``f1_score(y, p, average="micro")``."""

    score, average = "f1", "micro"


@register("metric", "f1_weighted")
class F1Weighted(ClassScore):
    """Per-class F1 weighted by support: ``f1_score(y, p, average="weighted")``."""

    score, average = "f1", "weighted"


# -- top-k accuracy and log-loss: running sums ---------------------------------------------------
@register("metric", "top_k_accuracy")
class TopKAccuracy(Metric):
    """Fraction of samples whose true class is among the ``k`` highest outputs, as
    ``sklearn.metrics.top_k_accuracy_score(y, outputs, k=k)``: tied outputs are ranked as
    scikit-learn ranks them (the higher class index first). A single output (two classes): ``k=1``
    is accuracy at the threshold 0.5 (0 for logits), ``k ≥ 2`` is 1.

    Arguments:
        k: how many of the highest outputs count (scikit-learn's default, 2).
        from_logits: whether a single output is a logit (threshold 0 for ``k=1``).

    Example:
        >>> import numpy as np
        >>> from anynet import metrics
        >>> m = metrics.get("top_k_accuracy", k=2)
        >>> m.update(np.asarray([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]), np.asarray([1, 2]))
        >>> m.result()
        0.5
    """

    greater_is_better = True

    def __init__(self, *, k: int = 2, from_logits: bool = False) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"top_k_accuracy: k must be an int ≥ 1, got {k!r}")
        self.k = int(k)
        self.from_logits = _check_from_logits("top_k_accuracy", from_logits)
        super().__init__()

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        options.setdefault("from_logits", bool(getattr(loss, "from_logits", False)))
        return cls(**options)

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        truth, guess, classes = _labels(pred, target, self.from_logits)
        if classes == 2 and not (pred.ndim == 2 and int(pred.shape[1]) == 2):  # one output
            hits = truth == guess if self.k == 1 else truth == truth
            labelled = xp.sum(xp.astype(hits == hits, truth.dtype))
        else:
            mine = xp.astype(_one_hot(truth, classes, truth.dtype), xp.bool)
            labelled = xp.sum(xp.astype(mine, truth.dtype))
            own = xp.sum(xp.where(mine, pred, xp.zeros_like(pred)), axis=1, keepdims=True)  # the true class's output
            index = xp.arange(classes, dtype=truth.dtype, device=backend_of(pred).device)
            ahead = xp.astype(pred > own, truth.dtype) + xp.astype(
                (pred == own) & (index > xp.reshape(truth, (-1, 1))), truth.dtype)
            hits = xp.sum(ahead, axis=1) < self.k
        self._add("hits", xp.sum(xp.astype(hits, truth.dtype)))
        self._add("labelled", labelled)
        self.classes = classes
        self.count += int(pred.shape[0])

    def result(self) -> float:
        if not self.count:
            return float("nan")
        hits, labelled = _read_all(self._sums["hits"], self._sums["labelled"])  # one read
        _labelled("top_k_accuracy", labelled, self.count, self.classes)
        return float(hits) / self.count

    def __repr__(self) -> str:
        return f"TopKAccuracy(k={self.k}, from_logits={self.from_logits})"


@register("metric", "log_loss")
class LogLoss(_FromLoss, Metric):
    """Mean cross-entropy of the predicted probabilities, as ``sklearn.metrics.log_loss(y, proba)``:
    probabilities clipped to [eps, 1 − eps] (eps of their dtype), natural log. The probabilities
    are the loss's (``predict_proba``: softmax or sigmoid of logits); a single output is the
    probability of class 1. Lower is better. Targets: labels, one-hot rows, or 0/1 (a soft target
    in [0, 1] gives the cross-entropy against it).

    Arguments:
        from_logits: without a loss, whether the outputs are logits (softmax / sigmoid first).

    Example:
        >>> import numpy as np
        >>> from anynet import metrics
        >>> m = metrics.get("log_loss")
        >>> m.update(np.asarray([[0.9], [0.4]]), np.asarray([1.0, 0.0]))
        >>> round(m.result(), 6)  # -(log 0.9 + log 0.6) / 2
        0.308093
    """

    greater_is_better = False

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = _check_from_logits("log_loss", from_logits)
        super().__init__()

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        p = self.proba(pred)
        eps = float(xp.finfo(p.dtype).eps)

        def log(q: Array) -> Array:
            return xp.log(xp.minimum(xp.maximum(q, eps), 1.0 - eps))

        if p.ndim == 2 and int(p.shape[1]) > 1:
            t = (xp.astype(target, p.dtype) if target.ndim == 2 and int(target.shape[1]) > 1
                 else _one_hot(xp.astype(xp.reshape(target, (-1,)), _ints(p)), int(p.shape[1]), p.dtype))
            total, mass = xp.sum(t * log(p)), xp.sum(t)
            self.classes = int(p.shape[1])
        else:
            q, t = xp.reshape(p, (-1,)), xp.astype(xp.reshape(target, (-1,)), p.dtype)
            total = xp.sum(t * log(q) + (1.0 - t) * log(1.0 - q))
            mass, self.classes = xp.asarray(float(pred.shape[0]), dtype=p.dtype, device=backend_of(p).device), 2
        self._add("sum", -total)
        self._add("mass", mass)  # one per sample, unless a label fell outside the classes
        self.count += int(pred.shape[0])

    def result(self) -> float:
        if not self.count:
            return float("nan")
        total, mass = _read_all(self._sums["sum"], self._sums["mass"])  # one read
        _labelled("log_loss", mass, self.count, self.classes)
        return float(total) / self.count

    def __repr__(self) -> str:
        return f"LogLoss(from_logits={self.from_logits})"


# -- metrics of every output at once: ROC-AUC and functions ----------------------------------------
class Gathered(Metric):
    """A metric computed from every output of the epoch at once: ``update`` keeps each batch's
    arrays on the device (``self._keep``), ``result`` concatenates them (``self._gathered``) and
    computes. Its parts cannot be summed, so :meth:`all_reduce` refuses more than one part
    (data-parallel processes, Dask chunks) with a :class:`~anynet.ConfigError`."""

    summable = False

    def reset(self) -> None:
        super().reset()
        self._kept: dict[str, list[Array]] = {}

    def _keep(self, key: str, value: Array) -> None:
        self._kept.setdefault(key, []).append(value)

    def _gathered(self, key: str) -> Array:
        parts = self._kept[key]
        return parts[0] if len(parts) == 1 else namespace_of(parts[0]).concat(parts, axis=0)

    def all_reduce(self, sum_array: Callable[[Array], Array], sum_count: Callable[[int], int]) -> None:
        """Refuse to combine parts: there is nothing to sum (the value needs every output together)."""
        parts = sum_count(1)
        if parts > 1:
            raise ConfigError(
                f"metric {self.name!r} is computed from every output at once, so it cannot be added up from "
                f"{parts} parts (processes of data-parallel training, or chunks of anynet.dask.evaluate): leave "
                "it out of metrics= there and compute it afterwards on one process from model.predict / "
                "predict_proba (or give the Dask arrays as one chunk)")


def _ints(x: Array) -> Any:
    """The integer dtype of counts on ``x``'s device: the library's default (int64; int32 for JAX
    outside its 64-bit mode, which anynet turns on only for float64)."""
    xp = namespace_of(x)
    return xp.__array_namespace_info__().default_dtypes(device=backend_of(x).device)["integral"]


def _exact_sums(rows: list[Array]) -> list[int]:
    """The sums of equal-length integer arrays, exactly, in one transfer: summed on the device with
    64-bit integers, or, with 32-bit ones (whose sums of ranks could overflow), read and summed on the host."""
    xp = namespace_of(rows[0])
    if xp.iinfo(rows[0].dtype).bits >= 64:
        return [int(v) for v in to_numpy(xp.stack([xp.sum(r) for r in rows])).tolist()]
    return [int(v) for v in to_numpy(xp.stack(rows)).astype(np.int64).sum(axis=1).tolist()]


def _auc_terms(s: Array, positive: Array) -> list[Array]:
    """Per sample, for the scores ``s`` (n,) against the boolean ``positive`` (n,): twice its
    mid-rank if positive (ties share the mean of their ranks), whether positive, whether not
    finite. Summed: 2·R, P and the non-finite count; U = R − P(P+1)/2 is the Mann-Whitney
    statistic and the AUC is U / (P·N), as scikit-learn's trapezoids give it, ties counting 1/2."""
    xp = namespace_of(s)
    ints = _ints(s)
    order = xp.sort(s)
    below = xp.astype(xp.searchsorted(order, s, side="left"), ints)
    upto = xp.astype(xp.searchsorted(order, s, side="right"), ints)
    pos = xp.astype(positive, ints)
    return [(below + upto + 1) * pos, pos, xp.astype(xp.logical_not(xp.isfinite(s)), ints)]


class RocAuc(_FromLoss, Gathered):
    """Area under the ROC curve, exact (mid-ranks of the epoch's scores on the device, ties
    counted 1/2, as ``sklearn.metrics.roc_auc_score``). Scores: a single output as it is (a logit
    ranks as its probability), class 1's probability of two outputs; ``ovr`` also takes more
    classes: the mean over the classes of each class's probability against the rest
    (``multi_class="ovr"``, ``average="macro"``). With only one class among the targets (of a
    class, for ``ovr``) the AUC is undefined: nan, with an :class:`UndefinedMetricWarning`.

    Arguments:
        from_logits: without a loss, whether the outputs are logits (softmax first for ``ovr``).
    """

    greater_is_better = True
    #: whether more than two classes are scored one-vs-rest
    ovr = False

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = _check_from_logits(type(self).__name__, from_logits)
        super().__init__()

    def update(self, pred: Array, target: Array) -> None:
        xp = namespace_of(pred)
        self.check_outputs(_width(pred))
        truth, _, classes = _labels(pred, target, self.from_logits)
        if pred.ndim < 2 or int(pred.shape[1]) == 1:
            scores = xp.reshape(pred, (-1,))
        elif classes == 2:
            scores = self.proba(pred)[:, 1]
        else:
            scores = self.proba(pred)
        self._keep("scores", scores)
        self._keep("truth", truth)
        self.count += int(pred.shape[0])

    def check_outputs(self, outputs: int) -> None:
        if not self.ovr and outputs > 2:
            raise ConfigError(f"metric 'roc_auc' scores two classes, but the model has {outputs} outputs, one per "
                              "class; use 'roc_auc_ovr' (each class against the rest)")

    def result(self) -> float:
        if not self.count:
            return float("nan")
        xp = namespace_of(self._kept["scores"][0])
        s, t = self._gathered("scores"), self._gathered("truth")
        if s.ndim == 1:
            columns = [(s, t == 1)]
        else:  # class k's scores, contiguous: the rows of the transposed scores, flattened
            n, flat = int(s.shape[0]), xp.reshape(xp.matrix_transpose(s), (-1,))
            columns = [(flat[k * n:(k + 1) * n], t == k) for k in range(int(s.shape[1]))]
        width = 2 if s.ndim == 1 else int(s.shape[1])
        rows = [term for col, pos in columns for term in _auc_terms(col, pos)]
        rows.append(xp.astype((t >= 0) & (t < width), rows[0].dtype))
        sums = _exact_sums(rows)  # the one read
        _labelled(self.name, sums[-1], self.count, width)
        stats = []
        for k in range(len(columns)):
            twice_r, p, bad = sums[3 * k:3 * k + 3]
            stats.append((p, self.count - p, twice_r - p * (p + 1), bad))
        if any(bad for *_, bad in stats):
            return float("nan")  # non-finite outputs: the loss is not finite either
        lonely = [k for k, (p, n, _, _) in enumerate(stats) if p == 0 or n == 0]
        if lonely:
            which = "the targets" if s.ndim == 1 else f"class {lonely[0]} (of the targets, one-vs-rest)"
            warnings.warn(f"{self.name}: only one class is present in {which}, so ROC-AUC is not defined; "
                          "it is nan", UndefinedMetricWarning, stacklevel=2)
            return float("nan")
        return float(np.mean([u / (2.0 * p * n) for p, n, u, _ in stats]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


@register("metric", "roc_auc")
class RocAucBinary(RocAuc):
    """ROC-AUC of two classes: ``roc_auc_score(y, scores)``.

    Example:
        >>> import numpy as np
        >>> from anynet import metrics
        >>> m = metrics.get("roc_auc")
        >>> m.update(np.asarray([[0.1], [0.4], [0.35], [0.8]]), np.asarray([0, 0, 1, 1]))
        >>> m.result()
        0.75
    """

    ovr = False


@register("metric", "roc_auc_ovr")
class RocAucOvr(RocAuc):
    """Mean one-vs-rest ROC-AUC: ``roc_auc_score(y, proba, multi_class="ovr")``."""

    ovr = True


# -- any function f(y_true, y_pred) ----------------------------------------------------------------
def _host_truth(target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Prepared targets as scikit-learn's regression metrics take them: pred's shape, (n,) for one output."""
    if target.size != pred.size:
        raise InputError(f"a function metric's targets of shape {tuple(target.shape)} do not match the outputs "
                         f"{tuple(pred.shape)}: class labels are read as labels only with a classification loss "
                         "(give loss=, e.g. 'softmax_cross_entropy'); for a regression give one target per output")
    return _squeezed(target.reshape(pred.shape))


def _squeezed(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a


def _predict_response(m: FunctionMetric, out: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not m.classifier:
        return _host_truth(target, out), _squeezed(out)
    truth, guess, _ = _labels(out, target, m.from_logits)
    return truth, guess


def _proba_response(m: FunctionMetric, out: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(m.proba(out))
    truth = _labels(out, target, m.from_logits)[0] if m.classifier else _host_truth(target, out)
    return truth, (p[:, 1] if p.ndim == 2 and p.shape[1] == 2 else _squeezed(p))


def _decision_response(m: FunctionMetric, out: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth = _labels(out, target, m.from_logits)[0] if m.classifier else _host_truth(target, out)
    return truth, _squeezed(out)


#: what a function metric is given as ``y_pred`` (as scikit-learn's scorers' ``response_method``)
_RESPONSES: dict[str, Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "predict": _predict_response, "proba": _proba_response, "decision": _decision_response}


class FunctionMetric(_FromLoss, Gathered):
    """A function ``f(y_true, y_pred) -> number`` as a metric (see :func:`from_function`): every
    batch's outputs and targets are kept on the device, read to the host once at ``result`` and
    handed to ``f``."""

    def __init__(self, function: Callable[[Any, Any], Any], *, name: str | None = None, response: str = "predict",
                 greater_is_better: bool = True, from_logits: bool = False) -> None:
        if not callable(function):
            raise InputTypeError(f"from_function: {function!r} is not callable; give f(y_true, y_pred)")
        key = name if name is not None else getattr(function, "__name__", None)
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(
                f"a metric function is logged under its __name__, and {function!r} has "
                f"{'none' if key is None else repr(key)} that can be a key; define it with def (def my_score(y_true, "
                "y_pred): ...), or name it: anynet.metrics.from_function(f, name='my_score')")
        if response not in _RESPONSES:
            raise ConfigError(f"from_function: response must be one of {', '.join(map(repr, _RESPONSES))}, "
                              f"got {response!r}")
        self.function, self.response = function, response
        self.greater_is_better = bool(greater_is_better)
        self.from_logits = _check_from_logits(key, from_logits)
        self.classifier = False
        self.name = key
        super().__init__()

    @classmethod
    def for_loss(cls, loss: Any = None, **options: Any) -> Metric:
        metric = super().for_loss(loss, **options)
        metric.classifier = _is_classifier(loss)  # type: ignore[attr-defined]
        return metric

    def update(self, pred: Array, target: Array) -> None:
        self._keep("out", pred)
        self._keep("target", target)
        self.count += int(pred.shape[0])

    def result(self) -> float:
        if not self.count:
            return float("nan")
        out, target = to_numpy(self._gathered("out")), to_numpy(self._gathered("target"))  # the epoch's reads
        y_true, y_pred = _RESPONSES[self.response](self, out, target)
        value = self.function(y_true, y_pred)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputTypeError(f"metric function {self.name!r} returned {type(value).__name__} "
                                 f"{str(value)[:60]!r}, not a number; a metric gives one number per epoch") from None

    def __repr__(self) -> str:
        return f"from_function({getattr(self.function, '__name__', self.function)!r}, name={self.name!r}, " \
               f"response={self.response!r})"


class _FunctionKey(str):
    """The key of a function metric, as it stands in ``model.train_state.metrics``: a plain string to
    a checkpoint, a pickle or a comparison, that also makes fresh copies of its metric
    (:meth:`make`). A checkpoint or pickle keeps the name only: give the function again in
    ``metrics=`` to evaluate a loaded model with it."""

    prototype: FunctionMetric

    def __new__(cls, metric: FunctionMetric) -> _FunctionKey:
        key = super().__new__(cls, metric.name)
        key.prototype = metric
        return key

    def make(self, loss: Any) -> Metric:
        p = self.prototype
        return FunctionMetric.for_loss(loss, function=p.function, name=p.name, response=p.response,
                                       greater_is_better=p.greater_is_better)

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))

    def __copy__(self) -> _FunctionKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _FunctionKey:
        return self


def from_function(function: Callable[[Any, Any], Any], *, name: str | None = None, response: str = "predict",
                  greater_is_better: bool = True) -> FunctionMetric:
    """A metric computed by ``function(y_true, y_pred)`` on the host at the end of each epoch.

    A bare function in ``metrics=`` is the same as ``from_function(function)``. Its outputs and
    targets are kept on the device per batch and read once; ``y_true`` and ``y_pred`` are NumPy
    arrays, as scikit-learn's scorers give them (``response`` as their ``response_method``):

    - ``"predict"`` (default, as ``make_scorer``): for a classifier (a cross-entropy loss) the class
      labels, int64 (n,), for both; for a regression the outputs and targets, (n,) for one output.
    - ``"proba"``: the probabilities the loss gives (``predict_proba``), class 1's (n,) for two
      classes; y_true the labels (e.g. for ``roc_auc_score``, ``brier_score_loss``).
    - ``"decision"``: the outputs as ``predict`` gives them (logits), (n,) for one output.

    Arguments:
        function: ``f(y_true, y_pred) -> float``.
        name: the key it is logged under (default its ``__name__``; a lambda has none, so it needs one).
        response: ``"predict"``, ``"proba"`` or ``"decision"``, as above.
        greater_is_better: whether a higher value is better (callbacks' ``mode="auto"`` reads the name).

    Raises:
        ConfigError: a function without a usable ``__name__`` and no ``name``, or an unknown response.

    Its parts cannot be summed: under data-parallel training or Dask with several chunks it is
    refused (see :class:`Gathered`).

    Example:
        >>> import numpy as np
        >>> from sklearn.metrics import balanced_accuracy_score
        >>> from anynet import losses, metrics
        >>> m = metrics.get(balanced_accuracy_score, loss=losses.get("softmax_cross_entropy"))
        >>> m.update(np.asarray([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.asarray([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
        >>> m.name, m.result()
        ('balanced_accuracy_score', 0.75)
        >>> metrics.from_function(lambda t, p: 0.0, name="zero").name
        'zero'
    """
    return FunctionMetric(function, name=name, response=response, greater_is_better=greater_is_better)


#: the built-in names in the order they are listed to users (users' own follow, sorted)
_LISTED = ("accuracy", "top_k_accuracy", "precision", "recall", "f1", "precision_macro", "recall_macro",
           "f1_macro", "precision_micro", "recall_micro", "f1_micro", "precision_weighted", "recall_weighted",
           "f1_weighted", "roc_auc", "roc_auc_ovr", "log_loss", "confusion_matrix", "mae", "mse", "r2")


def names() -> list[str]:
    """Every registered metric name (aliases left out): the built-in ones, then users'."""
    known = registry.names("metric")
    return [n for n in _LISTED if n in known] + [n for n in known if n not in _LISTED]


def _is_function(spec: Any) -> bool:
    return callable(spec) and not isinstance(spec, (str, type, Metric))


def keys(metrics: Any, *, matrices: bool = False) -> list[str]:
    """The keys ``fit`` and ``evaluate`` keep for ``metrics`` (one name, Metric or function, or a
    sequence of them): names as given, a Metric's name, a function's key (see :func:`from_function`).

    Arguments:
        matrices: whether a metric that is not one number (``confusion_matrix``) is allowed
            (``evaluate``); ``fit`` logs numbers.

    Raises:
        ConfigError: a matrix where numbers are logged, or two metrics logged under one key.
        InputTypeError: something that is not a name, Metric or function.
    """
    if isinstance(metrics, (str, Metric, type)) or _is_function(metrics):
        items = [metrics]
    elif isinstance(metrics, Iterable):
        items = list(metrics)
    else:
        raise InputTypeError(f"metrics must be a name, a Metric, a function f(y_true, y_pred) or a list of them, "
                             f"got {type(metrics).__name__}")
    out: list[str] = []
    for m in items:
        if isinstance(m, FunctionMetric):
            out.append(_FunctionKey(m))
        elif isinstance(m, str):
            out.append(m)
        elif isinstance(m, Metric):
            out.append(m.name)
        elif isinstance(m, type) and issubclass(m, Metric):
            out.append(registry.name_of("metric", m) or m.__name__)
        elif _is_function(m):
            out.append(_FunctionKey(from_function(m)))
        else:
            raise InputTypeError(f"a metric must be a name (e.g. 'f1_macro'), a Metric or a function f(y_true, "
                                 f"y_pred), got {m!r}")
    logged = [_logged_as(k) for k in out]
    for key in logged:
        if logged.count(key) > 1:
            raise ConfigError(f"two metrics would both be logged as {key!r}; give each once (a function is logged "
                              "under its __name__: rename one with anynet.metrics.from_function(f, name=...))")
    if not matrices:
        for key in out:
            cls = _registered(key)
            if cls is not None and not getattr(cls, "scalar", True):
                raise ConfigError(f"metric {key!r} is a matrix, not a number, and fit logs numbers per epoch (the "
                                  f"History, the progress line, callbacks); ask model.evaluate(X, y, "
                                  f"metrics=[{key!r}]) for it")
    return out


def _registered(key: str) -> Any:
    if isinstance(key, _FunctionKey):
        return None
    try:
        return registry.lookup("metric", key)
    except UnknownNameError:
        return None


def _logged_as(key: str) -> str:
    cls = _registered(key)
    return (registry.name_of("metric", cls) or str(key)) if cls is not None else str(key)


def get(spec: str | Metric | type[Metric] | Callable[[Any, Any], Any], *, loss: Any = None,
        **options: Any) -> Metric:
    """A fresh metric, configured for ``loss``, from a registered name (see :func:`names`: e.g.
    ``"accuracy"``/``"acc"``, ``"f1_macro"``, ``"roc_auc"``, ``"mae"``, or your own), a Metric class,
    or a function ``f(y_true, y_pred)`` (see :func:`from_function`); a Metric instance is returned
    as it is.

    Arguments:
        spec: the name, class, function or instance.
        loss: the loss the model is trained with (its ``from_logits`` sets accuracy's threshold).
        **options: keyword options of the metric's class (e.g. ``from_logits=True``, ``k=3``), which
            take precedence over what the loss implies.

    Raises:
        UnknownNameError: a name that is not registered (the message lists the known ones).
        ConfigError: options the metric does not take.

    Example:
        >>> from anynet import losses, metrics
        >>> metrics.get("acc", loss=losses.BCEWithLogits())
        Accuracy(from_logits=True)
        >>> metrics.get("top_k_accuracy", k=3)
        TopKAccuracy(k=3, from_logits=False)
    """
    if isinstance(spec, _FunctionKey):
        return spec.make(loss)
    if isinstance(spec, FunctionMetric):
        return spec if not options else _FunctionKey(spec).make(loss)
    if isinstance(spec, Metric):
        if options:
            raise ConfigError(f"metrics.get: options {sorted(options)} apply only to a name or class, "
                              f"not to {spec!r}")
        return spec
    if _is_function(spec):
        return FunctionMetric.for_loss(loss, function=spec, **options)
    if isinstance(spec, str):
        try:
            cls = registry.lookup("metric", spec)
        except UnknownNameError:
            raise UnknownNameError(f"unknown metric {spec[:80]!r}; known: {', '.join(names())} "
                                   "(register your own Metric subclass with anynet.register('metric'), or give a "
                                   "function f(y_true, y_pred); a function metric is saved by name only, so give it "
                                   "again in metrics= to use it with a loaded model)") from None
        if not (isinstance(cls, type) and issubclass(cls, Metric)):
            raise ConfigError(f"the metric registered as {spec!r} is {cls!r}, not a subclass of "
                              "anynet.metrics.Metric")
    elif isinstance(spec, type) and issubclass(spec, Metric):
        cls = spec
    else:
        raise InputTypeError(f"metric must be a name, a Metric class, a function f(y_true, y_pred) or an "
                             f"anynet.metrics.Metric, got {spec!r}")
    try:
        inspect.signature(cls).bind(**options)
    except TypeError:
        raise ConfigError(f"metric {spec if isinstance(spec, str) else cls.__name__!r} does not take options "
                          f"{sorted(options)}") from None
    except ValueError:  # no signature to read: let the call decide
        pass
    return cls.for_loss(loss, **options)


__all__ = ["F1", "MAE", "MSE", "R2", "Accuracy", "ClassCounts", "ClassScore", "ConfusionMatrix", "F1Macro",
           "F1Micro", "F1Weighted", "FunctionMetric", "Gathered", "LogLoss", "MeanError", "Metric", "Precision",
           "PrecisionMacro", "PrecisionMicro", "PrecisionWeighted", "Recall", "RecallMacro", "RecallMicro",
           "RecallWeighted", "RocAuc", "RocAucBinary", "RocAucOvr", "TopKAccuracy", "UndefinedMetricWarning",
           "from_function", "get", "keys", "names"]
