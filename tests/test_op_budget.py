"""Array operations per training step, counted on array_api_strict: the CPU proxy for GPU kernel launches.

Every namespace function and array operator that returns an array counts, except those that launch no
kernel on a GPU: reshapes and transposes (``reshape``, ``permute_dims``, ``matrix_transpose``, ``.T``,
``.mT``), ``astype`` to the same dtype, ``asarray`` of an array, indexing with slices only. A call made
inside a counted call (array-api-strict calling itself) is not counted again.

The step measured is one steady-state step of ``model.fit``'s own loop (the third batch of an epoch:
forward, loss, backward, optimizer update), between the ``on_batch_begin`` and ``on_batch_end`` of a
callback. Run with ``-s`` to see the counts per operation.
"""

from __future__ import annotations

import collections
import contextlib
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import anynet
from anynet import optim
from anynet.callbacks import Callback
from anynet.layers import Dense

from .conftest import load_backend

#: namespace functions that launch no kernel
FREE = {"reshape", "permute_dims", "matrix_transpose", "asarray"}
#: dunders that are not array operations (or return no array)
NOT_OPS = {"__init__", "__new__", "__repr__", "__str__", "__format__", "__array_namespace__", "__dlpack__",
           "__dlpack_device__", "__len__", "__hash__", "__iter__", "__getstate__", "__setstate__", "__array__",
           "__reduce__", "__reduce_ex__", "__bool__", "__float__", "__int__", "__index__", "__complex__",
           "__class_getitem__", "__init_subclass__", "__getattribute__", "__setattr__", "__delattr__",
           "__sizeof__", "__dir__", "__subclasshook__"}


def _slices_only(key: Any) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, slice) or k is Ellipsis or k is None for k in keys)


@contextlib.contextmanager
def counting() -> Iterator[collections.Counter]:
    """Count array operations (see the module docstring) while active: ``{operation: count}``."""
    import array_api_strict as xp
    from array_api_strict._array_object import Array

    counts: collections.Counter = collections.Counter()
    depth = [0]
    is_array = (lambda out: isinstance(out, Array)
                or (isinstance(out, tuple) and any(isinstance(a, Array) for a in out)))

    def wrap(name: str, fn: Any, free: Any = None) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0 and (name == "__setitem__" or is_array(out)) and not (free and free(*args, **kwargs)):
                counts[name] += 1
            return out
        return counted

    saved_mod = {n: f for n in dir(xp) if n not in FREE and isinstance(f := getattr(xp, n, None), types.FunctionType)}
    saved_cls = {n: f for n, f in vars(Array).items()
                 if n.startswith("__") and n.endswith("__") and callable(f) and n not in NOT_OPS}
    for name, fn in saved_mod.items():
        setattr(xp, name, wrap(name, fn, (lambda x, dtype, *a, **k: x.dtype == dtype) if name == "astype" else None))
    for name, fn in saved_cls.items():
        free = (lambda self, key, *a: _slices_only(key)) if name == "__getitem__" else None
        setattr(Array, name, wrap(name, fn, free))
    try:
        yield counts
    finally:
        for name, fn in saved_mod.items():
            setattr(xp, name, fn)
        for name, fn in saved_cls.items():
            setattr(Array, name, fn)


@pytest.fixture
def strict(request: pytest.FixtureRequest) -> anynet.Backend:
    return load_backend("array_api_strict", request.config)


class _Window(Callback):
    """Counts the operations of the fit loop's step ``at``, from its on_batch_begin to its on_batch_end."""

    def __init__(self, at: int) -> None:
        self.at, self.counts = at, collections.Counter()
        self._cm: Any = None

    def on_batch_begin(self, model: Any, step: int, logs: dict) -> None:
        if step == self.at:
            self._cm = counting()
            self.counts = self._cm.__enter__()

    def on_batch_end(self, model: Any, step: int, logs: dict) -> None:
        if step == self.at:
            self._cm.__exit__(None, None, None)


def _model(widths: list[int], backend: Any) -> anynet.Sequential:
    layers = [Dense(a, b, activation="relu") for a, b in zip(widths[:-2], widths[1:-1])]
    return anynet.Sequential([*layers, Dense(widths[-2], widths[-1])], seed=0, backend=backend, dtype="float32")


def step_counts(widths: list[int], opt: optim.Optimizer, backend: Any, batch: int = 16) -> collections.Counter:
    """The operations of one steady-state step of ``fit`` (softmax cross-entropy, relu hidden layers)."""
    model = _model(widths, backend)
    g = np.random.default_rng(0)
    X = g.standard_normal((3 * batch, widths[0])).astype("float32")
    y = g.integers(0, widths[-1], 3 * batch)
    window = _Window(2)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=1, batch_size=batch, verbose=0,
              callbacks=[window])
    return window.counts


