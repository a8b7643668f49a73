"""Tools to test layers and networks: a float64 gradient check and a cross-backend comparison.

Example:
    >>> import numpy as np
    >>> from anynet.layers import Dense
    >>> from anynet.testing import gradcheck
    >>> layer = Dense(3, 2, activation="tanh", seed=0, dtype="float64")
    >>> gradcheck(layer, np.random.default_rng(0).standard_normal((4, 3))).ok
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import backend_of, get_backend, to_numpy, use_backend
from .dtypes import default_dtype, dtype_name
from .errors import BackendUnavailableError, InputError
from .losses import Loss

Array = Any


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`: ``ok``, and the worst disagreement seen."""

    ok: bool
    max_abs_error: float
    max_rel_error: float
    checks: int
    failures: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


def _generators(obj: Any, seen: set[int] | None = None) -> list[np.random.Generator]:
    """Every numpy Generator a layer or model holds (dropout masks), to replay its draws."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found = []
    for value in getattr(obj, "__dict__", {}).values():
        if isinstance(value, np.random.Generator):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                found += _generators(item, seen)
        elif isinstance(value, dict):
            for item in value.values():
                if hasattr(item, "__dict__") and not isinstance(item, type):
                    found += _generators(item, seen)
        elif hasattr(value, "params") and hasattr(value, "__dict__"):
            found += _generators(value, seen)
    return found


def _is_float64(x: Array) -> bool:
    return dtype_name(x.dtype) == "float64"


def gradcheck(
    target: Any,
    x: Array,
    y: Array | None = None,
    *,
    dy: Array | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "directional",
    n_directions: int = 3,
    seed: int = 0,
    training: bool = True,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Compare a backward pass with central differences of the forward pass, in float64.

    Arguments:
        target: a layer or model (anything with ``forward(x, training=) -> (y, backward)`` and
            ``params``), or a :class:`~anynet.losses.Loss` (then ``y`` is its target).
        x: float64 input of shape (n, d) on the target's backend.
        y: the target values, for a loss.
        dy: the output gradient to back-propagate (default: drawn at random, fixed seed).
        mode: ``"directional"`` — ``n_directions`` random unit directions over the input and
            every parameter jointly, O(1) forward passes each (Chainer's ``check_backward``);
            ``"full"`` — every coordinate one at a time (small inputs only).
        eps, atol, rtol: step and tolerances; a check passes when
            |numeric − analytic| ≤ atol + rtol·|numeric|.

    Float32 is refused: central differences at eps=1e-6 in float32 have relative errors near
    0.5, so the check would be noise.
    """
    if mode not in ("directional", "full"):
        raise ValueError(f"gradcheck: mode must be 'directional' or 'full', got {mode!r}")
    backend = backend_of(x)
    xp = backend.xp
    is_loss = isinstance(target, Loss)
    params: dict[str, Array] = {} if is_loss else target.params
    for a in [x] + list(params.values()):
        if not _is_float64(a):
            raise InputError(
                f"gradcheck needs float64 input and parameters, got {dtype_name(a.dtype)}: central "
                "differences in float32 are dominated by rounding (relative error ~0.5 at eps=1e-6). "
                "Build the layer with dtype='float64' (or layer.astype('float64')) and pass float64 input"
            )
    rng = np.random.default_rng(seed)
    gens = [] if is_loss else _generators(target)
    states = [g.bit_generator.state for g in gens]

    def replay() -> None:
        for g, st in zip(gens, states):
            g.bit_generator.state = st

    def run(xv: Array) -> tuple[Array, Array, dict[str, Array]]:
        replay()
        if is_loss:
            value, back = target._forward(xv, y)
            return value, back(), {}
        out, back = target.forward_backward(xv, training=training)
        nonlocal dy
        if dy is None:
            dy = backend.asarray(rng.standard_normal(tuple(out.shape)), dtype=out.dtype)
        return xp.sum(out * dy), back(dy), dict(target.grads)

    def value_at(xv: Array) -> float:
        replay()
        if is_loss:
            return float(target._forward(xv, y)[0])
        out, _ = target.forward_backward(xv, training=training)
        return float(xp.sum(out * dy))

    if is_loss:
        _, y = target.check(x, y)
    _, dx, grads = run(x)
    names = list(params)
    host_grads = [to_numpy(dx)] + [to_numpy(grads[k]) for k in names]
    shapes = [tuple(x.shape)] + [tuple(params[k].shape) for k in names]
    originals = dict(params)

    def directions() -> Iterable[list[np.ndarray]]:
        if mode == "directional":
            for _ in range(n_directions):
                vs = [rng.standard_normal(s) for s in shapes]
                norm = np.sqrt(sum(float((v * v).sum()) for v in vs))
                yield [v / norm for v in vs]
        else:
            for i, s in enumerate(shapes):
                for j in range(int(np.prod(s))):
                    vs = [np.zeros(t) for t in shapes]
                    vs[i].reshape(-1)[j] = 1.0
                    yield vs

    max_abs = max_rel = 0.0
    failures: list[str] = []
    checks = 0
    try:
        for vs in directions():
            vdev = [backend.asarray(v, dtype=x.dtype) for v in vs]
            vals = []
            for sign in (1.0, -1.0):
                for k, v in zip(names, vdev[1:]):
                    params[k] = originals[k] + (sign * eps) * v
                vals.append(value_at(x + (sign * eps) * vdev[0]))
            numeric = (vals[0] - vals[1]) / (2 * eps)
            analytic = float(sum(float((g * v).sum()) for g, v in zip(host_grads, vs)))
            err = abs(numeric - analytic)
            rel = err / max(abs(numeric), 1e-300)
            max_abs, max_rel = max(max_abs, err), max(max_rel, min(rel, 1e300))
            checks += 1
            if err > atol + rtol * abs(numeric):
                failures.append(f"direction {checks}: numeric {numeric:.10g} vs analytic {analytic:.10g}")
    finally:
        for k in names:
            params[k] = originals[k]
    result = GradcheckResult(not failures, max_abs, max_rel, checks, failures)
    if raise_on_failure and not result.ok:
        raise AssertionError(f"gradcheck failed for {target!r}: " + "; ".join(failures[:5]))
    return result


