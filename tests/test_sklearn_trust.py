"""anynet.sklearn under failure and change: a fit that raises leaves the estimator as it was, a changed
network is refused by name, a sparse label-indicator y trains as a dense one, a Backend object as
``backend=`` clones and pickles, and an estimator is not pickled half-way through a fit."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.neural_network as skn
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import anynet
import anynet.sklearn as anynet_sklearn
from anynet.errors import BackendNotFoundError, ConfigError, DeviceError, InputError, NonFiniteLossError
from anynet.sklearn import ConvergenceCheck, MLPClassifier, MLPRegressor

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: a learning rate whose first Adam step sends the weights to ±inf
DIVERGING = {"learning_rate_init": 1e300}
#: a scale of the inputs (finite, so validate_data takes them) under which an SGD step of a partial_fit
#: sends the weights so far that the next batch's outputs overflow
HUGE = 1e150


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _fitted_state(est) -> dict:
    """Everything a failed call must leave as it was: the network's numbers, the optimizer's state, the
    fitted attributes, the predictions."""
    model = est.model_
    opt = model.optimizer
    return {"coefs": [c.copy() for c in est.coefs_ + est.intercepts_],
            "opt": {k: anynet.to_numpy(v).copy() for k, v in opt.state_dict().items()},
            "opt_counts": (opt.iterations, opt.current_lr(), opt.weight_decay),
            "steps": (model.train_state.epoch, model.train_state.step),
            "attrs": (est.n_iter_, est.t_, list(est.loss_curve_), est.loss_, est.best_loss_, est._no_improvement_count,
                      None if est.validation_scores_ is None else list(est.validation_scores_),
                      est.best_validation_score_),
            "backend": model.backend.spec}


def _assert_same_state(a: dict, b: dict) -> None:
    for x, y in zip(a["coefs"], b["coefs"], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a["opt"].keys() == b["opt"].keys()
    for key in a["opt"]:
        np.testing.assert_array_equal(a["opt"][key], b["opt"][key])
    assert a["opt_counts"] == b["opt_counts"] and a["steps"] == b["steps"]
    assert a["attrs"] == b["attrs"] and a["backend"] == b["backend"]


# -- item 1: a fit that raises leaves the estimator as it was ---------------------------------------
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_a_first_fit_that_fails_leaves_the_estimator_unfitted(cls):
    X, y = _iris()
    est = cls(hidden_layer_sizes=(5,), max_iter=20, random_state=0, **DIVERGING)
    with pytest.raises(NonFiniteLossError):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert set(vars(est)) == set(est.get_params())  # no fitted attribute, no private leftover
    with pytest.raises(NotFittedError):
        est.predict(X)
    # and it fits normally afterwards, as a fresh estimator does
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(learning_rate_init=0.01).fit(X, y)
        fresh = cls(hidden_layer_sizes=(5,), max_iter=20, random_state=0, learning_rate_init=0.01).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), fresh.predict(X))


@quiet
def test_a_first_partial_fit_that_fails_leaves_the_estimator_unfitted():
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, **DIVERGING)
    with pytest.raises(NonFiniteLossError):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert set(vars(clf)) == set(clf.get_params())
    with pytest.raises(InputError, match="classes="):  # still a first call: classes= is needed again
        clf.partial_fit(X, y)


@quiet
def test_a_refit_that_fails_keeps_the_previous_model():
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0).fit(X, y)
    before, proba = _fitted_state(clf), clf.predict_proba(X)
    with pytest.raises(NonFiniteLossError, match="left with the previous fit's network"):
        clf.set_params(**DIVERGING).fit(X, y)
    _assert_same_state(_fitted_state(clf), before)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


@quiet
@pytest.mark.parametrize("how", ["warm_start", "warm_start early stopping", "partial_fit"])
def test_a_continued_fit_that_fails_leaves_the_previous_model_exactly(how):
    """Same coefs_, predictions, optimizer state and counters; and training on from there gives what
    an estimator that never saw the failed call gives (the optimizer and the rule's state are back)."""
    X, y = _iris()
    kw = {"hidden_layer_sizes": (6,), "max_iter": 5, "random_state": 1, "learning_rate_init": 0.01, "solver": "sgd",
          "batch_size": 32, "early_stopping": how.endswith("early stopping")}
    how = how.split()[0]
    ours, twin = MLPClassifier(warm_start=True, **kw), MLPClassifier(warm_start=True, **kw)
    if how == "warm_start":
        ours.fit(X, y), twin.fit(X, y)
    else:
        ours.partial_fit(X, y, classes=[0, 1, 2]), twin.partial_fit(X, y, classes=[0, 1, 2])
        ours.partial_fit(X, y), twin.partial_fit(X, y)  # an optimizer with state to lose
    before, proba = _fitted_state(ours), ours.predict_proba(X)
    with pytest.raises(NonFiniteLossError):
        if how == "warm_start":  # warm_start starts a new optimizer with the new rate
            ours.set_params(**DIVERGING).fit(X, y)
        else:  # partial_fit continues the optimizer: extreme inputs make the weights, then the loss, overflow
            ours.partial_fit(X * HUGE, y)
    _assert_same_state(_fitted_state(ours), before)
    np.testing.assert_array_equal(ours.predict_proba(X), proba)
    ours.set_params(learning_rate_init=0.01)
    for est in (ours, twin):
        est.fit(X, y) if how == "warm_start" else est.partial_fit(X, y)
    _assert_same_state(_fitted_state(ours), _fitted_state(twin))


@quiet
def test_an_interrupted_fit_leaves_the_previous_model(monkeypatch):
    """Any exception, an interrupt (Ctrl-C) too, part-way through the epochs: nothing half-trained stays."""
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0, warm_start=True).fit(X, y)
    before = _fitted_state(clf)
    seen = []
    original = ConvergenceCheck.on_epoch_end

    def interrupt_at_the_third_epoch(self, model, epoch, logs):
        original(self, model, epoch, logs)
        seen.append(epoch)
        if len(seen) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ConvergenceCheck, "on_epoch_end", interrupt_at_the_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(seen) == 3
    _assert_same_state(_fitted_state(clf), before)


