"""anynet.testing itself, and the doctests of every module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import anynet
from anynet.layers import Dense
from anynet.testing import compare_backends, gradcheck


def test_gradcheck_refuses_float32_with_an_explanation():
    layer = Dense(3, 2, seed=0, dtype="float32")
    with pytest.raises(ValueError, match="gradcheck needs float64.*rounding.*dtype='float64'"):
        gradcheck(layer, np.zeros((2, 3), np.float32))


def test_gradcheck_can_raise():
    layer = Dense(3, 2, seed=0, dtype="float64")
    real = layer._forward

    def wrong(x, training):
        y, back = real(x, training)
        return y, lambda dy: 2 * back(dy)

    layer._forward = wrong
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


MODULES = sorted(m.name for m in pkgutil.walk_packages(anynet.__path__, "anynet.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
