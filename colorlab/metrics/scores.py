"""The per-image and pixel-pooled scores: PSNR, SSIM, AuC of the ab error, colourfulness, chroma.

See :mod:`colorlab.metrics` for the conventions (layouts, units, how batches are pooled).
"""
from __future__ import annotations

import math

import torch

from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab
from colorlab.filters import gaussian_blur

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "smooth_colorfulness",
           "chroma_ratio", "SPECKLE_SIGMA"]

_SSIM_SIGMA, _SSIM_RADIUS = 1.5, 5      # Wang et al. 2004: Gaussian window sigma 1.5, 11 taps
#: Blur (pixels) that :func:`smooth_colorfulness` applies to ab: it wipes out 2-4 px speckle and
#: checkerboards while keeping the colour of objects at the course's 64-256 px working sizes.
SPECKLE_SIGMA = 2.0


def _check(x: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name}: expected a tensor of shape (B, {channels}, H, W), got {shape}")
    return x.detach().double()


def _pair(pred, true, channels, name):
    pred, true = _check(pred, channels, name), _check(true, channels, name)
    if pred.shape != true.shape:
        raise ValueError(f"{name}: shapes differ: {tuple(pred.shape)} vs {tuple(true.shape)}")
    return pred, true.to(pred.device)


# ---------------------------------------------------------------------- per-image scores
def _psnr_per_image(pred, true):
    mse = ((pred - true) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return 10.0 * torch.log10(1.0 / mse)


def _ssim_per_image(pred, true):
    B, C, H, W = pred.shape
    if min(H, W) <= 2 * _SSIM_RADIUS:
        raise ValueError(f"ssim: images must be larger than {2 * _SSIM_RADIUS}x{2 * _SSIM_RADIUS}, "
                         f"got {H}x{W}")
    r = _SSIM_RADIUS

    def blur(x):
        return gaussian_blur(x, _SSIM_SIGMA, r)

    mx, my = blur(pred), blur(true)
    vx, vy = blur(pred * pred) - mx * mx, blur(true * true) - my * my
    cxy = blur(pred * true) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2                       # data range 1
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s[:, :, r:H - r, r:W - r].mean((1, 2, 3))   # border excluded, as scikit-image


def _colorfulness_per_image(rgb):
    x = rgb * 255.0
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    std = (rg.flatten(1).var(1, unbiased=False) + yb.flatten(1).var(1, unbiased=False)).sqrt()
    mean = (rg.flatten(1).mean(1) ** 2 + yb.flatten(1).mean(1) ** 2).sqrt()
    return std + 0.3 * mean


def _smooth_colorfulness_per_image(L, ab, sigma: float):
    """(B,): colourfulness of the photo with its ab blurred (Gaussian ``sigma`` px, reflected
    borders, the kernel cut to the image), L kept."""
    return _colorfulness_per_image(lab_to_rgb(merge_lab(L, gaussian_blur(ab, sigma))))


def _auc_hits(pred_ab, true_ab, max_threshold):
    """Per pixel ``#{t in 0..T : e <= t} / (T + 1)`` for the ab error e: (B, H, W)."""
    err = (pred_ab - true_ab).pow(2).sum(1).sqrt()
    return (max_threshold + 1 - torch.ceil(err)).clamp(0, max_threshold + 1) / (max_threshold + 1)


def _auc_sums(pred_ab, true_ab, weights, max_threshold):
    """(sum_i w_i * #{t in 0..T : e_i <= t} / (T + 1), sum_i w_i) over all pixels."""
    hits = _auc_hits(pred_ab, true_ab, max_threshold)                   # (B, H, W)
    w = torch.ones_like(hits) if weights is None else weights.to(hits).reshape(hits.shape)
    return float((hits * w).sum()), float(w.sum())


# ---------------------------------------------------------------------- public scores
def psnr(pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for RGB in [0, 1], averaged over the batch.

    ``10 log10(1 / MSE)`` per image (as :func:`skimage.metrics.peak_signal_noise_ratio` with
    ``data_range=1``); identical images are capped at 100 dB instead of infinity.

    Parameters
    ----------
    pred_rgb, true_rgb : torch.Tensor (B, 3, H, W) in [0, 1]

    Returns
    -------
    float
        Mean PSNR over the batch, in dB (at most 100).

    Examples
    --------
    >>> import torch
    >>> round(psnr(torch.full((1, 3, 8, 8), 0.1), torch.zeros(1, 3, 8, 8)), 6)
    20.0
    """
    return float(_psnr_per_image(*_pair(pred_rgb, true_rgb, 3, "psnr")).mean())


def ssim(pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> float:
    """Structural similarity (Wang et al. 2004) for RGB in [0, 1], averaged over channels and batch.

    The standard settings: Gaussian window with sigma 1.5 (11 taps), population covariances,
    ``K1=0.01, K2=0.03``, data range 1, the 5-pixel border left out: the same as
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)``.

    Parameters
    ----------
    pred_rgb, true_rgb : torch.Tensor (B, 3, H, W) in [0, 1], H and W at least 11

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(1, 3, 16, 16)
    >>> round(ssim(x, x), 6)
    1.0
    """
    return float(_ssim_per_image(*_pair(pred_rgb, true_rgb, 3, "ssim")).mean())


def auc_ab(pred_ab: torch.Tensor, true_ab: torch.Tensor, max_threshold: int = 150,
           weights=None) -> float:
    """Area under the curve of "fraction of pixels with ab error <= t" for t = 0, 1, ..., 150.

    The L2 error in the ab plane of every pixel of the batch is pooled; the curve is sampled at
    integer thresholds and averaged, so the result is in [0, 1] (Zhang et al. report it in %).

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    max_threshold : int
    weights : torch.Tensor (B, H, W), optional
        Per-pixel weights (see :func:`auc_ab_rebalanced`).

    Returns
    -------
    float in [0, 1]
        Mean over the thresholds of the share of pixels within each.

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(1, 2, 1, 2)
    >>> pred = torch.tensor([0.0, 3.0, 0.0, 4.0]).view(1, 2, 1, 2)    # errors 0 and 5
    >>> auc_ab(pred, true, max_threshold=9)                            # (10/10 + 5/10) / 2
    0.75
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "auc_ab")
    num, den = _auc_sums(pred_ab, true_ab, weights, int(max_threshold))
    return num / den


