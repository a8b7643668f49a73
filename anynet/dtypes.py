"""Floating-point dtypes: the default (float32), scoped overrides, and resolving a request.

Example:
    >>> import anynet
    >>> with anynet.default_dtype("float64"):
    ...     anynet.get_default_dtype()
    'float64'
    >>> anynet.get_default_dtype()
    'float32'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DeviceError, InputError

if TYPE_CHECKING:
    from .backends import Backend

FLOAT_NAMES = ("float32", "float64")

_global_default = "float32"
_scoped: ContextVar[str | None] = ContextVar("anynet_dtype", default=None)


def _check_name(name: Any) -> str:
    text = dtype_name(name)
    if text not in FLOAT_NAMES and text != "widest":
        raise InputError(
            f"unsupported float dtype {name!r}; use one of {', '.join(FLOAT_NAMES)} or 'widest'"
        )
    return text


def set_default_dtype(dtype: Any) -> None:
    """Set the global default float dtype (``"float32"``, ``"float64"`` or ``"widest"``)."""
    global _global_default
    _global_default = _check_name(dtype)


def get_default_dtype() -> str:
    """The default float dtype name in force here."""
    return _scoped.get() or _global_default


@contextlib.contextmanager
def default_dtype(dtype: Any) -> Iterator[str]:
    """Use ``dtype`` as the default inside a ``with`` block (this thread or task only)."""
    token = _scoped.set(_check_name(dtype))
    try:
        yield get_default_dtype()
    finally:
        _scoped.reset(token)


def dtype_name(dtype: Any) -> str:
    """The plain name of a dtype object of any library (``torch.float64`` → ``"float64"``)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype).name
    if isinstance(dtype, np.dtype):
        return dtype.name
    text = str(dtype)
    for prefix in ("torch.", "array_api_strict.", "dtype(", "<class 'numpy."):
        text = text.replace(prefix, "")
    return text.strip("')>\"")


def resolve_dtype(dtype: Any, backend: Backend) -> Any:
    """The backend's dtype object for a request: None (the default), a name, or a dtype.

    Raises ``DeviceError`` when the device cannot hold it (e.g. float64 on a device without).
    """
    name = _check_name(get_default_dtype() if dtype is None else dtype)
    floats = backend.float_dtypes()
    if name == "widest":
        name = backend.widest_float()
    if name not in floats:
        raise DeviceError(
            f"{backend.spec} has no {name}; it has {', '.join(floats)}. Use dtype='float32' or "
            "dtype='widest' (the widest float this device has)"
        )
    return floats[name]
