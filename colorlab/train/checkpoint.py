"""Training checkpoints: atomic writes, ``weights_only=True`` loads, and every RNG state as tensors.

A training checkpoint is a plain dict (tensors, numbers, strings, lists, dicts only, so that
``torch.load(..., weights_only=True)`` reads it without running any pickled code). It is a model
checkpoint (:func:`colorlab.models.checkpoint_payload`, so :func:`colorlab.models.load_checkpoint`
and the command line load it as a model) plus the training state:

======================  ==========================================================================
key                     value
======================  ==========================================================================
``format``, ``version`` ``"colorlab-checkpoint"``, ``1`` (the model checkpoint format)
``model_class``         the model's class name, e.g. ``"MSEColorizer"``
``model_config``        ``model.config`` (the :func:`colorlab.models.build` kwargs, incl. ``name``)
``model_state``         ``model.state_dict()`` (without the weights a wheel ships)
``optimizers``          ``{name: optimizer.state_dict()}`` (``"model"``, or ``"generator"`` and
                        ``"discriminator"`` for a GAN)
``schedulers``          ``{name: scheduler.state_dict()}`` (empty without a schedule)
``scaler``              the gradient scaler's state (empty unless fp16 mixed precision)
``rng``                 one :func:`rng_state` dict per process (rank order)
``step``                completed optimisation steps
``config``              the training settings (seed, batch size, lr, kind options, world size ...)
``history``             the :class:`~colorlab.train.History` rows so far
======================  ==========================================================================

The file is written by :func:`colorlab.checkpoint_io.write_checkpoint` (atomic, durable) and read
by :func:`colorlab.checkpoint_io.read_checkpoint`, like every colorlab checkpoint.

Examples
--------
>>> import torch, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.ckpt"
>>> _ = save_checkpoint(path, {"format": FORMAT, "version": 1, "step": 3, "optimizers": {},
...                            "rng": [rng_state()]})
>>> load_training_checkpoint(path)["step"]
3
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from colorlab.checkpoint_io import (
    FORMAT,
    CheckpointError,
    CheckpointWriteError,
    read_checkpoint,
    write_checkpoint,
)

__all__ = ["save_checkpoint", "load_training_checkpoint", "CheckpointError",
           "CheckpointWriteError", "rng_state", "set_rng_state"]


def save_checkpoint(path, state: dict) -> Path:
    """Write a training checkpoint: :func:`~colorlab.checkpoint_io.write_checkpoint` with
    ``durable=True`` (atomic, the folder synced, stale temporary files of killed writers removed).

    A crash or SIGKILL at any moment leaves either the old file or the new one, never a torn one;
    a failed write (disk full ...) raises :class:`CheckpointWriteError` and leaves the last good
    checkpoint at ``path`` untouched. Returns ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> save_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "a.ckpt", {"step": 1}).exists()
    True
    """
    return write_checkpoint(path, state, durable=True)


def load_training_checkpoint(path, map_location="cpu") -> dict:
    """Read a training checkpoint (``torch.load(weights_only=True)``) and check it can be
    resumed.

    Parameters
    ----------
    path : str or Path
    map_location : str or torch.device
        Where tensors land (default CPU; the engine moves them).

    Returns
    -------
    dict
        The checkpoint (see the module docstring for its keys).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        (a ValueError) naming the file: truncated, corrupt, hostile (pickled code is refused, never
        run), not a colorlab checkpoint, or a model checkpoint without training state.

    Examples
    --------
    >>> load_training_checkpoint("missing.ckpt")
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.ckpt: no such checkpoint file
    """
    state = read_checkpoint(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(path, f"not a colorlab checkpoint (no format={FORMAT!r} entry)")
    if "step" not in state or "optimizers" not in state:
        raise CheckpointError(path, "a model checkpoint without training state (no "
                                    "step/optimiser); it can be loaded with "
                                    "colorlab.models.load_checkpoint but not resumed")
    return state


def rng_state() -> dict:
    """Every RNG state of this process as tensors and plain types (``weights_only``-safe).

    Returns
    -------
    dict
        ``torch`` (ByteTensor), ``numpy`` (dict), ``python`` (dict), and ``cuda`` / ``mps`` when
        those devices are in use.

    Examples
    --------
    >>> import torch
    >>> s = rng_state(); a = torch.rand(1); set_rng_state(s); bool(torch.rand(1) == a)
    True
    """
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                        "gauss_next": gauss_next}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if hasattr(torch, "mps") and torch.backends.mps.is_available():  # pragma: no cover - macOS only
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the RNG states saved by :func:`rng_state` (inverse; same keys)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if "mps" in state and torch.backends.mps.is_available():  # pragma: no cover - macOS only
        torch.mps.set_rng_state(state["mps"].cpu())
