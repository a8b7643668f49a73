"""Which registered backends can run here, and why not (``anynet info``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import BackendUnavailableError
from ._registry import ADAPTERS
from ._resolve import load_adapter

__all__ = ["BackendStatus", "available_backends"]


@dataclass(frozen=True)
class BackendStatus:
    """One row of :func:`available_backends`."""

    name: str
    usable: bool
    reason: str
    version: str | None
    devices: tuple[str, ...]


def available_backends() -> dict[str, BackendStatus]:
    """Every known backend with whether it is usable here, and why not.

    Example:
        >>> available_backends()["numpy"].devices
        ('numpy:cpu',)
    """
    out = {}
    for name, adapter in list(ADAPTERS.items()):
        try:
            load_adapter(adapter)
            devices = tuple(f"{name}:{adapter.device_name(d)}" for d in adapter.devices())
            out[name] = BackendStatus(name, True, "ok", adapter.version(), devices)
        except BackendUnavailableError as exc:
            module = sys.modules.get(adapter.module_name)
            version = None if module is None else str(getattr(module, "__version__", None))
            out[name] = BackendStatus(name, False, str(exc), version, ())
    return out
