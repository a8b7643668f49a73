"""What data-parallel training costs in anynet: the all-reduce of each benchmark net's gradients, and
the epoch time of ``fit(comm=...)`` on 2 processes against 1 process on the same global batches.

The nets are bench_train.py's configurations (float32 ReLU MLPs, softmax cross-entropy, plain SGD).
Three measurements, repeated ``--runs`` times (each run is reported and judged on its own):

1. **All-reduce.** For each net, one ``comm.Allreduce`` of a float32 buffer of its parameter count,
   repeated many times (a barrier before each call, so every call starts together; a call's time is
   the slower process's), and anynet's whole gradient reduction as the training step runs it:
   ``DataParallel.reduce_gradients`` on the model's trainable slots (flatten into one buffer, one
   all-reduce, views back into each gradient).
2. **Epoch times.** ``fit(comm=comm)`` on every process of the job, global batch = the configuration's
   batch, so each of 2 processes takes half of every batch; and one process training on the same data,
   seed and global batches without ``comm``, at 1 and at 2 BLAS threads. The one-process runs are fresh
   child processes, started by rank 0 while rank 1 sleeps (an MPI process waiting in a blocking
   collective spins on a core, which would take one of this machine's cores from the child); they are
   interleaved with the 2-process epochs, run by run, so a slow spell of a shared machine hits both.
   Each process of the MPI job uses 1 BLAS thread (set here before any BLAS call), so the job uses the
   same cores as one process at 2 threads.
3. **Where the step's time goes.** One more 2-process epoch with ``reduce_gradients`` timed inside
   ``fit``: the gradient reduction per step, waiting for the slower process included.

The overhead per step is ``(2-process step time) − (1-process step time at 1 thread) / 2``: what the
step costs beyond a perfect halving of the work. On a machine with 2 cores the 2 processes cannot be
faster than one process whose BLAS calls already use both cores; this measures the cost, not a speed-up.

    mpiexec -n 2 python benchmarks/bench_distributed.py --runs 3     # the report: benchmarks/DISTRIBUTED.md
    mpiexec -n 2 python benchmarks/bench_distributed.py --quick      # a smoke test, under a minute
    python benchmarks/bench_distributed.py                           # one process: what it can measure alone
    python benchmarks/bench_distributed.py --project                 # the projected scaling table only

``--project`` prints the projected weak-scaling efficiency on 8 and 64 GPUs (:func:`projection`):
a ring all-reduce cost model with stated bandwidths and latencies, and compute time from each net's
FLOPs at a stated GPU throughput. Those are assumptions written below, not measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402
from bench_train import CONFIGS, LR, data, flops_per_sample  # noqa: E402

HERE = Path(__file__).resolve().parent

#: environment variables of MPI launchers: removed for the one-process children, so that they run
#: as plain processes (anynet.distributed.init() then returns a one-process communicator)
_LAUNCHER_PREFIXES = ("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPI_LOCAL", "MPIR_")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- the cost model of the projection ----------------------------------------------------------------------
@dataclass(frozen=True)
class Fabric:
    """The links a ring all-reduce over ``gpus`` GPUs runs on: the slowest link's bandwidth (bytes/s
    each way, per GPU in a node, per node between nodes) and the latency of one step of the ring."""

    gpus: int
    link: str
    bandwidth: float
    latency: float


#: assumed, not measured here: NVLink within one node of 8 GPUs (~300 GB/s effective per GPU for an
#: all-reduce); 8 such nodes joined by one 200 Gb/s InfiniBand HDR port each (25 GB/s per node), the
#: ring's bottleneck being the link between nodes
FABRICS = (Fabric(8, "one node, NVLink", 300e9, 5e-6),
           Fabric(64, "8 nodes of 8, InfiniBand HDR (one 200 Gb/s port per node)", 25e9, 10e-6))
#: assumed sustained float32 throughput of one H100 on these matmuls (its float32 peak is about twice that)
GPU_FLOPS = 30e12
#: the efficiency the "batch for 90 %" column asks for
TARGET = 0.9


def param_count(widths: list[int]) -> int:
    """Weights and biases of the Dense layers between ``widths``."""
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def ring_allreduce_seconds(nbytes: float, p: int, bandwidth: float, latency: float) -> float:
    """Time of a ring all-reduce of ``nbytes`` over ``p`` processes: a reduce-scatter and an all-gather,
    each ``p − 1`` steps moving ``nbytes / p`` per link; ``t = 2(p−1)/p · nbytes/bandwidth + 2(p−1)·latency``."""
    if p <= 1:
        return 0.0
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def step_compute_seconds(widths: list[int], batch: int, flops: float = GPU_FLOPS) -> float:
    """Forward and backward of one step on ``batch`` rows: 2 FLOPs per multiply-add for the forward
    matmuls, the weight gradients and the input gradients (none for the first layer, which fit skips),
    at ``flops`` per second. Biases, activations, the loss and the optimizer are O(width) and left out."""
    return flops_per_sample(widths) * batch / flops


def efficiency(compute: float, comm: float) -> float:
    """Share of a step spent computing, when communication does not overlap the backward pass
    (anynet all-reduces after the whole backward): ``compute / (compute + comm)``."""
    return compute / (compute + comm) if compute + comm > 0 else 1.0


def projection(configs: dict[str, Any] = CONFIGS, fabrics: tuple[Fabric, ...] = FABRICS,
               flops: float = GPU_FLOPS) -> list[dict[str, Any]]:
    """Weak scaling: every GPU keeps the configuration's batch (the global batch is ``p`` × that),
    so compute per step stays and the all-reduce grows with ``p``. One row per configuration."""
    rows = []
    for name, (widths, batch, _) in configs.items():
        nbytes = 4 * param_count(widths)  # float32 gradients
        compute = step_compute_seconds(widths, batch, flops)
        row: dict[str, Any] = {"config": name, "params": param_count(widths), "bytes": nbytes,
                               "batch": batch, "compute_s": compute, "fabrics": []}
        for f in fabrics:
            comm = ring_allreduce_seconds(nbytes, f.gpus, f.bandwidth, f.latency)
            # the per-GPU batch at which compute is TARGET of the step: compute(b) = TARGET/(1-TARGET) · comm
            need = math.ceil(TARGET / (1 - TARGET) * comm * flops / flops_per_sample(widths))
            row["fabrics"].append({"gpus": f.gpus, "comm_s": comm, "efficiency": efficiency(compute, comm),
                                   "batch_for_target": need})
        rows.append(row)
    return rows


def assumptions_markdown(fabrics: tuple[Fabric, ...] = FABRICS, flops: float = GPU_FLOPS) -> str:
    """The assumed links and GPU throughput of :func:`projection`, as a Markdown table."""
    lines = ["| GPUs | links | bandwidth B | latency α | float32 throughput per GPU |", "|---|---|---|---|---|"]
    lines += [f"| {f.gpus} | {f.link} | {f.bandwidth / 1e9:g} GB/s | {f.latency * 1e6:g} µs | "
              f"{flops / 1e12:g} TFLOP/s |" for f in fabrics]
    return "\n".join(lines) + "\n"


def projection_markdown(rows: list[dict[str, Any]] | None = None) -> str:
    """The projection as a Markdown table (docs/DISTRIBUTED.md holds exactly this text)."""
    rows = projection() if rows is None else rows
    gpus = [f["gpus"] for f in rows[0]["fabrics"]]
    head = ["net (per-GPU batch)", "parameters", "gradients (MB)", "compute per step (µs)"]
    for p in gpus:
        head += [f"all-reduce, p={p} (µs)", f"efficiency, p={p}", f"per-GPU batch for {TARGET:.0%}, p={p}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        compute = r["compute_s"] * 1e6
        cells = [r["config"], f"{r['params']:,}", f"{r['bytes'] / 1e6:.3f}",
                 "< 0.01" if compute < 0.01 else f"{compute:,.2f}"]
        for f in r["fabrics"]:
            share = "< 0.1%" if f["efficiency"] < 0.001 else f"{f['efficiency']:.1%}"
            cells += [f"{f['comm_s'] * 1e6:,.0f}", share, f"{f['batch_for_target']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- measurements ------------------------------------------------------------------------------------------
def build(widths: list[int]) -> Any:
    """bench_train's anynet model: ReLU hidden layers (He-uniform), a linear output, seed 0."""
    import anynet
    from anynet.layers import Dense

    layers = [Dense(a, b, activation="relu", init="he_uniform") for a, b in zip(widths[:-2], widths[1:-1])]
    layers.append(Dense(widths[-2], widths[-1]))
    return anynet.Sequential(layers, seed=0)


