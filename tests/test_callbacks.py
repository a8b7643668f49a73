"""The Keras-style callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau (and the Scaled
schedule it saves), LearningRateScheduler, CSVLogger, TensorBoard, LambdaCallback; which of them
make the loop run per-batch hooks; their argument errors."""

from __future__ import annotations

import csv
import os
import struct
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import anynet
from anynet import Sequential, optim, schedules
from anynet.callbacks import (
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    NonFiniteCheck,
    ProgressBar,
    ReduceLROnPlateau,
    Scaled,
    TensorBoard,
    _direction,
)
from anynet.errors import ConfigError, InputError
from anynet.layers import Dense


def _data(n=32, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 2))
    return X, X @ np.array([1.0, -2.0]) + 0.5


def _model(**kw):
    return Sequential([Dense(2, 4, activation="tanh"), Dense(4, 1)], seed=0, **kw)


def _fit(model, callbacks, *, epochs, lr=0.05, batch_size=8, **kw):
    X, y = _data()
    return model.fit(X, y, loss="mse", optimizer=kw.pop("optimizer", optim.SGD(lr=lr)), epochs=epochs,
                     batch_size=batch_size, callbacks=callbacks, verbose=0, **kw)


def _script(key, values):
    """A callback that sets ``logs[key]`` to ``values[epoch]``: put it before the callback under test."""
    return LambdaCallback(on_epoch_end=lambda model, epoch, logs: logs.__setitem__(key, values[epoch]))


# -- EarlyStopping -------------------------------------------------------------------------------
@pytest.mark.parametrize("patience,stopped", [(0, 2), (1, 2), (2, 3), (3, 4)])
def test_early_stopping_stops_after_exactly_patience_epochs(patience, stopped):
    # improves at epochs 0 and 1, never after: Keras stops after `patience` non-improving epochs
    values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
    stop = EarlyStopping("val_loss", patience=patience, restore_best_weights=False)
    hist = _fit(_model(), [_script("val_loss", values), stop], epochs=8)
    assert stop.stopped_epoch == stopped
    assert len(hist.epoch) == stopped + 1
    assert stop.best_epoch == 1 and stop.best == 0.5
    assert stop.wait == max(patience, 1)


def test_early_stopping_min_delta_and_max_mode():
    values = [0.5, 0.6, 0.605, 0.55, 0.9]
    stop = EarlyStopping("val_accuracy", patience=2, min_delta=0.01, restore_best_weights=False)
    _fit(_model(), [_script("val_accuracy", values), stop], epochs=5)
    # "auto" maximises accuracy; +0.005 at epoch 2 is below min_delta
    assert (stop.best_epoch, stop.best, stop.stopped_epoch) == (1, 0.6, 3)


def test_early_stopping_restores_the_best_epoch_and_says_so_once(capsys, backend):
    values = [1.0, 0.4, 0.5, 0.6, 0.7, 0.8]
    states = []
    keep = LambdaCallback(on_epoch_end=lambda model, epoch, logs: states.append(
        {k: anynet.to_numpy(v).copy() for k, v in model.state_dict().items()}))
    stop = EarlyStopping("val_loss", patience=2, verbose=1)
    model = _model(backend=backend)
    _fit(model, [keep, _script("val_loss", values), stop], epochs=6)
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(anynet.to_numpy(v), states[1][k])
    assert not np.array_equal(states[1]["0.W"], states[3]["0.W"])
    out = capsys.readouterr().out.splitlines()
    assert out == [("EarlyStopping: stopped after epoch 4: val_loss has not improved for 2 epochs (best 0.4 at "
                    "epoch 2); restored the weights of epoch 2")]


def test_early_stopping_that_does_not_stop_says_nothing(capsys):
    stop = EarlyStopping("val_loss", patience=2, verbose=1)
    _fit(_model(), [_script("val_loss", [3.0, 2.0, 1.0]), stop], epochs=3)
    assert stop.stopped_epoch is None and stop.best_epoch == 2
    assert capsys.readouterr().out == ""


