"""Optimizers: SGD (momentum, Nesterov), Adam, AdamW, RMSProp, AdaGrad.

Each optimizer validates its hyper-parameters up front, keeps its state by parameter path
(``"0.W"``) so it can be saved, and does its math in one small ``_update`` written against the
Array API standard. ``step(params, grads)`` returns the new parameters: where the backend allows
(everything but JAX) the arrays are updated in place and the same objects come back; on JAX new
arrays come back and the model stores them.

Shared options (all optimizers):
    lr: a number or a schedule ``step -> lr`` (see :mod:`anynet.schedules`; a lambda works).
    weight_decay: L2 penalty ``decay · W`` added to the gradient of every weight matrix
        (parameters with 2 or more dimensions; biases and BatchNorm scales are not decayed),
        as document 004 does. AdamW decays decoupled from the gradient instead.
    l1: L1 penalty ``l1 · sign(W)`` added likewise.
    clip_norm: rescale all gradients together so their global L2 norm is at most this.
    clip_value: clip every gradient entry to [−clip_value, clip_value].

Example:
    >>> import numpy as np
    >>> from anynet.optim import SGD
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> params = {"w": np.ones(2)}
    >>> params = opt.step(params, {"w": np.ones(2)})
    >>> params["w"].tolist()
    [0.9, 0.9]
"""

from __future__ import annotations

import math
from typing import Any

from . import schedules
from .backends import namespace_of, backend_of

Array = Any

#: class name -> class; checkpoints name optimizers only through this registry
OPTIMIZERS: dict[str, type[Optimizer]] = {}


def _register(cls: type[Optimizer]) -> type[Optimizer]:
    OPTIMIZERS[cls.__name__] = cls
    OPTIMIZERS[cls.__name__.lower()] = cls
    return cls


