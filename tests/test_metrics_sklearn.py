"""The classification metrics against ``sklearn.metrics`` on the same predictions (float64, within
1e-12), on every backend; their edge cases; summing over parts; functions as metrics."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import anynet
from anynet import losses, metrics
from anynet.backends import to_numpy
from anynet.errors import ConfigError, InputError, InputTypeError, UnknownNameError
from anynet.layers import Dense

sk = pytest.importorskip("sklearn.metrics")

TOL = 1e-12
AVERAGED = [f"{s}_{a}" for s in ("precision", "recall", "f1") for a in ("macro", "micro", "weighted")]
SCORES = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}


def _fed(name, backend, out, target, *, batches=3, loss=None, **options):
    """The metric ``name`` after ``out``/``target`` went through it in ``batches`` batches on ``backend``."""
    m = metrics.get(name, loss=loss, **options)
    for rows in np.array_split(np.arange(len(out)), batches):
        m.update(backend.asarray(np.asarray(out)[rows], dtype="float64"), backend.asarray(np.asarray(target)[rows]))
    return m


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's UndefinedMetricWarning on the edge cases
        return f(*args, **kwargs)


def _multiclass(seed=0, n=61, classes=4):
    """Integer-valued outputs (ties, exact on every backend) and labels where class 3 is never predicted."""
    g = np.random.default_rng(seed)
    out = g.integers(-3, 4, size=(n, classes)).astype(np.float64)
    out[:, 3] = -10.0
    return out, g.integers(0, classes, size=n)


def test_averaged_scores_equal_sklearn(backend):
    out, y = _multiclass()
    guess = out.argmax(axis=1)
    assert 3 not in guess and 3 in y  # a class never predicted: zero_division
    for target in (y, np.eye(4)[y]):  # labels, and one-hot rows as fit prepares them
        for name in AVERAGED:
            score, average = name.split("_")
            got = _fed(name, backend, out, target).result()
            assert abs(got - _quiet(SCORES[score], y, guess, average=average)) <= TOL, name


def test_a_class_in_neither_targets_nor_predictions_is_left_out_of_the_mean(backend):
    # five outputs, class 4 never a target nor a prediction: scikit-learn averages over 0..3 only
    out, y = _multiclass(seed=1)
    out = np.concatenate([out, np.full((len(out), 1), -20.0)], axis=1)
    for name in ("f1_macro", "precision_macro", "recall_macro", "f1_weighted"):
        score, average = name.split("_")
        ref = _quiet(SCORES[score], y, out.argmax(axis=1), average=average)
        assert abs(_fed(name, backend, out, y).result() - ref) <= TOL, name


def test_binary_scores_are_of_class_one(backend):
    g = np.random.default_rng(2)
    y = g.integers(0, 2, size=40)
    logits = g.standard_normal((40, 1))
    proba = 1.0 / (1.0 + np.exp(-logits))
    two = np.concatenate([-logits, logits], axis=1)  # two outputs: argmax is the sign of the logit
    for score, ref in SCORES.items():
        want = ref(y, (logits[:, 0] > 0).astype(int))
        assert abs(_fed(score, backend, logits, y, loss=losses.BCEWithLogits()).result() - want) <= TOL
        assert abs(_fed(score, backend, proba, y, loss=losses.BCE()).result() - want) <= TOL
        assert abs(_fed(score, backend, two, y).result() - want) <= TOL
        for average in ("macro", "micro", "weighted"):  # averaged over both classes
            got = _fed(f"{score}_{average}", backend, proba, y).result()
            assert abs(got - ref(y, (proba[:, 0] > 0.5).astype(int), average=average)) <= TOL


def test_binary_zero_division_is_zero_as_sklearn(backend):
    y = np.asarray([0, 0, 1, 0])
    never = np.full((4, 1), 0.2)  # class 1 never predicted: precision 0/0
    for score, ref in SCORES.items():
        assert _fed(score, backend, never, y, batches=2).result() == _quiet(ref, y, np.zeros(4, int)) == 0.0
    none = np.zeros(4, int)  # no positive at all, none predicted: every score 0/0
    for score, ref in SCORES.items():
        assert _fed(score, backend, never, none, batches=1).result() == _quiet(ref, none, none) == 0.0


def test_confusion_matrix_equals_sklearn(backend):
    out, y = _multiclass(seed=3)
    m = _fed("confusion_matrix", backend, out, y)
    got = m.result()
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, sk.confusion_matrix(y, out.argmax(axis=1), labels=range(4)))


def test_roc_auc_binary_equals_sklearn_with_ties(backend):
    g = np.random.default_rng(4)
    y = g.integers(0, 2, size=57)
    logits = g.integers(-3, 4, size=(57, 1)).astype(np.float64)  # seven values: many ties
    got = _fed("roc_auc", backend, logits, y, loss=losses.BCEWithLogits()).result()
    assert abs(got - sk.roc_auc_score(y, logits[:, 0])) <= TOL
    # two outputs: the probability of class 1, as the loss gives it on this backend
    two = g.integers(-2, 3, size=(57, 2)).astype(np.float64)
    loss = losses.get("softmax_cross_entropy")
    proba = to_numpy(loss.to_proba(backend.asarray(two, dtype="float64")))
    got = _fed("roc_auc", backend, two, np.eye(2)[y], loss=loss).result()
    assert abs(got - sk.roc_auc_score(y, proba[:, 1])) <= TOL
    # roc_auc_ovr of two classes is the binary AUC, as scikit-learn's
    assert abs(_fed("roc_auc_ovr", backend, two, y, loss=loss).result() - got) <= TOL


def test_roc_auc_ovr_equals_sklearn(backend):
    g = np.random.default_rng(5)
    out = g.integers(-2, 3, size=(80, 4)).astype(np.float64)
    y = np.arange(80) % 4
    loss = losses.get("softmax_cross_entropy")
    proba = to_numpy(loss.to_proba(backend.asarray(out, dtype="float64")))  # the same predictions
    got = _fed("roc_auc_ovr", backend, out, y, loss=loss, batches=4).result()
    assert abs(got - sk.roc_auc_score(y, proba, multi_class="ovr")) <= TOL
    # without a loss the outputs are taken as probabilities, or as logits with from_logits
    assert abs(_fed("roc_auc_ovr", backend, proba, y).result() - got) <= TOL
    assert abs(_fed("roc_auc_ovr", backend, out, y, from_logits=True).result() - got) <= TOL


def test_roc_auc_with_one_class_is_nan_and_warns(backend):
    y = np.ones(6, int)
    with pytest.warns(metrics.UndefinedMetricWarning, match="only one class"):
        assert np.isnan(_fed("roc_auc", backend, np.linspace(0, 1, 6)[:, None], y).result())
    with pytest.warns(sk.UndefinedMetricWarning if hasattr(sk, "UndefinedMetricWarning") else Warning):
        assert np.isnan(sk.roc_auc_score(y, np.linspace(0, 1, 6)))
    out, labels = _multiclass(seed=6)
    with pytest.warns(metrics.UndefinedMetricWarning, match="class 2"):
        assert np.isnan(_fed("roc_auc_ovr", backend, out, np.where(labels == 2, 0, labels), from_logits=True).result())


def test_top_k_accuracy_equals_sklearn_with_ties(backend):
    out, y = _multiclass(seed=7)  # integer outputs: ties among the classes of a row
    for k in (1, 2, 3, 4):
        options = {} if k == 2 else {"k": k}
        got = _fed("top_k_accuracy", backend, out, y, **options).result()
        want = _quiet(sk.top_k_accuracy_score, y, out, k=k, labels=range(4))
        assert abs(got - want) <= TOL, k
    g = np.random.default_rng(8)
    yb, p = g.integers(0, 2, 30), g.random((30, 1))
    assert abs(_fed("top_k_accuracy", backend, p, yb, k=1).result() - sk.top_k_accuracy_score(yb, p[:, 0], k=1)) <= TOL
    assert _fed("top_k_accuracy", backend, p, yb).result() == _quiet(sk.top_k_accuracy_score, yb, p[:, 0]) == 1.0


def test_log_loss_equals_sklearn(backend):
    g = np.random.default_rng(9)
    out, y = g.standard_normal((50, 3)) * 30, g.integers(0, 3, 50)  # large logits: probabilities 0 and 1, clipped
    loss = losses.get("softmax_cross_entropy")
    proba = to_numpy(loss.to_proba(backend.asarray(out, dtype="float64")))
    got = _fed("log_loss", backend, out, np.eye(3)[y], loss=loss).result()
    assert abs(got - sk.log_loss(y, proba, labels=range(3))) <= TOL * max(1.0, got)
    p = np.concatenate([g.random(20), [0.0, 1.0, 1.0, 0.0]])[:, None]  # exact 0 and 1: clipped to eps
    yb = np.concatenate([g.integers(0, 2, 20), [1, 0, 1, 0]])
    got = _fed("log_loss", backend, p, yb.astype(np.float64), loss=losses.BCE()).result()
    assert abs(got - sk.log_loss(yb, p[:, 0])) <= TOL * got
    assert not metrics.get("log_loss").greater_is_better


def test_greater_is_better_and_names():
    for name in AVERAGED + ["precision", "recall", "f1", "roc_auc", "roc_auc_ovr", "top_k_accuracy"]:
        assert name in metrics.names() and metrics.get(name).greater_is_better and metrics.get(name).name == name
    assert metrics.names()[-3:] == ["mae", "mse", "r2"]
    for name in metrics.names():  # every listed name is in the module docstring
        assert f"``{name}``" in metrics.__doc__


def test_refusals_name_the_fix(backend):
    out, y = _multiclass()
    with pytest.raises(ConfigError, match="use 'f1_macro', 'f1_micro' or 'f1_weighted'"):
        _fed("f1", backend, out, y)
    with pytest.raises(ConfigError, match="use 'roc_auc_ovr'"):
        _fed("roc_auc", backend, out, y)
    for name in ("f1_macro", "confusion_matrix", "top_k_accuracy", "log_loss", "roc_auc_ovr"):  # never silently
        with pytest.raises(InputError, match=r"targets are not class labels in \[0, 4\)"):
            _fed(name, backend, out, np.where(y == 0, 7, y), from_logits=True).result()
    for name, bad in [("precision", 3), ("recall", 5), ("roc_auc", 3)]:  # checkable before any data
        with pytest.raises(ConfigError, match="outputs"):
            metrics.get(name).check_outputs(bad)
    for name in ("f1", "roc_auc", "f1_macro", "roc_auc_ovr", "log_loss"):
        metrics.get(name).check_outputs(1)
        metrics.get(name).check_outputs(2)
    with pytest.raises(ConfigError, match="k must be an int"):
        metrics.get("top_k_accuracy", k=0)


def _chunks_combined(name, out, y, parts, **options):
    """The metric over ``parts`` chunks added up as anynet.dask adds them (the all_reduce protocol)."""
    from anynet.dask import _combined

    chunks = [_fed(name, anynet.get_backend("numpy"), out[r], y[r], batches=2, **options)
              for r in np.array_split(np.arange(len(out)), parts)]
    return _combined(chunks, "test")


def test_counts_sum_over_parts_to_the_global_value():
    out, y = _multiclass(seed=10, n=90)
    for name in AVERAGED + ["top_k_accuracy", "log_loss"]:
        whole = _fed(name, anynet.get_backend("numpy"), out, y, from_logits=True) if name == "log_loss" else \
            _fed(name, anynet.get_backend("numpy"), out, y)
        options = {"from_logits": True} if name == "log_loss" else {}
        assert abs(_chunks_combined(name, out, y, 3, **options).result() - whole.result()) <= TOL, name
    np.testing.assert_array_equal(_chunks_combined("confusion_matrix", out, y, 3).result(),
                                  sk.confusion_matrix(y, out.argmax(axis=1), labels=range(4)))


def test_gathered_metrics_refuse_to_be_summed_from_parts():
    out, y = _multiclass(seed=11, n=40)
    loss = losses.get("softmax_cross_entropy")
    for name in ("roc_auc_ovr", sk.balanced_accuracy_score):
        with pytest.raises(ConfigError, match="cannot be added up from 2 parts"):
            _chunks_combined(name, out, y, 2, loss=loss)
        assert not metrics.get(name).summable
        one = _chunks_combined(name, out, y, 1, loss=loss)  # one part: nothing to add
        assert np.isfinite(one.result())


def test_dask_evaluate_sums_counts_and_refuses_auc_over_chunks():
    da = pytest.importorskip("dask.array")
    g = np.random.default_rng(12)
    X, y = g.standard_normal((90, 4)), g.integers(0, 3, 90)
    model = anynet.Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0, dtype="float64")
    Xd = da.from_array(X, chunks=(30, 4))
    got = model.evaluate(Xd, y, loss="softmax_cross_entropy", metrics=["f1_macro"])
    assert abs(got["f1_macro"] - sk.f1_score(y, model.predict(X).argmax(axis=1), average="macro")) <= TOL
    with pytest.raises(ConfigError, match="roc_auc_ovr.*cannot be added up from 3 parts"):
        model.evaluate(Xd, y, loss="softmax_cross_entropy", metrics=["roc_auc_ovr"])


# -- functions as metrics, fit and evaluate ------------------------------------------------------
def _model():
    return anynet.Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0, dtype="float64")


def _data(n=64):
    g = np.random.default_rng(13)
    X = g.standard_normal((n, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)


def test_a_function_is_a_metric_under_its_name(backend):
    X, y = _data()
    model = _model().to(backend)
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.SGD(lr=0.1), epochs=2,
                        batch_size=16, metrics=[sk.balanced_accuracy_score, "f1_macro", "roc_auc_ovr"],
                        validation_data=(X, y), verbose=0)
    assert {"balanced_accuracy_score", "val_balanced_accuracy_score", "val_f1_macro", "val_roc_auc_ovr"} <= \
        set(history.history)
    guess = to_numpy(model.predict(backend.asarray(X))).argmax(axis=1)
    proba = to_numpy(model.predict_proba(backend.asarray(X)))
    scores = model.evaluate(X, y)  # the fit's metrics, function included
    assert abs(scores["balanced_accuracy_score"] - sk.balanced_accuracy_score(y, guess)) <= TOL
    assert abs(scores["f1_macro"] - sk.f1_score(y, guess, average="macro")) <= TOL
    assert abs(scores["roc_auc_ovr"] - sk.roc_auc_score(y, proba, multi_class="ovr")) <= TOL
    assert abs(history.history["val_f1_macro"][-1] - scores["f1_macro"]) <= TOL


def test_function_responses_follow_sklearn_scorers():
    X, y = _data()
    yb = (y > 0).astype(int)
    model = anynet.Sequential([Dense(4, 1)], seed=0, dtype="float64")
    model.fit(X, yb, loss="bce_logits", optimizer=anynet.optim.SGD(lr=0.1), epochs=1, verbose=0)
    proba = model.predict_proba(X)[:, 0]
    scores = model.evaluate(X, yb, metrics=[metrics.from_function(sk.roc_auc_score, response="proba", name="auc"),
                                            metrics.from_function(sk.log_loss, response="proba", name="sk_log_loss"),
                                            sk.f1_score, "roc_auc", "log_loss", "f1"])
    assert abs(scores["auc"] - sk.roc_auc_score(yb, proba)) <= TOL and abs(scores["auc"] - scores["roc_auc"]) <= TOL
    assert abs(scores["sk_log_loss"] - sk.log_loss(yb, proba)) <= TOL
    assert abs(scores["log_loss"] - scores["sk_log_loss"]) <= TOL
    assert abs(scores["f1_score"] - sk.f1_score(yb, (model.predict(X)[:, 0] > 0).astype(int))) <= TOL
    assert abs(scores["f1_score"] - scores["f1"]) <= TOL
    reg = anynet.Sequential([Dense(4, 1)], seed=0, dtype="float64")  # a regression: the outputs themselves
    got = reg.evaluate(X, X[:, 0], loss="mse", metrics=[sk.mean_absolute_error, "mae"])
    assert abs(got["mean_absolute_error"] - sk.mean_absolute_error(X[:, 0], reg.predict(X)[:, 0])) <= TOL
    assert abs(got["mean_absolute_error"] - got["mae"]) <= TOL


def test_function_metric_errors():
    X, y = _data(16)
    model = _model()
    with pytest.raises(ConfigError, match="lambda.*define it with def"):
        model.evaluate(X, y, loss="softmax_cross_entropy", metrics=[lambda t, p: 0.0])
    assert metrics.from_function(lambda t, p: 0.0, name="zero").name == "zero"

    def f1_macro(t, p):
        return 0.0

    with pytest.raises(ConfigError, match="both be logged as 'f1_macro'"):
        model.evaluate(X, y, loss="softmax_cross_entropy", metrics=["f1_macro", f1_macro])

    def table(t, p):
        return sk.confusion_matrix(t, p)

    with pytest.raises(InputTypeError, match="'table' returned ndarray"):
        model.evaluate(X, y, loss="softmax_cross_entropy", metrics=[table])
    unlabelled = metrics.get(sk.accuracy_score)  # no loss: the outputs are taken as a regression's
    unlabelled.update(np.zeros((3, 2)), np.asarray([0, 1, 1]))
    with pytest.raises(InputError, match="targets of shape .3,. do not match the outputs .3, 2."):
        unlabelled.result()
    with pytest.raises(ConfigError, match="response must be one of"):
        metrics.from_function(sk.f1_score, response="labels")


def test_confusion_matrix_in_evaluate_not_in_fit():
    X, y = _data()
    model = _model()
    opt = anynet.optim.SGD(lr=0.1)
    with pytest.raises(ConfigError, match="matrix, not a number.*evaluate"):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, metrics=["confusion_matrix"], verbose=0)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=1, verbose=0)
    got = model.evaluate(X, y, metrics=["confusion_matrix", "accuracy"])["confusion_matrix"]
    np.testing.assert_array_equal(got, sk.confusion_matrix(y, model.predict(X).argmax(axis=1), labels=range(3)))


def test_a_saved_function_metric_is_kept_by_name(tmp_path):
    X, y = _data()
    model = _model()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.SGD(lr=0.1), epochs=1, verbose=0,
              metrics=[sk.balanced_accuracy_score])
    model.save(tmp_path / "m.safetensors")
    loaded = anynet.load(tmp_path / "m.safetensors")
    assert loaded.metrics == ["balanced_accuracy_score"]
    with pytest.raises(UnknownNameError, match="give it again in metrics="):
        loaded.evaluate(X, y)
    again = loaded.evaluate(X, y, metrics=[sk.balanced_accuracy_score])
    assert again["balanced_accuracy_score"] == model.evaluate(X, y)["balanced_accuracy_score"]


def test_updates_never_read_the_host_and_results_read_once(backend, monkeypatch):
    """update is array operations only (any number of batches, no transfer); result makes one explicit
    read (two for a function metric: its outputs and its targets)."""
    reads = []
    plain = metrics.to_numpy

    def counted(x):
        reads.append(1)
        return plain(x)

    monkeypatch.setattr(metrics, "to_numpy", counted)
    out, y = _multiclass(seed=14, n=40)
    loss = losses.get("softmax_cross_entropy")
    for name in AVERAGED + ["top_k_accuracy", "log_loss", "roc_auc_ovr", "confusion_matrix", sk.accuracy_score]:
        reads.clear()
        m = _fed(name, backend, out, np.eye(4)[y], batches=8, loss=loss)
        assert reads == [], name
        m.result()
        expected = 2 if callable(name) else 1  # NumPy's 0-d sums are read with no transfer at all
        assert len(reads) == expected or (backend.spec.startswith("numpy") and len(reads) < expected), name


#: run by ``mpiexec -n 2``: a data-parallel fit logging counted metrics, then one asking for roc_auc_ovr
_MPI_JOB = '''
import json, sys
import numpy as np
import anynet
from anynet.errors import ConfigError
from anynet.layers import Dense
from mpi4py import MPI

g = np.random.default_rng(0)
X = g.standard_normal((203, 6))
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
options = dict(loss="softmax_cross_entropy", batch_size=32, verbose=0, comm=MPI.COMM_WORLD)
net = anynet.Sequential([Dense(6, 16, activation="relu"), Dense(16, 3)], seed=0, dtype="float64")
h = net.fit(X, y, optimizer=anynet.optim.Adam(lr=1e-2), epochs=2, metrics=%(names)r, validation_data=(X, y),
            **options)
logs = {k: v[-1] for k, v in h.history.items()}
try:
    net.fit(X, y, optimizer=anynet.optim.Adam(lr=1e-2), epochs=1, metrics=["roc_auc_ovr"], **options)
except ConfigError as e:
    logs["refused"] = str(e)
json.dump(logs, open(sys.argv[1] + "/rank%%d.json" %% MPI.COMM_WORLD.Get_rank(), "w"))
'''


def test_data_parallel_sums_the_counts_and_refuses_auc(tmp_path):
    """Two MPI processes: the counted metrics equal one process's (and sklearn's on the predictions);
    roc_auc_ovr is refused on both ranks alike, so neither waits for the other."""
    import json

    from tests.test_distributed import mpiexec

    names = ["f1_macro", "precision_weighted", "recall_micro", "log_loss", "top_k_accuracy"]
    (tmp_path / "job.py").write_text(_MPI_JOB % {"names": names})
    proc = mpiexec(sys.executable, str(tmp_path / "job.py"), str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    g = np.random.default_rng(0)
    X = g.standard_normal((203, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    net = anynet.Sequential([Dense(6, 16, activation="relu"), Dense(16, 3)], seed=0, dtype="float64")
    h = net.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.Adam(lr=1e-2), batch_size=32, epochs=2,
                metrics=names, validation_data=(X, y), verbose=0)
    alone = {k: v[-1] for k, v in h.history.items()}
    assert abs(alone["val_f1_macro"] - sk.f1_score(y, net.predict(X).argmax(axis=1), average="macro")) <= TOL
    assert abs(alone["val_log_loss"] - sk.log_loss(y, net.predict_proba(X))) <= TOL
    for rank in (0, 1):
        logs = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for key in [*names, *(f"val_{n}" for n in names)]:
            assert abs(logs[key] - alone[key]) <= TOL, (rank, key)
        assert "'roc_auc_ovr' is computed from every output at once" in logs["refused"]


def test_counts_are_exact_in_float32(backend):
    """The counts are integers whatever the model's dtype: float32 outputs give scikit-learn's values
    on the same (float32) predictions."""
    g = np.random.default_rng(15)
    out, y = g.standard_normal((300, 5)).astype(np.float32), g.integers(0, 5, 300)
    guess = out.argmax(axis=1)
    for name in AVERAGED:
        score, average = name.split("_")
        m = metrics.get(name)
        for rows in np.array_split(np.arange(300), 4):
            m.update(backend.asarray(out[rows], dtype="float32"), backend.asarray(np.eye(5, dtype=np.float32)[y[rows]]))
        assert abs(m.result() - SCORES[score](y, guess, average=average)) <= TOL, name


def test_roc_auc_of_many_float32_scores_is_exact(backend):
    """100 000 float32 scores: twice the Mann-Whitney U passes 2^31, which JAX's 32-bit integers
    (its default outside 64-bit mode) cannot hold; the sums are still exact."""
    g = np.random.default_rng(16)
    n = 100_000
    y = g.integers(0, 2, n)
    scores = (g.integers(0, 5000, n) + 3.0 * y).astype(np.float32)[:, None]  # ties, and some signal
    m = metrics.get("roc_auc")
    for rows in np.array_split(np.arange(n), 3):
        m.update(backend.asarray(scores[rows], dtype="float32"), backend.asarray(y[rows].astype(np.float32)))
    assert abs(m.result() - sk.roc_auc_score(y, scores[:, 0])) <= TOL


def test_a_metric_that_does_not_fit_the_outputs_is_refused_before_the_first_step():
    g = np.random.default_rng(0)
    X, y = g.standard_normal((30, 4)), np.arange(30) % 3
    net = anynet.Sequential([Dense(4, 3)], seed=0)
    with pytest.raises(anynet.ConfigError, match="'f1' is the score of class 1 of two classes"):
        net.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", metrics=["f1"], verbose=0)
    assert net.train_state.step == 0  # refused before training, not after the first step
