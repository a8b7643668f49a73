"""Losses: gradient checks, stable values, label validation, references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import anynet
from anynet import losses
from anynet.errors import InputError
from anynet.losses import BCE, MAE, MSE, BCEWithLogits, Huber, LeastSquareError, SoftmaxCrossEntropy
from anynet.testing import gradcheck

REGRESSION = [MSE, MAE, Huber, LeastSquareError, BCEWithLogits]


def _arr(backend, a, dtype="float64"):
    return backend.asarray(np.asarray(a), dtype=dtype)


@pytest.mark.parametrize("cls", REGRESSION + [BCE])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@settings(max_examples=4)
@given(n=st.integers(1, 5), d=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_gradcheck_value_losses(backend, cls, reduction, n, d, seed):
    g = np.random.default_rng(seed)
    if cls is BCE:
        pred, target = g.uniform(0.05, 0.95, (n, d)), g.integers(0, 2, (n, d)).astype(float)
    else:
        # keep MAE and Huber away from their kinks
        pred = g.standard_normal((n, d)) * 3
        target = pred + g.choice([-1, 1], (n, d)) * g.uniform(0.1, 4, (n, d))
        if cls is BCEWithLogits:
            target = g.uniform(0, 1, (n, d))
    loss = cls(reduction=reduction)
    assert gradcheck(loss, _arr(backend, pred), _arr(backend, target)).ok


@pytest.mark.parametrize("labels", ["int", "onehot"])
@settings(max_examples=4)
@given(n=st.integers(1, 5), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_gradcheck_softmax_cross_entropy(backend, labels, n, c, seed):
    g = np.random.default_rng(seed)
    y = g.integers(0, c, n)
    target = backend.asarray(y) if labels == "int" else _arr(backend, np.eye(c)[y])
    assert gradcheck(SoftmaxCrossEntropy(), _arr(backend, g.standard_normal((n, c)) * 2), target).ok


def test_negative_control_for_a_loss(backend):
    class Broken(MSE):
        def compute(self, pred, target):
            v, back = super().compute(pred, target)
            return v, lambda: 1.01 * back()

    p = _arr(backend, np.random.default_rng(0).standard_normal((4, 2)))
    assert not gradcheck(Broken(), p, _arr(backend, np.zeros((4, 2)))).ok


def test_stable_bce_from_logits(backend, dtype):
    loss = BCEWithLogits()
    assert float(anynet.to_numpy(loss(_arr(backend, [[-800.0]], dtype), _arr(backend, [[1.0]], dtype)))) == 800.0
    value, back = loss.forward(_arr(backend, [[-30.0]], dtype), _arr(backend, [[1.0]], dtype))
    assert float(anynet.to_numpy(value)) == pytest.approx(30.0, rel=1e-6)
    assert float(anynet.to_numpy(back())[0, 0]) == pytest.approx(-1.0, rel=1e-6)  # not a zero gradient


def test_stable_softmax_cross_entropy(backend, dtype):
    loss = SoftmaxCrossEntropy()
    logits = _arr(backend, [[1e4, 0.0, -1e4]], dtype)
    assert float(anynet.to_numpy(loss(logits, backend.asarray(np.asarray([2]))))) == 2e4
    g = anynet.to_numpy(loss.forward(logits, backend.asarray(np.asarray([2])))[1]())
    np.testing.assert_allclose(g, [[1.0, 0.0, -1.0]])


def test_bce_on_probabilities_clamps_the_log(backend, dtype):
    loss = BCE()
    p = _arr(backend, [[0.0, 1.0, 0.0, 1.0]], dtype)
    t = _arr(backend, [[0.0, 1.0, 1.0, 0.0]], dtype)
    value, back = loss.forward(p, t)
    assert float(anynet.to_numpy(value)) == pytest.approx(50.0, rel=1e-6)  # (0+0+100+100)/4
    assert np.isfinite(anynet.to_numpy(back())).all()


def test_document_002_mse(backend):
    assert float(anynet.to_numpy(MSE()(_arr(backend, [0.0, 0, 0, 0]), _arr(backend, [1.0, 0, 0, 1])))) == 0.5


def test_values_against_torch():
    torch = pytest.importorskip("torch", reason="torch not installed: no reference losses")
    F = torch.nn.functional
    g = np.random.default_rng(0)
    x, z = g.standard_normal((6, 3)) * 4, g.uniform(0, 1, (6, 3))
    t = lambda a: torch.tensor(a)
    for ours, ref in [
        (MSE()(x, z), F.mse_loss(t(x), t(z))),
        (MAE()(x, z), F.l1_loss(t(x), t(z))),
        (Huber(delta=1.5)(x, z), F.huber_loss(t(x), t(z), delta=1.5)),
        (BCEWithLogits()(x, z), F.binary_cross_entropy_with_logits(t(x), t(z))),
        (BCE()(1 / (1 + np.exp(-x)), z), F.binary_cross_entropy(torch.sigmoid(t(x)), t(z))),
        (SoftmaxCrossEntropy()(x, np.asarray([0, 1, 2, 0, 1, 2])),
         F.cross_entropy(t(x), torch.tensor([0, 1, 2, 0, 1, 2]))),
        (SoftmaxCrossEntropy(reduction="sum")(x, np.asarray([0, 1, 2, 0, 1, 2])),
         F.cross_entropy(t(x), torch.tensor([0, 1, 2, 0, 1, 2]), reduction="sum")),
    ]:
        assert float(ours) == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("bad,pattern", [
    ([0, 3, 1], r"labels must lie in \[0, 3\).*from 0 to 3"),
    ([0, -1, 1], r"labels must lie in \[0, 3\).*from -1 to 1"),
    ([0.0, 1.5, 1.0], "whole numbers"),
    ([0, 1], "2 labels but X has 3 samples"),
])
def test_label_validation_before_any_gather(backend, bad, pattern):
    logits = _arr(backend, np.zeros((3, 3)))
    labels = backend.asarray(np.asarray(bad))
    with pytest.raises(InputError, match=pattern):
        SoftmaxCrossEntropy()(logits, labels)


def test_target_shape_and_dtype_errors(backend):
    with pytest.raises(InputError, match=r"target shape \(3, 2\) does not match prediction shape \(3, 1\)"):
        MSE()(_arr(backend, np.zeros((3, 1))), _arr(backend, np.zeros((3, 2))))
    with pytest.raises(InputError, match="pred contains NaN"):
        MSE()(_arr(backend, [[np.nan]]), _arr(backend, [[0.0]]))
    with pytest.raises(InputError, match="probabilities in"):
        BCE()(_arr(backend, [[1.5]]), _arr(backend, [[0.0]]))


def test_registry():
    assert isinstance(losses.get("softmax_with_loss"), SoftmaxCrossEntropy)
    assert isinstance(losses.get("least_square_error"), LeastSquareError)
    with pytest.raises(ValueError, match="unknown loss 'hinge'; known: mse"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="reduction must be"):
        MSE(reduction="avg")


def test_least_square_error_is_half_sum_over_batch_mean():
    p, t = np.asarray([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    value, back = LeastSquareError().forward(p, t)
    assert float(value) == 0.5 * 30 / 2
    np.testing.assert_allclose(back(), p / 2)


# -- what a loss answers for itself ------------------------------------------------------------------
def test_from_logits():
    assert SoftmaxCrossEntropy.from_logits and BCEWithLogits.from_logits
    assert not any(cls.from_logits for cls in (MSE, MAE, Huber, LeastSquareError, BCE))
    assert SoftmaxCrossEntropy.classification
    assert not any(cls.classification for cls in (MSE, MAE, Huber, LeastSquareError, BCE, BCEWithLogits))


def test_a_classification_loss_of_ones_own_gets_one_hot_targets():
    class Focal(SoftmaxCrossEntropy):  # labels handled by the base class, from `classification`
        pass

    out = Focal().prepare_targets(np.asarray([1, 0]), 2, backend="numpy", dtype="float64")
    np.testing.assert_array_equal(out, [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(InputError, match="has 2 outputs"):
        MSE().prepare_targets(np.asarray([1, 0]), 2, backend="numpy", dtype="float64")


def test_prepare_targets_one_hot_for_softmax_cross_entropy(backend, dtype):
    for y in (np.asarray([2, 0, 1]), [2, 0, 1], np.asarray([2.0, 0.0, 1.0]), backend.asarray(np.asarray([2, 0, 1]))):
        out = SoftmaxCrossEntropy().prepare_targets(y, 3, backend=backend, dtype=dtype, where="fit")
        assert anynet.backend_of(out) == backend
        assert str(anynet.to_numpy(out).dtype) == dtype
        np.testing.assert_array_equal(anynet.to_numpy(out), np.eye(3)[[2, 0, 1]])
    # one-hot or probability rows pass through, cast to the model's dtype
    probs = np.asarray([[0.2, 0.8], [1.0, 0.0]])
    out = SoftmaxCrossEntropy().prepare_targets(probs, 2, backend=backend, dtype=dtype)
    np.testing.assert_allclose(anynet.to_numpy(out), probs, rtol=1e-6)


@pytest.mark.parametrize("bad,pattern", [
    ([0, 3, 1], r"fit: labels must lie in \[0, 3\).*from 0 to 3"),
    ([0, -1, 1], r"labels must lie in \[0, 3\).*from -1 to 1"),
    ([0.0, 1.5, 1.0], "whole numbers"),
    ([[0.0, 1.0], [1.0, 0.0]], r"y has shape \(2, 2\) but the model gives \(n, 3\)"),
])
def test_prepare_targets_checks_labels(backend, bad, pattern):
    with pytest.raises(InputError, match=pattern):
        SoftmaxCrossEntropy().prepare_targets(np.asarray(bad), 3, backend=backend, dtype="float32", where="fit")


def test_prepare_targets_for_regression(backend, dtype):
    out = MSE().prepare_targets(np.asarray([1, 2, 3]), 1, backend=backend, dtype=dtype)
    assert tuple(out.shape) == (3, 1) and str(anynet.to_numpy(out).dtype) == dtype
    out = Huber().prepare_targets(np.asarray([[1.0, 2.0]]), 2, backend=backend, dtype=dtype)
    np.testing.assert_array_equal(anynet.to_numpy(out), [[1.0, 2.0]])
    with pytest.raises(InputError, match=r"fit: y has shape \(3,\) but the model has 2 outputs"):
        MSE().prepare_targets(np.zeros(3), 2, backend=backend, dtype=dtype, where="fit")
    with pytest.raises(InputError, match=r"y has shape \(3, 2\) but the model gives \(n, 1\)"):
        MSE().prepare_targets(np.zeros((3, 2)), 1, backend=backend, dtype=dtype)
    with pytest.raises(InputError, match="y contains NaN"):
        MSE().prepare_targets(np.asarray([1.0, np.nan]), 1, backend=backend, dtype=dtype)
    with pytest.raises(InputError, match="0-d"):
        MSE().prepare_targets(np.float64(1.0), 1, backend=backend, dtype=dtype)


def test_prepare_targets_refuses_non_numbers_and_other_backends():
    from anynet.errors import BackendMismatchError, InputTypeError

    with pytest.raises(InputTypeError, match="y must hold numbers"):
        MSE().prepare_targets(["a", "b"], 1, backend="numpy", dtype="float32")
    strict = pytest.importorskip("array_api_strict")
    y = strict.asarray([1.0, 2.0])
    with pytest.raises(BackendMismatchError, match="y is on array_api_strict"):
        MSE().prepare_targets(y, 1, backend="numpy", dtype="float32")


@pytest.mark.parametrize("cls", [BCE, BCEWithLogits])
def test_binary_cross_entropy_targets_must_lie_in_0_1(backend, cls):
    # {1, 2} (a common mistake: labels counted from 1) was accepted before; now it is refused
    with pytest.raises(InputError, match=r"in \[0, 1\].*from 1 to 2"):
        cls().prepare_targets(np.asarray([1, 2, 1]), 1, backend=backend, dtype="float32", where="fit")
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        cls().prepare_targets(np.asarray([[0.5], [-0.1]]), 1, backend=backend, dtype="float32")
    with pytest.raises(InputError, match=r"target in \[0, 1\]"):
        cls()(_arr(backend, [[0.5], [0.5]]), _arr(backend, [[0.0], [2.0]]))
    out = cls().prepare_targets(np.asarray([True, False]), 1, backend=backend, dtype="float64")
    np.testing.assert_array_equal(anynet.to_numpy(out), [[1.0], [0.0]])
    out = cls().prepare_targets(np.asarray([0.0, 0.25, 1.0]), 1, backend=backend, dtype="float64")
    np.testing.assert_array_equal(anynet.to_numpy(out), [[0.0], [0.25], [1.0]])


def test_to_proba(backend):
    x = _arr(backend, [[0.0, np.log(3.0)], [-800.0, 800.0]])
    np.testing.assert_allclose(anynet.to_numpy(SoftmaxCrossEntropy().to_proba(x)), [[0.25, 0.75], [0.0, 1.0]])
    np.testing.assert_allclose(anynet.to_numpy(BCEWithLogits().to_proba(x)), [[0.5, 0.75], [0.0, 1.0]])
    p = _arr(backend, [[0.25], [1.0]])
    assert BCE().to_proba(p) is p
    for cls in (MSE, MAE, Huber, LeastSquareError):
        with pytest.raises(InputError, match="not probabilities.*use predict"):
            cls().to_proba(p)


@pytest.mark.parametrize("loss", [MSE(), MAE(reduction="sum"), Huber(delta=2.5), Huber(delta=np.float32(0.5)),
                                  LeastSquareError(), BCE(), BCEWithLogits(reduction="sum"), SoftmaxCrossEntropy()])
def test_config_round_trip(loss):
    import json

    config = json.loads(json.dumps(loss.config()))
    for again in (type(loss).from_config(config), losses.get(loss.name, **config)):
        assert type(again) is type(loss) and again.config() == loss.config()
    assert anynet.registry.name_of("loss", type(loss)) == loss.name


def test_bad_options_are_config_errors():
    from anynet.errors import ConfigError, UnknownNameError

    for make in (lambda: Huber(delta=-1), lambda: Huber(delta=float("nan")), lambda: Huber(delta="1"),
                 lambda: Huber(delta=True), lambda: MSE(reduction="avg"), lambda: losses.get("mse", delta=2.0),
                 lambda: MSE.from_config({"delta": 1.0}), lambda: losses.get(MSE(), reduction="sum")):
        with pytest.raises(ConfigError):
            make()
    with pytest.raises(UnknownNameError, match="unknown loss 'hinge'; known: mse"):
        losses.get("hinge")
    assert losses.get("MSE").name == "mse" and losses.get("mean_squared_error").name == "mse"
    assert isinstance(losses.get(Huber, delta=2.0), Huber)
    assert losses.names()[:3] == ["mse", "least_square_error", "mae"]
