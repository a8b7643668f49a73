"""The command line as Keras, PyTorch and scikit-learn users reach for it (issue 24, section 7):
``--version``, ``--out`` on every command, ``train --validation-split / --early-stopping /
--metrics / --resume``, ``predict --id-column`` and named data sets, the warning for an ID-like
feature column, help text on every flag, and ``check``'s reasons wrapped at word boundaries."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

import anynet
import anynet.testing
from anynet import cli
from anynet.cli import build_parser, main

from ._csv import read_csv as _read
from ._csv import write_csv as _write


def _params_equal(a, b):
    pa, pb = a.parameters(), b.parameters()
    return pa.keys() == pb.keys() and all(np.array_equal(anynet.backends.to_numpy(pa[k]),
                                                          anynet.backends.to_numpy(pb[k])) for k in pa)


def _load(path):
    return anynet.load(path)


# -- --version ---------------------------------------------------------------------------------------
def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"anynet {importlib.metadata.version('anynet-nn')}"


def test_version_falls_back_to_the_package_version(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert cli.version() == anynet.__version__


# -- every flag has help; --out is the one spelling ----------------------------------------------------
def _parsers(parser):
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_argument_of_every_command_has_help():
    missing = [f"{prog} {action.option_strings or action.dest}" for prog, parser in _parsers(build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert missing == []


def test_out_names_the_output_of_every_command_and_output_is_a_hidden_alias():
    for prog, parser in _parsers(build_parser()):
        flags = {f for a in parser._actions for f in a.option_strings}
        if prog.split()[-1] in ("train", "predict", "export"):
            assert "--out" in flags and "--output" in flags, prog
            assert "--out " in parser.format_help() and "--output" not in parser.format_help(), prog
            out, = (a for a in parser._actions if "--output" in a.option_strings)
            assert out.dest == "out" and out.help == argparse.SUPPRESS


@pytest.fixture(scope="module")
def gender(tmp_path_factory):
    """A named-set run (gender: 2 features, tiny): its folder."""
    run = tmp_path_factory.mktemp("gender") / "run"
    assert main(["train", "gender", "--epochs", "5", "--out", str(run), "--quiet"]) == 0
    return run


def test_predict_out_and_its_old_spelling_write_the_same(gender, tmp_path):
    ckpt = str(gender / "model.safetensors")
    assert main(["predict", ckpt, "gender", "--out", str(tmp_path / "a.csv")]) == 0
    assert main(["predict", ckpt, "gender", "--output", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_export_takes_out_positional_or_neither(tmp_path, capsys):
    data = _write(tmp_path / "d.csv", ["a", "b", "y"],
                  [[f"{i % 7}", f"{(i * 3) % 5}", str(i % 2)] for i in range(40)])
    run = tmp_path / "run"
    assert main(["train", "--csv", str(data), "--target", "y", "--out", str(run), "--quiet", "--epochs", "2"]) == 0
    ckpt = str(run / "model.safetensors")
    assert main(["export", ckpt, "--out", str(tmp_path / "a.onnx")]) == 0
    assert main(["export", ckpt, str(tmp_path / "b.onnx")]) == 0
    assert main(["export", ckpt]) == 0  # beside the checkpoint, named as it is
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes() == (run / "model.onnx").read_bytes()
    capsys.readouterr()
    assert main(["export", ckpt, str(tmp_path / "c.onnx"), "--out", str(tmp_path / "d.onnx")]) == 2
    assert "give the ONNX file once" in capsys.readouterr().err
    assert not (tmp_path / "c.onnx").exists() and not (tmp_path / "d.onnx").exists()


# -- train --validation-split, --early-stopping, --metrics ---------------------------------------------
def test_validation_split_scores_epochs_on_training_rows_not_the_test_rows(tmp_path):
    assert main(["train", "diabetes", "--epochs", "3", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert main(["train", "diabetes", "--epochs", "3", "--out", str(tmp_path / "b"), "--quiet",
                 "--validation-split", "0.25"]) == 0
    a, b = (json.loads((tmp_path / f / "metrics.json").read_text()) for f in "ab")
    assert a["history"]["val_loss"][-1] == pytest.approx(a["test"]["loss"], rel=1e-6)  # the test rows
    assert len(b["history"]["val_loss"]) == 3
    assert b["history"]["val_loss"][-1] != pytest.approx(b["test"]["loss"], rel=1e-3)  # other rows
    assert b["checkpoint_metadata"]["fit"]["validation_split"] == 0.25
    # the same split as fit(validation_split=0.25): the last quarter of the training rows
    ds = anynet.datasets.load("diabetes", seed=0)
    model = _load(tmp_path / "b" / "model.safetensors")
    n_val = int(round(len(ds.X_train) * 0.25))
    scored = model.evaluate(ds.X_train[-n_val:], ds.y_train[-n_val:])
    assert scored["loss"] == pytest.approx(b["history"]["val_loss"][-1], rel=1e-6)


def test_early_stopping_stops_on_the_validation_loss_and_keeps_the_best_epoch(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "gender", "--epochs", "3000", "--lr", "0.5", "--validation-split", "0.5",
                 "--early-stopping", "2", "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    losses = report["history"]["val_loss"]
    assert len(losses) < 3000 and report["epochs"] == len(losses)
    best = int(np.argmin(losses))
    assert len(losses) == best + 3  # patience 2: two epochs without improvement, then the stop
    assert f"EarlyStopping: stopped after epoch {len(losses)}" in capsys.readouterr().out


@pytest.mark.parametrize("args,pattern", [
    (["--early-stopping", "3"], "--early-stopping needs --validation-split FRACTION"),
    (["--early-stopping", "-1", "--validation-split", "0.2"], "--early-stopping must be a number of epochs ≥ 0"),
    (["--validation-split", "1"], r"--validation-split must be a fraction in \(0, 1\), got 1"),
    (["--validation-split", "nan"], r"--validation-split must be a fraction in \(0, 1\), got nan"),
    (["--metrics", "accuracy,f9"], "--metrics: unknown metric 'f9'; known: accuracy, "),
    (["--metrics", ","], "--metrics: give metric names"),
])
def test_training_flags_refused_in_flag_terms(tmp_path, capsys, args, pattern):
    assert main(["train", "gender", "--out", str(tmp_path / "r"), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(pattern, err[0]), err
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_metrics_flag_chooses_what_is_logged_and_scored(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "gender", "--epochs", "2", "--out", str(out), "--quiet", "--metrics", "accuracy,mse"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "mse", "val_accuracy", "val_mse"} <= report["history"].keys()
    assert {"accuracy", "mse"} <= report["test"].keys()
    assert _load(out / "model.safetensors").train_state.metrics == ["accuracy", "mse"]


# -- train --resume ----------------------------------------------------------------------------------------
def test_resume_equals_the_uninterrupted_run(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "gender", "--epochs", "4", "--out", str(a), "--quiet", "--metrics", "accuracy,mse"]) == 0
    assert main(["train", "--resume", str(a), "--epochs", "3", "--quiet"]) == 0
    assert "epochs 5-7" in capsys.readouterr().out
    assert main(["train", "gender", "--epochs", "7", "--out", str(b), "--quiet", "--metrics", "accuracy,mse"]) == 0
    resumed, straight = _load(a / "model.safetensors"), _load(b / "model.safetensors")
    assert resumed.train_state["epoch"] == 7 and _params_equal(resumed, straight)  # bit for bit
    assert resumed.train_state.metrics == ["accuracy", "mse"]
    ra, rb = (json.loads((f / "metrics.json").read_text()) for f in (a, b))
    assert ra["history"] == rb["history"] and ra["epochs"] == 7  # the earlier epochs' history is kept
    assert ra["test"] == rb["test"]


def test_resume_into_another_folder_leaves_the_run_as_it_was(gender, tmp_path):
    before = {f: (gender / f).read_bytes() for f in ("model.safetensors", "metrics.json")}
    assert main(["train", "--resume", str(gender), "--epochs", "2", "--out", str(tmp_path / "more"), "--quiet"]) == 0
    assert {f: (gender / f).read_bytes() for f in before} == before
    report = json.loads((tmp_path / "more" / "metrics.json").read_text())
    earlier = json.loads(before["metrics.json"])["history"]
    assert report["epochs"] == 7 and len(report["history"]["loss"]) == 7
    assert report["history"]["loss"][:5] == earlier["loss"]
    assert report["resumed_from"] == str(gender / "model.safetensors")
    assert main(["train", "--resume", str(gender), "--epochs", "2", "--out", str(tmp_path / "more"), "--quiet"]) == 2


def test_resume_of_a_csv_run_rereads_its_file_and_refuses_other_data(tmp_path, capsys):
    g = np.random.default_rng(1)
    X = g.standard_normal((60, 2))
    rows = [[f"{a:.4f}", f"{b:.4f}", "x" if a > 0 else "y", str(int(a + b > 0))] for a, b in X]
    data = _write(tmp_path / "d.csv", ["a", "b", "note", "label"], rows)
    run, straight = tmp_path / "run", tmp_path / "straight"
    common = ["--csv", str(data), "--target", "label", "--task", "classification", "--quiet", "--drop", "note",
              "--validation-split", "0.2"]
    assert main(["train", *common, "--epochs", "3", "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2  # --drop note not repeated
    err = capsys.readouterr().err
    assert "the data read now differs from the run's (features, preprocess" in err and "--drop" in err
    assert main(["train", "--resume", str(run / "model.safetensors"), "--drop", "note", "--epochs", "2",
                 "--quiet"]) == 0
    assert main(["train", *common, "--epochs", "5", "--out", str(straight)]) == 0
    assert _params_equal(_load(run / "model.safetensors"), _load(straight / "model.safetensors"))


@pytest.mark.parametrize("args,pattern", [
    (["--lr", "0.1"], "leave out --lr"),
    (["--layers", "8", "--optimizer", "sgd"], "leave out --layers, --optimizer"),
    (["--seed", "3"], "the run was split with seed 0; leave --seed out"),
    (["--validation-split", "0.3"], "the run held out no validation rows"),
])
def test_resume_refuses_what_the_checkpoint_decides(gender, capsys, args, pattern):
    before = (gender / "model.safetensors").read_bytes()
    assert main(["train", "--resume", str(gender), "--quiet", *args]) == 2
    assert pattern in capsys.readouterr().err
    assert (gender / "model.safetensors").read_bytes() == before


def test_resume_of_nothing_says_what_to_give(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--resume {tmp_path}: no {tmp_path / 'model.safetensors'} to continue" in err
    assert "give a run folder written by anynet train" in err


# -- predict --id-column, named data sets ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ids")
    g = np.random.default_rng(2)
    X = g.standard_normal((50, 2))
    rows = [[f"{a:.4f}", f"{b:.4f}", str(int(a > b))] for a, b in X]
    data = _write(tmp / "d.csv", ["a", "b", "label"], rows)
    assert main(["train", "--csv", str(data), "--target", "label", "--task", "classification",
                 "--out", str(tmp / "run"), "--quiet", "--epochs", "2"]) == 0
    return tmp, tmp / "run" / "model.safetensors", X


def test_predict_id_column_is_the_first_column_as_the_file_had_it(table_run, capsys):
    tmp, ckpt, X = table_run
    ids = ["-7", "007", "=HYPERLINK(1)", "row 4", "1e3"]
    new = _write(tmp / "new.csv", ["key", "b", "a"], [[i, f"{b:.4f}", f"{a:.4f}"] for i, (a, b) in zip(ids, X)])
    capsys.readouterr()
    assert main(["predict", str(ckpt), str(new), "--id-column", "key", "--out", str(tmp / "p.csv"), "--force"]) == 0
    assert "'key'" not in capsys.readouterr().err  # the id column is not among the columns "ignored"
    header, rows = _read(tmp / "p.csv")
    assert header == ["key", "class", "p0", "p1"]
    assert [r[0] for r in rows] == ["-7", "007", "'=HYPERLINK(1)", "row 4", "1e3"]
    assert main(["predict", str(ckpt), str(new), "--out", str(tmp / "q.csv"), "--force"]) == 0
    assert [r[1:] for r in rows] == _read(tmp / "q.csv")[1]  # the same predictions, ids in front


def test_predict_id_column_that_is_a_feature_or_absent(table_run, capsys):
    tmp, ckpt, X = table_run
    new = _write(tmp / "f.csv", ["a", "b"], [[f"{a:.4f}", f"{b:.4f}"] for a, b in X[:3]])
    assert main(["predict", str(ckpt), str(new), "--id-column", "a", "--out", str(tmp / "f.p"), "--force"]) == 0
    assert [r[0] for r in _read(tmp / "f.p")[1]] == [f"{a:.4f}" for a in X[:3, 0]]
    capsys.readouterr()
    assert main(["predict", str(ckpt), str(new), "--id-column", "nope", "--out", str(tmp / "g.p")]) == 2
    assert "--id-column nope: " in capsys.readouterr().err and not (tmp / "g.p").exists()
    clash = _write(tmp / "c.csv", ["a", "b", "class"], [[f"{a:.4f}", f"{b:.4f}", "k"] for a, b in X[:3]])
    assert main(["predict", str(ckpt), str(clash), "--id-column", "class", "--out", str(tmp / "c.p")]) == 2
    assert "the output already has a column 'class'" in capsys.readouterr().err and not (tmp / "c.p").exists()


def test_predict_takes_a_named_data_set_as_evaluate_does(gender, tmp_path, capsys):
    ckpt = gender / "model.safetensors"
    assert main(["predict", str(ckpt), "gender", "--out", str(tmp_path / "p.csv")]) == 0
    header, rows = _read(tmp_path / "p.csv")
    ds = anynet.datasets.load("gender", seed=0)
    proba = np.asarray(_load(ckpt).predict_proba(ds.X_test))
    assert header == ["class", "p0", "p1"] and len(rows) == len(ds.X_test)
    np.testing.assert_array_equal(np.array([[float(v) for v in r[1:]] for r in rows]), proba)
    capsys.readouterr()
    assert main(["predict", str(ckpt), "gender", "--id-column", "x", "--out", str(tmp_path / "q.csv")]) == 2
    assert "--id-column applies to CSV files; gender is a named data set" in capsys.readouterr().err
    assert main(["predict", str(ckpt), "gender", "--seed", "4", "--out", str(tmp_path / "q.csv")]) == 2
    assert "the model was trained on the split of seed 0" in capsys.readouterr().err


# -- an ID-like column used as a feature --------------------------------------------------------------------
def _warnings(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_an_id_like_column_gets_one_warning_line(tmp_path, capsys):
    g = np.random.default_rng(3)
    n = 40
    x = g.standard_normal(n)
    order = g.permutation(n)
    rows = [[str(1000 + int(order[i])), f"{x[i]:.5f}", str(int(order[i]) * 2), f"{i / 10:.1f}", str(i - 5),
             f"u{i}", str(int(x[i] > 0))] for i in range(n)]
    data = _write(tmp_path / "d.csv", ["id", "x", "even", "t", "row", "name", "label"], rows)
    base = ["train", "--csv", str(data), "--target", "label", "--task", "classification", "--epochs", "1", "--quiet"]
    assert main([*base, "--categorical", "name", "--out", str(tmp_path / "a")]) == 0
    warned = _warnings(capsys)
    assert len(warned) == 1, warned
    assert "'id', 'row', 'name' look like row ids" in warned[0] and "--drop id,row,name" in warned[0]
    assert main([*base, "--drop", "id,row,name", "--out", str(tmp_path / "b")]) == 0
    assert _warnings(capsys) == []  # continuous values, every other number, a time grid: not ids
    assert main([*base, "--drop", "row,name,even,t", "--out", str(tmp_path / "c")]) == 0
    warned = _warnings(capsys)
    assert len(warned) == 1 and "column 'id' looks like row ids" in warned[0] and "if it is one" in warned[0]


def test_id_like_columns_on_named_sets_and_real_features():
    ds = anynet.datasets.load("diabetes", seed=0)
    assert cli.id_like_columns(ds) == []


# -- anynet check ----------------------------------------------------------------------------------------
def test_check_wraps_reasons_at_word_boundaries(monkeypatch, capsys):
    reason = ("backend 'cupy' is not installed (No module named 'cupy'); install it with: pip install "
              "\"anynet-nn[cuda12]\" (or \"anynet-nn[cuda13]\" for CUDA 13) and a supercalifragilisticexpialidocious-"
              "long-word-that-stays-whole-even-when-it-is-longer-than-the-column")
    rows = [SimpleNamespace(backend="cupy", device="-", dtype="float32", max_rel_diff=None, tolerance=1e-5,
                            passed=None, note=reason + "\nsecond line"),
            SimpleNamespace(backend="numpy", device="cpu", dtype="float64", max_rel_diff=0.0, tolerance=1e-12,
                            passed=True, note="")]
    monkeypatch.setattr(anynet.testing, "compare_backends", lambda *a, **k: rows)
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines[1].index("backend 'cupy'")
    shown = [line[start:] for line in lines[1:-1]]
    assert all(line[:start].strip() == "" for line in lines[2:-1])  # continuation lines under the first
    assert " ".join(shown) == reason  # every word whole, none cut, nothing lost
    assert all(len(s) <= cli.CHECK_REASON_WIDTH for s in shown if " " in s)
    assert lines[-1].startswith("numpy") and lines[-1].endswith("pass")
