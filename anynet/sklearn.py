"""scikit-learn estimators around anynet models: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``: the same
parameter names and defaults, the same fitted attributes, and scikit-learn's algorithm step for
step, trained by anynet on any backend (``backend=``) in any float type (``dtype=``). With the
same ``random_state`` a classifier is scikit-learn's network: the same initial weights, batches,
updates and stopping epoch, equal to rounding in float64 (``tests/test_sklearn.py`` checks it
for every solver and option). A regressor differs in one place: its output bias starts at the
targets' mean. They work in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` (a fitted
estimator pickles through its model's checkpoint bytes) and pass scikit-learn's
``check_estimator``.

This module imports scikit-learn (``pip install "anynet-nn[sklearn]"``); ``import anynet`` does not.

How scikit-learn's algorithm is mapped onto anynet:

- The network: :class:`~anynet.layers.Dense` layers of widths ``hidden_layer_sizes`` with the
  hidden ``activation`` (``logistic`` is anynet's ``sigmoid``, ``identity`` none), then a linear
  output layer. Weights and biases are drawn as scikit-learn draws them (uniform in
  ±√(6/(fan_in + fan_out)), ±√(2/(fan_in + fan_out)) for ``logistic``), on the host, from
  ``random_state``; then the validation split and every epoch's shuffle come from the same
  generator, in scikit-learn's order. So an int ``random_state`` gives the same network on
  every backend.
- The losses: a classifier trains logits with ``bce_logits`` (two classes: one output; a
  label-indicator ``y``: one output per label) or ``softmax_cross_entropy`` (more classes), whose
  gradients are those of scikit-learn's log-loss on its logistic / softmax outputs; a regressor
  with ``least_square_error`` (½·Σ over the outputs of the squared error, averaged over the
  batch), whose gradient is that of scikit-learn's ``squared_error``. The regressor's output bias
  starts at the targets' mean instead of a small random value: scikit-learn's outputs must grow
  to the targets' scale by small steps, and on unscaled targets its defaults end far from them
  (diabetes: R² < 0 after 200 epochs; ``benchmarks/SKLEARN.md``).
- ``alpha``: scikit-learn adds ``0.5·alpha·‖W‖² / n_b`` to a batch's loss (weight matrices only,
  ``n_b`` the batch's rows), so the gradient gains ``alpha·W / n_b``. anynet's ``weight_decay``
  adds ``weight_decay·W`` to the gradient of every weight matrix (never to a bias), so
  ``weight_decay = alpha / n_b``: a schedule of the step, smaller for the last batch of an epoch
  where that batch is short (the step's scalars carry it; nothing changes the optimizer between
  batches).
  Where anynet's loss is ``c`` times scikit-learn's (a label-indicator ``y`` of k labels:
  ``bce_logits`` averages over the labels too, ``c = 1/k``), the decay is ``c·alpha / n_b``,
  SGD's rate ``learning_rate_init / c`` and Adam's ``eps`` ``c·epsilon``: the same steps.
- ``solver="adam"``: :class:`anynet.optim.Adam` with ``beta_1``, ``beta_2``, ``epsilon`` and
  ``eps_hat=True``: scikit-learn adds ``epsilon`` to √v before the bias correction of the second
  moment (PyTorch, anynet's default, after it). ``solver="sgd"``:
  :class:`anynet.optim.SGD` with ``momentum`` (in [0, 1): anynet's SGD refuses 1) and
  ``nesterovs_momentum``; ``learning_rate="invscaling"`` is a schedule that gives the rate
  ``learning_rate_init / (t + 1)**power_t`` after every epoch (``t``: samples seen, ``t_``) and
  ``"adaptive"`` divides it by 5 where training would stop, stopping once it is at most 1e-6.
  ``solver="lbfgs"`` is refused with a :class:`~anynet.errors.ConfigError` (anynet trains by
  gradient steps on mini-batches; ``max_fun`` is accepted and unused), as is the regressor's
  ``loss="poisson"``. Sample weights are not supported.
- Convergence: :class:`ConvergenceCheck`, an anynet callback. Training stops when the training
  loss has not improved by ``tol`` for more than ``n_iter_no_change`` epochs, or, with
  ``early_stopping``, the validation score (accuracy, R²) on a ``validation_fraction`` split
  (stratified for a classifier with one output) has not; then the best epoch's weights are
  restored. Reaching ``max_iter`` without converging emits scikit-learn's ``ConvergenceWarning``.
  ``warm_start`` continues the network with a new optimizer, ``partial_fit`` runs one epoch
  with the same optimizer, both as in scikit-learn.
- Failures and changes: a ``fit`` or ``partial_fit`` that raises (bad data, a diverging loss, an
  interrupt) leaves the estimator as it was before the call: unfitted after a first fit, else with
  the previous network, optimizer state and fitted attributes exactly (scikit-learn keeps what an
  interrupted fit trained; anynet keeps nothing half-done). A divergence raises
  :class:`~anynet.errors.NonFiniteLossError` naming the estimator's parameters to change.
  ``warm_start`` and ``partial_fit`` refuse a changed ``hidden_layer_sizes``, ``activation`` or
  ``dtype`` with a :class:`~anynet.errors.ConfigError` naming it (scikit-learn keeps the old network
  silently, or fails inside); a changed ``backend`` moves the network there and trains on. An
  estimator refuses to be pickled (or fitted again) while it is fitting.
- Sparse targets, Backend objects: a SciPy sparse ``y`` is densified (a classifier fit on a sparse label-indicator ``y``
  predicts sparse indicators, as scikit-learn's); a :class:`~anynet.Backend` given as ``backend``
  is stored as its spec, so the estimator clones and pickles.
- ``loss_curve_`` holds scikit-learn's numbers: the epoch's mean loss on its scale plus every
  batch's L2 term ``0.5·alpha·‖W‖²`` over the epoch's rows (‖W‖² stays on the device until the
  epoch's end).
- Floats: ``dtype=None`` follows scikit-learn, a float32 model for float32 data and float64
  otherwise; ``dtype="float32"`` is faster on large data (its outputs then differ from row to
  row order at float32 rounding). Predictions come back as NumPy arrays of X's float type.

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier as ScikitMLP
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from anynet.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ours = make_pipeline(StandardScaler(), MLPClassifier(learning_rate_init=0.01, random_state=0)).fit(X, y)
    >>> net = ours[-1]
    >>> net.classes_.tolist(), net.n_features_in_, net.n_iter_ < 200, ours.score(X, y) > 0.95
    ([0, 1, 2], 4, True, True)
    >>> theirs = make_pipeline(StandardScaler(), ScikitMLP(learning_rate_init=0.01, random_state=0)).fit(X, y)
    >>> net.n_iter_ == theirs[-1].n_iter_, np.allclose(net.coefs_[0], theirs[-1].coefs_[0], rtol=1e-9)
    (True, True)
"""

