"""Memory and time of fit / predict / evaluate on a ``numpy.memmap`` against the same data in memory.

The data is the issue's: 1,000,000 × 32 float32 rows (122 MiB) in an ``.npy`` file opened with
``mmap_mode="r"``, float32 targets, and a float32 ``Sequential([Dense(32, 64, relu), Dense(64, 1)])``
trained with mse, batch_size=256, one shuffled epoch on NumPy. "In memory" is the same data copied
into RAM first (the copy is made before measuring, so it is not counted).

Peak memory is what ``tracemalloc`` sees allocated during the call (NumPy reports its buffers to it);
the memory-mapped file itself is the page cache's, not an allocation. Time is the median of a few
calls without ``tracemalloc``. Every measurement runs in a fresh process; with ``--runs N`` all of
them are repeated N times, and ``--before DIR`` measures an earlier anynet source folder (for
example a ``git worktree`` of the parent commit) in the same runs, turn about, so that a slow spell
of a shared machine hits both alike. ``--small`` also times bench_train.py's smallest configuration
(5-5-1 b10, 20,000 samples in memory), the training step path that must not get slower.

    python benchmarks/bench_memmap.py --runs 3
    python benchmarks/bench_memmap.py --runs 3 --before ../anynet-before --small

Writes ``MEMMAP.md`` (or ``--out``) and a JSON file beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MiB = 1 << 20


def make_data(folder: Path, rows: int) -> None:
    """``X.npy`` (rows × 32 float32) and ``y.npy`` written in chunks, never whole in memory."""
    g = np.random.default_rng(0)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32, shape=(rows, 32))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.float32, shape=(rows,))
    for a in range(0, rows, 1 << 17):
        part = g.standard_normal((min(1 << 17, rows - a), 32), dtype=np.float32)
        X[a:a + part.shape[0]] = part
        y[a:a + part.shape[0]] = part[:, 0] - 0.5 * part[:, 1] + 0.1 * part[:, 2] * part[:, 3]
    X.flush()
    y.flush()


# -- children: one process per measurement set ---------------------------------------------------------
def child_data(folder: str, source: str) -> None:
    """Peaks and times of fit, predict and evaluate; prints one JSON line."""
    import tracemalloc

    import anynet
    from anynet.layers import Dense

    X, y = np.load(Path(folder) / "X.npy", mmap_mode="r"), np.load(Path(folder) / "y.npy", mmap_mode="r")
    if source == "memory":
        X, y = np.array(X), np.array(y)

    def model():
        return anynet.Sequential([Dense(32, 64, activation="relu"), Dense(64, 1)], seed=0, dtype="float32")

    fitted = model()
    calls = {
        "fit": lambda: model().fit(X, y, loss="mse", optimizer=anynet.optim.SGD(lr=0.01), batch_size=256, epochs=1,
                                   shuffle=True, verbose=0),
        "predict": lambda: fitted.predict(X),
        "evaluate": lambda: fitted.evaluate(X, y, loss="mse"),
    }
    out: dict[str, float] = {}
    for name, call in calls.items():
        call()  # warm: the file in the page cache, BLAS started
        tracemalloc.start()
        call()
        out[f"{name}_peak_mib"] = tracemalloc.get_traced_memory()[1] / MiB
        tracemalloc.stop()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[f"{name}_s"] = statistics.median(times)
    print(json.dumps(out))


def child_small() -> None:
    """bench_train.py's smallest configuration in memory: seconds per epoch (median of 15)."""
    import anynet
    from anynet.layers import Dense

    g = np.random.default_rng(0)
    X, y = g.random((20_000, 5), dtype=np.float32), g.integers(0, 2, 20_000)
    model = anynet.Sequential([Dense(5, 5, activation="relu", init="he_uniform"), Dense(5, 2)], seed=0,
                              dtype="float32")
    stamps: list[float] = []

    class Clock(anynet.callbacks.Callback):
        def on_epoch_end(self, model, epoch, logs):
            stamps.append(time.perf_counter())

    model.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.SGD(lr=0.01), epochs=1, batch_size=10,
              verbose=0)
    stamps.append(time.perf_counter())
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.SGD(lr=0.01), epochs=15, batch_size=10,
              verbose=0, callbacks=[Clock()])
    print(json.dumps({"small_epoch_s": statistics.median(b - a for a, b in zip(stamps, stamps[1:]))}))


