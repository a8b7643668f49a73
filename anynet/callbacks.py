"""Callbacks: everything that happens around the training step, hooked into ``fit``.

The loop only steps; the history, the progress display and the non-finite check are callbacks
it always installs, ahead of the user's. Hooks (all optional):

- ``on_train_begin(model)`` / ``on_train_end(model)``
- ``on_epoch_begin(model, epoch, logs)`` / ``on_epoch_end(model, epoch, logs)``: at the end ``logs``
  holds the epoch's mean ``loss``, its metrics, ``val_*`` scores and ``lr`` (the learning rate at the
  epoch's start, read after ``on_epoch_begin``) as floats.
- ``on_batch_begin(model, step, logs)`` / ``on_batch_end(model, step, logs)``: ``step`` counts every
  step the model ever took; at ``on_batch_end`` ``logs["loss"]`` is the step's loss as a 0-d array
  on the device and ``logs["size"]`` the batch's row count. Reading the loss (``float(...)``) is a
  device synchronisation: the loop never does it per step, a callback may choose to.

The loop calls the per-batch hooks only when some callback defines one, in its class or on the
instance (``self.on_batch_end = ...`` in ``__init__``, as :class:`LambdaCallback`, :class:`TensorBoard`
and :class:`ProgressBar` do when they need it), so callbacks that only look at epochs cost nothing
per step.

A callback sets ``model.stop_training = True`` to end training after the current epoch, or raises
:class:`StopTraining` to end it at once (the remaining callbacks of that hook are skipped).
``model.train_state`` holds the loop's counters (``epoch``, ``step``) and, after each epoch,
``step_losses``: that epoch's per-step losses on the host.

Built in, besides the three ``fit`` always installs (:class:`NonFiniteCheck`, :class:`History`,
:class:`ProgressBar`): :class:`EarlyStopping`, :class:`ModelCheckpoint`, :class:`ReduceLROnPlateau`,
:class:`LearningRateScheduler`, :class:`CSVLogger`, :class:`TensorBoard`, :class:`LambdaCallback`,
as in Keras. Where a callback watches a logged value (``monitor``), ``mode="auto"`` maximises names
that contain ``acc``, ``auc``, ``r2``, ``precision``, ``recall`` or ``f1`` (and do not end in ``loss``)
and minimises every other.

Example:
    >>> import numpy as np, anynet
    >>> from anynet.layers import Dense
    >>> class CountSteps(anynet.callbacks.Callback):
    ...     def on_train_begin(self, model):
    ...         self.steps = 0
    ...     def on_batch_end(self, model, step, logs):
    ...         self.steps += 1
    >>> counter = CountSteps()
    >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
    >>> _ = model.fit(np.ones((10, 2)), np.ones(10), loss="mse", optimizer="sgd", epochs=2, batch_size=4,
    ...               callbacks=[counter], verbose=0)
    >>> counter.steps
    6
"""

from __future__ import annotations

import csv
import inspect
import itertools
import math
import numbers
import os
import string
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from .backends import to_numpy
from .errors import ConfigError, InputError, NonFiniteLossError
from .saving_names import check_checkpoint_name
from .schedules import Scaled

__all__ = ["CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "NonFiniteCheck", "ProgressBar", "ReduceLROnPlateau",
           "Scaled", "StopTraining", "TensorBoard"]

Logs = dict[str, Any]


class StopTraining(Exception):
    """Raised by a callback to end ``fit`` at once; ``fit`` returns normally after ``on_train_end``."""


class Callback:
    """Base class: override the hooks you need (see the module docstring)."""

    #: In data-parallel training (``fit(..., comm=...)``) run only on rank 0: True for callbacks that
    #: write files (checkpoints, logs), which every process would otherwise write at once. Callbacks
    #: that steer training (early stopping, learning rates) run on every process: the logs are the same
    #: on each, so they decide alike.
    root_only: bool = False

    def on_train_begin(self, model: Any) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, model: Any, epoch: int, logs: Logs) -> None:
        """Called before every epoch (``epoch`` counts from 0 across calls to fit)."""

    def on_batch_begin(self, model: Any, step: int, logs: Logs) -> None:
        """Called before every step."""

    def on_batch_end(self, model: Any, step: int, logs: Logs) -> None:
        """Called after every step; ``logs["loss"]`` is a 0-d device array."""

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        """Called after every epoch with that epoch's losses and metrics."""

    def on_train_end(self, model: Any) -> None:
        """Called once after the last epoch (also after early stopping)."""


