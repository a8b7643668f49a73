"""Document 000: a 5-5-1 sigmoid network learns whether x[1] > x[3].

The document's set-up exactly: W ~ randn, b = 0, binary cross-entropy averaged over the batch,
batch 10, learning rate 0.1, 100,000 samples seen once (10,000 steps). It never measured
accuracy; this script does, on 20,000 fresh samples (target: 100%).

    python examples/000_comparison.py [--backend torch] [--fast]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anynet  # noqa: E402
from _common import parser, run  # noqa: E402
from anynet.layers import Dense  # noqa: E402

QUERIES = {(1, 2, 3, 4, 5): 0, (6, 7, 8, 9, 10): 0, (5, 8, 5, 4, 1): 1, (2, 3, 1, 1, 1): 1}


def main(args) -> dict:
    n = 20_000 if args.fast else 100_000
    X, y = anynet.datasets.comparison(n, seed=args.seed)
    X_new, y_new = anynet.datasets.comparison(20_000, seed=args.seed + 1)
    model = anynet.Sequential([Dense(5, 5, activation="sigmoid", init="normal"),
                               Dense(5, 1, activation="sigmoid", init="normal")],
                              seed=args.seed, backend=args.backend)
    start = time.perf_counter()
    hist = model.fit(X, y, loss="bce", optimizer=anynet.optim.SGD(lr=0.1), epochs=1, batch_size=10,
                     shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    acc = float(((model.predict(X_new)[:, 0] > 0.5) == (y_new > 0.5)).mean())
    queries = np.asarray(list(QUERIES), dtype=np.float32)
    probs = model.predict(queries)[:, 0]
    for q, p in zip(QUERIES, probs):
        print(f"{list(q)} -> {p:.4f} (expected {QUERIES[q]})")
    print(f"held-out accuracy {acc:.4f} on 20,000 fresh samples; {len(hist.step_losses)} steps in {seconds:.2f} s")
    return {"accuracy": acc, "train_seconds": seconds, "steps": len(hist.step_losses),
            "queries": {str(list(q)): float(p) for q, p in zip(QUERIES, probs)},
            "first_loss": hist.step_losses[0], "last_loss": hist.step_losses[-1]}


def cli(argv=None) -> dict:
    return run(main, parser(__doc__), argv)


if __name__ == "__main__":
    cli()
