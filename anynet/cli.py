"""The ``anynet`` command: train, evaluate, predict, check, info.

Every user mistake ends with a one-line message on stderr and exit code 2, never a traceback.

Examples:
    anynet train digits
    anynet train --csv housing.csv --target MEDV --layers 64:relu,32:relu --epochs 200
    anynet evaluate runs/digits/model.safetensors digits
    anynet predict runs/housing/model.safetensors new_rows.csv --output predictions.csv
    anynet check
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AnynetError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}

class UsageError(AnynetError, ValueError):
    """A bad command-line argument."""

def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register

# -- network from flags ------------------------------------------------------------------------
def parse_layers(spec: str) -> list[tuple[int, str | None]]:
    """``"64:relu,32:tanh,16"`` → [(64, "relu"), (32, "tanh"), (16, None)]."""
    from . import activations

    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        width, _, act = part.partition(":")
        try:
            n = int(width)
        except ValueError:
            raise UsageError(f"--layers: {part!r} should be WIDTH or WIDTH:ACTIVATION, e.g. 64:relu") from None
        if n < 1:
            raise UsageError(f"--layers: width must be ≥ 1 in {part!r}")
        if act:
            try:
                activations.get(act)
            except ValueError as exc:
                raise UsageError(f"--layers: {exc}") from None
        out.append((n, act or None))
    return out

def build_model(n_in: int, n_out: int, hidden: list[tuple[int, str | None]], *, dropout: float,
                seed: int, backend: str | None, dtype: str | None) -> Any:
    from .layers import Dense, Dropout
    from .model import Sequential

    layers: list[Any] = []
    width = n_in
    for n, act in hidden:
        init = "he_uniform" if act in ("relu", "leaky_relu", "elu", "gelu", "silu") else "glorot_uniform"
        layers.append(Dense(width, n, activation=act, init=init))
        if dropout:
            layers.append(Dropout(dropout))
        width = n
    layers.append(Dense(width, n_out))
    return Sequential(layers, seed=seed, backend=backend, dtype=dtype)

#: per data set defaults, chosen so `anynet train NAME` does well out of the box
DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"layers": "128:relu", "epochs": 30, "lr": 0.003, "batch_size": 32},
    "mnist": {"layers": "256:relu,128:relu", "epochs": 10, "lr": 0.001, "batch_size": 128},
    "planar": {"layers": "16:tanh", "epochs": 400, "lr": 0.02, "batch_size": 32},
    "comparison": {"layers": "16:relu", "epochs": 10, "lr": 0.003, "batch_size": 32},
    "gender": {"layers": "2:sigmoid", "epochs": 1000, "lr": 0.05, "batch_size": 4},
    "diabetes": {"layers": "32:relu", "epochs": 150, "lr": 0.003, "batch_size": 32},
    "csv": {"layers": "64:relu,32:relu", "epochs": 200, "lr": 0.003, "batch_size": 32},
}
GENERIC = {"layers": "64:relu", "epochs": 200, "lr": 0.005, "batch_size": 32}

def _dataset(args: argparse.Namespace) -> tuple[Any, str]:
    from . import datasets

    if args.csv:
        if not args.target:
            raise UsageError("--csv needs --target COLUMN (the column to predict)")
        return datasets.load_csv(args.csv, args.target, seed=args.seed), "csv"
    if args.mnist:
        Xtr, ytr, Xte, yte = datasets.load_mnist(args.mnist, download_missing=args.download)
        return datasets.Dataset(Xtr, ytr, Xte, yte, "classification", 10, [], "mnist"), "mnist"
    if not args.dataset:
        raise UsageError(f"name a data set ({', '.join(datasets.LOADERS)}) or give --csv PATH --target COL or --mnist DIR")
    if args.dataset not in datasets.LOADERS:
        raise UsageError(f"unknown data set {args.dataset!r}; known: {', '.join(datasets.LOADERS)}")
    return datasets.load(args.dataset, seed=args.seed), args.dataset

@command("train")
def _train(args: argparse.Namespace) -> int:
    from . import optim
    from .plot import decision_boundary, loss_curve

    ds, key = _dataset(args)
    d = {**GENERIC, **DEFAULTS.get(key, {})}
    hidden = parse_layers(args.layers or d["layers"])
    classify = ds.task == "classification"
    n_out = ds.n_classes if classify else 1
    model = build_model(ds.n_features, n_out, hidden, dropout=args.dropout, seed=args.seed,
                        backend=args.backend, dtype=args.dtype)
    loss = args.loss or ("softmax_cross_entropy" if classify else "mse")
    lr = args.lr if args.lr is not None else d["lr"]
    opt_kw: dict[str, Any] = {"lr": lr}
    if args.weight_decay:
        opt_kw["weight_decay"] = args.weight_decay
    if args.momentum is not None:
        opt_kw["momentum"] = args.momentum
    try:
        optimizer = optim.get(args.optimizer, **opt_kw)
    except TypeError:
        raise UsageError(f"--momentum does not apply to {args.optimizer}") from None
    metrics = ["accuracy"] if classify else ["r2", "mae"]
    out = Path(args.out or Path("runs") / ds.name.replace(os.sep, "_").replace(".csv", ""))
    out.mkdir(parents=True, exist_ok=True)
    if args.verbose:
        model.summary()
    start = time.perf_counter()
    history = model.fit(ds.X_train, ds.y_train, loss=loss, optimizer=optimizer,
                        epochs=args.epochs or d["epochs"], batch_size=args.batch_size or d["batch_size"],
                        metrics=metrics, validation_data=(ds.X_test, ds.y_test),
                        verbose=0 if args.quiet else (2 if args.verbose else 1))
    seconds = time.perf_counter() - start
    scores = model.evaluate(ds.X_test, ds.y_test)
    model.save(out / "model.safetensors")
    report = {"dataset": ds.name, "backend": model.backend.spec, "dtype": model.dtype,
              "train_seconds": round(seconds, 3), "epochs": model.train_state["epoch"],
              "test": scores, "history": history.history}
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    if ds.scaler is not None or ds.feature_names:
        prep = {"features": ds.feature_names, "task": ds.task}
        if ds.scaler is not None:
            prep.update(mean=ds.scaler.mean_.tolist(), scale=ds.scaler.scale_.tolist())
        (out / "preprocessing.json").write_text(json.dumps(prep, indent=2))
    plots = []
    try:
        loss_curve(history, out / "loss.png", title=f"{ds.name}: loss")
        plots.append("loss.png")
        if ds.n_features == 2 and classify:
            X = np.r_[ds.X_train, ds.X_test]
            y = np.r_[ds.y_train, ds.y_test]
            decision_boundary(model, X, y, out / "boundary.png", title=f"{ds.name}: decision boundary")
            plots.append("boundary.png")
    except AnynetError as exc:  # matplotlib missing: the run itself succeeded
        print(f"note: {exc}", file=sys.stderr)
    main_metric = "accuracy" if classify else "r2"
    print(f"{ds.name}: test {main_metric} {scores[main_metric]:.4f}, test loss {scores['loss']:.4g} "
          f"({seconds:.2f} s on {model.backend.spec})")
    print(f"wrote {out / 'model.safetensors'}, {out / 'metrics.json'}" + "".join(f", {out / p}" for p in plots))
    return 0

def _preprocessing(checkpoint: str) -> dict[str, Any] | None:
    path = Path(checkpoint).with_name("preprocessing.json")
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None

def _read_features(path: str, prep: dict[str, Any] | None, n_features: int, target: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    from .datasets.tables import read_numeric_csv

    header, data = read_numeric_csv(path)
    features = (prep or {}).get("features") or [h for h in header if h != target][:n_features]
    missing = [c for c in features if c not in header]
    if missing:
        raise UsageError(f"{path}: missing columns {missing}; the model was trained on {features}")
    X = data[:, [header.index(c) for c in features]]
    y = data[:, header.index(target)] if target and target in header else None
    if prep and "mean" in prep:
        X = (X - np.asarray(prep["mean"])) / np.asarray(prep["scale"])
    return X.astype(np.float32), y


@command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    from . import datasets
    from .checkpoint import load

    model = load(args.checkpoint, backend=args.backend)
    if args.data in datasets.LOADERS:
        ds = datasets.load(args.data, seed=args.seed)
        X, y = ds.X_test, ds.y_test
    else:
        prep = _preprocessing(args.checkpoint)
        if not args.target:
            raise UsageError("evaluating on a CSV file needs --target COLUMN")
        X, y = _read_features(args.data, prep, model.in_features, args.target)
        if y is None:
            raise UsageError(f"{args.data}: no column {args.target!r}")
        if (prep or {}).get("task") == "classification":
            y = y.astype(np.int64)
    scores = model.evaluate(X, y)
    print(json.dumps(scores))
    return 0

@command("predict")
def _predict(args: argparse.Namespace) -> int:
    from .checkpoint import load
    from .losses import SoftmaxCrossEntropy

    model = load(args.checkpoint, backend=args.backend)
    prep = _preprocessing(args.checkpoint)
    X, _ = _read_features(args.input, prep, model.in_features, None)
    out = Path(args.output) if args.output else Path(args.input).with_suffix(".predictions.csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        if isinstance(model.loss, SoftmaxCrossEntropy):
            proba = model.predict_proba(X)
            w.writerow(["class"] + [f"p{k}" for k in range(proba.shape[1])])
            for row in proba:
                w.writerow([int(row.argmax())] + [f"{p:.6g}" for p in row])
        else:
            pred = model.predict(X)
            w.writerow([f"y{k}" for k in range(pred.shape[1])] if pred.shape[1] > 1 else ["prediction"])
            w.writerows([[f"{v:.6g}" for v in row] for row in pred])
    print(f"wrote {len(X)} predictions to {out}")
    return 0

@command("check")
def _check(args: argparse.Namespace) -> int:
    from .backends import known_backends
    from .layers import BatchNorm, Dense
    from .model import Sequential
    from .testing import compare_backends

    def build() -> Any:
        return Sequential([Dense(12, 16, activation="tanh"), BatchNorm(16), Dense(16, 8, activation="gelu"),
                           Dense(8, 4)], seed=0)

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 12)), rng.integers(0, 4, 32)
    rows = compare_backends(build, X, y=y, loss="softmax_cross_entropy",
                            backends=args.backends.split(",") if args.backends else known_backends())
    print(f"{'backend':<18} {'device':<14} {'dtype':<8} {'max rel diff vs numpy float64':>30}  result")
    failed = False
    for r in rows:
        if r.passed is None:
            print(f"{r.backend:<18} {r.device:<14} {r.dtype:<8} {'-':>30}  {r.note.splitlines()[0][:70]}")
            continue
        failed |= not r.passed
        verdict = "pass" if r.passed else f"FAIL (tolerance {r.tolerance:g})"
        print(f"{r.backend:<18} {r.device:<14} {r.dtype:<8} {r.max_rel_diff:>30.3e}  {verdict}")
    return 1 if failed else 0

@command("info")
def _info(args: argparse.Namespace) -> int:
    from .info import info_text

    print(info_text())
    return 0

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2, as argparse does, minus the usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="anynet", description="Fully-connected networks on NumPy, CuPy, PyTorch or JAX.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network and write a checkpoint, metrics and plots")
    t.add_argument("dataset", nargs="?", help="digits, diabetes, planar, comparison, gender, moons, circles, spirals, xor, mnist")
    t.add_argument("--csv", help="a numeric CSV file with a header")
    t.add_argument("--target", help="the CSV column to predict")
    t.add_argument("--mnist", metavar="DIR", help="a folder holding the four MNIST IDX files")
    t.add_argument("--download", action="store_true",
                   help="with --mnist: fetch missing files into DIR (SHA-256 checked)")
    t.add_argument("--layers", help="hidden layers, e.g. 64:relu,32:relu (output layer added)")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout after each hidden layer")
    t.add_argument("--loss", help="default: softmax_cross_entropy (classes) or mse")
    t.add_argument("--optimizer", default="adam", help="sgd, adam, adamw, rmsprop, adagrad")
    t.add_argument("--lr", type=float)
    t.add_argument("--momentum", type=float)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--backend", help="numpy (default), cupy, torch, torch:cuda:0, jax, ...")
    t.add_argument("--dtype", choices=["float32", "float64"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="output folder (default runs/<data set>)")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--verbose", action="store_true", help="summary and one line per epoch")
    e = sub.add_parser("evaluate", help="loss and metrics of a checkpoint on a data set or CSV")
    e.add_argument("checkpoint")
    e.add_argument("data", help="a data set name (its test split) or a CSV file")
    e.add_argument("--target")
    e.add_argument("--backend")
    e.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("predict", help="write a checkpoint's predictions for a CSV file")
    p.add_argument("checkpoint")
    p.add_argument("input")
    p.add_argument("--output")
    p.add_argument("--backend")
    c = sub.add_parser("check", help="cross-backend gradient check on this machine's backends")
    c.add_argument("--backends", help="comma-separated (default: all known)")
    sub.add_parser("info", help="versions, usable backends and their devices")
    return parser

def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # e.g. `anynet train digits | head -1`: not an error of the run
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (AnynetError, OSError, ValueError, KeyError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"anynet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"anynet {args.command}: interrupted", file=sys.stderr)
        return 130
