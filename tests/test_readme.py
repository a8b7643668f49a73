"""The README's Python examples run as written, each alone in a fresh namespace (the interop block, the
stream, memmap, Dask and MPI blocks too); these tests check what they print and write.
``tests/test_doc_blocks.py`` runs every block of the README and the guides alone."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import anynet

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_training_example_runs(tmp_path, monkeypatch, request):
    from .conftest import load_backend

    load_backend("torch", request.config)  # the example reloads its checkpoint on torch
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[0], "README python block 0", "exec"), namespace)  # noqa: S102
    assert namespace["history"]["val_accuracy"][-1] > 0.95
    assert namespace["again"].backend.name == "torch"
    assert (tmp_path / "digits.safetensors").exists()


def test_readme_graph_example_runs_alone():
    """Its own imports: pasted alone into a fresh interpreter, it runs (it once relied on the block before)."""
    namespace: dict = {}
    exec(compile(_block("anynet.Graph("), "README graph block", "exec"), namespace)  # noqa: S102
    assert namespace["g"].out_features == 1


def test_readme_interop_example_runs(tmp_path, monkeypatch):
    """scikit-learn pipeline, DataFrame columns by name, ONNX under onnxruntime, pickle."""
    monkeypatch.chdir(tmp_path)
    block = next(b for b in BLOCKS if "anynet.onnx.export" in b)
    namespace: dict = {}
    exec(compile(block, "README interop block", "exec"), namespace)  # noqa: S102
    assert namespace["scores"].mean() > 0.9
    assert namespace["model"].metadata["feature_names"][0] == "alcohol"
    assert (tmp_path / "wine.onnx").exists()
    assert type(namespace["copy"]) is type(namespace["model"])


def _block(marker: str) -> str:
    return next(b for b in BLOCKS if marker in b)


def test_readme_stream_example_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_block("steps_per_epoch"), "README stream block", "exec"), namespace)  # noqa: S102
    model = namespace["model"]
    assert model.train_state["epoch"] == 5 and model.train_state["step"] == 5 * 22


def test_readme_memmap_example_trains_from_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_block("mmap_mode"), "README memmap block", "exec"), namespace)  # noqa: S102
    assert isinstance(namespace["X"], np.memmap)
    assert "'r2'" in capsys.readouterr().out
    assert namespace["model"].evaluate(namespace["X"], namespace["y"], metrics=["r2"])["r2"] > 0.9


def test_readme_dask_example_is_lazy_and_equal(tmp_path, monkeypatch):
    pytest.importorskip("dask.array", reason='dask not installed (pip install "anynet-nn[dask]")')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_block("dask.array"), "README dask block", "exec"), namespace)  # noqa: S102
    model, X = namespace["model"], namespace["X"]
    assert np.array_equal(namespace["labels"].compute(), model.predict(X.compute()).argmax(axis=1))


def test_readme_mpi_example_runs_alone_and_under_mpiexec(tmp_path, monkeypatch):
    from .test_distributed import mpiexec

    block = _block("anynet.distributed.init")
    (tmp_path / "train.py").write_text(block)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(block, "README MPI block", "exec"), namespace)  # noqa: S102 - one process
    alone = anynet.load(tmp_path / "digits.safetensors")
    (tmp_path / "digits.safetensors").unlink()
    result = mpiexec(sys.executable, str(tmp_path / "train.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    both = anynet.load(tmp_path / "digits.safetensors")
    for key, value in alone.state_dict().items():  # float32: the two processes' sums round differently
        np.testing.assert_allclose(both.state_dict()[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
