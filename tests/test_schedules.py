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
