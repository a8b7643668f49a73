"""Batches split across processes (``shard=(rank, size)``): each rank gets its contiguous slice of
every global batch; the global batches and their order are those of one process."""

from __future__ import annotations

import numpy as np
import pytest

import anynet
from anynet import Sequential
from anynet.batches import ArrayBatches, HostRows, WrapBatches, shard_span, training_batches
from anynet.errors import InputError
from anynet.layers import BatchNorm, Dense
from anynet.training import TrainState, compile_state


def _arrays(n):
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    return X, np.arange(n, dtype=np.float64)


def _epoch(batches):
    """Every batch of one epoch with ``current`` as it was when the batch came."""
    return [(anynet.to_numpy(xb), anynet.to_numpy(yb), batches.current) for xb, yb in batches]


def _joined(per_rank):
    """The ranks' slices of each batch put back together, rank after rank, checking ``current``."""
    out = []
    for parts in zip(*per_rank):
        offsets = [cur for _, _, cur in parts]
        total = offsets[0][1]
        assert all(t == total for _, t in offsets)
        assert [o for o, _ in offsets] == sorted(o for o, _ in offsets) and offsets[0][0] == 0
        xs, ys = np.concatenate([x for x, _, _ in parts]), np.concatenate([y for _, y, _ in parts])
        assert xs.shape[0] == total
        for (o, _), (x, _, _) in zip(offsets, parts):
            assert x.shape[0] >= 1  # every rank has rows of every batch
            np.testing.assert_array_equal(xs[o:o + x.shape[0]], x)
        out.append((xs, ys))
    return out


def _same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("host", [False, True])
def test_the_ranks_slices_put_together_are_the_unsharded_batches(backend, size, shuffle, host):
    X, y = _arrays(103)
    make = ((lambda a: HostRows(a, lambda part: backend.asarray(part))) if host else backend.asarray)

    def batches(shard, min_batch=1):
        return ArrayBatches(make(X), make(y), batch_size=10, shuffle=shuffle, backend=backend, shard=shard,
                            rng_of=lambda: np.random.default_rng(7), min_batch=min_batch)

    # with 4 processes the 3-row tail joins the batch before: one process does so with min_batch=4
    whole = [(x, yy) for x, yy, _ in _epoch(batches(None, min_batch=size))]
    per_rank = [_epoch(batches((r, size))) for r in range(size)]
    assert all(len(b) == len(whole) == (10 if size == 4 else 11) for b in per_rank)
    _same_batches(_joined(per_rank), whole)
    rank1 = per_rank[min(1, size - 1)]
    n = whole[0][0].shape[0]
    r = min(1, size - 1)
    assert rank1[0][2] == (n * r // size, n) and rank1[0][0].shape[0] == n * (r + 1) // size - n * r // size


@pytest.mark.parametrize("size", [2, 3])
def test_wrap_batches_split_the_same_way(size):
    backend = anynet.get_backend("numpy")
    X, y = _arrays(50)

    def epochs(shard):
        state, rng = TrainState(), np.random.default_rng(3)
        b = WrapBatches(X, y, batch_size=8, shuffle=True, state=state, backend=backend, steps=9, shard=shard,
                        rng_of=lambda: rng)
        return [_epoch(b) for _ in range(3)]  # 27 batches of 8: the stream wraps around several times

    whole = [[(x, yy) for x, yy, _ in e] for e in epochs(None)]
    per_rank = [epochs((r, size)) for r in range(size)]
    for e in range(3):
        _same_batches(_joined([p[e] for p in per_rank]), whole[e])


def test_a_last_global_batch_smaller_than_the_processes_joins_the_one_before():
    backend = anynet.get_backend("numpy")
    X, y = _arrays(1025)
    b = ArrayBatches(X, y, batch_size=256, shuffle=False, rng_of=lambda: None, backend=backend, shard=(0, 4))
    assert b.spans[-1] == (768, 1025) and len(b) == 4
    plain = ArrayBatches(X, y, batch_size=256, shuffle=False, rng_of=lambda: None, backend=backend, min_batch=4)
    assert plain.spans == b.spans  # the batches one process makes with that rule
    assert shard_span(768, 1025, (3, 4)) == (960, 1025, 192, 257)


def _model(**kw):
    model = Sequential([Dense(2, 3), Dense(3, 1)], seed=0, **kw)
    compile_state(model, "fit", "mse", "sgd", ())
    return model


def _call(model, X, y, **kw):
    options = dict(batch_size=8, shuffle=True, batching="epoch", steps=None, validation_data=None,
                   validation_split=None, where="Sequential.fit")
    options.update(kw)
    return training_batches(model, X, y, **options)


def test_training_batches_shard_training_and_validation_rows():
    X, y = _arrays(40)
    model = _model(dtype="float64")
    batches, val = _call(model, X, y, shard=(1, 2), validation_split=0.25)
    assert [xb.shape[0] for xb, _ in batches] == [4, 4, 4, 3]  # 30 rows: global batches 8, 8, 8, 6
    assert batches.current == (3, 6)
    assert [xb.shape[0] for xb, _ in val] == [5] and val.sharded  # rank 1's half of the 10 validation rows
    model = _model(dtype="float64")
    wrap, _ = _call(model, X, y, shard=(0, 3), batching="wrap")
    assert [xb.shape[0] for xb, _ in wrap] == [2] * 5 and wrap.current == (0, 8)


def test_training_batches_refuse_what_cannot_be_split():
    X, y = _arrays(40)
    model = _model(dtype="float64")
    with pytest.raises(InputError, match=r"batch_size=3 is smaller than the number of processes \(4\)"):
        _call(model, X, y, batch_size=3, shard=(0, 4))
    with pytest.raises(InputError, match="a stream of batches cannot be split across processes"):
        _call(model, [(X[:8], y[:8])], None, batch_size=anynet.batches.UNSET, shuffle=anynet.batches.UNSET,
              shard=(0, 2))
    with pytest.raises(InputError, match="X has 3 samples, fewer than the 4 processes"):
        _call(model, X[:3], y[:3], batch_size=4, shard=(0, 4))
    for bad in [(2, 2), (-1, 2), (0, 0), [0, 2], (0.0, 2), (True, 2)]:
        with pytest.raises(InputError, match="shard must be"):
            _call(model, X, y, shard=bad)


def test_a_batchnorm_model_with_shard_keeps_two_rows_per_global_batch():
    X, y = _arrays(33)
    model = Sequential([Dense(2, 3), BatchNorm(3), Dense(3, 1)], seed=0, dtype="float64")
    compile_state(model, "fit", "mse", "sgd", ())
    batches, _ = _call(model, X, y, batch_size=8, shuffle=False, shard=(0, 2))
    assert batches.spans[-1] == (24, 33)  # the 1-row tail joins the batch before, as without shard