class CallbackList(Callback):
    """Runs callbacks in order; the loop calls one object instead of looping at every hook."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise InputError(f"fit: callbacks must be anynet.callbacks.Callback objects, got {cb!r}")
        self.callbacks = list(callbacks)
        # only callbacks that define a per-batch hook are called per batch
        self._batch_begin = [cb for cb in self.callbacks if _overrides(cb, "on_batch_begin")]
        self._batch_end = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    @property
    def per_batch(self) -> bool:
        return bool(self._batch_begin or self._batch_end)

    def on_train_begin(self, model: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(model)

    def on_epoch_begin(self, model: Any, epoch: int, logs: Logs) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(model, epoch, logs)

    def on_batch_begin(self, model: Any, step: int, logs: Logs) -> None:
        for cb in self._batch_begin:
            cb.on_batch_begin(model, step, logs)

    def on_batch_end(self, model: Any, step: int, logs: Logs) -> None:
        for cb in self._batch_end:
            cb.on_batch_end(model, step, logs)

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(model, epoch, logs)

    def on_train_end(self, model: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_end(model)


def _overrides(cb: Callback, hook: str) -> bool:
    """Whether ``cb`` defines ``hook``: in its class, or on the instance (bound in ``__init__``)."""
    return hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook)


class History(Callback):
    """Per-epoch losses and metrics: ``history.history["loss"]``, ``["val_accuracy"]`` …;
    ``history.step_losses`` holds the loss of every step (read once per epoch)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.step_losses: list[float] = []

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        self.step_losses.extend(model.train_state.step_losses.tolist())
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self.epoch)} epochs: {last})"


class NonFiniteCheck(Callback):
    """Stops training when a step's loss, a parameter, or the model's outputs are NaN or infinite.

    ``"raise"`` raises :class:`~anynet.NonFiniteLossError` naming the step; ``"stop"`` restores the
    parameters and buffers of the last finite epoch and stops. The check runs at the end of every
    epoch, before the callbacks after it (a checkpoint is never written of a state it refuses), on
    values read once: the losses, and one device-side reduction of the parameters and of ``probe``.

    A step's loss is computed before its update, so the last step's update is seen only by the
    parameters, and parameters made finite but huge (an update with an enormous step) only by the
    outputs they give: ``fit`` passes ``probe`` (:class:`anynet.training.LastBatch`), which runs the
    model once on the epoch's last batch.

    Arguments:
        on_nonfinite: ``"raise"`` or ``"stop"``.
        probe: ``probe(model)`` → a 0-d device boolean, whether the outputs are finite (or None).
    """

    def __init__(self, on_nonfinite: str = "raise", *, probe: Callable[[Any], Any] | None = None) -> None:
        if on_nonfinite not in ("raise", "stop"):
            raise ConfigError(f"fit: on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")
        self.mode, self.probe = on_nonfinite, probe
        self._snapshot: dict[str, Any] | None = None

    def on_epoch_begin(self, model: Any, epoch: int, logs: Logs) -> None:
        if self.mode == "stop":
            xp = model.backend.xp
            self._snapshot = {k: xp.asarray(v, copy=True) for k, v in model.state_dict().items()}

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        state = model.train_state
        values = state.step_losses
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            first = int(bad[0])
            step, why = state.step - len(values) + first, f"the loss became {values[first]}"
            batch, held = first + 1, "non-finite values"
        else:
            params, outputs = _finite_now(model, self.probe)
            if params and outputs:
                return
            step, batch, held = state.step - 1, len(values), "non-finite values"
            if not params:
                why = "the parameters became non-finite"
            else:
                why, held = ("the model's outputs (or loss) on the epoch's last batch became non-finite after the "
                             "update", f"values up to {_largest(model):.3g}, too large to give finite outputs")
        if self.mode == "stop":
            if self._snapshot is not None:
                model.load_state_dict(self._snapshot)
            raise StopTraining(f"non-finite at step {step}")
        raise NonFiniteLossError(
            f"{type(model).__name__}.fit: {why} at step {step} (epoch {epoch + 1}, batch {batch}); lower the "
            f"learning rate, clip gradients (clip_norm=) or check the data. The parameters now hold {held}; no "
            f"checkpoint was written after step {step}")


def _finite_now(model: Any, probe: Callable[[Any], Any] | None) -> tuple[bool, bool]:
    """``(every parameter is finite, probe's outputs are)``: one 0-d reduction per parameter and the
    probe's flag, stacked and read once."""
    xp = model.backend.xp
    flags = [xp.all(xp.isfinite(p)) for p in model.parameters().values()]
    params = xp.all(xp.stack(flags)) if flags else xp.asarray(True)
    outputs = probe(model) if probe is not None else None
    if outputs is None:
        return bool(to_numpy(params)), True
    both = np.asarray(to_numpy(xp.stack([params, outputs])))  # the one host read
    return bool(both[0]), bool(both[1])


def _largest(model: Any) -> float:
    """The largest parameter magnitude (read for the error message only)."""
    xp = model.backend.xp
    tops = [xp.max(xp.abs(p)) for p in model.parameters().values() if math.prod(p.shape)]
    return float(to_numpy(xp.max(xp.stack(tops)))) if tops else 0.0


