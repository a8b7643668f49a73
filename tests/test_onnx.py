"""anynet.onnx: every built-in layer and activation, Sequential and Graph, exported and run in ONNX
Runtime (CPU), whose outputs must equal ``model.predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import anynet
import anynet.onnx as anynet_onnx
from anynet import activations, registry
from anynet.activations import ActivationFn
from anynet.layers import Activation, Add, BatchNorm, Concatenate, Dense, Dropout, Embedding, Layer, LayerNorm
from anynet.losses import MSE

from .conftest import tolerance

onnx = pytest.importorskip("onnx", reason="anynet.onnx needs the onnx package (pip install 'anynet-nn[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="exported models run in onnxruntime (pip install onnxruntime)")
reference = pytest.importorskip("onnx.reference", reason="onnx's reference runtime checks what onnxruntime cannot run")

BATCHES = (1, 7)  # two batch sizes through one session: the batch dimension is dynamic
NEWEST = onnx.defs.onnx_opset_version()

# every built-in activation with the options that change its graph; test_every_activation_is_covered keeps
# this in step with activations.names()
ACTIVATIONS = [
    ("identity", {}), ("sigmoid", {}), ("tanh", {}), ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"alpha": 0.3}),
    ("elu", {}), ("elu", {"alpha": 0.7}), ("gelu", {}), ("gelu", {"approximate": "none"}), ("softplus", {}),
    ("silu", {}), ("softmax", {}),
]
# ONNX Runtime's CPU provider has no float64 Erf kernel: exact GELU in float64 is valid ONNX that it cannot run
NO_FLOAT64_KERNEL = {("gelu", "none")}


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(sess, feeds):
    return sess.run(None, feeds)[0]


def assert_matches(model, *, opset=anynet_onnx.DEFAULT_OPSET, scale=3.0, offset=0.0, seed=0, **options):
    """Export ``model``, check it, run it at every batch size of BATCHES, compare with predict."""
    proto = anynet_onnx.to_onnx(model, opset=opset, **options)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    assert [i.name for i in sess.get_inputs()] == list(model.inputs)
    assert [o.name for o in sess.get_outputs()] == ["output"]
    g = np.random.default_rng(seed)
    for n in BATCHES:
        xs = {k: (g.standard_normal((n, w)) * scale + offset).astype(model.dtype) for k, w in model.inputs.items()}
        got = run(sess, xs)
        want = np.asarray(model.predict(xs if len(xs) > 1 else next(iter(xs.values()))))
        assert got.dtype == want.dtype == np.dtype(model.dtype)
        assert got.shape == want.shape == (n, model.out_features)
        np.testing.assert_allclose(got, want, **tolerance(model.dtype))
    return proto


def ops(proto):
    return [n.op_type for n in proto.graph.node]


# -- activations -------------------------------------------------------------------------------------
def test_every_activation_is_covered():
    assert {name for name, _ in ACTIVATIONS} == set(activations.names()) - _users_activations()
    assert set(activations.names()) - _users_activations() <= set(anynet_onnx._ACTIVATION_EXPORTERS)


def _users_activations():
    return set(activations.names()) - set(activations._LISTED)


def _act_id(p):
    return p[0] + "".join(f"-{k}={v}" for k, v in p[1].items()) if isinstance(p, tuple) else str(p)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ACTIVATIONS, ids=_act_id)
@pytest.mark.parametrize("opset", [anynet_onnx.MIN_OPSET, anynet_onnx.DEFAULT_OPSET, 20])
def test_activation_in_dense_and_as_a_layer(act, dtype, opset):
    name, options = act
    fn = activations.get(name, **options)
    model = anynet.Sequential([Dense(5, 6, activation=fn), Activation(name, **options), Dense(6, 3)],
                              seed=1, dtype=dtype)
    if dtype == "float64" and (name, options.get("approximate")) in NO_FLOAT64_KERNEL:
        proto = anynet_onnx.to_onnx(model, opset=opset)  # valid ONNX: checked inside, and here
        onnx.checker.check_model(proto, full_check=True)
        try:
            session(proto)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception classes
            assert "NOT_IMPLEMENTED" in str(exc)
        else:  # a newer onnxruntime with the kernel: then it must match
            assert_matches(model, opset=opset)
        # onnx's reference runtime computes Erf in float32, hence the tolerance
        x = np.random.default_rng(0).standard_normal((4, 5))
        got = reference.ReferenceEvaluator(proto).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, model.predict(x), rtol=1e-6, atol=1e-7)
        return
    assert_matches(model, opset=opset)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softplus", "silu", "gelu", "softmax", "leaky_relu"])
def test_activations_do_not_overflow_on_large_inputs(name, dtype):
    model = anynet.Sequential([Activation(name)], in_features=4, dtype=dtype)
    assert_matches(model, scale=60.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opset", [13, 19, 20])
def test_gelu_graph_depends_on_the_opset_and_dtype(opset, dtype):
    model = anynet.Sequential([Activation("gelu")], in_features=3, dtype=dtype)
    proto = assert_matches(model, opset=opset)
    assert ("Gelu" in ops(proto)) == (opset >= 20 and dtype == "float32")


def test_float64_writes_elementary_ops_where_onnxruntime_has_no_kernel():
    for dtype, want in (("float32", {"Elu", "Softplus"}), ("float64", set())):
        model = anynet.Sequential([Activation("elu"), Activation("softplus")], in_features=3, dtype=dtype)
        assert {"Elu", "Softplus"} & set(ops(anynet_onnx.to_onnx(model))) == want


# -- layers ------------------------------------------------------------------------------------------
def test_every_layer_is_covered():
    builtin = {registry.name_of("layer", c) for c in (Dense, Activation, Dropout, BatchNorm, LayerNorm, Add,
                                                      Concatenate, Embedding)}
    users = {n for n in registry.names("layer") if registry.lookup("layer", n).__module__.split(".")[0] != "anynet"}
    assert set(registry.names("layer")) - users == builtin
    assert set(anynet_onnx._LAYER_EXPORTERS) >= {registry.lookup("layer", n) for n in builtin}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers", [
    pytest.param(lambda: [Dense(4, 3)], id="dense"),
    pytest.param(lambda: [Dense(4, 3, bias=False)], id="dense-no-bias"),
    pytest.param(lambda: [Dense(4, 3, activation="tanh", bias=False)], id="dense-no-bias-tanh"),
    pytest.param(lambda: [Dense(4, 6), Activation("relu"), Dense(6, 2)], id="activation"),
    pytest.param(lambda: [Dense(4, 6), Dropout(0.5), Dense(6, 2)], id="dropout"),
    pytest.param(lambda: [Dropout(0.3)], id="dropout-alone"),
    pytest.param(lambda: [Dense(4, 6), BatchNorm(6), Dense(6, 2)], id="batchnorm"),
    pytest.param(lambda: [BatchNorm(4, eps=1e-3)], id="batchnorm-eps"),
    pytest.param(lambda: [Dense(4, 6), LayerNorm(6), Dense(6, 2)], id="layernorm"),
    pytest.param(lambda: [LayerNorm(4, elementwise_affine=False, eps=1e-3)], id="layernorm-plain"),
])
@pytest.mark.parametrize("opset", [anynet_onnx.MIN_OPSET, anynet_onnx.DEFAULT_OPSET, 18, NEWEST])
def test_layers_in_a_sequential(layers, dtype, opset):
    model = anynet.Sequential(layers(), seed=2, dtype=dtype, in_features=4)
    g = np.random.default_rng(3)
    for layer in model.layers:  # parameters and statistics away from their initial ones and zeros
        for d in (layer.params, layer.buffers):
            for k, v in d.items():
                host = g.uniform(0.5, 1.5, v.shape) if k in ("running_var", "gamma") else g.standard_normal(v.shape)
                d[k] = model.backend.asarray(host, dtype=model.dtype)
    assert_matches(model, opset=opset)


@pytest.mark.parametrize("opset", [16, 17])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layernorm_is_written_out_where_the_onnx_op_would_round_eps(dtype, opset):
    model = anynet.Sequential([LayerNorm(8, eps=1e-3)], dtype=dtype)
    # rows of a small spread: in float64 the op's 32-bit epsilon attribute alone would be off by ~1e-9
    proto = assert_matches(model, opset=opset, scale=0.1)
    assert ("LayerNormalization" in ops(proto)) == (dtype == "float32" and opset >= 17)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trained_batchnorm_and_dropout(dtype):
    g = np.random.default_rng(0)
    X = (g.standard_normal((64, 5)) * [1, 2, 3, 4, 5] + [10, -3, 0, 1, 100]).astype(dtype)
    y = X @ g.standard_normal((5, 2)) / 50
    model = anynet.Sequential([Dense(5, 16, activation="relu"), BatchNorm(16), Dropout(0.4), Dense(16, 2)],
                              seed=0, dtype=dtype)
    model.fit(X, y, loss="mse", optimizer=anynet.optim.SGD(lr=0.01), epochs=3, batch_size=16, verbose=0)
    bn = model.layers[1]
    mean, var = (np.asarray(anynet.to_numpy(bn.buffers[k])) for k in ("running_mean", "running_var"))
    assert np.abs(mean).max() > 0.1 and np.abs(var - 1).max() > 0.1  # the statistics have moved
    proto = assert_matches(model)
    assert "Dropout" not in ops(proto) and "BatchNormalization" in ops(proto)
    # a batch of raw training rows, too (values near the running mean, the worst case for rounding)
    np.testing.assert_allclose(run(session(proto), {"input": X}), model.predict(X), **tolerance(dtype))


# -- graphs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_input_graph_with_add_concatenate_and_a_loss_node(dtype):
    model = anynet.Graph({
        "a": (Dense(3, 4, activation="tanh"), "left"),
        "b": (Dense(2, 4), "right"),
        "sum": (Add(), ["a", "b", "a"]),
        "cat": (Concatenate(), ["sum", "right", "left"]),
        "head": (Dense(9, 2), "cat"),
        "loss": (MSE(), ["head", "target"]),
    }, inputs={"left": 3, "right": 2, "target": 2}, output="head", seed=0, dtype=dtype)
    proto = assert_matches(model)
    assert [i.name for i in proto.graph.input] == ["left", "right"]  # the label input is not exported
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["batch", ""]
    assert {"Concat", "Add"} <= set(ops(proto))
    assert not any("loss" in n.name for n in proto.graph.node)


def test_graph_output_read_straight_from_an_input_node_chain():
    model = anynet.Graph({"d": (Dropout(0.5), "x")}, inputs={"x": 3}, output="d")
    proto = assert_matches(model)
    assert ops(proto) == ["Identity"]


def test_initializers_are_named_by_state_dict_paths_in_the_model_dtype():
    for dtype, elem in (("float32", onnx.TensorProto.FLOAT), ("float64", onnx.TensorProto.DOUBLE)):
        model = anynet.Sequential([Dense(3, 4), LayerNorm(4), Dense(4, 2)], seed=0, dtype=dtype)
        proto = anynet_onnx.to_onnx(model)
        inits = {t.name: t for t in proto.graph.initializer}
        assert set(model.state_dict()) <= set(inits)
        assert all(inits[k].data_type == elem for k in model.state_dict())
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(inits["0.W"]), model.state_dict()["0.W"])
        assert proto.graph.input[0].type.tensor_type.elem_type == elem


def test_a_model_on_any_backend_exports_its_host_values(backend):
    model = anynet.Sequential([Dense(3, 4, activation="relu"), BatchNorm(4), Dense(4, 2)], seed=0, backend=backend)
    proto = anynet_onnx.to_onnx(model)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    want = np.asarray(anynet.to_numpy(model.predict(anynet.to_device(x, model.backend))))
    np.testing.assert_allclose(run(session(proto), {"input": x}), want, **tolerance("float32"))


# -- export, metadata, preprocessing -------------------------------------------------------------------
def test_export_writes_a_file_that_loads_and_returns_the_proto(tmp_path):
    model = anynet.Sequential([Dense(4, 3, activation="softmax")], seed=0)
    model.metadata["note"] = {"classes": ["a", "b", "c"]}
    path = tmp_path / "m.onnx"
    proto = anynet_onnx.export(model, path)
    assert isinstance(proto, onnx.ModelProto)
    loaded = onnx.load(str(path))
    assert loaded.SerializeToString() == proto.SerializeToString()
    assert loaded.producer_name == "anynet" and loaded.opset_import[0].version == anynet_onnx.DEFAULT_OPSET
    props = {p.key: p.value for p in loaded.metadata_props}
    assert json.loads(props["anynet.metadata"]) == {"note": {"classes": ["a", "b", "c"]}}
    x = np.ones((2, 4), np.float32)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(out, model.predict(x), **tolerance("float32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_preprocessing_from_the_cli_metadata_takes_raw_features(dtype):
    mean, scale = [10.0, -5.0, 0.5], [2.0, 0.1, 30.0]
    model = anynet.Sequential([Dense(3, 4, activation="tanh"), Dense(4, 1)], seed=0, dtype=dtype)
    model.metadata["cli"] = {"scaling": {"mean": mean, "scale": scale}}
    raw = np.random.default_rng(0).standard_normal((6, 3)) * scale + mean
    want = model.predict(((raw - mean) / scale).astype(dtype))
    for spec in (True, (mean, scale), {"input": (np.asarray(mean), np.asarray(scale))}):
        proto = anynet_onnx.to_onnx(model, preprocessing=spec)
        assert ops(proto)[:2] == ["Sub", "Div"]
        sess = session(proto)
        np.testing.assert_allclose(run(sess, {"input": raw.astype(_raw_dtype(sess, dtype))}), want, **tolerance(dtype))


def _raw_dtype(sess, dtype):
    """What a preprocessing graph's raw input takes: float64 once anynet.onnx scales in float64."""
    return np.float64 if sess.get_inputs()[0].type == "tensor(double)" else dtype


