"""DistributedDataParallel through torchrun: 2 CPU processes on gloo."""
import os
import subprocess
import sys

import _train_doubles
import pytest
import torch
from _train_doubles import TinyDataset, plain_model

from colorlab.train import load_training_checkpoint, seed_everything, train

pytestmark = pytest.mark.slow  # torchrun starts two training processes


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    worker = _train_doubles.__file__
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(_train_doubles.ROOT), os.path.dirname(worker)])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", worker, "--ddp", str(folder)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder, proc


@pytest.mark.parametrize("name", ["plain", "gan"])
def test_ranks_end_with_identical_weights(ddp_run, name):
    folder, _ = ddp_run
    r0, r1 = (torch.load(folder / f"{name}-rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0.keys() == r1.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)


def test_two_processes_of_batch_b_match_one_process_of_batch_2b(ddp_run):
    folder, _ = ddp_run
    torch.set_num_threads(1)
    seed_everything(0)
    model = plain_model()
    train(model, TinyDataset(n=16, augment=False), 5, batch_size=4, progress=False)
    ddp = torch.load(folder / "plain-rank0.pt", weights_only=True)
    for name, p in model.named_parameters():
        torch.testing.assert_close(ddp[name], p.detach(), rtol=1e-5, atol=1e-6)


def test_only_rank_0_writes_checkpoints_and_progress(ddp_run):
    folder, proc = ddp_run
    state = load_training_checkpoint(folder / "plain.ckpt")
    assert state["step"] == 5 and state["config"]["world_size"] == 2
    assert len(state["rng"]) == 2  # each rank's RNG state, for exact resume
    assert not list(folder.glob(".*tmp*"))
    # each bar draws its "0/5" state once when created: one bar per run (plain, gan), rank 0 only
    assert proc.stderr.count("0/5 [00:00<?, ?step/s]") == 2, proc.stderr[-2000:]
