"""The training step as one pure function: ``step(state, batch, draws) -> (state, loss, outputs)``.

The step is the centre of training. Everything that changes from one step to the next goes in and
comes out as arrays:

- ``state["params"]``: every trainable parameter by path (``"0.W"``); ``state["buffers"]``: every
  buffer (BatchNorm's running statistics); ``state["opt"]``: the optimizer's state arrays, from
  ``opt.init(params)``; ``state["scalars"]``: this step's scalars (learning rate, bias corrections,
  hyper-parameters read now), from ``opt.scalars(step)`` on the host.
- ``draws``: what the host generators decided for this step: each Dropout's mask, drawn by
  :meth:`TrainingStep.draw` with the same generator in the same order as ``forward`` draws it, so
  masks are bit-identical on every backend, compiled or not.

The step counter stays an int on the host (:class:`anynet.training.TrainState`). Because nothing
else is read or written, the same function runs eagerly (NumPy, CuPy, torch, array-api-strict: the
optimizer updates in place where it can) and compiled by ``jax.jit``, where the state's buffers are
donated and several steps go in one ``jax.lax.scan`` (:class:`Runner` drives either).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .layers.dropout import Dropout

Array = Any
State = dict[str, dict[str, Any]]

__all__ = ["Runner", "TrainingStep"]


class TrainingStep:
    """The pure training step of ``model`` with ``loss`` and ``opt`` (built once per ``fit``).

    Arguments:
        model: the network (its layers run the math; their ``params``/``buffers`` are set from the
            state before the step and read back after it).
        loss: the :class:`~anynet.losses.Loss`; opt: the :class:`~anynet.optim.Optimizer`.

    Shapes:
        batch: ``(x (n, in_features) or {input: (n, width)}, y)``; draws: ``{node: (n, width)}``;
        loss: 0-d; outputs: (n, out_features).
    """

    def __init__(self, model: Any, loss: Any, opt: Any) -> None:
        self.model, self.loss, self.opt = model, loss, opt
        nodes = model.nodes
        #: (path, layer, key) of every trainable parameter: a frozen layer's go to no optimizer
        # sorted by path: jax.jit hands a traced function its dicts in sorted key order, and the optimizer
        # lays its flat buffers out in the order it is given the parameters, so eager and traced steps agree
        self.trainable = sorted((f"{n}.{k}", layer, k) for n, layer in nodes.items() if layer.trainable
                                for k in layer.params)
        self.buffered = sorted((f"{n}.{k}", layer, k) for n, layer in nodes.items() for k in layer.buffers)
        #: (node, layer, input width) of every Dropout that drops, in the order forward runs them
        self.dropouts = [(n, nodes[n], model.widths[model.edges[n]]) for n in model.order
                         if isinstance(nodes[n], Dropout) and nodes[n].p > 0.0 and isinstance(model.edges[n], str)]
        #: (path, param dict, grad dict, key): today's eager optimizer entry, ``opt.apply(slots)``
        self.slots = [(p, layer.params, layer.grads, k) for p, layer, k in self.trainable]
        #: the optimizer's pure API (``init``, ``scalars``, ``update``), or a bridge over its per-parameter rule
        self.pure = opt if all(hasattr(opt, name) for name in ("get_state", "set_state", "scalars")) \
            and _pure_update(opt) else _Bridge(opt)

    # -- the state -----------------------------------------------------------------------------------
    def params(self) -> dict[str, Array]:
        return {p: layer.params[k] for p, layer, k in self.trainable}

    def initial(self, step: int) -> State:
        """The state for step ``step``: the model's live parameters and buffers, the optimizer's
        state (``opt.get_state``: what it holds, from earlier steps or a checkpoint, zeros where it holds
        none, as ``opt.init`` makes them) and the scalars of ``step``."""
        params = self.params()
        return {"params": params, "buffers": {p: layer.buffers[k] for p, layer, k in self.buffered},
                "opt": self.pure.get_state(params), "scalars": self.scalars(step)}

    def scalars(self, step: int) -> dict[str, Any]:
        """The optimizer's per-step scalars on the host (floats): ``opt.scalars(step)``."""
        return dict(self.pure.scalars(step))

    def store(self, state: State) -> None:
        """Put the state's parameters, buffers and optimizer state back into the model and optimizer
        (names only: no copy). After a compiled dispatch the layers hold the new arrays again."""
        for p, layer, k in self.trainable:
            layer.params[k] = state["params"][p]
        for p, layer, k in self.buffered:
            layer.buffers[k] = state["buffers"][p]
        self.pure.set_state(state["opt"])

    # -- the draws -----------------------------------------------------------------------------------
    def draw(self, rows: int) -> dict[str, np.ndarray]:
        """Every Dropout's mask for a batch of ``rows`` rows, on the host, in forward order."""
        out = {}
        for node, layer, width in self.dropouts:
            mask = layer.draw((rows, width))
            if mask is not None:
                out[node] = mask
        return out

    def send(self, draws: Mapping[str, np.ndarray]) -> dict[str, Array]:
        """The draws on the model's device, in its dtype (one host-to-device copy per mask)."""
        backend = self.model.backend
        return {k: backend.asarray(v, dtype=self.model.dtype) for k, v in draws.items()}

    # -- the step ------------------------------------------------------------------------------------
    def _backward(self, batch: tuple[Array, Array], draws: Mapping[str, Array]) -> tuple[Array, Array]:
        """Forward with the given masks and backward: fills the layers' grads; ``(loss, outputs)``."""
        xb, yb = batch
        nodes = self.model.nodes
        for node, mask in draws.items():
            nodes[node].given(mask)
        out, back = self.model.forward(xb, training=True, need_dx=False)
        value, lback = self.loss.compute(out, yb)
        back(lback())
        return value, out

    def __call__(self, state: State, batch: tuple[Array, Array], draws: Mapping[str, Array]
                 ) -> tuple[State, Array, Array]:
        """One step: forward with the given masks, backward, one optimizer update. Returns
        ``(new state, loss (0-d), outputs)``; pure in effect: its result depends on its arguments only."""
        for p, layer, k in self.trainable:
            layer.params[k] = state["params"][p]
        for p, layer, k in self.buffered:
            layer.buffers[k] = state["buffers"][p]
        value, out = self._backward(batch, draws)
        buffers = {p: layer.buffers[k] for p, layer, k in self.buffered}
        grads = {p: layer.grads[k] for p, layer, k in self.trainable}
        params, opt_state = self.pure.update(state["params"], grads, state["opt"], state["scalars"])
        return {"params": dict(params), "buffers": buffers, "opt": opt_state, "scalars": state["scalars"]}, value, out

    def eager(self, batch: tuple[Array, Array], draws: Mapping[str, Array], dp: Any = None,
              where: tuple[int, int] = (0, 0)) -> tuple[Array, Array]:
        """The same step on the live model, eagerly: the state is the layers' own arrays (updated in
        place where the backend allows), so nothing is gathered or stored per step. ``(loss, outputs)``.

        With ``dp`` (:class:`~anynet.distributed.DataParallel`) the batch is this process's rows
        ``where = (offset, total)`` of a global batch: the gradients and the loss are summed over the
        processes before the one update (Dropout draws the global batch's mask itself, inside the shard)."""
        if dp is None:
            value, out = self._backward(batch, draws)
        else:
            out, value = dp.step(self.model, self.loss, batch[0], batch[1], self.slots, *where)
        self.opt.apply(self.slots)
        return value, out


