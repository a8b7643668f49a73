"""The adapter contract: what anynet needs to know about one array library.

An adapter is the only place that names a library. Everything above it works on the array
namespace ``xp`` that the adapter hands out and uses only the Python Array API standard.
Make a backend of your own by subclassing :class:`Adapter` and passing it to
:func:`anynet.backends.register_backend`.

The built-in adapters keep no state but the library and namespace they imported (so a ``Backend``
can be rebuilt from its spec in another process).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np


class Adapter:
    """Base class of the per-library adapters.

    Subclasses set the class attributes and override the hooks whose generic version does not
    fit their library.
    """

    #: name used in specs such as ``"torch:cpu"``
    name: str = ""
    #: module imported to check that the library is installed
    module_name: str = ""
    #: distribution name to report the version of
    distribution: str = ""
    #: how to install it (shown in errors)
    install: str = ""

    def __init__(self) -> None:
        self._xp: ModuleType | None = None
        self._lib: ModuleType | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- loading ---------------------------------------------------------------------------
    def library(self) -> ModuleType:
        """Import and return the library module (raises ImportError if missing)."""
        if self._lib is None:
            self._lib = importlib.import_module(self.module_name)
            self._on_load(self._lib)
        return self._lib

    def _on_load(self, lib: ModuleType) -> None:
        """Hook run once after the library is imported."""

    def namespace(self) -> ModuleType:
        """The Array API namespace of this library."""
        if self._xp is None:
            self._xp = self._make_namespace()
        return self._xp

    def _make_namespace(self) -> ModuleType:
        raise NotImplementedError

    def version(self) -> str:
        return str(getattr(self.library(), "__version__", "unknown"))

    def check_usable(self) -> None:
        """Raise an exception with a reason if the library is installed but cannot run."""

    # -- devices ---------------------------------------------------------------------------
    def devices(self) -> list[Any]:
        """The devices this library can place arrays on."""
        return list(self.namespace().__array_namespace_info__().devices())

    def default_device(self) -> Any:
        return self.namespace().__array_namespace_info__().default_device()

    def parse_device(self, text: str | None) -> Any:
        """Turn the device part of a spec (``"1"``, ``"cuda:0"``) into a device object."""
        if text is None:
            return self.default_device()
        for dev in self.devices():
            if self.device_name(dev) == text or str(dev) == text:
                return dev
        raise LookupError(text)

    def device_name(self, device: Any) -> str:
        return str(device)

    def device_of(self, x: Any) -> Any:
        return x.device

    # -- dtypes ----------------------------------------------------------------------------
    def float_dtypes(self, device: Any) -> dict[str, Any]:
        """The real floating dtypes ``device`` holds, by name (``"float32"``, ``"float64"``);
        float16 is left out (anynet does not train in it)."""
        info = self.namespace().__array_namespace_info__()
        try:
            found = dict(info.dtypes(device=device, kind="real floating"))
        except Exception:  # some libraries do not know every device they support
            found = dict(info.dtypes(kind="real floating"))
        found.pop("float16", None)
        return found

    def use_dtype(self, name: str) -> None:
        """Called with a dtype name (``"float64"``) before anynet makes arrays of that dtype, for
        a library that must be switched on for it (JAX's 64-bit mode). Generic: nothing."""

    # -- arrays ----------------------------------------------------------------------------
    def owns(self, x: Any) -> bool:
        """True when ``x`` is an array of this library."""
        raise NotImplementedError

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        """A new array on ``device`` holding a copy of the NumPy array ``a``."""
        return self.namespace().asarray(a, device=device, copy=True)

    def from_numpy_for_reading(self, a: np.ndarray, device: Any) -> Any:
        """An array on ``device`` with the values of ``a``, which anynet will only read (the data
        set in ``fit``): a library that can use host memory directly may return ``a`` itself
        rather than a second copy. The generic version copies."""
        return self.from_numpy(a, device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy array holding a copy of ``x``."""
        return np.array(np.from_dlpack(x), copy=True)

    def from_foreign(self, x: Any, device: Any) -> Any:
        """Move an array of another library here through DLPack (a copy)."""
        return self.namespace().from_dlpack(x, device=device, copy=True)

    def writeable(self) -> bool:
        """Whether arrays of this library may be updated in place."""
        return True

    def synchronize(self, device: Any) -> None:
        """Wait for queued work on ``device`` (a no-op for eager CPU libraries)."""

    # -- fast paths: each has a generic version that uses only the standard -----------------
    def matmul_reusing(self, a: Any, b: Any, old: Any) -> Any:
        """``a @ b`` for 2-D ``a`` and ``b``. ``old`` is the array this call site returned last
        time (or None); an adapter whose library can write into an existing array may store the
        result there instead of allocating, when ``old`` has the result's shape and dtype.
        The generic version always allocates."""
        return a @ b
