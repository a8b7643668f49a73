"""Every example script in fast mode on every installed backend, with its targets."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def cli(name: str, *argv: str) -> dict:
    module = runpy.run_path(str(EXAMPLES / name), run_name="example")
    return module["cli"](list(argv))


def test_000_comparison_is_perfect_on_fresh_samples(backend):
    r = cli("000_comparison.py", "--fast", "--backend", backend.spec)
    assert r["accuracy"] == 1.0 and r["steps"] == 2000
    assert r["last_loss"] < r["first_loss"]
    for query, p in r["queries"].items():
        expected = 1 if query in ("[5, 8, 5, 4, 1]", "[2, 3, 1, 1, 1]") else 0
        assert (p > 0.5) == bool(expected), (query, p)


def test_002_document_numbers_and_gender_predictions(backend):
    r = cli("002_neuron_and_gender.py", "--backend", backend.spec)
    assert r["neuron"] == 0.9990889488055994
    assert r["network"] == pytest.approx(0.7216325609518421, abs=1e-15)
    assert r["mse"] == 0.5
    assert r["dL_dw1"] == pytest.approx(0.0214695, abs=5e-8)
    assert r["emily"] > 0.9 and r["frank"] < 0.1


def test_003_planar_flower_reaches_90_percent(backend, tmp_path):
    r = cli("003_planar_flower.py", "--backend", backend.spec, "--out", str(tmp_path))
    assert r["accuracy"] >= 0.90
    assert Path(r["plot"]).stat().st_size > 10_000


def test_001_graph_regression_on_a_boston_style_csv(backend, tmp_path):
    # 13 features and a smooth nonlinear target with noise, 506 rows like the Boston table
    g = np.random.default_rng(0)
    X = g.standard_normal((506, 13))
    medv = 22 + 5 * np.tanh(X[:, 0]) - 3 * X[:, 5] + 2 * X[:, 12] ** 2 / (1 + X[:, 12] ** 2) + g.normal(0, 1, 506)
    cols = [f"f{i}" for i in range(13)] + ["MEDV"]
    rows = [",".join(cols)] + [",".join(f"{v:.5f}" for v in row) for row in np.c_[X, medv]]
    (tmp_path / "housing.csv").write_text("\n".join(rows))
    r = cli("001_graph_regression.py", "--fast", "--backend", backend.spec, "--csv", str(tmp_path / "housing.csv"),
            "--target", "MEDV")
    assert r["r2"] >= 0.85 and r["order"] == ["linear1", "sigmoid1", "linear2"]


def test_001_default_diabetes(request):
    r = cli("001_graph_regression.py", "--fast")
    assert r["r2"] > 0.4  # diabetes is a hard set: linear models reach about 0.45


def test_004_document_recipe_on_digits(backend, tmp_path):
    r = cli("004_mnist_layers.py", "--fast", "--backend", backend.spec, "--out", str(tmp_path))
    assert r["steps"] == 192 and r["accuracy"] > 0.9
    assert Path(r["plot"]).exists()


def test_004_full_recipes_on_digits():
    assert cli("004_mnist_layers.py")["accuracy"] > 0.95
    assert cli("004_mnist_layers.py", "--modern", "--epochs", "6")["accuracy"] > 0.96


def test_custom_parts_train_save_load_and_resume_exactly(backend):
    """A user's layer, loss, optimizer and callback, defined with public names only (run in a fresh
    process: the example registers its parts by name)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(EXAMPLES / "custom_parts.py"), "--backend", backend.spec, "--json"],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    r = json.loads(out.strip().splitlines()[-1])
    assert r["resumed_equals_uninterrupted"] is True
    assert r["r2"] > 0.9 and r["losses_read"] == 8 and r["conformance"] is True
