"""Numeric tables: CSV files with a header, and scikit-learn's bundled digits and diabetes."""

from __future__ import annotations

import csv
import os

import numpy as np

from ..errors import InputError
from .base import Dataset, Standardizer, train_test_split


def read_numeric_csv(path: str | os.PathLike, *, min_rows: int = 1) -> tuple[list[str], np.ndarray]:
    """``(header, data)`` of a CSV file of numbers with a header row; data is float64 (rows, columns).

    Every problem raises an InputError naming the file and, for a bad cell, its row and column.
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
    data = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: row {i} has {len(row)} cells but the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                data[i - 2, j] = float(cell)
            except ValueError:
                raise InputError(f"{path}: row {i}, column {header[j]!r}: {cell!r} is not a number") from None
    if not np.isfinite(data).all():
        i, j = np.argwhere(~np.isfinite(data))[0]
        raise InputError(f"{path}: row {i + 2}, column {header[j]!r} is NaN or infinite")
    return header, data


def load_csv(path: str | os.PathLike, target: str, *, test_size: float = 0.3, seed: int = 0,
             task: str = "auto", standardize: bool = True) -> Dataset:
    """A numeric CSV with a header row and a named target column, split and standardised.

    ``task="auto"`` treats a target of a few whole-number values (≤ 20) as classes, anything else
    as regression. Standardisation is fitted on the training part only. A non-numeric cell raises
    an error naming its row and column.
    """
    header, data = read_numeric_csv(path, min_rows=2)
    if target not in header:
        raise InputError(f"{path}: no column {target!r}; columns: {', '.join(header)}")
    t = header.index(target)
    y = data[:, t]
    X = np.delete(data, t, axis=1)
    names = [h for k, h in enumerate(header) if k != t]
    if task == "auto":
        whole = np.all(y == np.round(y))
        task = "classification" if whole and len(np.unique(y)) <= 20 and y.min() >= 0 else "regression"
    return _split(X, y, task, names, str(path), test_size, seed, standardize)


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
        raise InputError('this data set ships with scikit-learn; install it with pip install "anynet[examples]"') from None
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
