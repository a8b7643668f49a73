"""anynet.sklearn: scikit-learn's estimator checks, scikit-learn's own MLP step for step, the model
selection tools, and the accuracy claim against scikit-learn's MLP."""

from __future__ import annotations

import copy
import functools
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn.neural_network as skn
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import anynet
from anynet.errors import ConfigError, InputError
from anynet.layers import Dense
from anynet.sklearn import ConvergenceCheck, MLPClassifier, MLPRegressor

from .conftest import tolerance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# -- scikit-learn's estimator checks, one test each, with the default parameters -------------------
def _check_name(check) -> str:
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@quiet
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    if _check_name(check) == "check_array_api_input":
        # it needs SCIPY_ARRAY_API=1 before SciPy is imported (else it skips): a fresh process runs it
        _run_in_a_fresh_process(estimator, check, env={"SCIPY_ARRAY_API": "1"})
    else:
        check(estimator)


def _run_in_a_fresh_process(estimator, check, env) -> None:
    code = ("import pickle, sys, warnings; warnings.simplefilter('ignore')\n"
            "estimator, check = pickle.loads(sys.stdin.buffer.read())\n"
            "check(estimator)\n"
            "print('passed')\n")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((estimator, check)), cwd=ROOT,
                         env={**os.environ, **env}, capture_output=True, timeout=300, check=False)
    assert out.returncode == 0 and out.stdout.decode().strip() == "passed", out.stderr.decode()[-3000:]


def test_import_anynet_does_not_import_sklearn():
    code = "import sys, anynet; print('sklearn' in sys.modules, 'anynet.sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# -- the same step as scikit-learn's MLP ----------------------------------------------------------
def _same_as_sklearn(ours, theirs, X, Y, *, fits=1, method="fit", **fit_kw):
    for _ in range(fits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            getattr(ours, method)(X, Y, **fit_kw)
            getattr(theirs, method)(X, Y, **fit_kw)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if theirs.validation_scores_ is None:
        assert ours.validation_scores_ is None and ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    else:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.best_loss_ is None and theirs.best_loss_ is None
    if hasattr(theirs, "predict_proba"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-12)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)
    assert (ours.n_layers_, ours.n_outputs_, ours.out_activation_) == \
        (theirs.n_layers_, theirs.n_outputs_, theirs.out_activation_)


CLASSIFIER_CASES = {
    "adam": {"max_iter": 25},
    "sgd nesterov": {"solver": "sgd", "learning_rate_init": 0.05, "max_iter": 25},
    "sgd plain momentum, invscaling": {"solver": "sgd", "nesterovs_momentum": False, "learning_rate": "invscaling",
                                       "learning_rate_init": 0.2, "max_iter": 25},
    "sgd adaptive (rate cut by 5, then stop)": {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.3,
                                                "tol": 1e-2, "n_iter_no_change": 2, "max_iter": 60},
    "converges by tol": {"learning_rate_init": 0.05, "tol": 1e-2, "n_iter_no_change": 3, "max_iter": 100},
    "early stopping": {"early_stopping": True, "learning_rate_init": 0.02, "n_iter_no_change": 3, "max_iter": 60},
    "logistic, alpha, uneven last batch": {"activation": "logistic", "alpha": 0.3, "batch_size": 32, "max_iter": 15},
    "tanh, two hidden layers, no shuffle": {"activation": "tanh", "hidden_layer_sizes": (7, 5), "shuffle": False,
                                            "max_iter": 15},
    "identity": {"activation": "identity", "hidden_layer_sizes": (3,), "max_iter": 15},
}


@pytest.mark.parametrize("case", list(CLASSIFIER_CASES))
def test_classifier_is_sklearns_step_for_step(case):
    """Same random_state → the same weights, batches and updates as scikit-learn: the network,
    its loss curve, its stopping epoch and its predictions agree to rounding (float64)."""
    X, y = _iris()
    kw = {"hidden_layer_sizes": (10,), "random_state": 3, **CLASSIFIER_CASES[case]}
    _same_as_sklearn(MLPClassifier(**kw), skn.MLPClassifier(**kw), X, y)