def test_early_stopping_resets_per_fit():
    stop = EarlyStopping("val_loss", patience=1, restore_best_weights=False)
    model = _model()
    _fit(model, [_script("val_loss", [1.0, 2.0]), stop], epochs=2)
    assert stop.stopped_epoch == 1
    _fit(model, [_script("val_loss", [None, None, 5.0, 4.0]), stop], epochs=2)
    assert stop.stopped_epoch is None and stop.best == 4.0 and stop.best_epoch == 3


def test_monitor_that_is_not_logged_names_the_callback():
    for cb in (EarlyStopping("val_loss"), ReduceLROnPlateau("val_loss"),
               ModelCheckpoint("unused.safetensors", save_best_only=True)):
        with pytest.raises(InputError, match=f"{type(cb).__name__}: monitor 'val_loss' is not logged.*validation"):
            _fit(_model(), [cb], epochs=1)


# -- ModelCheckpoint -----------------------------------------------------------------------------
def test_checkpoint_best_only_keeps_the_best_accuracy(tmp_path):
    path = tmp_path / "best.safetensors"
    ck = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    _fit(_model(), [_script("val_accuracy", [0.5, 0.9, 0.7]), ck], epochs=3)
    assert ck.saved == [str(path)] * 2 and (ck.best, ck.best_epoch) == (0.9, 1)
    assert anynet.load(path).train_state["epoch"] == 2   # the epoch with accuracy 0.9


@pytest.mark.parametrize("mode,monitor,values,best_epoch", [
    ("min", "val_accuracy", [0.5, 0.9, 0.4], 2),
    ("max", "val_loss", [0.5, 0.9, 0.4], 1),
    ("auto", "val_loss", [0.5, 0.9, 0.4], 2),
    ("auto", "val_r2", [0.5, 0.9, 0.4], 1),
])
def test_checkpoint_mode(tmp_path, mode, monitor, values, best_epoch):
    ck = ModelCheckpoint(tmp_path / "e{epoch}.safetensors", monitor=monitor, mode=mode, save_best_only=True)
    _fit(_model(), [_script(monitor, values), ck], epochs=3)
    assert ck.best_epoch == best_epoch
    assert os.path.basename(ck.saved[-1]) == f"e{best_epoch + 1}.safetensors"


def test_checkpoint_nan_is_never_best(tmp_path):
    ck = ModelCheckpoint(tmp_path / "e{epoch}.safetensors", save_best_only=True)
    _fit(_model(), [_script("val_loss", [float("nan"), 1.0, float("nan")]), ck], epochs=3)
    assert [os.path.basename(p) for p in ck.saved] == ["e2.safetensors"]


@pytest.mark.parametrize("name,sign", [
    ("val_loss", 1), ("loss", 1), ("mae", 1), ("val_mse", 1), ("accuracy", -1), ("val_acc", -1), ("val_auc", -1),
    ("r2", -1), ("val_precision", -1), ("recall", -1), ("val_f1", -1), ("accuracy_loss", 1),
])
def test_auto_mode_direction(name, sign):
    assert _direction("X", name, "auto") == sign
    assert EarlyStopping(name).sign == ReduceLROnPlateau(name).sign == ModelCheckpoint("p", monitor=name).sign == sign


# -- ReduceLROnPlateau ---------------------------------------------------------------------------
def _plateau(cb, values, *, lr=1.0, key="val_loss"):
    """The rate after each epoch's end, calling the hooks directly."""
    model = SimpleNamespace(optimizer=optim.SGD(lr=lr), stop_training=False)
    cb.on_train_begin(model)
    lrs = []
    for epoch, value in enumerate(values):
        cb.on_epoch_end(model, epoch, {key: value})
        lrs.append(model.optimizer.current_lr())
    return lrs


def test_reduce_lr_after_patience_epochs():
    cb = ReduceLROnPlateau(factor=0.5, patience=2)
    assert _plateau(cb, [1.0] * 5) == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert cb.reductions == [2, 4]


