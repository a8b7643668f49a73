"""What every data set loader returns, and the splitting and scaling every table needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..random import Seed, as_generator


@dataclass
class Dataset:
    """A train/test split with its description.

    Attributes:
        X_train, y_train, X_test, y_test: NumPy arrays (features float32).
        task: ``"classification"`` (integer labels) or ``"regression"`` (float targets).
        n_classes: number of classes (0 for regression).
        feature_names: column names where the source has them.
        name: what it is.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    n_classes: int = 0
    feature_names: list[str] = field(default_factory=list)
    name: str = ""
    scaler: Any = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


def train_test_split(X: np.ndarray, y: np.ndarray, *, test_size: float = 0.25, seed: Seed = 0,
                     stratify: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with an explicit seed and split; ``stratify`` keeps class proportions."""
    n = len(X)
    if len(y) != n:
        raise InputError(f"train_test_split: X has {n} rows but y has {len(y)}")
    if not 0 < test_size < 1:
        raise InputError(f"train_test_split: test_size must be in (0, 1), got {test_size!r}")
    rng = as_generator(seed)
    if stratify:
        test_idx = []
        for c in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == c))
            test_idx.append(members[: int(round(len(members) * test_size))])
        test = np.sort(np.concatenate(test_idx))
        mask = np.zeros(n, bool)
        mask[test] = True
        train = rng.permutation(np.flatnonzero(~mask))
        test = rng.permutation(test)
    else:
        perm = rng.permutation(n)
        n_test = int(round(n * test_size))
        if n_test < 1 or n_test >= n:
            raise InputError(f"train_test_split: test_size={test_size} leaves an empty side for {n} rows")
        test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """Zero mean, unit variance per feature, fitted on the training part only.

    Constant features are left centred (their scale is taken as 1) rather than divided by zero.
    """

    def fit(self, X: np.ndarray) -> Standardizer:
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)
