"""Optimizers: SGD (momentum, Nesterov), Adam, AdamW, RMSProp, AdaGrad.

Each optimizer validates its hyper-parameters up front, keeps its state by parameter path
(``"0.W"``) so it can be saved, and writes its math once, in one ``update`` method, against the
Array API standard and a tiny :class:`Ops` object. ``ops.sub_(p, x)`` is ``p -= x`` where the
backend's arrays are writeable (NumPy, CuPy, PyTorch, array-api-strict) and ``p - x`` on JAX, so
the same operations run in the same order on every backend: the numbers agree bit for bit, and the
in-place path allocates no more than hand-written in-place code. ``step(params, grads)`` returns the
parameters: the same array objects where they were updated in place, new ones on JAX.

Shared options (all optimizers):
    lr: a number ≥ 0 or a schedule ``step -> lr`` (see :mod:`anynet.schedules`; a lambda works).
    weight_decay: L2 penalty ``decay · W`` added to the gradient of every weight matrix
        (parameters with 2 or more dimensions; biases and BatchNorm scales are not decayed,
        unlike ``torch.optim``, which decays every parameter), as document 004 does. AdamW
        decays decoupled from the gradient instead.
    l1: L1 penalty ``l1 · sign(W)`` added likewise.
    clip_norm: rescale all gradients together so their global L2 norm is at most this.
    clip_value: clip every gradient entry to [−clip_value, clip_value].

Your own optimizer: subclass :class:`Optimizer`, list its state arrays in ``slots`` and its
saved hyper-parameters in ``hyper``, write ``update`` with ``ops``, and register it with
``anynet.register("optimizer")``; ``anynet.optim.get("name")`` and checkpoints then find it.

Example:
    >>> import numpy as np
    >>> from anynet.optim import SGD
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> params = {"w": np.ones(2)}
    >>> params = opt.step(params, {"w": np.ones(2)})
    >>> params["w"].tolist()
    [0.9, 0.9]
    >>> sorted(opt.state_dict())
    ['w/velocity']
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from . import schedules
from .backends import backend_of, is_array, namespace_of, to_device
from .errors import ConfigError, InputError, StateDictError
from .registry import lookup, register

Array = Any

__all__ = ["AdaGrad", "Adam", "AdamW", "InPlaceOps", "Optimizer", "Ops", "RMSProp", "RebindOps", "SGD",
           "get", "ops_for"]


# -- the one code path: operations that update in place where the backend allows ---------------
class Ops:
    """The updates an optimizer writes its math with: ``add_``, ``sub_``, ``mul_``, ``div_``.

    Each takes ``(a, b)`` and returns ``a ∘ b``. :class:`InPlaceOps` overwrites ``a`` and returns
    it; :class:`RebindOps` (JAX) returns a new array. Write ``p = ops.sub_(p, x)``, always using
    the result, and pass as ``a`` only arrays the optimizer owns (a parameter, a state slot, or a
    temporary it just computed), never a gradient: the layer owns that. ``xp`` is the array
    namespace, for everything else (``ops.xp.sqrt``).
    """

    #: True when the first argument is overwritten
    writeable: bool = False

    __slots__ = ("xp",)

    def __init__(self, xp: ModuleType) -> None:
        self.xp = xp

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.xp.__name__})"


class InPlaceOps(Ops):
    """``a ∘= b; return a``: for backends whose arrays are writeable."""

    writeable = True
    __slots__ = ()

    @staticmethod
    def add_(a: Array, b: Any) -> Array:
        a += b
        return a

    @staticmethod
    def sub_(a: Array, b: Any) -> Array:
        a -= b
        return a

    @staticmethod
    def mul_(a: Array, b: Any) -> Array:
        a *= b
        return a

    @staticmethod
    def div_(a: Array, b: Any) -> Array:
        a /= b
        return a


class RebindOps(Ops):
    """``return a ∘ b``: for immutable arrays (JAX), where ``a -= b`` would only rebind a name."""

    __slots__ = ()

    @staticmethod
    def add_(a: Array, b: Any) -> Array:
        return a + b

    @staticmethod
    def sub_(a: Array, b: Any) -> Array:
        return a - b

    @staticmethod
    def mul_(a: Array, b: Any) -> Array:
        return a * b

    @staticmethod
    def div_(a: Array, b: Any) -> Array:
        return a / b


def ops_for(x: Array) -> Ops:
    """The :class:`Ops` for arrays like ``x``: in place where its backend allows, else rebinding.

    Example:
        >>> import numpy as np
        >>> from anynet.optim import ops_for
        >>> ops = ops_for(np.zeros(2))
        >>> a = np.ones(2)
        >>> ops.sub_(a, 0.5) is a, a.tolist()
        (True, [0.5, 0.5])
    """
    xp = namespace_of(x)
    return InPlaceOps(xp) if backend_of(x).writeable else RebindOps(xp)


# -- hyper-parameter checks ----------------------------------------------------------------------
def _number(value: Any) -> bool:
    # numbers.Real covers numpy's scalars (np.float32, np.int64); bool is not a number here
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False,
           high_open: bool = False) -> float:
    bad = not _number(value) or math.isnan(value)
    if not bad:
        bad = value < low or (low_open and value == low) or value > high or (high_open and value == high)
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ConfigError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


class _CustomLR:
    """Stands in for a user's learning-rate callable that a checkpoint could not store."""

    def __call__(self, step: int) -> float:
        raise ConfigError(
            "this optimizer was saved with a custom learning-rate callable, which checkpoints do "
            "not store; set it again before training: model.optimizer.lr = your_schedule"
        )