def _check(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False,
           high_open: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
    if not bad:
        bad = value < low or (low_open and value == low) or value > high or (high_open and value == high)
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


class _CustomLR:
    """Stands in for a user's learning-rate callable that a checkpoint could not store."""

    def __call__(self, step: int) -> float:
        raise RuntimeError(
            "this optimizer was saved with a custom learning-rate callable, which checkpoints do "
            "not store; set it again before training: model.optimizer.lr = your_schedule"
        )


class Optimizer:
    """Base class; subclasses set ``hyper`` (their own hyper-parameters) and ``_update``."""

    #: names of the per-parameter state arrays, created as zeros on the first step
    slots: tuple[str, ...] = ()

    def __init__(self, lr: Any, *, weight_decay: float = 0.0, l1: float = 0.0,
                 clip_norm: float | None = None, clip_value: float | None = None) -> None:
        name = type(self).__name__
        if callable(lr):
            self.lr = lr
        else:
            self.lr = _check(f"{name}: lr", lr, 0.0)
        self.weight_decay = _check(f"{name}: weight_decay", weight_decay, 0.0)
        self.l1 = _check(f"{name}: l1", l1, 0.0)
        self.clip_norm = None if clip_norm is None else _check(f"{name}: clip_norm", clip_norm, 0.0, low_open=True)
        self.clip_value = None if clip_value is None else _check(f"{name}: clip_value", clip_value, 0.0, low_open=True)
        self.iterations = 0
        self.state: dict[str, dict[str, Array]] = {}
        self._modes: dict[type, tuple[Any, bool]] = {}
        self.hyper: dict[str, Any] = {}

    # -- the learning rate ------------------------------------------------------------------
    def current_lr(self) -> float:
        """The rate the next step will use."""
        lr = self.lr(self.iterations) if callable(self.lr) else self.lr
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}: the learning rate at step {self.iterations} is {lr!r}; "
                             "it must be a finite number ≥ 0")
        return lr

    # -- one step ---------------------------------------------------------------------------
    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> dict[str, Array]:
        """Apply one update; returns the parameters (the same arrays where updated in place)."""
        missing = [k for k in params if k not in grads]
        if missing:
            raise KeyError(f"{type(self).__name__}.step: no gradient for {missing}; run a backward pass first")
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
        mode = self._modes.get(type(first))
        if mode is None:
            mode = self._modes[type(first)] = (namespace_of(first), backend_of(first).writeable)
        xp, inplace = mode
        grads = self._preprocess([gd[key] for _, _, gd, key in slots], xp)
        coupled = self.weight_decay and self._coupled_decay()
        for (path, pd, _, key), g in zip(slots, grads):
            p = pd[key]
            decay = p.ndim >= 2
            if decay:
                if coupled:
                    g = g + self.weight_decay * p
                if self.l1:
                    g = g + self.l1 * xp.sign(p)
            state = self.state.get(path)
            if state is None:
                state = self.state[path] = {s: xp.zeros_like(p) for s in self.slots}
            if inplace:
                self._update_inplace(p, g, state, lr, xp, decay)
            else:
                pd[key], self.state[path] = self._update(p, g, state, lr, xp, decay)
        self.iterations += 1

    def _update_inplace(self, p: Array, g: Array, state: dict[str, Array], lr: float, xp: Any,
                        decay: bool) -> None:
        """In-place variant of ``_update`` with the standard's in-place operators; the default
        computes the new values and copies them in. Overrides must give identical numbers."""
        new_p, new_state = self._update(p, g, state, lr, xp, decay)
        p[...] = new_p
        for k, v in new_state.items():
            state[k][...] = v

    def _preprocess(self, grads: list[Array], xp: Any) -> list[Array]:
        if self.clip_value is not None:
            c = self.clip_value
            grads = [xp.clip(g, -c, c) for g in grads]
        if self.clip_norm is not None:
            total = xp.sqrt(sum(xp.sum(g * g) for g in grads))
            # a 0-d array: no device synchronisation
            scale = xp.minimum(self.clip_norm / (total + 1e-6), 1.0)
            grads = [g * scale for g in grads]
        return grads

    def _coupled_decay(self) -> bool:
        return True

    def _update(self, p: Array, g: Array, state: dict[str, Array], lr: float, xp: Any,
                decay: bool) -> tuple[Array, dict[str, Array]]:
        raise NotImplementedError

    # -- saving -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (the learning rate as a number or schedule description)."""
        lr = schedules.to_config(self.lr)
        cfg: dict[str, Any] = {"lr": lr, **self.hyper}
        if lr is None:
            cfg["lr_custom"] = True
        for key in ("weight_decay", "l1"):
            if getattr(self, key):
                cfg[key] = getattr(self, key)
        for key in ("clip_norm", "clip_value"):
            if getattr(self, key) is not None:
                cfg[key] = getattr(self, key)
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        cfg = dict(config)
        custom = cfg.pop("lr_custom", False)
        lr = cfg.pop("lr")
        opt = cls(lr=1.0 if custom else schedules.from_config(lr), **cfg)
        if custom:
            opt.lr = _CustomLR()
        return opt

    def state_arrays(self) -> dict[str, Array]:
        """Every state array, keyed ``"<param path>/<slot>"``."""
        return {f"{path}/{slot}": arr for path, st in self.state.items() for slot, arr in st.items()}

    def load_state_arrays(self, arrays: dict[str, Array]) -> None:
        self.state = {}
        for key, arr in arrays.items():
            path, _, slot = key.rpartition("/")
            self.state.setdefault(path, {})[slot] = arr

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