@dataclass
class BackendReport:
    """One row of :func:`compare_backends`."""

    backend: str
    device: str
    dtype: str
    max_rel_diff: float | None
    tolerance: float
    passed: bool | None
    note: str = ""


#: relative agreement with NumPy float64 that anynet promises (README, "Guarantees")
TOLERANCES = {"float64": 1e-12, "float32": 1e-5}


def _rel_diff(a: np.ndarray, ref: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    return float(np.max(np.abs(a.astype(np.float64) - ref))) / scale


def compare_backends(
    build: Callable[[], Any],
    x: np.ndarray,
    *,
    y: np.ndarray | None = None,
    loss: Loss | str | None = None,
    backends: Iterable[str] | None = None,
    dtypes: Iterable[str] = ("float64", "float32"),
    seed: int = 0,
) -> list[BackendReport]:
    """Gradients of the same layer or network on several backends against NumPy float64.

    ``build()`` is called inside ``use_backend(b)`` and ``default_dtype(dt)`` for every backend
    and dtype, and must create its weights from a fixed seed (so they are identical everywhere).
    With a ``loss`` (and targets ``y``), the gradient of the loss is compared; without, the
    backward pass of a fixed random output gradient. Rows report the largest relative
    difference over the input gradient and every parameter gradient.
    """
    from .backends import known_backends
    from .losses import get as get_loss

    loss_fn = None if loss is None else get_loss(loss)
    dy_host = None

    def grads_on(spec: str, dt: str) -> list[np.ndarray]:
        nonlocal dy_host
        with use_backend(spec) as b, default_dtype(dt):
            net = build()
            xd = b.asarray(x, dtype=dt)
            out, back = net.forward_backward(xd, training=True)
            if loss_fn is not None:
                yd = b.asarray(y) if y is not None and np.issubdtype(np.asarray(y).dtype, np.integer) \
                    else b.asarray(y, dtype=dt)
                _, lb = loss_fn.forward(out, yd)
                g = lb()
            else:
                if dy_host is None:
                    dy_host = np.random.default_rng(seed).standard_normal(tuple(out.shape))
                g = b.asarray(dy_host, dtype=dt)
            dx = back(g)
            grads = dict(net.grads)
            return [to_numpy(dx)] + [to_numpy(grads[k]) for k in sorted(grads)]

    reference = grads_on("numpy", "float64")
    rows = []
    for spec in backends if backends is not None else known_backends():
        try:
            b = get_backend(spec)
        except BackendUnavailableError as exc:
            rows.append(BackendReport(spec, "-", "-", None, 0.0, None, f"skipped: {exc}"))
            continue
        for dt in dtypes:
            if dt not in b.float_dtypes():
                rows.append(BackendReport(b.name, b.device_name, dt, None, TOLERANCES[dt], None,
                                          f"skipped: {b.spec} has no {dt}"))
                continue
            got = grads_on(b.spec, dt)
            diff = max(_rel_diff(a, r) for a, r in zip(got, reference))
            rows.append(BackendReport(b.name, b.device_name, dt, diff, TOLERANCES[dt],
                                      diff <= TOLERANCES[dt]))
    return rows


# -- the conformance suite ---------------------------------------------------------------------
@dataclass
class Check:
    """One check of :func:`check_layer`: which backend, what, and the outcome."""

    backend: str
    name: str
    passed: bool
    detail: str = ""


@dataclass
class LayerReport:
    """All checks of :func:`check_layer`; ``ok`` when every one passed."""

    layer: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def __str__(self) -> str:
        lines = [f"check_layer({self.layer}): {'all passed' if self.ok else f'{len(self.failures())} failed'}"]
        for c in self.checks:
            lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.backend:<18} {c.name}" + (f": {c.detail}" if c.detail else ""))
        return "\n".join(lines)


