"""Colour casts and spikes: what the mean ab of a photo and its rare extreme chromas show.

See :mod:`colorlab.metrics` for the conventions (layouts, units, how batches are pooled).
"""
from __future__ import annotations

import math

import torch

from colorlab.metrics.scores import _pair

__all__ = ["colour_cast", "tint", "chroma_spikes"]


def _mean_ab_per_image(ab):
    """(B, 2): the mean a and b of each image."""
    return ab.mean((2, 3))


def _cast_per_image(pred_ab, true_ab):
    """(B,): length of (mean predicted ab - mean true ab) of each image."""
    return (_mean_ab_per_image(pred_ab) - _mean_ab_per_image(true_ab)).pow(2).sum(1).sqrt()


def _tint_from_means(pred_means, true_means) -> float:
    """Length of the mean over photos of (mean predicted ab - mean true ab), from (N, 2) pairs."""
    pred_means = torch.as_tensor(pred_means, dtype=torch.float64).reshape(-1, 2)
    true_means = torch.as_tensor(true_means, dtype=torch.float64).reshape(-1, 2)
    if len(pred_means) == 0 or pred_means.shape != true_means.shape:
        raise ValueError("tint: need matching non-empty (N, 2) means, got "
                         f"{tuple(pred_means.shape)} and {tuple(true_means.shape)}")
    return float((pred_means - true_means).mean(0).pow(2).sum().sqrt())


def _chroma_quantile_per_image(ab, q: float = 0.999):
    """(B,): the ``q`` quantile of ``sqrt(a^2 + b^2)`` over each image's pixels (linear, as
    numpy)."""
    c = ab.pow(2).sum(1).sqrt().flatten(1)                               # (B, N)
    pos = q * (c.shape[1] - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    v_lo = c.kthvalue(lo + 1, dim=1).values                # kthvalue: any size, unlike quantile
    v_hi = c.kthvalue(min(lo + 2, c.shape[1]), dim=1).values
    return v_lo + frac * (v_hi - v_lo)


def _spikes_per_image(pred_ab, true_ab, margin: float):
    """(B,) bool: the prediction's 99.9th-percentile chroma is more than ``margin`` above the
    truth's."""
    return _chroma_quantile_per_image(pred_ab) > _chroma_quantile_per_image(true_ab) + float(margin)


def colour_cast(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Colour cast: per image, the distance between its mean predicted ab and its mean true ab.

    ``|mean(pred ab) - mean(true ab)|`` (Euclidean, in Lab units) for each image, averaged over the
    batch. A sepia or blue wash over a whole photo shows here even when its pixels' errors are
    small; casts of different photos in different directions add up (compare :func:`tint`).

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units

    Returns
    -------
    float, >= 0

    Examples
    --------
    >>> import torch
    >>> true = torch.randn(2, 2, 8, 8) * 20
    >>> shift = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    >>> round(colour_cast(true + shift, true), 6)
    5.0
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "colour_cast")
    return float(_cast_per_image(pred_ab, true_ab).mean())


def tint(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Systematic tint: the length of the mean, over images, of (mean predicted ab - mean true ab).

    Unlike :func:`colour_cast`, the differences are averaged over all images *before* their
    length is taken, so only a shift shared by the photos counts (a model that paints everything
    a little orange); a red cast on one photo and a green one on another cancel.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units

    Returns
    -------
    float, >= 0; at most :func:`colour_cast`

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(2, 2, 4, 4)
    >>> pred = torch.stack([torch.full((2, 4, 4), 10.0), torch.full((2, 4, 4), -10.0)])
    >>> tint(pred, true), round(colour_cast(pred, true), 3)      # opposite casts cancel
    (0.0, 14.142)
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "tint")
    return _tint_from_means(_mean_ab_per_image(pred_ab), _mean_ab_per_image(true_ab))


def chroma_spikes(pred_ab: torch.Tensor, true_ab: torch.Tensor, margin: float = 40.0) -> float:
    """Fraction of images with chroma spikes: garish blotches far more saturated than the truth.

    An image has spikes when the 99.9th percentile of its predicted chroma ``sqrt(a^2 + b^2)``
    is more than ``margin`` above the 99.9th percentile of its true chroma.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    margin : float
        Chroma excess (Lab units) that counts as a spike.

    Returns
    -------
    float in [0, 1]
        The share of photos with at least one spike.

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(2, 2, 40, 40)
    >>> pred = true.clone()
    >>> pred[0, 0, :4, :4] = 90.0                      # a saturated blotch of 1 % of the pixels
    >>> chroma_spikes(pred, true), chroma_spikes(pred, true, margin=100.0)
    (0.5, 0.0)
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "chroma_spikes")
    return float(_spikes_per_image(pred_ab, true_ab, margin).double().mean())
