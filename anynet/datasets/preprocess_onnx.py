"""A table preprocessor as ONNX nodes, put in front of an exported network.

:func:`with_preprocessing` takes the ``onnx.ModelProto`` of a network (from
:func:`anynet.onnx.to_onnx`) and a fitted :class:`~anynet.datasets.preprocess.TablePreprocessor`
and returns one ONNX model that reads RAW table columns, as ``anynet predict`` reads a CSV file:

- one input per raw column, named as the column, of shape ``("batch", 1)``: ``double`` for a
  numeric column (a missing value is NaN), ``string`` for a categorical one (a missing value is
  an empty string, ``NA``, ``NaN`` or ``null`` in any case; cells are compared as given, so
  strip surrounding spaces as ``anynet predict`` does);
- then, as the preprocessor does: numbers standardised ``(x - mean) / scale`` in float64 and
  missing ones filled in (``IsNaN``/``IsInf`` and ``Where``), then cast to the network's float
  type (so raw values such as timestamps keep every digit float64 has), categories one-hot encoded (``ai.onnx.ml``
  ``LabelEncoder`` to an index, a missing one to the fill category's, then ``Equal`` against
  0..k-1), and ``Concat`` in the network's input order;
- outputs: ``label`` (batch,) and ``probabilities`` (batch, classes) for a classifier,
  ``prediction`` (batch, outputs) for a regression. ``label`` is a string for text classes,
  else a float64 number (the class's value, exact).

ONNX has no errors to raise: a row ``anynet predict`` refuses (a missing or infinite value the
model has no fill value for, an unknown category when ``handle_unknown="error"``) gives NaN
``probabilities`` and ``prediction``, and a ``label`` that is no class: ``""``
(:data:`NO_STRING_LABEL`) for text classes, NaN for numeric ones. Check for it before using a
label. With ``handle_unknown="ignore"`` an unknown category is all zeros, as in anynet.

Needs the optional ``onnx`` package.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, InputError
from ..onnx import require_onnx
from .preprocess import MISSING_TOKENS, TablePreprocessor, check_handle_unknown

if TYPE_CHECKING:  # onnx is optional: imported when an export runs
    from onnx import ModelProto

#: how a classifier's outputs become probabilities, by name
PROBA_OPS = {"softmax": "Softmax", "sigmoid": "Sigmoid", "identity": "Identity"}
#: the version of the ``ai.onnx.ml`` domain written (LabelEncoder with string keys and int64 values)
ML_OPSET = 3
#: the ``label`` of a refused row when the classes are strings (numeric classes: NaN)
NO_STRING_LABEL = ""
_NETWORK = "network/"
_PRE = "preprocess/"


def missing_strings() -> list[str]:
    """Every spelling of a missing categorical cell the graph recognises: ``""`` and ``NA``,
    ``NaN``, ``null`` in every mix of cases (ONNX has no case-insensitive match)."""
    out = []
    for token in MISSING_TOKENS:
        out += ["".join(p) for p in itertools.product(*[(c.lower(), c.upper()) for c in token])]
    return out


class _Graph:
    def __init__(self, onnx: Any, elem_type: int) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.elem_type = elem_type
        self.dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{_PRE}{hint}_{self._count}"

    def node(self, op: str, inputs: Sequence[str], hint: str = "", *, output: str | None = None,
             domain: str = "", **attributes: Any) -> str:
        out = output or self.name(f"{hint}/{op}" if hint else op)
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=out, domain=domain, **attributes))
        return out

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        if array.dtype == object:
            tensor = self.helper.make_tensor(name, self.onnx.TensorProto.STRING, array.shape,
                                             [str(v).encode() for v in array.reshape(-1)])
        else:
            tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.initializers.append(tensor)
        return name


def with_preprocessing(network: ModelProto, preprocessor: TablePreprocessor, *, task: str,
                       classes: Sequence[Any] = (), proba: str = "softmax",
                       handle_unknown: str | None = None) -> ModelProto:
    """One ONNX model: raw columns → ``preprocessor`` → ``network`` → outputs (see the module doc).

    Arguments:
        network: an ONNX model with one input and one output, e.g. ``anynet.onnx.to_onnx(model)``.
        preprocessor: fitted; its ``n_features`` must be the network input's width.
        task: ``"classification"`` (outputs ``label`` and ``probabilities``) or ``"regression"``
            (output ``prediction``).
        classes: the label of each class (numbers or strings), for ``label``.
        proba: how the network's outputs become probabilities: ``"softmax"``, ``"sigmoid"``
            (logits) or ``"identity"`` (already probabilities); classification only.
        handle_unknown: overrides the preprocessor's setting.

    Raises:
        ConfigError: a network with several inputs or outputs, widths that disagree, a column
            whose name clashes with the graph's own names, a bad option.
        ImportError: onnx is not installed.

    Example:
        >>> import anynet, anynet.onnx
        >>> from anynet.datasets import Table, TablePreprocessor
        >>> from anynet.layers import Dense
        >>> t = Table.from_rows(["size", "colour"], [["1", "red"], ["NA", "blue"], ["3", "red"]])
        >>> pre = TablePreprocessor(missing="median").fit(t)
        >>> net = anynet.Sequential([Dense(pre.n_features, 2)], seed=0)
        >>> proto = with_preprocessing(anynet.onnx.to_onnx(net), pre, task="classification", classes=["no", "yes"])
        >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
        (['size', 'colour'], ['label', 'probabilities'])
    """
    onnx = require_onnx()
    helper = onnx.helper
    where = "with_preprocessing"
    if task not in ("classification", "regression"):
        raise ConfigError(f"{where}: task must be 'classification' or 'regression', got {task!r}")
    if task == "classification" and proba not in PROBA_OPS:
        raise ConfigError(f"{where}: proba must be one of {', '.join(PROBA_OPS)}, got {proba!r}")
    handle_unknown = preprocessor.handle_unknown if handle_unknown is None else check_handle_unknown(handle_unknown)
    specs = preprocessor.specs
    if not specs:
        raise ConfigError(f"{where}: the preprocessor is not fitted yet; call fit(table) first")
    if len(network.graph.input) != 1 or len(network.graph.output) != 1:
        raise ConfigError(f"{where}: the network must have one input and one output, got "
                          f"{len(network.graph.input)} and {len(network.graph.output)}")
    shape = network.graph.input[0].type.tensor_type.shape.dim
    width = shape[-1].dim_value if len(shape) == 2 else None
    if width != preprocessor.n_features:
        raise ConfigError(f"{where}: the preprocessor makes {preprocessor.n_features} inputs but the network's input "
                          f"takes {width}")
    outputs = ["label", "probabilities"] if task == "classification" else ["prediction"]
    clashes = [s.name for s in specs if s.name in outputs or s.name.startswith((_NETWORK, _PRE))]
    if clashes:
        raise ConfigError(f"{where}: column {clashes[0]!r} clashes with the exported graph's own names (outputs "
                          f"{', '.join(outputs)}; values named {_NETWORK}… and {_PRE}…); rename the column and retrain")
    net = onnx.compose.add_prefix(network, _NETWORK)
    elem_type = net.graph.input[0].type.tensor_type.elem_type
    g = _Graph(onnx, elem_type)
    nan = g.const(np.nan, "nan")
    inputs, parts = [], []
    missing_keys = missing_strings()
    for s in specs:
        x = s.name
        if s.kind == "numeric":
            # float64 in, scaled in float64, cast after: a float32 input would round large raw values
            # (timestamps around 1.7e9 are 128 apart in float32) before scaling, as anynet does not
            inputs.append(helper.make_tensor_value_info(x, onnx.TensorProto.DOUBLE, ["batch", 1]))
            bad = g.node("Or", [g.node("IsNaN", [x], x), g.node("IsInf", [x], x)], x)
            z = x
            if (s.mean, s.scale) != (0.0, 1.0):
                centred = g.node("Sub", [x, g.const(s.mean, f"{x}/mean", np.float64)], x)
                z = g.node("Div", [centred, g.const(s.scale, f"{x}/scale", np.float64)], x)
            # the fill value is standardised here in float64, as anynet does before casting to the network's dtype
            # (a numeric column's fill is a number: float() only tells the type checker so)
            fill = g.const(np.nan if s.fill is None else (float(s.fill) - s.mean) / s.scale, f"{x}/fill", np.float64)
            parts.append(g.node("Cast", [g.node("Where", [bad, fill, z], x)], x, to=elem_type))
            continue
        inputs.append(helper.make_tensor_value_info(x, onnx.TensorProto.STRING, ["batch", 1]))
        k = len(s.categories)
        # an index per cell: 0..k-1 a category, -1 an unknown category, -2 a missing cell with no fill
        on_missing = -2 if s.fill is None else s.categories.index(str(s.fill))  # a category: str() types it
        index = g.node("LabelEncoder", [x], x, domain="ai.onnx.ml", keys_strings=[*s.categories, *missing_keys],
                       values_int64s=[*range(k), *[on_missing] * len(missing_keys)], default_int64=-1)
        hot = g.node("Cast", [g.node("Equal", [index, g.const(np.arange(k), f"{x}/range", np.int64)], x)], x,
                     to=elem_type)
        refused = None
        if handle_unknown == "error":
            refused = g.node("Less", [index, g.const(0, f"{x}/zero", np.int64)], x)
        elif s.fill is None:
            refused = g.node("Equal", [index, g.const(-2, f"{x}/no_fill", np.int64)], x)
        parts.append(hot if refused is None else g.node("Where", [refused, nan, hot], x))
    features = g.node("Concat", parts, "features", axis=1) if len(parts) > 1 else parts[0]
    g.node("Identity", [features], output=net.graph.input[0].name)
    g.nodes.extend(net.graph.node)
    g.initializers.extend(net.graph.initializer)
    # a refused row: a NaN among its features (a missing value with no fill, a refused category). Its outputs
    # are set here, not left to the network (whose layers need not carry a NaN through)
    axis = g.const([1], "axis", np.int64)
    refused = g.node("IsNaN", [g.node("ReduceSum", [features, axis], "refused", keepdims=1)], "refused")
    out = net.graph.output[0].name
    n_out = net.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    if task == "classification":
        if len(classes) != n_out:
            raise ConfigError(f"{where}: {len(classes)} class labels for a network of {n_out} outputs")
        options: dict[str, Any] = {"axis": -1} if proba == "softmax" else {}
        probabilities = g.node("Where", [refused, nan, g.node(PROBA_OPS[proba], [out], "probabilities", **options)],
                               output="probabilities")
        labels, no_label = _classes(g, classes)
        label = g.node("Gather", [labels, g.node("ArgMax", [probabilities], "label", axis=1, keepdims=0)], "label",
                       axis=0)
        g.node("Where", [g.node("Squeeze", [refused, axis], "label"), no_label, label], output="label")
        label_type = g.initializers[-1].data_type  # the constants of _classes, added last
        graph_outputs = [helper.make_tensor_value_info("label", label_type, ["batch"]),
                         helper.make_tensor_value_info("probabilities", elem_type, ["batch", n_out])]
    else:
        g.node("Where", [refused, nan, out], output="prediction")
        graph_outputs = [helper.make_tensor_value_info("prediction", elem_type, ["batch", n_out])]
    graph = helper.make_graph(g.nodes, "anynet_table_model", inputs, graph_outputs, g.initializers)
    opsets = list(net.opset_import)
    if any(s.kind == "categorical" for s in specs):
        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    proto = helper.make_model(graph, opset_imports=opsets, producer_name=net.producer_name or "anynet",
                              producer_version=net.producer_version)
    proto.ir_version = max(net.ir_version, helper.find_min_ir_version_for(opsets))
    for prop in net.metadata_props:
        proto.metadata_props.add(key=prop.key, value=prop.value)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ConfigError(f"{where}: the joined graph is not valid ONNX ({str(exc).strip()[:400]})") from exc
    return proto


def _classes(g: _Graph, classes: Sequence[Any]) -> tuple[str, str]:
    """``(labels, no_label)``: the class labels as a constant, and the label of a refused row:
    strings and ``""`` (NO_STRING_LABEL), or numbers as float64 (exact for the float64 labels
    anynet keeps) and NaN."""
    if all(isinstance(c, str) for c in classes):
        return (g.const(np.asarray(classes, dtype=object), "classes", object),
                g.const(np.asarray(NO_STRING_LABEL, dtype=object), "no_label", object))
    try:
        values = np.asarray(classes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"with_preprocessing: classes must be all strings or all numbers, got {list(classes)[:5]}") \
            from None
    return g.const(values, "classes", np.float64), g.const(np.nan, "no_label", np.float64)
