"""pandas DataFrames and Series, and nested lists, in fit / predict / evaluate."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import anynet
from anynet import Sequential
from anynet.errors import InputError, InputTypeError
from anynet.layers import Dense

pd = pytest.importorskip("pandas", reason="pandas is not installed (pip install 'anynet-nn[pandas]')")


def _frame(n=60, seed=0):
    g = np.random.default_rng(seed)
    df = pd.DataFrame({"a": g.standard_normal(n), "b": g.standard_normal(n), "c": g.integers(0, 3, n)})
    y = pd.Series((df["a"] + df["b"] > 0).astype(int), name="label")
    return df, y


def _fitted(tmp_path=None):
    df, y = _frame()
    model = Sequential([Dense(3, 8, activation="tanh"), Dense(8, 2)], seed=0)
    model.fit(df, y, loss="softmax_cross_entropy", optimizer="adam", epochs=3, verbose=0, metrics=["accuracy"])
    return model, df, y


def test_a_dataframe_fits_and_its_columns_are_remembered_through_a_checkpoint(tmp_path):
    model, df, y = _fitted()
    assert model.metadata["feature_names"] == ["a", "b", "c"]
    model.save(tmp_path / "m.safetensors")
    again = anynet.load(tmp_path / "m.safetensors")
    assert again.metadata["feature_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(again.predict(df), model.predict(df))


def test_columns_are_matched_by_name(tmp_path):
    model, df, y = _fitted()
    reordered = df[["c", "a", "b"]]
    np.testing.assert_array_equal(model.predict(reordered), model.predict(df))
    np.testing.assert_array_equal(model.predict(df), model.predict(df.to_numpy()))
    assert model.evaluate(reordered, y) == model.evaluate(df, y)


def test_a_missing_or_unknown_column_is_named():
    model, df, _ = _fitted()
    with pytest.raises(InputError, match=r"missing \['b'\], unknown \[\]"):
        model.predict(df[["a", "c"]])
    with pytest.raises(InputError, match=r"missing \['c'\], unknown \['d'\]"):
        model.predict(df.rename(columns={"c": "d"}))


def test_non_numeric_columns_and_duplicates_are_refused():
    model, df, _ = _fitted()
    with pytest.raises(InputTypeError, match="column 'c' has dtype object"):
        model.predict(df.assign(c=["x"] * len(df)))
    dup = pd.concat([df[["a", "b"]], df[["a"]]], axis=1)
    with pytest.raises(InputError, match=r"duplicate column names \['a'\]"):
        model.predict(dup)


def test_series_targets_and_nested_lists():
    df, y = _frame()
    model = Sequential([Dense(3, 1)], seed=0)
    model.fit(df.to_numpy().tolist(), (df["a"] * 2).tolist(), loss="mse", optimizer="sgd", epochs=2, verbose=0)
    out = model.predict(df.to_numpy().tolist())
    assert isinstance(out, np.ndarray) and out.shape == (60, 1)
    model.fit(df, df["a"] * 2, loss="mse", optimizer="sgd", epochs=1, verbose=0)


def test_pandas_is_imported_only_when_given():
    code = ("import sys, numpy as np, anynet; from anynet.layers import Dense\n"
            "m = anynet.Sequential([Dense(2, 1)], seed=0)\n"
            "m.fit(np.ones((4, 2)), np.ones(4), loss='mse', optimizer='sgd', verbose=0); m.predict([[1.0, 2.0]])\n"
            "assert 'pandas' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
