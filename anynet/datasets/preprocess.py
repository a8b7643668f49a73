"""Turning a table's text cells into a network's inputs: missing cells, categories, scaling.

A :class:`Table` holds a CSV file's cells as text, column by column. A
:class:`TablePreprocessor` learns from training rows how to turn a table into the float matrix
a network reads, and does it the same way for any later table:

- **numeric columns** become one input each, standardised ``(x - mean) / scale`` with the mean
  and standard deviation of the training rows;
- **categorical columns** (text) become one 0/1 input per category (one-hot), in the sorted
  order of the categories; a value the preprocessor has not seen is an error, or all zeros
  with ``handle_unknown="ignore"``;
- **missing cells** (empty, ``NA``, ``NaN``, ``null`` in any case, and infinite numbers) are
  filled with the training rows' median, mean or most frequent value of the column, or refused
  (``missing="error"`` or ``"drop"``: the caller drops such rows before fitting). A categorical
  column is always filled with its most frequent category.

What a number is: :data:`NUMBER` (an optional sign, ASCII digits with an optional decimal
point, an optional exponent: ``12``, ``-3.5``, ``.5``, ``1e-3``), as a spreadsheet or pandas
reads numbers, not every string Python's ``float()`` accepts (``1_000``, ``2020_01`` and
non-ASCII digits such as ``١٢`` are text). ``inf``, ``infinity`` and ``nan`` with a sign, any
case (:data:`NOT_FINITE_TOKENS`), and numbers too large for float64 (``1e999``) are numbers
without a value: missing cells in a numeric column.

Cells are kept as variable-width strings (NumPy's ``StringDType``), so one long cell costs its
own length, not that length times the column's rows.

It is saved as a JSON-able dict (:meth:`TablePreprocessor.to_dict` / :meth:`~TablePreprocessor.from_dict`):
``anynet train --csv`` stores it in the checkpoint, and ``load_csv`` uses the same object, so
the command line and the Python API read tables alike.

Example:
    >>> t = Table.from_rows(["size", "colour"], [["1.5", "red"], ["NA", "blue"], ["3.5", "red"]])
    >>> pre = TablePreprocessor(missing="median", standardize=False).fit(t)
    >>> pre.feature_names
    ['size', 'colour=blue', 'colour=red']
    >>> pre.transform(t)
    array([[1.5, 0. , 1. ],
           [2.5, 1. , 0. ],
           [3.5, 0. , 1. ]])
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

from ..errors import ConfigError, InputError

#: cells that mean "no value" (compared after removing surrounding spaces, in any case)
MISSING_TOKENS = ("", "na", "nan", "null")
#: a number as a cell holds one (surrounding spaces removed): an optional sign, ASCII digits with an
#: optional decimal point, an optional exponent (``12``, ``-3.5``, ``.5``, ``5.``, ``1e-3``, ``2E+10``)
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: numbers without a finite value besides NaN (any case): in a numeric column, a missing cell
NOT_FINITE_TOKENS = ("+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")
#: how a table holds cells: variable-width strings (a fixed-width ``str`` array is as wide as its longest cell)
TEXT = np.dtypes.StringDType()
#: any character no NUMBER has, or the separator of a joined column: the fast check of a numeric column
_NOT_IN_NUMBERS = re.compile(r"[^0-9eE+\-.\n]")
#: what ``missing=`` accepts: refuse, drop the rows (done by the caller), or fill in a value
MISSING_MODES = ("error", "drop", "median", "mean", "most_frequent")
#: the ``missing=`` modes that fill cells in (learned on the training rows)
IMPUTE_MODES = ("median", "mean", "most_frequent")
#: what ``handle_unknown=`` accepts for a category not seen in training
HANDLE_UNKNOWN = ("error", "ignore")
#: ``categorical="auto"`` one-hot encodes a text column only with at most this many distinct values
AUTO_MAX_CATEGORIES = 50

_MISSING_WORDS = "empty, NA, null, NaN or infinite"
_NUMBERS_LOOK = "numbers are written like 12, -3.5, .5 or 1e-3"


def shown(cell: Any, k: int = 60) -> str:
    """A cell for a message: its repr, the first ``k`` characters of a longer one and its length."""
    cell = str(cell)
    return repr(cell) if len(cell) <= k else f"{cell[:k]!r}… ({len(cell):,} characters)"


def _listed(values: Sequence[Any], k: int = 6) -> str:
    shown = ", ".join(map(repr, values[:k]))
    return shown + (f", … ({len(values)} in all)" if len(values) > k else "")


# -- the cells ---------------------------------------------------------------------------------------
class Table:
    """A table's cells as text, column by column, with surrounding spaces removed.

    Arguments:
        columns: ``{name: cells}``, every cells a 1-D sequence of strings of the same length
            (kept as ``TEXT``, variable-width strings).
        row_numbers: the file's row number of each row, for messages (default 2, 3, …: the
            header is row 1).
        where: what the table is (a file name), for messages.

    Build one from a CSV file's rows with :meth:`from_rows`; :meth:`take` selects rows.
    """

    def __init__(self, columns: Mapping[str, Sequence[str] | np.ndarray], *, row_numbers: Any = None,
                 where: str = "table") -> None:
        self.where = where
        self.columns: dict[str, np.ndarray] = {}
        self._numbers: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        n = None
        for name, cells in columns.items():
            a = np.strings.strip(text(cells).reshape(-1))
            if n is not None and len(a) != n:
                raise InputError(f"{where}: column {name!r} has {len(a)} cells, the others {n}")
            n = len(a)
            self.columns[str(name)] = a
        n = 0 if n is None else n
        self.row_numbers = (np.arange(2, n + 2) if row_numbers is None
                            else np.asarray(row_numbers, dtype=np.int64).reshape(-1))
        if len(self.row_numbers) != n:
            raise InputError(f"{where}: {len(self.row_numbers)} row numbers for {n} rows")

    @classmethod
    def from_rows(cls, header: Sequence[str], rows: Sequence[Sequence[str]] | np.ndarray, *, where: str = "table",
                  columns: Iterable[str] | None = None) -> Table:
        """The table of ``rows`` (lists of cells in ``header``'s order, or a (rows, columns) array of
        them as ``anynet.datasets.tables.read_csv_table`` returns), keeping ``columns`` (default all)."""
        keep = list(header) if columns is None else list(columns)
        index = {h: j for j, h in enumerate(header)}
        missing = [c for c in keep if c not in index]
        if missing:
            raise InputError(f"{where}: no column {_listed(missing)}; columns: {', '.join(header)}")
        if isinstance(rows, np.ndarray) and rows.ndim == 2:
            cells = rows if rows.dtype == TEXT else rows.astype(TEXT)
            return cls({c: cells[:, index[c]] for c in keep}, where=where, row_numbers=np.arange(2, len(rows) + 2))
        by_column = list(zip(*rows)) if len(rows) else [()] * len(header)
        return cls({c: text(by_column[index[c]]) for c in keep}, where=where,
                   row_numbers=np.arange(2, len(rows) + 2))

    def __len__(self) -> int:
        return len(self.row_numbers)

    def __getitem__(self, name: str) -> np.ndarray:
        """The column's cells as a fixed-width ``str`` array, for callers that mix them with one
        (NumPy does not search or compare the two kinds together); ``columns[name]`` is the
        variable-width original, which costs memory in proportion to the cells' lengths."""
        return np.array(self.columns[name].tolist(), dtype=str).reshape(-1)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def take(self, index: Any) -> Table:
        """The rows at ``index`` (integer indices or a boolean mask), with their row numbers."""
        part = Table({}, where=self.where)  # the cells are stripped already, and their numbers known
        part.columns = {k: v[index] for k, v in self.columns.items()}
        part.row_numbers = self.row_numbers[index]
        part._numbers = {k: (v[index], m[index], w[index]) for k, (v, m, w) in self._numbers.items()}
        return part

    def numbers(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``read_numbers`` of a column, read once per table (copies: the caller may change them)."""
        if name not in self._numbers:
            self._numbers[name] = read_numbers(self.columns[name])
        values, missing, words = self._numbers[name]
        return values.copy(), missing.copy(), words.copy()

    def where_row(self, i: int) -> str:
        """``"<where>: row <file row number>"`` of the i-th row, for messages."""
        return f"{self.where}: row {int(self.row_numbers[i])}"


def text(cells: Any) -> np.ndarray:
    """``cells`` (strings: a sequence or an array of any string kind) as a ``TEXT`` array."""
    return cells if isinstance(cells, np.ndarray) and cells.dtype == TEXT else np.asarray(cells, dtype=TEXT)


def is_missing(cells: Any) -> np.ndarray:
    """Boolean mask of the cells that are empty, NA, NaN or null (any case, spaces stripped)."""
    return np.isin(np.strings.lower(np.strings.strip(text(cells))), MISSING_TOKENS)


def read_numbers(cells: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, missing, words)`` of stripped cells, each of their shape (n,).

    ``values``: float64, NaN where ``missing`` (a missing cell, a NOT_FINITE_TOKENS cell, or a
    number too large for float64) or ``words`` (a cell that is not a :data:`NUMBER`, nor missing).
    A column of numbers is parsed at NumPy's speed: one regular-expression scan of the joined
    column finds a character no number has; only then are cells matched one by one.
    """
    cells = text(cells)
    values = _only_numbers(cells)
    if values is not None:
        blank = np.zeros(len(cells), dtype=bool)
        words = blank
    else:
        lower = np.strings.lower(cells)
        blank = np.isin(lower, MISSING_TOKENS) | np.isin(lower, NOT_FINITE_TOKENS)
        plain = np.where(blank, "0", cells)
        values = _only_numbers(plain)
        words = np.zeros(len(cells), dtype=bool)
        if values is None:  # some cell is not a number: match the distinct cells
            distinct, where = np.unique(plain, return_inverse=True)
            words = np.fromiter((NUMBER.fullmatch(c) is None for c in distinct.tolist()), bool, len(distinct))
            words = words[where.reshape(-1)]
            values = np.where(words, "0", plain).astype(np.float64)
    missing = blank | ~np.isfinite(values)
    values[missing | words] = np.nan
    return values, missing, words


def _only_numbers(cells: np.ndarray) -> np.ndarray | None:
    """The float64 values of cells that are all NUMBERs, else None: one scan of the joined cells
    finds any character no number has, and on cells of digits, signs, points and exponents only
    NumPy's parse accepts exactly what NUMBER matches (it refuses an empty cell, a lone sign)."""
    if _NOT_IN_NUMBERS.search("\n".join(cells.tolist())) is not None:
        return None
    try:
        return cells.astype(np.float64)
    except ValueError:
        return None


def not_numbers(cells: Any) -> set[str]:
    """The distinct cells that are neither a :data:`NUMBER` nor missing (MISSING_TOKENS, NOT_FINITE_TOKENS)."""
    cells = text(cells)
    return set(np.unique(cells[read_numbers(cells)[2]]).tolist())


def parse_numbers(table: Table, name: str, *, hint: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``(values, missing)`` of a numeric column: float64 with NaN where ``missing`` (a missing
    cell or an infinite number). A cell that is not a :data:`NUMBER` raises InputError naming
    its row and column, followed by ``hint``."""
    cells = table.columns[name]
    values, missing, words = table.numbers(name)
    if words.any():
        i = int(np.flatnonzero(words)[0])
        cell = str(cells[i])
        look = f" ({_NUMBERS_LOOK})" if any(c.isdigit() for c in cell) else ""  # 1_000, 2020_01, ١٢, 0x10
        raise InputError(f"{table.where_row(i)}, column {name!r}: {shown(cell)} is not a number{look}{hint}")
    return values, missing


def column_kinds(table: Table, names: Sequence[str], categorical: str | Iterable[str] = "auto") -> dict[str, str]:
    """``{name: "numeric" | "categorical"}`` for the feature columns ``names``.

    With ``categorical="auto"``, a column whose cells (missing ones aside) are all numbers is
    numeric; one where none is a number is categorical when it has at most AUTO_MAX_CATEGORIES
    distinct values and repeats one (a column whose every value differs is an identifier or
    free text, not categories); anything else raises InputError naming the first cell that is
    not a number. With a list of names, those columns are categorical and every other must be
    numeric.
    """
    where = table.where
    if isinstance(categorical, str) or not isinstance(categorical, Iterable):
        if categorical != "auto":
            raise ConfigError(f"categorical must be 'auto' or a list of column names, got {categorical!r}")
        forced = None
    else:
        forced = {str(c) for c in categorical}
        feature = set(names)
        unknown = [str(c) for c in categorical if str(c) not in feature]
        if unknown:
            raise InputError(f"{where}: categorical names {_listed(unknown)}, which "
                             f"{'is' if len(unknown) == 1 else 'are'} not a feature column; "
                             f"feature columns: {', '.join(names)}")
    kinds: dict[str, str] = {}
    for name in names:
        if forced is not None:
            if name in forced:
                kinds[name] = "categorical"
            else:
                parse_numbers(table, name, hint=f"; if {name!r} holds categories, name it in categorical= "
                                                f"(anynet train: --categorical {name})")
                kinds[name] = "numeric"
            continue
        kinds[name] = _auto_kind(table, name)
    return kinds


def _auto_kind(table: Table, name: str) -> str:
    cells = table.columns[name]
    words = table.numbers(name)[2]
    if not words.any():
        return "numeric"
    present = cells[~is_missing(cells)]
    distinct = np.unique(present)
    first = int(np.flatnonzero(words)[0])
    head = f"{table.where_row(first)}, column {name!r}: {shown(cells[first])} is not a number"
    how = (f"drop it (drop=[{name!r}], anynet train: --drop {name}) or name it in categorical= "
           f"(--categorical {name}) to one-hot encode it anyway")
    if int(words.sum()) < len(present):  # some cells are numbers: more likely a typo than categories
        raise InputError(f"{head}, while other cells of the column are numbers; fix the cell, or name the column in "
                         f"categorical= (anynet train: --categorical {name}) if it holds categories")
    if len(distinct) == len(present) and len(present) > 1:
        raise InputError(f"{head}, and as text it differs in every one of its {len(present)} rows (an identifier "
                         f"or free text, not categories); {how}")
    if len(distinct) > AUTO_MAX_CATEGORIES:
        raise InputError(f"{head}, and as text it has {len(distinct)} distinct values, more than the "
                         f"{AUTO_MAX_CATEGORIES} categories that categorical='auto' one-hot encodes; {how}")
    return "categorical"


# -- what is learned per column ----------------------------------------------------------------------------
@dataclass
class ColumnSpec:
    """How one raw column becomes network inputs.

    Attributes:
        name: the column's name.
        kind: ``"numeric"`` (one input) or ``"categorical"`` (one 0/1 input per category).
        categories: the sorted categories (categorical only).
        fill: the value that replaces a missing cell (a number, or a category), or None: a
            missing cell is an error.
        mean, scale: a numeric input is ``(x - mean) / scale``.
    """

    name: str
    kind: str
    categories: list[str] = field(default_factory=list)
    fill: float | str | None = None
    mean: float = 0.0
    scale: float = 1.0

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)

    @property
    def feature_names(self) -> list[str]:
        return [self.name] if self.kind == "numeric" else [f"{self.name}={c}" for c in self.categories]


class TablePreprocessor:
    """Learns from training rows how to turn a :class:`Table` into a network's float inputs.

    Arguments:
        categorical: ``"auto"`` (see ``column_kinds``) or the names of the categorical columns.
        missing: ``"error"`` (a missing cell raises InputError), ``"drop"`` (the same here: the
            caller drops incomplete rows before fitting, and later tables must be complete),
            or ``"median"``, ``"mean"``, ``"most_frequent"``: the value filled into missing
            numeric cells, learned on the training rows (categorical columns always take their
            most frequent category).
        handle_unknown: a category not seen in fitting raises InputError (``"error"``) or is
            encoded as all zeros (``"ignore"``).
        standardize: scale numeric columns to zero mean, unit variance on the training rows
            (one-hot inputs stay 0/1).

    Attributes (after :meth:`fit`):
        specs: one ``ColumnSpec`` per raw column, in the table's order.
        names: the raw columns it reads; feature_names: the inputs it makes, in order
            (``"col"`` for a numeric column, ``"col=category"`` for a one-hot input).

    Shapes:
        transform: a table of n rows → float64 (n, n_features).
    """

    def __init__(self, *, categorical: str | Iterable[str] = "auto", missing: str = "error",
                 handle_unknown: str = "error", standardize: bool = True) -> None:
        if missing not in MISSING_MODES:
            raise ConfigError(f"missing must be one of {', '.join(map(repr, MISSING_MODES))}, got {missing!r}")
        check_handle_unknown(handle_unknown)
        if not isinstance(categorical, str) and isinstance(categorical, Iterable):
            categorical = [str(c) for c in categorical]
        elif categorical != "auto":
            raise ConfigError(f"categorical must be 'auto' or a list of column names, got {categorical!r}")
        self.categorical = categorical
        self.missing = missing
        self.handle_unknown = handle_unknown
        self.standardize = bool(standardize)
        self.specs: list[ColumnSpec] = []

    def __repr__(self) -> str:
        state = f", {len(self.specs)} columns → {self.n_features} inputs" if self.specs else ", not fitted"
        return f"TablePreprocessor(missing={self.missing!r}, handle_unknown={self.handle_unknown!r}{state})"

    # -- learning ---------------------------------------------------------------------------------------
    def fit(self, table: Table, names: Sequence[str] | None = None, *, vocabulary: Table | None = None
            ) -> TablePreprocessor:
        """Learn from the training rows ``table``: which columns are categorical and their
        categories (from ``vocabulary``, default ``table``: every value a column takes in the
        file, so a category seen only among the test rows is still known), fill values and
        standardisation (from ``table`` only). ``names``: the feature columns (default all)."""
        names = table.names if names is None else list(names)
        if not names:
            raise InputError(f"{table.where}: no feature columns")
        if len(table) == 0:
            raise InputError(f"{table.where}: no rows to fit on")
        vocab = table if vocabulary is None else vocabulary
        kinds = column_kinds(vocab, names, self.categorical)
        impute = self.missing in IMPUTE_MODES
        specs = []
        for name in names:
            if kinds[name] == "numeric":
                values, missing = parse_numbers(table, name)
                spec = ColumnSpec(name, "numeric")
                if missing.any() and not impute:
                    i = int(np.flatnonzero(missing)[0])
                    raise InputError(f"{table.where_row(i)}, column {name!r} is missing "
                                     f"({str(table.columns[name][i])!r}); with missing={self.missing!r} the rows to "
                                     "fit on must be complete")
                present = values[~missing]
                if impute:
                    if present.size == 0:
                        raise InputError(f"{table.where}: column {name!r} has no value in the training rows to learn "
                                         f"a fill value from; drop it")
                    spec.fill = float(_fill_number(present, self.missing))
                    values = np.where(missing, spec.fill, values)
                if self.standardize:
                    std = float(values.std())
                    spec.mean, spec.scale = float(values.mean()), std if std > 0 else 1.0
            else:
                cells = table.columns[name]
                missing = is_missing(cells)
                vocab_cells = vocab.columns[name]
                spec = ColumnSpec(name, "categorical",
                                  categories=sorted(map(str, np.unique(vocab_cells[~is_missing(vocab_cells)]))))
                if not spec.categories:
                    raise InputError(f"{table.where}: column {name!r} has no values, only missing cells; drop it")
                if missing.any() and not impute:
                    i = int(np.flatnonzero(missing)[0])
                    raise InputError(f"{table.where_row(i)}, column {name!r} is missing ({str(cells[i])!r}); "
                                     f"with missing={self.missing!r} the rows to fit on must be complete")
                if impute:
                    present = cells[~missing]
                    if present.size == 0:
                        raise InputError(f"{table.where}: column {name!r} has no value in the training rows to learn "
                                         f"a fill value from; drop it")
                    cats, counts = np.unique(present, return_counts=True)
                    spec.fill = str(cats[int(np.argmax(counts))])  # ties: the first in sorted order
            specs.append(spec)
        self.specs = specs
        return self

    def fit_transform(self, table: Table, names: Sequence[str] | None = None, *,
                      vocabulary: Table | None = None) -> np.ndarray:
        return self.fit(table, names, vocabulary=vocabulary).transform(table)

    @classmethod
    def numeric(cls, names: Sequence[str], *, mean: Any = None, scale: Any = None) -> TablePreprocessor:
        """A fitted preprocessor of numeric columns ``names`` with no fill values, scaling
        ``(x - mean) / scale`` (default: none). How named data sets and checkpoints of
        command-line metadata version 1 read CSV files."""
        pre = cls(categorical=[], standardize=mean is not None)
        n = len(names)
        mean = np.zeros(n) if mean is None else np.asarray(mean, dtype=np.float64).reshape(-1)
        scale = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)
        if len(mean) != n or len(scale) != n:
            raise InputError(f"TablePreprocessor.numeric: {n} names but {len(mean)} means and {len(scale)} scales")
        pre.specs = [ColumnSpec(str(c), "numeric", mean=float(m), scale=float(s))
                     for c, m, s in zip(names, mean, scale)]
        return pre

    # -- what was learned -------------------------------------------------------------------------------
    def _fitted(self, what: str) -> list[ColumnSpec]:
        if not self.specs:
            raise InputError(f"TablePreprocessor.{what}: not fitted yet; call fit(table) first")
        return self.specs

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def feature_names(self) -> list[str]:
        return [f for s in self.specs for f in s.feature_names]

    @property
    def n_features(self) -> int:
        return sum(s.width for s in self.specs)

    def scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, scale)`` of every network input (one-hot inputs: 0 and 1)."""
        specs = self._fitted("scaling")
        mean = np.concatenate([np.full(s.width, s.mean) for s in specs])
        scale = np.concatenate([np.full(s.width, s.scale) for s in specs])
        return mean, scale

    # -- applying it ------------------------------------------------------------------------------------
    def transform(self, table: Table, *, handle_unknown: str | None = None) -> np.ndarray:
        """The float64 (rows, n_features) inputs of ``table`` (matched by column name).

        ``handle_unknown`` overrides the fitted setting for this call. A cell that is not a
        number, a missing cell without a fill value, or an unknown category (unless ignored)
        raises InputError naming the row, the column and the value.
        """
        specs = self._fitted("transform")
        handle_unknown = self.handle_unknown if handle_unknown is None else check_handle_unknown(handle_unknown)
        absent = [s.name for s in specs if s.name not in table.columns]
        if absent:
            raise InputError(f"{table.where}: no column {_listed(absent)}; columns: {', '.join(table.names)}")
        parts = []
        for s in specs:
            if s.kind == "numeric":
                values, missing = parse_numbers(table, s.name)
                if missing.any():
                    values = np.where(missing, self._fill(s, table, missing), values)
                parts.append(((values - s.mean) / s.scale)[:, None])
                continue
            cells = table.columns[s.name]
            missing = is_missing(cells)
            if missing.any():
                cells = np.where(missing, self._fill(s, table, missing), cells)
            # each distinct cell looked up once (NumPy 2's searchsorted misreads variable-width strings)
            index = {c: k for k, c in enumerate(s.categories)}
            distinct, inverse = np.unique(cells, return_inverse=True)
            pos = np.fromiter((index.get(c, -1) for c in distinct.tolist()), np.int64, len(distinct))
            pos = pos[inverse.reshape(-1)]
            known = pos >= 0
            if not known.all() and handle_unknown == "error":
                i = int(np.flatnonzero(~known)[0])
                raise InputError(f"{table.where_row(i)}, column {s.name!r}: {shown(cells[i])} is not one of the "
                                 f"{len(index)} categories the model knows ({_listed(s.categories)}); encode unknown "
                                 "categories as all zeros with handle_unknown='ignore' (--handle-unknown ignore)")
            parts.append(pos[:, None] == np.arange(len(index)))
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=1)

    def _fill(self, s: ColumnSpec, table: Table, missing: np.ndarray) -> float | str:
        if s.fill is None:
            i = int(np.flatnonzero(missing)[0])
            raise InputError(f"{table.where_row(i)}, column {s.name!r} is missing "
                             f"({str(table.columns[s.name][i])!r}) and the model has no value to fill in (it was "
                             f"trained with missing={self.missing!r}); fill "
                             "the cell or remove the row")
        return s.fill

    def missing_rows(self, table: Table) -> np.ndarray:
        """Boolean mask of the rows with a missing cell in one of the columns this reads."""
        mask = np.zeros(len(table), dtype=bool)
        for s in self._fitted("missing_rows"):
            mask |= parse_numbers(table, s.name)[1] if s.kind == "numeric" else is_missing(table.columns[s.name])
        return mask

    def describe(self) -> str:
        """One line: the raw columns and the inputs they make."""
        specs = self._fitted("describe")
        numeric = [s.name for s in specs if s.kind == "numeric"]
        onehot = [f"{s.name}: {len(s.categories)} categories" for s in specs if s.kind == "categorical"]
        parts = []
        if numeric:
            scaled = ", standardised" if self.standardize else ""
            more = ", …" if len(numeric) > 8 else ""
            parts.append(f"{len(numeric)} numeric{scaled} ({', '.join(numeric[:8])}{more})")
        if onehot:
            parts.append(f"{len(onehot)} one-hot ({', '.join(onehot[:8])}{', …' if len(onehot) > 8 else ''})")
        return f"{len(specs)} columns → {self.n_features} inputs: " + "; ".join(parts)

    # -- saving -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"missing", "handle_unknown", "standardize", "columns": [{"name", "kind",
        "categories" (categorical), "fill", "mean", "scale" (numeric)}, ...]}``."""
        columns: list[dict[str, Any]] = []
        for s in self._fitted("to_dict"):
            if s.kind == "numeric":
                columns.append({"name": s.name, "kind": "numeric", "fill": s.fill, "mean": s.mean, "scale": s.scale})
            else:
                columns.append({"name": s.name, "kind": "categorical", "categories": list(s.categories),
                                "fill": s.fill})
        return {"missing": self.missing, "handle_unknown": self.handle_unknown, "standardize": self.standardize,
                "columns": columns}

    @classmethod
    def from_dict(cls, d: Any) -> TablePreprocessor:
        """The preprocessor :meth:`to_dict` described; InputError saying what is malformed."""
        def bad(what: str) -> InputError:
            return InputError(f"TablePreprocessor.from_dict: {what}")

        if not isinstance(d, Mapping):
            raise bad(f"expected a dict, got {type(d).__name__}")
        if d.get("missing") not in MISSING_MODES or d.get("handle_unknown") not in HANDLE_UNKNOWN:
            raise bad(f"missing {d.get('missing')!r} or handle_unknown {d.get('handle_unknown')!r} is not known")
        if not isinstance(d.get("standardize"), bool):
            raise bad("standardize must be true or false")
        columns = d.get("columns")
        if not isinstance(columns, list) or not columns:
            raise bad("columns must be a non-empty list")
        impute = d["missing"] in IMPUTE_MODES
        specs = []
        for c in columns:
            if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
                raise bad(f"a column must be a dict with a name, got {str(c)[:80]}")
            name, kind, fill = c["name"], c.get("kind"), c.get("fill")
            if kind == "numeric":
                mean, scale = c.get("mean"), c.get("scale")
                if not (_finite(mean) and _finite(scale) and scale > 0):
                    raise bad(f"column {name!r}: mean and scale must be finite numbers, scale > 0")
                if not (fill is None or _finite(fill)):
                    raise bad(f"column {name!r}: fill must be a finite number or null, got {fill!r}")
                specs.append(ColumnSpec(name, "numeric", fill=None if fill is None else float(fill),
                                        mean=float(mean), scale=float(scale)))
            elif kind == "categorical":
                cats = c.get("categories")
                if not (isinstance(cats, list) and cats and all(isinstance(v, str) for v in cats)
                        and cats == sorted(set(cats)) and not is_missing(np.asarray(cats, dtype=str)).any()):
                    raise bad(f"column {name!r}: categories must be distinct, sorted, non-missing strings")
                if not (fill is None or fill in cats):
                    raise bad(f"column {name!r}: fill {fill!r} is not one of its categories")
                specs.append(ColumnSpec(name, "categorical", categories=list(cats), fill=fill))
            else:
                raise bad(f"column {name!r}: kind must be 'numeric' or 'categorical', got {kind!r}")
            if (specs[-1].fill is not None) != impute:
                raise bad(f"column {name!r}: fill {fill!r} disagrees with missing={d['missing']!r}")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise bad("column names repeat")
        pre = cls(categorical=[s.name for s in specs if s.kind == "categorical"], missing=d["missing"],
                  handle_unknown=d["handle_unknown"], standardize=d["standardize"])
        pre.specs = specs
        return pre


def check_handle_unknown(handle_unknown: Any) -> str:
    """``handle_unknown`` if it is 'error' or 'ignore', else ConfigError."""
    if handle_unknown not in HANDLE_UNKNOWN:
        raise ConfigError(f"handle_unknown must be 'error' or 'ignore', got {handle_unknown!r}")
    return handle_unknown


def _finite(v: Any) -> TypeGuard[float]:
    """A real number (not bool) that is finite; a float to the type checker, which is how callers use it."""
    real = isinstance(v, numbers.Real) and not isinstance(v, bool)
    return real and bool(np.isfinite(v))


def _fill_number(values: np.ndarray, how: str) -> float:
    if how == "median":
        return float(np.median(values))
    if how == "mean":
        return float(np.mean(values))
    distinct, counts = np.unique(values, return_counts=True)
    return float(distinct[int(np.argmax(counts))])  # ties: the smallest


def missing_message(table: Table, masks: Mapping[str, np.ndarray]) -> str:
    """What ``missing="error"`` says: how many rows, which columns, and the way on."""
    rows = np.zeros(len(table), dtype=bool)
    for m in masks.values():
        rows |= m
    counts = [(name, int(m.sum())) for name, m in masks.items() if m.any()]
    first = int(np.flatnonzero(rows)[0])
    first_col = next(name for name, m in masks.items() if m[first])
    cols = ", ".join(f"{name!r} ({k} row{'s' if k > 1 else ''})" for name, k in counts[:8])
    more = f", … ({len(counts)} columns)" if len(counts) > 8 else ""
    n = int(rows.sum())
    return (f"{table.where}: {n} of {len(table)} rows {'have' if n > 1 else 'has'} missing values (cells that are "
            f"{_MISSING_WORDS}) in column{'s' if len(counts) > 1 else ''} {cols}{more}; the first is row "
            f"{int(table.row_numbers[first])}, column {first_col!r}. Drop those rows with missing='drop' or fill "
            "them with missing='median', 'mean' or 'most_frequent' (anynet train: --dropna, or --impute "
            "median|mean|most_frequent)")
