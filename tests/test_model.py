"""Sequential and Graph: parameters, gradients, graph checks, moving, cross-backend training."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, optim
from anynet.layers import Add, BatchNorm, Concatenate, Dense, Dropout
from anynet.testing import gradcheck

from .conftest import load_backend


def _mlp(seed=0, **kw):
    return Sequential([Dense(4, 6, activation="tanh"), BatchNorm(6), Dropout(0.2), Dense(6, 3)], seed=seed, **kw)


def test_parameter_paths_and_gradients(backend):
    model = _mlp(backend=backend, dtype="float64")
    assert list(model.parameters()) == ["0.W", "0.b", "1.gamma", "1.beta", "3.W", "3.b"]
    x = np.random.default_rng(0).standard_normal((5, 4))
    value, grads = model.gradients(backend.asarray(x, dtype="float64"), backend.asarray(np.asarray([0, 1, 2, 0, 1])),
                                   "softmax_cross_entropy")
    assert isinstance(value, float) and set(grads) == set(model.parameters())
    assert tuple(grads["0.W"].shape) == (4, 6)


def test_model_gradcheck(backend):
    model = _mlp(backend=backend, dtype="float64")
    x = backend.asarray(np.random.default_rng(1).standard_normal((5, 4)), dtype="float64")
    assert gradcheck(model, x).ok


def _diamond(**kw):
    nodes = {
        "left": (Dense(3, 4, activation="tanh"), "x"),
        "right": (Dense(3, 4, activation="sigmoid"), "x"),
        "join": (Add(), ["left", "right"]),
        "both": (Concatenate(), ["join", "x"]),
        "out": (Dense(7, 2), "both"),
    }
    return Graph(nodes, inputs={"x": 3}, output="out", seed=0, **kw)


def test_diamond_graph_gradients(backend):
    g = _diamond(backend=backend, dtype="float64")
    x = backend.asarray(np.random.default_rng(2).standard_normal((4, 3)), dtype="float64")
    assert gradcheck(g, x).ok
    assert gradcheck(g, x, mode="full").ok


def test_graph_errors_name_the_nodes():
    d = lambda: Dense(2, 2)
    with pytest.raises(ValueError, match=r"cycle through nodes \['a', 'b'\]"):
        Graph({"a": (d(), "b"), "b": (d(), "a"), "c": (d(), "x")}, inputs={"x": 2}, output="c")
    with pytest.raises(ValueError, match="dangling input: node 'a' reads 'y'"):
        Graph({"a": (d(), "y")}, inputs={"x": 2}, output="a")
    with pytest.raises(ValueError, match=r"nodes \['b'\] do not lead to the output"):
        Graph({"a": (d(), "x"), "b": (d(), "x")}, inputs={"x": 2}, output="a")
    with pytest.raises(ValueError, match="node 'a'.*expects 2 input features but 'x' gives 3"):
        Graph({"a": (d(), "x")}, inputs={"x": 3}, output="a")
    with pytest.raises(ValueError, match="takes one input; join them with Add"):
        Graph({"a": (d(), ["x", "x"])}, inputs={"x": 2}, output="a")
    with pytest.raises(ValueError, match="same width"):
        Graph({"a": (Dense(2, 3), "x"), "s": (Add(), ["a", "x"])}, inputs={"x": 2}, output="s")
    with pytest.raises(ValueError, match="Sequential: node '1'"):
        Sequential([Dense(2, 3), Dense(4, 1)])


def test_sequential_equals_the_same_graph():
    layers = lambda: [Dense(3, 5, activation="relu"), Dense(5, 2)]
    s = Sequential(layers(), seed=4, dtype="float64")
    g = Graph({"0": (layers()[0], "input"), "1": (layers()[1], "0")}, inputs={"input": 3}, output="1",
              seed=4, dtype="float64")
    x = np.random.default_rng(0).standard_normal((6, 3))
    np.testing.assert_array_equal(s(x), g(x))


def test_same_seed_identical_weights_across_backends(backend, dtype):
    ref = _mlp(seed=9, backend="numpy", dtype=dtype)
    got = _mlp(seed=9, backend=backend, dtype=dtype)
    for k, v in ref.parameters().items():
        np.testing.assert_array_equal(anynet.to_numpy(got.parameters()[k]), v)


def test_to_moves_parameters_and_optimizer_state(request):
    load_backend("torch", request.config)
    model = Sequential([Dense(3, 2)], seed=0)
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    model.fit(x, y, loss="mse", optimizer=optim.SGD(lr=0.1, momentum=0.9), epochs=1, verbose=0)
    before = model.predict(x)
    model.to("torch")
    assert all(anynet.backend_of(p).name == "torch" for p in model.parameters().values())
    assert all(anynet.backend_of(s).name == "torch" for s in model.optimizer.state_dict().values())
    np.testing.assert_allclose(model.predict(x), before, rtol=1e-6)
    model.fit(x, y, epochs=1, verbose=0)  # state and parameters live on torch now
    model.astype("float64")
    assert model.dtype == "float64" and str(model.parameters()["0.W"].dtype) == "torch.float64"


def test_to_refuses_float64_on_a_device_without_it(request):
    load_backend("array_api_strict", request.config)
    model = Sequential([Dense(3, 2)], seed=0, dtype="float64")
    with pytest.raises(anynet.DeviceError, match="no float64"):
        model.to("array_api_strict:no_float64")


def test_summary():
    text = _mlp().summary(print_fn=None)
    assert "Dense(in_features=4, out_features=6, activation='tanh')" in text
    assert "total parameters: 63" in text and "(None, 3)" in text


def test_forward_refuses_numpy_on_another_device(request):
    load_backend("torch", request.config)
    model = Sequential([Dense(3, 2)], seed=0, backend="torch")
    with pytest.raises(anynet.BackendMismatchError, match="numpy:cpu.*torch:cpu.*to_device"):
        model(np.ones((1, 3), np.float32))
    assert model.predict(np.ones((1, 3))).shape == (1, 2)  # predict is the transfer point


@pytest.mark.parametrize("compile", ["auto", False])
def test_training_agrees_across_backends(backend, compile):
    if compile is False and backend.name != "jax":
        pytest.skip("compile='auto' is eager already on this backend (the case above)")
    g = np.random.default_rng(0)
    X, y = g.standard_normal((64, 4)), g.integers(0, 3, 64)

    def train(spec, compile):
        model = Sequential([Dense(4, 8, activation="tanh"), Dense(8, 3)], seed=3, backend=spec, dtype="float64")
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1, momentum=0.9),
                  epochs=25, batch_size=16, seed=1, verbose=0, compile=compile)  # 100 steps
        return {k: anynet.to_numpy(v) for k, v in model.parameters().items()}

    ref, got = train("numpy", False), train(backend, compile)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12)


def test_graph_with_a_loss_node_as_in_document_001():
    from anynet.layers import Activation
    from anynet.losses import MSE

    g = np.random.default_rng(0)
    X = g.standard_normal((200, 3))
    y = np.tanh(X @ np.asarray([1.0, -1.0, 0.5]))
    net = Graph({"linear1": (Dense(3, 8), "x"), "sigmoid1": (Activation("sigmoid"), "linear1"),
                 "linear2": (Dense(8, 1), "sigmoid1"), "mse": (MSE(), ["linear2", "y"])},
                inputs={"x": 3, "y": 1}, output="linear2", seed=0)
    assert net.inputs == {"x": 3} and isinstance(net.loss, MSE)
    hist = net.fit(X, y, optimizer=optim.SGD(lr=0.1, momentum=0.9), epochs=30, batch_size=16, verbose=0)
    assert hist["loss"][-1] < 0.1 * hist["loss"][0]
    assert net.predict(X).shape == (200, 1)
    assert "loss node 'mse'" in net.summary(print_fn=None)


def test_loss_node_errors():
    from anynet.losses import MSE

    d = lambda: Dense(2, 1)  # noqa: E731
    with pytest.raises(ValueError, match=r"must read \[output, label input\]"):
        Graph({"a": (d(), "x"), "m": (MSE(), ["x", "y"])}, inputs={"x": 2, "y": 1}, output="a")
    with pytest.raises(ValueError, match="label input 'y' of loss node 'm' is also read by nodes"):
        Graph({"a": (Dense(2, 1), "y"), "m": (MSE(), ["a", "y"])}, inputs={"x": 2, "y": 2}, output="a")
    with pytest.raises(ValueError, match="one loss node at most"):
        Graph({"a": (d(), "x"), "m": (MSE(), ["a", "y"]), "n": (MSE(), ["a", "y"])},
              inputs={"x": 2, "y": 1}, output="a")


def _two_input_graph(**kw):
    from anynet.layers import Concatenate

    return Graph({"a": (Dense(3, 8, activation="tanh"), "xa"), "b": (Dense(2, 8, activation="tanh"), "xb"),
                  "cat": (Concatenate(), ["a", "b"]), "out": (Dense(16, 3), "cat")},
                 inputs={"xa": 3, "xb": 2}, output="out", **kw)


def _two_input_data(n=240):
    g = np.random.default_rng(5)
    A, B = g.standard_normal((n, 3)), g.standard_normal((n, 2))
    y = (A[:, 0] + B[:, 1] > 0).astype(np.int64) + (B[:, 0] > 1).astype(np.int64)
    return A, B, y


def test_fit_predict_evaluate_a_graph_with_several_inputs(backend):
    A, B, y = _two_input_data()
    X = {"xa": A, "xb": B}

    def train(spec):
        model = _two_input_graph(seed=3, backend=spec, dtype="float64")
        hist = model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.02), epochs=30,
                         batch_size=16, metrics=["accuracy"], validation_split=0.25, seed=1, verbose=0)
        return model, hist

    model, hist = train(backend)
    assert hist["loss"][-1] < 0.4 * hist["loss"][0] and hist["val_accuracy"][-1] >= 0.8
    # batched and unbatched predictions agree; evaluate sees the same numbers
    whole, parts = model.predict(X), model.predict(X, batch_size=50)
    assert isinstance(whole, np.ndarray) and whole.shape == (240, 3)
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)
    acc = float(np.mean(whole.argmax(1) == y))
    assert model.evaluate(X, y, batch_size=64)["accuracy"] == pytest.approx(acc)
    # the same training on NumPy gives the same weights
    ref, _ = train("numpy")
    for k, v in ref.parameters().items():
        np.testing.assert_allclose(anynet.to_numpy(model.parameters()[k]), v, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("X, message", [
    (lambda A, B: A, r"has 2 inputs \(xa, xb\); give X as a dict"),
    (lambda A, B: {"xa": A}, r"X has the inputs \['xa'\] but the model takes \['xa', 'xb'\]"),
    (lambda A, B: {"xa": A, "xb": B, "z": A}, r"X has the inputs \['xa', 'xb', 'z'\]"),
    (lambda A, B: {"xa": A, "xb": B[:10]}, r"different numbers of samples \{'xa': 240, 'xb': 10\}"),
    (lambda A, B: {"xa": A, "xb": A}, r"X\['xb'\] has 3 features per sample but 2 were expected"),
    (lambda A, B: {"xa": A, "xb": np.where(B > 1, np.nan, B)}, r"X\['xb'\] contains NaN"),
])
def test_several_inputs_bad_x_is_refused_by_name(X, message):
    from anynet.errors import InputError

    A, B, y = _two_input_data()
    model = _two_input_graph(seed=0)
    for call in (lambda x: model.fit(x, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0),
                 lambda x: model.predict(x), lambda x: model.evaluate(x, y, loss="softmax_cross_entropy")):
        with pytest.raises(InputError, match=message):
            call(X(A, B))


def test_one_layer_object_in_two_nodes_is_refused():
    """Each backward pass sets a layer's grads, so a layer used twice would silently lose the
    gradient of one use: refused, naming both nodes."""
    shared = Dense(3, 3)
    with pytest.raises(ValueError, match=r"nodes 'a' and 'b' are the same Dense object; shared weights"):
        Graph({"a": (shared, "x"), "b": (shared, "a")}, inputs={"x": 3}, output="b", seed=0)
    with pytest.raises(ValueError, match=r"nodes '0' and '1' are the same Dense"):
        Sequential([shared, shared])
