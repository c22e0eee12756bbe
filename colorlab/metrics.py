"""Scores for a colourisation: PSNR, SSIM, AuC of the ab error, colourfulness, chroma, colour casts.

All functions take torch tensors in the library's layout: RGB ``(B, 3, H, W)`` in [0, 1] and ab
``(B, 2, H, W)`` in Lab units. Per-image scores are averaged over the batch; pixel-pooled scores
(AuC, chroma ratio) pool every pixel of the batch, as Zhang et al. do over a test set.
:func:`colorlab.evaluation.evaluate` runs a model over a set of images and returns everything as
one dict; ``colorlab.metrics.evaluate`` still finds it (imported on first use, so that this module
never imports :mod:`colorlab.models`).

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

import math

import torch

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "chroma_ratio", "colour_cast",
           "tint", "chroma_spikes", "evaluate"]  # noqa: F822 (evaluate: lazy, module __getattr__)

_SSIM_SIGMA, _SSIM_RADIUS = 1.5, 5      # Wang et al. 2004: Gaussian window sigma 1.5, 11 taps


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


def _gauss_window(device):
    x = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=torch.float64, device=device)
    g = torch.exp(-x ** 2 / (2 * _SSIM_SIGMA ** 2))
    return g / g.sum()


def _ssim_per_image(pred, true):
    B, C, H, W = pred.shape
    if min(H, W) <= 2 * _SSIM_RADIUS:
        raise ValueError(f"ssim: images must be larger than {2 * _SSIM_RADIUS}x{2 * _SSIM_RADIUS}, got {H}x{W}")
    g = _gauss_window(pred.device)
    r = _SSIM_RADIUS

    def blur(x):                      # separable Gaussian, reflect padding, as scipy.ndimage
        x = torch.nn.functional.pad(x.reshape(B * C, 1, H, W), (r, r, r, r), mode="reflect")
        x = torch.nn.functional.conv2d(x, g.view(1, 1, 1, -1))
        return torch.nn.functional.conv2d(x, g.view(1, 1, -1, 1)).reshape(B, C, H, W)

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


def auc_ab(pred_ab: torch.Tensor, true_ab: torch.Tensor, max_threshold: int = 150, weights=None) -> float:
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
    >>> round(colorfulness(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)), 2)  # 0.3 * |(255, 127.5)|
    85.53
    """
    return float(_colorfulness_per_image(_check(rgb, 3, "colorfulness")).mean())


def chroma_ratio(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Mean predicted chroma over mean true chroma, ``sqrt(a^2 + b^2)`` pooled over all pixels.

    Below 1 means desaturated (the sepia of an MSE model); NaN when the truth is all grey.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor (B, 2, H, W)

    Returns
    -------
    float

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


# ---------------------------------------------------------------------- colour casts and spikes
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
        raise ValueError(f"tint: need matching non-empty (N, 2) means, got {tuple(pred_means.shape)} "
                         f"and {tuple(true_means.shape)}")
    return float((pred_means - true_means).mean(0).pow(2).sum().sqrt())


def _chroma_quantile_per_image(ab, q: float = 0.999):
    """(B,): the ``q`` quantile of ``sqrt(a^2 + b^2)`` over each image's pixels (linear, as numpy)."""
    c = ab.pow(2).sum(1).sqrt().flatten(1)                               # (B, N)
    pos = q * (c.shape[1] - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    v_lo = c.kthvalue(lo + 1, dim=1).values                              # kthvalue: any size, unlike quantile
    v_hi = c.kthvalue(min(lo + 2, c.shape[1]), dim=1).values
    return v_lo + frac * (v_hi - v_lo)


def _spikes_per_image(pred_ab, true_ab, margin: float):
    """(B,) bool: the prediction's 99.9th-percentile chroma is more than ``margin`` above the truth's."""
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


def __getattr__(name):
    """``colorlab.metrics.evaluate`` for old callers: imported from :mod:`colorlab.evaluation` on first use."""
    if name == "evaluate":
        from colorlab.evaluation import evaluate
        globals()["evaluate"] = evaluate
        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
