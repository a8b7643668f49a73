"""Your own layer, loss, optimizer and callback, with public names only.

Each part is registered with ``anynet.register``, so it can be named in ``fit``, saved in a
checkpoint and loaded again; training then resumes exactly where it stopped, on any backend.
docs/guides/extending.md walks through this file.

    python examples/custom_parts.py [--backend torch] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import anynet
import anynet.testing
from anynet.callbacks import Callback
from anynet.layers import Dense, Layer
from anynet.losses import Loss
from anynet.optim import Optimizer


# -- a layer: a learnable per-feature gain, y = x * g --------------------------------------------
@anynet.register("layer")
class Gain(Layer):
    """Multiply each feature by a learnable gain. Shapes: x (n, d) -> y (n, d); params["g"]: (d,)."""

    def __init__(self, num_features: int, *, dtype=None, backend=None) -> None:
        super().__init__()
        self.in_features = num_features
        self.build(dtype=dtype, backend=backend)  # placed, then reset_parameters() creates g

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        # known without allocating: a checkpoint's shapes are checked against it before loading
        return {"g": (self.in_features,)}

    def reset_parameters(self, rng=None) -> None:
        # build() (or a network given a seed) has placed the layer on its backend and dtype
        self.params = {"g": self.backend.asarray(np.ones(self.in_features), dtype=self.dtype)}

    def forward(self, x, *, training=False, need_dx=True):
        g = self.params["g"]
        xp = self.backend.xp

        def backward(dy):
            self.grads["g"] = xp.sum(dy * x, axis=0)
            return dy * g if need_dx else None

        return x * g, backward

    def config(self) -> dict:
        return {"num_features": self.in_features}


# -- a loss: log-cosh, smooth like MSE near 0 and like MAE far from it ------------------------------
@anynet.register("loss", "log_cosh")
class LogCosh(Loss):
    """mean(log(cosh(pred - target))), written stably as |d| + log1p(exp(-2|d|)) - log 2."""

    def compute(self, pred, target):
        xp = anynet.backends.namespace_of(pred)
        d = pred - target
        a = xp.abs(d)
        total = xp.sum(a + xp.log1p(xp.exp(-2.0 * a)) - float(np.log(2.0)))
        value, scale = self.reduce(total, int(np.prod(pred.shape)))
        return value, lambda: scale * xp.tanh(d)


# -- an optimizer: SGD whose step is the sign of the gradient (signSGD with momentum) ----------------
@anynet.register("optimizer")
class SignMomentum(Optimizer):
    """m = beta*m + (1-beta)*g; p -= lr * sign(m). One update rule, exact on every backend."""

    slots = ("m",)
    hyper = ("beta",)

    def __init__(self, lr=0.01, *, beta: float = 0.9, **options) -> None:
        super().__init__(lr, **options)
        self.beta = float(beta)

    def update(self, p, g, state, lr, ops, decay):
        m = ops.add_(ops.mul_(state["m"], self.beta), (1.0 - self.beta) * g)
        state["m"] = m
        return ops.sub_(p, lr * ops.xp.sign(m)), state


# -- a callback: the loss every k steps, read on the host only then ---------------------------------
class EveryK(Callback):
    def __init__(self, k: int) -> None:
        self.k, self.seen = k, []

    def on_batch_end(self, model, step, logs):
        if step % self.k == 0:
            self.seen.append((step, float(anynet.to_numpy(logs["loss"]))))  # an explicit host read, every k steps


def main(backend: str) -> dict:
    g = np.random.default_rng(0)
    X = g.standard_normal((400, 3))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:2] + 0.05 * g.standard_normal((400, 1))

    def build():
        return anynet.Sequential([Dense(3, 16, activation="tanh"), Gain(16), Dense(16, 1)], seed=0,
                                 backend=backend, dtype="float64")

    fit = dict(loss="log_cosh", epochs=3, batch_size=32, verbose=0)
    full = build()
    every = EveryK(5)
    full.fit(X, y, optimizer="SignMomentum", callbacks=[every], **fit)
    full.fit(X, y, **fit)

    half = build()
    half.fit(X, y, optimizer=SignMomentum(), **fit)
    path = Path(tempfile.mkdtemp()) / "custom.safetensors"
    half.save(path)
    resumed = anynet.load(path, backend=backend)
    resumed.fit(X, y, **fit)

    conformance = anynet.testing.check_layer(lambda: Gain(4), in_features=4, backends=[backend]).ok
    same = all(np.array_equal(anynet.to_numpy(resumed.parameters()[k]), anynet.to_numpy(v))
               for k, v in full.parameters().items())
    r2 = full.evaluate(X, y, metrics=["r2"])["r2"]
    print(f"{backend}: loss {type(resumed.loss).__name__}, optimizer {type(resumed.optimizer).__name__}, "
          f"R² {r2:.3f}, resumed == uninterrupted: {same}, {len(every.seen)} losses read, "
          f"Gain passes check_layer: {conformance}")
    return {"backend": backend, "r2": r2, "conformance": conformance, "resumed_equals_uninterrupted": same,
            "losses_read": len(every.seen)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--json", action="store_true")
    out = main(ap.parse_args().backend)
    if ap.parse_args().json:
        print(json.dumps(out))
