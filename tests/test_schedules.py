"""Learning-rate schedules against their formulas."""

from __future__ import annotations

import math

import pytest

from anynet import schedules as S


def test_formulas():
    for step in (0, 1, 10, 799, 5000):
        assert S.Constant(0.1)(step) == 0.1
        assert S.Inv(0.1, 0.0005, 0.75)(step) == pytest.approx(0.1 * (1 + 0.0005 * step) ** -0.75, rel=1e-15)
        assert S.Step(1.0, 100, 0.5)(step) == 0.5 ** (step // 100)
        assert S.Exponential(1.0, 0.99)(step) == pytest.approx(0.99**step)
        t = min(step, 1000) / 1000
        assert S.Cosine(1.0, 1000, 0.1)(step) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * t)))


def test_warmup_and_chain_compose():
    w = S.Warmup(S.Inv(1.0, 0.1, 1.0), steps=10, start_factor=0.5)
    assert w(0) == pytest.approx(0.5 + 0.5 * 1 / 10)
    assert w(10) == S.Inv(1.0, 0.1, 1.0)(10)
    c = S.Chain([(0, S.Constant(1.0)), (5, S.Exponential(1.0, 0.5))])
    assert [c(i) for i in (0, 4, 5, 6)] == [1.0, 1.0, 1.0, 0.5]


def test_config_round_trip():
    for s in (S.Inv(0.1), S.Warmup(S.Cosine(1.0, 100), 5), S.Chain([(0, S.Constant(1.0)), (3, S.Step(1.0, 2))])):
        assert S.from_config(S.to_config(s)) == s
    assert S.to_config(lambda step: 1.0) is None
    with pytest.raises(ValueError, match="unknown schedule"):
        S.from_config({"type": "os.system"})


@pytest.mark.parametrize("make", [lambda: S.Inv(-1.0), lambda: S.Step(1.0, 0), lambda: S.Cosine(1.0, 0),
                                  lambda: S.Warmup(3.0, 5), lambda: S.Chain([(2, S.Constant(1.0))])])
def test_validation(make):
    with pytest.raises(ValueError):
        make()


def test_numpy_scalars_are_accepted_and_configs_are_json():
    import json

    import numpy as np

    s = S.Step(np.float32(0.5), np.int64(10), gamma=np.float64(0.1))
    assert s(25) == pytest.approx(0.005)
    config = S.to_config(s)
    assert json.loads(json.dumps(config)) == {"type": "Step", "base_lr": 0.5, "step_size": 10, "gamma": 0.1}
    assert S.from_config(config) == s
    assert S.Exponential(1.0, 0.5)(np.int64(2)) == 0.25
    assert S.to_config(np.float32(0.25)) == 0.25
    assert S.Chain([(0, 1.0), (np.int64(5), 0.5)])(7) == 0.5


@pytest.mark.parametrize("make", [
    lambda: S.Constant(-1.0), lambda: S.Constant(float("inf")), lambda: S.Constant("0.1"), lambda: S.Inv(True),
    lambda: S.Step(1.0, 2.5), lambda: S.Step(1.0, -3), lambda: S.Exponential(1.0, 0.0), lambda: S.Cosine(1.0, -10),
    lambda: S.Warmup(S.Constant(1.0), -5), lambda: S.Warmup(S.Constant(1.0), 5, start_factor=2.0),
    lambda: S.Chain([(0, S.Constant(1.0)), (-1, S.Constant(1.0))]), lambda: S.Chain([(0, "x")]),
    lambda: S.Chain([(0.5, S.Constant(1.0))]), lambda: S.Chain(3), lambda: S.from_config({"type": "Inv"}),
    lambda: S.from_config({"type": "Inv", "base_lr": 1.0, "beta": 2.0}), lambda: S.from_config([1]),
])
def test_bad_options_are_config_errors(make):
    from anynet.errors import ConfigError

    with pytest.raises(ConfigError):
        make()


def test_overflow_is_a_config_error_and_underflow_is_zero():
    from anynet.errors import ConfigError

    # 2.0 ** 5000 raised a bare OverflowError before
    with pytest.raises(ConfigError, match="overflows at step 5000"):
        S.Exponential(1.0, 2.0)(5000)
    with pytest.raises(ConfigError, match="overflows"):
        S.Step(1.0, 1, gamma=10.0)(400)
    with pytest.raises(ConfigError, match="overflows"):
        S.Exponential(1e307, 1.5)(10)  # finite power, infinite product
    assert S.Exponential(1.0, 0.5)(10**400) == 0.0
    assert S.Exponential(1.0, 1.0)(10**400) == 1.0
    assert S.Exponential(1.0, 2.0)(10) == 1024.0


def test_negative_steps_are_input_errors():
    from anynet.errors import InputError

    for s in (S.Constant(0.1), S.Inv(0.1), S.Step(1.0, 2), S.Exponential(1.0, 0.5), S.Cosine(1.0, 10),
              S.Warmup(S.Constant(1.0), 2), S.Chain([(0, S.Constant(1.0))])):
        with pytest.raises(InputError, match="step must be a number ≥ 0"):
            s(-1)
        with pytest.raises(InputError):
            s(float("nan"))
