"""How a photo's colours shift from the truth's: its colour cast and the tint shared by many photos
(both from the mean ab of each photo), and chroma spikes (its rarest, most extreme chromas).

See :mod:`colorlab.metrics` for the conventions (layouts, units, how batches are pooled) and
:mod:`colorlab.metrics.batch` for ``reduction``.
"""
from __future__ import annotations

import math

import torch

from colorlab.metrics.batch import check_pair, check_reduction, reduce

__all__ = ["color_cast", "colour_cast", "tint", "chroma_spikes"]


def _mean_ab_shift(pred_ab, true_ab):
    """(B, 2): mean predicted ab minus mean true ab, of each image."""
    return pred_ab.mean((2, 3)) - true_ab.mean((2, 3))


def _chroma_quantile(ab, q: float = 0.999):
    """(B,): the ``q`` quantile of ``sqrt(a^2 + b^2)`` over each image's pixels (linear, as
    numpy)."""
    c = ab.pow(2).sum(1).sqrt().flatten(1)                               # (B, N)
    pos = q * (c.shape[1] - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    v_lo = c.kthvalue(lo + 1, dim=1).values                # kthvalue: any size, unlike quantile
    v_hi = c.kthvalue(min(lo + 2, c.shape[1]), dim=1).values
    return v_lo + frac * (v_hi - v_lo)


def color_cast(pred_ab: torch.Tensor, true_ab: torch.Tensor, reduction: str = "mean"):
    """Colour cast: per image, the distance between its mean predicted ab and its mean true ab.

    ``|mean(pred ab) - mean(true ab)|`` (Euclidean, in Lab units) for each image, averaged over the
    batch. A sepia or blue wash over a whole photo shows here even when its pixels' errors are
    small; casts of different photos in different directions add up (compare :func:`tint`).

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    reduction : {"mean", "none"}
        ``"none"``: the cast of each image.

    Returns
    -------
    float, >= 0; or torch.Tensor (B,) float64 for ``reduction="none"``

    Examples
    --------
    >>> import torch
    >>> true = torch.randn(2, 2, 8, 8) * 20
    >>> shift = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    >>> round(color_cast(true + shift, true), 6), color_cast(true + shift, true, "none").shape
    (5.0, torch.Size([2]))
    """
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "color_cast")
    return reduce(_mean_ab_shift(pred_ab, true_ab).pow(2).sum(1).sqrt(), reduction, "color_cast")


#: The British spelling of :func:`color_cast`, which lessons 08 and 09 use.
colour_cast = color_cast


def tint(pred_ab: torch.Tensor, true_ab: torch.Tensor, reduction: str = "mean"):
    """Systematic tint: the length of the mean, over images, of (mean predicted ab - mean true ab).

    Unlike :func:`color_cast`, the differences are averaged over all images *before* their
    length is taken, so only a shift shared by the photos counts (a model that paints everything
    a little orange); a red cast on one photo and a green one on another cancel.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    reduction : {"mean", "none"}
        ``"none"``: the shift (a, b) of each image, mean predicted minus mean true ab: the tint is
        the length of their mean, the cast the mean of their lengths. Shifts of photos of
        different sizes pool the same way.

    Returns
    -------
    float, >= 0, at most :func:`color_cast`; or torch.Tensor (B, 2) float64 for
    ``reduction="none"``

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(2, 2, 4, 4)
    >>> pred = torch.stack([torch.full((2, 4, 4), 10.0), torch.full((2, 4, 4), -10.0)])
    >>> tint(pred, true), round(color_cast(pred, true), 3)      # opposite casts cancel
    (0.0, 14.142)
    >>> tint(pred, true, reduction="none")
    tensor([[ 10.,  10.],
            [-10., -10.]], dtype=torch.float64)
    """
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "tint")
    shifts = _mean_ab_shift(pred_ab, true_ab)
    if check_reduction(reduction, "tint") == "none":
        return shifts
    return float(shifts.mean(0).pow(2).sum().sqrt())


def chroma_spikes(pred_ab: torch.Tensor, true_ab: torch.Tensor, margin: float = 40.0,
                  reduction: str = "mean"):
    """Fraction of images with chroma spikes: garish blotches far more saturated than the truth.

    An image has spikes when the 99.9th percentile of its predicted chroma ``sqrt(a^2 + b^2)``
    is more than ``margin`` above the 99.9th percentile of its true chroma.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    margin : float
        Chroma excess (Lab units) that counts as a spike.
    reduction : {"mean", "none"}
        ``"none"``: 1.0 for each image with spikes, 0.0 for the others.

    Returns
    -------
    float in [0, 1]; or torch.Tensor (B,) float64 of 0 and 1 for ``reduction="none"``
        The share of photos with at least one spike.

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(2, 2, 40, 40)
    >>> pred = true.clone()
    >>> pred[0, 0, :4, :4] = 90.0                      # a saturated blotch of 1 % of the pixels
    >>> chroma_spikes(pred, true), chroma_spikes(pred, true, margin=100.0)
    (0.5, 0.0)
    >>> chroma_spikes(pred, true, reduction="none")
    tensor([1., 0.], dtype=torch.float64)
    """
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "chroma_spikes")
    spiky = _chroma_quantile(pred_ab) > _chroma_quantile(true_ab) + float(margin)
    return reduce(spiky.double(), reduction, "chroma_spikes")