def run_child(src: Path, *args: str, threads: int | None = None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    if threads:
        env.update({name: str(threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args], env=env, cwd=src,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"child {args} in {src.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- report -------------------------------------------------------------------------------------------------
def versions() -> str:
    import numpy

    sys.path.insert(0, str(ROOT))
    import anynet

    return f"Python {platform.python_version()}, NumPy {numpy.__version__}, anynet {anynet.__version__}"


def commit(src: Path) -> str:
    done = subprocess.run(["git", "-C", str(src), "describe", "--always", "--dirty"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or "unknown"


def report(results: dict, out: Path) -> None:
    trees = list(results["trees"])
    runs = results["runs"]
    lines = [
        "# Data bigger than memory: fit / predict / evaluate on a numpy.memmap",
        "",
        f"Written by `benchmarks/bench_memmap.py` (see its docstring for the method). Machine: {results['machine']}. "
        f"{results['versions']}. {results['rows']:,} × 32 float32 rows ({results['rows'] * 32 * 4 / MiB:.0f} MiB), "
        "float32 targets; `Sequential([Dense(32, 64, activation='relu'), Dense(64, 1)])`, float32, mse, "
        f"batch_size=256, one shuffled epoch, NumPy backend, BLAS threads: {results['blas_threads']}. The file was "
        "in the page cache (written just before).",
        "",
        "Peak: MiB that `tracemalloc` saw allocated during the call. Time: seconds per call (median of 3). "
        f"Each cell is the median over {runs} runs (fresh processes); the runs are listed below.",
        "",
        "Trees: " + "; ".join(f"**{name}** = anynet {tree['commit']}" for name, tree in results["trees"].items()) + ".",
        "",
    ]
    head = "| call | data | " + " | ".join(f"peak MiB ({t})" for t in trees) + " | " + \
        " | ".join(f"time s ({t})" for t in trees) + " |"
    lines += [head, "|" + "---|" * (2 + 2 * len(trees))]
    for call in ("fit", "predict", "evaluate"):
        for source in ("memmap", "memory"):
            peaks = [statistics.median(r[source][f"{call}_peak_mib"] for r in results["trees"][t]["runs"])
                     for t in trees]
            times = [statistics.median(r[source][f"{call}_s"] for r in results["trees"][t]["runs"]) for t in trees]
            lines.append(f"| {call} | {source} | " + " | ".join(f"{p:.1f}" for p in peaks) + " | " +
                         " | ".join(f"{s:.3f}" for s in times) + " |")
    if all("small" in r for t in trees for r in results["trees"][t]["runs"]):
        lines += ["", "In memory, bench_train.py's smallest configuration (5-5-1, batch 10, 20,000 samples, "
                  "float32): milliseconds per epoch, median of 15 epochs per run.", "",
                  "| tree | " + " | ".join(f"run {i + 1}" for i in range(runs)) + " | median |",
                  "|" + "---|" * (runs + 2)]
        for t in trees:
            ms = [r["small"]["small_epoch_s"] * 1000 for r in results["trees"][t]["runs"]]
            lines.append(f"| {t} | " + " | ".join(f"{m:.0f}" for m in ms) + f" | {statistics.median(ms):.0f} |")
    lines += ["", "## Reading the numbers", "",
              "- fit: before, the peak was the whole-array `isfinite` mask of the validation (one byte per value); "
              "after, the checks read the data in row chunks by their minimum and maximum, and what is left is "
              "mostly the epoch's permutation of the row numbers (8 bytes a row). In memory, fit also holds the "
              "targets prepared whole, as before; a memory-mapped y is prepared batch by batch.",
              "- predict and evaluate: before, every row's intermediates (the 64-wide hidden layer alone is 256 bytes "
              "a row); after, data read by rows goes through the model 8,192 rows at a time, so the peak is the "
              "outputs (4 bytes a row here) and one chunk's intermediates. An in-memory array this large "
              "(≥ 64 MiB) is read by rows too.",
              "- time, the range over the runs (a small shared machine: compare ranges, not single runs): " +
              "; ".join(f"{call} {'on the memmap' if source == 'memmap' else 'in memory'}: " + ", ".join(
                  f"{t} {min(ts):.3f}–{max(ts):.3f} s" for t in trees
                  for ts in [[r[source][f"{call}_s"] for r in results["trees"][t]["runs"]]])
                  for call in ("fit", "predict", "evaluate") for source in ("memmap", "memory")) + ".", ""]
    lines += ["## Every run", ""]
    for t in trees:
        for i, r in enumerate(results["trees"][t]["runs"]):
            cells = ", ".join(f"{c} {s} {r[s][c + '_peak_mib']:.1f} MiB / {r[s][c + '_s']:.3f} s"
                              for s in ("memmap", "memory") for c in ("fit", "predict", "evaluate"))
            lines.append(f"- {t}, run {i + 1}: {cells}")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="independent runs (fresh processes)")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--before", type=Path, help="an earlier anynet source folder to measure in the same runs")
    p.add_argument("--before-label", help="what --before is, for the report (default: its git description)")
    p.add_argument("--after-label", help="what this checkout is, for the report (default: its git description)")
    p.add_argument("--small", action="store_true", help="also time bench_train.py's smallest net in memory")
    p.add_argument("--threads", type=int, help="BLAS threads in the children (default: the library's own choice; "
                   "1 steadies the timings on a small shared machine, where threads wait for each other)")
    p.add_argument("--out", type=Path, default=HERE / "MEMMAP.md")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child_small() if a.child[0] == "small" else child_data(*a.child[1:])
        return
    trees = {"after": ROOT} if a.before is None else {"before": a.before.resolve(), "after": ROOT}
    given = {"before": a.before_label, "after": a.after_label}
    labels = {name: given[name] or commit(src) for name, src in trees.items()}
    results: dict = {"machine": machine(), "versions": versions(), "rows": a.rows, "runs": a.runs,
                     "blas_threads": a.threads or "default",
                     "trees": {name: {"commit": labels[name], "runs": []} for name in trees}}
    with tempfile.TemporaryDirectory() as folder:
        make_data(Path(folder), a.rows)
        for i in range(a.runs):
            for name, src in trees.items():  # turn about within a run
                run = {source: run_child(src, "data", folder, source, threads=a.threads)
                       for source in ("memmap", "memory")}
                if a.small:
                    run["small"] = run_child(src, "small", threads=a.threads)
                results["trees"][name]["runs"].append(run)
                print(f"run {i + 1} {name}: {json.dumps(run)}", file=sys.stderr)
    a.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    report(results, a.out)


if __name__ == "__main__":
    main()
