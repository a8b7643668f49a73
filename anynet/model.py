"""Networks: ``Graph`` (named nodes, any DAG) and ``Sequential`` (a chain, the common case).

A graph runs its nodes forward in topological order and back-propagates in reverse, summing the
gradients of a node's output over every node that reads it (document 001's design, with every
node a whole-batch array operation). ``Sequential([...])`` is a graph whose nodes are named
``"0"``, ``"1"`` …, so its parameters are ``"0.W"``, ``"0.b"``, ``"1.W"`` ….

Example:
    >>> import numpy as np
    >>> from anynet import Sequential
    >>> from anynet.layers import Dense
    >>> model = Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0)
    >>> model(np.ones((2, 4), np.float32)).shape
    (2, 3)
    >>> sorted(model.parameters())
    ['0.W', '0.b', '1.W', '1.b']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any


from .backends import Backend, get_backend, resolve, to_device
from .dtypes import dtype_name
from .errors import InputError
from .layers.base import Array, Backward, Layer
from .layers.merge import Merge
from .random import Seed, as_generator
from .validation import check_features


class _ParamView(MutableMapping):
    """Live view of a network's parameters by path; assigning writes into the layer."""

    def __init__(self, net: Graph) -> None:
        self._net = net

    def _split(self, path: str) -> tuple[Layer, str]:
        node, _, key = path.rpartition(".")
        layer = self._net.nodes.get(node)
        if layer is None or key not in layer.params:
            raise KeyError(path)
        return layer, key

    def __getitem__(self, path: str) -> Array:
        layer, key = self._split(path)
        return layer.params[key]

    def __setitem__(self, path: str, value: Array) -> None:
        layer, key = self._split(path)
        layer.params[key] = value

    def __delitem__(self, path: str) -> None:
        raise TypeError("parameters cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        for name, layer in self._net.nodes.items():
            for key in layer.params:
                yield f"{name}.{key}"

    def __len__(self) -> int:
        return sum(len(layer.params) for layer in self._net.nodes.values())


class Graph:
    """A network as a directed acyclic graph of named layers.

    Arguments:
        nodes: ``{name: (layer, inputs)}`` where ``inputs`` is a node or input name, or a list
            of names for layers with several inputs (``Add``, ``Concatenate``). One node may be a
            loss, ``(MSE(), [output, "y"])``, reading the output and a label input, as in
            document 001; ``fit`` then uses it (its ``y`` feeds the label input), and prediction
            ignores it — the document's removal of the loss node after training, for free.
        inputs: ``{input name: width}``.
        output: the node whose value the network returns.
        seed: seed or Generator: redraws every layer's parameters (in node order) and seeds the
            shuffles of ``fit``. Without it layers keep the weights they were built with.
        dtype: float dtype of every parameter (default: the scoped default, float32).
        backend: backend spec (default: the current backend).

    Shapes:
        x: (n, width of the input) → y: (n, width of the output node). With several inputs,
        pass ``{name: array}`` (to ``fit``, ``predict`` and ``evaluate`` too).

    Example:
        >>> import numpy as np
        >>> from anynet import Graph
        >>> from anynet.layers import Add, Dense
        >>> g = Graph({"a": (Dense(3, 4), "x"), "b": (Dense(3, 4), "x"), "sum": (Add(), ["a", "b"])},
        ...           inputs={"x": 3}, output="sum", seed=0)
        >>> g(np.ones((5, 3), np.float32)).shape
        (5, 4)
    """

    def __init__(
        self,
        nodes: Mapping[str, tuple[Layer, str | Sequence[str]]],
        *,
        inputs: Mapping[str, int],
        output: str,
        seed: Seed = None,
        dtype: Any = None,
        backend: Backend | str | None = None,
    ) -> None:
        self._init_graph(dict(nodes), dict(inputs), output)
        self.backend = get_backend(backend)
        self.dtype = dtype_name(self.backend.dtype(dtype))
        self.optimizer: Any = None
        self.loss: Any = self.loss_node[1] if self.loss_node else None
        self.metrics: list[str] = []
        self.train_state: dict[str, Any] = {"epoch": 0, "step": 0}
        self.seed = seed
        self._place_layers(seed)

    # -- structure ----------------------------------------------------------------------------
    def _init_graph(self, nodes: dict[str, tuple[Layer, Any]], inputs: dict[str, int], output: str) -> None:
        where = type(self).__name__
        if not inputs:
            raise ValueError(f"{where}: at least one input is needed, e.g. inputs={{'x': 13}}")
        for name, width in inputs.items():
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ValueError(f"{where}: input {name!r} must have a positive int width, got {width!r}")
        from .losses import Loss

        self.nodes: dict[str, Layer] = {}
        self.edges: dict[str, list[str]] = {}
        loss_nodes = {}
        for name, spec in nodes.items():
            if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Loss):
                loss_nodes[name] = (spec[0], [spec[1]] if isinstance(spec[1], str) else list(spec[1]))
                continue
            if name in inputs:
                raise ValueError(f"{where}: {name!r} is both an input and a node")
            if "." in name or "/" in name:
                raise ValueError(f"{where}: node name {name!r} may not contain '.' or '/'")
            if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Layer)):
                raise TypeError(f"{where}: node {name!r} must be (layer, inputs), got {spec!r}")
            layer, ins = spec
            ins = [ins] if isinstance(ins, str) else list(ins)
            if not ins:
                raise ValueError(f"{where}: node {name!r} has no inputs")
            if len(ins) > 1 and not isinstance(layer, Merge):
                raise ValueError(f"{where}: node {name!r} reads {ins} but {type(layer).__name__} "
                                 "takes one input; join them with Add() or Concatenate()")
            twin = next((other for other, seen in self.nodes.items() if seen is layer), None)
            if twin is not None:
                # each backward pass sets a layer's grads; a second use would overwrite the first's
                raise ValueError(f"{where}: nodes {twin!r} and {name!r} are the same {type(layer).__name__} "
                                 "object; shared weights are not supported (the gradients of one use would "
                                 "be lost): give each node its own layer")
            self.nodes[name] = layer
            self.edges[name] = ins
        inputs = dict(inputs)
        self.loss_node: tuple[str, Any, list[str]] | None = None
        if len(loss_nodes) > 1:
            raise ValueError(f"{where}: one loss node at most, got {sorted(loss_nodes)}")
        for name, (loss, ins) in loss_nodes.items():
            label = ins[1] if len(ins) == 2 else None
            if len(ins) != 2 or ins[0] != output or label not in inputs:
                raise ValueError(f"{where}: loss node {name!r} must read [output, label input], i.e. "
                                 f"[{output!r}, <an input>], got {ins}")
            readers = [n for n, e in self.edges.items() if label in e]
            if readers:
                raise ValueError(f"{where}: the label input {label!r} of loss node {name!r} is also read by "
                                 f"nodes {readers}")
            del inputs[label]  # labels are not features: fit's y feeds them
            self.loss_node = (name, loss, ins)
        self.inputs = inputs
        if not inputs:
            raise ValueError(f"{where}: no feature input is left besides the label input")
        for name, ins in self.edges.items():
            for src in ins:
                if src not in self.nodes and src not in inputs:
                    raise ValueError(
                        f"{where}: dangling input: node {name!r} reads {src!r}, which is neither an "
                        f"input ({', '.join(inputs)}) nor a node ({', '.join(self.nodes)})"
                    )
        if output not in self.nodes:
            raise ValueError(f"{where}: output {output!r} is not a node; nodes: {', '.join(self.nodes)}")
        self.output = output
        self.order = self._topological_order()
        self.widths = self._infer_widths()

    def _topological_order(self) -> list[str]:
        indegree = {n: sum(1 for s in ins if s in self.nodes) for n, ins in self.edges.items()}
        readers: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n, ins in self.edges.items():
            for s in ins:
                if s in self.nodes:
                    readers[s].append(n)
        ready = [n for n in self.nodes if indegree[n] == 0]
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for r in readers[n]:
                indegree[r] -= 1
                if indegree[r] == 0:
                    ready.append(r)
        if len(order) != len(self.nodes):
            stuck = [n for n in self.nodes if n not in order]
            raise ValueError(f"{type(self).__name__}: the graph has a cycle through nodes {stuck}")
        # only nodes the output depends on run
        needed = {self.output}
        for n in reversed(order):
            if n in needed:
                needed.update(s for s in self.edges[n] if s in self.nodes)
        unused = [n for n in order if n not in needed]
        if unused:
            raise ValueError(f"{type(self).__name__}: nodes {unused} do not lead to the output {self.output!r}")
        return order

    def _infer_widths(self) -> dict[str, int]:
        widths = dict(self.inputs)
        for n in self.order:
            layer = self.nodes[n]
            ins = [widths[s] for s in self.edges[n]]
            if isinstance(layer, Merge):
                widths[n] = layer.output_features_multi(ins)
                continue
            if layer.in_features is not None and layer.in_features != ins[0]:
                raise ValueError(
                    f"{type(self).__name__}: node {n!r} ({layer!r}) expects {layer.in_features} input "
                    f"features but {self.edges[n][0]!r} gives {ins[0]}"
                )
            widths[n] = layer.output_features(ins[0])
        return widths

    @property
    def in_features(self) -> int:
        if len(self.inputs) != 1:
            raise ValueError(f"{type(self).__name__} has several inputs: {self.inputs}")
        return next(iter(self.inputs.values()))

    @property
    def out_features(self) -> int:
        return self.widths[self.output]

    def _place_layers(self, seed: Seed) -> None:
        if seed is not None:
            children = as_generator(seed).spawn(len(self.nodes) + 1)
            for layer, child in zip(self.nodes.values(), children):
                layer._place(self.backend, self.dtype)
                layer.reset_parameters(child)
            self.rng = children[-1]
        else:
            for layer in self.nodes.values():
                if layer.backend is None:
                    layer._place(self.backend, self.dtype)
                elif layer.backend != self.backend:
                    layer.to(self.backend)
                if layer.dtype != self.dtype:
                    layer.astype(self.dtype)
            self.rng = as_generator(None)

    # -- parameters -----------------------------------------------------------------------------
    @property
    def params(self) -> _ParamView:
        """Live view of every parameter by path (assignable)."""
        return _ParamView(self)

    def parameters(self) -> dict[str, Array]:
        """Every parameter by path, e.g. ``{"0.W": ..., "0.b": ...}``."""
        return dict(self.params)

    @property
    def grads(self) -> dict[str, Array]:
        """The gradients of the last backward pass, by parameter path: the layers' own arrays,
        which the next backward pass may overwrite in place (copy to keep, or use
        :meth:`gradients`)."""
        return {f"{n}.{k}": g for n, layer in self.nodes.items() for k, g in layer.grads.items()}

    def buffers(self) -> dict[str, Array]:
        return {f"{n}.{k}": b for n, layer in self.nodes.items() for k, b in layer.buffers.items()}

    def n_params(self) -> int:
        return sum(layer.n_params() for layer in self.nodes.values())

    def to(self, spec: str | Backend) -> Graph:
        """Move every parameter, buffer and optimizer state to another backend/device."""
        target = resolve(spec)
        target.dtype(self.dtype)
        for layer in self.nodes.values():
            layer.to(target)
        if self.optimizer is not None:
            self.optimizer.load_state_arrays(to_device(self.optimizer.state_arrays(), target))
        self.backend = target
        return self

    def astype(self, dtype: Any) -> Graph:
        """Cast every parameter, buffer and optimizer state to another float dtype."""
        dt = self.backend.dtype(dtype)
        for layer in self.nodes.values():
            layer.astype(dt)
        if self.optimizer is not None:
            xp = self.backend.xp
            self.optimizer.load_state_arrays({k: xp.astype(v, dt) for k, v in self.optimizer.state_arrays().items()})
        self.dtype = dtype_name(dt)
        return self

    # -- running --------------------------------------------------------------------------------
    def forward_backward(self, x: Array | Mapping[str, Array], *, training: bool = True,
                         need_dx: bool = True) -> tuple[Array, Backward]:
        """Unchecked pass: ``(y, backward)``; ``backward(dy)`` fills every layer's grads and
        returns the input gradient (a dict for several inputs; None with ``need_dx=False``)."""
        values = dict(x) if isinstance(x, Mapping) else {next(iter(self.inputs)): x}
        backs: dict[str, Any] = {}
        for n in self.order:
            layer = self.nodes[n]
            ins = [values[s] for s in self.edges[n]]
            if isinstance(layer, Merge):
                values[n], backs[n] = layer._forward_multi(ins, training)
            else:
                first = need_dx or self.edges[n][0] not in self.inputs
                values[n], backs[n] = layer._forward(ins[0], training, first)

        def backward(dy: Array) -> Any:
            grads: dict[str, Array] = {self.output: dy}
            for n in reversed(self.order):
                g = grads.pop(n)
                layer = self.nodes[n]
                dxs = backs[n](g) if isinstance(layer, Merge) else [backs[n](g)]
                for src, dx in zip(self.edges[n], dxs):
                    if dx is None:
                        continue
                    grads[src] = grads[src] + dx if src in grads else dx
            if not need_dx:
                return None
            if len(self.inputs) == 1:
                return grads.get(next(iter(self.inputs)))
            return {k: grads.get(k) for k in self.inputs}

        return values[self.output], backward

    def each_input(self, x: Any, where: str, check_one: Callable[[Any, str, int], Any]) -> Any:
        """``check_one(array, what, width)`` applied to ``x``: a bare array for a model with one
        input, else ``{input name: array}`` with every input exactly once and equal row counts
        (a dict comes back). Shared by ``forward`` and by ``fit``/``predict``/``evaluate``."""
        names = list(self.inputs)
        if not isinstance(x, Mapping):
            if len(names) > 1:
                raise InputError(f"{where}: the model has {len(names)} inputs ({', '.join(names)}); give X as a "
                                 "dict {input name: array}")
            return check_one(x, "X", self.inputs[names[0]])
        if set(x) != set(names):
            raise InputError(f"{where}: X has the inputs {sorted(map(str, x))} but the model takes {names}; "
                             "give one array per input: X={" + ", ".join(f"{k!r}: ..." for k in names) + "}")
        out = {k: check_one(x[k], f"X[{k!r}]", self.inputs[k]) for k in names}
        rows = {k: int(v.shape[0]) for k, v in out.items()}
        if len(set(rows.values())) > 1:
            raise InputError(f"{where}: the inputs have different numbers of samples {rows}; they must match")
        return out

    def _check_x(self, x: Any, where: str) -> Any:
        return self.each_input(x, where, lambda v, what, width: check_features(
            v, where=where, width=width, what=what, backend=self.backend))

    def forward(self, x: Array, *, training: bool = False) -> Array:
        """The network's output for ``x`` (checked; ``x`` must be on the model's device)."""
        x = self._check_x(x, f"{type(self).__name__}.forward")
        self._check_dtype(x)
        return self.forward_backward(x, training=training)[0]

    __call__ = forward

    def _check_dtype(self, x: Any) -> None:
        for arr in (x.values() if isinstance(x, Mapping) else [x]):
            if dtype_name(arr.dtype) != self.dtype:
                raise TypeError(
                    f"{type(self).__name__}: X has dtype {dtype_name(arr.dtype)} but the model is "
                    f"{self.dtype}; convert X with X.astype('{self.dtype}') or the model with "
                    f"model.astype('{dtype_name(arr.dtype)}')"
                )

    def gradients(self, x: Array, y: Array, loss: Any) -> tuple[float, dict[str, Array]]:
        """``(loss value, {path: gradient})`` for one batch (checked input). The gradients are
        copies: the layers' own ``grads`` may be overwritten by the next backward pass."""
        from .losses import get as get_loss

        loss = get_loss(loss)
        x = self._check_x(x, f"{type(self).__name__}.gradients")
        self._check_dtype(x)
        out, back = self.forward_backward(x, training=True, need_dx=False)
        value, lback = loss.forward(out, y)
        back(lback())
        xp = self.backend.xp
        return float(value), {k: xp.asarray(g, copy=True) for k, g in self.grads.items()}

    # -- training, prediction, saving: see anynet.training and anynet.checkpoint ------------
    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Train; see :func:`anynet.training.fit` for every option. Returns a History."""
        from .training import fit

        return fit(self, X, y, **kwargs)

    def predict(self, X: Any, *, batch_size: int | None = None) -> Array:
        """Outputs for ``X`` (NumPy in → NumPy out; device arrays stay on the device)."""
        from .training import predict

        return predict(self, X, batch_size=batch_size)

    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> Array:
        """Class probabilities: the outputs passed through softmax/sigmoid where the loss
        was computed from logits."""
        from .training import predict_proba

        return predict_proba(self, X, batch_size=batch_size)

    def evaluate(self, X: Any, y: Any, *, loss: Any = None, metrics: Sequence[str] | None = None,
                 batch_size: int | None = None) -> dict[str, float]:
        """Loss and metrics on ``(X, y)``."""
        from .training import evaluate

        return evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)

    def save(self, path: str) -> None:
        """Write a checkpoint atomically (see :mod:`anynet.checkpoint`)."""
        from .checkpoint import save

        save(self, path)

    # -- description ------------------------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """JSON-able description: layer types (registry names) and configs, edges, inputs."""
        return {
            "type": type(self).__name__,
            "inputs": dict(self.inputs),
            "output": self.output,
            "nodes": [{"name": n, "layer": type(layer).__name__, "config": layer.config(),
                       "inputs": self.edges[n]} for n, layer in self.nodes.items()],
        }

    def summary(self, print_fn: Any = print) -> str:
        """A table of nodes, layers, output shapes and parameter counts (printed and returned)."""
        rows = [("node", "layer", "output shape", "params")]
        for n in self.order:
            layer = self.nodes[n]
            rows.append((n, repr(layer), f"(None, {self.widths[n]})", f"{layer.n_params():,}"))
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "  ".join("-" * k for k in w)
        out = [f"{type(self).__name__} on {self.backend.spec}, {self.dtype}", line]
        out += ["  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows[:1]]
        out.append(line)
        out += ["  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows[1:]]
        out += [line, f"total parameters: {self.n_params():,}"]
        if self.loss_node is not None:
            name, loss, ins = self.loss_node
            out.append(f"loss node {name!r}: {loss!r} reading {ins[0]!r} and the labels {ins[1]!r}")
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.nodes)} nodes on {self.backend.spec}, {self.dtype})"


class Sequential(Graph):
    """A chain of layers: each reads the previous one's output. Nodes are ``"0"``, ``"1"`` ….

    Arguments:
        layers: the layers in order.
        seed: seed or Generator for every layer's parameters and for ``fit``'s shuffles.
        dtype: float dtype (default: the scoped default, float32).
        backend: backend spec (default: the current backend).
        in_features: input width, needed only when the first layer does not fix it.

    Example:
        >>> from anynet import Sequential
        >>> from anynet.layers import Dense
        >>> Sequential([Dense(5, 5, activation="sigmoid"), Dense(5, 1)], seed=0).n_params()
        36
    """

    def __init__(self, layers: Sequence[Layer], *, seed: Seed = None, dtype: Any = None,
                 backend: Backend | str | None = None, in_features: int | None = None) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential: give at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer) or isinstance(layer, Merge):
                raise TypeError(f"Sequential: item {i} must be a single-input anynet layer, got {layer!r}")
        if in_features is None:
            known = next((i for i, layer in enumerate(layers) if layer.in_features is not None), None)
            if known is None:
                raise ValueError("Sequential: cannot tell the input width; start with a Dense layer or pass in_features=")
            in_features = layers[known].in_features  # the layers before it keep the width
        nodes = {str(i): (layer, "input" if i == 0 else str(i - 1)) for i, layer in enumerate(layers)}
        self.layers = layers
        super().__init__(nodes, inputs={"input": int(in_features)}, output=str(len(layers) - 1),
                         seed=seed, dtype=dtype, backend=backend)

    def forward_backward(self, x: Array, *, training: bool = True, need_dx: bool = True) -> tuple[Array, Backward]:
        # a plain loop: the graph walk's bookkeeping is measurable on tiny networks
        if isinstance(x, Mapping):
            x = x["input"]
        backs = []
        for i, layer in enumerate(self.layers):
            x, back = layer._forward(x, training, need_dx or i > 0)
            backs.append(back)

        def backward(dy: Array) -> Array:
            for back in reversed(backs):
                dy = back(dy)
            return dy

        return x, backward

    def architecture(self) -> dict[str, Any]:
        return {"type": "Sequential", "in_features": self.in_features,
                "layers": [{"layer": type(layer).__name__, "config": layer.config()} for layer in self.layers]}