# -- the base class ------------------------------------------------------------------------------
class Optimizer:
    """Base class. A subclass sets ``slots`` and ``hyper`` and implements :meth:`update`.

    Arguments:
        lr: learning rate, a number ≥ 0 or a schedule ``step -> lr``.
        weight_decay, l1, clip_norm, clip_value: see the module docstring.

    Attributes:
        iterations: steps taken (a schedule is asked for ``lr(iterations)``).
        state: ``{param path: {slot: array}}``, created as zeros on a parameter's first step.
    """

    #: names of the per-parameter state arrays, created as zeros on the first step
    slots: tuple[str, ...] = ()
    #: names of the attributes, beyond the shared options, that ``config()`` saves
    hyper: tuple[str, ...] = ()
    #: False where ``weight_decay`` is applied by ``update`` itself (AdamW) instead of being
    #: added to the gradient
    coupled_decay: bool = True

    def __init__(self, lr: Any = 0.01, *, weight_decay: float = 0.0, l1: float = 0.0,
                 clip_norm: float | None = None, clip_value: float | None = None) -> None:
        name = type(self).__name__
        if callable(lr):
            self.lr = lr
        elif _number(lr):
            self.lr = _check(f"{name}: lr", lr, 0.0)
        else:
            raise ConfigError(f"{name}: lr must be a number ≥ 0 or a schedule step -> lr (e.g. "
                              f"anynet.schedules.Inv(0.1)), got {lr!r}")
        self.weight_decay = _check(f"{name}: weight_decay", weight_decay, 0.0)
        self.l1 = _check(f"{name}: l1", l1, 0.0)
        self.clip_norm = None if clip_norm is None else _check(f"{name}: clip_norm", clip_norm, 0.0, low_open=True)
        self.clip_value = None if clip_value is None else _check(f"{name}: clip_value", clip_value, 0.0, low_open=True)
        self.iterations = 0
        self.state: dict[str, dict[str, Array]] = {}
        self._ops: dict[type, Ops] = {}
        #: the model whose training state this is (weakly), set by :meth:`claim`
        self._owner: weakref.ref[Any] | None = None

    def claim(self, owner: Any, where: str = "fit") -> None:
        """Make this optimizer's state ``owner``'s (the model ``fit`` trains). Raises
        :class:`~anynet.ConfigError` when it already took steps for another model (even one since
        dropped): its moments and step count would silently carry into this one's training, and on
        a GPU its state arrays may live on another device. A ``copy.deepcopy`` (or pickled copy) of
        an optimizer belongs to no model yet: copying the state over is then the caller's choice, and
        its state is moved to ``owner``'s backend and device here (once, not in the steps)."""
        mine = None if self._owner is None else self._owner()
        if self._owner is not None and mine is not owner and (self.iterations or self.state):
            name = type(self).__name__
            raise ConfigError(
                f"{where}: this {name} already took {self.iterations} steps for another model and holds its "
                f"state (moments, step count, the schedule's position); give each model its own optimizer, "
                f"e.g. optimizer=anynet.optim.{name}(lr=...), or a name such as {name.lower()!r}")
        self._owner = weakref.ref(owner)
        backend = getattr(owner, "backend", None)
        if backend is not None and self.state:  # (to_device returns an array already there as it is)
            self.state = {path: {slot: to_device(a, backend) for slot, a in st.items()}
                          for path, st in self.state.items()}

    def __getstate__(self) -> dict[str, Any]:
        # a copy belongs to no model yet (a weak reference does not pickle), and the ops cache holds modules
        return {**vars(self), "_owner": None, "_ops": {}}

    # -- the learning rate ------------------------------------------------------------------
    def current_lr(self) -> float:
        """The rate the next step will use."""
        raw = self.lr(self.iterations) if callable(self.lr) else self.lr
        try:
            lr = float(raw)
        except (TypeError, ValueError):
            lr = math.nan
        if not math.isfinite(lr) or lr < 0:
            raise ConfigError(f"{type(self).__name__}: the learning rate at step {self.iterations} is {raw!r}; "
                              "it must be a finite number ≥ 0")
        return lr

    # -- one step ---------------------------------------------------------------------------
    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        """Apply one update; returns the parameters (the same arrays where updated in place).

        Arguments:
            params: ``{path: array}``; the paths key the state.
            grads: ``{path: array}``, a gradient of the same shape for every parameter.
        """
        missing = [k for k in params if k not in grads]
        if missing:
            raise InputError(f"{type(self).__name__}.step: no gradient for {missing}; run a backward pass first")
        out = dict(params)
        self.apply([(k, out, grads, k) for k in out])
        return out

    def apply(self, slots: list[tuple[str, dict[str, Array], dict[str, Array], str]]) -> None:
        """One update over ``slots``: ``(path, param dict, grad dict, key)`` each. Updates the
        arrays in place where the backend allows, else stores new arrays in the param dicts.
        (The training loop builds the slots once per ``fit``, so a step builds no dicts.)"""
        if not slots:
            return
        lr = self.current_lr()
        first = slots[0][1][slots[0][3]]
        ops = self._ops.get(type(first))
        if ops is None:
            ops = self._ops[type(first)] = ops_for(first)
        xp = ops.xp
        clipped = None
        if self.clip_value is not None or self.clip_norm is not None:
            clipped = self._clip([gd[key] for _, _, gd, key in slots], xp)
        coupled = self.weight_decay and self.coupled_decay
        states, update = self.state, self.update
        for n, (path, pd, gd, key) in enumerate(slots):
            p = pd[key]
            g = gd[key] if clipped is None else clipped[n]
            decay = p.ndim >= 2
            if decay:
                # new arrays, not ops: the gradient belongs to the layer
                if coupled:
                    g = g + self.weight_decay * p
                if self.l1:
                    g = g + self.l1 * xp.sign(p)
            state = states.get(path)
            if state is None:
                state = states[path] = {s: xp.zeros_like(p) for s in self.slots}
            pd[key], states[path] = update(p, g, state, lr, ops, decay)
        self.iterations += 1

    def update(self, p: Array, g: Array, state: dict[str, Array], lr: float, ops: Ops,
               decay: bool) -> tuple[Array, dict[str, Array]]:
        """The update rule for one parameter, written with ``ops`` (see :class:`Ops`).

        Arguments:
            p: the parameter; g: its gradient (clipped, with coupled decay added).
            state: ``{slot: array}`` for this parameter, each shaped like ``p``.
            lr: this step's learning rate; ops: :class:`Ops` for ``p``'s backend.
            decay: whether ``p`` is decayed (it has 2 or more dimensions).

        Returns:
            ``(new p, state)`` with every slot set to its new array.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update(p, g, state, lr, ops, decay)")

    def _clip(self, grads: list[Array], xp: Any) -> list[Array]:
        if self.clip_value is not None:
            c = self.clip_value
            grads = [xp.clip(g, -c, c) for g in grads]
        if self.clip_norm is not None:
            total = xp.sqrt(sum(xp.sum(g * g) for g in grads))
            # a 0-d array: no device synchronisation
            scale = xp.minimum(self.clip_norm / (total + 1e-6), 1.0)
            grads = [g * scale for g in grads]
        return grads

    # -- saving -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (the learning rate as a number or schedule description)."""
        lr = schedules.to_config(self.lr)
        cfg: dict[str, Any] = {"lr": lr, **{k: getattr(self, k) for k in self.hyper}}
        if lr is None:
            cfg["lr_custom"] = True
        for key in ("weight_decay", "l1"):
            if key not in cfg and getattr(self, key):
                cfg[key] = getattr(self, key)
        for key in ("clip_norm", "clip_value"):
            if getattr(self, key) is not None:
                cfg[key] = getattr(self, key)
        return cfg

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        """The optimizer :meth:`config` described (a custom lr callable must be set again)."""
        if not isinstance(config, Mapping) or "lr" not in config:
            raise ConfigError(f"{cls.__name__}.from_config: expected a dict with 'lr' from config(), got {config!r}")
        cfg = dict(config)
        custom = cfg.pop("lr_custom", False)
        lr = cfg.pop("lr")
        try:
            opt = cls(lr=1.0 if custom else schedules.from_config(lr), **cfg)
        except TypeError as exc:  # an option this class does not take
            raise ConfigError(f"{cls.__name__}.from_config: {exc}") from None
        if custom:
            opt.lr = _CustomLR()
        return opt

    def state_dict(self) -> dict[str, Array]:
        """Every state array (the live arrays, not copies), keyed ``"<param path>/<slot>"``."""
        return {f"{path}/{slot}": arr for path, st in self.state.items() for slot, arr in st.items()}

    def load_state_dict(self, arrays: Mapping[str, Array]) -> None:
        """Replace the state with ``arrays`` as :meth:`state_dict` gives them.

        Raises :class:`~anynet.errors.StateDictError` naming the key for a malformed key, a slot
        this optimizer does not have, a value that is not an array, or a parameter whose slots
        are incomplete or differ in shape.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(arrays, Mapping):
            raise StateDictError(f"{name}: expected a dict {{'<param path>/<slot>': array}}, "
                                 f"got {type(arrays).__name__}")
        have = ", ".join(self.slots) or "none"
        state: dict[str, dict[str, Array]] = {}
        for key, arr in arrays.items():
            path, sep, slot = key.rpartition("/") if isinstance(key, str) else ("", "", "")
            if not (sep and path and slot):
                raise StateDictError(f"{name}: malformed key {key!r}; keys are '<param path>/<slot>', "
                                     "as state_dict() gives them")
            if slot not in self.slots:
                raise StateDictError(f"{name}: key {key!r} names the slot {slot!r}, which this "
                                     f"{type(self).__name__} does not have (its slots: {have}); was the "
                                     "state saved by an optimizer of another type or configuration?")
            if not is_array(arr):
                raise StateDictError(f"{name}: {key!r} holds a {type(arr).__name__}, not an array")
            state.setdefault(path, {})[slot] = arr
        for path, st in state.items():
            missing = [s for s in self.slots if s not in st]
            if missing:
                raise StateDictError(f"{name}: parameter {path!r} lacks the slot(s) {missing}: expected "
                                     f"{[f'{path}/{s}' for s in self.slots]}")
            shapes = {tuple(a.shape) for a in st.values()}
            if len(shapes) > 1:
                raise StateDictError(f"{name}: the slots of {path!r} differ in shape: "
                                     f"{ {s: tuple(a.shape) for s, a in st.items()} }")
        self.state = state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


# -- the optimizers ------------------------------------------------------------------------------
@register("optimizer", aliases=("sgd",))
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, in document 004's (Caffe's) form.

    ``v = momentum·v + lr·g;  w −= v`` (Nesterov: ``w −= momentum·v + lr·g``). With a constant
    rate this equals PyTorch's ``SGD`` (whose buffer is ``v / lr``); with a schedule the rate
    applies to the new gradient only, as in document 004.

    Arguments:
        lr: learning rate (default 0.01) or schedule.
        momentum: in [0, 1); 0 keeps no state.
        nesterov: Nesterov momentum (needs momentum > 0).
        **kw: the shared options (weight_decay, l1, clip_norm, clip_value).

    Example:
        >>> import numpy as np
        >>> from anynet.optim import SGD
        >>> SGD(lr=0.5).step({"w": np.ones(2)}, {"w": np.ones(2)})["w"].tolist()
        [0.5, 0.5]
    """

    hyper = ("momentum", "nesterov")

    def __init__(self, lr: Any = 0.01, *, momentum: float = 0.0, nesterov: bool = False, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.momentum = _check("SGD: momentum", momentum, 0.0, 1.0, high_open=True)
        if nesterov not in (True, False):
            raise ConfigError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ConfigError("SGD: nesterov=True needs momentum > 0, e.g. momentum=0.9")
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if self.momentum else ()

    def update(self, p, g, state, lr, ops, decay):
        if not self.momentum:
            return ops.sub_(p, lr * g), state
        v = ops.add_(ops.mul_(state["velocity"], self.momentum), lr * g)
        state["velocity"] = v
        if self.nesterov:
            return ops.sub_(p, ops.add_(self.momentum * v, lr * g)), state
        return ops.sub_(p, v), state


@register("optimizer", aliases=("adam",))
class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moment estimates.

    ``m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  w −= lr/(1−β₁ᵗ) · m / (√(v/(1−β₂ᵗ)) + eps)``,
    PyTorch's ``Adam`` (which writes the denominator ``√v/√(1−β₂ᵗ) + eps``, the same number).
    ``weight_decay`` here is the classic coupled L2 (added to the gradient); use :class:`AdamW`
    for decoupled decay.

    Arguments:
        lr: learning rate (default 1e-3) or schedule.
        beta1, beta2: decay rates of the moment estimates, in [0, 1).
        eps: added to the denominator, > 0.
        **kw: the shared options.

    Example:
        >>> import numpy as np
        >>> from anynet.optim import Adam
        >>> Adam(lr=0.1).step({"w": np.zeros(2)}, {"w": np.asarray([2.0, -3.0])})["w"].round(6).tolist()
        [-0.1, 0.1]
    """

    slots = ("m", "v")
    hyper: tuple[str, ...] = ("beta1", "beta2", "eps")  # AdamW extends it

    def __init__(self, lr: Any = 1e-3, *, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, **kw: Any) -> None:
        super().__init__(lr, **kw)
        name = type(self).__name__
        self.beta1 = _check(f"{name}: beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check(f"{name}: beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = _check(f"{name}: eps", eps, 0.0, low_open=True)

    def update(self, p, g, state, lr, ops, decay):
        t = self.iterations + 1
        m = ops.add_(ops.mul_(state["m"], self.beta1), (1.0 - self.beta1) * g)
        v = ops.add_(ops.mul_(state["v"], self.beta2), ops.mul_(g * g, 1.0 - self.beta2))
        state["m"], state["v"] = m, v
        denom = ops.add_(ops.xp.sqrt(v / (1.0 - self.beta2**t)), self.eps)
        return ops.sub_(p, ops.div_((lr / (1.0 - self.beta1**t)) * m, denom)), state


@register("optimizer", aliases=("adamw",))
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w −= lr·decay·w`` before the
    Adam step, for weight matrices only. Default decay 0.01, as PyTorch's ``AdamW``.

    Example:
        >>> from anynet.optim import AdamW
        >>> AdamW(lr=1e-3).config()["weight_decay"]
        0.01
    """

    hyper = (*Adam.hyper, "weight_decay")
    coupled_decay = False

    def __init__(self, lr: Any = 1e-3, *, weight_decay: float = 0.01, **kw: Any) -> None:
        super().__init__(lr, weight_decay=weight_decay, **kw)

    def update(self, p, g, state, lr, ops, decay):
        if decay and self.weight_decay:
            p = ops.mul_(p, 1.0 - lr * self.weight_decay)
        return super().update(p, g, state, lr, ops, decay)


@register("optimizer", aliases=("rmsprop",))
class RMSProp(Optimizer):
    """RMSProp: ``s = α·s + (1−α)·g²;  w −= lr·g/(√s + eps)``, PyTorch's ``RMSprop`` (eps outside
    the root), with optional momentum on the scaled step: ``b = μ·b + g/(√s + eps);  w −= lr·b``.

    Arguments:
        lr: learning rate (default 1e-2) or schedule.
        alpha: decay rate of the squared-gradient average, in [0, 1).
        eps: added to the denominator, > 0.
        momentum: in [0, 1); 0 keeps no momentum buffer.
        **kw: the shared options.

    Example:
        >>> import numpy as np
        >>> from anynet.optim import RMSProp
        >>> RMSProp(lr=0.01, alpha=0.75).step({"w": np.zeros(1)}, {"w": np.ones(1)})["w"].round(6).tolist()
        [-0.02]
    """

    hyper = ("alpha", "eps", "momentum")

    def __init__(self, lr: Any = 1e-2, *, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.alpha = _check("RMSProp: alpha", alpha, 0.0, 1.0, high_open=True)
        self.eps = _check("RMSProp: eps", eps, 0.0, low_open=True)
        self.momentum = _check("RMSProp: momentum", momentum, 0.0, 1.0, high_open=True)
        self.slots = ("square_avg", "buffer") if self.momentum else ("square_avg",)

    def update(self, p, g, state, lr, ops, decay):
        s = ops.add_(ops.mul_(state["square_avg"], self.alpha), ops.mul_(g * g, 1.0 - self.alpha))
        state["square_avg"] = s
        scaled = g / ops.add_(ops.xp.sqrt(s), self.eps)
        if self.momentum:
            b = state["buffer"] = ops.add_(ops.mul_(state["buffer"], self.momentum), scaled)
            return ops.sub_(p, lr * b), state
        return ops.sub_(p, ops.mul_(scaled, lr)), state


@register("optimizer", aliases=("adagrad",))
class AdaGrad(Optimizer):
    """AdaGrad: ``s += g²;  w −= lr·g/(√s + eps)``, PyTorch's ``Adagrad`` (eps outside the root,
    no lr decay, initial sum 0).

    Arguments:
        lr: learning rate (default 1e-2) or schedule.
        eps: added to the denominator, > 0.
        **kw: the shared options.

    Example:
        >>> import numpy as np
        >>> from anynet.optim import AdaGrad
        >>> AdaGrad(lr=0.1).step({"w": np.zeros(1)}, {"w": np.asarray([4.0])})["w"].round(6).tolist()
        [-0.1]
    """

    slots = ("sum",)
    hyper = ("eps",)

    def __init__(self, lr: Any = 1e-2, *, eps: float = 1e-10, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.eps = _check("AdaGrad: eps", eps, 0.0, low_open=True)

    def update(self, p, g, state, lr, ops, decay):
        s = state["sum"] = ops.add_(state["sum"], g * g)
        return ops.sub_(p, ops.div_(lr * g, ops.add_(ops.xp.sqrt(s), self.eps))), state


def get(spec: str | Optimizer, **options: Any) -> Optimizer:
    """An optimizer from a registered name (``"sgd"``, ``"Adam"``, ...; case-insensitive) and
    options, or an instance, returned as it is.

    Raises :class:`~anynet.errors.UnknownNameError` for a name that is not registered.

    Example:
        >>> from anynet import optim
        >>> optim.get("sgd", lr=0.1, momentum=0.9)
        SGD(lr=0.1, momentum=0.9, nesterov=False)
    """
    if isinstance(spec, Optimizer):
        if options:
            raise ConfigError(f"optim.get: options {sorted(options)} were given with the optimizer {spec!r}; "
                              "set them when constructing it")
        return spec
    return lookup("optimizer", spec)(**options)