def check_layer(
    make: Callable[[], Any],
    *,
    in_features: int | None = None,
    backends: Iterable[str] | None = None,
    n_samples: int = 4,
    seed: int = 0,
    raise_on_failure: bool = False,
) -> LayerReport:
    """Run a layer through anynet's conformance checks on every usable backend.

    ``make()`` builds the layer; it is called inside ``use_backend(b)`` and
    ``default_dtype(dt)``, so a layer that takes its backend and dtype from the defaults (as the
    built-in ones do) is built on each backend in turn. Checks, per backend:

    - gradient check in float64 (training mode);
    - float32 in → float32 out;
    - the batch result equals the row-by-row result (evaluation mode);
    - neither the input nor the output gradient is mutated;
    - bad input — wrong rank, wrong width, 0 samples, NaN, ±inf, integer, bool — raises a clear
      anynet error naming the layer;
    - a save/load round trip inside a Sequential gives the same outputs (needs the layer type to
      be registered with :func:`anynet.layers.register_layer`).

    Example:
        >>> from anynet.layers import Dense
        >>> from anynet.testing import check_layer
        >>> check_layer(lambda: Dense(5, 3, activation="tanh", seed=0), backends=["numpy"]).ok
        True
    """
    import os
    import tempfile

    from .backends import known_backends
    from .errors import AnynetError

    rng = np.random.default_rng(seed)
    probe = make()
    width = probe.in_features or in_features or 5
    report = LayerReport(repr(probe))
    x_host = rng.standard_normal((n_samples, width))

    def record(spec: str, name: str, fn: Callable[[], str | None]) -> None:
        try:
            detail = fn()
            report.checks.append(Check(spec, name, True, detail or ""))
        except Exception as exc:  # a failing check is reported, not raised
            report.checks.append(Check(spec, name, False, f"{type(exc).__name__}: {exc}"[:300]))

    for spec in backends if backends is not None else known_backends():
        try:
            b = get_backend(spec)
        except BackendUnavailableError:
            continue

        def build(dt: str) -> Any:
            with use_backend(b), default_dtype(dt):
                layer = make()
            return layer

        def grad64() -> str:
            if not b.has_float64:
                return "skipped: no float64 on this device"
            r = gradcheck(build("float64"), b.asarray(x_host, dtype="float64"))
            if not r.ok:
                raise AssertionError("; ".join(r.failures[:3]))
            return f"max rel error {r.max_rel_error:.1e}"

        def keeps_float32() -> None:
            y = build("float32")(b.asarray(x_host, dtype="float32"))
            if dtype_name(y.dtype) != "float32":
                raise AssertionError(f"float32 input gave {dtype_name(y.dtype)} output")

        def rows_equal_batch() -> None:
            dt = b.widest_float()
            layer = build(dt)
            whole = to_numpy(layer(b.asarray(x_host, dtype=dt)))
            rows = np.concatenate([to_numpy(layer(b.asarray(x_host[i:i + 1], dtype=dt))) for i in range(n_samples)])
            np.testing.assert_allclose(rows, whole, rtol=1e-5 if dt == "float32" else 1e-10, atol=1e-6)

        def not_mutated() -> None:
            dt = b.widest_float()
            layer = build(dt)
            x = b.asarray(x_host, dtype=dt)
            y, back = layer.forward_backward(x, training=True)
            dy_host = rng.standard_normal(tuple(y.shape))
            dy = b.asarray(dy_host, dtype=dt)
            back(dy)
            np.testing.assert_array_equal(to_numpy(x), x_host.astype(dt))
            np.testing.assert_array_equal(to_numpy(dy), dy_host.astype(dt))

        def bad_inputs() -> str:
            layer = build("float32")
            cases = {
                "1-D input": b.asarray(x_host[0], dtype="float32"),
                "0 samples": b.asarray(x_host[:0], dtype="float32"),
                "NaN": b.asarray(np.full((2, width), np.nan), dtype="float32"),
                "+inf": b.asarray(np.full((2, width), np.inf), dtype="float32"),
                "-inf": b.asarray(np.full((2, width), -np.inf), dtype="float32"),
                "integer dtype": b.asarray(np.zeros((2, width), np.int32)),
                "bool dtype": b.asarray(np.zeros((2, width), bool)),
            }
            if probe.in_features is not None:
                cases["wrong width"] = b.asarray(np.zeros((2, width + 1)), dtype="float32")
            accepted = []
            for what, x in cases.items():
                try:
                    layer(x)
                    accepted.append(what)
                except AnynetError as exc:
                    if type(layer).__name__ not in str(exc):
                        raise AssertionError(f"{what}: the error does not name the layer: {exc}") from None
            if accepted:
                raise AssertionError(f"accepted bad input: {', '.join(accepted)}")
            return f"{len(cases)} kinds refused"

        def round_trip() -> None:
            from .checkpoint import load
            from .model import Sequential

            dt = b.widest_float()
            with use_backend(b), default_dtype(dt):
                model = Sequential([make()], in_features=width, seed=seed)
            x = x_host.astype(dt)
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "layer.safetensors")
                model.save(path)
                again = load(path, backend=b)
            np.testing.assert_array_equal(again.predict(x), model.predict(x))

        for name, fn in (("gradient check (float64)", grad64), ("float32 in, float32 out", keeps_float32),
                         ("batch equals row by row", rows_equal_batch), ("inputs not mutated", not_mutated),
                         ("bad input refused", bad_inputs), ("save/load round trip", round_trip)):
            record(b.spec, name, fn)
    if not report.checks:
        raise BackendUnavailableError("check_layer: none of the requested backends is usable here")
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report
