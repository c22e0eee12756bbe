"""Every file colorlab writes with ``torch.save``: one reader, one writer, one error type.

Model checkpoints (:mod:`colorlab.models.checkpoint`), training checkpoints
(:mod:`colorlab.train.checkpoint`), the dataset cache (:mod:`colorlab.data.cache`) and the
encoder's weights file all go through :func:`read_checkpoint` and :func:`write_checkpoint`:

- reading is always ``torch.load(..., weights_only=True)``, so no pickled code can run, and every
  way a file can be bad (missing, a folder, empty, truncated, random bytes, a pickle that would
  run code) gives a :class:`CheckpointError` (a ``ValueError``) whose message names the file;
- writing is atomic (a temporary file in the same folder, fsync, ``os.replace``), so a crash or a
  full disk leaves the previous file intact, and a failed write is one
  :class:`CheckpointWriteError` (an ``OSError``) that says so.

What a colorlab checkpoint holds (``format``, ``version``, the model and training entries) is the
business of the layers above; this module only knows the :data:`FORMAT` name they share.

Examples
--------
>>> import tempfile, pathlib, torch
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.ckpt"
>>> _ = write_checkpoint(path, {"format": FORMAT, "w": torch.ones(2)})
>>> read_checkpoint(path)["w"]
tensor([1., 1.])
>>> path.write_bytes(b"not a checkpoint")
16
>>> try:
...     read_checkpoint(path)
... except CheckpointError as e:
...     print(e.path.name, "->", e.reason[:24])
run.ckpt -> not a PyTorch checkpoint
"""
from __future__ import annotations

import errno
import glob
import pickle
import re
from pathlib import Path

import torch

from colorlab.io import atomic_write

__all__ = ["FORMAT", "VERSION", "CheckpointError", "CheckpointWriteError", "read_checkpoint",
           "write_checkpoint"]

#: The ``format`` entry of every colorlab checkpoint, models and training runs alike.
FORMAT = "colorlab-checkpoint"
#: The newest checkpoint ``version`` this colorlab reads and the one it writes.
VERSION = 1


class CheckpointError(ValueError):
    """A file that cannot be loaded as the expected checkpoint; ``str(e) == f"{path}: {reason}"``.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    reason : str
        What is wrong with it, in words.

    Examples
    --------
    >>> str(CheckpointError("a.pt", "is empty (0 bytes), not a checkpoint"))
    'a.pt: is empty (0 bytes), not a checkpoint'
    """

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # picklable (e.g. across DataLoader worker processes)
        return (type(self), (str(self.path), self.reason))


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous file at that path is left intact."""


def read_checkpoint(path, map_location="cpu"):
    """``torch.load(path, weights_only=True)``, with errors that name the file and say what is
    wrong.

    Parameters
    ----------
    path : str or Path
    map_location : str or torch.device
        Where tensors land.

    Returns
    -------
    object
        What the file holds (for colorlab's files, a dict of tensors and plain values).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        A directory, an empty, truncated or random file, or a pickle that would run code
        (refused by ``weights_only=True``: nothing in it is executed).

    Examples
    --------
    >>> read_checkpoint("missing.ckpt")
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.ckpt: no such checkpoint file
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "is empty (0 bytes), not a checkpoint")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, OSError, RuntimeError, KeyError, ...
        raise CheckpointError(path, _unreadable_reason(path, e)) from None


def _unreadable_reason(path: Path, e: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` raised ``e``, in words."""
    msg = str(e)
    found = re.search(r"GLOBAL ([\w.]+)|([\w.]+) was not an allowed global", msg)
    if isinstance(e, pickle.UnpicklingError) and found:
        what = found.group(1) or found.group(2)
        return (f"refused: it would call or build {what}, which weights_only=True does not "
                "allow (loading it could run code); nothing was executed")
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    detail = next((line for line in msg.splitlines() if line.startswith("Unsupported")),
                  msg[:100]).strip()
    if is_zip:
        return f"truncated or corrupt checkpoint ({type(e).__name__}: {detail})"
    if isinstance(e, pickle.UnpicklingError):
        return ("not a PyTorch checkpoint: weights_only=True refused to read it "
                f"({detail}); nothing was executed")
    return f"not a PyTorch checkpoint (random or foreign data: {type(e).__name__})"


def write_checkpoint(path, payload, durable: bool = False, what: str = "checkpoint") -> Path:
    """Write ``payload`` with ``torch.save`` to ``path`` atomically: temporary file, fsync,
    ``os.replace``.

    A crash, a SIGKILL or a full disk at any moment leaves either the old file or the new one,
    never a torn one.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if needed.
    payload : object
        Anything ``torch.save`` writes and ``torch.load(weights_only=True)`` reads back (tensors,
        numbers, strings, lists, dicts).
    durable : bool
        What a training checkpoint needs: also fsync the folder after the rename (the new name
        survives a power cut) and first remove stale temporary files that killed writers left
        beside ``path``.
    what : str
        The kind of file, named in the error message (``"checkpoint"``, ``"cache file"``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CheckpointWriteError
        The write failed (disk full, permission ...); the message names the file and the cause,
        and the previous file at ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "a.ckpt", {"step": 1})
    >>> p.exists()
    True
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if durable:
            for stale in path.parent.glob(glob.escape(f".{path.name}") + ".tmp-*"):
                stale.unlink(missing_ok=True)
        with atomic_write(path, sync_folder=durable) as f:
            torch.save(payload, f)
    except (OSError, RuntimeError) as e:
        # torch.save reports a failed write of its zip writer as a RuntimeError from the OSError
        cause = e if isinstance(e, OSError) else e.__context__
        if not isinstance(cause, OSError):
            raise
        why = "disk full (ENOSPC)" if cause.errno == errno.ENOSPC else (cause.strerror
                                                                         or str(cause))
        raise CheckpointWriteError(cause.errno, f"could not write {what} {path}: {why}; the "
                                   f"previous {what} there (if any) is intact") from cause
    return path
