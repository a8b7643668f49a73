"""anynet: fully-connected neural networks written once against the Python Array API standard.

One network definition runs on NumPy (the default), CuPy, PyTorch, JAX or array-api-strict.
Choose with ``ANYNET_BACKEND=cupy`` or :func:`anynet.set_backend`.
"""

from __future__ import annotations

from . import (
    activations,
    batches,
    callbacks,
    checkpoint,
    datasets,
    distributed,
    fileformat,
    init,
    layers,
    losses,
    metrics,
    network,
    optim,
    plot,
    random,
    registry,
    schedules,
    training,
)
from .backends import (
    Backend,
    available_backends,
    backend_of,
    backend_source,
    get_backend,
    known_backends,
    register_backend,
    set_backend,
    to_device,
    to_numpy,
    use_backend,
)
from .checkpoint import load
from .dtypes import default_dtype, get_default_dtype, set_default_dtype
from .errors import (
    AnynetError,
    BackendMismatchError,
    BackendNotFoundError,
    BackendUnavailableError,
    CheckpointError,
    ConfigError,
    DeviceError,
    InputError,
    InputTypeError,
    NonFiniteLossError,
    StateDictError,
    UnknownNameError,
)
from .model import Graph, Model, Sequential
from .registry import register

__version__ = "0.1.0"

__all__ = [
    "AnynetError",
    "Backend",
    "Graph",
    "Sequential",
    "BackendMismatchError",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "CheckpointError",
    "ConfigError",
    "DeviceError",
    "InputError",
    "InputTypeError",
    "NonFiniteLossError",
    "StateDictError",
    "UnknownNameError",
    "Model",
    "register",
    "registry",
    "network",
    "batches",
    "training",
    "checkpoint",
    "fileformat",
    "__version__",
    "available_backends",
    "backend_of",
    "backend_source",
    "default_dtype",
    "get_backend",
    "get_default_dtype",
    "known_backends",
    "register_backend",
    "activations",
    "callbacks",
    "datasets",
    "distributed",
    "init",
    "layers",
    "load",
    "losses",
    "metrics",
    "optim",
    "plot",
    "random",
    "schedules",
    "set_backend",
    "set_default_dtype",
    "to_device",
    "to_numpy",
    "use_backend",
]
