"""Tools to test layers and networks: a float64 gradient check, a cross-backend comparison and
the conformance suite every layer passes.

They drive what they test through the layer contract alone: ``forward(x, training=...,
need_dx=...) -> (y, backward)`` (a layer's or a network's), ``params`` and ``grads``; merge layers
take and give lists. Checked entry points (``layer(x)``) are used only where refusing bad input
is what is tested.

Example:
    >>> import numpy as np
    >>> from anynet.layers import Dense
    >>> from anynet.testing import gradcheck
    >>> layer = Dense(3, 2, activation="tanh", seed=0, dtype="float64")
    >>> gradcheck(layer, np.random.default_rng(0).standard_normal((4, 3))).ok
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import backend_of, get_backend, known_backends, to_numpy, use_backend
from .dtypes import default_dtype, dtype_name
from .errors import AnynetError, BackendUnavailableError, ConfigError, InputError
from .losses import Loss

Array = Any


# -- inputs that are one array, a list of arrays (merge layers) or a dict (networks) ----------
def _leaves(x: Any) -> list[Any]:
    if isinstance(x, Mapping):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _like(x: Any, leaves: list[Any]) -> Any:
    """``leaves`` put back into the structure of ``x``."""
    if isinstance(x, Mapping):
        return dict(zip(x, leaves))
    if isinstance(x, (list, tuple)):
        return list(leaves)
    return leaves[0]


def _named(prefix: str, x: Any) -> list[tuple[str, Any]]:
    if isinstance(x, Mapping):
        return [(f"{prefix}[{k!r}]", v) for k, v in x.items()]
    if isinstance(x, (list, tuple)):
        return [(f"{prefix}[{i}]", v) for i, v in enumerate(x)]
    return [(prefix, x)]


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


def _param_slots(target: Any) -> dict[str, tuple[dict[str, Array], str]]:
    """Every parameter of a layer (by key) or of a network (by ``"node.key"``, through its ``nodes``),
    as ``(the dict holding it, its key)``: where gradcheck writes a perturbed value."""
    nodes = getattr(target, "nodes", None)
    if isinstance(nodes, Mapping):
        return {f"{n}.{k}": (layer.params, k) for n, layer in nodes.items() for k in layer.params}
    return {k: (target.params, k) for k in target.params}


def _is_float64(x: Array) -> bool:
    return dtype_name(x.dtype) == "float64"


def gradcheck(
    target: Any,
    x: Any,
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
    wrt_inputs: bool = True,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Compare a backward pass with central differences of the forward pass, in float64.

    Arguments:
        target: a layer (anything with ``forward(x, training=) -> (y, backward)``, ``params`` and
            ``grads``), a network (the same, with ``nodes`` ``{name: layer}`` in place of
            ``params``), or a :class:`~anynet.losses.Loss` (then ``y`` is its target).
        x: float64 input of shape (n, d) on the target's backend; a list of them for a merge
            layer, a dict ``{input name: array}`` for a network with several inputs.
        y: the target values, for a loss.
        dy: the output gradient to back-propagate (default: drawn at random, fixed seed).
        mode: ``"directional"`` — ``n_directions`` random unit directions over the input and
            every parameter jointly, O(1) forward passes each (Chainer's ``check_backward``);
            ``"full"`` — every coordinate one at a time (small inputs only).
        eps, atol, rtol: step and tolerances; a check passes when
            |numeric − analytic| ≤ atol + rtol·|numeric|.
        wrt_inputs: False checks the parameters' gradients alone, with ``x`` held fixed: for
            inputs that are not differentiable (an Embedding's integer ids, which may then be
            of any dtype); the input gradient is neither required nor compared.

    Float32 is refused: central differences at eps=1e-6 in float32 have relative errors near
    0.5, so the check would be noise.
    """
    if mode not in ("directional", "full"):
        raise ValueError(f"gradcheck: mode must be 'directional' or 'full', got {mode!r}")
    xs = _leaves(x)
    backend = backend_of(xs[0])
    xp = backend.xp
    is_loss = isinstance(target, Loss)
    slots = {} if is_loss else _param_slots(target)
    params = {k: holder[key] for k, (holder, key) in slots.items()}
    for a in (xs if wrt_inputs else []) + list(params.values()):
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

    def run(xv: Any) -> tuple[Any, dict[str, Array]]:
        replay()
        if is_loss:
            _, back = target.compute(xv, y)
            return back(), {}
        out, back = target.forward(xv, training=training)
        nonlocal dy
        if dy is None:
            dy = backend.asarray(rng.standard_normal(tuple(out.shape)), dtype=out.dtype)
        return back(dy), dict(target.grads)

    def value_at(xv: Any) -> float:
        replay()
        # one explicit host read per evaluation (float() on a device array is an implicit one)
        if is_loss:
            return float(to_numpy(target.compute(xv, y)[0]))
        out, _ = target.forward(xv, training=training)
        return float(to_numpy(xp.sum(out * dy)))

    if is_loss:
        _, y = target.check(x, y)
    dx, grads = run(x)
    failures: list[str] = []
    dxs = _leaves(dx) if isinstance(x, (Mapping, list, tuple)) else [dx]
    if not wrt_inputs:  # held fixed: their direction is zero, whatever backward returned
        dxs = [None] * len(xs)
    elif len(dxs) != len(xs) or any(d is None for d in dxs):
        failures.append(f"backward returned no gradient for some input ({len(xs)} inputs, got "
                        f"{[None if d is None else tuple(d.shape) for d in dxs]}); return dx when need_dx=True")
        dxs = [xp.zeros_like(v) for v in xs]
    names = list(params)
    missing = [k for k in names if k not in grads]
    if missing:
        failures.append(f"backward stored no gradient for the parameters {missing} in grads")
        grads = {**grads, **{k: xp.zeros_like(params[k]) for k in missing}}
    host_grads = [np.zeros(tuple(v.shape)) if d is None else to_numpy(d) for d, v in zip(dxs, xs)] \
        + [to_numpy(grads[k]) for k in names]
    shapes = [tuple(v.shape) for v in xs] + [tuple(params[k].shape) for k in names]
    originals = dict(params)
    n_in = len(xs)

    def directions() -> Iterable[list[np.ndarray]]:
        if mode == "directional":
            for _ in range(n_directions):
                vs = [rng.standard_normal(s) if wrt_inputs or i >= n_in else np.zeros(s) for i, s in enumerate(shapes)]
                norm = np.sqrt(sum(float((v * v).sum()) for v in vs))
                yield [v / norm for v in vs]
        else:
            for i, s in enumerate(shapes):
                if i < n_in and not wrt_inputs:
                    continue
                for j in range(int(np.prod(s))):
                    vs = [np.zeros(t) for t in shapes]
                    vs[i].reshape(-1)[j] = 1.0
                    yield vs

    max_abs = max_rel = 0.0
    checks = 0
    try:
        for vs in directions():
            vdev = [backend.asarray(v, dtype="float64") for v in vs]
            vals = []
            for sign in (1.0, -1.0):
                for k, v in zip(names, vdev[n_in:]):
                    holder, key = slots[k]
                    holder[key] = originals[k] + (sign * eps) * v
                moved = [xi + (sign * eps) * v for xi, v in zip(xs, vdev)] if wrt_inputs else xs
                vals.append(value_at(_like(x, moved)))
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
            holder, key = slots[k]
            holder[key] = originals[k]
    result = GradcheckResult(not failures, max_abs, max_rel, checks, failures)
    if raise_on_failure and not result.ok:
        raise AssertionError(f"gradcheck failed for {target!r}: " + "; ".join(failures[:5]))
    return result


