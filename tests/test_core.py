"""The one-way core: dependencies, state_dict, callbacks' hooks, training state outside the network."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, optim
from anynet.callbacks import Callback
from anynet.errors import StateDictError
from anynet.layers import Add, BatchNorm, Dense

PACKAGE = pathlib.Path(anynet.__file__).parent


def _imports() -> dict[str, set[str]]:
    """module -> anynet modules it imports anywhere (function-local imports included)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join(parts)
        deps = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("anynet"))
            elif isinstance(node, ast.ImportFrom):
                base = parts if is_pkg else parts[:-1]
                if node.level:
                    base = base[:len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if not mod.startswith("anynet"):
                    continue
                deps.add(mod)
                deps.update(f"{mod}.{a.name}" for a in node.names)
    # every module's import runs anynet/__init__ first; that is not a dependency of the module
    return {k: {d for d in v if d in graph and d not in (k, "anynet")} for k, v in graph.items() if k != "anynet"}


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_no_import_cycles_function_local_imports_counted():
    graph = _imports()
    assert len(graph) > 40
    assert [m for m in graph if m in _reaches(graph, m)] == []


@pytest.mark.parametrize("lower, higher", [
    ("anynet.layers", "anynet.network"), ("anynet.network", "anynet.training"),
    ("anynet.training", "anynet.checkpoint"), ("anynet.checkpoint", "anynet.model"),
    ("anynet.model", "anynet.cli"), ("anynet.dtypes", "anynet.backends"), ("anynet.registry", "anynet.layers"),
    # the leaf that layers read in data-parallel training, its writer, and the Dask module model.py calls
    ("anynet.shard", "anynet.backends"), ("anynet.distributed", "anynet.training"), ("anynet.dask", "anynet.model"),
])
def test_dependencies_run_one_way(lower, higher):
    graph = _imports()
    below = {m for m in graph if m == lower or m.startswith(lower + ".")}
    reached = set().union(*(_reaches(graph, m) for m in below))
    assert not {m for m in reached if m == higher or m.startswith(higher + ".")}


def test_network_knows_nothing_of_training():
    graph = _imports()
    assert not _reaches(graph, "anynet.network") & {"anynet.training", "anynet.optim", "anynet.callbacks",
                                                     "anynet.checkpoint", "anynet.metrics"}


def _net(**kw):
    return Sequential([Dense(3, 4, activation="tanh"), BatchNorm(4), Dense(4, 2)], seed=0, **kw)


def test_state_dict_is_parameters_and_buffers_by_path(backend):
    net = _net(backend=backend)
    sd = net.state_dict()
    assert list(sd) == ["0.W", "0.b", "1.gamma", "1.beta", "2.W", "2.b", "1.running_mean", "1.running_var"]
    assert list(net.parameters()) == list(sd)[:6] and list(net.buffers()) == list(sd)[6:]
    assert net.state_shapes() == {k: tuple(v.shape) for k, v in sd.items()}


def test_load_state_dict_round_trip_across_backends(backend):
    ref = _net(dtype="float64")
    other = Sequential([Dense(3, 4, activation="tanh"), BatchNorm(4), Dense(4, 2)], seed=1, dtype="float64",
                       backend=backend)
    other.load_state_dict({k: anynet.to_numpy(v) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(other.predict(x), ref.predict(x), rtol=1e-12)


def test_load_state_dict_names_wrong_keys_and_shapes_and_changes_nothing():
    net = _net()
    before = {k: anynet.to_numpy(v).copy() for k, v in net.state_dict().items()}
    good = {k: np.zeros(v.shape, np.float32) for k, v in before.items()}
    with pytest.raises(StateDictError, match="unknown keys \\['9.W'\\]"):
        net.load_state_dict({**good, "9.W": np.zeros((2, 2), np.float32)})
    with pytest.raises(StateDictError, match="missing keys \\['0.W'\\]"):
        net.load_state_dict({k: v for k, v in good.items() if k != "0.W"})
    with pytest.raises(StateDictError, match="'2.W' has shape \\(2, 4\\), the model needs \\(4, 2\\)"):
        net.load_state_dict({**good, "2.W": np.zeros((2, 4), np.float32)})
    with pytest.raises(StateDictError, match="running_var"):
        net.load_state_dict({**good, "1.running_var": -np.ones(4, np.float32)})
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(anynet.to_numpy(v), before[k])
    net.load_state_dict({"0.b": np.ones(4, np.float32)}, strict=False)
    np.testing.assert_array_equal(anynet.to_numpy(net.state_dict()["0.b"]), np.ones(4))


def test_training_state_lives_outside_the_network():
    model = Sequential([Dense(2, 1)], seed=0)
    net_attrs = set(vars(anynet.network.Sequential([Dense(2, 1)], seed=0)))
    assert not net_attrs & {"optimizer", "loss", "metrics", "train_state"}
    model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer=optim.SGD(lr=0.1, momentum=0.9), epochs=2,
              batch_size=4, verbose=0)
    state = model.train_state
    assert (state.epoch, state.step) == (2, 4) and state.optimizer is model.optimizer
    assert set(model.optimizer.state_dict()) == {"0.W/velocity", "0.b/velocity"}


class _Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, model):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, model, epoch, logs):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, model, step, logs):
        self.calls.append(("batch_begin", step))

    def on_batch_end(self, model, step, logs):
        loss = logs["loss"]  # 0-d, on the device: not a Python float
        self.calls.append(("batch_end", step, logs["size"], tuple(loss.shape), isinstance(loss, float)))

    def on_epoch_end(self, model, epoch, logs):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, model):
        self.calls.append(("train_end",))


