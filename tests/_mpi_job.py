"""Jobs the MPI tests (test_distributed.py) launch with ``mpiexec -n 2 python -m tests._mpi_job JOB OUT``.

They run as a module: run as a script, tests/ would come first on sys.path and its _csv.py would hide
the standard library's.

Every job calls ``anynet.distributed.init()`` the way a user script does; results go to files in OUT
named by rank, and the test compares them with one process run in the test itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import anynet
from anynet.layers import BatchNorm, Dense, Dropout


def data(n: int = 203, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """203 rows: global batches of 32 split 16/16 and the last one (11 rows) 5/6; 193 rows: the last
    global batch has 1 row, and one process none of it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y


def model(width: int = 16, norm: bool = True) -> anynet.Sequential:
    """``width=256``: a 256×256 weight, large enough for NumPy to write its gradient into the last one,
    which in data-parallel training is a view of the buffer the gradients are summed in. ``norm=False``:
    no BatchNorm, whose 2 rows per batch would merge a 1-row last batch into the one before."""
    hidden = [Dense(width, width, activation="relu")] if width > 16 else []
    return anynet.Sequential([Dense(6, width, activation="relu"), *[BatchNorm(width)] * norm, Dropout(0.3), *hidden,
                              Dense(width, 3)], seed=0, dtype="float64")


def model_of(job: str) -> anynet.Sequential:
    return model(256 if job == "equal-wide" else 16, norm=job != "equal-tail")


def fit(net: anynet.Sequential, comm=None, rows: int = 203, val_rows: int = 60, **options):
    X, y = data(rows)
    Xv, yv = data(val_rows, seed=1)
    options = {"epochs": 3, **options}
    return net.fit(X, y, loss="softmax_cross_entropy", optimizer=anynet.optim.Adam(lr=1e-2), batch_size=32,
                   metrics=["accuracy"], validation_data=(Xv, yv), verbose=0, comm=comm, **options)


#: document 004's data layer: full batches from an endless shuffled stream (its position is sharded too)
WRAP = {"batching": "wrap", "steps_per_epoch": 4}


def resume(net: anynet.Sequential, first: slice, comm=None) -> None:
    """An epoch on rows ``first`` without comm, then 3 more continuing with the same optimizer (its
    moments and step count) on all rows with ``comm``."""
    X, y = data()
    net.fit(X[first], y[first], loss="softmax_cross_entropy", optimizer=anynet.optim.Adam(lr=1e-2), batch_size=32,
            verbose=0)
    net.fit(X, y, epochs=3, batch_size=32, verbose=0, comm=comm)


def options_of(job: str) -> dict:
    """fit's options of an "equal…" job: wrap batching, 193 rows (a last global batch of 1 row), or a
    validation set of 1 row (scored whole on each process) or 5 (split 2 and 3)."""
    return {"equal-wrap": WRAP, "equal-tail": {"rows": 193}, "equal-val1": {"val_rows": 1},
            "equal-val5": {"val_rows": 5}}.get(job, {})


