"""Moving arrays between backends and devices: ``to_device``, ``to_numpy``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputTypeError
from ._arrays import backend_of, is_array
from ._backend import Backend
from ._resolve import resolve

__all__ = ["to_device", "to_numpy"]


def to_device(x: Any, spec: str | Backend) -> Any:
    """Copy an array, or a dict/list/tuple of arrays, to the backend and device ``spec``.

    Goes through DLPack where both libraries support it, else through host memory. An array
    already on ``spec`` is returned as it is. Non-array leaves (numbers, strings) are kept.

    Example:
        >>> import numpy as np, anynet
        >>> anynet.to_device({"w": np.ones(2)}, "numpy")["w"].shape
        (2,)
    """
    target = resolve(spec)
    if isinstance(x, Mapping):
        return {k: to_device(v, target) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, target) for v in x)
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if not is_array(x):
        if isinstance(x, (int, float, str, bool)) or x is None:
            return x
        raise InputTypeError(f"to_device: cannot move a {type(x).__name__}; expected an array")
    source = backend_of(x)
    if source == target:
        return x
    if source.name != target.name:
        try:
            return target.adapter.from_foreign(x, target.device)
        except Exception:  # no DLPack path between these two: go through host memory
            pass
    return target.adapter.from_numpy(source.to_numpy(x), target.device)


def to_numpy(x: Any) -> Any:
    """A NumPy copy of an array of any backend (or of every array in a dict/list/tuple).

    Numbers become 0-d NumPy arrays; strings and None are kept as they are.

    Example:
        >>> to_numpy({"n": 3, "name": "x"})
        {'n': array(3), 'name': 'x'}
    """
    if isinstance(x, Mapping):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, (int, float, bool, np.generic)):
        return np.asarray(x)
    if isinstance(x, str) or x is None:
        return x
    return backend_of(x).to_numpy(x)
