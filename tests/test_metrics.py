"""Metrics: values against NumPy / scikit-learn, configuration from the loss, the registry."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import losses, metrics
from anynet.errors import ConfigError, InputTypeError, UnknownNameError


def _update(m, backend, pred, target):
    m.update(backend.asarray(np.asarray(pred), dtype="float64"), backend.asarray(np.asarray(target)))
    return m


def test_accuracy_several_outputs_is_argmax(backend):
    pred = [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]]
    assert _update(metrics.get("accuracy"), backend, pred, [0, 1, 1, 0]).result() == 0.75
    onehot = np.eye(3)[[0, 1, 1, 0]]
    assert _update(metrics.get("acc"), backend, pred, onehot).result() == 0.75


def test_accuracy_threshold_follows_the_loss(backend):
    pred, target = [[0.3], [-0.2], [0.7]], [1.0, 0.0, 1.0]
    # logits: threshold 0, so all three are right
    for loss in (losses.BCEWithLogits(), "bce_logits"):
        m = metrics.get("accuracy", loss=losses.get(loss))
        assert m.from_logits and _update(m, backend, pred, target).result() == 1.0
    # probabilities (or no loss): threshold 0.5, so 0.3 counts as class 0
    for loss in (losses.BCE(), losses.MSE(), None):
        m = metrics.get("accuracy", loss=loss)
        assert not m.from_logits
        assert _update(m, backend, pred, target).result() == pytest.approx(2 / 3)
    assert metrics.get("accuracy", loss=losses.BCE(), from_logits=True).from_logits  # options win


def test_accuracy_of_one_output_takes_integer_labels(backend):
    # integer 0/1 targets against one output: array_api_strict refused int > 0.5 (a TypeError) before
    m = metrics.get("accuracy")
    pred = backend.asarray(np.asarray([[0.7], [0.2], [0.9]]), dtype="float64")
    m.update(pred, backend.asarray(np.asarray([1, 1, 0])))
    assert m.result() == pytest.approx(1 / 3)


def test_get_returns_a_fresh_metric_each_time():
    a, b = metrics.get("mae"), metrics.get("mae")
    assert a is not b
    m = metrics.Accuracy()
    assert metrics.get(m) is m
    assert isinstance(metrics.get(metrics.R2), metrics.R2)


def test_regression_metrics_against_sklearn(backend):
    sk = pytest.importorskip("sklearn.metrics")
    g = np.random.default_rng(0)
    pred, target = g.standard_normal((20, 2)), g.standard_normal((20, 2))
    for name, ref in [("mae", sk.mean_absolute_error), ("mse", sk.mean_squared_error), ("r2", sk.r2_score)]:
        m = metrics.get(name)
        for s in (0, 10):  # two batches
            _update(m, backend, pred[s:s + 10], target[s:s + 10])
        assert m.result() == pytest.approx(ref(target, pred), rel=1e-10)
        assert m.name == name
        m.reset()
        assert np.isnan(m.result())


def test_names_and_greater_is_better():
    assert metrics.names()[0] == "accuracy" and metrics.names()[-3:] == ["mae", "mse", "r2"]
    assert metrics.get("accuracy").greater_is_better and metrics.get("r2").greater_is_better
    assert not metrics.get("mse").greater_is_better and not metrics.get("mae").greater_is_better
    assert metrics.get("ACC").name == "accuracy"


def test_errors():
    with pytest.raises(UnknownNameError, match="unknown metric 'f2'; known: accuracy, top_k_accuracy, precision"):
        metrics.get("f2")
    with pytest.raises(ConfigError, match="does not take options"):
        metrics.get("mae", from_logits=True)
    with pytest.raises(ConfigError):
        metrics.get("accuracy", from_logits="yes")
    with pytest.raises(InputTypeError):
        metrics.get(3)
    with pytest.raises(ConfigError):
        metrics.get(metrics.Accuracy(), from_logits=True)


def test_a_user_metric_is_configured_from_the_loss():
    @anynet.register("metric", "agreement")
    class Agreement(metrics.Metric):
        greater_is_better = True

        def __init__(self, *, sign_of_logits=False):
            self.sign_of_logits = sign_of_logits
            super().__init__()

        @classmethod
        def for_loss(cls, loss=None, **options):
            options.setdefault("sign_of_logits", bool(getattr(loss, "from_logits", False)))
            return cls(**options)

        def update(self, pred, target):
            xp = anynet.backends.namespace_of(pred)
            cut = 0.0 if self.sign_of_logits else 0.5
            self._add("n", xp.sum(xp.astype(xp.reshape(pred, (-1,)) > cut, pred.dtype)))
            self.count += int(pred.shape[0])

        def result(self):
            return float(self._sums["n"]) / self.count

    try:
        m = metrics.get("agreement", loss=losses.BCEWithLogits())
        assert isinstance(m, Agreement) and m.sign_of_logits and m.name == "agreement"
        m.update(np.asarray([[0.2], [-1.0]]), np.asarray([1.0, 0.0]))
        assert m.result() == 0.5
        assert "agreement" in metrics.names()
    finally:
        anynet.registry.unregister("metric", "agreement")
    assert "agreement" not in metrics.names()


def test_a_metric_may_name_itself():
    class Quantile(metrics.Metric):  # unregistered, named per instance as MeanError once was
        def __init__(self, q=0.5):
            self.name = f"q{int(q * 100)}"
            super().__init__()

    assert Quantile(0.9).name == "q90"
    assert metrics.MeanError().name == "MeanError" and metrics.MAE().name == "mae"
