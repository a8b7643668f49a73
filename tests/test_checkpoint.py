"""Checkpoints: round trips across backends, exact resume, refusal of bad files, atomic saves."""

from __future__ import annotations

import builtins
import importlib
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import anynet
from anynet import Graph, Sequential, checkpoint, fileformat, optim, schedules
from anynet.errors import CheckpointError
from anynet.layers import Add, BatchNorm, Dense, Dropout


def _trained(tmp_path, **kw):
    g = np.random.default_rng(0)
    X, y = g.standard_normal((120, 5)), g.integers(0, 3, 120)
    model = Sequential([Dense(5, 8, activation="tanh"), BatchNorm(8), Dropout(0.1), Dense(8, 3)], seed=0, **kw)
    model.fit(X, y, loss="softmax_cross_entropy", metrics=["accuracy"], epochs=2, batch_size=32, verbose=0,
              optimizer=optim.SGD(lr=schedules.Inv(0.1, 0.0005, 0.75), momentum=0.9, weight_decay=0.001))
    path = tmp_path / "model.safetensors"
    model.save(path)
    return model, path, X, y


def test_save_on_numpy_load_on_every_backend(tmp_path, backend):
    model, path, X, _ = _trained(tmp_path)
    loaded = anynet.load(path, backend=backend)
    assert loaded.backend == backend
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6, atol=1e-6)
    assert loaded.train_state["epoch"] == 2 and loaded.metrics == ["accuracy"]
    assert type(loaded.optimizer) is optim.SGD and loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.optimizer.lr == model.optimizer.lr


def test_save_on_each_backend_load_on_numpy(tmp_path, backend):
    model, path, X, _ = _trained(tmp_path, backend=backend)
    np.testing.assert_allclose(anynet.load(path, backend="numpy").predict(X), model.predict(X),
                               rtol=1e-6, atol=1e-6)


def test_graph_round_trip(tmp_path):
    g = Graph({"a": (Dense(3, 4), "x"), "b": (Dense(3, 4), "x"), "s": (Add(), ["a", "b"])},
              inputs={"x": 3}, output="s", seed=0, dtype="float64")
    g.save(tmp_path / "g.safetensors")
    x = np.ones((2, 3))
    np.testing.assert_array_equal(anynet.load(tmp_path / "g.safetensors").predict(x), g.predict(x))


def test_the_file_is_standard_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="safetensors not installed")
    model, path, _, _ = _trained(tmp_path)
    tensors = st.load_file(str(path))
    np.testing.assert_array_equal(tensors["param/0.W"], model.parameters()["0.W"])


RESUME = textwrap.dedent("""
    import sys, numpy as np, anynet
    from anynet import optim, schedules
    from anynet.layers import Dense, Dropout
    mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    g = np.random.default_rng(0)
    X, y = g.standard_normal((90, 5)), g.integers(0, 3, 90)
    kw = dict(batch_size=16, verbose=0, batching="wrap", steps_per_epoch=7)
    if mode == "resume":
        model = anynet.load(path)
        model.fit(X, y, epochs=3, **kw)
    else:
        model = anynet.Sequential([Dense(5, 8, activation="relu"), Dropout(0.3), Dense(8, 3)], seed=1)
        opt = optim.Adam(lr=schedules.Warmup(schedules.Constant(0.01), steps=5))
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=3 if mode == "first" else 6,
                  seed=2, **kw)
        if mode == "first":
            model.save(path)
    np.savez(out, **{k: v for k, v in model.parameters().items()})
""")


def _run(script, *args):
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_resume_in_a_fresh_process_equals_uninterrupted(tmp_path):
    ck = tmp_path / "half.safetensors"
    _run(RESUME, "first", ck, tmp_path / "a.npz")
    _run(RESUME, "resume", ck, tmp_path / "b.npz")
    _run(RESUME, "full", ck, tmp_path / "c.npz")
    resumed, full = np.load(tmp_path / "b.npz"), np.load(tmp_path / "c.npz")
    for k in full.files:
        np.testing.assert_array_equal(resumed[k], full[k])  # bit for bit
    assert not np.array_equal(np.load(tmp_path / "a.npz")["0.W"], full["0.W"])


def _reencode(path, edit):
    tensors, manifest = fileformat.read(path)
    edit(tensors, manifest)
    fileformat.atomic_write(path, fileformat.encode(tensors, manifest))


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "Dense.__init__", "subprocess.Popen"])
def test_layer_names_resolve_only_through_the_registry(tmp_path, name):
    _, path, _, _ = _trained(tmp_path)
    _reencode(path, lambda t, m: m["architecture"]["layers"][0].__setitem__("layer", name))
    with pytest.raises(CheckpointError, match="unknown layer type.*never imported"):
        anynet.load(path)


