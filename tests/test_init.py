"""Initialisers: distributions, fans, document 004's Xavier, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anynet import init


def _draw(name, shape=(400, 300), seed=0, **kw):
    return init.get(name, **kw)(shape, np.random.default_rng(seed))


@pytest.mark.parametrize(
    "name,std",
    [("glorot_normal", math.sqrt(2 / 700)), ("he_normal", math.sqrt(2 / 400)),
     ("lecun_normal", math.sqrt(1 / 400)), ("normal", 1.0)],
)
def test_normal_family_std(name, std):
    w = _draw(name)
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 0.02 * std + 1e-3


@pytest.mark.parametrize(
    "name,limit",
    [("glorot_uniform", math.sqrt(6 / 700)), ("xavier_uniform", math.sqrt(6 / 700)),
     ("he_uniform", math.sqrt(6 / 400)), ("kaiming_uniform", math.sqrt(6 / 400)),
     ("lecun_uniform", math.sqrt(3 / 400))],
)
def test_uniform_family_limits(name, limit):
    w = _draw(name)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit


def test_document_004_xavier_variant():
    w = _draw("glorot_uniform", shape=(784, 50), fan_offset=1)
    limit = math.sqrt(6) / math.sqrt(784 + 50 + 1)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit


def test_document_003_small_normal():
    w = _draw("normal", std=0.01)
    assert abs(w.std() - 0.01) < 0.001


def test_constant_and_zeros():
    assert (_draw("zeros") == 0).all() and (_draw("ones") == 1).all()
    assert (_draw("constant", value=0.5) == 0.5).all()


def test_same_seed_same_draw_and_different_seed_differs():
    np.testing.assert_array_equal(_draw("he_normal", seed=3), _draw("he_normal", seed=3))
    assert not np.array_equal(_draw("he_normal", seed=3), _draw("he_normal", seed=4))


def test_unknown_initialiser():
    with pytest.raises(ValueError, match="unknown initialiser 'glorot'; known: zeros"):
        init.get("glorot")
    with pytest.raises(ValueError, match="mode must be"):
        init.VarianceScaling(mode="fan_middle")


def test_description_round_trip():
    for obj in (init.get("glorot_uniform", fan_offset=1), init.get("normal", std=0.01),
                init.get("constant", value=2.0)):
        assert init.from_description(init.describe(obj)) == obj


def test_bad_options_are_config_errors():
    from anynet.errors import ConfigError, InputTypeError, UnknownNameError

    for name, options in [("normal", {"std": -1.0}), ("normal", {"std": "0.1"}), ("uniform", {"low": 1.0, "high": 0.0}),
                          ("constant", {"value": float("nan")}), ("glorot_uniform", {"gain": None}),
                          ("he_normal", {"gain": 2.0}), ("variance_scaling", {"distribution": "cauchy"}),
                          ("zeros", {"value": 1.0})]:
        with pytest.raises(ConfigError):
            init.get(name, **options)
    with pytest.raises(UnknownNameError):
        init.get("glorot")
    with pytest.raises(InputTypeError):
        init.get(3)
    with pytest.raises(ConfigError):
        init.from_description({"type": 3})
    with pytest.raises(UnknownNameError):
        init.from_description({"type": "os.system"})


def test_numpy_scalars_are_accepted_and_descriptions_are_json():
    import json

    obj = init.get("normal", std=np.float32(0.5), mean=np.int64(1))
    assert obj == init.Normal(0.5, 1.0)
    desc = init.describe(obj)
    assert json.loads(json.dumps(desc)) == {"type": "normal", "std": 0.5, "mean": 1.0}
    # descriptions written with the class names still load
    assert init.from_description({"type": "VarianceScaling", "scale": 2.0}) == init.VarianceScaling(2.0)
    assert init.describe(lambda shape, rng: np.zeros(shape)) is None
