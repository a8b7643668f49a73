"""The ``anynet`` command: train, evaluate, predict, export, check, info.

Every user mistake ends with a one-line message on stderr and exit code 2, never a traceback.

Examples:
    anynet train digits
    anynet train --csv housing.csv --target MEDV --task regression --drop id,notes --layers 64:relu,32:relu
    anynet train --csv penguins.csv --target species --impute median
    anynet evaluate runs/digits/model.safetensors digits
    anynet train digits --validation-split 0.2 --early-stopping 5 --metrics accuracy,mae
    anynet train --resume runs/digits --epochs 10
    anynet predict runs/csv/housing.csv/model.safetensors new_rows.csv --id-column id --out predictions.csv
    anynet predict runs/digits/model.safetensors digits
    anynet export runs/csv/penguins.csv/model.safetensors --out penguins.onnx
    anynet check
    anynet --version

Every command names the file or folder it writes ``--out`` (``--output``, and ``export``'s
positional OUTPUT, still work).

CSV tables may hold text and missing cells: a text target is classes (their names are kept and
printed by ``predict``), text feature columns are one-hot encoded, and missing cells (empty,
NA, NaN, null) are refused unless ``--dropna`` or ``--impute`` says what to do; see
:class:`anynet.datasets.TablePreprocessor`, which ``anynet.datasets.load_csv`` uses too.

No file is lost: ``predict --out`` and ``export`` never write over one of their inputs, and
replace an existing file only with ``--force`` (``train`` likewise refuses an ``--out`` folder that
holds a run); files are written to a temporary name and renamed, so an interrupted command leaves
the old file whole; a closed standard output (``anynet train digits | head -2``) stops the
printing, not the run. ``predict --out -`` writes to standard output. The CSV files written
hold numbers round-trip exact (``repr``), and text cells that a spreadsheet would run as a
formula get a quote in front (see :func:`csv_cell`).

A checkpoint written by ``anynet train`` is complete on its own: ``model.metadata["cli"]``
(stored inside the file) holds what ``evaluate`` and ``predict`` need to read new data the way
the training data was read (see :func:`cli_metadata`), so a checkpoint copied alone to another
folder or machine predicts exactly as it did beside its run folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import numpy as np

from .errors import AnynetError, UnknownNameError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class UsageError(AnynetError, ValueError):
    """A bad command-line argument."""


class OutputClosedError(AnynetError, OSError):
    """Standard output closed before the command's result (not its progress) was all written."""


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


# -- network from flags ------------------------------------------------------------------------
#: ``--layers`` items that add a normalisation layer over the previous layer's outputs -> registry name
NORMS: dict[str, str] = {"layernorm": "LayerNorm", "batchnorm": "BatchNorm"}

LAYERS_HELP = ("hidden layers in order, comma-separated: WIDTH or WIDTH:ACTIVATION for a Dense layer, "
               "'layernorm' or 'batchnorm' to normalise the previous layer's outputs "
               "(e.g. 64:relu,layernorm,32:relu); the output layer is added")


def parse_layers(spec: str) -> list[tuple[int, str | None] | str]:
    """``"64:relu,layernorm,32:tanh,16"`` → [(64, "relu"), "layernorm", (32, "tanh"), (16, None)].

    A ``(width, activation)`` pair is a Dense layer; a string is a key of ``NORMS``.
    """
    from . import activations

    out: list[tuple[int, str | None] | str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part.lower() in NORMS:
            out.append(part.lower())
            continue
        width, _, act = part.partition(":")
        try:
            n = int(width)
        except ValueError:
            raise UsageError(f"--layers: {part!r} should be WIDTH or WIDTH:ACTIVATION (a Dense layer) or one of "
                             f"{', '.join(NORMS)}, e.g. 64:relu,layernorm,32:relu") from None
        if n < 1:
            raise UsageError(f"--layers: width must be ≥ 1 in {part!r}")
        if act:
            try:
                activations.get(act)
            except UnknownNameError:
                raise UsageError(f"--layers: unknown activation {act!r} in {part!r}; known: "
                                 f"{', '.join(activations.names())}") from None
            except ValueError as exc:
                raise UsageError(f"--layers: {exc}") from None
        out.append((n, act or None))
    return out


def build_model(n_in: int, n_out: int, hidden: Sequence[tuple[int, str | None] | str], *, dropout: float,
                seed: int, backend: str | None, dtype: str | None) -> Any:
    """A Sequential of the parsed ``--layers`` and an output Dense of ``n_out``; with ``dropout``,
    a Dropout follows each hidden Dense and the normalisation layers right after it."""
    from .layers import Dense, Dropout  # importing the layers also registers them
    from .model import Sequential
    from .registry import lookup

    layers: list[Any] = []
    width = n_in
    hidden_dense = False
    for item in hidden:
        if isinstance(item, str):
            layers.append(lookup("layer", NORMS[item])(width))
            continue
        n, act = item
        if hidden_dense and dropout:
            layers.append(Dropout(dropout))
        init = "he_uniform" if act in ("relu", "leaky_relu", "elu", "gelu", "silu") else "glorot_uniform"
        layers.append(Dense(width, n, activation=act, init=init))
        hidden_dense = True
        width = n
    if hidden_dense and dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(width, n_out))
    return Sequential(layers, seed=seed, backend=backend, dtype=dtype)


def parameter_count(n_in: int, n_out: int, hidden: Sequence[tuple[int, str | None] | str]) -> int:
    """The parameters of :func:`build_model`'s network (normalisation layers: 2 per input, and
    BatchNorm's 2 running statistics)."""
    total, width = 0, n_in
    for item in [*hidden, (n_out, None)]:
        if isinstance(item, str):
            total += 2 * width * (2 if item == "batchnorm" else 1)
            continue
        total += width * item[0] + item[0]
        width = item[0]
    return total


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(n_in: int, n_out: int, hidden: Sequence[tuple[int, str | None] | str], *, dtype: str, slots: int,
               spec: str, memory: int | None = None) -> None:
    """Refuse a network that cannot fit before allocating it: its parameters, their gradients and
    ``slots`` optimizer states (Adam: 2), in ``dtype``, against ``memory`` bytes (default this
    machine's physical memory, :func:`memory_bytes`; the training data and activations come on top)."""
    memory = memory_bytes() if memory is None else memory
    count = parameter_count(n_in, n_out, hidden)
    need = count * np.dtype(dtype).itemsize * (2 + slots)
    if memory is not None and need > memory:
        raise UsageError(f"--layers {spec}: {count:,} parameters need {need / 2**30:.1f} GiB ({dtype} weights, "
                         f"gradients and {slots} optimizer state{'s' if slots != 1 else ''}) but this machine has "
                         f"{memory / 2**30:.1f} GiB of memory; use fewer or narrower layers")


def _model_dtype(args: argparse.Namespace) -> str:
    from .backends import get_backend
    from .dtypes import dtype_name

    return dtype_name(get_backend(args.backend).dtype(args.dtype))


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


# -- what a checkpoint carries for the command line -----------------------------------------------
#: version of ``model.metadata["cli"]``; a newer one is refused rather than misread (version 1,
#: numeric columns only, is still read)
CLI_METADATA_VERSION = 2