class _Bridge:
    """The pure API over an optimizer that has only the per-parameter rule
    ``update(p, g, state, lr, ops, decay)``: its state as ``{"path/slot": array}``, its scalars the
    learning rate and the step number, its update the rule applied with rebinding ops (traceable)."""

    def __init__(self, opt: Any) -> None:
        self.opt = opt

    def get_state(self, params: Mapping[str, Array]) -> dict[str, Array]:
        opt, xp = self.opt, None
        out = {}
        for path, p in params.items():
            have = opt.state.get(path)
            for slot in opt.slots:
                if have is not None and slot in have:
                    out[f"{path}/{slot}"] = have[slot]
                else:
                    xp = xp or _namespace(p)
                    out[f"{path}/{slot}"] = xp.zeros_like(p)
        return out

    def set_state(self, state: Mapping[str, Array]) -> None:
        nested: dict[str, dict[str, Array]] = {}
        for key, value in state.items():
            path, _, slot = key.rpartition("/")
            nested.setdefault(path, {})[slot] = value
        self.opt.state.update(nested)

    def scalars(self, step: int) -> dict[str, float]:
        opt = self.opt
        saved, opt.iterations = opt.iterations, step
        try:
            return {"lr": opt.current_lr(), "weight_decay": opt._at("weight_decay", step), "iterations": float(step)}
        finally:
            opt.iterations = saved

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array], state: Mapping[str, Array],
               scalars: Mapping[str, Any]) -> tuple[dict[str, Array], dict[str, Array]]:
        from .optim import Optimizer, RebindOps

        opt = self.opt
        paths = list(params)
        if not paths:
            return {}, dict(state)
        xp = _namespace(params[paths[0]])
        ops = RebindOps(xp)
        gs = [grads[p] for p in paths]
        if opt.clip_value is not None or opt.clip_norm is not None:
            gs = opt._clip(gs, Optimizer._scalars(opt, 0, 0.0), ops)  # (its clip_value, clip_norm)
        saved = opt.iterations
        opt.iterations = scalars["iterations"]  # (an array while traced: the rules read it for t)
        new_p, new_s = {}, dict(state)
        try:
            for path, g in zip(paths, gs):
                p = params[path]
                decay = p.ndim >= 2
                if decay:
                    g = opt._penalised(g, p, scalars["weight_decay"], xp)
                slots = {s: state[f"{path}/{s}"] for s in opt.slots}
                new_p[path], slots = opt.update(p, g, slots, scalars["lr"], ops, decay)
                new_s.update({f"{path}/{s}": a for s, a in slots.items()})
        finally:
            opt.iterations = saved
        return new_p, new_s


