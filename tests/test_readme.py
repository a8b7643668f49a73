"""The README's Python examples run as written (the first two share one namespace, as a reader
would type them; the interop block runs on its own; the backend block is a sketch and names no data)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_training_and_graph_examples_run(tmp_path, monkeypatch, request):
    from .conftest import load_backend

    load_backend("torch", request.config)  # the example reloads its checkpoint on torch
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for index in (0, 1):
        exec(compile(BLOCKS[index], f"README python block {index}", "exec"), namespace)  # noqa: S102
    assert namespace["history"]["val_accuracy"][-1] > 0.95
    assert namespace["again"].backend.name == "torch"
    assert (tmp_path / "digits.safetensors").exists()
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
