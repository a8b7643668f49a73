"""
001 · A network as a graph of nodes
===================================

**What the document built.** The second tutorial writes a small computational-graph engine. Every
operation is a node that knows its inputs, its outputs and its local derivatives: an input node that
serves batches, a linear node (``Y = WX + b``), a sigmoid node, a mean-squared-error node and weight
nodes that update themselves. The engine sorts the nodes topologically, so that each runs after all
of its inputs, runs them forward in that order and backward in the reverse order, and trains with
mini-batch gradient descent. Its test is the Boston house-price table, split 70/30: it reports an R² of
0.803 on the test part after 6.9 seconds.

**What this page does.** :class:`anynet.Graph` is that engine: named nodes, each with the node or
nodes it reads, ordered topologically by anynet. The graph below is the tutorial's, the loss node
included. The Boston table is no longer shipped by scikit-learn, so the page trains on its diabetes
table (442 patients, 10 measurements, a disease-progression score), which is harder: linear models
reach an R² of about 0.45 on it. The command-line version reads any numeric CSV instead
(``--csv housing.csv --target MEDV`` for a Boston-style table):
:download:`examples/001_graph_regression.py </../examples/001_graph_regression.py>`.
"""

# %%
# The data
# --------
# :func:`anynet.datasets.diabetes` splits the table 70/30 and standardises the features with the
# statistics of the training part only. The target is standardised too, which suits gradient descent;
# R² does not depend on the target's scale.

import time

import matplotlib.pyplot as plt
import numpy as np

import anynet
from anynet.layers import Activation, Dense

ds = anynet.datasets.diabetes(seed=0)
mean, std = float(ds.y_train.mean()), float(ds.y_train.std())
y_train, y_test = (ds.y_train - mean) / std, (ds.y_test - mean) / std
print(f"{ds.name}: {ds.X_train.shape[0]} training and {ds.X_test.shape[0]} test rows, {ds.n_features} features")

# %%
# The graph
# ---------
# Each entry is ``name: (node, the name or names it reads)``. ``x`` and ``y`` are inputs; the MSE node
# reads the prediction and the label, like the tutorial's. anynet sorts the nodes and checks that the
# graph has no cycle.

n = ds.n_features
graph = anynet.Graph(
    {
        "linear1": (Dense(n, 10), "x"),
        "sigmoid1": (Activation("sigmoid"), "linear1"),
        "linear2": (Dense(10, 1), "sigmoid1"),
        "mse": (anynet.losses.MSE(), ["linear2", "y"]),
    },
    inputs={"x": n, "y": 1},
    output="linear2",
    seed=0,
)
print("topological order:", " → ".join(["x", *graph.order, "mse (with y)"]))

# %%
# Training
# --------
# Mini-batch gradient descent with momentum. A fifth of the training rows is held out to watch for
# over-fitting: training stops once their loss has not improved for 20 epochs.

start = time.perf_counter()
history = graph.fit(ds.X_train, y_train, optimizer=anynet.optim.SGD(lr=0.01, momentum=0.9), epochs=300,
                    batch_size=16, verbose=0, validation_split=0.2,
                    callbacks=[anynet.callbacks.EarlyStopping("val_loss", patience=20)])
seconds = time.perf_counter() - start
scores = graph.evaluate(ds.X_test, y_test, metrics=["r2", "mae"])
print(f"stopped after {len(history.epoch)} epochs, {seconds:.2f} s")
print(f"test R² {scores['r2']:.3f}, mean absolute error {scores['mae'] * std:.1f} (score units)")
print("the tutorial on Boston prices: R² 0.803 in 6.9 s")

fig_loss = anynet.plot.loss_curve(history, title="training and validation loss per epoch")

# %%
# Predictions against the truth
# -----------------------------
# Points on the diagonal are predicted exactly.

pred = graph.predict(ds.X_test)[:, 0] * std + mean
fig, ax = plt.subplots(figsize=(4.8, 4.4))
ax.scatter(ds.y_test, pred, s=12, alpha=0.7)
lo, hi = float(ds.y_test.min()), float(ds.y_test.max())
ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
ax.set_xlabel("true score")
ax.set_ylabel("predicted score")
ax.set_title(f"test part: R² = {scores['r2']:.3f}")
fig.tight_layout()

# %%
# The same graph after training
# -----------------------------
# Once trained, the tutorial removes the loss and label nodes and predicts many samples at once;
# ``predict`` does that: it runs the nodes up to ``output`` and needs no ``y``.

print(np.round(graph.predict(ds.X_test[:5])[:, 0] * std + mean, 1), "vs", ds.y_test[:5])