def test_preprocessing_scales_raw_values_in_float64():
    # timestamps near 1.7e9 are 128 apart in float32: a float32 raw input loses them before scaling
    model = anynet.Sequential([Dense(1, 8, activation="tanh"), Dense(8, 2)], seed=0)
    t = 1.7e9 + np.arange(300.0)[:, None] * 10
    mean, scale = t.mean(0), t.std(0)
    sess = session(anynet_onnx.to_onnx(model, preprocessing=(mean, scale)))
    got = run(sess, {"input": t.astype(_raw_dtype(sess, model.dtype))})
    np.testing.assert_allclose(got, model.predict(((t - mean) / scale).astype(model.dtype)), atol=1e-6)


def test_preprocessing_of_a_model_trained_by_the_cli(tmp_path):
    from anynet.cli import main

    g = np.random.default_rng(0)
    X = g.standard_normal((60, 3)) * [1, 10, 100] + [0, 50, -30]
    y = X[:, 0] + 0.1 * X[:, 1]
    rows = ["a,b,c,target"] + [",".join(f"{v:.6f}" for v in r) for r in np.c_[X, y]]
    (tmp_path / "data.csv").write_text("\n".join(rows))
    assert main(["train", "--csv", str(tmp_path / "data.csv"), "--target", "target", "--out", str(tmp_path / "run"),
                 "--quiet", "--layers", "8:tanh", "--epochs", "2"]) == 0
    model = anynet.load(tmp_path / "run" / "model.safetensors")
    scaling = model.metadata["cli"]["scaling"]
    proto = anynet_onnx.to_onnx(model, preprocessing=True)
    sess = session(proto)
    raw = X[:5].astype(_raw_dtype(sess, model.dtype))
    want = model.predict(((X[:5] - scaling["mean"]) / np.asarray(scaling["scale"])).astype(model.dtype))
    np.testing.assert_allclose(run(sess, {"input": raw}), want, **tolerance(model.dtype))
    assert json.loads(proto.metadata_props[0].value)["cli"]["features"] == ["a", "b", "c"]