def test_unknown_optimizer_loss_and_network_are_refused(tmp_path):
    _, path, _, _ = _trained(tmp_path)
    for edit, pattern in [
        (lambda t, m: m["optimizer"].__setitem__("type", "os.system"), "unknown optimizer"),
        (lambda t, m: m["loss"].__setitem__("type", "posix.system"), "unknown loss"),
        (lambda t, m: m["architecture"].__setitem__("type", "importlib.import_module"), "unknown network type"),
        (lambda t, m: m["generators"]["model"].__setitem__("bit_generator", "os.system"), "unsupported generator"),
        (lambda t, m: m.__setitem__("format_version", 99), "format version 99"),
        (lambda t, m: t.__setitem__("param/0.W", t["param/0.W"].T.copy()), r"shape \(8, 5\).*needs \(5, 8\)"),
        (lambda t, m: t.pop("param/0.b"), "missing tensor 'param/0.b'"),
        (lambda t, m: m["architecture"]["layers"][0]["config"].__setitem__("in_features", "__import__('os')"),
         "in_features must be a positive int"),
    ]:
        _, path, _, _ = _trained(tmp_path)
        _reencode(path, edit)
        with pytest.raises(CheckpointError, match=pattern):
            anynet.load(path)


def test_pickle_payload_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="not a valid anynet checkpoint"):
        anynet.load(path)


def test_truncated_and_flipped_files(tmp_path):
    _, path, _, _ = _trained(tmp_path)
    raw = path.read_bytes()
    for cut in (0, 4, 8, 100, len(raw) // 2, len(raw) - 1):
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError):
            anynet.load(path)
    for pos in (3, 20, len(raw) // 2, len(raw) - 3):
        bad = bytearray(raw)
        bad[pos] ^= 0x10
        path.write_bytes(bytes(bad))
        with pytest.raises(CheckpointError):
            anynet.load(path)
    path.write_bytes(raw + b"\0")
    with pytest.raises(CheckpointError, match="cover"):
        anynet.load(path)
    path.write_bytes(struct.pack("<Q", 2**63) + raw[8:])
    with pytest.raises(CheckpointError, match="exceeds"):
        anynet.load(path)
    with pytest.raises(CheckpointError, match="cannot open"):
        anynet.load(tmp_path / "missing.safetensors")


def test_loading_runs_no_pickle_eval_or_import(tmp_path, monkeypatch):
    model, path, X, _ = _trained(tmp_path)

    def forbidden(*a, **k):
        raise AssertionError("code execution attempted while loading")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(importlib, "import_module", forbidden)
    loaded = anynet.load(path)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6)


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, path, X, _ = _trained(tmp_path)
    good = path.read_bytes()

    def chunks_then_fail(tensors, manifest):
        yield b"partial data"
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "encode", chunks_then_fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left


KILLER = textwrap.dedent("""
    import sys, numpy as np, anynet
    from anynet.layers import Dense
    path = sys.argv[1]
    model = anynet.Sequential([Dense(200, 200), Dense(200, 200)], seed=0)
    print("ready", flush=True)
    while True:
        model.save(path)
""")


def test_sigkill_during_saves_always_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "m.safetensors"
    anynet.Sequential([Dense(200, 200), Dense(200, 200)], seed=0).save(path)
    for i in range(20):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.02 + 0.01 * (i % 5))
        proc.kill()
        proc.wait()
        anynet.load(path)  # never half-written
    # the killed saves' temp files go with the next successful save, once they are stale
    left = list(tmp_path.glob(".m.safetensors.*.tmp"))
    old = time.time() - anynet.fileformat.STALE_TEMP_SECONDS - 1
    for f in left:
        os.utime(f, (old, old))
    anynet.Sequential([Dense(200, 200), Dense(200, 200)], seed=1).save(path)
    assert list(tmp_path.glob(".m.safetensors.*.tmp")) == []


def test_a_save_removes_only_stale_temp_files_of_its_own_path(tmp_path):
    path = tmp_path / "m.safetensors"
    old = time.time() - anynet.fileformat.STALE_TEMP_SECONDS - 1
    stale = tmp_path / ".m.safetensors.ab3_x9z0.tmp"          # a killed save of this path
    fresh = tmp_path / ".m.safetensors.cd4_y8w1.tmp"          # a save that may still be writing
    others = [tmp_path / ".n.safetensors.ab3_x9z0.tmp",       # another checkpoint's
              tmp_path / ".m.safetensors.notes.tmp",          # not a temp-file name
              tmp_path / "m.safetensors.ab3_x9z0.tmp"]        # no leading dot
    for f in [stale, fresh, *others]:
        f.write_bytes(b"partial")
    for f in [stale, *others]:
        os.utime(f, (old, old))
    anynet.Sequential([Dense(3, 2)], seed=0).save(path)
    assert not stale.exists()
    assert fresh.exists() and all(f.exists() for f in others)


def test_unsaveable_models_are_refused_at_save_time(tmp_path):
    from anynet import activations

    model = Sequential([Dense(3, 2, activation=(lambda x: x * x, lambda x: 2 * x))], seed=0)
    with pytest.raises(CheckpointError, match="unregistered activation .custom.*anynet.register.'activation'"):
        model.save(tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()
    name = "cube_for_checkpoint_test"
    if name not in activations.names():
        anynet.register("activation")(
            activations.ActivationFn(name, lambda x: x * x * x, lambda x, y, dy: 3 * x * x * dy))
    model = Sequential([Dense(3, 2, activation=name)], seed=0)
    model.save(tmp_path / "m.safetensors")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(anynet.load(tmp_path / "m.safetensors").predict(x), model.predict(x))