# -- the same gradients on every backend ------------------------------------------------------
@dataclass
class BackendReport:
    """One row of :func:`compare_backends`: the largest norm-wise relative difference from
    NumPy float64 over the input gradient and every parameter gradient (``note`` names where)."""

    backend: str
    device: str
    dtype: str
    max_rel_diff: float | None
    tolerance: float
    passed: bool | None
    note: str = ""


#: the norm-wise relative agreement with NumPy float64 that anynet promises (README, "Guarantees")
#: and its tests hold: ``||g - g_numpy|| / max(||g_numpy||, FLOOR) <= TOLERANCES[dtype]`` for the input
#: gradient and every parameter gradient
TOLERANCES = {"float64": 1e-12, "float32": 1e-5}
#: gradients whose norm is below this are compared absolutely (as allclose's atol): a gradient that
#: is zero in exact arithmetic (the bias of a Dense layer feeding BatchNorm) is rounding noise on
#: every backend, ~1e-7 of the other gradients in float32, and noise has no relative error
FLOOR = 1.0


def rel_diff(a: np.ndarray, ref: np.ndarray, *, floor: float = FLOOR) -> float:
    """``||a - ref|| / max(||ref||, floor)`` in float64 (Frobenius norms); NaN anywhere gives inf.

    Example:
        >>> import numpy as np
        >>> from anynet.testing import rel_diff
        >>> rel_diff(np.asarray([1.0, 2.0]), np.asarray([1.0, 2.0 + 1e-9]))  # doctest: +ELLIPSIS
        4.47...e-10
        >>> rel_diff(np.asarray([1e-17]), np.asarray([-1e-17]))  # noise on a zero gradient
        2e-17
    """
    a64, r64 = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if a64.shape != r64.shape:
        return math.inf
    diff = float(np.linalg.norm((a64 - r64).ravel()))
    scale = max(float(np.linalg.norm(r64.ravel())), floor)
    out = diff / scale
    return out if math.isfinite(out) else math.inf


