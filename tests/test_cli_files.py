"""The anynet command loses no file and writes numbers and cells that read back as they were.

Issue 20's red-team pass: ``predict --output`` and ``export`` wrote over anything (the input CSV,
the checkpoint, earlier results), ``train`` over an earlier run, ``predict`` in place; a closed
stdout cost a run its files; numbers had 6 digits; class names became live spreadsheet formulas;
some mistakes were told in Python-API terms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import anynet
from anynet import cli
from anynet.cli import csv_cell, main

from ._csv import read_csv as _read
from ._csv import write_csv as _write


def _one_error_line(capsys, pattern):
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("note: ")]
    assert len(err) == 1 and pattern in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A regression model on big and negative numbers; its data file; its rows."""
    tmp = tmp_path_factory.mktemp("files")
    g = np.random.default_rng(0)
    X = g.standard_normal((80, 2)) * [1, 1e8] + [0, 1.2e8]
    y = -3 * X[:, 0] + X[:, 1] / 1e7
    data = _write(tmp / "data.csv", ["a", "b", "y"], [[repr(float(v)) for v in r] for r in np.c_[X, y]])
    assert main(["train", "--csv", str(data), "--target", "y", "--out", str(tmp / "run"), "--quiet",
                 "--layers", "8:tanh", "--epochs", "5"]) == 0
    return tmp, tmp / "run" / "model.safetensors", data, X


# -- 1. no output over an input, no file replaced without --force ----------------------------------
def test_predict_refuses_to_write_over_its_inputs(run, capsys):
    _, ckpt, data, _ = run
    before = (data.read_bytes(), ckpt.read_bytes())
    for target in (data, ckpt, data.parent / "." / data.name):
        for force in ([], ["--force"]):  # never, not even with --force
            assert main(["predict", str(ckpt), str(data), "--output", str(target), *force]) == 2
            _one_error_line(capsys, "is the input file")
    assert (data.read_bytes(), ckpt.read_bytes()) == before


def test_predict_replaces_an_existing_file_only_with_force(run, tmp_path, capsys):
    _, ckpt, data, _ = run
    out = tmp_path / "p.csv"
    out.write_text("earlier results\n")
    assert main(["predict", str(ckpt), str(data), "--output", str(out)]) == 2
    _one_error_line(capsys, f"{out} already exists; give --force to replace it, or another --out")
    assert out.read_text() == "earlier results\n"
    assert main(["predict", str(ckpt), str(data), "--output", str(out), "--force"]) == 0
    assert _read(out)[0] == ["prediction"]


def test_predict_default_output_is_not_replaced_either(run, tmp_path, capsys):
    _, ckpt, data, X = run
    rows = _write(tmp_path / "rows.csv", ["a", "b"], [[repr(float(v)) for v in r] for r in X[:3]])
    assert main(["predict", str(ckpt), str(rows)]) == 0
    assert "wrote 3 predictions to" in capsys.readouterr().out
    assert main(["predict", str(ckpt), str(rows)]) == 2
    _one_error_line(capsys, "rows.predictions.csv already exists; give --force")


def test_export_refuses_the_checkpoint_and_an_existing_file(run, tmp_path, capsys):
    pytest.importorskip("onnx")
    _, ckpt, _, _ = run
    before = ckpt.read_bytes()
    assert main(["export", str(ckpt), str(ckpt), "--force"]) == 2
    _one_error_line(capsys, "is the input file")
    assert ckpt.read_bytes() == before
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep")
    assert main(["export", str(ckpt), str(out)]) == 2
    _one_error_line(capsys, "already exists; give --force")
    assert out.read_bytes() == b"keep"
    assert main(["export", str(ckpt), str(out), "--force"]) == 0
    assert out.stat().st_size > 100


def test_train_refuses_a_folder_holding_a_run(run, capsys):
    tmp, ckpt, data, _ = run
    before = ckpt.read_bytes()
    args = ["train", "--csv", str(data), "--target", "y", "--out", str(ckpt.parent), "--quiet", "--epochs", "1"]
    assert main(args) == 2
    _one_error_line(capsys, "already holds a run (model.safetensors, metrics.json")
    assert ckpt.read_bytes() == before
    copy = tmp / "again"
    copy.mkdir()
    (copy / "boundary.png").write_bytes(b"an older run's plot")
    assert main([*args[:6], str(copy), *args[7:], "--force"]) == 0
    assert (copy / "model.safetensors").exists() and not (copy / "boundary.png").exists()  # nothing stale left


