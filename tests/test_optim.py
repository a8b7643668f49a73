"""Optimizers against NumPy float64 references of their published rules, and torch.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anynet
from anynet import optim, schedules
from anynet.errors import ConfigError, InputError, StateDictError, UnknownNameError


def _reference(name, hyper, lr_at, p, grads):
    """Independent float64 implementations of each update rule, one step per gradient."""
    p = p.copy()
    s1, s2 = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        lr = lr_at(t - 1)
        if hyper.get("weight_decay") and name != "AdamW":
            g = g + hyper["weight_decay"] * p
        if name == "SGD":
            mu = hyper.get("momentum", 0.0)
            s1 = mu * s1 + lr * g
            p = p - (mu * s1 + lr * g if hyper.get("nesterov") else s1)
        elif name in ("Adam", "AdamW"):
            b1, b2, eps = 0.9, 0.999, 1e-8
            if name == "AdamW":
                p = p * (1 - lr * hyper.get("weight_decay", 0.01))
            s1 = b1 * s1 + (1 - b1) * g
            s2 = b2 * s2 + (1 - b2) * g * g
            p = p - lr * (s1 / (1 - b1**t)) / (np.sqrt(s2 / (1 - b2**t)) + eps)
        elif name == "RMSProp":
            s1 = 0.99 * s1 + 0.01 * g * g
            p = p - lr * g / (np.sqrt(s1) + 1e-8)
        elif name == "AdaGrad":
            s1 = s1 + g * g
            p = p - lr * g / (np.sqrt(s1) + 1e-10)
    return p


CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.9, "weight_decay": 0.001}),
    ("Adam", {}),
    ("Adam", {"weight_decay": 0.01}),
    ("AdamW", {"weight_decay": 0.1}),
    ("RMSProp", {}),
    ("AdaGrad", {}),
]


@pytest.mark.parametrize("name,hyper", CASES, ids=[f"{n}-{h}" for n, h in CASES])
@pytest.mark.parametrize("lr", [0.05, "inv"])
def test_update_rules_match_reference(backend, name, hyper, lr):
    g = np.random.default_rng(0)
    p0 = g.standard_normal((3, 4))
    grads = [g.standard_normal((3, 4)) for _ in range(5)]
    sched = schedules.Inv(0.05, gamma=0.1, power=0.75) if lr == "inv" else lr
    opt = optim.get(name, lr=sched, **hyper)
    params = {"0.W": backend.asarray(p0, dtype="float64")}
    for gr in grads:
        params = opt.step(params, {"0.W": backend.asarray(gr, dtype="float64")})
    lr_at = sched if callable(sched) else (lambda step: sched)
    expect = _reference(name, hyper, lr_at, p0, grads)
    np.testing.assert_allclose(anynet.to_numpy(params["0.W"]), expect, rtol=1e-12, atol=1e-14)
    assert opt.iterations == 5


TORCH = [
    ("SGD", {"momentum": 0.9}, "SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.9, "weight_decay": 0.01}, "SGD", {"momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", {}, "Adam", {}),
    ("AdamW", {"weight_decay": 0.1}, "AdamW", {"weight_decay": 0.1}),
    ("RMSProp", {"momentum": 0.5}, "RMSprop", {"momentum": 0.5}),
    ("AdaGrad", {}, "Adagrad", {}),
]


@pytest.mark.parametrize("ours,kw,theirs,tkw", TORCH, ids=[t[0] + str(t[1]) for t in TORCH])
def test_against_torch_optim(ours, kw, theirs, tkw):
    torch = pytest.importorskip("torch", reason="torch not installed: no reference optimizers")
    g = np.random.default_rng(1)
    p0 = g.standard_normal((4, 3))
    grads = [g.standard_normal((4, 3)) for _ in range(6)]
    opt = optim.get(ours, lr=0.01, **kw)
    params = {"w": p0.copy()}
    tp = torch.nn.Parameter(torch.tensor(p0))
    topt = getattr(torch.optim, theirs)([tp], lr=0.01, **tkw)
    for gr in grads:
        params = opt.step(params, {"w": gr})
        tp.grad = torch.tensor(gr)
        topt.step()
    np.testing.assert_allclose(params["w"], tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_in_place_where_allowed_and_rebinding_on_jax(backend):
    # the first step lays the parameters out in one flat buffer and returns them as its views; from the
    # second step on they are updated there in place (the same objects) where the backend allows
    opt = optim.SGD(lr=0.1, momentum=0.9)
    p = backend.asarray(np.ones((2, 2)), dtype="float64")
    g = backend.asarray(np.ones((2, 2)), dtype="float64")
    out = opt.step({"w": p}, {"w": g})
    np.testing.assert_allclose(anynet.to_numpy(out["w"]), 0.9)
    again = opt.step(out, {"w": g})
    assert (again["w"] is out["w"]) == backend.writeable
    np.testing.assert_allclose(anynet.to_numpy(again["w"]), 0.71)


def test_decay_skips_biases_and_clipping():
    opt = optim.SGD(lr=1.0, weight_decay=0.5)
    out = opt.step({"W": np.ones((1, 1)), "b": np.ones(1)}, {"W": np.zeros((1, 1)), "b": np.zeros(1)})
    assert out["W"][0, 0] == 0.5 and out["b"][0] == 1.0
    opt = optim.SGD(lr=1.0, clip_norm=1.0)
    out = opt.step({"a": np.zeros(2), "b": np.zeros(2)}, {"a": np.asarray([3.0, 0]), "b": np.asarray([0, 4.0])})
    assert math.isclose(np.sqrt((out["a"] ** 2).sum() + (out["b"] ** 2).sum()), 1.0, rel_tol=1e-5)
    opt = optim.SGD(lr=1.0, clip_value=0.5)
    out = opt.step({"a": np.zeros(2)}, {"a": np.asarray([3.0, -0.25])})
    np.testing.assert_allclose(out["a"], [-0.5, 0.25])
    opt = optim.SGD(lr=1.0, l1=0.1)
    out = opt.step({"W": np.asarray([[2.0, -2.0]])}, {"W": np.zeros((1, 2))})
    np.testing.assert_allclose(out["W"], [[1.9, -1.9]])


def test_lambda_learning_rate():
    opt = optim.SGD(lr=lambda step: 1.0 / (step + 1))
    p = {"w": np.zeros(1)}
    for _ in range(3):
        p = opt.step(p, {"w": np.ones(1)})
    assert p["w"][0] == pytest.approx(-(1 + 1 / 2 + 1 / 3))


@pytest.mark.parametrize("make,pattern", [
    (lambda: optim.SGD(lr=-1), r"SGD: lr must be in \[0.0, inf\), got -1"),
    (lambda: optim.SGD(lr=0.1, momentum=1.0), "momentum must be in"),
    (lambda: optim.SGD(lr=0.1, nesterov=True), "nesterov=True needs momentum"),
    (lambda: optim.Adam(beta1=1.5), "beta1 must be in"),
    (lambda: optim.Adam(eps=0), "eps must be in"),
    (lambda: optim.RMSProp(alpha=float("nan")), "alpha must be in"),
    (lambda: optim.SGD(lr=0.1, clip_norm=0), "clip_norm must be in"),
    (lambda: optim.get("adamax"), "unknown optimizer 'adamax'; known: AdaGrad, Adam"),
])
def test_hyper_parameters_validated_up_front(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_bad_schedule_value_is_reported():
    opt = optim.SGD(lr=lambda step: float("nan"))
    with pytest.raises(ValueError, match="learning rate at step 0 is nan"):
        opt.step({"w": np.zeros(1)}, {"w": np.zeros(1)})


# -- one code path: in place where allowed, rebinding on JAX, the same numbers -------------------
ALL = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "l1": 0.001}),
    ("Adam", {"weight_decay": 0.01, "clip_value": 1.5}),
    ("AdamW", {"weight_decay": 0.1, "clip_norm": 2.0}),
    ("RMSProp", {}),
    ("RMSProp", {"momentum": 0.5, "l1": 0.001}),
    ("AdaGrad", {"weight_decay": 0.01}),
]
ALL_IDS = [f"{n}{h}" for n, h in ALL]


def _run(opt, backend, steps=100, ops=None):
    """``steps`` float64 updates of a weight matrix and a bias; the arrays as NumPy at the end."""
    g = np.random.default_rng(7)
    params = {"0.W": backend.asarray(g.standard_normal((6, 5)), dtype="float64"),
              "0.b": backend.asarray(g.standard_normal(5), dtype="float64")}
    grads = [{k: backend.asarray(g.standard_normal(tuple(v.shape)), dtype="float64") for k, v in params.items()}
             for _ in range(steps)]
    if ops is not None:
        # force an Ops on this backend (white-box: the cache apply() fills on its first step)
        opt._ops[type(params["0.W"])] = ops(optim.ops_for(params["0.W"]).xp)
    for gr in grads:
        params = opt.step(params, gr)
    out = {k: anynet.to_numpy(v) for k, v in params.items()}
    out.update({k: anynet.to_numpy(v) for k, v in opt.state_dict().items()})
    return out


@pytest.mark.parametrize("name,hyper", ALL, ids=ALL_IDS)
def test_in_place_and_rebinding_paths_are_bit_identical(name, hyper):
    """NumPy updated in place and NumPy driven through the JAX path (RebindOps) agree exactly."""
    numpy = anynet.get_backend("numpy")
    inplace = _run(optim.get(name, lr=0.05, **hyper), numpy, ops=optim.InPlaceOps)
    rebind = _run(optim.get(name, lr=0.05, **hyper), numpy, ops=optim.RebindOps)
    assert sorted(inplace) == sorted(rebind)
    for key in inplace:
        np.testing.assert_array_equal(inplace[key], rebind[key], err_msg=key)


@pytest.mark.parametrize("name,hyper", ALL, ids=ALL_IDS)
def test_every_backend_gives_numpys_numbers(backend, name, hyper):
    """array-api-strict (writeable, NumPy inside) agrees exactly; torch and JAX up to their own
    rounding of the same operations."""
    if not backend.has_float64:
        pytest.skip(f"{backend} has no float64")
    want = _run(optim.get(name, lr=0.05, **hyper), anynet.get_backend("numpy"))
    got = _run(optim.get(name, lr=0.05, **hyper), backend)
    for key in want:
        if backend.name in ("numpy", "array_api_strict"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        else:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-13, atol=1e-15, err_msg=key)


def test_ops_chosen_by_backend(backend):
    x = backend.asarray(np.ones(3), dtype="float32")
    ops = optim.ops_for(x)
    assert ops.writeable == backend.writeable
    assert isinstance(ops, optim.InPlaceOps if backend.writeable else optim.RebindOps)
    y = ops.sub_(x, 0.5)
    assert (y is x) == backend.writeable
    np.testing.assert_array_equal(anynet.to_numpy(y), 0.5)
    for op, b, want in (("add_", 1.0, 1.5), ("mul_", 3.0, 4.5), ("div_", 2.0, 2.25)):
        z = getattr(ops, op)(y, b)
        assert (z is y) == backend.writeable
        np.testing.assert_array_equal(anynet.to_numpy(z), want)
        y = z


@pytest.mark.parametrize("name,hyper,bound", [
    # the one flat gradient buffer (the gradients concatenated, then scaled in place) is the only
    # temporary of SGD; the others add what their rule needs (Adam: g², √v, step·m)
    ("SGD", {}, 1.1),
    ("SGD", {"momentum": 0.9}, 1.1),
    ("Adam", {}, 3.1),
    ("RMSProp", {"momentum": 0.5}, 2.1),
    ("AdaGrad", {}, 2.1),
])
def test_in_place_step_allocates_few_temporaries(name, hyper, bound):
    """Peak memory of a NumPy step, in units of one parameter's size (numpy reports to tracemalloc)."""
    import tracemalloc

    g = np.random.default_rng(0)
    params = {"0.W": g.standard_normal((500, 500))}
    grads = {"0.W": g.standard_normal((500, 500))}
    opt = optim.get(name, lr=0.01, **hyper)
    params = opt.step(params, grads)   # the state arrays are allocated (and the parameters laid out) on the first step
    tracemalloc.start()
    try:
        opt.step(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / params["0.W"].nbytes < bound


# -- state by parameter path ------------------------------------------------------------------
def test_state_dict_keys_and_round_trip(backend):
    opt = optim.Adam(lr=0.01)
    params = {"0.W": backend.asarray(np.ones((2, 3)), dtype="float64"),
              "1.b": backend.asarray(np.ones(3), dtype="float64")}
    grads = {k: backend.asarray(np.full(tuple(v.shape), 0.5), dtype="float64") for k, v in params.items()}
    params = opt.step(params, grads)
    state = opt.state_dict()
    assert sorted(state) == ["0.W/m", "0.W/v", "1.b/m", "1.b/v"]
    twin = optim.Adam(lr=0.01)
    twin.load_state_dict({k: backend.asarray(anynet.to_numpy(v), dtype="float64") for k, v in state.items()})
    twin.iterations = opt.iterations
    p1 = {k: backend.asarray(anynet.to_numpy(v), dtype="float64") for k, v in params.items()}
    p2 = {k: backend.asarray(anynet.to_numpy(v), dtype="float64") for k, v in params.items()}
    p1 = opt.step(p1, grads)
    p2 = twin.step(p2, grads)
    for k in p1:
        np.testing.assert_array_equal(anynet.to_numpy(p1[k]), anynet.to_numpy(p2[k]))
    assert optim.SGD(lr=0.1).state_dict() == {}


@pytest.mark.parametrize("arrays,pattern", [
    ({"0.W": np.zeros(2)}, r"malformed key '0.W'"),
    ({"/m": np.zeros(2)}, r"malformed key '/m'"),
    ({"0.W/": np.zeros(2)}, r"malformed key '0.W/'"),
    ({3: np.zeros(2)}, r"malformed key 3"),
    ({"0.W/velocity": np.zeros(2), "0.W/v": np.zeros(2)}, r"'0.W/velocity' names the slot 'velocity'.*slots: m, v"),
    ({"0.W/m": np.zeros(2)}, r"'0.W' lacks the slot\(s\) \['v'\]"),
    ({"0.W/m": np.zeros(2), "0.W/v": [0.0, 0.0]}, r"'0.W/v' holds a list, not an array"),
    ({"0.W/m": np.zeros(2), "0.W/v": np.zeros(3)}, r"slots of '0.W' differ in shape"),
    ([("0.W/m", np.zeros(2))], r"expected a dict"),
])
def test_load_state_dict_validates_keys(arrays, pattern):
    opt = optim.Adam()
    opt.state = {"keep": {}}
    with pytest.raises(StateDictError, match=pattern):
        opt.load_state_dict(arrays)
    assert opt.state == {"keep": {}}, "a refused state dict leaves the state as it was"


def test_load_state_dict_slots_follow_the_configuration():
    with pytest.raises(StateDictError, match=r"slot 'velocity'.*SGD does not have \(its slots: none\)"):
        optim.SGD(lr=0.1).load_state_dict({"0.W/velocity": np.zeros(2)})
    optim.SGD(lr=0.1, momentum=0.9).load_state_dict({"0.W/velocity": np.zeros(2)})
    with pytest.raises(StateDictError, match="lacks"):
        optim.RMSProp(momentum=0.5).load_state_dict({"0.W/square_avg": np.zeros(2)})


# -- the registry -------------------------------------------------------------------------------
def test_get_by_name_through_the_registry():
    assert {"SGD", "Adam", "AdamW", "RMSProp", "AdaGrad"} <= set(anynet.registry.names("optimizer"))
    for spec, cls in (("sgd", optim.SGD), ("SGD", optim.SGD), ("ADAMW", optim.AdamW), ("rmsprop", optim.RMSProp),
                      ("adagrad", optim.AdaGrad), ("Adam", optim.Adam)):
        assert type(optim.get(spec)) is cls
    assert anynet.registry.name_of("optimizer", optim.AdamW) == "AdamW"
    with pytest.raises(UnknownNameError, match=r"unknown optimizer 'adamax'"):
        optim.get("adamax")
    with pytest.raises(UnknownNameError):
        optim.get(3)
    opt = optim.Adam()
    assert optim.get(opt) is opt
    with pytest.raises(ConfigError, match=r"options \['lr'\] were given with the optimizer"):
        optim.get(opt, lr=0.1)
    assert not hasattr(optim, "OPTIMIZERS") and not hasattr(optim, "_register")


def test_a_users_optimizer_with_public_names_only():
    @anynet.register("optimizer")
    class SignSGD(anynet.optim.Optimizer):
        """w -= lr * sign(g) + a decaying trace of past signs."""

        slots = ("trace",)
        hyper = ("beta",)

        def __init__(self, lr=0.01, *, beta=0.5, **kw):
            super().__init__(lr, **kw)
            self.beta = float(beta)

        def update(self, p, g, state, lr, ops, decay):
            t = state["trace"] = ops.add_(ops.mul_(state["trace"], self.beta), ops.xp.sign(g))
            return ops.sub_(p, lr * t), state

    try:
        opt = anynet.optim.get("signsgd", lr=0.5, beta=0.25)
        assert type(opt) is SignSGD
        out = opt.step({"w": np.zeros(2)}, {"w": np.asarray([3.0, -0.1])})
        out = opt.step(out, {"w": np.asarray([3.0, -0.1])})
        np.testing.assert_allclose(out["w"], [-0.5 - 0.625, 0.5 + 0.625])
        assert sorted(opt.state_dict()) == ["w/trace"]
        name = anynet.registry.name_of("optimizer", type(opt))
        assert name == "SignSGD"
        again = anynet.registry.lookup("optimizer", name).from_config(opt.config())
        assert type(again) is SignSGD and again.beta == 0.25 and again.lr == 0.5
        assert repr(again) == "SignSGD(lr=0.5, beta=0.25)"
    finally:
        anynet.registry.unregister("optimizer", "SignSGD")


# -- hyper-parameters ---------------------------------------------------------------------------
def test_numpy_scalars_are_accepted():
    opt = optim.SGD(lr=np.float32(0.5), momentum=np.float64(0.5), nesterov=np.True_, weight_decay=np.int64(0))
    assert opt.lr == 0.5 and opt.momentum == 0.5 and opt.nesterov is True and type(opt.lr) is float
    opt = optim.Adam(lr=np.float32(0.25), beta1=np.float32(0.5), eps=np.float64(1e-7), clip_norm=np.int32(2))
    assert (opt.lr, opt.beta1, opt.eps, opt.clip_norm) == (0.25, 0.5, 1e-7, 2.0)
    assert optim.RMSProp(alpha=np.float16(0.5)).alpha == 0.5
    assert optim.get("adagrad", lr=np.float64(0.1)).lr == 0.1
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})


