"""Loss functions: value and gradient with respect to the predictions, in stable forms.

Contract: ``value, backward = loss.forward(pred, target)``; ``backward()`` returns ∂value/∂pred
(shape of ``pred``). ``loss(pred, target)`` returns the value alone. ``value`` is a 0-d array on
the predictions' device (reading it as a Python float is a device synchronisation, so the
training loop does it rarely). ``reduction`` is ``"mean"`` or ``"sum"``.

Example:
    >>> import numpy as np
    >>> from anynet import losses
    >>> float(losses.MSE()(np.zeros(4), np.asarray([1.0, 0.0, 0.0, 1.0])))
    0.5
    >>> float(losses.BCEWithLogits()(np.asarray([[-800.0]]), np.asarray([[1.0]])))
    800.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import sigmoid, softmax
from .backends import common_backend, namespace_of
from .dtypes import dtype_name
from .validation import as_host_array, check_class_labels, check_finite, dtype_kind
from .errors import InputError, InputTypeError

Array = Any
LossBackward = Callable[[], Array]

#: loss name -> class; the training loop and checkpoints name losses through it
LOSSES: dict[str, type[Loss]] = {}


def register_loss(*names: str) -> Callable[[type[Loss]], type[Loss]]:
    def add(cls: type[Loss]) -> type[Loss]:
        for name in names:
            LOSSES[name] = cls
        return cls

    return add


class Loss:
    """Base class. Subclasses implement ``_forward(pred, target) -> (value, backward)``."""

    name = "loss"
    #: targets are class indices (or one-hot) rather than values of pred's shape
    classification = False

    def __init__(self, *, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def __call__(self, pred: Array, target: Array) -> Array:
        return self.forward(pred, target)[0]

    def forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        """Checked forward: validates shapes, dtypes and labels, then computes."""
        pred, target = self.check(pred, target)
        return self._forward(pred, target)

    def check(self, pred: Array, target: Array) -> tuple[Array, Array]:
        where = f"{type(self).__name__}"
        pred = as_host_array(pred, where, "pred")
        target = as_host_array(target, where, "target")
        if dtype_kind(pred) != "float":
            raise InputTypeError(f"{where}: pred must be floating point, got {pred.dtype}")
        check_finite(pred, where=where, what="pred")
        common_backend(pred, target, where=where)
        return pred, self._check_target(pred, target, where)

    def _check_target(self, pred: Array, target: Array, where: str) -> Array:
        if dtype_kind(target) not in ("float", "int", "bool"):
            raise InputTypeError(f"{where}: target must be numeric, got {target.dtype}")
        xp = namespace_of(pred)
        if dtype_kind(target) != "float" or target.dtype != pred.dtype:
            target = xp.astype(target, pred.dtype)
        if tuple(target.shape) != tuple(pred.shape):
            if len(target.shape) == 1 and len(pred.shape) == 2 and pred.shape[1] == 1 \
                    and target.shape[0] == pred.shape[0]:
                target = xp.reshape(target, (-1, 1))
            else:
                raise InputError(
                    f"{where}: target shape {tuple(target.shape)} does not match prediction "
                    f"shape {tuple(pred.shape)}"
                )
        check_finite(target, where=where, what="target")
        return target

    def _reduce(self, total: Array, n: int) -> tuple[Array, float]:
        """(reduced value, the factor the gradient of the sum is scaled by)."""
        if self.reduction == "mean":
            return total / n, 1.0 / n
        return total, 1.0

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {} if self.reduction == "mean" else {"reduction": self.reduction}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


def _size(x: Array) -> int:
    return math.prod(map(int, x.shape))


@register_loss("mse", "mean_squared_error")
class MSE(Loss):
    """Mean squared error Σ(pred − target)²/N over all N elements (document 001's MseNode)."""

    name = "mse"

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self._reduce(xp.sum(diff * diff), _size(pred))
        return value, lambda: (2.0 * scale) * diff


@register_loss("least_square_error", "half_sse")
class LeastSquareError(Loss):
    """Document 004's ``LeastSquareError`` (Caffe's Euclidean loss): ½·Σ(pred − target)²,
    summed over outputs and averaged over the batch; gradient (pred − target)/n."""

    name = "least_square_error"

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self._reduce(0.5 * xp.sum(diff * diff), int(pred.shape[0]))
        return value, lambda: scale * diff


@register_loss("mae", "mean_absolute_error")
class MAE(Loss):
    """Mean absolute error Σ|pred − target|/N (subgradient 0 where they are equal)."""

    name = "mae"

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self._reduce(xp.sum(xp.abs(diff)), _size(pred))
        return value, lambda: scale * xp.sign(diff)


@register_loss("huber")
class Huber(Loss):
    """Huber loss: ½d² where |d| ≤ delta, else delta·(|d| − ½delta); averaged over elements."""

    name = "huber"

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"Huber: delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        d = pred - target
        a = xp.abs(d)
        quad = xp.minimum(a, self.delta)
        total = xp.sum(0.5 * quad * quad + self.delta * (a - quad))
        value, scale = self._reduce(total, _size(pred))
        return value, lambda: scale * xp.clip(d, -self.delta, self.delta)

    def config(self) -> dict[str, Any]:
        return {**super().config(), **({} if self.delta == 1.0 else {"delta": self.delta})}


_LOG_CLAMP = -100.0


_TINY: dict[Any, float] = {}


def _clamped_log(p: Array) -> Array:
    """max(log p, −100) without evaluating log(0): p is first raised to the dtype's smallest
    subnormal (whose log is below −100 in float32 and float64)."""
    xp = namespace_of(p)
    key = (xp, p.dtype)  # the namespace first: dtypes of two libraries are never compared
    tiny = _TINY.get(key)
    if tiny is None:
        tiny = _TINY[key] = float(np.finfo(dtype_name(p.dtype)).smallest_subnormal)
    return xp.maximum(xp.log(xp.maximum(p, tiny)), _LOG_CLAMP)


@register_loss("bce", "binary_crossentropy")
class BCE(Loss):
    """Binary cross-entropy on probabilities p ∈ [0, 1]; each log is clamped at −100 (as
    PyTorch), so p ∈ {0, 1} gives a large finite loss, never inf or NaN. Prefer
    :class:`BCEWithLogits`, which is exact for any logit."""

    name = "bce"

    def _check_target(self, pred: Array, target: Array, where: str) -> Array:
        xp = namespace_of(pred)
        if not bool(xp.all((pred >= 0) & (pred <= 1))):
            raise InputError(f"{where}: pred must be probabilities in [0, 1]; for logits use BCEWithLogits")
        return super()._check_target(pred, target, where)

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        log_p, log_q = _clamped_log(pred), _clamped_log(1.0 - pred)
        value, scale = self._reduce(-xp.sum(target * log_p + (1.0 - target) * log_q), _size(pred))

        def backward() -> Array:
            return scale * (pred - target) / xp.maximum(pred * (1.0 - pred), 1e-12)

        return value, backward


@register_loss("bce_logits", "binary_crossentropy_from_logits")
class BCEWithLogits(Loss):
    """Binary cross-entropy from logits x: max(x, 0) − x·z + log1p(exp(−|x|)), exact for any x.
    Gradient sigmoid(x) − z."""

    name = "bce_logits"

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        per = xp.maximum(pred, 0.0) - pred * target + xp.log1p(xp.exp(-xp.abs(pred)))
        value, scale = self._reduce(xp.sum(per), _size(pred))
        return value, lambda: scale * (sigmoid(pred) - target)


@register_loss("softmax_cross_entropy", "cross_entropy", "softmax_with_loss")
class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, from logits, through log-sum-exp (document 004's
    ``SoftmaxWithLoss``). Targets: integer class indices of shape (n,) or one-hot / class
    probabilities of shape (n, C). Value −Σ target·log softmax(x), averaged over the n samples;
    gradient softmax(x) − target."""

    name = "softmax_cross_entropy"
    classification = True

    def _check_target(self, pred: Array, target: Array, where: str) -> Array:
        if len(pred.shape) != 2:
            raise InputError(f"{where}: logits must be 2-D (n_samples, n_classes), got shape {tuple(pred.shape)}")
        n, c = int(pred.shape[0]), int(pred.shape[1])
        if len(target.shape) == 1:
            return check_class_labels(target, c, where=where, n_samples=n)
        return super()._check_target(pred, target, where)

    def _forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        if len(target.shape) == 1:
            target = one_hot(target, int(pred.shape[1]), pred.dtype)
        shifted = pred - xp.max(pred, axis=-1, keepdims=True)
        e = xp.exp(shifted)
        s = xp.sum(e, axis=-1, keepdims=True)
        log_p = shifted - xp.log(s)
        value, scale = self._reduce(-xp.sum(target * log_p), int(pred.shape[0]))

        def backward() -> Array:
            return scale * (e / s - target)

        return value, backward


def one_hot(labels: Array, n_classes: int, dtype: Any) -> Array:
    """(n,) integer labels → (n, n_classes) one-hot of ``dtype``, with standard operations only."""
    xp = namespace_of(labels)
    classes = xp.arange(n_classes, device=labels.device if hasattr(labels, "device") else None)
    return xp.astype(xp.reshape(labels, (-1, 1)) == xp.astype(classes, labels.dtype), dtype)


def names() -> list[str]:
    return list(LOSSES)


def get(spec: str | Loss, **options: Any) -> Loss:
    """A loss from a name (``"mse"``, ``"softmax_cross_entropy"``, ...) or a Loss instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in LOSSES:
            raise ValueError(f"unknown loss {spec!r}; known: {', '.join(LOSSES)}")
        return LOSSES[key](**options)
    raise TypeError(f"loss must be a name or an anynet.losses.Loss, got {spec!r}")


__all__ = [
    "BCE", "BCEWithLogits", "Huber", "LOSSES", "LeastSquareError", "Loss", "MAE", "MSE",
    "SoftmaxCrossEntropy", "get", "names", "one_hot", "register_loss", "softmax",
]
