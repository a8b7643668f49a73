"""The flat optimizer (one update for all parameters) against today's per-parameter optimizers.

``Today`` below is a copy of the per-parameter update math and the ``apply`` loop of
anynet/optim.py as it was before the flat buffers (commit 71ec32f): the reference. After 100 float64
steps of ``fit`` the parameters, buffers and optimizer state must equal it within 1e-12.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import anynet
from anynet import optim, schedules
from anynet.layers import BatchNorm, Dense, Dropout, LayerNorm
from anynet.optim import Optimizer, ops_for

from .conftest import load_backend


class Today(Optimizer):
    """The reference: today's per-parameter SGD / Adam / AdamW / RMSProp / AdaGrad, copied."""

    def __init__(self, kind: str, lr: Any, *, momentum: float = 0.0, nesterov: bool = False, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float | None = None, alpha: float = 0.99, **kw: Any) -> None:
        if kind == "adamw":
            kw.setdefault("weight_decay", 0.01)
        super().__init__(lr, **kw)
        self.kind, self.momentum, self.nesterov = kind, momentum, nesterov
        self.beta1, self.beta2, self.alpha = beta1, beta2, alpha
        self.eps = eps if eps is not None else {"adagrad": 1e-10}.get(kind, 1e-8)
        self.coupled_decay = kind != "adamw"
        self.slots = {"sgd": ("velocity",) if momentum else (), "adam": ("m", "v"), "adamw": ("m", "v"),
                      "rmsprop": ("square_avg", "buffer") if momentum else ("square_avg",),
                      "adagrad": ("sum",)}[kind]

    def apply(self, slots):  # today's Optimizer.apply
        if not slots:
            return
        lr = self.current_lr()
        first = slots[0][1][slots[0][3]]
        ops = ops_for(first)
        xp = ops.xp
        clipped = None
        if self.clip_value is not None or self.clip_norm is not None:
            grads = [gd[key] for _, _, gd, key in slots]
            if self.clip_value is not None:
                c = self.clip_value
                grads = [xp.clip(g, -c, c) for g in grads]
            if self.clip_norm is not None:
                total = xp.sqrt(sum(xp.sum(g * g) for g in grads))
                scale = xp.minimum(self.clip_norm / (total + 1e-6), 1.0)
                grads = [g * scale for g in grads]
            clipped = grads
        coupled = self.weight_decay and self.coupled_decay
        for n, (path, pd, gd, key) in enumerate(slots):
            p = pd[key]
            g = gd[key] if clipped is None else clipped[n]
            decay = p.ndim >= 2
            if decay:
                if coupled:
                    g = g + self.weight_decay * p
                if self.l1:
                    g = g + self.l1 * xp.sign(p)
            state = self.state.get(path)
            if state is None:
                state = self.state[path] = {s: xp.zeros_like(p) for s in self.slots}
            pd[key], self.state[path] = self.update(p, g, state, lr, ops, decay)
        self.iterations += 1

    def update(self, p, g, state, lr, ops, decay):  # today's per-class update rules
        k = self.kind
        if k == "sgd":
            if not self.momentum:
                return ops.sub_(p, lr * g), state
            v = ops.add_(ops.mul_(state["velocity"], self.momentum), lr * g)
            state["velocity"] = v
            if self.nesterov:
                return ops.sub_(p, ops.add_(self.momentum * v, lr * g)), state
            return ops.sub_(p, v), state
        if k in ("adam", "adamw"):
            if k == "adamw" and decay and self.weight_decay:
                p = ops.mul_(p, 1.0 - lr * self.weight_decay)
            t = self.iterations + 1
            m = ops.add_(ops.mul_(state["m"], self.beta1), (1.0 - self.beta1) * g)
            v = ops.add_(ops.mul_(state["v"], self.beta2), ops.mul_(g * g, 1.0 - self.beta2))
            state["m"], state["v"] = m, v
            denom = ops.add_(ops.xp.sqrt(v / (1.0 - self.beta2**t)), self.eps)
            return ops.sub_(p, ops.div_((lr / (1.0 - self.beta1**t)) * m, denom)), state
        if k == "rmsprop":
            s = ops.add_(ops.mul_(state["square_avg"], self.alpha), ops.mul_(g * g, 1.0 - self.alpha))
            state["square_avg"] = s
            scaled = g / ops.add_(ops.xp.sqrt(s), self.eps)
            if self.momentum:
                b = state["buffer"] = ops.add_(ops.mul_(state["buffer"], self.momentum), scaled)
                return ops.sub_(p, lr * b), state
            return ops.sub_(p, ops.mul_(scaled, lr)), state
        s = state["sum"] = ops.add_(state["sum"], g * g)
        return ops.sub_(p, ops.div_(lr * g, ops.add_(ops.xp.sqrt(s), self.eps))), state


