"""Document 004: the Caffe-style layered network on MNIST, and a modern recipe.

The document's recipe exactly: 784 → 50 (tanh) → 50 (tanh) → 10, SoftmaxWithLoss, Xavier
U(±√6/√(n_in + n_out + 1)), SGD momentum 0.9 in its form (v = 0.9·v + lr·g; w −= v), the ``inv``
policy (base 0.1, γ 0.0005, power 0.75), weight decay 0.001, batch 100 drawn from a shuffled
stream that wraps around (its data layer's ``pull_data``), 800 iterations; it plots the training
error and scores the 10,000 test images (≈ 95% expected). ``--modern`` trains 784-512-256-10
ReLU with dropout and Adam instead (target ≥ 98%).

MNIST is read from ``--data DIR`` (the four IDX files, gzip or raw). Without it the script runs
the same recipes on scikit-learn's 8×8 digits.

    python examples/004_mnist_layers.py --data ~/mnist --out runs/mnist [--modern] [--backend cupy]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anynet  # noqa: E402
from _common import parser, run  # noqa: E402
from anynet.layers import Dense, Dropout  # noqa: E402


def document_recipe(n_in: int, seed: int, backend):
    xavier = anynet.init.get("glorot_uniform", fan_offset=1)
    model = anynet.Sequential([Dense(n_in, 50, activation="tanh", init=xavier),
                               Dense(50, 50, activation="tanh", init=xavier),
                               Dense(50, 10, init=xavier)], seed=seed, backend=backend)
    opt = anynet.optim.SGD(lr=anynet.schedules.Inv(0.1, gamma=0.0005, power=0.75), momentum=0.9,
                           weight_decay=0.001)
    return model, opt


def modern_recipe(n_in: int, seed: int, backend):
    model = anynet.Sequential([Dense(n_in, 512, activation="relu", init="he_uniform"), Dropout(0.2),
                               Dense(512, 256, activation="relu", init="he_uniform"), Dropout(0.2),
                               Dense(256, 10)], seed=seed, backend=backend)
    return model, anynet.optim.Adam(lr=1e-3)


def main(args) -> dict:
    if args.data:
        X_train, y_train, X_test, y_test = anynet.datasets.load_mnist(args.data)
        name = "MNIST"
    else:
        ds = anynet.datasets.digits(seed=args.seed)
        X_train, y_train, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        name = "digits (no --data given)"
    if args.fast:
        X_train, y_train = X_train[:1000], y_train[:1000]
    n_in = X_train.shape[1]
    build = modern_recipe if args.modern else document_recipe
    model, opt = build(n_in, args.seed, args.backend)
    start = time.perf_counter()
    if args.modern:
        epochs = 3 if args.fast else args.epochs
        hist = model.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=opt, epochs=epochs,
                         batch_size=128, seed=args.seed, verbose=0)
    else:
        iterations = 200 if args.fast else args.iterations
        # 16 "epochs" of iterations/16 steps from one wrapping stream = iterations steps in all
        hist = model.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=opt, epochs=16,
                         batch_size=100, batching="wrap", steps_per_epoch=max(1, iterations // 16),
                         seed=args.seed, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.evaluate(X_test, y_test, metrics=["accuracy"])
    steps = len(hist.step_losses)
    print(f"{name}, {'modern' if args.modern else 'document 004'} recipe: test accuracy "
          f"{scores['accuracy']:.4f} after {steps} steps in {seconds:.2f} s")
    results = {"dataset": name, "accuracy": scores["accuracy"], "steps": steps, "train_seconds": seconds}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        path = Path(args.out) / ("modern_loss.png" if args.modern else "document004_training_error.png")
        anynet.plot.loss_curve(hist.step_losses, path, title=f"{name}: training loss per step")
        print(f"wrote {path}")
        results["plot"] = str(path)
    return results


def cli(argv=None) -> dict:
    p = parser(__doc__)
    p.add_argument("--data", help="folder with the MNIST IDX files")
    p.add_argument("--modern", action="store_true")
    p.add_argument("--iterations", type=int, default=800)
    p.add_argument("--epochs", type=int, default=12)
    return run(main, p, argv)


if __name__ == "__main__":
    cli()
