"""The exceptions anynet raises.

Every error anynet raises for a user mistake is one of these, and its message says what was
wrong, what came, and how to fix it. They subclass the built-in exception a Python user would
expect (``ValueError``, ``TypeError``, ``ImportError``) so existing ``except`` clauses keep working.
"""

from __future__ import annotations


class AnynetError(Exception):
    """Base class of every error anynet raises on purpose."""


class BackendNotFoundError(AnynetError, ValueError):
    """A backend name that anynet does not know."""


class BackendUnavailableError(AnynetError, ImportError):
    """A known backend whose library is not installed, or which has no usable device."""


class DeviceError(AnynetError, ValueError):
    """A device that a backend does not have, or a dtype a device cannot hold."""


class BackendMismatchError(AnynetError, ValueError):
    """Arrays of two backends or two devices mixed in one call."""


class InputError(AnynetError, ValueError):
    """Bad input to a public function: wrong shape, dtype, values or labels."""


class InputTypeError(AnynetError, TypeError):
    """Input of the wrong kind altogether (e.g. a string where an array was expected)."""


class CheckpointError(AnynetError, ValueError):
    """A checkpoint that cannot be trusted: corrupt, truncated, tampered with or unsupported."""


class NonFiniteLossError(AnynetError, FloatingPointError):
    """Training produced a NaN or infinite loss; the message names the step."""


class ConfigError(AnynetError, ValueError):
    """A bad argument to a constructor or option: an out-of-range hyper-parameter, a name that
    is not registered, a registration that clashes."""


class UnknownNameError(ConfigError):
    """A name (of a layer, loss, optimizer, activation, …) that the registry does not know."""


class StateDictError(AnynetError, ValueError):
    """A state dict whose keys or shapes do not match the model (``load_state_dict``)."""


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint that could not be written (a missing folder, a full disk); the message names the
    target path, never the temporary file. The previous file at that path is left as it was."""
