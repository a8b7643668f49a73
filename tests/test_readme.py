"""The README's Python examples run as written (the first two share one namespace, as a reader
would type them; the third is a sketch of the backend calls and names no data)."""

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