def test_reduce_lr_improvement_resets_the_wait_and_min_delta_counts():
    assert _plateau(ReduceLROnPlateau(factor=0.5, patience=2), [1.0, 1.0, 0.5, 0.5, 0.5]) == [1, 1, 1, 1, 0.5]
    # 1e-5 better is no improvement with the default min_delta=1e-4; 1e-3 is
    assert _plateau(ReduceLROnPlateau(factor=0.5, patience=2), [1.0, 0.99999, 0.99998]) == [1, 1, 0.5]
    assert _plateau(ReduceLROnPlateau(factor=0.5, patience=2), [1.0, 0.999, 0.998]) == [1, 1, 1]


def test_reduce_lr_respects_min_lr():
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.3)
    assert _plateau(cb, [1.0] * 5) == [1.0, 0.5, 0.3, 0.3, 0.3]
    assert cb.reductions == [1, 2]


def test_reduce_lr_cooldown():
    assert ReduceLROnPlateau(factor=0.5, patience=1).reductions == []
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    _plateau(cb, [1.0] * 7)
    assert cb.reductions == [1, 3, 5]
    plain = ReduceLROnPlateau(factor=0.5, patience=1)
    _plateau(plain, [1.0] * 7)
    assert plain.reductions == [1, 2, 3, 4, 5, 6]


def test_reduce_lr_max_mode():
    cb = ReduceLROnPlateau("val_accuracy", factor=0.5, patience=1)
    assert _plateau(cb, [0.5, 0.6, 0.7, 0.6], key="val_accuracy") == [1, 1, 1, 0.5]


def test_reduce_lr_in_the_loop_and_saved_as_a_number(tmp_path, capsys):
    seen = []
    record = LambdaCallback(on_batch_begin=lambda model, step, logs: seen.append(model.optimizer.current_lr()))
    cb = ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)
    model = _model()
    _fit(model, [record, _script("val_loss", [1.0] * 3), cb], epochs=3, lr=0.1)
    assert seen == [0.1] * 8 + [0.05] * 4              # epoch 0 improved on nothing; reductions after 1 and 2
    assert capsys.readouterr().out.splitlines() == [
        "ReduceLROnPlateau: epoch 2: val_loss has not improved for 1 epoch; learning rate 0.1 -> 0.05",
        "ReduceLROnPlateau: epoch 3: val_loss has not improved for 1 epoch; learning rate 0.05 -> 0.025"]
    model.save(tmp_path / "m.safetensors")
    assert anynet.load(tmp_path / "m.safetensors").optimizer.lr == 0.025


def test_reduce_lr_scales_a_schedule_and_the_schedule_is_saved(tmp_path):
    step = schedules.Step(0.1, step_size=6, gamma=0.5)
    model = _model()
    cb = ReduceLROnPlateau(factor=0.5, patience=1)
    _fit(model, [_script("val_loss", [1.0] * 3), cb], epochs=3, optimizer=optim.SGD(lr=step))
    assert model.optimizer.lr == Scaled(step, 0.25)       # two reductions: one wrapper
    assert model.optimizer.current_lr() == pytest.approx(0.25 * step(12))
    model.save(tmp_path / "m.safetensors")
    loaded = anynet.load(tmp_path / "m.safetensors").optimizer
    assert loaded.lr == Scaled(step, 0.25) and loaded.iterations == 12
    assert loaded.current_lr() == model.optimizer.current_lr()


def test_reduce_lr_of_an_unregistered_schedule_is_not_saved():
    opt = optim.SGD(lr=lambda step: 0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=0)
    model = SimpleNamespace(optimizer=opt)
    cb.on_train_begin(model)
    cb.on_epoch_end(model, 0, {"val_loss": float("nan")})
    assert opt.current_lr() == 0.05 and opt.config().get("lr_custom") is True


