"""The training loop's edges (issue 20): an epoch without batches, a last step that makes the outputs
non-finite, targets beyond float32, streams that never end, and two fits of one model at once. Each
used to give a silent wrong answer (a loss of 0.0, NaN from evaluate, a hang) or a broken counter."""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim, training
from anynet.callbacks import LambdaCallback, ModelCheckpoint
from anynet.errors import InputError, NonFiniteLossError
from anynet.layers import Dense, Dropout


def _model(**kw):
    return Sequential([Dense(3, 8, activation="relu"), Dense(8, 2)], seed=0, **kw)


def _data(n=20, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, 3)), g.integers(0, 2, n)


FIT = dict(loss="softmax_cross_entropy", verbose=0)


class _RunsDry:
    """A re-iterable whose every iter() continues one shared generator: it runs dry after one pass."""

    def __init__(self, pairs):
        self.it = iter(pairs)

    def __iter__(self):
        return iter(self.it.__next__, None)  # a fresh iterator object over the same, spent source


# -- 1. an epoch with no batches ---------------------------------------------------------------------
def test_an_empty_dataloader_epoch_is_refused_not_logged_as_a_zero_loss(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X, y = _data(5)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=8, drop_last=True)
    path = tmp_path / "best.safetensors"
    with pytest.raises(InputError, match=r"fit: epoch 1 had no batches: the DataLoader .*drop_last=True"):
        _model().fit(loader, optimizer="sgd", callbacks=[ModelCheckpoint(path, monitor="loss")], **FIT)
    assert not path.exists()  # a loss of 0.0 was the best ever: it used to be saved


def test_a_reiterable_that_runs_dry_names_the_epoch():
    X, y = _data()
    model = _model()
    with pytest.raises(InputError, match=r"epoch 2 had no batches"):
        model.fit(_RunsDry([(X[:10], y[:10]), (X[10:], y[10:])]), optimizer="sgd", epochs=3, **FIT)
    assert model.train_state.epoch == 1 and model.train_state.step == 2


def test_evaluate_and_validation_on_an_empty_stream_say_so():
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", **FIT)
    with pytest.raises(InputError, match=r"evaluate: there is nothing to score: the _RunsDry"):
        model.evaluate(_RunsDry([]))
    val = _RunsDry([(X, y)])  # scored once, then empty (epochs count on: this fit's are the 2nd and 3rd)
    with pytest.raises(InputError, match=r"fit \(validation_data, epoch 3\): there is nothing to score"):
        model.fit(X, y, optimizer="sgd", validation_data=val, epochs=3, **FIT)


# -- 2. a last step that leaves finite but huge parameters -------------------------------------------
def _blow_up():
    return optim.SGD(lr=lambda s: 1e38 if s == 14 else 0.01)  # 3 steps per epoch: 14 is the 5th epoch's last


def test_a_last_step_that_makes_the_outputs_nonfinite_raises_naming_it(tmp_path):
    X, y = _data()
    model = _model()
    best = tmp_path / "best.safetensors"
    with pytest.raises(NonFiniteLossError, match=r"outputs .*non-finite .*at step 14 \(epoch 5, batch 3\).*"
                                                 r"values up to \d\.\d+e\+37"):
        model.fit(X, y, optimizer=_blow_up(), epochs=5, batch_size=8,
                  callbacks=[ModelCheckpoint(best, monitor="loss", save_best_only=True)], **FIT)
    saved = anynet.load(best)  # the best epoch written is the 4th, not the ruined 5th
    assert saved.train_state["epoch"] == 4
    assert max(float(np.abs(anynet.to_numpy(v)).max()) for v in saved.parameters().values()) < 10


def test_a_last_step_that_makes_the_outputs_nonfinite_stops_in_stop_mode():
    X, y = _data()
    model, ref = _model(), _model()
    ref.fit(X, y, optimizer=optim.SGD(lr=0.01), epochs=4, batch_size=8, shuffle=False, **FIT)
    hist = model.fit(X, y, optimizer=_blow_up(), epochs=5, batch_size=8, shuffle=False, on_nonfinite="stop", **FIT)
    assert len(hist["loss"]) == 4  # the 5th epoch was undone
    for k, v in model.state_dict().items():  # the state after 4 epochs, as a run of 4 epochs gives
        np.testing.assert_array_equal(anynet.to_numpy(v), anynet.to_numpy(ref.state_dict()[k]), err_msg=k)
    assert np.isfinite(model.evaluate(X, y)["loss"])


def test_the_check_runs_once_per_epoch_and_changes_nothing(monkeypatch):
    X, y = _data(40)
    calls = []
    net = lambda: Sequential([Dense(3, 8, activation="relu"), Dropout(0.5), Dense(8, 2)], seed=0)  # noqa: E731
    model = net()
    real = model.forward

    def counted(x, **kw):
        calls.append(kw.get("training", False))
        return real(x, **kw)

    model.forward = counted
    model.fit(X, y, optimizer=optim.SGD(lr=0.1), epochs=3, batch_size=8, **FIT)
    assert calls.count(True) == 15 and calls.count(False) == 3  # 5 steps per epoch, one check per epoch
    monkeypatch.setattr(training.LastBatch, "__call__", lambda self, model: None)  # no check
    ref = net()  # the check draws no Dropout mask and updates nothing: the same weights as without it
    ref.fit(X, y, optimizer=optim.SGD(lr=0.1), epochs=3, batch_size=8, **FIT)
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(anynet.to_numpy(v), anynet.to_numpy(model.state_dict()[k]), err_msg=k)


