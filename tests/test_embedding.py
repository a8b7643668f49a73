"""anynet.layers.Embedding: a gather forward and an exact scatter-add backward on every backend,
against torch.nn.Embedding; bad ids refused; in a Graph next to numeric inputs; saved, pickled and
exported to ONNX."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, optim
from anynet.errors import AnynetError, ConfigError, InputError, InputTypeError
from anynet.layers import Concatenate, Dense, Embedding
from anynet.layers import embedding as embedding_module
from anynet.layers.embedding import scatter_add_rows
from anynet.testing import check_layer, rel_diff

torch = pytest.importorskip("torch", reason="the gradients are checked against torch.nn.Embedding")

#: the agreement with torch.nn.Embedding's gradient that the docstring states (norm-wise relative)
TORCH_TOLERANCE = {"float64": 1e-12, "float32": 1e-6}


def _ids_and_dy(n=300, categories=13, dim=5, seed=0):
    g = np.random.default_rng(seed)
    ids = g.integers(0, categories, n)
    ids[:40] = 4  # one category with many samples: a long run in the sum
    return ids, g.standard_normal((n, dim))


def _grads(backend, dtype, ids, dy, categories=13, dim=5):
    layer = Embedding(categories, dim, seed=0, dtype=dtype, backend=backend)
    y, back = layer.forward(backend.asarray(ids), training=True)
    back(backend.asarray(dy, dtype=dtype))
    return layer, anynet.to_numpy(y), anynet.to_numpy(layer.grads["W"])


def _torch_grads(W, ids, dy, dtype):
    t = torch.nn.Embedding(*W.shape, dtype=getattr(torch, dtype))
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(W))
    out = t(torch.from_numpy(ids))
    out.backward(torch.from_numpy(dy.astype(dtype)))
    return out.detach().numpy(), t.weight.grad.numpy()


# -- forward and backward ------------------------------------------------------------------------------
def test_forward_and_gradient_equal_torch_embedding(backend, dtype):
    if dtype not in backend.float_dtypes():
        pytest.skip(f"{backend.spec} has no {dtype}")
    ids, dy = _ids_and_dy()
    layer, y, gW = _grads(backend, dtype, ids, dy)
    W = anynet.to_numpy(layer.params["W"])
    ty, tgW = _torch_grads(W, ids, dy, dtype)
    np.testing.assert_array_equal(y, ty)  # a gather: the very rows
    assert gW.dtype == np.dtype(dtype)
    assert rel_diff(gW, tgW) <= TORCH_TOLERANCE[dtype], rel_diff(gW, tgW)
    assert not np.any(gW[[c for c in range(13) if c not in set(ids)]]) if len(set(ids)) < 13 else True


def test_gradient_is_exact_when_the_sums_are(backend):
    """Integer-valued output gradients: every sum is exact in any order, so equal to torch's bit for bit."""
    ids, _ = _ids_and_dy(seed=1)
    dy = np.random.default_rng(2).integers(-50, 50, (ids.size, 5)).astype(np.float64)
    dtype = backend.widest_float()
    layer, _, gW = _grads(backend, dtype, ids, dy)
    _, tgW = _torch_grads(anynet.to_numpy(layer.params["W"]), ids, dy, dtype)
    np.testing.assert_array_equal(gW, tgW)
    np.testing.assert_array_equal(gW, _add_at(ids, dy, 13).astype(dtype))


def test_gradient_is_bit_identical_across_backends(backend, dtype):
    if dtype not in backend.float_dtypes():
        pytest.skip(f"{backend.spec} has no {dtype}")
    ids, dy = _ids_and_dy(seed=3)
    _, _, ref = _grads(anynet.get_backend("numpy"), dtype, ids, dy)
    _, _, got = _grads(backend, dtype, ids, dy)
    np.testing.assert_array_equal(got, ref)


def _add_at(ids, rows, n_out):
    out = np.zeros((n_out, rows.shape[1]))
    np.add.at(out, ids, rows)
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 257])
def test_scatter_add_rows_equals_numpy_add_at(n):
    g = np.random.default_rng(n)
    ids = g.integers(0, 6, n)
    rows = g.standard_normal((n, 3))
    np.testing.assert_allclose(scatter_add_rows(ids, rows, 6), _add_at(ids, rows, 6), rtol=1e-14, atol=1e-14)


def test_a_non_finite_gradient_row_stays_in_its_category():
    ids = np.asarray([0, 1, 0, 2, 1])
    rows = np.ones((5, 2))
    rows[3] = np.inf
    out = scatter_add_rows(ids, rows, 4)
    np.testing.assert_array_equal(out, [[2, 2], [2, 2], [np.inf, np.inf], [0, 0]])


