"""From a spec to a Backend: find the adapter, import its library, find the device."""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailableError, DeviceError
from ._adapter import Adapter
from ._backend import Backend
from ._registry import _cache, _lock, adapter_named, split_spec

__all__ = ["backend_for", "load_adapter", "resolve"]


def load_adapter(adapter: Adapter) -> None:
    """Import the adapter's library and check that it can run here, or raise
    ``BackendUnavailableError`` saying why and how to install it."""
    try:
        adapter.library()
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {adapter.name!r} is not installed ({exc}); install it with: {adapter.install}"
        ) from None
    try:
        adapter.check_usable()
    except Exception as exc:
        raise BackendUnavailableError(f"backend {adapter.name!r} cannot run here: {exc}") from None


def backend_for(adapter: Adapter, device: Any) -> Backend:
    """The one cached Backend of ``adapter`` (a registered one) on ``device``.

    The cache holds only registered adapters' backends: registering and unregistering drop the
    entries of the adapters they touch.
    """
    key = (adapter.name, adapter.device_name(device))
    backend = _cache.get(key)
    if backend is None:
        with _lock:
            backend = _cache.setdefault(key, Backend(adapter, device))
    return backend


def resolve(spec: str | Backend) -> Backend:
    """Turn a spec (or a Backend) into a Backend, importing its library on first use.

    Example:
        >>> resolve("NumPy:cpu")
        Backend('numpy:cpu')
    """
    if isinstance(spec, Backend):
        return spec
    key = split_spec(spec)
    backend = _cache.get(key)
    if backend is not None:
        return backend
    name, device_text = key
    adapter = adapter_named(name)
    load_adapter(adapter)
    try:
        device = adapter.parse_device(device_text)
    except LookupError:
        have = ", ".join(f"{name}:{adapter.device_name(d)}" for d in adapter.devices())
        raise DeviceError(f"backend {name!r} has no device {device_text!r}; available: {have}") from None
    backend = backend_for(adapter, device)
    with _lock:
        # a later register_backend(..., replace=True) clears the cache, so this stays current
        return _cache.setdefault(key, backend)
