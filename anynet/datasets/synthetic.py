"""Synthetic data sets of the source documents, and the usual toy sets; all seeded."""

from __future__ import annotations

import numpy as np

from ..random import Seed, as_generator


def comparison(n: int = 100_000, *, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Document 000's task: 5 integers in [0, 10); label 1 when ``x[1] > x[3]``.

    Returns X (n, 5) float32 and y (n,) float32 in {0, 1}.
    """
    rng = as_generator(seed)
    X = rng.integers(0, 10, size=(n, 5)).astype(np.float32)
    return X, (X[:, 1] > X[:, 3]).astype(np.float32)


#: document 002's four people: (weight − 135 lb, height − 66 in), 1 = female
GENDER_NAMES = ["Alice", "Bob", "Charlie", "Diana"]
GENDER_X = np.asarray([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=np.float32)
GENDER_Y = np.asarray([1, 0, 0, 1], dtype=np.float32)
#: the two people the document predicts after training
GENDER_NEW = {"Emily": [-7.0, -3.0], "Frank": [20.0, 2.0]}


def gender() -> tuple[np.ndarray, np.ndarray]:
    """Document 002's table: X (4, 2) shifted weight/height, y (4,) with 1 = female."""
    return GENDER_X.copy(), GENDER_Y.copy()


def planar_flower(n_per_class: int = 200, *, seed: Seed = 1) -> tuple[np.ndarray, np.ndarray]:
    """Document 003's two-class "flower": θ = linspace(3.12·j, 3.12·(j+1)) + N(0, 0.2²),
    r = 4·sin(4θ) + N(0, 0.2²), point (r·sin θ, r·cos θ). Returns X (2n, 2), y (2n,) in {0, 1}."""
    rng = as_generator(seed)
    X = np.zeros((2 * n_per_class, 2))
    y = np.zeros(2 * n_per_class, dtype=np.float32)
    for j in range(2):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        theta = np.linspace(3.12 * j, 3.12 * (j + 1), n_per_class) + rng.standard_normal(n_per_class) * 0.2
        r = 4 * np.sin(4 * theta) + rng.standard_normal(n_per_class) * 0.2
        X[rows] = np.c_[r * np.sin(theta), r * np.cos(theta)]
        y[rows] = j
    return X.astype(np.float32), y


def moons(n: int = 400, *, noise: float = 0.1, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles."""
    rng = as_generator(seed)
    a = rng.uniform(0, np.pi, n // 2)
    b = rng.uniform(0, np.pi, n - n // 2)
    X = np.r_[np.c_[np.cos(a), np.sin(a)], np.c_[1 - np.cos(b), 0.5 - np.sin(b)]]
    X += rng.standard_normal(X.shape) * noise
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)]
    return X.astype(np.float32), y.astype(np.float32)


def circles(n: int = 400, *, noise: float = 0.05, factor: float = 0.5, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one."""
    rng = as_generator(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    y = (np.arange(n) >= n // 2).astype(np.float32)
    r = np.where(y == 1, factor, 1.0)
    X = np.c_[r * np.cos(t), r * np.sin(t)] + rng.standard_normal((n, 2)) * noise
    return X.astype(np.float32), y


def spirals(n_per_class: int = 200, *, classes: int = 3, noise: float = 0.2,
            seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms; y holds integer labels."""
    rng = as_generator(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * noise
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, c))
    return np.concatenate(X).astype(np.float32), np.concatenate(y).astype(np.int64)


def xor(n: int = 400, *, noise: float = 0.1, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four corners of a square; label = x₀ > 0 XOR x₁ > 0."""
    rng = as_generator(seed)
    X = rng.choice([-1.0, 1.0], size=(n, 2)) + rng.standard_normal((n, 2)) * noise
    return X.astype(np.float32), ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.float32)
