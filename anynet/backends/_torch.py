"""PyTorch adapter, through array-api-compat's torch namespace (CPU, CUDA, MPS)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter


class TorchAdapter(Adapter):
    name = "torch"
    module_name = "torch"
    distribution = "torch"
    install = ('pip install torch --index-url https://download.pytorch.org/whl/cpu (the CPU build; a plain '
               'install may pull a CUDA build of several GB), then pip install ".[torch]" in a clone of anynet')

    def _make_namespace(self) -> ModuleType:
        import array_api_compat.torch as xp

        return xp

    def devices(self) -> list[Any]:
        torch = self.library()
        devs = [torch.device("cpu")]
        if torch.cuda.is_available():
            devs += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            devs.append(torch.device("mps"))
        return devs

    def default_device(self) -> Any:
        return self.library().device("cpu")

    def parse_device(self, text: str | None) -> Any:
        if text == "cuda":
            text = "cuda:0"
        return super().parse_device(text)

    def float_dtypes(self, device: Any) -> dict[str, Any]:
        found = super().float_dtypes(device)
        if getattr(device, "type", "") == "mps":  # MPS has no float64 even where torch's info says so
            found.pop("float64", None)
        return found

    def owns(self, x: Any) -> bool:
        return isinstance(x, self.library().Tensor)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        return self.library().tensor(a, device=device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy().copy()

    def from_foreign(self, x: Any, device: Any) -> Any:
        torch = self.library()
        return torch.from_dlpack(x).to(device=device, copy=True)

    def synchronize(self, device: Any) -> None:
        torch = self.library()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