def _schedule():
    return schedules.Inv(0.05, gamma=0.01, power=0.75)


#: (name, options for both): every optimizer, a schedule, clip_norm, clip_value, weight decay and l1
CASES = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": _schedule(), "momentum": 0.9, "weight_decay": 1e-3, "clip_norm": 1.0}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "l1": 1e-4, "clip_value": 0.5}),
    ("adam", {"lr": 1e-2, "weight_decay": 1e-3, "l1": 1e-4, "clip_value": 0.5}),
    ("adamw", {"lr": _schedule(), "weight_decay": 0.05, "clip_norm": 0.5}),
    ("rmsprop", {"lr": 1e-2, "momentum": 0.5, "weight_decay": 1e-3}),
    ("rmsprop", {"lr": 1e-2, "alpha": 0.9}),
    ("adagrad", {"lr": 0.05, "clip_value": 1.0, "l1": 1e-4}),
]
NEW = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSProp, "adagrad": optim.AdaGrad}


def _train(opt: Optimizer, backend: Any = "numpy", steps: int = 100) -> tuple[dict, dict, Optimizer]:
    """``steps`` fit steps (16 rows each) of a net with BatchNorm, Dropout, LayerNorm and a frozen layer."""
    model = anynet.Sequential([Dense(6, 16, activation="relu"), BatchNorm(16), Dropout(0.2, seed=5),
                               Dense(16, 16, activation="tanh"), LayerNorm(16), Dense(16, 3)],
                              seed=0, backend=backend, dtype="float64")
    model.nodes[list(model.nodes)[3]].trainable = False  # the second Dense is frozen
    g = np.random.default_rng(0)
    X, y = g.standard_normal((64, 6)), g.integers(0, 3, 64)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=steps // 4, batch_size=16, seed=1, verbose=0)
    return ({k: anynet.to_numpy(v) for k, v in model.state_dict().items()},
            {k: anynet.to_numpy(v) for k, v in opt.state_dict().items()}, opt)


def _same(got: dict, want: dict, what: str) -> None:
    assert sorted(got) == sorted(want), f"{what}: keys differ: {sorted(got)} vs {sorted(want)}"
    for k in want:
        diff = float(np.max(np.abs(got[k] - want[k]))) if want[k].size else 0.0
        assert diff <= 1e-12, f"{what} {k!r}: differs from today's per-parameter optimizer by {diff:.3g}"


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{'-'.join(o)}" for n, o in CASES])
def test_flat_equals_todays_per_parameter_optimizer(name, options):
    want_model, want_state, ref = _train(Today(name, **options))
    got_model, got_state, opt = _train(NEW[name](**options))
    assert opt.iterations == ref.iterations == 100
    _same(got_model, want_model, "parameter or buffer")
    _same(got_state, want_state, "optimizer state")
    frozen = [k for k in got_state if k.startswith("3.")]
    assert not frozen, f"the frozen layer got optimizer state: {frozen}"


@pytest.mark.parametrize("name,options", [CASES[2], CASES[4]], ids=["sgd-nesterov", "adamw"])
def test_flat_equals_today_on_every_backend(backend, name, options):
    want_model, want_state, _ = _train(Today(name, **options), steps=40)
    got_model, got_state, _ = _train(NEW[name](**options), backend=backend, steps=40)
    _same(got_model, want_model, f"{backend.name}: parameter or buffer")
    _same(got_state, want_state, f"{backend.name}: optimizer state")


