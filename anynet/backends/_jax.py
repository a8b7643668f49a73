"""JAX adapter (``jax.numpy`` is an Array API namespace). Arrays are immutable.

Loading this adapter turns on ``jax_enable_x64`` so that float64 exists; anynet always passes
its dtypes explicitly, so float32 models stay float32.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter


class JaxAdapter(Adapter):
    name = "jax"
    module_name = "jax"
    distribution = "jax"
    install = 'pip install "anynet[jax]"'

    def _on_load(self, lib: ModuleType) -> None:
        lib.config.update("jax_enable_x64", True)

    def _make_namespace(self) -> ModuleType:
        self.library()
        import jax.numpy as jnp

        return jnp

    def devices(self) -> list[Any]:
        return list(self.library().devices())

    def default_device(self) -> Any:
        return self.devices()[0]

    def device_name(self, device: Any) -> str:
        return f"{device.platform}:{device.id}"

    def parse_device(self, text: str | None) -> Any:
        if text in ("cpu", "gpu", "cuda", "tpu"):
            platform = "gpu" if text == "cuda" else text
            try:
                return self.library().devices(platform)[0]
            except RuntimeError as exc:
                raise LookupError(text) from exc
        if text is not None and text.startswith("cuda:"):
            text = "gpu:" + text[5:]
        return super().parse_device(text)

    def device_of(self, x: Any) -> Any:
        (dev,) = x.devices()
        return dev

    def owns(self, x: Any) -> bool:
        return isinstance(x, self.library().Array)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        return self.library().device_put(np.array(a, copy=True), device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    def from_foreign(self, x: Any, device: Any) -> Any:
        return self.from_numpy(np.from_dlpack(x), device)

    def writeable(self) -> bool:
        return False

    def synchronize(self, device: Any) -> None:
        self.library().effects_barrier()