def test_preprocessing_errors():
    model = anynet.Sequential([Dense(3, 1)], seed=0)
    with pytest.raises(anynet.ConfigError, match=r"metadata\['cli'\]\['scaling'\].*preprocessing=\(mean, scale\)"):
        anynet_onnx.to_onnx(model, preprocessing=True)
    with pytest.raises(anynet.ConfigError, match="scale of input 'input' must be > 0"):
        anynet_onnx.to_onnx(model, preprocessing=([0, 0, 0], [1, 0, 1]))
    with pytest.raises(anynet.ConfigError, match=r"must be 3 finite numbers"):
        anynet_onnx.to_onnx(model, preprocessing=([0, 0], 1.0))
    with pytest.raises(anynet.ConfigError, match="does not have"):
        anynet_onnx.to_onnx(model, preprocessing={"x": (0.0, 1.0)})
    two = anynet.Graph({"s": (Add(), ["p", "q"])}, inputs={"p": 2, "q": 2}, output="s")
    with pytest.raises(anynet.ConfigError, match="has 2 inputs"):
        anynet_onnx.to_onnx(two, preprocessing=(0.0, 1.0))
    assert ops(anynet_onnx.to_onnx(two, preprocessing={"q": (1.0, 2.0)}))[:2] == ["Sub", "Div"]