def cli_metadata(ds: Any, source: str, *, seed: int | None) -> dict[str, Any]:
    """The JSON-able ``model.metadata["cli"]`` that ``anynet train`` stores inside the checkpoint.

    Keys: ``version``; ``dataset`` (a data set name, ``"mnist"`` or the CSV path as given);
    ``source`` (``"named"``, ``"mnist"`` or ``"csv"``); ``task`` (``"classification"`` or
    ``"regression"``); ``features`` (the raw input columns a CSV file must have, matched by
    name); ``preprocess`` (:meth:`TablePreprocessor.to_dict <anynet.datasets.TablePreprocessor.to_dict>`:
    how those columns become the network's inputs: kinds, categories, fill values, handling of
    unknown categories, standardisation); ``target`` (the column ``evaluate`` reads labels from
    by default); ``classes`` (the label of each output, numbers or strings, classification
    only); ``scaling`` (``{"mean": [...], "scale": [...]}`` of the network's inputs, one-hot ones
    0 and 1, or None when nothing is scaled: the standardisation part of ``preprocess``, kept
    for readers of version 1 and ``anynet.onnx.to_onnx(preprocessing=True)``); ``split``
    (``seed``, ``test_size``, ``train_rows``, ``test_rows``: which rows were held out).

    Version 1 had no ``preprocess``: its ``features`` were numeric columns, one network input
    each, scaled by ``scaling``, and its classes numbers.
    """
    from .datasets import CsvDataset, TablePreprocessor

    classify = ds.task == "classification"
    if isinstance(ds, CsvDataset) and ds.preprocessor is not None:
        pre, target, classes = ds.preprocessor, ds.target, [_class_label(c) for c in ds.classes]
    else:  # named sets: numeric columns, classes 0..k-1
        names = list(ds.feature_names) or [f"x{i}" for i in range(ds.n_features)]
        pre = (TablePreprocessor.numeric(names) if ds.scaler is None
               else TablePreprocessor.numeric(names, mean=ds.scaler.mean_, scale=ds.scaler.scale_))
        target, classes = "target", list(range(ds.n_classes)) if classify else []
    mean, scale = pre.scaling()
    rows = len(ds.X_train) + len(ds.X_test)
    return {
        "version": CLI_METADATA_VERSION,
        "dataset": ds.name,
        "source": source,
        "task": ds.task,
        "features": pre.names,
        "preprocess": pre.to_dict(),
        "target": target,
        "classes": classes,
        "scaling": (None if np.all(mean == 0) and np.all(scale == 1)
                    else {"mean": mean.tolist(), "scale": scale.tolist()}),
        "split": {"seed": seed, "test_size": round(len(ds.X_test) / rows, 6),
                  "train_rows": len(ds.X_train), "test_rows": len(ds.X_test)},
    }


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _class_label(c: Any) -> int | float | str:
    """A class as stored and printed: a string as it is, a number as an int when whole."""
    return c if isinstance(c, str) else _number(c)


def _shown_classes(classes: Sequence[Any], k: int = 10) -> str:
    return ", ".join(f"{_class_label(c)}" for c in classes[:k]) + (", …" if len(classes) > k else "")


