"""Dense, Dropout, BatchNorm: gradient checks, cross-backend identity, document 002, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    forward = layer.forward

    def broken(x, *, training=False, need_dx=True):
        y, back = forward(x, training=training, need_dx=need_dx)

        def scaled(dy):
            dx = back(dy)
            layer.grads = {k: 1.01 * v for k, v in layer.grads.items()}
            return 1.01 * dx

        return y, scaled

    layer.forward = broken
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
        (backend.asarray(np.zeros((4, 5)), dtype="float32"), InputError,
         r"Dense\(in_features=3, out_features=2\).*5 features.*3 were expected.*\(4, 5\)"),
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
        _, back = fast.forward(x, training=True)
        back(dy)
        _, gback = generic.forward(backend.asarray(x, dtype="float64"), training=True)
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


# -- the one layer contract -----------------------------------------------------------------------
def test_every_built_in_layer_is_registered_under_its_class_name():
    from anynet import layers, registry

    for cls in (Activation, BatchNorm, Dense, Dropout, layers.LayerNorm, layers.Add, layers.Concatenate):
        assert registry.lookup("layer", cls.__name__) is cls
        assert registry.name_of("layer", cls) == cls.__name__
    assert not hasattr(layers, "LAYERS") and not hasattr(layers, "register_layer")
    assert registry.name_of("layer", layers.Merge) is None  # a base class, not a layer


def test_forward_is_unchecked_and_the_checked_entries_check(backend):
    layer = Dense(3, 2, seed=0, dtype="float64", backend=backend)
    x = _x(backend, (4, 3))
    y, back = layer.checked_forward(x, training=True)
    y2, _ = layer.forward(x, training=True)
    np.testing.assert_array_equal(anynet.to_numpy(y), anynet.to_numpy(y2))
    np.testing.assert_array_equal(anynet.to_numpy(layer(x)), anynet.to_numpy(y))
    assert tuple(back(backend.asarray(np.ones((4, 2)), dtype="float64")).shape) == (4, 3)
    nan = backend.asarray(np.full((4, 3), np.nan), dtype="float64")
    with pytest.raises(InputError, match=r"Dense\(in_features=3, out_features=2\).forward: X contains NaN"):
        layer.checked_forward(nan, training=True)
    layer.forward(nan)  # unchecked: the network checked its data once at its own entry point
    for removed in ("_forward", "_forward_multi", "forward_backward", "output_features_multi", "multi_input"):
        assert not hasattr(layer, removed)


def test_dtype_mismatch_is_an_anynet_error():
    layer = Dense(3, 2, seed=0, dtype="float32")
    with pytest.raises(anynet.InputTypeError, match="X has dtype float64"):
        layer.checked_forward(np.zeros((2, 3)), training=True)


def test_need_dx_false_skips_the_input_gradient_but_fills_grads(backend):
    from anynet.layers import LayerNorm

    x = _x(backend, (4, 3))
    dy = _x(backend, (4, 3), seed=1)
    for layer in (BatchNorm(3, dtype="float64", backend=backend), LayerNorm(3, dtype="float64", backend=backend),
                  Activation("tanh")):
        _, ref_back = layer.forward(x, training=True)
        ref_dx = ref_back(dy)
        ref = {k: anynet.to_numpy(v) for k, v in layer.grads.items()}
        _, back = layer.forward(x, training=True, need_dx=False)
        assert ref_dx is not None and back(dy) is None
        for k, v in ref.items():
            np.testing.assert_array_equal(anynet.to_numpy(layer.grads[k]), v)
    dense = Dense(3, 2, seed=0, dtype="float64", backend=backend)
    _, back = dense.forward(x, training=True, need_dx=False)
    assert back(_x(backend, (4, 2))) is None and set(dense.grads) == {"W", "b"}


def test_output_features_takes_one_kind_of_input():
    from anynet.errors import ConfigError
    from anynet.layers import Add, Concatenate, LayerNorm

    assert Dense(3, 5).output_features(3) == 5
    assert Dense(3, 5).output_features(np.int64(3)) == 5
    assert Activation("relu").output_features(7) == 7
    assert LayerNorm(4).output_features(4) == 4
    assert Add().output_features([4, 4, 4]) == 4
    assert Concatenate().output_features([2, 3]) == 5
    assert Concatenate().output_features((2,)) == 2
    for layer in (Dense(3, 5), Activation("relu"), Dropout(0.1), BatchNorm(3)):
        with pytest.raises(ConfigError, match=f"{type(layer).__name__} takes one input.*"
                                              r"join them with Add\(\) or Concatenate\(\)"):
            layer.output_features([3, 3])
    for layer in (Add(), Concatenate()):
        with pytest.raises(ConfigError, match=f"{type(layer).__name__} takes a list of inputs"):
            layer.output_features(3)
        with pytest.raises(ConfigError, match="at least one input"):
            layer.output_features([])
    with pytest.raises(ConfigError, match="same width.*\\[3, 4\\]"):
        Add().output_features([3, 4])
    with pytest.raises(ConfigError, match=r"Dense\(in_features=3, out_features=5\) expects 3 input features, got 4"):
        Dense(3, 5).output_features(4)
    for bad in (0, True, 2.0, "3"):
        with pytest.raises(ConfigError, match="in_features must be a positive int"):
            Activation("relu").output_features(bad)


def test_merge_layers_take_and_give_lists(backend):
    from anynet.layers import Add, Concatenate

    a, b = _x(backend, (3, 2)), _x(backend, (3, 2), seed=1)
    c = _x(backend, (3, 1), seed=2)
    y, back = Add().forward([a, b], training=True)
    np.testing.assert_allclose(anynet.to_numpy(y), anynet.to_numpy(a) + anynet.to_numpy(b))
    dy = _x(backend, (3, 2), seed=3)
    assert [anynet.to_numpy(d).tolist() for d in back(dy)] == [anynet.to_numpy(dy).tolist()] * 2
    y, back = Concatenate().checked_forward([a, c], training=True)
    assert tuple(y.shape) == (3, 3)
    assert [tuple(d.shape) for d in back(_x(backend, (3, 3)))] == [(3, 2), (3, 1)]
    _, back = Concatenate().forward([a, c], need_dx=False)
    assert back(_x(backend, (3, 3))) == [None, None]
    np.testing.assert_array_equal(anynet.to_numpy(Add()([a, b])), anynet.to_numpy(Add().forward([a, b])[0]))


def test_merge_layers_check_their_list_input(backend):
    from anynet.errors import InputTypeError
    from anynet.layers import Add, Concatenate

    a = backend.asarray(np.zeros((3, 2)), dtype="float32")
    cases = [
        (Add(), a, InputTypeError, r"Add\(\).forward: X must be a list of arrays"),
        (Add(), [], InputError, "empty list"),
        (Add(), [a, backend.asarray(np.zeros((3, 3)), dtype="float32")], InputError, r"same width.*\[2, 3\]"),
        (Concatenate(), [a, backend.asarray(np.zeros((4, 2)), dtype="float32")], InputError,
         r"different numbers of samples \[3, 4\]"),
        (Concatenate(), [a, backend.asarray(np.full((3, 2), np.nan), dtype="float32")], InputError,
         r"Concatenate\(\).forward: X\[1\] contains NaN"),
        (Concatenate(), [a, backend.asarray(np.zeros((3, 2)), dtype="float64")], InputTypeError,
         "X\\[1\\] has dtype float64 but X\\[0\\] has float32"),
        (Concatenate(), [a, backend.asarray(np.zeros(3), dtype="float32")], InputError, r"X\[1\] must be 2-D"),
    ]
    for layer, x, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            layer(x)


def test_a_list_of_arrays_given_to_a_single_input_layer_is_explained():
    from anynet.errors import InputTypeError

    x = np.zeros((2, 3), np.float32)
    with pytest.raises(InputTypeError, match=r"Dense\(in_features=3, out_features=2\).forward: X is a list of 2 "
                                             r"arrays but Dense takes one input; join them with Add\(\)"):
        Dense(3, 2)([x, x])
    assert Dense(3, 2, seed=0, dtype="float64")([[1.0, 2.0, 3.0]]).shape == (1, 2)  # a nested list is still data


def test_merge_inputs_on_two_backends_are_refused(request):
    from anynet.layers import Add

    load_backend("torch", request.config)
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(BackendMismatchError, match=r"X\[1\] is on torch:cpu but X\[0\] is on numpy:cpu"):
        Add()([a, anynet.to_device(a, "torch")])


def test_state_shapes_are_known_without_allocating(backend):
    from anynet.layers import Add, Concatenate, LayerNorm, deferred_init

    makers = [lambda: Dense(7, 5, seed=0), lambda: Dense(7, 5, bias=False, seed=0), lambda: BatchNorm(6),
              lambda: LayerNorm(4), lambda: LayerNorm(4, elementwise_affine=False), lambda: Dropout(0.2, seed=0),
              lambda: Activation("relu"), Add, Concatenate]
    with anynet.use_backend(backend):
        for make in makers:
            with deferred_init():
                lazy = make()
            real = make()
            assert lazy.params == {} and lazy.buffers == {}, lazy
            shapes = {k: tuple(v.shape) for k, v in {**real.params, **real.buffers}.items()}
            assert lazy.state_shapes() == real.state_shapes() == shapes, lazy
            assert lazy.buffer_keys() == real.buffer_keys() == set(real.buffers), lazy
    assert BatchNorm(6).buffer_keys() == {"running_mean", "running_var"}


def test_deferred_init_is_scoped():
    from anynet.layers import deferred_init

    with deferred_init():
        with deferred_init():
            pass
        assert Dense(3, 2).params == {}  # still deferred after the inner context closed
    assert set(Dense(3, 2).params) == {"W", "b"}
    with pytest.raises(RuntimeError), deferred_init():
        raise RuntimeError
    assert set(BatchNorm(2).buffers) == {"running_mean", "running_var"}


def test_dropout_extra_state_round_trip_replays_the_masks():
    import json

    a = Dropout(0.5, seed=3)
    a.forward(np.ones((4, 4)), training=True)  # advance the stream
    state = json.loads(json.dumps(a.extra_state()))
    b = Dropout(0.5, seed=99)
    b.load_extra_state(state)
    ya, _ = a.forward(np.ones((5, 6)), training=True)
    yb, _ = b.forward(np.ones((5, 6)), training=True)
    np.testing.assert_array_equal(ya, yb)
    b.load_extra_state(None)  # nothing saved: the generator is kept
    assert Dense(2, 2).extra_state() is None and BatchNorm(2).extra_state() is None


def test_loading_extra_state_does_not_rewind_a_shared_generator():
    shared = np.random.default_rng(0)
    a, b = Dropout(0.5, seed=shared), Dropout(0.5, seed=shared)
    before = shared.bit_generator.state
    b.load_extra_state(Dropout(0.5, seed=1).extra_state())
    assert shared.bit_generator.state == before and a.rng is shared and b.rng is not shared


def test_malformed_extra_state_is_refused():
    good = Dropout(0.5, seed=0).extra_state()
    bad = [
        "PCG64",
        [good],
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "uinteger"},
        {**good, "bit_generator": "MT19937"},
        {**good, "state": {"state": 1}},
        {**good, "state": {"state": -1, "inc": 1}},
        {**good, "state": {"state": 1 << 128, "inc": 1}},
        {**good, "state": {"state": "12", "inc": 1}},
        {**good, "state": {"state": 1.0, "inc": 1}},
        {**good, "state": {"state": True, "inc": 1}},
        {**good, "has_uint32": 2},
        {**good, "uinteger": -1},
        {**good, "uinteger": 1 << 32},
    ]
    layer = Dropout(0.5, seed=0)
    for state in bad:
        with pytest.raises(InputError, match=r"Dropout\(p=0.5\).load_extra_state: malformed generator state"):
            layer.load_extra_state(state)
    assert layer.extra_state() == good  # nothing was changed
    with pytest.raises(InputError, match="keeps no extra state"):
        Dense(2, 2).load_extra_state(good)


def test_only_a_pcg64_generator_can_be_saved():
    from anynet.errors import ConfigError

    layer = Dropout(0.5, seed=np.random.Generator(np.random.Philox(0)))
    with pytest.raises(ConfigError, match="cannot save the state of a Philox generator.*default_rng"):
        layer.extra_state()


def test_batchnorm_check_state_refuses_what_is_no_variance():
    layer = BatchNorm(3)
    layer.check_state("running_var", np.asarray([0.0, 1.0, 2.0], np.float32))
    layer.check_state("running_mean", np.asarray([-5.0, 0.0, 1.0]))  # any finite mean; finiteness is the net's
    layer.check_state("gamma", np.asarray([-1.0, 0.0, 1.0]))
    for value, shown in ((-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")):
        with pytest.raises(InputError, match=rf"BatchNorm\(num_features=3\): running_var must be >= 0 and finite.*"
                                             rf"{shown} at index 1"):
            layer.check_state("running_var", np.asarray([1.0, value, 1.0]))
    Dense(2, 2).check_state("W", np.full((2, 2), -1.0))  # the default accepts


def test_batchnorm_refuses_to_train_on_one_sample(backend):
    layer = BatchNorm(3, dtype="float64", backend=backend)
    one = _x(backend, (1, 3))
    with pytest.raises(InputError, match=r"BatchNorm\(num_features=3\): expected more than 1 sample per feature "
                                         "in training mode, got a batch of 1"):
        layer.forward(one, training=True)
    np.testing.assert_array_equal(anynet.to_numpy(layer.buffers["running_var"]), np.ones(3))  # untouched
    assert tuple(layer(one).shape) == (1, 3)  # evaluation is fine
    assert BatchNorm.min_batch_size == 2 and Dense.min_batch_size == 1 and Dropout(0.1).min_batch_size == 1


def test_constructors_accept_numpy_scalars():
    from anynet.layers import LayerNorm

    d = Dense(np.int64(3), np.int32(2), seed=0)
    assert d.config() == {"in_features": 3, "out_features": 2} and type(d.in_features) is int
    assert Dropout(np.float32(0.5)).config() == {"p": 0.5}
    assert type(Dropout(np.float64(0.25)).p) is float
    bn = BatchNorm(np.int64(4), momentum=np.float64(0.2), eps=np.float32(1e-3))
    assert bn.in_features == 4 and type(bn.momentum) is float and bn.momentum == 0.2
    ln = LayerNorm(np.uint8(4), eps=np.float64(1e-6))
    assert ln.config() == {"num_features": 4, "eps": 1e-6}
    import json

    json.dumps([d.config(), bn.config(), ln.config()])  # Python numbers, JSON-able


def test_constructors_refuse_what_is_no_number():
    from anynet.errors import ConfigError
    from anynet.layers import LayerNorm

    cases = [
        (lambda: Dense(3.0, 2), "Dense: in_features must be a positive int, got 3.0"),
        (lambda: Dense(3, np.bool_(True)), "Dense: out_features must be a positive int"),
        (lambda: Dense(3, np.int64(0)), "Dense: out_features must be a positive int"),
        (lambda: Dropout(np.bool_(False)), "Dropout: p must be a probability"),
        (lambda: Dropout(float("nan")), "Dropout: p must be a probability"),
        (lambda: Dropout(np.float32(1.0)), "Dropout: p must be a probability"),
        (lambda: BatchNorm("3"), "BatchNorm: num_features must be a positive int"),
        (lambda: BatchNorm(3, momentum="0.1"), "BatchNorm: momentum must be in \\[0, 1\\], got '0.1'"),
        (lambda: BatchNorm(3, momentum=1.5), "BatchNorm: momentum must be in \\[0, 1\\]"),
        (lambda: BatchNorm(3, momentum=np.float64("nan")), "BatchNorm: momentum must be in \\[0, 1\\]"),
        (lambda: BatchNorm(3, eps=0), "BatchNorm: eps must be > 0"),
        (lambda: BatchNorm(3, eps=float("inf")), "BatchNorm: eps must be > 0"),
        (lambda: BatchNorm(3, eps=None), "BatchNorm: eps must be > 0"),
        (lambda: LayerNorm(0), "LayerNorm: num_features must be a positive int"),
        (lambda: LayerNorm(2, eps=-1e-5), "LayerNorm: eps must be > 0"),
    ]
    for make, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            make()