@pytest.mark.parametrize("labels", ["binary strings", "binary early stopping", "multilabel", "multilabel invscaling"])
def test_classifier_targets_are_sklearns(labels):
    X, y = make_classification(150, 6, n_informative=4, n_classes=3, random_state=0)
    kw = {"hidden_layer_sizes": (8,), "alpha": 0.01, "batch_size": 40, "random_state": 0, "max_iter": 12}
    if labels == "binary strings":
        Y = np.where(y == 1, "yes", "no")
    elif labels == "binary early stopping":
        Y, kw = (y == 1).astype(int), {**kw, "early_stopping": True, "n_iter_no_change": 2, "learning_rate_init": 0.01}
    else:  # several labels per sample: bce_logits averages over them, which the mapping undoes
        Y = np.stack([y == 0, y == 2, X[:, 0] > 0], axis=1).astype(int)
        kw = {**kw, "solver": "sgd", "learning_rate_init": 0.1}
        if labels == "multilabel invscaling":
            kw.update(learning_rate="invscaling", power_t=0.25, learning_rate_init=0.3)
    _same_as_sklearn(MLPClassifier(**kw), skn.MLPClassifier(**kw), X, Y)


@pytest.mark.parametrize("case", ["warm_start", "partial_fit"])
def test_continued_training_is_sklearns(case):
    X, y = _iris()
    kw = {"hidden_layer_sizes": (6,), "random_state": 1, "max_iter": 7}
    if case == "warm_start":
        _same_as_sklearn(MLPClassifier(warm_start=True, **kw), skn.MLPClassifier(warm_start=True, **kw), X, y,
                         fits=3)
    else:
        _same_as_sklearn(MLPClassifier(**kw), skn.MLPClassifier(**kw), X, y, fits=3, method="partial_fit",
                         classes=np.unique(y))


class _SklearnBiasRegressor(MLPRegressor):
    """The regressor with scikit-learn's drawn output bias instead of the targets' mean."""

    def _out_bias(self, targets, drawn):
        return drawn


@pytest.mark.parametrize("kw", [{"max_iter": 20}, {"solver": "sgd", "alpha": 0.05, "batch_size": 64, "max_iter": 20},
                                {"early_stopping": True, "n_iter_no_change": 2, "max_iter": 40}],
                         ids=["adam", "sgd", "early stopping"])
def test_regressor_is_sklearns_step_for_step_but_for_the_output_bias(kw):
    X, Y = make_regression(200, 5, n_targets=2, noise=1.0, random_state=0)
    kw = {"hidden_layer_sizes": (12,), "random_state": 0, **kw}
    _same_as_sklearn(_SklearnBiasRegressor(**kw), skn.MLPRegressor(**kw), X, Y / 50)


def test_regressor_output_bias_starts_at_the_targets_mean():
    X, Y = make_regression(60, 3, n_targets=2, random_state=0)
    Y = Y + [100.0, -40.0]
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, learning_rate_init=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, Y)
    np.testing.assert_allclose(reg.intercepts_[-1], Y.mean(axis=0), rtol=1e-6)


