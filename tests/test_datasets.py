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
    assert X.min() >= 0 and X.max() <= 9 and np.all(X == np.round(X))
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
    rows = ["a,b,MEDV"] + [f"{x:.5f},{z:.5f},{3 * x - z:.5f}" for x, z in g.standard_normal((100, 2)) * [10, 1] + [5, 0]]
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
    assert 0 <= Xtr.min() and Xtr.max() <= 1 and ytr.dtype == np.int64


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
