"""Every optimizer against ``torch.optim``: 100 float64 steps on each backend, max relative
difference ≤ 1e-10.

Documented differences, and how the cases meet them:
- anynet's SGD momentum is Caffe's ``v = m·v + lr·g; w −= v``; torch keeps ``v / lr``. Equal for a
  constant rate, so SGD with momentum is compared at a constant rate only.
- anynet decays (``weight_decay``) only parameters with 2 or more dimensions; torch decays every
  parameter, so the torch bias goes in a parameter group with ``weight_decay=0``.
- AdaGrad's and RMSProp's eps sits outside the square root in both libraries.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import anynet
from anynet import optim, schedules

torch = pytest.importorskip("torch", reason="torch not installed: no reference optimizers")

STEPS = 100
LR = 0.01
#: the rate schedule the "inv" cases use; torch gets it as LambdaLR(base_lr · factor)
GAMMA, POWER = 0.05, 0.75

#: (anynet name, anynet options, torch class, torch options, schedule?)
CASES = [
    ("SGD", {}, "SGD", {}, False),
    ("SGD", {}, "SGD", {}, True),
    ("SGD", {"momentum": 0.9}, "SGD", {"momentum": 0.9}, False),
    ("SGD", {"momentum": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}, False),
    ("SGD", {"weight_decay": 0.05}, "SGD", {"weight_decay": 0.05}, False),
    ("SGD", {"momentum": 0.9, "weight_decay": 0.01}, "SGD", {"momentum": 0.9, "weight_decay": 0.01}, False),
    ("Adam", {}, "Adam", {}, False),
    ("Adam", {}, "Adam", {}, True),
    ("Adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}, "Adam", {"betas": (0.8, 0.99), "eps": 1e-6}, False),
    ("Adam", {"weight_decay": 0.01}, "Adam", {"weight_decay": 0.01}, False),
    ("AdamW", {}, "AdamW", {}, False),
    ("AdamW", {"weight_decay": 0.1}, "AdamW", {"weight_decay": 0.1}, True),
    ("RMSProp", {}, "RMSprop", {}, False),
    ("RMSProp", {}, "RMSprop", {}, True),
    ("RMSProp", {"alpha": 0.9, "eps": 1e-6}, "RMSprop", {"alpha": 0.9, "eps": 1e-6}, False),
    ("RMSProp", {"momentum": 0.5}, "RMSprop", {"momentum": 0.5}, False),
    ("RMSProp", {"momentum": 0.5, "weight_decay": 0.01}, "RMSprop", {"momentum": 0.5, "weight_decay": 0.01}, True),
    ("AdaGrad", {}, "Adagrad", {}, False),
    ("AdaGrad", {}, "Adagrad", {}, True),
    ("AdaGrad", {"eps": 1e-6, "weight_decay": 0.01}, "Adagrad", {"eps": 1e-6, "weight_decay": 0.01}, False),
]
IDS = [f"{c[0]}{c[1] or ''}{'-inv' if c[4] else ''}" for c in CASES]


def _data() -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """A weight matrix and a bias in float64, and a fixed sequence of random gradients."""
    g = np.random.default_rng(2024)
    params = {"0.W": g.standard_normal((5, 4)), "0.b": g.standard_normal(4)}
    grads = [{k: g.standard_normal(v.shape) for k, v in params.items()} for _ in range(STEPS)]
    return params, grads


@functools.cache
def _torch_result(i: int) -> dict[str, np.ndarray]:
    _, _, theirs, tkw, scheduled = CASES[i]
    p0, grads = _data()
    tp = {k: torch.nn.Parameter(torch.tensor(v)) for k, v in p0.items()}
    # torch decays every parameter; anynet only those with ndim >= 2
    groups = [{"params": [tp["0.W"]]}, {"params": [tp["0.b"]]}]
    if "weight_decay" in tkw or theirs == "AdamW":
        groups[1]["weight_decay"] = 0.0
    topt = getattr(torch.optim, theirs)(groups, lr=LR, **tkw)
    sched = None
    if scheduled:
        sched = torch.optim.lr_scheduler.LambdaLR(topt, lambda t: (1.0 + GAMMA * t) ** (-POWER))
    for gr in grads:
        for k, p in tp.items():
            p.grad = torch.tensor(gr[k])
        topt.step()
        if sched is not None:
            sched.step()
    return {k: p.detach().numpy().copy() for k, p in tp.items()}


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_matches_torch_optim_over_100_steps(backend, case):
    if not backend.has_float64:
        pytest.skip(f"{backend} has no float64")
    ours, kw, _, _, scheduled = CASES[case]
    lr = schedules.Inv(LR, gamma=GAMMA, power=POWER) if scheduled else LR
    opt = optim.get(ours, lr=lr, **kw)
    p0, grads = _data()
    params = {k: backend.asarray(v, dtype="float64") for k, v in p0.items()}
    for gr in grads:
        params = opt.step(params, {k: backend.asarray(v, dtype="float64") for k, v in gr.items()})
    assert opt.iterations == STEPS
    expect = _torch_result(case)
    for key, want in expect.items():
        got = anynet.to_numpy(params[key])
        assert got.dtype == np.float64
        rel = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300))
        assert rel <= 1e-10, f"{key}: max relative difference {rel:.3g} from torch.optim.{CASES[case][2]}"
        # the run moved the parameters: the comparison is not of two untouched copies
        assert np.max(np.abs(want - p0[key])) > 1e-3
