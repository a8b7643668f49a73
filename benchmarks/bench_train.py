"""Training speed of anynet against a hand-written NumPy loop, PyTorch and scikit-learn.

Every runner trains the same MLP — float32, ReLU hidden layers, softmax cross-entropy, plain SGD,
the same batch size, random data of MNIST's shape, shuffled every epoch — and is timed over
whole epochs. For timing, all runners of one configuration live in one process: each trains a
warm-up epoch, then they take turns, ``--repeats`` epochs each, for ``--rounds`` rounds, so a slow
spell of a shared machine hits every runner alike (separate processes were seen to differ by up to
40% on the same code). A cell is the median over all its epochs; ratios are computed within the
run. With ``--runs N`` that whole timing is repeated in N fresh processes: a cell is then the
median over the epochs of every run, and a target counts as met only if it is met in each run on
its own (the report lists every run's ratio). Peak memory — resident set size above the level
after imports and data creation — is read in a separate process per runner.

    python benchmarks/bench_train.py                      # CPU configurations, all runners
    python benchmarks/bench_train.py --runs 3             # three independent runs, judged each
    python benchmarks/bench_train.py --quick              # smaller, for a smoke test
    python benchmarks/bench_train.py --gpu                # cupy and torch:cuda, adds 4096-wide

Writes ``RESULTS.md`` (or ``--out``), a JSON file and a PNG bar chart beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

HERE = Path(__file__).resolve().parent

#: name -> (layer widths, batch size, samples per timed epoch)
CONFIGS = {
    "5-5-1 b10": ([5, 5, 2], 10, 20_000),
    "784-50-50-10 b100": ([784, 50, 50, 10], 100, 20_000),
    "784-256-256-10 b128": ([784, 256, 256, 10], 128, 10_240),
    "784-1024-1024-10 b256": ([784, 1024, 1024, 10], 256, 5_120),
}
GPU_CONFIGS = {"784-4096-4096-10 b1024": ([784, 4096, 4096, 10], 1024, 16_384)}
LR = 0.01


def flops_per_sample(widths: list[int]) -> int:
    """Multiply-adds ×2 for forward, weight gradient and input gradient (none for the input)."""
    pairs = list(zip(widths, widths[1:]))
    return sum(6 * a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]


def data(widths: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    return g.random((n, widths[0]), dtype=np.float32), g.integers(0, widths[-1], n)


# -- runners: each returns train(k) -> the durations of k consecutive training epochs ------------------
def _each_epoch(epoch):
    def train(k):
        times = []
        for _ in range(k):
            t = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - t)
        return times

    return train


def runner_anynet(widths, batch, X, y, spec):
    import anynet
    from anynet.layers import Dense

    layers = [Dense(a, b, activation="relu", init="he_uniform") for a, b in zip(widths[:-2], widths[1:-1])]
    layers.append(Dense(widths[-2], widths[-1]))
    model = anynet.Sequential(layers, seed=0, backend=spec)
    opt = anynet.optim.SGD(lr=LR)
    backend = model.backend

    class Clock(anynet.callbacks.Callback):
        def on_epoch_end(self, model, epoch, logs):
            backend.synchronize()
            self.stamps.append(time.perf_counter())

    def train(k):
        # one fit of k epochs, as a user would run it: the data is checked and moved to the
        # device once, at the start, and each epoch is timed by a callback
        clock = Clock()
        clock.stamps = [time.perf_counter()]
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=opt, epochs=k, batch_size=batch, verbose=0,
                  callbacks=[clock])
        return [b - a for a, b in zip(clock.stamps, clock.stamps[1:])]

    return train


def runner_numpy_loop(widths, batch, X, y, spec):
    """The floor: a minimal hand-written NumPy MLP step, in-place updates, no checks."""
    g = np.random.default_rng(0)
    Ws = [(g.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32) for a, b in zip(widths, widths[1:])]
    bs = [np.zeros(b, np.float32) for b in widths[1:]]
    onehot = np.eye(widths[-1], dtype=np.float32)[y]
    n = len(X)

    @_each_epoch
    def epoch():
        perm = g.permutation(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            x, t = X[idx], onehot[idx]
            acts = [x]
            for W, b in zip(Ws[:-1], bs[:-1]):
                h = acts[-1] @ W
                h += b
                np.maximum(h, 0, out=h)
                acts.append(h)
            z = acts[-1] @ Ws[-1]
            z += bs[-1]
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            d = (z - t) / len(x)
            for i in range(len(Ws) - 1, -1, -1):
                gW = acts[i].T @ d
                gb = d.sum(axis=0)
                if i:
                    d = d @ Ws[i].T
                    d *= acts[i] > 0
                Ws[i] -= LR * gW
                bs[i] -= LR * gb

    return epoch


def runner_torch(widths, batch, X, y, spec):
    import torch

    device = torch.device(spec.split(":", 1)[1] if ":" in spec else "cpu")
    torch.manual_seed(0)
    mods = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(widths[-2], widths[-1]))
    net = torch.nn.Sequential(*mods).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    Xd, yd = torch.tensor(X, device=device), torch.tensor(y, device=device)
    n = len(X)

    @_each_epoch
    def epoch():
        perm = torch.randperm(n, device=device)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            lossf(net(Xd[idx]), yd[idx]).backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return epoch


def runner_sklearn(widths, batch, X, y, spec):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(widths[1:-1]), activation="relu", solver="sgd",
                        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                        batch_size=batch, shuffle=True, random_state=0)
    classes = np.arange(widths[-1])

    @_each_epoch
    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(X, y, classes=classes)

    return epoch


RUNNERS = {"anynet": runner_anynet, "numpy-loop": runner_numpy_loop, "torch": runner_torch, "sklearn": runner_sklearn}


def _rss_mb() -> float:
    """Peak resident memory of this process in MB. Linux's VmHWM belongs to the address space and
    starts afresh at exec; ru_maxrss (the fallback) carries over the parent's peak on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _samples(config: str, scale: float) -> tuple[list[int], int, int]:
    widths, batch, n = {**CONFIGS, **GPU_CONFIGS}[config]
    return widths, batch, max(batch, int(n * scale) // batch * batch)


def measure_memory(runner: str, spec: str, config: str, scale: float) -> dict:
    """Peak resident memory of one runner training two epochs (in a process of its own)."""
    widths, batch, n = _samples(config, scale)
    X, y = data(widths, n)
    base = _rss_mb()
    RUNNERS[runner](widths, batch, X, y, spec)(2)
    return {"runner": runner, "spec": spec, "peak_mb": _rss_mb() - base}


def measure_times(pairs: list[tuple[str, str]], config: str, repeats: int, rounds: int, scale: float) -> list[dict]:
    """Every runner of ``pairs`` in this process, taking turns epoch block by epoch block."""
    widths, batch, n = _samples(config, scale)
    X, y = data(widths, n)
    trainers = {}
    for runner, spec in pairs:
        trainers[(runner, spec)] = RUNNERS[runner](widths, batch, X, y, spec)
        trainers[(runner, spec)](1)  # warm-up: first allocations, one-off checks and transfers
    times: dict[tuple[str, str], list[float]] = {k: [] for k in trainers}
    for _ in range(rounds):
        for key, train in trainers.items():
            times[key] += train(repeats)
    return [{"runner": runner, "spec": spec, "config": config, "samples": n, **timing(config, n, ts)}
            for (runner, spec), ts in times.items()]


def timing(config: str, n: int, times: list[float]) -> dict:
    """The fields of a row computed from its epoch times: median, samples/s, GFLOP/s."""
    med = statistics.median(times)
    widths = {**CONFIGS, **GPU_CONFIGS}[config][0]
    return {"times": times, "median_s": med, "samples_per_s": n / med,
            "gflops": flops_per_sample(widths) * n / med / 1e9}


def matmul_peak() -> float:
    """Best float32 GFLOP/s of NumPy matmuls of the benchmark's shapes."""
    best = 0.0
    g = np.random.default_rng(0)
    for m, k, n in ((256, 1024, 1024), (1024, 1024, 1024), (256, 784, 1024)):
        a, b = g.random((m, k), dtype=np.float32), g.random((k, n), dtype=np.float32)
        a @ b
        reps = []
        for _ in range(7):
            t = time.perf_counter()
            a @ b
            reps.append(time.perf_counter() - t)
        best = max(best, 2 * m * k * n / min(reps) / 1e9)
    return best


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("anynet", "torch", "sklearn", "jax", "cupy"):
        with contextlib.suppress(Exception):  # not installed or broken: left out
            out[mod] = __import__(mod).__version__
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{i['internal_api']} {i.get('version')} ({i.get('num_threads')} threads)" for i in threadpool_info()
                if i.get("user_api") == "blas"]
        out["numpy BLAS"] = "; ".join(blas)
    except Exception:
        pass
    return out


