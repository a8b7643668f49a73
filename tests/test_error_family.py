"""Every error the caller causes is an anynet.AnynetError (and the matching built-in), walked over the
public API with bad arguments; numpy scalars are accepted wherever Python numbers are."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import activations, callbacks, init, losses, metrics, optim, schedules
from anynet.errors import AnynetError, ConfigError, InputError, UnknownNameError
from anynet.layers import Activation, BatchNorm, Dense, Dropout, LayerNorm


def _model():
    return anynet.Sequential([Dense(2, 3), Dense(3, 2)], seed=0)


X, Y = np.ones((6, 2)), np.zeros(6, dtype=int)

BAD_CALLS = {
    "unknown loss": lambda: losses.get("mse2"),
    "unknown optimizer": lambda: optim.get("adamm"),
    "unknown activation": lambda: activations.get("relux"),
    "unknown initializer": lambda: init.get("glorot"),
    "unknown metric": lambda: metrics.get("accurcy"),
    "unknown backend": lambda: anynet.get_backend("numpyy"),
    "unknown registry kind": lambda: anynet.register("layers"),
    "Dense width 0": lambda: Dense(0, 3),
    "Dense width float": lambda: Dense(2.5, 3),
    "Dense width bool": lambda: Dense(True, 3),
    "Dropout p = 1": lambda: Dropout(1.0),
    "BatchNorm momentum 2": lambda: BatchNorm(3, momentum=2.0),
    "LayerNorm eps 0": lambda: LayerNorm(3, eps=0.0),
    "Activation unknown": lambda: Activation("nope"),
    "SGD lr negative": lambda: optim.SGD(lr=-1.0),
    "Adam beta1 = 1": lambda: optim.Adam(beta1=1.0),
    "loss reduction": lambda: losses.MSE(reduction="avg"),
    "Huber delta": lambda: losses.Huber(delta=-1.0),
    "schedule step size 0": lambda: schedules.Step(0.1, step_size=0),
    "schedule overflow": lambda: float(schedules.Exponential(0.1, gamma=1e10)(10**6)),
    "EarlyStopping patience": lambda: callbacks.EarlyStopping(patience=-1),
    "ModelCheckpoint every": lambda: callbacks.ModelCheckpoint("x.safetensors", every=0),
    "fit epochs": lambda: _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", epochs=-1, verbose=0),
    "fit batch_size": lambda: _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", batch_size=0,
                                           verbose=0),
    "fit verbose": lambda: _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", verbose=5),
    "fit batching": lambda: _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", batching="x",
                                         verbose=0),
    "fit callback not a Callback": lambda: _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd",
                                                        callbacks=[print], verbose=0),
    "fit labels out of range": lambda: _model().fit(X, Y + 5, loss="softmax_cross_entropy", optimizer="sgd",
                                                    verbose=0),
    "bce targets outside [0, 1]": lambda: anynet.Sequential([Dense(2, 1)], seed=0).fit(
        X, np.full(6, 2.0), loss="bce_logits", optimizer="sgd", verbose=0),
    "predict width": lambda: _model().predict(np.ones((2, 5))),
    "predict NaN": lambda: _model().predict(np.full((2, 2), np.nan)),
    "graph cycle": lambda: anynet.Graph({"a": (Dense(2, 2), "b"), "b": (Dense(2, 2), "a")}, inputs={"x": 2},
                                        output="a"),
    "load_state_dict key": lambda: _model().load_state_dict({"9.W": np.zeros((2, 2))}),
    "save empty path": lambda: _model().save(""),
    "load a missing file": lambda: anynet.load("does-not-exist.safetensors"),
    "evaluate without a loss": lambda: _model().evaluate(X, Y),
    "predict_proba before fit": lambda: _model().predict_proba(X),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_arguments_raise_an_anynet_error(name):
    with pytest.raises(AnynetError) as info:
        BAD_CALLS[name]()
    assert isinstance(info.value, (ValueError, TypeError, ImportError, KeyError, FloatingPointError, OSError))
    assert len(str(info.value)) > 20  # says what was wrong, not just a value


def test_unknown_names_list_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: .*relu"):
        activations.get("relux")
    with pytest.raises(UnknownNameError, match="known: .*Adam"):
        optim.get("adamm")


def test_constructor_errors_are_config_errors_and_value_errors():
    for make in (lambda: Dense(0, 3), lambda: optim.SGD(lr=-1.0), lambda: Dropout(1.5)):
        with pytest.raises(ConfigError):
            make()
        with pytest.raises(ValueError):
            make()


def test_numpy_scalars_are_accepted_where_numbers_are():
    Dropout(np.float32(0.5))
    Dense(np.int64(3), np.int32(2))
    BatchNorm(np.int64(3), momentum=np.float64(0.1))
    optim.SGD(lr=np.float32(0.1), momentum=np.float64(0.9))
    callbacks.EarlyStopping(patience=np.int64(2))
    model = _model()
    model.fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", epochs=np.int64(1), batch_size=np.int32(3),
              verbose=0)
    assert model.train_state["step"] == 2


def test_a_metrics_string_is_one_metric_not_its_letters():
    hist = _model().fit(X, Y, loss="softmax_cross_entropy", optimizer="sgd", metrics="accuracy", verbose=0)
    assert "accuracy" in hist.history


def test_input_errors_stay_value_errors():
    with pytest.raises(InputError):
        _model().predict(np.ones((2, 5)))