def _namespace(x: Array) -> Any:
    from .backends import namespace_of

    return namespace_of(x)


def _pure_update(opt: Any) -> bool:
    """Whether ``opt.update`` is the pure, all-parameter update ``update(params, grads, state, scalars)``
    (not the per-parameter rule ``update(p, g, state, lr, ops, decay)`` of older optimizers)."""
    import inspect

    try:
        names = list(inspect.signature(opt.update).parameters)
    except (TypeError, ValueError):
        return False
    return names[:4] == ["params", "grads", "state", "scalars"]


# -- compiling the step ------------------------------------------------------------------------------
#: the modes of ``fit(compile=...)``
MODES = ("auto", True, False)
#: the most steps one compiled dispatch runs (a ``jax.lax.scan`` over a chunk of batches)
CHUNK = 128


def builtin(obj: Any) -> bool:
    """Whether ``obj``'s class is one of anynet's own (known to trace: no host read, no hidden draw)."""
    return type(obj).__module__.split(".")[0] == "anynet"


class Compiled:
    """``jax.jit`` of a :class:`TrainingStep`: one step, and a scan of up to :data:`CHUNK` steps in one
    dispatch. The state's buffers are donated; scalars and draws are arguments (a schedule never
    recompiles). JAX compiles once per distinct batch shape, and the functions are kept with the
    step (:func:`compiled_for`), so a short last batch compiles once, not every epoch or fit."""

    def __init__(self, step: TrainingStep) -> None:
        import jax

        self.jax = jax
        self.step = step
        #: what the traces were made for (held, so their ids stay theirs); the model is not held
        self.loss, self.opt = step.loss, step.opt
        self.shapes: set[Any] = set()
        #: seconds spent in compiling dispatches (the first call of each shape)
        self.seconds = 0.0

        def one(state: State, batch: Any, draws: Any) -> Any:
            return self.step(state, batch, draws)

        def many(state: State, batches: Any, draws: Any, scalars: Any) -> Any:
            def body(carry: State, xs: Any) -> Any:
                batch, drawn, sc = xs
                st, value, out = self.step({**carry, "scalars": sc}, batch, drawn)
                return {k: v for k, v in st.items() if k != "scalars"}, (value, out)

            carry = {k: v for k, v in state.items() if k != "scalars"}
            carry, ys = jax.lax.scan(body, carry, (batches, draws, scalars))
            return {**carry, "scalars": scalars}, ys

        def gathered(state: State, X: Any, y: Any, idx: Any, draws: Any, scalars: Any) -> Any:
            # the batches taken from the whole (device) data inside the dispatch: no batch is gathered eagerly
            xp = jax.numpy

            def body(carry: State, xs: Any) -> Any:
                rows, drawn, sc = xs
                xb = ({k: xp.take(v, rows, axis=0) for k, v in X.items()} if isinstance(X, Mapping)
                      else xp.take(X, rows, axis=0))
                yb = xp.take(y, rows, axis=0)
                st, value, out = self.step({**carry, "scalars": sc}, (xb, yb), drawn)
                return {k: v for k, v in st.items() if k != "scalars"}, (value, out, yb)

            carry = {k: v for k, v in state.items() if k != "scalars"}
            carry, ys = jax.lax.scan(body, carry, (idx, draws, scalars))
            return {**carry, "scalars": scalars}, ys

        self.gathered = jax.jit(gathered, donate_argnums=(0,))
        self.one = jax.jit(one, donate_argnums=(0,))
        self.many = jax.jit(many, donate_argnums=(0,))

    @property
    def step(self) -> TrainingStep:
        """The step the traced functions run (weakly held: it holds the model, the key of the cache)."""
        step = self._step()
        assert step is not None, "a compiled step outlived its fit"
        return step

    @step.setter
    def step(self, step: TrainingStep) -> None:
        import weakref

        self._step = weakref.ref(step)

    def run(self, fn: Any, key: Any, *args: Any) -> Any:
        """``fn(*args)``, timing the first call of each ``key`` (its compile) once."""
        if key in self.shapes:
            return fn(*args)
        import time
        import warnings

        start = time.perf_counter()
        with warnings.catch_warnings():  # (a CPU without donation says so once per compile)
            warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
            result = fn(*args)
        self.jax.block_until_ready(result)
        self.seconds += time.perf_counter() - start
        self.shapes.add(key)
        return result