def test_input_gradient_is_zero_and_skipped_when_not_needed():
    layer = Embedding(5, 2, seed=0, dtype="float64")
    x = np.asarray([[1], [3]])
    _, back = layer.forward(x, training=True)
    np.testing.assert_array_equal(back(np.ones((2, 2))), np.zeros((2, 1)))
    _, back = layer.forward(x, training=True, need_dx=False)
    assert back(np.ones((2, 2))) is None and layer.grads["W"].shape == (5, 2)


def test_seeded_weights_are_bit_identical_across_backends(backend, dtype):
    if dtype not in backend.float_dtypes():
        pytest.skip(f"{backend.spec} has no {dtype}")
    want = Embedding(11, 3, seed=7, dtype=dtype, backend="numpy").params["W"]
    got = anynet.to_numpy(Embedding(11, 3, seed=7, dtype=dtype, backend=backend).params["W"])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, np.random.default_rng(7).standard_normal((11, 3)).astype(dtype))


# -- the conformance suite ---------------------------------------------------------------------------
def test_passes_the_conformance_suite(backend):
    report = check_layer(lambda: Embedding(7, 3, seed=0), categories=7, backends=[backend.spec])
    assert report.ok, str(report)
    assert len(report.checks) == 6


class _WrongGradient(Embedding):
    def forward(self, x, *, training=False, need_dx=True):
        y, back = super().forward(x, training=training, need_dx=need_dx)

        def wrong(dy):
            dx = back(dy)
            self.grads["W"] = self.grads["W"] * 1.01
            return dx

        return y, wrong


class _WrapsNegativeIds(Embedding):
    """Integer ids taken modulo n_categories, as a gather on CuPy would (NumPy arrays only)."""

    def check_ids(self, x, where=None):
        return super().check_ids(x % self.n_categories if np.asarray(x).dtype.kind == "i" else x, where)


def test_the_conformance_suite_catches_a_broken_embedding():
    anynet.register("layer")(_WrongGradient)
    anynet.register("layer")(_WrapsNegativeIds)
    try:
        report = check_layer(lambda: _WrongGradient(7, 3, seed=0), categories=7, backends=["numpy"])
        assert [c.name for c in report.failures()] == ["gradient check (float64)"]
        report = check_layer(lambda: _WrapsNegativeIds(7, 3, seed=0), categories=7, backends=["numpy"])
        assert [c.name for c in report.failures()] == ["bad input refused"]
        assert "negative id" in report.failures()[0].detail
    finally:
        anynet.registry.unregister("layer", "_WrongGradient")
        anynet.registry.unregister("layer", "_WrapsNegativeIds")


def test_check_layer_refuses_categories_for_a_layer_of_features():
    with pytest.raises(ConfigError, match="categories must be a positive int, for a layer of one input of width 1"):
        check_layer(lambda: Dense(3, 2, seed=0), categories=4, backends=["numpy"])


# -- bad ids ------------------------------------------------------------------------------------------
BAD = [([[0], [-1]], np.int64, "-1 at row 1 is outside \\[0, 10\\)"),
       ([[3], [10]], np.int64, "10 at row 1 is outside \\[0, 10\\)"),
       ([[2.5], [1.0]], np.float32, "2.5 at row 0 is not a whole number"),
       ([[1.0], [np.nan]], np.float32, "nan at row 1 is outside"),
       ([[np.inf], [1.0]], np.float64, "inf at row 0 is outside")]


@pytest.mark.parametrize("ids, dt, message", BAD, ids=["negative", "too-large", "fraction", "nan", "inf"])
def test_bad_ids_name_the_layer_and_the_value(backend, ids, dt, message):
    layer = Embedding(10, 4, seed=0, backend=backend)
    x = backend.asarray(np.asarray(ids, dt))
    for call in (lambda: layer(x), lambda: layer.checked_forward(x, training=True),
                 lambda: layer.forward(x, training=False)):
        with pytest.raises(InputError, match=rf"Embedding\(n_categories=10, dim=4\).*category id {message}"):
            call()


def test_bool_ids_and_wrong_shapes_are_refused(backend):
    layer = Embedding(10, 4, seed=0, backend=backend)
    with pytest.raises(InputTypeError, match="Embedding.*got dtype .*bool.*astype"):
        layer(backend.asarray(np.zeros((3, 1), bool)))
    with pytest.raises(InputError, match=r"Embedding.*shape \(n,\) or \(n, 1\).*got shape \(3, 2\)"):
        layer(backend.asarray(np.zeros((3, 2), np.int64)))


