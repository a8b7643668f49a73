"""Backend selection, devices, transfer and dtypes (the foundation)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import anynet
from anynet.backends import (
    ADAPTERS,
    Adapter,
    common_backend,
    known_backends,
    register_backend,
    unregister_backend,
)
from anynet.backends._numpy import NumpyAdapter
from anynet.errors import (
    BackendMismatchError,
    BackendNotFoundError,
    BackendUnavailableError,
    ConfigError,
    DeviceError,
    InputTypeError,
)

from .conftest import MATRIX, load_backend


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "ANYNET_BACKEND"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                          timeout=120)


def test_env_var_is_read_lazily_and_selects_the_backend(request):
    load_backend("torch", request.config)
    out = _python("import anynet; print(anynet.get_backend().name)", ANYNET_BACKEND="torch")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "torch"


def test_env_var_device_spec(request):
    load_backend("torch", request.config)
    out = _python("import anynet; print(anynet.get_backend().spec)", ANYNET_BACKEND="torch:cpu")
    assert out.stdout.strip() == "torch:cpu", out.stderr


def test_unknown_env_backend_fails_when_first_needed_not_at_import():
    code = (
        "import anynet\n"
        "print('imported')\n"
        "anynet.get_backend()\n"
    )
    out = _python(code, ANYNET_BACKEND="nonsense")
    assert out.stdout.strip() == "imported"
    assert "BackendNotFoundError" in out.stderr
    assert "unknown backend 'nonsense'" in out.stderr
    for name in ADAPTERS:
        assert name in out.stderr


def test_cupy_without_cuda_says_so():
    try:
        anynet.get_backend("cupy")
    except BackendUnavailableError as exc:
        text = str(exc)
        assert ("not installed" in text and 'pip install "anynet-nn[cuda12]"' in text) or "CUDA" in text
        assert isinstance(exc, ImportError)  # still caught by `except ImportError`
    else:
        pytest.skip("cupy is usable here; the no-CUDA message is tested on machines without it")


def test_unknown_backend_lists_known_ones():
    with pytest.raises(BackendNotFoundError, match="known backends: numpy, cupy, torch, jax"):
        anynet.set_backend("tensorflow")
    with pytest.raises(ValueError):
        anynet.get_backend("")


def test_unknown_device_lists_available_ones():
    with pytest.raises(DeviceError, match="available: numpy:cpu"):
        anynet.get_backend("numpy:gpu7")


def test_spec_and_equality(backend):
    again = anynet.get_backend(backend.spec)
    assert again == backend and hash(again) == hash(backend)
    assert backend.name in backend.spec


def test_use_backend_is_scoped_and_thread_local(request):
    load_backend("array_api_strict", request.config)
    seen = {}

    def other_thread():
        seen["other"] = anynet.get_backend().name

    with anynet.use_backend("array_api_strict") as b:
        assert b.name == "array_api_strict"
        assert anynet.get_backend().name == "array_api_strict"
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert anynet.backend_source() == "anynet.use_backend() scope"
    assert seen["other"] == "numpy"
    assert anynet.get_backend().name == "numpy"


def test_available_backends_reports_every_known_one():
    status = anynet.available_backends()
    assert list(status) == list(ADAPTERS)
    assert status["numpy"].usable and status["numpy"].devices == ("numpy:cpu",)
    for st in status.values():
        assert st.usable or st.reason


def test_info_command_runs():
    out = subprocess.run([sys.executable, "-m", "anynet", "info"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "default backend: numpy:cpu" in out.stdout


def _installed():
    names = []
    for name in MATRIX:
        try:
            anynet.get_backend(name)
            names.append(name)
        except BackendUnavailableError:
            pass
    return names


@pytest.mark.parametrize("src,dst", list(itertools.product(MATRIX, MATRIX)))
def test_to_device_round_trip_for_every_pair(src, dst, request):
    load_backend(src, request.config)
    load_backend(dst, request.config)
    host = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float64)
    a = anynet.to_device(host, src)
    b = anynet.to_device(a, dst)
    assert anynet.backend_of(b) == anynet.get_backend(dst)  # the library and the device
    back = anynet.to_numpy(b)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, host)
    # a copy, never a view of the caller's data
    back[0, 0] = 99.0
    np.testing.assert_array_equal(anynet.to_numpy(a)[0, 0], host[0, 0])


def test_to_device_walks_dicts_and_lists(backend):
    tree = {"w": np.ones((2, 2), np.float32), "list": [np.zeros(3, np.float32), 7], "name": "x"}
    moved = anynet.to_device(tree, backend)
    assert anynet.backend_of(moved["w"]) == backend
    assert anynet.backend_of(moved["list"][0]) == backend
    assert moved["list"][1] == 7 and moved["name"] == "x"
    assert anynet.to_numpy(moved)["w"].sum() == 4


def test_mixing_backends_names_both_and_the_fix(request):
    load_backend("torch", request.config)
    a = np.ones(3)
    b = anynet.to_device(a, "torch")
    with pytest.raises(BackendMismatchError) as info:
        common_backend(a, b, where="Dense.forward")
    text = str(info.value)
    assert "numpy:cpu" in text and "torch:cpu" in text and "anynet.to_device" in text
    assert "Dense.forward" in text


def test_mixing_devices_is_refused(request):
    load_backend("array_api_strict", request.config)
    a = anynet.to_device(np.ones(3), "array_api_strict:device1")
    b = anynet.to_device(np.ones(3), "array_api_strict:device2")
    with pytest.raises(BackendMismatchError, match="device1.*device2"):
        common_backend(a, b)


def test_asarray_of_a_device_array_names_to_device(request):
    load_backend("array_api_strict", request.config)
    x = anynet.to_device(np.ones(3), "array_api_strict:device1")  # refuses numpy.asarray, as CuPy does
    for spec in ("numpy", "array_api_strict:device1"):
        with pytest.raises(InputTypeError, match=r"array_api_strict\.Array.*anynet\.to_device\(x, '" + spec):
            anynet.get_backend(spec).asarray(x)


def test_float64_less_device(request):
    load_backend("array_api_strict", request.config)
    b = anynet.get_backend("array_api_strict:no_float64")
    assert not b.has_float64 and b.widest_float() == "float32"
    with pytest.raises(DeviceError, match="has no float64.*widest"):
        b.asarray(np.ones(2), dtype="float64")
    assert anynet.to_numpy(b.asarray(np.ones(2), dtype="widest")).dtype == np.float32


def test_default_dtype_global_and_scoped(backend):
    assert backend.dtype() == backend.float_dtypes()["float32"]
    with anynet.default_dtype("float64"):
        assert anynet.get_default_dtype() == "float64"
        assert backend.dtype() == backend.float_dtypes()["float64"]
    anynet.set_default_dtype("float64")
    assert anynet.get_default_dtype() == "float64"
    with pytest.raises(ValueError, match="unsupported float dtype"):
        anynet.set_default_dtype("int32")


def test_host_randomness_is_bitwise_identical_on_every_backend(backend, dtype):
    draw = anynet.random.as_generator(42).standard_normal((5, 7))
    on_device = backend.asarray(draw, dtype=dtype)
    np.testing.assert_array_equal(anynet.to_numpy(on_device), draw.astype(dtype))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "7"])
def test_seed_validation(bad):
    with pytest.raises(TypeError, match="seed must be"):
        anynet.random.as_generator(bad)


def test_numpy_fast_reductions_and_take_match_numpy():
    xp = anynet.get_backend("numpy").xp
    g = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        x = g.standard_normal((7, 5)).astype(dt)
        for axis in (None, 0, 1, -1):
            for keepdims in (False, True):
                np.testing.assert_array_equal(xp.sum(x, axis=axis, keepdims=keepdims),
                                              np.sum(x, axis=axis, keepdims=keepdims))
                np.testing.assert_array_equal(xp.max(x, axis=axis, keepdims=keepdims),
                                              np.max(x, axis=axis, keepdims=keepdims))
                assert xp.sum(x, axis=axis).dtype == dt
    x = g.standard_normal((7, 5)).astype(np.float32)
    for idx in (np.array([3, 0, 3, 6]), np.array([], dtype=np.int64), np.array([-1, 2])):
        np.testing.assert_array_equal(xp.take(x, idx, axis=0), np.take(x, idx, axis=0))
        np.testing.assert_array_equal(xp.take(x, idx[idx < 5], axis=1), np.take(x, idx[idx < 5], axis=1))
    with pytest.raises(IndexError):
        xp.take(x, np.array([7]), axis=0)  # out of range still raises as NumPy does
    ints = np.arange(6, dtype=np.int8)
    assert xp.sum(ints).dtype == np.sum(ints).dtype  # integer sums keep NumPy's promotion
    with pytest.raises(ValueError):
        xp.max(np.zeros((0,)))  # empty input still raises as NumPy does


def test_numpy_matmul_reusing_writes_into_a_fitting_buffer_only():
    adapter = anynet.get_backend("numpy").adapter
    size = anynet.backends._numpy.REUSE_MIN_SIZE
    g = np.random.default_rng(0)
    a, b = g.standard_normal((8, 512)).astype(np.float32), g.standard_normal((8, size // 512)).astype(np.float32)
    expect = a.T @ b
    old = np.zeros_like(expect)
    got = adapter.matmul_reusing(a.T, b, old)
    assert got is old
    np.testing.assert_array_equal(got, expect)
    # results that cannot go into `old` get a fresh array, with the same numbers
    frozen = np.zeros_like(expect)
    frozen.flags.writeable = False
    refused = [None, np.zeros(expect.shape, np.float64), np.zeros((512, size // 512 + 1), np.float32),
               np.zeros_like(expect, order="F"), frozen]
    for o in refused:
        fresh = adapter.matmul_reusing(a.T, b, o)
        assert fresh is not o and fresh.dtype == np.float32
        np.testing.assert_array_equal(fresh, expect)
    small_a, small_b = a[:, :4], b[:, :4]  # below REUSE_MIN_SIZE: allocating is cheaper
    small_old = np.zeros((4, 4), np.float32)
    assert adapter.matmul_reusing(small_a.T, small_b, small_old) is not small_old


@pytest.mark.parametrize("name", ["array_api_strict", "torch", "jax", "cupy"])
def test_generic_matmul_reusing_always_allocates(name, request):
    backend = load_backend(name, request.config)
    a = backend.asarray(np.ones((3, 2)), dtype="float32")
    old = backend.asarray(np.zeros((2, 2)), dtype="float32")
    got = backend.adapter.matmul_reusing(a.T, a, old)
    assert got is not old
    np.testing.assert_array_equal(anynet.to_numpy(got), np.full((2, 2), 3.0, np.float32))
    np.testing.assert_array_equal(anynet.to_numpy(old), np.zeros((2, 2), np.float32))


# -- the registry: built-in and custom adapters go through register_backend ---------------------
class CountingNumpy(NumpyAdapter):
    """NumPy's adapter under another name, counting the arrays it makes."""

    name = "counting_numpy"

    def __init__(self) -> None:
        super().__init__()
        self.made = 0

    def from_numpy(self, a, device):
        self.made += 1
        return super().from_numpy(a, device)