# -- item 6: the divergence message speaks of the estimator's parameters ------------------------------
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_divergence_names_the_estimators_parameters(cls):
    X, y = _iris()
    with pytest.raises(NonFiniteLossError) as info:
        cls(hidden_layer_sizes=(5,), max_iter=20, random_state=0, **DIVERGING).fit(X, y)
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}.fit: training diverged")
    for words in ("learning_rate_init (now 1e+300)", "StandardScaler", "alpha", "left unfitted"):
        assert words in message
    assert "clip_norm" not in message and "checkpoint" not in message  # options the estimator does not have
    assert isinstance(info.value.__cause__, NonFiniteLossError)  # anynet's own report, chained
    if cls is MLPRegressor:
        assert "TransformedTargetRegressor" in message


@quiet
def test_divergence_of_a_continued_fit_says_the_previous_model_is_kept():
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", max_iter=3, random_state=0, warm_start=True).fit(X, y)
    with pytest.raises(NonFiniteLossError, match="momentum .now 0.9.*previous fit's network"):
        clf.set_params(**DIVERGING).fit(X, y)


# -- item 2: warm_start / partial_fit on a changed network ---------------------------------------------
CHANGES = {"hidden_layer_sizes": ((7,), "hidden layers are \\(5,\\)"),
           "activation": ("tanh", "fitted network's is 'relu'"),
           "dtype": ("float32", "fitted network is float64")}


@quiet
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("param", list(CHANGES))
def test_a_changed_network_is_refused_by_name(param, how):
    """scikit-learn silently keeps the old network on warm_start (and fails deep inside partial_fit);
    anynet names the parameter, the fitted value, and the way out, and keeps the fitted model."""
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0, warm_start=how == "warm_start")
    clf.fit(X, y) if how == "warm_start" else clf.partial_fit(X, y, classes=[0, 1, 2])
    before = _fitted_state(clf)
    value, fitted = CHANGES[param]
    clf.set_params(**{param: value})
    way_out = "set_params.warm_start=False..fit" if how == "warm_start" else "clone.estimator..partial_fit"
    with pytest.raises(ConfigError, match=f"{param} is .*{fitted}.*set it back.*{way_out}"):
        clf.fit(X, y) if how == "warm_start" else clf.partial_fit(X, y)
    _assert_same_state(_fitted_state(clf), before)
    # fitting from scratch with the new value is what the message offers, and it works
    clf.set_params(warm_start=False).fit(X, y)
    assert getattr(clf, param) == value and clf.n_iter_ == 3
    if param == "dtype":
        assert clf.model_.dtype == "float32"


