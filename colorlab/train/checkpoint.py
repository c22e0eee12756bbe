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
``model_state``         ``model.state_dict()``
``optimizers``          ``{name: optimizer.state_dict()}`` (``"model"``, or ``"generator"`` and
                        ``"discriminator"`` for a GAN)
``schedulers``          ``{name: scheduler.state_dict()}`` (empty without a schedule)
``scaler``              the gradient scaler's state (empty unless fp16 mixed precision)
``rng``                 one :func:`rng_state` dict per process (rank order)
``step``                completed optimisation steps
``config``              the training settings (seed, batch size, lr, kind options, world size ...)
``history``             the :class:`~colorlab.train.History` rows so far
======================  ==========================================================================

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

import errno
import glob
import io
import random
from pathlib import Path

import numpy as np
import torch

from colorlab._shared import CHECKPOINT_FORMAT
from colorlab.io import atomic_write

__all__ = ["save_checkpoint", "load_training_checkpoint", "CheckpointWriteError", "rng_state",
           "set_rng_state", "model_payload", "FORMAT"]

FORMAT = CHECKPOINT_FORMAT  # one format for models and training runs
class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous checkpoint at that path is left intact."""


def _write_file(f, data) -> None:
    """Write the serialised checkpoint ``data`` into the open temporary file ``f``."""
    f.write(data)


def save_checkpoint(path, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically: temporary file, fsync, ``os.replace``.

    A crash or SIGKILL at any moment leaves either the old file or the new one, never a torn one.
    Stale temporary files from killed writers are removed.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if needed.
    state : dict
        Anything ``torch.save`` writes and ``torch.load(weights_only=True)`` reads back.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CheckpointWriteError
        The write failed (disk full, permission ...); the message names the file and the cause,
        and the last good checkpoint at ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = save_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "a.ckpt", {"step": 1})
    >>> p.exists()
    True
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(glob.escape(f".{path.name}") + ".tmp-*"):
            stale.unlink(missing_ok=True)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        with atomic_write(path, sync_folder=True) as f:
            _write_file(f, buffer.getbuffer())
    except OSError as e:
        why = "disk full (ENOSPC)" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise CheckpointWriteError(e.errno, f"could not write checkpoint {path}: {why}; "
                                   "the previous checkpoint there (if any) is intact") from e
    return path


def load_training_checkpoint(path, map_location="cpu") -> dict:
    """Read a training checkpoint with ``torch.load(weights_only=True)``.

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
    ValueError
        Truncated, corrupt, hostile (pickled code is refused, never run) or not a colorlab training
        checkpoint; the message names the file.

    Examples
    --------
    >>> load_training_checkpoint("missing.ckpt")
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.ckpt: no such checkpoint
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a readable training checkpoint "
                         f"(truncated, corrupt or unsafe): {first}") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a colorlab checkpoint (no format={FORMAT!r} entry)")
    if "step" not in state or "optimizers" not in state:
        raise ValueError(f"{path}: a model checkpoint without training state (no step/optimiser); "
                         "it can be loaded with colorlab.models.load_checkpoint but not resumed")
    return state


def model_payload(model) -> dict:
    """The model part of a checkpoint: :func:`colorlab.models.checkpoint_payload` (format,
    version, model_class, model_config, model_state).

    Examples
    --------
    >>> sorted(model_payload(torch.nn.Linear(1, 1)))
    ['format', 'model_class', 'model_config', 'model_state', 'version']
    """
    from colorlab.models import checkpoint_payload
    return checkpoint_payload(model)


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
