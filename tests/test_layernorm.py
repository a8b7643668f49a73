"""LayerNorm: the conformance suite on every backend, gradients, agreement with torch.nn.LayerNorm,
extreme inputs and the configuration round trip."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import anynet
from anynet import registry
from anynet.layers import LayerNorm, deferred_init
from anynet.testing import check_layer, gradcheck

from .conftest import load_backend


def _x(backend, shape, seed=0, dtype="float64", scale=1.0, shift=0.0):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape) * scale + shift, dtype=dtype)


def _reference(x, gamma, beta, eps):
    """NumPy float64, written from the definition (biased variance over each row)."""
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("make", [lambda: LayerNorm(5), lambda: LayerNorm(5, eps=1e-2),
                                  lambda: LayerNorm(5, elementwise_affine=False)],
                         ids=["affine", "eps", "no-affine"])
def test_passes_the_conformance_suite(backend, make):
    report = check_layer(make, backends=[backend.spec])
    assert report.ok, str(report)
    assert len(report.checks) == 6


@settings(max_examples=6)
@given(n=st.integers(1, 5), d=st.integers(2, 6), affine=st.booleans(), training=st.booleans(),
       seed=st.integers(0, 2**16))
def test_gradcheck_float64(backend, n, d, affine, training, seed):
    layer = LayerNorm(d, elementwise_affine=affine, dtype="float64", backend=backend)
    if affine:
        layer.params["gamma"] = _x(backend, (d,), seed + 1)
        layer.params["beta"] = _x(backend, (d,), seed + 2)
    assert gradcheck(layer, _x(backend, (n, d), seed, scale=3.0, shift=1.0), training=training).ok


def test_gradcheck_full_mode():
    layer = LayerNorm(3, dtype="float64")
    layer.params["gamma"] = np.asarray([0.5, -1.0, 2.0])
    result = gradcheck(layer, np.random.default_rng(0).standard_normal((2, 3)), mode="full")
    assert result.ok and result.checks == 2 * 3 + 3 + 3


def test_forward_matches_the_definition(backend):
    layer = LayerNorm(4, eps=1e-3, dtype="float64", backend=backend)
    gamma, beta = np.asarray([1.0, -2.0, 0.5, 3.0]), np.asarray([0.1, 0.2, -0.3, 0.0])
    layer.params["gamma"], layer.params["beta"] = (backend.asarray(v, dtype="float64") for v in (gamma, beta))
    x = np.random.default_rng(1).standard_normal((6, 4)) * 4 - 2
    y = anynet.to_numpy(layer(backend.asarray(x, dtype="float64")))
    np.testing.assert_allclose(y, _reference(x, gamma, beta, 1e-3), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_equals_torch_layernorm_forward_and_backward(request, affine, eps):
    load_backend("torch", request.config)
    import torch

    rng = np.random.default_rng(7)
    n, d = 9, 6
    x = rng.standard_normal((n, d)) * 3 + 1
    dy = rng.standard_normal((n, d))
    ours = LayerNorm(d, eps=eps, elementwise_affine=affine, dtype="float64")
    ref = torch.nn.LayerNorm(d, eps=eps, elementwise_affine=affine, dtype=torch.float64)
    if affine:
        gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
        ours.params["gamma"], ours.params["beta"] = gamma, beta
        with torch.no_grad():
            ref.weight.copy_(torch.from_numpy(gamma))
            ref.bias.copy_(torch.from_numpy(beta))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.from_numpy(dy))
    y, back = ours.forward(x, training=True)
    dx = back(dy)

    def close(got, want):
        want = want.detach().numpy()
        assert np.linalg.norm(got - want) <= 1e-12 * np.linalg.norm(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())

    close(y, yt)
    close(dx, xt.grad)
    if affine:
        close(ours.grads["gamma"], ref.weight.grad)
        close(ours.grads["beta"], ref.bias.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_inputs_give_no_nan(backend, dtype):
    if dtype not in backend.float_dtypes():
        pytest.skip(f"{backend.spec} has no {dtype}")
    d = 5
    big = 1e15 if dtype == "float64" else 1e18
    rows = np.asarray([
        np.zeros(d),                   # constant: variance 0
        np.full(d, 7.25),
        np.full(d, -3e6),              # constant and large: the mean is not exact in float32
        np.full(d, big),
        np.full(d, 1e-30),
        [0, 0, 0, 0, 1e-20],           # variance far below eps
        [big, -big, big, -big, 0.0],   # huge spread: squares near the top of the range
        [1e-30, 2e-30, 3e-30, 4e-30, 5e-30],
        [1, 2, 3, 4, 5],
    ])
    layer = LayerNorm(d, dtype=dtype, backend=backend)
    layer.params["beta"] = backend.asarray(np.arange(d) / 10, dtype=dtype)
    x = backend.asarray(rows, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        y, back = layer.forward(x, training=True)
        dx = back(backend.asarray(np.ones((len(rows), d)), dtype=dtype))
    y, dx = anynet.to_numpy(y), anynet.to_numpy(dx)
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    assert all(np.isfinite(anynet.to_numpy(g)).all() for g in layer.grads.values())
    # an exactly constant row normalises to 0, so the output is beta
    np.testing.assert_array_equal(y[[0, 1, 3, 4]], np.broadcast_to(np.arange(d, dtype=dtype) / 10, (4, d)))
    np.testing.assert_allclose(y[8], (np.arange(5) - 2) / np.sqrt(2 + 1e-5) + np.arange(d) / 10, rtol=1e-5)


def test_a_batch_of_one_trains():
    _, back = LayerNorm(3).forward(np.asarray([[1.0, 2.0, 4.0]], np.float32), training=True)
    assert LayerNorm.min_batch_size == 1
    assert np.isfinite(back(np.ones((1, 3), np.float32))).all()


def test_config_round_trip():
    for layer in (LayerNorm(4), LayerNorm(4, eps=1e-3), LayerNorm(6, elementwise_affine=False)):
        cfg = json.loads(json.dumps(layer.config()))
        again = registry.lookup("layer", "LayerNorm").from_config(cfg)
        assert again.config() == layer.config() and repr(again) == repr(layer)
        assert again.state_shapes() == layer.state_shapes()
        x = np.random.default_rng(0).standard_normal((3, layer.in_features)).astype(np.float32)
        np.testing.assert_array_equal(again(x), layer(x))
    assert LayerNorm(4).config() == {"num_features": 4}
    assert LayerNorm(4, eps=1e-3, elementwise_affine=False).config() == {
        "num_features": 4, "eps": 1e-3, "elementwise_affine": False}
    assert repr(LayerNorm(4, eps=1e-3)) == "LayerNorm(num_features=4, eps=0.001)"


def test_parameters_shapes_and_deferred_init():
    layer = LayerNorm(4)
    assert {k: tuple(v.shape) for k, v in layer.params.items()} == {"gamma": (4,), "beta": (4,)}
    np.testing.assert_array_equal(layer.params["gamma"], np.ones(4))
    np.testing.assert_array_equal(layer.params["beta"], np.zeros(4))
    assert layer.n_params() == 8 and layer.buffers == {}
    assert LayerNorm(4, elementwise_affine=False).params == {}
    with deferred_init():
        lazy = LayerNorm(1000)
    assert lazy.params == {} and lazy.state_shapes() == {"gamma": (1000,), "beta": (1000,)}


def test_without_parameters_it_follows_the_input(request):
    load_backend("torch", request.config)
    layer = LayerNorm(3, elementwise_affine=False)
    x = np.asarray([[1.0, 2.0, 3.0]])
    y64 = layer(x)  # float64, although the default dtype is float32: there are no parameters to match
    y_torch = layer(anynet.to_device(x.astype(np.float32), "torch"))
    assert y64.dtype == np.float64 and anynet.backend_of(y_torch).name == "torch"
    np.testing.assert_allclose(anynet.to_numpy(y_torch), y64, rtol=1e-6)


def test_bad_input_names_the_layer():
    layer = LayerNorm(3)
    with pytest.raises(anynet.InputError, match=r"LayerNorm\(num_features=3\).forward: X has 4 features per "
                                                "sample but 3 were expected"):
        layer(np.zeros((2, 4), np.float32))
