"""Checkpoints from an untrusted source: bounded refusals, values checked before they are trusted,
only regular files and binary file objects read, no backend imported, careful saves."""

from __future__ import annotations

import gc
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc

import numpy as np
import pytest

import anynet
from anynet import Sequential, fileformat, optim
from anynet.errors import CheckpointError
from anynet.layers import Activation, BatchNorm, Dense, Dropout


def _manifest(arch, **extra):
    base = {"format": fileformat.FORMAT, "format_version": fileformat.FORMAT_VERSION, "anynet_version": "0",
            "architecture": arch, "dtype": "float32", "saved_on": "numpy:cpu", "loss": None, "metrics": [],
            "optimizer": None, "train_state": {"epoch": 0, "step": 0}, "generators": {}}
    return {**base, **extra}


def _write(path, tensors, manifest):
    fileformat.atomic_write(path, fileformat.encode(tensors, manifest))
    return path


def _trained(tmp_path):
    g = np.random.default_rng(0)
    X, y = g.standard_normal((40, 3)), g.integers(0, 2, 40)
    model = Sequential([Dense(3, 4, activation="leaky_relu"), BatchNorm(4), Dropout(0.1), Dense(4, 2)], seed=0)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optim.Adam(lr=0.01), epochs=1, batch_size=8,
              batching="wrap", verbose=0)
    path = tmp_path / "ok.safetensors"
    model.save(path)
    return path


def _edited(tmp_path, edit):
    tensors, manifest = fileformat.read(_trained(tmp_path))
    tensors = {k: np.array(v) for k, v in tensors.items()}
    edit(tensors, manifest)
    return _write(tmp_path / "bad.safetensors", tensors, manifest)


def test_huge_declared_layers_are_refused_before_anything_is_allocated(tmp_path):
    arch = {"type": "Sequential", "in_features": 24_000,
            "layers": [{"layer": "Dense", "config": {"in_features": 24_000, "out_features": 24_000}},
                       {"layer": "BatchNorm", "config": {"num_features": 24_000}},
                       {"layer": "Dense", "config": {"in_features": 24_000, "out_features": 24_000}}]}
    path = _write(tmp_path / "huge.safetensors", {}, _manifest(arch))
    assert path.stat().st_size < 1000
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="missing tensor 'param/0.W'"):
        anynet.load(path)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 5_000_000


def test_the_layer_count_is_capped(tmp_path):
    arch = {"type": "Sequential", "in_features": 2,
            "layers": [{"layer": "Activation", "config": {"activation": "relu"}}] * (anynet.checkpoint.MAX_NODES + 1)}
    path = _write(tmp_path / "deep.safetensors", {}, _manifest(arch))
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=f"at most {anynet.checkpoint.MAX_NODES}"):
        anynet.load(path)
    assert time.perf_counter() - start < 1.0


def _load_seconds(tmp_path, n):
    model = Sequential([Dense(2, 2)] + [Activation("relu") for _ in range(n)], seed=0)
    path = tmp_path / f"deep{n}.safetensors"
    model.save(path)
    times = []
    for _ in range(5):  # CPU time of this process, the best of 5: other processes' load does not count
        gc.collect()
        start = time.process_time()
        anynet.load(path)
        times.append(time.process_time() - start)
    return min(times)


def test_load_time_grows_linearly_with_the_layer_count(tmp_path):
    small, large = _load_seconds(tmp_path, 2_000), _load_seconds(tmp_path, 8_000)
    assert large / small < 8  # linear growth is 4×, quadratic 16×


