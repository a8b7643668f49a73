"""array-api-strict adapter: the referee. Code that runs here uses only the standard.

Its devices emulate accelerator restrictions on the CPU: ``device1``/``device2`` refuse to be
mixed, ``no_float64`` has no float64.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter


class StrictAdapter(Adapter):
    name = "array_api_strict"
    module_name = "array_api_strict"
    distribution = "array-api-strict"
    install = 'pip install "anynet-nn[strict]"'

    def _make_namespace(self) -> ModuleType:
        return self.library()

    def device_name(self, device: Any) -> str:
        return repr(device).split("'")[1]

    def owns(self, x: Any) -> bool:
        return type(x).__module__.startswith("array_api_strict")

    def to_numpy(self, x: Any) -> np.ndarray:
        x = x.to_device(self.namespace().Device("CPU_DEVICE"))
        return np.array(np.from_dlpack(x), copy=True)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        xp = self.namespace()
        return xp.asarray(a, copy=True).to_device(device)

    def from_foreign(self, x: Any, device: Any) -> Any:
        return self.from_numpy(np.from_dlpack(x), device)