def aggregate(rows: list[dict]) -> tuple[dict, list[dict]]:
    """``(by, runs)``: ``by`` maps (config, runner, spec) to one row pooling the epochs of every
    run; ``runs`` holds one such mapping per run, for judging each run on its own."""
    runs: dict[int, dict] = {}
    for r in rows:
        runs.setdefault(r.get("run", 0), {})[(r["config"], r["runner"], r["spec"])] = r
    by = {}
    for key in dict.fromkeys(k for run in runs.values() for k in run):
        parts = [run[key] for run in runs.values() if key in run]
        by[key] = {**parts[0], **timing(key[0], parts[0]["samples"], [t for r in parts for t in r["times"]])}
    return by, [runs[k] for k in sorted(runs)]


def write_report(saved: dict) -> str:
    """The Markdown report of a run as saved in the JSON file (rows, settings, machine, versions)."""
    rows, peak = saved["rows"], saved["matmul_peak_gflops"]
    by, runs = aggregate(rows)
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cols = list(dict.fromkeys((r["runner"], r["spec"]) for r in rows))
    lines = [f"Machine: {saved['machine']}", ""]
    lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in saved["versions"].items()), ""]
    lines += [f"Measured float32 matmul peak (NumPy): {peak:.1f} GFLOP/s. Each cell: the median of "
              f"{len(runs)} run(s) × {saved['rounds']} rounds × {saved['repeats']} epochs, the runners of a run taking "
              "turns in one process after a warm-up epoch each; training samples per second, higher is better.", ""]
    head = "| configuration | " + " | ".join(f"{r} ({s})" if r == "anynet" else r for r, s in cols) + " |"
    lines += [head, "|" + "---|" * (len(cols) + 1)]
    def cell(row: dict) -> str:
        rates = [row["samples"] / t for t in row["times"]]
        return f"{row['samples_per_s']:,.0f} ({min(rates) / 1000:,.0f}k–{max(rates) / 1000:,.0f}k)"

    for c in configs:
        cells = [cell(by[(c, r, s)]) if (c, r, s) in by else "-" for r, s in cols]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += ["", "In brackets: the slowest and fastest single epoch (all of them are in the JSON file)."]
    lines += ["", "Ratios of anynet[numpy] (first anynet column) to each competitor, same run "
              "(> 1 means anynet is faster); GFLOP/s and share of the matmul peak; "
              "peak memory (MB above baseline):", ""]
    ref = next(((r, s) for r, s in cols if r == "anynet"), None)
    others = [(r, s) for r, s in cols if (r, s) != ref]
    lines.append("| configuration | " + " | ".join(f"vs {r}" + (f" ({s})" if r == "anynet" else "") for r, s in others)
                 + " | anynet GFLOP/s | % of peak | peak MB anynet | peak MB torch |")
    lines.append("|" + "---|" * (len(others) + 5))
    for c in configs:
        a = by.get((c, *ref)) if ref else None
        if a is None:
            continue
        ratios = [f"{a['samples_per_s'] / by[(c, r, s)]['samples_per_s']:.2f}×" if (c, r, s) in by else "-"
                  for r, s in others]
        t = next((by[(c, r, s)] for r, s in cols if r == "torch" and (c, r, s) in by), None)
        torch_mb = f"{t['peak_mb']:.0f}" if t else "-"
        lines.append(f"| {c} | " + " | ".join(ratios) + f" | {a['gflops']:.1f} | {100 * a['gflops'] / peak:.0f}% | "
                     f"{a['peak_mb']:.0f} | {torch_mb} |")
    lines += ["", f"Targets, judged on each of the {len(runs)} run(s) on its own (ratios listed run by run):", ""]
    lines += [f"- {t}" for t in targets(by, runs, peak)]
    return "\n".join(lines) + "\n"