def test_every_hook_is_called_in_order_with_the_step_loss_on_the_device(backend):
    rec = _Recorder()
    model = Sequential([Dense(2, 1)], seed=0, backend=backend)
    model.fit(np.ones((5, 2)), np.ones(5), loss="mse", optimizer="sgd", epochs=2, batch_size=3, metrics="mse",
              callbacks=[rec], verbose=0)
    loss_type = (), False
    assert rec.calls == [
        ("train_begin",),
        ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, 3, *loss_type), ("batch_begin", 1),
        ("batch_end", 1, 2, *loss_type), ("epoch_end", 0, ["loss", "lr", "mse"]),
        ("epoch_begin", 1), ("batch_begin", 2), ("batch_end", 2, 3, *loss_type), ("batch_begin", 3),
        ("batch_end", 3, 2, *loss_type), ("epoch_end", 1, ["loss", "lr", "mse"]),
        ("train_end",),
    ]


def test_a_batch_callback_can_read_each_step_loss():
    seen = []

    class Read(Callback):
        def on_batch_end(self, model, step, logs):
            seen.append(float(logs["loss"]))

    model = Sequential([Dense(2, 1)], seed=0)
    hist = model.fit(np.ones((6, 2)), np.arange(6.0), loss="mse", optimizer="sgd", epochs=1, batch_size=2,
                     shuffle=False, callbacks=[Read()], verbose=0)
    np.testing.assert_allclose(seen, hist.step_losses, rtol=1e-6)


def test_history_repr_is_one_short_line():
    model = Sequential([Dense(2, 1)], seed=0)
    hist = model.fit(np.ones((40, 2)), np.ones(40), loss="mse", optimizer="sgd", epochs=3, batch_size=1, verbose=0)
    assert "\n" not in repr(hist) and len(repr(hist)) < 80 and "3 epochs" in repr(hist)


def test_models_are_registered_and_rebuilt_from_their_architecture():
    g = Graph({"a": (Dense(3, 4), "x"), "b": (Dense(3, 4), "x"), "s": (Add(), ["a", "b"])},
              inputs={"x": 3}, output="s", seed=0)
    assert anynet.registry.lookup("model", "Graph") is Graph
    again = Graph.from_architecture(g.architecture(), seed=0)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again(x), g(x))
    seq = _net()
    assert type(Sequential.from_architecture(seq.architecture())) is Sequential


def test_forward_returns_y_and_backward_like_a_layer(backend):
    net = Sequential([Dense(3, 2, seed=0)], backend=backend, dtype="float64")
    x = backend.asarray(np.ones((4, 3)), dtype="float64")
    y, backward = net.forward(x, training=True)
    dx = backward(backend.asarray(np.ones((4, 2)), dtype="float64"))
    assert tuple(y.shape) == (4, 2) and tuple(dx.shape) == (4, 3) and set(net.grads) == {"0.W", "0.b"}
