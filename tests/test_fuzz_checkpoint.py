"""Fuzzing checkpoint loading: any mutation of a valid file raises only CheckpointError, reads no
more than the file holds, and allocates nothing from a declared size before validating it.

CI runs a few hundred derandomised examples. The long run (≥ 10,000 examples):

    HYPOTHESIS_PROFILE=fuzz python -m pytest -m slow tests/test_fuzz_checkpoint.py
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import anynet
from anynet import fileformat, optim
from anynet.errors import CheckpointError
from anynet.layers import BatchNorm, Dense, Dropout


def _valid_file(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    g = np.random.default_rng(0)
    model = anynet.Sequential([Dense(3, 4, activation="tanh"), BatchNorm(4), Dropout(0.2), Dense(4, 2)], seed=0)
    model.fit(g.standard_normal((16, 3)), g.integers(0, 2, 16), loss="softmax_cross_entropy",
              optimizer=optim.Adam(lr=0.01), epochs=1, batch_size=8, batching="wrap", verbose=0)
    model.save(folder / "m.safetensors")
    return (folder / "m.safetensors").read_bytes()


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> bytes:
    return _valid_file(tmp_path_factory)


def _header(raw: bytes) -> tuple[dict, int]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), n


def _rebuild(header: dict, data: bytes, resign: bool) -> bytes:
    meta = header.get("__metadata__")
    if resign and isinstance(meta, dict):  # recompute the hash so the checks behind it are reached
        index = {k: v for k, v in header.items() if k != "__metadata__"}
        with contextlib.suppress(Exception):  # a header too broken to hash stays unsigned
            meta["anynet_sha256"] = fileformat._digest(meta["anynet"], index, [data])
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def mutate(raw: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "size", "offset", "shape", "dtype",
                                 "huge", "manifest", "drop", "splice"]))
    header, n = _header(raw)
    data = raw[8 + n:]
    names = sorted(k for k in header if k != "__metadata__")
    resign = draw(st.booleans())
    if kind == "flip":
        buf = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(buf) - 1))
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        return bytes(buf)
    if kind == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if kind == "extend":
        return raw + draw(st.binary(min_size=1, max_size=64))
    if kind == "size":
        near = st.integers(n - 16, n + 16).filter(lambda v: v >= 0)
        return struct.pack("<Q", draw(st.one_of(st.integers(0, 2**64 - 1), near))) + raw[8:]
    if kind == "huge":
        name = draw(st.sampled_from(names))
        header[name]["shape"] = [2**40, 2**40]
        header[name]["data_offsets"] = [0, 2**62]
        return _rebuild(header, data, resign)
    if kind == "offset":
        name = draw(st.sampled_from(names))
        i = draw(st.integers(0, 1))
        header[name]["data_offsets"][i] = draw(st.one_of(st.integers(-5, len(data) + 5), st.integers(2**32, 2**70)))
        return _rebuild(header, data, resign)
    if kind == "shape":
        name = draw(st.sampled_from(names))
        header[name]["shape"] = draw(st.lists(st.one_of(st.integers(-3, 70), st.just(2**63)), max_size=10))
        return _rebuild(header, data, resign)
    if kind == "dtype":
        name = draw(st.sampled_from(names))
        header[name]["dtype"] = draw(st.sampled_from(["F16", "BF16", "I8", "U8", "BOOL", "F64", "I64", "F32", "O", "",
                                                      "PICKLE"]))
        return _rebuild(header, data, resign)
    if kind == "manifest":
        manifest = json.loads(header["__metadata__"]["anynet"])
        path = draw(st.sampled_from(["architecture", "optimizer", "loss", "generators", "train_state", "dtype",
                                     "metrics", "format_version"]))
        manifest[path] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=8), st.just("os.system"),
                                        st.just({"type": "os.system"}), st.lists(st.integers(), max_size=3)))
        header["__metadata__"]["anynet"] = json.dumps(manifest)
        return _rebuild(header, data, resign)
    if kind == "drop":
        header.pop(draw(st.sampled_from(names + ["__metadata__"])))
        return _rebuild(header, data, resign)
    # splice: garbage instead of the header
    return struct.pack("<Q", n) + draw(st.binary(min_size=n, max_size=n)) + data


class _CountingFile(io.FileIO):
    total = 0
    opened = False

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        _CountingFile.opened = True

    def read(self, size=-1):
        out = super().read(size)
        _CountingFile.total += len(out)
        return out


def _load_bytes(tmp_path, raw: bytes, monkeypatch) -> None:
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(raw)
    monkeypatch.setattr(fileformat, "_fdopen", lambda fd, mode="rb": _CountingFile(fd, "rb"))
    _CountingFile.total = 0
    _CountingFile.opened = False
    tracemalloc.start()
    try:
        anynet.load(path)
    except CheckpointError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert _CountingFile.opened, "the file was not read through the counting wrapper"
    assert _CountingFile.total <= len(raw), "read past the end of the file"
    # nothing is allocated from a declared size: memory stays proportional to the real file
    assert peak < 20 * len(raw) + 8_000_000, f"peak allocation {peak} bytes for a {len(raw)}-byte file"


def _check(valid, data, tmp_path, monkeypatch):
    raw = mutate(valid, data.draw)
    _load_bytes(tmp_path, raw, monkeypatch)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_checkpoints_raise_only_checkpoint_error(valid, data, tmp_path, monkeypatch):
    _check(valid, data, tmp_path, monkeypatch)


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_long_fuzz_run(valid, data, tmp_path, monkeypatch):
    """The long run: the `fuzz` hypothesis profile draws 10,000 examples."""
    _check(valid, data, tmp_path, monkeypatch)


def test_the_unmutated_file_loads(valid, tmp_path):
    (tmp_path / "ok.safetensors").write_bytes(valid)
    assert anynet.load(tmp_path / "ok.safetensors").train_state["step"] == 2