def targets(by: dict, runs: list[dict], peak: float) -> list[str]:
    """The performance targets of the project, each judged on every run on its own: met only if
    met in each run."""
    def rate(run: dict, config: str, runner: str, spec: str) -> float | None:
        row = run.get((config, runner, spec))
        return None if row is None else row["samples_per_s"]

    out = []

    def ratio(run: dict, config: str, runner: str, spec: str) -> float | None:
        a, b = rate(run, config, "anynet", "numpy"), rate(run, config, runner, spec)
        return None if a is None or b is None else a / b

    def judge(text: str, configs: list[str], runner: str, spec: str, limit: float) -> None:
        got = {c: [v for v in (ratio(run, c, runner, spec) for run in runs) if v is not None] for c in configs}
        got = {c: vs for c, vs in got.items() if vs}
        if not got:
            out.append(f"{text}: not measured in this run")
            return
        bad = [c for c, vs in got.items() if min(vs) < limit]
        listed = ", ".join(f"{c} " + "/".join(f"{v:.2f}×" for v in vs) for c, vs in got.items())
        out.append(f"{text}: {'met' if not bad else 'NOT met (' + ', '.join(bad) + ')'} [{listed}]")

    cpu = list(CONFIGS)
    judge("anynet[numpy] ≥ 1.0× PyTorch CPU on every configuration", cpu, "torch", "cpu", 1.0)
    judge("anynet[numpy] ≥ 1.0× scikit-learn on every configuration", cpu, "sklearn", "numpy", 1.0)
    judge("anynet[numpy] ≥ 0.9× the NumPy loop on 784-256-256-10 and larger", cpu[2:], "numpy-loop", "numpy", 0.9)
    judge("anynet[numpy] ≥ 0.5× the NumPy loop on 5-5-1", cpu[:1], "numpy-loop", "numpy", 0.5)
    big = by.get((cpu[3], "anynet", "numpy"))
    if big is not None:
        key = (cpu[3], "anynet", "numpy")
        shares = [run[key]["gflops"] / peak for run in runs if key in run]
        out.append(f"784-1024-1024-10 at ≥ 60% of the measured matmul peak: "
                   f"{'met' if min(shares) >= 0.6 else 'NOT met'} ({'/'.join(f'{100 * v:.0f}%' for v in shares)})")
        t = by.get((cpu[3], "torch", "cpu"))
        if t is not None:
            m = big["peak_mb"] / max(t["peak_mb"], 1e-9)
            out.append(f"peak memory ≤ 1.2× PyTorch's on 784-1024-1024-10: "
                       f"{'met' if m <= 1.2 else 'NOT met'} ({m:.2f}×)")
    gpu = [k for k in by if k[2] in ("cupy", "torch:cuda:0")]
    if not gpu:
        out.append("GPU targets (anynet[cupy] ≥ 0.9× PyTorch CUDA on the 1024- and 4096-wide nets, no host sync in "
                   "the step, memory within 1.2×): not measured — no GPU in this run (`--gpu` on a CUDA machine)")
    else:
        for c in list(CONFIGS)[3:] + list(GPU_CONFIGS):
            rs = [a / b for a, b in ((rate(run, c, "anynet", "cupy"), rate(run, c, "torch", "torch:cuda:0"))
                                     for run in runs) if a and b]
            if rs:
                out.append(f"GPU {c}: anynet[cupy] / PyTorch CUDA = {'/'.join(f'{v:.2f}×' for v in rs)} "
                           f"({'met' if min(rs) >= 0.9 else 'NOT met'})")
    return out


