"""CuPy adapter (NVIDIA GPUs), through array-api-compat's cupy namespace."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter


class CupyAdapter(Adapter):
    name = "cupy"
    module_name = "cupy"
    distribution = "cupy"
    install = 'pip install "anynet-nn[cuda12]"  (or "anynet-nn[cuda13]" for CUDA 13)'

    def _make_namespace(self) -> ModuleType:
        import array_api_compat.cupy as xp

        return xp

    def version(self) -> str:
        return str(self.library().__version__)

    def check_usable(self) -> None:
        cupy = self.library()
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken: say so, do not fall back
            raise RuntimeError(f"CuPy is installed but CUDA is not usable: {exc}") from None
        if count == 0:
            raise RuntimeError("CuPy is installed but this machine has no CUDA device")

    def devices(self) -> list[Any]:
        cupy = self.library()
        return [cupy.cuda.Device(i) for i in range(cupy.cuda.runtime.getDeviceCount())]

    def default_device(self) -> Any:
        return self.library().cuda.Device(0)

    def device_name(self, device: Any) -> str:
        return str(device.id)

    def owns(self, x: Any) -> bool:
        return isinstance(x, self.library().ndarray)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        with device:
            return self.library().array(a, copy=True)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.get()

    def from_foreign(self, x: Any, device: Any) -> Any:
        cupy = self.library()
        with device:
            return cupy.array(cupy.from_dlpack(x), copy=True)

    def synchronize(self, device: Any) -> None:
        device.synchronize()
