"""Plots for training runs (needs matplotlib: ``pip install "anynet-nn[plot]"``).

Each function builds its own :class:`matplotlib.figure.Figure` on an Agg canvas and returns it:
nothing touches pyplot's global state or the matplotlib backend you chose, so the plots work the
same in a script, a notebook or a server. Give ``path`` to also write the figure to a file.

Example:
    >>> from anynet import plot
    >>> fig = plot.loss_curve([1.0, 0.5, 0.25])
    >>> fig.axes[0].get_ylabel()
    'loss'
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["decision_boundary", "loss_curve"]


def _figure(figsize: tuple[float, float]) -> Any:
    """A Figure with its own Agg canvas, outside pyplot (no global figure list, no backend switch)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError('plotting needs matplotlib; install it with pip install "anynet-nn[plot]"') from None
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Any, path: str | os.PathLike | None) -> Any:
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def loss_curve(history: Any, path: str | os.PathLike | None = None, *, title: str = "training") -> Any:
    """Loss (and validation loss) per epoch of a :class:`~anynet.callbacks.History`, or per step
    when given a list of values.

    Arguments:
        history: what ``fit`` returned, or a sequence of loss values.
        path: where to write the figure (PNG, SVG, PDF ... by its suffix); None to only return it.
        title: the figure's title.

    Returns:
        the :class:`matplotlib.figure.Figure` (log-scaled when every loss is positive).
    """
    hist = history.history if hasattr(history, "history") else {"loss": list(history)}
    fig = _figure((6, 4))
    ax = fig.add_subplot()
    positive = True
    for key in ("loss", "val_loss"):
        if key in hist:
            values = np.asarray(hist[key], dtype=np.float64)
            ax.plot(np.arange(1, len(values) + 1), values, label=key)
            positive = positive and bool(np.all(values > 0))
    ax.set_xlabel("epoch" if hasattr(history, "history") else "step")
    ax.set_ylabel("loss")
    if positive and ax.lines:  # a log axis cannot show zero or negative losses
        ax.set_yscale("log")
    ax.set_title(title)
    if ax.lines:
        ax.legend()
    return _finish(fig, path)


def decision_boundary(model: Any, X: Any, y: Any, path: str | os.PathLike | None = None, *,
                      title: str = "decision boundary", resolution: int = 300) -> Any:
    """The data (2 features) coloured by class over the model's predicted class regions.

    Several outputs: the class is their argmax. One output: the class is output > 0 where the
    model's loss takes logits (``model.loss.from_logits``), else output > 0.5.

    Arguments:
        model: a trained model with ``predict`` (and ``loss``).
        X: (n, 2) features; y: (n,) class labels (used for the colours).
        path: where to write the figure; None to only return it.
        title: the figure's title.
        resolution: grid points per axis, an int ≥ 2.

    Returns:
        the :class:`matplotlib.figure.Figure`.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise InputError(f"decision_boundary needs X of shape (n, 2), got shape {X.shape}")
    y = np.asarray(y)
    if y.shape[:1] != X.shape[:1]:
        raise InputError(f"decision_boundary: y has shape {y.shape} but X has {X.shape[0]} samples")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise InputError(f"decision_boundary: resolution must be an int ≥ 2, got {resolution!r}")
    pad = 0.5
    (x0, y0), (x1, y1) = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    out = np.asarray(model.predict(grid))
    if out.ndim == 2 and out.shape[1] > 1:
        cls = out.argmax(1)
    else:
        threshold = 0.0 if getattr(getattr(model, "loss", None), "from_logits", False) else 0.5
        cls = out.reshape(-1) > threshold
    fig = _figure((5.5, 5))
    ax = fig.add_subplot()
    ax.contourf(gx, gy, cls.reshape(gx.shape).astype(np.float64), alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    return _finish(fig, path)
