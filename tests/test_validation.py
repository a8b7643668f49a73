"""Bad input at the public entry points: each kind gets an error naming the function, what was
expected and what came (RELIABILITY.md item 3)."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim
from anynet.errors import AnynetError
from anynet.layers import Dense

from .conftest import load_backend

X = np.random.default_rng(0).standard_normal((30, 4))
Y = np.random.default_rng(1).integers(0, 3, 30)


def _model():
    return Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0)


def _fit(x=X, y=Y, **kw):
    args = {"loss": "softmax_cross_entropy", "optimizer": optim.SGD(lr=0.1), "verbose": 0, **kw}
    _model().fit(x, y, **args)


# (kind, call, [fragments that must all appear: function, expected, received])
CASES = [
    ("wrong rank", lambda: _fit(X[0]), ["Sequential.fit", "must be 2-D", "(4,)"]),
    ("wrong width", lambda: _fit(X[:, :3]), ["Sequential.fit", "4 were expected", "3 features"]),
    ("0 samples", lambda: _fit(X[:0], Y[:0]), ["Sequential.fit", "at least 1", "0 samples"]),
    ("0 features", lambda: _model().predict(np.zeros((3, 0))), ["Sequential.predict", "at least 1", "0 features"]),
    ("int dtype", lambda: _fit(X.astype(np.int32)), ["Sequential.fit", "floating-point", "int32"]),
    ("bool dtype", lambda: _fit(X > 0), ["Sequential.fit", "floating-point", "bool"]),
    ("complex dtype", lambda: _fit(X.astype(np.complex64)), ["Sequential.fit", "floating-point", "complex64"]),
    ("object dtype", lambda: _fit(X.astype(object)), ["Sequential.fit", "astype('float32')", "object"]),
    ("NaN", lambda: _fit(np.where(X > 1.5, np.nan, X)), ["Sequential.fit", "contains NaN", "impute"]),
    ("+inf", lambda: _fit(np.where(X > 1.5, np.inf, X)), ["Sequential.fit", "contains infinity", "X"]),
    ("-inf", lambda: _model().predict(np.where(X > 1.5, -np.inf, X)), ["Sequential.predict", "infinity", "X"]),
    ("labels out of range", lambda: _fit(y=Y + 1), ["Sequential.fit", "[0, 3)", "to 3"]),
    ("negative labels", lambda: _fit(y=Y - 1), ["Sequential.fit", "[0, 3)", "from -1"]),
    ("fractional labels", lambda: _fit(y=Y + 0.25), ["Sequential.fit", "whole numbers", "fractional"]),
    ("labels of wrong length", lambda: _fit(y=Y[:-2]), ["Sequential.fit", "must match", "28 rows"]),
    ("batch size 0", lambda: _fit(batch_size=0), ["Sequential.fit", "batch_size must be an int ≥ 1", "got 0"]),
    ("negative epochs", lambda: _fit(epochs=-2), ["Sequential.fit", "epochs must be an int ≥ 0", "got -2"]),
    ("unknown loss", lambda: _fit(loss="hinge"), ["unknown loss", "known: mse", "'hinge'"]),
    ("unknown optimizer", lambda: _fit(optimizer="lbfgs"), ["unknown optimizer", "known: AdaGrad", "'lbfgs'"]),
    ("unknown activation", lambda: Dense(2, 2, activation="relu6"),
     ["unknown activation", "known: identity", "'relu6'"]),
    ("unknown backend", lambda: anynet.get_backend("mxnet"), ["unknown backend", "known backends: numpy", "'mxnet'"]),
    ("not an array", lambda: _fit("data.csv"), ["Sequential.fit", "must be an array", "str"]),
    ("ragged list", lambda: _fit([[1.0, 2.0], [3.0]]), ["Sequential.fit", "ragged", "X"]),
]


@pytest.mark.parametrize("kind,call,fragments", CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_bad_input(kind, call, fragments):
    with pytest.raises((AnynetError, ValueError, TypeError)) as info:
        call()
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, f"{kind}: {fragment!r} not in {text!r}"


def test_at_least_fifteen_kinds_are_covered():
    assert len(CASES) >= 15


def test_mixed_backends_and_devices(request):
    load_backend("array_api_strict", request.config)
    model = Sequential([Dense(4, 3)], seed=0, backend="array_api_strict:device1")
    on_other_device = anynet.to_device(X.astype(np.float32), "array_api_strict:device2")
    with pytest.raises(anynet.BackendMismatchError) as info:
        model(on_other_device)
    assert "Sequential.forward" in str(info.value) and "device1" in str(info.value) and "device2" in str(info.value)
    load_backend("torch", request.config)
    with pytest.raises(anynet.BackendMismatchError, match="Sequential.fit: X is on torch:cpu but the model is on"):
        model.fit(anynet.to_device(X.astype(np.float32), "torch"), Y, loss="softmax_cross_entropy",
                  optimizer=optim.SGD(lr=0.1), verbose=0)


def test_a_label_out_of_range_is_named_by_its_index():
    from anynet.validation import check_class_labels

    y = np.zeros(10, np.int64)
    y[7], y[9] = 9, -1
    with pytest.raises(anynet.InputError, match=r"from -1 to 9; the first out of range is at index 7 .*\(value 9\)"):
        check_class_labels(y, 3, where="fit")
