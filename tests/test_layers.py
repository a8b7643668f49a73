"""Dense, Dropout, BatchNorm: gradient checks, cross-backend identity, document 002, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import anynet
from anynet.errors import BackendMismatchError, InputError
from anynet.layers import Activation, BatchNorm, Dense, Dropout
from anynet.testing import compare_backends, gradcheck

from .conftest import load_backend, tolerance


def _x(backend, shape, seed=0, dtype="float64", scale=1.0):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, dtype=dtype)


@settings(max_examples=6)
@given(n=st.integers(1, 5), din=st.integers(1, 6), dout=st.integers(1, 6),
       bias=st.booleans(), act=st.sampled_from([None, "tanh", "relu", "sigmoid"]),
       seed=st.integers(0, 2**16))
def test_dense_gradcheck(backend, n, din, dout, bias, act, seed):
    layer = Dense(din, dout, bias=bias, activation=act, seed=seed, dtype="float64", backend=backend)
    assert gradcheck(layer, _x(backend, (n, din), seed)).ok


def test_dense_gradcheck_full_mode(backend):
    layer = Dense(3, 2, activation="tanh", seed=1, dtype="float64", backend=backend)
    result = gradcheck(layer, _x(backend, (2, 3)), mode="full")
    assert result.ok and result.checks == 2 * 3 + 3 * 2 + 2


def test_dense_negative_control(backend):
    layer = Dense(4, 3, seed=0, dtype="float64", backend=backend)
    forward = layer._forward

    def broken(x, training):
        y, back = forward(x, training)

        def scaled(dy):
            dx = back(dy)
            layer.grads = {k: 1.01 * v for k, v in layer.grads.items()}
            return 1.01 * dx

        return y, scaled

    layer._forward = broken
    assert not gradcheck(layer, _x(backend, (5, 4))).ok


@settings(max_examples=4)
@given(n=st.integers(2, 6), d=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_batchnorm_gradcheck_train_and_eval(backend, n, d, seed):
    layer = BatchNorm(d, dtype="float64", backend=backend)
    layer.params["gamma"] = _x(backend, (d,), seed + 1)
    layer.params["beta"] = _x(backend, (d,), seed + 2)
    x = _x(backend, (n, d), seed, scale=2.0)
    assert gradcheck(layer, x, training=True).ok
    assert gradcheck(layer, x, training=False).ok


@settings(max_examples=4)
@given(n=st.integers(1, 5), d=st.integers(1, 5), p=st.sampled_from([0.1, 0.5, 0.9]),
       seed=st.integers(0, 2**16))
def test_dropout_gradcheck(backend, n, d, p, seed):
    layer = Dropout(p, seed=seed)
    assert gradcheck(layer, _x(backend, (n, d), seed), training=True).ok


def test_dropout_masks_identical_on_every_backend(backend):
    x = np.ones((8, 16))
    ref, _ = Dropout(0.3, seed=7).forward(x, training=True)
    got, _ = Dropout(0.3, seed=7).forward(backend.asarray(x, dtype="float64"), training=True)
    np.testing.assert_array_equal(anynet.to_numpy(got), ref)
    assert set(np.unique(ref)) <= {0.0, 1 / 0.7}


def test_dropout_is_identity_in_eval_and_validates_p():
    x = np.ones((3, 3))
    y, _ = Dropout(0.5, seed=0).forward(x, training=False)
    assert y is x
    for bad in (-0.1, 1.0, "0.5", True):
        with pytest.raises(ValueError, match="p must be a probability"):
            Dropout(bad)


def test_batchnorm_running_statistics(backend):
    layer = BatchNorm(3, momentum=0.5, dtype="float64", backend=backend)
    x = np.random.default_rng(0).standard_normal((6, 3)) * 2 + 1
    layer.forward(backend.asarray(x, dtype="float64"), training=True)
    np.testing.assert_allclose(anynet.to_numpy(layer.buffers["running_mean"]), 0.5 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(anynet.to_numpy(layer.buffers["running_var"]),
                               0.5 + 0.5 * x.var(0, ddof=1), rtol=1e-12)
    y, _ = layer.forward(backend.asarray(x, dtype="float64"), training=False)
    expect = (x - 0.5 * x.mean(0)) / np.sqrt(0.5 + 0.5 * x.var(0, ddof=1) + 1e-5)
    np.testing.assert_allclose(anynet.to_numpy(y), expect, rtol=1e-10)


def test_same_seed_gives_bitwise_identical_weights(backend, dtype):
    ref = Dense(7, 5, seed=11, dtype=dtype, backend="numpy")
    got = Dense(7, 5, seed=11, dtype=dtype, backend=backend)
    for k in ("W", "b"):
        np.testing.assert_array_equal(anynet.to_numpy(got.params[k]), ref.params[k])
        assert str(anynet.to_numpy(got.params[k]).dtype) == dtype


@pytest.mark.parametrize("make", [
    lambda: Dense(5, 4, activation="tanh", seed=3),
    lambda: Dense(5, 4, bias=False, activation="softmax", seed=3),
    lambda: BatchNorm(5),
    lambda: Activation("gelu"),
    lambda: Dropout(0.4, seed=5),
], ids=["dense-tanh", "dense-softmax", "batchnorm", "gelu", "dropout"])
def test_gradients_identical_across_backends(backend, dtype, make):
    x = np.random.default_rng(2).standard_normal((6, 5))
    (row,) = compare_backends(make, x, backends=[backend.spec], dtypes=[dtype])
    tol = tolerance(dtype)["rtol"]
    assert row.max_rel_diff is not None and row.max_rel_diff <= tol, row


# -- document 002 through anynet's own layers ---------------------------------------------------
def _const(values):
    return lambda shape, rng: np.asarray(values, dtype=np.float64).reshape(shape)


def test_document_002_network_output(backend):
    # every neuron has w = [0, 1], b = 0: column j of W holds neuron j's weights
    hidden = Dense(2, 2, init=_const([[0, 0], [1, 1]]), activation="sigmoid", dtype="float64", backend=backend)
    out = Dense(2, 1, init=_const([[0], [1]]), activation="sigmoid", dtype="float64", backend=backend)
    y = out(hidden(backend.asarray(np.asarray([[2.0, 3.0]]), dtype="float64")))
    assert float(anynet.to_numpy(y)[0, 0]) == pytest.approx(0.7216325609518421, abs=1e-15)


def test_document_002_worked_gradient(backend):
    from anynet.losses import MSE

    ones = _const(np.ones(4))
    hidden = Dense(2, 2, init=ones, activation="sigmoid", dtype="float64", backend=backend)
    out = Dense(2, 1, init=_const([[1], [1]]), activation="sigmoid", dtype="float64", backend=backend)
    x = backend.asarray(np.asarray([[-2.0, -1.0]]), dtype="float64")
    h, back_h = hidden.forward(x, training=True)
    o, back_o = out.forward(h, training=True)
    _, back_loss = MSE().forward(o, backend.asarray(np.asarray([[1.0]]), dtype="float64"))
    back_h(back_o(back_loss()))
    dw1 = float(anynet.to_numpy(hidden.grads["W"])[0, 0])
    # the document's chain rule, exactly: dL/dy * dy/dh1 * dh1/dw1
    sig = lambda t: 1 / (1 + np.exp(-t))
    h1 = sig(-3.0)
    o1 = sig(2 * h1)
    expect = -2 * (1 - o1) * (o1 * (1 - o1)) * (-2 * h1 * (1 - h1))
    assert dw1 == pytest.approx(expect, rel=1e-12)
    assert round(dw1, 4) == 0.0215 and str(dw1).startswith("0.0214695")


# -- bad input ------------------------------------------------------------------------------
def test_bad_input_errors_name_the_layer_and_shapes(backend):
    layer = Dense(3, 2, seed=0, backend=backend)
    good = np.zeros((4, 3), np.float32)
    cases = [
        (backend.asarray(np.zeros((4, 5)), dtype="float32"), InputError, r"Dense\(in_features=3, out_features=2\).*5 features.*3 were expected.*\(4, 5\)"),
        (backend.asarray(np.zeros(3), dtype="float32"), InputError, r"must be 2-D.*\(3,\).*reshape\(1, -1\)"),
        (backend.asarray(np.zeros((0, 3)), dtype="float32"), InputError, "0 samples"),
        (backend.asarray(np.zeros((4, 3), np.int32)), TypeError, "floating-point.*int32"),
        (backend.asarray(np.zeros((4, 3), bool)), TypeError, "floating-point.*bool"),
        (backend.asarray(np.full((4, 3), np.nan), dtype="float32"), InputError, "contains NaN"),
        (backend.asarray(np.full((4, 3), np.inf), dtype="float32"), InputError, "contains infinity"),
        ("not an array", TypeError, "must be an array"),
    ]
    if backend.name not in ("jax",):  # jax has no complex default on all devices; numpy covers it
        cases.append((backend.asarray(np.zeros((4, 3), np.complex64)), TypeError, "floating-point.*complex"))
    for x, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            layer(x)
    assert layer(backend.asarray(good, dtype="float32")).shape == (4, 2)


def test_dtype_mismatch_is_explained(backend):
    layer = Dense(3, 2, seed=0, dtype="float32", backend=backend)
    with pytest.raises(TypeError, match="X has dtype float64 but the layer's parameters are float32"):
        layer(backend.asarray(np.zeros((2, 3)), dtype="float64"))


def test_mixed_backends_are_refused(request):
    load_backend("torch", request.config)
    layer = Dense(3, 2, seed=0, backend="numpy")
    with pytest.raises(BackendMismatchError, match="torch:cpu.*numpy:cpu.*anynet.to_device"):
        layer(anynet.to_device(np.zeros((2, 3), np.float32), "torch"))


def test_inputs_are_never_mutated(backend):
    x_host = np.random.default_rng(0).standard_normal((5, 4))
    for layer in (Dense(4, 3, activation="relu", seed=0, dtype="float64", backend=backend),
                  BatchNorm(4, dtype="float64", backend=backend), Dropout(0.5, seed=0),
                  Activation("softmax")):
        x = backend.asarray(x_host, dtype="float64")
        y, back = layer.forward(x, training=True)
        dy_host = np.ones(tuple(y.shape))
        dy = backend.asarray(dy_host, dtype="float64")
        back(dy)
        np.testing.assert_array_equal(anynet.to_numpy(x), x_host)
        np.testing.assert_array_equal(anynet.to_numpy(dy), dy_host)


def test_constructor_validation():
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        Dense(0, 3)
    with pytest.raises(ValueError, match="unknown initialiser"):
        Dense(2, 3, init="nope")
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm(-1)


def test_layer_to_and_astype(request):
    load_backend("torch", request.config)
    layer = Dense(3, 2, seed=0)
    w = layer.params["W"].copy()
    layer.to("torch").astype("float64")
    assert anynet.backend_of(layer.params["W"]).name == "torch"
    np.testing.assert_array_equal(anynet.to_numpy(layer.params["W"]), w.astype(np.float64))


@pytest.mark.parametrize("generic_name", ["array_api_strict", "torch", "jax"])
def test_dense_large_weight_gradient_reuses_its_buffer_and_matches_the_standard_path(generic_name, request):
    """NumPy writes a large dW into last step's array; the numbers equal the generic path's."""
    backend = load_backend(generic_name, request.config)
    din, dout = 300, 256  # dW has 76,800 elements: over numpy's REUSE_MIN_SIZE
    fast = Dense(din, dout, activation="relu", seed=3, dtype="float64", backend="numpy")
    generic = Dense(din, dout, activation="relu", seed=3, dtype="float64", backend=backend)
    first = None
    for step in range(3):
        x = np.random.default_rng(step).standard_normal((5, din))
        dy = np.random.default_rng(10 + step).standard_normal((5, dout))
        _, back = fast.forward_backward(x)
        back(dy)
        _, gback = generic.forward_backward(backend.asarray(x, dtype="float64"))
        gback(backend.asarray(dy, dtype="float64"))
        first = fast.grads["W"] if first is None else first
        assert fast.grads["W"] is first  # the same buffer every step
        np.testing.assert_allclose(fast.grads["W"], anynet.to_numpy(generic.grads["W"]), **tolerance("float64"))
        np.testing.assert_allclose(fast.grads["b"], anynet.to_numpy(generic.grads["b"]), **tolerance("float64"))


def test_model_gradients_returns_copies(backend):
    model = anynet.Sequential([Dense(300, 256, activation="relu"), Dense(256, 3)], seed=0, dtype="float64",
                              backend=backend)
    x = _x(backend, (4, 300))
    y = backend.asarray(np.array([0, 1, 2, 0]))
    _, first = model.gradients(x, y, "softmax_cross_entropy")
    kept = {k: anynet.to_numpy(v) for k, v in first.items()}
    model.gradients(_x(backend, (4, 300), seed=1), y, "softmax_cross_entropy")
    for k, v in first.items():
        np.testing.assert_array_equal(anynet.to_numpy(v), kept[k])
