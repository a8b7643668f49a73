"""Where this process's rows sit in a global batch, for layers that look across the batch.

In data-parallel training (:mod:`anynet.distributed`) every process holds a slice of each global
batch. Two layers must see the whole batch to give the one-process result: :class:`~anynet.layers.Dropout`
draws its mask for the global batch and keeps its rows, and :class:`~anynet.layers.BatchNorm` sums
its statistics over every process (synchronized batch normalisation). The training loop says where
the slice sits with :func:`use`; outside data-parallel training :func:`current` is None and the
layers behave as on one process. This module is a leaf: layers read it, training writes it.

Example:
    >>> from anynet import shard
    >>> shard.current() is None
    True
    >>> with shard.use(shard.Shard(offset=4, total=8, allreduce=lambda a: a)):
    ...     (shard.current().offset, shard.current().total)
    (4, 8)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["Shard", "current", "use"]


@dataclass(frozen=True)
class Shard:
    """This process's rows ``[offset, offset + n)`` of a global batch of ``total`` rows.

    Arguments:
        offset: the first row of this process's slice within the global batch.
        total: the rows of the global batch, over every process.
        allreduce: sums a device array over every process (same shape and dtype on each).
    """

    offset: int
    total: int
    allreduce: Callable[[Any], Any]


_CURRENT: ContextVar[Shard | None] = ContextVar("anynet_shard", default=None)


def current() -> Shard | None:
    """The slice being trained on now, or None outside data-parallel training."""
    return _CURRENT.get()


@contextmanager
def use(shard: Shard | None) -> Iterator[None]:
    """Make ``shard`` current inside the ``with`` block (None: one process)."""
    token = _CURRENT.set(shard)
    try:
        yield
    finally:
        _CURRENT.reset(token)