def _stored(model: Any, path: str) -> dict[str, Any] | None:
    """``model.metadata["cli"]`` checked, or None when the checkpoint was not written by ``anynet train``."""
    meta = model.metadata.get("cli")
    if meta is None:
        return None

    def bad(what: str) -> UsageError:
        return UsageError(f"{path}: metadata['cli'] is malformed ({what}); retrain with anynet train")

    if not isinstance(meta, dict) or not isinstance(meta.get("version"), int):
        raise bad("no version")
    version = meta["version"]
    if version > CLI_METADATA_VERSION:
        raise UsageError(f"{path}: written by a newer anynet (command-line metadata version {version}, "
                         f"this one reads {CLI_METADATA_VERSION}); upgrade anynet")
    features = meta.get("features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        raise bad("features")
    if meta.get("task") not in ("classification", "regression"):
        raise bad(f"task {meta.get('task')!r}")
    if not isinstance(meta.get("target"), str) or not isinstance(meta.get("dataset"), str):
        raise bad("target or dataset")
    classes = meta.get("classes")
    text = version >= 2 and isinstance(classes, list) and all(isinstance(c, str) for c in classes)
    if not (isinstance(classes, list) and (text or all(_is_number(c) for c in classes))
            and len(set(classes)) == len(classes) and (len(classes) >= 2) == (meta["task"] == "classification")):
        raise bad("classes")
    if version >= 2:
        try:
            pre = _preprocessor(meta)
        except AnynetError as exc:
            raise bad(f"preprocess: {exc}") from None
        if pre.names != features:
            raise bad("features differ from the preprocessed columns")
        width = pre.n_features
    else:
        width = len(features)
    if len(model.inputs) == 1 and sum(model.inputs.values()) != width:
        raise bad(f"its columns make {width} inputs but the network takes {sum(model.inputs.values())}")
    scaling = meta.get("scaling")
    if scaling is not None:
        if not (isinstance(scaling, dict) and all(
                isinstance(scaling.get(k), list) and len(scaling[k]) == width
                and all(_is_number(v) for v in scaling[k]) for k in ("mean", "scale"))):
            raise bad("scaling")
        if not all(v > 0 for v in scaling["scale"]):
            raise bad("scaling: scale must be > 0")
    split = meta.get("split")
    if not (isinstance(split, dict) and all(isinstance(split.get(k), int) for k in ("train_rows", "test_rows"))
            and (split.get("seed") is None or isinstance(split.get("seed"), int))):
        raise bad("split")
    return meta


def _preprocessor(meta: dict[str, Any]) -> Any:
    """The TablePreprocessor that reads a CSV file's columns for the model (version 1: numeric
    columns scaled by ``scaling``)."""
    from .datasets import TablePreprocessor

    if meta["version"] >= 2:
        return TablePreprocessor.from_dict(meta.get("preprocess"))
    scaling = meta["scaling"] or {}
    return TablePreprocessor.numeric(meta["features"], mean=scaling.get("mean"), scale=scaling.get("scale"))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _require_stored(model: Any, path: str, instead: str) -> dict[str, Any]:
    meta = _stored(model, path)
    if meta is None:
        raise UsageError(f"{path} was not written by anynet train (no metadata['cli']), so its input columns and "
                         f"scaling are unknown; {instead}")
    return meta


def _listed(names: Sequence[str], k: int = 8) -> str:
    shown = ", ".join(map(repr, names[:k]))
    return shown + (f", … ({len(names)} in all)" if len(names) > k else "")


def _read_inputs(path: str, meta: dict[str, Any], *, also: Sequence[str] = (), handle_unknown: str | None = None
                 ) -> tuple[np.ndarray, Any]:
    """``(X, table)``: the network's inputs from a CSV file whose columns are matched BY NAME to
    the model's stored features and preprocessed as in training, and the file's table of those
    columns and of ``also``, columns the caller reads itself (not reported as unused). Columns
    the model does not use are ignored, with a note on stderr."""
    from .datasets import Table
    from .datasets.tables import read_csv_table

    notes: list[str] = []
    header, rows = read_csv_table(path, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    features: list[str] = meta["features"]
    used, present = {*features, *also}, set(header)  # sets: checking 40,000 columns stays linear
    unused = [h for h in header if h not in used]
    missing = [c for c in features if c not in present]
    if missing:
        hint = f"; unused columns in the file: {_listed(unused)}" if unused else ""
        raise UsageError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {_listed(missing)} "
                         f"that the model was trained on{hint}")
    if unused:
        print(f"note: {path}: ignoring column{'s' if len(unused) > 1 else ''} the model does not use: "
              f"{_listed(unused)}", file=sys.stderr)
    table = Table.from_rows(header, rows, where=path, columns=[*features, *(c for c in also if c in header)])
    return _preprocessor(meta).transform(table, handle_unknown=handle_unknown), table



# -- files the command writes ------------------------------------------------------------------------
#: first characters that make a spreadsheet read a text cell as a formula (OWASP, "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Verbatim(str):
    """Text that :func:`csv_cell` writes as it is: a cell already made safe (an input file's id
    that is a number's text, kept exactly as the file had it)."""


def csv_cell(value: Any) -> str:
    """A cell of a CSV file the command writes.

    A number (int, float, NumPy scalar, not bool) is written round-trip exact (``repr`` of the
    Python int or float: ``float(cell) == value``) and never altered, so -1.5 stays a number.
    Text (class names, column names) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a single quote in front (``'=HYPERLINK(...)``), so a spreadsheet
    shows it as text instead of running it as a formula.
    """
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_chunks(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, every: int = 4096) -> Iterator[bytes]:
    """The CSV text of ``header`` and ``rows`` (cells through :func:`csv_cell`), UTF-8, in chunks."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(h) for h in header])
    for i, row in enumerate(rows, start=1):
        w.writerow([csv_cell(v) for v in row])
        if i % every == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: str | os.PathLike, flag: str, *, inputs: Sequence[str | os.PathLike], force: bool) -> None:
    """Refuse to write ``path`` over one of ``inputs`` (ever), over a folder, or over an existing
    file unless ``force`` (``--force``); ``flag`` names the argument in the message."""
    for given in inputs:
        if _same_file(path, given):
            raise UsageError(f"{flag} {path} is the input file {given}; writing it would destroy the input: "
                             "choose another output file")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder; give a file name")
    if os.path.lexists(path) and not force:
        raise UsageError(f"{path} already exists; give --force to replace it, or another {flag}")


#: the files ``anynet train`` writes in its run folder; a folder holding one of them holds a run
RUN_FILES = ("model.safetensors", "metrics.json", "loss.png", "boundary.png")


def default_run_folder(name: str, source: str) -> Path:
    """``runs/<data set>`` for a named data set or MNIST, ``runs/csv/<the --csv path, %-escaped>``
    for a CSV file (``data/x.csv`` → ``runs/csv/data%2Fx.csv``, ``data_x.csv`` →
    ``runs/csv/data_x.csv``): different sources never share a folder (no data set is named csv)."""
    from urllib.parse import quote

    return Path("runs") / name if source != "csv" else Path("runs") / "csv" / quote(name, safe="")


def check_run_folder(out: Path, *, force: bool, chosen: bool) -> None:
    """Refuse a run folder that already holds a run's files, unless ``force``."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder; give a folder for the run's files")
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not force:
        how = "another --out" if chosen else "--out FOLDER"
        raise UsageError(f"{out} already holds a run ({', '.join(held)}); give --force to replace it, or {how}")


class _Stdout:
    """``sys.stdout`` that survives a closed pipe (``anynet train digits | head -2``): once the
    reader has gone, what is printed is dropped and the command goes on (its files are still
    written); ``closed_early`` tells main() that it happened."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.closed_early = stream is None  # Python's sys.stdout when the descriptor was closed (>&-)

    def write(self, text: str) -> int:
        if not self.closed_early:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.closed_early:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def isatty(self) -> bool:
        return not self.closed_early and bool(self.stream.isatty())

    def _gone(self) -> None:
        self.closed_early = True
        try:  # what is still buffered can never be delivered: let the interpreter's last flush go nowhere
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, AttributeError, io.UnsupportedOperation):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


# -- commands -------------------------------------------------------------------------------------
def _flag_list(values: Sequence[str] | None) -> list[str]:
    """``--drop a,b --drop c`` → ["a", "b", "c"] (comma-separated like --layers, and repeatable)."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def _dataset(args: argparse.Namespace) -> tuple[Any, str]:
    from . import datasets

    given = [flag for flag, v in (("NAME", args.dataset), ("--csv", args.csv), ("--mnist", args.mnist)) if v]
    if len(given) > 1:
        raise UsageError(f"give one of NAME, --csv PATH or --mnist DIR, not {' and '.join(given)}")
    if not args.csv:
        for flag, value in (("--target", args.target), ("--task", args.task), ("--drop", args.drop),
                            ("--categorical", args.categorical), ("--dropna", args.dropna),
                            ("--impute", args.impute), ("--handle-unknown", args.handle_unknown)):
            if value:
                raise UsageError(f"{flag} applies to --csv files only")
    if args.csv:
        if not args.target:
            raise UsageError("--csv needs --target COLUMN (the column to predict)")
        if args.dropna and args.impute:
            raise UsageError("give --dropna (drop rows with missing values) or --impute (fill them in), not both")
        notes: list[str] = []
        ds = datasets.load_csv(args.csv, args.target, seed=args.seed, task=args.task or "auto",
                               drop=_flag_list(args.drop),
                               categorical=_flag_list(args.categorical) if args.categorical else "auto",
                               missing="drop" if args.dropna else args.impute or "error",
                               handle_unknown=args.handle_unknown or "error", notes=notes)
        for note in notes:  # e.g. pandas' unnamed index column, dropped
            print(f"note: {note}", file=sys.stderr)
        if not args.quiet:  # the summary's last line is the task
            print(ds.summary() + (" (guessed from its values; choose with --task)" if args.task is None else ""),
                  file=sys.stderr)
        return ds, "csv"
    if args.mnist:
        Xtr, ytr, Xte, yte = datasets.load_mnist(args.mnist, download_missing=args.download)
        return datasets.Dataset(Xtr, ytr, Xte, yte, "classification", 10, list(datasets.MNIST_FEATURES),
                                "mnist"), "mnist"
    if not args.dataset:
        raise UsageError(f"name a data set ({', '.join(datasets.LOADERS)}) or give --csv PATH --target COL "
                         "or --mnist DIR")
    if args.dataset not in datasets.LOADERS:
        raise UsageError(f"unknown data set {args.dataset!r}; known: {', '.join(datasets.LOADERS)}")
    return datasets.load(args.dataset, seed=args.seed), args.dataset


def _at_least_one(value: int | None, flag: str) -> None:
    # 0 used to mean "the default" silently; a number the user typed is used or refused
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be an int ≥ 1, got {value}")


def _check_rows(ds: Any, args: argparse.Namespace) -> None:
    """A CSV file too short to give both a training and a test split is refused in rows of the file."""
    if len(ds.X_train) and len(ds.X_test):
        return
    from .datasets import CsvDataset

    test_size = ds.test_size if isinstance(ds, CsvDataset) else 0.25
    per_class = " of each class" if ds.task == "classification" else ""
    raise UsageError(f"{args.csv or ds.name}: {len(ds.X_train) + len(ds.X_test)} usable rows are too few: anynet train "
                     f"holds out {test_size:.0%} of the rows{per_class} for testing, which leaves "
                     f"{len(ds.X_train)} rows to train on and {len(ds.X_test)} to test; give a file with more rows"
                     + ("" if not per_class else " (at least 2 per class)"))


def _loss(args: argparse.Namespace, ds: Any, classify: bool) -> Any:
    """The ``--loss`` (default softmax_cross_entropy for classes, mse for quantities), refused when
    it cannot train on what the target holds: the command gives a classifier's loss class labels
    (one output per class) and a regression's loss numbers."""
    from . import losses

    try:
        loss = losses.get(args.loss or ("softmax_cross_entropy" if classify else "mse"))
    except UnknownNameError:
        raise UsageError(f"--loss {args.loss}: unknown loss {args.loss!r}; known: {', '.join(losses.names())}"
                         ) from None
    if loss.classification == classify:
        return loss
    what = (f"column {args.target!r} of {args.csv}" if args.csv else ds.name)
    takes = [n for n in losses.names() if _takes_labels(n) == classify]
    if classify:
        fix = " or --task regression if the column holds quantities" if args.csv else ""
        raise UsageError(f"--loss {args.loss}: {what} holds classes, and this loss does not take class labels; "
                         f"use --loss {' or '.join(takes)} (the default){fix}")
    raise UsageError(f"--loss {args.loss}: {what} holds quantities (regression), and this loss takes class labels; "
                     f"use one of {', '.join(takes)} (default mse)"
                     + (" or --task classification if the column holds classes" if args.csv else ""))


def _takes_labels(name: str) -> bool | None:
    from . import losses

    try:
        return bool(losses.get(name).classification)
    except AnynetError:  # a user's loss that needs options: not suggested
        return None


#: ``train`` flags of real numbers → (argument name, whether a value is allowed, what it must be)
NUMBER_FLAGS: dict[str, tuple[str, Callable[[float], bool], str]] = {
    "--lr": ("lr", lambda v: 0 < v < float("inf"), "a finite number > 0"),
    "--momentum": ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
    "--weight-decay": ("weight_decay", lambda v: 0 <= v < float("inf"), "a finite number ≥ 0"),
    "--dropout": ("dropout", lambda v: 0 <= v < 1, "a rate in [0, 1)"),
}


def _check_numbers(args: argparse.Namespace) -> None:
    for flag, (name, allowed, what) in NUMBER_FLAGS.items():
        value = getattr(args, name)
        if value is not None and not allowed(value):  # NaN fails every comparison
            raise UsageError(f"{flag} must be {what}, got {value:g}")


def _check_training_flags(args: argparse.Namespace) -> None:
    """--validation-split in (0, 1); --early-stopping ≥ 0, and only with a validation split (the
    test rows choose no epoch: they give the final score)."""
    split = args.validation_split
    if split is not None and not 0 < split < 1:  # NaN fails too
        raise UsageError(f"--validation-split must be a fraction in (0, 1), got {split:g}")
    if args.early_stopping is not None:
        if args.early_stopping < 0:
            raise UsageError(f"--early-stopping must be a number of epochs ≥ 0, got {args.early_stopping}")
        if split is None:
            raise UsageError("--early-stopping needs --validation-split FRACTION (e.g. 0.2): it stops on the "
                             "validation loss of rows held out of training, so the test rows stay unseen until the "
                             "final score")


def _metric_names(args: argparse.Namespace, loss: Any, classify: bool) -> list[str]:
    """The ``--metrics`` (default accuracy, or r2 and mae), each checked against the loss."""
    from . import metrics

    if args.metrics is None:
        return ["accuracy"] if classify else ["r2", "mae"]
    chosen = _flag_list([args.metrics])
    if not chosen:
        raise UsageError(f"--metrics: give metric names, comma-separated; known: {', '.join(metrics.names())}")
    for name in chosen:
        try:
            metrics.get(name, loss=loss)
        except UnknownNameError:
            raise UsageError(f"--metrics: unknown metric {name!r}; known: {', '.join(metrics.names())}") from None
        except AnynetError as exc:
            raise UsageError(f"--metrics {name}: {str(exc).splitlines()[0]}") from None
    return chosen


#: ``train`` flags that --resume takes from the run's checkpoint instead (flag, argument name)
RESUMED_FLAGS = (("--layers", "layers"), ("--dropout", "dropout"), ("--loss", "loss"), ("--optimizer", "optimizer"),
                 ("--lr", "lr"), ("--momentum", "momentum"), ("--weight-decay", "weight_decay"),
                 ("--dtype", "dtype"), ("--metrics", "metrics"))


def _resumed(args: argparse.Namespace) -> tuple[Any, dict[str, Any], Path]:
    """``(model, metadata, run folder)`` of ``--resume RUN`` (a run folder or its checkpoint file),
    with the data flags not given filled in from the checkpoint's metadata."""
    from .checkpoint import load

    given = [flag for flag, name in RESUMED_FLAGS if getattr(args, name) is not None]
    if given:
        raise UsageError(f"--resume continues the run with its own network, loss, optimizer and metrics; leave "
                         f"out {', '.join(given)} (or train a new run without --resume)")
    run = Path(args.resume)
    path = run / "model.safetensors" if run.is_dir() else run
    if not path.is_file():
        raise UsageError(f"--resume {args.resume}: no {path} to continue; give a run folder written by anynet train")
    model = load(path, backend=args.backend)
    meta = _require_stored(model, str(path), "continue it in Python: anynet.load(path).fit(X, y, epochs=N)")
    split = meta["split"]
    if args.seed is not None and split["seed"] is not None and args.seed != split["seed"]:
        raise UsageError(f"--seed {args.seed}: the run was split with seed {split['seed']}; leave --seed out")
    args.seed = split["seed"] if args.seed is None else args.seed
    if not (args.dataset or args.csv or args.mnist):
        if meta["source"] == "mnist":
            raise UsageError(f"--resume {args.resume}: the run trained on MNIST; give --mnist DIR again")
        if meta["source"] == "csv":
            args.csv, args.target, args.task = meta["dataset"], args.target or meta["target"], args.task or meta["task"]
        else:
            args.dataset = meta["dataset"]
    stored = meta.get("fit")
    fit: dict[str, Any] = stored if isinstance(stored, dict) else {}
    if args.batch_size is None and isinstance(fit.get("batch_size"), int):
        args.batch_size = fit["batch_size"]
    stored_split = fit.get("validation_split")
    if args.validation_split is None and isinstance(stored_split, float):
        args.validation_split = stored_split
    elif args.validation_split != stored_split:
        raise UsageError(f"--validation-split {args.validation_split}: the run held out "
                         + ("no validation rows (it scored epochs on the test rows)" if stored_split is None
                            else f"{stored_split:g} of its training rows")
                         + "; leave --validation-split out to continue it as it was")
    return model, meta, path.parent


def _same_data(ds: Any, key: str, meta: dict[str, Any], args: argparse.Namespace) -> None:
    """Refuse to resume on data read differently from the run's: other rows, columns or encoding."""
    now = cli_metadata(ds, "named" if key not in ("csv", "mnist") else key, seed=None if key == "mnist" else args.seed)
    keys = ("features", "preprocess", "classes", "task", "split") + (("dataset",) if key != "csv" else ())
    differ = [k for k in keys if k in meta and now.get(k) != meta.get(k)]
    if differ:
        raise UsageError(f"--resume {args.resume}: the data read now differs from the run's ({', '.join(differ)}); "
                         "give the same data flags as the run did (--drop, --categorical, --dropna, --impute, "
                         "--handle-unknown, --task), or start a new run")


def id_like_columns(ds: Any, min_rows: int = 10) -> list[str]:
    """The feature columns of a CSV data set that look like row identifiers: numbers that are
    consecutive whole numbers in some order, every one once (0..n-1, 1001..1000+n: a time grid
    0, 0.1, 0.2 … or every other number is not one), or a one-hot column with a category per
    training row. Read from the network's inputs (the raw values are ``x * scale + mean``), at
    ``min_rows`` rows or more."""
    from .datasets import CsvDataset

    if not isinstance(ds, CsvDataset) or ds.preprocessor is None:
        return []
    X = np.concatenate([np.asarray(ds.X_train), np.asarray(ds.X_test)])
    if len(X) < min_rows:
        return []
    found, at = [], 0
    for spec in ds.preprocessor.specs:
        if spec.kind == "numeric":
            raw = np.sort(X[:, at].astype(np.float64) * spec.scale + spec.mean)
            tol = 1e-6 * max(1.0, float(np.max(np.abs(raw))))
            if np.all(np.abs(np.diff(raw) - 1) <= tol) and abs(raw[0] - np.round(raw[0])) <= tol:
                found.append(spec.name)
        elif spec.width >= len(ds.X_train) > 1:
            found.append(spec.name)
        at += spec.width
    return found


def _warn_id_like(ds: Any) -> None:
    found = id_like_columns(ds)
    if found:
        cols = ", ".join(map(repr, found))
        these = "it is one" if len(found) == 1 else "they are"
        print(f"warning: column{'s' if len(found) > 1 else ''} {cols} look{'s' if len(found) == 1 else ''} like "
              f"row ids (consecutive whole numbers, or a category per row): as a feature a network "
              f"memorises rows instead of learning; give --drop {','.join(found)} if {these}",
              file=sys.stderr)


@command("train")
def _train(args: argparse.Namespace) -> int:
    from . import distributed, optim, registry
    from .callbacks import EarlyStopping
    from .fileformat import atomic_write
    from .plot import decision_boundary, loss_curve

    comm = distributed.init()  # under mpiexec: data-parallel, rank 0 writes and prints; else one process
    _at_least_one(args.epochs, "--epochs")
    _at_least_one(args.batch_size, "--batch-size")
    _check_numbers(args)
    resumed = _resumed(args) if args.resume else None
    _check_training_flags(args)
    args.seed = 0 if args.seed is None else args.seed
    ds, key = _dataset(args)
    if resumed is not None:
        _same_data(ds, key, resumed[1], args)
    d = {**GENERIC, **DEFAULTS.get(key, {})}
    classify = ds.task == "classification"
    n_out = ds.n_classes if classify else 1
    _check_rows(ds, args)
    compile_kw: dict[str, Any] = {}
    if resumed is None:
        hidden = parse_layers(args.layers or d["layers"])
        loss = _loss(args, ds, classify)
        lr = args.lr if args.lr is not None else d["lr"]
        opt_kw: dict[str, Any] = {"lr": lr}
        if args.weight_decay:
            opt_kw["weight_decay"] = args.weight_decay
        if args.momentum is not None:
            opt_kw["momentum"] = args.momentum
        name = args.optimizer or "adam"
        try:
            optimizer = optim.get(name, **opt_kw)
        except UnknownNameError:
            raise UsageError(f"--optimizer {name}: unknown optimizer {name!r}; known: "
                             f"{', '.join(n.lower() for n in registry.names('optimizer'))}") from None
        except TypeError:
            raise UsageError(f"--momentum does not apply to {name}") from None
        metrics = _metric_names(args, loss, classify)
        check_fits(ds.n_features, n_out, hidden, dtype=_model_dtype(args), slots=len(optimizer.slots),
                   spec=args.layers or d["layers"])
        model = build_model(ds.n_features, n_out, hidden, dropout=args.dropout or 0.0, seed=args.seed,
                            backend=args.backend, dtype=args.dtype)
        compile_kw = {"loss": loss, "optimizer": optimizer, "metrics": metrics}
        out = Path(args.out) if args.out else default_run_folder(ds.name, key if key in ("csv", "mnist") else "named")
    else:  # as the Python resume: loss, optimizer (and its state), metrics and generators come from the file
        model, _, run = resumed
        metrics = list(model.train_state.metrics)
        compile_kw = {"metrics": metrics}  # (fit's metrics default to none, not to the stored ones)
        out = Path(args.out) if args.out else run
    if resumed is None or out.resolve() != resumed[2].resolve():  # continuing a run replaces its own files
        check_run_folder(out, force=args.force, chosen=bool(args.out))  # before training: no time lost either
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run folder {out}: {exc.strerror or exc}; give --out FOLDER") from None
    root = comm.Get_rank() == 0
    if root:  # once the run is set to go: a warning, not one more error to read first
        _warn_id_like(ds)
    if args.verbose and root:
        model.summary()
    batch_size = args.batch_size or d["batch_size"]
    validation: dict[str, Any] = ({"validation_split": args.validation_split} if args.validation_split
                                  else {"validation_data": (ds.X_test, ds.y_test)})
    callbacks = ([] if args.early_stopping is None
                 else [EarlyStopping("val_loss", patience=args.early_stopping, restore_best_weights=True,
                                     verbose=0 if args.quiet else 1)])
    start = time.perf_counter()
    history = model.fit(ds.X_train, ds.y_train, epochs=args.epochs or d["epochs"], batch_size=batch_size,
                        callbacks=callbacks, verbose=0 if args.quiet else (2 if args.verbose else 1), comm=comm,
                        **compile_kw, **validation)
    seconds = time.perf_counter() - start
    if not root:  # every process holds the same model; one writes it
        return 0
    processes = f", {comm.Get_size()} processes" if comm.Get_size() > 1 else ""
    scores = model.evaluate(ds.X_test, ds.y_test)
    # everything evaluate/predict need travels inside the checkpoint (no side files to lose)
    model.metadata["cli"] = cli_metadata(ds, "named" if key not in ("csv", "mnist") else key,
                                         seed=None if key == "mnist" else args.seed)
    model.metadata["cli"]["fit"] = {"batch_size": batch_size, "validation_split": args.validation_split}
    earlier = _earlier_history(resumed[2] / "metrics.json") if resumed is not None else {}
    joined = _joined(earlier, history.history)  # a resumed run's curves and history go on from its earlier epochs
    model.save(out / "model.safetensors")
    report = {"dataset": ds.name, "backend": model.backend.spec, "dtype": model.dtype,
              "train_seconds": round(seconds, 3), "processes": comm.Get_size(),
              "epochs": model.train_state["epoch"],
              "test": scores, "history": joined,
              "checkpoint_metadata": model.metadata["cli"]}
    if resumed is not None:
        report["resumed_from"] = str(resumed[2] / "model.safetensors")
    atomic_write(out / "metrics.json", [json.dumps(report, indent=2).encode()])
    plots = []
    try:
        loss_curve(SimpleNamespace(history=joined), out / "loss.png", title=f"{ds.name}: loss")
        plots.append("loss.png")
        if ds.n_features == 2 and classify:
            X = np.r_[ds.X_train, ds.X_test]
            y = np.r_[ds.y_train, ds.y_test]
            decision_boundary(model, X, y, out / "boundary.png", title=f"{ds.name}: decision boundary")
            plots.append("boundary.png")
    except AnynetError as exc:  # matplotlib missing: the run itself succeeded
        print(f"note: {exc}", file=sys.stderr)
    for stale in set(RUN_FILES) - {"model.safetensors", "metrics.json", *plots}:  # --force over an older run
        (out / stale).unlink(missing_ok=True)
    main_metric = next((m for m in ("accuracy" if classify else "r2", *metrics) if m in scores), None)
    shown = "" if main_metric is None else f"test {main_metric} {scores[main_metric]:.4f}, "
    print(f"{ds.name}: {shown}test loss {scores['loss']:.4g} ({seconds:.2f} s on {model.backend.spec}{processes}"
          + (f", epochs {model.train_state['epoch'] - len(history.epoch) + 1}-{model.train_state['epoch']}"
             if resumed is not None else "") + ")")
    print(f"wrote {out / 'model.safetensors'}, {out / 'metrics.json'}" + "".join(f", {out / p}" for p in plots))
    return 0


def _earlier_history(path: Path) -> dict[str, list[Any]]:
    """The ``history`` of a run's metrics.json, or {} when there is none to read (resumed runs
    append to it)."""
    try:
        history = json.loads(path.read_text(encoding="utf-8")).get("history")
    except (OSError, ValueError, AttributeError):
        return {}
    return history if isinstance(history, dict) and all(isinstance(v, list) for v in history.values()) else {}


def _joined(earlier: dict[str, list[Any]], now: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """``earlier`` then ``now``, key by key (a key one of them lacks is left as the other has it)."""
    return {k: [*earlier.get(k, []), *now.get(k, [])] for k in {**earlier, **now}}


def _targets(path: str, table: Any, column: str, meta: dict[str, Any]) -> np.ndarray:
    """The scores' targets from a CSV column: class indices of the model's classes, or numbers.
    A missing, unknown or (for numeric classes) fractional label is refused, naming its row."""
    from .datasets.preprocess import is_missing, parse_numbers

    cells = table[column]
    absent = np.flatnonzero(is_missing(cells))
    if absent.size:
        raise UsageError(f"{table.where_row(int(absent[0]))}, column {column!r} has no value "
                         f"({str(cells[absent[0]])!r}); every scored row needs one: fill it or remove the row")
    classes = meta["classes"]
    if meta["task"] == "classification" and all(isinstance(c, str) for c in classes):
        names = np.asarray(classes, dtype=str)
        order = np.argsort(names)  # the stored classes are sorted; a search needs them to be
        pos = np.clip(np.searchsorted(names[order], cells), 0, len(names) - 1)
        unknown = np.flatnonzero(names[order][pos] != cells)
        if unknown.size:
            i = int(unknown[0])
            raise UsageError(f"{table.where_row(i)}, column {column!r}: label {str(cells[i])!r} is not one of the "
                             f"model's classes {_shown_classes(classes)}")
        return order[pos].astype(np.int64)
    y = parse_numbers(table, column)[0]
    return _labels(path, column, y, classes) if meta["task"] == "classification" else y


def _labels(path: str, column: str, y: np.ndarray, classes: list[float]) -> np.ndarray:
    """Class indices of the labels ``y`` read from a file; fractional or unknown labels are refused
    (truncating 1.7 to class 1 would score a different question)."""
    fractional = np.flatnonzero(y != np.round(y))
    if fractional.size:
        raise UsageError(f"{path}: column {column!r} row {fractional[0] + 2}: {y[fractional[0]]:g} is not a class "
                         f"label; the model's classes are {_shown_classes(classes)}")
    known = np.asarray(classes, dtype=np.float64)
    index = np.clip(np.searchsorted(known, y), 0, len(known) - 1)
    unknown = np.flatnonzero(known[index] != y)
    if unknown.size:
        raise UsageError(f"{path}: column {column!r} row {unknown[0] + 2}: label {y[unknown[0]]:g} is not one of "
                         f"the model's classes {_shown_classes(classes)}")
    return index.astype(np.int64)


def _named_rows(args: argparse.Namespace, data: str, meta: dict[str, Any] | None) -> tuple[Any, str]:
    """``(ds, scored_on)``: the named data set ``data`` split as the model was trained (its
    ``ds.X_test`` rows were held out), or by ``--seed`` (default 0) for a model trained on
    something else; ``scored_on`` says which rows those are."""
    from . import datasets

    for flag, value in (("--target", getattr(args, "target", None)), ("--handle-unknown", args.handle_unknown),
                        ("--id-column", getattr(args, "id_column", None))):
        if value:
            raise UsageError(f"{flag} applies to CSV files; {data} is a named data set")
    if meta is not None and meta["source"] != "csv" and meta["dataset"] == data:
        # the rows held out when this model was trained, whatever --seed says
        seed = meta["split"]["seed"]
        if args.seed is not None and seed is not None and args.seed != seed:
            raise UsageError(f"--seed {args.seed}: the model was trained on the split of seed {seed}; another "
                             "seed's test rows overlap its training rows (leave --seed out)")
        ds = datasets.load(data, seed=seed or 0)
        if len(ds.X_test) != meta["split"]["test_rows"]:
            raise UsageError(f"{data}: its test split now has {len(ds.X_test)} rows but the model held "
                             f"out {meta['split']['test_rows']}; the data set changed since training")
        scored_on = (f"the {len(ds.X_test)} {data} test rows held out in training"
                     + ("" if seed is None else f" (split seed {seed})"))
    else:
        seed = args.seed or 0
        ds = datasets.load(data, seed=seed)
        why = ("the checkpoint records no split, so they may include its training rows" if meta is None
               else f"the model was trained on {meta['dataset']}")
        scored_on = f"the {len(ds.X_test)} {data} test rows of split seed {seed}; {why}"
    if meta is not None and ds.feature_names and list(ds.feature_names) != meta["features"]:
        raise UsageError(f"{data} has features {_listed(ds.feature_names)} but the model was trained on "
                         f"{_listed(meta['features'])}")
    return ds, scored_on


@command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    from . import datasets
    from .checkpoint import load

    model = load(args.checkpoint, backend=args.backend)
    meta = _stored(model, args.checkpoint)
    if args.data in datasets.LOADERS:
        ds, scored_on = _named_rows(args, args.data, meta)
        X, y = ds.X_test, ds.y_test
    else:
        meta = _require_stored(model, args.checkpoint, "evaluate it in Python with model.evaluate")
        target = args.target or meta["target"]
        X, table = _read_inputs(args.data, meta, also=[target], handle_unknown=args.handle_unknown)
        if target not in table.columns:
            raise UsageError(f"{args.data}: no column {target!r} to score against; name it with --target COLUMN")
        y = _targets(args.data, table, target, meta)
        scored_on = f"all {len(X)} rows of {args.data}"
        if meta["source"] == "csv" and Path(args.data).name == Path(meta["dataset"]).name:
            scored_on += " (the training file: its training rows are included)"
    scores = model.evaluate(X, y)
    print(json.dumps({**scores, "rows": len(X), "scored_on": scored_on}))
    return 0


def _id_cell(text: str) -> Verbatim:
    """A cell of ``predict --id-column`` as the input file had it: a number's text unchanged
    (``-7``, ``007``), other text through :func:`csv_cell` (a formula gets its quote)."""
    from .datasets.preprocess import NUMBER

    return Verbatim(text) if NUMBER.fullmatch(text) else Verbatim(csv_cell(text))


@command("predict")
def _predict(args: argparse.Namespace) -> int:
    from . import datasets
    from .checkpoint import load
    from .fileformat import atomic_write

    model = load(args.checkpoint, backend=args.backend)
    meta = _require_stored(model, args.checkpoint, "predict with it in Python with model.predict")
    ids: list[str] | None = None
    if args.input in datasets.LOADERS:
        X = _named_rows(args, args.input, meta)[0].X_test
    else:
        id_col = args.id_column
        X, table = _read_inputs(args.input, meta, also=[id_col] if id_col and id_col not in meta["features"] else [],
                                handle_unknown=args.handle_unknown)
        if id_col:
            if id_col not in table.columns:
                from .datasets.tables import read_csv_table

                raise UsageError(f"--id-column {id_col}: {args.input} has no column {id_col!r}; its columns: "
                                 f"{_listed(read_csv_table(args.input)[0])}")
            ids = [_id_cell(c) for c in table[id_col].tolist()]
    to_stdout = args.out == "-"
    out = args.out or str(Path(args.input).with_suffix(".predictions.csv"))
    if not to_stdout:  # checked before a byte is written: the inputs and earlier results are never lost
        check_output(out, "--out", inputs=[args.input, args.checkpoint], force=args.force)
    if meta["task"] == "classification":
        proba = np.asarray(model.predict_proba(X))
        classes = [_class_label(c) for c in meta["classes"]]
        # numeric classes: p1, p3; class names: p_Adelie
        header = ["class"] + [f"p_{c}" if isinstance(c, str) else f"p{c}" for c in classes]
        picked = proba.argmax(axis=1)
        body: Iterable[list[Any]] = ([classes[int(k)], *row.tolist()] for k, row in zip(picked, proba))
    else:
        pred = np.asarray(model.predict(X))
        header = [f"y{k}" for k in range(pred.shape[1])] if pred.shape[1] > 1 else ["prediction"]
        body = (row.tolist() for row in pred)
    if ids is not None:
        if args.id_column in header:
            raise UsageError(f"--id-column {args.id_column}: the output already has a column {args.id_column!r} "
                             f"({', '.join(header)}); rename the input's column")
        header = [args.id_column, *header]
        body = ([i, *row] for i, row in zip(ids, body))
    chunks = _csv_chunks(header, body)
    if to_stdout:
        for chunk in chunks:
            sys.stdout.write(chunk.decode())
        sys.stdout.flush()
        if getattr(sys.stdout, "closed_early", False):
            raise OutputClosedError(f"standard output was closed before all {len(X)} predictions were written "
                                    "(what reached it is incomplete); write them to a file with --out FILE")
        print(f"wrote {len(X)} predictions to standard output", file=sys.stderr)
        return 0
    atomic_write(out, chunks)  # a temporary file renamed over ``out``: interrupted, the old file is intact
    print(f"wrote {len(X)} predictions to {out}")
    return 0


#: how a classifier's outputs become probabilities in ONNX, by the name of the loss it was trained with
PROBA_OF_LOSS = {"softmax_cross_entropy": "softmax", "bce_logits": "sigmoid", "bce": "identity"}


@command("export")
def _export(args: argparse.Namespace) -> int:
    from .checkpoint import load
    from .datasets.preprocess_onnx import with_preprocessing
    from .fileformat import atomic_write

    if args.output and args.out and args.output != args.out:
        raise UsageError(f"give the ONNX file once: OUTPUT {args.output} or --out {args.out}, not both")
    out = args.out or args.output or str(Path(args.checkpoint).with_suffix(".onnx"))
    model = load(args.checkpoint)
    meta = _require_stored(model, args.checkpoint, "export the network alone in Python with anynet.onnx.export")
    pre = _preprocessor(meta)
    proba = "softmax"
    if meta["task"] == "classification":
        loss = model.train_state.loss
        name = getattr(loss, "name", None)
        if name not in PROBA_OF_LOSS:
            raise UsageError(f"{args.checkpoint}: trained with the loss {name!r}, whose probabilities have no ONNX "
                             f"form here (known: {', '.join(PROBA_OF_LOSS)})")
        proba = PROBA_OF_LOSS[name]
    try:
        from . import onnx as anynet_onnx

        network = anynet_onnx.to_onnx(model, **({} if args.opset is None else {"opset": args.opset}))
        proto = with_preprocessing(network, pre, task=meta["task"], proba=proba, handle_unknown=args.handle_unknown,
                                   classes=[_class_label(c) for c in meta["classes"]])
    except ImportError as exc:
        raise UsageError(f"anynet export needs the onnx package ({exc}); install it with pip install onnx") from None
    check_output(out, "--out", inputs=[args.checkpoint], force=args.force)
    atomic_write(out, [proto.SerializeToString()])
    kinds = [s.kind for s in pre.specs]
    outputs = ", ".join(o.name for o in proto.graph.output)
    print(f"wrote {out}: {len(kinds)} inputs, one per column ({kinds.count('numeric')} numeric, "
          f"{kinds.count('categorical')} categorical as strings), each of shape (batch, 1); outputs: {outputs}")
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
            lead = f"{r.backend:<18} {r.device:<14} {r.dtype:<8} {'-':>30}  "
            print(_wrapped(lead, r.note.splitlines()[0] if r.note else ""))
            continue
        failed |= not r.passed
        verdict = "pass" if r.passed else f"FAIL (tolerance {r.tolerance:g})"
        print(f"{r.backend:<18} {r.device:<14} {r.dtype:<8} {r.max_rel_diff:>30.3e}  {verdict}")
    return 1 if failed else 0


#: the width of the reasons ``anynet check`` gives for a backend it could not check
CHECK_REASON_WIDTH = 60


def _wrapped(lead: str, text: str, width: int = CHECK_REASON_WIDTH) -> str:
    """``lead`` then ``text`` wrapped at word boundaries into lines of at most ``width``
    characters, the later ones indented under the first (a word longer than ``width`` stays whole)."""
    import textwrap

    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join([lead + lines[0], *(" " * len(lead) + line for line in lines[1:])])


@command("info")
def _info(args: argparse.Namespace) -> int:
    from .info import info_text

    print(info_text())
    return 0


_UNKNOWN_HELP = "a category the model was not trained on: an error or all zeros (default: as trained)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit code 2, as argparse does, minus the usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

def version() -> str:
    """The installed distribution's version (``anynet-nn``), else the package's ``__version__``
    (a source tree on the path, not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("anynet-nn")
    except PackageNotFoundError:
        from . import __version__

        return str(__version__)


_CHECKPOINT_HELP = "a model.safetensors written by anynet train"
_BACKEND_HELP = "numpy (default), cupy, torch, torch:cuda:0, jax, ..."
_DATA_HELP = ("a data set name ({names}: its test rows held out in training) or a CSV file with the model's "
              "feature columns, matched by name (other columns are ignored)")


def _out_flags(parser: argparse.ArgumentParser, help: str) -> None:
    """``--out``, the one spelling of every command's output, and ``--output``, its hidden alias."""
    parser.add_argument("--out", dest="out", metavar="PATH", help=help)
    parser.add_argument("--output", dest="out", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    from .datasets import LOADERS
    from .datasets.preprocess import AUTO_MAX_CATEGORIES

    names = ", ".join(LOADERS)
    parser = _Parser(prog="anynet", description="Fully-connected networks on NumPy, CuPy, PyTorch or JAX.")
    parser.add_argument("--version", action="version", version=f"anynet {version()}",
                        help="print anynet's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network and write a checkpoint, metrics and plots")
    t.add_argument("dataset", nargs="?", help=f"a data set name: {names}")
    t.add_argument("--csv", help="a CSV file with a header: numbers, text (classes, categories), missing cells")
    t.add_argument("--target", help="the CSV column to predict")
    t.add_argument("--task", choices=["classification", "regression"],
                   help="with --csv: what the target is (default: guessed; whole numbers 0..k-1 with k ≤ 20 "
                        "are classes, fractional values or over 100 distinct whole numbers are quantities, "
                        "anything else must be chosen)")
    t.add_argument("--drop", action="append", metavar="COL[,COL...]",
                   help="with --csv: columns that are not features (comma-separated, repeatable)")
    t.add_argument("--categorical", action="append", metavar="COL[,COL...]",
                   help="with --csv: the columns to one-hot encode, every other must be numbers (default: text "
                        f"columns with at most {AUTO_MAX_CATEGORIES} distinct values that repeat)")
    t.add_argument("--dropna", action="store_true",
                   help="with --csv: drop rows with missing cells (empty, NA, NaN, null); default: refuse them")
    t.add_argument("--impute", choices=["median", "mean", "most_frequent"],
                   help="with --csv: fill missing cells with the training rows' value of the column (text columns: "
                        "the most frequent category); predict fills them the same way")
    t.add_argument("--handle-unknown", choices=["error", "ignore"],
                   help="with --csv: a category predict meets that training did not: an error (default) or all zeros")
    t.add_argument("--mnist", metavar="DIR", help="a folder holding the four MNIST IDX files")
    t.add_argument("--download", action="store_true",
                   help="with --mnist: fetch missing files into DIR (SHA-256 checked)")
    t.add_argument("--layers", help=LAYERS_HELP)
    t.add_argument("--dropout", type=float,
                   help="dropout rate after each hidden Dense layer (and the normalisation layers that follow it), "
                        "in [0, 1) (default 0)")
    t.add_argument("--loss", help="default: softmax_cross_entropy (classes) or mse")
    t.add_argument("--optimizer", help="sgd, adam (default), adamw, rmsprop, adagrad")
    t.add_argument("--lr", type=float, help="learning rate, > 0 (default: per data set, e.g. 0.003 for digits)")
    t.add_argument("--momentum", type=float, help="momentum of sgd and rmsprop, in [0, 1) (default: the optimizer's)")
    t.add_argument("--weight-decay", type=float, help="weight decay, ≥ 0 (default 0; decoupled with adamw)")
    t.add_argument("--epochs", type=int, help="≥ 1 (default: per data set); with --resume: how many more")
    t.add_argument("--batch-size", type=int, help="≥ 1 (default: per data set; with --resume: the run's)")
    t.add_argument("--validation-split", type=float, metavar="FRACTION",
                   help="score every epoch on this fraction of the training rows (the last ones, as Keras), "
                        "in (0, 1); default: score every epoch on the test rows")
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs (≥ 0) without a better validation loss and keep the best "
                        "epoch's weights; needs --validation-split, so the test rows only give the final score")
    t.add_argument("--metrics", metavar="NAME[,NAME...]",
                   help="metrics to log every epoch and score on the test rows (default: accuracy for classes, "
                        "r2,mae for quantities)")
    t.add_argument("--resume", metavar="RUN",
                   help="continue a run folder's (or checkpoint file's) training for --epochs more epochs, with "
                        "its network, optimizer state, loss, metrics and data split, as anynet.load(...).fit(...) "
                        "does; writes into RUN unless --out says otherwise")
    t.add_argument("--backend", help=_BACKEND_HELP)
    t.add_argument("--dtype", choices=["float32", "float64"],
                   help="the weights' floating-point type (default: the backend's default, float32 on numpy)")
    t.add_argument("--seed", type=int,
                   help="seed of the weights, the shuffling and the train/test split (default 0; with --resume: "
                        "the run's)")
    _out_flags(t, "output folder (default runs/<data set>, or runs/csv/<the --csv path with / written %%2F>)")
    t.add_argument("--force", action="store_true", help="replace the files of a run already in --out")
    t.add_argument("--quiet", action="store_true", help="no progress, no data summary: only the result lines")
    t.add_argument("--verbose", action="store_true", help="summary and one line per epoch")
    e = sub.add_parser("evaluate", help="loss and metrics of a checkpoint on a data set or CSV")
    e.add_argument("checkpoint", help=_CHECKPOINT_HELP)
    e.add_argument("data", help="a data set name (the test rows held out in training) or a CSV file "
                                "(every row is scored)")
    e.add_argument("--target", help="with a CSV file: the label column (default: the one trained on)")
    e.add_argument("--backend", help=_BACKEND_HELP)
    e.add_argument("--handle-unknown", choices=["error", "ignore"], help=_UNKNOWN_HELP)
    e.add_argument("--seed", type=int, help="split seed of a named data set the model was not trained on "
                                            "(default: the stored one, else 0)")
    p = sub.add_parser("predict", help="write a checkpoint's predictions for a CSV file or a data set's test rows")
    p.add_argument("checkpoint", help=_CHECKPOINT_HELP)
    p.add_argument("input", help=_DATA_HELP.format(names=names))
    _out_flags(p, "the CSV file to write (default: INPUT with .predictions.csv); - for standard output")
    p.add_argument("--id-column", metavar="COL",
                   help="a column of the input CSV to copy, as it is, into the output's first column (row ids)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (never an input file)")
    p.add_argument("--backend", help=_BACKEND_HELP)
    p.add_argument("--handle-unknown", choices=["error", "ignore"], help=_UNKNOWN_HELP)
    p.add_argument("--seed", type=int, help="split seed of a named data set the model was not trained on "
                                            "(default: the stored one, else 0)")
    x = sub.add_parser("export", help="write a checkpoint as an ONNX model that reads raw CSV columns")
    x.add_argument("checkpoint", help=_CHECKPOINT_HELP)
    x.add_argument("output", nargs="?", help="the .onnx file to write (the same as --out)")
    _out_flags(x, "the .onnx file to write (default: the checkpoint's name with .onnx)")
    x.add_argument("--force", action="store_true", help="replace OUTPUT if it exists (never the checkpoint)")
    x.add_argument("--opset", type=int, help="ONNX opset (default: anynet.onnx's, 17)")
    x.add_argument("--handle-unknown", choices=["error", "ignore"],
                   help="an unknown category gives NaN outputs (error) or all zeros (ignore); default: as trained")
    c = sub.add_parser("check", help="cross-backend gradient check on this machine's backends")
    c.add_argument("--backends", help="comma-separated (default: all known)")
    sub.add_parser("info", help="versions, usable backends and their devices")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit code: 0, 1 (``check`` found a failure), 2 (an error, one line on
    stderr) or 130 (interrupted). Every non-zero code leaves through ``_exit_code``."""
    args = build_parser().parse_args(argv)
    stdout = sys.stdout
    sys.stdout = guarded = _Stdout(stdout)  # a closed pipe stops the printing, not the command
    try:
        code = COMMANDS[args.command](args)
        guarded.flush()
    except (AnynetError, OSError, ValueError, KeyError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"anynet {args.command}: error: {message}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print(f"anynet {args.command}: interrupted", file=sys.stderr)
        code = 130
    finally:
        sys.stdout = stdout
    if guarded.closed_early and code == 0:
        print(f"anynet {args.command}: note: standard output was closed early, so its messages stopped there; "
              "the command itself completed", file=sys.stderr)
    return _exit_code(args, code)


def _exit_code(args: argparse.Namespace, code: int) -> int:
    """The one way out of main(). A non-zero code goes through :func:`anynet.distributed.ending`:
    under mpiexec (once ``train`` has called ``distributed.init``) the whole job then ends with it,
    instead of the other processes waiting for this one in a collective; alone it only records it."""
    if code:
        from . import distributed

        distributed.ending(code)
    return code