@_register
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, in document 004's (Caffe's) form.

    ``v = momentum·v + lr·g;  w −= v`` (Nesterov: ``w −= momentum·v + lr·g``). With a constant
    rate this equals PyTorch's ``SGD``; with a schedule the rate applies to the new gradient
    only, as in document 004.
    """

    def __init__(self, lr: Any = 0.01, *, momentum: float = 0.0, nesterov: bool = False, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.momentum = _check("SGD: momentum", momentum, 0.0, 1.0, high_open=True)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.slots = ("velocity",) if self.momentum else ()
        self.hyper = {"momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, p, g, state, lr, xp, decay):
        if not self.momentum:
            return p - lr * g, {}
        v = self.momentum * state["velocity"] + lr * g
        step = self.momentum * v + lr * g if self.nesterov else v
        return p - step, {"velocity": v}

    def _update_inplace(self, p, g, state, lr, xp, decay):
        if not self.momentum:
            p -= lr * g
            return
        v = state["velocity"]
        v *= self.momentum
        v += lr * g
        if self.nesterov:
            p -= self.momentum * v + lr * g
        else:
            p -= v


@_register
class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moment estimates.

    ``weight_decay`` here is the classic coupled L2 (added to the gradient); use
    :class:`AdamW` for decoupled decay.
    """

    slots = ("m", "v")

    def __init__(self, lr: Any = 1e-3, *, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, **kw: Any) -> None:
        super().__init__(lr, **kw)
        name = type(self).__name__
        self.beta1 = _check(f"{name}: beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check(f"{name}: beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = _check(f"{name}: eps", eps, 0.0, low_open=True)
        self.hyper = {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _update(self, p, g, state, lr, xp, decay):
        t = self.iterations + 1
        m = self.beta1 * state["m"] + (1.0 - self.beta1) * g
        v = self.beta2 * state["v"] + (1.0 - self.beta2) * (g * g)
        c1 = 1.0 - self.beta1**t
        c2 = 1.0 - self.beta2**t
        new = p - (lr / c1) * m / (xp.sqrt(v / c2) + self.eps)
        return new, {"m": m, "v": v}

    def _update_inplace(self, p, g, state, lr, xp, decay):
        t = self.iterations + 1
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * (g * g)
        c1 = 1.0 - self.beta1**t
        c2 = 1.0 - self.beta2**t
        p -= (lr / c1) * m / (xp.sqrt(v / c2) + self.eps)


@_register
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w −= lr·decay·w`` before the
    Adam step, for weight matrices. Default decay 0.01, as PyTorch."""

    def __init__(self, lr: Any = 1e-3, *, weight_decay: float = 0.01, **kw: Any) -> None:
        super().__init__(lr, weight_decay=weight_decay, **kw)

    def _coupled_decay(self) -> bool:
        return False

    def _update(self, p, g, state, lr, xp, decay):
        if decay and self.weight_decay:
            p = p * (1.0 - lr * self.weight_decay)
        return super()._update(p, g, state, lr, xp, decay)

    def _update_inplace(self, p, g, state, lr, xp, decay):
        if decay and self.weight_decay:
            p *= 1.0 - lr * self.weight_decay
        super()._update_inplace(p, g, state, lr, xp, decay)


@_register
class RMSProp(Optimizer):
    """RMSProp: ``s = alpha·s + (1−alpha)·g²;  w −= lr·g/(√s + eps)`` (PyTorch's form),
    with optional momentum on the scaled step."""

    def __init__(self, lr: Any = 1e-2, *, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.alpha = _check("RMSProp: alpha", alpha, 0.0, 1.0, high_open=True)
        self.eps = _check("RMSProp: eps", eps, 0.0, low_open=True)
        self.momentum = _check("RMSProp: momentum", momentum, 0.0, 1.0, high_open=True)
        self.slots = ("square_avg", "buffer") if self.momentum else ("square_avg",)
        self.hyper = {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}

    def _update(self, p, g, state, lr, xp, decay):
        s = self.alpha * state["square_avg"] + (1.0 - self.alpha) * (g * g)
        scaled = g / (xp.sqrt(s) + self.eps)
        if self.momentum:
            b = self.momentum * state["buffer"] + scaled
            return p - lr * b, {"square_avg": s, "buffer": b}
        return p - lr * scaled, {"square_avg": s}


@_register
class AdaGrad(Optimizer):
    """AdaGrad: ``s += g²;  w −= lr·g/(√s + eps)``."""

    slots = ("sum",)

    def __init__(self, lr: Any = 1e-2, *, eps: float = 1e-10, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.eps = _check("AdaGrad: eps", eps, 0.0, low_open=True)
        self.hyper = {"eps": self.eps}

    def _update(self, p, g, state, lr, xp, decay):
        s = state["sum"] + g * g
        return p - lr * g / (xp.sqrt(s) + self.eps), {"sum": s}


def get(spec: str | Optimizer, **options: Any) -> Optimizer:
    """An optimizer from a name (``"sgd"``, ``"adam"``, ...) and options, or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()](**options)
    known = sorted({c.__name__ for c in OPTIMIZERS.values()})
    raise ValueError(f"unknown optimizer {spec!r}; known: {', '.join(known)}")