@quiet
def test_the_same_network_written_differently_is_not_a_change():
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0, warm_start=True, dtype="float64")
    clf.fit(X, y)
    clf.set_params(hidden_layer_sizes=5, dtype=np.float64).fit(X, y)  # 5 is (5,), np.float64 is "float64"
    clf.set_params(dtype=None).fit(X.astype(np.float32), y)  # dtype=None keeps the fitted network's
    assert clf.model_.dtype == "float64" and clf.n_iter_ == 2


@quiet
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_changed_backend_moves_the_network_and_training_goes_on(how):
    """The backend is where the network computes, not which network: it moves there (with the
    optimizer's state) and trains on as it would have where it was."""
    X, y = _iris()
    kw = {"hidden_layer_sizes": (6,), "max_iter": 4, "random_state": 0, "dtype": "float64", "solver": "sgd",
          "batch_size": 32}
    moved, stayed = MLPClassifier(warm_start=True, **kw), MLPClassifier(warm_start=True, **kw)
    for est in (moved, stayed):
        est.fit(X, y) if how == "warm_start" else est.partial_fit(X, y, classes=[0, 1, 2])
    moved.set_params(backend="array_api_strict")
    for est in (moved, stayed):
        est.fit(X, y) if how == "warm_start" else est.partial_fit(X, y)
    assert moved.model_.backend.name == "array_api_strict" and stayed.model_.backend.name == "numpy"
    for a, b in zip(moved.coefs_ + moved.intercepts_, stayed.coefs_ + stayed.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(moved.loss_curve_, stayed.loss_curve_, rtol=1e-9)
    # a failed call after the move puts the network back where it was, as it was
    before = _fitted_state(moved)
    moved.set_params(backend="numpy")
    with pytest.raises(NonFiniteLossError):
        moved.set_params(**DIVERGING).fit(X, y) if how == "warm_start" else moved.partial_fit(X * HUGE, y)
    _assert_same_state(_fitted_state(moved), before)
    assert moved.model_.backend.name == "array_api_strict"


# -- item 3: a sparse label-indicator y -------------------------------------------------------------
def _multilabel():
    X, y = _iris()
    Y = np.stack([y == 0, y == 2, X[:, 0] > 0], axis=1).astype(np.int64)
    return X, Y


@quiet
def test_sparse_multilabel_y_trains_as_scikit_learn_does():
    """scikit-learn's MLPClassifier takes a SciPy sparse indicator y (and predicts sparse indicators):
    so does anynet's, with the network a dense y gives, which is scikit-learn's."""
    X, Y = _multilabel()
    kw = {"hidden_layer_sizes": (8,), "solver": "sgd", "learning_rate_init": 0.1, "max_iter": 12, "random_state": 0}
    sparse = MLPClassifier(**kw).fit(X, scipy.sparse.csr_matrix(Y))
    dense = MLPClassifier(**kw).fit(X, Y)
    theirs = skn.MLPClassifier(**kw).fit(X, scipy.sparse.csr_matrix(Y))
    for a, b, c in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_,
                       theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)
    predicted = sparse.predict(X)
    assert scipy.sparse.issparse(predicted) and scipy.sparse.issparse(theirs.predict(X))
    np.testing.assert_array_equal(predicted.toarray(), dense.predict(X))
    np.testing.assert_array_equal(predicted.toarray(), theirs.predict(X).toarray())
    assert isinstance(dense.predict(X), np.ndarray)  # a dense y still predicts dense
    assert sparse.score(X, Y) == dense.score(X, Y)
    # partial_fit and warm_start take it too (csc as well)
    part = MLPClassifier(**kw).partial_fit(X, scipy.sparse.csc_matrix(Y))
    part.partial_fit(X, scipy.sparse.csr_matrix(Y))
    assert part.classes_.tolist() == [0, 1, 2]


@quiet
def test_sparse_y_for_a_regressor_trains_as_a_dense_one():
    X, Y = make_regression(80, 4, n_targets=3, random_state=0)
    Y[np.abs(Y) < 50] = 0.0
    kw = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}
    sparse = MLPRegressor(**kw).fit(X, scipy.sparse.csr_matrix(Y))
    dense = MLPRegressor(**kw).fit(X, Y)
    np.testing.assert_array_equal(sparse.predict(X), dense.predict(X))


