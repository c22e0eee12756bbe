"""The per-image and pixel-pooled scores: PSNR, SSIM, AuC of the ab error, colourfulness, chroma.

See :mod:`colorlab.metrics` for the conventions (layouts, units, how batches are pooled) and
:mod:`colorlab.metrics.batch` for ``reduction``.
"""
from __future__ import annotations

import math

import torch

from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab
from colorlab.filters import gaussian_blur
from colorlab.metrics.batch import check_images, check_pair, check_reduction, reduce
from colorlab.quantize import ABQuantizer

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "smooth_colorfulness",
           "chroma_ratio", "SPECKLE_SIGMA"]

_SSIM_SIGMA, _SSIM_RADIUS = 1.5, 5      # Wang et al. 2004: Gaussian window sigma 1.5, 11 taps
#: Blur (pixels) that :func:`smooth_colorfulness` applies to ab: it wipes out 2-4 px speckle and
#: checkerboards while keeping the colour of objects at the course's 64-256 px working sizes.
SPECKLE_SIGMA = 2.0


def _colorfulness_per_image(rgb):
    x = rgb * 255.0
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    std = (rg.flatten(1).var(1, unbiased=False) + yb.flatten(1).var(1, unbiased=False)).sqrt()
    mean = (rg.flatten(1).mean(1) ** 2 + yb.flatten(1).mean(1) ** 2).sqrt()
    return std + 0.3 * mean


# ---------------------------------------------------------------------- public scores
def psnr(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, reduction: str = "mean"):
    """Peak signal-to-noise ratio in dB for RGB in [0, 1], averaged over the batch.

    ``10 log10(1 / MSE)`` per image (as :func:`skimage.metrics.peak_signal_noise_ratio` with
    ``data_range=1``); identical images are capped at 100 dB instead of infinity.

    Parameters
    ----------
    pred_rgb, true_rgb : torch.Tensor (B, 3, H, W) in [0, 1]
    reduction : {"mean", "none"}
        ``"none"``: the PSNR of each image.

    Returns
    -------
    float, or torch.Tensor (B,) float64 for ``reduction="none"``
        Mean PSNR over the batch, in dB (at most 100).

    Examples
    --------
    >>> import torch
    >>> pred = torch.stack([torch.full((3, 8, 8), 0.1), torch.full((3, 8, 8), 0.01)])
    >>> zero = torch.zeros(2, 3, 8, 8)
    >>> round(psnr(pred, zero), 6), [round(v, 6) for v in psnr(pred, zero, "none").tolist()]
    (30.0, [20.0, 40.0])
    """
    pred, true = check_pair(pred_rgb, true_rgb, 3, "psnr")
    mse = ((pred - true) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return reduce(10.0 * torch.log10(1.0 / mse), reduction, "psnr")


def ssim(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, reduction: str = "mean"):
    """Structural similarity (Wang et al. 2004) for RGB in [0, 1], averaged over channels and batch.

    The standard settings: Gaussian window with sigma 1.5 (11 taps), population covariances,
    ``K1=0.01, K2=0.03``, data range 1, the 5-pixel border left out: the same as
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)``.

    Parameters
    ----------
    pred_rgb, true_rgb : torch.Tensor (B, 3, H, W) in [0, 1], H and W at least 11
    reduction : {"mean", "none"}
        ``"none"``: the SSIM of each image (averaged over its channels).

    Returns
    -------
    float in [-1, 1], or torch.Tensor (B,) float64 for ``reduction="none"``

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 3, 16, 16)
    >>> round(ssim(x, x), 6), ssim(x, x, reduction="none").shape
    (1.0, torch.Size([2]))
    """
    pred, true = check_pair(pred_rgb, true_rgb, 3, "ssim")
    H, W = pred.shape[-2:]
    r = _SSIM_RADIUS
    if min(H, W) <= 2 * r:
        raise ValueError(f"ssim: images must be larger than {2 * r}x{2 * r}, got {H}x{W}")

    def blur(x):
        return gaussian_blur(x, _SSIM_SIGMA, r)

    mx, my = blur(pred), blur(true)
    vx, vy = blur(pred * pred) - mx * mx, blur(true * true) - my * my
    cxy = blur(pred * true) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2                       # data range 1
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    # border excluded, as scikit-image
    return reduce(s[:, :, r:H - r, r:W - r].mean((1, 2, 3)), reduction, "ssim")


def auc_ab(pred_ab: torch.Tensor, true_ab: torch.Tensor, max_threshold: int = 150,
           weights=None, reduction: str = "mean"):
    """Area under the curve of "fraction of pixels with ab error <= t" for t = 0, 1, ..., 150.

    The L2 error in the ab plane of every pixel of the batch is pooled; the curve is sampled at
    integer thresholds and averaged, so the result is in [0, 1] (Zhang et al. report it in %).
    Per pixel that is the share of thresholds its error is within, ``#{t : e <= t} / (T + 1)``,
    and the AuC is the (weighted) mean of those shares over all pixels.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W), Lab units
    max_threshold : int
    weights : torch.Tensor (B, H, W), optional
        Per-pixel weights (see :func:`auc_ab_rebalanced`); ``reduction="mean"`` only.
    reduction : {"mean", "none"}
        ``"none"``: the share of thresholds of each *pixel*, ``(B, H, W)`` (the AuC pools pixels,
        not images): their mean is the AuC, their weighted mean the rebalanced one.

    Returns
    -------
    float in [0, 1], or torch.Tensor (B, H, W) float64 for ``reduction="none"``
        Mean over the thresholds of the share of pixels within each.

    Examples
    --------
    >>> import torch
    >>> true = torch.zeros(1, 2, 1, 2)
    >>> pred = torch.tensor([0.0, 3.0, 0.0, 4.0]).view(1, 2, 1, 2)    # errors 0 and 5
    >>> auc_ab(pred, true, max_threshold=9), auc_ab(pred, true, 9, reduction="none")
    (0.75, tensor([[[1.0000, 0.5000]]], dtype=torch.float64))
    """
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "auc_ab")
    T = int(max_threshold)
    err = (pred_ab - true_ab).pow(2).sum(1).sqrt()
    hits = (T + 1 - torch.ceil(err)).clamp(0, T + 1) / (T + 1)                    # (B, H, W)
    if check_reduction(reduction, "auc_ab") == "none":
        if weights is not None:
            raise ValueError("auc_ab: weights apply to reduction='mean' only")
        return hits
    w = torch.ones_like(hits) if weights is None else weights.to(hits).reshape(hits.shape)
    return float((hits * w).sum()) / float(w.sum())