def _key(tree: Any) -> Any:
    return tuple((tuple(a.shape), str(a.dtype)) for a in _leaves(tree))


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, Mapping):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


#: per model: the Compiled steps kept across fits, by what they were traced for
_KEPT: Any = None


def compiled_for(step: TrainingStep) -> Compiled:
    """The :class:`Compiled` of ``step``'s model, loss, optimizer and layers, kept across fits (so a
    second fit, or a short last batch seen before, compiles nothing)."""
    global _KEPT
    import weakref

    if _KEPT is None:
        _KEPT = weakref.WeakKeyDictionary()
    model = step.model
    # the loss and optimizer by kind and configuration (fit(loss="mse", optimizer="sgd") builds new ones per
    # call); the learning rate is left out: it comes in as a scalar, as every number the rule reads
    opt_config = {k: v for k, v in _config(step.opt).items() if k != "lr"} if builtin(step.opt) else id(step.opt)
    key = (type(step.loss), repr(_config(step.loss)), type(step.opt), repr(opt_config), model.dtype,
           model.backend.spec, tuple((n, id(layer), layer.trainable) for n, layer in model.nodes.items()))
    kept = _KEPT.setdefault(model, {})
    found = kept.get(key)
    if found is None:
        kept.clear()  # one at a time: an old optimizer's trace is not kept alive
        found = kept[key] = Compiled(step)
    else:
        found.step = step  # (the traced functions call it through the holder; same structure)
    return found


def _config(part: Any) -> Any:
    config = getattr(part, "config", None)
    return config() if callable(config) else id(part)


def has_compiler(backend: Any) -> bool:
    """Whether ``fit(compile=True)`` can compile on ``backend`` (JAX's ``jax.jit``)."""
    return backend.name == "jax"