def test_float32_ids_beyond_two_to_the_24_are_refused():
    layer = Embedding(2**24 + 2, 1, seed=0, init="zeros")
    with pytest.raises(InputError, match="do not fit float32 ids exactly.*integer ids or use a float64 model"):
        layer(np.asarray([[1.0]], np.float32))
    assert layer(np.asarray([[2**24 + 1]])).shape == (1, 1)  # integer ids are exact


def test_a_training_step_on_a_device_reads_nothing_and_never_returns_another_row(backend, monkeypatch):
    """NumPy checks (no device); elsewhere a training step does no host read: a bad id's row is NaN."""
    reads = []
    plain = embedding_module.to_numpy
    monkeypatch.setattr(embedding_module, "to_numpy", lambda x: reads.append(1) or plain(x))
    layer = Embedding(10, 4, seed=0, backend=backend)
    x = backend.asarray(np.asarray([[3], [-1], [12], [3]]))
    if backend.name == "numpy":
        with pytest.raises(InputError, match="category id -1 at row 1"):
            layer.forward(x, training=True)
        return
    y, back = layer.forward(x, training=True)
    back(backend.asarray(np.ones((4, 4)), dtype="float32"))
    assert reads == []
    y = anynet.to_numpy(y)
    W = anynet.to_numpy(layer.params["W"])
    np.testing.assert_array_equal(y[[0, 3]], W[[3, 3]])
    assert np.isnan(y[[1, 2]]).all()


# -- in networks ---------------------------------------------------------------------------------------
def _graph(backend, dtype="float32", seed=0):
    return Graph({"emb": (Embedding(10, 4), "cat"), "cat_and_num": (Concatenate(), ["emb", "num"]),
                  "out": (Dense(7, 1), "cat_and_num")}, inputs={"cat": 1, "num": 3}, output="out",
                 seed=seed, dtype=dtype, backend=backend)


def _tabular(n=64, seed=0, unseen=(8, 9)):
    g = np.random.default_rng(seed)
    cat = g.integers(0, 8, (n, 1))  # ids 8 and 9 never occur
    num = g.standard_normal((n, 3))
    y = np.sin(cat[:, 0]) + num[:, 0]
    return cat, num, y


def test_a_graph_takes_a_categorical_input_next_to_a_numeric_one(backend):
    dtype = backend.widest_float()
    net = _graph(backend, dtype)
    cat, num, y = _tabular()
    X = {"cat": cat.astype(dtype), "num": num.astype(dtype)}  # networks take float inputs today
    W0 = anynet.to_numpy(net.nodes["emb"].params["W"]).copy()
    dense = {k: anynet.to_numpy(v) for k, v in net.nodes["out"].params.items()}
    want = np.concatenate([W0[cat[:, 0]], X["num"]], axis=1) @ dense["W"] + dense["b"]
    np.testing.assert_allclose(net.predict(X), want, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-6)
    history = net.fit(X, y, loss="mse", optimizer=optim.SGD(lr=0.05), epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    W = anynet.to_numpy(net.nodes["emb"].params["W"])
    np.testing.assert_array_equal(W[8:], W0[8:])  # categories never seen keep their initial rows exactly
    assert np.all(W[:8] != W0[:8])


def test_fit_with_a_bad_id_fails_loudly(backend):
    net = _graph(backend)
    cat, num, y = _tabular()
    cat[5, 0] = 10
    with pytest.raises(AnynetError):  # InputError where the ids are read; NonFiniteLossError on a device
        net.fit({"cat": cat.astype("float32"), "num": num.astype("float32")}, y, loss="mse",
                optimizer=optim.SGD(lr=0.05), epochs=1, batch_size=16, verbose=0)
    with pytest.raises(InputError, match="category id 10 at row 5"):
        net.predict({"cat": cat.astype("float32"), "num": num.astype("float32")})


def test_sequential_save_load_and_pickle_round_trip(backend, tmp_path):
    dtype = backend.widest_float()
    model = Sequential([Embedding(10, 3), Dense(3, 2, activation="tanh")], seed=1, dtype=dtype, backend=backend)
    cat, _, _ = _tabular()
    x = cat.astype(dtype)
    model.fit(x, np.zeros((len(x), 2)), loss="mse", optimizer=optim.Adam(lr=0.01), epochs=2, batch_size=16,
              verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    again = anynet.load(path, backend=backend)
    assert isinstance(again.layers[0], Embedding) and again.layers[0].config() == {"n_categories": 10, "dim": 3}
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(x), model.predict(x))


def test_constructor_arguments_are_checked():
    for args in ((0, 4), (10, 0), (10.0, 4), (True, 4), (10, "4")):
        with pytest.raises(ConfigError, match="Embedding: (n_categories|dim) must be a positive int"):
            Embedding(*args)
    layer = Embedding(10, 4)
    assert layer.output_features(1) == 4 and layer.state_shapes() == {"W": (10, 4)}
    with pytest.raises(ConfigError, match="expects 1 input features, got 3"):
        layer.output_features(3)


# -- ONNX --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_is_a_gather_equal_to_predict(dtype):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import anynet.onnx as anynet_onnx

    net = _graph("numpy", dtype, seed=3)
    cat, num, _ = _tabular(n=20)
    X = {"cat": cat.astype(dtype), "num": num.astype(dtype)}
    proto = anynet_onnx.to_onnx(net)
    onnx.checker.check_model(proto, full_check=True)
    assert "Gather" in [n.op_type for n in proto.graph.node]
    assert "emb.W" in [t.name for t in proto.graph.initializer]
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, X)[0], net.predict(X), rtol=1e-6 if dtype == "float32" else 1e-14,
                               atol=1e-6 if dtype == "float32" else 1e-14)
    bad = {**X, "cat": np.asarray([[-1], [10], [2.5], [3]], dtype)}
    out = sess.run(None, {**bad, "num": X["num"][:4]})[0]
    assert np.isnan(out[:3]).all() and np.isfinite(out[3]).all()  # never another category's row