def format_logged(key: str, value: float) -> str:
    """A logged number as the epoch lines print it: 4 significant digits, trailing zeros kept, so
    every loss and metric shows the same precision (``1.266``, ``0.05838``, accuracy 1 as
    ``1.000``, 0.9 as ``0.9000``; below 1e-4 or from 1e4 on in exponent form, ``1.500e-05``). The
    learning rate ``lr`` is a setting, not a measurement, and prints as given (``0.001``)."""
    return f"{value:g}" if key == "lr" else f"{value:#.4g}"


class ProgressBar(Callback):
    """The display of ``verbose``: 1 a progress bar on a terminal (one line per epoch elsewhere),
    2 one line per epoch, 0 nothing. The bar reads the loss at most twice a second; without a bar
    (``verbose`` 0 or 2, no terminal, no tqdm) it adds nothing to the steps."""

    def __init__(self, verbose: int = 1) -> None:
        if verbose not in (0, 1, 2):
            raise ConfigError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.bar: Any = None
        self._tqdm: Any = None
        if verbose == 1 and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the per-epoch lines still show progress
                tqdm = None
            self._tqdm = tqdm
        if self._tqdm is not None:  # only a bar needs the steps: the loop skips per-batch hooks otherwise
            self.on_batch_end = self._advance  # type: ignore[method-assign]

    def on_train_begin(self, model: Any) -> None:
        self.bar = None
        if self._tqdm is not None:
            self.bar = self._tqdm(total=0, leave=False, file=sys.stderr, dynamic_ncols=True)
        self._shown = time.monotonic()

    def on_epoch_begin(self, model: Any, epoch: int, logs: Logs) -> None:
        self._of = logs.get("last_epoch", "?")
        if self.bar is not None:
            self.bar.reset(total=logs.get("steps"))
            self.bar.set_description(f"epoch {epoch + 1}/{self._of}")

    def _advance(self, model: Any, step: int, logs: Logs) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.monotonic()
        if now - self._shown > 0.5:  # a rare read of the loss, for the display only
            self.bar.set_postfix(loss=format_logged("loss", float(to_numpy(logs["loss"]))))
            self._shown = now

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        if self.verbose:
            text = " - ".join(f"{k}: {format_logged(k, v)}" for k, v in logs.items())
            line = f"epoch {epoch + 1}/{self._of} - {text}"
            (self.bar.write if self.bar is not None else print)(line)

    def on_train_end(self, model: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- argument checks shared by the callbacks below ------------------------------------------------
def _int(where: str, name: str, value: Any, low: int = 0) -> int:
    """An int ≥ ``low`` (numpy integers accepted; bool and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{where}: {name} must be an int ≥ {low}, got {value!r}")
    return int(value)


def _real(where: str, name: str, value: Any, *, high: float = math.inf, high_open: bool = False) -> float:
    """A finite number ≥ 0 (and below ``high``), numpy scalars accepted, bool refused."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)  # a named bool: typeshed's Real has no >=
    ok = real and math.isfinite(value) and value >= 0
    if ok and (value > high or (high_open and value == high)):
        ok = False
    if not ok:
        upper = "" if high == math.inf else f" and {'<' if high_open else '≤'} {high:g}"
        raise ConfigError(f"{where}: {name} must be a finite number ≥ 0{upper}, got {value!r}")
    return float(value)


def _flag(where: str, name: str, value: Any) -> bool:
    if value not in (True, False) or not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def _verbose(where: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or value not in (0, 1, 2):
        raise ConfigError(f"{where}: verbose must be 0 (silent) or 1 (messages), got {value!r}")
    return int(value)


def _path(where: str, name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigError(f"{where}: {name} must be a file or folder path (a str or os.PathLike), got {value!r}")
    return str(os.fspath(value))


#: substrings of logged names that are better when higher ("auto" mode), as Keras guesses
_HIGHER_IS_BETTER = ("acc", "auc", "r2", "precision", "recall", "f1")


def _direction(where: str, monitor: Any, mode: Any) -> float:
    """+1 when ``monitor`` is minimised, −1 when maximised (values are compared as ``sign · value``)."""
    if not isinstance(monitor, str) or not monitor:
        raise ConfigError(f"{where}: monitor must be the name of a logged value, e.g. 'val_loss', got {monitor!r}")
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        higher = not name.endswith("loss") and any(word in name for word in _HIGHER_IS_BETTER)
        return -1.0 if higher else 1.0
    return -1.0 if mode == "max" else 1.0


def _monitored(where: str, monitor: str, logs: Logs) -> float:
    if monitor not in logs:
        raise InputError(f"{where}: monitor {monitor!r} is not logged; logged: {', '.join(logs) or 'nothing'} "
                         "(val_* needs validation_data or validation_split)")
    return float(logs[monitor])


def _copy_state(model: Any) -> dict[str, Any]:
    """Device copies of the parameters and buffers (no host transfer)."""
    xp = model.backend.xp
    return {k: xp.asarray(v, copy=True) for k, v in model.state_dict().items()}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- stopping and saving -------------------------------------------------------------------------
class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving, as Keras' ``EarlyStopping``.

    After every epoch the monitored value is compared with the best so far; an epoch improves on
    it when it is better by more than ``min_delta``. Training stops at the end of the
    ``patience``-th epoch in a row without improvement (``patience=0``: at the first one). A NaN
    never improves.

    Arguments:
        monitor: the logged value to watch: ``"val_loss"``, ``"loss"``, ``"val_accuracy"`` …
        patience: epochs without improvement to allow, an int ≥ 0.
        min_delta: the smallest change that counts as an improvement, a number ≥ 0 (its sign is
            ignored, as in Keras).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name, see :mod:`anynet.callbacks`).
        restore_best_weights: end training (stopped or not) with the parameters and buffers of
            the best epoch, kept as device copies of ``model.state_dict()``.
        verbose: 1 says once, when training ends, after which epoch it stopped and why; 0 nothing.

    Attributes:
        best: the best monitored value; best_epoch: its epoch (counted from 0, as the hooks and
            ``History.epoch`` count; None before the first epoch).
        stopped_epoch: the epoch after which it stopped training (from 0), or None if it did not.
        wait: epochs since the last improvement.

    Example:
        >>> import numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> model = anynet.Sequential([Dense(1, 1)], seed=0)
        >>> X, y = np.zeros((8, 1)), np.zeros(8)     # a perfect fit from the start: no improvement
        >>> stop = anynet.callbacks.EarlyStopping("loss", patience=2, verbose=1)
        >>> history = model.fit(X, y, loss="mse", optimizer="sgd", epochs=10,  # doctest: +NORMALIZE_WHITESPACE
        ...                     callbacks=[stop], verbose=0)
        EarlyStopping: stopped after epoch 3: loss has not improved for 2 epochs (best 0 at epoch 1);
        restored the weights of epoch 1
        >>> len(history.epoch), stop.stopped_epoch, stop.best_epoch
        (3, 2, 0)
    """

    def __init__(self, monitor: str = "val_loss", *, patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True, verbose: int = 0) -> None:
        where = "EarlyStopping"
        self.sign = _direction(where, monitor, mode)
        self.monitor, self.mode = monitor, mode
        self.patience = _int(where, "patience", patience)
        if isinstance(min_delta, numbers.Real) and not isinstance(min_delta, bool):
            min_delta = abs(min_delta)
        self.min_delta = _real(where, "min_delta", min_delta)
        self.restore = _flag(where, "restore_best_weights", restore_best_weights)
        self.verbose = _verbose(where, verbose)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf * self.sign
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_state: dict[str, Any] | None = None

    def on_train_begin(self, model: Any) -> None:
        self._reset()

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        value = _monitored("EarlyStopping", self.monitor, logs)
        if self.sign * value < self.sign * self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore:
                self._best_state = _copy_state(model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model: Any) -> None:
        restored = self.restore and self._best_state is not None
        if restored:
            model.load_state_dict(self._best_state)
            self._best_state = None  # the copies are not needed any more
        if self.verbose and self.stopped_epoch is not None:
            by = f" by more than {self.min_delta:g}" if self.min_delta else ""
            best, restore = "", ""
            if self.best_epoch is not None:  # None when every value was NaN
                best = f" (best {self.best:.4g} at epoch {self.best_epoch + 1})"
                restore = f"; restored the weights of epoch {self.best_epoch + 1}" if restored else ""
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}: {self.monitor} has not improved{by} "
                  f"for {_plural(self.wait, 'epoch')}{best}{restore}")


class ModelCheckpoint(Callback):
    """Save the model with ``model.save`` during training: every ``every`` epochs, or with
    ``save_best_only`` only when ``monitor`` is better than at every earlier save.

    Arguments:
        path: the checkpoint file. As in Keras it may hold ``{epoch}`` (counted from 1) and any
            logged value by name, with a format spec: ``"runs/e{epoch:02d}-{val_loss:.3f}.safetensors"``;
            without fields each save replaces the last (atomically). A field that the epoch's logs
            do not hold is refused at the first save, before anything is written, naming the keys
            there are. An extension that means another format (``.pt``, ``.keras``, ``.h5`` …) is
            refused (see :mod:`anynet.saving_names`).
        monitor: the logged value ``save_best_only`` compares.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for names with ``acc``, ``auc``, ``r2``,
            ``precision``, ``recall``, ``f1``; min for ``loss``, ``mae`` … as Keras).
        save_best_only: save only on improvement (strictly better; a NaN never is).
        every: look at every ``every``-th epoch only, an int ≥ 1.

    Attributes:
        saved: the paths written, in order; best: the monitored value at the last best save;
        best_epoch: its epoch (from 0). Kept across calls to ``fit``, so a later ``fit`` only
        overwrites the best checkpoint with a better one.

    Example:
        >>> import os, tempfile, numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> tmp = tempfile.TemporaryDirectory()
        >>> ck = anynet.callbacks.ModelCheckpoint(os.path.join(tmp.name, "e{epoch}.safetensors"), every=2)
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer="sgd", epochs=4, callbacks=[ck],
        ...               verbose=0)
        >>> [os.path.basename(p) for p in ck.saved]
        ['e2.safetensors', 'e4.safetensors']
        >>> anynet.load(ck.saved[-1]).train_state["epoch"]
        4
        >>> tmp.cleanup()
    """

    root_only = True

    def __init__(self, path: str | os.PathLike, *, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = False, every: int = 1) -> None:
        where = "ModelCheckpoint"
        self.path = _path(where, "path", path)
        self.fields = _path_fields(self.path)
        check_checkpoint_name(self.path, where)
        self.sign = _direction(where, monitor, mode)
        self.monitor, self.mode = monitor, mode
        self.best_only = _flag(where, "save_best_only", save_best_only)
        self.every = _int(where, "every", every, low=1)
        self.best = math.inf * self.sign
        self.best_epoch: int | None = None
        self.saved: list[str] = []

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        if (epoch + 1) % self.every:
            return
        if self.best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if not self.sign * value < self.sign * self.best:
                return
            self.best, self.best_epoch = value, epoch
        path = _fill_path(self.path, self.fields, epoch, logs)
        model.save(path)
        self.saved.append(path)


def _path_fields(path: str) -> list[str]:
    """The field names of ModelCheckpoint's ``path`` (``"e{epoch:02d}-{val_loss:.3f}"`` → epoch,
    val_loss); a malformed or positional field is refused."""
    how = ("it may hold {epoch} and logged values by name, e.g. 'e{epoch:02d}-{val_loss:.3f}.safetensors' (write "
           "a literal brace as {{ or }})")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(path) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"ModelCheckpoint: path {path!r} is not a valid format string ({exc}); {how}") from None
    bad = [f for f in fields if not f.isidentifier()]
    if bad:
        raise ConfigError(f"ModelCheckpoint: path {path!r} has the field {{{bad[0]}}}, which names no logged value; "
                          f"{how}")
    return fields


def _fill_path(path: str, fields: Sequence[str], epoch: int, logs: Logs) -> str:
    """ModelCheckpoint's ``path`` for ``epoch`` (from 0; ``{epoch}`` counts from 1, as Keras)."""
    values: dict[str, Any] = {**logs, "epoch": epoch + 1}
    missing = [f for f in fields if f not in values]
    if missing:
        raise ConfigError(f"ModelCheckpoint: path {path!r} needs {{{missing[0]}}}, which epoch {epoch + 1}'s logs do "
                          f"not hold; nothing was saved. Logged: {', '.join(['epoch', *logs])}"
                          + (" (validation scores, val_*, need validation_data or validation_split)"
                             if missing[0].startswith("val_") else ""))
    try:
        return path.format(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"ModelCheckpoint: path {path!r} cannot format epoch {epoch + 1}'s values ({exc}); "
                          "{epoch} is an int, every other field a float: e.g. {epoch:02d}, {val_loss:.3f}") from None