def test_bad_arguments():
    model = anynet.Sequential([Dense(3, 1)], seed=0)
    for opset in (12, NEWEST + 1, 17.0, True, "17"):
        with pytest.raises(anynet.ConfigError, match=f"opset must be an int from {anynet_onnx.MIN_OPSET}"):
            anynet_onnx.to_onnx(model, opset=opset)
    assert anynet_onnx.to_onnx(model, opset=np.int64(15)).opset_import[0].version == 15
    with pytest.raises(anynet.InputTypeError, match="must be an anynet Sequential or Graph"):
        anynet_onnx.to_onnx(Dense(3, 1))
    with pytest.raises(anynet.ConfigError, match="output_name"):
        anynet_onnx.to_onnx(model, output_name="input")
    proto = anynet_onnx.to_onnx(model, output_name="y")
    assert [o.name for o in proto.graph.output] == ["y"]


# -- parts without an exporter, and users' exporters ---------------------------------------------------
@pytest.fixture
def cube():
    fn = anynet.register("activation")(ActivationFn("cube", lambda x: x * x * x, lambda x, y, dy: 3 * x * x * dy))
    yield fn
    anynet_onnx.unregister_exporter("cube")
    registry.unregister("activation", "cube")


class Scale(Layer):
    """A user's layer: y = x * s, s a learned vector."""

    def __init__(self, n, *, dtype=None, backend=None):
        super().__init__()
        self.in_features = n
        self._place(backend, dtype)
        self.params = {"s": self._send(np.linspace(0.5, 2.0, n))}

    def forward(self, x, *, training=False, need_dx=True):
        s = self.params["s"]
        return x * s, lambda dy: dy * s


