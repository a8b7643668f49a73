"""Tables: CSV files with a header (numbers, categories, missing cells), and scikit-learn's
bundled digits and diabetes."""

from __future__ import annotations

import csv
import os
import stat
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .base import Dataset, Standardizer, train_test_split
from .preprocess import (
    IMPUTE_MODES,
    TEXT,
    Table,
    TablePreprocessor,
    column_kinds,
    is_missing,
    missing_message,
    parse_numbers,
)

#: ``task="auto"`` takes a target for class labels only when it holds the indices 0..k-1 with k at most this
GUESSED_CLASSES = 20
#: ``task="auto"`` refuses to guess a whole-number target with at most this many distinct values that is
#: not 0..k-1 (years, ratings 1..5, labels -1/1): it could be either task
AMBIGUOUS_CLASSES = 100
#: the most classes ``task="classification"`` accepts (each is one output of the network)
MAX_CLASSES = 1000


@dataclass
class CsvDataset(Dataset):
    """A :class:`Dataset` read from a CSV file, with what a checkpoint needs to read new files alike.

    Attributes (besides Dataset's, whose ``feature_names`` are the network's inputs):
        target: the name of the predicted column.
        classes: for classification, the original label of each class index (sorted numbers, or
            sorted strings for a text target); else empty.
        test_size, seed: how the rows were split.
        columns: the raw feature columns, in the file's order.
        preprocessor: the fitted TablePreprocessor that made the inputs from those columns.
        rows_read, rows_dropped: rows in the file, and rows left out for missing values.
        filled: {column: number of missing cells filled in} (with an impute mode).
        notes: what reading the file left out, one line each (also given as UserWarnings): a
            column without a name that was empty or pandas' index.
    """

    target: str = ""
    classes: list[Any] = field(default_factory=list)
    test_size: float = 0.3
    seed: int = 0
    columns: list[str] = field(default_factory=list)
    preprocessor: TablePreprocessor | None = None
    rows_read: int = 0
    rows_dropped: int = 0
    filled: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines: rows used and dropped, features, missing values filled, task and classes."""
        used = self.rows_read - self.rows_dropped
        lines = [f"{self.name}: {self.rows_read} rows"
                 + (f", {self.rows_dropped} dropped for missing values" if self.rows_dropped else "")
                 + f"; {used} used: {len(self.X_train)} to train, {len(self.X_test)} to test"]
        if self.preprocessor is not None:
            lines.append(f"features: {self.preprocessor.describe()}")
            if self.filled:
                cells = ", ".join(f"{n!r} {k} cell{'s' if k > 1 else ''}" for n, k in self.filled.items())
                how = self.preprocessor.missing.replace("_", " ")
                lines.append(f"missing cells filled in (numbers: the training rows' {how}; categories: the most "
                             f"frequent): {cells}")
        if self.task == "classification":
            shown = ", ".join(f"{_label(c)}" for c in self.classes[:10]) + (", …" if len(self.classes) > 10 else "")
            lines.append(f"target {self.target!r}: classification, {self.n_classes} classes: {shown}")
        else:
            lines.append(f"target {self.target!r}: regression")
        return "\n".join(lines)


def _label(c: Any) -> str:
    if isinstance(c, float):
        return str(int(c)) if c.is_integer() else f"{c:g}"
    return str(c)


def read_csv_table(path: str | os.PathLike, *, min_rows: int = 1, notes: list[str] | None = None
                   ) -> tuple[list[str], np.ndarray]:
    """``(header, rows)`` of a CSV file with a header row: the column names (spaces stripped) and
    the cells, still strings, as a (rows, columns) array of variable-width strings (:data:`TEXT`).

    The file is read as UTF-8 whatever the locale, a byte-order mark (Excel's "CSV UTF-8") left
    out. Memory is in proportion to the file: rows are read a block at a time, and a long cell
    costs its own length. Columns without a name (an empty header cell) are dropped, each with a
    notice appended to ``notes`` (default: a :class:`UserWarning`), when every cell is empty (a
    comma ending every line) or, in the first column, the cells are 0, 1, …, n-1 (the index
    pandas' ``to_csv()`` writes); another one is refused.

    Raises InputError naming the file when it is not a regular file (a FIFO would block), cannot
    be read, is not UTF-8 (naming the line and byte), is too short, has a row whose length
    differs from the header's, has a column without a name, or repeats a column name (a name
    must select one column).
    """
    blocks: list[np.ndarray] = []
    block: list[list[str]] = []
    first = None
    try:
        with _open_regular(path) as f:
            reader = csv.reader(f)
            first = next(reader, None)
            if first is None:
                raise InputError(f"{path}: the file is empty; a CSV file needs a header row and at least "
                                 f"{_rows_needed(min_rows)}")
            width = len(first)
            for row in reader:
                if len(row) != width:
                    raise InputError(f"{path}: row {len(blocks) * _BLOCK_ROWS + len(block) + 2} has {len(row)} "
                                     f"cells but the header has {width}")
                block.append(row)
                if len(block) == _BLOCK_ROWS:
                    blocks.append(np.array(block, dtype=TEXT).reshape(-1, width))
                    block = []
            blocks.append(np.array(block, dtype=TEXT).reshape(-1, width))
    except OSError as exc:
        raise InputError(f"cannot read CSV {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:
        where = f"row {len(blocks) * _BLOCK_ROWS + len(block) + 2}" if first is not None else "the header"
        hint = (f"; a cell over {csv.field_size_limit():,} characters is most often a quote (\") opened and never "
                "closed, which runs on to the end of the file" if "field larger" in str(exc) else "")
        raise InputError(f"{path}: not a readable CSV file at {where} ({exc}){hint}") from None
    rows = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    del blocks
    n = len(rows)
    if n < min_rows:
        raise InputError(f"{path}: needs a header and at least {_rows_needed(min_rows)}, found {n + 1} rows")
    header = [h.strip() for h in first]
    found: list[str] = []
    keep = [j for j, h in enumerate(header) if h or not _dropped_unnamed(path, rows, j, found)]
    if notes is not None:
        notes.extend(found)
    for note in found if notes is None else ():
        warnings.warn(note, UserWarning, stacklevel=2)
    if len(keep) < len(header):
        header, rows = [header[j] for j in keep], rows[:, keep]
    seen: dict[str, int] = {}
    for h in header:
        seen[h] = seen.get(h, 0) + 1
    twice = [h for h, k in seen.items() if k > 1]
    if twice:
        raise InputError(f"{path}: duplicate column names {', '.join(map(repr, twice))}; every column needs "
                         "its own name")
    return header, rows


#: rows read into one block of cells at a time: the Python strings alive while reading are bounded
_BLOCK_ROWS = 1024


def _rows_needed(min_rows: int) -> str:
    return {1: "one data row", 2: "two data rows"}.get(min_rows, f"{min_rows} data rows")


def _open_regular(path: str | os.PathLike) -> Any:
    """``path`` open for reading as UTF-8 text (a BOM left out, newlines as in the file), refused
    before reading when it is not a regular file (a FIFO, a device, a folder)."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked right after
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: not a regular file (a FIFO, device or folder would block or never end); "
                             "give a CSV file (to read a stream, save it to a file first)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, encoding="utf-8-sig", newline="")
    except BaseException:
        os.close(fd)
        raise


def _not_utf8(path: str | os.PathLike) -> InputError:
    """The error for a file that is not UTF-8, naming the first bad byte and its line (this path only reads
    the file whole, to find them)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
        return InputError(f"{path}: not UTF-8 text; re-save it as UTF-8")  # changed while being read
    except UnicodeDecodeError as exc:
        at = exc.start
    line = data.count(b"\n", 0, at) + 1
    return InputError(f"{path}: not UTF-8 text: line {line}, the byte at offset {at} is {data[at:at + 1]!r} "
                      f"(in {data[max(0, at - 20):at + 20]!r}); anynet reads CSV files as UTF-8: re-save it as "
                      "UTF-8 (Excel: Save As \"CSV UTF-8\"; or iconv -f <its encoding> -t UTF-8)")


def _dropped_unnamed(path: str | os.PathLike, rows: np.ndarray, j: int, notes: list[str]) -> bool:
    """True, with a notice appended to ``notes``, for column ``j`` without a name that holds
    nothing or pandas' index; InputError for another column without a name."""
    cells = np.strings.strip(rows[:, j])
    if not np.strings.str_len(cells).any():
        note = f"{path}: column {j + 1} has no name and no values (a comma ending every line?); left out"
    elif j == 0 and np.array_equal(cells, np.arange(len(cells)).astype(TEXT)):
        note = (f"{path}: column 1 has no name and holds 0, 1, …, {len(cells) - 1}: the index pandas' to_csv() "
                "writes; left out (write the file with to_csv(index=False) to leave it out there)")
    else:
        shown = ", ".join(map(repr, cells[:3].tolist()))
        raise InputError(f"{path}: column {j + 1} has no name (its header cell is empty; its cells begin {shown}); "
                         "name it in the header row, or if it is an index pandas wrote, write the file with "
                         "to_csv(index=False)")
    notes.append(note)
    return True


def numeric_columns(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[str]] | np.ndarray,
                    columns: Sequence[str]) -> np.ndarray:
    """The named ``columns`` of a table from ``read_csv_table`` as float64 (rows, len(columns)).

    A missing column, a cell that is not a number (:data:`~anynet.datasets.preprocess.NUMBER`),
    a missing cell, NaN or infinity raise InputError naming the file and (for a cell) its row and
    column. Other columns are not looked at.
    """
    table = Table.from_rows(header, rows, where=str(path), columns=columns)
    data = np.empty((len(table), len(columns)), dtype=np.float64)
    for k, c in enumerate(columns):
        data[:, k], missing = parse_numbers(table, c)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise InputError(f"{table.where_row(i)}, column {c!r} is missing, NaN or infinite "
                             f"({str(table.columns[c][i])!r}); every cell must be a finite number")
    return data