@pytest.fixture
def registered():
    """Names registered by the test, unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(BackendNotFoundError):  # the test may have removed it itself
            unregister_backend(name)


def test_register_backend_makes_a_custom_adapter_usable_by_spec(registered):
    adapter = register_backend("counting_numpy", CountingNumpy, aliases=("cnp",))
    registered.append("counting_numpy")
    assert isinstance(adapter, CountingNumpy)
    assert known_backends()[-1] == "counting_numpy" and "cnp" not in known_backends()
    b = anynet.get_backend("CNP:cpu")
    assert b is anynet.get_backend("counting_numpy") and b.adapter is adapter
    assert b.spec == "counting_numpy:cpu" and b != anynet.get_backend("numpy")
    x = b.asarray(np.ones(3), dtype="float64")
    assert adapter.made == 1 and x.dtype == np.float64
    with anynet.use_backend("cnp") as scoped:
        assert anynet.get_backend() is scoped is b
    assert anynet.available_backends()["counting_numpy"].usable
    # an array whose type two adapters own belongs to the one registered first
    assert anynet.backend_of(x).name == "numpy"
    unregister_backend("counting_numpy")
    with pytest.raises(BackendNotFoundError, match="unknown backend 'counting_numpy'.*register_backend"):
        anynet.get_backend("counting_numpy")
    with pytest.raises(BackendNotFoundError):
        anynet.get_backend("cnp")


def test_register_backend_second_name_for_numpy(registered):
    register_backend("numpy", ADAPTERS["numpy"], aliases=("np",))
    registered.append("np")
    assert anynet.get_backend("np") is anynet.get_backend("numpy")
    assert "np" not in known_backends()
    unregister_backend("np")
    assert "numpy" in known_backends()
    with pytest.raises(BackendNotFoundError):
        anynet.get_backend("np")


def test_register_backend_refuses_clashes_and_bad_names(registered):
    with pytest.raises(ConfigError, match="taken.*replace=True"):
        register_backend("counting_numpy", CountingNumpy, aliases=("strict",))
    assert "counting_numpy" not in ADAPTERS
    with pytest.raises(ConfigError, match="adapter is named 'counting_numpy'.*aliases="):
        register_backend("other", CountingNumpy)
    for bad in ("", "Upper", "a:b", "has space", 3):
        with pytest.raises(ConfigError, match="lower-case"):
            register_backend(bad, CountingNumpy)
    with pytest.raises(ConfigError, match="Adapter instance or subclass"):
        register_backend("thing", object())
    with pytest.raises(ConfigError, match="module_name"):
        register_backend("empty", Adapter())
    # replace=True takes the name over from the backend that held it
    first = register_backend("counting_numpy", CountingNumpy)
    registered.append("counting_numpy")
    old = anynet.get_backend("counting_numpy")
    second = register_backend("counting_numpy", CountingNumpy, replace=True)
    assert second is not first and anynet.get_backend("counting_numpy").adapter is second
    assert old.adapter is first  # a Backend already made keeps working
    old.asarray(np.ones(2))
    assert first.made == 1


# -- dtypes: the names module knows no library, JAX's switch is left alone ----------------------
def test_dtype_name_names_any_library_by_a_generic_rule(backend):
    from anynet.dtypes import dtype_name

    for name in ("float32", "float64"):
        assert dtype_name(backend.float_dtypes()[name]) == name
        assert dtype_name(backend.asarray(np.ones(2), dtype=name).dtype) == name

    class OtherLibDtype:  # a library anynet has never heard of
        def __str__(self):
            return "otherlib.float64"

    assert dtype_name(OtherLibDtype()) == "float64"
    assert dtype_name(np.float32) == "float32" and dtype_name(np.dtype(">f8")) == "float64"


def test_dtypes_module_is_a_leaf_that_names_no_library():
    import ast
    import inspect

    import anynet.dtypes

    source = inspect.getsource(anynet.dtypes)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module == "errors", f"anynet.dtypes imports .{node.module}"
    for library in ("torch", "jax", "cupy", "array_api_strict"):
        assert library not in source


_JAX_X64 = """
import json, numpy as np, jax, anynet
before = jax.config.jax_enable_x64
b = anynet.get_backend("jax")
x = b.asarray(np.ones((4, 3)), dtype="float32")
w = anynet.to_device(np.ones((3, 2), np.float32), b)
y = anynet.to_numpy(b.xp.matmul(x, w) * 2.0)
lists = b.has_float64 and b.dtype() is not None
after_float32 = jax.config.jax_enable_x64
z = b.asarray(np.ones(2), dtype="float64")
print(json.dumps([before, after_float32, str(y.dtype), jax.config.jax_enable_x64, str(z.dtype),
                  str(anynet.to_numpy(z * 2.0).dtype), str(anynet.to_numpy(b.xp.sum(z)).dtype)]))
