"""The one Gaussian blur of colorlab, for the models' ab filter and the metrics' windows.

:class:`colorlab.models.layers.GaussianBlur` (the seeds' fixed smoothing of the predicted ab,
replicate borders), :func:`colorlab.metrics.ssim` (its 11-tap window) and
:func:`colorlab.metrics.smooth_colorfulness` (the speckle blur, reflect borders as
``scipy.ndimage``) all call :func:`gaussian_blur`. It imports nothing of colorlab, so every layer
may use it.

Examples
--------
>>> import torch
>>> x = torch.zeros(1, 2, 9, 9); x[:, :, 4, 4] = 1
>>> y = gaussian_blur(x, 1.0)
>>> y.shape, round(float(y.sum()), 4), round(float(y[0, 0, 4, 4]), 4)
(torch.Size([1, 2, 9, 9]), 2.0, 0.1592)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_blur", "gaussian_radius"]


def gaussian_radius(sigma: float) -> int:
    """The radius of the kernel :func:`gaussian_blur` uses by default: ``max(1, ceil(3 sigma))``.

    Examples
    --------
    >>> gaussian_radius(1.5), gaussian_radius(0.2)
    (5, 1)
    """
    return max(1, math.ceil(3 * sigma))


def gaussian_blur(x: torch.Tensor, sigma: float, radius: int | None = None,
                  padding: str = "reflect") -> torch.Tensor:
    """Separable Gaussian blur of every channel of ``(B, C, H, W)`` on its own; the size is kept.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, H, W)``, any float dtype (the kernel is made in float64 and cast to it).
    sigma : float
        Standard deviation in pixels, > 0.
    radius : int, optional
        Half-width of the kernel (``2 * radius + 1`` taps, normalised to sum 1). Default
        :func:`gaussian_radius`. With ``"reflect"`` padding it is cut to ``min(H, W) - 1`` at most
        (reflection cannot reach further).
    padding : {"reflect", "replicate"}
        How the borders are extended (reflect: as ``scipy.ndimage``'s ``"mirror"``).

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``, the dtype and device of ``x``.

    Raises
    ------
    ValueError
        ``sigma`` is not positive, or an unknown ``padding``.

    Examples
    --------
    >>> flat = torch.full((2, 3, 4, 6), 0.5)
    >>> torch.allclose(gaussian_blur(flat, 5.0), flat)     # radius 15 cut to 3: reflect fits
    True
    >>> torch.allclose(gaussian_blur(flat, 5.0, padding="replicate"), flat)
    True
    """
    if not sigma > 0:
        raise ValueError(f"gaussian_blur: sigma must be > 0, got {sigma!r}")
    if padding not in ("reflect", "replicate"):
        raise ValueError("gaussian_blur: padding must be 'reflect' or 'replicate', "
                         f"got {padding!r}")
    B, C, H, W = x.shape
    r = gaussian_radius(sigma) if radius is None else int(radius)
    if padding == "reflect":
        r = max(1, min(r, min(H, W) - 1))
    t = torch.arange(-r, r + 1, dtype=torch.float64, device=x.device)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = (g / g.sum()).to(x.dtype)
    y = F.pad(x.reshape(B * C, 1, H, W), (r, r, r, r), mode=padding)
    y = F.conv2d(F.conv2d(y, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))
    return y.reshape(B, C, H, W)
