"""fit(compile=...): the one training step, compiled on JAX, equals the eager step (issue 21).

The exactness tests train float64 for 100 steps with every part that carries state from step to step
(Adam/AdamW moments, a schedule, clip_norm, weight decay, BatchNorm's statistics, Dropout's masks,
LayerNorm, a frozen layer) and compare with NumPy eager within 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim, schedules
from anynet.errors import ConfigError
from anynet.layers import BatchNorm, Dense, Dropout, Layer, LayerNorm

from .conftest import load_backend


def _data(n=200, d=6, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    return X, (X[:, 0] + X[:, 1] - X[:, 2] > 0).astype(np.int64)


def _net(backend, seed=0):
    # BatchNorm reads the input (a Dense bias before it would get a gradient of rounding noise only,
    # which Adam scales up to whole steps: no two summation orders agree on that)
    frozen = Dense(16, 16, activation="tanh")
    frozen.trainable = False
    return Sequential([BatchNorm(6), Dense(6, 16, activation="relu"), Dropout(0.25), LayerNorm(16), frozen,
                       Dense(16, 3)], seed=seed, dtype="float64", backend=backend)


OPTIMIZERS = {
    "adam": lambda: optim.Adam(lr=schedules.Inv(0.01, gamma=0.01) if hasattr(schedules, "Inv") else 0.01,
                               clip_norm=1.0, weight_decay=1e-3),
    "adamw": lambda: optim.AdamW(lr=0.005, weight_decay=0.01, clip_norm=0.5),
    "sgd": lambda: optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    # a weight decay that changes every step, and Adam's epsilon as Keras and scikit-learn place it
    "sgd decay schedule": lambda: optim.SGD(lr=0.05, momentum=0.5, weight_decay=schedules.Exponential(0.05, 0.97)),
    "adam eps_hat": lambda: optim.Adam(lr=0.01, eps=1e-3, eps_hat=True),
}


def _train(backend, make_opt, compile, epochs=14, batch_size=28, **kw):
    X, y = _data()
    model = _net(backend)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=make_opt(), epochs=epochs, batch_size=batch_size,
              verbose=0, seed=1, compile=compile, **kw)
    return model, {k: anynet.to_numpy(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_compiled_step_equals_numpy_eager_after_100_steps(request, opt):
    load_backend("jax", request.config)
    _, ref = _train("numpy", OPTIMIZERS[opt], False)  # 200 rows, batches of 28: 7 full + one of 4, ×14 = 112 steps
    model, got = _train("jax", OPTIMIZERS[opt], "auto")
    assert model.optimizer.iterations == 112
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12, err_msg=k)


def test_eager_jax_equals_numpy_too(request):
    load_backend("jax", request.config)
    _, ref = _train("numpy", OPTIMIZERS["adam"], False, epochs=3)
    _, got = _train("jax", OPTIMIZERS["adam"], False, epochs=3)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12, err_msg=k)


def test_per_batch_callbacks_get_every_step_compiled(request):
    load_backend("jax", request.config)
    seen = []

    class Steps(anynet.callbacks.Callback):
        def on_batch_end(self, model, step, logs):
            seen.append((step, logs["size"]))

    _, ref = _train("numpy", OPTIMIZERS["sgd"], False, epochs=2)
    _, got = _train("jax", OPTIMIZERS["sgd"], "auto", epochs=2, callbacks=[Steps()])
    assert seen == [(s, 28 if s % 8 != 7 else 4) for s in range(16)]
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12, err_msg=k)


def test_a_short_last_batch_compiles_once_across_epochs_and_fits(request, capsys):
    load_backend("jax", request.config)
    X, y = _data()
    model = _net("jax")
    loss, opt = anynet.losses.get("softmax_cross_entropy"), optim.Adam(lr=schedules.Inv(0.01, gamma=0.1)
                                                                       if hasattr(schedules, "Inv") else 0.01)
    model.fit(X, y, loss=loss, optimizer=opt, epochs=3, batch_size=28, verbose=1, compile="auto")
    out = capsys.readouterr().out
    assert out.count("compiled the training step with jax.jit") == 1  # reported once
    compiled = next(iter(anynet.step._KEPT[model].values()))
    sizes = (compiled.one._cache_size(), compiled.gathered._cache_size())
    assert sizes == (1, 1)  # one scan of the 7 full batches, one step of the short one: no per-step constant
    model.fit(X, y, epochs=2, batch_size=28, verbose=1, compile="auto")  # same loss and optimizer objects
    assert "compiled" not in capsys.readouterr().out
    assert (compiled.one._cache_size(), compiled.gathered._cache_size()) == sizes
    # names make a new loss and optimizer per fit: the same kind and options need no new trace
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=1, batch_size=28, verbose=1)
    assert "compiled" not in capsys.readouterr().out
    assert next(iter(anynet.step._KEPT[model].values())) is compiled


def test_dropout_alone_still_draws_itself():
    y, _ = Dropout(0.5, seed=0).forward(np.ones((2, 4)), training=True)
    keep = np.random.default_rng(0).random((2, 4)) >= 0.5
    np.testing.assert_array_equal(y, keep * 2.0)


def test_the_driver_draws_the_masks_forward_would_draw():
    layer = Dropout(0.3, seed=5)
    mask = layer.draw((3, 4))
    y, _ = Dropout(0.3, seed=5).forward(np.ones((3, 4)), training=True)
    np.testing.assert_array_equal(y, mask)
    layer.given(np.full((3, 4), 7.0))  # a given mask is used, once, and no draw is made
    state = layer.rng.bit_generator.state
    assert layer.forward(np.ones((3, 4)), training=True)[0].tolist() == [[7.0] * 4] * 3
    assert layer.rng.bit_generator.state == state


def test_compile_true_without_a_compiler_is_a_config_error():
    X, y = _data(40)
    model = Sequential([Dense(6, 3)], seed=0)
    with pytest.raises(ConfigError, match="compile=True.*no compiler.*compile='auto'"):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0, compile=True)
    with pytest.raises(ConfigError, match="compile must be 'auto', True or False"):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", verbose=0, compile="yes")


class Scale(Layer):
    """A custom layer as the extending guide writes one (not anynet's own: 'auto' does not trace it)."""

    def forward(self, x, *, training=False, need_dx=True):
        return 2.0 * x, lambda dy: 2.0 * dy


class HostScale(Layer):
    """A custom layer that reads its input on the host: it cannot be traced."""

    def forward(self, x, *, training=False, need_dx=True):
        factor = 2.0 if float(np.asarray(x).max()) > -1e300 else 1.0
        return factor * x, lambda dy: factor * dy


def test_custom_layers_train_eagerly_under_auto_with_a_notice(request, capsys):
    load_backend("jax", request.config)
    X, y = _data(60)
    ref = Sequential([Dense(6, 4), Scale(), Dense(4, 3)], seed=0, dtype="float64")
    ref.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, verbose=0)
    model = Sequential([Dense(6, 4), Scale(), Dense(4, 3)], seed=0, dtype="float64", backend="jax")
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, verbose=1)
    assert "custom parts (Scale) are not traced under compile='auto'; training eagerly" in capsys.readouterr().out
    for k, v in ref.parameters().items():
        np.testing.assert_allclose(anynet.to_numpy(model.parameters()[k]), v, rtol=0, atol=1e-12)


