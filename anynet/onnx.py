"""Export a trained network to ONNX, for inference in ONNX Runtime and other ONNX runtimes.

:func:`to_onnx` builds an ``onnx.ModelProto`` from an :class:`anynet.Sequential` or
:class:`anynet.Graph` (any :class:`anynet.network.Graph`); :func:`export` also writes it to a
file. Needs the optional ``onnx`` package (``pip install "anynet-nn[onnx]"``); ``import anynet``
does not import this module or onnx.

What the exported model is:

- one input per network input, named as the network names it (``"input"`` for a Sequential),
  of shape ``("batch", width)`` with a dynamic batch dimension, and one output (``"output"``);
- the inference form of the network: Dropout is the identity, BatchNorm uses its running
  statistics, a Graph's loss node is left out;
- parameters are initializers named by their state-dict paths (``"0.W"``, ``"0.b"``) in the
  network's dtype (float32 or float64);
- ``model.metadata`` travels as the JSON string ``metadata_props["anynet.metadata"]``.

Opsets from :data:`MIN_OPSET` (13) to the newest the installed onnx knows; the default is
:data:`DEFAULT_OPSET` (17). Each layer and activation maps to standard operators; where an ONNX
operator would lose accuracy, the exporter writes elementary operators instead:

- ONNX float attributes are 32-bit, so BatchNorm's ``eps`` is added to the variance initializer
  (``"<node>.running_var_plus_eps"``, ``epsilon=0``), and float64 models get ``leaky_relu``
  and ``elu`` written with ``Relu``, ``Min`` and ``Exp``, their ``alpha`` a tensor of the
  model's dtype;
- LayerNorm is ``LayerNormalization`` for float32 models from opset 17; float64 models (whose
  ``eps`` the 32-bit attribute would round), and opsets below 17, get it written out with
  ``ReduceMean`` in two passes, as anynet computes it;
- ``Gelu`` (opset 20) is used for float32 models only (ONNX Runtime's float64 Gelu is about
  float32-accurate); float64 models, and opsets below 20, get GELU written out;
- ONNX Runtime's CPU provider has no float64 kernel for ``Softplus`` (float64 models get
  ``Relu(x) + Log(1 + Exp(-|x|))``) nor for ``Erf``: a float64 model with exact GELU
  (``gelu`` with ``approximate="none"``) is valid ONNX, but ONNX Runtime cannot run it on CPU.

An :class:`~anynet.layers.Embedding` is a ``Gather`` of its ``W`` by the ids, which its input
holds as floats (the network's input dtype); an id that is negative, too large or fractional
gives a NaN row (``Gather`` alone would wrap a negative id to another category).

Your own layers and activations: give them an exporter with :func:`register_exporter`. The
exporter is called with a :class:`Builder` (``add_node``, ``add_initializer``, ``parameter``,
``constant``, ``activation``, ``fresh``), the part, and the name(s) of its input value(s), and
returns the name of its output value. A part without an exporter raises
:class:`~anynet.ConfigError` naming it and its node.

Example:
    >>> import numpy as np
    >>> import anynet, anynet.onnx
    >>> from anynet.layers import Dense
    >>> model = anynet.Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0)
    >>> proto = anynet.onnx.to_onnx(model)
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['input'], ['output'])
    >>> sorted(t.name for t in proto.graph.initializer)
    ['0.W', '0.b', '1.W', '1.b']
    >>> [n.op_type for n in proto.graph.node]
    ['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Identity']
    >>> import onnx.reference
    >>> x = np.ones((2, 4), np.float32)
    >>> y = onnx.reference.ReferenceEvaluator(proto).run(None, {"input": x})[0]
    >>> bool(np.allclose(y, model.predict(x), rtol=1e-5, atol=1e-6))
    True
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import registry
from .activations import ActivationFn
from .backends import to_numpy
from .errors import ConfigError, InputTypeError, UnknownNameError
from .fileformat import atomic_write
from .layers import Activation, Add, BatchNorm, Concatenate, Dense, Dropout, Embedding, Layer, LayerNorm
from .network import Graph

if TYPE_CHECKING:  # onnx is optional: imported when an export runs
    from onnx import ModelProto

__all__ = [
    "DEFAULT_OPSET", "MIN_OPSET", "Builder", "export", "register_exporter", "require_onnx", "to_onnx",
    "unregister_exporter",
]

#: the opset :func:`to_onnx` writes unless told otherwise (ONNX Runtime ≥ 1.12 and most runtimes read it)
DEFAULT_OPSET = 17
#: the oldest opset the exporter can write (Softmax over one axis, Clip with tensor bounds)
MIN_OPSET = 13

Exporter = Callable[..., str]

# exact type -> exporter: a subclass may change what forward computes, so it needs its own
_LAYER_EXPORTERS: dict[type, Exporter] = {}
# ActivationFn.name (the registry's canonical name) -> exporter
_ACTIVATION_EXPORTERS: dict[str, Exporter] = {}


def require_onnx() -> Any:
    """The ``onnx`` package with the submodules anynet's exporters use (checker, compose, helper,
    numpy_helper); a clear ImportError naming the extra when it is missing."""
    try:
        import onnx
        import onnx.checker
        import onnx.compose
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as exc:
        raise ImportError(f"anynet.onnx needs the onnx package ({exc}); install it with "
                          "pip install 'anynet-nn[onnx]' (or pip install onnx)") from exc
    return onnx


# -- registering exporters ---------------------------------------------------------------------------
def _exporter_key(target: Any, where: str) -> tuple[dict[Any, Exporter], Any]:
    """The table and key for a layer class, an activation name or an ActivationFn."""
    if isinstance(target, type) and issubclass(target, Layer):
        return _LAYER_EXPORTERS, target
    if isinstance(target, ActivationFn):
        target = target.name
    if target == "custom":
        raise ConfigError(f"{where}: 'custom' is what every unregistered pair (f, df) is called; register the "
                          "activation with anynet.register('activation') under a name of its own, and use that name")
    if isinstance(target, str) and target:
        try:  # an alias ("swish") stands for its canonical name ("silu"), which ActivationFn.name holds
            canonical = registry.name_of("activation", registry.lookup("activation", target))
        except UnknownNameError:  # not registered (yet): matched by ActivationFn.name as given
            canonical = None
        return _ACTIVATION_EXPORTERS, canonical or target
    raise InputTypeError(f"{where}: target must be a Layer subclass, an activation name or an ActivationFn, "
                         f"got {target!r}")


def register_exporter(target: type | str | ActivationFn, fn: Exporter | None = None, *,
                      replace: bool = False) -> Any:
    """Register ``fn`` as the ONNX exporter of a layer class or an activation.

    For a layer class (matched exactly, not its subclasses), ``fn(builder, layer, x)`` gets the
    :class:`Builder`, the layer and its input's value name (a list of names for a merge layer).
    For an activation (by its registered name, e.g. ``"cube"``, or an :class:`ActivationFn`),
    ``fn(builder, activation, x)`` gets the ActivationFn (its ``options`` hold e.g. ``alpha``).
    Either returns the name of its output value, e.g. what :meth:`Builder.add_node` returned.

    Without ``fn`` it is a decorator. A target that has an exporter (built-in ones included)
    needs ``replace=True``.

    Example:
        >>> import anynet.onnx
        >>> from anynet.layers import Layer
        >>> class Twice(Layer):
        ...     def forward(self, x, *, training=False, need_dx=True):
        ...         return 2 * x, lambda dy: 2 * dy
        >>> @anynet.onnx.register_exporter(Twice)
        ... def twice(b, layer, x):
        ...     return b.add_node("Mul", [x, b.constant(2.0)])
        >>> anynet.onnx.unregister_exporter(Twice)
    """
    where = "anynet.onnx.register_exporter"
    table, key = _exporter_key(target, where)

    def add(f: Exporter) -> Exporter:
        if not callable(f):
            raise InputTypeError(f"{where}: the exporter must be callable (builder, part, x) -> output name, "
                                 f"got {f!r}")
        old = table.get(key)
        if old is not None and old is not f and not replace:
            shown = key.__name__ if isinstance(key, type) else repr(key)
            raise ConfigError(f"{where}: {shown} already has an exporter ({old!r}); pass replace=True to "
                              "replace it")
        table[key] = f
        return f

    return add if fn is None else add(fn)


def unregister_exporter(target: type | str | ActivationFn) -> None:
    """Remove the exporter of a layer class or an activation (no-op if there is none)."""
    table, key = _exporter_key(target, "anynet.onnx.unregister_exporter")
    table.pop(key, None)


# -- the builder exporters write into ----------------------------------------------------------------
class Builder:
    """The graph under construction, as an exporter sees it.

    Attributes:
        opset: the opset being written (an exporter may choose operators by it).
        dtype: the network's float dtype, as a NumPy dtype.
        elem_type: the same as an ``onnx.TensorProto`` element type (``FLOAT`` or ``DOUBLE``).
        node: the name of the network node being exported (names made now start with it).
        nodes, initializers: the ``NodeProto`` and ``TensorProto`` lists so far (append to them
            only for what the methods cannot make, e.g. a node with several outputs).

    Value names are unique across the graph; build them with :meth:`fresh`, or let
    :meth:`add_node`, :meth:`add_initializer` and :meth:`parameter` do it.
    """

    def __init__(self, onnx: Any, opset: int, dtype: np.dtype, inputs: Sequence[str], reserved: Sequence[str]) -> None:
        self._onnx = onnx
        self.opset = opset
        self.dtype = dtype
        self.elem_type = onnx.helper.np_dtype_to_tensor_dtype(dtype)
        self.node = ""
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._taken: set[str] = {*inputs, *reserved}
        self._values: set[str] = set(inputs)  # names that hold a value: inputs, node outputs, initializers
        self._constants: dict[str, str] = {}

    def fresh(self, hint: str) -> str:
        """A name no value or node has yet: ``"<node>/<hint>"``, with ``_1``, ``_2`` … if needed."""
        return self._unique(f"{self.node}/{hint}" if self.node else hint)

    def _unique(self, base: str) -> str:
        name, i = base, 0
        while name in self._taken:
            i += 1
            name = f"{base}_{i}"
        self._taken.add(name)
        return name

    def add_node(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Add an operator of the default ONNX domain with one output; returns the output's name.

        ``inputs`` are value names ("" for an omitted optional input); ``attributes`` are the
        operator's attributes (``axis=-1``, ``alpha=0.1``).
        """
        for i, name in enumerate(inputs):
            if name and name not in self._values:
                raise ConfigError(f"anynet.onnx: node {self.node!r}: input {i} of {op_type}, {name!r}, is not a value "
                                  "of the graph; pass names returned by add_node, add_initializer, parameter or "
                                  "constant, or the exporter's input")
        out = self.fresh(op_type)
        self.nodes.append(self._onnx.helper.make_node(op_type, list(inputs), [out], name=out, **attributes))
        self._values.add(out)
        return out

    def add_initializer(self, value: Any, name: str = "const", *, dtype: Any = None) -> str:
        """Add a constant tensor named ``"<node>/<name>"``; returns its name. A float array is cast
        to the network's dtype unless ``dtype`` says otherwise; integers keep their type."""
        return self._initializer(value, self.fresh(name), dtype)

    def _initializer(self, value: Any, name: str, dtype: Any = None) -> str:
        array = np.asarray(to_numpy(value))
        if dtype is not None:
            array = array.astype(dtype)
        elif array.dtype.kind == "f":
            array = array.astype(self.dtype)
        self._values.add(name)
        self.initializers.append(self._onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def constant(self, value: float) -> str:
        """A scalar (0-d) initializer of the network's dtype, shared by every use of the same value."""
        key = repr(float(value))
        if key not in self._constants:
            self._constants[key] = self._initializer(np.asarray(value, self.dtype), self._unique("const"))
        return self._constants[key]

    def parameter(self, layer: Layer, key: str, value: Any = None) -> str:
        """``layer``'s parameter or buffer ``key`` as an initializer named ``"<node>.<key>"`` (its
        state-dict path); ``value`` replaces the array (e.g. a folded form, under a new ``key``)."""
        if value is None:
            value = self._state(layer, key)
        return self._initializer(value, self._unique(f"{self.node}.{key}" if self.node else key))

    def _state(self, layer: Layer, key: str) -> Any:
        value = layer.params.get(key, layer.buffers.get(key))
        if value is None:
            raise ConfigError(f"anynet.onnx: node {self.node!r} ({layer!r}) has no parameter or buffer {key!r} "
                              "(built under deferred_init and never loaded?)")
        return value

    def activation(self, fn: ActivationFn, x: str) -> str:
        """Apply an activation through its registered exporter; returns the output's name."""
        exporter = _ACTIVATION_EXPORTERS.get(fn.name)
        if exporter is None:
            made = (" (an unregistered pair (f, df) is named 'custom': register it with "
                    "anynet.register('activation') under a name of its own first)") if fn.name == "custom" else ""
            raise ConfigError(
                f"anynet.onnx: node {self.node!r} uses the activation {fn.name!r}, which has no ONNX exporter{made}; "
                f"give it one with anynet.onnx.register_exporter({fn.name!r}, fn), where fn(builder, activation, x) "
                "adds its nodes with builder.add_node and returns the output name")
        return self._checked(exporter(self, fn, x), f"the exporter of the activation {fn.name!r}")

    def _layer(self, layer: Layer, x: str | list[str]) -> str:
        exporter = _LAYER_EXPORTERS.get(type(layer))
        if exporter is None:
            cls = type(layer).__name__
            raise ConfigError(
                f"anynet.onnx: node {self.node!r} is a {cls}, which has no ONNX exporter; give it one with "
                f"anynet.onnx.register_exporter({cls}, fn), where fn(builder, layer, x) adds its nodes with "
                "builder.add_node / builder.parameter and returns the output name")
        return self._checked(exporter(self, layer, x), f"the exporter of {type(layer).__name__}")

    def _checked(self, out: Any, what: str) -> str:
        if not isinstance(out, str) or out not in self._values:
            raise ConfigError(f"anynet.onnx: node {self.node!r}: {what} returned {out!r}, not the name of a value "
                              "of the graph; return the name that add_node gave its last node")
        return out


# -- the built-in layers -------------------------------------------------------------------------------
def _dense(b: Builder, layer: Dense, x: str) -> str:
    y = b.add_node("MatMul", [x, b.parameter(layer, "W")])
    if layer.use_bias:
        y = b.add_node("Add", [y, b.parameter(layer, "b")])
    return y if layer.activation is None else b.activation(layer.activation, y)


def _activation(b: Builder, layer: Activation, x: str) -> str:
    return b.activation(layer.fn, x)


def _dropout(b: Builder, layer: Dropout, x: str) -> str:
    return x  # the identity in inference


def _batchnorm(b: Builder, layer: BatchNorm, x: str) -> str:
    # ONNX's epsilon attribute is a 32-bit float: in a float64 model it would be rounded, so eps
    # is added to the variance here, in the network's dtype as anynet adds it, and epsilon is 0
    var = to_numpy(b._state(layer, "running_var")).astype(b.dtype) + b.dtype.type(layer.eps)
    return b.add_node("BatchNormalization", [x, b.parameter(layer, "gamma"), b.parameter(layer, "beta"),
                                             b.parameter(layer, "running_mean"),
                                             b.parameter(layer, "running_var_plus_eps", var)], epsilon=0.0)


def _mean_last(b: Builder, x: str) -> str:
    if b.opset >= 18:  # axes became an input in opset 18
        return b.add_node("ReduceMean", [x, b.add_initializer(np.asarray([-1], np.int64), "axes")],
                          keepdims=1)
    return b.add_node("ReduceMean", [x], axes=[-1], keepdims=1)


def _layernorm(b: Builder, layer: LayerNorm, x: str) -> str:
    affine = layer.elementwise_affine
    if b.opset >= 17 and b.dtype == np.float32:
        scale = b.parameter(layer, "gamma") if affine else b.add_initializer(np.ones(layer.in_features), "ones")
        bias = [b.parameter(layer, "beta")] if affine else []
        return b.add_node("LayerNormalization", [x, scale, *bias], axis=-1, epsilon=layer.eps)
    # written out in two passes, as LayerNorm.forward; float64 models need it because the epsilon
    # attribute is a 32-bit float
    centred = b.add_node("Sub", [x, _mean_last(b, x)])
    var = _mean_last(b, b.add_node("Mul", [centred, centred]))
    inv = b.add_node("Reciprocal", [b.add_node("Sqrt", [b.add_node("Add", [var, b.constant(layer.eps)])])])
    y = b.add_node("Mul", [centred, inv])
    if affine:
        y = b.add_node("Add", [b.add_node("Mul", [y, b.parameter(layer, "gamma")]), b.parameter(layer, "beta")])
    return y


def _add(b: Builder, layer: Add, xs: list[str]) -> str:
    y = xs[0]
    for xi in xs[1:]:  # left to right, as Add.forward (Sum may add in another order)
        y = b.add_node("Add", [y, xi])
    return y


def _concatenate(b: Builder, layer: Concatenate, xs: list[str]) -> str:
    return b.add_node("Concat", list(xs), axis=1)


def _embedding(b: Builder, layer: Embedding, x: str) -> str:
    # x: (batch, 1) ids as floats, as the network's input is. Gather would wrap a negative id to
    # another category's row and Cast would truncate a fraction: a bad id's row is NaN instead,
    # as in an anynet training step on a device (predict refuses it)
    ok = b.add_node("And", [b.add_node("GreaterOrEqual", [x, b.constant(0.0)]),
                            b.add_node("Less", [x, b.constant(float(layer.n_categories))])])
    ok = b.add_node("And", [ok, b.add_node("Equal", [x, b.add_node("Floor", [x])])])
    ids = b.add_node("Cast", [b.add_node("Where", [ok, x, b.constant(0.0)])], to=b._onnx.TensorProto.INT64)
    rows = b.add_node("Flatten", [b.add_node("Gather", [b.parameter(layer, "W"), ids], axis=0)], axis=1)
    return b.add_node("Where", [ok, rows, b.constant(math.nan)])


for _cls, _fn in ((Dense, _dense), (Activation, _activation), (Dropout, _dropout), (BatchNorm, _batchnorm),
                  (LayerNorm, _layernorm), (Add, _add), (Concatenate, _concatenate), (Embedding, _embedding)):
    register_exporter(_cls, _fn)


# -- the built-in activations ------------------------------------------------------------------------
def _unary(op: str) -> Exporter:
    def export(b: Builder, fn: ActivationFn, x: str) -> str:
        return b.add_node(op, [x])

    return export


def _identity(b: Builder, fn: ActivationFn, x: str) -> str:
    return x


def _leaky_relu(b: Builder, fn: ActivationFn, x: str) -> str:
    alpha = fn.options.get("alpha", 0.01)
    if b.dtype == np.float32:
        return b.add_node("LeakyRelu", [x], alpha=float(alpha))
    # float64: LeakyRelu's alpha attribute is 32-bit (and PRelu has no float64 kernel in ONNX
    # Runtime before opset 16); relu(x) + alpha·min(x, 0) is x above 0 and alpha·x below, exactly
    neg = b.add_node("Mul", [b.constant(alpha), b.add_node("Min", [x, b.constant(0.0)])])
    return b.add_node("Add", [b.add_node("Relu", [x]), neg])


def _elu(b: Builder, fn: ActivationFn, x: str) -> str:
    alpha = fn.options.get("alpha", 1.0)
    if b.dtype == np.float32:
        return b.add_node("Elu", [x], alpha=float(alpha))
    # float64: Elu has no float64 kernel in ONNX Runtime, and its alpha attribute is 32-bit.
    # relu(x) + alpha·(exp(min(x, 0)) - 1) is x for x > 0 and alpha·(eˣ - 1) below
    em1 = b.add_node("Sub", [b.add_node("Exp", [b.add_node("Min", [x, b.constant(0.0)])]), b.constant(1.0)])
    return b.add_node("Add", [b.add_node("Relu", [x]), b.add_node("Mul", [b.constant(alpha), em1])])


def _softplus(b: Builder, fn: ActivationFn, x: str) -> str:
    if b.dtype == np.float32:
        return b.add_node("Softplus", [x])
    # float64 (no kernel in ONNX Runtime): max(x, 0) + log(1 + exp(-|x|)), which never overflows
    e = b.add_node("Exp", [b.add_node("Neg", [b.add_node("Abs", [x])])])
    return b.add_node("Add", [b.add_node("Relu", [x]), b.add_node("Log", [b.add_node("Add", [b.constant(1.0), e])])])


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _gelu(b: Builder, fn: ActivationFn, x: str) -> str:
    approximate = fn.options.get("approximate", "tanh")
    if b.opset >= 20 and b.dtype == np.float32:  # ONNX Runtime's float64 Gelu is float32-accurate
        return b.add_node("Gelu", [x], approximate=approximate)
    half_x = b.add_node("Mul", [b.constant(0.5), x])
    if approximate == "none":  # x·Φ(x) = ½x·(1 + erf(x/√2))
        erf = b.add_node("Erf", [b.add_node("Mul", [x, b.constant(1.0 / math.sqrt(2.0))])])
        return b.add_node("Mul", [half_x, b.add_node("Add", [b.constant(1.0), erf])])
    # ½x·(1 + tanh(√(2/π)(x + 0.044715x³))), x clipped to ±10 inside, as activations.gelu
    xc = b.add_node("Clip", [x, b.constant(-10.0), b.constant(10.0)])
    cube = b.add_node("Mul", [b.add_node("Mul", [xc, xc]), xc])
    inner = b.add_node("Add", [xc, b.add_node("Mul", [b.constant(_GELU_K), cube])])
    t = b.add_node("Tanh", [b.add_node("Mul", [b.constant(_GELU_C), inner])])
    return b.add_node("Mul", [half_x, b.add_node("Add", [b.constant(1.0), t])])


def _silu(b: Builder, fn: ActivationFn, x: str) -> str:
    return b.add_node("Mul", [x, b.add_node("Sigmoid", [x])])


def _softmax(b: Builder, fn: ActivationFn, x: str) -> str:
    return b.add_node("Softmax", [x], axis=-1)


for _act, _export in (("identity", _identity), ("sigmoid", _unary("Sigmoid")), ("tanh", _unary("Tanh")),
                      ("relu", _unary("Relu")), ("leaky_relu", _leaky_relu), ("elu", _elu), ("gelu", _gelu),
                      ("softplus", _softplus), ("silu", _silu), ("softmax", _softmax)):
    register_exporter(_act, _export)


# -- building the model --------------------------------------------------------------------------------
def _check_opset(onnx: Any, opset: Any) -> int:
    newest = onnx.defs.onnx_opset_version()
    # a named bool, not an isinstance narrowing: typeshed's numbers.Integral supports no comparison with int
    integer = not isinstance(opset, bool) and isinstance(opset, numbers.Integral)
    if not integer or not MIN_OPSET <= opset <= newest:
        raise ConfigError(f"anynet.onnx: opset must be an int from {MIN_OPSET} to {newest} (the newest the installed "
                          f"onnx {onnx.__version__} knows), got {opset!r}; the default is {DEFAULT_OPSET}")
    return int(opset)


def _scaling_pair(where: str, name: str, pair: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` as float64 vectors of ``width`` (a scalar is repeated), scale > 0, all finite."""
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise ConfigError(f"{where}: the preprocessing of input {name!r} must be a pair (mean, scale), got "
                          f"{str(pair)[:80]}")
    out = []
    for what, v in zip(("mean", "scale"), pair):
        try:
            a = np.asarray(to_numpy(v), dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {what} of input {name!r} must be numbers, got {str(v)[:80]}") from None
        if a.ndim == 0:
            a = np.full(width, float(a))
        if a.shape != (width,) or not np.isfinite(a).all():
            raise ConfigError(f"{where}: {what} of input {name!r} must be {width} finite numbers (its width), got "
                              f"shape {a.shape}")
        out.append(a)
    if not (out[1] > 0).all():
        raise ConfigError(f"{where}: scale of input {name!r} must be > 0, got {out[1].min()}")
    return out[0], out[1]


def _preprocessing(model: Graph, spec: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{input name: (mean, scale)}`` from ``preprocessing=`` (see :func:`to_onnx`)."""
    where = "anynet.onnx.to_onnx"
    if spec is False or spec is None:
        return {}
    names = list(model.inputs)
    if spec is True:
        meta = getattr(model, "metadata", None) or {}
        scaling = (meta.get("cli") or {}).get("scaling") if isinstance(meta.get("cli"), dict) else None
        if not isinstance(scaling, dict):
            raise ConfigError(f"{where}: preprocessing=True reads model.metadata['cli']['scaling'] (written by "
                              "anynet train for CSV data), and this model has none; pass preprocessing=(mean, scale) "
                              "instead, or leave it out")
        spec = (scaling.get("mean"), scaling.get("scale"))
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in model.inputs]
        if unknown:
            raise ConfigError(f"{where}: preprocessing names inputs {unknown} that the model does not have; "
                              f"its inputs are {names}")
        return {k: _scaling_pair(where, k, v, model.inputs[k]) for k, v in spec.items()}
    if len(names) != 1:
        raise ConfigError(f"{where}: the model has {len(names)} inputs ({', '.join(names)}); give preprocessing as "
                          "{input name: (mean, scale)}")
    return {names[0]: _scaling_pair(where, names[0], spec, model.inputs[names[0]])}


def to_onnx(model: Graph, *, opset: int = DEFAULT_OPSET, preprocessing: Any = False,
            output_name: str = "output") -> ModelProto:
    """The network as an ONNX model (checked with ``onnx.checker`` before it is returned).

    Arguments:
        model: an :class:`anynet.Sequential` or :class:`anynet.Graph` (on any backend).
        opset: the ONNX opset, from :data:`MIN_OPSET` to the newest the installed onnx knows.
        preprocessing: ``True`` to prepend the standardisation ``(x - mean) / scale`` that
            ``anynet train`` stored in ``model.metadata["cli"]["scaling"]``, so the ONNX model
            takes raw features; or ``(mean, scale)`` for a model with one input (scalars or one
            value per feature); or ``{input name: (mean, scale)}``. Default: none. A scaled
            input is float64 in the ONNX model (raw values keep their digits; the scaled
            values are cast to the model's dtype).
        output_name: the name of the ONNX output.

    Shapes:
        each input ``(batch, width)`` with ``batch`` dynamic → output ``(batch, out_features)``.

    Raises:
        ConfigError: a layer or activation without an exporter (see :func:`register_exporter`),
            an opset out of range, malformed ``preprocessing``.
        InputTypeError: ``model`` is not an anynet network.
        ImportError: onnx is not installed.
    """
    onnx = require_onnx()
    if not isinstance(model, Graph):
        raise InputTypeError(f"anynet.onnx.to_onnx: model must be an anynet Sequential or Graph, got "
                             f"{type(model).__name__}")
    opset = _check_opset(onnx, opset)
    if not isinstance(output_name, str) or not output_name or output_name in model.inputs:
        raise ConfigError(f"anynet.onnx.to_onnx: output_name must be a non-empty string other than an input's name "
                          f"({', '.join(model.inputs)}), got {output_name!r}")
    dtype = np.dtype(model.dtype)
    b = Builder(onnx, opset, dtype, list(model.inputs), [output_name])
    helper = onnx.helper
    values: dict[str, str] = {name: name for name in model.inputs}
    # raw inputs are scaled in float64, then cast to the model's dtype: a float32 raw input would
    # lose the digits of large values (timestamps near 1.7e9 are 128 apart in float32)
    scaled = _preprocessing(model, preprocessing)
    for name, (mean, scale) in scaled.items():
        b.node = name
        centred = b.add_node("Sub", [name, b._initializer(mean, b._unique(f"{name}.mean"), np.float64)])
        z = b.add_node("Div", [centred, b._initializer(scale, b._unique(f"{name}.scale"), np.float64)])
        values[name] = b.add_node("Cast", [z], to=b.elem_type)
    for n in model.order:
        edge = model.edges[n]
        b.node = n
        values[n] = b._layer(model.nodes[n], values[edge] if isinstance(edge, str) else [values[s] for s in edge])
    b.node = ""
    b.nodes.append(helper.make_node("Identity", [values[model.output]], [output_name], name=output_name))
    graph = helper.make_graph(
        b.nodes, f"anynet_{type(model).__name__}",
        [helper.make_tensor_value_info(name, onnx.TensorProto.DOUBLE if name in scaled else b.elem_type,
                                       ["batch", width]) for name, width in model.inputs.items()],
        [helper.make_tensor_value_info(output_name, b.elem_type, ["batch", model.out_features])],
        b.initializers)
    from . import __version__

    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="anynet",
                              producer_version=__version__)
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))  # the widest runtime support
    metadata = getattr(model, "metadata", None)
    if metadata:
        try:
            text = json.dumps(metadata, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"anynet.onnx.to_onnx: model.metadata is not JSON-able ({exc})") from None
        helper.set_model_props(proto, {"anynet.metadata": text})
    if proto.ByteSize() >= 2**31:
        raise ConfigError(f"anynet.onnx.to_onnx: the model is {proto.ByteSize() / 2**30:.1f} GiB, over protobuf's "
                          "2 GiB limit for one message; anynet does not write ONNX external data")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ConfigError(f"anynet.onnx.to_onnx: the exported graph is not valid ONNX ({str(exc).strip()[:400]}); "
                          "a custom exporter may have added a malformed node") from exc
    return proto


def export(model: Graph, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, preprocessing: Any = False,
           output_name: str = "output") -> ModelProto:
    """Write the network to ``path`` as an ONNX file (atomically) and return the ModelProto.

    The options are :func:`to_onnx`'s. Load it with ``onnxruntime.InferenceSession(path)``.

    Example:
        >>> import os, tempfile
        >>> import anynet, anynet.onnx
        >>> from anynet.layers import Dense
        >>> model = anynet.Sequential([Dense(2, 1, activation="sigmoid")], seed=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        >>> proto = anynet.onnx.export(model, path, opset=13)
        >>> proto.opset_import[0].version, os.path.getsize(path) > 0
        (13, True)
    """
    proto = to_onnx(model, opset=opset, preprocessing=preprocessing, output_name=output_name)
    atomic_write(path, [proto.SerializeToString()])
    return proto