def test_an_activation_without_an_exporter_raises_a_clear_error(cube):
    model = anynet.Sequential([Dense(3, 4), Activation("cube"), Dense(4, 1)], seed=0)
    with pytest.raises(anynet.ConfigError, match=r"node '1' uses the activation 'cube', which has no ONNX exporter.*"
                                                 r"anynet\.onnx\.register_exporter\('cube', fn\)"):
        anynet_onnx.to_onnx(model)
    pair = anynet.Sequential([Dense(3, 4, activation=(np.sin, np.cos))], seed=0)
    with pytest.raises(anynet.ConfigError, match=r"node '0' uses the activation 'custom'.*register it"):
        anynet_onnx.to_onnx(pair)


def test_a_layer_without_an_exporter_raises_a_clear_error():
    model = anynet.Graph({"h": (Dense(3, 4), "x"), "scaled": (Scale(4), "h")}, inputs={"x": 3}, output="scaled")
    with pytest.raises(anynet.ConfigError, match=r"node 'scaled' is a Scale, which has no ONNX exporter.*"
                                                 r"register_exporter\(Scale, fn\)"):
        anynet_onnx.to_onnx(model)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_users_exporters_for_a_layer_and_an_activation(cube, dtype):
    def scale(b, layer, x):
        return b.add_node("Mul", [x, b.parameter(layer, "s")])

    def cube_export(b, fn, x):
        return b.add_node("Mul", [b.add_node("Mul", [x, x]), x])

    anynet_onnx.register_exporter(Scale, scale)
    anynet_onnx.register_exporter(cube, cube_export)  # by the ActivationFn, i.e. its name
    try:
        model = anynet.Graph({"h": (Dense(3, 4, activation="cube"), "x"), "s": (Scale(4, dtype=dtype), "h"),
                              "out": (Dense(4, 2), "s")}, inputs={"x": 3}, output="out", seed=0, dtype=dtype)
        proto = assert_matches(model)
        assert "s.s" in {t.name for t in proto.graph.initializer}
        with pytest.raises(anynet.ConfigError, match="already has an exporter"):
            anynet_onnx.register_exporter(Scale, lambda b, layer, x: x)
        anynet_onnx.register_exporter(Scale, lambda b, layer, x: x, replace=True)
        assert "s.s" not in {t.name for t in anynet_onnx.to_onnx(model).graph.initializer}
    finally:
        anynet_onnx.unregister_exporter(Scale)


