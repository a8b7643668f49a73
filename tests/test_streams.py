"""fit / evaluate / predict on streams of batches: lists, generators, DataLoaders, multi-input dicts."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, optim
from anynet.errors import InputError
from anynet.layers import Add, Dense


def _data(n=100, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


def _model(**kw):
    kw.setdefault("dtype", "float64")
    return Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0, **kw)


def _pairs(X, y, bs, convert=lambda a: a):
    return [(convert(X[i:i + bs]), convert(y[i:i + bs])) for i in range(0, len(X), bs)]


FIT = dict(loss="softmax_cross_entropy", epochs=3, verbose=0)


def _weights(model):
    return {k: anynet.to_numpy(v) for k, v in model.state_dict().items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("kind", ["list", "tuple", "reiterable", "generator"])
def test_stream_gives_the_same_weights_as_arrays_on_numpy(kind):
    X, y = _data()
    ref = _model()
    ref.fit(X, y, optimizer=optim.Adam(lr=0.01), shuffle=False, batch_size=16, **FIT)
    pairs = _pairs(X, y, 16)
    source = {"list": pairs, "tuple": tuple(pairs), "reiterable": _Reiterable(pairs),
              "generator": (p for _ in range(3) for p in pairs)}[kind]
    model = _model()
    steps = {"steps_per_epoch": len(pairs)} if kind == "generator" else {}
    hist = model.fit(source, optimizer=optim.Adam(lr=0.01), **FIT, **steps)
    _same(_weights(model), _weights(ref))
    assert model.train_state.step == 3 * len(pairs) and len(hist["loss"]) == 3


class _Reiterable:
    """An object whose iter() gives a fresh iterator each time, with no len()."""

    def __init__(self, items):
        self.items, self.passes = items, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.items)


def test_stream_gives_the_same_weights_as_arrays_on_every_backend(backend):
    X, y = _data()
    ref = _model(backend=backend)
    ref.fit(X, y, optimizer=optim.SGD(lr=0.1), shuffle=False, batch_size=25, **FIT)
    for convert in (lambda a: a, lambda a: backend.asarray(a)):  # NumPy batches, then the backend's own arrays
        model = _model(backend=backend)
        model.fit(_pairs(X, y, 25, convert), optimizer=optim.SGD(lr=0.1), **FIT)
        for k, v in _weights(model).items():
            np.testing.assert_allclose(v, _weights(ref)[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_reiterable_is_read_once_per_epoch_and_validation_stream_is_scored():
    X, y = _data()
    source = _Reiterable(_pairs(X, y, 20))
    val = _Reiterable(_pairs(X[:40], y[:40], 15))
    model = _model()
    hist = model.fit(source, optimizer=optim.SGD(lr=0.1), validation_data=val, metrics=["accuracy"], **FIT)
    assert source.passes == 3 and val.passes == 3
    ref = model.evaluate(X[:40], y[:40])
    assert hist["val_loss"][-1] == pytest.approx(ref["loss"], rel=1e-12)
    assert hist["val_accuracy"][-1] == pytest.approx(ref["accuracy"])
    # arrays with validation batches, and batches with a validation pair
    model.fit(X, y, optimizer=optim.SGD(lr=0.1), validation_data=_pairs(X[:40], y[:40], 15), **FIT)
    hist = model.fit(_pairs(X, y, 20), validation_data=(X[:40], y[:40]), **FIT)
    assert len(hist["val_loss"]) == 3


def test_evaluate_and_predict_take_streams():
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer=optim.SGD(lr=0.1), metrics=["accuracy"], **FIT)
    ref = model.evaluate(X, y)
    # a list is read to its end; a one-shot iterator needs steps= (the most batches read: here all 4)
    for got in (model.evaluate(_pairs(X, y, 30)), model.evaluate(iter(_pairs(X, y, 30)), steps=9)):
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-12) and got["accuracy"] == ref["accuracy"]
    out = model.predict([X[i:i + 30] for i in range(0, 100, 30)])
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-12, atol=1e-12)
    gen = (X[i:i + 30] for i in range(0, 100, 30))
    np.testing.assert_allclose(model.predict(gen, steps=4), out, rtol=0, atol=0)
    np.testing.assert_allclose(model.predict_proba(iter([X[:50], X[50:]]), steps=2),
                               model.predict_proba(X), atol=1e-12)
    # nested lists of numbers are still one data set, not a stream
    assert model.predict(X[:2].tolist()).shape == (2, 3)


def test_torch_dataloader_works_as_it_is():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X, y = _data()
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = DataLoader(data, batch_size=16, shuffle=False)
    ref = _model(backend="torch")
    ref.fit(X, y, optimizer=optim.Adam(lr=0.01), shuffle=False, batch_size=16, **FIT)
    model = _model(backend="torch")
    model.fit(loader, optimizer=optim.Adam(lr=0.01), validation_data=loader, **FIT)
    _same(_weights(model), _weights(ref))
    assert model.evaluate(loader)["loss"] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-12)
    out = model.predict(DataLoader(TensorDataset(torch.from_numpy(X)), batch_size=16))
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (100, 3)
    np.testing.assert_allclose(out.numpy(), model.predict(X), rtol=1e-12, atol=1e-12)


def test_multi_input_graph_takes_dict_batches():
    X, y = _data()

    def graph():
        return Graph({"a": (Dense(2, 5), "p"), "b": (Dense(2, 5), "q"), "s": (Add(), ["a", "b"]),
                      "out": (Dense(5, 3), "s")}, inputs={"p": 2, "q": 2}, output="out", seed=0, dtype="float64")

    data = {"p": X[:, :2], "q": X[:, 2:]}
    ref = graph()
    ref.fit(data, y, optimizer=optim.SGD(lr=0.1), shuffle=False, batch_size=32, **FIT)
    batches = [({"p": X[i:i + 32, :2], "q": X[i:i + 32, 2:]}, y[i:i + 32]) for i in range(0, 100, 32)]
    model = graph()
    model.fit(batches, optimizer=optim.SGD(lr=0.1), **FIT)
    _same(_weights(model), _weights(ref))
    np.testing.assert_array_equal(model.predict([b[0] for b in batches]), ref.predict(data))


def test_each_batch_is_checked_as_it_arrives_and_errors_name_it():
    X, y = _data()
    pairs = _pairs(X, y, 10)
    bad_x = list(pairs)
    bad_x[3] = (np.where(np.arange(4) == 1, np.nan, pairs[3][0]), pairs[3][1])
    model = _model()
    with pytest.raises(InputError, match=r"batch 3: X contains NaN"):
        model.fit(bad_x, optimizer=optim.SGD(lr=0.1), **FIT)
    assert model.train_state.step == 3  # the three good batches trained before batch 3 was read
    bad_y = list(pairs)
    bad_y[2] = (pairs[2][0], np.full(10, 7))
    with pytest.raises(InputError, match=r"batch 2"):
        _model().fit(bad_y, optimizer=optim.SGD(lr=0.1), **FIT)
    with pytest.raises(InputError, match=r"batch 1:.*rows"):
        _model().fit([pairs[0], (X[:5], y[:4])], optimizer=optim.SGD(lr=0.1), **FIT)
    with pytest.raises(InputError, match=r"batch 0.*not an \(X, y\) pair"):
        _model().fit([(X[:5], y[:5], y[:5])], optimizer=optim.SGD(lr=0.1), **FIT)
    with pytest.raises(InputError, match=r"batch 1"):
        _model().evaluate(bad_x[2:], loss="softmax_cross_entropy")
    with pytest.raises(InputError, match=r"batch 1"):
        _model().predict([X[:5], np.ones((5, 3))])


def test_a_stream_reads_each_batch_once_and_lazily():
    X, y = _data()
    seen = []

    def gen():
        for i, p in enumerate(_pairs(X, y, 10)):
            seen.append(i)
            yield p

    model = _model()
    model.fit(gen(), optimizer=optim.SGD(lr=0.1), loss="softmax_cross_entropy", epochs=2, steps_per_epoch=4,
              verbose=0)
    assert seen == list(range(8)) and model.train_state.step == 8


def test_one_shot_stream_needs_steps_and_running_out_names_epoch_and_batch():
    X, y = _data()
    with pytest.raises(InputError, match="steps_per_epoch"):
        _model().fit(iter(_pairs(X, y, 10)), optimizer=optim.SGD(lr=0.1), **FIT)
    model = _model()
    with pytest.raises(InputError, match=r"ran out at epoch 2, batch 2"):
        model.fit(iter(_pairs(X, y, 10)), optimizer=optim.SGD(lr=0.1), steps_per_epoch=4, **FIT)
    assert model.train_state.epoch == 2


@pytest.mark.parametrize("option", [{"batch_size": 16}, {"shuffle": True}, {"shuffle": False},
                                    {"validation_split": 0.2}, {"batching": "wrap"}])
def test_array_options_are_refused_with_a_stream(option):
    X, y = _data()
    with pytest.raises(InputError, match=f"{next(iter(option))}.*do not apply to a stream"):
        _model().fit(_pairs(X, y, 10), optimizer=optim.SGD(lr=0.1), **FIT, **option)


def test_stream_with_y_or_arrays_without_y_are_refused():
    X, y = _data()
    with pytest.raises(InputError, match="y was given too"):
        _model().fit(_pairs(X, y, 10), y, optimizer=optim.SGD(lr=0.1), **FIT)
    with pytest.raises(InputError, match="y is missing"):
        _model().fit(X, optimizer=optim.SGD(lr=0.1), **FIT)
    with pytest.raises(InputError, match="y is missing"):
        _model().evaluate(X, loss="mse")
    with pytest.raises(InputError, match="batch_size does not apply"):
        _model().evaluate(_pairs(X, y, 10), loss="softmax_cross_entropy", batch_size=10)
    with pytest.raises(InputError, match="batch_size does not apply"):
        _model().predict([X[:10], X[10:]], batch_size=10)
    with pytest.raises(InputError, match="one-shot iterator"):
        _model().fit(X, y, optimizer=optim.SGD(lr=0.1), validation_data=iter(_pairs(X, y, 10)), **FIT)


def test_batchnorm_refuses_a_one_row_batch():
    from anynet.layers import BatchNorm

    X, y = _data()
    model = Sequential([Dense(4, 8), BatchNorm(8), Dense(8, 3)], seed=0)
    with pytest.raises(InputError, match=r"batch 1 has 1 rows.*BatchNorm"):
        model.fit([(X[:10], y[:10]), (X[10:11], y[10:11])], optimizer=optim.SGD(lr=0.1), **FIT)
