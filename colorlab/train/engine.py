"""The one training loop for every colorlab model: :func:`train`.

Examples
--------
>>> import colorlab.models as cm, colorlab.data as cd             # doctest: +SKIP
>>> from colorlab.train import train
>>> model = cm.build("mse")                                       # doctest: +SKIP
>>> data = cd.load_dataset("samples", size=32)                    # doctest: +SKIP
>>> history = train(model, data, steps=50, batch_size=8, out="runs/mse.ckpt")  # doctest: +SKIP
>>> fig = colorlab.viz.training_curves(history)                   # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from colorlab._shared import positive_int
from colorlab.models.base import ColorizationModel
from colorlab.models.checkpoint import checkpoint_payload
from colorlab.models.state import load_state
from colorlab.train import distributed
from colorlab.train.checkpoint import (
    load_training_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from colorlab.train.history import History
from colorlab.train.losses import make_task
from colorlab.train.runtime import BatchOrder, Precision, pick_device, seed_everything
from colorlab.train.validation import validation_scores

__all__ = ["train", "NonFiniteLossError"]

RESIDENT_LIMIT_BYTES = 2 * 1024**3  # datasets up to this size move onto the GPU whole


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the loss and the step."""


def _positive_int(name, value, allow_none=False):
    return positive_int(value, name, "train(): ", allow_none)


class _Monitor:
    """Collects per-step losses on the device; checks and averages them at log time."""

    def __init__(self, kind: str, steps: int):
        self.kind, self.steps = kind, steps
        self.pending, self.sums, self.counts = [], {}, {}
        self.t0, self.images = time.perf_counter(), 0

    def add(self, step: int, losses: dict, images: int) -> None:
        self.pending.append((step, losses))
        self.images += images

    def check(self) -> None:
        """Raise :class:`NonFiniteLossError` for the first non-finite loss since the last check."""
        if not self.pending:
            return
        flat = torch.stack([v.float() for _, d in self.pending for v in d.values()]).tolist()
        i = 0
        for step, losses in self.pending:
            for name in losses:
                value = flat[i]
                i += 1
                if not math.isfinite(value):
                    raise NonFiniteLossError(
                        f"training stopped: the {name!r} loss is {value} at step {step + 1} of "
                        f"{self.steps} ({self.kind} model); lower the learning rate, check the "
                        "data for NaN/inf, or turn mixed precision off")
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1
        self.pending.clear()

    def row(self, step: int, lr: float) -> dict:
        self.check()
        now = time.perf_counter()
        row = {"step": step + 1, **{k: v / self.counts[k] for k, v in self.sums.items()},
               "lr": lr, "images_per_s": self.images / max(now - self.t0, 1e-9)}
        self.sums, self.counts, self.t0, self.images = {}, {}, now, 0
        return row


def _prepare_data(dataset, device):
    """Move small datasets onto the accelerator (GPU-resident); returns the dataset."""
    lab = getattr(dataset, "lab", None)
    if (device.type != "cpu" and hasattr(dataset, "to") and isinstance(lab, torch.Tensor)
            and lab.numel() * lab.element_size() <= RESIDENT_LIMIT_BYTES):
        dataset = dataset.to(device) or dataset
    return dataset


def _restore(state, source, model, task, precision, history, ctx, config) -> int:
    """Load a training checkpoint into the live objects; returns the step to continue from."""
    if state.get("model_class") != type(model).__name__:
        raise ValueError(f"cannot resume: the checkpoint holds a {state.get('model_class')} "
                         f"({dict(state.get('model_config') or {}).get('name', '?')}), "
                         f"not a {type(model).__name__}")
    saved = dict(state.get("config") or {})
    changed = [k for k in ("seed", "batch_size", "world_size", "kind") if k in saved
               and saved[k] != config[k]]
    if changed:
        warnings.warn("resuming with different " + ", ".join(
            f"{k} ({saved[k]} -> {config[k]})" for k in changed) + ": training continues, but "
            "will not reproduce an uninterrupted run", stacklevel=3)
    load_state(model, state["model_state"], source)
    for name, opt in task.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in task.schedulers.items():
        sched.load_state_dict(state["schedulers"][name])
    if state.get("scaler"):
        precision.scaler.load_state_dict(state["scaler"])
    rngs = state.get("rng", [])
    if ctx.rank < len(rngs):
        set_rng_state(rngs[ctx.rank])
    history.extend(state.get("history", []))
    return int(state["step"])


