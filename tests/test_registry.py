"""One registry for every part: a user's activation, loss, schedule, metric and initialiser,
written with public names only, registered with ``anynet.register``, used by name and saved /
rebuilt through their configs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

import anynet
from anynet import activations, init, losses, metrics, schedules
from anynet.activations import ActivationFn
from anynet.errors import ConfigError, UnknownNameError
from anynet.registry import lookup, name_of, unregister
from anynet.testing import gradcheck


@pytest.fixture
def cleanup():
    """Unregister what a test registered, even when it fails."""
    added: list[tuple[str, str]] = []
    yield added
    for kind, name in added:
        unregister(kind, name)


def test_a_user_activation_and_its_factory(cleanup):
    cube = anynet.register("activation")(ActivationFn("cube", lambda x: x * x * x, lambda x, y, dy: 3 * x * x * dy))
    cleanup.append(("activation", "cube"))
    fn = activations.get("cube")
    assert fn is cube and fn.forward(np.asarray([2.0])).tolist() == [8.0]
    assert "cube" in activations.names()

    @anynet.register("activation", "shifted_relu")
    def shifted_relu(shift=0.0):
        # a factory that records neither its name nor its options: get() fills them in
        xp_max = lambda x: anynet.backends.namespace_of(x).maximum(x - shift, 0.0)  # noqa: E731
        return ActivationFn("anything", xp_max, lambda x, y, dy: dy * (x > shift))

    cleanup.append(("activation", "shifted_relu"))
    fn = activations.get("shifted_relu", shift=1.0)
    assert fn.name == "shifted_relu" and fn.options == {"shift": 1.0}
    assert fn.forward(np.asarray([0.5, 3.0])).tolist() == [0.0, 2.0]
    # what a checkpoint stores (name and options) rebuilds it
    saved = json.loads(json.dumps({"name": fn.name, "options": fn.options}))
    again = activations.get(saved["name"], **saved["options"])
    assert again.forward(np.asarray([3.0])).tolist() == [2.0]
    with pytest.raises(ConfigError, match="does not take options"):
        activations.get("shifted_relu", scale=2.0)
    with pytest.raises(ConfigError, match="does not take options"):
        activations.get("cube", alpha=1.0)


def test_a_user_loss(cleanup):
    @anynet.register("loss", "scaled_mse")
    class ScaledMSE(losses.Loss):
        def __init__(self, *, scale=1.0, reduction="mean"):
            super().__init__(reduction=reduction)
            self.scale = float(scale)

        def compute(self, pred, target):
            xp = anynet.backends.namespace_of(pred)
            d = pred - target
            value, factor = self.reduce(self.scale * xp.sum(d * d), int(pred.shape[0]))
            return value, lambda: (2.0 * self.scale * factor) * d

        def config(self):
            return {**super().config(), "scale": self.scale}

    cleanup.append(("loss", "scaled_mse"))
    loss = losses.get("scaled_mse", scale=3.0)
    assert isinstance(loss, ScaledMSE) and loss.name == "scaled_mse" and not loss.from_logits
    assert float(loss(np.asarray([[1.0], [2.0]]), np.asarray([0.0, 0.0]))) == 7.5
    assert name_of("loss", type(loss)) == "scaled_mse"
    # a checkpoint stores the registered name and config()
    saved = json.loads(json.dumps({"type": name_of("loss", type(loss)), "config": loss.config()}))
    again = losses.get(saved["type"], **saved["config"])
    assert type(again) is ScaledMSE and again.config() == loss.config()
    assert gradcheck(loss, np.asarray([[1.0, -2.0]]), np.asarray([[0.5, 0.5]])).ok
    # a regression loss: targets prepared like MSE's, no probabilities
    y = loss.prepare_targets([1.0, 2.0], 1, backend="numpy", dtype="float64")
    assert y.shape == (2, 1)
    with pytest.raises(anynet.InputError, match="use predict"):
        loss.to_proba(y)


def test_a_user_loss_registered_without_a_name_uses_its_class_name(cleanup):
    @anynet.register("loss")
    class Mirror(losses.Loss):
        def compute(self, pred, target):
            xp = anynet.backends.namespace_of(pred)
            return xp.sum(pred - target), lambda: xp.ones_like(pred)

    cleanup.append(("loss", "Mirror"))
    assert losses.get("Mirror").name == "Mirror" and lookup("loss", "mirror") is Mirror


def test_a_user_schedule(cleanup):
    @anynet.register("schedule")
    class Triangle:
        """Up from 0 to peak over `half` steps, then down, repeating."""

        def __init__(self, peak, half=10):
            self.peak, self.half = peak, half

        def __call__(self, step):
            phase = step % (2 * self.half)
            return self.peak * (phase if phase <= self.half else 2 * self.half - phase) / self.half

        def config(self):
            return {"peak": self.peak, "half": self.half}

    cleanup.append(("schedule", "Triangle"))

    @anynet.register("schedule", "flat")
    @dataclass(frozen=True)
    class Flat:  # a dataclass needs no config(): its fields are used
        lr: float

        def __call__(self, step):
            return self.lr

    cleanup.append(("schedule", "flat"))
    composed = schedules.Chain([(0, schedules.Warmup(Triangle(1.0, half=4), steps=2)), (100, Flat(0.01))])
    config = json.loads(json.dumps(schedules.to_config(composed)))
    assert config["parts"][0][1]["after"] == {"type": "Triangle", "peak": 1.0, "half": 4}
    assert config["parts"][1][1] == {"type": "flat", "lr": 0.01}
    again = schedules.from_config(config)
    assert [again(s) for s in (0, 1, 2, 6, 100, 500)] == [composed(s) for s in (0, 1, 2, 6, 100, 500)]
    assert again(6) == 0.5 and again(500) == 0.01
    assert "Triangle" in schedules.names()


def test_a_user_metric(cleanup):
    @anynet.register("metric", "max_abs_error")
    class MaxAbsError(metrics.Metric):
        def update(self, pred, target):
            xp = anynet.backends.namespace_of(pred)
            worst = xp.max(xp.abs(pred - xp.reshape(target, pred.shape)))
            old = self._sums.get("max")
            self._sums["max"] = worst if old is None else xp.maximum(old, worst)
            self.count += int(pred.shape[0])

        def result(self):
            return float(self._sums["max"])

    cleanup.append(("metric", "max_abs_error"))
    m = metrics.get("max_abs_error", loss=losses.MSE())
    m.update(np.asarray([[1.0], [2.0]]), np.asarray([1.5, 0.0]))
    m.update(np.asarray([[0.0]]), np.asarray([0.25]))
    assert m.result() == 2.0 and m.name == "max_abs_error" and not m.greater_is_better


def test_a_user_initializer_class_factory_and_function(cleanup):
    @anynet.register("initializer", "checkerboard")
    @dataclass(frozen=True)
    class Checkerboard:
        value: float = 1.0

        def __call__(self, shape, rng):
            i, j = np.indices(shape if len(shape) == 2 else (1, shape[0]))
            return (self.value * (-1.0) ** (i + j)).reshape(shape)

    cleanup.append(("initializer", "checkerboard"))

    @anynet.register("initializer", "halved_he")
    def halved_he(gain=0.5):  # a factory: every parameter has a default
        return init.VarianceScaling(2.0 * gain * gain, "fan_in", "normal")

    cleanup.append(("initializer", "halved_he"))

    @anynet.register("initializer", "identity_like")
    def identity_like(shape, rng):  # the initialiser itself: (shape, rng)
        return np.eye(*shape)

    cleanup.append(("initializer", "identity_like"))
    rng = np.random.default_rng(0)
    board = init.get("checkerboard", value=2.0)
    assert board((2, 2), rng).tolist() == [[2.0, -2.0], [-2.0, 2.0]]
    assert init.get("halved_he") == init.VarianceScaling(0.5, "fan_in", "normal")
    assert init.get("identity_like") is identity_like
    for obj in (board, init.get("halved_he", gain=1.0), identity_like):
        desc = json.loads(json.dumps(init.describe(obj)))
        assert init.from_description(desc) == obj
    assert init.describe(board) == {"type": "checkerboard", "value": 2.0}
    assert init.describe(identity_like) == {"type": "identity_like"}
    with pytest.raises(ConfigError, match="does not take options"):
        init.get("identity_like", gain=2.0)
    assert {"checkerboard", "halved_he", "identity_like"} <= set(init.names())


@pytest.mark.parametrize("kind,get", [
    ("activation", activations.get), ("loss", losses.get), ("metric", metrics.get), ("initializer", init.get),
    ("schedule", lambda name: schedules.from_config({"type": name})),
])
def test_unknown_names_list_the_known_ones(kind, get):
    with pytest.raises(UnknownNameError, match=r"unknown .*'no_such_part'; known: .*register your own") as info:
        get("no_such_part")
    assert isinstance(info.value, ValueError)


def test_a_clash_is_a_config_error_and_replace_overrides(cleanup):
    with pytest.raises(ConfigError, match="already taken"):
        anynet.register("activation")(ActivationFn("relu", lambda x: x, lambda x, y, dy: dy))
    with pytest.raises(ConfigError, match="already taken"):
        anynet.register("loss", "huber")(type("MyHuber", (losses.Loss,), {}))
    with pytest.raises(ConfigError, match="already taken"):
        anynet.register("activation", "mine", aliases=("swish",))(ActivationFn("mine", abs, lambda x, y, dy: dy))
    assert activations.get("relu").forward(np.asarray([-1.0])).tolist() == [0.0]  # untouched

    first = anynet.register("activation")(ActivationFn("twice", lambda x: 2 * x, lambda x, y, dy: 2 * dy))
    cleanup.append(("activation", "twice"))
    assert anynet.register("activation")(first) is first  # the same object again: no clash
    second = ActivationFn("twice", lambda x: 3 * x, lambda x, y, dy: 3 * dy)
    with pytest.raises(ConfigError):
        anynet.register("activation")(second)
    anynet.register("activation", replace=True)(second)
    assert activations.get("twice").forward(np.asarray([1.0])).tolist() == [3.0]


def test_unregister_removes_the_name():
    anynet.register("metric", "temporary")(type("Temporary", (metrics.Metric,), {}))
    assert "temporary" in metrics.names()
    unregister("metric", "temporary")
    assert "temporary" not in metrics.names()
    with pytest.raises(UnknownNameError):
        metrics.get("temporary")


def test_every_built_in_name_and_alias_still_works():
    for name in ["identity", "linear", "none", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus",
                 "silu", "swish", "softmax"]:
        activations.get(name)
    for name in ["mse", "mean_squared_error", "least_square_error", "half_sse", "mae", "mean_absolute_error",
                 "huber", "bce", "binary_crossentropy", "bce_logits", "binary_crossentropy_from_logits",
                 "softmax_cross_entropy", "cross_entropy", "softmax_with_loss"]:
        assert isinstance(losses.get(name), losses.Loss)
    for name in ["accuracy", "acc", "mae", "mse", "r2"]:
        assert isinstance(metrics.get(name), metrics.Metric)
    for name in ["zeros", "ones", "constant", "normal", "uniform", "glorot_uniform", "glorot_normal", "he_uniform",
                 "he_normal", "lecun_uniform", "lecun_normal", "variance_scaling", "xavier_uniform", "xavier_normal",
                 "kaiming_uniform", "kaiming_normal"]:
        assert callable(init.get(name))
    for name in ["Constant", "Inv", "Step", "Exponential", "Cosine", "Warmup", "Chain"]:
        assert lookup("schedule", name) is getattr(schedules, name)


def test_a_subclass_of_a_built_in_loss_and_metric_reports_and_saves_its_registered_name(cleanup, tmp_path):
    """A part that subclasses a built-in, registered under its own name, is logged, saved and loaded
    under that name (it used to inherit the parent's class attribute ``name``, so its checkpoint named
    the parent and loaded the parent's class)."""

    @anynet.register("loss", "doubled_mse")
    class DoubledMSE(losses.MSE):
        def compute(self, pred, target):
            value, back = super().compute(pred, target)
            return 2.0 * value, lambda: 2.0 * back()

    @anynet.register("metric", "mae_again")
    class MAEAgain(metrics.MAE):
        pass

    cleanup.extend([("loss", "doubled_mse"), ("metric", "mae_again")])
    assert DoubledMSE().name == "doubled_mse" and losses.MSE().name == "mse"
    assert metrics.get("mae_again", loss=losses.MSE()).name == "mae_again"
    X = np.random.default_rng(0).standard_normal((16, 3))
    model = anynet.Sequential([anynet.layers.Dense(3, 1)], seed=0)
    history = model.fit(X, X[:, 0], loss="doubled_mse", optimizer="sgd", metrics=["mae_again", "mae"],
                        epochs=1, verbose=0)
    assert {"loss", "mae_again", "mae"} <= set(history.history)
    model.save(tmp_path / "m.safetensors")
    again = anynet.load(tmp_path / "m.safetensors")
    assert type(again.train_state.loss) is DoubledMSE
    assert again.evaluate(X, X[:, 0])["loss"] == pytest.approx(model.evaluate(X, X[:, 0])["loss"])
    assert again.train_state.metrics == ["mae_again", "mae"]


def test_a_loss_or_optimizer_that_would_not_load_again_is_refused_before_saving(cleanup, tmp_path):
    """An unregistered subclass of a built-in saves under a name no registry knows (its class name):
    the save is refused, naming the fix, and no file is written — it used to write a checkpoint that
    could not be loaded."""

    class Unnamed(losses.MSE):
        pass

    class UnnamedSGD(anynet.optim.SGD):
        pass

    X = np.random.default_rng(0).standard_normal((8, 2))
    for loss, opt in ((Unnamed(), "sgd"), ("mse", UnnamedSGD(lr=0.1))):
        model = anynet.Sequential([anynet.layers.Dense(2, 1)], seed=0)
        model.fit(X, X[:, 0], loss=loss, optimizer=opt, verbose=0)
        target = tmp_path / "m.safetensors"
        with pytest.raises(anynet.CheckpointError, match=r"not registered under a name of its own.*anynet.register"):
            model.save(target)
        assert not target.exists()
    # a name the object was given itself is the caller's choice: saved and loaded as that part
    named = Unnamed()
    named.name = "mse"
    model = anynet.Sequential([anynet.layers.Dense(2, 1)], seed=0)
    model.fit(X, X[:, 0], loss=named, optimizer="sgd", verbose=0)
    model.save(tmp_path / "named.safetensors")
    assert type(anynet.load(tmp_path / "named.safetensors").train_state.loss) is losses.MSE
