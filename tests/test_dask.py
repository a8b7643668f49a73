"""anynet.dask: predict on Dask arrays is lazy (one task per chunk, the model in the graph once) and equals
NumPy's predict; evaluate adds up the chunks' sums to NumPy's evaluate; a dask.distributed cluster of two
processes builds the model once per worker."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import anynet
from anynet import checkpoint
from anynet.errors import InputError, InputTypeError
from anynet.layers import Add, Dense

da = pytest.importorskip("dask.array", reason="dask not installed")
import dask  # noqa: E402

import anynet.dask as anynet_dask  # noqa: E402

N, FEATURES, CLASSES = 200, 4, 3


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, FEATURES))
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


def _classifier(dtype="float64", backend=None, width=16):
    X, y = _data()
    model = anynet.Sequential([Dense(FEATURES, width, activation="tanh"), Dense(width, CLASSES)], seed=0,
                              dtype=dtype, backend=backend)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, batch_size=32, metrics=["accuracy"],
              verbose=0)
    return model


def _regressor():
    X, _ = _data()
    y = np.stack([X @ np.arange(1.0, 5.0), np.sin(X[:, 0])], axis=1)
    model = anynet.Sequential([Dense(FEATURES, 8, activation="relu"), Dense(8, 2)], seed=1, dtype="float64")
    model.fit(X, y, loss="mse", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    return model, X, y


def _graph():
    g = anynet.Graph({"a": (Dense(3, 6, activation="tanh"), "image"), "b": (Dense(2, 6), "meta"),
                      "sum": (Add(), ["a", "b"]), "out": (Dense(6, 2), "sum")},
                     inputs={"image": 3, "meta": 2}, output="out", seed=0, dtype="float64")
    return g


# -- import ---------------------------------------------------------------------------------------
def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_anynet_and_numpy_predict_do_not_import_dask():
    done = _python("import sys, numpy as np, anynet\n"
                   "from anynet.layers import Dense\n"
                   "m = anynet.Sequential([Dense(2, 1)], seed=0)\n"
                   "m.predict(np.ones((3, 2), np.float32))\n"
                   "print(sorted(k for k in sys.modules if k.split('.')[0] in ('dask', 'distributed')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_dask_the_import_error_gives_the_install_line():
    done = _python("import sys\nsys.modules['dask'] = None\nimport anynet.dask")
    assert done.returncode != 0
    assert 'pip install "anynet-nn[dask]"' in done.stderr.splitlines()[-1]


# -- predict ----------------------------------------------------------------------------------------
def test_predict_is_lazy_one_task_per_chunk_and_equals_numpy():
    model = _classifier()
    X, _ = _data()
    computed = []

    def source(block):  # counts the chunks of X that are computed
        computed.append(block.shape[0])
        return block

    Xd = da.from_array(X, chunks=(30, FEATURES)).map_blocks(source, meta=np.empty((0, 0), X.dtype))
    out = model.predict(Xd)
    assert computed == []  # nothing ran: the shape, dtype and chunks are known without it
    assert isinstance(out, da.Array)
    assert out.shape == (N, CLASSES) and out.dtype == np.float64
    assert out.chunks == (Xd.chunks[0], (CLASSES,))
    assert type(out._meta) is np.ndarray

    graph, source_graph = dict(out.__dask_graph__()), dict(Xd.__dask_graph__())
    added = set(graph) - set(source_graph)
    assert len(added) == Xd.numblocks[0] + 1  # one task per chunk and the model
    model_keys = [k for k in added if isinstance(k, str) and k.startswith("anynet-model-")]
    assert len(model_keys) == 1
    deps = out.__dask_graph__().get_all_dependencies()
    chunk_keys = [k for k in added if k not in model_keys]
    assert all(model_keys[0] in deps[k] for k in chunk_keys)
    size = len(checkpoint.dumps(model))
    assert all(len(pickle.dumps(graph[k])) < size for k in chunk_keys)  # the model's bytes are not in them

    values = out.compute()
    assert sorted(computed) == sorted(Xd.chunks[0])
    assert isinstance(values, np.ndarray)
    np.testing.assert_allclose(values, model.predict(X), rtol=1e-12, atol=0)


def test_the_model_is_built_once_per_computation(monkeypatch):
    model = _classifier()
    X, _ = _data()
    builds = []
    real = checkpoint.loads

    def counting(*args, **kwargs):
        builds.append(threading.get_ident())
        return real(*args, **kwargs)

    out = model.predict(da.from_array(X, chunks=(25, FEATURES)))
    monkeypatch.setattr(checkpoint, "loads", counting)
    out.compute(scheduler="threads")
    assert len(builds) == 1  # 8 chunks, one model


def test_predict_is_a_snapshot_of_the_model():
    model = _classifier()
    X, y = _data()
    before = model.predict(X)
    out = model.predict(da.from_array(X, chunks=50))
    model.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_allclose(out.compute(), before, rtol=1e-12, atol=0)


def test_predict_float32_model_with_float64_chunks():
    model = _classifier(dtype="float32")
    X, _ = _data()
    out = model.predict(da.from_array(X, chunks=(64, FEATURES)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.compute(), model.predict(X), rtol=1e-5, atol=1e-6)


def test_predict_proba_and_batch_size():
    model = _classifier()
    X, _ = _data()
    out = model.predict_proba(da.from_array(X, chunks=(45, FEATURES)), batch_size=7)
    assert out.shape == (N, CLASSES)
    values = out.compute()
    np.testing.assert_allclose(values, model.predict_proba(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=1e-12)


def test_chunks_along_columns_are_joined_and_row_chunks_kept():
    model = _classifier()
    X, _ = _data()
    out = model.predict(da.from_array(X, chunks=(70, 1)))
    assert out.chunks == ((70, 70, 60), (CLASSES,))
    np.testing.assert_allclose(out.compute(), model.predict(X), rtol=1e-12, atol=0)


def test_empty_chunks_give_empty_output_chunks():
    model = _classifier()
    X, _ = _data()
    out = model.predict(da.from_array(X, chunks=((60, 60, 0, 80), (FEATURES,))))
    assert out.chunks[0] == (60, 60, 0, 80)
    np.testing.assert_allclose(out.compute(), model.predict(X), rtol=1e-12, atol=0)


def test_graph_with_several_inputs_takes_a_dict_of_dask_arrays():
    g = _graph()
    rng = np.random.default_rng(2)
    image, meta = rng.standard_normal((90, 3)), rng.standard_normal((90, 2))
    lazy = {"image": da.from_array(image, chunks=(40, 3)), "meta": da.from_array(meta, chunks=(25, 1))}
    out = g.predict(lazy)
    assert out.chunks == ((40, 40, 10), (2,))  # the first input's row chunks
    np.testing.assert_allclose(out.compute(), g.predict({"image": image, "meta": meta}), rtol=1e-12, atol=0)
    with pytest.raises(InputError, match="the model takes"):
        g.predict({"image": lazy["image"]})
    with pytest.raises(InputError, match="different numbers of samples"):
        g.predict({"image": lazy["image"], "meta": lazy["meta"][:50]})


def test_chunks_run_on_the_models_backend_and_come_back_as_numpy(backend):
    model = _classifier(dtype="float32", backend=backend)
    X, _ = _data()
    out = model.predict(da.from_array(X.astype(np.float32), chunks=(50, FEATURES)))
    values = out.compute()
    assert isinstance(values, np.ndarray) and values.dtype == np.float32
    np.testing.assert_allclose(values, anynet.to_numpy(model.predict(X.astype(np.float32))), rtol=1e-5, atol=1e-6)


# -- evaluate ---------------------------------------------------------------------------------------
def test_evaluate_equals_numpy_classification():
    model = _classifier()
    X, y = _data()
    eager = model.evaluate(X, y)
    for yd in (da.from_array(y, chunks=33), y):  # y rechunked to X's rows; or NumPy targets
        lazy = model.evaluate(da.from_array(X, chunks=(40, 2)), yd)
        assert sorted(lazy) == ["accuracy", "loss"]
        np.testing.assert_allclose(lazy["loss"], eager["loss"], rtol=1e-12)
        assert lazy["accuracy"] == eager["accuracy"]


def test_evaluate_sums_a_confusion_matrix_over_chunks():
    model = _classifier()
    X, y = _data()
    eager = model.evaluate(X, y, metrics=["confusion_matrix", "f1_macro"])
    lazy = model.evaluate(da.from_array(X, chunks=(40, 2)), da.from_array(y, chunks=40),
                          metrics=["confusion_matrix", "f1_macro"])
    np.testing.assert_array_equal(lazy["confusion_matrix"], eager["confusion_matrix"])
    assert int(np.sum(lazy["confusion_matrix"])) == len(y)
    assert lazy["f1_macro"] == pytest.approx(eager["f1_macro"], abs=1e-12)


def test_evaluate_equals_numpy_regression_mse_mae_r2():
    model, X, y = _regressor()
    names = ["mse", "mae", "r2"]
    eager = model.evaluate(X, y, metrics=names)
    lazy = model.evaluate(da.from_array(X, chunks=(23, FEATURES)), da.from_array(y, chunks=(50, 1)),
                          metrics=names, batch_size=9)
    assert sorted(lazy) == sorted(["loss", *names])
    for k in eager:
        np.testing.assert_allclose(lazy[k], eager[k], rtol=1e-12, err_msg=k)
    # R² over all rows is not the mean of the chunks' R²: the sums were added, not the results
    per_chunk = [model.evaluate(X[a:a + 23], y[a:a + 23], metrics=["r2"])["r2"] for a in range(0, N, 23)]
    assert abs(float(np.mean(per_chunk)) - eager["r2"]) > 1e-6


def test_evaluate_on_a_graph_with_several_inputs():
    g = _graph()
    rng = np.random.default_rng(3)
    image, meta, y = rng.standard_normal((60, 3)), rng.standard_normal((60, 2)), rng.standard_normal((60, 2))
    eager = g.evaluate({"image": image, "meta": meta}, y, loss="mse", metrics=["r2"])
    lazy = g.evaluate({"image": da.from_array(image, chunks=20), "meta": da.from_array(meta, chunks=15)},
                      da.from_array(y, chunks=12), loss="mse", metrics=["r2"])
    for k in eager:
        np.testing.assert_allclose(lazy[k], eager[k], rtol=1e-12, err_msg=k)


def test_evaluate_is_one_compute():
    model = _classifier()
    X, y = _data()
    computes = []
    real = dask.compute

    def counting(*args, **kwargs):
        computes.append(len(args))
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dask, "compute", counting)
        model.evaluate(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    assert computes == [4]  # one call, one task per chunk


# -- errors -----------------------------------------------------------------------------------------
def test_chunks_of_unknown_length_are_refused_with_the_fix():
    model = _classifier()
    X, y = _data()
    Xd = da.from_array(X, chunks=50)
    unknown = Xd[Xd[:, 0] > 0]
    assert np.isnan(unknown.chunks[0][0])
    with pytest.raises(InputError, match=r"unknown length \(nan\).*X.compute_chunk_sizes\(\)"):
        model.predict(unknown)
    yd = da.from_array(y, chunks=50)
    with pytest.raises(InputError, match=r"y.compute_chunk_sizes\(\)"):
        model.evaluate(Xd, yd[yd >= 0])
    known = unknown.compute_chunk_sizes()
    np.testing.assert_allclose(model.predict(known).compute(), model.predict(X[X[:, 0] > 0]), rtol=1e-12, atol=0)


def test_bad_dask_inputs_are_refused_before_anything_runs():
    model = _classifier()
    X, y = _data()
    with pytest.raises(InputError, match="must be 2-D .* Dask array of shape \\(200,\\)"):
        model.predict(da.from_array(X[:, 0], chunks=50))
    with pytest.raises(InputError, match="3 features per sample but 4 were expected"):
        model.predict(da.from_array(X[:, :3], chunks=50))
    with pytest.raises(InputTypeError, match="floating-point"):
        model.predict(da.ones((N, FEATURES), dtype=np.int64, chunks=50))
    with pytest.raises(InputError, match="0 samples"):
        model.predict(da.zeros((0, FEATURES), chunks=10))
    with pytest.raises(InputError, match="y has 150 rows but X has 200 samples"):
        model.evaluate(da.from_array(X, chunks=50), da.from_array(y[:150], chunks=50))
    with pytest.raises(InputError, match="give y"):
        model.evaluate(da.from_array(X, chunks=50))
    with pytest.raises(InputError, match="not probabilities"):
        _regressor()[0].predict_proba(da.from_array(X, chunks=50))
    with pytest.raises(InputTypeError, match="anynet model"):
        anynet_dask.predict(object(), da.from_array(X, chunks=50))


def test_a_dask_dataframe_is_refused_with_the_conversion():
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe not usable here (it needs pandas and pyarrow)")
    import pandas as pd

    model = _classifier()
    X, _ = _data()
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=2)
    with pytest.raises(InputTypeError, match=r"to_dask_array\(lengths=True\)"):
        model.predict(frame)
    np.testing.assert_allclose(model.predict(frame.to_dask_array(lengths=True)).compute(), model.predict(X),
                               rtol=1e-12, atol=0)


def test_bad_values_raise_at_compute_naming_the_chunks_rows():
    model = _classifier()
    X, y = _data()
    X = X.copy()
    X[130, 2] = np.nan
    out = model.predict(da.from_array(X, chunks=50))  # the values are read when the chunks are computed
    with pytest.raises(InputError, match="NaN .*row 30.*chunk of rows 100 to 149"):
        out.compute()
    bad = y.copy()
    bad[70] = 7
    with pytest.raises(InputError, match="labels must lie in.*chunk of rows 50 to 99"):
        model.evaluate(da.from_array(_data()[0], chunks=50), da.from_array(bad, chunks=50))


def test_fit_refuses_dask_arrays_and_says_what_to_do():
    model = _classifier()
    X, y = _data()
    with pytest.raises(InputError, match=r"X.compute\(\).*blocks"):
        model.fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50), verbose=0)


# -- a dask.distributed cluster of two processes ------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="distributed not installed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                       worker_dashboard_address=None)
    try:
        # not the default scheduler: the other tests keep the local threads
        client = distributed.Client(cluster, timeout="60s", set_as_default=False)
    except BaseException:
        cluster.close(timeout=30)
        raise
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def _count_model_builds():
    """Run on each worker: count the models it builds from checkpoint bytes (the load task or unpickling)."""
    from anynet import checkpoint as ck

    real = getattr(ck.loads, "real", ck.loads)

    def loads(*args, **kwargs):
        loads.calls += 1
        return real(*args, **kwargs)

    loads.calls, loads.real = 0, real
    ck.loads = loads


def _model_builds():
    from anynet import checkpoint as ck

    return getattr(ck.loads, "calls", None)


def test_distributed_cluster_equals_numpy_and_ships_the_model_once_per_worker(client):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import the tests
    try:
        client.run(_count_model_builds)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    model = _classifier(width=64)
    X, y = _data()
    out = model.predict(da.from_array(X, chunks=(20, FEATURES)))  # 10 chunks for 2 workers
    values = client.compute(out).result(timeout=60)
    np.testing.assert_allclose(values, model.predict(X), rtol=1e-12, atol=0)
    builds = client.run(_model_builds)
    assert len(builds) == 2 and all(b is not None for b in builds.values())
    assert max(builds.values()) == 1, builds  # built once on a worker that ran chunks, never once per task

    with dask.config.set(scheduler=client):
        lazy = model.evaluate(da.from_array(X, chunks=(40, FEATURES)), da.from_array(y, chunks=25))
    eager = model.evaluate(X, y)
    np.testing.assert_allclose(lazy["loss"], eager["loss"], rtol=1e-12)
    assert lazy["accuracy"] == eager["accuracy"]
