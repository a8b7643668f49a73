"""NumPy adapter: the default backend, on the host CPU."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter


class NumpyAdapter(Adapter):
    name = "numpy"
    module_name = "numpy"
    distribution = "numpy"
    install = 'pip install "numpy>=2.1"'

    def _make_namespace(self) -> ModuleType:
        # NumPy >= 2.1 is itself an Array API namespace; using it directly avoids the thin
        # wrapper layer of array_api_compat.numpy on the hot path.
        return np

    def devices(self) -> list[Any]:
        return ["cpu"]

    def default_device(self) -> Any:
        return "cpu"

    def device_of(self, x: Any) -> Any:
        return "cpu"

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        return np.array(a, copy=True)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    def from_foreign(self, x: Any, device: Any) -> Any:
        return np.array(np.from_dlpack(x), copy=True)