def test_state_dict_round_trip_continues_exactly():
    # checkpoints store the state by path (optim/<path>/<slot>): flat buffers convert at save and load
    _, _, ref = _train(optim.Adam(lr=1e-2, weight_decay=1e-3), steps=8)
    saved = ref.state_dict()
    assert sorted(saved) == sorted(f"{p}/{s}" for p in ("0.W", "0.b", "1.gamma", "1.beta", "4.gamma", "4.beta",
                                                        "5.W", "5.b") for s in ("m", "v")), sorted(saved)
    fresh = optim.Adam(lr=1e-2, weight_decay=1e-3)
    fresh.load_state_dict({k: np.array(v, copy=True) for k, v in saved.items()})
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v, saved[k])
    # the live state shows each step: state_dict's arrays are views of the flat buffers (no copies)
    before = {k: np.array(v, copy=True) for k, v in saved.items()}
    params = {"0.W": np.ones((6, 16))}
    opt = optim.Adam(lr=0.1)
    params = opt.step(params, {"0.W": np.ones((6, 16))})
    view = opt.state_dict()["0.W/m"]
    opt.step(params, {"0.W": np.ones((6, 16))})
    assert np.allclose(view, opt.state_dict()["0.W/m"]) and not np.allclose(view, 0.1)
    assert before  # (the saved arrays were copied before the steps)


def test_a_per_parameter_subclass_of_a_builtin_still_runs():
    # written the old way: overrides update(p, g, state, lr, ops, decay) and calls the built-in rule through super()
    class Halved(optim.Adam):
        def update(self, p, g, state, lr, ops, decay):
            return super().update(p, g, state, lr / 2, ops, decay)

    g = np.random.default_rng(0)
    grads = [{"W": g.standard_normal((3, 2)), "b": g.standard_normal(2)} for _ in range(5)]
    mine, ref = Halved(lr=0.02, weight_decay=0.1), Today("adam", lr=0.01, weight_decay=0.1)
    a = {"W": np.ones((3, 2)), "b": np.ones(2)}
    b = {k: v.copy() for k, v in a.items()}
    for gr in grads:
        a = mine.step(a, gr)
        b = ref.step(b, gr)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-15)
    assert sorted(mine.state_dict()) == ["W/m", "W/v", "b/m", "b/v"]


class _PlainRule(Optimizer):
    """A user's optimizer with only the per-parameter rule (no flat ``rule``): ``w -= lr·g``."""

    slots = ()

    def update(self, p, g, state, lr, ops, decay):
        return ops.sub_(p, lr * g), state


@pytest.mark.parametrize("clip", [{"clip_norm": 0.5}, {"clip_value": 0.3, "clip_norm": 0.5}])
def test_a_per_parameter_rule_clips_like_the_builtins(backend, clip):
    # its gradients are (3, 2) and (2,): one global norm over arrays of different shapes
    g = np.random.default_rng(1)
    grads = [{"W": 3 * g.standard_normal((3, 2)), "b": 3 * g.standard_normal(2)} for _ in range(4)]
    mine, ref = _PlainRule(lr=0.1, **clip), Today("sgd", lr=0.1, **clip)
    a = {k: backend.asarray(v, dtype="float64") for k, v in {"W": np.ones((3, 2)), "b": np.ones(2)}.items()}
    b = {"W": np.ones((3, 2)), "b": np.ones(2)}
    for gr in grads:
        a = mine.step(a, {k: backend.asarray(v, dtype="float64") for k, v in gr.items()})
        b = ref.step(b, {k: v.copy() for k, v in gr.items()})
    for k in b:
        np.testing.assert_allclose(anynet.to_numpy(a[k]), b[k], rtol=0, atol=1e-14)
    assert not np.allclose(b["W"], 1 - 0.1 * sum(gr["W"] for gr in grads))  # (the clipping did change the steps)


def test_a_per_parameter_rule_clips_in_a_compiled_step(request):
    load_backend("jax", request.config)
    g = np.random.default_rng(2)
    X, y = g.standard_normal((48, 5)), g.integers(0, 3, 48)

    def train(backend, opt, compile):
        model = anynet.Sequential([Dense(5, 4, activation="relu"), Dense(4, 3)], seed=0, dtype="float64",
                                  backend=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (a compiled step that falls back to eager warns: here it fails)
            model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=2, batch_size=16, verbose=0,
                      compile=compile)
        return {k: anynet.to_numpy(v) for k, v in model.parameters().items()}

    ref = train("numpy", optim.SGD(lr=0.5, clip_norm=0.05, clip_value=0.02), False)
    got = train("jax", _PlainRule(lr=0.5, clip_norm=0.05, clip_value=0.02), True)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12)


