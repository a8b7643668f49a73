"""layer.trainable = False: untouched by every optimizer and by weight decay, kept in checkpoints,
shown in summary()."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim
from anynet.layers import BatchNorm, Dense


def _data():
    g = np.random.default_rng(0)
    X = g.standard_normal((64, 4))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("make", [lambda: optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda: optim.Adam(lr=0.01, l1=0.01), lambda: optim.AdamW(lr=0.01, weight_decay=0.5),
                                  lambda: optim.RMSProp(lr=0.01), lambda: optim.AdaGrad()],
                         ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_a_frozen_layer_is_untouched_by_every_optimizer_and_decay(backend, make):
    opt = make()
    X, y = _data()
    model = Sequential([Dense(4, 8, activation="relu"), BatchNorm(8), Dense(8, 2)], seed=0, backend=backend)
    model.nodes["0"].trainable = False
    before = {k: anynet.to_numpy(v).copy() for k, v in model.parameters().items()}
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=2, batch_size=16, verbose=0)
    after = {k: anynet.to_numpy(v) for k, v in model.parameters().items()}
    for k in ("0.W", "0.b"):
        np.testing.assert_array_equal(after[k], before[k])
    assert not np.array_equal(after["2.W"], before["2.W"])
    assert not any(k.startswith("0.") for k in model.optimizer.state_dict())


def test_frozen_is_kept_in_checkpoints_and_shown_in_summary(tmp_path):
    model = Sequential([Dense(4, 8), Dense(8, 2)], seed=0)
    model.nodes["0"].trainable = False
    text = model.summary(print_fn=None)
    assert "(frozen)" in text and "trainable parameters: 18 (40 frozen)" in text
    model.save(tmp_path / "m.safetensors")
    again = anynet.load(tmp_path / "m.safetensors")
    assert again.nodes["0"].trainable is False and again.nodes["1"].trainable is True
    X, y = _data()
    before = anynet.to_numpy(again.nodes["0"].params["W"]).copy()
    again.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0)
    np.testing.assert_array_equal(anynet.to_numpy(again.nodes["0"].params["W"]), before)


def test_unfreezing_trains_the_layer_again():
    X, y = _data()
    model = Sequential([Dense(4, 8), Dense(8, 2)], seed=0)
    model.nodes["0"].trainable = False
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0)
    before = anynet.to_numpy(model.nodes["0"].params["W"]).copy()
    model.nodes["0"].trainable = True
    model.fit(X, y, verbose=0)
    assert not np.array_equal(anynet.to_numpy(model.nodes["0"].params["W"]), before)
