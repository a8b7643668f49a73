"""Data sets: the source documents' generators, toy sets, scikit-learn tables, CSV and MNIST.

CSV tables may hold text (class names, categories) and missing cells: ``load_csv`` reads them
through a :class:`TablePreprocessor` (one-hot encoding, imputation, standardisation), the same
one ``anynet train --csv`` stores in its checkpoints.

Every generator takes an explicit seed. ``load(name)`` returns a :class:`Dataset` split ready
for training (the ``anynet train`` command uses it).

Example:
    >>> from anynet import datasets
    >>> ds = datasets.load("planar")
    >>> ds.X_train.shape[1], ds.task, ds.n_classes
    (2, 'classification', 2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .base import Dataset, Standardizer, train_test_split
from .mnist import DatasetError, load_mnist, read_idx
from .preprocess import Table, TablePreprocessor
from .synthetic import GENDER_NEW, circles, comparison, gender, moons, planar_flower, spirals, xor
from .tables import CsvDataset, diabetes, digits, load_csv


def _classify(X: np.ndarray, y: np.ndarray, name: str, seed: int, test_size: float = 0.25) -> Dataset:
    Xtr, Xte, ytr, yte = train_test_split(X, y.astype(np.int64), test_size=test_size, seed=seed, stratify=True)
    names = [f"x{i}" for i in range(X.shape[1])]
    return Dataset(Xtr, ytr, Xte, yte, "classification", int(y.max()) + 1, names, name)


def _gender() -> Dataset:
    X, y = gender()
    # four people: the document trains and checks on the same table
    return Dataset(X, y.astype(np.int64), X.copy(), y.astype(np.int64), "classification", 2,
                   ["weight", "height"], "gender")


#: MNIST's columns, named like digits' (row-major pixels)
MNIST_FEATURES = [f"pixel_{i}" for i in range(784)]


def _mnist(folder: str = "mnist", seed: int = 0) -> Dataset:
    Xtr, ytr, Xte, yte = load_mnist(folder)
    return Dataset(Xtr, ytr, Xte, yte, "classification", 10, list(MNIST_FEATURES), "mnist")


#: name -> loader(seed) for the command line
LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": lambda seed=0: digits(seed=seed),
    "diabetes": lambda seed=0: diabetes(seed=seed),
    "planar": lambda seed=0: _classify(*planar_flower(seed=seed + 1), "planar", seed),
    "comparison": lambda seed=0: _classify(*comparison(20_000, seed=seed), "comparison", seed),
    "gender": lambda seed=0: _gender(),
    "moons": lambda seed=0: _classify(*moons(seed=seed), "moons", seed),
    "circles": lambda seed=0: _classify(*circles(seed=seed), "circles", seed),
    "spirals": lambda seed=0: _classify(*spirals(seed=seed), "spirals", seed),
    "xor": lambda seed=0: _classify(*xor(seed=seed), "xor", seed),
    "mnist": _mnist,
}


def load(name: str, *, seed: int = 0) -> Dataset:
    """A named data set, split into train and test (``mnist`` reads ./mnist; see load_mnist)."""
    if name not in LOADERS:
        raise InputError(f"unknown data set {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name](seed=seed)


__all__ = ["GENDER_NEW", "LOADERS", "MNIST_FEATURES", "CsvDataset", "Dataset", "DatasetError", "Standardizer", "Table",
           "TablePreprocessor", "circles", "comparison", "diabetes", "digits", "gender", "load", "load_csv",
           "load_mnist", "moons", "planar_flower", "read_idx", "spirals", "train_test_split", "xor"]
