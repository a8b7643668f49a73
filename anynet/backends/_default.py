"""The default backend: global (``ANYNET_BACKEND``, :func:`set_backend`) or scoped (:func:`use_backend`)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from ._backend import Backend
from ._resolve import resolve

__all__ = ["ENV_VAR", "backend_source", "get_backend", "set_backend", "use_backend"]

ENV_VAR = "ANYNET_BACKEND"
#: the backend used when neither ANYNET_BACKEND nor set_backend chose one
DEFAULT_SPEC = "numpy"

_scoped: ContextVar[Backend | None] = ContextVar("anynet_backend", default=None)
_global: Backend | None = None
_source = "not chosen yet"
_lock = threading.Lock()


def get_backend(spec: str | Backend | None = None) -> Backend:
    """The backend to compute on: ``spec`` if given, else the scoped or global default.

    The first call without a spec reads ``ANYNET_BACKEND`` (default ``"numpy"``, ``DEFAULT_SPEC``).

    Example:
        >>> get_backend("numpy").spec
        'numpy:cpu'
    """
    global _global, _source
    if spec is not None:
        return resolve(spec)
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _global is None:
        env = os.environ.get(ENV_VAR, "").strip()
        chosen = resolve(env or DEFAULT_SPEC)
        with _lock:
            if _global is None:
                _global = chosen
                _source = f"{ENV_VAR}={env}" if env else f"default ({DEFAULT_SPEC})"
    return _global


def set_backend(spec: str | Backend) -> Backend:
    """Set the global default backend (overrides ``ANYNET_BACKEND``) and return it."""
    global _global, _source
    backend = resolve(spec)
    with _lock:
        _global = backend
        _source = "anynet.set_backend()"
    return backend


@contextlib.contextmanager
def use_backend(spec: str | Backend) -> Iterator[Backend]:
    """Use ``spec`` as the default inside a ``with`` block (this thread or task only).

    Example:
        >>> with use_backend("numpy") as b:
        ...     get_backend() is b
        True
    """
    token = _scoped.set(resolve(spec))
    try:
        yield _scoped.get()  # type: ignore[misc]
    finally:
        _scoped.reset(token)


def backend_source() -> str:
    """Where the default backend came from (environment variable, set_backend, or default)."""
    if _scoped.get() is not None:
        return "anynet.use_backend() scope"
    return _source
