"""Scores for a colourisation: PSNR, SSIM, AuC of the ab error, colourfulness, chroma, colour
casts.

All functions take torch tensors in the library's layout: RGB ``(B, 3, H, W)`` in [0, 1] and ab
``(B, 2, H, W)`` in Lab units. Per-image scores are averaged over the batch; pixel-pooled scores
(AuC, chroma ratio) pool every pixel of the batch, as Zhang et al. do over a test set.
:func:`colorlab.evaluation.evaluate` runs a model over a set of images and returns everything as
one dict (it sits above :mod:`colorlab.models`; this module imports neither).

Examples
--------
>>> import torch
>>> from colorlab import metrics
>>> true = torch.rand(2, 3, 32, 32)
>>> metrics.psnr(true, true)          # identical images: capped at 100 dB
100.0
>>> round(metrics.auc_ab(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)), 3)
1.0
"""
from __future__ import annotations

from colorlab.metrics import scores
from colorlab.metrics.casts import chroma_spikes, colour_cast, tint
from colorlab.metrics.scores import (
    auc_ab,
    auc_ab_rebalanced,
    chroma_ratio,
    colorfulness,
    psnr,
    smooth_colorfulness,
    ssim,
)

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "smooth_colorfulness",
           "chroma_ratio", "colour_cast", "tint", "chroma_spikes"]

SPECKLE_SIGMA = scores.SPECKLE_SIGMA
