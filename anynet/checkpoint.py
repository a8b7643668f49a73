"""Checkpoints: safe, validated, atomic, and loadable on any backend.

The file is in the safetensors layout (readable by the ``safetensors`` package): an 8-byte
little-endian header length, a JSON header describing each tensor (dtype, shape, byte offsets),
then the raw little-endian data. anynet's own description of the model — architecture (layer
types by registry name and their configs), loss, optimizer and its state, schedule, epoch, step,
batch position, generator states, format version — is JSON in the header's ``__metadata__``,
together with a SHA-256 over that description, the tensor index and the data.

Loading never runs code: no pickle, no eval, no import of names from the file. Every name is
looked up in anynet's fixed registries. Before anything is trusted the header length is bounded
(≤ 100 MB and ≤ the file), offsets must tile the data with no gaps or overlaps, sizes are
checked (numel × itemsize, in Python integers), dtypes are allow-listed, the hash must match,
and every tensor's shape must match the model the architecture builds. Anything else raises
:class:`~anynet.errors.CheckpointError`.

Saving writes a temporary file in the same folder, flushes and fsyncs it, then ``os.replace``s
it over the target, so a crash leaves either the old or the new checkpoint, never half of one.
Non-finite parameters are refused, so NaN weights never replace a good checkpoint.

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

import hashlib
import json
import os
import re
import struct
import tempfile
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .backends import Backend, get_backend, to_numpy
from .dtypes import default_dtype
from .errors import AnynetError, CheckpointError

FORMAT = "anynet-checkpoint"
FORMAT_VERSION = 1
MAX_HEADER = 100_000_000
MAX_RANK = 8
#: safetensors dtype code <-> NumPy dtype (little-endian); nothing else is accepted
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
_CODES = {v.name: k for k, v in DTYPES.items()}
_ALLOWED_BIT_GENERATORS = {"PCG64"}


# -- writing -----------------------------------------------------------------------------------
def _index_bytes(index: dict[str, Any]) -> bytes:
    return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()


def _digest(manifest: str, index: dict[str, Any], data: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    h.update(manifest.encode())
    h.update(_index_bytes(index))
    for chunk in data:
        h.update(chunk)
    return h.hexdigest()


def encode(tensors: dict[str, np.ndarray], manifest: dict[str, Any]) -> list[bytes]:
    """The bytes of a checkpoint file holding ``tensors`` and the JSON ``manifest``."""
    index: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        code = _CODES.get(arr.dtype.name)
        if code is None:
            raise CheckpointError(f"cannot store tensor {name!r} of dtype {arr.dtype}")
        raw = arr.astype(DTYPES[code], copy=False).tobytes()
        index[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    header = dict(index)
    header["__metadata__"] = {"anynet": text, "anynet_sha256": _digest(text, index, chunks)}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align the data to 8 bytes, as safetensors does
    return [struct.pack("<Q", len(head)), head, *chunks]


#: a temp file of an earlier save of the same path, untouched this long, belongs to a writer that
#: died (SIGKILL, power loss) and is removed by the next successful save
STALE_TEMP_SECONDS = 600


def atomic_write(path: str | os.PathLike, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically: temp file in the same folder, fsync, replace.
    After success, temp files that dead writers of the same path left behind are removed."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); harmless to skip where unsupported
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    _remove_stale_temps(folder, prefix)


def _remove_stale_temps(folder: str, prefix: str) -> None:
    """Remove ``prefix`` + 8 random characters + ``.tmp`` files (mkstemp's names) not modified for
    STALE_TEMP_SECONDS: left by saves of this path that were killed. A save still running keeps
    writing, so its file stays fresh and is left alone; other files are never touched."""
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}\.tmp")
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if pattern.fullmatch(name):
            full = os.path.join(folder, name)
            try:
                if os.stat(full).st_mtime < cutoff:
                    os.unlink(full)
            except OSError:
                pass


def _generator_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


def _check_saveable(model: Any, path: Any) -> None:
    """Refuse, before writing, a model that could not be loaded again: every layer type must be in
    the registry, every config JSON, every activation registered by name."""
    from . import activations
    from .layers import LAYERS

    fix = "use registered layer types and activations (anynet.layers.register_layer, anynet.activations.register)"
    for name, layer in model.nodes.items():
        kind = type(layer).__name__
        if LAYERS.get(kind) is not type(layer):
            raise CheckpointError(f"cannot save {path}: node {name!r} is a {kind}, which is not a registered layer "
                                  f"type; {fix}")
        config = layer.config()
        try:
            json.dumps(config)
        except (TypeError, ValueError):
            raise CheckpointError(f"cannot save {path}: the config of node {name!r} is not JSON: {config!r}") from None
        act = config.get("activation")
        if isinstance(act, str):
            try:
                activations.get(act)
            except ValueError:
                raise CheckpointError(f"cannot save {path}: node {name!r} uses the unregistered activation "
                                      f"{act!r}; {fix}") from None


def save(model: Any, path: str | os.PathLike) -> None:
    """Save ``model`` — parameters, buffers, optimizer, loss, training position, generators."""
    from . import __version__

    _check_saveable(model, path)
    tensors: dict[str, np.ndarray] = {}
    for prefix, arrays in (("param", model.parameters()), ("buffer", model.buffers())):
        for key, arr in arrays.items():
            host = to_numpy(arr)
            if not np.isfinite(host).all():
                raise CheckpointError(
                    f"refusing to save {path}: {prefix} {key!r} holds NaN or infinity; the previous "
                    "checkpoint (if any) is left as it was"
                )
            tensors[f"{prefix}/{key}"] = host
    opt = model.optimizer
    optimizer = None
    if opt is not None:
        optimizer = {"type": type(opt).__name__, "config": opt.config(), "iterations": opt.iterations}
        for key, arr in opt.state_arrays().items():
            tensors[f"optim/{key}"] = to_numpy(arr)
    train = dict(model.train_state)
    stream = train.pop("stream", None)
    if stream is not None:
        tensors["train/stream_perm"] = np.asarray(stream["perm"], dtype=np.int64)
        train["stream_pos"] = int(stream["pos"])
    layer_rngs = {n: _generator_state(layer.rng) for n, layer in model.nodes.items()
                  if isinstance(getattr(layer, "rng", None), np.random.Generator)}
    loss = model.loss
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "anynet_version": __version__,
        "architecture": model.architecture(),
        "dtype": model.dtype,
        "saved_on": model.backend.spec,
        "loss": None if loss is None else {"type": loss.name, "config": loss.config()},
        "metrics": list(model.metrics),
        "optimizer": optimizer,
        "train_state": train,
        "generators": {"model": _generator_state(model.rng), "layers": layer_rngs},
    }
    atomic_write(path, encode(tensors, manifest))


# -- reading -----------------------------------------------------------------------------------
def _fail(path: Any, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a valid anynet checkpoint: {why}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Validate and read a checkpoint file: ``(tensors, manifest)``. Raises CheckpointError."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise CheckpointError(f"cannot open checkpoint {path}: {exc.strerror or exc}") from None
    with f:
        try:
            return _read(f, path)
        except CheckpointError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeDecodeError,
                RecursionError, struct.error, AttributeError) as exc:
            raise _fail(path, f"{type(exc).__name__}: {exc}") from None


def _read(f: Any, path: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    size = os.fstat(f.fileno()).st_size
    if size < 8:
        raise _fail(path, f"the file has {size} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER or n > size - 8:
        raise _fail(path, f"declared header length {n} exceeds the file ({size} bytes) or the "
                          f"{MAX_HEADER}-byte limit")
    head = f.read(n)
    if len(head) != n:
        raise _fail(path, "truncated header")
    header = json.loads(head.decode("utf-8"))
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if not (isinstance(meta, dict) and isinstance(meta.get("anynet"), str)
            and isinstance(meta.get("anynet_sha256"), str)):
        raise _fail(path, "no anynet metadata (is this a plain safetensors file?)")
    data_len = size - 8 - n
    spans = []
    for name, info in header.items():
        if not (isinstance(info, dict) and set(info) == {"dtype", "shape", "data_offsets"}):
            raise _fail(path, f"tensor {name!r} has a malformed entry")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in DTYPES:
            raise _fail(path, f"tensor {name!r} has dtype {code!r}; allowed: {', '.join(DTYPES)}")
        if not (isinstance(shape, list) and len(shape) <= MAX_RANK and all(_int(s) and s >= 0 for s in shape)):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_int(o) for o in offs)
                and 0 <= offs[0] <= offs[1] <= data_len):
            raise _fail(path, f"tensor {name!r} has invalid offsets {offs!r} for {data_len} data bytes")
        numel = 1
        for s in shape:
            numel *= s  # Python integers: no overflow
        if numel * DTYPES[code].itemsize != offs[1] - offs[0]:
            raise _fail(path, f"tensor {name!r}: shape {shape} × {DTYPES[code].itemsize} bytes ≠ "
                              f"{offs[1] - offs[0]} bytes at its offsets")
        spans.append((offs[0], offs[1], name))
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin != end:
            raise _fail(path, f"tensor {name!r} starts at byte {begin}, expected {end} (gap or overlap)")
        end = stop
    if end != data_len:
        raise _fail(path, f"the tensors cover {end} bytes but the file holds {data_len} data bytes")
    data = f.read(data_len)
    if len(data) != data_len:
        raise _fail(path, "truncated data")
    if _digest(meta["anynet"], header, [data]) != meta["anynet_sha256"]:
        raise _fail(path, "integrity check failed (SHA-256 mismatch): the file was modified or corrupted")
    manifest = json.loads(meta["anynet"])
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(path, "the metadata is not an anynet manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _fail(path, f"format version {manifest.get('format_version')!r} is not supported "
                          f"(this anynet reads version {FORMAT_VERSION})")
    tensors = {}
    for begin, stop, name in spans:
        code = header[name]["dtype"]
        arr = np.frombuffer(data, dtype=DTYPES[code], count=(stop - begin) // DTYPES[code].itemsize,
                            offset=begin)
        tensors[name] = arr.reshape(header[name]["shape"])
    return tensors, manifest


def _generator(state: Any, path: Any) -> np.random.Generator:
    if not (isinstance(state, dict) and state.get("bit_generator") in _ALLOWED_BIT_GENERATORS):
        raise _fail(path, f"unsupported generator state {str(state)[:80]!r}")
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state
    return rng


def _build(arch: Any, path: Any) -> Any:
    from .layers import LAYERS
    from .model import Graph, Sequential

    def layer(entry: Any) -> Any:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise _fail(path, f"malformed layer entry {str(entry)[:80]!r}")
        kind = entry.get("layer")
        cls = LAYERS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise _fail(path, f"unknown layer type {str(kind)[:80]!r}; known: {', '.join(LAYERS)} "
                              "(layer types are never imported from a checkpoint)")
        return cls.from_config(entry["config"])

    if not isinstance(arch, dict):
        raise _fail(path, "missing architecture")
    if arch.get("type") == "Sequential" and isinstance(arch.get("layers"), list):
        return Sequential([layer(e) for e in arch["layers"]], in_features=arch.get("in_features"))
    if arch.get("type") == "Graph" and isinstance(arch.get("nodes"), list):
        nodes = {}
        for e in arch["nodes"]:
            if not isinstance(e, dict) or not isinstance(e.get("name"), str):
                raise _fail(path, "malformed graph node")
            nodes[e["name"]] = (layer(e), e.get("inputs"))
        return Graph(nodes, inputs=arch.get("inputs"), output=arch.get("output"))
    raise _fail(path, f"unknown network type {str(arch.get('type'))[:80]!r}; known: Sequential, Graph")


def load(path: str | os.PathLike, *, backend: str | Backend | None = None, dtype: Any = None) -> Any:
    """Load a checkpoint saved by ``model.save`` onto ``backend`` (default: the current one).

    The model comes back with its optimizer (and state), loss, metrics, training position and
    generators, so ``model.fit(X, y, epochs=k)`` continues exactly where it stopped.
    """
    from . import losses, optim

    tensors, manifest = read(path)
    target = get_backend(backend)
    try:
        saved = manifest.get("dtype")
        if saved not in ("float32", "float64"):
            raise _fail(path, f"unsupported dtype {saved!r}")
        with default_dtype(dtype or saved):
            from .backends import use_backend

            with use_backend(target):
                model = _build(manifest.get("architecture"), path)
        expected = {f"param/{k}": v for k, v in model.parameters().items()}
        expected.update({f"buffer/{k}": v for k, v in model.buffers().items()})
        for name, arr in expected.items():
            if name not in tensors:
                raise _fail(path, f"missing tensor {name!r}")
            if tuple(tensors[name].shape) != tuple(arr.shape):
                raise _fail(path, f"tensor {name!r} has shape {tuple(tensors[name].shape)} but the "
                                  f"architecture needs {tuple(arr.shape)}")
        known_extra = {n for n in tensors if n.startswith("optim/") or n == "train/stream_perm"}
        unexpected = set(tensors) - set(expected) - known_extra
        if unexpected:
            raise _fail(path, f"unexpected tensors {sorted(unexpected)[:5]}")
        dt = model.dtype
        params = model.params
        for name in expected:
            kind, _, key = name.partition("/")
            value = target.asarray(tensors[name], dtype=dt)
            if kind == "param":
                params[key] = value
            else:
                node, _, buf = key.rpartition(".")
                model.nodes[node].buffers[buf] = value
        loss = manifest.get("loss")
        if loss is not None:
            if not isinstance(loss, dict) or not isinstance(loss.get("type"), str) \
                    or loss["type"] not in losses.LOSSES or not isinstance(loss.get("config"), dict):
                raise _fail(path, f"unknown loss {str(loss)[:80]!r}")
            model.loss = losses.LOSSES[loss["type"]](**loss["config"])
        metrics = manifest.get("metrics", [])
        if not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
            raise _fail(path, "malformed metrics")
        model.metrics = metrics
        opt = manifest.get("optimizer")
        if opt is not None:
            if not isinstance(opt, dict) or opt.get("type") not in optim.OPTIMIZERS \
                    or not isinstance(opt.get("config"), dict) or not _int(opt.get("iterations")):
                raise _fail(path, f"unknown optimizer {str(opt)[:80]!r}")
            optimizer = optim.OPTIMIZERS[opt["type"]].from_config(opt["config"])
            optimizer.iterations = opt["iterations"]
            state = {}
            for name, arr in tensors.items():
                if name.startswith("optim/"):
                    key = name[len("optim/"):]
                    if f"param/{key.rpartition('/')[0]}" not in expected:
                        raise _fail(path, f"optimizer state {key!r} names no parameter")
                    state[key] = target.asarray(arr, dtype=dt)
            optimizer.load_state_arrays(state)
            model.optimizer = optimizer
        train = manifest.get("train_state", {})
        if not (isinstance(train, dict) and _int(train.get("epoch", 0)) and _int(train.get("step", 0))):
            raise _fail(path, "malformed training state")
        model.train_state = {"epoch": train.get("epoch", 0), "step": train.get("step", 0)}
        if "train/stream_perm" in tensors:
            perm = np.array(tensors["train/stream_perm"], dtype=np.int64)
            pos = train.get("stream_pos")
            if not (_int(pos) and 0 <= pos <= perm.shape[0]):
                raise _fail(path, "malformed batch position")
            model.train_state["stream"] = {"perm": perm, "pos": pos}
        gens = manifest.get("generators", {})
        if not isinstance(gens, dict) or not isinstance(gens.get("layers", {}), dict):
            raise _fail(path, "malformed generator states")
        if "model" in gens:
            model.rng = _generator(gens["model"], path)
        for node, state in gens.get("layers", {}).items():
            if node not in model.nodes or not hasattr(model.nodes[node], "rng"):
                raise _fail(path, f"generator state for unknown node {str(node)[:40]!r}")
            model.nodes[node].rng = _generator(state, path)
        return model
    except CheckpointError:
        raise
    except (AnynetError, ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            AttributeError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
