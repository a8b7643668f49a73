"""fit / predict / evaluate: results, batching, callbacks, bad input, non-finite losses."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim
from anynet.callbacks import EarlyStopping, ModelCheckpoint
from anynet.errors import InputError, NonFiniteLossError
from anynet.layers import Dense
from anynet.losses import MSE


def _data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


def _model(**kw):
    return Sequential([Dense(4, 16, activation="relu"), Dense(16, 3)], seed=0, **kw)


def test_fit_learns_and_reports(backend):
    X, y = _data()
    model = _model(backend=backend)
    hist = model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.02), epochs=15,
                     batch_size=32, metrics=["accuracy"], validation_split=0.25, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert hist["lr"] == [0.02] * 15
    assert len(hist["loss"]) == 15 and hist["loss"][-1] < hist["loss"][0] * 0.5
    assert hist["accuracy"][-1] > 0.85
    proba = model.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (200, 3)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    scores = model.evaluate(X, y)
    assert set(scores) == {"loss", "accuracy"} and scores["accuracy"] > 0.85
    assert model.train_state["epoch"] == 15 and model.train_state["step"] == 15 * 5


def test_predict_batches_and_device_arrays(backend):
    X, _ = _data(50)
    model = _model(backend=backend)
    full = model.predict(X)
    np.testing.assert_allclose(model.predict(X, batch_size=7), full, rtol=1e-5, atol=1e-6)
    on_device = model.predict(backend.asarray(X, dtype="float32"))
    assert anynet.backend_of(on_device) == model.backend


def test_regression_metrics_and_1d_targets():
    g = np.random.default_rng(0)
    X = g.standard_normal((300, 3))
    y = X @ np.asarray([1.0, -2.0, 0.5]) + 0.3
    model = Sequential([Dense(3, 1)], seed=0)
    hist = model.fit(X, y, loss="mse", optimizer=optim.SGD(lr=0.05), epochs=30, batch_size=16,
                     metrics=["r2", "mae", "mse"], verbose=0)
    assert hist["r2"][-1] > 0.99 and hist["mse"][-1] == pytest.approx(hist["loss"][-1], rel=0.2)
    scores = model.evaluate(X, y)
    pred = model.predict(X)[:, 0]
    assert scores["r2"] == pytest.approx(1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum(), rel=1e-4)


def test_wrap_around_batching_gives_full_batches():
    X, y = _data(250)
    model = _model()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), epochs=1, batch_size=100,
              batching="wrap", steps_per_epoch=8, verbose=0)
    assert model.train_state["step"] == 8
    stream = model.train_state["stream"]
    assert stream["pos"] == (8 * 100) % 250 and sorted(stream["perm"].tolist()) == list(range(250))


def test_shuffles_are_seeded_and_continue():
    X, y = _data()
    a, b = _model(), _model()
    for m in (a, b):
        m.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), epochs=2, seed=5, verbose=0)
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k], b.parameters()[k])


def test_early_stopping_restores_best_weights():
    X, y = _data()
    model = _model()
    stopper = EarlyStopping("val_loss", patience=1)
    hist = model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=3.0), epochs=40,
                     validation_split=0.3, callbacks=[stopper], verbose=0)
    assert len(hist["loss"]) < 40
    best = int(np.argmin(hist["val_loss"]))
    assert stopper.best_epoch == best
    Xv, yv = X[140:], y[140:]
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(hist["val_loss"][best], rel=1e-5)


def test_checkpoint_every_n_epochs(tmp_path):
    X, y = _data()
    ck = ModelCheckpoint(str(tmp_path / "e{epoch}.safetensors"), every=2)
    _model().fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), epochs=5, callbacks=[ck], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e2.safetensors", "e4.safetensors"]
    assert anynet.load(tmp_path / "e4.safetensors").train_state["epoch"] == 4


@pytest.mark.parametrize("case,pattern", [
    (lambda X, y: (X[:, :3], y), "3 features per sample but 4 were expected"),
    (lambda X, y: (X, y[:-1]), "y has 199 rows but X has 200 samples"),
    (lambda X, y: (np.where(np.arange(200)[:, None] == 7, np.nan, X), y), "X contains NaN"),
    (lambda X, y: (np.where(np.arange(200)[:, None] == 7, np.inf, X), y), "X contains infinity"),
    (lambda X, y: (X[:0], y[:0]), "0 samples"),
    (lambda X, y: (X.astype(np.int64), y), "floating-point.*int64"),
    (lambda X, y: (X.astype(complex), y), "floating-point.*complex"),
    (lambda X, y: (X.astype(object), y), "dtype object"),
    (lambda X, y: (X, y + 1), r"labels must lie in \[0, 3\)"),
    (lambda X, y: (X, y - 1), r"labels must lie in \[0, 3\).*from -1"),
    (lambda X, y: (X, y + 0.5), "whole numbers"),
    (lambda X, y: (X[0], y), "must be 2-D"),
    (lambda X, y: ("X", y), "must be an array"),
])
def test_bad_input_to_fit_trains_nothing(case, pattern):
    X, y = _data()
    model = _model()
    before = {k: v.copy() for k, v in model.parameters().items()}
    Xb, yb = case(X, y)
    with pytest.raises((InputError, TypeError), match=pattern):
        model.fit(Xb, yb, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), verbose=0)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("kw,pattern", [
    ({"batch_size": 0}, "batch_size must be an int ≥ 1, got 0"),
    ({"batch_size": -5}, "batch_size must be"),
    ({"epochs": -1}, "epochs must be an int ≥ 0"),
    ({"batching": "ring"}, "batching must be"),
    ({"validation_split": 1.5}, "validation_split must be in"),
    ({"loss": "hinge"}, "unknown loss"),
    ({"optimizer": "lbfgs"}, "unknown optimizer"),
    ({"metrics": ["f2_score"]}, "unknown metric"),
])
def test_bad_options(kw, pattern):
    X, y = _data()
    args = {"loss": "softmax_cross_entropy", "optimizer": optim.SGD(lr=0.1), "verbose": 0, **kw}
    with pytest.raises(ValueError, match=pattern):
        _model().fit(X, y, **args)


@pytest.mark.parametrize("x_dtype", ["float32", "float64"])  # float32: NumPy fits on X itself, uncopied
def test_inputs_never_mutated_by_fit_and_predict(x_dtype):
    X, y = _data()
    X = X.astype(x_dtype)
    X0, y0 = X.copy(), y.copy()
    model = _model()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), epochs=2, verbose=0)
    model.predict(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_numpy_reads_the_data_set_in_place_other_backends_copy_it_once(backend):
    from anynet.training import prepare_x

    X = _data()[0].astype(np.float32)
    model = _model(backend=backend)
    Xd = prepare_x(model, X, "fit")
    if backend.name == "numpy":
        assert Xd is X  # no second copy of the data set in memory
        Xf = np.asfortranarray(X)
        Xfd = prepare_x(model, Xf, "fit")
        assert Xfd.flags.c_contiguous and not np.shares_memory(Xfd, Xf)  # row gathers want C order
    else:
        assert not isinstance(Xd, np.ndarray)
    np.testing.assert_array_equal(anynet.to_numpy(Xd), X)
    # float64 data for a float32 model: the one copy is the conversion
    X64 = _data()[0]
    assert not np.shares_memory(anynet.to_numpy(prepare_x(model, X64, "fit")), X64)


class NaNAtStep(MSE):
    """MSE that returns NaN while ``model`` takes step k: a fault injected at step k (read from the
    model's step counter, as fit also computes the loss outside the steps, once per epoch)."""

    def __init__(self, k, model):
        super().__init__()
        self.k, self.model = k, model
        self.name = "mse"  # saved as the MSE it is, so the checkpoint written before the fault loads

    def compute(self, pred, target):
        value, back = super().compute(pred, target)
        return (value * float("nan") if self.model.train_state.step == self.k else value), back


def test_nonfinite_loss_names_the_step_and_no_nan_checkpoint(tmp_path):
    g = np.random.default_rng(0)
    X, y = g.standard_normal((100, 4)), g.standard_normal((100, 3))
    model = _model()
    ck = ModelCheckpoint(str(tmp_path / "last.safetensors"))
    with pytest.raises(NonFiniteLossError, match="at step 23 .epoch 3, batch 4"):
        model.fit(X, y, loss=NaNAtStep(23, model), optimizer=optim.SGD(lr=0.01), epochs=5, batch_size=10,
                  callbacks=[ck], verbose=0)
    saved = anynet.load(tmp_path / "last.safetensors")
    assert saved.train_state["epoch"] == 2
    assert all(np.isfinite(v).all() for v in saved.parameters().values())


def test_nonfinite_stop_mode_restores_the_epoch_start():
    g = np.random.default_rng(0)
    X, y = g.standard_normal((100, 4)), g.standard_normal((100, 3))
    model = _model()
    hist = model.fit(X, y, loss=NaNAtStep(23, model), optimizer=optim.SGD(lr=0.01), epochs=5, batch_size=10,
                     on_nonfinite="stop", verbose=0)
    assert len(hist["loss"]) == 2


def test_saving_nan_weights_is_refused(tmp_path):
    model = _model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    good = path.read_bytes()
    model.nodes["0"].params["W"] = model.nodes["0"].params["W"] * np.nan
    with pytest.raises(anynet.CheckpointError, match="holds NaN"):
        model.save(path)
    assert path.read_bytes() == good


def test_progress_bar_runs(capsys):
    X, y = _data(64)
    _model().fit(X, y, loss="softmax_cross_entropy", optimizer=optim.SGD(lr=0.1), epochs=2, verbose=1)
    err = capsys.readouterr()
    assert "epoch 2/2" in err.out + err.err


def test_no_host_reads_inside_the_training_step(request, monkeypatch):
    """Reading a device value on the host (float(), bool(), DLPack, to_device) is a sync on a GPU.
    Count them with array-api-strict: they must grow with epochs, not with steps."""
    from .conftest import load_backend

    load_backend("array_api_strict", request.config)
    import array_api_strict as xs

    Array = type(xs.asarray([1.0]))
    reads = {"n": 0}
    for name in ("__float__", "__bool__", "__int__", "__index__", "__array__", "__dlpack__", "__complex__"):
        real = getattr(Array, name)

        def counted(self, *a, _real=real, **k):
            reads["n"] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(Array, name, counted)
    X, y = _data(240)
    model = _model(backend="array_api_strict")
    Xd = model.backend.asarray(X, dtype="float32")
    yd = model.backend.asarray(y)

    def reads_for(batch_size):
        reads["n"] = 0
        model.fit(Xd, yd, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.01, clip_norm=1.0),
                  epochs=2, batch_size=batch_size, verbose=0)
        return reads["n"]

    few_steps, many_steps = reads_for(120), reads_for(10)  # 4 steps against 48 steps
    assert many_steps == few_steps, (few_steps, many_steps)


