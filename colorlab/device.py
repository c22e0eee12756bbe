"""Which device to run on: :func:`pick_device` (CUDA, Apple MPS or the CPU).

A bottom-layer module (torch only): the training engine and every command that runs a model
(``colorize``, ``evaluate``, ``compare``, ``doctor``) choose their device here, so colouring a photo
never imports the training package. :mod:`colorlab.train` re-exports :func:`pick_device`.

Examples
--------
>>> pick_device("cpu")
device(type='cpu')
"""
from __future__ import annotations

import torch

__all__ = ["pick_device"]


def pick_device(device="auto") -> torch.device:
    """Choose the device to train or run a model on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"} or str or torch.device
        "auto" takes CUDA, then Apple MPS, then the CPU; "cuda:1" style names are accepted.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        An unknown name, or a device that is not available here (the message says what is).

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if isinstance(device, torch.device):
        device = str(device)
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; "
                         "use --device auto or cpu")
    if dev.type == "mps" and not mps:
        raise ValueError(f"device {device!r} requested but Apple MPS is not available here")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {device!r}; use auto, cpu, cuda or mps")
    return dev