from __future__ import annotations

import copy
import importlib
import math
import numbers
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeGuard, cast

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .backends import Backend, get_backend, to_numpy
from .batches import prepare_x
from .callbacks import Callback
from .dtypes import dtype_name, float_dtype_name
from .errors import AnynetError, ConfigError, InputError, NonFiniteLossError
from .layers import Dense
from .model import Sequential
from .optim import SGD, Adam, Optimizer

__all__ = ["ConvergenceCheck", "MLPClassifier", "MLPRegressor"]

#: SciPy's sparse matrices (a dependency of scikit-learn; untyped, so imported as a plain module)
_sparse: Any = importlib.import_module("scipy.sparse")

Array = Any

#: scikit-learn's hidden activations by anynet's names
_ACTIVATIONS = {"identity": None, "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


# -- the stopping rule ---------------------------------------------------------------------------
class ConvergenceCheck(Callback):
    """scikit-learn's stopping rule for its stochastic solvers, as an anynet callback.

    After every epoch it records the training loss and counts the epochs without improvement:
    the loss not below ``best_loss − tol``, or, given ``validation_score``, the score not above
    ``best_validation_score + tol``. Once the count exceeds ``n_iter_no_change`` it stops training
    (``converged`` becomes True) or, with ``on_plateau="reduce_lr"``, divides the optimizer's
    learning rate by 5 and starts counting again, stopping once the rate is at most 1e-6
    (scikit-learn's ``learning_rate="adaptive"``). With ``validation_score`` the model ends with
    the weights of its best-scoring epoch.

    Arguments:
        tol: the improvement that counts, ≥ 0.
        n_iter_no_change: epochs without improvement tolerated (an int ≥ 1, or ``math.inf``).
        loss: ``(model, logs) -> float``: the epoch's training loss as recorded (default
            ``logs["loss"]``).
        validation_score: ``model -> float``, higher is better (e.g. accuracy on held-out data);
            when given, it decides instead of the training loss.
        on_plateau: ``"stop"`` or ``"reduce_lr"``.

    Attributes:
        loss_curve, validation_scores: one value per epoch (across ``fit`` calls);
        best_loss, best_validation_score, no_improvement_count: the rule's state (carried over by
        ``fit`` calls; reset by building a new callback); n_iter: epochs of the last ``fit``;
        converged: whether the last ``fit`` stopped by the rule.

    Example:
        >>> import numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> from anynet.sklearn import ConvergenceCheck
        >>> check = ConvergenceCheck(tol=1e-3, n_iter_no_change=2)
        >>> model = anynet.Sequential([Dense(1, 1)], seed=0)
        >>> X = np.linspace(-1, 1, 32).reshape(-1, 1)
        >>> _ = model.fit(X, 2 * X, loss="mse", optimizer=anynet.optim.SGD(lr=0.3), epochs=500,
        ...               batch_size=32, callbacks=[check], verbose=0)
        >>> check.converged, check.n_iter < 500, check.best_loss < 1e-3
        (True, True, True)
    """

    def __init__(self, *, tol: float = 1e-4, n_iter_no_change: float = 10,
                 loss: Callable[[Any, dict[str, Any]], float] | None = None,
                 validation_score: Callable[[Any], float] | None = None, on_plateau: str = "stop") -> None:
        self.tol = _real("ConvergenceCheck", "tol", tol, low=0.0)
        if not (n_iter_no_change == math.inf or _is_int(n_iter_no_change) and n_iter_no_change >= 1):
            raise ConfigError(f"ConvergenceCheck: n_iter_no_change must be an int ≥ 1 or math.inf, "
                              f"got {n_iter_no_change!r}")
        if on_plateau not in ("stop", "reduce_lr"):
            raise ConfigError(f"ConvergenceCheck: on_plateau must be 'stop' or 'reduce_lr', got {on_plateau!r}")
        self.n_iter_no_change, self.on_plateau = n_iter_no_change, on_plateau
        self.loss, self.validation_score = loss, validation_score
        self.loss_curve: list[float] = []
        self.validation_scores: list[float] | None = [] if validation_score is not None else None
        self.best_loss: float | None = math.inf if validation_score is None else None
        self.best_validation_score: float | None = -math.inf if validation_score is not None else None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.converged = False
        self._best_state: dict[str, Array] | None = None

    def on_train_begin(self, model: Any) -> None:
        self.n_iter, self.converged, self._best_state = 0, False, None

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        self.n_iter += 1
        value = float(logs["loss"]) if self.loss is None else float(self.loss(model, logs))
        self.loss_curve.append(value)
        if self.validation_score is not None:
            score = float(self.validation_score(model))
            self.validation_scores.append(score)  # type: ignore[union-attr]
            # written as scikit-learn writes it: a NaN score resets the count, never improves the best
            worse = score < self.best_validation_score + self.tol  # type: ignore[operator]
            self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
            if score > self.best_validation_score:  # type: ignore[operator]
                self.best_validation_score = score
                xp = model.backend.xp
                self._best_state = {k: xp.asarray(v, copy=True) for k, v in model.state_dict().items()}
        else:
            worse = value > self.best_loss - self.tol  # type: ignore[operator]
            self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
            self.best_loss = min(self.best_loss, value)  # type: ignore[type-var]
        if self.no_improvement_count > self.n_iter_no_change:
            opt = model.optimizer
            if self.on_plateau == "reduce_lr" and opt.current_lr() > 1e-6:
                opt.lr = opt.current_lr() / 5.0
                self.no_improvement_count = 0
            else:
                self.converged = True
                model.stop_training = True

    def on_train_end(self, model: Any) -> None:
        if self._best_state is not None:
            model.load_state_dict(self._best_state)
            self._best_state = None  # the estimator keeps no second copy of the weights


class _SamplesSeen(Callback):
    """``est.t_``, the samples seen, counted after every epoch as scikit-learn counts them."""

    def __init__(self, est: Any, n: int) -> None:
        self.est, self.n = est, n

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        self.est.t_ += self.n


class _Epochs:
    """Where a step of one ``fit`` falls in scikit-learn's epochs of ``n`` rows in batches of
    ``batch``: the fit's first step is ``start``; the last batch of an epoch has ``n % batch`` rows
    (all of them when that is 0)."""

    def __init__(self, start: int, batch: int, n: int) -> None:
        self.start, self.batch, self.n = start, batch, n
        self.per_epoch, self.last = math.ceil(n / batch), n % batch

    def epoch(self, step: int) -> int:
        """The epoch of the fit (0, 1, ...) that ``step`` belongs to."""
        return (step - self.start) // self.per_epoch

    def rows(self, step: int) -> int:
        """The rows of ``step``'s batch."""
        last = (step - self.start) % self.per_epoch == self.per_epoch - 1
        return self.last if last and self.last else self.batch


class _RowsDecay:
    """``weight_decay`` as scikit-learn's ``alpha`` gives it: ``decay / rows`` of each step's batch (a
    schedule: the step's scalars carry it, so no callback changes the optimizer between batches)."""

    def __init__(self, decay: float, epochs: _Epochs) -> None:
        self.decay, self.epochs = decay, epochs

    def __call__(self, step: int) -> float:
        return self.decay / self.epochs.rows(step)


class _InvScalingRate:
    """scikit-learn's ``learning_rate="invscaling"``: ``first`` for the fit's first epoch, then after every
    epoch ``lr0 / (t + 1)**power_t``, ``t`` the samples seen (``t0`` before this fit, ``n`` per epoch)."""

    def __init__(self, first: float, lr0: float, power_t: float, t0: int, epochs: _Epochs) -> None:
        self.first, self.lr0, self.power_t, self.t0, self.epochs = first, lr0, power_t, t0, epochs

    def __call__(self, step: int) -> float:
        e = self.epochs.epoch(step)
        return self.first if e == 0 else self.lr0 / (self.t0 + e * self.epochs.n + 1) ** self.power_t


class _SklearnLoss(Callback):
    """The epoch's loss as scikit-learn reports it: anynet's mean loss times ``scale``, plus the L2
    term ``0.5·alpha·‖W‖²`` of each batch (with the weights it starts from) over the epoch's ``n``
    samples. ‖W‖² stays on the device and is read once, at the epoch's end."""

    def __init__(self, scale: float, alpha: float, n: int, n_batches: int) -> None:
        self.scale, self.factor, self.n_batches = scale, 0.5 * alpha / n, n_batches
        self.sq: Any = 0.0

    @staticmethod
    def squared_norm(model: Any) -> Any:
        """Σ‖W‖² over the weight matrices: a 0-d device array."""
        xp = model.backend.xp
        return sum(xp.sum(layer.params["W"] * layer.params["W"]) for layer in model.layers)

    def on_epoch_begin(self, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        # one batch per epoch: its weights are the epoch's first; else _SklearnStep adds each batch's
        self.sq = self.squared_norm(model) if self.factor and self.n_batches == 1 else 0.0

    def __call__(self, model: Any, logs: dict[str, Any]) -> float:
        return logs["loss"] * self.scale + (self.factor * float(to_numpy(self.sq)) if self.factor else 0.0)


class _BatchNorms(Callback):
    """Each batch's ‖W‖² (with the weights it starts from), summed for the epoch's L2 term of the loss
    scikit-learn reports: read on the device, nothing written (installed where alpha > 0 and an epoch
    has several batches)."""

    def __init__(self, loss: _SklearnLoss) -> None:
        self.loss = loss

    def on_batch_begin(self, model: Any, step: int, logs: dict[str, Any]) -> None:
        self.loss.sq = self.loss.sq + self.loss.squared_norm(model)


class _SklearnOrder:
    """``fit``'s order function (``shuffle=``) that makes the batches scikit-learn's: each epoch permutes
    the last epoch's order, as ``sklearn.utils.shuffle(order, random_state=rng)`` does
    (``rng.shuffle`` of ``arange(n)``, which is ``rng.permutation(n)``), without its overhead."""

    def __init__(self, rng: np.random.RandomState, n: int) -> None:
        self.rng, self.order = rng, np.arange(n)

    def __call__(self, n: int) -> np.ndarray:
        self.order = self.order[self.rng.permutation(n)]
        return self.order


# -- parameter checks ----------------------------------------------------------------------------
def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _real(where: str, name: str, value: Any, *, low: float, low_open: bool = False, high: float = math.inf,
          high_open: bool = True) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and not math.isnan(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(f"{where}: {name} must be a number in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return float(value)


def _flag(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def _choice(where: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ConfigError(f"{where}: {name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def _hidden_sizes(where: str, value: Any) -> list[int]:
    sizes = [value] if _is_int(value) else value
    try:
        sizes = list(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(_is_int(s) and s >= 1 for s in sizes):
        raise ConfigError(f"{where}: hidden_layer_sizes must be a positive int or a sequence of them, e.g. (100,) "
                          f"or (64, 32); got {value!r}")
    return [int(s) for s in sizes]


def _backend_param(backend: Any) -> Any:
    """A :class:`~anynet.Backend` given as ``backend=`` is stored as its spec (``"numpy:cpu"``), which
    clones, pickles and compares; anything else is stored as given (checked at fit)."""
    return backend.spec if isinstance(backend, Backend) else backend


#: sizes of a sparse ``y`` densified for training: above this many values it is refused
_MAX_DENSE_Y = 2**27

#: guards the check-and-set of an estimator's "fitting" mark (two threads fitting one estimator)
_fitting_lock = threading.Lock()


class _Saved:
    """What a ``fit`` or ``partial_fit`` call may change, kept so that a call that raises leaves the
    estimator as it was before it: its attributes (so a first fit leaves it unfitted) and, for a call
    that continues the network (``warm_start``, ``partial_fit``), the network's parameters, training
    state, generator and optimizer. The arrays are copied on their device, once per call."""

    def __init__(self, est: Any, *, continuing: bool) -> None:
        self.attrs = dict(vars(est))
        for name in ("loss_curve_", "validation_scores_"):  # ConvergenceCheck appends to them in place
            if isinstance(self.attrs.get(name), list):
                self.attrs[name] = list(self.attrs[name])
        model = self.attrs.get("model_") if continuing else None
        self.model = model
        if model is None:
            return
        xp = model.backend.xp
        self.backend = model.backend
        self.params = {k: xp.asarray(v, copy=True) for k, v in model.state_dict().items()}
        self.train_state = copy.copy(model.train_state)
        self.train_state.metrics = list(self.train_state.metrics)
        self.rng = model.rng
        self.opt = model.optimizer
        if self.opt is not None:
            self.opt_attrs = dict(vars(self.opt))
            self.opt_attrs["state"] = {path: {slot: xp.asarray(a, copy=True) for slot, a in st.items()}
                                       for path, st in self.opt.state.items()}

    def restore(self, est: Any) -> None:
        model = self.model
        if model is not None:
            if model.backend != self.backend:  # a changed backend= moved it
                model.to(self.backend)
            model.load_state_dict(self.params)
            model.train_state, model.rng = self.train_state, self.rng
            if self.opt is not None:
                vars(self.opt).clear()
                vars(self.opt).update(self.opt_attrs)
        vars(est).clear()
        vars(est).update(self.attrs)


# -- the estimators ------------------------------------------------------------------------------
class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, checks, the model and the fit loop."""

    #: anynet loss for the targets (set by ``_targets``); its value is ``_value_scale`` times sklearn's
    #: and its gradient ``_grad_scale`` times sklearn's
    _loss_name: str
    loss_curve_: list[float]
    validation_scores_: list[float] | None
    _value_scale: float = 1.0
    _grad_scale: float = 1.0

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: float = 10,
                 max_fun: int = 15000, backend: Any = None, dtype: Any = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = _backend_param(backend)
        self.dtype = dtype

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's ``set_params``; a :class:`~anynet.Backend` as ``backend`` is stored as its spec."""
        if "backend" in params:
            params["backend"] = _backend_param(params["backend"])
        return super().set_params(**params)

    def __getstate__(self) -> Any:
        if vars(self).get("_fitting"):
            raise InputError(f"cannot pickle (or copy) this {type(self).__name__} while it is fitting: its network is "
                             "half-way through an epoch; pickle it after fit or partial_fit returns")
        state = super().__getstate__()
        if isinstance(state, dict) and isinstance(state.get("backend"), Backend):  # set as an attribute
            state = {**state, "backend": state["backend"].spec}
        return state

    # -- checks ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Every parameter, checked at fit time (scikit-learn's constructors store them unchecked)."""
        w = type(self).__name__
        _hidden_sizes(w, self.hidden_layer_sizes)
        _choice(w, "activation", self.activation, tuple(_ACTIVATIONS))
        if self.solver == "lbfgs":
            raise ConfigError(f"{w}: solver='lbfgs' is not supported: anynet trains by gradient steps on "
                              "mini-batches; use solver='adam' (the default) or 'sgd', or scikit-learn's own "
                              f"sklearn.neural_network.{w} for L-BFGS")
        _choice(w, "solver", self.solver, ("adam", "sgd"))
        _real(w, "alpha", self.alpha, low=0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"
                or _is_int(self.batch_size) and self.batch_size >= 1):
            raise ConfigError(f"{w}: batch_size must be 'auto' or an int ≥ 1, got {self.batch_size!r}")
        _choice(w, "learning_rate", self.learning_rate, ("constant", "invscaling", "adaptive"))
        _real(w, "learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        _real(w, "power_t", self.power_t, low=0.0)
        if not (_is_int(self.max_iter) and self.max_iter >= 1):
            raise ConfigError(f"{w}: max_iter must be an int ≥ 1, got {self.max_iter!r}")
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            _flag(w, name, getattr(self, name))
        if not (isinstance(self.verbose, (bool, np.bool_)) or _is_int(self.verbose)):
            raise ConfigError(f"{w}: verbose must be a bool or an int, got {self.verbose!r}")
        _real(w, "tol", self.tol, low=0.0)
        # scikit-learn allows momentum 1 (no decay of the velocity); anynet's SGD needs it below 1
        _real(w, "momentum", self.momentum, low=0.0)
        if self.momentum >= 1:
            raise ConfigError(f"{w}: momentum must be in [0, 1) (1 never forgets a step), got {self.momentum!r}")
        if self.early_stopping:
            _real(w, "validation_fraction", self.validation_fraction, low=0.0, low_open=True, high=1.0)
        else:
            _real(w, "validation_fraction", self.validation_fraction, low=0.0, high=1.0)
        _real(w, "beta_1", self.beta_1, low=0.0, high=1.0)
        _real(w, "beta_2", self.beta_2, low=0.0, high=1.0)
        _real(w, "epsilon", self.epsilon, low=0.0, low_open=True)
        n = self.n_iter_no_change
        if not (n == np.inf or _is_int(n) and n >= 1):
            raise ConfigError(f"{w}: n_iter_no_change must be an int ≥ 1 or np.inf, got {n!r}")
        if not (_is_int(self.max_fun) and self.max_fun >= 1):
            raise ConfigError(f"{w}: max_fun must be an int ≥ 1 (only L-BFGS uses it), got {self.max_fun!r}")
        try:
            backend = get_backend(self.backend)
        except AnynetError as exc:  # unknown, not installed, no such device: anynet's words, the parameter named
            raise type(exc)(f"{w}: backend={self.backend!r}: {exc}") from exc
        if self.dtype is not None:
            try:
                backend.dtype(float_dtype_name(self.dtype))
            except InputError:
                raise ConfigError(f"{w}: dtype must be 'float32', 'float64', 'widest' or None (X's float type), "
                                  f"got {self.dtype!r}") from None
            except AnynetError as exc:  # a float type the device does not have
                raise type(exc)(f"{w}: dtype={self.dtype!r}: {exc}") from exc

    # -- the network ----------------------------------------------------------------------------
    def _build(self, n_features: int, n_outputs: int, dtype: Any, rng: np.random.RandomState,
               targets: np.ndarray) -> Sequential:
        """The network, with scikit-learn's initial weights drawn from ``rng`` as scikit-learn draws them."""
        sizes = [n_features, *_hidden_sizes(type(self).__name__, self.hidden_layer_sizes), n_outputs]
        # Glorot et al.'s bound √(factor/(fan_in + fan_out)): factor 2 for logistic units, else 6
        factor = 2.0 if self.activation == "logistic" else 6.0
        act = _ACTIVATIONS[self.activation]
        layers = []
        for i in range(len(sizes) - 1):
            fan_in, fan_out = sizes[i], sizes[i + 1]
            bound = math.sqrt(factor / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
            last = i == len(sizes) - 2
            if last:
                b = self._out_bias(targets, b)
            layers.append(Dense(fan_in, fan_out, init=_Values(W), bias_init=_Values(b),
                                activation=None if last else act, dtype=dtype, backend=self.backend))
        return Sequential(layers, dtype=dtype, backend=self.backend)

    # -- fitting --------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None) -> Any:
        """``fit`` / ``partial_fit``: all or nothing. A call that raises (bad data, a changed network,
        a diverging loss, an interrupt) leaves the estimator as it was before the call: unfitted after
        a first fit, else the previous fit's network exactly (weights, optimizer state, attributes)."""
        where = f"{type(self).__name__}.{'partial_fit' if incremental else 'fit'}"
        fitted = hasattr(self, "model_")
        first = not fitted or (not self.warm_start and not incremental)
        with _fitting_lock:
            if vars(self).get("_fitting"):
                raise InputError(f"{where}: this estimator is already fitting (in another thread?); wait for that "
                                 "call to return, or fit a clone (sklearn.base.clone)")
            saved = _Saved(self, continuing=not first)
            self._fitting = True
        try:
            self._fit_call(X, y, incremental=incremental, classes=classes, first=first, fitted=fitted, where=where)
        except BaseException:
            saved.restore(self)  # (which also drops the "fitting" mark)
            raise
        del self._fitting
        return self

    def _fit_call(self, X: Any, y: Any, *, incremental: bool, classes: Any, first: bool, fitted: bool,
                  where: str) -> None:
        self._check_params()
        if self.early_stopping and incremental:
            raise InputError(f"{where}: partial_fit does not support early_stopping=True; set early_stopping=False")
        sparse_y = _sparse.issparse(y)
        y = self._dense_y(y, where)
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=first,
                             **self._y_options())
        if first:  # a classifier fit on a sparse indicator y predicts sparse indicators, as scikit-learn's
            self._sparse_y = sparse_y
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = self._targets(y, first=first, where=where, classes=classes)
        n_outputs = len(self.classes_) if self._loss_name == "softmax_cross_entropy" else targets.shape[1]
        # one generator, drawn from in scikit-learn's order: weights, validation split, shuffles
        rng = check_random_state(self.random_state)
        if first:
            self._start(X, targets, n_outputs, rng)
        else:
            if n_outputs != self.n_outputs_:
                raise InputError(f"{where}: y has {n_outputs} outputs but the model was fit with {self.n_outputs_}; "
                                 "fit a new estimator (warm_start=False) for another target shape")
            self._continue_network(where, incremental)
        X_train, t_train, validation_score = X, targets, None
        if self.early_stopping:
            X_train, t_train, validation_score = self._split(X, targets, rng, where)
        done = len(self.loss_curve_)
        try:
            check = self._train(X_train, t_train, rng, validation_score, incremental=incremental, where=where)
        except NonFiniteLossError as exc:
            raise NonFiniteLossError(self._diverged(where, fitted, len(self.loss_curve_) - done)) from exc
        self.n_iter_ = check.n_iter
        self.loss_curve_, self.validation_scores_ = check.loss_curve, check.validation_scores
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_, self.best_validation_score_ = check.best_loss, check.best_validation_score
        self._no_improvement_count = check.no_improvement_count
        if not incremental and not check.converged and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    def _start(self, X: np.ndarray, targets: np.ndarray, n_outputs: int, rng: np.random.RandomState) -> None:
        """A new network and fresh fitted attributes (a first fit, or a fit without warm_start)."""
        dtype = self.dtype if self.dtype is not None else "float32" if X.dtype == np.float32 else "float64"
        self.model_ = self._build(X.shape[1], n_outputs, dtype, rng, targets)
        self.n_outputs_, self.n_layers_ = n_outputs, len(self.model_.layers) + 1
        self.out_activation_ = self._out_activation()
        self.t_, self._no_improvement_count = 0, 0
        self.loss_curve_ = []
        self.best_loss_ = None if self.early_stopping else math.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -math.inf if self.early_stopping else None

    def _dense_y(self, y: Any, where: str) -> Any:
        """A SciPy sparse ``y`` (a label-indicator matrix, as scikit-learn takes) as a dense array: the
        network trains on dense targets. Refused where the dense copy would be too large."""
        if not _sparse.issparse(y):
            return y
        size = math.prod(y.shape)
        if size > _MAX_DENSE_Y:
            raise InputError(f"{where}: y is a sparse {'×'.join(map(str, y.shape))} matrix, whose dense copy "
                             f"({size} values, {size * 8 / 2**30:.1f} GiB as float64) the network would train on; "
                             "give fewer rows per call (partial_fit over chunks) or fewer label columns")
        return y.toarray()

    def _continue_network(self, where: str, incremental: bool) -> None:
        """Check that the fitted network is the one the parameters describe before ``warm_start`` or
        ``partial_fit`` trains it on, and move it to a changed ``backend``.

        A changed ``hidden_layer_sizes``, ``activation`` or ``dtype`` would describe another network than
        the one trained on (scikit-learn keeps the old one silently or fails deep inside): a
        :class:`~anynet.errors.ConfigError` names the parameter. A changed ``backend`` is where the same
        network computes, not another network (every backend trains the network NumPy trains), so the
        network, with its optimizer state, moves there: ``set_params(backend="torch:cuda")`` then
        ``fit`` continues on the GPU."""
        model, name = self.model_, type(self).__name__
        fix = ("set it back to {was!r}, or train a new network: set_params(warm_start=False).fit(X, y)"
               if not incremental else "set it back to {was!r}, or start over on a fresh estimator: "
               "sklearn.base.clone(estimator).partial_fit(X, y, ...)")
        how = "partial_fit" if incremental else "fit with warm_start=True"
        sizes = tuple(_hidden_sizes(name, self.hidden_layer_sizes))
        dense = cast(list[Dense], model.layers)
        had = tuple(layer.out_features for layer in dense[:-1])
        if sizes != had:
            raise ConfigError(f"{where}: hidden_layer_sizes is {self.hidden_layer_sizes!r} but the fitted network's "
                              f"hidden layers are {had}; {how} continues the fitted network; "
                              + fix.format(was=had))
        if had:
            act = dense[0].activation
            was = {v: k for k, v in _ACTIVATIONS.items()}[None if act is None else act.name]
            if self.activation != was:
                raise ConfigError(f"{where}: activation is {self.activation!r} but the fitted network's is {was!r}; "
                                  f"{how} continues the fitted network; " + fix.format(was=was))
        target = get_backend(self.backend)
        if self.dtype is not None and dtype_name(target.dtype(self.dtype)) != model.dtype:
            raise ConfigError(f"{where}: dtype is {self.dtype!r} but the fitted network is {model.dtype}; {how} "
                              "continues the fitted network (casting it would change its numbers); "
                              + fix.format(was=model.dtype))
        if target != model.backend:
            model.to(target)

    def _diverged(self, where: str, fitted: bool, epochs: int) -> str:
        """NonFiniteLossError's message in the estimator's terms (anynet's names fit's own options)."""
        state = self.model_.train_state
        bad = state.step_losses[~np.isfinite(state.step_losses)]
        what = (f"the training loss became {bad[0]}" if bad.size
                else "the network's weights or outputs became non-finite (or too large to give finite outputs)")
        left = "with the previous fit's network, as before this call" if fitted else "unfitted, as before this call"
        tips = [f"lower learning_rate_init (now {self.learning_rate_init!r})",
                "scale the inputs (e.g. sklearn.preprocessing.StandardScaler in a Pipeline)"]
        if not is_classifier(self):
            tips.append("scale the targets (sklearn.compose.TransformedTargetRegressor)")
        if self.solver == "sgd" and self.momentum:
            tips.append(f"lower momentum (now {self.momentum!r})")
        tips.append(f"raise alpha (now {self.alpha!r})")
        return (f"{where}: training diverged: {what} (in epoch {epochs + 1} of this call); " + ", ".join(tips)
                + f", or check X and y for extreme values. The estimator is left {left}")

    def _split(self, X: np.ndarray, targets: np.ndarray, rng: np.random.RandomState,
               where: str) -> tuple[np.ndarray, np.ndarray, Callable[[Any], float]]:
        """scikit-learn's early-stopping split (stratified for one output of a classifier)."""
        stratify = targets if is_classifier(self) and self.n_outputs_ == 1 else None
        X_train, X_val, t_train, t_val = train_test_split(X, targets, random_state=rng,
                                                          test_size=self.validation_fraction, stratify=stratify)
        if X_val.shape[0] < 2:
            raise InputError(f"{where}: the validation set is too small ({X_val.shape[0]} sample); increase "
                             "validation_fraction or give more data")
        Xd = prepare_x(self.model_, X_val, where)  # on the device once

        def validation_score(model: Any) -> float:
            out = to_numpy(model.forward(Xd)[0])
            return self._score_outputs(out, t_val) if np.all(np.isfinite(out)) else math.nan

        return X_train, t_train, validation_score

    def _train(self, X: np.ndarray, targets: np.ndarray, rng: np.random.RandomState,
               validation_score: Callable[[Any], float] | None, *, incremental: bool,
               where: str) -> ConvergenceCheck:
        """Run anynet's ``fit`` with the callbacks that make it scikit-learn's loop."""
        model, n = self.model_, X.shape[0]
        if isinstance(self.batch_size, str):  # "auto"
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(f"{where}: batch_size={self.batch_size} is larger than the {n} training samples; "
                              f"using {n}", UserWarning, stacklevel=5)
            batch = int(min(self.batch_size, n))
        # as scikit-learn: partial_fit continues the optimizer, every fit (warm or not) starts a new one
        opt = model.optimizer if incremental and model.optimizer is not None else self._optimizer()
        decay = float(self.alpha) * self._grad_scale
        # the per-batch constants are schedules of the step: they reach the step as its scalars
        epochs = _Epochs(opt.iterations, batch, n)
        opt.weight_decay = _RowsDecay(decay, epochs)
        invscaling = self.solver == "sgd" and self.learning_rate == "invscaling"
        if invscaling:
            opt.lr = _InvScalingRate(opt.current_lr(), float(self.learning_rate_init) / self._grad_scale,
                                     float(self.power_t), self.t_, epochs)
        value = _SklearnLoss(1.0 / self._value_scale, float(self.alpha), n, math.ceil(n / batch))
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        check = ConvergenceCheck(tol=self.tol, n_iter_no_change=self.n_iter_no_change, loss=value,
                                 validation_score=validation_score, on_plateau="reduce_lr" if adaptive else "stop")
        # the rule's state carries over warm starts and partial fits, as in scikit-learn
        check.loss_curve, check.no_improvement_count = self.loss_curve_, self._no_improvement_count
        check.best_loss, check.best_validation_score = self.best_loss_, self.best_validation_score_
        check.validation_scores = self.validation_scores_
        hooks: list[Callback] = [value, check, _SamplesSeen(self, n)]
        if value.factor and value.n_batches > 1:
            hooks.append(_BatchNorms(value))
        if isinstance(opt, Adam):
            opt.eps_hat = True  # scikit-learn adds epsilon to √v before the bias correction
        try:
            model.fit(X, targets, loss=self._loss_name, optimizer=opt, epochs=1 if incremental else self.max_iter,
                      batch_size=batch, shuffle=_SklearnOrder(rng, n) if self.shuffle else False, callbacks=hooks,
                      verbose=2 if self.verbose else 0)
        finally:  # numbers again, as a checkpoint stores them and the next fit starts from
            opt.weight_decay = decay / batch
            if invscaling:
                opt.lr = opt.current_lr()
        return check

    def _optimizer(self) -> Optimizer:
        c = self._grad_scale
        if self.solver == "adam":
            return Adam(lr=float(self.learning_rate_init), beta1=float(self.beta_1), beta2=float(self.beta_2),
                        eps=float(self.epsilon) * c, eps_hat=True)
        momentum = float(self.momentum)
        return SGD(lr=float(self.learning_rate_init) / c, momentum=momentum,
                   nesterov=bool(self.nesterovs_momentum) and momentum > 0)

    def _outputs(self, X: Any, *, proba: bool = False) -> np.ndarray:
        """The network's outputs (logits, or probabilities with ``proba``) as NumPy of X's float type."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        out = self.model_.predict_proba(X) if proba else self.model_.predict(X)
        return np.asarray(out, dtype=X.dtype)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, as NumPy copies (scikit-learn's ``coefs_``)."""
        check_is_fitted(self, "model_")
        return [to_numpy(layer.params["W"]).copy() for layer in self.model_.layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, as NumPy copies (scikit-learn's ``intercepts_``)."""
        check_is_fitted(self, "model_")
        return [to_numpy(layer.params["b"]).copy() for layer in self.model_.layers]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class _Values:
    """An initialiser returning values drawn beforehand (checkpoints store weights, not initialisers)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(self.values, shape).copy()


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier: ``sklearn.neural_network.MLPClassifier``, trained by anynet.

    Two classes train one logit with ``bce_logits``; more classes one logit each with
    ``softmax_cross_entropy``; a label-indicator ``y`` (n, k) (several labels per sample) k logits
    with ``bce_logits``. Labels may be of any type (strings, ints, …): ``classes_`` holds them
    sorted and ``predict`` returns them. See the module docstring for how scikit-learn's algorithm
    maps onto anynet.

    Arguments:
        hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
        learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
        momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
        epsilon, n_iter_no_change, max_fun: scikit-learn's, with its defaults
            (``solver="lbfgs"`` is refused; ``max_fun`` is accepted for compatibility and unused).
        backend: the anynet backend to train on (``"numpy"``, ``"torch:cuda:0"``, …, or a
            :class:`~anynet.Backend`, stored as its spec; default: the current one).
        dtype: the model's float type (default: float32 for float32 data, else float64).

    Attributes:
        classes_: the class labels (for several labels per sample: ``arange(k)``).
        model_: the trained :class:`anynet.Sequential` (its ``metadata``, ``save``, ``to`` …).
        n_features_in_, feature_names_in_ (fit on a DataFrame with string column names),
        loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_,
        t_, n_layers_, n_outputs_, out_activation_, coefs_, intercepts_: as in scikit-learn.

    Shapes:
        X: (n_samples, n_features); y: (n_samples,) labels or (n_samples, k) indicators.
        ``predict_proba``: (n_samples, n_classes); ``decision_function``: the logits,
        (n_samples,) for two classes, else (n_samples, n_outputs).

    Example:
        >>> import numpy as np
        >>> from anynet.sklearn import MLPClassifier
        >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.random.default_rng(0).normal(0, 0.1, (40, 2))
        >>> y = np.array(["cat"] * 20 + ["dog"] * 20)
        >>> clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05, max_iter=50,
        ...                     random_state=0).fit(X, y)
        >>> clf.classes_.tolist(), clf.predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
        (['cat', 'dog'], ['cat', 'dog'])
        >>> clf.predict_proba([[1.0, 1.0]]).shape
        (1, 2)
    """

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train from the start (or, with ``warm_start``, on from the last fit) on ``(X, y)``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``(X, y)``, on from the last call; the first call needs ``classes``, every
        label that will ever be seen (ignored for a label-indicator ``y``)."""
        if not hasattr(self, "classes_"):
            if classes is None and not type_of_target(y, input_name="y").startswith("multilabel"):
                raise InputError("MLPClassifier.partial_fit: the first call needs classes=, every class label that "
                                 "will be seen (e.g. classes=np.unique(y_all))")
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise InputError(f"MLPClassifier.partial_fit: classes={classes!r} differs from the first call's "
                             f"{self.classes_!r}")
        return self._fit(X, y, incremental=True, classes=classes)

    def _y_options(self) -> dict[str, Any]:
        return {}

    def _targets(self, y: np.ndarray, *, first: bool, where: str, classes: Any) -> np.ndarray:
        """Set (first fit) or check ``classes_`` and choose the loss; returns what the loss trains on:
        (n, 1) 0/1 for two classes, (n,) class indices for more, the (n, k) indicators as floats."""
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type == "multiclass-multioutput":
            raise InputError(f"{where}: y has several columns of class labels (multiclass-multioutput), which one "
                             "network does not fit; wrap it in sklearn.multioutput.MultiOutputClassifier")
        multilabel = y_type == "multilabel-indicator"
        if first:
            self.classes_ = np.arange(y.shape[1]) if multilabel else unique_labels(y if classes is None else classes)
            self._multilabel = multilabel
            if len(self.classes_) < 2 and not multilabel:
                raise InputError(f"{where}: y holds one class only ({self.classes_[0]!r}); a classifier needs at "
                                 "least 2 classes")
        elif multilabel != self._multilabel or (multilabel and y.shape[1] != len(self.classes_)):
            raise InputError(f"{where}: y is {y_type} with shape {y.shape}, unlike the targets the model was fit on; "
                             "fit a new estimator (warm_start=False) for other targets")
        if multilabel:
            # bce_logits averages over the k outputs too: 1/k of scikit-learn's loss
            self._loss_name, self._value_scale, self._grad_scale = "bce_logits", 1.0 / y.shape[1], 1.0 / y.shape[1]
            return np.asarray(y, dtype=np.float64)
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unseen):
            raise InputError(f"{where}: y has the classes {unseen.tolist()}, not among classes_ "
                             f"{self.classes_.tolist()}; warm_start and partial_fit keep the first fit's classes")
        index = np.searchsorted(self.classes_, y)
        self._value_scale = self._grad_scale = 1.0
        if len(self.classes_) == 2:
            self._loss_name = "bce_logits"
            return (index == 1).astype(np.float64).reshape(-1, 1)
        self._loss_name = "softmax_cross_entropy"
        return index.astype(np.int64)

    def _out_bias(self, targets: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        return drawn  # scikit-learn's draw: same random_state, same network

    def _out_activation(self) -> str:
        return "softmax" if self._loss_name == "softmax_cross_entropy" else "logistic"

    def _score_outputs(self, out: np.ndarray, targets: np.ndarray) -> float:
        """Accuracy of logits ``out`` against encoded ``targets`` (subset accuracy for several labels)."""
        truth = targets if self._multilabel else targets.reshape(-1).astype(np.int64)
        return float(accuracy_score(truth, self._labels_of(out, encoded=True)))

    def _labels_of(self, out: np.ndarray, *, encoded: bool = False) -> np.ndarray:
        # a logit above 0 is scikit-learn's probability above 0.5
        if self._multilabel:
            return (out > 0).astype(np.int64)
        index = (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else np.argmax(out, axis=1)
        return index if encoded else self.classes_[index]

    def predict(self, X: Any) -> Any:
        """The predicted class of every row (an indicator row for several labels per sample: a SciPy
        CSR matrix where the fit's ``y`` was sparse, as scikit-learn's)."""
        labels = self._labels_of(self._outputs(X))
        return _sparse.csr_matrix(labels) if vars(self).get("_sparse_y") and self._multilabel else labels

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits: (n,) for two classes (positive means ``classes_[1]``), else (n, n_outputs)."""
        out = self._outputs(X)
        return out[:, 0] if out.shape[1] == 1 and not self._multilabel else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_`` (each label's own probability
        for several labels per sample)."""
        p = self._outputs(X, proba=True)
        return np.concatenate([1 - p, p], axis=1) if p.shape[1] == 1 and not self._multilabel else p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor: ``sklearn.neural_network.MLPRegressor``, trained by anynet.

    One linear output per target column, trained with ``least_square_error`` (scikit-learn's
    ``squared_error``). See the module docstring for how scikit-learn's algorithm maps onto anynet.

    Arguments:
        loss: ``"squared_error"`` (scikit-learn's ``"poisson"`` is refused).
        hidden_layer_sizes, activation, …, backend, dtype: as :class:`MLPClassifier`.

    Attributes:
        model_, n_features_in_, feature_names_in_, loss_, loss_curve_, best_loss_,
        validation_scores_ (R²), best_validation_score_, n_iter_, t_, n_layers_, n_outputs_,
        out_activation_, coefs_, intercepts_: as in scikit-learn.

    Shapes:
        X: (n_samples, n_features); y: (n_samples,) or (n_samples, n_targets); ``predict``
        returns the same shape as y had.

    Example:
        >>> import numpy as np
        >>> from anynet.sklearn import MLPRegressor
        >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
        >>> reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.03, random_state=0)
        >>> reg = reg.fit(X, 3 * X[:, 0] + 1)
        >>> reg.score(X, 3 * X[:, 0] + 1) > 0.99, reg.predict(X).shape
        (True, (64,))
    """

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: int | str = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001, power_t: float = 0.5,
                 max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: float = 10,
                 max_fun: int = 15000, backend: Any = None, dtype: Any = None) -> None:
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         backend=backend, dtype=dtype)
        self.loss = loss

    def _check_params(self) -> None:
        if self.loss == "poisson":
            raise ConfigError("MLPRegressor: loss='poisson' is not supported (anynet has no Poisson loss with a "
                              "log link); use loss='squared_error', or scikit-learn's own MLPRegressor")
        _choice("MLPRegressor", "loss", self.loss, ("squared_error",))
        super()._check_params()

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train from the start (or, with ``warm_start``, on from the last fit) on ``(X, y)``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over ``(X, y)``, continuing from the last call."""
        return self._fit(X, y, incremental=True)

    def _y_options(self) -> dict[str, Any]:
        return {"y_numeric": True}

    def _targets(self, y: np.ndarray, *, first: bool, where: str, classes: Any) -> np.ndarray:
        k = 1 if y.ndim == 1 else y.shape[1]
        # least_square_error sums the k outputs where scikit-learn's value averages them; gradients agree
        self._loss_name, self._value_scale, self._grad_scale = "least_square_error", float(k), 1.0
        return np.asarray(y, dtype=np.float64).reshape(len(y), k)

    def _out_bias(self, targets: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        """The targets' mean, the best constant prediction, where scikit-learn draws a small
        uniform value: its outputs would otherwise have to grow to the targets' scale by small steps."""
        return np.mean(targets, axis=0)

    def _out_activation(self) -> str:
        return "identity"

    def _score_outputs(self, out: np.ndarray, targets: np.ndarray) -> float:
        return float(r2_score(targets, out))

    def predict(self, X: Any) -> np.ndarray:
        """Predictions: (n,) for a 1-D y, else (n, n_targets)."""
        out = self._outputs(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
