"""Data-parallel training over MPI (and NCCL on GPUs): one model, several processes, one result.

Launch the same script once per process (``mpiexec -n 2 python train.py``, or ``srun -n 8 python
train.py`` under Slurm) and pass the communicator to ``fit``::

    comm = anynet.distributed.init()          # mpi4py's COMM_WORLD; size 1 without mpiexec
    model.fit(X, y, ..., comm=comm)           # every process holds X and y (or a memmap of them)

Every process draws the same seeded global batch order on the host and trains on its own slice of
each global batch; the gradients are summed over the processes (each process's loss gradient is
scaled by its share of the global batch, so the sum is the gradient of the global-batch loss) and
every process takes the same optimizer step. At the start the parameters, buffers and generators
are broadcast from rank 0. Dropout draws its mask for the global batch and keeps its rows, and
BatchNorm sums its statistics over the processes, so the weights equal those of one process
trained on the global batches (float64: to rounding, within 1e-12). Losses and metrics are summed
over the processes at each epoch's end, so every process sees the same logs and callbacks decide
alike; only rank 0 shows progress and runs the callbacks that write files
(:attr:`~anynet.callbacks.Callback.root_only`).

Before the first step the processes compare what they were given (:func:`job_facts`: the rows of X
and a sample of them, a digest of every target and of the validation data, the options, the model)
and refuse, by name and rank, a job where they differ: the same X with labels encoded in another
order on one process would otherwise train to nonsense without a word. They also end together:
``model.stop_training`` set on any process after an epoch stops every process after it (one small
all-reduce per epoch), and a process that ends early (an uncaught exception, a non-zero exit status,
an exception it left ``fit`` by and caught, a ``StopTraining`` raised on it alone in the middle of an
epoch) aborts the whole job instead of leaving the others waiting for it forever (:func:`init`).

The sums go through MPI (``Allreduce`` on host buffers) or, for a CuPy model on several GPUs,
NCCL (``cupy.cuda.nccl``, its unique id broadcast over MPI, one GPU per process by local rank);
the two share every line but the all-reduce call.

Example (one process; under ``mpiexec`` the same lines train data-parallel):
    >>> import numpy as np
    >>> import anynet
    >>> from anynet.layers import Dense
    >>> comm = anynet.distributed.init()
    >>> (comm.Get_rank(), comm.Get_size())
    (0, 1)
    >>> model = anynet.Sequential([Dense(3, 1)], seed=0)
    >>> h = model.fit(np.ones((8, 3)), np.ones(8), loss="mse", optimizer="sgd", batch_size=4, verbose=0, comm=comm)
    >>> len(h.history["loss"])
    1
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .backends import Backend, is_array, to_numpy
from .batches import HostRows, n_rows
from .errors import ConfigError, InputError, InputTypeError
from .shard import Shard, use
from .validation import chunk_rows

__all__ = ["DataParallel", "LocalComm", "digest", "ending", "init", "job_facts", "launched_by_mpi",
           "local_rank"]

Array = Any

#: environment variables set by MPI launchers (MPICH/Hydra, PMIx, Open MPI, Intel MPI) in every process
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


def launched_by_mpi() -> bool:
    """True when this process was started by an MPI launcher (``mpiexec``, ``mpirun``, ``srun``)."""
    env = os.environ
    if any(name in env for name in _LAUNCHER_VARS):
        return True
    # srun without an MPI plugin sets only Slurm's own variables
    return "SLURM_PROCID" in env and int(env.get("SLURM_STEP_NUM_TASKS", env.get("SLURM_NTASKS", "1")) or 1) > 1


class LocalComm:
    """The communicator of a job of one process, with the mpi4py methods anynet uses.

    :func:`init` returns it when the script was not started by an MPI launcher, so the same script
    runs with and without ``mpiexec`` and mpi4py is not imported.
    """

    rank, size = 0, 1

    def Get_rank(self) -> int:  # noqa: N802 - mpi4py's names
        return 0

    def Get_size(self) -> int:  # noqa: N802
        return 1

    def Allreduce(self, sendbuf: Any, recvbuf: Any, op: Any = None) -> None:  # noqa: N802
        np.copyto(recvbuf, sendbuf)

    def Bcast(self, buf: Any, root: int = 0) -> None:  # noqa: N802
        """Nothing to send: the one process holds the data."""

    def allreduce(self, obj: Any, op: Any = None) -> Any:
        return obj

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]

    def Barrier(self) -> None:  # noqa: N802
        """Nothing to wait for."""

    def Abort(self, errorcode: int = 1) -> None:  # noqa: N802
        os._exit(errorcode)

    def Dup(self) -> LocalComm:  # noqa: N802
        return self

    def Ibarrier(self) -> Any:  # noqa: N802 - a request whose Test() is True at once
        """A barrier of one process: done at once."""
        return _Done()

    def __repr__(self) -> str:
        return "LocalComm(rank=0, size=1)"


class _Done:
    """A request that is complete (:meth:`LocalComm.Ibarrier`)."""

    def Test(self) -> bool:  # noqa: N802 - mpi4py's name
        return True


def init(*, abort_on_error: bool = True, exit_timeout: float = 30.0) -> Any:
    """The communicator of this job: mpi4py's ``MPI.COMM_WORLD`` under an MPI launcher, else a
    :class:`LocalComm` of size 1 (mpi4py is then not imported).

    Arguments:
        abort_on_error: end the whole job (``comm.Abort``) when one process ends early, instead of
            leaving the others waiting in a collective forever: after an uncaught exception (a
            ``sys.excepthook`` prints the traceback, then aborts with status 1); when the process
            ends with a non-zero status (given to ``sys.exit``, which is wrapped to note it, or to
            :func:`ending`: the job ends with that status); and when it ends after leaving a
            data-parallel ``fit`` by an exception that it caught, unless every process left it.
        exit_timeout: how long, in seconds, a process that left a data-parallel ``fit`` early (by
            an exception, or by a ``StopTraining`` raised in the middle of an epoch) waits, as it
            ends or begins its next ``fit``, for the other processes to have left it too; they have
            when the same thing happened on each (then nothing is aborted), else the job is aborted.

    With CuPy imported (or ``ANYNET_BACKEND=cupy``), each process also selects its GPU by local
    rank (rank within its node, modulo the GPUs it sees), so create the model after ``init()``.
    """
    if isinstance(exit_timeout, bool) or not isinstance(exit_timeout, (int, float)) or not exit_timeout > 0:
        raise ConfigError("anynet.distributed.init: exit_timeout must be a number of seconds > 0, got "
                          f"{exit_timeout!r}")
    if not launched_by_mpi():
        return LocalComm()
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "anynet.distributed.init: this process was started by an MPI launcher but mpi4py is not installed; "
            'install it with: pip install "anynet-nn[mpi]" (mpi4py and the MPICH wheel)') from e
    comm = MPI.COMM_WORLD
    expected = _launched_tasks()
    if expected > 1 and comm.Get_size() == 1:
        raise RuntimeError(
            f"anynet.distributed.init: the launcher started {expected} tasks but MPI sees a world of 1 process, so "
            "each would train alone; under Slurm start it with an MPI plugin (srun --mpi=pmix or --mpi=pmi2) or "
            "with mpiexec, and use the MPI that mpi4py was built against")
    _ENDING.timeout = float(exit_timeout)
    if abort_on_error and comm.Get_size() > 1:
        _install_abort_hook(comm)
        _install_exit_guard(comm)
    if "cupy" in sys.modules or os.environ.get("ANYNET_BACKEND", "").startswith("cupy"):
        _select_gpu(comm)
    return comm


def _launched_tasks() -> int:
    """How many processes the launcher says it started (0 when it does not say)."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _install_abort_hook(comm: Any) -> None:
    previous = sys.excepthook
    if getattr(previous, "anynet_abort", False):  # init() called again: one hook is enough
        return

    def abort(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        try:
            previous(kind, value, tb)
            sys.stderr.write(f"anynet.distributed: rank {comm.Get_rank()} raised {kind.__name__}; aborting all "
                             f"{comm.Get_size()} processes\n")
        finally:
            _abort_now(comm, 1)

    abort.anynet_abort = True  # type: ignore[attr-defined]
    sys.excepthook = abort


class _Ending:
    """How this process ends a job of several early (:func:`init` with ``abort_on_error`` sets it up)."""

    def __init__(self) -> None:
        #: the communicator the exit guard aborts (None: no guard installed)
        self.world: Any = None
        self.timeout = 30.0
        #: the last non-zero status the process said it ends with (sys.exit, :func:`ending`)
        self.status = 0
        #: id(comm) → (comm, its private duplicate, "fit"): a data-parallel fit this process began and
        #: has not finished (left by an exception, or running)
        self.open: dict[int, tuple[Any, Any, str]] = {}
        #: id(comm) → (comm, its duplicate for the leaving check, whose messages no training collective
        #: matches); holding comm keeps its id from being reused
        self.private: dict[int, tuple[Any, Any]] = {}


_ENDING = _Ending()


def ending(status: Any) -> Any:
    """Say that this process is about to end with ``status`` (what ``sys.exit`` takes; returns it).

    In a job of several processes set up by :func:`init` (``abort_on_error``), a non-zero status
    aborts every process with that status as this one ends: the others may be waiting for it in a
    collective. ``sys.exit`` says it by itself after :func:`init`; ``raise SystemExit(status)``
    does not, so a program that ends that way passes its status through here.
    """
    code = _status_code(status)
    if code:
        _ENDING.status = code
    return status


def _status_code(status: Any) -> int:
    """The exit status of ``sys.exit(status)``: None 0, an int itself, anything else (a message) 1."""
    if status is None:
        return 0
    return int(status) if isinstance(status, (int, np.integer)) else 1


def _install_exit_guard(comm: Any) -> None:
    first = _ENDING.world is None
    _ENDING.world = comm
    if not first:  # init() called again: one wrapper and one exit hook are enough
        return
    original = sys.exit

    def exit(status: Any = None) -> None:  # noqa: A001 - stands in for sys.exit
        ending(status)
        original(status)

    sys.exit = exit  # type: ignore[assignment]
    atexit.register(_at_exit)  # runs before mpi4py's MPI_Finalize, registered when it was imported


def _at_exit() -> None:
    world = _ENDING.world
    if world is None:
        return
    if _ENDING.status:
        _abort(world, f"it ends with exit status {_ENDING.status}", _ENDING.status)
    for comm, private, where in list(_ENDING.open.values()):
        _leave_together(comm, private, f"it ends after leaving {where} by an exception", "leave it",
                        "; let such an exception end the process (init's hook aborts the job at once), or catch it "
                        "on every process alike")
    _ENDING.open.clear()


def _private(comm: Any) -> Any:
    """comm's duplicate for the leaving check (made once per communicator, at the first fit: collective)."""
    key = id(comm)
    if key not in _ENDING.private:
        _ENDING.private[key] = (comm, comm.Dup())
    return _ENDING.private[key][1]


def _all_arrive(private: Any, timeout: float) -> bool:
    """Whether every process reaches this point (a non-blocking barrier on ``private``) within ``timeout`` s."""
    request = private.Ibarrier()
    deadline = time.monotonic() + timeout
    while not request.Test():
        if time.monotonic() > deadline:
            return False  # (the request stays pending: the job is aborted next)
        time.sleep(0.005)
    return True


def _leave_together(comm: Any, private: Any, what: str, same: str, fix: str = "") -> None:
    """Return when every process comes here too (``what`` happened on each); else abort the job,
    saying what happened here and what the others did not do (``same``) in time."""
    if not _all_arrive(private, _ENDING.timeout):
        _abort(comm, f"{what}, and the other processes did not {same} within {_ENDING.timeout:g} s{fix}", 1)


def _abort(comm: Any, why: str, status: int) -> None:
    sys.stderr.write(f"anynet.distributed: rank {comm.Get_rank()}: {why}; aborting all {comm.Get_size()} "
                     "processes, which would otherwise wait for this one forever\n")
    _abort_now(comm, status)


#: how long a process that aborts the job waits after writing its message: the launcher kills every
#: process at the abort and drops what it has not yet forwarded of their output (the message too)
ABORT_GRACE_S = 0.5


def _abort_now(comm: Any, status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing more to lose
            stream.flush()
    time.sleep(ABORT_GRACE_S)
    comm.Abort(status)


def local_rank(comm: Any) -> int:
    """This process's rank among the processes of its node (0 without MPI)."""
    if isinstance(comm, LocalComm):
        return 0
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return int(node.Get_rank())
    finally:
        node.Free()


def _select_gpu(comm: Any) -> None:
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no CuPy or no CUDA device: nothing to select
        return
    if count:
        cupy.cuda.Device(local_rank(comm) % count).use()


def _size_of(comm: Any, where: str) -> tuple[int, int]:
    try:
        return int(comm.Get_rank()), int(comm.Get_size())
    except AttributeError:
        raise InputTypeError(f"{where}: comm must be an MPI communicator (anynet.distributed.init() or mpi4py's "
                             f"MPI.COMM_WORLD), got {type(comm).__name__}") from None


class DataParallel:
    """The collective operations of data-parallel training for one model (used by ``fit``).

    Arguments:
        comm: an mpi4py communicator (or :class:`LocalComm`); backend: the model's backend, whose
            arrays are summed (NCCL for CuPy when there are several processes, MPI otherwise).
    """

    def __init__(self, comm: Any, backend: Backend, *, where: str = "fit") -> None:
        self.comm, self.backend = comm, backend
        self.rank, self.size = _size_of(comm, where)
        self._nccl: Any = None
        #: the flat host buffer the gradients are summed in on NumPy, kept across steps
        self._flat: np.ndarray | None = None
        if self.size > 1 and backend.name == "cupy":
            self._nccl = _nccl_communicator(comm, self.rank, self.size)

    @classmethod
    def of(cls, comm: Any, model: Any, where: str) -> DataParallel | None:
        """The model's data-parallel context for ``comm``; None for None or a job of one process."""
        if comm is None:
            return None
        dp = cls(comm, model.backend, where=where)
        return dp if dp.size > 1 else None

    @classmethod
    def begin(cls, comm: Any, model: Any, where: str) -> DataParallel | None:
        """:meth:`of`, at the start of a ``fit`` that every process must leave together: until
        :meth:`close` (or :meth:`stopped`) this process is in it, and if it ends meanwhile (an exception
        it caught), it aborts the job unless every process left the fit too (:func:`init`)."""
        dp = cls.of(comm, model, where)
        if dp is not None:
            private = _private(dp.comm)
            left = _ENDING.open.pop(id(dp.comm), None)
            if left is not None:  # the last fit on this communicator ended here by an exception
                _leave_together(dp.comm, private, f"{where}: it begins a new fit after leaving the last one by an "
                                                  "exception", "leave the last one")
            _ENDING.open[id(dp.comm)] = (dp.comm, private, where)
        return dp

    def agree_stop(self, stop: bool) -> bool:
        """Whether any process asks to stop (``model.stop_training`` after an epoch's callbacks):
        every process then stops at the same epoch. One small all-reduce, once per epoch."""
        return bool(self.comm.allreduce(int(bool(stop))))

    def stopped(self, where: str) -> None:
        """This process left ``fit`` by ``StopTraining``: return when every process did (a callback
        raised it on each alike), else abort the job, the others still training would wait forever."""
        entry = _ENDING.open.pop(id(self.comm), None)
        private = entry[1] if entry is not None else _private(self.comm)
        _leave_together(self.comm, private, f"{where}: a callback raised StopTraining on this process in the middle "
                                            "of an epoch", "raise it too (they went on training)",
                        "; to stop every process together, set model.stop_training = True in on_epoch_end (fit stops "
                        "every process after the epoch where one asks), or raise StopTraining on every process alike")

    def close(self) -> None:
        """The end of a ``fit`` begun by :meth:`begin`, reached together by every process."""
        _ENDING.open.pop(id(self.comm), None)

    # -- sums over processes -------------------------------------------------------------------------
    def allreduce(self, x: Array) -> Array:
        """The sum of ``x`` (a device array of the same shape and dtype on every process)."""
        if self._nccl is not None:
            return _nccl_sum(self._nccl, x)
        value = to_numpy(x)
        host = np.ascontiguousarray(value)  # (ascontiguousarray makes a 0-d array 1-d)
        out = np.empty_like(host)
        self.comm.Allreduce(host, out)  # mpi4py's default op is SUM
        return self.backend.asarray(out.reshape(value.shape))

    # -- the training step ---------------------------------------------------------------------------
    def step(self, model: Any, loss: Any, xb: Array, yb: Array, slots: Sequence[tuple[str, dict, dict, str]],
             offset: int, total: int) -> tuple[Array, Array]:
        """Forward and backward on this process's rows of a global batch, then one all-reduce.

        Arguments:
            xb: (n, in_features) this process's rows ``[offset, offset + n)`` of a global batch of
                ``total`` rows (a dict of such arrays for several inputs); yb: their prepared targets.
            slots: ``(path, params, grads, key)`` of every trainable parameter, as the training loop
                hands them to the optimizer; their gradients are replaced by the sums over processes.

        Returns ``(outputs (n, out_features), the global batch's loss as a 0-d device array)``.
        """
        n = n_rows(xb)
        # the loss reduced over n rows, scaled to its share of the loss reduced over the global batch; a
        # process with no rows of a short last batch still runs the step (BatchNorm's sums, the all-reduce
        # are collective) and adds zeros
        xp = self.backend.xp
        with use(Shard(offset=offset, total=total, allreduce=self.allreduce)):
            out, back = model.forward(xb, training=True, need_dx=False)
            if n:
                scale = loss.reduce(0.0, total)[1] / loss.reduce(0.0, n)[1]
                value, lback = loss.compute(out, yb)
                back(lback() * scale)
                share = value * scale
            else:
                back(xp.zeros_like(out))
                share = xp.zeros((), dtype=out.dtype)
        return out, self.reduce_gradients(slots, share)

    def reduce_gradients(self, slots: Sequence[tuple[str, dict, dict, str]], share: Array) -> Array:
        """Sum every gradient, and this process's ``share`` of the loss (0-d), over the processes in
        one all-reduce of one flat buffer; returns the summed loss."""
        xp = self.backend.xp
        grads = [g[k] for _, _, g, k in slots]
        parts = [xp.reshape(share, (1,)), *(xp.reshape(g, (-1,)) for g in grads)]
        # on NumPy summed in place in one buffer kept across steps
        flat = self._sum_in_place(parts) if self.backend.name == "numpy" else self.allreduce(xp.concat(parts))
        start = 1
        for (_, _, g, k), old in zip(slots, grads):
            size = int(np.prod(old.shape))
            # views of the flat buffer; a layer that writes its next gradient into the old array (NumPy's
            # matmul_reusing) then writes straight into the buffer, and the next concatenation is a no-op copy
            g[k] = xp.reshape(flat[start:start + size], old.shape)
            start += size
        return xp.reshape(xp.asarray(flat[0:1], copy=True), ())  # a copy: the buffer is overwritten next step

    def _sum_in_place(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        size = sum(int(p.shape[0]) for p in parts)
        flat = self._flat
        if flat is None or flat.shape[0] != size or flat.dtype != parts[0].dtype:
            flat = self._flat = np.empty(size, dtype=parts[0].dtype)
        np.concatenate(parts, out=flat)
        if isinstance(self.comm, LocalComm):
            self.comm.Allreduce(flat.copy(), flat)
        else:
            from mpi4py import MPI  # an mpi4py communicator: mpi4py is imported already

            self.comm.Allreduce(MPI.IN_PLACE, flat)
        return flat

    def reduce_metrics(self, metrics: Sequence[Any]) -> None:
        """Sum each metric's running sums and count over the processes."""
        for m in metrics:
            m.all_reduce(self.allreduce, lambda c: int(self.comm.allreduce(int(c))))

    # -- the start of training -----------------------------------------------------------------------
    def check_agreement(self, model: Any, batches: Any, epochs: int, X: Any, where: str, val: Any = None) -> None:
        """Refuse, on every process alike, a job whose processes were given different data or options.

        The facts of :func:`job_facts` (``val``: the validation batches) are gathered from every
        process and compared with rank 0's; the error names each fact that differs and the rank.
        """
        facts = job_facts(model, batches, epochs, X, val)
        gathered = self.comm.allgather(facts)
        for rank, theirs in enumerate(gathered[1:], start=1):
            differ = [k for k in facts if theirs.get(k) != gathered[0].get(k)]
            if differ:
                shown = "; ".join(f"{k}: rank 0 has {gathered[0].get(k)!r}, rank {rank} has {theirs.get(k)!r}"
                                  for k in differ)
                hints = "".join(hint for keys, hint in _AGREEMENT_HINTS if any(k in differ for k in keys))
                raise InputError(f"{where}: the {self.size} processes were not given the same training job ({shown}); "
                                 "every process must call fit with all of X and y and the same validation data "
                                 "(each trains on, and scores, its own rows of every global batch, chosen by anynet), "
                                 f"the same options and the same model{hints}")

    def broadcast_model(self, model: Any) -> None:
        """Give every process rank 0's parameters, buffers, generators (batch order, Dropout masks)
        and training state (optimizer state and step count, epoch, step, wrap-around stream)."""
        state = {}
        for key, value in sorted(model.state_dict().items()):
            host = np.ascontiguousarray(to_numpy(value))
            self.comm.Bcast(host, root=0)
            state[key] = host
        model.load_state_dict(state)
        gens = self.comm.bcast(_generators(model) if self.rank == 0 else None, root=0)
        _set_generators(model, gens)
        state, opt = model.train_state, model.train_state.optimizer
        counters = self.comm.bcast({"epoch": state.epoch, "step": state.step, "stream": state.stream,
                                    "iterations": opt.iterations,
                                    "optimizer": to_numpy(opt.state_dict())} if self.rank == 0 else None, root=0)
        state.epoch, state.step, state.stream = counters["epoch"], counters["step"], counters["stream"]
        opt.iterations = counters["iterations"]
        opt.load_state_dict({k: self.backend.asarray(v) for k, v in counters["optimizer"].items()})


#: what the refusal adds when these facts differ: the usual cause and its fix
_AGREEMENT_HINTS = (
    (("a digest of y", "a digest of y_val"),
     "; the targets differ although the features agree: labels encoded in an order that depends on the "
     "process (list(set(names)) follows each process's hash seed) give each its own classes: encode them "
     "the same way everywhere, e.g. with sorted(set(names)) or numpy.unique"),
    (("validation data", "a digest of X_val", "a digest of y_val"),
     "; give every process the same validation_data (all of it, not a share: anynet splits it)"),
)


def job_facts(model: Any, batches: Any, epochs: int, X: Any, val: Any = None) -> dict[str, Any]:
    """What every process of data-parallel training must agree on (JSON-able): the rows of X and a
    digest of rows 0, n/2 and n-1 (three rows, whatever the backend: no copy of X), a digest of every
    target (y is read in row chunks, as training prepared it: labels encoded in an order that depends
    on the process change it), the validation batches ``val`` (their rows and a digest of every row
    of X_val and y_val; a stream of batches by its kind only), the batches, the epochs, the
    optimizer, the loss and the architecture."""
    state = model.train_state
    first = next(iter(X.values())) if isinstance(X, Mapping) else X
    n = batches.n
    if not is_array(first):  # a DataFrame, nested lists
        first = np.asarray(first)
    sample = np.concatenate([np.asarray(to_numpy(first[i:i + 1, ...]), dtype=np.float64).ravel()
                             for i in (0, n // 2, n - 1)])
    return {"rows of X": n, "a digest of rows 0, n/2 and n-1": hashlib.sha256(sample.tobytes()).hexdigest()[:16],
            "a digest of y": digest(batches.y), **_validation_facts(val),
            "batches per epoch": len(batches), "batch size": getattr(batches, "batch_size", None),
            "epochs": epochs, "optimizer": [type(state.optimizer).__name__, repr(state.optimizer.config())],
            "loss": [type(state.loss).__name__, repr(state.loss.config())], "model": model.architecture()}


def _validation_facts(val: Any) -> dict[str, Any]:
    if val is None:
        return {"validation data": None}
    if not hasattr(val, "X"):  # a stream of batches: scored whole on every process, its batches unknown here
        return {"validation data": f"a stream of batches ({type(getattr(val, 'source', val)).__name__})"}
    return {"validation data": f"{val.n} row{'s' * (val.n != 1)}", "a digest of X_val": digest(val.X),
            "a digest of y_val": digest(val.y)}


def digest(a: Any) -> str:
    """A digest (16 hex digits of SHA-256) of every value of ``a``: a device array, a
    :class:`~anynet.batches.HostRows` (digested as it serves its rows) or a dict of them, read a chunk
    of rows at a time (one chunk on the host at once), with its dtype and row shape.

    Example:
        >>> import numpy as np
        >>> digest(np.arange(6.0).reshape(3, 2)) == digest(np.arange(6.0).reshape(3, 2)), len(digest(np.ones(3)))
        (True, 16)
        >>> digest(np.arange(3)) == digest(np.array([0, 2, 1]))
        False
    """
    h, kind = hashlib.sha256(), ""
    for part in _host_chunks(a):
        if f"{part.dtype.str}{part.shape[1:]}" != kind:  # once per array, whatever its chunks
            kind = f"{part.dtype.str}{part.shape[1:]}"
            h.update(kind.encode())
        h.update(np.ascontiguousarray(part).data)
    return h.hexdigest()[:16]


def _host_chunks(a: Any) -> Iterator[np.ndarray]:
    """The rows of ``a`` (as :func:`digest` takes it) as host arrays, a chunk at a time."""
    if isinstance(a, Mapping):
        for key in sorted(a):
            yield np.frombuffer(str(key).encode(), dtype=np.uint8)
            yield from _host_chunks(a[key])
        return
    if not len(a.shape):
        yield np.asarray(to_numpy(a)).reshape(1)
        return
    n, held = int(a.shape[0]), isinstance(a, HostRows)
    take = a.take if held else (lambda rows: a[rows, ...])
    # a row as served (a one-hot row for labels held by rows), counted as float64
    row = a.take(slice(0, 1)) if held and n else a
    step = chunk_rows(a, row_bytes=max(1, math.prod(int(d) for d in row.shape[1:])) * 8)
    for start in range(0, n, step):
        yield np.asarray(to_numpy(take(slice(start, start + step))))


def _generators(model: Any) -> dict[str, Any]:
    rng = getattr(model, "rng", None)
    own = dict(rng.bit_generator.state) if isinstance(rng, np.random.Generator) else None
    return {"model": own, "layers": {name: layer.extra_state() for name, layer in model.nodes.items()}}


def _set_generators(model: Any, gens: dict[str, Any]) -> None:
    if gens["model"] is not None and isinstance(getattr(model, "rng", None), np.random.Generator):
        model.rng.bit_generator.state = gens["model"]
    for name, layer in model.nodes.items():
        state = gens["layers"].get(name)
        if state is not None:
            layer.load_extra_state(state)


# -- NCCL: the one line that differs on GPUs -------------------------------------------------------------
#: one NCCL communicator per MPI communicator (and GPU), made at the first fit that needs it, not at every fit
_NCCL_COMMS: dict[tuple[int, int], Any] = {}


def _nccl_communicator(comm: Any, rank: int, size: int) -> Any:
    import cupy

    key = (id(comm), cupy.cuda.Device().id)
    if key not in _NCCL_COMMS:
        _NCCL_COMMS[key] = _new_nccl_communicator(comm, rank, size)
    return _NCCL_COMMS[key]


def _new_nccl_communicator(comm: Any, rank: int, size: int) -> Any:
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        raise InputError("fit: training a CuPy model on several processes needs NCCL (cupy.cuda.nccl), which this "
                         "CuPy build lacks; install CuPy with NCCL, e.g. pip install nvidia-nccl-cu12") from e
    uid = comm.bcast(nccl.get_unique_id() if rank == 0 else None, root=0)
    return nccl.NcclCommunicator(size, uid, rank)


def _nccl_sum(communicator: Any, x: Array) -> Array:
    import cupy
    from cupy.cuda import nccl

    x = cupy.ascontiguousarray(x)
    out = cupy.empty_like(x)
    kinds: dict[Any, Callable[[], int]] = {cupy.dtype("float32"): lambda: nccl.NCCL_FLOAT32,
                                          cupy.dtype("float64"): lambda: nccl.NCCL_FLOAT64}
    communicator.allReduce(x.data.ptr, out.data.ptr, x.size, kinds[x.dtype](), nccl.NCCL_SUM,
                           cupy.cuda.get_current_stream().ptr)
    return out
