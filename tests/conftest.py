"""The backend × dtype test matrix.

A test that takes the ``backend`` fixture runs once per backend (numpy, array_api_strict,
array_api_strict:device1, torch, jax, cupy); one that also takes ``dtype`` runs for float32 and
float64. A backend that is not installed, or has no device, is skipped with the reason, except
those named in ``--require-backends`` (CI names every one but cupy), which fail instead; a name
there that is not in the matrix is a usage error, so a typo cannot quietly require nothing.

``array_api_strict:device1`` is the GPU stand-in: array-api-strict's second device refuses
``numpy.asarray`` exactly as CuPy does, so code that converts a device array implicitly fails
here on any machine, not only on a GPU. On it anynet's code (and the examples') may not read a
device value with ``float()``, ``bool()``, ``int()`` either, which CuPy allows with a hidden
synchronisation: see :func:`refuse_implicit_reads`. Its tests are named
``test_x[array_api_strict:device1]`` (select them with ``-k device1``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import anynet
from anynet.errors import BackendUnavailableError

#: backend specs: a name, or name:device for a second device of one library
MATRIX = ["numpy", "array_api_strict", "array_api_strict:device1", "torch", "jax", "cupy"]
DTYPES = ["float32", "float64"]

settings.register_profile(
    "ci", derandomize=True, max_examples=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev", max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-backends",
        default="",
        help="comma-separated backends that must be usable: their tests fail instead of skipping",
    )


def _required(config: pytest.Config) -> set[str]:
    """The specs of ``--require-backends``: split at commas only (a spec may hold a colon,
    ``array_api_strict:device1``), spaces and case ignored."""
    return {b.strip().lower() for b in config.getoption("--require-backends").split(",") if b.strip()}


def pytest_configure(config: pytest.Config) -> None:
    unknown = sorted(_required(config) - set(MATRIX))
    if unknown:
        raise pytest.UsageError(f"--require-backends names {', '.join(unknown)}, not in the test matrix; "
                                f"use some of: {','.join(MATRIX)}")


def load_backend(name: str, config: pytest.Config) -> anynet.Backend:
    """The backend ``name``, or a skip (fail, when required) saying why it cannot run."""
    try:
        return anynet.get_backend(name)
    except BackendUnavailableError as exc:
        if name in _required(config):
            pytest.fail(f"required backend {name} is unusable: {exc}")
        pytest.skip(f"{name}: {exc}")


@pytest.fixture(params=MATRIX)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> anynet.Backend:
    found = load_backend(request.param, request.config)
    if request.param == STANDIN:
        refuse_implicit_reads(monkeypatch)
    return found


#: the GPU stand-in of the matrix
STANDIN = "array_api_strict:device1"
#: anynet modules that still read a device value with float()/bool() (each is a patch to apply;
#: the entry goes when it is): the stand-in lets those through
PENDING_IMPLICIT_READS: tuple[str, ...] = ()
_PACKAGE = os.path.dirname(os.path.abspath(anynet.__file__))
_EXAMPLES = os.path.join(os.path.dirname(_PACKAGE), "examples")


def refuse_implicit_reads(monkeypatch: pytest.MonkeyPatch, *, pending: tuple[str, ...] = PENDING_IMPLICIT_READS,
                          everywhere: bool = False) -> None:
    """Make array-api-strict's non-CPU arrays refuse ``float()``, ``bool()``, ``int()``,
    ``operator.index`` and ``complex()`` when anynet's code (or an example) asks: a host read
    must be an explicit transfer (``anynet.to_numpy``). CuPy allows these with a hidden device
    synchronisation, which is how a host read slips into a training step unseen. Test code may
    still convert (it reads results) unless ``everywhere``; the modules ``pending`` may too."""
    import sys

    from array_api_strict._array_object import Array

    cpu = anynet.get_backend("array_api_strict").device
    let_through = tuple(os.path.join(_PACKAGE, name) for name in pending)

    def refusing(name: str, allowed: Any) -> Any:
        def method(self: Any, *args: Any) -> Any:
            if self.device != cpu:
                caller = sys._getframe(1).f_code.co_filename
                ours = everywhere or caller.startswith((_PACKAGE, _EXAMPLES))
                if ours and not (let_through and caller.startswith(let_through)):
                    raise AssertionError(f"implicit host read: {name} of an array on {self.device} in {caller}; "
                                         "read it with anynet.to_numpy (once per epoch at most)")
            return allowed(self, *args)
        return method

    for name in ("__bool__", "__float__", "__int__", "__index__", "__complex__"):
        monkeypatch.setattr(Array, name, refusing(name, getattr(Array, name)))


@pytest.fixture(params=DTYPES)
def dtype(request: pytest.FixtureRequest) -> str:
    return request.param


def tolerance(dtype: str) -> dict[str, float]:
    """Cross-backend agreement promised in README (relative to NumPy)."""
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _isolate_defaults():
    """Each test starts with the numpy default backend and float32."""
    anynet.set_backend("numpy")
    anynet.set_default_dtype("float32")
    yield
    anynet.set_backend("numpy")
    anynet.set_default_dtype("float32")
