"""Plots: figures are returned, files written, and no global matplotlib state is touched."""

from __future__ import annotations

import numpy as np
import pytest

from anynet import losses, plot

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib not installed: plots are optional")
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture
def svg_backend():
    """A backend of the user's choosing (svg, which is not Agg), restored afterwards."""
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    yield "svg"
    matplotlib.use(before)


class _History:
    def __init__(self, history):
        self.history = history


class _Model:
    """Just what decision_boundary asks of a model: predict and loss."""

    def __init__(self, loss, n_outputs=1):
        self.loss, self.n_outputs = loss, n_outputs

    def predict(self, X):
        score = X[:, :1] - X[:, 1:]
        return score if self.n_outputs == 1 else np.concatenate([score, -score], axis=1)


def _pyplot_figures():
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    return None if plt is None else plt.get_fignums()


def test_loss_curve_returns_the_figure_and_writes_the_file(tmp_path, svg_backend):
    figures = _pyplot_figures()
    path = tmp_path / "loss.png"
    fig = plot.loss_curve(_History({"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.4]}), path, title="run")
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_title() == "run" and ax.get_xlabel() == "epoch" and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    assert matplotlib.get_backend() == svg_backend  # not switched to Agg
    assert _pyplot_figures() == figures  # no figure left in pyplot's global list


def test_loss_curve_without_a_path_and_with_non_positive_losses(tmp_path, svg_backend):
    fig = plot.loss_curve([0.5, 0.0, -0.25])  # e.g. a loss that can be negative: no log axis
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "linear"
    assert fig.axes[0].get_xlabel() == "step"
    assert not list(tmp_path.iterdir())
    fig.savefig(tmp_path / "again.svg")  # the figure has its own canvas
    assert (tmp_path / "again.svg").exists()
    assert matplotlib.get_backend() == svg_backend


@pytest.mark.parametrize("loss,n_outputs", [(losses.BCEWithLogits(), 1), (losses.BCE(), 1), (None, 1),
                                            (losses.SoftmaxCrossEntropy(), 2)])
def test_decision_boundary(tmp_path, svg_backend, loss, n_outputs):
    figures = _pyplot_figures()
    g = np.random.default_rng(0)
    X = g.standard_normal((40, 2)).astype(np.float32)
    y = (X[:, 0] > X[:, 1]).astype(np.int64)
    path = tmp_path / "boundary.png"
    fig = plot.decision_boundary(_Model(loss, n_outputs), X, y, path, title="b", resolution=20)
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "b"
    assert path.stat().st_size > 0
    assert matplotlib.get_backend() == svg_backend
    assert _pyplot_figures() == figures


def test_decision_boundary_bad_input():
    from anynet.errors import InputError

    model = _Model(losses.BCEWithLogits())
    with pytest.raises(InputError, match=r"shape \(n, 2\)"):
        plot.decision_boundary(model, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(InputError, match="resolution"):
        plot.decision_boundary(model, np.zeros((4, 2)), np.zeros(4), resolution=1)
    with pytest.raises(InputError, match="samples"):
        plot.decision_boundary(model, np.zeros((4, 2)), np.zeros(3))