def _show(counts: collections.Counter) -> str:
    return f"{sum(counts.values())} operations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def test_the_counter_counts_kernels_only(strict):
    xp = strict.xp
    a = xp.ones((2, 3), dtype=xp.float32)
    with counting() as counts:
        b = a + 1.0                                   # 1
        b = xp.reshape(b, (3, 2)).T                   # free
        c = xp.astype(b, xp.float32)                  # free: same dtype
        d = xp.astype(c, xp.float64)                  # 1
        e = a[0:1, ...]                               # free: slices
        f = a[0, :]                                   # 1 (an integer index, as the proxy counts it)
        e += 1.0                                      # 1
        xp.sum(d)                                     # 1
        a[0:1, :] = e                                 # 1 (a copy)
    assert sum(counts.values()) == 6, _show(counts)
    assert f is not None


#: (widths, optimizer, budget): issue 21's budgets of operations per training step
BUDGETS = [
    ([784, 256, 256, 10], "Adam", 45),
    ([5, 5, 2], "Adam", 36),
]
#: what SGD steps take now; issue 21 asks 30 and 24 (see test_sgd_meets_the_issue_budget)
SGD_NOW = [([784, 256, 256, 10], 34), ([5, 5, 2], 26)]


def _id(v: Any) -> str:
    return "-".join(map(str, v)) if isinstance(v, list) else str(v)


@pytest.mark.parametrize("widths,name,budget", BUDGETS, ids=_id)
def test_operations_per_step_within_budget(strict, widths, name, budget):
    counts = step_counts(widths, optim.get(name), strict)
    print(f"\n{'-'.join(map(str, widths))} {name}: {_show(counts)}")
    assert sum(counts.values()) <= budget, f"{'-'.join(map(str, widths))} {name}: {_show(counts)} > budget {budget}"


@pytest.mark.parametrize("widths,now", SGD_NOW, ids=_id)
def test_sgd_operations_do_not_regress(strict, widths, now):
    counts = step_counts(widths, optim.SGD(lr=0.01), strict)
    print(f"\n{'-'.join(map(str, widths))} SGD: {_show(counts)}")
    assert sum(counts.values()) <= now, _show(counts)


@pytest.mark.xfail(strict=True, reason="issue 21's SGD budgets (30, 24) are not met: in standard operations the "
                   "step takes 34 and 26 (forward 8 / 5, backward 12 / 7, softmax cross-entropy 11, SGD 3); "
                   "PyTorch reaches 30 with fused addmm, log_softmax and threshold_backward kernels")
@pytest.mark.parametrize("widths,budget", [([784, 256, 256, 10], 30), ([5, 5, 2], 24)],
                         ids=_id)
def test_sgd_meets_the_issue_budget(strict, widths, budget):
    counts = step_counts(widths, optim.SGD(lr=0.01), strict)
    assert sum(counts.values()) <= budget, _show(counts)


def _optimizer_counts(hidden: int, opt: optim.Optimizer, backend: Any) -> collections.Counter:
    """The operations of ``opt.apply`` alone, in steady state, for a net with ``hidden`` hidden layers."""
    model = _model([5, *[4] * hidden, 2], backend)
    g = np.random.default_rng(0)
    model.fit(g.standard_normal((32, 5)).astype("float32"), g.integers(0, 2, 32), loss="softmax_cross_entropy",
              optimizer=opt, epochs=1, batch_size=16, verbose=0)
    slots = [(f"{n}.{k}", layer.params, layer.grads, k) for n, layer in model.nodes.items() if layer.trainable
             for k in layer.params]
    with counting() as counts:
        opt.apply(slots)
    return counts


@pytest.mark.parametrize("make", [
    lambda: optim.SGD(lr=0.01),
    lambda: optim.SGD(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3, clip_norm=1.0),
    lambda: optim.Adam(clip_value=0.5, l1=1e-4),
    lambda: optim.AdamW(),
    lambda: optim.RMSProp(momentum=0.5),
    lambda: optim.AdaGrad(),
], ids=["sgd", "nesterov-decay-clip", "adam-clip-l1", "adamw", "rmsprop", "adagrad"])
def test_optimizer_operations_do_not_grow_with_depth(strict, make):
    shallow, deep = _optimizer_counts(2, make(), strict), _optimizer_counts(6, make(), strict)
    print(f"\n2 hidden: {_show(shallow)}\n6 hidden: {_show(deep)}")
    assert shallow == deep, f"2 hidden layers: {_show(shallow)}; 6 hidden layers: {_show(deep)}"
    assert sum(deep.values()) <= 20, _show(deep)