def auc_ab_rebalanced(pred_ab: torch.Tensor, true_ab: torch.Tensor, quantizer=None, prior=None,
                      max_threshold: int = 150) -> float:
    """:func:`auc_ab` with each pixel weighted by the inverse prior of its true bin (Zhang et al.).

    The weight of a pixel is ``quantizer.rebalance_weights(prior, lam=0)[true bin]``: the inverse
    of the Gaussian-smoothed (sigma 5) prior, so rare colours count as much as common ones.
    Smoothing keeps every weight finite. Pooled over all the pixels of the batch (the weights
    depend on all of them): no per-image form.

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
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "auc_ab_rebalanced")
    if quantizer is None:
        quantizer = ABQuantizer.from_gamut()   # its cells are computed once per process
    quantizer = quantizer.to(true_ab.device)
    if prior is None:
        prior = quantizer.prior(true_ab)
    w = quantizer.rebalance_weights(torch.as_tensor(prior), lam=0.0)
    pixel_weights = w[quantizer.hard_encode(true_ab.float())]
    return auc_ab(pred_ab, true_ab, max_threshold, weights=pixel_weights)


def colorfulness(rgb: torch.Tensor, reduction: str = "mean"):
    """Hasler and Suesstrunk (2003) colourfulness on 0..255 RGB, averaged over the batch.

    ``rg = R - G``, ``yb = (R + G) / 2 - B``,
    ``C = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)`` (population std).

    Parameters
    ----------
    rgb : torch.Tensor (B, 3, H, W) in [0, 1]
    reduction : {"mean", "none"}
        ``"none"``: the colourfulness of each image.

    Returns
    -------
    float, 0 for grey images; or torch.Tensor (B,) float64 for ``reduction="none"``

    Examples
    --------
    >>> import torch
    >>> colorfulness(torch.full((1, 3, 4, 4), 0.5))
    0.0
    >>> red_and_grey = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]]).view(2, 3, 1, 1)
    >>> colorfulness(red_and_grey, reduction="none")    # 0.3 * |(255, 127.5)| for red
    tensor([85.5296,  0.0000], dtype=torch.float64)
    """
    return reduce(_colorfulness_per_image(check_images(rgb, 3, "colorfulness")), reduction,
                  "colorfulness")


def smooth_colorfulness(rgb: torch.Tensor, sigma: float = SPECKLE_SIGMA, reduction: str = "mean"):
    """:func:`colorfulness` after blurring the ab channels (Gaussian, ``sigma`` pixels; L kept).

    Speckle (isolated coloured pixels, checkerboard artefacts of a GAN) raises plain
    colourfulness, because it adds variance; blurred, it averages back to grey, while the colour of
    whole objects survives. Compare a model with the truth blurred the same way.

    Parameters
    ----------
    rgb : torch.Tensor (B, 3, H, W) in [0, 1]
    sigma : float
        Blur of the ab channels in pixels (:func:`colorlab.filters.gaussian_blur`, reflected
        borders).
    reduction : {"mean", "none"}
        ``"none"``: the smooth colourfulness of each image.

    Returns
    -------
    float, or torch.Tensor (B,) float64 for ``reduction="none"``
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
    lab = rgb_to_lab(check_images(rgb, 3, "smooth_colorfulness"))
    blurred = merge_lab(lab[:, :1], gaussian_blur(lab[:, 1:], sigma))
    return reduce(_colorfulness_per_image(lab_to_rgb(blurred)), reduction, "smooth_colorfulness")


def chroma_ratio(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Mean predicted chroma over mean true chroma, ``sqrt(a^2 + b^2)`` pooled over all pixels.

    Below 1 means desaturated (the sepia of an MSE model); NaN when the truth is all grey. A ratio
    of pixel-pooled sums: no per-image form.

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
    pred_ab, true_ab = check_pair(pred_ab, true_ab, 2, "chroma_ratio")
    den = float(true_ab.pow(2).sum(1).sqrt().mean())
    return float(pred_ab.pow(2).sum(1).sqrt().mean()) / den if den > 0 else math.nan
