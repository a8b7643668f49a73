"""What ``anynet info`` reports: versions, usable backends, devices, and the default."""

from __future__ import annotations

import os
import platform

from .backends import ENV_VAR, available_backends, backend_source, get_backend


def info_text() -> str:
    """A human-readable report of this installation."""
    import numpy

    import anynet

    lines = [
        f"anynet {anynet.__version__}",
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"numpy {numpy.__version__}",
    ]
    try:
        import array_api_compat

        lines.append(f"array-api-compat {array_api_compat.__version__}")
    except ImportError:
        lines.append("array-api-compat not installed")
    lines.append("")
    lines.append(f"{'backend':<18} {'usable':<7} {'version':<14} devices / reason")
    for name, st in available_backends().items():
        detail = ", ".join(st.devices) if st.usable else st.reason
        lines.append(f"{name:<18} {'yes' if st.usable else 'no':<7} {st.version or '-':<14} {detail}")
    lines.append("")
    env = os.environ.get(ENV_VAR)
    try:
        default = get_backend().spec
        lines.append(f"default backend: {default} (from {backend_source()})")
    except Exception as exc:  # a bad ANYNET_BACKEND must still let `info` report it
        lines.append(f"default backend: unusable ({ENV_VAR}={env!r}): {exc}")
    return "\n".join(lines)