def test_alpha_maps_onto_weight_decay_per_batch(monkeypatch):
    """weight_decay = alpha / (rows of the batch) on the weight matrices only; the last, smaller
    batch of an epoch gets its own, through the step's scalars (a schedule of the step: nothing
    changes the optimizer between batches); after fit the optimizer holds the full batches' number."""
    seen = []
    scalars = anynet.optim.Optimizer.scalars

    def recording(self, step):
        out = scalars(self, step)
        seen.append((step, out["weight_decay"]))
        return out

    monkeypatch.setattr(anynet.optim.Optimizer, "scalars", recording)
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(4,), alpha=0.8, batch_size=50, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert [wd for _, wd in seen] == pytest.approx([0.8 / 50] * 6)  # 150 = 3 × 50: no short batch
    seen.clear()
    with pytest.warns(ConvergenceWarning):
        clf.set_params(batch_size=40).fit(X, y)  # 150 = 3 × 40 + 30: each epoch ends on the short batch
    assert [step for step, _ in seen] == list(range(8))
    assert [wd for _, wd in seen] == pytest.approx([0.8 / 40] * 3 + [0.8 / 30] + [0.8 / 40] * 3 + [0.8 / 30])
    assert clf.model_.optimizer.weight_decay == pytest.approx(0.8 / 40)
    seen.clear()
    clf.partial_fit(X, y)  # continues the optimizer: its steps 8..11 are one more epoch
    assert [step for step, _ in seen] == list(range(8, 12))
    assert [wd for _, wd in seen] == pytest.approx([0.8 / 40] * 3 + [0.8 / 30])


def test_invscaling_rate_is_a_schedule_of_the_step(monkeypatch):
    """learning_rate="invscaling": the rate of each step, as scikit-learn sets it after every epoch
    (learning_rate_init / (t + 1)**power_t, t the samples seen), given by a schedule, and a number
    again after fit; the same for a label-indicator y, whose rate is learning_rate_init / c."""
    seen = []
    scalars = anynet.optim.Optimizer.scalars

    def recording(self, step):
        out = scalars(self, step)
        seen.append(out["lr"])
        return out

    monkeypatch.setattr(anynet.optim.Optimizer, "scalars", recording)
    X, y = _iris()
    kw = {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.3, "power_t": 0.5,
          "hidden_layer_sizes": (4,), "batch_size": 50, "max_iter": 3, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier(**kw).fit(X, y)
    expected = [0.3] * 3 + [0.3 / 151 ** 0.5] * 3 + [0.3 / 301 ** 0.5] * 3
    assert seen == pytest.approx(expected, rel=1e-12)
    assert clf.model_.optimizer.lr == pytest.approx(0.3 / 451 ** 0.5, rel=1e-12) and clf.t_ == 450
    seen.clear()
    Y = np.stack([y == 0, y == 2], axis=1).astype(int)  # two labels: anynet's loss is half scikit-learn's
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(**kw).fit(X, Y)
    assert seen == pytest.approx([2 * v for v in expected], rel=1e-12)


# -- the claim: at least as accurate as scikit-learn's MLP, with the defaults -----------------------
@pytest.mark.parametrize("dataset", ["iris", "diabetes"])
def test_at_least_as_accurate_as_sklearn_with_defaults(dataset):
    """Defaults, behind a StandardScaler, same random_state and split, averaged over 3 seeds
    (benchmarks/bench_sklearn.py runs every toy dataset and times it)."""
    X, y = (load_iris if dataset == "iris" else load_diabetes)(return_X_y=True)
    ours_cls, theirs_cls = (MLPClassifier, skn.MLPClassifier) if dataset == "iris" else \
        (MLPRegressor, skn.MLPRegressor)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(3):
            X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
            for cls, scores in ((ours_cls, ours), (theirs_cls, theirs)):
                pipe = make_pipeline(StandardScaler(), cls(random_state=seed)).fit(X_train, y_train)
                scores.append(pipe.score(X_test, y_test))
    assert np.mean(ours) >= np.mean(theirs), (ours, theirs)
    if dataset == "diabetes":  # scikit-learn's defaults fail here (R² < 0); the output bias at the mean does not
        assert np.mean(ours) > 0.3 and np.mean(theirs) < 0


# -- model selection: Pipeline, GridSearchCV across processes, cross_val_score ----------------------
@quiet
def test_pipeline():
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(hidden_layer_sizes=(16,), max_iter=150,
                                                                       learning_rate_init=0.01, random_state=0))])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.95
    assert pipe.predict_proba(X[:5]).shape == (5, 3)
    pipe.set_params(mlp__hidden_layer_sizes=(4,)).fit(X, y)
    assert pipe.named_steps["mlp"].coefs_[0].shape == (4, 4)


