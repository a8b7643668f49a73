"""Numeric tables: CSV files with a header, and scikit-learn's bundled digits and diabetes."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .base import Dataset, Standardizer, train_test_split

#: ``task="auto"`` takes a target for class labels only when it holds the indices 0..k-1 with k at most this
GUESSED_CLASSES = 20
#: ``task="auto"`` refuses to guess a whole-number target with at most this many distinct values that is
#: not 0..k-1 (years, ratings 1..5, labels -1/1): it could be either task
AMBIGUOUS_CLASSES = 100
#: the most classes ``task="classification"`` accepts (each is one output of the network)
MAX_CLASSES = 1000


@dataclass
class CsvDataset(Dataset):
    """A :class:`Dataset` read from a CSV file, with what a checkpoint needs to read new files alike.

    Attributes (besides Dataset's):
        target: the name of the predicted column.
        classes: for classification, the original label of each class index (sorted); else empty.
        test_size, seed: how the rows were split.
    """

    target: str = ""
    classes: list[float] = field(default_factory=list)
    test_size: float = 0.3
    seed: int = 0


def read_csv_table(path: str | os.PathLike, *, min_rows: int = 1) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of a CSV file with a header row, every cell still a string.

    Raises InputError naming the file when it cannot be read, is too short, has a row whose
    length differs from the header's, or repeats a column name (a name must select one column).
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise InputError(f"cannot read CSV {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    if len(rows) < min_rows + 1:
        count = {1: "one data row", 2: "two data rows"}.get(min_rows, f"{min_rows} data rows")
        raise InputError(f"{path}: needs a header and at least {count}, found {len(rows)} rows")
    header = [h.strip() for h in rows[0]]
    seen: dict[str, int] = {}
    for h in header:
        seen[h] = seen.get(h, 0) + 1
    twice = [h for h, k in seen.items() if k > 1]
    if twice:
        raise InputError(f"{path}: duplicate column names {', '.join(map(repr, twice))}; every column needs "
                         "its own name")
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: row {i} has {len(row)} cells but the header has {len(header)}")
    return header, rows[1:]


def numeric_columns(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[str]],
                    columns: Sequence[str]) -> np.ndarray:
    """The named ``columns`` of a table from :func:`read_csv_table` as float64 (rows, len(columns)).

    A missing column, a cell that is not a number, NaN or infinity raise InputError naming the
    file and (for a cell) its row and column. Other columns are not looked at.
    """
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"{path}: no column {', '.join(map(repr, missing))}; columns: {', '.join(header)}")
    index = [header.index(c) for c in columns]
    try:  # fast path; on failure the loop below finds the first bad cell
        data = np.array([[row[j] for j in index] for row in rows], dtype=np.float64).reshape(len(rows), len(index))
    except ValueError:
        data = _parse_cells(path, header, rows, index)
    if not np.isfinite(data).all():
        i, k = np.argwhere(~np.isfinite(data))[0]
        raise InputError(f"{path}: row {i + 2}, column {columns[k]!r} is NaN or infinite")
    return data


def _parse_cells(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[str]],
                 index: Sequence[int]) -> np.ndarray:
    data = np.empty((len(rows), len(index)), dtype=np.float64)
    for i, row in enumerate(rows):
        for k, j in enumerate(index):
            try:
                data[i, k] = float(row[j])
            except ValueError:
                raise InputError(f"{path}: row {i + 2}, column {header[j]!r}: {row[j]!r} is not a number") from None
    return data


def read_numeric_csv(path: str | os.PathLike, *, min_rows: int = 1) -> tuple[list[str], np.ndarray]:
    """``(header, data)`` of a CSV file of numbers with a header row; data is float64 (rows, columns).

    Every problem raises an InputError naming the file and, for a bad cell, its row and column.
    """
    header, rows = read_csv_table(path, min_rows=min_rows)
    return header, numeric_columns(path, header, rows, header)


def _preview(values: np.ndarray, k: int = 5) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:k])
    return shown + (f", … ({len(values)} in all)" if len(values) > k else "")


def class_labels(y: np.ndarray, *, where: str, column: str) -> tuple[np.ndarray, list[float]]:
    """``(indices, classes)``: whole-number labels ``y`` as int64 indices into their sorted distinct values.

    Raises InputError for fractional labels, fewer than 2 classes or more than MAX_CLASSES.
    """
    fractional = np.flatnonzero(y != np.round(y))
    if fractional.size:
        raise InputError(f"{where}: column {column!r} has fractional values (e.g. {y[fractional[0]]:g}); "
                         "class labels must be whole numbers; use task='regression' (--task regression)")
    classes, indices = np.unique(y, return_inverse=True)
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise InputError(f"{where}: column {column!r} has {len(classes)} distinct labels; classification "
                         f"needs 2 to {MAX_CLASSES}; use task='regression' (--task regression)")
    return indices.astype(np.int64).reshape(-1), [float(c) for c in classes]


def guess_task(y: np.ndarray, *, where: str, column: str) -> str:
    """``"classification"`` for class indices 0..k-1 (k ≤ GUESSED_CLASSES), ``"regression"`` for
    fractional values or more than AMBIGUOUS_CLASSES distinct whole numbers; InputError otherwise."""
    if np.any(y != np.round(y)):
        return "regression"
    distinct = np.unique(y)
    k = len(distinct)
    if k > AMBIGUOUS_CLASSES:
        return "regression"
    if 2 <= k <= GUESSED_CLASSES and np.array_equal(distinct, np.arange(k)):
        return "classification"
    raise InputError(f"{where}: cannot tell whether column {column!r} holds classes or quantities: {k} "
                     f"whole-number values ({_preview(distinct)}), not the class indices 0..k-1 with k ≤ "
                     f"{GUESSED_CLASSES}; choose with task='classification' or task='regression' "
                     "(anynet train: --task)")


def load_csv(path: str | os.PathLike, target: str, *, test_size: float = 0.3, seed: int = 0,
             task: str = "auto", standardize: bool = True, drop: Iterable[str] = ()) -> CsvDataset:
    """A numeric CSV with a header row and a named target column, split and standardised.

    Arguments:
        path: the file; every used cell must be a number (a bad cell raises InputError naming its
            row and column). Dropped columns are not read, so they may hold text (ids, names).
        target: the column to predict.
        task: ``"classification"`` (whole-number labels; the sorted distinct labels become classes
            0..k-1, kept in ``classes``), ``"regression"``, or ``"auto"``: class indices 0..k-1 with
            k ≤ GUESSED_CLASSES are classes, fractional values or more than AMBIGUOUS_CLASSES
            distinct whole numbers are quantities, and anything in between (years, ratings 1..5)
            raises InputError asking for an explicit task.
        drop: columns that are not features.
        standardize: fit a Standardizer on the training part only and apply it to both parts.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("id,a,label\\n" + "".join(f"r{i},{i},{2 * (i % 2) + 1}\\n" for i in range(10)))
        >>> ds = load_csv(p, "label", task="classification", drop=["id"])
        >>> ds.feature_names, ds.classes, ds.n_classes
        (['a'], [1.0, 3.0], 2)
    """
    if task not in ("auto", "classification", "regression"):
        raise InputError(f"load_csv: task must be 'auto', 'classification' or 'regression', got {task!r}")
    header, rows = read_csv_table(path, min_rows=2)
    if target not in header:
        raise InputError(f"{path}: no column {target!r}; columns: {', '.join(header)}")
    drop = list(drop)
    unknown = [c for c in drop if c not in header]
    if unknown:
        raise InputError(f"{path}: cannot drop {', '.join(map(repr, unknown))}: no such column; "
                         f"columns: {', '.join(header)}")
    if target in drop:
        raise InputError(f"{path}: cannot drop the target column {target!r}")
    names = [h for h in header if h != target and h not in drop]
    if not names:
        raise InputError(f"{path}: no feature columns left besides the target {target!r}")
    y = numeric_columns(path, header, rows, [target])[:, 0]
    X = numeric_columns(path, header, rows, names)
    if task == "auto":
        task = guess_task(y, where=str(path), column=target)
    classes: list[float] = []
    if task == "classification":
        y, classes = class_labels(y, where=str(path), column=target)
    ds = _split(X, y, task, names, str(path), test_size, seed, standardize)
    return CsvDataset(ds.X_train, ds.y_train, ds.X_test, ds.y_test, ds.task, len(classes), ds.feature_names,
                      ds.name, ds.scaler, target=target, classes=classes, test_size=test_size, seed=seed)


def _split(X, y, task, names, name, test_size, seed, standardize) -> Dataset:
    if task == "classification":
        y = y.astype(np.int64)
    else:
        y = y.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=seed,
                                                        stratify=task == "classification")
    scaler = None
    if standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_classes = int(y.max()) + 1 if task == "classification" else 0
    return Dataset(X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test, task,
                   n_classes, names, name, scaler)


def _sklearn():
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise InputError('this data set ships with scikit-learn; install it with '
                         'pip install "anynet[examples]"') from None
    return skd


def digits(*, test_size: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 digits (1,797 images, 10 classes), pixels scaled to [0, 1]."""
    d = _sklearn().load_digits()
    return _split(d.data / 16.0, d.target.astype(float), "classification",
                  [f"pixel_{i}" for i in range(64)], "digits", test_size, seed, False)


def diabetes(*, test_size: float = 0.3, seed: int = 0) -> Dataset:
    """scikit-learn's diabetes regression set (442 patients, 10 features), standardised."""
    d = _sklearn().load_diabetes()
    ds = _split(d.data, d.target.astype(float), "regression", list(d.feature_names), "diabetes", test_size, seed, True)
    return ds