def test_register_exporter_as_a_decorator_and_for_an_alias():
    @anynet_onnx.register_exporter("swish", replace=True)  # the alias stands for "silu"
    def silu_again(b, fn, x):
        return b.add_node("Mul", [x, b.add_node("Sigmoid", [x])])

    try:
        assert anynet_onnx._ACTIVATION_EXPORTERS["silu"] is silu_again
        assert_matches(anynet.Sequential([Activation("swish")], in_features=3))
    finally:
        anynet_onnx.register_exporter("silu", anynet_onnx._silu, replace=True)
    with pytest.raises(anynet.InputTypeError, match="Layer subclass, an activation name"):
        anynet_onnx.register_exporter(42, silu_again)
    with pytest.raises(anynet.ConfigError, match="already has an exporter"):
        anynet_onnx.register_exporter(Dense, silu_again)
    with pytest.raises(anynet.ConfigError, match="under a name of its own"):
        anynet_onnx.register_exporter(activations.get((np.sin, np.cos)), silu_again)


def test_a_users_exporter_that_returns_no_value_or_builds_invalid_onnx():
    model = anynet.Sequential([Scale(3)], in_features=3)
    for fn, pattern in [
        (lambda b, layer, x: "nowhere", "returned 'nowhere', not the name of a value"),
        (lambda b, layer, x: b.add_node("Mul", [x, "missing"]), "'missing', is not a value of the graph"),
        (lambda b, layer, x: b.add_node("NoSuchOp", [x]), "not valid ONNX"),
        (lambda b, layer, x: b.add_node("Concat", [x, x], axis=1), "not valid ONNX"),  # width 6, declared 3
    ]:
        anynet_onnx.register_exporter(Scale, fn, replace=True)
        try:
            with pytest.raises(anynet.ConfigError, match=pattern):
                anynet_onnx.to_onnx(model)
        finally:
            anynet_onnx.unregister_exporter(Scale)


def test_a_users_exporter_may_choose_by_opset_and_add_initializers():
    seen = []

    def scale(b, layer, x):
        seen.append((b.opset, b.dtype, b.node))
        s = b.add_initializer(anynet.to_numpy(layer.params["s"]), "s_copy")
        return b.add_node("Mul", [x, s])

    anynet_onnx.register_exporter(Scale, scale)
    try:
        proto = assert_matches(anynet.Sequential([Scale(3)], in_features=3), opset=15)
    finally:
        anynet_onnx.unregister_exporter(Scale)
    assert seen == [(15, np.dtype("float32"), "0")]
    assert "0/s_copy" in {t.name for t in proto.graph.initializer}