def compare_backends(
    build: Callable[[], Any],
    x: Any,
    *,
    y: np.ndarray | None = None,
    loss: Loss | str | None = None,
    backends: Iterable[str] | None = None,
    dtypes: Iterable[str] = ("float64", "float32"),
    seed: int = 0,
    floor: float = FLOOR,
) -> list[BackendReport]:
    """Gradients of the same layer or network on several backends against NumPy float64.

    ``build()`` is called inside ``use_backend(b)`` and ``default_dtype(dt)`` for every backend
    and dtype, and must create its weights from a fixed seed (so they are identical everywhere).
    ``x`` is a host array (a list of them for a merge layer, a dict for a network with several
    inputs). With a ``loss`` (and targets ``y``), the gradient of the loss is compared; without,
    the backward pass of a fixed random output gradient. Each row reports the largest
    :func:`rel_diff` over the input gradient and every parameter gradient, and passes when it is
    at most ``TOLERANCES[dtype]``.

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Dense
        >>> from anynet.testing import compare_backends
        >>> rows = compare_backends(lambda: Dense(4, 3, activation="tanh", seed=0),
        ...                         np.ones((2, 4)), backends=["numpy"])
        >>> [(r.dtype, r.passed) for r in rows]
        [('float64', True), ('float32', True)]
    """
    from .losses import get as get_loss

    loss_fn = None if loss is None else get_loss(loss)
    dy_host = None

    def grads_on(spec: str, dt: str) -> dict[str, np.ndarray]:
        nonlocal dy_host
        with use_backend(spec) as b, default_dtype(dt):
            net = build()
            xd = _like(x, [b.asarray(v, dtype=dt) for v in _leaves(x)])
            out, back = net.forward(xd, training=True)
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
            found = {name: to_numpy(v) for name, v in _named("dx", dx) if v is not None}
            found.update({k: to_numpy(v) for k, v in net.grads.items()})
            return found

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
            if set(got) != set(reference):
                rows.append(BackendReport(b.name, b.device_name, dt, math.inf, TOLERANCES[dt], False,
                                          f"different gradients: {sorted(got)} vs numpy's {sorted(reference)}"))
                continue
            diffs = {k: rel_diff(got[k], reference[k], floor=floor) for k in reference}
            worst = max(diffs, key=diffs.__getitem__)
            rows.append(BackendReport(b.name, b.device_name, dt, diffs[worst], TOLERANCES[dt],
                                      diffs[worst] <= TOLERANCES[dt], f"largest in {worst}"))
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
            lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.backend:<18} {c.name}"
                         + (f": {c.detail}" if c.detail else ""))
        return "\n".join(lines)


def _n_inputs(layer: Any, width: int) -> int:
    """1 for a single-input layer, 2 for a merge layer: asked through ``output_features``,
    which refuses the kind of input a layer does not take."""
    try:
        layer.output_features(width)
        return 1
    except ConfigError:
        layer.output_features([width, width])  # raises the layer's own error if neither kind fits
        return 2


@dataclass
class _Subject:
    """What :func:`check_layer` runs its checks on: the factory, its probe and the host inputs."""

    make: Callable[[], Any]
    probe: Any
    width: int
    hosts: list[np.ndarray]  # one (n, width) array per input
    seed: int
    rng: np.random.Generator
    categories: int | None = None  # integer category ids in [0, categories) instead of float features

    def pack(self, leaves: list[Any]) -> Any:
        """One input as an array, a merge layer's as a list."""
        return leaves[0] if len(self.hosts) == 1 else list(leaves)


