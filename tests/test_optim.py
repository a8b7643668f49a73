"""Optimizers against NumPy float64 references of their published rules, and torch.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anynet
from anynet import optim, schedules


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
    opt = optim.SGD(lr=0.1, momentum=0.9)
    p = backend.asarray(np.ones((2, 2)), dtype="float64")
    out = opt.step({"w": p}, {"w": backend.asarray(np.ones((2, 2)), dtype="float64")})
    assert (out["w"] is p) == backend.writeable
    np.testing.assert_allclose(anynet.to_numpy(out["w"]), 0.9)


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
