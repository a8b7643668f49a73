"""pickle and copy.deepcopy of models on every backend (through the checkpoint bytes), and the
output people expect off a terminal."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, optim
from anynet.errors import CheckpointError
from anynet.layers import Add, BatchNorm, Dense, Dropout


def _data():
    g = np.random.default_rng(0)
    X = g.standard_normal((48, 3))
    return X, (X[:, 0] > 0).astype(int)


def _trained(backend):
    X, y = _data()
    model = Sequential([Dense(3, 8, activation="relu"), BatchNorm(8), Dropout(0.2), Dense(8, 2)], seed=0,
                       backend=backend, dtype="float64")
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.01), epochs=2, batch_size=16,
              metrics=["accuracy"], verbose=0)
    return model, X, y


def _same_weights(a, b):
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(anynet.to_numpy(b.state_dict()[k]), anynet.to_numpy(v))


def test_pickle_round_trip_continues_training_exactly(backend):
    model, X, y = _trained(backend)
    again = pickle.loads(pickle.dumps(model))
    assert type(again) is Sequential and again.backend == model.backend
    assert again.metrics == ["accuracy"] and again.train_state["step"] == model.train_state["step"]
    _same_weights(model, again)
    model.fit(X, y, epochs=1, verbose=0)
    again.fit(X, y, epochs=1, verbose=0)
    _same_weights(model, again)  # optimizer state, shuffles and dropout generators came along


def test_deepcopy_is_independent(backend):
    model, X, y = _trained(backend)
    twin = copy.deepcopy(model)
    before = anynet.to_numpy(model.nodes["0"].params["W"]).copy()
    twin.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(anynet.to_numpy(model.nodes["0"].params["W"]), before)
    assert not np.array_equal(anynet.to_numpy(twin.nodes["0"].params["W"]), before)


def test_a_multi_input_graph_pickles():
    g = Graph({"a": (Dense(2, 4), "x1"), "b": (Dense(3, 4), "x2"), "s": (Add(), ["a", "b"])},
              inputs={"x1": 2, "x2": 3}, output="s", seed=0)
    x = {"x1": np.ones((2, 2), np.float32), "x2": np.ones((2, 3), np.float32)}
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(g)).predict(x), g.predict(x))


def test_a_model_that_could_not_be_loaded_again_does_not_pickle():
    model = Sequential([Dense(2, 2, activation=(lambda x: x * x, lambda x, y, dy: 2 * x * dy))], seed=0)
    with pytest.raises(CheckpointError, match="unregistered activation"):
        pickle.dumps(model)


def test_load_still_refuses_pickle_files(tmp_path):
    model, _, _ = _trained("numpy")
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    with pytest.raises(CheckpointError):
        anynet.load(path)


def test_off_a_terminal_fit_prints_one_line_per_epoch(capsys):
    X, y = _data()
    Sequential([Dense(3, 2)], seed=0).fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=3,
                                          batch_size=8, verbose=1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "\r" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 3 and all(line.startswith(f"epoch {i + 1}/3 - loss: ") for i, line in enumerate(lines))
