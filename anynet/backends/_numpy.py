"""NumPy adapter: the default backend, on the host CPU."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._adapter import Adapter

#: results at least this large (elements) are written into the previous result's buffer rather
#: than a fresh array: measured ~6% off a 784-256-256-10 training step, while on the small
#: 784-50-50-10 net ``out=`` only added call overhead (~1.5% slower), hence the threshold
REUSE_MIN_SIZE = 1 << 16


class NumpyAdapter(Adapter):
    name = "numpy"
    module_name = "numpy"
    distribution = "numpy"
    install = 'pip install "numpy>=2.1"'

    def _make_namespace(self) -> ModuleType:
        # NumPy >= 2.1 is itself an Array API namespace; using it directly avoids the thin
        # wrapper layer of array_api_compat.numpy on the hot path. The copy below differs from
        # numpy only in `sum` and `max` on floating-point input and in `take`, which skip NumPy's
        # Python-level dispatch (a few microseconds a call, which small networks feel). All are
        # checked against numpy's own in tests/test_backends.py.
        ns = ModuleType("anynet_numpy", "NumPy as anynet's Array API namespace")
        ns.__dict__.update({k: v for k, v in np.__dict__.items() if not k.startswith("__")})
        # through __dict__ (as above): a ModuleType declares none of these attributes to a type checker
        ns.__dict__.update(__array_namespace_info__=np.__array_namespace_info__,
                           __array_api_version__=np.__array_api_version__)
        add_reduce, max_reduce = np.add.reduce, np.maximum.reduce
        np_sum, np_max = np.sum, np.max

        def sum(x, /, *, axis=None, dtype=None, keepdims=False):  # noqa: A001
            if dtype is None and x.dtype.kind == "f":
                return add_reduce(x, axis=axis, keepdims=keepdims)
            return np_sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

        def max(x, /, *, axis=None, keepdims=False):  # noqa: A001
            if x.dtype.kind == "f" and x.size:
                return max_reduce(x, axis=axis, keepdims=keepdims)
            return np_max(x, axis=axis, keepdims=keepdims)

        def take(x, indices, /, *, axis=None):
            return x.take(indices, axis=axis)  # the method: no Python-level dispatch (the batch gather)

        ns.__dict__.update(sum=sum, max=max, take=take)
        return ns

    def devices(self) -> list[Any]:
        return ["cpu"]

    def default_device(self) -> Any:
        return "cpu"

    def device_of(self, x: Any) -> Any:
        return "cpu"

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    def from_numpy(self, a: np.ndarray, device: Any) -> Any:
        return np.array(a, copy=True)

    def from_numpy_for_reading(self, a: np.ndarray, device: Any) -> Any:
        # the data set itself, not a second copy of it (fit, predict and evaluate only read it)
        return np.ascontiguousarray(a)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    def from_foreign(self, x: Any, device: Any) -> Any:
        return np.array(np.from_dlpack(x), copy=True)

    def matmul_reusing(self, a: Any, b: Any, old: Any) -> Any:
        if (
            old is not None
            and old.size >= REUSE_MIN_SIZE
            and old.shape == (a.shape[0], b.shape[1])
            and old.dtype == a.dtype == b.dtype
            and old.flags.c_contiguous
            and old.flags.writeable
        ):
            return np.matmul(a, b, out=old)
        return a @ b
