"""The Backend object: one array library on one device, and its dtypes."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..dtypes import dtype_name, float_dtype_name, get_default_dtype
from ..errors import DeviceError, InputTypeError
from ._adapter import Adapter

__all__ = ["Backend"]


class Backend:
    """One array library on one device. Get one with :func:`anynet.get_backend` (``Backend``
    objects are cached: one per backend and device).

    Attributes:
        name: the backend's name (``"numpy"``, ``"torch"`` ...).
        xp: the Array API namespace of the library.
        device: the library's device object.
        device_name: the device part of the spec (``"cpu"``, ``"cuda:0"``).
        spec: the spec that names exactly this backend and device, e.g. ``"torch:cpu"``.
        adapter: the :class:`~anynet.backends.Adapter` that does the library-specific work.

    On JAX, asking for float64 (a float64 dtype, ``"widest"``, a float64 array to hold) turns on
    JAX's process-wide ``jax_enable_x64`` switch, which float64 needs; float32 work leaves it as
    it was (see ``backends/jax/README.md``).

    Example:
        >>> import numpy as np, anynet
        >>> b = anynet.get_backend("numpy")
        >>> b.spec, b.dtype("widest"), b.asarray([1, 2], dtype="float32").dtype
        ('numpy:cpu', dtype('float64'), dtype('float32'))
    """

    # pickling (later): everything here follows from `spec`; rebuild with resolve(spec) rather
    # than storing the module `xp` or the adapter's library

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
            self._dtypes = self.adapter.float_dtypes(self.device)
        return self._dtypes

    @property
    def has_float64(self) -> bool:
        return "float64" in self.float_dtypes()

    def widest_float(self) -> str:
        """``"float64"`` where the device has it, else ``"float32"``."""
        return "float64" if self.has_float64 else "float32"

    def dtype(self, dtype: Any = None) -> Any:
        """This backend's dtype object for a request.

        Arguments:
            dtype: None (the default dtype in force, see :func:`anynet.get_default_dtype`), a
                name (``"float32"``, ``"float64"``, ``"widest"``: the widest float this device
                holds) or a dtype object of any library.

        Raises ``DeviceError`` when the device cannot hold it (float64 on a device without),
        ``InputError`` for a dtype that is not a float32/float64 request.
        """
        name = float_dtype_name(get_default_dtype() if dtype is None else dtype)
        floats = self.float_dtypes()
        if name == "widest":
            name = self.widest_float()
        if name not in floats:
            raise DeviceError(
                f"{self.spec} has no {name}; it has {', '.join(floats)}. Use dtype='float32' or "
                "dtype='widest' (the widest float this device has)"
            )
        self.adapter.use_dtype(name)
        return floats[name]

    # -- arrays ----------------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None, *, copy: bool = True) -> Any:
        """A new array on this backend holding a copy of ``data`` (NumPy or Python numbers).

        With ``dtype=None`` the data keeps its own dtype where it is a NumPy array. With
        ``copy=False`` the result will only be read, so a backend that can use host memory
        directly (NumPy) returns a NumPy array of the right dtype as it is, with no copy.
        """
        try:
            host = np.asarray(data)
        except (RuntimeError, TypeError) as exc:  # a device array: CuPy and array-api-strict refuse it
            raise InputTypeError(
                f"{self.spec}: asarray takes host data (NumPy arrays, numbers), got a "
                f"{type(data).__module__.partition('.')[0]}.{type(data).__name__} that NumPy cannot read ({exc}); "
                f"move a device array with anynet.to_device(x, {self.spec!r})"
            ) from None
        if dtype is not None:
            host = host.astype(dtype_name(self.dtype(dtype)), copy=False)
        return self.adapter.from_numpy(host, self.device) if copy else \
            self.adapter.from_numpy_for_reading(host, self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy copy of ``x``, an array of this backend."""
        return self.adapter.to_numpy(x)

    @property
    def writeable(self) -> bool:
        """Whether arrays may be updated in place (False for JAX)."""
        return self.adapter.writeable()

    def synchronize(self) -> None:
        """Wait until queued device work is done (for timing; never needed for correctness)."""
        self.adapter.synchronize(self.device)