def test_the_check_agrees_across_processes():
    """Data-parallel: each process checks its slice of the last batch, and the flags are summed, so a
    slice that overflows on one process stops every process alike (one that raised alone would hang the
    others at their next all-reduce). A process with no rows of a short last batch takes part too."""
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", **FIT)
    loss = model.train_state.loss
    yd = loss.prepare_targets(y, 2, backend=model.backend, dtype=model.dtype)
    xd = model.backend.asarray(X, dtype=model.dtype)

    class Other:  # the sum over this process and another one, whose slice reported `theirs`
        def __init__(self, theirs):
            self.theirs = theirs

        def allreduce(self, x):
            return x + self.theirs

    for theirs, rows, want in ((0.0, slice(0, 8), True), (1.0, slice(0, 8), False), (0.0, slice(0, 0), True),
                               (1.0, slice(0, 0), False)):
        probe = training.LastBatch(Other(theirs))
        probe.batch = (xd[rows], yd[rows])
        assert bool(probe(model)) is want and probe.batch is None
    probe = training.LastBatch()
    probe.batch = (xd * 1e38, yd)  # this process's own outputs overflow
    assert not bool(probe(model))
    assert training.LastBatch()(model) is None  # no batch yet: nothing to check


# -- 3. targets beyond float32's range ---------------------------------------------------------------
def test_targets_beyond_float32_are_refused_naming_y(tmp_path):
    X = np.random.default_rng(0).standard_normal((30, 3))
    y = np.ones((30, 2))
    y[17, 1] = -1e39
    beyond = r"y holds magnitudes up to 1e\+39, beyond float32's range"
    args = dict(loss="mse", optimizer="sgd", verbose=0)
    with pytest.raises(InputError, match="fit: " + beyond):
        _model().fit(X, y, **args)
    with pytest.raises(InputError, match=r"fit \(validation_data\): " + beyond):
        _model().fit(X, np.ones((30, 2)), validation_data=(X, y), **args)
    with pytest.raises(InputError, match="fit: batch 1: " + beyond):
        _model().fit([(X[:10], y[:10]), (X[10:], y[10:])], **args)
    with pytest.raises(InputError, match="evaluate: " + beyond):
        _model().evaluate(X, y, loss="mse")
    on_disk = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float64, shape=y.shape)
    on_disk[...] = y
    with pytest.raises(InputError, match="fit: " + beyond):  # read by rows, checked in chunks
        _model().fit(X, on_disk, **args)
    assert np.isfinite(_model(dtype="float64").fit(X, y / 1e30, **args)["loss"][0])  # fine in float64


def test_device_targets_beyond_float32_are_refused():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(0).standard_normal((30, 3)).astype(np.float32)
    y = torch.ones((30, 2), dtype=torch.float64)
    y[3, 0] = 1e39
    model = _model(backend="torch")
    with pytest.raises(InputError, match=r"fit: y holds magnitudes up to 1e\+39"):
        model.fit(torch.from_numpy(X), y, loss="mse", optimizer="sgd", verbose=0)


# -- 4. streams that never end ---------------------------------------------------------------------
def _endless(X, y=None, limit=1000):
    """``while True`` over X's batches of 5 (as the README's ``batches()``), failing the test after
    ``limit`` batches instead of hanging it."""
    for i in range(limit):
        a = 5 * i % len(X)
        yield X[a:a + 5] if y is None else (X[a:a + 5], y[a:a + 5])
    pytest.fail(f"read {limit} batches of an endless stream")


def test_evaluate_and_predict_refuse_a_one_shot_iterator_without_steps():
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", **FIT)
    for call in (lambda: model.evaluate(_endless(X, y)), lambda: model.predict(_endless(X)),
                 lambda: model.predict_proba(_endless(X)), lambda: model.evaluate(iter([(X, y)]))):
        with pytest.raises(InputError, match=r"one-shot iterator .*give steps=.*steps=100"):
            call()


def test_steps_reads_that_many_batches_and_no_more():
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", metrics=["accuracy"], **FIT)
    source = _endless(X, y)
    got = model.evaluate(source, steps=4)
    want = model.evaluate(X, y)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-6) and got["accuracy"] == want["accuracy"]
    assert np.array_equal(next(source)[0], X[:5])  # the 5th batch is still there: nothing read beyond steps
    out = model.predict(_endless(X), steps=3)
    np.testing.assert_allclose(out, model.predict(X[:15]), rtol=1e-6)
    assert model.predict_proba(_endless(X), steps=2).shape == (10, 2)
    # a re-iterable is read to its end without steps, and steps caps it
    pairs = [(X[:10], y[:10]), (X[10:], y[10:])]
    assert model.evaluate(pairs)["loss"] == pytest.approx(want["loss"], rel=1e-6)
    assert model.evaluate(pairs, steps=1)["loss"] == pytest.approx(model.evaluate(X[:10], y[:10])["loss"])