def chart(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cols = list(dict.fromkeys((r["runner"], r["spec"]) for r in rows))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(cols)
    for i, (runner, spec) in enumerate(cols):
        vals = [next((r["samples_per_s"] for r in rows if r["config"] == c and r["runner"] == runner
                      and r["spec"] == spec), 0) for c in configs]
        ax.bar(np.arange(len(configs)) + i * width, vals, width,
               label=f"{runner} ({spec})" if runner == "anynet" else runner)
    ax.set_xticks(np.arange(len(configs)) + 0.4 - width / 2, configs)
    ax.set_yscale("log")
    ax.set_ylabel("training samples / s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=1,
                   help="timed epochs per turn (1: the finest interleaving, so a slow spell of the machine "
                        "falls on all runners alike; each turn is one fit call, as a user would run it)")
    p.add_argument("--rounds", type=int, default=15, help="turns each runner takes")
    p.add_argument("--runs", type=int, default=1, help="independent timing runs (fresh processes); each is judged")
    p.add_argument("--quick", action="store_true", help="a quarter of the samples, 1 round")
    p.add_argument("--gpu", action="store_true", help="cupy and torch:cuda:0, plus the 4096-wide net")
    p.add_argument("--backends", default=None,
                   help="anynet backends to time, comma-separated (default: every usable CPU backend "
                        "but array_api_strict, which is a referee, not a training backend)")
    p.add_argument("--configs", default=None, help="comma-separated configuration names")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the JSON file")
    p.add_argument("--child", nargs=3, metavar=("RUNNER", "SPEC", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--child-times", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--pairs", help=argparse.SUPPRESS)
    p.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.scale = 1, 0.25
    if args.child:
        print(json.dumps(measure_memory(*args.child, scale=args.scale)))
        return
    if args.child_times:
        pairs = [tuple(p.split("=", 1)) for p in args.pairs.split(",")]
        print(json.dumps(measure_times(pairs, args.child_times, args.repeats, args.rounds, args.scale)))
        return
    if args.report_only:
        saved = json.loads(Path(args.out).with_suffix(".json").read_text())
        Path(args.out).write_text(Path(args.out).read_text().split("Machine:")[0] + write_report(saved))
        return
    configs = dict(CONFIGS)
    if args.gpu:
        configs.update(GPU_CONFIGS)
    if args.configs:
        configs = {k: v for k, v in {**CONFIGS, **GPU_CONFIGS}.items() if k in args.configs.split(",")}
    if args.backends is None:
        import anynet

        usable = anynet.available_backends()
        args.backends = ",".join(n for n in ("numpy", "torch", "jax") if usable[n].usable)
    pairs = [("anynet", b) for b in args.backends.split(",")] + [("numpy-loop", "numpy"), ("torch", "cpu"),
                                                                   ("sklearn", "numpy")]
    if args.gpu:
        pairs = [("anynet", "cupy"), ("torch", "torch:cuda:0")]
        if "numpy" in args.backends:
            pairs.append(("anynet", "numpy"))
    rows = []
    peak_mb: dict[tuple[str, str, str], float] = {}
    for run in range(args.runs):
        for config in configs:
            cmd = [sys.executable, __file__, "--child-times", config, "--pairs",
                   ",".join(f"{r}={s}" for r, s in pairs), "--repeats", str(args.repeats),
                   "--rounds", str(args.rounds), "--scale", str(args.scale)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                print(f"{config}: failed: {out.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
                continue
            for row in json.loads(out.stdout.strip().splitlines()[-1]):
                key = (config, row["runner"], row["spec"])
                if key not in peak_mb:  # memory does not vary between runs: read it once
                    mem = subprocess.run([sys.executable, __file__, "--child", row["runner"], row["spec"], config,
                                          "--scale", str(args.scale)], capture_output=True, text=True)
                    peak_mb[key] = (json.loads(mem.stdout.strip().splitlines()[-1])["peak_mb"]
                                    if not mem.returncode else float("nan"))
                row["peak_mb"], row["run"] = peak_mb[key], run
                rows.append(row)
                print(f"run {run + 1}/{args.runs} {config:<24} {row['runner']:<11} {row['spec']:<14} "
                      f"{row['samples_per_s']:>12,.0f} samples/s {row['gflops']:7.1f} GFLOP/s  "
                      f"peak {row['peak_mb']:.0f} MB", flush=True)
    saved = {"rows": rows, "matmul_peak_gflops": matmul_peak(), "rounds": args.rounds, "repeats": args.repeats,
             "machine": machine(), "versions": versions()}
    report = write_report(saved)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Training benchmark\n\nCommand: `python benchmarks/" + Path(__file__).name + " "
                   + " ".join(sys.argv[1:]) + "`\n\n" + report)
    out.with_suffix(".json").write_text(json.dumps(saved, indent=2))
    chart(rows, out.with_suffix(".png"))
    print(report)


if __name__ == "__main__":
    main()
