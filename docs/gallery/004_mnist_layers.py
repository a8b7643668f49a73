"""
004 · A layered framework for handwritten digits
================================================

**What the document built.** The fifth tutorial writes a small framework in the style of Caffe: a data
layer that shuffles the training set and hands out batches, wrapping around at the end; fully
connected layers with Xavier initialisation, ``U(±√6 / √(n_in + n_out + 1))``, and weight decay added
to the weight gradient; tanh, sigmoid and ReLU activations; a softmax-with-loss layer that also reports
accuracy; momentum SGD (``v = 0.9·v + lr·g``, ``w −= v``) with the ``inv`` learning-rate policy,
``0.1 · (1 + 0.0005·t)^(−0.75)``. It then trains 784 → 50 tanh → 50 tanh → 10 on MNIST for 800
iterations of 100 images (weight decay 0.001), plots the training error and scores the 10,000 test
images; that recipe reaches about 95%.

**What this page does.** Every piece of that framework is a part of anynet, so the recipe is a few
lines. MNIST itself is a download, so this page uses scikit-learn's 8×8 digits (1,797 images; 64
inputs instead of 784) with the document's recipe unchanged. The command-line version reads the real
MNIST files with ``--data DIR`` and adds a modern recipe with ``--modern``:
:download:`examples/004_mnist_layers.py </../examples/004_mnist_layers.py>`.
"""

# %%
# The data
# --------

# sphinx_gallery_thumbnail_number = 3
import time

import matplotlib.pyplot as plt
import numpy as np

import anynet
from anynet.layers import Dense

ds = anynet.datasets.digits(seed=0)
print(f"{ds.X_train.shape[0]} training and {ds.X_test.shape[0]} test images of {ds.X_train.shape[1]} pixels in [0, 1]")

# %%
# The document's recipe
# ---------------------
# ``fan_offset=1`` adds the ``+ 1`` of the document's Xavier bound. The ``inv`` policy is the schedule
# :class:`anynet.schedules.Inv`; ``momentum=0.9`` and ``weight_decay=0.001`` are the update rule.
# ``batching="wrap"`` serves batches from one shuffled stream that wraps around the end of the data,
# like the document's ``pull_data``: 16 epochs of 50 steps are its 800 iterations.

xavier = anynet.init.get("glorot_uniform", fan_offset=1)
model = anynet.Sequential([Dense(64, 50, activation="tanh", init=xavier),
                           Dense(50, 50, activation="tanh", init=xavier),
                           Dense(50, 10, init=xavier)], seed=0)
optimizer = anynet.optim.SGD(lr=anynet.schedules.Inv(0.1, gamma=0.0005, power=0.75), momentum=0.9,
                             weight_decay=0.001)
start = time.perf_counter()
history = model.fit(ds.X_train, ds.y_train, loss="softmax_cross_entropy", optimizer=optimizer, epochs=16,
                    batch_size=100, batching="wrap", steps_per_epoch=50, seed=0, verbose=0)
seconds = time.perf_counter() - start
scores = model.evaluate(ds.X_test, ds.y_test, metrics=["accuracy"])
print(f"{len(history.step_losses)} iterations in {seconds:.2f} s; test accuracy {scores['accuracy']:.4f}")

fig_loss = anynet.plot.loss_curve(history.step_losses, title="training loss of each iteration")

# %%
# Test images and what the network read
# -------------------------------------
# The first 24 test images; a red title marks a wrong answer.

pred = model.predict(ds.X_test).argmax(axis=1)
truth = ds.y_test.astype(int)
fig, axes = plt.subplots(3, 8, figsize=(9, 3.9))
for ax, image, p, t in zip(axes.ravel(), ds.X_test, pred, truth):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"read {p}" if p == t else f"read {p}, is {t}", fontsize=8, color="k" if p == t else "r")
    ax.set_axis_off()
fig.tight_layout()

# %%
# The confusion matrix
# --------------------
# Row: the true digit; column: the network's answer. Everything off the diagonal is a mistake.

confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (truth, pred), 1)
fig, ax = plt.subplots(figsize=(5.2, 4.6))
ax.imshow(confusion, cmap="Blues")
for (i, j), count in np.ndenumerate(confusion):
    if count:
        ax.text(j, i, count, ha="center", va="center", fontsize=7,
                color="w" if count > confusion.max() / 2 else "k")
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_title(f"test accuracy {scores['accuracy']:.1%}")
fig.tight_layout()
print("per-digit accuracy:", np.round(confusion.diagonal() / confusion.sum(axis=1), 3))
