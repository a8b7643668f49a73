"""One registry for every part anynet can name: layers, activations, losses, optimizers, schedules,
metrics, initializers and model types.

What is registered can be used by name (``Dense(..., activation="square")``,
``fit(loss="my_loss")``), saved in a checkpoint and loaded again: checkpoints name parts only
through this registry, so loading never imports anything a file names.

Example:
    >>> import anynet
    >>> @anynet.register("metric", "always_one")
    ... def always_one():
    ...     return None
    >>> anynet.registry.lookup("metric", "always_one") is always_one
    True
    >>> anynet.registry.unregister("metric", "always_one")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ConfigError, UnknownNameError

__all__ = ["KINDS", "construct", "lookup", "name_of", "name_property", "names", "register", "unregister"]

#: the kinds of part that can be registered
KINDS = ("layer", "activation", "loss", "optimizer", "schedule", "metric", "initializer", "model")

_ENTRIES: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
#: registered object (by id) -> its canonical name, per kind, for saving
_CANONICAL: dict[str, dict[int, str]] = {kind: {} for kind in KINDS}

T = TypeVar("T")


def _kind(kind: Any) -> str:
    if kind not in _ENTRIES:
        raise ConfigError(f"unknown registry kind {kind!r}; the kinds are {', '.join(KINDS)}")
    return kind


def register(kind: str, name: str | None = None, *, aliases: tuple[str, ...] = (),
             replace: bool = False) -> Callable[[T], T]:
    """Decorator: register ``obj`` under ``kind`` as ``name`` (default: ``obj.name`` if it is a
    string, else ``obj.__name__``), plus ``aliases``. Returns ``obj`` unchanged.

    Registering a name that is taken by another object raises :class:`~anynet.ConfigError`
    unless ``replace=True``; registering the same object again is a no-op.

    Example:
        >>> import anynet
        >>> from anynet.layers import Layer
        >>> @anynet.register("layer")
        ... class Twice(Layer):
        ...     def forward(self, x, *, training=False, need_dx=True):
        ...         return 2 * x, lambda dy: 2 * dy
        >>> anynet.registry.lookup("layer", "Twice") is Twice
        True
        >>> anynet.registry.unregister("layer", "Twice")
    """
    table = _ENTRIES[_kind(kind)]

    def add(obj: T) -> T:
        canonical = name
        if canonical is None:
            own = getattr(obj, "name", None)
            canonical = own if isinstance(own, str) else getattr(obj, "__name__", None)
        if not isinstance(canonical, str) or not canonical:
            raise ConfigError(f"register({kind!r}): cannot tell the name of {obj!r}; pass name=")
        for key in (canonical, *aliases):
            if not isinstance(key, str) or not key:
                raise ConfigError(f"register({kind!r}): names must be non-empty strings, got {key!r}")
            old = table.get(key)
            if old is not None and old is not obj and not replace:
                raise ConfigError(f"register({kind!r}): the name {key!r} is already taken by {old!r}; "
                                  "choose another name or pass replace=True")
        for key in (canonical, *aliases):
            table[key] = obj
        _CANONICAL[kind].setdefault(id(obj), canonical)
        return obj

    return add


def unregister(kind: str, name: str) -> None:
    """Remove ``name`` (and, if it was the canonical name, the object's reverse entry)."""
    table = _ENTRIES[_kind(kind)]
    obj = table.pop(name, None)
    if obj is not None and _CANONICAL[kind].get(id(obj)) == name:
        rest = [k for k, v in table.items() if v is obj]
        if rest:
            _CANONICAL[kind][id(obj)] = rest[0]
        else:
            del _CANONICAL[kind][id(obj)]


def lookup(kind: str, name: Any) -> Any:
    """The object registered under ``name``; an unknown name raises
    :class:`~anynet.UnknownNameError` (a ``ValueError``) listing the known names."""
    table = _ENTRIES[_kind(kind)]
    if isinstance(name, str):
        if name in table:
            return table[name]
        low = name.lower()
        for key, obj in table.items():
            if key.lower() == low:
                return obj
    shown = name if not isinstance(name, str) else name[:80]
    raise UnknownNameError(f"unknown {kind} {shown!r}; known: {', '.join(names(kind))} "
                           f"(register your own with anynet.register({kind!r}))")


def names(kind: str) -> list[str]:
    """The canonical names registered for ``kind`` (aliases left out), sorted."""
    table = _ENTRIES[_kind(kind)]
    return sorted({_CANONICAL[kind].get(id(obj), key) for key, obj in table.items()})


def name_of(kind: str, obj: Any) -> str | None:
    """The canonical name ``obj`` is registered under, or None if it is not registered."""
    name = _CANONICAL[_kind(kind)].get(id(obj))
    return name if name is not None and _ENTRIES[kind].get(name) is obj else None


def name_property(kind: str) -> property:
    """A ``name`` property for the classes of one kind (losses, metrics): the name an object's class
    is registered under (its class name if not registered), unless the object was given its own
    with ``obj.name = "..."``.

    Example:
        >>> class Thing:
        ...     name = name_property("loss")
        >>> t = Thing(); t.name
        'Thing'
        >>> t.name = "mine"; t.name
        'mine'
    """

    def get(self: Any) -> str:
        own = self.__dict__.get("_name")
        return own if own is not None else name_of(kind, type(self)) or type(self).__name__

    def set_(self: Any, value: str) -> None:
        self.__dict__["_name"] = value

    return property(get, set_, doc=f"The name the {kind}'s class is registered under (its class name if not "
                                   "registered), or the one given to this object.")


def construct(factory: Callable[..., Any], options: Any, *, what: str) -> Any:
    """``factory(**options)``, with options it does not take (or that are not a dict of names)
    reported as :class:`~anynet.ConfigError` naming ``what`` — for parts built from a user's
    options or a checkpoint's config."""
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise ConfigError(f"{what}: options must be a dict with string keys, got {str(options)[:80]}")
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        raise ConfigError(f"{what} does not take the options {sorted(options)}") from None
    except ValueError:  # no signature to read: let the call decide
        pass
    return factory(**options)