@pytest.mark.parametrize("case, match", [
    ("nan_weight", "tensor 'param/0.W' holds NaN"),
    ("inf_buffer", "tensor 'buffer/1.running_mean' holds NaN or infinity"),
    ("negative_running_var", "running_var"),
    ("int_weight", "tensor 'param/3.W' has dtype int64"),
    ("optimizer_state_shape", "optimizer state '0.W/m' has shape"),
    ("nan_optimizer_state", "tensor 'optim/0.b/v' holds NaN"),
    ("stream_not_permutation", "stream_perm' is not a permutation"),
    ("negative_iterations", "malformed optimizer"),
    ("negative_epoch", "epoch and step must be ints"),
    ("nan_activation_option", "alpha"),
    ("backend_in_config", "may not choose a backend"),
])
def test_values_are_checked_before_they_are_trusted(tmp_path, case, match):
    def edit(t, m):
        arch = m["architecture"]
        if case == "nan_weight":
            t["param/0.W"][0, 0] = np.nan
        elif case == "inf_buffer":
            t["buffer/1.running_mean"][1] = np.inf
        elif case == "negative_running_var":
            t["buffer/1.running_var"][0] = -1.0
        elif case == "int_weight":
            t["param/3.W"] = t["param/3.W"].astype(np.int64)
        elif case == "optimizer_state_shape":
            t["optim/0.W/m"] = np.zeros((4, 3), np.float32)
        elif case == "nan_optimizer_state":
            t["optim/0.b/v"][0] = np.nan
        elif case == "stream_not_permutation":
            t["train/stream_perm"][:] = 0
        elif case == "negative_iterations":
            m["optimizer"]["iterations"] = -3
        elif case == "negative_epoch":
            m["train_state"]["epoch"] = -1
        elif case == "nan_activation_option":
            arch["layers"][0]["config"]["activation_alpha"] = float("nan")
        elif case == "backend_in_config":
            arch["layers"][0]["config"]["backend"] = "torch"

    path = _edited(tmp_path, edit)
    with pytest.raises(CheckpointError, match=match):
        anynet.load(path)


def test_a_manifest_naming_a_backend_imports_nothing(tmp_path):
    path = _edited(tmp_path, lambda t, m: m.update(saved_on="torch:cpu"))
    code = textwrap.dedent(f"""
        import sys, anynet
        anynet.load({str(path)!r})
        assert "torch" not in sys.modules and "jax" not in sys.modules, sorted(sys.modules)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_only_paths_and_binary_file_objects_are_read(tmp_path):
    path = _trained(tmp_path)
    with open(path, "rb") as f:
        again = anynet.load(f)
        assert not f.closed
    assert again.train_state["epoch"] == 1
    assert anynet.load(io.BytesIO(path.read_bytes())).train_state["epoch"] == 1
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(CheckpointError, match="file descriptors are not accepted"):
            anynet.load(fd)
        os.fstat(fd)  # still open: the caller's descriptor is not closed
    finally:
        os.close(fd)
    with open(path, encoding="latin-1") as text, pytest.raises(CheckpointError, match="binary mode"):
        anynet.load(text)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    result = {}

    def run():
        try:
            anynet.load(fifo)
        except CheckpointError as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "load blocked on a FIFO"
    assert "not a regular file" in result["error"]


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "m.safetensors"
    model = Sequential([Dense(2, 1)], seed=0)
    model.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    model.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_errors_name_the_target_path_and_empty_paths_are_refused(tmp_path):
    model = Sequential([Dense(2, 1)], seed=0)
    with pytest.raises(CheckpointError, match="give a file path"):
        model.save("")
    target = tmp_path / "missing-folder" / "m.safetensors"
    with pytest.raises(CheckpointError) as info:
        model.save(target)
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)


def test_metadata_must_be_json_and_travels_inside_the_file(tmp_path):
    model = Sequential([Dense(2, 1)], seed=0)
    model.metadata = {"features": ["a", "b"], "scale": [1.0, 2.0]}
    model.save(tmp_path / "m.safetensors")
    assert anynet.load(tmp_path / "m.safetensors").metadata == model.metadata
    model.metadata = {"bad": object()}
    with pytest.raises(CheckpointError, match="metadata is not JSON"):
        model.save(tmp_path / "m2.safetensors")
    _, manifest = fileformat.read(tmp_path / "m.safetensors")
    assert json.dumps(manifest["metadata"])
