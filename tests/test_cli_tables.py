"""``anynet train --csv`` on real-world tables, and ``anynet export``.

The table is a synthetic penguins-like CSV made here (no download): a text target (species),
two text features (island, sex), numeric measurements, and missing cells (NA, empty, null).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

import anynet
from anynet.cli import CLI_METADATA_VERSION, main

from ._csv import read_csv as _read
from ._csv import write_csv as _write

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def penguins(path, n=300, seed=0, na=True):
    """A penguins-like table: 8 rows with bill_length_mm 'NA', 8 with sex '', 'NA' or 'null'."""
    g = np.random.default_rng(seed)
    centre = {"Adelie": (38.8, 18.3, 190, 3700), "Chinstrap": (48.8, 18.4, 196, 3733),
              "Gentoo": (47.5, 15.0, 217, 5076)}
    islands = {"Adelie": ["Biscoe", "Dream", "Torgersen"], "Chinstrap": ["Dream"], "Gentoo": ["Biscoe"]}
    rows = []
    for i, s in enumerate(np.asarray(SPECIES)[g.integers(0, 3, n)]):
        c = centre[s]
        row = [s, islands[s][g.integers(len(islands[s]))], f"{c[0] + g.normal(0, 2.5):.1f}",
               f"{c[1] + g.normal(0, 1):.1f}", f"{c[2] + g.normal(0, 6):.0f}", f"{c[3] + g.normal(0, 400):.0f}",
               ["male", "female"][g.integers(2)], str(2007 + i % 3)]
        if na and i % 37 == 5:
            row[2] = "NA"
        if na and i % 41 == 7:
            row[6] = ["", "NA", "null"][i % 3]
        rows.append(row)
    return _write(path, COLUMNS, rows)


def _one_error_line(capsys, *patterns):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(p in err[0] for p in patterns), err
    return err[0]


def _subset(src, dst, columns, rows=slice(0, 40), edit=None):
    """``dst``: the columns of ``src`` in the order given, for some rows; ``edit(row dict)`` may change cells."""
    header, body = _read(src)
    out = []
    for r in body[rows]:
        cells = dict(zip(header, r))
        if edit:
            edit(cells)
        out.append([cells[c] for c in columns])
    return _write(dst, columns, out)


def _train(data, out, *extra, target="species", epochs="40"):
    return main(["train", "--csv", str(data), "--target", target, "--out", str(out), "--layers", "16:relu",
                 "--epochs", epochs, *extra])


@pytest.fixture(scope="module")
def imputed(tmp_path_factory):
    """A classifier trained with --impute median (not quiet: its summary is kept)."""
    tmp = tmp_path_factory.mktemp("penguins")
    data = penguins(tmp / "penguins.csv")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert _train(data, tmp / "run", "--impute", "median") == 0
    return tmp, data, tmp / "run" / "model.safetensors", err.getvalue()


@pytest.fixture(scope="module")
def dropped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dropna")
    data = penguins(tmp / "penguins.csv")
    assert _train(data, tmp / "run", "--dropna", "--quiet") == 0
    return tmp, data, tmp / "run" / "model.safetensors"


# -- training ---------------------------------------------------------------------------------------
def test_a_text_target_is_classes_and_the_summary_says_what_was_used(imputed):
    _, _, ckpt, err = imputed
    assert "300 rows; 300 used: 211 to train, 89 to test" in err
    assert ("7 columns → 10 inputs: 5 numeric, standardised (bill_length_mm, bill_depth_mm, flipper_length_mm, "
            "body_mass_g, year); 2 one-hot (island: 3 categories, sex: 2 categories)") in err
    assert "missing cells filled in (numbers: the training rows' median" in err
    assert "'bill_length_mm' 8 cells, 'sex' 8 cells" in err
    assert "target 'species': classification, 3 classes: Adelie, Chinstrap, Gentoo (guessed from its values; " \
           "choose with --task)" in err
    report = json.loads((ckpt.parent / "metrics.json").read_text())
    assert report["test"]["accuracy"] > 0.9
    meta = anynet.load(str(ckpt)).metadata["cli"]
    assert meta["version"] == CLI_METADATA_VERSION == 2
    assert meta["classes"] == SPECIES and meta["task"] == "classification" and meta["target"] == "species"
    assert meta["features"] == COLUMNS[1:]
    columns = {c["name"]: c for c in meta["preprocess"]["columns"]}
    assert columns["island"]["categories"] == ["Biscoe", "Dream", "Torgersen"] and columns["island"]["fill"] == "Biscoe"
    assert columns["sex"]["kind"] == "categorical" and columns["year"]["kind"] == "numeric"
    assert columns["bill_length_mm"]["fill"] == pytest.approx(44.5, abs=4)  # a median of the training rows
    assert meta["preprocess"]["missing"] == "median" and meta["preprocess"]["handle_unknown"] == "error"
    assert len(meta["scaling"]["mean"]) == 10  # the network's inputs, one-hot ones unscaled
    assert meta["scaling"]["mean"][:1] == [0.0] and meta["scaling"]["scale"][:3] == [1.0, 1.0, 1.0]


def test_predict_prints_class_names_and_matches_columns_by_name(imputed, tmp_path, capsys):
    _, data, ckpt, _ = imputed
    same = _subset(data, tmp_path / "same.csv", COLUMNS[1:])
    shuffled = _subset(data, tmp_path / "shuffled.csv", ["year", "sex", "species", "body_mass_g", "island",
                                                         "bill_depth_mm", "flipper_length_mm", "bill_length_mm"])
    for f in (same, shuffled):
        assert main(["predict", str(ckpt), str(f), "--output", str(f.with_suffix(".p"))]) == 0
    assert "ignoring column the model does not use: 'species'" in capsys.readouterr().err
    header, rows = _read(same.with_suffix(".p"))
    assert _read(shuffled.with_suffix(".p")) == (header, rows)
    assert header == ["class", "p_Adelie", "p_Chinstrap", "p_Gentoo"]
    truth = [r[0] for r in _read(data)[1][:40]]
    assert {r[0] for r in rows} <= set(SPECIES) and np.mean([r[0] == t for r, t in zip(rows, truth)]) > 0.9
    np.testing.assert_allclose([sum(map(float, r[1:])) for r in rows], 1, atol=1e-5)


def test_evaluate_reads_text_labels(imputed, tmp_path, capsys):
    _, data, ckpt, _ = imputed
    capsys.readouterr()
    assert main(["evaluate", str(ckpt), str(data)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["rows"] == 300 and scores["accuracy"] > 0.9
    bad = _subset(data, tmp_path / "bad.csv", COLUMNS, rows=slice(0, 5),
                  edit=lambda c: c.update(species="Emperor" if c["year"] == "2009" else c["species"]))
    assert main(["evaluate", str(ckpt), str(bad)]) == 2
    _one_error_line(capsys, "row 4, column 'species': label 'Emperor' is not one of the model's classes Adelie, "
                            "Chinstrap, Gentoo")
    unlabelled = _subset(data, tmp_path / "nolabel.csv", COLUMNS, rows=slice(0, 5),
                         edit=lambda c: c.update(species="NA" if c["year"] == "2008" else c["species"]))
    assert main(["evaluate", str(ckpt), str(unlabelled)]) == 2
    _one_error_line(capsys, "nolabel.csv: row 3, column 'species' has no value ('NA')")


def test_missing_values_are_refused_by_default_saying_how_many_and_where(tmp_path, capsys):
    data = penguins(tmp_path / "penguins.csv")
    assert _train(data, tmp_path / "run", "--quiet") == 2
    _one_error_line(capsys, "16 of 300 rows have missing values", "'bill_length_mm' (8 rows), 'sex' (8 rows)",
                    "the first is row 7, column 'bill_length_mm'", "--dropna", "--impute median|mean|most_frequent")
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert _train(data, tmp_path / "run", "--quiet", "--dropna", "--impute", "mean") == 2
    _one_error_line(capsys, "give --dropna (drop rows with missing values) or --impute (fill them in), not both")


def test_dropna_drops_rows_and_predict_then_refuses_missing_cells(dropped, tmp_path, capsys):
    _, data, ckpt = dropped
    meta = anynet.load(str(ckpt)).metadata["cli"]
    assert meta["split"]["train_rows"] + meta["split"]["test_rows"] == 284
    assert meta["preprocess"]["missing"] == "drop"
    assert all(c["fill"] is None for c in meta["preprocess"]["columns"])
    rows = _subset(data, tmp_path / "rows.csv", COLUMNS[1:], rows=slice(0, 10))  # row 7: bill_length_mm NA
    assert main(["predict", str(ckpt), str(rows), "--output", str(tmp_path / "p.csv")]) == 2
    _one_error_line(capsys, "rows.csv: row 7, column 'bill_length_mm' is missing ('NA')",
                    "trained with missing='drop'")
    complete = _subset(data, tmp_path / "ok.csv", COLUMNS[1:], rows=slice(0, 5))
    assert main(["predict", str(ckpt), str(complete), "--output", str(tmp_path / "p.csv")]) == 0


def test_predict_fills_missing_cells_as_training_did(imputed, tmp_path):
    _, data, ckpt, _ = imputed
    meta = anynet.load(str(ckpt)).metadata["cli"]
    fills = {c["name"]: c["fill"] for c in meta["preprocess"]["columns"]}
    holes = _subset(data, tmp_path / "holes.csv", COLUMNS[1:], rows=slice(0, 6),
                    edit=lambda c: c.update(bill_length_mm="nan", sex="NULL", island=" na "))
    filled = _subset(data, tmp_path / "filled.csv", COLUMNS[1:], rows=slice(0, 6),
                     edit=lambda c: c.update(bill_length_mm=repr(fills["bill_length_mm"]), sex=fills["sex"],
                                             island=fills["island"]))
    for f in (holes, filled):
        assert main(["predict", str(ckpt), str(f), "--output", str(f.with_suffix(".p"))]) == 0
    assert _read(holes.with_suffix(".p")) == _read(filled.with_suffix(".p"))


def test_unknown_category_is_an_error_or_all_zeros(imputed, tmp_path, capsys):
    _, data, ckpt, _ = imputed
    odd = _subset(data, tmp_path / "odd.csv", COLUMNS[1:], rows=slice(0, 6),
                  edit=lambda c: c.update(island="Atlantis") if c["year"] == "2008" else None)
    capsys.readouterr()
    assert main(["predict", str(ckpt), str(odd)]) == 2
    _one_error_line(capsys, "odd.csv: row 3, column 'island': 'Atlantis' is not one of the 3 categories the model "
                            "knows ('Biscoe', 'Dream', 'Torgersen')", "--handle-unknown ignore")
    assert main(["predict", str(ckpt), str(odd), "--handle-unknown", "ignore", "--output", str(tmp_path / "p")]) == 0
    # all zeros for island: what the network gives for those inputs
    model = anynet.load(str(ckpt))
    from anynet.cli import _preprocessor

    pre = _preprocessor(model.metadata["cli"])
    from anynet.datasets import Table

    header, body = _read(odd)
    X = pre.transform(Table.from_rows(header, body), handle_unknown="ignore")
    assert np.all(X[[1, 4], :3] == 0) and np.all(X[[0, 2, 3, 5], :3].sum(1) == 1)  # rows of 2008; the others
    got = np.asarray([[float(v) for v in r[1:]] for r in _read(tmp_path / "p")[1]])
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_handle_unknown_chosen_in_training_is_kept(tmp_path):
    data = penguins(tmp_path / "penguins.csv")
    assert _train(data, tmp_path / "run", "--quiet", "--impute", "most_frequent", "--handle-unknown", "ignore",
                  epochs="3") == 0
    ckpt = tmp_path / "run" / "model.safetensors"
    assert anynet.load(str(ckpt)).metadata["cli"]["preprocess"]["handle_unknown"] == "ignore"
    odd = _subset(data, tmp_path / "odd.csv", COLUMNS[1:], rows=slice(0, 3), edit=lambda c: c.update(sex="unknown"))
    assert main(["predict", str(ckpt), str(odd), "--output", str(tmp_path / "p")]) == 0
    assert main(["predict", str(ckpt), str(odd), "--handle-unknown", "error", "--output", str(tmp_path / "p")]) == 2


def test_the_checkpoint_copied_alone_predicts_the_same(imputed, tmp_path):
    _, data, ckpt, _ = imputed
    rows = _subset(data, tmp_path / "rows.csv", COLUMNS[1:])
    alone = tmp_path / "elsewhere" / "copy.safetensors"
    alone.parent.mkdir()
    shutil.copyfile(ckpt, alone)
    assert main(["predict", str(ckpt), str(rows), "--output", str(tmp_path / "beside.csv")]) == 0
    assert main(["predict", str(alone), str(rows), "--output", str(tmp_path / "alone.csv")]) == 0
    assert _read(tmp_path / "beside.csv") == _read(tmp_path / "alone.csv")


def test_categorical_columns_named_or_refused(tmp_path, capsys):
    g = np.random.default_rng(0)
    rows = [[f"p{i}", str(z), f"{x:.3f}", f"{2 * x + z:.3f}"] for i, (x, z) in
            enumerate(zip(g.standard_normal(80), g.integers(1, 4, 80)))]
    data = _write(tmp_path / "codes.csv", ["name", "zone", "x", "y"], rows)
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--out", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, "row 2, column 'name': 'p0' is not a number", "differs in every one of its 80 rows",
                    "--drop name")
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--drop", "name", "--categorical", "zone",
                 "--epochs", "2", "--out", str(tmp_path / "r")]) == 0
    columns = anynet.load(str(tmp_path / "r" / "model.safetensors")).metadata["cli"]["preprocess"]["columns"]
    assert [(c["name"], c["kind"], c.get("categories")) for c in columns] == [
        ("zone", "categorical", ["1", "2", "3"]), ("x", "numeric", None)]
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--categorical", "zone,nope"]) == 2
    _one_error_line(capsys, "categorical names 'nope', which is not a feature column")
    assert main(["train", "digits", "--impute", "median", "--quiet"]) == 2
    _one_error_line(capsys, "--impute applies to --csv files only")


def test_version_1_checkpoints_are_still_read(tmp_path):
    g = np.random.default_rng(0)
    X = g.standard_normal((60, 2)) * [1, 10] + [0, 50]
    data = _write(tmp_path / "d.csv", ["a", "b", "y"], [[f"{v:.5f}" for v in r] for r in np.c_[X, X[:, 0] - X[:, 1]]])
    assert main(["train", "--csv", str(data), "--target", "y", "--quiet", "--epochs", "3", "--out",
                 str(tmp_path / "r")]) == 0
    model = anynet.load(str(tmp_path / "r" / "model.safetensors"))
    v2 = model.metadata["cli"]
    model.metadata["cli"] = {k: v for k, v in v2.items() if k != "preprocess"} | {"version": 1}
    model.save(str(tmp_path / "v1.safetensors"))
    for name in ("r/model", "v1"):
        assert main(["predict", str(tmp_path / f"{name}.safetensors"), str(data), "--output",
                     str(tmp_path / f"{name.replace('/', '_')}.p")]) == 0
    assert _read(tmp_path / "r_model.p") == _read(tmp_path / "v1.p")


@pytest.mark.parametrize("edit,pattern", [
    (lambda m: m["preprocess"]["columns"][0].update(kind="text"), "kind must be 'numeric' or 'categorical'"),
    (lambda m: m["preprocess"].update(missing="guess"), "missing 'guess'"),
    (lambda m: m["preprocess"]["columns"][0].update(categories=["b", "a"]), "categories must be distinct, sorted"),
    (lambda m: m.update(features=["x"] + m["features"][1:]), "features differ from the preprocessed columns"),
    (lambda m: (m["preprocess"]["columns"].pop(), m["features"].pop()),
     "its columns make 9 inputs but the network takes 10"),
    (lambda m: m.update(classes=["a", 1, 2]), "classes"),
    (lambda m: m.update(version=3), "written by a newer anynet"),
])
def test_malformed_command_metadata_is_refused(imputed, tmp_path, capsys, edit, pattern):
    _, data, ckpt, _ = imputed
    model = anynet.load(str(ckpt))
    edit(model.metadata["cli"])
    model.save(str(tmp_path / "m.safetensors"))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.safetensors"), str(data)]) == 2
    _one_error_line(capsys, pattern)


def test_train_digits_is_unchanged_by_tables(tmp_path):
    meta = None
    assert main(["train", "digits", "--epochs", "2", "--quiet", "--out", str(tmp_path)]) == 0
    meta = anynet.load(str(tmp_path / "model.safetensors")).metadata["cli"]
    assert meta["features"][:2] == ["pixel_0", "pixel_1"] and meta["scaling"] is None
    assert {c["kind"] for c in meta["preprocess"]["columns"]} == {"numeric"}


# -- export ---------------------------------------------------------------------------------------------
def _onnx_feeds(session, path, rows=None):
    """What an ONNX user passes for the CSV rows: strings as read, numbers with NaN for missing cells."""
    header, body = _read(path)
    body = body if rows is None else body[rows]
    feeds = {}
    for i in session.get_inputs():
        cells = [r[header.index(i.name)].strip() for r in body]
        if i.type == "tensor(string)":
            feeds[i.name] = np.asarray(cells, dtype=object).reshape(-1, 1)
        else:
            dtype = np.float64 if i.type == "tensor(double)" else np.float32
            feeds[i.name] = np.asarray([np.nan if c.lower() in ("", "na", "nan", "null") else float(c) for c in cells],
                                       dtype=dtype).reshape(-1, 1)
    return feeds


def _session(path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _python_outputs(ckpt, path, handle_unknown=None):
    from anynet.cli import _preprocessor
    from anynet.datasets import Table

    model = anynet.load(str(ckpt))
    meta = model.metadata["cli"]
    header, body = _read(path)
    X = _preprocessor(meta).transform(Table.from_rows(header, body), handle_unknown=handle_unknown)
    return model.predict_proba(X) if meta["task"] == "classification" else model.predict(X)


def test_export_reads_raw_columns_and_agrees_with_predict(imputed, tmp_path, capsys):
    _, data, ckpt, _ = imputed
    capsys.readouterr()
    assert main(["export", str(ckpt), str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "7 inputs, one per column (5 numeric, 2 categorical as strings)" in out and "label, probabilities" in out
    s = _session(tmp_path / "m.onnx")
    assert [(i.name, i.type, i.shape) for i in s.get_inputs()][:2] == [
        ("island", "tensor(string)", ["batch", 1]), ("bill_length_mm", "tensor(double)", ["batch", 1])]
    rows = _subset(data, tmp_path / "rows.csv", COLUMNS[1:], rows=slice(0, 60))  # 4 rows with missing cells
    assert main(["predict", str(ckpt), str(rows), "--output", str(tmp_path / "p.csv")]) == 0
    label, proba = s.run(None, _onnx_feeds(s, rows))
    _, printed = _read(tmp_path / "p.csv")
    assert list(label) == [r[0] for r in printed]
    np.testing.assert_allclose(proba, [[float(v) for v in r[1:]] for r in printed], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(proba, _python_outputs(ckpt, rows), atol=1e-5)


def test_export_of_a_regression_with_categories_in_float64(tmp_path):
    data = penguins(tmp_path / "penguins.csv")
    assert main(["train", "--csv", str(data), "--target", "body_mass_g", "--impute", "mean", "--dtype", "float64",
                 "--quiet", "--epochs", "20", "--out", str(tmp_path / "r")]) == 0
    ckpt = tmp_path / "r" / "model.safetensors"
    assert main(["export", str(ckpt), str(tmp_path / "m.onnx")]) == 0
    s = _session(tmp_path / "m.onnx")
    assert [o.name for o in s.get_outputs()] == ["prediction"]
    assert {i.type for i in s.get_inputs()} == {"tensor(double)", "tensor(string)"}
    got = s.run(None, _onnx_feeds(s, data))[0]
    np.testing.assert_allclose(got, _python_outputs(ckpt, data), rtol=1e-9, atol=1e-9)
    assert main(["predict", str(ckpt), str(data), "--output", str(tmp_path / "p.csv")]) == 0
    np.testing.assert_allclose(got[:, 0], [float(r[0]) for r in _read(tmp_path / "p.csv")[1]], rtol=1e-5)


def test_export_answers_nan_where_predict_refuses(dropped, imputed, tmp_path):
    _, data, ckpt = dropped
    assert main(["export", str(ckpt), str(tmp_path / "drop.onnx")]) == 0
    s = _session(tmp_path / "drop.onnx")
    label, proba = s.run(None, _onnx_feeds(s, data, rows=slice(0, 10)))
    missing = [5, 7]  # bill_length_mm NA in row 5 (file row 7), sex '' in row 7
    assert np.isnan(proba[missing]).all() and np.isfinite(np.delete(proba, missing, axis=0)).all()
    # a refused row's label is no class (it used to be the first class, as argmax of NaN is 0)
    assert list(label[missing]) == ["", ""] and set(np.delete(label, missing)) <= set(SPECIES)
    # an unknown category: NaN as trained (error), the ignoring encoding with --handle-unknown ignore
    _, data, ckpt, _ = imputed
    odd = _subset(data, tmp_path / "odd.csv", COLUMNS[1:], rows=slice(0, 6),
                  edit=lambda c: c.update(island="Atlantis") if c["year"] == "2008" else None)
    assert main(["export", str(ckpt), str(tmp_path / "strict.onnx")]) == 0
    assert main(["export", str(ckpt), str(tmp_path / "ignore.onnx"), "--handle-unknown", "ignore"]) == 0
    strict, ignore = _session(tmp_path / "strict.onnx"), _session(tmp_path / "ignore.onnx")
    l_strict, p_strict = strict.run(None, _onnx_feeds(strict, odd))
    assert np.isnan(p_strict[[1, 4]]).all() and np.isfinite(p_strict[[0, 2, 3, 5]]).all()
    assert list(l_strict[[1, 4]]) == ["", ""] and set(l_strict[[0, 2, 3, 5]]) <= set(SPECIES)
    np.testing.assert_allclose(ignore.run(None, _onnx_feeds(ignore, odd))[1],
                               _python_outputs(ckpt, odd, handle_unknown="ignore"), atol=1e-5)


def test_export_of_numeric_classes_gives_numeric_labels(tmp_path):
    g = np.random.default_rng(1)
    X = g.standard_normal((120, 2))
    data = _write(tmp_path / "d.csv", ["u", "v", "label"],
                  [[f"{a:.4f}", f"{b:.4f}", 3 if a + b > 0 else 1] for a, b in X])
    assert main(["train", "--csv", str(data), "--target", "label", "--task", "classification", "--quiet",
                 "--epochs", "20", "--out", str(tmp_path / "r")]) == 0
    assert main(["export", str(tmp_path / "r" / "model.safetensors"), str(tmp_path / "m.onnx"), "--opset", "13"]) == 0
    s = _session(tmp_path / "m.onnx")
    label, proba = s.run(None, _onnx_feeds(s, data))
    assert label.dtype == np.float64 and set(label) <= {1.0, 3.0}
    np.testing.assert_allclose(proba, _python_outputs(tmp_path / "r" / "model.safetensors", data), atol=1e-5)
    # a row anynet refuses (NaN, inf: no fill value) has NaN probabilities and a NaN label, not class 1
    feeds = {"u": np.array([[np.nan], [0.5], [np.inf]]), "v": np.array([[0.1], [0.5], [0.2]])}
    label, proba = s.run(None, feeds)
    assert np.isnan(label[[0, 2]]).all() and label[1] == 3.0
    assert np.isnan(proba[[0, 2]]).all() and np.isfinite(proba[1]).all()


def test_export_of_a_regression_gives_nan_for_a_refused_row(tmp_path):
    data = penguins(tmp_path / "penguins.csv", n=120)
    assert main(["train", "--csv", str(data), "--target", "body_mass_g", "--dropna", "--quiet", "--epochs", "2",
                 "--layers", "8:relu", "--out", str(tmp_path / "r")]) == 0
    assert main(["export", str(tmp_path / "r" / "model.safetensors"), str(tmp_path / "m.onnx")]) == 0
    s = _session(tmp_path / "m.onnx")
    got = s.run(None, _onnx_feeds(s, data, rows=slice(0, 10)))[0]
    assert np.isnan(got[[5, 7]]).all() and np.isfinite(np.delete(got, [5, 7], axis=0)).all()


def test_export_takes_numbers_in_float64_so_timestamps_keep_their_digits(tmp_path):
    # seconds since 1970 around 1.7e9: float32 is 128 s apart there, so a float32 input made 300 distinct
    # times about 25, and the ONNX model answered other classes than anynet predict
    g = np.random.default_rng(0)
    t = 1_700_000_000 + np.sort(g.choice(30_000, 300, replace=False))
    label = ((t - t[0]) // 1500) % 2
    data = _write(tmp_path / "t.csv", ["time", "other", "label"],
                  [[str(a), f"{b:.3f}", str(c)] for a, b, c in zip(t, g.standard_normal(300), label)])
    assert main(["train", "--csv", str(data), "--target", "label", "--quiet", "--epochs", "30",
                 "--layers", "32:tanh", "--out", str(tmp_path / "r")]) == 0
    ckpt = tmp_path / "r" / "model.safetensors"
    assert main(["export", str(ckpt), str(tmp_path / "m.onnx")]) == 0
    s = _session(tmp_path / "m.onnx")
    assert main(["predict", str(ckpt), str(data), "--output", str(tmp_path / "p.csv")]) == 0
    label, proba = s.run(None, _onnx_feeds(s, data))
    _, printed = _read(tmp_path / "p.csv")
    np.testing.assert_allclose(proba, _python_outputs(ckpt, data), atol=1e-6)
    assert [f"{v:g}" for v in label] == [r[0] for r in printed]
    assert {i.type for i in s.get_inputs()} == {"tensor(double)"}


def test_export_errors(tmp_path, capsys):
    from anynet.layers import Dense

    anynet.Sequential([Dense(2, 1)], seed=0).save(str(tmp_path / "plain.safetensors"))
    assert main(["export", str(tmp_path / "plain.safetensors"), str(tmp_path / "m.onnx")]) == 2
    _one_error_line(capsys, "no metadata['cli']", "anynet.onnx.export")
    assert main(["export", str(tmp_path / "missing.safetensors"), str(tmp_path / "m.onnx")]) == 2
    _one_error_line(capsys, "missing.safetensors")