@pytest.mark.parametrize("steps", [0, -1, 2.0, True, "3"])
def test_steps_must_be_a_positive_int(steps):
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", **FIT)
    with pytest.raises(InputError, match=r"steps must be an int ≥ 1"):
        model.evaluate(_endless(X, y), steps=steps)


def test_steps_does_not_apply_to_arrays():
    X, y = _data()
    model = _model()
    model.fit(X, y, optimizer="sgd", **FIT)
    with pytest.raises(InputError, match=r"steps applies to a stream of batches.*batch_size"):
        model.predict(X, steps=2)
    with pytest.raises(InputError, match=r"steps applies to a stream of batches"):
        model.evaluate(X, y, steps=2)


# -- 5. one fit of a model at a time -----------------------------------------------------------------
def test_a_second_fit_of_one_model_from_another_thread_is_refused():
    X, y = _data()
    model = _model()
    inside, release = threading.Event(), threading.Event()

    def hold(model, epoch, logs):
        inside.set()
        assert release.wait(30)

    errors = []

    def first():
        try:
            model.fit(X, y, optimizer="sgd", epochs=2, callbacks=[LambdaCallback(on_epoch_begin=hold)], **FIT)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(30)
        with pytest.raises(InputError, match="this model is already being fitted in another thread"):
            model.fit(X, y, optimizer="sgd", **FIT)
        other = copy.deepcopy(model)  # (taken between two epochs of the first fit: no step half done)
        other.fit(X, y, optimizer="sgd", **FIT)  # a copy is another model: it may be fitted meanwhile
        assert pickle.loads(pickle.dumps(model)).train_state.epoch == 0  # nothing of the claim is pickled
    finally:
        release.set()
        thread.join(30)
    assert not errors and model.train_state.epoch == 2 and model.train_state.step == 2
    model.fit(X, y, optimizer="sgd", **FIT)  # released when the first fit returned
    assert model.train_state.epoch == 3


def test_fit_from_inside_fit_is_refused_and_a_failed_fit_releases_the_model():
    X, y = _data()
    model = _model()
    again = LambdaCallback(on_epoch_end=lambda m, epoch, logs: m.fit(X, y, optimizer="sgd", **FIT))
    with pytest.raises(InputError, match="from inside the running fit"):
        model.fit(X, y, optimizer="sgd", callbacks=[again], **FIT)
    with pytest.raises(InputError, match="batch_size must be an int"):
        model.fit(X, y, optimizer="sgd", batch_size=0, **FIT)
    model.fit(X, y, optimizer="sgd", **FIT)  # neither left the model claimed
    assert model.train_state.epoch == 2


# -- fit(shuffle=...): True, False, or each epoch's order given by a function ---------------------
@pytest.mark.parametrize("batching", ["epoch", "wrap"])
def test_an_order_function_gives_each_epochs_batches(batching):
    """fit(shuffle=order) trains on the rows in the order it returns, asked once per epoch: the same
    numbers as training without shuffling on the rows put in that order by hand."""
    X, y = _data(24)
    g = np.random.default_rng(5)
    orders = [g.permutation(24) for _ in range(4)]
    asked = []

    def order(n):
        asked.append(n)
        return orders[len(asked) - 1]

    a, b = _model(dtype="float64"), _model(dtype="float64")
    a.fit(X, y, optimizer=optim.SGD(lr=0.1, momentum=0.9), epochs=3, batch_size=8, shuffle=order,
          batching=batching, **FIT)
    opt = optim.SGD(lr=0.1, momentum=0.9)
    for perm in orders[:3]:
        b.fit(X[perm], y[perm], optimizer=opt, epochs=1, batch_size=8, shuffle=False, batching=batching, **FIT)
    # (the wrap-around stream asks for the next order as soon as one is used up)
    assert asked == [24] * (3 if batching == "epoch" else 4)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k], err_msg=k)


@pytest.mark.parametrize("bad,what", [
    (lambda n: np.zeros(n, dtype=int), "it must return a permutation of range"),
    (lambda n: np.arange(n - 1), r"shape \(19,\)"),
    (lambda n: np.arange(n, dtype=float), "dtype float64"),
    (lambda n: np.arange(n) + 1, "each row index once"),
])
def test_an_order_function_that_gives_no_permutation_is_refused(bad, what):
    X, y = _data()
    model = _model()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(InputError, match=what):
        model.fit(X, y, optimizer="sgd", epochs=1, batch_size=5, shuffle=bad, **FIT)
    for k, v in model.state_dict().items():  # refused before the first step
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.5])
def test_shuffle_must_be_a_bool_or_an_order_function(bad):
    X, y = _data()
    with pytest.raises(InputError, match=r"shuffle must be True .*, False, or a function n -> order"):
        _model().fit(X, y, optimizer="sgd", epochs=1, shuffle=bad, **FIT)