def read_numeric_csv(path: str | os.PathLike, *, min_rows: int = 1) -> tuple[list[str], np.ndarray]:
    """``(header, data)`` of a CSV file of numbers with a header row; data is float64 (rows, columns).

    Every problem raises an InputError naming the file and, for a bad cell, its row and column.
    """
    header, rows = read_csv_table(path, min_rows=min_rows)
    return header, numeric_columns(path, header, rows, header)


def _preview(values: np.ndarray, k: int = 5) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:k])
    return shown + (f", … ({len(values)} in all)" if len(values) > k else "")


def class_labels(y: np.ndarray, *, where: str, column: str) -> tuple[np.ndarray, list[float]]:
    """``(indices, classes)``: whole-number labels ``y`` as int64 indices into their sorted distinct values.

    Raises InputError for fractional labels, fewer than 2 classes or more than MAX_CLASSES.
    """
    fractional = np.flatnonzero(y != np.round(y))
    if fractional.size:
        raise InputError(f"{where}: column {column!r} has fractional values (e.g. {y[fractional[0]]:g}); "
                         "class labels must be whole numbers; use task='regression' (--task regression)")
    classes, indices = np.unique(y, return_inverse=True)
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise InputError(f"{where}: column {column!r} has {len(classes)} distinct labels; classification "
                         f"needs 2 to {MAX_CLASSES}; use task='regression' (--task regression)")
    return indices.astype(np.int64).reshape(-1), [float(c) for c in classes]


