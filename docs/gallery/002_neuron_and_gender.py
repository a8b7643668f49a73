"""
002 · One neuron, then backpropagation by hand
==============================================

**What the document built.** The third tutorial starts from a single sigmoid neuron and works every
number out on paper. A neuron with weights ``[0, 1]`` and bias 4 turns ``[2, 3]`` into
``sigmoid(7) = 0.9990889488055994``. A 2-2-1 network whose every neuron has weights ``[0, 1]`` and
bias 0 turns the same input into 0.7216325609518421. The mean squared error of predicting all zeros
for ``[1, 0, 0, 1]`` is 0.5. Then it derives backpropagation through the chain rule for one person
(Alice, ``[-2, -1]``, label 1, all weights 1, biases 0) and finds ∂L/∂w1 ≈ 0.0214. Finally it trains
the network on four people — weight minus 135 lb and height minus 66 in, label 1 for female — one
sample at a time for 1,000 epochs with learning rate 0.1, and predicts two newcomers: Emily (0.951,
female) and Frank (0.039, male).

**What this page does.** It recomputes each of those numbers with anynet's layers in float64, takes
the gradient from anynet's backward pass instead of by hand, and repeats the training. The
command-line version: :download:`examples/002_neuron_and_gender.py </../examples/002_neuron_and_gender.py>`.
"""

# %%
# Fixed weights
# -------------
# An initialiser is any callable ``(shape, rng) -> array``; this one hands back the tutorial's numbers.
# Column ``j`` of a :class:`~anynet.layers.Dense` weight matrix holds neuron ``j``'s weights.

# sphinx_gallery_thumbnail_number = 2
import numpy as np

import anynet
from anynet.layers import Dense


def fixed(values):
    return lambda shape, rng: np.asarray(values, dtype=np.float64).reshape(shape)


x = np.asarray([[2.0, 3.0]])
neuron = Dense(2, 1, init=fixed([[0], [1]]), bias_init=anynet.init.Constant(4.0), activation="sigmoid",
               dtype="float64")
print(f"one neuron:      {neuron(x)[0, 0]!r}   (document: 0.9990889488055994)")

network = anynet.Sequential([Dense(2, 2, init=fixed([[0, 0], [1, 1]]), activation="sigmoid"),
                             Dense(2, 1, init=fixed([[0], [1]]), activation="sigmoid")], dtype="float64")
print(f"2-2-1 network:   {network(x)[0, 0]!r}   (document: 0.7216325609518421)")

mse = anynet.losses.MSE()(np.asarray([1.0, 0, 0, 1]), np.zeros(4))
print(f"MSE:             {float(mse)}   (document: 0.5)")

# %%
# The worked gradient
# -------------------
# ``gradients`` runs one forward and one backward pass and returns every parameter's gradient, named
# ``"<layer>.<parameter>"``. ``0.W[0, 0]`` is the weight from the first input to the first hidden
# neuron, the tutorial's w1. Its 0.0214 came from rounded intermediate values.

ones = anynet.Sequential([Dense(2, 2, init="ones", activation="sigmoid"),
                          Dense(2, 1, init="ones", activation="sigmoid")], dtype="float64")
loss, grads = ones.gradients(np.asarray([[-2.0, -1.0]]), np.asarray([[1.0]]), "mse")
print(f"Alice: loss {float(loss):.4f}, dL/dw1 = {grads['0.W'][0, 0]:.7f}   (document: 0.0214)")

# %%
# Training on four people
# -----------------------
# ``batch_size=1`` is the tutorial's per-sample update. Its weights started as standard normal draws.

X, y = anynet.datasets.gender()
model = anynet.Sequential([Dense(2, 2, activation="sigmoid", init="normal"),
                           Dense(2, 1, activation="sigmoid", init="normal")], seed=0)
history = model.fit(X, y, loss="mse", optimizer=anynet.optim.SGD(lr=0.1), epochs=1000, batch_size=1, seed=0,
                    verbose=0)
for epoch in (0, 10, 100, 500, 999):
    print(f"epoch {epoch + 1:4d}: loss {history['loss'][epoch]:.4f}")

fig_loss = anynet.plot.loss_curve(history, title="mean squared error per epoch")

# %%
# The newcomers
# -------------

names = ["Alice", "Bob", "Charlie", "Diana"]
new = anynet.datasets.GENDER_NEW
X_new = np.asarray(list(new.values()), dtype=np.float32)
for name, p in zip(new, model.predict(X_new)[:, 0]):
    print(f"{name}: {p:.3f} ({'F' if p > 0.5 else 'M'})")
print("document: Emily 0.951 (F), Frank 0.039 (M)")

# %%
# Where the network draws the line between the two classes, with the four people it learned from
# (dots) and the two it was asked about (crosses). :func:`anynet.plot.decision_boundary` returns the
# figure; the names are added to its axes.

everyone = np.concatenate([X, X_new])
fig = anynet.plot.decision_boundary(model, everyone, np.r_[y, model.predict(X_new)[:, 0] > 0.5],
                                    title="female (red) or male (blue)")
ax = fig.axes[0]
ax.scatter(X_new[:, 0], X_new[:, 1], marker="x", c="k", s=50)
for name, (w, h) in zip(names + list(new), everyone):
    right = w > 10  # labels of the points near the right edge go to their left
    ax.annotate(name, (w, h), textcoords="offset points", xytext=(-5 if right else 5, 5), fontsize=8,
                ha="right" if right else "left")
ax.set_xlabel("weight − 135 lb")
ax.set_ylabel("height − 66 in")
fig.tight_layout()