def samples(config: str, scale: float) -> tuple[list[int], int, int]:
    widths, batch, n = CONFIGS[config]
    return widths, batch, max(batch, int(n * scale) // batch * batch)


def _max_over_ranks(comm: Any, values: np.ndarray) -> np.ndarray:
    """Per entry, the largest value over the processes (a collective's time is its slowest process's)."""
    if comm.Get_size() == 1:
        return values
    from mpi4py import MPI

    out = np.empty_like(values)
    comm.Allreduce(values, out, op=MPI.MAX)
    return out


def _repeat(comm: Any, call: Any, budget: float, before: Any = None) -> list[float]:
    """Times of ``call()`` after a barrier each, about ``budget`` seconds in all (at least 30 calls)."""
    def once() -> float:
        if before is not None:
            before()
        comm.Barrier()
        t = time.perf_counter()
        call()
        return time.perf_counter() - t

    guess = statistics.median([once() for _ in range(7)])  # also the warm-up
    reps = comm.bcast(int(min(3000, max(30, budget / max(guess, 1e-7)))), root=0)  # every process alike
    return _max_over_ranks(comm, np.array([once() for _ in range(reps)])).tolist()


def spread(times: list[float]) -> dict[str, float]:
    """Median, 10th and 90th percentile and minimum of ``times``, in seconds."""
    q = np.percentile(times, [10, 50, 90])
    return {"median_s": float(q[1]), "p10_s": float(q[0]), "p90_s": float(q[2]), "min_s": float(min(times)),
            "reps": len(times)}


def measure_allreduce(comm: Any, config: str, budget: float) -> dict[str, Any]:
    """One ``Allreduce`` of the net's parameter count in float32, and ``reduce_gradients`` on its slots."""
    from anynet.distributed import DataParallel

    widths, batch, _ = CONFIGS[config]
    count = param_count(widths)
    send = np.ones(count, np.float32)
    recv = np.empty_like(send)
    raw = _repeat(comm, lambda: comm.Allreduce(send, recv), budget)
    model = build(widths)
    X, y = data(widths, batch)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", batch_size=batch, verbose=0)  # fills grads
    # the slots exactly as fit's train_epoch builds them: (path, params, grads, key) of every trainable parameter
    slots = [(f"{n}.{k}", layer.params, layer.grads, k) for n, layer in model.nodes.items() if layer.trainable
             for k in layer.params]
    saved = [g[k] for _, _, g, k in slots]

    def restore() -> None:  # reduce_gradients puts views of the summed buffer in place: put the originals back
        for (_, _, g, k), old in zip(slots, saved):
            g[k] = old

    dp = DataParallel(comm, model.backend)
    share = np.zeros((), np.float32)  # this process's share of the step's loss, summed with the gradients
    whole = _repeat(comm, lambda: dp.reduce_gradients(slots, share), budget, before=restore)
    # for comparison, the same reduction into one buffer kept from step to step and summed in place: on the
    # machine of the report, MPI took 2-3 times longer on freshly allocated megabyte buffers than on reused ones
    kept = np.empty(1 + count, np.float32)

    def reused() -> None:
        np.concatenate([share.reshape(1), *(g.reshape(-1) for g in saved)], out=kept)
        comm.Allreduce(_in_place(comm, kept), kept)
        start = 1
        for (_, _, g, k), old in zip(slots, saved):
            g[k] = kept[start:start + old.size].reshape(old.shape)
            start += old.size

    again = _repeat(comm, reused, budget, before=restore)
    return {"config": config, "params": count, "bytes": 4 * count, "allreduce": {**spread(raw), "times": raw},
            "reduce_gradients": {**spread(whole), "times": whole}, "reused_buffer": {**spread(again), "times": again}}


#: the three timings of :func:`measure_allreduce`
KINDS = ("allreduce", "reduce_gradients", "reused_buffer")


def pool_calls(micro: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """config → kind → the spread of every call of every run; the per-call times are then dropped
    from the rows (tens of thousands of them: the JSON file keeps the spreads)."""
    pooled: dict[str, dict[str, dict[str, float]]] = {}
    for c in dict.fromkeys(r["config"] for r in micro):
        rows = [r for r in micro if r["config"] == c]
        pooled[c] = {k: spread([t for r in rows for t in r[k]["times"]]) for k in KINDS}
    for r in micro:
        for k in KINDS:
            r[k].pop("times", None)
    return pooled


def _in_place(comm: Any, buf: np.ndarray) -> Any:
    """MPI's IN_PLACE marker (sum ``buf`` into itself); the one-process communicator copies ``buf`` onto itself."""
    if comm.Get_size() == 1:
        return buf
    from mpi4py import MPI

    return MPI.IN_PLACE


def make_clock() -> Any:
    """A callback that keeps the duration of every epoch, from its begin hook to its end hook."""
    import anynet

    class Clock(anynet.callbacks.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_epoch_begin(self, model: Any, epoch: int, logs: Any) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, model: Any, epoch: int, logs: Any) -> None:
            self.times.append(time.perf_counter() - self.start)

    return Clock()


def epoch_times(config: str, epochs: int, scale: float, comm: Any = None, timed_reduce: bool = False) -> dict:
    """Train one fresh model for a warm-up epoch plus ``epochs`` timed epochs (one ``fit``); with
    ``timed_reduce`` one more epoch with the gradient reduction timed inside ``fit``."""
    import anynet

    widths, batch, n = samples(config, scale)
    X, y = data(widths, n)
    model = build(widths)
    clock = make_clock()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.SGD(lr=LR), epochs=1 + epochs,
              batch_size=batch, verbose=0, callbacks=[clock], comm=comm)
    steps = n // batch
    out: dict[str, Any] = {"config": config, "samples": n, "steps": steps, "epoch_s": clock.times[1:],
                           "blas": blas_threads()}
    if timed_reduce:
        from anynet.distributed import DataParallel

        spent: list[float] = []
        original = DataParallel.reduce_gradients

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            result = original(self, *args, **kwargs)
            spent.append(time.perf_counter() - t)
            return result

        clock = make_clock()
        DataParallel.reduce_gradients = timed  # type: ignore[method-assign]
        try:
            model.fit(X, y, epochs=1, batch_size=batch, verbose=0, callbacks=[clock], comm=comm)
        finally:
            DataParallel.reduce_gradients = original  # type: ignore[method-assign]
        total = float(_max_over_ranks(comm, np.array([sum(spent)]))[0]) if spent else 0.0
        out.update(instrumented_epoch_s=clock.times[0], reduce_per_step_s=total / steps)
    return out


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info

        return "; ".join(f"{i['internal_api']} {i.get('version')} ({i.get('num_threads')} threads)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except Exception:  # threadpoolctl missing or broken: left out
        return "unknown"


def single_process(config: str, threads: int, epochs: int, scale: float) -> dict:
    """``epoch_times`` without comm in a fresh child process at ``threads`` BLAS threads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_PREFIXES)}
    env.update(dict.fromkeys(_THREAD_VARS, str(threads)))
    cmd = [sys.executable, __file__, "--child", config, "--epochs", str(epochs), "--scale", str(scale)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{config} at {threads} thread(s) failed: {out.stderr.strip()[-2000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "threads": threads}


def _sleep_until_root_done(comm: Any) -> None:
    """Rank > 0 waits for rank 0 without spinning on a core (a blocking MPI barrier would). Every
    process calls the non-blocking barrier: MPI never matches it with a blocking one."""
    request = comm.Ibarrier()
    if comm.Get_rank() == 0:
        request.Wait()
        return
    while not request.Test():
        time.sleep(0.005)


def mpi_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        import mpi4py

        out["mpi4py"] = mpi4py.__version__
        from mpi4py import MPI

        out["MPI library"] = " ".join(MPI.Get_library_version().split("\n")[0].split())
    except Exception:  # mpi4py not installed: a one-process run needs neither
        out["mpi4py"] = "not installed"
    return out


def run_all(comm: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, ``args.runs`` times; the rows carry their run's index."""
    rank, size = comm.Get_rank(), comm.Get_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    configs = args.configs.split(",") if args.configs else list(CONFIGS)
    micro, epochs = [], []
    for run in range(args.runs):
        for config in configs:
            row = {**measure_allreduce(comm, config, args.budget), "run": run, "processes": size}
            micro.append(row)
            say(f"run {run + 1}/{args.runs} {config:<22} Allreduce {row['allreduce']['median_s'] * 1e6:9.1f} µs  "
                f"reduce_gradients {row['reduce_gradients']['median_s'] * 1e6:9.1f} µs", flush=True)
        for i, config in enumerate(configs):
            blocks = ["mpi", 1, 2]
            shift = (run + i) % 3  # rotate which block goes first, so none always follows the same one
            for block in blocks[shift:] + blocks[:shift]:
                if block == "mpi":
                    if size == 1:
                        continue
                    row = epoch_times(config, args.epochs, args.scale, comm=comm, timed_reduce=True)
                    row.update(processes=size, threads=1)
                else:
                    row = single_process(config, block, args.epochs, args.scale) if rank == 0 else {}
                    if size > 1:
                        _sleep_until_root_done(comm)
                    row.update(processes=1)
                if rank == 0:
                    row["run"] = run
                    epochs.append(row)
                    step = statistics.median(row["epoch_s"]) / row["steps"]
                    say(f"run {run + 1}/{args.runs} {config:<22} {row['processes']} process(es) × "
                        f"{row['threads']} thread(s): {step * 1e6:9.1f} µs/step", flush=True)
    return {"allreduce": micro, "epochs": epochs}


# -- the report --------------------------------------------------------------------------------------------
def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def _cell(s: dict[str, float]) -> str:
    return f"{_us(s['median_s'])} ({_us(s['p10_s'])}–{_us(s['p90_s'])})"


def step_table(epochs: list[dict]) -> dict[tuple[str, int, int, int], float]:
    """(config, processes, threads, run) → median step time of that run's epochs, in seconds."""
    return {(r["config"], r["processes"], r["threads"], r["run"]): statistics.median(r["epoch_s"]) / r["steps"]
            for r in epochs}


def summary(saved: dict) -> list[dict[str, Any]]:
    """Per configuration: the step times pooled over runs, the overhead and the communication share,
    and the same per run (for judging each run)."""
    steps = step_table(saved["epochs"])
    out = []
    configs = list(dict.fromkeys(r["config"] for r in saved["epochs"]))
    runs = sorted({r["run"] for r in saved["epochs"]})
    for c in configs:
        def pooled(p: int, t: int, c: str = c) -> float | None:
            es = [e / r["steps"] for r in saved["epochs"] if (r["config"], r["processes"], r["threads"]) == (c, p, t)
                  for e in r["epoch_s"]]
            return statistics.median(es) if es else None

        row: dict[str, Any] = {"config": c, "one_1t": pooled(1, 1), "one_2t": pooled(1, 2), "two": None}
        mpi = [r for r in saved["epochs"] if r["config"] == c and r["processes"] > 1]
        if mpi:
            row["two"] = pooled(mpi[0]["processes"], 1)
            row["reduce"] = statistics.median(r["reduce_per_step_s"] for r in mpi)
            row["instrumented"] = statistics.median(r["instrumented_epoch_s"] / r["steps"] for r in mpi)
        per_run = []
        for run in runs:
            one1, one2 = steps.get((c, 1, 1, run)), steps.get((c, 1, 2, run))
            m = next((r for r in mpi if r["run"] == run), None)
            if m is None or one1 is None:
                continue
            two = statistics.median(m["epoch_s"]) / m["steps"]
            per_run.append({"run": run, "overhead": two - one1 / 2, "share": m["reduce_per_step_s"] /
                            (m["instrumented_epoch_s"] / m["steps"]), "speedup_2t": (one2 / two) if one2 else None,
                            "speedup_1t": one1 / two})
        row["runs"] = per_run
        out.append(row)
    return out


def write_report(saved: dict) -> str:
    lines = [f"Machine: {saved['machine']} (load average {saved['load_before']} before the run, "
             f"{saved['load_after']} after)", ""]
    lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in saved["versions"].items()), ""]
    others = saved.get("others_cpu_share")
    if others is not None:
        lines += [f"Other programs used {others:.0%} of the machine's CPU time during the run (/proc/stat's busy "
                  "time less this job's own)" + (": **the timings are noisy**, every one of them shares the cores "
                                                 "with those programs." if others > 0.1 else "."), ""]
    size = saved["processes"]
    runs = saved["runs"]
    lines += [f"Processes: {size}. BLAS threads per MPI process: {saved['blas_threads']}. Runs: {runs}; "
              f"each training cell pools {saved['epochs_per_block']} epochs per run after a warm-up epoch.", ""]
    lines += ["## 1. The all-reduce of each net's gradients", ""]
    if size == 1:
        lines += ["One process: `Allreduce` is a copy (anynet's one-process communicator), shown for the "
                  "packing cost of `reduce_gradients` only. Run under `mpiexec -n 2` for the real thing.", ""]
    lines += [f"Microseconds per call, the median over every call of every run (about {saved['budget']:g} s of calls "
              "per measurement and run, 30 to 3000 calls; in brackets the 10th–90th percentile); a barrier before "
              "each call, the time of the slower process. `reduce_gradients` is "
              "the whole reduction of a training step as anynet does it: copy every gradient into one float32 "
              "buffer kept across steps, one in-place `Allreduce`, views back (the loss of the step travels in "
              "the same buffer); *packing*: its median less `Allreduce`'s. Bandwidth: gradient bytes / median "
              "`Allreduce` time. *Reused buffer*: a bare version of the same (one buffer, `np.concatenate(out=)`, "
              "`MPI.IN_PLACE`) without anynet's bookkeeping: the floor.", ""]
    lines += ["| net | parameters | bytes | `Allreduce` µs | `reduce_gradients` µs | packing µs | bandwidth GB/s | "
              "reused buffer µs |", "|---|---|---|---|---|---|---|---|"]
    micro = saved["allreduce"]
    for c in dict.fromkeys(r["config"] for r in micro):
        rows = [r for r in micro if r["config"] == c]
        raw, whole, kept = (saved["allreduce_pooled"][c][k] for k in KINDS)
        lines.append(f"| {c} | {rows[0]['params']:,} | {rows[0]['bytes']:,} | {_cell(raw)} | {_cell(whole)} | "
                     f"{_us(whole['median_s'] - raw['median_s'])} | {rows[0]['bytes'] / raw['median_s'] / 1e9:.2f} | "
                     f"{_cell(kept)} |")
    lines += ["", "Per run, median µs (`Allreduce` / `reduce_gradients`): " + "; ".join(
        f"{c} " + ", ".join(f"{_us(r['allreduce']['median_s'])}/{_us(r['reduce_gradients']['median_s'])}"
                            for r in micro if r["config"] == c)
        for c in dict.fromkeys(r["config"] for r in micro)), ""]
    lines += ["## 2. Epoch times: 2 processes against 1, same global batches", ""]
    summ = summary(saved)
    cores = saved["machine"].split(" cores")[0].rsplit(", ", 1)[-1]
    lines += [f"This machine has {cores} cores: one process's BLAS calls already use them all (the \"2 threads\" "
              "column), so 2 processes cannot be expected to train faster than one here; what this section "
              "measures is the overhead data-parallel training adds to a step.", ""]
    lines += ["Microseconds per training step (a step = one global batch of the configuration's size; 2 processes "
              "take half of it each), the median over every timed epoch of every run. *overhead* = 2-process step − "
              "(1-process step at 1 thread) / 2: the cost beyond a perfect halving of the work. *reduction*: "
              "`reduce_gradients` timed inside `fit` (one more epoch), waiting for the slower process included; "
              "*share*: that over the step time of the same epoch; *rest*: overhead − reduction (the optimizer "
              "update, which every process applies to all parameters, half-size matrix products, the step's "
              "bookkeeping). The one-process cells are fresh child processes started by rank 0 with "
              "`OMP_NUM_THREADS`/`OPENBLAS_NUM_THREADS` set, while rank 1 sleeps; the same data, seed and "
              "global batches as the 2-process `fit`.", ""]
    lines += ["| net | 1 process, 1 thread | 1 process, 2 threads | 2 processes × 1 thread | overhead per step | "
              "reduction per step | rest | share of the step | 2 proc. vs 1 proc. at 2 threads |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in summ:
        def f(v: float | None) -> str:
            return "-" if v is None else _us(v)

        two = r["two"]
        over = None if two is None or r["one_1t"] is None else two - r["one_1t"] / 2
        share = f"{r['reduce'] / r['instrumented']:.0%}" if two is not None else "-"
        ratio = f"{r['one_2t'] / two:.2f}×" if two is not None and r["one_2t"] else "-"
        rest = None if over is None else over - r["reduce"]
        lines.append(f"| {r['config']} | {f(r['one_1t'])} | {f(r['one_2t'])} | {f(two)} | {f(over)} | "
                     f"{f(r.get('reduce'))} | {f(rest)} | {share} | {ratio} |")
    lines += ["", "Speed-up > 1 would mean the 2 processes train faster than one process using both cores.", ""]
    lines += [f"Judged on each of the {runs} run(s) on its own (values run by run):", ""]
    lines += [f"- {t}" for t in judgements(summ)]
    lines += ["", "## 3. Projected weak scaling on GPUs (a cost model, not a measurement)", "",
              "From `python benchmarks/bench_distributed.py --project`; the model and its assumptions are in "
              "docs/DISTRIBUTED.md.", "", assumptions_markdown(), projection_markdown()]
    return "\n".join(lines)


def judgements(summ: list[dict]) -> list[str]:
    out = []
    measured = [r for r in summ if r["runs"]]
    if not measured:
        return ["2-process judgements: not measured (one process; run under `mpiexec -n 2`)"]
    for r in measured:
        rs = r["runs"]
        over = [x["overhead"] for x in rs]
        med = statistics.median(over)
        noisy = [x["run"] + 1 for x in rs if abs(x["overhead"] - med) > 0.25 * abs(med) + 5e-6]
        sp = [x["speedup_2t"] for x in rs if x["speedup_2t"]]
        out.append(f"{r['config']}: overhead per step " + "/".join(_us(v) for v in over) + " µs; reduction share "
                   + "/".join(f"{x['share']:.0%}" for x in rs) + "; 2 processes vs 1 process at 2 threads "
                   + "/".join(f"{v:.2f}×" for v in sp) + (" (faster in every run)" if sp and min(sp) > 1 else
                                                        " (not faster: expected on 2 cores)")
                   + ("; one run: nothing to compare it with" if len(rs) < 2 else
                      f"; runs {noisy} differ from the median overhead by > 25 %: noisy" if noisy else
                      "; the runs' overheads agree within 25 %"))
    return out


def cpu_seconds(comm: Any) -> tuple[float, float]:
    """``(busy CPU seconds of the whole machine since boot, CPU seconds of this job's processes and
    their finished children)``: their growth over the run tells how much other programs used the cores."""
    busy = float("nan")
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return busy, comm.allreduce(t.user + t.system + t.children_user + t.children_system)


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=1, help="independent timing runs; each is judged on its own")
    p.add_argument("--epochs", type=int, default=10, help="timed epochs per block (after a warm-up epoch)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds of calls per all-reduce measurement")
    p.add_argument("--quick", action="store_true", help="a quarter of the samples, 2 epochs, short all-reduce timing")
    p.add_argument("--configs", default=None, help="comma-separated configuration names (default: all)")
    p.add_argument("--out", default=str(HERE / "DISTRIBUTED.md"))
    p.add_argument("--project", action="store_true", help="print the projected scaling table and exit")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the JSON file")
    p.add_argument("--child", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.scale, args.epochs, args.budget = 0.25, 2, 0.04
    if args.project:
        print(assumptions_markdown() + "\n" + projection_markdown(), end="")
        return
    if args.child:
        print(json.dumps(epoch_times(args.child, args.epochs, args.scale)))
        return
    out = Path(args.out)
    if args.report_only:
        saved = json.loads(out.with_suffix(".json").read_text())
        out.write_text(out.read_text().split("Machine:")[0] + write_report(saved))
        return
    import anynet

    comm = anynet.distributed.init()
    size = comm.Get_size()
    if size > 1:  # one BLAS thread per process: 2 processes then use the cores one process at 2 threads uses
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    load_before = _load()
    t0, cpu0 = time.perf_counter(), cpu_seconds(comm)
    results = run_all(comm, args)
    cpu1 = cpu_seconds(comm)
    if comm.Get_rank() != 0:
        return
    wall = time.perf_counter() - t0
    others = ((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / (wall * (os.cpu_count() or 1))
    saved = {**results, "machine": machine(), "load_before": load_before, "load_after": _load(),
             "versions": {"python": platform.python_version(), "numpy": np.__version__,
                          "anynet": anynet.__version__, **mpi_versions()},
             "blas_threads": blas_threads(), "processes": size, "runs": args.runs, "epochs_per_block": args.epochs,
             "scale": args.scale, "budget": args.budget, "seconds": wall, "projection": projection(),
             "others_cpu_share": None if math.isnan(others) else max(0.0, others),
             "allreduce_pooled": pool_calls(results["allreduce"])}
    report = write_report(saved)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ("mpiexec -n 2 " if size > 1 else "") + "python benchmarks/" + Path(__file__).name
    out.write_text("# Data-parallel training benchmark\n\nCommand: `" + " ".join([command, *sys.argv[1:]])
                   + f"` ({saved['seconds']:.0f} s)\n\n" + report)
    out.with_suffix(".json").write_text(json.dumps(saved, indent=1))
    print(report)


if __name__ == "__main__":
    main()
