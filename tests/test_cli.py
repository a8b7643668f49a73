"""The anynet command: train, evaluate, predict, check, info, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from anynet.cli import main, parse_layers


def test_train_digits_defaults_reach_97_percent(tmp_path, capsys):
    assert main(["train", "digits", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["test"]["accuracy"] >= 0.97, report["test"]
    assert "digits: test accuracy" in out
    for name in ("model.safetensors", "metrics.json", "loss.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert main(["evaluate", str(tmp_path / "model.safetensors"), "digits"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["accuracy"] == pytest.approx(report["test"]["accuracy"])


def test_train_2d_data_writes_a_decision_boundary(tmp_path):
    assert main(["train", "moons", "--out", str(tmp_path), "--quiet", "--epochs", "20"]) == 0
    assert (tmp_path / "boundary.png").stat().st_size > 10_000


def test_csv_train_evaluate_predict(tmp_path, capsys):
    g = np.random.default_rng(0)
    X = g.standard_normal((200, 3)) * [1, 10, 100] + [0, 50, -30]
    y = X[:, 0] + 0.1 * X[:, 1] + 0.01 * X[:, 2]
    rows = ["a,b,c,target"] + [",".join(f"{v:.6f}" for v in r) for r in np.c_[X, y]]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows))
    out = tmp_path / "run"
    assert main(["train", "--csv", str(data), "--target", "target", "--out", str(out), "--quiet",
                 "--layers", "16:tanh", "--epochs", "100"]) == 0
    assert json.loads((out / "metrics.json").read_text())["test"]["r2"] > 0.9
    assert main(["evaluate", str(out / "model.safetensors"), str(data), "--target", "target"]) == 0
    new = tmp_path / "new.csv"
    new.write_text("a,b,c\n" + "\n".join(",".join(r.split(",")[:3]) for r in rows[1:6]))
    capsys.readouterr()
    assert main(["predict", str(out / "model.safetensors"), str(new), "--output", str(tmp_path / "p.csv")]) == 0
    pred = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(pred, y[:5], atol=0.5)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "anynet", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,pattern", [
    (["train", "cifar"], "unknown data set 'cifar'"),
    (["train", "digits", "--layers", "64:reluu"], "unknown activation 'reluu'"),
    (["train", "digits", "--layers", "x:relu"], "should be WIDTH or WIDTH:ACTIVATION"),
    (["train", "--csv", "missing.csv", "--target", "y"], "cannot read CSV missing.csv"),
    (["train", "--csv", "missing.csv"], "--csv needs --target"),
    (["evaluate", "nothing.safetensors", "digits"], "cannot open checkpoint nothing.safetensors"),
    (["train", "digits", "--epochs", "-3"], "epochs must be an int"),
    (["train", "digits", "--backend", "tensorflow"], "unknown backend 'tensorflow'"),
    (["train", "digits", "--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, pattern, tmp_path):
    out = subprocess.run([sys.executable, "-m", "anynet", *args], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and pattern in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_non_numeric_csv_cell_names_row_and_column(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,2\nfoo,3\n4,5\n")
    out = subprocess.run([sys.executable, "-m", "anynet", "train", "--csv", "d.csv", "--target", "y"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 2 and "row 3, column 'a': 'foo' is not a number" in out.stderr


def test_unreadable_checkpoint(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x08" + b"\0" * 20)
    out = _cli("evaluate", str(tmp_path / "bad.safetensors"), "digits")
    assert out.returncode == 2 and "not a valid anynet checkpoint" in out.stderr


def test_check_prints_a_table_and_passes():
    out = _cli("check", "--backends", "numpy,array_api_strict,torch,jax,cupy")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert any(r[0] == "numpy" and r[2] == "float64" and r[-1] == "pass" for r in rows)
    assert any(r[0] == "cupy" for r in rows)


def test_parse_layers():
    assert parse_layers("64:relu, 32:tanh,16") == [(64, "relu"), (32, "tanh"), (16, None)]
