"""The backend registry: which adapters anynet knows, under which names, and reading a spec.

A backend is an :class:`Adapter` registered under a name with :func:`register_backend`. The
built-in ones (numpy, cupy, torch, jax, array_api_strict) are registered the same way, in
``_builtin.py``; nothing below knows their names.

This module also holds the lookup caches that depend on what is registered (the resolved
:class:`Backend` objects, the adapter of each array type), so that registering clears them in
one place.

Example:
    >>> import anynet
    >>> from anynet.backends import ADAPTERS, register_backend, unregister_backend
    >>> register_backend("numpy", ADAPTERS["numpy"], aliases=("np",))  # a second name
    NumpyAdapter('numpy')
    >>> anynet.get_backend("np") == anynet.get_backend("numpy")
    True
    >>> unregister_backend("np")
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotFoundError, ConfigError
from ._adapter import Adapter

if TYPE_CHECKING:
    from ._backend import Backend

__all__ = ["ADAPTERS", "known_backends", "register_backend", "unregister_backend"]

#: the registered adapters by name, in the order they are listed to users (updated in place only)
ADAPTERS: dict[str, Adapter] = {}
#: other spellings of a name -> the name
_ALIASES: dict[str, str] = {}

#: resolved backends by (name, device text of the spec) and by (name, device name)
_cache: dict[tuple[str, str | None], Backend] = {}
#: array type -> the adapter that owns it (filled as arrays are met)
_by_type: dict[type, Adapter] = {}
_lock = threading.RLock()


def known_backends() -> list[str]:
    """Names of every backend anynet knows, installed or not, in registration order.

    Example:
        >>> known_backends()[:2]
        ['numpy', 'cupy']
    """
    return list(ADAPTERS)


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or name != name.strip().lower() or ":" in name \
            or any(c.isspace() for c in name):
        raise ConfigError(
            f"register_backend: {what} must be a non-empty lower-case string without ':' or spaces "
            f"(the part of a spec before the device, as in 'numpy:cpu'), got {name!r}"
        )
    return name


def _as_adapter(adapter: Any, name: str) -> Adapter:
    if isinstance(adapter, type) and issubclass(adapter, Adapter):
        adapter = adapter()
    if not isinstance(adapter, Adapter):
        raise ConfigError(
            f"register_backend({name!r}): expected an Adapter instance or subclass "
            f"(anynet.backends.Adapter), got {type(adapter).__name__}"
        )
    if not adapter.name:
        adapter.name = name
    elif adapter.name != name:
        raise ConfigError(
            f"register_backend({name!r}): the adapter is named {adapter.name!r}; register it under "
            f"that name and pass {name!r} in aliases=, or subclass it with name = {name!r}"
        )
    if not adapter.module_name:
        raise ConfigError(
            f"register_backend({name!r}): the adapter's module_name is empty; set it to the module "
            "that must be importable for the backend to run (e.g. 'numpy')"
        )
    return adapter


def _owner(key: str) -> str | None:
    """The name of the backend that ``key`` names (itself or an alias), or None."""
    if key in ADAPTERS:
        return key
    return _ALIASES.get(key)


def _forget(adapters: list[Adapter]) -> None:
    """Drop cached lookups that may involve ``adapters`` (call with the lock held)."""
    _by_type.clear()
    for key in [k for k, b in _cache.items() if any(b.adapter is a for a in adapters)]:
        del _cache[key]


def register_backend(name: str, adapter: Adapter | type[Adapter], *, aliases: tuple[str, ...] = (),
                     replace: bool = False) -> Adapter:
    """Make ``adapter`` usable in specs as ``name`` (and as each of ``aliases``).

    Arguments:
        name: the backend's name, lower case, as in ``"name:device"`` specs; it must equal
            ``adapter.name`` (an adapter with an empty name takes this one).
        adapter: an :class:`Adapter` instance, or a subclass to instantiate with no arguments.
        aliases: other spellings that resolve to ``name`` (``"strict"`` for array_api_strict).
        replace: take over names that another backend holds (that backend is unregistered);
            without it a taken name raises :class:`~anynet.errors.ConfigError`. Registering the
            same adapter again only adds the new aliases.

    Returns the registered adapter. An array whose type two adapters own belongs to the one
    registered first.

    Example:
        >>> import anynet
        >>> from anynet.backends import register_backend, unregister_backend
        >>> from anynet.backends._numpy import NumpyAdapter
        >>> class HostNumpy(NumpyAdapter):
        ...     name = "host_numpy"
        >>> _ = register_backend("host_numpy", HostNumpy, aliases=("host",))
        >>> anynet.get_backend("host:cpu").spec
        'host_numpy:cpu'
        >>> unregister_backend("host_numpy")
    """
    _check_name(name, "the name")
    if isinstance(aliases, str):
        raise ConfigError(f"register_backend({name!r}): aliases must be a tuple of names, got {aliases!r}")
    aliases = tuple(_check_name(a, "an alias") for a in aliases)
    adapter = _as_adapter(adapter, name)
    with _lock:
        taken = {owner for key in (name, *aliases) if (owner := _owner(key)) is not None}
        taken = {owner for owner in taken if ADAPTERS[owner] is not adapter}
        if taken and not replace:
            raise ConfigError(
                f"register_backend({name!r}): the name(s) {', '.join(sorted(taken))} are taken by "
                "other backends; choose other names or pass replace=True"
            )
        for owner in sorted(taken):
            unregister_backend(owner)
        ADAPTERS[name] = adapter
        for alias in aliases:
            if alias != name:
                _ALIASES[alias] = name
        _forget([adapter])
    return adapter


def unregister_backend(name: str) -> None:
    """Remove a backend name: an alias alone, or a backend with all its aliases.

    A :class:`Backend` object already made keeps working; specs naming it stop resolving.
    An unknown name raises :class:`~anynet.errors.BackendNotFoundError`.
    """
    with _lock:
        if name in _ALIASES:
            del _ALIASES[name]  # the cache is keyed by canonical names: nothing to drop
            return
        adapter = adapter_named(name)
        del ADAPTERS[name]
        for alias in [a for a, n in _ALIASES.items() if n == name]:
            del _ALIASES[alias]
        _forget([adapter])


def adapter_named(name: str) -> Adapter:
    """The adapter registered as ``name`` (a canonical name; see :func:`split_spec`)."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise BackendNotFoundError(
            f"unknown backend {name!r}; known backends: {', '.join(ADAPTERS)} "
            "(a device may follow a colon, e.g. 'torch:cuda:0'; add your own with "
            "anynet.backends.register_backend)"
        ) from None


def split_spec(spec: Any) -> tuple[str, str | None]:
    """``"Torch:cuda:0"`` -> ``("torch", "cuda:0")``: the canonical backend name (aliases and
    case undone) and the device text, or None where the spec names no device."""
    if not isinstance(spec, str) or not spec.strip():
        raise BackendNotFoundError(
            f"a backend spec must be a non-empty string such as 'numpy' or 'torch:cpu', got {spec!r}"
        )
    name, _, device = spec.strip().partition(":")
    name = name.lower()
    return _ALIASES.get(name, name), (device or None)