def test_an_untraceable_part_falls_back_to_eager_with_a_warning(request):
    load_backend("jax", request.config)
    X, y = _data(60)
    ref = Sequential([Dense(6, 4), HostScale(), Dense(4, 3)], seed=0, dtype="float64")
    ref.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, batch_size=16, verbose=0)
    model = Sequential([Dense(6, 4), HostScale(), Dense(4, 3)], seed=0, dtype="float64", backend="jax")
    with pytest.warns(UserWarning, match="could not be compiled with jax.jit.*training eagerly instead"):
        model.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, batch_size=16, verbose=0,
                  compile=True)
    assert model.optimizer.iterations == 8
    for k, v in ref.parameters().items():
        np.testing.assert_allclose(anynet.to_numpy(model.parameters()[k]), v, rtol=0, atol=1e-12)


def test_a_stream_of_batches_and_the_metrics_agree_compiled(request):
    load_backend("jax", request.config)
    X, y = _data(90)
    stream = [(X[i:i + 20], y[i:i + 20]) for i in range(0, 90, 20)]  # 4 of 20 and one of 10: the generic path

    def train(spec, compile):
        model = _net(spec)
        hist = model.fit(stream, loss="softmax_cross_entropy", optimizer=OPTIMIZERS["adamw"](), epochs=3,
                         metrics=["accuracy"], verbose=0, compile=compile)
        return hist.history, {k: anynet.to_numpy(v) for k, v in model.state_dict().items()}

    (h_ref, ref), (h_got, got) = train("numpy", False), train("jax", "auto")
    assert h_got["accuracy"] == h_ref["accuracy"]
    np.testing.assert_allclose(h_got["loss"], h_ref["loss"], rtol=1e-12)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12, err_msg=k)


def test_a_checkpoint_of_a_compiled_fit_resumes_exactly(request, tmp_path):
    load_backend("jax", request.config)
    X, y = _data()
    _, ref = _train("numpy", OPTIMIZERS["adam"], False, epochs=4)
    model, _ = _train("jax", OPTIMIZERS["adam"], "auto", epochs=2)
    model.save(tmp_path / "half.safetensors")  # the optimizer state the compiled steps left, and the generators
    resumed = anynet.load(tmp_path / "half.safetensors", backend="jax")
    resumed.fit(X, y, epochs=2, batch_size=28, verbose=0)
    assert resumed.optimizer.iterations == 32
    for k, v in ref.items():
        np.testing.assert_allclose(anynet.to_numpy(resumed.state_dict()[k]), v, rtol=0, atol=1e-12, err_msg=k)


def test_an_order_function_is_followed_compiled(request):
    """fit(shuffle=order) compiled on JAX (the batches gathered inside the scan) equals NumPy eager."""
    load_backend("jax", request.config)
    g = np.random.default_rng(3)
    orders = [g.permutation(200) for _ in range(3)]

    def make_order():
        it = iter(orders)
        return lambda n: next(it)

    _, ref = _train("numpy", OPTIMIZERS["sgd"], False, epochs=3, shuffle=make_order())
    _, got = _train("jax", OPTIMIZERS["sgd"], "auto", epochs=3, shuffle=make_order())
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-12, err_msg=k)
