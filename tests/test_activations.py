"""Activations: gradient checks on every backend, stability, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import anynet
from anynet import activations
from anynet.activations import ActivationFn
from anynet.layers import Activation
from anynet.testing import gradcheck

NAMES = activations.names()


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=5)
@given(n=st.integers(1, 4), d=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_gradcheck_every_activation(backend, name, n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d)) * 3
    layer = Activation(name)
    result = gradcheck(layer, backend.asarray(x, dtype="float64"))
    assert result.ok, result.failures


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu", "softmax"])
def test_negative_control_scaled_backward_fails(backend, name):
    fn = activations.get(name)
    broken = ActivationFn(name, fn.forward, lambda x, y, dy: 1.01 * fn.backward(x, y, dy))
    x = backend.asarray(np.random.default_rng(0).standard_normal((3, 4)), dtype="float64")
    assert not gradcheck(Activation(broken), x).ok


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_stay_finite_without_warnings(backend, dtype, name):
    # RuntimeWarning is an error in this suite (pyproject filterwarnings), so an overflow fails
    big = 3e38 if dtype == "float32" else 1e300
    if name == "softmax":  # a row's spread must itself be a finite float: max - min < max float
        big = big / 2
    x = np.asarray([[-big, -1000.0, -80.0, 0.0, 80.0, 1000.0, big]])
    xd = backend.asarray(x, dtype=dtype)
    fn = activations.get(name)
    y = fn.forward(xd)
    dx = fn.backward(xd, y, backend.asarray(np.ones_like(x), dtype=dtype))
    assert np.isfinite(anynet.to_numpy(y)).all()
    assert np.isfinite(anynet.to_numpy(dx)).all()
    assert str(anynet.to_numpy(y).dtype) == dtype


def test_sigmoid_saturates_exactly(backend, dtype):
    y = anynet.to_numpy(activations.sigmoid(backend.asarray(np.asarray([-1000.0, 1000.0]), dtype=dtype)))
    assert y[0] == 0.0 and y[1] == 1.0


def test_document_002_sigmoid_of_7_on_every_backend(backend):
    y = activations.sigmoid(backend.asarray(np.asarray(7.0), dtype="float64"))
    assert float(anynet.to_numpy(y)) == 0.9990889488055994


def test_softmax_rows_sum_to_one(backend, dtype):
    x = backend.asarray(np.asarray([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]]), dtype=dtype)
    p = anynet.to_numpy(activations.softmax(x))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert p[0, 0] == 1.0


def test_values_match_reference_formulas():
    x = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(activations.softplus(x), np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(activations.silu(x), x / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(activations.get("elu").forward(x), np.where(x > 0, x, np.expm1(x)))
    torch = pytest.importorskip("torch", reason="torch not installed: no reference for gelu")
    ref = torch.nn.functional.gelu(torch.tensor(x), approximate="tanh").numpy()
    np.testing.assert_allclose(activations.gelu(x), ref, rtol=1e-12, atol=1e-15)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown activation 'relux'; known: identity, sigmoid"):
        activations.get("relux")
    with pytest.raises(ValueError, match="does not take options"):
        activations.get("relu", alpha=2.0)


def test_callable_pair_is_accepted():
    act = activations.get((lambda x: x * x, lambda x: 2 * x))
    layer = Activation(act)
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert gradcheck(layer, x).ok
    assert act.name == "custom"


def test_aliases():
    assert activations.get("swish").name == "silu"
    assert activations.get("linear").name == "identity"


def test_exact_gelu(backend, dtype):
    exact = activations.get("gelu", approximate="none")
    x = np.asarray([[-3e38 if dtype == "float32" else -1e300, -40.0, -8.0, -1.5, 0.0, 0.7, 2.5, 9.0, 1e30]])
    xd = backend.asarray(x, dtype=dtype)
    y = anynet.to_numpy(exact.forward(xd))
    dx = anynet.to_numpy(exact.backward(xd, exact.forward(xd), backend.asarray(np.ones_like(x), dtype=dtype)))
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    ref = np.asarray([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x[0, 1:-1]])
    np.testing.assert_allclose(y[0, 1:-1], ref, rtol=1e-12 if dtype == "float64" else 1e-5, atol=1e-30)
    if dtype == "float64":
        layer = Activation("gelu", approximate="none")
        xg = backend.asarray(np.random.default_rng(0).standard_normal((4, 5)) * 3, dtype="float64")
        assert gradcheck(layer, xg).ok


def test_exact_gelu_matches_torch():
    torch = pytest.importorskip("torch", reason="torch not installed: no reference for exact gelu")
    x = np.linspace(-12, 12, 2401)
    ref = torch.nn.functional.gelu(torch.tensor(x)).numpy()
    np.testing.assert_allclose(activations.get("gelu", approximate="none").forward(x), ref, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="approximate must be 'tanh' or 'none'"):
        activations.get("gelu", approximate="erf")


def test_bad_options_are_config_errors():
    from anynet.errors import ConfigError, InputTypeError, UnknownNameError

    for name, options in [("leaky_relu", {"alpha": "0.1"}), ("leaky_relu", {"alpha": None}),
                          ("leaky_relu", {"alpha": True}), ("elu", {"alpha": float("inf")}),
                          ("gelu", {"approximate": 1}), ("relu", {"alpha": 2.0}), ("elu", {"beta": 1.0})]:
        with pytest.raises(ConfigError):
            activations.get(name, **options)
    with pytest.raises(UnknownNameError, match="unknown activation 'relux'; known: identity, sigmoid"):
        activations.get("relux")
    with pytest.raises(InputTypeError):
        activations.get(3)
    with pytest.raises(ConfigError):
        activations.get("relu").__class__("", lambda x: x, lambda x, y, dy: dy)
    with pytest.raises(ConfigError, match="apply only to a registered name"):
        activations.get((lambda x: x, lambda x: 1.0), alpha=1.0)


def test_numpy_scalars_are_accepted_as_options():
    act = activations.get("leaky_relu", alpha=np.float32(0.5))
    assert act.options == {"alpha": 0.5} and type(act.options["alpha"]) is float
    assert act.forward(np.asarray([-2.0])).tolist() == [-1.0]
    assert activations.get("elu", alpha=np.int64(2)).options == {"alpha": 2.0}


def test_names_and_options_are_what_checkpoints_save():
    for name in activations.names():
        fn = activations.get(name)
        again = activations.get(fn.name, **fn.options)
        assert again.name == fn.name == name and again.options == fn.options
    assert activations.get("LeakY_ReLU", alpha=0.2).name == "leaky_relu"
    assert activations.names()[:2] == ["identity", "sigmoid"]
