"""Checkpoints and interruption: exact resume (also after SIGKILL), torn writes, disk full, hostile
files."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _train_doubles
import pytest
import torch
from _train_doubles import (
    FullDisk,
    TinyDataset,
    TinyGAN,
    TinyModel,
    TinyRebalancedModel,
    break_checkpoint_writes,
    one_thread,
)

import colorlab.data as cd
import colorlab.models as cm
from colorlab import checkpoint_io
from colorlab.train import (
    CheckpointWriteError,
    load_training_checkpoint,
    save_checkpoint,
    seed_everything,
    train,
)

WORKER = Path(_train_doubles.__file__)
MODELS = {"regression": TinyModel, "class-rebal": TinyRebalancedModel, "gan": TinyGAN}


@pytest.fixture(autouse=True)
def setup(monkeypatch):
    one_thread(monkeypatch)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def run(make, steps, data=None, **kw):
    seed_everything(0)
    model = make()
    train(model, data or TinyDataset(), steps, batch_size=4, progress=False, log_every=3, **kw)
    return model


def worker(tmp_path, *args):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(WORKER.parents[1]), str(WORKER.parent)])}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(predicate, proc, timeout=60):
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.time() < deadline, "timed out waiting for the worker"
        time.sleep(0.02)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_interrupted_then_resumed_equals_uninterrupted_bitwise(tmp_path, name, schedule):
    kw = {"schedule": schedule, **({"pretrain_steps": 3} if name == "gan" else {})}
    straight = run(MODELS[name], 9, **kw)
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        run(MODELS[name], 9, data=TinyDataset(fail_at=6), out=ckpt, checkpoint_every=2, **kw)
    assert load_training_checkpoint(ckpt)["step"] == 4
    seed_everything(123)  # a different init: everything must come from the checkpoint
    resumed = MODELS[name]()
    history = train(resumed, TinyDataset(), 9, batch_size=4, progress=False, log_every=3,
                    resume=ckpt, out=ckpt, **kw)
    assert same_weights(straight, resumed)
    assert [row["step"] for row in history] == [3, 6, 9]
    assert load_training_checkpoint(ckpt)["step"] == 9


@pytest.mark.slow  # a worker process killed mid-run
def test_sigkill_then_resume_is_bitwise_equal(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    proc = worker(tmp_path, "--out", str(ckpt), "--steps", "30", "--every", "5", "--delay", "0.05")

    def has_step_10():
        try:
            return load_training_checkpoint(ckpt)["step"] >= 10
        except (FileNotFoundError, ValueError):
            return False
    try:
        wait_for(has_step_10, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = load_training_checkpoint(ckpt)
    assert 10 <= state["step"] < 30, "the worker must be killed mid-run"
    seed_everything(99)
    resumed = TinyModel()
    train(resumed, TinyDataset(), 30, batch_size=4, resume=ckpt, out=ckpt, checkpoint_every=5,
          progress=False, log_every=5)
    straight = run(TinyModel, 30)
    assert same_weights(straight, resumed)


@pytest.mark.slow  # a worker process
def test_sigkill_mid_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    ckpt, marker = tmp_path / "run.ckpt", tmp_path / "writing"
    proc = worker(tmp_path, "--out", str(ckpt), "--steps", "20", "--every", "5",
                  "--hang-on-save", "2", "--marker", str(marker))
    try:
        wait_for(marker.exists, proc)  # second save (step 10) is half written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert list(tmp_path.glob(".run.ckpt.tmp-*")), "the torn temporary file is there"
    assert load_training_checkpoint(ckpt)["step"] == 5  # the previous checkpoint loads
    resumed = TinyModel()
    train(resumed, TinyDataset(), 20, batch_size=4, resume=ckpt, out=ckpt, progress=False)
    assert same_weights(run(TinyModel, 20), resumed)
    assert not list(tmp_path.glob(".run.ckpt.tmp-*")), "stale temporary files are cleaned up"


def test_disk_full_while_saving_is_clear_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.ckpt"
    monkeypatch.setattr(checkpoint_io, "atomic_write", break_checkpoint_writes(2, FullDisk))
    with pytest.raises(CheckpointWriteError, match=r"run\.ckpt: disk full \(ENOSPC\).*intact"):
        run(TinyModel, 6, out=ckpt, checkpoint_every=2)
    assert load_training_checkpoint(ckpt)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path):
    ckpt = tmp_path / "sub" / "gan.ckpt"
    model = run(TinyGAN, 2, out=ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert {"format", "version", "model_class", "model_config", "model_state", "optimizers",
            "schedulers", "scaler", "rng", "step", "config", "history"} <= set(state)
    assert state["model_class"] == "TinyGAN" and state["model_config"]["name"] == "tiny-gan"
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    assert {"torch", "numpy", "python"} <= set(state["rng"][0])
    assert state["config"]["batch_size"] == 4 and state["config"]["seed"] == 0
    assert all(torch.equal(v, state["model_state"][k]) for k, v in model.state_dict().items())


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    ckpt = tmp_path / "gan.ckpt"
    run(TinyGAN, 2, out=ckpt)
    with pytest.raises(ValueError, match="holds a TinyGAN .*not a TinyModel"):
        train(TinyModel(), TinyDataset(), 4, resume=ckpt, progress=False)


def test_resume_at_the_end_does_nothing_and_changed_settings_warn(tmp_path):
    ckpt = tmp_path / "m.ckpt"
    model = run(TinyModel, 3, out=ckpt)
    again = TinyModel()
    with pytest.warns(UserWarning, match=r"batch_size \(4 -> 64\).*will not reproduce"):
        history = train(again, TinyDataset(), 3, resume=ckpt, progress=False, log_every=3)
    assert same_weights(model, again) and len(history) == 1


class Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_unreadable_checkpoints_are_refused_clearly(tmp_path):
    marker = tmp_path / "pwned"
    Boom.marker = marker
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"format": "colorlab-checkpoint", "x": Boom()}, hostile, pickle_protocol=2)
    truncated, noise = tmp_path / "trunc.ckpt", tmp_path / "noise.ckpt"
    save_checkpoint(truncated, {"format": "colorlab-checkpoint", "w": torch.zeros(1000)})
    truncated.write_bytes(truncated.read_bytes()[:300])
    noise.write_bytes(os.urandom(2048))
    plain, model_only = tmp_path / "plain.pt", tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    torch.save({"format": "colorlab-checkpoint", "version": 1, "model_state": {}}, model_only)
    for path in (hostile, truncated, noise, plain, model_only):
        with pytest.raises(ValueError, match=str(path.name)):
            load_training_checkpoint(path)
    assert not marker.exists(), "loading must never run pickled code"
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_training_checkpoint(tmp_path / "missing.ckpt")


class Interrupting:
    """Wraps a real LabDataset; raises KeyboardInterrupt on the fail_at-th batch."""

    def __init__(self, data, fail_at):
        self.data, self.fail_at, self.calls = data, fail_at, 0
        self.size = data.size  # the engine records it in the model config as image_size

    def __len__(self):
        return len(self.data)

    def batch(self, indices, generator=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated interruption")
        return self.data.batch(indices, generator)


TINY = {"mse": {"width": 0.125}, "class-rebal": {"width": 0.125},
        "gan": {"width": 0.125, "d_width": 0.125}}


@pytest.mark.parametrize("name", sorted(TINY))
def test_real_models_resume_bitwise_on_a_real_dataset(tmp_path, name):
    seed_everything(0)
    data = cd.LabDataset.from_rgb(torch.rand(8, 3, 32, 32), augment=True)
    kw = {"pretrain_steps": 2} if name == "gan" else {}

    def fresh(seed):
        seed_everything(seed)
        model = cm.build(name, **TINY[name])
        if hasattr(model, "set_prior"):
            model.set_prior(model.quantizer.prior(data))
        return model
    ckpt = tmp_path / "real.ckpt"
    straight = fresh(0)
    train(straight, data, 5, batch_size=4, progress=False, **kw)
    with pytest.raises(KeyboardInterrupt):
        train(fresh(0), Interrupting(data, 4), 5, batch_size=4, progress=False, out=ckpt,
              checkpoint_every=2, **kw)
    resumed = fresh(1)
    train(resumed, data, 5, batch_size=4, progress=False, resume=ckpt, **kw)
    assert same_weights(straight, resumed)
    # the training size became the working size, and a training checkpoint is a model one
    assert straight.config["image_size"] == 32
    assert cm.load_checkpoint(ckpt).config == straight.config