def test_scaled_schedule():
    s = Scaled(schedules.Constant(0.4), 0.5, min_lr=0.3)
    assert s(0) == 0.3                                          # the floor
    assert Scaled(schedules.Constant(0.1), 0.5, min_lr=0.3)(0) == 0.1   # below the floor already: kept
    assert schedules.to_config(s) == {"type": "Scaled", "after": {"type": "Constant", "lr": 0.4}, "factor": 0.5,
                                      "min_lr": 0.3}
    assert schedules.from_config(schedules.to_config(s)) == s
    assert schedules.to_config(Scaled(lambda step: 1.0, 0.5)) is None
    with pytest.raises(ConfigError, match="Scaled: expected"):
        schedules.from_config({"type": "Scaled", "after": 0.1, "factr": 0.5})
    with pytest.raises(ConfigError, match="Scaled: factor"):
        Scaled(schedules.Constant(0.1), -1.0)
    with pytest.raises(ConfigError, match="Scaled: after"):
        Scaled(0.1, 0.5)


# -- LearningRateScheduler -----------------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_of_each_epoch(capsys):
    calls, seen = [], []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return 0.1 * 0.5**epoch

    record = LambdaCallback(on_batch_begin=lambda model, step, logs: seen.append(model.optimizer.current_lr()))
    model = _model()
    hist = _fit(model, [LearningRateScheduler(schedule, verbose=1), record], epochs=3, lr=0.7)
    assert calls == [(0, 0.7), (1, 0.1), (2, 0.05)]
    assert hist["lr"] == [0.1, 0.05, 0.025]
    assert seen == [0.1] * 4 + [0.05] * 4 + [0.025] * 4
    assert "LearningRateScheduler: epoch 3: learning rate 0.025" in capsys.readouterr().out
    _fit(model, [LearningRateScheduler(lambda epoch: 1.0 / (epoch + 1))], epochs=2)   # epochs go on
    assert model.optimizer.lr == 0.2                   # 1 / (epoch 4 + 1)


def test_learning_rate_scheduler_replaces_a_step_schedule():
    model = _model()
    _fit(model, [LearningRateScheduler(lambda epoch, lr: 0.01)], epochs=1,
         optimizer=optim.SGD(lr=schedules.Constant(0.3)))
    assert model.optimizer.lr == 0.01


@pytest.mark.parametrize("bad", [float("nan"), -0.1, "0.1", None, True, float("inf")])
def test_learning_rate_scheduler_refuses_a_bad_rate(bad):
    with pytest.raises(ConfigError, match=r"LearningRateScheduler: schedule\(0, 0.05\) returned"):
        _fit(_model(), [LearningRateScheduler(lambda epoch, lr: bad)], epochs=1)


