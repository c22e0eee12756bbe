"""Scores for a colourisation (PSNR, SSIM, AuC of the ab error, colourfulness, chroma, colour
casts), and :func:`evaluate`, which scores a model on a set of images with all of them.

All scores take torch tensors in the library's layout: RGB ``(B, 3, H, W)`` in [0, 1] and ab
``(B, 2, H, W)`` in Lab units. Per-image scores are averaged over the batch; pixel-pooled scores
(AuC, chroma ratio) pool every pixel of the batch, as Zhang et al. do over a test set. With
``reduction="none"`` a score returns its values before that mean (one per image, one per pixel
for the AuC; see :mod:`colorlab.metrics.batch`), which is how :func:`evaluate` pools any number of
images.

===============================  ==========================================================
module                           what it holds
===============================  ==========================================================
:mod:`~.scores`                  ``psnr``, ``ssim``, ``auc_ab``, ``auc_ab_rebalanced``,
                                 ``colorfulness``, ``smooth_colorfulness``, ``chroma_ratio``
:mod:`~.color_shift`             ``color_cast`` (alias ``colour_cast``), ``tint``,
                                 ``chroma_spikes``
:mod:`~.evaluation`              ``evaluate``, ``working_size``, ``score_table``, ``verdict``
:mod:`~.batch`                   the argument checks and ``reduction`` every score shares
===============================  ==========================================================

:func:`evaluate` runs a model as :func:`colorlab.pipeline.colorize_image` runs it; it needs only
the model's ``colorize`` method, so this package imports :mod:`colorlab.data` (to prepare images)
but never :mod:`colorlab.models`.

Examples
--------
>>> import torch
>>> from colorlab import metrics
>>> true = torch.rand(2, 3, 32, 32)
>>> metrics.psnr(true, true)          # identical images: capped at 100 dB
100.0
>>> metrics.psnr(true, true, reduction="none")
tensor([100., 100.], dtype=torch.float64)
>>> round(metrics.auc_ab(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)), 3)
1.0
"""
from __future__ import annotations

from colorlab.metrics.color_shift import chroma_spikes, color_cast, colour_cast, tint
from colorlab.metrics.evaluation import evaluate, score_table, verdict, working_size
from colorlab.metrics.scores import (
    SPECKLE_SIGMA,
    auc_ab,
    auc_ab_rebalanced,
    chroma_ratio,
    colorfulness,
    psnr,
    smooth_colorfulness,
    ssim,
)

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "smooth_colorfulness",
           "chroma_ratio", "color_cast", "colour_cast", "tint", "chroma_spikes", "SPECKLE_SIGMA",
           "evaluate", "working_size", "score_table", "verdict"]