def test_default_run_folders_never_collide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    g = np.random.default_rng(0)
    rows = [[f"{a:.4f}", f"{a + b:.4f}"] for a, b in g.standard_normal((30, 2))]
    (tmp_path / "data").mkdir()
    paths = [_write(tmp_path / "data" / "x.csv", ["a", "y"], rows), _write(tmp_path / "data_x.csv", ["a", "y"], rows)]
    folders = []
    for path in paths:
        assert main(["train", "--csv", os.path.relpath(path), "--target", "y", "--epochs", "1", "--quiet"]) == 0
        wrote = capsys.readouterr().out.strip().splitlines()[-1]
        folders.append(wrote.removeprefix("wrote ").split(", ")[0].rsplit(os.sep, 1)[0])
    assert folders[0] != folders[1] and all(os.path.isfile(os.path.join(f, "model.safetensors")) for f in folders)
    assert cli.default_run_folder("digits", "named") != cli.default_run_folder("digits", "csv")
    assert "csv" not in anynet.datasets.LOADERS  # what keeps runs/csv/ apart from the named sets


# -- 2. predict writes atomically ---------------------------------------------------------------------
def test_an_interrupted_predict_leaves_the_old_file_whole(run, tmp_path, monkeypatch):
    _, ckpt, data, _ = run
    out = tmp_path / "p.csv"
    out.write_text("earlier results\n")
    calls = []

    def cell(value):
        calls.append(value)
        if len(calls) > 30:
            raise KeyboardInterrupt
        return repr(value)

    monkeypatch.setattr(cli, "csv_cell", cell)
    assert main(["predict", str(ckpt), str(data), "--output", str(out), "--force"]) == 130
    assert out.read_text() == "earlier results\n"
    assert sorted(os.listdir(tmp_path)) == ["p.csv"]  # no temporary file left behind


