"""Backends: which array library and device anynet computes on, and moving arrays between them.

A *spec* names a backend and optionally a device: ``"numpy"``, ``"cupy:1"``, ``"torch:cuda:0"``,
``"torch:cpu"``, ``"jax:cpu"``, ``"array_api_strict:device1"``. The default backend comes from
the ``ANYNET_BACKEND`` environment variable, read the first time a backend is needed (not at
import), else NumPy. ``set_backend`` changes the default; ``use_backend`` changes it inside a
``with`` block for the current thread or task only.

Example:
    >>> import anynet
    >>> with anynet.use_backend("numpy"):
    ...     anynet.get_backend().name
    'numpy'
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import (
    BackendMismatchError,
    BackendNotFoundError,
    BackendUnavailableError,
    DeviceError,
    InputTypeError,
)
from ._adapter import Adapter
from ._cupy import CupyAdapter
from ._jax import JaxAdapter
from ._numpy import NumpyAdapter
from ._strict import StrictAdapter
from ._torch import TorchAdapter

__all__ = [
    "Adapter",
    "Backend",
    "BackendStatus",
    "available_backends",
    "backend_of",
    "backend_source",
    "common_backend",
    "get_backend",
    "known_backends",
    "namespace_of",
    "set_backend",
    "to_device",
    "to_numpy",
    "use_backend",
]

#: The registry of adapters, in the order they are listed to users.
ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (NumpyAdapter(), CupyAdapter(), TorchAdapter(), JaxAdapter(), StrictAdapter())
}
_ALIASES = {"strict": "array_api_strict", "array-api-strict": "array_api_strict"}

ENV_VAR = "ANYNET_BACKEND"


def known_backends() -> list[str]:
    """Names of every backend anynet knows, installed or not."""
    return list(ADAPTERS)


class Backend:
    """One array library on one device.

    Attributes:
        name: the backend's name (``"numpy"``, ``"torch"`` ...).
        xp: the Array API namespace of the library.
        device: the library's device object.
        spec: the spec that names exactly this backend and device, e.g. ``"torch:cpu"``.
    """

    def __init__(self, adapter: Adapter, device: Any) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.xp: ModuleType = adapter.namespace()
        self.device = device
        self.device_name = adapter.device_name(device)
        self.spec = f"{self.name}:{self.device_name}"
        self._dtypes: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Backend({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    # -- dtypes ----------------------------------------------------------------------------
    def float_dtypes(self) -> dict[str, Any]:
        """The real floating dtypes this device holds, by name (``"float32"``, ``"float64"``)."""
        if self._dtypes is None:
            info = self.xp.__array_namespace_info__()
            try:
                found = dict(info.dtypes(device=self.device, kind="real floating"))
            except Exception:  # some libraries do not know every device they support
                found = dict(info.dtypes(kind="real floating"))
            found.pop("float16", None)
            # torch's MPS device has no float64 even where its info does not say so
            if self.name == "torch" and getattr(self.device, "type", "") == "mps":
                found.pop("float64", None)
            self._dtypes = found
        return self._dtypes

    @property
    def has_float64(self) -> bool:
        return "float64" in self.float_dtypes()

    def widest_float(self) -> str:
        """``"float64"`` where the device has it, else ``"float32"``."""
        return "float64" if self.has_float64 else "float32"

    def dtype(self, dtype: Any = None) -> Any:
        """Resolve a dtype request (None = the default, a name, ``"widest"``, a dtype object)."""
        from ..dtypes import resolve_dtype

        return resolve_dtype(dtype, self)

    # -- arrays ----------------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None, *, copy: bool = True) -> Any:
        """A new array on this backend holding a copy of ``data`` (NumPy or Python numbers).

        With ``dtype=None`` the data keeps its own dtype where it is a NumPy array. With
        ``copy=False`` the result will only be read, so a backend that can use host memory
        directly (NumPy) returns a NumPy array of the right dtype as it is, with no copy.
        """
        host = np.asarray(data)
        if dtype is not None:
            from ..dtypes import dtype_name

            host = host.astype(dtype_name(self.dtype(dtype)), copy=False)
        return self.adapter.from_numpy(host, self.device) if copy else \
            self.adapter.from_numpy_for_reading(host, self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return self.adapter.to_numpy(x)

    @property
    def writeable(self) -> bool:
        """Whether arrays may be updated in place (False for JAX)."""
        return self.adapter.writeable()

    def synchronize(self) -> None:
        """Wait until queued device work is done (for timing; never needed for correctness)."""
        self.adapter.synchronize(self.device)


# -- resolving specs ---------------------------------------------------------------------------
_cache: dict[tuple[str, str | None], Backend] = {}
_lock = threading.Lock()


def _split(spec: str) -> tuple[str, str | None]:
    if not isinstance(spec, str) or not spec.strip():
        raise BackendNotFoundError(
            f"a backend spec must be a non-empty string such as 'numpy' or 'torch:cpu', got {spec!r}"
        )
    name, _, device = spec.strip().partition(":")
    name = _ALIASES.get(name.lower(), name.lower())
    return name, (device or None)


def _adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise BackendNotFoundError(
            f"unknown backend {name!r}; known backends: {', '.join(ADAPTERS)} "
            f"(a device may follow a colon, e.g. 'torch:cuda:0')"
        ) from None


def _load(adapter: Adapter) -> None:
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


def resolve(spec: str | Backend) -> Backend:
    """Turn a spec (or a Backend) into a Backend, importing its library on first use."""
    if isinstance(spec, Backend):
        return spec
    name, device_text = _split(spec)
    key = (name, device_text)
    with _lock:
        if key in _cache:
            return _cache[key]
    adapter = _adapter(name)
    _load(adapter)
    try:
        device = adapter.parse_device(device_text)
    except LookupError:
        have = ", ".join(f"{name}:{adapter.device_name(d)}" for d in adapter.devices())
        raise DeviceError(f"backend {name!r} has no device {device_text!r}; available: {have}") from None
    backend = Backend(adapter, device)
    with _lock:
        _cache.setdefault(key, backend)
        _cache.setdefault((name, backend.device_name), backend)
    return _cache[key]


# -- the default backend -----------------------------------------------------------------------
_scoped: ContextVar[Backend | None] = ContextVar("anynet_backend", default=None)
_global: Backend | None = None
_source = "not chosen yet"


def get_backend(spec: str | Backend | None = None) -> Backend:
    """The backend to compute on: ``spec`` if given, else the scoped or global default.

    The first call without a spec reads ``ANYNET_BACKEND`` (default ``"numpy"``).
    """
    global _global, _source
    if spec is not None:
        return resolve(spec)
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _global is None:
        env = os.environ.get(ENV_VAR, "").strip()
        chosen = resolve(env) if env else resolve("numpy")
        with _lock:
            if _global is None:
                _global = chosen
                _source = f"{ENV_VAR}={env}" if env else "default (numpy)"
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
    """Use ``spec`` as the default inside a ``with`` block (this thread or task only)."""
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


@dataclass(frozen=True)
class BackendStatus:
    """One row of :func:`available_backends`."""

    name: str
    usable: bool
    reason: str
    version: str | None
    devices: tuple[str, ...]


def available_backends() -> dict[str, BackendStatus]:
    """Every known backend with whether it is usable here, and why not."""
    out = {}
    for name, adapter in ADAPTERS.items():
        try:
            _load(adapter)
            devices = tuple(f"{name}:{adapter.device_name(d)}" for d in adapter.devices())
            out[name] = BackendStatus(name, True, "ok", adapter.version(), devices)
        except BackendUnavailableError as exc:
            version = None
            if name in sys.modules:
                version = str(getattr(sys.modules[name], "__version__", None))
            out[name] = BackendStatus(name, False, str(exc), version, ())
    return out


# -- arrays and where they live ----------------------------------------------------------------
_by_type: dict[type, Adapter] = {}


def _adapter_of(x: Any) -> Adapter | None:
    adapter = _by_type.get(type(x))
    if adapter is not None:
        return adapter
    for adapter in ADAPTERS.values():
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
    """True when ``x`` is an array of a library anynet knows."""
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
    """The backend and device an array lives on."""
    adapter = _adapter_of(x)
    if adapter is None:
        raise InputTypeError(
            f"expected an array of one of {', '.join(ADAPTERS)}, got {type(x).__name__}; "
            "convert it first, e.g. numpy.asarray(x, dtype='float32')"
        )
    device = adapter.device_of(x)
    key = (adapter.name, adapter.device_name(device))
    backend = _cache.get(key)
    if backend is None:
        backend = Backend(adapter, device)
        with _lock:
            backend = _cache.setdefault(key, backend)
    return backend


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
