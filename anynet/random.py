"""Explicit, host-drawn randomness.

The Array API standard has no random module, and libraries draw different numbers from the same
seed. anynet draws every random number with a ``numpy.random.Generator`` on the host and sends
it to the device, so the same seed gives bit-identical initial weights, shuffles and dropout masks
on every backend. Nothing here touches global random state.

Example:
    >>> import anynet
    >>> g = anynet.random.as_generator(0)
    >>> g.integers(0, 10, size=3).tolist()
    [8, 6, 5]
"""

from __future__ import annotations

import numpy as np

from .errors import InputTypeError

Seed = int | np.random.Generator | None


def as_generator(seed: Seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (an int ≥ 0), a Generator (used as is), or None.

    ``None`` asks for fresh operating-system entropy: a different stream on every call.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputTypeError(
            f"seed must be a non-negative int, a numpy.random.Generator or None, got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def spawn(rng: np.random.Generator) -> np.random.Generator:
    """An independent child generator (for a sub-component that needs its own stream)."""
    return rng.spawn(1)[0]