# -- the learning rate ---------------------------------------------------------------------------
def _scale_lr(opt: Any, factor: float, min_lr: float) -> None:
    """Multiply the optimizer's rate by ``factor``, not below ``min_lr``: a number stays a number,
    a schedule is wrapped in (or re-scales) :class:`Scaled`."""
    if callable(opt.lr):
        inner, old = (opt.lr.after, opt.lr.factor) if isinstance(opt.lr, Scaled) else (opt.lr, 1.0)
        opt.lr = Scaled(inner, old * factor, min_lr)
    else:
        opt.lr = max(float(opt.lr) * factor, min_lr)


class ReduceLROnPlateau(Callback):
    """Lower the learning rate when ``monitor`` has stopped improving, as Keras'
    ``ReduceLROnPlateau``.

    After ``patience`` epochs in a row without an improvement by more than ``min_delta``, the
    optimizer's rate is multiplied by ``factor`` (not below ``min_lr``); then ``cooldown`` epochs
    pass before epochs count as not improving again. A rate already at ``min_lr`` is left alone.

    The optimizer's ``lr`` stays what it was: a number becomes a smaller number; a schedule
    ``step -> lr`` is wrapped in :class:`Scaled` (a second reduction changes the factor of that
    wrapper), so the schedule goes on, scaled. Both are saved by ``model.save`` with the optimizer,
    a schedule when it is a registered one (a plain lambda is not saved either way).

    Arguments:
        monitor: the logged value to watch (``"val_loss"``, ``"loss"`` …).
        factor: the multiplier, a number in [0, 1).
        patience: epochs without improvement before a reduction, an int ≥ 0.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (see :mod:`anynet.callbacks`).
        min_delta: the smallest change that counts as an improvement, ≥ 0.
        cooldown: epochs after a reduction during which no epoch counts as not improving, ≥ 0.
        min_lr: the lowest rate a reduction goes to, ≥ 0.
        verbose: 1 prints a line at every reduction; 0 nothing.

    Attributes:
        best: the best monitored value; wait: epochs without improvement counted towards the
        next reduction; cooldown_counter: cooldown epochs left; reductions: the epochs (from 0)
        after which the rate was lowered.

    Example:
        >>> import numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> model = anynet.Sequential([Dense(1, 1)], seed=0)
        >>> X, y = np.zeros((8, 1)), np.zeros(8)     # a perfect fit from the start: no improvement
        >>> reduce = anynet.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=2, verbose=1)
        >>> _ = model.fit(X, y, loss="mse", optimizer=anynet.optim.SGD(lr=0.1), epochs=5, callbacks=[reduce],
        ...               verbose=0)
        ReduceLROnPlateau: epoch 3: loss has not improved for 2 epochs; learning rate 0.1 -> 0.05
        ReduceLROnPlateau: epoch 5: loss has not improved for 2 epochs; learning rate 0.05 -> 0.025
        >>> model.optimizer.lr
        0.025
    """

    def __init__(self, monitor: str = "val_loss", *, factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, verbose: int = 0) -> None:
        where = "ReduceLROnPlateau"
        self.sign = _direction(where, monitor, mode)
        self.monitor, self.mode = monitor, mode
        self.factor = _real(where, "factor", factor, high=1.0, high_open=True)
        self.patience = _int(where, "patience", patience)
        self.min_delta = _real(where, "min_delta", min_delta)
        self.cooldown = _int(where, "cooldown", cooldown)
        self.min_lr = _real(where, "min_lr", min_lr)
        self.verbose = _verbose(where, verbose)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf * self.sign
        self.wait = 0
        self.cooldown_counter = 0
        self.reductions: list[int] = []

    def on_train_begin(self, model: Any) -> None:
        self._reset()

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.sign * value < self.sign * self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        opt = model.optimizer
        old = opt.current_lr()
        if old > self.min_lr:
            _scale_lr(opt, self.factor, self.min_lr)
            self.reductions.append(epoch)
            if self.verbose:
                how = "" if not callable(opt.lr) else f" (the schedule is now scaled by {opt.lr.factor:g})"
                print(f"ReduceLROnPlateau: epoch {epoch + 1}: {self.monitor} has not improved for "
                      f"{_plural(self.wait, 'epoch')}; learning rate {old:g} -> {opt.current_lr():g}{how}")
            self.cooldown_counter, self.wait = self.cooldown, 0