class BatchLosses(anynet.callbacks.Callback):
    """The loss of every step as the per-step hooks see it (the progress bar, TensorBoard)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, model, step, logs) -> None:
        self.losses.append(float(logs["loss"]))


class RecordRank(anynet.callbacks.Callback):
    """Writes a line per epoch into a file shared by every process; root_only, so rank 0 only."""

    root_only = True

    def __init__(self, path: Path, rank: int) -> None:
        self.path, self.rank = path, rank

    def on_epoch_end(self, model, epoch, logs) -> None:
        with open(self.path, "a") as f:
            f.write(f"{self.rank}\n")


class StopOn(anynet.callbacks.Callback):
    """Stops training on rank ``rank`` only (None: on every rank): ``how`` is "flag" (sets
    model.stop_training after epoch 0), "epoch" (raises StopTraining after epoch 0), "batch" (raises
    it at step 3, in the middle of an epoch) or "exit" (calls sys.exit(0) at step 3)."""

    def __init__(self, how: str, rank: int | None, me: int) -> None:
        self.how, self.here = how, rank is None or rank == me

    def on_epoch_end(self, model, epoch, logs) -> None:
        if self.here and epoch == 0 and self.how == "flag":
            model.stop_training = True
        if self.here and epoch == 0 and self.how == "epoch":
            raise anynet.callbacks.StopTraining("stopped on purpose")

    def on_batch_end(self, model, step, logs) -> None:
        if self.here and step == 3 and self.how == "batch":
            raise anynet.callbacks.StopTraining("stopped on purpose")
        if self.here and step == 3 and self.how == "exit":
            sys.exit(0)


def stop_job(job: str, rank: int) -> tuple[str, int | None]:
    """"stop-HOW-WHO" → (how, the rank it stops on: None for "all")."""
    _, how, who = job.split("-")
    return how, None if who == "all" else int(who)


def main(job: str, out: Path) -> None:
    comm = anynet.distributed.init(exit_timeout=3)
    rank = comm.Get_rank()
    if job.startswith("equal"):  # weights and history; the test compares them with one process
        net, steps = model_of(job), BatchLosses()
        history = fit(net, comm, callbacks=[steps], **options_of(job))
        np.savez(out / f"weights{rank}.npz", **{k: anynet.to_numpy(v) for k, v in net.state_dict().items()})
        (out / f"history{rank}.json").write_text(json.dumps({**history.history, "steps": steps.losses}))
        (out / f"backend{rank}.txt").write_text(net.backend.name)
    elif job == "resume":  # the ranks trained apart first (as if rank 0 alone loaded a checkpoint); rank 0's wins
        resume(net := model(), slice(None) if rank == 0 else slice(0, 100), comm)
        np.savez(out / f"weights{rank}.npz", **{k: anynet.to_numpy(v) for k, v in net.state_dict().items()})
    elif job == "different-data":  # each rank given its own shard, as other libraries teach: refused
        net, (X, y) = model(), data()
        rows = slice(0, 150) if rank == 0 else slice(150, None)
        net.fit(X[rows], y[rows], loss="softmax_cross_entropy", optimizer="adam", batch_size=32, verbose=0, comm=comm)
    elif job == "files":  # only rank 0 writes checkpoints, CSV logs and root_only callbacks' files
        net = model()
        fit(net, comm, callbacks=[anynet.callbacks.CSVLogger(out / "log.csv"),
                                  anynet.callbacks.ModelCheckpoint(out / "e{epoch}.safetensors"),
                                  RecordRank(out / "ranks.txt", rank)])
    elif job == "raise":  # rank 1 fails while rank 0 waits in a collective: the job must end, not hang
        if rank == 1:
            raise RuntimeError("rank 1 failed on purpose")
        comm.Barrier()
    elif job == "raise-in-fit":  # rank 1 gets bad data: its InputError must end rank 0's fit too
        net = model()
        X, y = data()
        if rank == 1:
            X[5, 2] = np.nan
        net.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", epochs=2, batch_size=32, verbose=0, comm=comm)
    elif job in ("different-labels", "different-validation"):  # y (or the validation set) differs: refused
        net, (X, y) = model(), data()
        Xv, yv = data(1 if rank == 0 else 5, seed=1) if job == "different-validation" else data(60, seed=1)
        if job == "different-labels" and rank == 1:  # classes 1 and 2 swapped, as list(set(names)) may do
            y = np.choose(y, [0, 2, 1])
        net.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", batch_size=32, validation_data=(Xv, yv),
                verbose=0, comm=comm)
    elif job.startswith("stop-"):  # a callback stops one rank (or all): every rank stops, or the job ends
        net, (how, who) = model(), stop_job(job, rank)
        history = fit(net, comm, callbacks=[StopOn(how, who, rank)])
        (out / f"epochs{rank}.json").write_text(json.dumps(len(history.history.get("loss", []))))
        np.savez(out / f"weights{rank}.npz", **{k: anynet.to_numpy(v) for k, v in net.state_dict().items()})
    elif job.startswith("exit-"):  # rank 1 ends by sys.exit(3) before its fit, while rank 0 trains
        if rank == 1:
            sys.exit(3)
        fit(model(), comm)
    elif job.startswith("caught-"):  # bad data on rank 1 (or every rank): the InputError is caught, the rank ends
        net, (X, y) = model(), data()
        if rank == 1 or job == "caught-all":
            X[5, 2] = np.nan
        try:
            net.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", batch_size=32, verbose=0, comm=comm)
        except anynet.errors.InputError as e:
            print(f"rank {rank} caught: {e}", file=sys.stderr)
        if job == "caught-refit":  # and rank 1 begins a new fit, while rank 0 still waits in the first
            X[5, 2] = 0.0
            net.fit(X, y, loss="softmax_cross_entropy", optimizer="adam", batch_size=32, verbose=0, comm=comm)
        (out / f"ended{rank}.txt").write_text("ended")
    else:
        raise SystemExit(f"unknown job {job!r}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
