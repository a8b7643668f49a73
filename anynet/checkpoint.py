"""Checkpoints: a model and its training state in one safe, validated, atomic file.

A checkpoint holds the architecture (layer types by registry name and their configs), the
parameters and buffers (``model.state_dict()``), the loss, the optimizer and its state, the
training position (epoch, step, the wrap-around stream), the generators' states and the model's
``metadata``. The file layout is :mod:`anynet.fileformat` (safetensors with a SHA-256).

Loading never runs code: no pickle, no eval, no import of names from the file; every name is
looked up in the registry (:mod:`anynet.registry`), and a checkpoint cannot name a backend, a
dtype or a seed for a layer. Every declared shape is checked against the tensors in the file
before any parameter is allocated (layers are built under
:func:`~anynet.layers.base.deferred_init`), so a file cannot make ``load`` allocate more than it
holds. Values are checked before they are trusted: parameters, buffers and optimizer state must be
finite floats of the right shape, BatchNorm variances non-negative, the stream a permutation,
counters non-negative. Anything else raises :class:`~anynet.errors.CheckpointError` naming what.

Example:
    >>> import os, tempfile, numpy as np, anynet
    >>> from anynet.layers import Dense
    >>> model = anynet.Sequential([Dense(3, 2)], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> model.save(path)
    >>> np.array_equal(anynet.load(path).predict(np.ones((1, 3))), model.predict(np.ones((1, 3))))
    True
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .backends import Backend, get_backend, to_numpy, use_backend
from .dtypes import default_dtype
from .errors import AnynetError, CheckpointError
from .fileformat import FORMAT, FORMAT_VERSION, atomic_write, encode, read
from .layers.base import deferred_init
from .registry import lookup, name_of, names
from .saving_names import check_checkpoint_name
from .training import TrainState

__all__ = ["MAX_NODES", "dumps", "load", "loads", "read", "save"]

#: the most nodes a checkpoint may declare (a fully-connected network of more is not plausible)
MAX_NODES = 10_000
_ALLOWED_BIT_GENERATORS = {"PCG64"}
#: layer config keys a file may not set: they would import a backend or bypass the loader's dtype
_FORBIDDEN_CONFIG = {"backend", "dtype", "seed"}


# -- saving ----------------------------------------------------------------------------------------
def _generator_state(rng: np.random.Generator) -> dict[str, Any]:
    return dict(rng.bit_generator.state)  # numpy types it as a TypedDict; each read builds a new dict anyway


def _check_saveable(model: Any, path: Any) -> dict[str, Any]:
    """The architecture, refusing before writing a model that could not be loaded again: every
    layer type and activation registered by name, every config JSON."""
    try:
        arch = model.architecture()
    except AnynetError as exc:
        raise CheckpointError(f"cannot save {path}: {exc}") from None
    for name, layer in model.nodes.items():
        config = layer.config()
        act = config.get("activation")
        if isinstance(act, str):
            try:
                lookup("activation", act)
            except AnynetError:
                raise CheckpointError(f"cannot save {path}: node {name!r} uses the unregistered activation {act!r}; "
                                      "register it with anynet.register('activation')") from None
    _check_part_saveable(path, "loss", model.train_state.loss, model.train_state.loss and model.train_state.loss.name)
    opt = model.train_state.optimizer
    _check_part_saveable(path, "optimizer", opt, opt and (name_of("optimizer", type(opt)) or type(opt).__name__))
    for what, value in (("the architecture", arch), ("model.metadata", model.metadata)):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise CheckpointError(f"cannot save {path}: {what} is not JSON: {str(value)[:200]}") from None
    return arch


def _check_part_saveable(path: Any, kind: str, part: Any, name: Any) -> None:
    """Refuse, before writing, a loss or optimizer whose saved name would load something else, or nothing:
    the name must be registered, and (for a class) registered for this very class, not a parent's, unless the
    object was given that name itself (``loss.name = "mse"``: saved, and loaded, as that part)."""
    if part is None:
        return
    try:
        found = lookup(kind, name)
    except AnynetError:
        found = None
    chosen = "_name" in getattr(part, "__dict__", {})  # a name given to this object (part.name = "mse") is kept
    if found is None or (isinstance(found, type) and type(part) is not found and name_of(kind, type(part)) is None
                         and not chosen):
        raise CheckpointError(
            f"cannot save {path}: the {kind} {type(part).__name__} is not registered under a name of its own, so the "
            f"checkpoint could not load it again; register it with @anynet.register({kind!r}, 'a_name') on its class")


def _host(path: Any, what: str, arr: Any) -> np.ndarray:
    host = to_numpy(arr)
    if not np.isfinite(host).all():
        raise CheckpointError(f"refusing to save {path}: {what} holds NaN or infinity; the previous checkpoint "
                              "(if any) is left as it was")
    return host


def save(model: Any, path: str | os.PathLike) -> None:
    """Save ``model`` with its training state (see the module docstring) atomically to ``path``."""
    check_checkpoint_name(path)  # m.pt, m.keras, m.onnx: another format's name, refused before writing
    atomic_write(path, _chunks(model, path))


def dumps(model: Any) -> bytes:
    """The bytes :func:`save` would write (for pickling, sending, storing elsewhere)."""
    return b"".join(_chunks(model, "<bytes>"))


def loads(data: bytes, *, backend: str | Backend | None = None, dtype: Any = None) -> Any:
    """The model in ``data`` (bytes from :func:`dumps`), validated exactly as :func:`load` does."""
    return load(io.BytesIO(data), backend=backend, dtype=dtype)


def _chunks(model: Any, path: Any) -> list[bytes]:
    from . import __version__

    arch = _check_saveable(model, path)
    tensors = {f"param/{k}": _host(path, f"param {k!r}", v) for k, v in model.parameters().items()}
    tensors.update({f"buffer/{k}": _host(path, f"buffer {k!r}", v) for k, v in model.buffers().items()})
    state: TrainState = model.train_state
    opt = state.optimizer
    optimizer = None
    if opt is not None:
        optimizer = {"type": name_of("optimizer", type(opt)) or type(opt).__name__, "config": opt.config(),
                     "iterations": opt.iterations}
        tensors.update({f"optim/{k}": _host(path, f"optimizer state {k!r}", v) for k, v in opt.state_dict().items()})
    train: dict[str, Any] = {"epoch": state.epoch, "step": state.step}
    if state.stream is not None:
        tensors["train/stream_perm"] = np.asarray(state.stream["perm"], dtype=np.int64)
        train["stream_pos"] = int(state.stream["pos"])
    loss = state.loss
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "anynet_version": __version__,
        "architecture": arch, "dtype": model.dtype, "saved_on": model.backend.spec,
        "loss": None if loss is None else {"type": loss.name, "config": loss.config()},
        "metrics": list(state.metrics), "optimizer": optimizer, "train_state": train,
        "generators": {"model": _generator_state(model.rng),
                       "layers": {n: s for n, layer in model.nodes.items() if (s := layer.extra_state()) is not None}},
        "metadata": model.metadata,
    }
    return encode(tensors, manifest)


# -- loading ---------------------------------------------------------------------------------------
def _fail(path: Any, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a valid anynet checkpoint: {why}")


def _lookup(kind: str, name: Any, path: Any, label: str) -> Any:
    try:
        return lookup(kind, name)
    except AnynetError:
        raise _fail(path, f"unknown {label} {str(name)[:80]!r}; known: {', '.join(names(kind))} (types are "
                          "never imported from a checkpoint: only registered names are used)") from None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _float_tensor(path: Any, name: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind != "f":
        raise _fail(path, f"tensor {name!r} has dtype {arr.dtype}; parameters and state must be floats")
    if not np.isfinite(arr).all():
        raise _fail(path, f"tensor {name!r} holds NaN or infinity")
    return arr


def _check_architecture(arch: Any, path: Any) -> dict[str, Any]:
    """``arch`` once checked: a dict of known layers whose configs choose no backend, dtype or seed."""
    if not isinstance(arch, dict):
        raise _fail(path, "missing architecture")
    entries = arch.get("nodes", arch.get("layers"))
    if not isinstance(entries, list):
        raise _fail(path, "the architecture lists no layers")
    if len(entries) > MAX_NODES:
        raise _fail(path, f"the architecture declares {len(entries)} layers; at most {MAX_NODES} are accepted")
    for entry in entries:
        if not isinstance(entry, dict):
            raise _fail(path, f"malformed layer entry {str(entry)[:80]!r}")
        _lookup("layer", entry.get("layer"), path, "layer type")
        config = entry.get("config")
        if isinstance(config, dict) and _FORBIDDEN_CONFIG & set(config):
            raise _fail(path, f"a layer config sets {sorted(_FORBIDDEN_CONFIG & set(config))}; a checkpoint may not "
                              "choose a backend, dtype or seed (the caller of load does)")
    return arch


def _build(manifest: dict[str, Any], path: Any, target: Backend, dtype: Any) -> Any:
    """The model, built without allocating parameters, its declared shapes checked against the file."""
    arch = _check_architecture(manifest.get("architecture"), path)
    saved = manifest.get("dtype")
    if saved not in ("float32", "float64"):
        raise _fail(path, f"unsupported dtype {saved!r}")
    cls = _lookup("model", arch.get("type"), path, "network type")
    with default_dtype(dtype or saved), use_backend(target), deferred_init():
        return cls.from_architecture(arch)


def _expected(model: Any) -> dict[str, tuple[int, ...]]:
    out = {}
    for n, layer in model.nodes.items():
        buffers = layer.buffer_keys()
        for key, shape in layer.state_shapes().items():
            out[f"{'buffer' if key in buffers else 'param'}/{n}.{key}"] = tuple(shape)
    return out


def _load_weights(model: Any, tensors: dict[str, np.ndarray], path: Any) -> set[str]:
    expected = _expected(model)
    for name, shape in expected.items():
        if name not in tensors:
            raise _fail(path, f"missing tensor {name!r}")
        if tuple(tensors[name].shape) != shape:
            raise _fail(path, f"tensor {name!r} has shape {tuple(tensors[name].shape)} "
                              f"but the architecture needs {shape}")
    unexpected = {n for n in tensors if n not in expected and not n.startswith("optim/") and n != "train/stream_perm"}
    if unexpected:
        raise _fail(path, f"unexpected tensors {sorted(unexpected)[:5]}")
    model.load_state_dict({name.partition("/")[2]: _float_tensor(path, name, tensors[name]) for name in expected})
    return {name.partition("/")[2] for name in expected if name.startswith("param/")}


def _optimizer(entry: Any, tensors: dict[str, np.ndarray], params: Mapping[str, Any], target: Backend,
               dtype: str, path: Any) -> Any:
    if not (isinstance(entry, dict) and isinstance(entry.get("config"), dict) and _int(entry.get("iterations"))):
        raise _fail(path, f"malformed optimizer {str(entry)[:80]!r}")
    opt = _lookup("optimizer", entry.get("type"), path, "optimizer").from_config(entry["config"])
    opt.iterations = entry["iterations"]
    state = {}
    for name, arr in tensors.items():
        if name.startswith("optim/"):
            key = name[len("optim/"):]
            param = key.rpartition("/")[0]
            if param not in params:
                raise _fail(path, f"optimizer state {key!r} names no parameter")
            if tuple(arr.shape) != tuple(params[param].shape):
                raise _fail(path, f"optimizer state {key!r} has shape {tuple(arr.shape)} but its parameter has "
                                  f"{tuple(params[param].shape)}")
            state[key] = target.asarray(_float_tensor(path, name, arr), dtype=dtype)
    opt.load_state_dict(state)
    return opt


def _train_state(manifest: dict[str, Any], tensors: dict[str, np.ndarray], path: Any) -> TrainState:
    train = manifest.get("train_state", {})
    if not (isinstance(train, dict) and _int(train.get("epoch", 0)) and _int(train.get("step", 0))):
        raise _fail(path, "malformed training state (epoch and step must be ints ≥ 0)")
    state = TrainState(epoch=train.get("epoch", 0), step=train.get("step", 0))
    if "train/stream_perm" in tensors:
        perm = np.array(tensors["train/stream_perm"], dtype=np.int64)
        pos = train.get("stream_pos")
        if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(perm.shape[0])):
            raise _fail(path, "tensor 'train/stream_perm' is not a permutation")
        if not (_int(pos) and pos <= perm.shape[0]):
            raise _fail(path, "malformed batch position")
        state.stream = {"perm": perm, "pos": pos}
    loss = manifest.get("loss")
    if loss is not None:
        if not (isinstance(loss, dict) and isinstance(loss.get("config"), dict)):
            raise _fail(path, f"unknown loss {str(loss)[:80]!r}")
        state.loss = _lookup("loss", loss.get("type"), path, "loss")(**loss["config"])
    metrics = manifest.get("metrics", [])
    if not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
        raise _fail(path, "malformed metrics")
    state.metrics = metrics
    return state


def _generator(state: Any, path: Any) -> np.random.Generator:
    if not (isinstance(state, dict) and state.get("bit_generator") in _ALLOWED_BIT_GENERATORS):
        raise _fail(path, f"unsupported generator state {str(state)[:80]!r}")
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state
    return rng


def load(source: Any, *, backend: str | Backend | None = None, dtype: Any = None) -> Any:
    """Load a checkpoint saved by ``model.save`` onto ``backend`` (default: the current one).

    ``source`` is a path or a binary file object. The model comes back with its optimizer (and
    state), loss, metrics, training position, generators and metadata, so
    ``model.fit(X, y, epochs=k)`` continues exactly where it stopped. Nothing the file names is
    imported: a backend is imported only if the caller asks for it.
    """
    tensors, manifest = read(source)
    path = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "<file object>")
    target = get_backend(backend)
    try:
        model = _build(manifest, path, target, dtype)
        params = _load_weights(model, tensors, path)
        state = _train_state(manifest, tensors, path)
        if manifest.get("optimizer") is not None:
            live = model.parameters()
            state.optimizer = _optimizer(manifest["optimizer"], tensors, {k: live[k] for k in params}, target,
                                         model.dtype, path)
            state.optimizer.claim(model)  # its state is this model's: another's fit refuses it
        elif any(n.startswith("optim/") for n in tensors):
            raise _fail(path, "optimizer state without an optimizer")
        model.train_state = state
        metadata = manifest.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _fail(path, "malformed metadata")
        model.metadata = metadata
        gens = manifest.get("generators", {})
        if not isinstance(gens, dict) or not isinstance(gens.get("layers", {}), dict):
            raise _fail(path, "malformed generator states")
        if "model" in gens:
            model.rng = _generator(gens["model"], path)
        for node, extra in gens.get("layers", {}).items():
            if node not in model.nodes:
                raise _fail(path, f"generator state for unknown node {str(node)[:40]!r}")
            model.nodes[node].load_extra_state(extra)
        return model
    except CheckpointError:
        raise
    except (AnynetError, ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            AttributeError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
