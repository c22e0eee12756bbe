"""Scores for a colourisation: PSNR, SSIM, AuC of the ab error, colourfulness and chroma.

All functions take torch tensors in the library's layout: RGB ``(B, 3, H, W)`` in [0, 1] and ab
``(B, 2, H, W)`` in Lab units. Per-image scores are averaged over the batch; pixel-pooled scores
(AuC, chroma ratio) pool every pixel of the batch, as Zhang et al. do over a test set.
:func:`evaluate` runs a model over a set of images and returns everything as one dict.

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

import functools
import math
import numbers

import torch

from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab

__all__ = ["psnr", "ssim", "auc_ab", "auc_ab_rebalanced", "colorfulness", "chroma_ratio", "evaluate"]

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


def _auc_sums(pred_ab, true_ab, weights, max_threshold):
    """(sum_i w_i * #{t in 0..T : e_i <= t} / (T + 1), sum_i w_i) over all pixels."""
    err = (pred_ab - true_ab).pow(2).sum(1).sqrt()                      # (B, H, W)
    hits = (max_threshold + 1 - torch.ceil(err)).clamp(0, max_threshold + 1) / (max_threshold + 1)
    w = torch.ones_like(err) if weights is None else weights.to(err).reshape(err.shape)
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


@functools.lru_cache(maxsize=1)
def _gamut_quantizer():
    """``ABQuantizer.from_gamut()``, built once per process (it takes seconds)."""
    from colorlab.quantize import ABQuantizer
    return ABQuantizer.from_gamut()


def _rebalanced_pixel_weights(true_ab, quantizer, prior):
    if quantizer is None:
        quantizer = _gamut_quantizer()
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


# ---------------------------------------------------------------------- evaluation
def _positive_int(value, name: str) -> int:
    """``value`` if it is a positive integer (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"evaluate: {name} must be a positive integer, got {value!r}")
    return int(value)


def _lab_images(images, size: int) -> torch.Tensor:
    """(N, 3, S, S) Lab from a LabDataset, a list of HxWx3 arrays or a dict of them."""
    if hasattr(images, "lab"):
        return images.lab
    if isinstance(images, dict):
        images = list(images.values())
    if torch.is_tensor(images) and images.ndim == 4 and images.shape[1] == 3:
        return images.float()                              # already Lab (N, 3, S, S)
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError("evaluate: images must be a LabDataset, a non-empty list of HxWx3 arrays, "
                        f"or a dict from sample_photos(); got {type(images).__name__}")
    from colorlab.data import prepare_image        # the one way images are prepared
    return rgb_to_lab(torch.stack([prepare_image(im, size) for im in images]))


def _predict(model, L, predict_size=None):
    """ab for L; with ``predict_size``, predicted at that working size and upsampled back."""
    from colorlab.models.base import predict_at_size
    fn = model.colorize if hasattr(model, "colorize") else model
    device = L.device
    if isinstance(model, torch.nn.Module):
        p = next(iter(model.parameters()), None)
        device = p.device if p is not None else device

    def run(x):
        return fn(x.to(device)).detach().float().cpu()
    return run(L) if predict_size is None else predict_at_size(run, L, predict_size)


def evaluate(model, images, size: int = 64, batch_size: int = 32, quantizer=None, prior=None,
             predict_size: int | None = None) -> dict:
    """Colourise ``images`` with ``model`` from their L and score the result against the truth.

    Parameters
    ----------
    model : object with ``.colorize(L)`` or a callable
        Maps L ``(B, 1, S, S)`` in [0, 100] to ab ``(B, 2, S, S)``. An ``nn.Module`` is run in
        eval mode (its mode is restored afterwards) on the device of its parameters.
    images : LabDataset, list of HxWx3 arrays, or dict from :func:`colorlab.data.sample_photos`
        Arrays are prepared with :func:`colorlab.data.prepare_image` (short side to ``size``,
        centre crop). A dataset's own ``.lab`` (N, 3, S, S) is used as it is.
    size : int
        Side of the prepared images (used for arrays; a dataset keeps its own size). Positive.
    batch_size : int
        Images per forward pass. Positive.
    quantizer : ABQuantizer, optional
        Bins for the rebalanced AuC (default: :meth:`ABQuantizer.from_gamut`).
    prior : torch.Tensor (Q,), optional
        Prior for the rebalanced AuC; by default the prior of the evaluated ground truth.
    predict_size : int, optional
        Run the model on L resized to this size and upsample its ab to ``size`` (bilinear), as
        ``colorize_image`` does: the score of a model used at its working resolution on larger
        images. Default: the model runs at ``size`` itself.

    Returns
    -------
    dict
        ``psnr`` (dB), ``ssim``, ``auc``, ``auc_rebalanced`` (in [0, 1]), ``colorfulness`` (of the
        predictions), ``colorfulness_gt``, ``colorfulness_ratio``, ``chroma_ratio``, ``n_images``.

    Raises
    ------
    ValueError
        ``size`` or ``batch_size`` is not a positive integer, or there are no images.
    TypeError
        ``images`` is none of the accepted kinds.

    Examples
    --------
    >>> import torch
    >>> lab = torch.cat([torch.full((3, 1, 16, 16), 60.0), torch.randn(3, 2, 16, 16) * 20], 1)
    >>> grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])
    >>> r = evaluate(grey, lab)
    >>> r["n_images"], r["chroma_ratio"], round(r["colorfulness"], 1)
    (3, 0.0, 0.0)
    """
    size, batch_size = _positive_int(size, "size"), _positive_int(batch_size, "batch_size")
    if predict_size is not None:
        predict_size = _positive_int(predict_size, "predict_size")
    lab = _lab_images(images, size).detach().cpu().float()
    if len(lab) == 0:
        raise ValueError("evaluate: no images to evaluate")
    if quantizer is None:
        quantizer = _gamut_quantizer()
    quantizer = quantizer.cpu()
    if prior is None:
        prior = quantizer.prior(lab[:, 1:])
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()
    per_image = {"psnr": [], "ssim": [], "cf": [], "cf_gt": []}
    sums = dict(auc=[0.0, 0.0], auc_rb=[0.0, 0.0], chroma=[0.0, 0.0])
    try:
        with torch.no_grad():
            for s in range(0, len(lab), batch_size):
                L, true_ab = lab[s:s + batch_size, :1], lab[s:s + batch_size, 1:]
                pred_ab = _predict(model, L, predict_size)
                pred_rgb = lab_to_rgb(merge_lab(L, pred_ab)).double()
                true_rgb = lab_to_rgb(lab[s:s + batch_size]).double()
                per_image["psnr"].append(_psnr_per_image(pred_rgb, true_rgb))
                per_image["ssim"].append(_ssim_per_image(pred_rgb, true_rgb))
                per_image["cf"].append(_colorfulness_per_image(pred_rgb))
                per_image["cf_gt"].append(_colorfulness_per_image(true_rgb))
                for key, w in (("auc", None), ("auc_rb", _rebalanced_pixel_weights(true_ab, quantizer, prior))):
                    num, den = _auc_sums(pred_ab.double(), true_ab.double(), w, 150)
                    sums[key][0] += num
                    sums[key][1] += den
                sums["chroma"][0] += float(pred_ab.double().pow(2).sum(1).sqrt().sum())
                sums["chroma"][1] += float(true_ab.double().pow(2).sum(1).sqrt().sum())
    finally:
        if was_training:
            model.train()
    mean = {k: float(torch.cat(v).mean()) for k, v in per_image.items()}
    return {
        "psnr": mean["psnr"], "ssim": mean["ssim"],
        "auc": sums["auc"][0] / sums["auc"][1], "auc_rebalanced": sums["auc_rb"][0] / sums["auc_rb"][1],
        "colorfulness": mean["cf"], "colorfulness_gt": mean["cf_gt"],
        "colorfulness_ratio": mean["cf"] / mean["cf_gt"] if mean["cf_gt"] > 0 else math.nan,
        "chroma_ratio": sums["chroma"][0] / sums["chroma"][1] if sums["chroma"][1] > 0 else math.nan,
        "n_images": int(len(lab)),
    }
