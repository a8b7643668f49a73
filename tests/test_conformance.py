"""anynet.testing.check_layer: every built-in layer passes it on every backend; broken layers fail."""

from __future__ import annotations

import numpy as np
import pytest

from anynet.errors import ConfigError
from anynet.layers import Activation, Add, BatchNorm, Concatenate, Dense, Dropout, Layer, LayerNorm, Merge
from anynet.registry import register, unregister
from anynet.testing import check_layer

BUILT_IN = {
    "dense": lambda: Dense(5, 3, seed=0),
    "dense-relu-nobias": lambda: Dense(5, 4, activation="relu", bias=False, seed=1),
    "dense-softmax": lambda: Dense(5, 3, activation="softmax", seed=2),
    "batchnorm": lambda: BatchNorm(5),
    "dropout": lambda: Dropout(0.4, seed=3),
    "activation-elu": lambda: Activation("elu", alpha=0.5),
    "activation-silu": lambda: Activation("silu"),
    "layernorm": lambda: LayerNorm(5),
    "layernorm-no-affine": lambda: LayerNorm(5, eps=1e-3, elementwise_affine=False),
    "add": Add,
    "concatenate": Concatenate,
}


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_built_in_layers_pass_every_check(backend, name):
    report = check_layer(BUILT_IN[name], backends=[backend.spec])
    assert report.ok, str(report)
    assert len(report.checks) == 6


class _Scale(Layer):
    """A user's layer: y = 2x."""

    def forward(self, x, *, training=False, need_dx=True):
        return 2.0 * x, lambda dy: 2.0 * dy


@pytest.fixture
def registered():
    """Register user layer classes for one test; unregistered afterwards."""
    done = []

    def add(*classes):
        for cls in classes:
            register("layer")(cls)
            done.append(cls.__name__)

    yield add
    for name in done:
        unregister("layer", name)


def test_a_registered_user_layer_passes(registered):
    registered(_Scale)
    assert check_layer(_Scale, in_features=3, backends=["numpy"]).ok


class _WrongGradient(_Scale):
    def forward(self, x, *, training=False, need_dx=True):
        return 2.0 * x, lambda dy: 2.02 * dy


class _Mutates(_Scale):
    def forward(self, x, *, training=False, need_dx=True):
        def back(dy):
            dy *= 2.0
            return dy

        return 2.0 * x, back


class _Upcasts(_Scale):
    def forward(self, x, *, training=False, need_dx=True):
        xp = __import__("numpy")
        return xp.asarray(x, dtype=xp.float64) * 2.0, lambda dy: 2.0 * dy


class _Unregistered(_Scale):
    pass


@pytest.mark.parametrize("cls,failing", [
    (_WrongGradient, {"gradient check (float64)"}),
    (_Mutates, {"inputs not mutated", "gradient check (float64)"}),  # its dy changes under the check too
    (_Upcasts, {"float32 in, float32 out"}),
    (_Unregistered, {"save/load round trip"}),
])
def test_broken_layers_fail_the_right_checks(registered, cls, failing):
    registered(_WrongGradient, _Mutates, _Upcasts)
    report = check_layer(cls, in_features=3, backends=["numpy"])
    assert {c.name for c in report.failures()} == failing, str(report)
    with pytest.raises(AssertionError, match="FAIL"):
        check_layer(cls, in_features=3, backends=["numpy"], raise_on_failure=True)


def test_check_layer_needs_a_usable_backend():
    with pytest.raises(ImportError, match="none of the requested backends"):
        check_layer(lambda: Dense(2, 2), backends=["cupy"]) if not _cupy_usable() else pytest.skip("cupy usable")


def _cupy_usable():
    try:
        import anynet

        anynet.get_backend("cupy")
        return True
    except ImportError:
        return False


# -- merge layers: the same contract with lists ---------------------------------------------------
class _Mean(Merge):
    """A user's merge layer: the mean of its inputs."""

    def output_features(self, in_features):
        if not isinstance(in_features, list):
            raise ConfigError(f"_Mean takes a list of inputs, got {in_features!r}")
        return in_features[0]

    def forward(self, x, *, training=False, need_dx=True):
        k = len(x)
        return sum(x) / k, lambda dy: [dy / k] * k


class _MeanForgetsOne(_Mean):
    def forward(self, x, *, training=False, need_dx=True):
        k = len(x)
        return sum(x) / k, lambda dy: [dy / k] * (k - 1)


def test_a_user_merge_layer_is_fed_lists_and_passes(registered):
    registered(_Mean)
    report = check_layer(_Mean, in_features=3, backends=["numpy"])
    assert report.ok, str(report)
    bad = next(c for c in report.checks if c.name == "bad input refused")
    assert bad.detail == "9 kinds refused"  # the 7 kinds of bad array (as X[1]), a bare array, unequal rows


def test_a_merge_layer_that_drops_a_gradient_fails(registered):
    registered(_MeanForgetsOne)
    report = check_layer(_MeanForgetsOne, in_features=3, backends=["numpy"])
    assert {c.name for c in report.failures()} == {"gradient check (float64)"}, str(report)
    assert "no gradient for some input" in report.failures()[0].detail


def test_a_layer_written_against_the_old_private_name_is_told_to_rename():
    class Old(Layer):
        def _forward(self, x, training, need_dx=True):
            return x, lambda dy: dy

    with pytest.raises(NotImplementedError, match="defines _forward.*rename it to forward"):
        Old().forward(np.zeros((1, 2)))
    report = check_layer(Old, in_features=2, backends=["numpy"])
    assert not report.ok and "rename it to forward" in report.failures()[0].detail