def test_update_is_pure_and_traces_under_jax_jit(request):
    load_backend("jax", request.config)
    import jax

    jnp = anynet.get_backend("jax").xp
    g = np.random.default_rng(0)
    params = {"W": g.standard_normal((4, 3)), "b": g.standard_normal(3)}
    grads = [{k: g.standard_normal(v.shape) for k, v in params.items()} for _ in range(20)]
    make = lambda: optim.Adam(lr=_schedule(), weight_decay=1e-2, l1=1e-3, clip_norm=0.5)  # noqa: E731
    ref, host = make(), {k: v.copy() for k, v in params.items()}
    for gr in grads:
        host = ref.step(host, gr)
    opt = make()
    p = {k: jnp.asarray(v) for k, v in params.items()}
    state = opt.init(p)
    step = jax.jit(opt.update)
    for t, gr in enumerate(grads):
        sc = {k: jnp.asarray(v) for k, v in opt.scalars(t).items()}  # traced 0-d arrays: no recompile
        p, state = step(p, {k: jnp.asarray(v) for k, v in gr.items()}, state, sc)
    assert opt.iterations == 0, "update changed the optimizer"
    for k in params:
        np.testing.assert_allclose(np.asarray(p[k]), host[k], rtol=0, atol=1e-12)


def test_scalars_read_the_hyper_parameters_now():
    opt = optim.Adam(lr=0.1, beta1=0.8, beta2=0.9, eps=1e-6)
    sc = opt.scalars(2)
    assert math.isclose(sc["step_size"], 0.1 * math.sqrt(1 - 0.9**3) / (1 - 0.8**3))
    assert math.isclose(sc["eps_hat"], 1e-6 * math.sqrt(1 - 0.9**3))
    opt.lr, opt.beta1 = 0.5, 0.5  # as a callback would, between steps
    assert math.isclose(opt.scalars(2)["step_size"], 0.5 * math.sqrt(1 - 0.9**3) / (1 - 0.5**3))
    assert opt.scalars(2)["one_minus_beta1"] == 0.5
    opt.lr = float("nan")
    with pytest.raises(anynet.ConfigError, match="learning rate at step 2 is nan"):
        opt.scalars(2)
    assert sorted(optim.SGD(clip_norm=1.0).scalars(0)) == ["clip_norm", "l1", "lr", "momentum", "weight_decay"]


def test_parameters_replaced_between_steps_are_taken(backend):
    # a load_state_dict, EarlyStopping's restore or a user's assignment rebinds a layer's parameter: the
    # next step must update the new values (laid out again), not the flat buffer's old ones
    opt = optim.SGD(lr=0.5, momentum=0.5)
    asarray = lambda v: backend.asarray(np.asarray(v, dtype="float64"), dtype="float64")  # noqa: E731
    pd = {"W": asarray([[1.0, 2.0]]), "b": asarray([0.0])}
    gd = {"W": asarray([[1.0, 1.0]]), "b": asarray([1.0])}
    slots = [(k, pd, gd, k) for k in ("W", "b")]
    opt.apply(slots)
    opt.apply(slots)
    pd["W"] = asarray([[10.0, 20.0]])   # same shape and dtype: the layout still holds
    opt.apply(slots)
    # velocity: 0.5, 0.75, 0.875 → W = 10 − 0.875
    np.testing.assert_allclose(anynet.to_numpy(pd["W"]), [[9.125, 19.125]])
    np.testing.assert_allclose(anynet.to_numpy(pd["b"]), [0.0 - 0.5 - 0.75 - 0.875])
    opt.apply(slots)
    np.testing.assert_allclose(anynet.to_numpy(pd["W"]), [[9.125 - 0.9375, 19.125 - 0.9375]])


def test_on_jax_the_update_concatenates_nothing(request):
    # immutable arrays have no views: a flat buffer would be a concatenation and slices in every compiled step,
    # which XLA on the CPU does not fuse away (measured: 784-1024-1024-10 Adam 38.8 ms flat, 7.5 ms per parameter)
    load_backend("jax", request.config)
    import jax

    jnp = anynet.get_backend("jax").xp
    params = {"W": jnp.ones((4, 3)), "b": jnp.ones(3)}
    for opt in (optim.SGD(lr=0.1, momentum=0.9, weight_decay=1e-3, clip_norm=1.0), optim.AdamW(clip_value=0.5)):
        state = opt.init(params)
        assert sorted(state) == sorted(f"{p}/{s}" for p in params for s in opt.slots)
        sc = {k: jnp.asarray(v) for k, v in opt.scalars(0).items()}
        jaxpr = str(jax.make_jaxpr(opt.update)(params, params, state, sc))
        assert "concatenate" not in jaxpr, f"{type(opt).__name__}: the compiled update concatenates"
