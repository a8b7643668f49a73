"""The backends anynet ships, registered like any other (the order is the order users see)."""

from __future__ import annotations

from ._cupy import CupyAdapter
from ._jax import JaxAdapter
from ._numpy import NumpyAdapter
from ._registry import register_backend
from ._strict import StrictAdapter
from ._torch import TorchAdapter

register_backend("numpy", NumpyAdapter)
register_backend("cupy", CupyAdapter)
register_backend("torch", TorchAdapter)
register_backend("jax", JaxAdapter)
register_backend("array_api_strict", StrictAdapter, aliases=("strict", "array-api-strict"))
