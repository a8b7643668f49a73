"""Which backend an array belongs to: ``is_array``, ``namespace_of``, ``backend_of``, ``common_backend``."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from ..errors import BackendMismatchError, InputTypeError
from ._adapter import Adapter
from ._backend import Backend
from ._registry import ADAPTERS, _by_type, _cache
from ._resolve import backend_for

__all__ = ["backend_of", "common_backend", "is_array", "namespace_of"]


def _adapter_of(x: Any) -> Adapter | None:
    adapter = _by_type.get(type(x))
    if adapter is not None:
        return adapter
    for adapter in list(ADAPTERS.values()):
        # never import a library just to ask whether x belongs to it
        if adapter.module_name not in sys.modules:
            continue
        try:
            if adapter.owns(x):
                _by_type[type(x)] = adapter
                return adapter
        except ImportError:
            continue
    return None


def is_array(x: Any) -> bool:
    """True when ``x`` is an array of a library anynet knows.

    Example:
        >>> import numpy as np
        >>> is_array(np.zeros(2)), is_array([0.0, 0.0])
        (True, False)
    """
    return _adapter_of(x) is not None


def namespace_of(x: Any) -> ModuleType:
    """The Array API namespace of an array (fast: cached by array type, no device lookup)."""
    adapter = _by_type.get(type(x)) or _adapter_of(x)
    if adapter is None:
        raise InputTypeError(
            f"expected an array of one of {', '.join(ADAPTERS)}, got {type(x).__name__}"
        )
    return adapter.namespace()


def backend_of(x: Any) -> Backend:
    """The backend and device an array lives on.

    Example:
        >>> import numpy as np
        >>> backend_of(np.zeros(2))
        Backend('numpy:cpu')
    """
    adapter = _adapter_of(x)
    if adapter is None:
        raise InputTypeError(
            f"expected an array of one of {', '.join(ADAPTERS)}, got {type(x).__name__}; "
            "convert it first, e.g. numpy.asarray(x, dtype='float32')"
        )
    device = adapter.device_of(x)
    backend = _cache.get((adapter.name, adapter.device_name(device)))  # backend_for's fast half, inlined
    return backend if backend is not None else backend_for(adapter, device)


def common_backend(*arrays: Any, where: str = "anynet") -> Backend:
    """The one backend all ``arrays`` live on; raises if they live on two (``None`` skipped)."""
    found: Backend | None = None
    for x in arrays:
        if x is None:
            continue
        b = backend_of(x)
        if found is None:
            found = b
        elif b != found:
            raise BackendMismatchError(
                f"{where}: arrays on two backends/devices were mixed: {found.spec} and {b.spec}. "
                f"Move one to the other first, e.g. x = anynet.to_device(x, {found.spec!r})"
            )
    if found is None:
        raise InputTypeError(f"{where}: no array was given")
    return found
