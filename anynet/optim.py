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
        decays decoupled from the gradient instead. A number ≥ 0, or a schedule ``step -> decay``
        as for ``lr`` (asked once per step, on the host).
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

import inspect
import math
import numbers
import weakref
from collections.abc import Mapping
from types import ModuleType
from typing import Any, cast

from . import schedules
from .backends import backend_of, is_array, namespace_of, to_device
from .backends._arrays import _adapter_of
from .dtypes import dtype_name
from .errors import ConfigError, InputError, InputTypeError, StateDictError
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
    """Stands in for a user's schedule (of the learning rate, or of ``attr``) that a checkpoint could not store."""

    def __init__(self, attr: str = "lr") -> None:
        self.attr = attr

    def __call__(self, step: int) -> float:
        what = "learning-rate" if self.attr == "lr" else self.attr.replace("_", " ")
        raise ConfigError(
            f"this optimizer was saved with a custom {what} callable, which checkpoints do "
            f"not store; set it again before training: model.optimizer.{self.attr} = your_schedule"
        )


_LEGACY: dict[type, bool] = {}


# -- where each parameter sits in the flat buffers ------------------------------------------------
class _Group:
    """The parameters of one dtype, laid end to end in one flat buffer: the decayed ones (2 or more
    dimensions) first, so weight decay and l1 touch the slice ``[:head]`` (a view: no kernel)."""

    __slots__ = ("_keys", "dtype", "entries", "head", "paths", "size")

    def __init__(self, dtype: str, entries: list[tuple[str, int, int, tuple[int, ...]]], head: int) -> None:
        self.dtype = dtype
        #: ``(path, start, stop, shape)`` of every parameter, in buffer order
        self.entries = entries
        self.paths = [e[0] for e in entries]
        #: how many leading entries of the buffer are decayed
        self.head = head
        self.size = entries[-1][2] if entries else 0
        self._keys: dict[str, str] = {}

    def key(self, slot: str) -> str:
        """The state key of ``slot``'s buffer: ``"flat/<dtype>/<slot>"``."""
        key = self._keys.get(slot)
        if key is None:
            key = self._keys[slot] = f"flat/{self.dtype}/{slot}"
        return key


def _layout_of(params: Mapping[str, Array]) -> list[_Group]:
    """One :class:`_Group` per dtype, in the order the dtypes first appear in ``params``."""
    by_dtype: dict[str, tuple[list[tuple[str, tuple[int, ...]]], list[tuple[str, tuple[int, ...]]]]] = {}
    for path, p in params.items():
        shape = tuple(int(s) for s in p.shape)
        decayed, rest = by_dtype.setdefault(dtype_name(p.dtype), ([], []))
        (decayed if len(shape) >= 2 else rest).append((path, shape))
    groups = []
    for dtype, (decayed, rest) in by_dtype.items():
        entries, start = [], 0
        for path, shape in (*decayed, *rest):
            stop = start + math.prod(shape)
            entries.append((path, start, stop, shape))
            start = stop
        groups.append(_Group(dtype, entries, entries[len(decayed) - 1][2] if decayed else 0))
    return groups


def _flatten(xp: Any, arrays: list[Array]) -> Array:
    """The arrays laid end to end in one new 1-D array (one operation: the standard's concat with
    ``axis=None`` flattens them itself)."""
    return xp.concat(arrays, axis=None)


def _unflatten(xp: Any, flat: Array, group: _Group) -> dict[str, Array]:
    """``{path: view of flat}``: slices and reshapes only, which launch no kernel."""
    return {path: xp.reshape(flat[a:b], shape) for path, a, b, shape in group.entries}


_OPS: dict[type, Ops] = {}


def _ops_of(x: Array) -> Ops:
    """The :class:`Ops` for ``x``'s library, chosen by its backend's adapter (not by its device, which a
    jax tracer does not have): in place where the library's arrays are writeable."""
    ops = _OPS.get(type(x))
    if ops is None:
        adapter = _adapter_of(x)
        if adapter is None:
            raise InputTypeError(f"optimizer: expected arrays of a backend anynet knows, got {type(x).__name__}")
        xp = adapter.namespace()
        ops = _OPS[type(x)] = InPlaceOps(xp) if adapter.writeable() else RebindOps(xp)
    return ops


def _flat_backend(params: Mapping[str, Array]) -> bool:
    """Whether the parameters' arrays are writeable, where the flat buffers pay (views, in place)."""
    for p in params.values():
        return _ops_of(p).writeable
    return True