class Runner:
    """How ``fit`` runs its steps on one model: eagerly, or compiled (``compile`` of ``fit``).

    Arguments:
        mode: ``"auto"`` (compile on JAX when every part is anynet's own, else eager), True (compile;
            :class:`~anynet.ConfigError` where no compiler exists), False (eager).
        verbose: ≥ 1 prints the compile time once, and a one-line notice when a step falls back to eager.
    """

    def __init__(self, model: Any, loss: Any, opt: Any, mode: Any, *, where: str, verbose: int = 0,
                 data_parallel: Any = None) -> None:
        from .errors import ConfigError

        if not any(mode is m for m in MODES):
            raise ConfigError(f"{where}: compile must be 'auto', True or False, got {mode!r}")
        backend = model.backend
        if mode is True and not has_compiler(backend):
            raise ConfigError(f"{where}: compile=True, but the {backend.name} backend has no compiler here (only "
                              "JAX's jax.jit is used); train on JAX (model.to('jax')) or pass compile='auto' "
                              "(eager where there is no compiler)")
        if mode is True and data_parallel is not None:
            raise ConfigError(f"{where}: compile=True does not apply to data-parallel training (comm=) yet; "
                              "pass compile='auto' or False")
        self.where, self.verbose, self.dp = where, verbose, data_parallel
        self.step = TrainingStep(model, loss, opt)
        self.compiled: Compiled | None = None
        self.reported = False
        if mode is False or data_parallel is not None or not has_compiler(backend):
            return
        custom = [type(o).__name__ for o in (loss, opt, *model.nodes.values()) if not builtin(o)]
        if mode == "auto" and custom:
            self.notice(f"custom parts ({', '.join(sorted(set(custom)))}) are not traced under compile='auto'; "
                        "training eagerly (pass compile=True to try jax.jit on them)")
            return
        self.compiled = compiled_for(self.step)
        #: the compiles before this fit (kept from earlier fits): only this fit's are reported
        self.seconds, self.known = self.compiled.seconds, len(self.compiled.shapes)

    def notice(self, text: str) -> None:
        if self.verbose >= 1:
            print(f"{self.where}: {text}")

    # -- an epoch -------------------------------------------------------------------------------------
    def epoch(self, batches: Any, hooks: Any, mets: list[Any], tstate: Any) -> tuple[list[Any], list[int], Any]:
        """Every step of one pass over ``batches``: ``(the losses as device arrays (0-d or (k,)), the rows of
        each step, the last batch)``. Callbacks with per-batch hooks get them around every step."""
        from .batches import n_rows

        if self.compiled is None:
            return self._eager(batches, hooks, mets, tstate)
        if not hooks.per_batch and _gatherable(batches):
            return self._gathered(batches, mets, tstate)
        step, per_batch = self.step, hooks.per_batch
        values: list[Any] = []
        sizes: list[int] = []
        pending: list[tuple[Any, Any, dict[str, np.ndarray]]] = []
        last = None
        for xb, yb in batches:
            rows = n_rows(xb)
            if per_batch:
                hooks.on_batch_begin(step.model, tstate.step, {})
            draws = step.draw(rows)
            last = (xb, yb)
            if pending and _key(pending[0][:2]) != _key((xb, yb)):
                self._flush(pending, values, mets)
            pending.append((xb, yb, draws))
            sizes.append(rows)
            if per_batch or len(pending) == CHUNK:
                self._flush(pending, values, mets)
            if per_batch:
                hooks.on_batch_end(step.model, tstate.step, {"loss": values[-1], "size": rows})
                tstate.step += 1
        self._flush(pending, values, mets)
        if not per_batch:
            tstate.step += len(sizes)
        self._report()
        return values, sizes, last

    def _gathered(self, batches: Any, mets: list[Any], tstate: Any) -> tuple[list[Any], list[int], Any]:
        """An epoch of :class:`~anynet.batches.ArrayBatches` on device arrays, its full batches taken from
        the data inside the compiled scan (the order drawn from the same generator, once per epoch, as
        the batches draw it); a short last batch is one compiled step of its own."""
        from .batches import epoch_order
        from .batches import rows as take_rows

        compiled, step = self.compiled, self.step
        assert compiled is not None
        backend, size = step.model.backend, batches.batch_size
        order = epoch_order(batches.shuffle, batches.rng_of, batches.n) if batches.shuffle else np.arange(batches.n)
        full = [(a, b) for a, b in batches.spans if b - a == size]
        values: list[Any] = []
        sizes: list[int] = []
        for c in range(0, len(full), CHUNK):
            chunk = full[c:c + CHUNK]
            idx = np.stack([order[a:b] for a, b in chunk])
            self._dispatch(lambda: compiled.gathered, ("gathered", len(chunk), _key((batches.X, batches.y))),
                           len(chunk), size, (batches.X, batches.y, backend.asarray(idx, copy=False)), values, mets)
            sizes += [size] * len(chunk)
            if self.compiled is None:  # it fell back: the rest of the epoch eagerly
                break
        xp = backend.xp
        last = None
        for a, b in [s for s in batches.spans if s not in full[:len(sizes)]]:
            part = backend.asarray(order[a:b], copy=False)
            xb, yb = take_rows(batches.X, part, xp), xp.take(batches.y, part, axis=0)
            pending = [(xb, yb, step.draw(b - a))]
            self._flush(pending, values, mets)
            sizes.append(b - a)
            last = (xb, yb)
        if last is None and full:
            a, b = full[-1]
            part = backend.asarray(order[a:b], copy=False)
            last = (take_rows(batches.X, part, xp), xp.take(batches.y, part, axis=0))
        tstate.step += len(sizes)
        self._report()
        return values, sizes, last

    def _dispatch(self, fn: Any, key: Any, k: int, rows: int, args: tuple[Any, ...], values: list[Any],
                  mets: list[Any]) -> None:
        """k steps gathered from the data inside one compiled dispatch (``args``: X, y, the (k, rows)
        indices); on a failure to trace, the same steps eagerly."""
        compiled, step = self.compiled, self.step
        assert compiled is not None
        opt, dtype = step.opt, step.model.dtype
        first = int(opt.iterations)
        drawn = [step.draw(rows) for _ in range(k)]
        draws = {n: step.model.backend.asarray(np.stack([d[n] for d in drawn]), dtype=dtype) for n in drawn[0]}
        before = step.initial(first)
        state = {**before, "scalars": _arrays(step, [step.scalars(first + i) for i in range(k)], single=False)}
        try:
            state, (value, out, ys) = compiled.run(fn(), key, state, *args, draws, state["scalars"])
        except Exception as exc:  # noqa: BLE001 - any failure to trace: fall back, never a wrong result
            if getattr(exc, "__module__", "").split(".")[0] == "anynet":
                step.store(before)
                raise
            X, y, idx = args
            from .batches import rows as take_rows

            xp = step.model.backend.xp
            pending = []
            for i in range(k):
                part = idx[i]
                pending.append((take_rows(X, part, xp), xp.take(y, part, axis=0), drawn[i]))
            self._fall_back(before, exc, pending, values, mets)
            return
        step.store(state)
        for layer in step.model.nodes.values():
            layer.grads.clear()
        opt.iterations = first + k
        values.append(value)
        xp = step.model.backend.xp
        for m in mets:
            m.update(_merge(xp, out), _merge(xp, ys))

    def _report(self) -> None:
        compiled = self.compiled
        if compiled is not None and not self.reported and compiled.seconds > self.seconds:
            self.reported = True  # once per fit: the compiles of the first epoch (a later one seldom has any)
            self.notice(f"compiled the training step with jax.jit in {compiled.seconds - self.seconds:.2f} s "
                        f"({len(compiled.shapes) - self.known} batch shape(s); kept for later epochs and fits)")

    def _eager(self, batches: Any, hooks: Any, mets: list[Any], tstate: Any) -> tuple[list[Any], list[int], Any]:
        from .batches import n_rows

        step, per_batch, model = self.step, hooks.per_batch, self.step.model
        values: list[Any] = []
        sizes: list[int] = []
        last = None
        dropping, dp = bool(step.dropouts), self.dp
        for xb, yb in batches:
            if per_batch:
                hooks.on_batch_begin(model, tstate.step, {})
            if dp is None:
                rows = n_rows(xb)
                value, out = step.eager((xb, yb), step.send(step.draw(rows)) if dropping else {})
            else:  # this process's rows of a global batch of ``rows``
                offset, rows = batches.current
                value, out = step.eager((xb, yb), {}, dp, (offset, rows))
            values.append(value)
            sizes.append(rows)
            for m in mets:
                m.update(out, yb)
            if per_batch:
                hooks.on_batch_end(model, tstate.step, {"loss": value, "size": rows})
            tstate.step += 1
            last = (xb, yb)
        return values, sizes, last

    def _flush(self, pending: list[Any], values: list[Any], mets: list[Any]) -> None:
        """Run the pending steps: one compiled dispatch (a scan for several), then store the state."""
        if not pending:
            return
        compiled, step = self.compiled, self.step
        if compiled is None:  # fell back earlier in this epoch
            self._eager_steps(pending, values, mets)
            return
        opt, xp, dtype = step.opt, step.model.backend.xp, step.model.dtype
        first = int(opt.iterations)
        k = len(pending)
        before = step.initial(first)
        state = {**before, "scalars": _arrays(step, [step.scalars(first + i) for i in range(k)], single=k == 1)}
        try:
            if k == 1:
                xb, yb, d = pending[0]
                state, value, out = compiled.run(compiled.one, ("one", _key((xb, yb))), state, (xb, yb),
                                                 step.send(d))
                outs, ys = out, yb
            else:
                batch = _stack(xp, [(xb, yb) for xb, yb, _ in pending])
                draws = {n: step.model.backend.asarray(np.stack([d[n] for _, _, d in pending]), dtype=dtype)
                         for n in pending[0][2]}
                state, (value, out) = compiled.run(compiled.many, ("many", k, _key(batch)), state, batch, draws,
                                                   state["scalars"])
                outs, ys = _merge(xp, out), _merge(xp, batch[1])
        except Exception as exc:  # noqa: BLE001 - any failure to trace: fall back, never a wrong result
            if getattr(exc, "__module__", "").split(".")[0] == "anynet":
                step.store(before)
                raise
            self._fall_back(before, exc, pending, values, mets)
            return
        step.store(state)
        for layer in step.model.nodes.values():
            layer.grads.clear()  # (the traced step's: no arrays of a trace are left behind)
        opt.iterations = first + k
        values.append(value)
        for m in mets:
            m.update(outs, ys)
        pending.clear()

    def _fall_back(self, before: State, exc: Exception, pending: list[Any], values: list[Any],
                   mets: list[Any]) -> None:
        import warnings

        step = self.step
        step.store(before)
        for layer in step.model.nodes.values():
            layer.grads.clear()
            layer.__dict__.pop("_given", None)
        self.compiled = None
        warnings.warn(f"{self.where}: the training step could not be compiled with jax.jit "
                      f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                      "training eagerly instead (pass compile=False to skip the attempt)", stacklevel=4)
        self._eager_steps(pending, values, mets)

    def _eager_steps(self, pending: list[Any], values: list[Any], mets: list[Any]) -> None:
        step = self.step
        for xb, yb, d in pending:  # the same steps, with the masks already drawn
            value, out = step.eager((xb, yb), step.send(d))
            values.append(value)
            for m in mets:
                m.update(out, yb)
        pending.clear()


