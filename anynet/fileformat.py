"""The checkpoint file: the safetensors layout, read with validation, written atomically.

An 8-byte little-endian header length, a JSON header describing each tensor (dtype, shape, byte
offsets), then the raw little-endian data (readable by the ``safetensors`` package). anynet's own
description of the model is JSON in the header's ``__metadata__``, with a SHA-256 over that
description, the tensor index and the data.

Reading bounds everything before trusting it: the header length (≤ 100 MB and ≤ the file), offsets
that tile the data with no gaps or overlaps, sizes (numel × itemsize in Python integers),
allow-listed dtypes, the hash. Only regular files and binary file objects are read (a FIFO or a
device would block or never end). Anything else raises :class:`~anynet.errors.CheckpointError`.

Writing goes to a temporary file in the same folder, is flushed and fsynced, then replaces the
target with ``os.replace`` (keeping the mode of the file it replaces), so a crash leaves either
the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import struct
import tempfile
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import CheckpointError, CheckpointWriteError

FORMAT = "anynet-checkpoint"
FORMAT_VERSION = 1
MAX_HEADER = 100_000_000
MAX_RANK = 8
#: safetensors dtype code <-> NumPy dtype (little-endian); nothing else is accepted
DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
_CODES = {v.name: k for k, v in DTYPES.items()}
_ALLOWED_BIT_GENERATORS = {"PCG64"}


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


def _mode_for(path: str) -> int:
    """The mode the new file gets: that of the file it replaces, else what ``open`` would give."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically: temp file in the same folder, fsync, replace.
    After success, temp files that dead writers of the same path left behind are removed.
    An OSError becomes a CheckpointError naming ``path`` (never the temp file)."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise CheckpointError(f"cannot save to {path!r}: give a file path, e.g. 'model.safetensors'")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(21, "it is a directory")
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CheckpointWriteError(f"cannot save {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fchmod(f.fileno(), _mode_for(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CheckpointWriteError(f"cannot save {path}: {exc.strerror or exc}") from None
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


def _fail(path: Any, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a valid anynet checkpoint: {why}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_fdopen = os.fdopen  # the one place a checkpoint file is opened for reading (tests count its reads)


def read(source: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Validate and read a checkpoint: ``(tensors, manifest)``. ``source`` is a path to a regular
    file or a binary file object open for reading (read from its current position, not closed).
    Raises CheckpointError."""
    if isinstance(source, (str, os.PathLike)):
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked right after
            fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise CheckpointError(f"cannot open checkpoint {source}: {exc.strerror or exc}") from None
        with _fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CheckpointError(f"cannot load {source}: not a regular file (a FIFO, device or folder would "
                                      "block or never end); give a checkpoint file")
            os.set_blocking(fd, True)
            return _guarded(f, source, os.fstat(fd).st_size)
    if isinstance(source, (int, bytes, bytearray, memoryview)) or not callable(getattr(source, "read", None)):
        raise CheckpointError(f"anynet.load takes a file path or a binary file object, got {type(source).__name__} "
                              "(file descriptors are not accepted: open(path, 'rb') or pass the path)")
    return _guarded(_Buffered(source), getattr(source, "name", "<file object>"), None)


class _Buffered:
    """A file object's whole content, read once, with the file interface ``_read`` uses."""

    def __init__(self, f: Any) -> None:
        data = f.read()
        if not isinstance(data, (bytes, bytearray)):
            raise CheckpointError("anynet.load: the file object must be opened in binary mode ('rb')")
        self.data, self.pos = bytes(data), 0

    def read(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def _guarded(f: Any, path: Any, size: int | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        return _read(f, path, len(f.data) if size is None else size)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeDecodeError,
            RecursionError, struct.error, AttributeError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None


def _read(f: Any, path: Any, size: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
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


