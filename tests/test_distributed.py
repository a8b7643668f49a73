"""anynet.distributed: data-parallel training over MPI equals one process.

The MPI tests launch real jobs with ``mpiexec -n 2`` (mpi4py and the MPICH wheel, extra ``[mpi]``),
each under a timeout so a hanging job fails the test instead of CI; the jobs are in _mpi_job.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anynet
from anynet.distributed import LocalComm, launched_by_mpi
from anynet.errors import ConfigError, InputError, InputTypeError
from tests import _mpi_job as job

HERE = Path(__file__).resolve().parent
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
_LAUNCH_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "SLURM_PROCID")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def mpiexec(*args: str, timeout: float = 240, cwd: Path = HERE.parent) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n 2 ARGS`` in ``cwd``; on timeout kill the whole process group and fail."""
    return launch(["-n", "2", *args], timeout=timeout, cwd=cwd)


def each_rank(first: list[str], second: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n 1 FIRST : -n 1 SECOND``: rank 0 runs one command line, rank 1 the other."""
    return launch(["-n", "1", *first, ":", "-n", "1", *second], timeout=timeout)


def launch(args: list[str], timeout: float = 240, cwd: Path = HERE.parent) -> subprocess.CompletedProcess:
    """Run ``mpiexec ARGS`` in ``cwd``; on timeout kill the whole process group and fail."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('mpi4py not installed (pip install "anynet-nn[mpi]")')
    if MPIEXEC is None:
        pytest.skip('mpiexec not found (pip install "anynet-nn[mpi]" installs MPICH\'s)')
    proc = subprocess.Popen([MPIEXEC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_clean_env(), cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"mpiexec {' '.join(args)} did not finish in {timeout} s (a hang)")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_job(name: str, out: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return mpiexec(sys.executable, "-m", "tests._mpi_job", name, str(out), timeout=timeout)


# -- one process -------------------------------------------------------------------------------------------
def test_init_without_a_launcher_is_one_process_and_does_not_import_mpi4py():
    code = ("import sys, anynet; c = anynet.distributed.init(); "
            "print(c.Get_rank(), c.Get_size(), 'mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(), check=True)
    assert out.stdout.split() == ["0", "1", "False"]


def test_launch_detection_reads_the_launchers_variables(monkeypatch):
    for name in _LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_mpi()
    monkeypatch.setenv("PMI_RANK", "0")
    assert launched_by_mpi()
    monkeypatch.delenv("PMI_RANK")
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert not launched_by_mpi()  # a one-task Slurm step is one process
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    assert launched_by_mpi()


def test_fit_with_a_one_process_comm_equals_fit_without():
    a, b = job.model(), job.model()
    ha, hb = job.fit(a), job.fit(b, LocalComm())
    assert ha.history == hb.history
    for k, v in a.state_dict().items():
        assert np.array_equal(anynet.to_numpy(v), anynet.to_numpy(b.state_dict()[k])), k


def test_init_refuses_an_exit_timeout_that_is_not_a_positive_number():
    for bad in (0, -1.0, True, "30"):
        with pytest.raises(ConfigError, match="exit_timeout must be a number of seconds > 0"):
            anynet.distributed.init(exit_timeout=bad)


def test_ending_notes_the_status_sys_exit_would_give(monkeypatch):
    """None → 0 (nothing noted), an int → itself, a message → 1; the status comes back unchanged."""
    from anynet import distributed

    monkeypatch.setattr(distributed._ENDING, "status", 0)
    assert distributed.ending(None) is None and distributed._ENDING.status == 0
    assert distributed.ending(0) == 0 and distributed._ENDING.status == 0
    assert distributed.ending("bad input") == "bad input" and distributed._ENDING.status == 1
    assert distributed.ending(4) == 4 and distributed._ENDING.status == 4


def test_fit_refuses_what_is_not_a_communicator():
    with pytest.raises(InputTypeError, match="comm must be an MPI communicator"):
        job.fit(job.model(), comm="world")


class TwoRanks(LocalComm):
    """Rank ``rank`` of 2, for the checks ``fit`` makes before any message is sent."""

    size = 2

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def Get_rank(self) -> int:  # noqa: N802
        return self.rank

    def Get_size(self) -> int:  # noqa: N802
        return 2


def test_a_stream_cannot_be_split_across_processes():
    X, y = job.data()
    net = job.model()
    with pytest.raises(InputError, match="cannot be split across processes"):
        net.fit([(X[:32], y[:32])], loss="softmax_cross_entropy", optimizer="sgd", verbose=0, comm=TwoRanks(0))


def test_global_batches_smaller_than_the_processes_are_refused():
    X, y = job.data()
    with pytest.raises(InputError, match="batch_size=1 is smaller than the number of processes"):
        job.model().fit(X, y, loss="softmax_cross_entropy", optimizer="sgd", batch_size=1, verbose=0,
                        comm=TwoRanks(0))


@pytest.mark.parametrize("n_val", [60, 1])
def test_each_process_scores_its_slice_of_the_validation_rows(n_val):
    """60 rows: split between 2 processes (fit sums the results); 1 row: every process scores it."""
    from anynet.batches import training_batches

    X, y = job.data()
    Xv, yv = job.data(n_val, seed=1)
    net = job.model()
    net.train_state.loss = anynet.losses.get("softmax_cross_entropy")
    seen = []
    for rank in (0, 1):
        _, val = training_batches(net, X, y, batch_size=32, shuffle=False, batching="epoch", steps=None,
                                  validation_data=(Xv, yv), validation_split=None, where="fit", shard=(rank, 2))
        assert val.sharded == (n_val > 1)
        seen.append(np.concatenate([anynet.to_numpy(xb) for xb, _ in val]))
    if n_val > 1:
        np.testing.assert_array_equal(np.concatenate(seen), Xv)
    else:
        np.testing.assert_array_equal(seen[0], Xv)
        np.testing.assert_array_equal(seen[1], Xv)


def test_the_loss_gradient_is_scaled_to_the_global_batch():
    """Two halves, each scaled by its share, sum to the full batch's gradient (mean and sum losses)."""
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    for reduction in ("mean", "sum"):
        loss = anynet.losses.get("mse", reduction=reduction)
        whole = loss.compute(pred, target)[1]()
        parts = []
        for rows in (slice(0, 4), slice(4, 10)):
            n = len(range(10)[rows])
            scale = loss.reduce(0.0, 10)[1] / loss.reduce(0.0, n)[1]
            parts.append(loss.compute(pred[rows], target[rows])[1]() * scale)
        np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-14, atol=0)


# -- two processes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "backend"), [("equal", None), ("equal-wrap", None), ("equal-wide", None),
                                               ("equal-tail", None), ("equal-val1", None), ("equal-val5", None),
                                               ("equal", "torch")])
def test_two_processes_give_the_weights_of_one(tmp_path, monkeypatch, name, backend):
    """f64, 3 epochs, shuffled, Dropout and BatchNorm, uneven last batch (or one of 1 row, which leaves
    a process no rows), validation sets of 60, 1 and 5 rows: within 1e-12 of one process (on NumPy;
    1e-10 between a torch job and NumPy's one process, which round differently)."""
    if backend is not None:
        pytest.importorskip(backend, reason=f"{backend} not installed")
        monkeypatch.setenv("ANYNET_BACKEND", backend)
    result = run_job(name, tmp_path)
    monkeypatch.delenv("ANYNET_BACKEND", raising=False)
    assert result.returncode == 0, result.stderr
    tol = 1e-12 if backend is None else 1e-10
    assert (tmp_path / "backend1.txt").read_text() == (backend or "numpy")
    single, steps = job.model_of(name), job.BatchLosses()
    history = job.fit(single, callbacks=[steps], **job.options_of(name))
    history.history["steps"] = steps.losses  # each step's loss of the global batch, not of a slice
    expected = {k: anynet.to_numpy(v) for k, v in single.state_dict().items()}
    for rank in (0, 1):
        got = np.load(tmp_path / f"weights{rank}.npz")
        assert sorted(got.files) == sorted(expected)
        for k, v in expected.items():
            np.testing.assert_allclose(got[k], v, rtol=0, atol=tol, err_msg=f"rank {rank}: {k}")
        logs = json.loads((tmp_path / f"history{rank}.json").read_text())
        assert logs.keys() == history.history.keys()
        for k, v in history.history.items():
            np.testing.assert_allclose(logs[k], v, rtol=tol, atol=tol, err_msg=f"rank {rank}: {k}")
    # the job trained: its weights moved away from the initial ones
    start = job.model_of(name).state_dict()["0.W"]
    assert not np.allclose(np.load(tmp_path / "weights0.npz")["0.W"], anynet.to_numpy(start))


def test_only_rank_0_writes_files(tmp_path):
    result = run_job("files", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ranks.txt").read_text().split() == ["0", "0", "0"]
    lines = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch")  # a header and 3 epochs, written once
    assert sorted(p.name for p in tmp_path.glob("e*.safetensors")) == [f"e{i}.safetensors" for i in (1, 2, 3)]
    assert anynet.load(tmp_path / "e3.safetensors").train_state["epoch"] == 3


def test_training_state_is_broadcast_from_rank_0(tmp_path):
    """The ranks trained apart first (optimizer moments, steps differ): the job continues from rank 0's state."""
    result = run_job("resume", tmp_path)
    assert result.returncode == 0, result.stderr
    job.resume(single := job.model(), slice(None))
    for rank in (0, 1):
        got = np.load(tmp_path / f"weights{rank}.npz")
        for k, v in single.state_dict().items():
            np.testing.assert_allclose(got[k], anynet.to_numpy(v), rtol=0, atol=1e-12, err_msg=f"rank {rank}: {k}")


def test_processes_given_different_data_are_refused(tmp_path):
    result = run_job("different-data", tmp_path, timeout=120)
    assert result.returncode != 0
    assert "were not given the same training job" in result.stderr
    assert "rows of X: rank 0 has 150, rank 1 has 53" in result.stderr


def test_the_message_of_every_aborting_rank_reaches_the_output(tmp_path):
    """Both ranks refuse the job and abort: each one's message is printed, every time (the launcher
    kills every process at the first abort and dropped what it had not forwarded: one message in
    two went missing, both in one run of ten)."""
    for _ in range(4):
        result = run_job("different-data", tmp_path, timeout=60)
        assert result.returncode != 0
        assert result.stderr.count("rows of X: rank 0 has 150, rank 1 has 53") == 2, result.stderr


def test_processes_given_different_labels_are_refused(tmp_path):
    """The same X, but y encoded with the classes in another order on rank 1 (as list(set(names))
    does under another hash seed): it trained to 0.4 accuracy with no word; now refused by name."""
    result = run_job("different-labels", tmp_path, timeout=60)
    assert result.returncode != 0
    assert "were not given the same training job (a digest of y: rank 0 has" in result.stderr
    assert "sorted(set(names))" in result.stderr


def test_processes_given_different_validation_data_are_refused(tmp_path):
    """1 validation row on rank 0 and 5 on rank 1 ended in MPI's "Message truncated"; now refused by name."""
    result = run_job("different-validation", tmp_path, timeout=60)
    assert result.returncode != 0
    assert "validation data: rank 0 has '1 row', rank 1 has '5 rows'" in result.stderr
    assert "truncated" not in result.stderr


def test_the_agreement_digests_every_target_and_the_validation_data():
    """One label changed in a row the X digest does not read, or a validation row: the facts differ."""
    from anynet.batches import training_batches
    from anynet.distributed import job_facts

    X, y = job.data()
    Xv, yv = job.data(60, seed=1)
    net = job.model()
    net.train_state.loss = anynet.losses.get("softmax_cross_entropy")
    net.train_state.optimizer = anynet.optim.get("adam")

    def facts(y, Xv):
        batches, val = training_batches(net, X, y, batch_size=32, shuffle=True, batching="epoch", steps=None,
                                        validation_data=(Xv, yv), validation_split=None, where="fit", shard=(0, 2))
        return job_facts(net, batches, 3, X, val)

    base, other_y, other_val = y.copy(), y.copy(), Xv.copy()
    other_y[7] = (other_y[7] + 1) % 3
    other_val[30, 1] += 1.0
    same, changed_y, changed_val = facts(base, Xv), facts(other_y, Xv), facts(base, other_val)
    assert same == facts(base.copy(), Xv.copy())
    assert [k for k in same if same[k] != changed_y[k]] == ["a digest of y"]
    assert [k for k in same if same[k] != changed_val[k]] == ["a digest of X_val"]
    assert same["validation data"] == "60 rows"


def test_the_digest_reads_held_rows_as_they_are_served(tmp_path):
    """A memory-mapped y (served by rows, one-hot per batch) digests as the same y held whole."""
    from anynet.batches import prepare_y
    from anynet.distributed import digest

    _, y = job.data()
    net = job.model()
    loss = anynet.losses.get("softmax_cross_entropy")
    mapped = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=y.dtype, shape=y.shape)
    mapped[:] = y
    held, whole = prepare_y(net, mapped, loss, len(y), "fit", by_rows=True), prepare_y(net, y, loss, len(y), "fit")
    assert type(held).__name__ == "HostRows" and type(whole).__name__ != "HostRows"
    assert digest(held) == digest(whole)


def test_a_launcher_whose_tasks_mpi_does_not_join_is_refused():
    """srun without an MPI plugin starts N processes that each see a world of 1: they must not train alone."""
    pytest.importorskip("mpi4py", reason='mpi4py not installed (pip install "anynet-nn[mpi]")')
    env = {**_clean_env(), "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"}
    out = subprocess.run([sys.executable, "-c", "import anynet; anynet.distributed.init()"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode != 0
    assert "srun --mpi=pmix" in out.stderr


@pytest.mark.parametrize("name", ["raise", "raise-in-fit"])
def test_an_exception_on_one_rank_ends_the_job(tmp_path, name):
    result = run_job(name, tmp_path, timeout=120)
    assert result.returncode != 0
    assert "aborting all 2 processes" in result.stderr
    assert ("rank 1 failed on purpose" if name == "raise" else "contains NaN") in result.stderr


@pytest.mark.parametrize("name", ["stop-flag-0", "stop-flag-1", "stop-epoch-0", "stop-batch-all", "stop-epoch-all"])
def test_a_callback_that_stops_one_rank_stops_every_rank(tmp_path, name):
    """model.stop_training set, or StopTraining raised after an epoch, on one rank (or a StopTraining on
    every rank): the job ends, each rank after the same epochs and with the same weights."""
    result = run_job(name, tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    epochs = [json.loads((tmp_path / f"epochs{rank}.json").read_text()) for rank in (0, 1)]
    assert epochs == ([0, 0] if "batch" in name else [1, 1])  # stopped in epoch 0's step 3, or after epoch 0
    first, second = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    for k in first.files:
        np.testing.assert_array_equal(first[k], second[k], err_msg=k)


@pytest.mark.parametrize("name", ["stop-batch-0", "stop-exit-1"])
def test_a_rank_that_leaves_in_the_middle_of_an_epoch_ends_the_job(tmp_path, name):
    """StopTraining raised, or sys.exit(0) called, by a callback in the middle of an epoch on one rank
    only: the other rank waits in the next step's all-reduce, so the job is aborted (it hung)."""
    result = run_job(name, tmp_path, timeout=60)
    assert result.returncode != 0
    assert "aborting all 2 processes" in result.stderr
    if "batch" in name:
        assert "raised StopTraining on this process" in result.stderr
        assert "set model.stop_training = True in on_epoch_end" in result.stderr
    else:
        assert "by an exception, and the other processes did not leave it within 3 s" in result.stderr


def test_a_rank_that_exits_with_an_error_status_ends_the_job(tmp_path):
    """sys.exit(3) on rank 1 while rank 0 trains: the job ends with status 3 (it hung)."""
    result = run_job("exit-3", tmp_path, timeout=60)
    assert result.returncode == 3
    assert "rank 1: it ends with exit status 3" in result.stderr


@pytest.mark.parametrize("name", ["caught-1", "caught-all", "caught-refit"])
def test_a_caught_error_in_fit_ends_the_job_unless_every_rank_had_it(tmp_path, name):
    """Bad data on rank 1: its InputError is caught and rank 1 ends normally while rank 0 waits in fit,
    so the job is aborted (it hung). The same error on every rank, caught on each: the job ends as it would."""
    result = run_job(name, tmp_path, timeout=60)
    assert result.stderr.count("caught: fit") + result.stderr.count("caught: Sequential.fit") >= 1
    assert (tmp_path / "ended1.txt").exists() == (name != "caught-refit")
    if name == "caught-all":
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "ended0.txt").exists()
    elif name == "caught-refit":  # rank 1 fits again while rank 0 waits in the first fit
        assert result.returncode != 0
        assert "rank 1: Sequential.fit: it begins a new fit after leaving the last one by an exception" in result.stderr
        assert not (tmp_path / "ended0.txt").exists()
    else:
        assert result.returncode != 0
        assert "rank 1: it ends after leaving Sequential.fit by an exception" in result.stderr
        assert not (tmp_path / "ended0.txt").exists()


def test_the_cli_trains_data_parallel_under_mpiexec(tmp_path):
    anynet_cli = [sys.executable, "-m", "anynet"]
    args = ["train", "digits", "--epochs", "2", "--out", str(tmp_path / "run"), "--seed", "0"]
    result = mpiexec(*anynet_cli, *args)
    assert result.returncode == 0, result.stderr
    assert "2 processes" in result.stdout
    assert result.stdout.count("accuracy") >= 1
    model = anynet.load(tmp_path / "run" / "model.safetensors")
    assert model.train_state["epoch"] == 2


def test_a_cli_error_on_one_rank_ends_the_job(tmp_path):
    """``anynet train`` under mpiexec with a bad option on rank 1 only: rank 1 reports it and returns 2
    while rank 0 trains, and the job ends with status 2 (it hung, rank 0 waiting for rank 1)."""
    anynet_cli = [sys.executable, "-m", "anynet", "train", "digits", "--out", str(tmp_path / "run"), "--quiet"]
    result = each_rank([*anynet_cli, "--epochs", "2"], [*anynet_cli, "--epochs", "0"], timeout=60)
    assert result.returncode == 2, result.stderr
    assert "anynet train: error: --epochs must be an int ≥ 1, got 0" in result.stderr
    assert "rank 1: it ends with exit status 2" in result.stderr


# -- GPUs: NCCL ------------------------------------------------------------------------------------------------
def test_nccl_on_two_gpus_gives_the_weights_of_one(tmp_path):
    """The CuPy path: the same job with ANYNET_BACKEND=cupy sums over NCCL, one GPU per process."""
    try:
        import cupy
        from cupy.cuda import nccl  # noqa: F401
        gpus = cupy.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("CuPy with NCCL is not installed (no CUDA device here)")
    if gpus < 2:
        pytest.skip(f"{gpus} CUDA device(s): NCCL needs one GPU per process, 2 for this test")
    os.environ["ANYNET_BACKEND"] = "cupy"
    try:
        result = run_job("equal", tmp_path)
    finally:
        del os.environ["ANYNET_BACKEND"]
    assert result.returncode == 0, result.stderr
    single = job.model()
    job.fit(single)
    got = np.load(tmp_path / "weights0.npz")
    for k, v in single.state_dict().items():
        np.testing.assert_allclose(got[k], anynet.to_numpy(v), rtol=0, atol=1e-12, err_msg=k)



def test_data_parallel_and_plain_fit_run_the_one_training_step(monkeypatch):
    """train_epoch with and without a DataParallel goes through anynet.step.TrainingStep (written once):
    with one, the step hands it this process's rows and their place in the global batch."""
    import anynet.step
    from anynet import callbacks, training

    calls = []
    eager = anynet.step.TrainingStep.eager

    def counted(self, batch, draws, dp=None, where=(0, 0)):
        calls.append((dp is not None, where))
        return eager(self, batch, draws)  # (one process: its own gradients are the sums)

    class OneProcess:  # what train_epoch asks of a DataParallel
        def step(self, *args):
            raise AssertionError("not reached: counted() runs the plain step")

        def reduce_metrics(self, metrics):
            pass

    class Batches(list):
        current = (0, 10)

    monkeypatch.setattr(anynet.step.TrainingStep, "eager", counted)
    X = np.random.default_rng(0).standard_normal((20, 3))
    model = anynet.Sequential([anynet.layers.Dense(3, 1)], seed=0)
    model.fit(X, X[:, 0], loss="mse", optimizer="sgd", batch_size=10, verbose=0)
    batches = Batches([(model.backend.asarray(X[:10]), model.backend.asarray(X[:10, :1]))])
    training.train_epoch(model, batches, callbacks.CallbackList([]), OneProcess())
    assert calls == [(False, (0, 0))] * 2 + [(True, (0, 10))]