# -- 3. a closed stdout costs no file ----------------------------------------------------------------
@pytest.mark.parametrize("read_first", [False, True])
def test_train_into_a_closed_pipe_still_writes_the_run(tmp_path, read_first):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"} if read_first else None
    child = subprocess.Popen([sys.executable, "-m", "anynet", "train", "digits", "--epochs", "3", "--verbose",
                              "--out", str(tmp_path / "r")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    if read_first:  # `| head -1`
        child.stdout.readline()
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "standard output was closed early" in err
    for name in ("model.safetensors", "metrics.json"):
        assert (tmp_path / "r" / name).stat().st_size > 0
    assert anynet.load(str(tmp_path / "r" / "model.safetensors")).train_state["epoch"] == 3


def test_train_with_standard_output_closed_writes_the_run(tmp_path):
    import shlex

    cmd = shlex.join([sys.executable, "-m", "anynet", "train", "digits", "--epochs", "2", "--out", str(tmp_path / "r")])
    out = subprocess.run(f"exec 1>&-; {cmd}", shell=True, stderr=subprocess.PIPE, text=True, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert (tmp_path / "r" / "model.safetensors").stat().st_size > 0


def test_predict_into_a_closed_pipe_says_the_predictions_are_incomplete(run):
    _, ckpt, data, _ = run
    child = subprocess.Popen([sys.executable, "-m", "anynet", "predict", str(ckpt), str(data), "--output", "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=300) != 0
    assert "Traceback" not in err and "standard output was closed before all 80 predictions" in err


# -- 4. --output - is standard output ----------------------------------------------------------------
def test_predict_output_dash_is_standard_output(run, tmp_path, monkeypatch, capsys):
    _, ckpt, data, _ = run
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(ckpt), str(data), "--output", "-"]) == 0
    out, err = capsys.readouterr()
    assert not (tmp_path / "-").exists() and out.splitlines()[0] == "prediction" and len(out.splitlines()) == 81
    assert "wrote 80 predictions to standard output" in err


# -- 5. numbers round-trip ---------------------------------------------------------------------------
def test_predictions_read_back_exactly(run, tmp_path):
    _, ckpt, data, X = run
    assert main(["predict", str(ckpt), str(data), "--output", str(tmp_path / "p.csv")]) == 0
    _, rows = _read(tmp_path / "p.csv")
    model = anynet.load(str(ckpt))
    meta = model.metadata["cli"]["scaling"]
    want = np.asarray(model.predict(((X - meta["mean"]) / np.asarray(meta["scale"])).astype(model.dtype)))
    got = np.asarray([float(r[0]) for r in rows])
    assert any(float(f"{v:.6g}") != v for v in want[:, 0])  # what 6 significant digits lost
    np.testing.assert_array_equal(got, want[:, 0].astype(np.float64))


def test_csv_cell_numbers_are_exact_and_never_quoted():
    for v in (123141537, -1.5, 0.1, np.float32(0.1), np.float64(-2e-300), -7, np.int64(-3), 1e22):
        cell = csv_cell(v)
        assert not cell.startswith("'") and float(cell) == float(v), (v, cell)
    assert csv_cell(123141537) == "123141537" and csv_cell(np.float32(0.1)) == repr(float(np.float32(0.1)))


# -- 6. no live formulas -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cell_text_starting_a_formula_gets_a_quote(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell("plain") == "plain" and csv_cell("a=b") == "a=b"


def test_class_names_from_a_training_file_are_not_formulas_in_predictions(tmp_path):
    g = np.random.default_rng(0)
    evil = ['=HYPERLINK("http://evil.example","click")', "@cmd", "-x"]
    rows = [[f"{a:.4f}", evil[int(a > 0.5) + int(a > -0.5)]] for a in g.standard_normal(90)]
    data = _write(tmp_path / "d.csv", ["a", "label"], rows)
    assert main(["train", "--csv", str(data), "--target", "label", "--quiet", "--epochs", "20",
                 "--layers", "8:tanh", "--out", str(tmp_path / "r")]) == 0
    assert main(["predict", str(tmp_path / "r" / "model.safetensors"), str(data), "--output",
                 str(tmp_path / "p.csv")]) == 0
    header, body = _read(tmp_path / "p.csv")
    cells = header + [c for r in body for c in r]
    assert not any(c.startswith(cli.FORMULA_STARTS) for c in cells)
    assert {r[0] for r in body} <= {"'" + e for e in evil} and header[0] == "class"
    assert all(float(p) >= 0 for r in body for p in r[1:])  # probabilities stay numbers


# -- 7. mistakes in the command's terms --------------------------------------------------------------
def test_a_loss_that_does_not_fit_the_task_is_told_in_flags(tmp_path, capsys):
    assert main(["train", "digits", "--loss", "mse", "--quiet", "--out", str(tmp_path)]) == 2
    _one_error_line(capsys, "--loss mse: digits holds classes, and this loss does not take class labels; "
                            "use --loss softmax_cross_entropy")
    data = _write(tmp_path / "r.csv", ["a", "y"], [[str(i), f"{i / 3:.3f}"] for i in range(20)])
    assert main(["train", "--csv", str(data), "--target", "y", "--loss", "softmax_cross_entropy", "--quiet",
                 "--out", str(tmp_path)]) == 2
    _one_error_line(capsys, "holds quantities (regression), and this loss takes class labels")
    assert not (tmp_path / "model.safetensors").exists()


def test_a_file_too_short_to_split_is_told_in_rows(tmp_path, capsys):
    data = _write(tmp_path / "two.csv", ["a", "y"], [["1", "0"], ["2", "1"]])
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--out", str(tmp_path / "r")]) == 2
    line = _one_error_line(capsys, "two.csv: 2 usable rows are too few")
    assert "30% of the rows of each class for testing" in line and "samples" not in line


# -- 8. a network that cannot fit ----------------------------------------------------------------------
def test_a_network_too_big_for_memory_is_refused_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "anynet", "train", "digits", "--layers",
                          "10000000:relu,10000000:relu", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "--layers 10000000:relu,10000000:relu: 100,000,760,000,010 parameters need" in line
    assert "float32 weights, gradients and 2 optimizer states" in line and "use fewer or narrower layers" in line
    assert not (tmp_path / "r").exists()


def test_check_fits_counts_parameters_dtype_and_optimizer_state():
    hidden = cli.parse_layers("100:relu,layernorm,50")
    count = 10 * 100 + 100 + 2 * 100 + 100 * 50 + 50 + 50 * 3 + 3
    assert cli.parameter_count(10, 3, hidden) == count
    cli.check_fits(10, 3, hidden, dtype="float64", slots=2, spec="s", memory=count * 8 * 4)
    with pytest.raises(cli.UsageError, match="float64 weights, gradients and 2 optimizer states"):
        cli.check_fits(10, 3, hidden, dtype="float64", slots=2, spec="s", memory=count * 8 * 4 - 1)
    cli.check_fits(10, 3, hidden, dtype="float32", slots=0, spec="s", memory=count * 4 * 2)
    assert json.dumps(cli.memory_bytes())  # an int (or null where the system does not say)


def test_guarded_stdout_drops_what_comes_after_the_reader_left():
    class Pipe:
        def __init__(self):
            self.got = []

        def write(self, text):
            if len(self.got) == 2:
                raise BrokenPipeError(32, "Broken pipe")
            self.got.append(text)

        def flush(self):
            pass

    pipe = Pipe()
    out = cli._Stdout(pipe)
    out.writelines(["a\n", "b\n", "c\n", "d\n"])
    print("e", file=out, flush=True)
    assert pipe.got == ["a\n", "b\n"] and out.closed_early


def test_a_run_folder_that_cannot_be_made_is_told_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    name = "é" * 120 + ".csv"  # 244 bytes; escaped (%C3%A9 each) longer than a file name may be
    _write(tmp_path / name, ["a", "y"], [[str(i), str(i / 2)] for i in range(20)])
    assert main(["train", "--csv", name, "--target", "y", "--quiet", "--epochs", "1"]) == 2
    line = _one_error_line(capsys, "cannot create the run folder runs/csv/%C3%A9%C3%A9")
    assert line.endswith("; give --out FOLDER")


@pytest.mark.parametrize("flag,value,what", [
    ("--lr", "-1", "a finite number > 0, got -1"), ("--lr", "0", "a finite number > 0, got 0"),
    ("--lr", "nan", "a finite number > 0, got nan"), ("--dropout", "1.5", "a rate in [0, 1), got 1.5"),
    ("--momentum", "-2", "in [0, 1), got -2"), ("--weight-decay", "inf", "a finite number ≥ 0, got inf"),
])
def test_numbers_out_of_range_are_told_by_their_flag(flag, value, what, tmp_path, capsys):
    assert main(["train", "digits", flag, value, "--optimizer", "sgd", "--quiet", "--out", str(tmp_path)]) == 2
    _one_error_line(capsys, f"anynet train: error: {flag} must be {what}")
    assert not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize("args,line", [
    (["--loss", "nope"], "--loss nope: unknown loss 'nope'; known: mse, "),
    (["--optimizer", "lbfgs"], "--optimizer lbfgs: unknown optimizer 'lbfgs'; known: adagrad, adam, adamw, "),
    (["--layers", "8:nope"], "--layers: unknown activation 'nope' in '8:nope'; known: identity, "),
])
def test_unknown_names_are_told_by_their_flag_without_python_advice(args, line, tmp_path, capsys):
    assert main(["train", "digits", *args, "--quiet", "--out", str(tmp_path)]) == 2
    text = _one_error_line(capsys, line)
    assert "register" not in text and "callables" not in text  # advice for Python code, not for the command


# -- 9. a non-zero exit goes through anynet.distributed.ending (under mpiexec: the job ends) ------------
def test_a_non_zero_exit_is_said_to_the_distributed_guard(tmp_path, monkeypatch, capsys):
    from anynet import distributed

    said = []
    monkeypatch.setattr(distributed, "ending", lambda status: said.append(status) or status)
    assert main(["train", "digits", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert main(["info"]) == 0
    assert said == [2]