# -- CSVLogger -----------------------------------------------------------------------------------
def _rows(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_csv_logger_writes_and_flushes_a_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    counts = []
    peek = LambdaCallback(on_epoch_end=lambda model, epoch, logs: counts.append(len(_rows(path, ";"))))
    X, y = _data()
    hist = _model().fit(X, y, loss="mse", optimizer="sgd", epochs=3, batch_size=8, metrics=["mae"],
                        validation_split=0.25, callbacks=[CSVLogger(path, separator=";"), peek], verbose=0)
    assert counts == [2, 3, 4]                       # on disk at the end of each epoch
    rows = _rows(path, ";")
    assert rows[0] == ["epoch", *hist.history]
    assert rows[0][:5] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    for epoch, row in enumerate(rows[1:]):
        assert row[0] == str(epoch)
        assert [float(v) for v in row[1:]] == [hist[k][epoch] for k in rows[0][1:]]   # exact: repr round-trips


def test_csv_logger_columns_stay_the_same(tmp_path):
    path = tmp_path / "log.csv"

    def vary(model, epoch, logs):
        if epoch == 0:
            logs["first_only"] = 1.5
        else:
            logs["later"] = 2.0

    _fit(_model(), [LambdaCallback(on_epoch_end=vary), CSVLogger(path)], epochs=2)
    rows = _rows(path)
    assert "first_only" in rows[0] and "later" not in rows[0]
    col = rows[0].index("first_only")
    assert [r[col] for r in rows[1:]] == ["1.5", "NA"]
    assert {len(r) for r in rows} == {len(rows[0])}


def test_csv_logger_append(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    _fit(model, [CSVLogger(path)], epochs=2)
    _fit(model, [CSVLogger(path)], epochs=1)                  # append=False: starts anew
    assert [r[0] for r in _rows(path)] == ["epoch", "2"]
    _fit(model, [CSVLogger(path, append=True)], epochs=2)     # keeps the header, adds rows
    assert [r[0] for r in _rows(path)] == ["epoch", "2", "3", "4"]
    path.write_text("epoch,loss,gone\n0,1.0,2.0\n")           # an existing header decides the columns
    _fit(model, [CSVLogger(path, append=True)], epochs=1)
    assert _rows(path)[0] == ["epoch", "loss", "gone"] and _rows(path)[-1][2] == "NA"
    path.write_text("not,a,log\n")
    with pytest.raises(InputError, match="CSVLogger: cannot append to .*log.csv"):
        _fit(model, [CSVLogger(path, append=True)], epochs=1)


# -- TensorBoard ---------------------------------------------------------------------------------
def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _read_records(log_dir):
    """{tag: [(step, value)]}: the TFRecord framing read (and checked) by hand, each record an
    Event protobuf decoded with the writer package's generated classes."""
    from tensorboardX.proto import event_pb2

    out: dict[str, list[tuple[int, float]]] = {}
    for name in sorted(os.listdir(log_dir)):
        data = (log_dir / name).read_bytes()
        pos = 0
        while pos < len(data):
            header = data[pos:pos + 8]
            (length,), (crc,) = struct.unpack("<Q", header), struct.unpack("<I", data[pos + 8:pos + 12])
            assert crc == _masked(header)
            body = data[pos + 12:pos + 12 + length]
            assert struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] == _masked(body)
            pos += 16 + length
            event = event_pb2.Event.FromString(body)
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def _read_accumulator(log_dir):
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture
def read_scalars():
    """The event files' scalars, read by :func:`_read_records`: it needs only tensorboardX (the writer,
    installed with the tests), not the tensorboard package, so these tests run wherever the callback
    can. ``test_the_record_reader_agrees_with_tensorboards_own`` checks it against tensorboard's reader
    where that is installed too."""
    pytest.importorskip("tensorboardX")
    return _read_records


def test_the_record_reader_reads_what_tensorboardx_wrote_and_refuses_a_flipped_bit(tmp_path):
    tensorboardX = pytest.importorskip("tensorboardX")
    writer = tensorboardX.SummaryWriter(str(tmp_path))
    for step, value in ((0, 1.5), (7, -2.25), (9, 3e-8)):
        writer.add_scalar("a/b", value, step)
    writer.add_scalar("c", 4.0, 1)
    writer.close()
    assert _read_records(tmp_path) == {"a/b": [(0, 1.5), (7, -2.25), (9, pytest.approx(3e-8))], "c": [(1, 4.0)]}
    (name,) = os.listdir(tmp_path)
    data = bytearray((tmp_path / name).read_bytes())
    data[-6] ^= 0x10  # a bit of the last record's body: its checksum no longer matches
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(AssertionError):
        _read_records(tmp_path)


def test_the_record_reader_agrees_with_tensorboards_own(tmp_path):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                        reason="an optional cross-check: the tensorboard package is not a test dependency")
    tb = TensorBoard(tmp_path, update_freq=2)
    _fit(_model(), [tb], epochs=2, validation_split=0.25)
    ours, theirs = _read_records(tmp_path), _read_accumulator(tmp_path)
    assert ours.keys() == theirs.keys()
    for tag in ours:
        assert [s for s, _ in ours[tag]] == [s for s, _ in theirs[tag]]
        np.testing.assert_allclose([v for _, v in ours[tag]], [v for _, v in theirs[tag]], rtol=1e-7)


