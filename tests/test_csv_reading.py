"""Reading CSV files: what a number is, unnamed columns, memory, many columns, FIFOs, encodings."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from anynet.datasets import Table, TablePreprocessor, load_csv
from anynet.datasets.preprocess import column_kinds, parse_numbers, read_numbers, text
from anynet.datasets.tables import read_csv_table
from anynet.errors import InputError


def _csv(path: Path, text_: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text_.encode(encoding))
    return path


def _table(cells: list[str]) -> Table:
    return Table({"x": cells}, where="t.csv")


# -- what a number is -----------------------------------------------------------------------------
@pytest.mark.parametrize("cell,value", [
    ("12", 12.0), ("-3.5", -3.5), ("+4", 4.0), (".5", 0.5), ("5.", 5.0), ("1e5", 1e5), ("2E-3", 2e-3),
    ("-.5e+2", -50.0), (" 7 ", 7.0), ("0012", 12.0),
])
def test_numbers_are_sign_digits_point_exponent(cell, value):
    values, missing = parse_numbers(_table([cell, "1"]), "x")
    assert values[0] == value and not missing.any()


@pytest.mark.parametrize("cell", ["2020_01", "1_000", "0x10", "١٢", "٣", "1e", ".", "+", "e5", "1.2.3", "1,5",
                                  "12abc", "1 000", "½"])
def test_what_python_float_reads_is_not_always_a_number(cell):
    # float() reads 2020_01 as 202001, 1_000 as 1000 and ١٢ as 12: a CSV file means text by them
    table = _table(["1", cell, "3"])
    with pytest.raises(InputError, match=r"t\.csv: row 3, column 'x': .* is not a number"):
        parse_numbers(table, "x")
    assert read_numbers(text(["1", cell, "3"]))[2].tolist() == [False, True, False]


def test_a_column_of_underscored_codes_is_categories_not_numbers():
    t = Table({"month": ["2020_01", "2020_02", "2020_01", "2020_03"] * 3, "v": ["1", "2", "3", "4"] * 3})
    assert column_kinds(t, ["month", "v"]) == {"month": "categorical", "v": "numeric"}
    with pytest.raises(InputError, match=r"'2020_01' is not a number \(numbers are written like 12, -3\.5"):
        column_kinds(t, ["month", "v"], categorical=[])


@pytest.mark.parametrize("cell", ["", "NA", "nan", "NaN", "-nan", "+NaN", "null", "inf", "-inf", "+Infinity",
                                  "INF", "1e999", "-1e999"])
def test_no_value_cells_and_infinities_are_missing(cell):
    values, missing = parse_numbers(_table(["1", cell]), "x")
    assert missing.tolist() == [False, True] and np.isnan(values[1]) and values[0] == 1.0


def test_numbers_parse_exactly_as_float64():
    g = np.random.default_rng(0)
    v = np.r_[g.standard_normal(500) * 10.0 ** g.integers(-30, 30, 500), 1.7e9 + g.integers(0, 1000, 50)]
    cells = [repr(float(x)) for x in v] + [f"{x:.17e}" for x in v]
    values, missing, words = read_numbers(text(cells))
    assert not missing.any() and not words.any()
    np.testing.assert_array_equal(values, [float(c) for c in cells])


def test_load_csv_refuses_a_python_only_number_in_a_numeric_column(tmp_path):
    p = _csv(tmp_path / "t.csv", "a,y\n1,0\n2,1\n1_000,0\n4,1\n")
    with pytest.raises(InputError, match=r"row 4, column 'a': '1_000' is not a number, while other cells"):
        load_csv(p, "y")


def _best(f, k=3):
    out = []
    for _ in range(k):
        start = time.process_time()
        f()
        out.append(time.process_time() - start)
    return min(out)


def test_reading_numbers_is_as_fast_as_numpys_parse():
    g = np.random.default_rng(0)
    cells = [f"{v:.6f}" for v in g.standard_normal(200_000)]
    fixed, cells_ = np.asarray(cells, dtype=str), text(cells)
    numpy_parse = _best(lambda: np.strings.strip(fixed).astype(np.float64))  # what anynet did before
    ours = _best(lambda: read_numbers(cells_))
    assert ours < 4 * numpy_parse + 0.01, (ours, numpy_parse)


# -- columns without a name ----------------------------------------------------------------------------
def test_pandas_index_column_is_dropped_with_a_notice(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    g = np.random.default_rng(0)
    frame = pd.DataFrame({"a": g.standard_normal(40), "b": g.standard_normal(40), "y": np.arange(40) % 2})
    frame.to_csv(tmp_path / "t.csv")  # the default: an unnamed index column 0..39 first
    notes: list[str] = []
    header, rows = read_csv_table(tmp_path / "t.csv", notes=notes)
    assert header == ["a", "b", "y"] and rows.shape == (40, 3)
    assert len(notes) == 1 and "column 1 has no name and holds 0, 1, …, 39" in notes[0]
    assert "to_csv(index=False)" in notes[0]
    with pytest.warns(UserWarning, match="the index pandas' to_csv"):
        ds = load_csv(tmp_path / "t.csv", "y")
    assert ds.columns == ["a", "b"] and ds.feature_names == ["a", "b"] and ds.notes == notes
    given: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with notes=, no warning
        assert load_csv(tmp_path / "t.csv", "y", notes=given).notes == given == notes
    # the command line: the index is no feature, and the model exports (a column named '' made export fail)
    from anynet.cli import main

    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:  # a warning, or a note the command prints
        warnings.simplefilter("always")
        assert main(["train", "--csv", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path / "r")]) == 0
    assert "the index pandas' to_csv" in capsys.readouterr().err + " ".join(str(w.message) for w in caught)
    pytest.importorskip("onnx")
    assert main(["export", str(tmp_path / "r" / "model.safetensors"), str(tmp_path / "m.onnx")]) == 0


def test_a_comma_ending_every_line_is_dropped_with_a_notice(tmp_path):
    p = _csv(tmp_path / "t.csv", "a,b,y,\n" + "".join(f"{i},{i * 2},{i % 2},\n" for i in range(10)))
    notes: list[str] = []
    header, rows = read_csv_table(p, notes=notes)
    assert header == ["a", "b", "y"] and rows.shape == (10, 3)
    assert notes == [f"{p}: column 4 has no name and no values (a comma ending every line?); left out"]


@pytest.mark.parametrize("text_,where", [
    ("a,,y\n1,5,0\n2,6,1\n", "column 2 has no name .* its cells begin '5', '6'"),
    (",a,y\n3,1,0\n4,2,1\n", "column 1 has no name .* its cells begin '3', '4'"),  # not 0..n-1: a real column
    ("a,y,\n1,0,\n2,1,x\n", "column 3 has no name"),
])
def test_another_column_without_a_name_is_refused(tmp_path, text_, where):
    with pytest.raises(InputError, match=where + r".*name it in the header row"):
        read_csv_table(_csv(tmp_path / "t.csv", text_), notes=[])


# -- memory ----------------------------------------------------------------------------------------------
def _peak(f):
    gc.collect()
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_one_long_cell_costs_its_own_length(tmp_path):
    # a fixed-width string column is as wide as its longest cell: 7,000 rows x 10,000 characters x 4 bytes
    # made 280 MB per copy of a 96 KB file (1.2 GB peak); cells are variable-width now
    g = np.random.default_rng(0)
    lines = [f"{i % 50},{g.normal():.2f},{'abc'[i % 3] if i != 10 else 'z' * 10_000},{i % 2}" for i in range(7000)]
    p = _csv(tmp_path / "long.csv", "n,x,kind,y\n" + "\n".join(lines) + "\n")
    size = p.stat().st_size

    def read():
        header, rows = read_csv_table(p)
        return Table.from_rows(header, rows, where=str(p))

    assert _peak(read) < 20 * size
    assert _peak(lambda: load_csv(p, "y", categorical=["kind"])) < 50 * size


# -- many columns -------------------------------------------------------------------------------------------
def _wide(path, k, rows=6):
    g = np.random.default_rng(0)
    body = "\n".join(",".join(f"{v:.3f}" for v in g.standard_normal(k)) + f",{i % 2}" for i in range(rows))
    return _csv(path, ",".join([f"c{j}" for j in range(k)] + ["y"]) + "\n" + body + "\n")


def test_checking_columns_is_linear_in_their_number(tmp_path):
    small, big = _wide(tmp_path / "s.csv", 4_000), _wide(tmp_path / "b.csv", 40_000)

    def read(p, k):
        def run():  # half the columns dropped: a list searched per column made this quadratic
            ds = load_csv(p, "y", task="classification", test_size=0.34, drop=[f"c{j}" for j in range(1, k, 2)],
                          categorical=[])
            header, rows = read_csv_table(p)
            table = Table.from_rows(header, rows, columns=ds.columns)
            ds.preprocessor.transform(table)
            TablePreprocessor.from_dict(ds.preprocessor.to_dict())
        return run

    read(small, 4_000)()  # imports, caches
    ratio = _best(read(big, 40_000), 2) / _best(read(small, 4_000), 2)
    assert ratio < 20, ratio  # 10x the columns; quadratic steps would make it ~100x


def test_predict_with_many_columns_is_linear(tmp_path):
    from anynet.cli import main

    times = []
    for k in (2_000, 20_000):  # fewer than 40,000 columns: the quadratic version takes a minute there
        p = _wide(tmp_path / f"w{k}.csv", k)
        assert main(["train", "--csv", str(p), "--target", "y", "--task", "classification", "--epochs", "1",
                     "--layers", "", "--quiet", "--out", str(tmp_path / f"r{k}")]) == 0
        start = time.process_time()
        assert main(["predict", str(tmp_path / f"r{k}" / "model.safetensors"), str(p), "--output",
                     str(tmp_path / f"p{k}.csv")]) == 0
        times.append(time.process_time() - start)
    assert times[1] < 20 * times[0], times


# -- what is read ---------------------------------------------------------------------------------------------
def _returns_within(f, seconds=10):
    out: list = []
    t = threading.Thread(target=lambda: out.append(_outcome(f)), daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"still blocked after {seconds} s"
    return out[0]


def _outcome(f):
    try:
        return f()
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return exc


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_before_it_blocks(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    try:
        for f in (lambda: load_csv(fifo, "y"), lambda: read_csv_table(fifo)):
            exc = _returns_within(f)
            assert isinstance(exc, InputError) and "pipe.csv: not a regular file" in str(exc), exc
    finally:
        try:  # unblock a reader the old code left waiting
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        read_csv_table(tmp_path)
    with pytest.raises(InputError, match="cannot read CSV .*nothere.csv"):
        read_csv_table(tmp_path / "nothere.csv")
    with pytest.raises(InputError, match="empty.csv: the file is empty; a CSV file needs a header row"):
        read_csv_table(_csv(tmp_path / "empty.csv", ""))


def test_an_unclosed_quote_is_named_with_its_row(tmp_path):
    p = _csv(tmp_path / "t.csv", 'a,b\n1,2\n3,"x\n' + "4,5\n" * 40_000)
    with pytest.raises(InputError, match=r"t\.csv: not a readable CSV file at row 3 \(field larger than field limit "
                                         r".*a quote \(\"\) opened and never closed"):
        read_csv_table(p)


def test_a_long_cell_is_shortened_in_messages(tmp_path):
    p = _csv(tmp_path / "t.csv", "a,y\n1,0\n" + "7" * 50 + "x" * 20_000 + ",1\n3,0\n")
    with pytest.raises(InputError) as info:
        load_csv(p, "y")
    message = str(info.value)
    assert len(message) < 600 and "(20,050 characters) is not a number" in message, message


def test_excels_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    p = _csv(tmp_path / "t.csv", "\ufeffsize,colour,y\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n")
    header, rows = read_csv_table(p)
    assert header == ["size", "colour", "y"] and rows[0].tolist() == ["1", "red", "0"]
    assert load_csv(p, "y", task="classification").columns == ["size", "colour"]


def test_a_file_that_is_not_utf8_is_named_with_its_line_and_byte(tmp_path):
    p = _csv(tmp_path / "latin.csv", "a,colour,y\n1,blue,0\n2,café,1\n", encoding="latin-1")
    with pytest.raises(InputError) as info:
        read_csv_table(p)
    message = str(info.value)
    assert "latin.csv: not UTF-8 text: line 3, the byte at offset 25 is" in message and "b'\\xe9'" in message
    assert "re-save it as UTF-8" in message


def test_utf8_is_read_whatever_the_locale(tmp_path):
    p = _csv(tmp_path / "t.csv", "\ufeffgröße,farbe,y\n" + "".join(f"{i},{'rötlich' if i % 2 else 'blau'},{i % 2}\n"
                                                               for i in range(12)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG", "LC_CTYPE")}
    env.update(LC_ALL="C", PYTHONUTF8="0")
    code = ("import sys; from anynet.datasets import load_csv; ds = load_csv(sys.argv[1], 'y', task='classification'); "
            "print(ascii(ds.columns), ascii(ds.feature_names))")
    out = subprocess.run([sys.executable, "-c", code, str(p)], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ascii(["größe", "farbe"]) + " " + ascii(["größe", "farbe=blau", "farbe=rötlich"])
