"""Loss functions: value and gradient with respect to the predictions, in stable forms.

Contract: ``value, backward = loss.forward(pred, target)``; ``backward()`` returns ∂value/∂pred
(shape of ``pred``). ``loss(pred, target)`` returns the value alone. ``value`` is a 0-d array on
the predictions' device (reading it as a Python float is a device synchronisation, so the
training loop does it rarely). ``reduction`` is ``"mean"`` or ``"sum"``.

A loss also answers the questions the rest of anynet would otherwise ask by its class:
``from_logits`` (are the model's outputs logits?), ``prepare_targets`` (check and convert a whole
data set's targets once, before training) and ``to_proba`` (turn outputs into probabilities).

Registering your own: subclass :class:`Loss`, implement ``compute`` (and ``config`` if it has
options), and register it with ``@anynet.register("loss", "my_loss")``. It can then be named in
``fit(loss="my_loss")`` and is saved in checkpoints as its registered name and ``config()``.

Example:
    >>> import numpy as np
    >>> import anynet
    >>> from anynet import losses
    >>> float(losses.MSE()(np.zeros(4), np.asarray([1.0, 0.0, 0.0, 1.0])))
    0.5
    >>> float(losses.BCEWithLogits()(np.asarray([[-800.0]]), np.asarray([[1.0]])))
    800.0
    >>> @anynet.register("loss", "quartic")
    ... class Quartic(losses.Loss):
    ...     def compute(self, pred, target):
    ...         d = pred - target
    ...         xp = anynet.backends.namespace_of(d)
    ...         value, scale = self.reduce(xp.sum(d ** 4), d.shape[0])
    ...         return value, lambda: scale * 4 * d ** 3
    >>> loss = losses.get("quartic", reduction="sum")
    >>> float(loss(np.asarray([[2.0]]), np.asarray([[0.0]]))), loss.name, loss.config()
    (16.0, 'quartic', {'reduction': 'sum'})
    >>> anynet.registry.unregister("loss", "quartic")
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from . import registry
from .activations import sigmoid, softmax
from .backends import Backend, backend_of, common_backend, get_backend, namespace_of, to_numpy
from .dtypes import dtype_name
from .errors import ConfigError, InputError, InputTypeError, UnknownNameError
from .registry import register
from .validation import as_host_array, check_class_labels, check_finite, dtype_kind, raise_mismatch

Array = Any
LossBackward = Callable[[], Array]


class Loss:
    """Base class. Subclasses implement ``compute(pred, target) -> (value, backward)``.

    Arguments:
        reduction: ``"mean"`` (default) or ``"sum"`` over what the loss averages.

    Attributes:
        from_logits: True when the model's outputs are logits that ``to_proba`` turns into
            probabilities (accuracy then thresholds a single output at 0 instead of 0.5).
        classification: True when the targets may be integer class labels, one per sample, of
            which the model's outputs score each class (``prepare_targets`` turns them into
            one-hot rows; the predicted class is the argmax of the outputs).
    """

    from_logits = False
    classification = False

    def __init__(self, *, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ConfigError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    name = registry.name_property("loss")

    def __call__(self, pred: Array, target: Array) -> Array:
        return self.forward(pred, target)[0]

    def forward(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        """Checked forward: validates shapes, dtypes and labels, then computes."""
        pred, target = self.check(pred, target)
        return self.compute(pred, target)

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
        self._check_target_values(target, where, "target")
        return target

    def _check_target_values(self, target: Array, where: str, what: str) -> None:
        """Checks of finite target values that this loss needs (default: none)."""

    # -- targets for a whole data set ------------------------------------------------------------
    def prepare_targets(self, y: Any, n_outputs: int, *, backend: Backend | str, dtype: Any,
                        where: str | None = None) -> Array:
        """Check targets once (for a whole data set or a batch) and put them on ``backend``.

        Checks that ``y`` is numeric and finite, has one row per sample and ``n_outputs``
        columns (a 1-D ``y`` is taken as one column when ``n_outputs == 1``), and what the loss
        needs of its values (probabilities in [0, 1] for binary cross-entropy). For a loss with
        ``classification``, a 1-D ``y`` holds class labels: they are checked to lie in
        [0, n_outputs) and become one-hot rows of ``dtype``, once for the whole data set. The
        caller checks that ``y`` has as many rows as X.

        Arguments:
            y: NumPy array, nested list, or an array already on ``backend``.
            n_outputs: the model's output width.
            backend: where the targets go (a :class:`~anynet.Backend` or spec).
            dtype: the model's float dtype (a name or dtype object).
            where: the public entry point, named in error messages.

        Shapes:
            y: (n,) or (n, n_outputs) → (n, n_outputs) of ``dtype`` on ``backend``.

        Example:
            >>> import numpy as np
            >>> from anynet.losses import MSE, SoftmaxCrossEntropy
            >>> MSE().prepare_targets(np.asarray([1, 2]), 1, backend="numpy", dtype="float32").tolist()
            [[1.0], [2.0]]
            >>> SoftmaxCrossEntropy().prepare_targets([2, 0], 3, backend="numpy", dtype="float32").tolist()
            [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        """
        where = where or f"{type(self).__name__}.prepare_targets"
        backend = get_backend(backend)
        y = as_host_array(y, where, "y")
        if not isinstance(y, np.ndarray) and backend_of(y) != backend:
            raise_mismatch(where, "y", backend_of(y), backend)
        if len(y.shape) == 0:
            raise InputError(f"{where}: y must have one row per sample, got a 0-d array; give y of shape (n,) "
                             "or (n, outputs)")
        if self.classification and len(y.shape) == 1:
            labels = check_class_labels(y, n_outputs, where=where)
            if isinstance(labels, np.ndarray):
                labels = backend.asarray(labels)
            return one_hot(labels, n_outputs, backend.dtype(dtype))
        kind = dtype_kind(y)
        if kind not in ("float", "int", "bool"):
            raise InputTypeError(f"{where}: y must be numeric, got dtype {y.dtype}")
        if kind == "float":
            check_finite(y, where=where, what="y")
        xp = backend_of(y).xp
        if len(y.shape) == 1:
            if n_outputs != 1:
                raise InputError(
                    f"{where}: y has shape {tuple(y.shape)} but the model has {n_outputs} outputs; give y of "
                    f"shape (n, {n_outputs})" + (" or integer class labels with a softmax_cross_entropy loss"
                                                 if n_outputs > 1 else ""))
            y = xp.reshape(y, (-1, 1))
        if len(y.shape) != 2 or int(y.shape[1]) != n_outputs:
            raise InputError(f"{where}: y has shape {tuple(y.shape)} but the model gives (n, {n_outputs})")
        if kind != "bool":  # booleans are 0 and 1: nothing to check
            self._check_target_values(y, where, "y")
        target = backend.dtype(dtype)
        if isinstance(y, np.ndarray):
            return backend.asarray(y, dtype=target)
        return y if dtype_name(y.dtype) == dtype_name(target) else xp.astype(y, target)

    # -- outputs as probabilities ------------------------------------------------------------
    def to_proba(self, out: Array) -> Array:
        """The model's outputs ``out`` as probabilities. Regression losses have none: InputError."""
        raise InputError(f"{type(self).__name__}.to_proba: the model's outputs are not probabilities (the "
                         f"loss {self.name!r} is a regression loss, not a cross-entropy; a loss of your own "
                         "can define to_proba); use predict()")

    # -- helpers and saving --------------------------------------------------------------------
    def reduce(self, total: Array, n: int) -> tuple[Array, float]:
        """``(reduced value, factor)``: ``total`` summed over ``n`` samples reduced as ``reduction``
        says, and the factor the gradient of the sum is scaled by."""
        if self.reduction == "mean":
            return total / n, 1.0 / n
        return total, 1.0

    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        """Unchecked: ``(0-d value, backward)``; ``backward()`` returns ∂value/∂pred. The training
        loop calls this with targets prepared by :meth:`prepare_targets`; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute(pred, target)")

    def config(self) -> dict[str, Any]:
        """JSON-able options; ``type(loss).from_config(loss.config())`` makes an equal loss."""
        return {} if self.reduction == "mean" else {"reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """The loss :meth:`config` described (bad keys raise ConfigError)."""
        return _construct(cls, cls.__name__, config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


def _construct(factory: Callable[..., Any], name: str, options: Any) -> Any:
    return registry.construct(factory, options, what=f"loss {name!r}")


def _size(x: Array) -> int:
    return math.prod(map(int, x.shape))


@register("loss", "mse", aliases=("mean_squared_error",))
class MSE(Loss):
    """Mean squared error Σ(pred − target)²/N over all N elements (document 001's MseNode)."""


    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self.reduce(xp.sum(diff * diff), _size(pred))
        return value, lambda: (2.0 * scale) * diff


@register("loss", "least_square_error", aliases=("half_sse",))
class LeastSquareError(Loss):
    """Document 004's ``LeastSquareError`` (Caffe's Euclidean loss): ½·Σ(pred − target)²,
    summed over outputs and averaged over the batch; gradient (pred − target)/n."""


    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self.reduce(0.5 * xp.sum(diff * diff), int(pred.shape[0]))
        return value, lambda: scale * diff


@register("loss", "mae", aliases=("mean_absolute_error",))
class MAE(Loss):
    """Mean absolute error Σ|pred − target|/N (subgradient 0 where they are equal)."""


    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        diff = pred - target
        value, scale = self.reduce(xp.sum(xp.abs(diff)), _size(pred))
        return value, lambda: scale * xp.sign(diff)


@register("loss", "huber")
class Huber(Loss):
    """Huber loss: ½d² where |d| ≤ delta, else delta·(|d| − ½delta); averaged over elements.

    Arguments:
        delta: where the quadratic part turns linear, a finite number > 0.
        reduction: ``"mean"`` or ``"sum"``.
    """

    delta: float

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < math.inf:
            raise ConfigError(f"Huber: delta must be a finite number > 0, got {delta!r}")
        self.delta = float(delta)

    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        d = pred - target
        a = xp.abs(d)
        quad = xp.minimum(a, self.delta)
        total = xp.sum(0.5 * quad * quad + self.delta * (a - quad))
        value, scale = self.reduce(total, _size(pred))
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


def _check_unit_interval(target: Array, where: str, what: str) -> None:
    xp = namespace_of(target)
    if not bool(to_numpy(xp.all((target >= 0) & (target <= 1)))):
        lo, hi = to_numpy(xp.stack([xp.min(target), xp.max(target)])).tolist()
        raise InputError(f"{where}: binary cross-entropy needs {what} in [0, 1] (0/1 labels or probabilities), "
                         f"got values from {lo:g} to {hi:g}; for several classes use softmax_cross_entropy "
                         "with integer labels")


@register("loss", "bce", aliases=("binary_crossentropy",))
class BCE(Loss):
    """Binary cross-entropy on probabilities p ∈ [0, 1]; each log is clamped at −100 (as
    PyTorch), so p ∈ {0, 1} gives a large finite loss, never inf or NaN. Prefer
    :class:`BCEWithLogits`, which is exact for any logit. Targets must lie in [0, 1]."""


    def _check_target(self, pred: Array, target: Array, where: str) -> Array:
        xp = namespace_of(pred)
        if not bool(to_numpy(xp.all((pred >= 0) & (pred <= 1)))):
            raise InputError(f"{where}: pred must be probabilities in [0, 1]; for logits use BCEWithLogits")
        return super()._check_target(pred, target, where)

    def _check_target_values(self, target: Array, where: str, what: str) -> None:
        _check_unit_interval(target, where, what)

    def to_proba(self, out: Array) -> Array:
        """The outputs themselves: they already are probabilities."""
        return out

    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        log_p, log_q = _clamped_log(pred), _clamped_log(1.0 - pred)
        value, scale = self.reduce(-xp.sum(target * log_p + (1.0 - target) * log_q), _size(pred))

        def backward() -> Array:
            return scale * (pred - target) / xp.maximum(pred * (1.0 - pred), 1e-12)

        return value, backward


@register("loss", "bce_logits", aliases=("binary_crossentropy_from_logits",))
class BCEWithLogits(Loss):
    """Binary cross-entropy from logits x: max(x, 0) − x·z + log1p(exp(−|x|)), exact for any x.
    Gradient sigmoid(x) − z. Targets z must lie in [0, 1]."""

    from_logits = True

    def _check_target_values(self, target: Array, where: str, what: str) -> None:
        _check_unit_interval(target, where, what)

    def to_proba(self, out: Array) -> Array:
        """sigmoid of the logits."""
        return sigmoid(out)

    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        per = xp.maximum(pred, 0.0) - pred * target + xp.log1p(xp.exp(-xp.abs(pred)))
        value, scale = self.reduce(xp.sum(per), _size(pred))
        return value, lambda: scale * (sigmoid(pred) - target)


@register("loss", "softmax_cross_entropy", aliases=("cross_entropy", "softmax_with_loss"))
class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, from logits, through log-sum-exp (document 004's
    ``SoftmaxWithLoss``). Targets: integer class indices of shape (n,) or one-hot / class
    probabilities of shape (n, C). Value −Σ target·log softmax(x), averaged over the n samples;
    gradient softmax(x) − target."""

    from_logits = True
    classification = True

    def _check_target(self, pred: Array, target: Array, where: str) -> Array:
        if len(pred.shape) != 2:
            raise InputError(f"{where}: logits must be 2-D (n_samples, n_classes), got shape {tuple(pred.shape)}")
        n, c = int(pred.shape[0]), int(pred.shape[1])
        if len(target.shape) == 1:
            return check_class_labels(target, c, where=where, n_samples=n)
        return super()._check_target(pred, target, where)

    def to_proba(self, out: Array) -> Array:
        """softmax of the logits (over the last axis)."""
        return softmax(out)

    def compute(self, pred: Array, target: Array) -> tuple[Array, LossBackward]:
        xp = namespace_of(pred)
        if len(target.shape) == 1:
            target = one_hot(target, int(pred.shape[1]), pred.dtype)
        # one log-softmax serves the value and the gradient: 11 array operations in all
        shifted = pred - xp.max(pred, axis=-1, keepdims=True)
        e = xp.exp(shifted)
        s = xp.sum(e, axis=-1, keepdims=True)
        log_p = shifted - xp.log(s)
        scale = self.reduce(0.0, int(pred.shape[0]))[1]
        # Σ target·log p as one dot product of the flattened arrays (no product array), with the
        # sign and the reduction folded into one host number
        value = xp.vecdot(xp.reshape(target, (-1,)), xp.reshape(log_p, (-1,))) * (-scale)

        def backward() -> Array:
            return (e / s - target) * scale

        return value, backward


def one_hot(labels: Array, n_classes: int, dtype: Any) -> Array:
    """(n,) integer labels → (n, n_classes) one-hot of ``dtype``, with standard operations only."""
    xp = namespace_of(labels)
    classes = xp.arange(n_classes, device=labels.device if hasattr(labels, "device") else None)
    return xp.astype(xp.reshape(labels, (-1, 1)) == xp.astype(classes, labels.dtype), dtype)


#: the built-in names in the order they are listed to users (users' own follow, sorted)
_LISTED = ("mse", "least_square_error", "mae", "huber", "bce", "bce_logits", "softmax_cross_entropy")


def names() -> list[str]:
    """Every registered loss name (aliases left out): the built-in ones, then users'."""
    known = registry.names("loss")
    return [n for n in _LISTED if n in known] + [n for n in known if n not in _LISTED]


def get(spec: str | Loss | type[Loss], **options: Any) -> Loss:
    """A loss from a registered name (``"mse"``, ``"softmax_cross_entropy"``, ...) with its
    options, a Loss class, or a Loss instance (returned as it is).

    Raises:
        UnknownNameError: a name that is not registered (the message lists the known ones).
        ConfigError: options the loss does not take, or bad values.

    Example:
        >>> from anynet import losses
        >>> losses.get("huber", delta=2.0)
        Huber(delta=2.0)
    """
    if isinstance(spec, Loss):
        if options:
            raise ConfigError(f"losses.get: options {sorted(options)} apply only to a name or class, not to {spec!r}")
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return _construct(spec, spec.__name__, options)
    if not isinstance(spec, str):
        raise InputTypeError(f"loss must be a name, a Loss class or an anynet.losses.Loss, got {spec!r}")
    try:
        factory = registry.lookup("loss", spec)
    except UnknownNameError:
        raise UnknownNameError(f"unknown loss {spec[:80]!r}; known: {', '.join(names())} "
                               "(register your own with anynet.register('loss'))") from None
    loss = _construct(factory, registry.name_of("loss", factory) or spec, options)
    if not isinstance(loss, Loss):
        raise ConfigError(f"the loss registered as {spec!r} made {loss!r}, not an anynet.losses.Loss")
    return loss


__all__ = [
    "BCE", "BCEWithLogits", "Huber", "LeastSquareError", "Loss", "MAE", "MSE",
    "SoftmaxCrossEntropy", "get", "names", "one_hot", "softmax",
]
