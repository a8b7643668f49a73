"""Plots for training runs (needs matplotlib: ``pip install "anynet[plot]"``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InputError


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError('plotting needs matplotlib; install it with pip install "anynet[plot]"') from None
    return plt


def loss_curve(history: Any, path: str | os.PathLike, *, title: str = "training") -> None:
    """Loss (and validation loss) per epoch, or per step when given a list of values."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    hist = history.history if hasattr(history, "history") else {"loss": list(history)}
    for key in ("loss", "val_loss"):
        if key in hist:
            ax.plot(np.arange(1, len(hist[key]) + 1), hist[key], label=key)
    ax.set_xlabel("epoch" if hasattr(history, "history") else "step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def decision_boundary(model: Any, X: np.ndarray, y: np.ndarray, path: str | os.PathLike, *,
                      title: str = "decision boundary", resolution: int = 300) -> None:
    """The data (2 features) coloured by class over the model's predicted class regions."""
    plt = _pyplot()
    if X.shape[1] != 2:
        raise InputError(f"decision_boundary needs 2 features, got {X.shape[1]}")
    pad = 0.5
    (x0, y0), (x1, y1) = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    out = model.predict(grid)
    cls = out.argmax(1) if out.shape[1] > 1 else (out[:, 0] > (0.0 if _logits(model) else 0.5))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(gx, gy, cls.reshape(gx.shape), alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _logits(model: Any) -> bool:
    from .losses import BCEWithLogits

    return isinstance(model.loss, BCEWithLogits)
