"""fit / predict / evaluate on data bigger than memory: a ``numpy.memmap`` (or any large NumPy array)
is checked in row chunks, gathered by rows per batch, never converted or copied to a device whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import anynet
from anynet import Sequential, batches, optim, validation
from anynet.batches import HostRows, prepare_x, reads_by_rows
from anynet.errors import InputError
from anynet.layers import Dense
from tests.test_streams import _data as stream_data
from tests.test_streams import _model, _same, _weights

MiB = 1 << 20


def _on_disk(tmp_path, name, array):
    """``array`` written to an ``.npy`` file and opened again as a read-only memmap."""
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def _data(n=600, seed=0):
    return stream_data(n, seed)




def _fit(model, X, y, **kw):
    """Two epochs of Adam (a fresh optimizer each call: it keeps state) in batches of 32."""
    return model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.01), epochs=2, batch_size=32,
                     verbose=0, **kw)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows, so that data of a few hundred rows is read in many of them."""
    monkeypatch.setattr(validation, "CHUNK_ROWS", 64)
    monkeypatch.setattr(batches, "FORWARD_ROWS", 50)


def _peak(f):
    """``(result, peak MiB allocated by f)`` as tracemalloc sees it (NumPy reports its buffers)."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = f()
        return out, (tracemalloc.get_traced_memory()[1] - before) / MiB
    finally:
        if not tracing:
            tracemalloc.stop()


# -- the target of the issue: a million rows, a few batches of memory -------------------------------
@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """A 1,000,000 × 32 float32 memmap (122 MiB on disk) and float32 targets, written in chunks."""
    tmp = tmp_path_factory.mktemp("memmap")
    g = np.random.default_rng(0)
    X = np.lib.format.open_memmap(tmp / "X.npy", mode="w+", dtype=np.float32, shape=(1_000_000, 32))
    for a in range(0, X.shape[0], 1 << 17):
        X[a:a + (1 << 17)] = g.standard_normal((min(1 << 17, X.shape[0] - a), 32), dtype=np.float32)
    X.flush()
    y = np.lib.format.open_memmap(tmp / "y.npy", mode="w+", dtype=np.float32, shape=(1_000_000,))
    y[:] = X[:, 0] - 0.5 * X[:, 1]
    y.flush()
    del X, y
    return np.load(tmp / "X.npy", mmap_mode="r"), np.load(tmp / "y.npy", mmap_mode="r")


def _million_model():
    return Sequential([Dense(32, 64, activation="relu"), Dense(64, 1)], seed=0, dtype="float32")


def test_fit_on_a_million_row_memmap_allocates_at_most_24_mib(million):
    # before: about 31 MiB, nearly all the whole-array isfinite mask of the validation (30.5 MiB); what is
    # left is mostly the epoch's permutation of a million row numbers (7.6 MiB)
    X, y = million
    assert X.nbytes > 120 * MiB
    model = _million_model()
    hist, peak = _peak(lambda: model.fit(X, y, loss="mse", optimizer=optim.SGD(lr=0.01), batch_size=256, epochs=1,
                                         shuffle=True, verbose=0))
    assert peak <= 24, f"fit on a {X.nbytes / MiB:.0f} MiB memmap allocated {peak:.1f} MiB at its peak"
    assert np.isfinite(hist["loss"][0]) and model.train_state.step == 1_000_000 // 256 + 1


def test_predict_and_evaluate_on_a_million_row_memmap_keep_the_outputs_not_the_intermediates(million):
    X, y = million
    model = _million_model()
    model.fit(X[:2048], y[:2048], loss="mse", optimizer=optim.SGD(lr=0.01), verbose=0)
    out, peak = _peak(lambda: model.predict(X))
    assert out.shape == (1_000_000, 1) and isinstance(out, np.ndarray) and not isinstance(out, np.memmap)
    # the outputs (3.8 MiB) and a chunk's intermediates; all rows' hidden layer alone would be 244 MiB
    assert peak <= out.nbytes / MiB + 8, f"predict allocated {peak:.1f} MiB"
    np.testing.assert_allclose(out[-5:], model.predict(np.array(X[-5:])), rtol=1e-6)
    scores, peak = _peak(lambda: model.evaluate(X, y, metrics=["mae"]))
    assert peak <= 8, f"evaluate allocated {peak:.1f} MiB"
    assert np.isfinite(scores["loss"]) and np.isfinite(scores["mae"])


# -- the same results as in memory -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batching", ["epoch", "wrap"])
def test_fit_on_a_memmap_gives_the_weights_of_the_same_data_in_memory(tmp_path, dtype, batching, small_chunks):
    X, y = _data()
    Xm, ym = _on_disk(tmp_path, "X", X.astype(dtype)), _on_disk(tmp_path, "y", y)
    ref, model = _model(dtype=dtype), _model(dtype=dtype)
    h_ref = _fit(ref, X.astype(dtype), y, batching=batching, validation_split=0.2, metrics=["accuracy"])
    h = _fit(model, Xm, ym, batching=batching, validation_split=0.2, metrics=["accuracy"])
    _same(_weights(model), _weights(ref))
    assert h.history == h_ref.history


def test_a_float64_memmap_trains_a_float32_model_converted_batch_by_batch(tmp_path):
    X, y = _data()
    Xm = _on_disk(tmp_path, "X", X)
    model = _model(dtype="float32")
    held = prepare_x(model, Xm, "fit", by_rows=True)
    assert isinstance(held, HostRows) and np.shares_memory(held.data, Xm)  # no converted copy of the whole
    batch = held.take(np.array([5, 1]))
    assert batch.dtype == np.float32 and batch.shape == (2, 4)
    ref = _model(dtype="float32")
    _fit(ref, X, y)  # in memory: converted whole, once
    _fit(model, Xm, y)
    _same(_weights(model), _weights(ref))


def test_predict_and_evaluate_on_a_memmap_equal_the_in_memory_results(tmp_path, small_chunks):
    X, y = _data()
    model = _model()
    _fit(model, X, y)
    Xm, ym = _on_disk(tmp_path, "X", X), _on_disk(tmp_path, "y", y)
    out = model.predict(Xm)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, model.predict(X, batch_size=50))  # the same chunks in memory
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(Xm), model.predict_proba(X), rtol=1e-12, atol=1e-12)
    got, want = model.evaluate(Xm, ym, metrics=["accuracy"]), model.evaluate(X, y, metrics=["accuracy"])
    assert got.keys() == want.keys() and got["accuracy"] == want["accuracy"]
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)


def test_predict_runs_a_memmap_through_the_model_a_chunk_at_a_time(tmp_path, small_chunks, monkeypatch):
    X, y = _data()
    model = _model()
    seen = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x, **kw: (seen.append(x.shape[0]), forward(x, **kw))[1])
    model.predict(_on_disk(tmp_path, "X", X))
    assert seen == [50] * 12
    seen.clear()
    model.predict(X)  # small and in memory: one pass, as before
    assert seen == [600]


def test_a_large_in_memory_array_is_read_by_rows_too(monkeypatch):
    X, y = _data()
    monkeypatch.setattr(batches, "READ_BY_ROWS_BYTES", X.nbytes)
    assert reads_by_rows(X) and not reads_by_rows(X[:10])
    model = _model(dtype="float32")
    assert isinstance(prepare_x(model, X, "fit", by_rows=True), HostRows)  # float64 data, float32 model
    assert not isinstance(prepare_x(model, X, "fit"), HostRows)  # prepare_x alone still gives a device array
    ref = _model(dtype="float32")
    monkeypatch.setattr(batches, "READ_BY_ROWS_BYTES", 1 << 40)
    _fit(ref, X, y)
    monkeypatch.setattr(batches, "READ_BY_ROWS_BYTES", X.nbytes)
    _fit(model, X, y)
    _same(_weights(model), _weights(ref))


def test_a_large_in_memory_array_goes_to_another_backend_whole(backend, monkeypatch):
    # in memory already: one copy to the device, then batches are gathered there (a GPU's fast path)
    X, _ = _data()
    monkeypatch.setattr(batches, "READ_BY_ROWS_BYTES", X.nbytes)
    held = prepare_x(_model(backend=backend, dtype="float32"), X, "fit", by_rows=True)
    assert isinstance(held, HostRows) == (backend.name == "numpy")  # NumPy would convert it whole: by rows


def test_views_of_a_memmap_are_read_by_rows(tmp_path):
    Xm = _on_disk(tmp_path, "X", _data()[0])
    assert reads_by_rows(Xm) and reads_by_rows(Xm[10:20]) and reads_by_rows(np.asarray(Xm))
    assert not reads_by_rows(np.array(Xm))  # a copy in memory


# -- checks run in chunks and name the row ------------------------------------------------------------
def test_a_nan_deep_in_a_memmap_is_reported_with_its_row(tmp_path):
    X = np.random.default_rng(0).standard_normal((200_000, 4))
    X[150_001, 2] = np.nan
    Xm = _on_disk(tmp_path, "X", X)
    y = np.zeros(200_000)
    model = Sequential([Dense(4, 1)], seed=0, dtype="float64")
    with pytest.raises(InputError, match=r"Sequential.fit: X contains NaN \(first in row 150001\)") as on_disk:
        model.fit(Xm, y, loss="mse", optimizer="sgd", verbose=0)
    with pytest.raises(InputError) as in_memory:
        model.fit(X, y, loss="mse", optimizer="sgd", verbose=0)
    assert str(on_disk.value) == str(in_memory.value)
    with pytest.raises(InputError, match=r"predict: X contains NaN \(first in row 150001\)"):
        model.predict(Xm)


def test_infinity_and_the_first_bad_row_are_named(small_chunks):
    X = np.zeros((300, 2))
    X[290, 1], X[200, 0] = np.nan, -np.inf
    with pytest.raises(InputError, match=r"X contains infinity \(first in row 200\)"):
        validation.check_finite(X, where="w")


def test_check_finite_reads_a_memmap_without_a_temporary_of_its_size(tmp_path):
    Xm = _on_disk(tmp_path, "X", np.ones((400_000, 8), dtype=np.float32))  # 12 MiB
    _, peak = _peak(lambda: validation.check_finite(Xm, where="w"))
    assert peak < 0.5  # was a 3 MiB boolean mask


def test_a_bad_label_deep_in_a_memmap_y_is_reported(tmp_path):
    n = 200_000
    X = np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32)
    y = np.zeros(n, dtype=np.int64)
    y[170_000] = 7
    ym = _on_disk(tmp_path, "y", y)
    model = _model(dtype="float32")
    with pytest.raises(InputError, match=r"rows 131072 to 196607 of y\): labels must lie in \[0, 3\).* to 7"):
        _fit(model, X, ym)
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\)"):
        _fit(model, X, y)
    yf = np.zeros((n, 3))
    yf[123_456, 1] = np.inf
    with pytest.raises(InputError, match=r"y contains infinity \(first in row 123456\)"):
        model.evaluate(X, _on_disk(tmp_path, "yf", yf), loss="mse")


def test_labels_of_a_memmap_are_one_hot_per_batch_not_whole(tmp_path):
    X, y = _data()
    ym = _on_disk(tmp_path, "y", y)
    model = _model()
    model.train_state.loss = anynet.losses.get("softmax_cross_entropy")
    held = batches.prepare_y(model, ym, model.train_state.loss, 600, "fit", by_rows=True)
    assert isinstance(held, HostRows) and held.shape == (600,)
    np.testing.assert_array_equal(held.take(slice(3, 5)), np.eye(3)[y[3:5]])


class _Smoothed(anynet.losses.SoftmaxCrossEntropy):
    """Label smoothing: targets a loss prepares its own way, not as plain one-hot rows."""

    def prepare_targets(self, y, n_outputs, **kw):
        return 0.9 * super().prepare_targets(y, n_outputs, **kw) + 0.1 / n_outputs


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", _Smoothed()])
def test_memmap_targets_are_checked_once_and_prepared_per_batch(tmp_path, loss, monkeypatch):
    X, y = _data()
    ym = _on_disk(tmp_path, "y", y)
    calls = []
    original = type(anynet.losses.get(loss)).prepare_targets
    monkeypatch.setattr(type(anynet.losses.get(loss)), "prepare_targets",
                        lambda self, part, *a, **kw: (calls.append(part.shape[0]), original(self, part, *a, **kw))[1])
    ref, model = _model(), _model()
    ref.fit(X, y, loss=loss, optimizer=optim.Adam(lr=0.01), epochs=2, batch_size=32, verbose=0)
    calls.clear()
    model.fit(X, ym, loss=loss, optimizer=optim.Adam(lr=0.01), epochs=2, batch_size=32, verbose=0)
    _same(_weights(model), _weights(ref))
    if isinstance(loss, str):  # one-hot rows, as checked: the batches are not checked again
        assert calls == [600]
    else:  # the loss's own preparation, batch by batch
        assert calls[0] == 600 and calls[1:] == ([32] * 18 + [24]) * 2


def test_a_float64_memmap_beyond_float32_range_is_refused_for_a_float32_model(tmp_path):
    X = np.random.default_rng(0).standard_normal((100_000, 4))
    X[99_000, 3] = -1e39
    Xm = _on_disk(tmp_path, "X", X)
    model = _model(dtype="float32")
    with pytest.raises(InputError, match=r"holds magnitudes up to 1e\+39, beyond float32's range"):
        _fit(model, Xm, np.zeros(100_000, dtype=np.int64))
    with pytest.raises(InputError, match="beyond float32's range"):
        model.predict(Xm)
    _, peak = _peak(lambda: batches._check_fits_float32(np.asarray(Xm[:90_000]), "w", "X"))
    assert peak < 0.5  # was np.abs of the whole array: 2.7 MiB


# -- other backends: the memmap stays on the host, each batch is copied -------------------------------
def test_a_memmap_is_not_copied_whole_to_another_backend(backend, tmp_path, monkeypatch):
    X, y = _data()
    Xm, ym = _on_disk(tmp_path, "X", X), _on_disk(tmp_path, "y", y)
    model = _model(backend=backend)
    held = prepare_x(model, Xm, "fit", by_rows=True)
    if backend.name == "numpy":  # read in place, gathered by rows: no copy at all
        assert isinstance(held, np.ndarray) and np.shares_memory(held, Xm)
    else:
        assert isinstance(held, HostRows) and np.shares_memory(held.data, Xm)
    served = []
    take = HostRows.take
    monkeypatch.setattr(HostRows, "take", lambda self, idx: (served.append(len(range(600)[idx]) if isinstance(
        idx, slice) else idx.shape[0]), take(self, idx))[1])
    _fit(model, Xm, ym)
    assert served and max(served) <= 32  # only a batch's rows ever leave the host at once
    ref = _model(backend=backend)
    _fit(ref, X, y)
    if backend.name == "jax":  # compiled: in-memory batches are taken inside the scan, a memmap's stacked
        # outside it, two XLA programs whose sums may round apart in the last bit
        for k, w in _weights(model).items():
            np.testing.assert_allclose(w, _weights(ref)[k], rtol=1e-12, atol=1e-12, err_msg=k)
    else:
        _same(_weights(model), _weights(ref))
    out = model.predict(Xm)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-12, atol=1e-12)