@quiet
def test_grid_search_across_two_processes_equals_one():
    """n_jobs=2 sends the estimator to worker processes (pickle); the scores equal in-process ones."""
    X, y = _iris()
    grid = {"hidden_layer_sizes": [(4,), (16,)], "learning_rate_init": [0.01, 0.05]}
    est = MLPClassifier(max_iter=40, random_state=0)
    two = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)
    one = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(two.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"])
    assert two.best_params_ == one.best_params_ and two.best_score_ > 0.85
    np.testing.assert_array_equal(two.predict(X), one.predict(X))


@quiet
def test_cross_val_score_and_fitted_models_back_from_workers():
    X, y = make_regression(120, 4, noise=5.0, random_state=0)
    est = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.02,
                                                       max_iter=200, random_state=0))
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    back = cross_validate(est, X, y, cv=3, n_jobs=2, return_estimator=True)  # fitted models pickled back
    np.testing.assert_allclose(back["test_score"], scores, rtol=1e-12)
    local = clone(est).fit(X, y)
    for fitted in back["estimator"]:
        assert isinstance(fitted[-1].model_, anynet.Sequential)
        assert fitted.predict(X).shape == local.predict(X).shape


# -- behaviour ---------------------------------------------------------------------------------
@quiet
def test_string_labels_probabilities_and_decisions():
    X, y = _iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.02, max_iter=100, random_state=0).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.decision_function(X).shape == (150, 3)
    assert clf.model_.loss.name == "softmax_cross_entropy" and clf.out_activation_ == "softmax"

    binary = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, names == "setosa")
    assert binary.classes_.tolist() == [False, True] and binary.model_.loss.name == "bce_logits"
    assert binary.decision_function(X).shape == (150,) and binary.predict_proba(X).shape == (150, 2)
    np.testing.assert_array_equal(binary.predict(X), binary.decision_function(X) > 0)


@quiet
def test_regressor_one_and_two_targets():
    X, Y = make_regression(150, 5, n_targets=2, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    two = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.02, max_iter=300, random_state=0).fit(X, Y)
    assert two.predict(X).shape == (150, 2) and two.n_outputs_ == 2 and two.score(X, Y) > 0.95
    one = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.02, max_iter=300, random_state=0)
    one.fit(X, Y[:, 0])
    assert one.predict(X).shape == (150,) and one.n_outputs_ == 1 and one.score(X, Y[:, 0]) > 0.95
    assert one.model_.loss.name == "least_square_error"


def test_convergence_warning_and_early_convergence():
    X, y = _iris()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(5\\)"):
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(4,), tol=0.5, n_iter_no_change=2, random_state=0).fit(X, y)
    # the first epoch sets the best loss; the rule stops when more than 2 epochs in a row gain less than 0.5
    assert clf.n_iter_ == 4


