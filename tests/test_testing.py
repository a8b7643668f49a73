"""anynet.testing itself, and the doctests of every module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import anynet
from anynet.layers import Activation, BatchNorm, Dense
from anynet.testing import FLOOR, TOLERANCES, compare_backends, gradcheck, rel_diff


def test_gradcheck_refuses_float32_with_an_explanation():
    layer = Dense(3, 2, seed=0, dtype="float32")
    with pytest.raises(ValueError, match="gradcheck needs float64.*rounding.*dtype='float64'"):
        gradcheck(layer, np.zeros((2, 3), np.float32))


def test_gradcheck_can_raise():
    layer = Dense(3, 2, seed=0, dtype="float64")
    real = layer.forward

    def wrong(x, *, training=False, need_dx=True):
        y, back = real(x, training=training, need_dx=need_dx)
        return y, lambda dy: 2 * back(dy)

    layer.forward = wrong
    with pytest.raises(AssertionError, match="gradcheck failed"):
        gradcheck(layer, np.ones((2, 3)), raise_on_failure=True)


def test_compare_backends_reports_every_known_backend():
    rows = compare_backends(lambda: Dense(4, 3, activation="tanh", seed=0),
                            np.random.default_rng(0).standard_normal((5, 4)))
    names = {r.backend for r in rows}
    assert set(anynet.known_backends()) <= names
    numpy_rows = [r for r in rows if r.backend == "numpy"]
    assert [r.dtype for r in numpy_rows] == ["float64", "float32"]
    assert numpy_rows[0].max_rel_diff == 0.0 and numpy_rows[0].passed
    assert 0 < numpy_rows[1].max_rel_diff < 1e-5


def _bn_net():
    # the bias of the first Dense feeds BatchNorm, so its gradient is zero in exact arithmetic: only rounding
    # noise is compared there, which a per-tensor relative metric called a failure
    return anynet.Sequential([Dense(6, 8), BatchNorm(8), Dense(8, 3, activation="sigmoid")], seed=1)


def _sigmoid_silu_net():
    return anynet.Sequential([Dense(6, 16, activation="sigmoid"), Activation("silu"), Dense(16, 16, activation="silu"),
                              Dense(16, 3, activation="sigmoid")], seed=2)


@pytest.mark.parametrize("build", [_bn_net, _sigmoid_silu_net], ids=["batchnorm", "sigmoid-silu"])
@pytest.mark.parametrize("with_loss", [False, True], ids=["dy", "loss"])
def test_compare_backends_passes_batchnorm_and_sigmoid_silu_nets(backend, build, with_loss):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    kwargs = {"y": y, "loss": "softmax_cross_entropy"} if with_loss else {}
    rows = compare_backends(build, x, backends=[backend.spec], **kwargs)
    assert [r.dtype for r in rows] == [d for d in ("float64", "float32") if d in backend.float_dtypes()]
    for r in rows:
        assert r.passed and r.max_rel_diff <= TOLERANCES[r.dtype] == r.tolerance, r
    if build is _bn_net:  # the case the floor is for is really there
        with anynet.default_dtype("float64"):
            net = build()
            _, back = net.forward(x, training=True)
            back(np.ones((32, 3)))
            assert np.linalg.norm(net.grads["0.b"]) < 1e-12 < np.linalg.norm(net.grads["0.W"])


@pytest.mark.parametrize("scale", [1 + 1e-9, 1 + 1e-4])
def test_compare_backends_fails_a_perturbed_gradient(backend, scale):
    calls = []

    class Perturbed(Dense):
        """Dense whose weight gradient is off by ``scale`` everywhere but in the reference run."""

        def forward(self, x, *, training=False, need_dx=True):
            y, back = super().forward(x, training=training, need_dx=need_dx)
            off = len(calls) > 1

            def wrong(dy):
                dx = back(dy)
                if off:
                    self.grads["W"] = self.grads["W"] * scale
                return dx

            return y, wrong

    def build():
        calls.append(1)
        return anynet.Sequential([Dense(6, 8, activation="tanh", seed=0), Perturbed(8, 3, seed=1)])

    x = np.random.default_rng(0).standard_normal((10, 6))
    rows = {r.dtype: r for r in compare_backends(build, x, backends=[backend.spec])}
    if "float64" in rows:
        assert rows["float64"].passed is False and rows["float64"].note == "largest in 1.W", rows["float64"]
        assert rows["float64"].max_rel_diff == pytest.approx(scale - 1, rel=1e-3)
    if scale > 1 + 1e-5:
        assert rows["float32"].passed is False and rows["float32"].note == "largest in 1.W", rows["float32"]
    else:
        assert rows["float32"].passed, rows["float32"]  # within float32's own rounding


def test_rel_diff_is_normwise_with_an_absolute_floor():
    ref = np.asarray([3.0, 4.0])
    assert rel_diff(ref, ref) == 0.0
    assert rel_diff(ref + np.asarray([0.0, 5e-9]), ref) == pytest.approx(1e-9)  # ||diff|| / ||ref|| = 5e-9 / 5
    assert rel_diff(np.asarray([1e-17, -1e-17]), np.asarray([-1e-17, 1e-17])) < 1e-16  # noise around zero
    assert rel_diff(np.asarray([0.3]), np.asarray([0.1]), floor=1.0) == pytest.approx(0.2)  # absolute below 1
    assert rel_diff(np.asarray([0.3]), np.asarray([0.1]), floor=1e-3) == pytest.approx(2.0)
    assert rel_diff(np.asarray([np.nan, 1.0]), ref) == np.inf
    assert rel_diff(np.ones(3), ref) == np.inf  # shapes differ
    assert FLOOR == 1.0 and TOLERANCES == {"float64": 1e-12, "float32": 1e-5}


def test_gradcheck_takes_a_list_for_a_merge_layer():
    from anynet.layers import Add, Concatenate

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((3, 2)), rng.standard_normal((3, 4))]
    assert gradcheck(Concatenate(), xs).ok
    assert gradcheck(Add(), [xs[0], xs[0] * 2, xs[0] - 1], mode="full").ok

    class Wrong(Concatenate):
        def forward(self, x, *, training=False, need_dx=True):
            y, back = super().forward(x, training=training, need_dx=need_dx)
            return y, lambda dy: [1.01 * d for d in back(dy)]

    assert not gradcheck(Wrong(), xs).ok


def test_gradcheck_drives_a_network_through_its_nodes():
    from anynet.layers import Concatenate

    with anynet.default_dtype("float64"):
        net = anynet.Graph({"a": (Dense(2, 3, activation="tanh"), "u"), "b": (Dense(4, 3), "v"),
                            "cat": (Concatenate(), ["a", "b"]), "out": (BatchNorm(6), "cat")},
                           inputs={"u": 2, "v": 4}, output="out", seed=0)
    rng = np.random.default_rng(1)
    x = {"u": rng.standard_normal((5, 2)), "v": rng.standard_normal((5, 4))}
    before = {k: v.copy() for k, v in net.parameters().items()}
    assert gradcheck(net, x).ok
    for k, v in net.parameters().items():  # every perturbed parameter is put back
        np.testing.assert_array_equal(v, before[k])
    real = net.nodes["b"].forward

    def wrong(x, *, training=False, need_dx=True):
        y, back = real(x, training=training, need_dx=need_dx)

        def scaled(dy):
            dx = back(dy)
            net.nodes["b"].grads["W"] = 1.5 * net.nodes["b"].grads["W"]
            return dx

        return y, scaled

    net.nodes["b"].forward = wrong
    assert not gradcheck(net, x).ok


MODULES = sorted(m.name for m in pkgutil.walk_packages(anynet.__path__, "anynet.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