def test_a_sparse_y_too_large_to_densify_is_refused_clearly(monkeypatch):
    X, Y = _multilabel()
    monkeypatch.setattr(anynet_sklearn, "_MAX_DENSE_Y", 100)
    clf = MLPClassifier(max_iter=2)
    with pytest.raises(InputError, match="y is a sparse 150×3 matrix.*partial_fit over chunks"):
        clf.fit(X, scipy.sparse.csr_matrix(Y))
    assert set(vars(clf)) == set(clf.get_params())


def test_sparse_multiclass_multioutput_y_gets_the_dense_message():
    X, y = _iris()
    with pytest.raises(InputError, match="multiclass-multioutput"):
        MLPClassifier().fit(X, scipy.sparse.csr_matrix(np.stack([y, 2 - y], axis=1)))


# -- item 4: a Backend object as backend= ----------------------------------------------------------
@quiet
def test_a_backend_object_clones_pickles_and_still_runs_there():
    X, y = _iris()
    numpy_backend = anynet.get_backend("numpy")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0, backend=numpy_backend)
    assert clf.get_params()["backend"] == "numpy:cpu"  # stored as its spec
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert pickle.loads(pickle.dumps(clf)).get_params() == clf.get_params()
    clf.fit(X, y)
    assert clf.model_.backend is numpy_backend
    again = pickle.loads(pickle.dumps(clf))
    assert again.model_.backend is numpy_backend
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(copy.deepcopy(clf).predict(X), clf.predict(X))
    # set_params, also through a Pipeline, stores the spec too; so does an attribute set by hand, when pickled
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=2)).set_params(mlpclassifier__backend=numpy_backend)
    assert pipe[-1].backend == "numpy:cpu" and clone(pipe).get_params()["mlpclassifier__backend"] == "numpy:cpu"
    clf.backend = numpy_backend
    assert pickle.loads(pickle.dumps(clf)).backend == "numpy:cpu"


@quiet
def test_a_backend_object_of_another_backend_keeps_the_network_there_through_clone_and_pickle():
    X, y = _iris()
    strict = anynet.get_backend("array_api_strict")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0, dtype="float64", backend=strict)
    clf.fit(X, y)
    again, twin = pickle.loads(pickle.dumps(clf)), clone(clf).fit(X, y)
    for est in (clf, again, twin):
        assert est.model_.backend is strict and est.backend == strict.spec
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("params, error, match", [
    ({"dtype": "float16"}, ConfigError, "MLPRegressor: dtype must be 'float32', 'float64', 'widest' or None.*float16"),
    ({"backend": "nump"}, BackendNotFoundError, "MLPRegressor: backend='nump': unknown backend 'nump'; known"),
    ({"backend": "numpy:gpu"}, DeviceError, "MLPRegressor: backend='numpy:gpu': .*no device 'gpu'; available"),
])
def test_a_bad_backend_or_dtype_is_named_as_the_estimators_parameter(params, error, match):
    X, y = _iris()
    reg = MLPRegressor(**params)
    with pytest.raises(error, match=match):
        reg.fit(X, y)
    assert set(vars(reg)) == set(reg.get_params())


# -- item 5: pickling while fitting ----------------------------------------------------------------
@quiet
def test_pickling_or_refitting_while_fitting_is_refused_and_works_after(monkeypatch):
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    errors = []
    original = ConvergenceCheck.on_epoch_end

    def pickle_mid_fit(self, model, epoch, logs):  # e.g. a monitor saving the estimator every epoch
        original(self, model, epoch, logs)
        for attempt in (lambda: pickle.dumps(clf), lambda: copy.deepcopy(clf), lambda: clf.fit(X, y)):
            try:
                attempt()
            except InputError as exc:
                errors.append(str(exc))

    monkeypatch.setattr(ConvergenceCheck, "on_epoch_end", pickle_mid_fit)
    clf.fit(X, y)
    monkeypatch.undo()
    assert len(errors) == 9
    assert "cannot pickle (or copy) this MLPClassifier while it is fitting" in errors[0]
    assert "pickle it after fit or partial_fit returns" in errors[0] and errors[1] == errors[0]
    assert "already fitting" in errors[2]
    # the refused inner calls did not disturb the outer fit: it equals an undisturbed one
    plain = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    _assert_same_state(_fitted_state(clf), _fitted_state(plain))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), clf.predict_proba(X))
