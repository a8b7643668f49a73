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
from anynet.errors import InputError, InputTypeError
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
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('mpi4py not installed (pip install "anynet-nn[mpi]")')
    if MPIEXEC is None:
        pytest.skip('mpiexec not found (pip install "anynet-nn[mpi]" installs MPICH\'s)')
    proc = subprocess.Popen([MPIEXEC, "-n", "2", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_clean_env(), cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"mpiexec -n 2 {' '.join(args)} did not finish in {timeout} s (a hang)")
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
                                               ("equal-tail", None), ("equal", "torch")])
def test_two_processes_give_the_weights_of_one(tmp_path, monkeypatch, name, backend):
    """f64, 3 epochs, shuffled, Dropout and BatchNorm, uneven last batch (or one of 1 row, which leaves
    a process no rows): within 1e-12 of one process (on NumPy; 1e-10 between a torch job and NumPy's
    one process, which round differently)."""
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


def test_the_cli_trains_data_parallel_under_mpiexec(tmp_path):
    anynet_cli = [sys.executable, "-m", "anynet"]
    args = ["train", "digits", "--epochs", "2", "--out", str(tmp_path / "run"), "--seed", "0"]
    result = mpiexec(*anynet_cli, *args)
    assert result.returncode == 0, result.stderr
    assert "2 processes" in result.stdout
    assert result.stdout.count("accuracy") >= 1
    model = anynet.load(tmp_path / "run" / "model.safetensors")
    assert model.train_state["epoch"] == 2


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