def _positional(fn: Callable[..., Any], n: int) -> bool | None:
    """Whether ``fn`` can be called with ``n`` positional arguments (None: its signature is unknown)."""
    try:
        inspect.signature(fn).bind(*range(n))
    except TypeError:
        return False
    except ValueError:  # some builtins have no signature to read
        return None
    return True


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)``, as Keras.

    ``epoch`` counts from 0 (and on across calls to ``fit``), ``lr`` is the rate the optimizer
    would use now. The number returned replaces the optimizer's ``lr`` for the whole epoch (a
    per-step schedule given to the optimizer is replaced too). A ``schedule(epoch)`` of one
    argument works as well.

    Arguments:
        schedule: a callable ``(epoch, lr) -> new lr`` or ``epoch -> new lr``, returning a finite
            number ≥ 0.
        verbose: 1 prints the rate at every epoch; 0 nothing.

    Example:
        >>> import numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> halve = anynet.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer=anynet.optim.SGD(lr=0.1), epochs=3,
        ...               callbacks=[halve], verbose=0)
        >>> model.optimizer.lr
        0.025
    """

    def __init__(self, schedule: Callable[..., float], *, verbose: int = 0) -> None:
        where = "LearningRateScheduler"
        if not callable(schedule):
            raise ConfigError(f"{where}: schedule must be a callable (epoch, lr) -> lr, got {schedule!r}")
        two, one = _positional(schedule, 2), _positional(schedule, 1)
        if two is False and one is False:
            raise ConfigError(f"{where}: schedule must take (epoch, lr) or (epoch), but {schedule!r} takes neither")
        self.schedule, self._two = schedule, two is not False
        self.verbose = _verbose(where, verbose)

    def on_epoch_begin(self, model: Any, epoch: int, logs: Logs) -> None:
        opt = model.optimizer
        lr = opt.current_lr()
        new = self.schedule(epoch, lr) if self._two else self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, numbers.Real) or not math.isfinite(new) or new < 0:
            args = f"{epoch}, {lr:g}" if self._two else f"{epoch}"
            raise ConfigError(f"LearningRateScheduler: schedule({args}) returned {new!r}; it must return the "
                              "learning rate, a finite number ≥ 0")
        opt.lr = float(new)
        if self.verbose:
            print(f"LearningRateScheduler: epoch {epoch + 1}: learning rate {float(new):g}")


# -- logging -------------------------------------------------------------------------------------
class CSVLogger(Callback):
    """Write one row per epoch to a CSV file: ``epoch`` (from 0, as ``History.epoch``), then every
    logged value.

    The columns are the logged keys in their order at the first row written (or the header of the
    file being appended to); they stay the same for every later row: a key missing from an
    epoch's logs is written ``NA``, a key no column has is not written. The file is opened,
    written and closed at every epoch, so each row is on disk when the epoch ends, also when
    training stops with an error. (Under distributed training only rank 0 will write.)

    Arguments:
        path: the file.
        separator: the field separator, one character.
        append: add to an existing file (keeping its header) instead of starting it anew at the
            start of every ``fit``.

    Example:
        >>> import csv, os, tempfile, numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> tmp = tempfile.TemporaryDirectory()
        >>> log = anynet.callbacks.CSVLogger(os.path.join(tmp.name, "log.csv"))
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer="sgd", epochs=2, callbacks=[log],
        ...               verbose=0)
        >>> with open(log.path, newline="") as f:
        ...     rows = list(csv.reader(f))
        >>> rows[0][:2], [row[0] for row in rows[1:]]
        (['epoch', 'loss'], ['0', '1'])
        >>> tmp.cleanup()
    """

    root_only = True

    def __init__(self, path: str | os.PathLike, *, separator: str = ",", append: bool = False) -> None:
        where = "CSVLogger"
        self.path = _path(where, "path", path)
        if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n\"":
            raise ConfigError(f"{where}: separator must be one character (not a quote or a line break), "
                              f"got {separator!r}")
        self.separator = separator
        self.append = _flag(where, "append", append)
        self.keys: list[str] | None = None

    def on_train_begin(self, model: Any) -> None:
        self.keys = None
        if not self.append:
            with open(self.path, "w", newline=""):  # start anew now: an unwritable path fails before training
                pass
        elif os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), [])
            if not header or header[0] != "epoch":
                raise InputError(f"CSVLogger: cannot append to {self.path!r}: its first row is {header!r}, not a "
                                 f"header starting with 'epoch' (separator {self.separator!r}); give another path "
                                 "or append=False")
            self.keys = header[1:]

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        header = self.keys is None
        if self.keys is None:
            self.keys = [k for k in logs if k != "epoch"]
        with open(self.path, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if header:
                writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(_cell(logs[k]) if k in logs else "NA" for k in self.keys)])


def _cell(value: Any) -> Any:
    # repr of a float round-trips; numpy scalars would print as np.float64(...) with repr
    return repr(float(value)) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value


def _summary_writer() -> Any:
    """A writer class ``cls(log_dir)`` with ``add_scalar(tag, value, step)``, ``flush()`` and ``close()``:
    :class:`_EventFile` (tensorboardX's event records, written synchronously), else the SummaryWriter of
    torch.utils.tensorboard (which writes from a thread too, but whose flush waits for it)."""
    try:
        import tensorboardX  # noqa: F401 - only asked whether it is there
    except ImportError:
        pass
    else:
        return _EventFile
    try:  # needs the tensorboard package besides torch
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        pass
    else:
        return SummaryWriter
    raise ConfigError('TensorBoard: writing TensorBoard logs needs the tensorboardX package; install it with '
                      'pip install "anynet-nn[tensorboard]" (or pip install tensorboardX)')


class _EventFile:
    """One TensorBoard event file of ``log_dir``, written with tensorboardX's record writer in this
    thread: what ``add_scalar`` wrote is in the file when ``flush`` returns. (tensorboardX's
    SummaryWriter writes from a background thread, and its flush does not wait for it: an epoch's
    scalars could be missing from the file after the flush, and lost if the process then died.)

    Its name is unique (the process id and a per-process count follow tensorboardX's time and host): two
    writers opened in one second, which tensorboardX would give the same name, never write over each other.
    """

    _opened = itertools.count()

    def __init__(self, log_dir: str) -> None:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        os.makedirs(log_dir, exist_ok=True)
        self._event, self._scalar = Event, scalar
        self._file = EventsWriter(os.path.join(log_dir, "events"), f".{os.getpid()}.{next(self._opened):06d}")

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._file.write_event(self._event(wall_time=time.time(), step=int(step), summary=self._scalar(tag, value)))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class TensorBoard(Callback):
    """Write the logged values as TensorBoard scalars (``tensorboard --logdir LOG_DIR``).

    Every epoch, each logged number is written as ``epoch/<name>`` (``epoch/loss``,
    ``epoch/val_accuracy``, ``epoch/lr`` …) at x = the epoch (from 0). With ``update_freq=N``
    the loss of every N-th step is written too, as ``batch/loss`` at x = the step (from 0, as
    ``model.train_state.step`` counts): reading that loss is a host synchronisation once every N
    steps, so choose N large on a GPU. With ``"epoch"`` (the default) nothing runs per step.

    Needs ``tensorboardX`` (``pip install "anynet-nn[tensorboard]"``); ``torch.utils.tensorboard``
    is used instead where only it is installed. Creating the callback without either raises
    :class:`~anynet.ConfigError`. Each ``fit`` writes a new event file into ``log_dir`` (named
    uniquely: fits in the same second keep their own files), and every epoch's values are in it when
    the epoch ends, also when training then stops with an error.

    Arguments:
        log_dir: the folder for the event files (created if missing).
        update_freq: ``"epoch"``, or an int N ≥ 1 to write the step loss every N steps
            (``"batch"`` means 1).

    Example:
        >>> import os, tempfile, numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> tmp = tempfile.TemporaryDirectory()
        >>> tb = anynet.callbacks.TensorBoard(tmp.name, update_freq=2)
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer="sgd", epochs=2, batch_size=4,
        ...               callbacks=[tb], verbose=0)
        >>> any(name.startswith("events.out.tfevents") for name in os.listdir(tmp.name))
        True
        >>> tmp.cleanup()
    """

    root_only = True

    def __init__(self, log_dir: str | os.PathLike, *, update_freq: str | int = "epoch") -> None:
        where = "TensorBoard"
        self.log_dir = _path(where, "log_dir", log_dir)
        if update_freq == "batch":
            update_freq = 1
        if isinstance(update_freq, str):
            if update_freq != "epoch":
                raise ConfigError(f"{where}: update_freq must be 'epoch', 'batch' or an int ≥ 1, got {update_freq!r}")
            self.update_freq: str | int = "epoch"
        else:
            if isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral) or update_freq < 1:
                raise ConfigError(f"{where}: update_freq must be 'epoch', 'batch' or an int ≥ 1, got {update_freq!r}")
            self._every: int = int(update_freq)
            self.update_freq = self._every
            # per-step work only when asked for: the loop skips per-batch hooks otherwise
            self.on_batch_end = self._write_step
        self._writer_class = _summary_writer()  # fails here, not after the first epoch
        self.writer: Any = None

    def on_train_begin(self, model: Any) -> None:
        if self.writer is not None:  # a fit that ended with an error did not close it
            self.writer.close()
        self.writer = self._writer_class(self.log_dir)

    def _write_step(self, model: Any, step: int, logs: Logs) -> None:
        if (step + 1) % self._every == 0:
            self.writer.add_scalar("batch/loss", float(to_numpy(logs["loss"])), step)  # the host read, every N steps

    def on_epoch_end(self, model: Any, epoch: int, logs: Logs) -> None:
        for key, value in logs.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                self.writer.add_scalar(f"epoch/{key}", float(value), epoch)
        self.writer.flush()

    def on_train_end(self, model: Any) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class LambdaCallback(Callback):
    """A callback from functions, as Keras' ``LambdaCallback``: each given function is called as
    that hook, with the hook's arguments (see :mod:`anynet.callbacks`):
    ``on_train_begin(model)``, ``on_epoch_begin(model, epoch, logs)``,
    ``on_batch_begin(model, step, logs)`` … Hooks not given do nothing, and without
    ``on_batch_begin``/``on_batch_end`` nothing runs per step.

    Arguments:
        on_epoch_begin, on_epoch_end: ``f(model, epoch, logs)``.
        on_batch_begin, on_batch_end: ``f(model, step, logs)``.
        on_train_begin, on_train_end: ``f(model)``.

    Example:
        >>> import numpy as np, anynet
        >>> from anynet.layers import Dense
        >>> show = anynet.callbacks.LambdaCallback(on_epoch_end=lambda model, epoch, logs: print("done", epoch))
        >>> model = anynet.Sequential([Dense(2, 1)], seed=0)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), loss="mse", optimizer="sgd", epochs=2, callbacks=[show],
        ...               verbose=0)
        done 0
        done 1
    """

    _ARGUMENTS: ClassVar[dict[str, str]] = {
        "on_train_begin": "model", "on_train_end": "model",
        "on_epoch_begin": "model, epoch, logs", "on_epoch_end": "model, epoch, logs",
        "on_batch_begin": "model, step, logs", "on_batch_end": "model, step, logs"}

    def __init__(self, *, on_epoch_begin: Callable[..., Any] | None = None,
                 on_epoch_end: Callable[..., Any] | None = None, on_batch_begin: Callable[..., Any] | None = None,
                 on_batch_end: Callable[..., Any] | None = None, on_train_begin: Callable[..., Any] | None = None,
                 on_train_end: Callable[..., Any] | None = None) -> None:
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_batch_begin": on_batch_begin,
                 "on_batch_end": on_batch_end, "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        for hook, fn in given.items():
            if fn is None:
                continue
            args = self._ARGUMENTS[hook]
            if not callable(fn):
                raise ConfigError(f"LambdaCallback: {hook} must be a function f({args}) or None, got {fn!r}")
            if _positional(fn, args.count(",") + 1) is False:
                raise ConfigError(f"LambdaCallback: {hook} is called as f({args}), but {fn!r} cannot take "
                                  f"{args.count(',') + 1} positional argument(s)")
            setattr(self, hook, fn)  # on the instance: the loop sees which hooks are defined