def guess_task(y: np.ndarray, *, where: str, column: str) -> str:
    """``"classification"`` for class indices 0..k-1 (k ≤ GUESSED_CLASSES), ``"regression"`` for
    fractional values or more than AMBIGUOUS_CLASSES distinct whole numbers; InputError otherwise."""
    if np.any(y != np.round(y)):
        return "regression"
    distinct = np.unique(y)
    k = len(distinct)
    if k > AMBIGUOUS_CLASSES:
        return "regression"
    if 2 <= k <= GUESSED_CLASSES and np.array_equal(distinct, np.arange(k)):
        return "classification"
    raise InputError(f"{where}: cannot tell whether column {column!r} holds classes or quantities: {k} "
                     f"whole-number values ({_preview(distinct)}), not the class indices 0..k-1 with k ≤ "
                     f"{GUESSED_CLASSES}; choose with task='classification' or task='regression' "
                     "(anynet train: --task)")


def load_csv(path: str | os.PathLike, target: str, *, test_size: float = 0.3, seed: int = 0,
             task: str = "auto", standardize: bool = True, drop: Iterable[str] = (),
             categorical: str | Iterable[str] = "auto", missing: str = "error",
             handle_unknown: str = "error", notes: list[str] | None = None) -> CsvDataset:
    """A CSV table with a header row and a named target column, split, encoded and standardised.

    Arguments:
        path: the file. Dropped columns are not read, so they may hold anything (ids, notes).
        target: the column to predict: numbers, or text (class names: classification).
        task: ``"classification"`` (whole-number labels, whose sorted distinct values become
            classes 0..k-1 kept in ``classes``; or text labels, kept as sorted strings),
            ``"regression"``, or ``"auto"``: a text target is classes; class indices 0..k-1 with
            k ≤ GUESSED_CLASSES are classes, fractional values or more than AMBIGUOUS_CLASSES
            distinct whole numbers are quantities, and anything in between (years, ratings 1..5)
            raises InputError asking for an explicit task.
        drop: columns that are not features.
        categorical: ``"auto"``: a feature column of text is one-hot encoded when it has at most
            AUTO_MAX_CATEGORIES distinct values and repeats one (see
            ``anynet.datasets.preprocess.column_kinds``); or the names of the categorical
            columns (every other must be numbers).
        missing: what to do with missing cells (empty, ``NA``, ``NaN``, ``null`` in any case, and
            infinite numbers): ``"error"`` (InputError saying how many rows and which columns),
            ``"drop"`` the rows, or fill them with the training rows' ``"median"``, ``"mean"`` or
            ``"most_frequent"`` value (categorical columns: the most frequent category). Rows
            without a target are dropped when filling, since a target cannot be filled in.
        handle_unknown: a category a later table has that the file had not: ``"error"`` or
            ``"ignore"`` (all zeros). Kept in ``preprocessor``.
        standardize: scale numeric columns on the training part only.
        notes: a list that receives a line for each column reading left out (see
            ``read_csv_table``); default: each is a :class:`UserWarning`. Either way they
            are kept in the result's ``notes``.

    Returns:
        a :class:`CsvDataset` whose ``preprocessor`` (a fitted
        :class:`~anynet.datasets.preprocess.TablePreprocessor`) turns new rows into inputs the
        same way; ``feature_names`` are the inputs (``"col=category"`` for one-hot ones),
        ``columns`` the raw feature columns.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("id,a,label\\n" + "".join(f"r{i},{i},{2 * (i % 2) + 1}\\n" for i in range(10)))
        >>> ds = load_csv(p, "label", task="classification", drop=["id"])
        >>> ds.feature_names, ds.classes, ds.n_classes
        (['a'], [1.0, 3.0], 2)
        >>> _ = p.write_text("size,colour,kind\\n" + "".join(f"{i},{'red' if i % 3 else 'NA'},{'ab'[i % 2]}\\n"
        ...                                                  for i in range(10)))
        >>> ds = load_csv(p, "kind", missing="most_frequent")
        >>> ds.columns, ds.feature_names, ds.classes
        (['size', 'colour'], ['size', 'colour=red'], ['a', 'b'])
    """
    if task not in ("auto", "classification", "regression"):
        raise InputError(f"load_csv: task must be 'auto', 'classification' or 'regression', got {task!r}")
    # checked before the file is read, as the preprocessor would only check them after
    TablePreprocessor(categorical=categorical, missing=missing, handle_unknown=handle_unknown)
    found: list[str] = []
    header, rows = read_csv_table(path, min_rows=2, notes=found)
    if notes is not None:
        notes.extend(found)
    for note in found if notes is None else ():
        warnings.warn(note, UserWarning, stacklevel=2)
    if target not in header:
        raise InputError(f"{path}: no column {target!r}; columns: {', '.join(header)}")
    drop = list(drop)
    columns, dropped_names = set(header), set(drop)
    unknown = [c for c in drop if c not in columns]
    if unknown:
        raise InputError(f"{path}: cannot drop {', '.join(map(repr, unknown))}: no such column; "
                         f"columns: {', '.join(header)}")
    if target in drop:
        raise InputError(f"{path}: cannot drop the target column {target!r}")
    names = [h for h in header if h != target and h not in dropped_names]
    if not names:
        raise InputError(f"{path}: no feature columns left besides the target {target!r}")
    if not isinstance(categorical, str) and target in categorical:
        raise InputError(f"{path}: categorical names the target {target!r}; it is not a feature (choose its task "
                         "with task=)")
    table = Table.from_rows(header, rows, where=str(path), columns=[*names, target])
    kinds = column_kinds(table, names, categorical)
    y_text, y_values, y_missing = _target(table, target, task)
    masks = {n: (parse_numbers(table, n)[1] if kinds[n] == "numeric" else is_missing(table.columns[n]))
             for n in names}
    masks[target] = y_missing
    incomplete = np.logical_or.reduce(list(masks.values()))
    if missing == "error" and incomplete.any():
        raise InputError(missing_message(table, masks))
    dropped = incomplete if missing == "drop" else y_missing
    keep = np.flatnonzero(~dropped)
    if len(keep) < 2:
        raise InputError(f"{path}: {len(keep)} of {len(table)} rows are left once rows with missing values are "
                         "dropped; training needs at least 2")
    kept = table.take(keep)
    where = str(path)
    classes: list[Any] = []
    if y_text is not None:
        y_text = y_text[keep]
        if task == "regression":
            raise InputError(f"{path}: column {target!r} holds text ({str(y_text[0])!r}), not quantities to regress; "
                             "use task='classification' (--task classification) or another target")
        task = "classification"
        names_, y = np.unique(y_text, return_inverse=True)
        if not 2 <= len(names_) <= MAX_CLASSES:
            raise InputError(f"{where}: column {target!r} has {len(names_)} distinct labels; classification needs "
                             f"2 to {MAX_CLASSES}")
        y, classes = y.astype(np.int64).reshape(-1), [str(c) for c in names_]
    else:
        y = y_values[keep]
        if task == "auto":
            task = guess_task(y, where=where, column=target)
        if task == "classification":
            y, classes = class_labels(y, where=where, column=target)
    y = y.astype(np.int64) if task == "classification" else y.astype(np.float32)
    train, test, y_train, y_test = train_test_split(np.arange(len(kept)), y, test_size=test_size, seed=seed,
                                                    stratify=task == "classification")
    pre = TablePreprocessor(categorical=[n for n in names if kinds[n] == "categorical"], missing=missing,
                            handle_unknown=handle_unknown, standardize=standardize)
    train_table = kept.take(train)
    pre.fit(train_table, names, vocabulary=kept)
    X_train = pre.transform(train_table).astype(np.float32)
    X_test = pre.transform(kept.take(test)).astype(np.float32)
    scaler = None
    if standardize:
        scaler = Standardizer()
        scaler.mean_, scaler.scale_ = pre.scaling()
    filled = {n: int(masks[n][keep].sum()) for n in names} if missing in IMPUTE_MODES else {}
    return CsvDataset(X_train, y_train, X_test, y_test, task, len(classes), pre.feature_names, where, scaler,
                      target=target, classes=classes, test_size=test_size, seed=seed, columns=list(names),
                      preprocessor=pre, rows_read=len(table), rows_dropped=int(dropped.sum()),
                      filled={n: k for n, k in filled.items() if k}, notes=found)


