"""Floating-point dtypes: the default (float32), scoped overrides, and dtype names.

This module knows no array library: it holds the default-dtype state and turns dtype objects of
any library into plain names. Turning a name into a library's dtype object on one device is the
backend's job (:meth:`anynet.Backend.dtype`).

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
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "FLOAT_NAMES",
    "default_dtype",
    "dtype_name",
    "float_dtype_name",
    "get_default_dtype",
    "set_default_dtype",
]

FLOAT_NAMES = ("float32", "float64")

_global_default = "float32"
_scoped: ContextVar[str | None] = ContextVar("anynet_dtype", default=None)


def float_dtype_name(dtype: Any) -> str:
    """The name of a float dtype request: ``"float32"``, ``"float64"`` or ``"widest"``.

    Arguments:
        dtype: a name, or a dtype object of any library.

    Raises ``InputError`` for anything else (an integer dtype, a typo).

    Example:
        >>> import numpy as np
        >>> float_dtype_name(np.float64), float_dtype_name("widest")
        ('float64', 'widest')
    """
    text = dtype_name(dtype)
    if text not in FLOAT_NAMES and text != "widest":
        raise InputError(
            f"unsupported float dtype {dtype!r}; use one of {', '.join(FLOAT_NAMES)} or 'widest'"
        )
    return text


def set_default_dtype(dtype: Any) -> None:
    """Set the global default float dtype (``"float32"``, ``"float64"`` or ``"widest"``)."""
    global _global_default
    _global_default = float_dtype_name(dtype)


def get_default_dtype() -> str:
    """The default float dtype name in force here."""
    return _scoped.get() or _global_default


@contextlib.contextmanager
def default_dtype(dtype: Any) -> Iterator[str]:
    """Use ``dtype`` as the default inside a ``with`` block (this thread or task only)."""
    token = _scoped.set(float_dtype_name(dtype))
    try:
        yield get_default_dtype()
    finally:
        _scoped.reset(token)


#: names already worked out, by (type, dtype object): dtype objects are few and hashable, and the
#: layer input check asks for the name of every batch's dtype. The type comes first so that
#: dtypes of two libraries are never compared with each other (array-api-strict warns).
_names: dict[tuple[type, Any], str] = {}


def dtype_name(dtype: Any) -> str:
    """The plain name of a dtype object of any library (``float64`` for a float64 of any library).

    Strings are returned as they are. Other objects are named by a rule that names no library:
    a NumPy dtype by its ``name``, a scalar type by its ``__name__``, anything else by the last
    dotted part of ``str(dtype)`` (libraries print their dtypes as ``module.float64``).

    Example:
        >>> import numpy as np
        >>> dtype_name(np.dtype("float32")), dtype_name(np.float64), dtype_name("float32")
        ('float32', 'float64', 'float32')
    """
    if isinstance(dtype, str):
        return dtype
    key = (type(dtype), dtype)
    try:
        return _names[key]  # also for NumPy's dtypes: their `.name` is a slow Python property
    except (KeyError, TypeError):  # TypeError: an unhashable object, named but not remembered
        pass
    if isinstance(dtype, np.dtype):
        name = dtype.name
    elif isinstance(dtype, type):
        name = np.dtype(dtype).name if issubclass(dtype, np.generic) else dtype.__name__
    else:
        text = str(dtype).strip()
        if text.startswith("dtype(") and text.endswith(")"):
            text = text[len("dtype("):-1]
        name = text.strip("'\"").rpartition(".")[2]
    with contextlib.suppress(TypeError):
        _names[key] = name
    return name