def test_tensorboard_writes_epoch_and_step_scalars(tmp_path, read_scalars, backend):
    tb = TensorBoard(tmp_path, update_freq=3)
    model = _model(backend=backend)
    hist = _fit(model, [tb], epochs=3, batch_size=8, validation_split=0.25)    # 3 steps per epoch
    scalars = read_scalars(tmp_path)
    assert {"epoch/loss", "epoch/val_loss", "batch/loss"} <= set(scalars)
    for key in ("loss", "val_loss"):
        steps, values = zip(*scalars[f"epoch/{key}"])
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, hist[key], rtol=1e-6)
    steps, values = zip(*scalars["batch/loss"])
    assert steps == (2, 5, 8)
    np.testing.assert_allclose(values, np.asarray(hist.step_losses)[[2, 5, 8]], rtol=1e-6)


def test_tensorboard_per_epoch_adds_no_step_work(tmp_path, read_scalars):
    tb = TensorBoard(tmp_path)
    assert not CallbackList([tb]).per_batch
    _fit(_model(), [tb], epochs=2)
    assert not any(tag.startswith("batch/") for tag in read_scalars(tmp_path))
    assert CallbackList([TensorBoard(tmp_path / "b", update_freq="batch")]).per_batch


def test_tensorboard_falls_back_to_torch_utils_tensorboard(tmp_path, monkeypatch):
    """Where tensorboardX is missing the callback writes with ``torch.utils.tensorboard.SummaryWriter``.
    That module needs the tensorboard package, which the tests do not install, so it is stood in for
    here by a module of that name whose SummaryWriter records the calls (torch's API: ``SummaryWriter(
    log_dir)``, ``add_scalar(tag, value, step)``, ``flush()``, ``close()``): what is checked is that the
    callback finds it and writes every value through it, flushed per epoch and closed at the end."""
    calls = []

    class SummaryWriter:
        def __init__(self, log_dir):
            calls.append(("open", log_dir))

        def add_scalar(self, tag, value, step):
            calls.append((tag, step, value))

        def flush(self):
            calls.append(("flush",))

        def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", SimpleNamespace(SummaryWriter=SummaryWriter))
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    tb = TensorBoard(tmp_path, update_freq=4)
    assert tb._writer_class is SummaryWriter
    hist = _fit(_model(), [tb], epochs=2)  # 4 steps per epoch
    assert calls[0] == ("open", str(tmp_path)) and calls[-1] == ("close",) and calls.count(("flush",)) == 2
    assert [(c[1], c[2]) for c in calls if c[0] == "epoch/loss"] == [(0, hist["loss"][0]), (1, hist["loss"][1])]
    steps = [c[1] for c in calls if c[0] == "batch/loss"]
    assert steps == [3, 7]


def test_tensorboard_falls_back_to_the_real_torch_utils_tensorboard(tmp_path, monkeypatch):
    pytest.importorskip("torch.utils.tensorboard", reason="needs the tensorboard package (not a test dependency)")
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    tb = TensorBoard(tmp_path)
    assert tb._writer_class.__module__.startswith("torch.utils.tensorboard")
    hist = _fit(_model(), [tb], epochs=2)
    steps, values = zip(*_read_accumulator(tmp_path)["epoch/loss"])
    assert steps == (0, 1)
    np.testing.assert_allclose(values, hist["loss"], rtol=1e-6)


def test_two_fits_in_one_second_keep_both_event_files(tmp_path, read_scalars, monkeypatch):
    """tensorboardX names a file by the second, host and an optional suffix: a second fit in the same
    second used to open the same name and write over the first fit's file."""
    import time

    monkeypatch.setattr(time, "time", lambda: 1.7e9)  # the same second for both, however fast the machine
    _fit(_model(), [TensorBoard(tmp_path)], epochs=2)
    _fit(_model(), [TensorBoard(tmp_path)], epochs=1)
    assert len(os.listdir(tmp_path)) == 2
    assert [s for s, _ in read_scalars(tmp_path)["epoch/loss"]] == [0, 1, 0]