def train(model, dataset, steps, batch_size=64, lr=None, device="auto", amp=None,
          channels_last=False, compile=False, seed=0, out=None, checkpoint_every=None, resume=None,
          progress=True, log_every=10, validation=None, validate_every=None,
          **kind_options) -> History:
    """Train any colorlab model (regression, classification or GAN) on a Lab dataset.

    Parameters
    ----------
    model : ColorizationModel
        ``model.kind`` picks the step (see :mod:`colorlab.train.losses`); ``model(L)`` takes
        L ``(B, 1, S, S)`` in [0, 100].
    dataset : LabDataset
        ``len(dataset)`` and ``dataset.batch(indices, generator) -> (L (B,1,S,S), ab (B,2,S,S))``.
    steps : int
        Total optimisation steps; a resumed run continues up to it.
    batch_size : int
        Per process (under torchrun the global batch is ``batch_size * WORLD_SIZE``).
    lr : float, optional
        Default per kind: regression 1e-3, classification 3e-4, GAN 2e-4.
    device : {"auto", "cpu", "cuda", "mps"}
        "auto" picks CUDA, MPS, then CPU (see :func:`pick_device`).
    amp : bool, optional
        Mixed precision; default on for CUDA (bf16 if supported, else fp16 + GradScaler), off else.
    channels_last : bool
        Model and batches in channels-last memory format (faster convolutions on tensor cores).
    compile : bool
        Run the model through ``torch.compile``.
    seed : int
        Seeds the global RNGs at the start and the data order (per-epoch permutations from
        ``(seed, epoch)``, augmentation from ``(seed, step)``), so resume is exact.
    out : str or Path, optional
        Checkpoint path, written atomically every ``checkpoint_every`` steps and at the end.
    checkpoint_every : int, optional
    resume : str or Path or dict, optional
        Training checkpoint to continue from (may equal ``out``), or the dict
        :func:`~colorlab.train.load_training_checkpoint` read from it (the file is then not read
        again).
    progress : bool
        A ``tqdm.auto`` bar with loss and images/s (rank 0 only).
    log_every : int
        Steps per :class:`History` row; losses are checked for NaN/inf at these points.
    validation : LabDataset, optional
        Held-out images scored every ``validate_every`` steps and at the end: the history rows
        of those steps get ``val_loss`` and ``val_psnr`` (:mod:`colorlab.train.validation`), the
        validation curve.
    validate_every : int, optional
        Default: ``checkpoint_every``, else only at the end.
    **kind_options
        ``schedule``, ``weight_decay``; classification ``k``, ``sigma``, ``rebalance``, ``prior``;
        GAN ``l1_weight``, ``pretrain_steps`` (NoGAN: L1-only steps before adversarial training),
        ``chroma_penalty``, ``chroma_margin``. An option the model's kind does not take raises
        ``TypeError``.

    Returns
    -------
    History
        Rows ``{"step", "loss", "lr", "images_per_s", ...}``; ``.to_dict()``; drawn by
        :func:`colorlab.viz.training_curves`. The model is left in eval mode on the training
        device; one whose config leaves ``image_size`` unset takes the training size as its
        working size (``model.adopt_training_size``).

    Raises
    ------
    NonFiniteLossError
        A loss became NaN/inf; the message names the loss and the step.
    CheckpointWriteError
        A checkpoint could not be written (e.g. disk full); the previous one is intact.

    Examples
    --------
    >>> history = train(model, data, steps=200, batch_size=32, out="runs/m.ckpt",
    ...                 checkpoint_every=50)                          # doctest: +SKIP
    >>> history = train(model, data, steps=400, resume="runs/m.ckpt",
    ...                 out="runs/m.ckpt")                            # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"train(): model must be a torch.nn.Module, got {type(model).__name__}")
    steps = _positive_int("steps", steps)
    batch_size = _positive_int("batch_size", batch_size)
    log_every = _positive_int("log_every", log_every)
    checkpoint_every = _positive_int("checkpoint_every", checkpoint_every, allow_none=True)
    validate_every = _positive_int("validate_every", validate_every, allow_none=True)
    if validate_every is not None and validation is None:
        raise ValueError("train(): validate_every needs validation=DATASET to score")
    if checkpoint_every and out is None:
        raise ValueError("train(): checkpoint_every needs out=PATH to write checkpoints to")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"train(): seed must be a non-negative integer, got {seed!r}")

    ctx = distributed.setup(device)
    try:
        dev = ctx.device or pick_device(device)
        model.to(dev)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        dataset = _prepare_data(dataset, dev)
        size = getattr(dataset, "train_size", getattr(dataset, "size", None))
        if isinstance(model, ColorizationModel) and isinstance(size, int):
            model.adopt_training_size(size)   # colorize_image then predicts at the training size
        precision = Precision(amp, dev)
        task = make_task(model, steps=steps, lr=lr, **kind_options)
        history = History()
        config = {"kind": model.kind, "steps": steps, "batch_size": batch_size, "lr": task.lr,
                  "seed": seed, "world_size": ctx.world_size, "precision": precision.name,
                  "channels_last": bool(channels_last), "options": task.options_used}
        start = 0
        if resume is not None:
            state, source = ((resume, "the resume checkpoint") if isinstance(resume, dict)
                             else (load_training_checkpoint(resume), resume))
            start = _restore(state, source, model, task, precision, history, ctx, config)
        else:
            seed_everything(seed + ctx.rank)

        def wrap(module):
            module = distributed.wrap(module, ctx)
            return torch.compile(module) if compile else module
        task.wrap(wrap)
        run = _Run(model=model, dataset=dataset, task=task, precision=precision, ctx=ctx,
                   steps=steps, batch_size=batch_size, seed=seed, channels_last=channels_last,
                   progress=progress, log_every=log_every, history=history, config=config,
                   out=out, checkpoint_every=checkpoint_every,
                   validation=validation if ctx.rank == 0 else None,
                   validate_every=validate_every or checkpoint_every or steps)
        run.loop(start)
    finally:
        distributed.teardown(ctx)
    return history


@dataclass
class _Run:
    """One training run's live objects and settings, and the loop over its steps."""

    model: nn.Module
    dataset: object
    task: object
    precision: Precision
    ctx: object
    steps: int
    batch_size: int
    seed: int
    channels_last: bool
    progress: bool
    log_every: int
    history: History
    config: dict
    out: object = None
    checkpoint_every: int | None = None
    validation: object = None
    validate_every: int = 1

    def checkpoint(self, step: int) -> None:
        """Write the training checkpoint at ``step`` (every rank's RNG states, rank 0 writes)."""
        rngs = distributed.gather(rng_state(), self.ctx)
        if self.ctx.rank == 0:
            task = self.task
            save_checkpoint(self.out, {
                **checkpoint_payload(self.model),
                "optimizers": {k: o.state_dict() for k, o in task.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in task.schedulers.items()},
                "scaler": self.precision.scaler.state_dict(), "rng": rngs, "step": step,
                "config": self.config, "history": list(self.history)})

    def validate(self, done: int) -> dict | None:
        """The held-out scores after ``done`` steps, when they are due (None otherwise)."""
        if self.validation is None or not (done % self.validate_every == 0 or done == self.steps):
            return None
        return validation_scores(self.model, self.task, self.validation, self.batch_size)

    def loop(self, start: int) -> None:
        """Steps ``start`` to ``steps``: batches, updates, history rows, checkpoints, progress."""
        from tqdm.auto import tqdm
        model, task, history, ctx, steps = self.model, self.task, self.history, self.ctx, self.steps
        dev = next(model.parameters()).device
        order = BatchOrder(len(self.dataset), self.batch_size, self.seed, ctx.rank,
                           ctx.world_size, weights=getattr(self.dataset, "sample_weights", None))
        monitor = _Monitor(model.kind, steps)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        name = dict(getattr(model, "config", {})).get("name", model.kind)
        bar = tqdm(total=steps, initial=start, desc=f"train {name}", unit="step",
                   dynamic_ncols=True, disable=not self.progress or ctx.rank != 0)
        model.train()
        try:
            for step in range(start, steps):
                L, ab = self.dataset.batch(order.indices(step), order.generator(step))
                L = L.to(dev, non_blocking=True).contiguous(memory_format=fmt)
                ab = ab.to(dev, non_blocking=True).contiguous(memory_format=fmt)
                losses = task.step(step, L, ab, self.precision.autocast, self.precision.scaler)
                self.precision.scaler.update()
                task.after_step()
                monitor.add(step, losses, self.batch_size * ctx.world_size)
                done = step + 1
                if done % self.log_every == 0 or done == steps:
                    row = monitor.row(step, task.current_lr())
                    history.append(row)
                    bar.set_postfix(loss=f"{row['loss']:.4g}",
                                    img_s=f"{row['images_per_s']:.0f}",
                                    refresh=False)   # drawn by the update below: one line a state
                scores = self.validate(done)
                if scores:
                    if not history or history[-1]["step"] != done:
                        history.append({"step": done})
                    history[-1].update(scores)
                if self.out is not None and (done == steps or (
                        self.checkpoint_every and done % self.checkpoint_every == 0)):
                    monitor.check()
                    self.checkpoint(done)
                if done < steps:
                    bar.update(1)
                else:
                    bar.n = done   # close() draws the finished bar: the last state appears once
            monitor.check()
        finally:
            bar.close()
            model.eval()