def test_a_divergence_in_the_last_step_is_caught():
    """The loss of the last step is computed before its update: only a check of the parameters at
    the end of the epoch sees weights that the last update made non-finite."""
    X, y = _data(40)
    model = _model()
    blow_up = optim.SGD(lr=lambda step: 0.01 if step < 4 else 1e300)  # the 5th and last step overflows
    with pytest.raises(NonFiniteLossError, match="parameters became non-finite at step 4 .epoch 1, batch 5"):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=blow_up, epochs=1, batch_size=8, verbose=0)


def test_a_last_step_divergence_in_stop_mode_restores_the_epoch_start():
    X, y = _data(40)
    model = _model()
    before = {k: anynet.to_numpy(v).copy() for k, v in model.parameters().items()}
    blow_up = optim.SGD(lr=lambda step: 0.01 if step < 4 else 1e300)
    hist = model.fit(X, y, loss="softmax_cross_entropy", optimizer=blow_up, epochs=3, batch_size=8,
                     on_nonfinite="stop", verbose=0)
    assert hist.history == {}
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(anynet.to_numpy(v), before[k])


def test_float64_data_beyond_float32_range_is_refused_for_a_float32_model():
    X, y = _data(10)
    X[3, 1] = 1e39
    with pytest.raises(InputError, match="beyond float32's range.*dtype='float64'"):
        _model().fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0)
    _model(dtype="float64").predict(X)  # fine in float64


def test_masked_arrays_with_masked_values_are_refused():
    X, y = _data(10)
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, bool))
    _model().predict(masked)  # nothing masked: fine
    masked[2, 2] = np.ma.masked
    with pytest.raises(InputError, match="masked array with 1 masked values"):
        _model().predict(masked)


def test_batchnorm_models_never_train_on_a_batch_of_one():
    from anynet.layers import BatchNorm

    X, y = _data(33)  # 33 = 4 × 8 + 1
    model = Sequential([Dense(4, 8), BatchNorm(8), Dense(8, 3)], seed=0)
    hist = model.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", epochs=2, batch_size=8, verbose=0)
    assert model.train_state["step"] == 8 and len(hist.step_losses) == 8  # the lone sample joins the 4th batch
    assert np.all(anynet.to_numpy(model.nodes["1"].buffers["running_var"]) > 0.05)


def test_metrics_may_be_one_name():
    X, y = _data(20)
    hist = _model().fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", metrics="accuracy", verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "lr"}