def test_tensorboard_logs_are_on_disk_at_every_epochs_end(tmp_path, read_scalars):
    """Flushed at each epoch's end: a run that dies later still has the epochs it finished."""
    seen = []
    after = LambdaCallback(on_epoch_end=lambda model, epoch, logs: seen.append(
        [s for s, _ in read_scalars(tmp_path).get("epoch/loss", [])]))
    _fit(_model(), [TensorBoard(tmp_path), after], epochs=3)
    assert seen == [[0], [0, 1], [0, 1, 2]]


def test_tensorboard_without_the_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)          # makes the import fail
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r'TensorBoard: .*pip install "anynet-nn\[tensorboard\]"'):
        TensorBoard("runs")


# -- LambdaCallback and the per-batch hooks ------------------------------------------------------
def test_lambda_callback_calls_each_hook_with_its_arguments():
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda model: calls.append(("train_begin",)),
        on_epoch_begin=lambda model, epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_begin=lambda model, step, logs: calls.append(("batch_begin", step)),
        on_batch_end=lambda model, step, logs: calls.append(("batch_end", step, sorted(logs))),
        on_epoch_end=lambda model, epoch, logs: calls.append(("epoch_end", epoch, "loss" in logs)),
        on_train_end=lambda model: calls.append(("train_end",)))
    _fit(_model(), [cb], epochs=2, batch_size=16)                  # 2 steps per epoch
    assert calls == [("train_begin",),
                     ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, ["loss", "size"]),
                     ("batch_begin", 1), ("batch_end", 1, ["loss", "size"]), ("epoch_end", 0, True),
                     ("epoch_begin", 1), ("batch_begin", 2), ("batch_end", 2, ["loss", "size"]),
                     ("batch_begin", 3), ("batch_end", 3, ["loss", "size"]), ("epoch_end", 1, True),
                     ("train_end",)]


def test_only_callbacks_that_define_batch_hooks_make_the_loop_call_them():
    def f3(model, n, logs):
        return None

    assert not CallbackList([LambdaCallback(on_epoch_end=f3)]).per_batch
    assert CallbackList([LambdaCallback(on_batch_end=f3)]).per_batch
    assert CallbackList([LambdaCallback(on_batch_begin=f3)]).per_batch
    # fit always installs these three: without a progress bar, nothing runs per step
    for verbose in (0, 2):
        assert not CallbackList([NonFiniteCheck(), History(), ProgressBar(verbose)]).per_batch
    assert not CallbackList([EarlyStopping(), ReduceLROnPlateau(), ModelCheckpoint("p"), CSVLogger("p"),
                             LearningRateScheduler(lambda e, lr: lr)]).per_batch


def test_lambda_callback_checks_its_functions():
    with pytest.raises(ConfigError, match=r"LambdaCallback: on_epoch_end must be a function f\(model, epoch, logs\)"):
        LambdaCallback(on_epoch_end=3)
    with pytest.raises(ConfigError, match=r"LambdaCallback: on_epoch_end is called as f\(model, epoch, logs\)"):
        LambdaCallback(on_epoch_end=lambda epoch, logs: None)       # Keras' signature
    with pytest.raises(ConfigError, match=r"LambdaCallback: on_train_begin is called as f\(model\)"):
        LambdaCallback(on_train_begin=lambda: None)
    LambdaCallback(on_epoch_end=print, on_train_end=lambda *args: None)   # builtins and *args are fine


