"""How every metric reads its arguments and reduces a batch: the shared checks and ``reduction``.

Every score of :mod:`colorlab.metrics` takes torch tensors in the library's layout (RGB
``(B, 3, H, W)`` in [0, 1], ab ``(B, 2, H, W)`` in Lab units), detached and in float64, and
computes one value per image (or per pixel, for the pixel-pooled AuC). ``reduction`` says what
it returns:

- ``"mean"`` (default): the score of the batch as a Python float;
- ``"none"``: those values as a float64 tensor, ``(B,)`` for a per-image score, whose mean is the
  ``"mean"`` score: what :func:`colorlab.metrics.evaluate` pools over many batches.

Examples
--------
>>> import torch
>>> check_pair(torch.zeros(2, 2, 4, 4), torch.ones(2, 2, 4, 4), 2, "auc_ab")[1].dtype
torch.float64
>>> values = torch.tensor([1.0, 3.0])
>>> reduce(values, "mean", "psnr"), reduce(values, "none", "psnr")
(2.0, tensor([1., 3.]))
"""
from __future__ import annotations

import torch

__all__ = ["REDUCTIONS", "check_images", "check_pair", "check_reduction", "reduce"]

REDUCTIONS = ("mean", "none")


def check_images(x: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """``x`` detached in float64 if it is ``(B, channels, H, W)``, else a ValueError naming
    ``name``.

    Examples
    --------
    >>> check_images(torch.zeros(3, 4, 4), 3, "colorfulness")
    Traceback (most recent call last):
        ...
    ValueError: colorfulness: expected a tensor of shape (B, 3, H, W), got (3, 4, 4)
    """
    if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name}: expected a tensor of shape (B, {channels}, H, W), got {shape}")
    return x.detach().double()


def check_pair(pred: torch.Tensor, true: torch.Tensor, channels: int, name: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`check_images` of both, which must have one shape; ``true`` moved to ``pred``'s
    device."""
    pred, true = check_images(pred, channels, name), check_images(true, channels, name)
    if pred.shape != true.shape:
        raise ValueError(f"{name}: shapes differ: {tuple(pred.shape)} vs {tuple(true.shape)}")
    return pred, true.to(pred.device)


def check_reduction(reduction: str, name: str) -> str:
    """``reduction`` if it is one of :data:`REDUCTIONS`, else a ValueError naming ``name``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean' or 'none', got {reduction!r}")
    return reduction


def reduce(values: torch.Tensor, reduction: str, name: str):
    """``float(values.mean())`` for ``"mean"``, ``values`` themselves for ``"none"``."""
    return float(values.mean()) if check_reduction(reduction, name) == "mean" else values