def _is_zero(value: Any) -> bool:
    """True for a host number equal to 0 (a traced or 0-d array scalar is never skipped)."""
    return isinstance(value, (int, float)) and value == 0


def _head_update(ops: Any, x: Array, head: int, size: int, fn: Any) -> Array:
    """``x`` with its first ``head`` entries replaced by ``fn(x[:head])``, where ``fn`` may update its
    argument in place through ``ops``: a view of ``x`` where writeable, else a concatenation."""
    if head == 0:
        return x
    if head == size:
        return fn(x)
    if ops.writeable:
        fn(x[:head])  # a view: updated in place
        return x
    return ops.xp.concat([fn(x[:head]), x[head:]])


# -- the base class ------------------------------------------------------------------------------
class Optimizer:
    """Base class of the optimizers: one update for all parameters at once.

    The pure API (what a compiled training step calls):

    - :meth:`init` ``(params) -> state``: fresh state arrays for ``{path: parameter}``, one flat
      buffer per dtype and slot (``"flat/float32/m"``); on backends whose arrays are writeable also
      the parameters' own flat buffer (``"flat/float32/params"``), of which :meth:`update` returns
      the parameters as views, so that the next step updates them all with one operation.
    - :meth:`scalars` ``(step) -> {name: float}``: this step's learning rate, folded bias
      corrections and every hyper-parameter, read from the optimizer now, on the host.
    - :meth:`update` ``(params, grads, state, scalars) -> (params, state)``: one step, pure in effect.

    The eager entries :meth:`step` and :meth:`apply` run the same update on state the optimizer
    keeps itself; ``state`` shows it by parameter path (views of the flat buffers).

    A built-in optimizer writes its math once, in ``rule(p, g, state, scalars, ops, head)`` over flat
    arrays. An optimizer of your own written as before (``slots``, ``hyper`` and a per-parameter
    ``update(p, g, state, lr, ops, decay)``) keeps working: it runs parameter by parameter.

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
    #: False where ``weight_decay`` is applied by the update itself (AdamW) instead of being
    #: added to the gradient
    coupled_decay: bool = True

    def __init__(self, lr: Any = 0.01, *, weight_decay: Any = 0.0, l1: float = 0.0,
                 clip_norm: float | None = None, clip_value: float | None = None) -> None:
        name = type(self).__name__
        if callable(lr):
            self.lr = lr
        elif _number(lr):
            self.lr = _check(f"{name}: lr", lr, 0.0)
        else:
            raise ConfigError(f"{name}: lr must be a number ≥ 0 or a schedule step -> lr (e.g. "
                              f"anynet.schedules.Inv(0.1)), got {lr!r}")
        self.weight_decay = weight_decay if callable(weight_decay) else \
            _check(f"{name}: weight_decay", weight_decay, 0.0)
        self.l1 = _check(f"{name}: l1", l1, 0.0)
        self.clip_norm = None if clip_norm is None else _check(f"{name}: clip_norm", clip_norm, 0.0, low_open=True)
        self.clip_value = None if clip_value is None else _check(f"{name}: clip_value", clip_value, 0.0, low_open=True)
        self.iterations = 0
        self.state: dict[str, dict[str, Array]] = {}
        self._ops: dict[type, Ops] = {}
        #: the model whose training state this is (weakly), set by :meth:`claim`
        self._owner: weakref.ref[Any] | None = None
        self._forget_flat()

    def _forget_flat(self) -> None:
        #: the eager state in the pure API's form (None: build it from ``state`` on the next step)
        self._flat: dict[str, Array] | None = None
        #: the ``state`` dict whose arrays are views of ``_flat`` (any other: ``state`` was replaced)
        self._flat_views: dict[str, dict[str, Array]] | None = None
        #: the layout cache: the parameters' (path, shape, dtype) -> groups
        self._layout: tuple[tuple[Any, ...], list[_Group]] | None = None
        #: per group: (the flat parameter buffer, {path: view}) last handed out by :meth:`update`
        self._param_views: dict[str, tuple[Array, dict[str, Array]]] = {}
        #: the groups ``_flat`` is laid out by, and the state of parameters outside them (kept, saved)
        self._flat_groups: list[_Group] | None = None
        self._orphans: dict[str, dict[str, Array]] = {}

    def __getattr__(self, name: str) -> Any:  # noqa: D105
        # ``state`` after a step on JAX (no views): rebuilt from the flat buffers when asked for
        if name == "state" and "_flat" in self.__dict__:
            return self._materialize()
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        state = self.state
        if backend is not None and state:  # (to_device returns an array already there as it is)
            moved = {path: {slot: to_device(a, backend) for slot, a in st.items()} for path, st in state.items()}
            # replaced only when something moved: a new state is laid out in flat buffers again
            if any(a is not state[path][slot] for path, st in moved.items() for slot, a in st.items()):
                self.state = moved

    def __getstate__(self) -> dict[str, Any]:
        # a copy belongs to no model yet (a weak reference does not pickle), the ops cache holds modules,
        # and the flat buffers are left out: a copy's state arrays would no longer be their views
        out = {**vars(self), "_owner": None, "_ops": {}, "state": self.state}
        out.update(_flat=None, _flat_views=None, _layout=None, _param_views={}, _flat_groups=None, _orphans={})
        return out

    # -- the learning rate and the per-step scalars ---------------------------------------------
    def current_lr(self) -> float:
        """The rate the next step will use."""
        return self._lr_at(self.iterations)

    def _lr_at(self, step: int) -> float:
        return self._at("lr", step)

    def _at(self, attr: str, step: int) -> float:
        """The value at ``step`` of ``lr`` or ``weight_decay``: a number, or what its schedule gives."""
        raw = getattr(self, attr)
        raw = raw(step) if callable(raw) else raw
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value < 0:
            what = "learning rate" if attr == "lr" else attr.replace("_", " ")
            raise ConfigError(f"{type(self).__name__}: the {what} at step {step} is {raw!r}; "
                              "it must be a finite number ≥ 0")
        return value

    def scalars(self, step: int) -> dict[str, float]:
        """This step's scalars, as Python floats computed on the host: the learning rate (the
        schedule asked for ``step``), each optimizer's folded constants (Adam's bias corrections in
        one step size and one epsilon) and every hyper-parameter, read from the optimizer now (a
        callback's ``opt.lr = ...`` applies from the next step). ``clip_norm``/``clip_value`` are
        present only when set. Raises :class:`~anynet.ConfigError` for a rate that is not a finite
        number ≥ 0.

        Example:
            >>> from anynet.optim import Adam
            >>> sc = Adam(lr=0.1).scalars(0)
            >>> round(sc["step_size"], 6), round(sc["eps_hat"], 12)
            (0.031623, 3.16e-10)
        """
        return self._scalars(step, self._lr_at(step))

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        out = {"lr": lr, "weight_decay": self._at("weight_decay", step), "l1": float(self.l1)}
        if self.clip_value is not None:
            out["clip_value"] = float(self.clip_value)
        if self.clip_norm is not None:
            out["clip_norm"] = float(self.clip_norm)
        return out

    # -- the pure API ---------------------------------------------------------------------------
    def init(self, params: Mapping[str, Array]) -> dict[str, Array]:
        """Fresh state for ``{path: parameter}``: arrays only, on the parameters' device, a valid JAX
        pytree and opaque to the caller (one flat buffer per dtype and slot; the step count is the
        caller's). Example:

            >>> import numpy as np
            >>> from anynet.optim import SGD
            >>> sorted(SGD(momentum=0.9).init({"w": np.ones((2, 2)), "b": np.ones(2)}))
            ['flat/float64/params', 'flat/float64/velocity']
        """
        return self._build(params, {})

    def get_state(self, params: Mapping[str, Array]) -> dict[str, Array]:
        """The state the eager entries keep, in :meth:`init`'s form for ``params`` (zeros for a
        parameter that has none yet): what a compiled step starts from to continue training;
        :meth:`set_state` gives it back."""
        state = self.state
        self._orphans = {path: st for path, st in state.items() if path not in params}
        return self._build(params, state)

    def set_state(self, state: Mapping[str, Array]) -> None:
        """Adopt ``state``, :meth:`update`'s result for the parameters last given to :meth:`init`,
        :meth:`get_state` or :meth:`update`, as the state the eager entries keep (and save)."""
        if self._layout is None:
            raise StateDictError(f"{type(self).__name__}.set_state: the optimizer has seen no parameters; "
                                 "call init(params) or get_state(params) first")
        self._flat_groups = self._layout[1]
        self._adopt(dict(state))

    def _build(self, params: Mapping[str, Array], per_path: Mapping[str, Mapping[str, Array]]) -> dict[str, Array]:
        groups = self._groups(params)  # the layout set_state and the state's views go by, on every backend
        if self._legacy() or not _flat_backend(params):  # per parameter (JAX: see _update_per_parameter)
            return {f"{path}/{slot}": per_path[path][slot] if slot in per_path.get(path, {})
                    else namespace_of(p).zeros_like(p) for path, p in params.items() for slot in self.slots}
        out: dict[str, Array] = {}
        for group in groups:
            first = params[group.paths[0]]
            ops = _ops_of(first)
            xp = ops.xp
            for slot in self.slots:
                parts = [per_path[path][slot] if slot in per_path.get(path, {}) else None for path in group.paths]
                if all(part is None for part in parts):
                    out[group.key(slot)] = xp.zeros((group.size,), dtype=first.dtype, device=first.device)
                else:
                    out[group.key(slot)] = _flatten(xp, [xp.zeros_like(params[path]) if part is None else part
                                                         for path, part in zip(group.paths, parts)])
            if ops.writeable:
                out[group.key("params")] = _flatten(xp, [params[path] for path in group.paths])
        return out

    def _groups(self, params: Mapping[str, Array]) -> list[_Group]:
        # dtypes by name: a parameter moved to another library has dtypes that must not be compared
        key = tuple((path, tuple(p.shape), dtype_name(p.dtype)) for path, p in params.items())
        cached = self._layout
        if cached is not None and cached[0] == key:
            return cached[1]
        groups = _layout_of(params)
        self._layout = (key, groups)
        return groups

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Array],
               scalars: Mapping[str, Any], ops: Any = None, decay: Any = None
               ) -> tuple[dict[str, Array], dict[str, Array]]:
        """One step for every parameter: returns ``(new params, new state)``.

        Pure in effect: no attribute of the optimizer changes (beyond a cache of the layout), no
        array is read on the host and no Python branch depends on an array's value, so it traces
        under ``jax.jit``. On writeable backends it updates the flat buffers in place and returns
        the parameters as views of its parameter buffer (the same objects from the second step
        on); on JAX it returns new arrays.

        Arguments:
            params: ``{path: array}``, the parameters :meth:`init` was given (same paths, shapes).
            grads: ``{path: array}``, a gradient shaped like each parameter.
            state: :meth:`init`'s (or the last update's) state; scalars: :meth:`scalars`' values,
                Python floats or 0-d arrays (traced under ``jax.jit``).

        (Called as ``update(p, g, state, lr, ops, decay)`` — by an optimizer of your own that
        extends a built-in one the old way — it runs the built-in rule for that one parameter.)
        """
        if ops is not None:  # the per-parameter form: super().update(p, g, state, lr, ops, decay)
            p, lr = cast(Any, params), cast(Any, scalars)
            g = ops.xp.asarray(grads, copy=True)  # the rule scales its gradient in place: not the layer's
            size = _size(p)
            st = dict(state)
            sc = self._scalars(self.iterations, float(lr))
            return self.rule(p, g, st, sc, ops, size if decay else 0)
        return self._update(self._groups(params), params, grads, state, scalars)

    def _update(self, groups: list[_Group], params: Mapping[str, Array], grads: Mapping[str, Array],
                state: dict[str, Array], scalars: Mapping[str, Any], shown: bool = False
                ) -> tuple[dict[str, Array], dict[str, Array]]:
        # shown: the caller checked that the parameters are the views last handed out
        if not _flat_backend(params):
            return self._update_per_parameter(params, grads, state, scalars)
        new_params: dict[str, Array] = {}
        new_state = dict(state)
        flat_grads = []
        for group in groups:
            g = grads.get(group.key("grads"))
            if g is None:
                g = _flatten(_ops_of(params[group.paths[0]]).xp, [grads[path] for path in group.paths])
            flat_grads.append(g)
        flat_grads = self._clip(flat_grads, scalars, _ops_of(flat_grads[0]) if flat_grads else None)
        for group, g in zip(groups, flat_grads):
            first = params[group.paths[0]]
            gops = _ops_of(first)
            xp = gops.xp
            pkey = group.key("params")
            if gops.writeable and pkey in state:
                flat_p = state[pkey]
                cached = self._param_views.get(group.dtype)
                views = cached[1] if cached is not None and cached[0] is flat_p else None
                if views is None or not (shown or all(params[path] is views[path] for path in group.paths)):
                    flat_p = new_state[pkey] = _flatten(xp, [params[path] for path in group.paths])
                    views = _unflatten(xp, flat_p, group)
            else:
                flat_p, views = _flatten(xp, [params[path] for path in group.paths]), None
            g = self._coupled(g, flat_p, scalars, gops, group.head, group.size)
            st = {slot: state[group.key(slot)] for slot in self.slots}
            flat_p, st = self.rule(flat_p, g, st, scalars, gops, group.head)
            for slot in self.slots:
                new_state[group.key(slot)] = st[slot]
            if views is not None and new_state[pkey] is flat_p:  # updated in place: the views hold it
                self._param_views[group.dtype] = (flat_p, views)
            else:
                if gops.writeable and pkey in state:
                    new_state[pkey] = flat_p
                views = _unflatten(xp, flat_p, group)
                if gops.writeable:
                    self._param_views[group.dtype] = (flat_p, views)
            new_params.update(views)
        return new_params, new_state

    def _update_per_parameter(self, params: Mapping[str, Array], grads: Mapping[str, Array],
                              state: dict[str, Array], scalars: Mapping[str, Any]
                              ) -> tuple[dict[str, Array], dict[str, Array]]:
        """The same rule parameter by parameter, for immutable arrays (JAX): there a flat buffer
        would cost a concatenation and slices every step, which XLA does not fuse away (measured:
        10x slower compiled steps on wide nets), while a compiled step fuses the per-parameter
        updates anyway. State keys ``"<path>/<slot>"``."""
        paths = list(params)
        ops: Any = _ops_of(params[paths[0]]) if paths else None
        gs = self._clip([grads[path] for path in paths], scalars, ops)
        new_params, new_state = {}, dict(state)
        for path, g in zip(paths, gs):
            p = params[path]
            size = _size(p)
            head = size if len(p.shape) >= 2 else 0
            g = self._coupled(g, p, scalars, ops, head, size)
            st = {slot: state[f"{path}/{slot}"] for slot in self.slots}
            new_params[path], st = self.rule(p, g, st, scalars, ops, head)
            for slot in self.slots:
                new_state[f"{path}/{slot}"] = st[slot]
        return new_params, new_state

    def flat_gradients(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> dict[str, Array]:
        """The gradients laid out as :meth:`update` lays them out (one 1-D array per dtype, one
        operation each), keyed so that :meth:`update` takes them as they are: a data-parallel step
        all-reduces these buffers and passes the sums as ``grads``."""
        out = {}
        for group in self._groups(params):
            xp = _ops_of(params[group.paths[0]]).xp
            out[group.key("grads")] = _flatten(xp, [grads[path] for path in group.paths])
        return out

    def rule(self, p: Array, g: Array, state: dict[str, Array], scalars: Mapping[str, Any], ops: Ops,
             head: int) -> tuple[Array, dict[str, Array]]:
        """The update rule, elementwise, on flat (or any-shaped) arrays written with ``ops``.

        Arguments:
            p: the parameters (owned by the optimizer: update in place through ``ops``); g: their
                gradient, clipped and with coupled decay added (owned too: it may be overwritten).
            state: ``{slot: array}`` shaped like ``p``; scalars: :meth:`scalars`' values.
            head: the first ``head`` entries of ``p`` are decayed (decoupled decay applies there).

        Returns ``(new p, state)`` with every slot set to its new array.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement rule(p, g, state, scalars, ops, head), or "
                                  "the per-parameter update(p, g, state, lr, ops, decay)")

    def _coupled(self, g: Array, p: Array, sc: Mapping[str, Any], ops: Any, head: int, size: int) -> Array:
        """``g`` plus the coupled penalties on the decayed entries: ``weight_decay·p + l1·sign(p)``."""
        if not head:
            return g
        xp = ops.xp
        wd = sc["weight_decay"]
        if self.coupled_decay and not _is_zero(wd):
            if head == size:
                g = ops.add_(g, wd * p)
            else:
                ph = p[:head]
                g = _head_update(ops, g, head, size, lambda gh: ops.add_(gh, wd * ph))
        l1 = sc["l1"]
        if not _is_zero(l1):
            if head == size:
                g = ops.add_(g, l1 * xp.sign(p))
            else:
                ph = p[:head]
                g = _head_update(ops, g, head, size, lambda gh: ops.add_(gh, l1 * xp.sign(ph)))
        return g

    def _clip(self, grads: list[Array], sc: Mapping[str, Any], ops: Any) -> list[Array]:
        """``grads`` (any shapes: flat buffers or per-parameter arrays) clipped elementwise to
        ``±clip_value``, then scaled together to a global norm of at most ``clip_norm``; scaled
        through ``ops`` (in place where writeable: the caller owns them). ``sc``: :meth:`_scalars`."""
        if ops is None or ("clip_value" not in sc and "clip_norm" not in sc):
            return grads
        xp = ops.xp
        if "clip_value" in sc:
            c = sc["clip_value"]
            grads = [xp.clip(g, -c, c) for g in grads]
        if "clip_norm" in sc:
            flat = [g if g.ndim == 1 else xp.reshape(g, (-1,)) for g in grads]
            total = xp.vecdot(flat[0], flat[0])  # (one dot product per array, no g² array)
            for g in flat[1:]:
                total = total + xp.vecdot(g, g)
            # a 0-d array: no device synchronisation
            scale = xp.minimum(sc["clip_norm"] / (xp.sqrt(total) + 1e-6), 1.0)
            grads = [ops.mul_(g, scale) for g in grads]
        return grads

    # -- the eager entries -----------------------------------------------------------------------
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
        if self._legacy():
            self._apply_per_parameter(slots)
            return
        params = {path: pd[key] for path, pd, _, key in slots}
        grads = {path: gd[key] for path, _, gd, key in slots}
        sc = self.scalars(self.iterations)
        flat = self._flat
        # the parameters are still the views last handed out: same shapes and dtypes, the layout holds
        views_ok = flat is not None and self._shown_views(params)
        groups = self._flat_groups if views_ok else self._groups(params)
        shown = self.__dict__.get("state")
        if flat is None or groups is not self._flat_groups or (shown is not None and shown is not self._flat_views):
            # first step, other parameters, or a state set from outside (load_state_dict, claim): lay it out
            state = self.state
            self._orphans = {path: st for path, st in state.items() if path not in params}
            flat, self._flat_groups, self._flat_views = self._build(params, state), groups, None
            self._flat, views_ok = flat, False
        new_params, new_state = self._update(groups or [], params, grads, flat, sc, shown=views_ok)
        for path, pd, _, key in slots:
            pd[key] = new_params[path]
        self._adopt(new_state)
        self.iterations += 1

    def _shown_views(self, params: Mapping[str, Array]) -> bool:
        """Whether every parameter is the view of a flat buffer that :meth:`update` last handed out."""
        groups, cached = self._flat_groups, self._param_views
        if not groups or len(cached) != len(groups):
            return False
        for group in groups:
            views = cached[group.dtype][1]
            if len(views) != len(group.paths):
                return False
            for path, view in views.items():
                if params.get(path) is not view:
                    return False
        return len(params) == sum(len(g.paths) for g in groups)

    def _adopt(self, new_state: dict[str, Array]) -> None:
        old, self._flat = self._flat, new_state
        views = self._flat_views
        if views is not None and self.__dict__.get("state") is views and old is not None \
                and all(new_state[k] is old.get(k) for k in new_state):
            return  # updated in place: the state's views show the new values
        # new arrays (JAX), or not shown yet: ``state`` is rebuilt from the buffers when asked for
        self.__dict__.pop("state", None)
        self._flat_views = None

    def _materialize(self) -> dict[str, dict[str, Array]]:
        """``state`` by parameter path: views of the flat buffers (slices and reshapes: no kernel)."""
        state = dict(self._orphans)
        flat, groups = self._flat, self._flat_groups
        if flat is not None and groups is not None:
            for group in groups:
                if not self.slots:
                    state.update({path: {} for path in group.paths})
                    continue
                if group.key(self.slots[0]) not in flat:  # kept per parameter (JAX)
                    state.update({path: {slot: flat[f"{path}/{slot}"] for slot in self.slots} for path in group.paths})
                    continue
                xp = _ops_of(flat[group.key(self.slots[0])]).xp
                per_slot = {slot: _unflatten(xp, flat[group.key(slot)], group) for slot in self.slots}
                for path in group.paths:
                    state[path] = {slot: per_slot[slot][path] for slot in self.slots}
        self.__dict__["state"] = state
        self._flat_views = state
        return state

    def _legacy(self) -> bool:
        """Whether this optimizer writes the old per-parameter ``update(p, g, state, lr, ops, decay)``."""
        cls = type(self)
        known = _LEGACY.get(cls)
        if known is None:
            known = False
            if cls.update is not Optimizer.update:
                try:
                    names = list(inspect.signature(cls.update).parameters)[1:5]
                except (TypeError, ValueError):
                    names = []
                known = names != ["params", "grads", "state", "scalars"]
            _LEGACY[cls] = known
        return known

    def _apply_per_parameter(self, slots: list[tuple[str, dict[str, Array], dict[str, Array], str]]) -> None:
        """Today's loop over parameters, for an optimizer with the per-parameter ``update``."""
        lr = self.current_lr()
        first = slots[0][1][slots[0][3]]
        ops = _ops_of(first)
        xp = ops.xp
        grads = [gd[key] for _, _, gd, key in slots]
        if self.clip_value is not None or self.clip_norm is not None:
            grads = self._clip([xp.asarray(g, copy=True) for g in grads], self._scalars(self.iterations, lr), ops)
        wd = self._at("weight_decay", self.iterations)
        states, update = self.state, self.update
        for n, (path, pd, _, key) in enumerate(slots):
            p = pd[key]
            g = grads[n]
            decay = p.ndim >= 2
            if decay:
                g = self._penalised(g, p, wd, xp)
            state = states.get(path)
            if state is None:
                state = states[path] = {s: xp.zeros_like(p) for s in self.slots}
            pd[key], states[path] = update(p, g, state, lr, ops, decay)  # type: ignore[arg-type]
        self.iterations += 1

    def _penalised(self, g: Array, p: Array, wd: Any, xp: Any) -> Array:
        """A decayed parameter's gradient plus the coupled penalties ``wd·p + l1·sign(p)`` of the
        per-parameter rule (new arrays, not ops: the gradient belongs to the layer). ``wd`` is this
        step's weight decay, a number or (traced) array; AdamW applies it in its update instead."""
        if self.coupled_decay and (not isinstance(wd, (int, float)) or wd):
            g = g + wd * p
        if self.l1:
            g = g + self.l1 * xp.sign(p)
        return g

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
        if callable(self.weight_decay):  # a schedule: its description, as for lr
            cfg["weight_decay"] = schedules.to_config(self.weight_decay)
            if cfg["weight_decay"] is None:
                cfg["weight_decay"], cfg["weight_decay_custom"] = 0.0, True
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
        custom_decay = cfg.pop("weight_decay_custom", False)
        lr = cfg.pop("lr")
        if isinstance(cfg.get("weight_decay"), Mapping):
            cfg["weight_decay"] = schedules.from_config(cfg["weight_decay"])
        try:
            opt = cls(lr=1.0 if custom else schedules.from_config(lr), **cfg)
        except TypeError as exc:  # an option this class does not take
            raise ConfigError(f"{cls.__name__}.from_config: {exc}") from None
        if custom:
            opt.lr = _CustomLR()
        if custom_decay:
            opt.weight_decay = _CustomLR("weight_decay")
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
        self.state = state  # laid out in flat buffers on the next step

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

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        return {**super()._scalars(step, lr), "momentum": float(self.momentum)}

    def rule(self, p, g, state, scalars, ops, head):
        g = ops.mul_(g, scalars["lr"])  # (g is the optimizer's own: scaled in place, no temporary)
        if "velocity" not in state:
            return ops.sub_(p, g), state
        mu = scalars["momentum"]
        v = ops.add_(ops.mul_(state["velocity"], mu), g)
        state["velocity"] = v
        if self.nesterov:
            return ops.sub_(p, ops.add_(mu * v, g)), state
        return ops.sub_(p, v), state