# -- argument errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("make,pattern", [
    (lambda: EarlyStopping(patience=-1), "EarlyStopping: patience must be an int ≥ 0, got -1"),
    (lambda: EarlyStopping(patience=2.0), "EarlyStopping: patience"),
    (lambda: EarlyStopping(patience=True), "EarlyStopping: patience"),
    (lambda: EarlyStopping(mode="best"), "EarlyStopping: mode must be 'auto', 'min' or 'max', got 'best'"),
    (lambda: EarlyStopping(monitor=""), "EarlyStopping: monitor must be the name of a logged value"),
    (lambda: EarlyStopping(min_delta=float("nan")), "EarlyStopping: min_delta"),
    (lambda: EarlyStopping(restore_best_weights="yes"), "EarlyStopping: restore_best_weights must be True or False"),
    (lambda: EarlyStopping(verbose=3), "EarlyStopping: verbose"),
    (lambda: ModelCheckpoint("p", every=0), "ModelCheckpoint: every must be an int ≥ 1, got 0"),
    (lambda: ModelCheckpoint("p", mode="up"), "ModelCheckpoint: mode"),
    (lambda: ModelCheckpoint("p{0}"), r"ModelCheckpoint: path .* has the field \{0\}, which names no logged"),
    (lambda: ModelCheckpoint(None), "ModelCheckpoint: path must be a file or folder path"),
    (lambda: ModelCheckpoint("p", save_best_only=1), "ModelCheckpoint: save_best_only must be True or False"),
    (lambda: ReduceLROnPlateau(factor=1.0),
     r"ReduceLROnPlateau: factor must be a finite number ≥ 0 and < 1, got 1.0"),
    (lambda: ReduceLROnPlateau(factor=-0.5), "ReduceLROnPlateau: factor"),
    (lambda: ReduceLROnPlateau(patience=-2), "ReduceLROnPlateau: patience"),
    (lambda: ReduceLROnPlateau(cooldown=0.5), "ReduceLROnPlateau: cooldown"),
    (lambda: ReduceLROnPlateau(min_lr=-1e-3), "ReduceLROnPlateau: min_lr"),
    (lambda: ReduceLROnPlateau(min_delta="0"), "ReduceLROnPlateau: min_delta"),
    (lambda: ReduceLROnPlateau(mode=None), "ReduceLROnPlateau: mode"),
    (lambda: LearningRateScheduler(0.1), "LearningRateScheduler: schedule must be a callable"),
    (lambda: LearningRateScheduler(lambda a, b, c: 0.1), "LearningRateScheduler: schedule must take"),
    (lambda: LearningRateScheduler(lambda e, lr: lr, verbose="loud"), "LearningRateScheduler: verbose"),
    (lambda: CSVLogger("p", separator=""), "CSVLogger: separator must be one character"),
    (lambda: CSVLogger("p", separator="\n"), "CSVLogger: separator"),
    (lambda: CSVLogger("p", append=None), "CSVLogger: append must be True or False"),
    (lambda: CSVLogger(3), "CSVLogger: path"),
    (lambda: TensorBoard("runs", update_freq=0),
     "TensorBoard: update_freq must be 'epoch', 'batch' or an int ≥ 1"),
    (lambda: TensorBoard("runs", update_freq="step"), "TensorBoard: update_freq"),
    (lambda: TensorBoard("runs", update_freq=2.5), "TensorBoard: update_freq"),
])
def test_bad_arguments_name_the_callback(make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_numpy_numbers_are_accepted():
    assert EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.5)).patience == 2
    cb = ReduceLROnPlateau(factor=np.float32(0.5), patience=np.int32(3), cooldown=np.int64(1),
                           min_lr=np.float64(1e-4), min_delta=np.float32(0.0), verbose=np.int64(0))
    assert (cb.factor, cb.patience, cb.cooldown) == (0.5, 3, 1)
    assert ModelCheckpoint("p", every=np.int64(2)).every == 2
    assert EarlyStopping(restore_best_weights=np.bool_(False)).restore is False
    assert _plateau(ReduceLROnPlateau(factor=np.float32(0.5), patience=np.int64(1)), [1.0, 1.0]) == [1.0, 0.5]
    pytest.importorskip("tensorboardX")
    assert TensorBoard("runs", update_freq=np.int64(5)).update_freq == 5