def test_fit_on_the_device_stand_in_reads_the_host_once_per_epoch_whatever_the_steps(monkeypatch):
    """The ids are never read in a training step: four times the steps, the same device reads."""
    from anynet.backends._strict import StrictAdapter

    from .conftest import STANDIN

    device = anynet.get_backend(STANDIN)
    reads = []
    plain = StrictAdapter.to_numpy

    def counted(self, x):
        reads.append(x.device)
        return plain(self, x)

    monkeypatch.setattr(StrictAdapter, "to_numpy", counted)
    cat, num, y = _tabular()
    X = {"cat": cat.astype("float32"), "num": num.astype("float32")}
    counts = []
    for batch_size in (32, 8):
        reads.clear()
        _graph(STANDIN).fit(X, y, loss="mse", optimizer=optim.SGD(lr=0.05), epochs=2, batch_size=batch_size,
                            verbose=0)
        counts.append(len([d for d in reads if d == device.device]))
    assert counts[0] == counts[1] and 0 < counts[0] <= 6, counts


def test_gradcheck_holds_integer_ids_fixed():
    from anynet.testing import gradcheck

    ids = np.asarray([[2], [0], [2], [4]])
    layer = Embedding(5, 3, seed=0, dtype="float64")
    result = gradcheck(layer, ids, wrt_inputs=False, mode="full")
    assert result.ok and result.checks == 15, result  # every entry of W, none of the ids
    with pytest.raises(InputError, match="gradcheck needs float64 input"):
        gradcheck(layer, ids)  # ids are not differentiable: wrt_inputs=True asks for float64 inputs
    with pytest.raises(InputError, match="gradcheck needs float64 input and parameters, got float32"):
        gradcheck(Embedding(5, 3, seed=0), ids, wrt_inputs=False)


def test_fit_and_predict_take_integer_ids_checked_before_training():
    """Integer category ids go into fit, evaluate and predict as they are (checked once per data set, held in
    the model's dtype); a bad id is named, with its row, before any step."""
    ids = np.arange(60) % 7
    y = (ids % 2).astype(np.float64)
    model = anynet.Sequential([Embedding(7, 3), Dense(3, 1)], seed=0, dtype="float64")
    model.fit(ids, y, loss="bce_logits", optimizer=anynet.optim.Adam(lr=0.05), epochs=40, batch_size=20, verbose=0)
    assert model.evaluate(ids, y, metrics=["accuracy"])["accuracy"] == 1.0
    as_floats = model.predict(ids.astype(np.float64))
    np.testing.assert_array_equal(model.predict(ids), as_floats)
    bad = ids.copy()
    bad[3] = -1
    fresh = anynet.Sequential([Embedding(7, 3), Dense(3, 1)], seed=0)
    with pytest.raises(InputError, match=r"category id -1 at row 3 is outside \[0, 7\)"):
        fresh.fit(bad, y, loss="bce_logits", optimizer="adam", verbose=0)
    assert fresh.train_state.step == 0