@register("optimizer", aliases=("adam",))
class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moment estimates.

    ``m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  w −= lr/(1−β₁ᵗ) · m / (√(v/(1−β₂ᵗ)) + eps)``,
    PyTorch's ``Adam`` (which writes the denominator ``√v/√(1−β₂ᵗ) + eps``, the same number).
    The bias corrections are folded, on the host, into one step size
    ``lr·√(1−β₂ᵗ)/(1−β₁ᵗ)`` and one epsilon ``eps·√(1−β₂ᵗ)`` (as Keras and scikit-learn do):
    ``w −= step_size · m / (√v + eps_hat)``, the same number again.
    ``weight_decay`` here is the classic coupled L2 (added to the gradient); use :class:`AdamW`
    for decoupled decay.

    Arguments:
        lr: learning rate (default 1e-3) or schedule.
        beta1, beta2: decay rates of the moment estimates, in [0, 1).
        eps: added to the denominator, > 0.
        eps_hat: False (default): ``eps`` is added to the bias-corrected √v̂, as PyTorch does. True:
            ``eps`` is the paper's ε̂, added to √v before the bias correction (``eps_hat = eps``), as
            Keras and scikit-learn do.
        **kw: the shared options.

    Example:
        >>> import numpy as np
        >>> from anynet.optim import Adam
        >>> Adam(lr=0.1).step({"w": np.zeros(2)}, {"w": np.asarray([2.0, -3.0])})["w"].round(6).tolist()
        [-0.1, 0.1]
    """

    slots = ("m", "v")
    hyper: tuple[str, ...] = ("beta1", "beta2", "eps", "eps_hat")  # AdamW extends it

    def __init__(self, lr: Any = 1e-3, *, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, eps_hat: bool = False, **kw: Any) -> None:
        super().__init__(lr, **kw)
        name = type(self).__name__
        self.beta1 = _check(f"{name}: beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check(f"{name}: beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = _check(f"{name}: eps", eps, 0.0, low_open=True)
        if not isinstance(eps_hat, bool):
            raise ConfigError(f"{name}: eps_hat must be True or False, got {eps_hat!r}")
        self.eps_hat = eps_hat

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        t = step + 1
        b1, b2 = float(self.beta1), float(self.beta2)
        root = math.sqrt(1.0 - b2**t)
        return {**super()._scalars(step, lr), "beta1": b1, "one_minus_beta1": 1.0 - b1, "beta2": b2,
                "one_minus_beta2": 1.0 - b2, "step_size": lr * root / (1.0 - b1**t),
                "eps_hat": float(self.eps) if self.eps_hat else float(self.eps) * root}

    def rule(self, p, g, state, scalars, ops, head):
        v = ops.add_(ops.mul_(state["v"], scalars["beta2"]), ops.mul_(g * g, scalars["one_minus_beta2"]))
        m = ops.add_(ops.mul_(state["m"], scalars["beta1"]), ops.mul_(g, scalars["one_minus_beta1"]))
        state["m"], state["v"] = m, v
        denom = ops.add_(ops.xp.sqrt(v), scalars["eps_hat"])
        return ops.sub_(p, ops.div_(scalars["step_size"] * m, denom)), state


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

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        out = super()._scalars(step, lr)
        out["decay_factor"] = 1.0 - lr * out["weight_decay"]
        return out

    def rule(self, p, g, state, scalars, ops, head):
        if head and not _is_zero(scalars["weight_decay"]):
            f = scalars["decay_factor"]
            p = _head_update(ops, p, head, _size(p), lambda ph: ops.mul_(ph, f))
        return super().rule(p, g, state, scalars, ops, head)


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

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        a = float(self.alpha)
        return {**super()._scalars(step, lr), "alpha": a, "one_minus_alpha": 1.0 - a, "eps": float(self.eps),
                "momentum": float(self.momentum)}

    def rule(self, p, g, state, scalars, ops, head):
        s = ops.add_(ops.mul_(state["square_avg"], scalars["alpha"]), ops.mul_(g * g, scalars["one_minus_alpha"]))
        state["square_avg"] = s
        scaled = ops.div_(g, ops.add_(ops.xp.sqrt(s), scalars["eps"]))
        if "buffer" in state:
            b = state["buffer"] = ops.add_(ops.mul_(state["buffer"], scalars["momentum"]), scaled)
            return ops.sub_(p, scalars["lr"] * b), state
        return ops.sub_(p, ops.mul_(scaled, scalars["lr"])), state


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

    def _scalars(self, step: int, lr: float) -> dict[str, float]:
        return {**super()._scalars(step, lr), "eps": float(self.eps)}

    def rule(self, p, g, state, scalars, ops, head):
        s = state["sum"] = ops.add_(state["sum"], g * g)
        return ops.sub_(p, ops.div_(ops.mul_(g, scalars["lr"]), ops.add_(ops.xp.sqrt(s), scalars["eps"]))), state


def _size(x: Array) -> int:
    return math.prod(int(s) for s in x.shape)


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