def _gatherable(batches: Any) -> bool:
    """Whether the batches are :class:`~anynet.batches.ArrayBatches` of device arrays of one process,
    which a compiled scan can take from the data itself."""
    from .batches import ArrayBatches

    return isinstance(batches, ArrayBatches) and not batches.by_rows and not batches.sharded


def _arrays(step: TrainingStep, scalars: list[dict[str, float]], *, single: bool) -> dict[str, Array]:
    """The per-step scalars as arrays of the model's dtype: 0-d for one step, (k,) for a scan of k."""
    backend, dtype = step.model.backend, step.model.dtype
    if single:
        return {k: backend.asarray(np.asarray(v, dtype=np.float64), dtype=dtype) for k, v in scalars[0].items()}
    return {k: backend.asarray(np.asarray([s[k] for s in scalars], dtype=np.float64), dtype=dtype)
            for k in scalars[0]}


def _stack(xp: Any, batches: list[tuple[Any, Any]]) -> Any:
    """k batches of one shape as one batch of shape (k, n, ...) (a dict X stacked per input)."""
    xs = [xb for xb, _ in batches]
    x = ({name: xp.stack([x[name] for x in xs]) for name in xs[0]} if isinstance(xs[0], Mapping)
         else xp.stack(xs))
    return x, xp.stack([yb for _, yb in batches])


def _merge(xp: Any, a: Any) -> Any:
    """(k, n, ...) → (k·n, ...): a scan's outputs (or targets) as one batch, for the metrics."""
    return xp.reshape(a, (a.shape[0] * a.shape[1], *a.shape[2:]))