@pytest.mark.parametrize("make,pattern", [
    (lambda: optim.SGD(lr=True), r"SGD: lr must be a number .*got True"),
    (lambda: optim.SGD(lr="0.1"), r"SGD: lr must be a number .*got '0.1'"),
    (lambda: optim.Adam(lr=np.float32(-1)), r"Adam: lr must be in \[0.0, inf\), got np.float32\(-1.0\)"),
    (lambda: optim.SGD(momentum=True), r"SGD: momentum must be in \[0.0, 1.0\), got True"),
    (lambda: optim.SGD(momentum=0.9, nesterov="yes"), r"SGD: nesterov must be True or False, got 'yes'"),
    (lambda: optim.AdamW(weight_decay=-0.1), r"AdamW: weight_decay must be in \[0.0, inf\), got -0.1"),
    (lambda: optim.AdaGrad(eps=0.0), r"AdaGrad: eps must be in \(0.0, inf\), got 0.0"),
    (lambda: optim.RMSProp(momentum=1.0), r"RMSProp: momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: optim.Adam(beta2=np.nan), r"Adam: beta2 must be in"),
    (lambda: optim.SGD(clip_value=-1), r"SGD: clip_value must be in \(0.0, inf\), got -1"),
    (lambda: optim.SGD(l1="a"), r"SGD: l1 must be in"),
])
def test_bad_hyper_parameters_raise_config_error(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_config_round_trip():
    for opt in (optim.SGD(lr=schedules.Inv(0.1, 0.0005, 0.75), momentum=0.9, nesterov=True, weight_decay=1e-3),
                optim.Adam(lr=0.02, beta1=0.8, clip_norm=1.0, clip_value=3.0, l1=1e-4),
                optim.AdamW(weight_decay=0.0), optim.AdamW(), optim.RMSProp(momentum=0.5), optim.AdaGrad(eps=1e-6)):
        again = type(opt).from_config(opt.config())
        assert again.config() == opt.config() and repr(again) == repr(opt)
    assert optim.AdamW(weight_decay=0.0).config()["weight_decay"] == 0.0
    assert optim.AdamW.from_config(optim.AdamW(weight_decay=0.0).config()).weight_decay == 0.0
    with pytest.raises(ConfigError, match="SGD.from_config: .*'beta1'"):
        optim.SGD.from_config({"lr": 0.1, "beta1": 0.9})
    with pytest.raises(ConfigError, match="expected a dict with 'lr'"):
        optim.SGD.from_config({"momentum": 0.9})


def test_custom_lr_is_not_saved_and_must_be_set_again():
    opt = optim.SGD(lr=lambda step: 0.1, momentum=0.5)
    cfg = opt.config()
    assert cfg["lr"] is None and cfg["lr_custom"] is True
    again = optim.SGD.from_config(cfg)
    with pytest.raises(ConfigError, match="set it again before training"):
        again.current_lr()
    again.lr = 0.25
    assert again.current_lr() == 0.25


def test_weight_decay_may_be_a_schedule():
    """Each step decays with what the schedule gives for it: the same numbers as setting the decay
    by hand before every step, in the flat update and in a user's per-parameter rule alike."""
    decay = schedules.Exponential(0.2, 0.5)

    class PerParameter(optim.Optimizer):  # the older form: the rule for one parameter
        def update(self, p, g, state, lr, ops, decay):
            return ops.sub_(p, lr * g), state

    for make in (lambda **kw: optim.SGD(lr=0.1, momentum=0.9, **kw), lambda **kw: PerParameter(lr=0.1, **kw)):
        scheduled, by_hand = make(weight_decay=decay), make()
        a = {"w": np.ones((2, 3)), "b": np.ones(3)}
        b = {k: v.copy() for k, v in a.items()}
        g = {"w": np.full((2, 3), 0.5), "b": np.full(3, 0.5)}
        for step in range(4):
            by_hand.weight_decay = decay(step)
            a, b = scheduled.step(a, g), by_hand.step(b, g)
            np.testing.assert_array_equal(a["w"], b["w"])
            np.testing.assert_array_equal(a["b"], b["b"])
        assert scheduled.scalars(3)["weight_decay"] == 0.2 * 0.5**3
    with pytest.raises(ConfigError, match="SGD: the weight decay at step 0 is -1.0; it must be a finite number ≥ 0"):
        optim.SGD(weight_decay=lambda step: -1.0).step({"w": np.ones((2, 2))}, {"w": np.ones((2, 2))})


def test_a_weight_decay_schedule_is_saved_as_the_learning_rate_is():
    opt = optim.AdamW(weight_decay=schedules.Cosine(0.01, 100))
    again = optim.AdamW.from_config(opt.config())
    assert again.config() == opt.config() and again.weight_decay(50) == opt.weight_decay(50)
    custom = optim.SGD(weight_decay=lambda step: 0.1).config()
    assert custom["weight_decay"] == 0.0 and custom["weight_decay_custom"] is True
    with pytest.raises(ConfigError, match=r"custom weight decay callable.*model.optimizer.weight_decay = your_sch"):
        optim.SGD.from_config(custom).scalars(0)


def test_adam_eps_hat_places_epsilon_as_keras_and_sklearn_do():
    """eps_hat=True: ``w −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + eps)``, written out here step by step."""
    opt = optim.Adam(lr=0.1, beta1=0.8, beta2=0.9, eps=0.5, eps_hat=True)
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    p = {"w": w.copy()}
    for t in range(1, 4):
        g = np.array([0.3, -0.7]) * t
        m, v = 0.8 * m + 0.2 * g, 0.9 * v + 0.1 * g * g
        w = w - 0.1 * math.sqrt(1 - 0.9**t) / (1 - 0.8**t) * m / (np.sqrt(v) + 0.5)
        p = opt.step(p, {"w": g})
        np.testing.assert_allclose(p["w"], w, rtol=1e-14)
    plain = optim.Adam(lr=0.1, beta1=0.8, beta2=0.9, eps=0.5).step({"w": np.array([1.0, -2.0])},
                                                                   {"w": np.array([0.3, -0.7])})
    assert not np.allclose(plain["w"], optim.Adam(lr=0.1, beta1=0.8, beta2=0.9, eps=0.5, eps_hat=True).step(
        {"w": np.array([1.0, -2.0])}, {"w": np.array([0.3, -0.7])})["w"])
    assert optim.Adam.from_config(opt.config()).eps_hat is True and optim.AdamW(eps_hat=True).config()["eps_hat"]
    with pytest.raises(ConfigError, match="Adam: eps_hat must be True or False, got 'yes'"):
        optim.Adam(eps_hat="yes")


def test_step_needs_every_gradient():
    with pytest.raises(InputError, match=r"SGD.step: no gradient for \['b'\]"):
        optim.SGD().step({"w": np.zeros(1), "b": np.zeros(1)}, {"w": np.zeros(1)})


def test_a_schedule_returning_a_non_number_is_reported():
    opt = optim.SGD(lr=lambda step: "fast")
    with pytest.raises(ConfigError, match="SGD: the learning rate at step 0 is 'fast'"):
        opt.step({"w": np.zeros(1)}, {"w": np.zeros(1)})
    assert optim.SGD(lr=lambda step: np.float32(0.5)).current_lr() == 0.5
