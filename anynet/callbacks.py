"""Callbacks run by ``fit`` at the end of every epoch: early stopping and checkpoints.

A callback sets ``model.stop_training = True`` to end training after the current epoch.
"""

from __future__ import annotations

import math
from typing import Any


class Callback:
    def on_train_begin(self, model: Any) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        """Called after every epoch with that epoch's losses and metrics."""

    def on_train_end(self, model: Any) -> None:
        """Called once after the last epoch (also after early stopping)."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` (the default) the model ends with the parameters and buffers
    of its best epoch.
    """

    def __init__(self, monitor: str = "val_loss", *, patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be ≥ 0, got {patience!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be auto, min or max, got {mode!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode, self.restore = mode, restore_best_weights

    def on_train_begin(self, model: Any) -> None:
        self.best = math.inf
        self.wait = 0
        self.best_epoch: int | None = None
        self._best_state: dict[str, Any] | None = None
        self.sign = 1.0
        if self.mode == "max" or (self.mode == "auto" and any(
                k in self.monitor for k in ("acc", "r2"))):
            self.sign = -1.0

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitor {self.monitor!r} is not logged; logged: "
                           f"{', '.join(logs)} (val_* needs validation_data or validation_split)")
        value = self.sign * logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore:
                xp = model.backend.xp
                self._best_state = {k: xp.asarray(v, copy=True) for k, v in
                                    {**model.parameters(), **model.buffers()}.items()}
        else:
            self.wait += 1
            if self.wait > self.patience:
                model.stop_training = True

    def on_train_end(self, model: Any) -> None:
        if self.restore and self._best_state is not None:
            for path, arr in self._best_state.items():
                node, _, key = path.rpartition(".")
                layer = model.nodes[node]
                (layer.params if key in layer.params else layer.buffers)[key] = arr


class ModelCheckpoint(Callback):
    """Save the model every ``every`` epochs (``path`` may hold ``{epoch}``), or only when
    ``monitor`` improves with ``save_best_only``."""

    def __init__(self, path: str, *, every: int = 1, save_best_only: bool = False,
                 monitor: str = "val_loss") -> None:
        if every < 1:
            raise ValueError(f"ModelCheckpoint: every must be ≥ 1, got {every!r}")
        self.path, self.every, self.best_only, self.monitor = str(path), every, save_best_only, monitor
        self.best = math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % self.every:
            return
        if self.best_only:
            value = logs.get(self.monitor)
            if value is None or not value < self.best:
                return
            self.best = value
        path = self.path.format(epoch=epoch + 1)
        model.save(path)
        self.saved.append(path)