def _checks_on(b: Any, s: _Subject) -> list[tuple[str, Callable[[], str | None]]]:
    """The conformance checks of :func:`check_layer` on backend ``b``, by name."""
    import os
    import tempfile

    k, width, n_samples = len(s.hosts), s.width, int(s.hosts[0].shape[0])
    ids = s.categories

    def build(dt: str) -> Any:
        with use_backend(b), default_dtype(dt):
            layer = s.make()
        return layer

    def send(leaves: list[np.ndarray], dt: str) -> Any:
        # category ids stay integers; features take the dtype under test
        return s.pack([b.asarray(v, dtype=None if ids else dt) for v in leaves])

    def grad64() -> str:
        if not b.has_float64:
            return "skipped: no float64 on this device"
        r = gradcheck(build("float64"), send(s.hosts, "float64"), wrt_inputs=ids is None)
        if not r.ok:
            raise AssertionError("; ".join(r.failures[:3]))
        return f"max rel error {r.max_rel_error:.1e}"

    def keeps_float32() -> None:
        y = build("float32")(send(s.hosts, "float32"))
        if dtype_name(y.dtype) != "float32":
            raise AssertionError(f"float32 input gave {dtype_name(y.dtype)} output")

    def rows_equal_batch() -> None:
        dt = b.widest_float()
        layer = build(dt)
        whole = to_numpy(layer(send(s.hosts, dt)))
        rows = np.concatenate([to_numpy(layer(send([h[i:i + 1] for h in s.hosts], dt))) for i in range(n_samples)])
        np.testing.assert_allclose(rows, whole, rtol=1e-5 if dt == "float32" else 1e-10, atol=1e-6)

    def not_mutated() -> None:
        dt = b.widest_float()
        layer = build(dt)
        x = send(s.hosts, dt)
        y, back = layer.forward(x, training=True)
        dy_host = s.rng.standard_normal(tuple(y.shape))
        dy = b.asarray(dy_host, dtype=dt)
        back(dy)
        for leaf, host in zip(_leaves(x), s.hosts):
            np.testing.assert_array_equal(to_numpy(leaf), host if ids else host.astype(dt))
        np.testing.assert_array_equal(to_numpy(dy), dy_host.astype(dt))

    def bad_ids() -> dict[str, Any]:
        assert ids is not None
        return {
            "two ids per sample": b.asarray(np.zeros((2, 2), np.int64)),
            "3-D ids": b.asarray(np.zeros((2, 1, 1), np.int64)),
            "0 samples": b.asarray(s.hosts[0][:0]),
            "negative id": b.asarray(np.asarray([[0], [-1]], np.int64)),
            f"id {ids} (one past the last)": b.asarray(np.asarray([[0], [ids]], np.int64)),
            "fractional id": b.asarray(np.asarray([[0.0], [0.5]]), dtype="float32"),
            "NaN": b.asarray(np.asarray([[0.0], [np.nan]]), dtype="float32"),
            "+inf": b.asarray(np.asarray([[0.0], [np.inf]]), dtype="float32"),
            "-inf": b.asarray(np.asarray([[0.0], [-np.inf]]), dtype="float32"),
            "bool dtype": b.asarray(np.zeros((2, 1), bool)),
        }

    def bad_inputs() -> str:
        layer = build("float32")
        host = s.hosts[0]
        cases = bad_ids() if ids else {
            "1-D input": b.asarray(host[0], dtype="float32"),
            "0 samples": b.asarray(host[:0], dtype="float32"),
            "NaN": b.asarray(np.full((2, width), np.nan), dtype="float32"),
            "+inf": b.asarray(np.full((2, width), np.inf), dtype="float32"),
            "-inf": b.asarray(np.full((2, width), -np.inf), dtype="float32"),
            "integer dtype": b.asarray(np.zeros((2, width), np.int32)),
            "bool dtype": b.asarray(np.zeros((2, width), bool)),
        }
        if s.probe.in_features is not None:
            cases["wrong width"] = b.asarray(np.zeros((2, width + 1)), dtype="float32")
        if k > 1:
            good = b.asarray(np.zeros((2, width)), dtype="float32")
            # the bad array comes second: every input is checked, not only the first
            cases = {what: [good, x] for what, x in cases.items()}
            cases["one array instead of a list"] = good
            cases["different numbers of samples"] = [good, b.asarray(np.zeros((3, width)), dtype="float32")]
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
        from .model import Graph, Sequential

        dt = b.widest_float()
        layer = build(dt)
        actual = {key: tuple(int(d) for d in v.shape) for key, v in {**layer.params, **layer.buffers}.items()}
        if layer.state_shapes() != actual:
            raise AssertionError(f"state_shapes() {layer.state_shapes()} differs from the arrays' shapes {actual}")
        layer.load_extra_state(json.loads(json.dumps(layer.extra_state())))
        names = [f"x{i}" for i in range(k)]
        model: Graph | Sequential
        with use_backend(b), default_dtype(dt):
            if k == 1:
                model = Sequential([s.make()], in_features=width, seed=s.seed)
            else:
                model = Graph({"merge": (s.make(), names)}, inputs=dict.fromkeys(names, width), output="merge",
                              seed=s.seed)
        x = s.pack([h.astype(dt) for h in s.hosts])
        if k > 1:
            x = dict(zip(names, x))
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "layer.safetensors")
            model.save(path)
            again = load(path, backend=b)
        np.testing.assert_array_equal(again.predict(x), model.predict(x))

    return [("gradient check (float64)", grad64), ("float32 in, float32 out", keeps_float32),
            ("batch equals row by row", rows_equal_batch), ("inputs not mutated", not_mutated),
            ("bad input refused", bad_inputs), ("save/load round trip", round_trip)]


