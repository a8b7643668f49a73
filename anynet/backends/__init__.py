"""Backends: which array library and device anynet computes on, and moving arrays between them.

A *spec* names a backend and optionally a device: ``"numpy"``, ``"cupy:1"``, ``"torch:cuda:0"``,
``"torch:cpu"``, ``"jax:cpu"``, ``"array_api_strict:device1"``. The default backend comes from
the ``ANYNET_BACKEND`` environment variable, read the first time a backend is needed (not at
import), else NumPy. ``set_backend`` changes the default; ``use_backend`` changes it inside a
``with`` block for the current thread or task only.

The package is one module per job; this file only gathers their public names:

- ``_adapter.py``: :class:`Adapter`, the contract with one array library; ``_numpy.py``,
  ``_cupy.py``, ``_torch.py``, ``_jax.py``, ``_strict.py``: the adapters, the only modules that
  name a library (``_builtin.py`` registers them).
- ``_registry.py``: :func:`register_backend`, names and aliases, reading a spec.
- ``_backend.py``: :class:`Backend`, one library on one device, and its dtypes.
- ``_resolve.py``: :func:`resolve`, spec to Backend.
- ``_default.py``: the global and scoped default backend.
- ``_status.py``: :func:`available_backends`.
- ``_arrays.py``: which backend an array belongs to.
- ``_transfer.py``: :func:`to_device`, :func:`to_numpy`.

Example:
    >>> import anynet
    >>> with anynet.use_backend("numpy"):
    ...     anynet.get_backend().name
    'numpy'
"""

from __future__ import annotations

from . import _builtin  # noqa: F401  (registers numpy, cupy, torch, jax, array_api_strict)
from ._adapter import Adapter
from ._arrays import backend_of, common_backend, is_array, namespace_of
from ._backend import Backend
from ._default import ENV_VAR, backend_source, get_backend, set_backend, use_backend
from ._registry import ADAPTERS, known_backends, register_backend, unregister_backend
from ._resolve import resolve
from ._status import BackendStatus, available_backends
from ._transfer import to_device, to_numpy

__all__ = [
    "ADAPTERS",
    "ENV_VAR",
    "Adapter",
    "Backend",
    "BackendStatus",
    "available_backends",
    "backend_of",
    "backend_source",
    "common_backend",
    "get_backend",
    "is_array",
    "known_backends",
    "namespace_of",
    "register_backend",
    "resolve",
    "set_backend",
    "to_device",
    "to_numpy",
    "unregister_backend",
    "use_backend",
]
