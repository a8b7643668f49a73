"""The models users build: :class:`Graph` and :class:`Sequential`, networks that train and save.

Each is the network of :mod:`anynet.network` (architecture, parameters, buffers) plus a
:class:`~anynet.training.TrainState` (loss, optimizer, metrics, epoch and step, the stream) and
``metadata``: ``fit``, ``predict``, ``predict_proba``, ``evaluate`` (:mod:`anynet.training`) and
``save`` (:mod:`anynet.checkpoint`). They are registered as model types, which is how a checkpoint
names them.

Example:
    >>> import numpy as np
    >>> from anynet import Sequential
    >>> from anynet.layers import Dense
    >>> model = Sequential([Dense(4, 8, activation="relu"), Dense(8, 3)], seed=0)
    >>> model(np.ones((2, 4), np.float32)).shape
    (2, 3)
    >>> sorted(model.parameters())
    ['0.W', '0.b', '1.W', '1.b']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from . import checkpoint, network, training
from .backends import Backend, resolve, to_device
from .callbacks import History
from .optim import Optimizer
from .registry import register

Array = Any


class Model:
    """Training, prediction and saving on top of a network (mixed into Graph and Sequential)."""

    train_state: training.TrainState
    metadata: dict[str, Any]
    loss_node: tuple[str, Any, list[str]] | None  # set by network.Graph, which this is mixed into

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.train_state = training.TrainState(loss=self.loss_node[1] if self.loss_node else None)
        #: JSON-able facts saved inside the checkpoint (feature names, preprocessing, …)
        self.metadata = {}
        self.stop_training = False

    # -- what training set ---------------------------------------------------------------------------
    @property
    def loss(self) -> Any:
        """The loss of the last ``fit`` (or of the graph's loss node)."""
        return self.train_state.loss

    @property
    def optimizer(self) -> Any:
        """The optimizer of the last ``fit``; it owns its state, keyed by parameter path."""
        return self.train_state.optimizer

    @property
    def metrics(self) -> list[str]:
        return self.train_state.metrics

    def to(self, spec: str | Backend) -> Any:
        """Move parameters, buffers and optimizer state to another backend/device (in place)."""
        target = resolve(spec)
        super().to(target)  # type: ignore[misc]
        opt = self.train_state.optimizer
        if opt is not None:
            opt.load_state_dict(to_device(opt.state_dict(), target))
        return self

    def astype(self, dtype: Any) -> Any:
        """Cast parameters, buffers and optimizer state to another float dtype (in place)."""
        super().astype(dtype)  # type: ignore[misc]
        opt = self.train_state.optimizer
        if opt is not None:
            xp, dt = self.backend.xp, self.backend.dtype(self.dtype)  # type: ignore[attr-defined]
            opt.load_state_dict({k: xp.astype(v, dt) for k, v in opt.state_dict().items()})
        return self

    # -- training, prediction, saving ----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **options: Any) -> History:
        """Train on ``(X, y)`` or on X an iterable of ``(X, y)`` batches; see :func:`anynet.training.fit`
        for every option. Returns a History.

        An optimizer object is this model's from its first step on: one that took steps for another
        model is refused (:meth:`anynet.optim.Optimizer.claim`), as its state would carry over."""
        given = options.get("optimizer")
        if isinstance(given, Optimizer):
            given.claim(self, f"{type(self).__name__}.fit")
        try:
            return training.fit(self, X, y, **options)
        finally:
            if self.optimizer is not None:
                self.optimizer.claim(self)

    def predict(self, X: Any, *, batch_size: int | None = None, steps: int | None = None) -> Array:
        """Outputs for ``X`` (NumPy in → NumPy out; device arrays stay on the device; a Dask array in → a
        lazy Dask array out, one task per chunk: :mod:`anynet.dask`). ``steps``: the most batches read of
        a stream; a generator needs it (see :func:`anynet.training.predict`)."""
        if training.is_dask(X):
            from . import dask as on_dask  # imports Dask: only for Dask data

            return on_dask.predict(self, X, batch_size=batch_size)
        return training.predict(self, X, batch_size=batch_size, steps=steps)

    def predict_proba(self, X: Any, *, batch_size: int | None = None, steps: int | None = None) -> Array:
        """Class probabilities: the outputs as the training loss reads them (lazily for a Dask array)."""
        if training.is_dask(X):
            from . import dask as on_dask

            return on_dask.predict(self, X, proba=True, batch_size=batch_size)
        return training.predict_proba(self, X, batch_size=batch_size, steps=steps)

    def evaluate(self, X: Any, y: Any = None, *, loss: Any = None, metrics: Sequence[str] | None = None,
                 batch_size: int | None = None, steps: int | None = None) -> dict[str, float]:
        """Loss and metrics on ``(X, y)``, or on X an iterable of ``(X, y)`` batches, at most ``steps`` of
        them (a generator needs ``steps``); Dask arrays: per chunk."""
        if training.is_dask(X):
            from . import dask as on_dask

            return on_dask.evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)
        return training.evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size, steps=steps)

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint atomically (see :mod:`anynet.checkpoint`)."""
        checkpoint.save(self, path)

    # -- pickle and copy: through the checkpoint bytes, the backend re-created from its spec -------------
    def __reduce__(self) -> tuple[Any, tuple[bytes, str]]:
        return _unpickle, (checkpoint.dumps(self), self.backend.spec)  # type: ignore[attr-defined]

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return checkpoint.loads(checkpoint.dumps(self), backend=self.backend)  # type: ignore[attr-defined]


def _unpickle(data: bytes, spec: str) -> Any:
    """Rebuild a pickled model (validated like any checkpoint) on the backend it was on."""
    return checkpoint.loads(data, backend=spec)


@register("model")
class Graph(Model, network.Graph):
    __doc__ = network.Graph.__doc__


@register("model")
class Sequential(Model, network.Sequential):
    __doc__ = network.Sequential.__doc__

