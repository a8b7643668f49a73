"""anynet.sklearn's MLPClassifier / MLPRegressor against scikit-learn's, with both libraries' defaults.

On scikit-learn's own toy data sets (no downloads) — iris, wine, breast_cancer and digits for
classification; diabetes, ``make_regression`` and ``make_friedman1`` for regression — each seed
splits the data with ``train_test_split(random_state=seed)``, and both estimators, built with
their defaults and ``random_state=seed`` behind a ``StandardScaler``, are fit on the training part
and scored on the test part (accuracy, R²). The runners take turns in one process, their order
alternating, ``--repeats`` fits each per seed, so a slow spell of a shared machine falls on both;
a time is the median of a data set's fits. Also shown, for information: anynet with
``dtype="float32"`` (the defaults train in the data's float64, as scikit-learn does).

Two claims are judged per data set: anynet's mean test score over the seeds is at least
scikit-learn's, and its median fit time is lower.

    python benchmarks/bench_sklearn.py                 # 5 seeds × 3 fits each, every data set
    python benchmarks/bench_sklearn.py --quick         # 2 seeds × 1 fit, for a smoke test

BLAS runs on ``--blas-threads`` threads (default 1: on a small shared machine, threads that wait
on each other made scikit-learn's digits fit 10× slower; 0 leaves the library's default). Writes
``SKLEARN.md`` (or ``--out``) and a JSON file beside it with every fit's time and score.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
CLASSIFICATION = ("iris", "wine", "breast_cancer", "digits")
REGRESSION = ("diabetes", "make_regression", "friedman1")


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "make_regression":
        return datasets.make_regression(n_samples=1000, n_features=20, n_informative=10, noise=10.0, random_state=0)
    if name == "friedman1":
        return datasets.make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def runners(regression: bool) -> dict[str, Any]:
    """name -> factory(seed) of an unfitted pipeline."""
    import sklearn.neural_network as skn
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import anynet.sklearn as ans

    kind = "MLPRegressor" if regression else "MLPClassifier"
    theirs, ours = getattr(skn, kind), getattr(ans, kind)
    return {
        "sklearn": lambda seed: make_pipeline(StandardScaler(), theirs(random_state=seed)),
        "anynet": lambda seed: make_pipeline(StandardScaler(), ours(random_state=seed)),
        "anynet float32": lambda seed: make_pipeline(StandardScaler(), ours(random_state=seed, dtype="float32")),
    }


def run_dataset(name: str, seeds: int, repeats: int) -> list[dict[str, Any]]:
    """Every fit of every runner on one data set: time, test score, epochs, test predictions."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    X, y = load(name)
    make = runners(name in REGRESSION)
    rows = []
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
        order = list(make)
        for rep in range(repeats):
            for runner in order if rep % 2 == 0 else order[::-1]:
                pipe = make[runner](seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t0 = time.perf_counter()
                    pipe.fit(X_train, y_train)
                    seconds = time.perf_counter() - t0
                pred = pipe.predict(X_test)
                rows.append({"dataset": name, "runner": runner, "seed": seed, "repeat": rep, "seconds": seconds,
                             "score": float(pipe.score(X_test, y_test)), "n_iter": int(pipe[-1].n_iter_),
                             "n_train": int(X_train.shape[0]), "n_features": int(X.shape[1]),
                             "pred": pred.tolist() if rep == 0 else None})
        print(f"  {name} seed {seed}: " + ", ".join(
            f"{r['runner']} {r['score']:.4f} in {r['seconds']:.3f}s" for r in rows if r["seed"] == seed
            and r["repeat"] == 0), flush=True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """dataset -> runner -> mean score over seeds, median time over every fit, mean epochs and, for
    classification, the share of test rows predicted as scikit-learn predicts them."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        preds = {}
        for runner in dict.fromkeys(r["runner"] for r in rows):
            fits = [r for r in rows if r["dataset"] == name and r["runner"] == runner]
            first = [r for r in fits if r["repeat"] == 0]
            preds[runner] = [r["pred"] for r in first]
            out.setdefault(name, {})[runner] = {
                "score": statistics.fmean(r["score"] for r in first),
                "scores": [r["score"] for r in first],
                "seconds": statistics.median(r["seconds"] for r in fits),
                "fastest": min(r["seconds"] for r in fits), "slowest": max(r["seconds"] for r in fits),
                "n_iter": statistics.fmean(r["n_iter"] for r in first),
                "n_train": first[0]["n_train"], "n_features": first[0]["n_features"],
            }
            if name in CLASSIFICATION:
                out[name][runner]["same_predictions"] = same_predictions(preds["sklearn"], preds[runner])
    return out


def same_predictions(a: list, b: list) -> float:
    """Share of test rows where two runners predict exactly the same (classification)."""
    same = [np.mean(np.asarray(x) == np.asarray(y)) for x, y in zip(a, b, strict=True)]
    return float(np.mean(same))


def versions() -> dict[str, str]:
    import sklearn

    import anynet

    out = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
           "anynet": anynet.__version__}
    try:
        from threadpoolctl import threadpool_info

        out["BLAS"] = "; ".join(f"{i['internal_api']} {i.get('version')} ({i.get('num_threads')} thread"
                                f"{'' if i.get('num_threads') == 1 else 's'})"
                                for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        pass
    return out


def _time(cell: dict[str, Any]) -> str:
    return f"{cell['seconds']:.3f} ({cell['fastest']:.3f}–{cell['slowest']:.3f})"


def write_report(saved: dict[str, Any]) -> str:
    """The Markdown report of a run, built from what the JSON file holds."""
    summary, s = saved["summary"], saved["settings"]
    lines = ["# anynet.sklearn against scikit-learn's MLP", "",
             f"Command: `{saved['command']}`", "",
             (f"Machine: {saved['machine']} (load average {saved['load_before']} before the run, "
              f"{saved['load_after']} after)"), "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in saved["versions"].items()), "",
             (f"Each data set: {s['seeds']} seeds (`train_test_split(random_state=seed)`, 75% / 25%); both "
              "estimators with their defaults and `random_state=seed` behind a `StandardScaler`, fit on the "
              f"training part, scored on the test part. Per seed, each runner fits {s['repeats']} times, the runners "
              "taking turns in one process (order alternating). Score: the mean over the seeds of the test accuracy "
              "(classification) or R² (regression). Time: the median of the data set's fits, in seconds (in "
              "brackets: the fastest and the slowest fit). "
              "`anynet float32` is anynet with `dtype=\"float32\"`, shown for information; the claims are judged on "
              "the defaults." + (f" BLAS limited to {s['blas_threads']} thread(s) for both (`--blas-threads`)."
                                 if s.get("blas_threads") else "")), "",
             ("| data set | train rows × features | metric | sklearn | anynet | same predictions | epochs "
              "(sklearn / anynet) | sklearn fit s | anynet fit s | speed-up | anynet float32 score | float32 fit s "
              "| float32 speed-up |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for name, by in summary.items():
        sk, an, f32 = by["sklearn"], by["anynet"], by.get("anynet float32")
        classification = name in CLASSIFICATION
        same = f"{an['same_predictions']:.1%}" if classification else "—"
        row = (f"| {name} | {sk['n_train']} × {sk['n_features']} | {'accuracy' if classification else 'R²'} | "
               f"{sk['score']:.4f} | {an['score']:.4f} | {same} | {sk['n_iter']:.0f} / {an['n_iter']:.0f} | "
               f"{_time(sk)} | {_time(an)} | {sk['seconds'] / an['seconds']:.2f}× |")
        if f32 is not None:
            row += f" {f32['score']:.4f} | {_time(f32)} | {sk['seconds'] / f32['seconds']:.2f}× |"
        else:
            row += " — | — | — |"
        lines.append(row)
        verdicts.append((name, an["score"] >= sk["score"], an["seconds"] < sk["seconds"]))
    lines += ["", "Per-seed scores (sklearn / anynet):", ""]
    for name, by in summary.items():
        pairs = ", ".join(f"{a:.4f} / {b:.4f}"
                          for a, b in zip(by["sklearn"]["scores"], by["anynet"]["scores"], strict=True))
        lines.append(f"- {name}: {pairs}")
    lines += ["", "Claims, per data set (anynet with its defaults against scikit-learn with its own):", ""]
    for name, accurate, faster in verdicts:
        lines.append(f"- {name}: at least as accurate — {'met' if accurate else 'NOT MET'}; faster — "
                     f"{'met' if faster else 'NOT MET'}")
    met = all(a and f for _, a, f in verdicts)
    lines += ["", f"**Every claim met on every data set: {'yes' if met else 'no'}.**", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="fits per runner and seed (timing)")
    parser.add_argument("--datasets", default=",".join(CLASSIFICATION + REGRESSION))
    parser.add_argument("--blas-threads", type=int, default=1, help="0: the BLAS library's default")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1 fit each")
    parser.add_argument("--out", default=str(HERE / "SKLEARN.md"))
    parser.add_argument("--report", action="store_true", help="rebuild the report from --out's JSON file only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.report:
        saved = json.loads(out.with_suffix(".json").read_text())
        out.write_text(write_report(saved))
        return 0
    if args.quick:
        args.seeds, args.repeats = 2, 1
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLASSIFICATION + REGRESSION]
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {', '.join(CLASSIFICATION + REGRESSION)}")

    runners(False)  # imports scikit-learn (and SciPy's BLAS) before the thread limit is set
    limit: Any = None
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=args.blas_threads, user_api="blas")
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = []
    for name in names:
        rows += run_dataset(name, args.seeds, args.repeats)
    saved = {"command": " ".join(["python benchmarks/bench_sklearn.py", *(argv if argv is not None else sys.argv[1:])]),
             "machine": machine(), "versions": versions(), "load_before": load_before,
             "load_after": " ".join(f"{v:.2f}" for v in os.getloadavg()),
             "settings": {"seeds": args.seeds, "repeats": args.repeats, "blas_threads": args.blas_threads or None},
             "summary": summarize(rows), "fits": [{k: v for k, v in r.items() if k != "pred"} for r in rows]}
    if limit is not None:
        limit.restore_original_limits()
    out.with_suffix(".json").write_text(json.dumps(saved, indent=1) + "\n")
    report = write_report(saved)
    out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
