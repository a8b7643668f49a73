"""MNIST from the standard IDX files (raw or gzip), with an optional verified download.

The loader validates everything it reads: the magic number, the declared dimensions against
the bytes actually present (truncated or padded files are refused), image and label counts,
and label values. Downloads are checked against the published SHA-256 sums and written
atomically, so an interrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write
from ..errors import InputError

#: file -> SHA-256 of the gzip file as distributed
FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_IDX_TYPES = {0x08: np.uint8}


class DatasetError(InputError):
    """A data file that is missing, corrupt or not what it claims to be."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip) of unsigned bytes into an array of its declared shape."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    except EOFError:
        raise DatasetError(f"{path}: the gzip stream is truncated") from None
    if len(raw) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise DatasetError(f"{path}: wrong magic number {raw[:4].hex()} (expected 00000801 for labels "
                           "or 00000803 for images); is this an MNIST IDX file?")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DatasetError(f"{path}: truncated header")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    size = 1
    for d in dims:
        size *= d
    if len(raw) - head != size:
        raise DatasetError(f"{path}: the header declares shape {dims} ({size} bytes) but the file holds "
                           f"{len(raw) - head} data bytes (truncated or corrupt)")
    return np.frombuffer(raw, dtype=_IDX_TYPES[code], offset=head).reshape(dims)


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (name, name[:-3], name[:-3].replace("-idx", ".idx")):
        if (folder / candidate).exists():
            return folder / candidate
    return None


def download(folder: str | os.PathLike, *, mirrors: tuple[str, ...] = MIRRORS, timeout: float = 30.0) -> Path:
    """Fetch the four files into ``folder`` (skipping verified ones), checking SHA-256."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, digest in FILES.items():
        target = folder / name
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            continue
        errors = []
        for base in mirrors:
            try:
                with urllib.request.urlopen(base + name, timeout=timeout) as resp:
                    data = resp.read()
            except OSError as exc:
                errors.append(f"{base}: {exc}")
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                errors.append(f"{base}: SHA-256 mismatch")
                continue
            atomic_write(target, [data])
            break
        else:
            raise DatasetError(_missing_message(folder, f"download failed ({'; '.join(errors)})"))
    return folder


def _missing_message(folder: Path, why: str) -> str:
    names = ", ".join(FILES)
    return (f"MNIST is not available: {why}. Put the four IDX files ({names}; gzip or "
            f"unpacked) into {folder}, or download them on a machine with network access "
            f"(anynet train --mnist {folder} --download, or load_mnist(folder, download_missing=True))")


def load_mnist(folder: str | os.PathLike, *, download_missing: bool = False) -> tuple[np.ndarray, ...]:
    """``(X_train, y_train, X_test, y_test)``: images as float32 (n, 784) scaled to [0, 1],
    labels as int64. Reads the IDX files from ``folder``; with ``download_missing`` fetches them
    there first."""
    folder = Path(folder)
    paths = {name: _find(folder, name) for name in FILES}
    if download_missing and None in paths.values():
        download(folder)
        paths = {name: _find(folder, name) for name in FILES}
    found = {name: p for name, p in paths.items() if p is not None}
    if len(found) < len(FILES):
        missing = [n for n in FILES if n not in found]
        raise DatasetError(_missing_message(folder, f"missing {', '.join(missing)}"))
    arrays = {name: read_idx(p) for name, p in found.items()}
    out = []
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte.gz"], arrays[f"{split}-labels-idx1-ubyte.gz"]
        if images.ndim != 3 or labels.ndim != 1:
            raise DatasetError(f"{folder}: {split} images must be 3-D and labels 1-D, "
                               f"got {images.shape} and {labels.shape}")
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{folder}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{folder}: {split} labels must be digits 0-9, found {int(labels.max())}")
        out += [images.reshape(images.shape[0], -1).astype(np.float32) / 255.0, labels.astype(np.int64)]
    return tuple(out)
