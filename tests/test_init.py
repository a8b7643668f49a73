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


# -- drawing in the model's dtype (issue 20: a float32 weight cost its float64 copy too) -------------
BUILT_IN = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "normal", "uniform",
            "zeros", "ones"]


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("shape", [(37, 23), (5,), (301, 2)])
def test_sample_in_blocks_equals_the_whole_float64_draw_cast(name, shape):
    f = init.get(name)
    whole_rng, block_rng = np.random.default_rng(5), np.random.default_rng(5)
    whole = f(shape, whole_rng)
    for dtype in ("float32", "float64"):
        got = init.sample(f, shape, block_rng if dtype == "float32" else np.random.default_rng(5), dtype,
                          chunk_bytes=64)  # a few rows at a time
        assert got.dtype == np.dtype(dtype) and got.shape == shape
        np.testing.assert_array_equal(got, whole.astype(dtype))
    assert block_rng.random() == whole_rng.random()  # the generator ends where the whole draw left it


def test_sample_bounds_the_float64_temporary(monkeypatch):
    f = init.get("he_uniform")
    sizes = []
    rows = f.rows
    monkeypatch.setattr(init.VarianceScaling, "rows", lambda self, shape, count, rng: (
        sizes.append(count * shape[1] * 8), rows(shape, count, rng))[1])
    w = init.sample(f, (1000, 500), np.random.default_rng(0), "float32", chunk_bytes=1 << 20)
    assert w.dtype == np.float32 and max(sizes) <= 1 << 20 and len(sizes) == 4  # 262 rows of 4000 bytes a block


def test_an_initialiser_that_redefines_call_is_called_whole():
    class Doubled(init.VarianceScaling):  # rows() inherited would ignore this __call__
        def __call__(self, shape, rng):
            return 2 * super().__call__(shape, rng)

    f = Doubled(2.0, "fan_in", "uniform")
    got = init.sample(f, (20, 10), np.random.default_rng(1), "float32", chunk_bytes=8)
    np.testing.assert_array_equal(got, f((20, 10), np.random.default_rng(1)).astype(np.float32))


@pytest.mark.parametrize("init_name", ["he_uniform", "glorot_normal"])
def test_dense_weights_are_todays_on_every_backend(backend, dtype, init_name, monkeypatch):
    """One seed, the same weights as before blocks: the whole float64 draw cast to the dtype."""
    import anynet
    from anynet.layers import Dense

    monkeypatch.setattr(init, "SAMPLE_CHUNK_BYTES", 7 * 70 * 8)  # 7 rows a block: 19 blocks
    layer = Dense(130, 70, init=init_name, seed=11, dtype=dtype, backend=backend)
    rng = np.random.default_rng(11)
    want_w = init.get(init_name)((130, 70), rng).astype(dtype)
    np.testing.assert_array_equal(anynet.to_numpy(layer.params["W"]), want_w)
    np.testing.assert_array_equal(anynet.to_numpy(layer.params["b"]), np.zeros(70, dtype))