def check_layer(
    make: Callable[[], Any],
    *,
    in_features: int | None = None,
    backends: Iterable[str] | None = None,
    n_samples: int = 4,
    seed: int = 0,
    categories: int | None = None,
    raise_on_failure: bool = False,
) -> LayerReport:
    """Run a layer through anynet's conformance checks on every usable backend.

    ``make()`` builds the layer; it is called inside ``use_backend(b)`` and
    ``default_dtype(dt)``, so a layer that takes its backend and dtype from the defaults (as the
    built-in ones do) is built on each backend in turn. A merge layer (one whose
    ``output_features`` takes a list) is fed two inputs. Checks, per backend:

    - gradient check in float64 (training mode), through ``forward``;
    - float32 in → float32 out;
    - the batch result equals the row-by-row result (evaluation mode);
    - neither the input nor the output gradient is mutated;
    - bad input — wrong rank, wrong width, 0 samples, NaN, ±inf, integer, bool — raises a clear
      anynet error naming the layer, through the checked entry ``layer(x)``;
    - ``state_shapes()`` matches the arrays, ``extra_state()`` is JSON-able and loads back, and a
      save/load round trip inside a network gives the same outputs (needs the layer type to be
      registered with ``anynet.register("layer")``).

    ``categories=C`` is for a layer whose input is integer category ids in [0, C) of shape
    (n, 1), as :class:`~anynet.layers.Embedding`'s: the inputs are such ids (int64), the
    gradient check is over the parameters alone (ids are not differentiable), the bad inputs are
    ids of no category (negative, C, fractional, NaN, ±inf, bool, the wrong shape, 0 samples),
    and the round trip feeds them to the network as floats, as a network's input is.

    Example:
        >>> from anynet.layers import Dense
        >>> from anynet.testing import check_layer
        >>> check_layer(lambda: Dense(5, 3, activation="tanh", seed=0), backends=["numpy"]).ok
        True
    """
    rng = np.random.default_rng(seed)
    probe = make()
    width = probe.in_features or in_features or 5
    k = _n_inputs(probe, width)
    if categories is not None:
        if isinstance(categories, bool) or not isinstance(categories, int) or categories < 1 or width != 1 or k != 1:
            raise ConfigError(f"check_layer: categories must be a positive int, for a layer of one input of width 1 "
                              f"(category ids), got categories={categories!r} for a layer of {k} input(s) of width "
                              f"{width}")
        hosts: list[np.ndarray] = [rng.integers(0, categories, (n_samples, 1))]
    else:
        hosts = [rng.standard_normal((n_samples, width)) for _ in range(k)]
    subject = _Subject(make, probe, width, hosts, seed, rng, categories)
    report = LayerReport(repr(probe))
    for spec in backends if backends is not None else known_backends():
        try:
            b = get_backend(spec)
        except BackendUnavailableError:
            continue
        for name, fn in _checks_on(b, subject):
            try:
                detail = fn()
                report.checks.append(Check(b.spec, name, True, detail or ""))
            except Exception as exc:  # noqa: BLE001 - a failing check, whatever it raised, is reported
                report.checks.append(Check(b.spec, name, False, f"{type(exc).__name__}: {exc}"[:300]))
    if not report.checks:
        raise BackendUnavailableError("check_layer: none of the requested backends is usable here")
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report
