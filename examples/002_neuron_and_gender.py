"""Document 002: one neuron, a 2-2-1 network with the document's numbers, its worked gradient,
then training on four people and predicting two more.

    python examples/002_neuron_and_gender.py [--backend array_api_strict]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anynet  # noqa: E402
from _common import parser, run  # noqa: E402
from anynet.layers import Dense  # noqa: E402


def const(values):
    """An initialiser that returns fixed values (column j = neuron j's weights)."""
    return lambda shape, rng: np.asarray(values, dtype=np.float64).reshape(shape)


def main(args) -> dict:
    b = anynet.get_backend(args.backend)
    f64 = lambda a: b.asarray(np.asarray(a, dtype=np.float64), dtype="float64")  # noqa: E731
    out: dict = {}

    neuron = Dense(2, 1, init=const([[0], [1]]), bias_init=anynet.init.Constant(4.0), activation="sigmoid",
                   dtype="float64", backend=b)
    out["neuron"] = float(anynet.to_numpy(neuron(f64([[2, 3]])))[0, 0])
    print(f"neuron w=[0, 1], b=4, x=[2, 3]: {out['neuron']!r}  (document: 0.9990889488055994)")

    net = anynet.Sequential([Dense(2, 2, init=const([[0, 0], [1, 1]]), activation="sigmoid"),
                             Dense(2, 1, init=const([[0], [1]]), activation="sigmoid")], dtype="float64", backend=b)
    out["network"] = float(anynet.to_numpy(net(f64([[2, 3]])))[0, 0])
    print(f"2-2-1 network, every w=[0, 1], b=0, x=[2, 3]: {out['network']!r}  (document: 0.7216325609518421)")

    out["mse"] = float(anynet.to_numpy(anynet.losses.MSE()(f64([1, 0, 0, 1]), f64([0, 0, 0, 0]))))
    print(f"MSE([1, 0, 0, 1], [0, 0, 0, 0]) = {out['mse']}  (document: 0.5)")

    ones = anynet.Sequential([Dense(2, 2, init="ones", activation="sigmoid"),
                              Dense(2, 1, init="ones", activation="sigmoid")], dtype="float64", backend=b)
    _, grads = ones.gradients(f64([[-2, -1]]), f64([[1]]), "mse")
    out["dL_dw1"] = float(anynet.to_numpy(grads["0.W"])[0, 0])
    print(f"Alice, all weights 1: dL/dw1 = {out['dL_dw1']:.7f}  (document, from rounded steps: 0.0214)")

    X, y = anynet.datasets.gender()
    model = anynet.Sequential([Dense(2, 2, activation="sigmoid", init="normal"),
                               Dense(2, 1, activation="sigmoid", init="normal")], seed=args.seed, backend=b)
    hist = model.fit(X, y, loss="mse", optimizer=anynet.optim.SGD(lr=0.1), epochs=1000, batch_size=1,
                     seed=args.seed, verbose=0)
    for epoch in range(0, 1000, 100):
        print(f"epoch {epoch:4d} loss {hist['loss'][epoch]:.4f}")
    new = anynet.datasets.GENDER_NEW
    preds = model.predict(np.asarray(list(new.values()), dtype=np.float32))[:, 0]
    for name, p in zip(new, preds):
        print(f"{name}: {p:.3f} ({'F' if p > 0.5 else 'M'})")
    out.update({"emily": float(preds[0]), "frank": float(preds[1]), "final_loss": hist["loss"][-1]})
    return out


def cli(argv=None) -> dict:
    return run(main, parser(__doc__), argv)


if __name__ == "__main__":
    cli()