"""


@pytest.mark.parametrize("user_setting", ["0", "1"])
def test_jax_float32_leaves_the_users_x64_switch_as_it_was(user_setting, request):
    load_backend("jax", request.config)
    out = _python(_JAX_X64, JAX_ENABLE_X64=user_setting, JAX_PLATFORMS="cpu")
    assert out.returncode == 0, out.stderr
    before, after_float32, y_dtype, after_float64, z_dtype, z2_dtype, sum_dtype = json.loads(
        out.stdout.strip().splitlines()[-1])
    assert before is (user_setting == "1")
    assert after_float32 is before and y_dtype == "float32"
    # asking for float64 on JAX is what turns the switch on; float64 then stays float64
    assert after_float64 is True and z_dtype == z2_dtype == sum_dtype == "float64"


def test_jax_float64_from_numpy_is_kept(request):
    b = load_backend("jax", request.config)
    x = anynet.to_device(np.arange(3.0), b)
    assert anynet.to_numpy(x).dtype == np.float64 and anynet.to_numpy(x + 1.0).dtype == np.float64


def test_adapter_decides_which_floats_a_device_holds():
    # Backend asks its adapter which floats a device holds; the adapter may leave float64 out
    class NoFloat64(NumpyAdapter):
        name = "no_float64_numpy"

        def float_dtypes(self, device):
            return {"float32": np.dtype("float32")}

    b = anynet.backends.Backend(NoFloat64(), "cpu")
    assert not b.has_float64 and b.widest_float() == "float32"
    with pytest.raises(DeviceError, match="no_float64_numpy:cpu has no float64"):
        b.dtype("float64")


@pytest.mark.parametrize("required, code, said", [
    ("numpy, Array_API_strict:device1", 0, "passed"),  # a spec with a colon; spaces and case ignored
    ("numpy,array_api_strict:devcie1", 4, "--require-backends names array_api_strict:devcie1, not in the test matrix"),
])
def test_require_backends_takes_specs_and_refuses_a_typo(required, code, said):
    """A typo in CI's --require-backends would quietly require nothing: it is a usage error."""
    here = os.path.dirname(os.path.abspath(__file__))
    args = ["-q", "-p", "no:cacheprovider", f"--require-backends={required}", os.path.join(here, "test_core.py"),
            "-k", "state_dict_is_parameters and device1"]
    out = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(here))
    assert out.returncode == code, out.stdout[-2000:] + out.stderr[-2000:]
    assert said in out.stdout + out.stderr
