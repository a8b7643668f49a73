"""JAX adapter (``jax.numpy`` is an Array API namespace). Arrays are immutable.

float64 needs JAX's 64-bit mode (``jax_enable_x64``), a process-wide switch. It cannot be scoped
to anynet's calls: a float64 array used outside the mode silently turns float32 in arithmetic
(``x * 2.0``, ``jnp.sum``), so a ``with jax.enable_x64(True):`` around anynet's own functions
would break the float64 arrays they hand back. So this adapter leaves the switch alone until
float64 is asked for on JAX (a float64 model or array, ``dtype="widest"``, a float64 NumPy array
sent to JAX), and only then turns it on, for the rest of the process. float32 work never touches
it. Without the mode JAX holds integers as int32.
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
    install = 'pip install "anynet-nn[jax]"'

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

    def float_dtypes(self, device: Any) -> dict[str, Any]:
        found = super().float_dtypes(device)
        # outside 64-bit mode JAX lists only float32, but float64 is there once use_dtype asks
        found.setdefault("float64", np.dtype("float64"))
        return found

    def use_dtype(self, name: str) -> None:
        if name == "float64":
            config = self.library().config
            if not config.jax_enable_x64:
                config.update("jax_enable_x64", True)

    def owns(self, x: Any) -> bool:
        return isinstance(x, self.library().Array)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        if a.dtype == np.float64:  # else JAX would quietly store it as float32
            self.use_dtype("float64")
        return self.library().device_put(np.array(a, copy=True), device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    def from_foreign(self, x: Any, device: Any) -> Any:
        return self.from_numpy(np.from_dlpack(x), device)

    def writeable(self) -> bool:
        return False

    def synchronize(self, device: Any) -> None:
        self.library().effects_barrier()
