"""One training engine for every colorlab model, with exact resume and data parallelism.

- :func:`train` -- regression, classification and GAN (incl. NoGAN) training: device choice,
  mixed precision, channels-last, ``torch.compile``, progress bar, :class:`History`, atomic
  checkpoints, exact resume, ``torchrun`` data parallel.
- :func:`seed_everything`; :func:`pick_device` (from :mod:`colorlab.device`).
- :func:`save_checkpoint` (atomic) and :func:`load_training_checkpoint` (``weights_only=True``),
  through :mod:`colorlab.checkpoint_io` like every colorlab checkpoint.

Examples
--------
>>> from colorlab.train import seed_everything, pick_device
>>> seed_everything(0); pick_device("cpu")
device(type='cpu')
"""
from colorlab.device import pick_device
from colorlab.train.checkpoint import (
    CheckpointError,
    CheckpointWriteError,
    load_training_checkpoint,
    save_checkpoint,
)
from colorlab.train.engine import NonFiniteLossError, train
from colorlab.train.history import History
from colorlab.train.runtime import seed_everything

__all__ = ["train", "seed_everything", "pick_device", "History", "save_checkpoint",
           "load_training_checkpoint", "CheckpointError", "CheckpointWriteError",
           "NonFiniteLossError"]