def _rebalanced_pixel_weights(true_ab, quantizer, prior):
    if quantizer is None:
        from colorlab.quantize import ABQuantizer
        quantizer = ABQuantizer.from_gamut()   # its cells are computed once per process
    quantizer = quantizer.to(true_ab.device)
    if prior is None:
        prior = quantizer.prior(true_ab)
    w = quantizer.rebalance_weights(torch.as_tensor(prior), lam=0.0)
    return w[quantizer.hard_encode(true_ab.float())]


def auc_ab_rebalanced(pred_ab: torch.Tensor, true_ab: torch.Tensor, quantizer=None, prior=None,
                      max_threshold: int = 150) -> float:
    """:func:`auc_ab` with each pixel weighted by the inverse prior of its true bin (Zhang et al.).

    The weight of a pixel is ``quantizer.rebalance_weights(prior, lam=0)[true bin]``: the inverse
    of the Gaussian-smoothed (sigma 5) prior, so rare colours count as much as common ones.
    Smoothing keeps every weight finite.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W)
    quantizer : ABQuantizer, optional
        Defaults to ``ABQuantizer.from_gamut()``.
    prior : torch.Tensor (Q,), optional
        Defaults to the prior of ``true_ab`` itself (the evaluated ground truth).
    max_threshold : int

    Returns
    -------
    float in [0, 1]
        As :func:`auc_ab`, each pixel weighted by the inverse prior of its true bin.

    Examples
    --------
    >>> import torch
    >>> ab = torch.randn(2, 2, 8, 8) * 20
    >>> auc_ab_rebalanced(ab, ab)
    1.0
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "auc_ab_rebalanced")
    w = _rebalanced_pixel_weights(true_ab, quantizer, prior)
    return auc_ab(pred_ab, true_ab, max_threshold, weights=w)


def colorfulness(rgb: torch.Tensor) -> float:
    """Hasler and Suesstrunk (2003) colourfulness on 0..255 RGB, averaged over the batch.

    ``rg = R - G``, ``yb = (R + G) / 2 - B``,
    ``C = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)`` (population std).

    Parameters
    ----------
    rgb : torch.Tensor (B, 3, H, W) in [0, 1]

    Returns
    -------
    float, 0 for grey images

    Examples
    --------
    >>> import torch
    >>> colorfulness(torch.full((1, 3, 4, 4), 0.5))
    0.0
    >>> round(colorfulness(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)),
    ...       2)  # 0.3 * |(255, 127.5)|
    85.53
    """
    return float(_colorfulness_per_image(_check(rgb, 3, "colorfulness")).mean())


def smooth_colorfulness(rgb: torch.Tensor, sigma: float = SPECKLE_SIGMA) -> float:
    """:func:`colorfulness` after blurring the ab channels (Gaussian, ``sigma`` pixels; L kept).

    Speckle (isolated coloured pixels, checkerboard artefacts of a GAN) raises plain
    colourfulness, because it adds variance; blurred, it averages back to grey, while the colour of
    whole objects survives. Compare a model with the truth blurred the same way.

    Parameters
    ----------
    rgb : torch.Tensor (B, 3, H, W) in [0, 1]
    sigma : float
        Blur of the ab channels in pixels.

    Returns
    -------
    float
        Mean over the batch; 0 for grey images and for pure speckle around grey.

    Examples
    --------
    >>> import torch
    >>> from colorlab.color import lab_to_rgb
    >>> lab = torch.zeros(1, 3, 32, 32); lab[:, 0] = 60
    >>> lab[:, 1, ::2, ::2], lab[:, 1, 1::2, 1::2] = 40.0, -40.0     # red-green speckle on grey
    >>> speckle = lab_to_rgb(lab)
    >>> colorfulness(speckle) > 20, smooth_colorfulness(speckle) < 2
    (True, True)
    """
    lab = rgb_to_lab(_check(rgb, 3, "smooth_colorfulness"))
    return float(_smooth_colorfulness_per_image(lab[:, :1], lab[:, 1:], sigma).mean())


def chroma_ratio(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Mean predicted chroma over mean true chroma, ``sqrt(a^2 + b^2)`` pooled over all pixels.

    Below 1 means desaturated (the sepia of an MSE model); NaN when the truth is all grey.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W)

    Returns
    -------
    float
        1 for the true chroma, below 1 washed out; NaN if the truth is all grey.

    Examples
    --------
    >>> import torch
    >>> ab = torch.randn(1, 2, 8, 8)
    >>> round(chroma_ratio(ab / 2, ab), 6)
    0.5
    """
    pred_ab, true_ab = _pair(pred_ab, true_ab, 2, "chroma_ratio")
    den = float(true_ab.pow(2).sum(1).sqrt().mean())
    return float(pred_ab.pow(2).sum(1).sqrt().mean()) / den if den > 0 else math.nan
