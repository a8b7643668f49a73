"""Networks as data: ``Graph`` (named nodes, any DAG) and ``Sequential`` (a chain).

A network is its architecture, its parameters and its buffers — nothing about training. It runs
its nodes forward in topological order and back-propagates in reverse, summing the gradients of a
node's output over every node that reads it (document 001's design, with every node a whole-batch
array operation). ``Sequential([...])`` is a graph whose nodes are named ``"0"``, ``"1"`` …, so its
parameters are ``"0.W"``, ``"0.b"``, ``"1.W"`` ….

``state_dict()`` / ``load_state_dict()`` are the one place the ``"node.key"`` path format lives;
checkpoints, callbacks and optimizers go through them. The user-facing :class:`anynet.Graph` and
:class:`anynet.Sequential` add training, prediction and saving on top (:mod:`anynet.model`).

Example:
    >>> import numpy as np
    >>> from anynet.network import Sequential
    >>> from anynet.layers import Dense
    >>> net = Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0)
    >>> y, backward = net.forward(np.ones((2, 4), np.float32), training=True)
    >>> y.shape, sorted(net.state_dict())
    ((2, 3), ['0.W', '0.b', '1.W', '1.b'])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .backends import Backend, get_backend, is_array, resolve, to_device, to_numpy
from .dtypes import dtype_name
from .errors import AnynetError, ConfigError, InputError, InputTypeError, StateDictError
from .layers.base import Array, Backward, Layer
from .losses import Loss
from .random import Seed, as_generator
from .registry import lookup, name_of
from .validation import check_features

Edge = str | list[str]  # one input (the layer gets an array) or several (it gets a list)


class Graph:
    """A network as a directed acyclic graph of named layers.

    Arguments:
        nodes: ``{name: (layer, inputs)}``: ``inputs`` is one node or input name (the layer gets
            an array), or a list of names (the layer, e.g. ``Add`` or ``Concatenate``, gets a
            list). One node may be a loss, ``(MSE(), [output, "y"])``, reading the output and a
            label input, as in document 001: ``fit`` then uses it and prediction ignores it.
        inputs: ``{input name: width}``.
        output: the node whose value the network returns.
        seed: seed or Generator: redraws every layer's parameters (in node order) and seeds
            ``rng``, the generator that training's shuffles draw from. Without it layers keep the
            weights they were built with.
        dtype: float dtype of every parameter (default: the scoped default, float32).
        backend: backend spec (default: the current backend).

    Shapes:
        x: (n, width of the input) → y: (n, width of the output node). With several inputs,
        ``{name: array}``.

    Example:
        >>> import numpy as np
        >>> from anynet.network import Graph
        >>> from anynet.layers import Add, Dense
        >>> g = Graph({"a": (Dense(3, 4), "x"), "b": (Dense(3, 4), "x"), "sum": (Add(), ["a", "b"])},
        ...           inputs={"x": 3}, output="sum", seed=0)
        >>> g(np.ones((5, 3), np.float32)).shape
        (5, 4)
    """

    def __init__(self, nodes: Mapping[str, tuple[Any, Edge]], *, inputs: Mapping[str, int], output: str,
                 seed: Seed = None, dtype: Any = None, backend: Backend | str | None = None) -> None:
        where = type(self).__name__
        self.nodes, self.edges, self.loss_node, self.inputs = _split_nodes(where, dict(nodes), dict(inputs), output)
        self.output = output
        self.order = _topological_order(where, self.edges, output)
        self.widths = _infer_widths(where, self.nodes, self.edges, self.inputs, self.order)
        self.backend = get_backend(backend)
        self.dtype = dtype_name(self.backend.dtype(dtype))
        #: host generator seeded with the model: training's shuffles draw from it
        self.rng = _place_layers(self, seed)

    @property
    def in_features(self) -> int:
        if len(self.inputs) != 1:
            raise InputError(f"{type(self).__name__} has several inputs: {self.inputs}")
        return next(iter(self.inputs.values()))

    @property
    def out_features(self) -> int:
        return self.widths[self.output]

    # -- state -------------------------------------------------------------------------------------
    def parameters(self) -> dict[str, Array]:
        """Every parameter by path, e.g. ``{"0.W": ..., "0.b": ...}`` (the live arrays)."""
        return {f"{n}.{k}": p for n, layer in self.nodes.items() for k, p in layer.params.items()}

    def buffers(self) -> dict[str, Array]:
        """Non-trainable state by path (e.g. BatchNorm's running statistics)."""
        return {f"{n}.{k}": b for n, layer in self.nodes.items() for k, b in layer.buffers.items()}

    @property
    def grads(self) -> dict[str, Array]:
        """Gradients of the last backward pass by parameter path: the layers' own arrays, which the
        next backward pass may overwrite in place (copy to keep)."""
        return {f"{n}.{k}": g for n, layer in self.nodes.items() for k, g in layer.grads.items()}

    def state_dict(self) -> dict[str, Array]:
        """Parameters and buffers by path ``"node.key"`` (the live arrays; copy to keep)."""
        return {**self.parameters(), **self.buffers()}

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every entry of :meth:`state_dict`, known without allocating."""
        return {f"{n}.{k}": tuple(s) for n, layer in self.nodes.items() for k, s in layer.state_shapes().items()}

    def load_state_dict(self, state: Mapping[str, Any], *, strict: bool = True) -> None:
        """Set parameters and buffers from ``{path: array}`` (NumPy or this backend's arrays).

        Every key must name a parameter or buffer and every shape must match; with ``strict`` every
        parameter and buffer must be given. Otherwise :class:`~anynet.StateDictError` names them,
        and nothing is changed.
        """
        for layer, key, value in _staged(self, state, strict):
            (layer.buffers if key in layer.buffer_keys() else layer.params)[key] = value

    def n_params(self) -> int:
        return sum(layer.n_params() for layer in self.nodes.values())

    def to(self, spec: str | Backend) -> Graph:
        """Move every parameter and buffer to another backend/device (in place; returns self)."""
        target = resolve(spec)
        target.dtype(self.dtype)  # refuse float64 on a device without it, before moving anything
        for layer in self.nodes.values():
            layer.to(target)
        self.backend = target
        return self

    def astype(self, dtype: Any) -> Graph:
        """Cast every parameter and buffer to another float dtype (in place; returns self)."""
        dt = self.backend.dtype(dtype)
        for layer in self.nodes.values():
            layer.astype(dt)
        self.dtype = dtype_name(dt)
        return self

    # -- running -----------------------------------------------------------------------------------
    def forward(self, x: Array | Mapping[str, Array], *, training: bool = False,
                need_dx: bool = True) -> tuple[Array, Backward]:
        """Unchecked pass: ``(y, backward)``; ``backward(dy)`` fills every layer's grads and returns
        the input gradient (a dict for several inputs; None with ``need_dx=False``)."""
        values = dict(x) if isinstance(x, Mapping) else {next(iter(self.inputs)): x}
        backs: dict[str, Any] = {}
        for n in self.order:
            edge = self.edges[n]
            ins = values[edge] if isinstance(edge, str) else [values[s] for s in edge]
            first = need_dx or not (isinstance(edge, str) and edge in self.inputs)
            values[n], backs[n] = self.nodes[n].forward(ins, training=training, need_dx=first)

        def backward(dy: Array) -> Any:
            grads: dict[str, Array] = {self.output: dy}
            for n in reversed(self.order):
                edge = self.edges[n]
                dxs = backs[n](grads.pop(n))
                for src, dx in ((edge, dxs),) if isinstance(edge, str) else zip(edge, dxs):
                    if dx is not None:
                        grads[src] = grads[src] + dx if src in grads else dx
            if not need_dx:
                return None
            if len(self.inputs) == 1:
                return grads.get(next(iter(self.inputs)))
            return {k: grads.get(k) for k in self.inputs}

        return values[self.output], backward

    def each_input(self, x: Any, where: str, check_one: Callable[[Any, str, int], Any]) -> Any:
        """``check_one(array, what, width)`` applied to ``x``: a bare array for a model with one
        input, else ``{input name: array}`` with every input exactly once and equal row counts."""
        return _each_input(self.inputs, x, where, check_one)

    def checked_forward(self, x: Any, *, training: bool = False) -> tuple[Array, Backward]:
        """:meth:`forward` after checking ``x`` (rank, widths, dtype, device, NaN)."""
        where = f"{type(self).__name__}.forward"

        def check(v: Any, what: str, width: int) -> Any:
            v = check_features(v, where=where, width=width, what=what, backend=self.backend)
            if dtype_name(v.dtype) != self.dtype:
                raise InputTypeError(f"{where}: {what} has dtype {dtype_name(v.dtype)} but the model is {self.dtype}; "
                                     f"convert it with .astype('{self.dtype}') or the model with "
                                     f"model.astype('{dtype_name(v.dtype)}')")
            return v

        return self.forward(self.each_input(x, where, check), training=training)

    def __call__(self, x: Any) -> Array:
        """Inference: the checked output for ``x``."""
        return self.checked_forward(x)[0]

    def gradients(self, x: Array, y: Array, loss: Any) -> tuple[float, dict[str, Array]]:
        """``(loss value, {path: gradient})`` for one batch (checked input); the gradients are copies."""
        loss = loss if isinstance(loss, Loss) else lookup("loss", loss)()
        out, back = self.checked_forward(x, training=True)
        value, lback = loss.forward(out, y)
        back(lback())
        # the value read explicitly (float() of a device array is a hidden synchronisation, refused by some)
        return float(to_numpy(value)), {k: self.backend.xp.asarray(g, copy=True) for k, g in self.grads.items()}

    # -- description -------------------------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """JSON-able description: layer types (registry names) and configs, edges, inputs;
        ``from_architecture`` rebuilds the network from it."""
        nodes = [{"name": n, **_entry(layer, n), "inputs": self.edges[n]} for n, layer in self.nodes.items()]
        return {"type": name_of("model", type(self)) or type(self).__name__, "inputs": dict(self.inputs),
                "output": self.output, "nodes": nodes}

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any], **options: Any) -> Graph:
        """The network ``architecture()`` described, its layers looked up in the registry (so
        nothing is imported); ``options`` (seed, dtype, backend) go to the constructor."""
        nodes = {}
        for entry in _entries(arch, "nodes"):
            if not isinstance(entry.get("name"), str):
                raise ConfigError("from_architecture: a node without a name")
            nodes[entry["name"]] = (_layer(entry), entry.get("inputs"))
        return cls(nodes, inputs=arch.get("inputs"), output=arch.get("output"), **options)  # type: ignore[arg-type]

    def summary(self, print_fn: Any = print) -> str:
        """A table of nodes, layers, output shapes and parameter counts (printed and returned)."""
        text = _summary(self)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.nodes)} nodes on {self.backend.spec}, {self.dtype})"


class Sequential(Graph):
    """A chain of layers: each reads the previous one's output. Nodes are ``"0"``, ``"1"`` ….

    Arguments:
        layers: the layers in order.
        seed: seed or Generator for every layer's parameters and for training's shuffles.
        dtype: float dtype (default: the scoped default, float32).
        backend: backend spec (default: the current backend).
        in_features: input width, needed only when no layer fixes it.

    Example:
        >>> from anynet.network import Sequential
        >>> from anynet.layers import Dense
        >>> Sequential([Dense(5, 5, activation="sigmoid"), Dense(5, 1)], seed=0).n_params()
        36
    """

    def __init__(self, layers: Sequence[Layer], *, seed: Seed = None, dtype: Any = None,
                 backend: Backend | str | None = None, in_features: int | None = None) -> None:
        layers = list(layers)
        if not layers:
            raise ConfigError("Sequential: give at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InputTypeError(f"Sequential: item {i} must be an anynet layer, got {layer!r}")
        if in_features is None:
            known = next((layer.in_features for layer in layers if layer.in_features is not None), None)
            if known is None:
                raise ConfigError("Sequential: cannot tell the input width; "
                                  "start with a Dense layer or pass in_features=")
            in_features = known  # the layers before it keep the width
        nodes = {str(i): (layer, "input" if i == 0 else str(i - 1)) for i, layer in enumerate(layers)}
        self.layers = layers
        super().__init__(nodes, inputs={"input": int(in_features)}, output=str(len(layers) - 1),
                         seed=seed, dtype=dtype, backend=backend)

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        # a plain loop: the graph walk's bookkeeping is measurable on tiny networks
        if isinstance(x, Mapping):
            x = x["input"]
        backs = []
        for i, layer in enumerate(self.layers):
            x, back = layer.forward(x, training=training, need_dx=need_dx or i > 0)
            backs.append(back)

        def backward(dy: Array) -> Array:
            for back in reversed(backs):
                dy = back(dy)
            return dy

        return x, backward

    def architecture(self) -> dict[str, Any]:
        return {"type": name_of("model", type(self)) or type(self).__name__, "in_features": self.in_features,
                "layers": [_entry(layer, str(i)) for i, layer in enumerate(self.layers)]}

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any], **options: Any) -> Sequential:
        return cls([_layer(e) for e in _entries(arch, "layers")], in_features=arch.get("in_features"), **options)


def _place_layers(net: Graph, seed: Seed) -> np.random.Generator:
    """Put every layer on the network's backend and dtype; with a seed, redraw each layer's
    parameters from its own child generator. Returns the generator left for training."""
    children = as_generator(seed).spawn(len(net.nodes) + 1) if seed is not None else None
    for i, layer in enumerate(net.nodes.values()):
        if children is not None or layer.backend is None:
            layer._place(net.backend, net.dtype)
            if children is not None:
                layer.reset_parameters(children[i])
        elif layer.backend != net.backend:
            layer.to(net.backend)
        if layer.dtype != net.dtype:
            layer.astype(net.dtype)
    return children[-1] if children is not None else as_generator(None)


def _staged(net: Graph, state: Mapping[str, Any], strict: bool) -> list[tuple[Layer, str, Array]]:
    """Every entry of ``state`` checked and converted, before any is stored."""
    where = f"{type(net).__name__}.load_state_dict"
    shapes = net.state_shapes()
    unknown = sorted(set(state) - set(shapes))
    missing = sorted(set(shapes) - set(state)) if strict else []
    if unknown or missing:
        raise StateDictError(f"{where}: unknown keys {unknown[:5]}, missing keys {missing[:5]}; "
                             f"the model has {sorted(shapes)[:8]}")
    staged = []
    for path, value in state.items():
        node, _, key = path.rpartition(".")
        if not is_array(value):
            raise InputTypeError(f"{where}: {path!r} must be an array, got {type(value).__name__}")
        if tuple(value.shape) != shapes[path]:
            raise StateDictError(f"{where}: {path!r} has shape {tuple(value.shape)}, the model needs {shapes[path]}")
        layer = net.nodes[node]
        if type(layer).check_state is not Layer.check_state:  # the layer checks values: on the host
            try:
                layer.check_state(key, value if isinstance(value, np.ndarray) else to_numpy(value))
            except AnynetError as exc:
                raise StateDictError(f"{where}: {path!r}: {exc}") from None
        staged.append((layer, key, _on_backend(net, value)))
    return staged


def _on_backend(net: Graph, value: Array) -> Array:
    """A copy of ``value`` (NumPy, or an array of any backend and device) on the network's backend
    and dtype. A device array moves with ``to_device`` (DLPack, or its library's own host copy):
    ``numpy.asarray`` on it, which ``Backend.asarray`` does, is refused by CuPy and by
    ``array_api_strict:device1``; one already on the backend is copied there, never via the host."""
    if isinstance(value, np.ndarray):
        return net.backend.asarray(value, dtype=net.dtype)
    moved = to_device(value, net.backend)
    # to_device returns the array itself when it is already here: the copy is still owed, as the
    # caller keeps its array (EarlyStopping's best weights) and training updates ours in place
    return net.backend.xp.astype(moved, net.backend.dtype(net.dtype), copy=moved is value)


def _summary(net: Graph) -> str:
    rows = [("node", "layer", "output shape", "params")]
    rows += [(n, repr(net.nodes[n]) + ("" if net.nodes[n].trainable else " (frozen)"), f"(None, {net.widths[n]})",
              f"{net.nodes[n].n_params():,}") for n in net.order]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "  ".join("-" * k for k in w)
    fmt = ["  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows]
    out = [f"{type(net).__name__} on {net.backend.spec}, {net.dtype}", line, fmt[0], line, *fmt[1:], line,
           f"total parameters: {net.n_params():,}"]
    frozen = sum(layer.n_params() for layer in net.nodes.values() if not layer.trainable)
    if frozen:
        out.append(f"trainable parameters: {net.n_params() - frozen:,} ({frozen:,} frozen)")
    if net.loss_node is not None:
        name, loss, ins = net.loss_node
        out.append(f"loss node {name!r}: {loss!r} reading {ins[0]!r} and the labels {ins[1]!r}")
    return "\n".join(out)


def _each_input(inputs: dict[str, int], x: Any, where: str, check_one: Callable[[Any, str, int], Any]) -> Any:
    names = list(inputs)
    if not isinstance(x, Mapping):
        if len(names) > 1:
            raise InputError(f"{where}: the model has {len(names)} inputs ({', '.join(names)}); give X as a "
                             "dict {input name: array}")
        return check_one(x, "X", inputs[names[0]])
    if set(x) != set(names):
        raise InputError(f"{where}: X has the inputs {sorted(map(str, x))} but the model takes {names}; "
                         "give one array per input: X={" + ", ".join(f"{k!r}: ..." for k in names) + "}")
    out = {k: check_one(x[k], f"X[{k!r}]", inputs[k]) for k in names}
    rows = {k: int(v.shape[0]) for k, v in out.items()}
    if len(set(rows.values())) > 1:
        raise InputError(f"{where}: the inputs have different numbers of samples {rows}; they must match")
    return out


# -- building a graph ------------------------------------------------------------------------------
def _split_nodes(where: str, nodes: dict[str, Any], inputs: dict[str, Any], output: str) -> tuple[Any, ...]:
    """Check the node specs: ``(layers, edges, loss node, feature inputs)``."""
    if not inputs:
        raise ConfigError(f"{where}: at least one input is needed, e.g. inputs={{'x': 13}}")
    for name, width in inputs.items():
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise ConfigError(f"{where}: input {name!r} must have a positive int width, got {width!r}")
    layers: dict[str, Layer] = {}
    edges: dict[str, Edge] = {}
    seen: dict[int, str] = {}
    loss_nodes = {}
    for name, spec in nodes.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise InputTypeError(f"{where}: node {name!r} must be (layer, inputs), got {spec!r}")
        part, ins = spec
        if isinstance(part, Loss):
            loss_nodes[name] = (part, [ins] if isinstance(ins, str) else list(ins))
            continue
        if not isinstance(part, Layer):
            raise InputTypeError(f"{where}: node {name!r} must be (layer, inputs), got {spec!r}")
        if name in inputs:
            raise ConfigError(f"{where}: {name!r} is both an input and a node")
        if not isinstance(name, str) or "." in name or "/" in name:
            raise ConfigError(f"{where}: node name {name!r} may not contain '.' or '/'")
        if not isinstance(ins, str) and not (isinstance(ins, (list, tuple)) and ins
                                             and all(isinstance(s, str) for s in ins)):
            raise ConfigError(f"{where}: node {name!r} must read an input name or a list of names, got {ins!r}")
        if id(part) in seen:
            # each backward pass sets a layer's grads; a second use would overwrite the first's
            raise ConfigError(f"{where}: nodes {seen[id(part)]!r} and {name!r} are the same {type(part).__name__} "
                              "object; shared weights are not supported (the gradients of one use would be lost): "
                              "give each node its own layer")
        seen[id(part)] = name
        layers[name] = part
        edges[name] = ins if isinstance(ins, str) else list(ins)
    loss_node = None
    if len(loss_nodes) > 1:
        raise ConfigError(f"{where}: one loss node at most, got {sorted(loss_nodes)}")
    for name, (loss, ins) in loss_nodes.items():
        label = ins[1] if len(ins) == 2 else None
        if len(ins) != 2 or ins[0] != output or label not in inputs:
            raise ConfigError(f"{where}: loss node {name!r} must read [output, label input], i.e. "
                              f"[{output!r}, <an input>], got {ins}")
        readers = [n for n, e in edges.items() if label in ([e] if isinstance(e, str) else e)]
        if readers:
            raise ConfigError(f"{where}: the label input {label!r} of loss node {name!r} "
                              f"is also read by nodes {readers}")
        del inputs[label]  # labels are not features: fit's y feeds them
        loss_node = (name, loss, ins)
    if not inputs:
        raise ConfigError(f"{where}: no feature input is left besides the label input")
    for name, edge in edges.items():
        for src in [edge] if isinstance(edge, str) else edge:
            if src not in layers and src not in inputs:
                raise ConfigError(f"{where}: dangling input: node {name!r} reads {src!r}, which is neither an input "
                                  f"({', '.join(inputs)}) nor a node ({', '.join(list(layers)[:20])})")
    if output not in layers:
        raise ConfigError(f"{where}: output {output!r} is not a node; nodes: {', '.join(list(layers)[:20])}")
    return layers, edges, loss_node, {k: int(v) for k, v in inputs.items()}


def _sources(edge: Edge) -> list[str]:
    return [edge] if isinstance(edge, str) else edge


def _topological_order(where: str, edges: dict[str, Edge], output: str) -> list[str]:
    """Kahn's algorithm (first come, first placed), linear in nodes + edges; refuses cycles and nodes
    that do not lead to the output."""
    indegree = {n: sum(1 for s in _sources(e) if s in edges) for n, e in edges.items()}
    readers: dict[str, list[str]] = {n: [] for n in edges}
    for n, e in edges.items():
        for s in _sources(e):
            if s in edges:
                readers[s].append(n)
    ready = deque(n for n in edges if indegree[n] == 0)
    order = []
    while ready:
        n = ready.popleft()
        order.append(n)
        for r in readers[n]:
            indegree[r] -= 1
            if indegree[r] == 0:
                ready.append(r)
    if len(order) != len(edges):
        placed = set(order)
        raise ConfigError(f"{where}: the graph has a cycle through nodes {[n for n in edges if n not in placed][:20]}")
    needed = {output}
    for n in reversed(order):
        if n in needed:
            needed.update(s for s in _sources(edges[n]) if s in edges)
    unused = [n for n in order if n not in needed]
    if unused:
        raise ConfigError(f"{where}: nodes {unused[:20]} do not lead to the output {output!r}")
    return order


def _infer_widths(where: str, layers: dict[str, Layer], edges: dict[str, Edge], inputs: dict[str, int],
                  order: list[str]) -> dict[str, int]:
    widths = dict(inputs)
    for n in order:
        layer, edge = layers[n], edges[n]
        if isinstance(edge, str) and layer.in_features is not None and layer.in_features != widths[edge]:
            raise ConfigError(f"{where}: node {n!r} ({layer!r}) expects {layer.in_features} input features but "
                              f"{edge!r} gives {widths[edge]}")
        try:
            widths[n] = layer.output_features(widths[edge] if isinstance(edge, str) else [widths[s] for s in edge])
        except AnynetError as exc:
            raise ConfigError(f"{where}: node {n!r} reads {edge!r}: {exc}") from None
    return widths


def _layer_name(layer: Layer, node: str) -> str:
    name = name_of("layer", type(layer))
    if name is None:
        raise ConfigError(f"node {node!r} is a {type(layer).__name__}, which is not a registered layer type; "
                          "register it with @anynet.register('layer')")
    return name


def _entry(layer: Layer, node: str) -> dict[str, Any]:
    """A layer's description in an architecture: registry name, config, and ``trainable`` if frozen."""
    entry: dict[str, Any] = {"layer": _layer_name(layer, node), "config": layer.config()}
    if not layer.trainable:
        entry["trainable"] = False
    return entry


def _entries(arch: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    entries = arch.get(key) if isinstance(arch, Mapping) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"from_architecture: {key!r} must be a list of objects")
    return entries


def _layer(entry: dict[str, Any]) -> Layer:
    if not isinstance(entry.get("config"), dict):
        raise ConfigError(f"from_architecture: malformed layer entry {str(entry)[:80]!r}")
    cls = lookup("layer", entry.get("layer"))  # never imported: the registry only
    layer = cls.from_config(entry["config"])
    trainable = entry.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ConfigError(f"from_architecture: 'trainable' must be true or false, got {trainable!r}")
    layer.trainable = trainable
    return layer
