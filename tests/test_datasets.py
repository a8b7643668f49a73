"""Data sets: generators, CSV tables, MNIST IDX files (including corrupt ones)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from anynet import datasets
from anynet.datasets import DatasetError, load_csv, load_mnist, read_idx
from anynet.errors import InputError


def test_comparison_task():
    X, y = datasets.comparison(1000, seed=3)
    assert X.shape == (1000, 5) and X.dtype == np.float32
    assert X.min() >= 0 and X.max() <= 9 and np.all(np.round(X) == X)
    np.testing.assert_array_equal(y, (X[:, 1] > X[:, 3]).astype(np.float32))
    np.testing.assert_array_equal(datasets.comparison(10, seed=3)[0], datasets.comparison(10, seed=3)[0])


def test_planar_flower_formula():
    X, y = datasets.planar_flower(200, seed=1)
    assert X.shape == (400, 2) and set(np.unique(y)) == {0, 1}
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() < 5.5  # |4 sin(4θ)| plus noise
    assert (y[:200] == 0).all() and (y[200:] == 1).all()


def test_gender_table():
    X, y = datasets.gender()
    np.testing.assert_array_equal(X, [[-2, -1], [25, 6], [17, 4], [-15, -6]])
    np.testing.assert_array_equal(y, [1, 0, 0, 1])


@pytest.mark.parametrize("name", [n for n in datasets.LOADERS if n != "mnist"])
def test_every_named_data_set_loads(name):
    ds = datasets.load(name)
    assert ds.X_train.dtype == np.float32 and len(ds.X_train) == len(ds.y_train) > 0
    assert ds.task in ("classification", "regression")
    if ds.task == "classification":
        assert ds.y_train.dtype == np.int64 and ds.y_train.max() < ds.n_classes


def test_unknown_data_set():
    with pytest.raises(InputError, match="unknown data set 'cifar'; known: digits"):
        datasets.load("cifar")


def _csv(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_split_and_standardise_on_train_only(tmp_path):
    g = np.random.default_rng(0)
    xz = g.standard_normal((100, 2)) * [10, 1] + [5, 0]
    rows = ["a,b,MEDV"] + [f"{x:.5f},{z:.5f},{3 * x - z:.5f}" for x, z in xz]
    ds = load_csv(_csv(tmp_path, "\n".join(rows)), "MEDV", test_size=0.3, seed=0)
    assert ds.task == "regression" and ds.feature_names == ["a", "b"]
    assert ds.X_train.shape == (70, 2) and ds.X_test.shape == (30, 2)
    np.testing.assert_allclose(ds.X_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(0), 1, rtol=1e-4)
    assert abs(ds.X_test.mean(0)).max() > 1e-4  # the test part was not used for the fit


@pytest.mark.parametrize("text,pattern", [
    ("a,b,y\n1,2,3\n4,x,6\n7,8,9", r"row 3, column 'b': 'x' is not a number"),
    ("a,b,y\n1,2,3\n4,5\n7,8,9", "row 3 has 2 cells but the header has 3"),
    ("a,b,c\n1,2,3\n4,5,6\n7,8,9", "no column 'y'; columns: a, b, c"),
    ("a,b,y\n1,2,3", "at least two data rows"),
    ("a,b,y\n1,2,3\n4,nan,6\n7,8,9", "NaN or infinite"),
])
def test_csv_errors(tmp_path, text, pattern):
    with pytest.raises(InputError, match=pattern):
        load_csv(_csv(tmp_path, text), "y")


def _labelled(tmp_path, labels, n=40):
    rows = ["a,b,y"] + [f"{i},{i % 7},{labels[i % len(labels)]}" for i in range(n)]
    return _csv(tmp_path, "\n".join(rows))


@pytest.mark.parametrize("labels,task", [([0, 1, 2], "classification"), ([0.5, 1.5], "regression"),
                                         (list(range(150)), "regression"), ([1, 0], "classification")])
def test_csv_task_guess(tmp_path, labels, task):
    ds = load_csv(_labelled(tmp_path, labels, n=300), "y")
    assert ds.task == task
    if task == "classification":
        assert ds.classes == sorted(labels) and ds.n_classes == len(labels)


@pytest.mark.parametrize("labels", [[2019, 2020, 2021], [1, 2, 3, 4, 5], [-1, 1], [0, 1, 3], [7], list(range(30))])
def test_csv_task_guess_refuses_what_could_be_either(tmp_path, labels):
    with pytest.raises(InputError, match=r"cannot tell whether column 'y' holds classes or quantities.*--task"):
        load_csv(_labelled(tmp_path, labels), "y")


def test_csv_classification_maps_labels_to_indices(tmp_path):
    ds = load_csv(_labelled(tmp_path, [2021, 2019, 10**12]), "y", task="classification")
    assert ds.classes == [2019.0, 2021.0, 1e12] and ds.n_classes == 3 and ds.target == "y"
    assert ds.y_train.dtype == np.int64 and set(np.unique(np.r_[ds.y_train, ds.y_test])) == {0, 1, 2}
    with pytest.raises(InputError, match="column 'y' has fractional values .*task='regression'"):
        load_csv(_labelled(tmp_path, [0, 0.5]), "y", task="classification")
    with pytest.raises(InputError, match="1 distinct labels; classification needs 2"):
        load_csv(_labelled(tmp_path, [4]), "y", task="classification")
    with pytest.raises(InputError, match="task must be 'auto', 'classification' or 'regression'"):
        load_csv(_labelled(tmp_path, [0, 1]), "y", task="ordinal")


def test_csv_drop_columns_are_not_read(tmp_path):
    p = _csv(tmp_path, "id,a,name,y\n" + "".join(f"r{i},{i},x{i},{i % 2}\n" for i in range(10)))
    ds = load_csv(p, "y", drop=["id", "name"])
    assert ds.feature_names == ["a"] and ds.X_train.shape[1] == 1
    with pytest.raises(InputError, match="cannot drop 'nope': no such column"):
        load_csv(p, "y", drop=["id", "nope"])
    with pytest.raises(InputError, match="cannot drop the target column 'y'"):
        load_csv(p, "y", drop=["y"])
    with pytest.raises(InputError, match="no feature columns left"):
        load_csv(p, "y", drop=["id", "a", "name"])


def test_csv_duplicate_column_names(tmp_path):
    with pytest.raises(InputError, match="duplicate column names 'a'"):
        load_csv(_csv(tmp_path, "a,b,a,y\n1,2,3,4\n5,6,7,8\n"), "y")


def _table_csv(tmp_path, n=60, missing=True):
    """A table with a text target, two text features and (optionally) missing cells."""
    g = np.random.default_rng(0)
    rows = ["kind,colour,size,shape,weight"]
    for i in range(n):
        kind = ["cat", "dog"][i % 2]
        weight = "NA" if missing and i % 10 == 3 else f"{4 + 20 * (i % 2) + g.normal():.2f}"
        colour = "" if missing and i % 15 == 4 else ["red", "blue", "green"][i % 3]
        rows.append(f"{kind},{colour},{['S', 'M', 'L'][(i // 2) % 3]},{['round', 'long'][i % 4 // 2]},{weight}")
    return _csv(tmp_path, "\n".join(rows), "animals.csv")


def test_csv_text_target_and_categorical_features(tmp_path):
    ds = load_csv(_table_csv(tmp_path, missing=False), "kind")
    assert ds.task == "classification" and ds.classes == ["cat", "dog"] and ds.n_classes == 2
    assert ds.columns == ["colour", "size", "shape", "weight"]
    assert ds.feature_names == ["colour=blue", "colour=green", "colour=red", "size=L", "size=M", "size=S",
                                "shape=long", "shape=round", "weight"]
    assert ds.X_train.shape == (42, 9) and ds.X_train.dtype == np.float32
    assert set(np.unique(ds.X_train[:, :8])) == {0.0, 1.0} and np.all(ds.X_train[:, :8].sum(1) == 3)
    np.testing.assert_allclose(ds.X_train[:, 8].mean(), 0, atol=1e-5)  # numbers standardised, one-hot kept 0/1
    pre = ds.preprocessor
    assert pre.names == ds.columns and pre.feature_names == ds.feature_names
    with pytest.raises(InputError, match="column 'kind' holds text .*task='classification'"):
        load_csv(_table_csv(tmp_path, missing=False), "kind", task="regression")
    ds = load_csv(_table_csv(tmp_path, missing=False), "kind", categorical=["colour", "size", "shape"])
    assert ds.n_features == 9
    with pytest.raises(InputError, match=r"row 2, column 'shape': 'round' is not a number; if 'shape' holds "
                                         r"categories, name it in categorical="):
        load_csv(_table_csv(tmp_path, missing=False), "kind", categorical=["colour", "size"])


def test_csv_missing_cells_error_drop_or_fill(tmp_path):
    path = _table_csv(tmp_path)
    with pytest.raises(InputError, match=r"10 of 60 rows have missing values .* in columns 'colour' \(4 rows\), "
                                         r"'weight' \(6 rows\); the first is row 5, column 'weight'.*--dropna"):
        load_csv(path, "kind")
    ds = load_csv(path, "kind", missing="drop")
    assert ds.rows_read == 60 and ds.rows_dropped == 10 and len(ds.X_train) + len(ds.X_test) == 50
    assert "60 rows, 10 dropped for missing values; 50 used: 35 to train, 15 to test" in ds.summary()
    for mode in ("median", "mean", "most_frequent"):
        ds = load_csv(path, "kind", missing=mode, standardize=False)
        assert ds.rows_dropped == 0 and ds.filled == {"colour": 4, "weight": 6}
        spec = {s.name: s for s in ds.preprocessor.specs}
        assert spec["colour"].fill in ("blue", "green", "red") and np.isfinite(ds.X_train).all()
        # the fill is the training rows' statistic: the weights of training rows, filled cells among them
        weights = ds.X_train[:, -1]
        filled = weights == np.float32(spec["weight"].fill)
        observed = weights[~filled].astype(np.float64)
        want = {"median": np.median, "mean": np.mean}.get(mode)
        if want is not None:
            assert spec["weight"].fill == pytest.approx(want(observed), rel=1e-6)
        assert "missing cells filled in" in ds.summary()
    with pytest.raises(ValueError, match="missing must be one of 'error', 'drop', 'median'"):
        load_csv(path, "kind", missing="zero")
    with pytest.raises(ValueError, match="handle_unknown must be 'error' or 'ignore'"):
        load_csv(path, "kind", handle_unknown="skip")


def test_infinite_numbers_count_as_missing(tmp_path):
    path = _csv(tmp_path, "a,b,y\n1,2,0\n2,inf,1\n3,4,0\n4,5,1\n5,6,0\n6,-Infinity,1\n")
    with pytest.raises(InputError, match=r"2 of 6 rows have missing values \(cells that are empty, NA, null, NaN or "
                                         r"infinite\) in column 'b'"):
        load_csv(path, "y")
    assert load_csv(path, "y", missing="drop").rows_dropped == 2


@pytest.mark.parametrize("cells,pattern", [
    ([f"id{i}" for i in range(20)], "differs in every one of its 20 rows"),
    ([f"c{i % 60}" for i in range(120)], "60 distinct values, more than the 50 categories"),
    (["red", "2", "blue", "red"], "'red' is not a number, while other cells of the column are numbers"),
])
def test_csv_auto_categories_refuse_identifiers_free_text_and_typos(tmp_path, cells, pattern):
    text = "c,y\n" + "".join(f"{c},{i % 2}\n" for i, c in enumerate(cells))
    with pytest.raises(InputError, match=pattern):
        load_csv(_csv(tmp_path, text), "y")


def test_table_preprocessor_fits_on_training_rows_and_round_trips_through_json():
    import json

    from anynet.datasets import Table, TablePreprocessor

    t = Table.from_rows(["x", "c"], [["1", "a"], ["2", "b"], ["NA", "a"], ["10", "c"], ["null", ""]])
    pre = TablePreprocessor(missing="median").fit(t.take([0, 1, 2]), vocabulary=t)
    spec = {s.name: s for s in pre.specs}
    assert spec["x"].fill == 1.5 and spec["c"].fill == "a" and spec["c"].categories == ["a", "b", "c"]
    # standardised on the training rows with the filled cell: 1, 2, 1.5
    assert spec["x"].mean == pytest.approx(1.5) and spec["x"].scale == pytest.approx(np.std([1, 2, 1.5]))
    again = TablePreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(t), pre.transform(t))
    X = pre.transform(t)
    np.testing.assert_allclose(X[3], [(10 - 1.5) / spec["x"].scale, 0, 0, 1])
    np.testing.assert_allclose(X[4], [0, 1, 0, 0])
    unknown = Table.from_rows(["c", "x"], [["a", "3"], ["z", "4"]], where="new.csv")
    with pytest.raises(InputError, match=r"new.csv: row 3, column 'c': 'z' is not one of the 3 categories"):
        pre.transform(unknown)
    np.testing.assert_allclose(pre.transform(unknown, handle_unknown="ignore")[1, 1:], [0, 0, 0])
    strict = TablePreprocessor(missing="drop").fit(t.take([0, 1, 3]), vocabulary=t)
    with pytest.raises(InputError, match=r"row 4, column 'x' is missing \('NA'\).*missing='drop'"):
        strict.transform(t)
    assert list(strict.missing_rows(t)) == [False, False, True, False, True]
    with pytest.raises(InputError, match=r"fill 'q' is not one of its categories"):
        TablePreprocessor.from_dict({**pre.to_dict(), "columns": [{"name": "c", "kind": "categorical",
                                                                    "categories": ["a"], "fill": "q"}]})
    with pytest.raises(InputError, match="disagrees with missing='median'"):
        TablePreprocessor.from_dict({**pre.to_dict(), "columns": [{"name": "x", "kind": "numeric", "fill": None,
                                                                    "mean": 0.0, "scale": 1.0}]})


def test_every_named_data_set_names_its_features():
    for name in (n for n in datasets.LOADERS if n != "mnist"):
        ds = datasets.load(name)
        assert len(ds.feature_names) == ds.n_features and len(set(ds.feature_names)) == ds.n_features


def _idx(data: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in data.shape) + data.tobytes()


def _write_mnist(folder, n_train=20, n_test=10, gz=True):
    g = np.random.default_rng(0)
    parts = {"train": n_train, "t10k": n_test}
    for split, n in parts.items():
        images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = g.integers(0, 10, n, dtype=np.uint8)
        for kind, arr, magic in (("images-idx3", images, 0x803), ("labels-idx1", labels, 0x801)):
            raw = _idx(arr, magic)
            name = f"{split}-{kind}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loader_reads_idx_files(tmp_path, gz):
    _write_mnist(tmp_path, gz=gz)
    Xtr, ytr, Xte, yte = load_mnist(tmp_path)
    assert Xtr.shape == (20, 784) and Xte.shape == (10, 784) and Xtr.dtype == np.float32
    assert Xtr.min() >= 0 and Xtr.max() <= 1 and ytr.dtype == np.int64


def test_mnist_missing_files_say_which_and_where(tmp_path):
    with pytest.raises(DatasetError, match="missing train-images-idx3-ubyte.gz.*Put the four IDX files"):
        load_mnist(tmp_path)


def test_corrupt_idx_files(tmp_path):
    good = _idx(np.zeros((3, 28, 28), np.uint8), 0x803)
    cases = {
        "magic": (b"\x12\x34" + good[2:], "wrong magic number"),
        "truncated": (good[:-5], r"declares shape \(3, 28, 28\).*holds 2347 data bytes"),
        "extended": (good + b"\0", "truncated or corrupt"),
        "tiny": (b"\0\0", "too short"),
        "header": (good[:10], "truncated header"),
        "badgzip": (gzip.compress(good)[:-10], "truncated"),
    }
    for name, (raw, pattern) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(DatasetError, match=pattern):
            read_idx(path)


def test_mnist_counts_that_disagree(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(19, np.uint8), 0x801)))
    with pytest.raises(DatasetError, match="train has 20 images but 19 labels"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.full(20, 12, np.uint8), 0x801)))
    with pytest.raises(DatasetError, match="labels must be digits 0-9, found 12"):
        load_mnist(tmp_path)


def test_mnist_download_failure_is_explained(tmp_path):
    with pytest.raises(DatasetError, match="download failed.*Put the four IDX files"):
        datasets.mnist.download(tmp_path, mirrors=("http://127.0.0.1:9/",), timeout=2)
