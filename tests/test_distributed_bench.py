"""The projected scaling of benchmarks/bench_distributed.py: the cost model behaves as a cost model
should, and docs/DISTRIBUTED.md shows exactly the table the script prints (no MPI needed here)."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_distributed.py"
DOC = ROOT / "docs" / "DISTRIBUTED.md"


def _load():
    spec = importlib.util.spec_from_file_location("bench_distributed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bench = _load()


def _tables(text: str) -> list[str]:
    """Every Markdown table of ``text``, each as its consecutive ``|`` lines."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current) + "\n")
            current = []
    if current:
        tables.append("\n".join(current) + "\n")
    return tables


def test_the_docs_tables_are_the_scripts_output():
    tables = _tables(DOC.read_text(encoding="utf-8"))
    for table in (bench.assumptions_markdown(), bench.projection_markdown()):
        assert table in tables, ("docs/DISTRIBUTED.md's tables differ from `python benchmarks/bench_distributed.py "
                                 "--project`; paste the script's output into the document")


def test_project_flag_prints_the_tables():
    out = subprocess.run([sys.executable, str(SCRIPT), "--project"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == bench.assumptions_markdown() + "\n" + bench.projection_markdown()


def test_ring_allreduce_formula_and_its_limits():
    f = bench.ring_allreduce_seconds
    assert f(1e6, 1, 1e9, 1e-6) == 0.0  # one process: nothing to send
    assert f(1e6, 2, 1e9, 0.0) == pytest.approx(1e6 / 1e9)  # 2(p-1)/p = 1 at p = 2
    assert f(0.0, 8, 1e9, 5e-6) == pytest.approx(14 * 5e-6)  # only latency: 2(p-1) steps
    # the bandwidth term tends to twice the data over the link as p grows
    assert f(1e9, 10_000, 1e9, 0.0) == pytest.approx(2.0, rel=1e-3)


def test_cost_model_is_monotone():
    f = bench.ring_allreduce_seconds
    sizes, ps = [1e3, 1e5, 1e7, 1e9], [2, 4, 8, 64, 512]
    for p in ps:
        times = [f(n, p, 25e9, 10e-6) for n in sizes]
        assert times == sorted(times) and len(set(times)) == len(times)  # more bytes, more time
    for n in sizes:
        times = [f(n, p, 25e9, 10e-6) for p in ps]
        assert times == sorted(times)  # more processes, more time (weak scaling: same bytes each)
        assert f(n, 8, 300e9, 5e-6) < f(n, 8, 25e9, 10e-6)  # a faster link is faster
    widths = [784, 256, 256, 10]
    computes = [bench.step_compute_seconds(widths, b) for b in (1, 10, 100, 1000)]
    assert computes == sorted(computes)
    assert bench.step_compute_seconds(widths, 100) == pytest.approx(10 * bench.step_compute_seconds(widths, 10))


def test_compute_counts_forward_and_both_backward_matmuls():
    widths, batch = [784, 1024, 1024, 10], 256
    macs = 784 * 1024 + 1024 * 1024 + 1024 * 10
    # forward, weight gradient, input gradient: 3 × 2·MACs, minus the first layer's input gradient
    flops = (3 * 2 * macs - 2 * 784 * 1024) * batch
    assert bench.step_compute_seconds(widths, batch, flops=1e12) == pytest.approx(flops / 1e12)


def test_projection_rows_are_sane():
    rows = bench.projection()
    assert [r["config"] for r in rows] == list(bench.CONFIGS)
    for r in rows:
        widths, batch, _ = bench.CONFIGS[r["config"]]
        assert r["params"] == sum(a * b + b for a, b in zip(widths, widths[1:]))
        assert r["bytes"] == 4 * r["params"] and r["batch"] == batch
        effs = [f["efficiency"] for f in r["fabrics"]]
        assert all(0.0 < e <= 1.0 for e in effs)
        assert effs == sorted(effs, reverse=True)  # 64 GPUs over InfiniBand: no better than 8 over NVLink
        assert len(r["fabrics"]) == len(bench.FABRICS) == 2
        for f, fabric in zip(r["fabrics"], bench.FABRICS):
            assert f["gpus"] == fabric.gpus
            # the batch said to reach the target does reach it, and one row less does not
            need = f["batch_for_target"]
            comm = f["comm_s"]
            assert bench.efficiency(bench.step_compute_seconds(widths, need), comm) >= bench.TARGET - 1e-12
            assert bench.efficiency(bench.step_compute_seconds(widths, need - 1), comm) < bench.TARGET
    # bigger nets use the GPUs better on the same fabric: compute and bytes both grow with the parameters,
    # but the all-reduce's fixed latency is spread over more work
    for i in range(len(bench.FABRICS)):
        effs = [r["fabrics"][i]["efficiency"] for r in rows]
        assert effs == sorted(effs)
    assert math.isclose(bench.efficiency(1.0, 0.0), 1.0) and math.isclose(bench.efficiency(1.0, 1.0), 0.5)