def _target(table: Table, target: str, task: str) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(text, values, missing)`` of the target column: text labels (values unused) when no cell
    is a number, else the numbers (a cell that is not one raises InputError)."""
    cells = table.columns[target]
    values, missing, words = table.numbers(target)
    if words.any():
        absent = is_missing(cells)
        if (~words & ~absent).any():
            parse_numbers(table, target)  # raises, naming the first cell that is not a number
        return cells, np.zeros(len(cells)), absent
    return None, values, missing


def _split(X, y, task, names, name, test_size, seed, standardize) -> Dataset:
    y = y.astype(np.int64) if task == "classification" else y.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=seed,
                                                        stratify=task == "classification")
    scaler = None
    if standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_classes = int(y.max()) + 1 if task == "classification" else 0
    return Dataset(X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test, task,
                   n_classes, names, name, scaler)


def _sklearn():
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise InputError('this data set ships with scikit-learn; install it with '
                         'pip install "anynet-nn[examples]" (in a clone of the repository: '
                         'pip install -e ".[examples]")') from None
    return skd


def digits(*, test_size: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 digits (1,797 images, 10 classes), pixels scaled to [0, 1]."""
    d = _sklearn().load_digits()
    return _split(d.data / 16.0, d.target.astype(float), "classification",
                  [f"pixel_{i}" for i in range(64)], "digits", test_size, seed, False)


def diabetes(*, test_size: float = 0.3, seed: int = 0) -> Dataset:
    """scikit-learn's diabetes regression set (442 patients, 10 features), standardised."""
    d = _sklearn().load_diabetes()
    ds = _split(d.data, d.target.astype(float), "regression", list(d.feature_names), "diabetes", test_size, seed, True)
    return ds