def test_convergence_check_is_an_anynet_callback():
    """The stopping rule works on any anynet model; early stopping keeps the best epoch's weights."""
    g = np.random.default_rng(0)
    X = g.standard_normal((80, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = anynet.Sequential([Dense(3, 8, activation="tanh"), Dense(8, 1)], seed=0, dtype="float64")
    scores = []

    def score(m):
        scores.append(-float(np.mean((m.predict(X[60:])[:, 0] - y[60:]) ** 2)))
        return scores[-1]

    check = ConvergenceCheck(tol=1e-3, n_iter_no_change=3, validation_score=score)
    model.fit(X[:60], y[:60], loss="mse", optimizer=anynet.optim.SGD(lr=0.05), epochs=500, batch_size=20,
              callbacks=[check], verbose=0)
    assert check.converged and check.n_iter < 500 and len(check.validation_scores) == check.n_iter
    assert check.best_validation_score == max(scores)
    assert score(model) == pytest.approx(max(scores[:-1]))  # the best epoch's weights are back
    with pytest.raises(ConfigError, match="on_plateau"):
        ConvergenceCheck(on_plateau="wait")
    with pytest.raises(ConfigError, match="n_iter_no_change"):
        ConvergenceCheck(n_iter_no_change=0)


@quiet
def test_pickle_deepcopy_and_clone():
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.loss_curve_ == clf.loss_curve_ and again.n_iter_ == clf.n_iter_
    np.testing.assert_array_equal(copy.deepcopy(clf).predict(X), clf.predict(X))
    fresh = clone(clf)
    assert not hasattr(fresh, "model_") and fresh.get_params() == clf.get_params()
    # warm start after unpickling continues the same optimizer state
    again.set_params(warm_start=True).fit(X, y)
    clf.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@quiet
def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert clf.feature_names_in_.tolist() == list(X.columns) and clf.n_features_in_ == 4
    assert clf.predict(X.iloc[:3]).shape == (3,)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X.to_numpy()[:3])
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(pd.DataFrame(X.to_numpy()[:3, :3], columns=X.columns[:3]))


@quiet
def test_float_types():
    X, y = _iris()
    assert MLPClassifier(max_iter=2).fit(X, y).model_.dtype == "float64"  # like scikit-learn: X's type
    clf = MLPClassifier(max_iter=2).fit(X.astype(np.float32), y)
    assert clf.model_.dtype == "float32" and clf.predict_proba(X).dtype == np.float64
    clf = MLPClassifier(max_iter=2, dtype="float32").fit(X, y)
    assert clf.model_.dtype == "float32" and clf.predict_proba(X.astype(np.float32)).dtype == np.float32


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_network_on_every_backend(backend):
    """Randomness is drawn on the host: every backend trains the network NumPy trains."""
    X, y = _iris()
    kw = {"hidden_layer_sizes": (8,), "max_iter": 15, "batch_size": 64, "alpha": 0.01, "random_state": 0,
          "dtype": "float64"}
    ref = MLPClassifier(**kw).fit(X, y)
    other = MLPClassifier(backend=backend, **kw).fit(X, y)
    assert other.model_.backend == backend
    for a, b in zip(other.coefs_ + other.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(other.loss_curve_, ref.loss_curve_, **tolerance("float64"))
    assert isinstance(other.predict_proba(X), np.ndarray)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"solver": "lbfgs"}, "lbfgs.*not supported.*adam"),
    ({"solver": "newton"}, "solver"),
    ({"alpha": -1.0}, "alpha"),
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
    ({"activation": "softmax"}, "activation"),
    ({"batch_size": 0}, "batch_size"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"max_iter": True}, "max_iter"),
    ({"momentum": 1.0}, "momentum"),
    ({"beta_2": 1.0}, "beta_2"),
    ({"epsilon": 0}, "epsilon"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"early_stopping": True, "validation_fraction": 0.0}, "validation_fraction"),
    ({"shuffle": "yes"}, "shuffle"),
])
def test_bad_parameters_raise_config_errors_at_fit(params, match):
    X, y = _iris()
    clf = MLPClassifier(**params)  # scikit-learn's rule: constructors never raise
    with pytest.raises(ConfigError, match=match):
        clf.fit(X, y)


def test_numpy_scalars_are_numbers():
    X, y = _iris()
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(hidden_layer_sizes=(np.int64(4),), alpha=np.float32(0.01), max_iter=np.int64(2)).fit(X, y)


def test_regressor_refuses_poisson():
    with pytest.raises(ConfigError, match="poisson"):
        MLPRegressor(loss="poisson").fit(np.ones((4, 2)), np.ones(4))


def test_label_errors():
    X, y = _iris()
    with pytest.raises(InputError, match="one class"):
        MLPClassifier().fit(X, np.zeros(150))
    with pytest.raises(InputError, match="classes="):
        MLPClassifier().partial_fit(X, y)
    clf = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_outputs_ == 3
    with pytest.raises(InputError, match="not among classes_"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(InputError, match="multiclass-multioutput"):
        MLPClassifier().fit(X, np.stack([y, y], axis=1))
    with pytest.raises(InputError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
