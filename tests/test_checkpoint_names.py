"""Checkpoint names as Keras and PyTorch users write them: ModelCheckpoint paths that format any
logged value, extensions of other formats refused (anynet.saving_names), and the epoch lines'
fixed 4 significant digits."""

from __future__ import annotations

import os

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim
from anynet.callbacks import ModelCheckpoint, format_logged
from anynet.errors import ConfigError
from anynet.layers import Dense
from anynet.saving_names import FOREIGN_EXTENSIONS, check_checkpoint_name


def _fit(callbacks, *, epochs=3, validation=True, verbose=0):
    g = np.random.default_rng(0)
    X = g.standard_normal((32, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5
    model = Sequential([Dense(2, 4, activation="tanh"), Dense(4, 1)], seed=0)
    history = model.fit(X, y, loss="mse", optimizer=optim.SGD(lr=0.05), epochs=epochs, batch_size=8,
                        metrics=["mae"], validation_data=(X[:8], y[:8]) if validation else None,
                        callbacks=callbacks, verbose=verbose)
    return model, history


# -- ModelCheckpoint paths ------------------------------------------------------------------------------
def test_checkpoint_path_formats_epoch_and_logged_values_as_keras(tmp_path):
    ck = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}-{mae:.2f}.safetensors")
    _, history = _fit([ck])
    expected = [f"ckpt-{e + 1:02d}-{v:.3f}-{m:.2f}.safetensors"
                for e, v, m in zip(history.epoch, history["val_loss"], history["mae"])]
    assert [os.path.basename(p) for p in ck.saved] == expected
    assert expected[0].startswith("ckpt-01-")  # 1-based in the name, as Keras and {epoch} were before
    assert sorted(os.listdir(tmp_path)) == sorted(expected)
    assert anynet.load(ck.saved[1]).train_state["epoch"] == 2


def test_plain_epoch_field_is_unchanged(tmp_path):
    ck = ModelCheckpoint(tmp_path / "e{epoch}.safetensors")
    _fit([ck], epochs=2)
    assert [os.path.basename(p) for p in ck.saved] == ["e1.safetensors", "e2.safetensors"]


def test_checkpoint_field_not_logged_names_the_keys_before_writing(tmp_path):
    ck = ModelCheckpoint(tmp_path / "ckpt-{epoch}-{val_accuracy:.3f}.safetensors")
    with pytest.raises(ConfigError, match=r"needs \{val_accuracy\}.*nothing was saved\. Logged: epoch, loss, mae, "
                                          r"val_loss, val_mae, lr"):
        _fit([ck])
    assert os.listdir(tmp_path) == [] and ck.saved == []


def test_checkpoint_val_field_without_validation_says_why(tmp_path):
    ck = ModelCheckpoint(tmp_path / "{val_loss:.3f}.safetensors")
    with pytest.raises(ConfigError, match=r"needs \{val_loss\}.*need validation_data or validation_split"):
        _fit([ck], validation=False)
    assert os.listdir(tmp_path) == []


def test_checkpoint_field_with_a_bad_format_spec_is_a_config_error(tmp_path):
    ck = ModelCheckpoint(tmp_path / "{loss:02d}.safetensors")  # loss is a float: d does not apply
    with pytest.raises(ConfigError, match=r"cannot format epoch 1's values.*\{epoch:02d\}"):
        _fit([ck])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path,pattern", [
    ("e{epoch", "is not a valid format string"),
    ("e{}.safetensors", r"has the field \{\}"),
    ("e{0}.safetensors", r"has the field \{0\}"),
    ("e{a.b}.safetensors", r"has the field \{a\.b\}"),
    ("e{epoch}.pt", r"ModelCheckpoint: 'e\{epoch\}\.pt' ends in \.pt, PyTorch's format"),
])
def test_checkpoint_path_refused_at_construction(path, pattern):
    with pytest.raises(ConfigError, match=pattern):
        ModelCheckpoint(path)


# -- extensions of other formats --------------------------------------------------------------------------
@pytest.mark.parametrize("ext", sorted(FOREIGN_EXTENSIONS))
def test_save_name_of_another_format_is_refused(ext):
    with pytest.raises(ConfigError, match=rf"save: 'model{ext}' ends in \{ext}, .*save it as 'model\.safetensors'"):
        check_checkpoint_name(f"model{ext}")
    with pytest.raises(ConfigError, match=r"ends in"):
        check_checkpoint_name(f"runs/Model{ext.upper()}")


def test_save_name_messages_name_the_format_and_onnx():
    with pytest.raises(ConfigError) as info:
        check_checkpoint_name("m.pt")
    assert "PyTorch" in str(info.value) and "anynet.onnx.export" in str(info.value)
    with pytest.raises(ConfigError, match="Keras"):
        check_checkpoint_name("m.keras")
    with pytest.raises(ConfigError, match=r"to write ONNX use anynet\.onnx\.export\(model, path\)$"):
        check_checkpoint_name("m.onnx")


@pytest.mark.parametrize("name", ["model.safetensors", "model.SAFETENSORS", "model", "runs.pt/model.safetensors",
                                  "run.pt.safetensors", "best.st", "e{epoch}", ".hidden"])
def test_save_names_accepted(name):
    check_checkpoint_name(name)  # no error
    check_checkpoint_name(os.path.join("folder", name))


def test_a_file_object_is_not_a_name():
    import io

    check_checkpoint_name(io.BytesIO())  # type: ignore[arg-type]


# -- the epoch lines -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,text", [
    (1.266, "1.266"), (0.05838, "0.05838"), (1, "1.000"), (1.0, "1.000"), (0.9, "0.9000"), (0.0, "0.000"),
    (123.45678, "123.5"), (1.5e-5, "1.500e-05"), (25000.0, "2.500e+04"), (float("nan"), "nan"),
])
def test_logged_values_print_four_significant_digits(value, text):
    assert format_logged("loss", value) == text


def test_epoch_line_prints_every_value_with_four_significant_digits(capsys):
    _fit([], epochs=1, verbose=2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("epoch 1/1 - loss: ")
    for part in line.split(" - ")[1:]:
        key, value = part.split(": ")
        if key == "lr":
            assert value == "0.05"
        else:  # 4 significant digits, trailing zeros kept
            digits = value.split("e")[0].replace(".", "").replace("-", "").lstrip("0")
            assert len(digits) == 4, line


def test_model_save_refuses_another_formats_name_and_writes_nothing(tmp_path):
    model = Sequential([Dense(2, 1)], seed=0)
    for name in ("m.pt", "m.keras"):
        with pytest.raises(ConfigError, match=rf"save: '.*{name}' ends in"):
            model.save(tmp_path / name)
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "m.safetensors")
    model.save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path)) == ["m", "m.safetensors"]
