"""The anynet command's artefacts are complete on their own, and its arguments are checked.

A checkpoint written by ``anynet train`` carries its preprocessing, feature names, target, task,
classes and split inside (``model.metadata["cli"]``): copied alone it predicts the same; CSV
columns are matched by name; ``evaluate`` scores the rows it says it scores.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import anynet
from anynet.cli import CLI_METADATA_VERSION, build_model, build_parser, main, parse_layers

from ._csv import read_csv as _read
from ._csv import write_csv as _write


def _one_error_line(capsys, pattern):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and pattern in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    """A regression model on features of very different scales (so the scaling matters)."""
    tmp = tmp_path_factory.mktemp("reg")
    g = np.random.default_rng(0)
    X = g.standard_normal((200, 3)) * [1, 10, 100] + [0, 50, -30]
    y = X[:, 0] + 0.1 * X[:, 1] + 0.01 * X[:, 2]
    data = _write(tmp / "data.csv", ["a", "b", "c", "target"], [[f"{v:.6f}" for v in r] for r in np.c_[X, y]])
    out = tmp / "run"
    assert main(["train", "--csv", str(data), "--target", "target", "--out", str(out), "--quiet",
                 "--layers", "16:tanh", "--epochs", "60"]) == 0
    return tmp, out / "model.safetensors", X, y


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory):
    """Labels 1 and 3 (not 0..k-1), an id column of text dropped, features on two scales."""
    tmp = tmp_path_factory.mktemp("cls")
    g = np.random.default_rng(1)
    X = g.standard_normal((240, 2)) * [1, 50] + [3, -200]
    label = np.where(X[:, 0] - 3 + (X[:, 1] + 200) / 50 > 0, 3, 1)
    rows = [[f"id{i}", f"{a:.5f}", f"{b:.5f}", int(c)] for i, (a, b, c) in enumerate(zip(X[:, 0], X[:, 1], label))]
    data = _write(tmp / "labels.csv", ["id", "u", "v", "label"], rows)
    out = tmp / "run"
    assert main(["train", "--csv", str(data), "--target", "label", "--task", "classification", "--drop", "id",
                 "--out", str(out), "--quiet", "--layers", "8:tanh", "--epochs", "40"]) == 0
    return tmp, out / "model.safetensors", X, label


def test_checkpoint_stores_what_the_command_needs(regression_run, classification_run):
    meta = anynet.load(str(regression_run[1])).metadata["cli"]
    assert meta["version"] == CLI_METADATA_VERSION
    assert meta["features"] == ["a", "b", "c"] and meta["target"] == "target" and meta["task"] == "regression"
    assert meta["classes"] == [] and meta["source"] == "csv"
    np.testing.assert_allclose(meta["scaling"]["mean"], regression_run[2][:140].mean(0), atol=30)
    assert len(meta["scaling"]["scale"]) == 3 and meta["scaling"]["scale"][2] > 50
    assert meta["split"] == {"seed": 0, "test_size": 0.3, "train_rows": 140, "test_rows": 60}
    meta = anynet.load(str(classification_run[1])).metadata["cli"]
    assert meta["features"] == ["u", "v"] and meta["classes"] == [1, 3] and meta["task"] == "classification"
    report = json.loads((classification_run[1].parent / "metrics.json").read_text())
    assert report["checkpoint_metadata"] == meta


@pytest.mark.parametrize("run", ["regression_run", "classification_run"])
def test_checkpoint_copied_alone_predicts_the_same(run, request, tmp_path):
    home, ckpt, X, y = request.getfixturevalue(run)
    names = ["a", "b", "c"] if run == "regression_run" else ["u", "v"]
    new = _write(tmp_path / "new.csv", names, [[f"{v:.6f}" for v in r] for r in X[:40]])
    assert main(["predict", str(ckpt), str(new), "--output", str(tmp_path / "beside.csv")]) == 0
    alone = tmp_path / "elsewhere" / "copy.safetensors"
    alone.parent.mkdir()
    shutil.copyfile(ckpt, alone)
    assert main(["predict", str(alone), str(new), "--output", str(tmp_path / "alone.csv")]) == 0
    assert _read(tmp_path / "beside.csv") == _read(tmp_path / "alone.csv")
    header, rows = _read(tmp_path / "alone.csv")
    if run == "regression_run":
        assert header == ["prediction"]
        pred = np.asarray([float(r[0]) for r in rows])
        assert 1 - np.mean((pred - y[:40]) ** 2) / np.var(y[:40]) > 0.9  # R², as scaled inputs give
    else:  # the classes come back as the file's labels
        assert header == ["class", "p1", "p3"]
        assert np.mean([int(r[0]) for r in rows] == y[:40]) > 0.9


def test_predict_matches_columns_by_name(regression_run, tmp_path, capsys):
    _, ckpt, X, _ = regression_run
    cells = [[f"{v:.6f}" for v in r] for r in X[:10]]
    _write(tmp_path / "abc.csv", ["a", "b", "c"], cells)
    _write(tmp_path / "cab.csv", ["c", "a", "b"], [[r[2], r[0], r[1]] for r in cells])
    _write(tmp_path / "extra.csv", ["id", "b", "note", "a", "c"], [[f"r{i}", r[1], "text", r[0], r[2]]
                                                                   for i, r in enumerate(cells)])
    for name in ("abc", "cab", "extra"):
        assert main(["predict", str(ckpt), str(tmp_path / f"{name}.csv"), "--output", str(tmp_path / f"{name}.p")]) == 0
    assert _read(tmp_path / "abc.p") == _read(tmp_path / "cab.p") == _read(tmp_path / "extra.p")
    err = capsys.readouterr().err
    assert "ignoring columns the model does not use: 'id', 'note'" in err  # extra columns: ignored, and said so


@pytest.mark.parametrize("header,pattern", [
    (["a", "b"], "missing column 'c' that the model was trained on"),
    (["a", "B", "c"], "missing column 'b' that the model was trained on; unused columns in the file: 'B'"),
    (["a", "b", "c", "a"], "duplicate column names 'a'"),
])
def test_predict_column_errors_name_the_column(regression_run, tmp_path, capsys, header, pattern):
    path = _write(tmp_path / "bad.csv", header, [["1"] * len(header)] * 3)
    capsys.readouterr()
    assert main(["predict", str(regression_run[1]), str(path)]) == 2
    _one_error_line(capsys, pattern)


def test_predict_refuses_a_checkpoint_without_command_metadata(tmp_path, capsys):
    from anynet.layers import Dense

    model = anynet.Sequential([Dense(2, 1)], seed=0)
    model.save(str(tmp_path / "plain.safetensors"))
    path = _write(tmp_path / "x.csv", ["x0", "x1"], [["1", "2"]])
    assert main(["predict", str(tmp_path / "plain.safetensors"), str(path)]) == 2
    _one_error_line(capsys, "was not written by anynet train (no metadata['cli'])")


def test_evaluate_a_named_set_uses_the_stored_split(tmp_path, capsys):
    assert main(["train", "digits", "--seed", "3", "--epochs", "3", "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "model.safetensors"), "digits"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert scores["rows"] == 450 and "held out in training (split seed 3)" in scores["scored_on"]
    assert main(["evaluate", str(tmp_path / "model.safetensors"), "digits", "--seed", "0"]) == 2
    _one_error_line(capsys, "--seed 0: the model was trained on the split of seed 3")


def test_evaluate_a_csv_scores_every_row_and_says_so(regression_run, classification_run, tmp_path, capsys):
    home, ckpt, X, y = regression_run
    capsys.readouterr()
    assert main(["evaluate", str(ckpt), str(home / "data.csv")]) == 0  # --target defaults to the stored one
    scores = json.loads(capsys.readouterr().out)
    assert scores["rows"] == 200 and scores["scored_on"].startswith(f"all 200 rows of {home / 'data.csv'}")
    assert "training rows are included" in scores["scored_on"] and scores["r2"] > 0.9
    home, ckpt, X, label = classification_run
    assert main(["evaluate", str(ckpt), str(home / "labels.csv")]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["accuracy"] > 0.9 and scores["rows"] == 240


@pytest.mark.parametrize("value,pattern", [("1.5", "1.5 is not a class label"),
                                           ("2", "label 2 is not one of the model's classes 1, 3")])
def test_evaluate_refuses_labels_a_classifier_cannot_score(classification_run, tmp_path, capsys, value, pattern):
    path = _write(tmp_path / "e.csv", ["u", "v", "label"], [["3", "-200", "1"], ["3", "-200", value]])
    capsys.readouterr()
    assert main(["evaluate", str(classification_run[1]), str(path)]) == 2
    _one_error_line(capsys, pattern)


def _years(tmp_path, label):
    g = np.random.default_rng(0)
    rows = [[f"{a:.4f}", f"{b:.4f}", int(label[i % len(label)])] for i, (a, b) in enumerate(g.standard_normal((60, 2)))]
    return _write(tmp_path / "t.csv", ["a", "b", "year"], rows)


def test_csv_task_is_chosen_not_guessed_wrong(tmp_path, capsys):
    data = _years(tmp_path, [2019, 2020, 2021])
    assert main(["train", "--csv", str(data), "--target", "year", "--quiet", "--out", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, "cannot tell whether column 'year' holds classes or quantities")
    assert main(["train", "--csv", str(data), "--target", "year", "--task", "regression", "--epochs", "2",
                 "--quiet", "--out", str(tmp_path / "r")]) == 0
    assert anynet.load(str(tmp_path / "r" / "model.safetensors")).metadata["cli"]["task"] == "regression"
    assert main(["train", "--csv", str(data), "--target", "year", "--task", "classification", "--epochs", "2",
                 "--quiet", "--out", str(tmp_path / "c")]) == 0
    model = anynet.load(str(tmp_path / "c" / "model.safetensors"))
    assert model.metadata["cli"]["classes"] == [2019, 2020, 2021] and model.out_features == 3


def test_csv_huge_integer_labels_are_classes_not_a_memory_error(tmp_path):
    data = _years(tmp_path, [0, 10**12])
    assert main(["train", "--csv", str(data), "--target", "year", "--task", "classification", "--epochs", "2",
                 "--quiet", "--out", str(tmp_path / "c")]) == 0
    assert anynet.load(str(tmp_path / "c" / "model.safetensors")).metadata["cli"]["classes"] == [0, 10**12]


def test_csv_drop_columns(tmp_path, capsys):
    g = np.random.default_rng(0)
    rows = [[f"n{i}", f"{a:.4f}", i, f"{b:.4f}", f"{a - b:.4f}"] for i, (a, b) in enumerate(g.standard_normal((50, 2)))]
    data = _write(tmp_path / "d.csv", ["name", "a", "row", "b", "y"], rows)
    assert main(["train", "--csv", str(data), "--target", "y", "--drop", "name,row", "--epochs", "2", "--quiet",
                 "--out", str(tmp_path / "r")]) == 0
    assert anynet.load(str(tmp_path / "r" / "model.safetensors")).metadata["cli"]["features"] == ["a", "b"]
    assert main(["train", "--csv", str(data), "--target", "y", "--drop", "name", "--drop", "row", "--epochs", "2",
                 "--quiet", "--out", str(tmp_path / "r2")]) == 0
    assert main(["train", "--csv", str(data), "--target", "y", "--drop", "name,nope", "--quiet"]) == 2
    _one_error_line(capsys, "cannot drop 'nope': no such column")
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--out", str(tmp_path / "r3")]) == 2
    _one_error_line(capsys, "row 2, column 'name': 'n0' is not a number")


@pytest.mark.parametrize("args,pattern", [
    (["train", "digits", "--epochs", "0"], "--epochs must be an int ≥ 1, got 0"),
    (["train", "digits", "--batch-size", "0"], "--batch-size must be an int ≥ 1, got 0"),
    (["train", "digits", "--batch-size", "-4"], "--batch-size must be an int ≥ 1, got -4"),
    (["train", "digits", "--task", "regression"], "--task applies to --csv files only"),
    (["train", "digits", "--drop", "pixel_0"], "--drop applies to --csv files only"),
    (["train", "digits", "--target", "y"], "--target applies to --csv files only"),
    (["train", "digits", "--csv", "x.csv", "--target", "y"], "give one of NAME, --csv PATH or --mnist DIR"),
    (["train", "digits", "--layers", "64:relu,layernorn"],
     "should be WIDTH or WIDTH:ACTIVATION (a Dense layer) or one of layernorm, batchnorm"),
])
def test_bad_train_arguments_are_refused(args, pattern, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path), "--quiet"]) == 2
    _one_error_line(capsys, pattern)
    assert not (tmp_path / "model.safetensors").exists()


def test_task_choices_are_checked(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--csv", "x.csv", "--target", "y", "--task", "ordinal"])
    assert exc.value.code == 2
    _one_error_line(capsys, "argument --task: invalid choice: 'ordinal'")


def test_layers_syntax_with_layernorm():
    assert parse_layers("64:relu,layernorm,32:relu") == [(64, "relu"), "layernorm", (32, "relu")]
    assert parse_layers("16, BatchNorm") == [(16, None), "batchnorm"]
    from anynet.layers import BatchNorm, Dense, Dropout, LayerNorm

    model = build_model(10, 3, parse_layers("64:relu,layernorm,32:relu"), dropout=0.1, seed=0, backend=None,
                        dtype=None)
    kinds = [type(layer) for layer in model.nodes.values()]
    assert kinds == [Dense, LayerNorm, Dropout, Dense, Dropout, Dense]
    assert [layer.config() for layer in model.nodes.values()][1] == LayerNorm(64).config()
    model = build_model(4, 2, parse_layers("batchnorm,8"), dropout=0.0, seed=0, backend=None, dtype=None)
    assert [type(layer) for layer in model.nodes.values()] == [BatchNorm, Dense, Dense]
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "layernorm" in help_text and "64:relu,layernorm,32:relu" in help_text


def test_train_with_layernorm_and_predict(tmp_path):
    assert main(["train", "moons", "--layers", "16:relu,layernorm", "--epochs", "30", "--quiet",
                 "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["test"]["accuracy"] > 0.8
    path = _write(tmp_path / "p.csv", ["x1", "x0"], [["0.5", "1.0"], ["0.0", "-1.0"]])
    assert main(["predict", str(tmp_path / "model.safetensors"), str(path), "--output", str(tmp_path / "o.csv")]) == 0
    header, rows = _read(tmp_path / "o.csv")
    assert header == ["class", "p0", "p1"] and len(rows) == 2
