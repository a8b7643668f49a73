"""anynet.testing.check_layer: every built-in layer passes it on every backend; broken layers fail."""

from __future__ import annotations

import pytest

from anynet.layers import Activation, BatchNorm, Dense, Dropout, Layer, register_layer
from anynet.testing import check_layer

BUILT_IN = {
    "dense": lambda: Dense(5, 3, seed=0),
    "dense-relu-nobias": lambda: Dense(5, 4, activation="relu", bias=False, seed=1),
    "dense-softmax": lambda: Dense(5, 3, activation="softmax", seed=2),
    "batchnorm": lambda: BatchNorm(5),
    "dropout": lambda: Dropout(0.4, seed=3),
    "activation-elu": lambda: Activation("elu", alpha=0.5),
    "activation-silu": lambda: Activation("silu"),
}


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_built_in_layers_pass_every_check(backend, name):
    report = check_layer(BUILT_IN[name], backends=[backend.spec])
    assert report.ok, str(report)
    assert len(report.checks) == 6


class _Scale(Layer):
    """A user's layer: y = 2x."""

    def _forward(self, x, training, need_dx=True):
        return 2.0 * x, lambda dy: 2.0 * dy


def test_a_registered_user_layer_passes():
    register_layer(_Scale)
    assert check_layer(_Scale, in_features=3, backends=["numpy"]).ok


class _WrongGradient(_Scale):
    def _forward(self, x, training, need_dx=True):
        return 2.0 * x, lambda dy: 2.02 * dy


class _Mutates(_Scale):
    def _forward(self, x, training, need_dx=True):
        def back(dy):
            dy *= 2.0
            return dy

        return 2.0 * x, back


class _Upcasts(_Scale):
    def _forward(self, x, training, need_dx=True):
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
def test_broken_layers_fail_the_right_checks(cls, failing):
    for c in (_WrongGradient, _Mutates, _Upcasts):
        register_layer(c)
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
