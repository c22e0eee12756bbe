"""Colour-space conversions between sRGB and CIE Lab, for torch tensors and numpy arrays.

One small function per conversion, in the style of ``kornia.color``. Everything follows the
scikit-image convention: sRGB with the D65 white point and the 2-degree observer, so results agree
with :func:`skimage.color.rgb2lab` and :func:`skimage.color.lab2rgb` to within 1e-3.

Layouts
-------
- torch tensors are channel-first: ``(..., 3, H, W)``.
- numpy arrays are channel-last, as in scikit-image and Pillow: ``(..., H, W, 3)``.

Ranges
------
- RGB: float in [0, 1], or uint8 in [0, 255] (converted to float first).
- L in [0, 100]; a and b in about [-128, 127] for colours that sRGB can show.

Network normalisation
---------------------
Every model in :mod:`colorlab.models` takes raw L and returns raw ab; inside, they all use the one
convention defined here (the ECCV16 one): ``normalize_l(L) = (L - 50) / 100`` and
``normalize_ab(ab) = ab / 110``, with :func:`denormalize_l` and :func:`denormalize_ab` as inverses.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "rgb_to_lab", "lab_to_rgb", "fit_ab_to_gamut", "rgb_to_gray_l", "split_lab", "merge_lab",
    "normalize_l", "denormalize_l", "normalize_ab", "denormalize_ab",
    "L_CENTER", "L_SCALE", "AB_SCALE", "WHITE_D65",
]

# D65 white point, 2-degree observer (scikit-image's default for rgb2lab / lab2rgb).
WHITE_D65 = (0.95047, 1.0, 1.08883)
# Linear sRGB -> XYZ, the matrix scikit-image uses.
_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
# Fold the white point into the matrices, so the hot path is one 3x3 mix per direction.
_XYZN_FROM_RGB = (_XYZ_FROM_RGB / np.array(WHITE_D65)[:, None]).tolist()
_RGB_FROM_XYZN = (_RGB_FROM_XYZ * np.array(WHITE_D65)[None, :]).tolist()

L_CENTER, L_SCALE, AB_SCALE = 50.0, 100.0, 110.0
_LAB_LIMIT = 1e4  # clamp bound that keeps cubes and matrix mixes finite for any finite input
_RGB_LIMIT = 1e4  # the same for sRGB: c ** 2.4 stays ~3e9 (it overflows float32 from c ~ 1e16)


def normalize_l(L):
    """Map L in [0, 100] to the network input range [-0.5, 0.5]: ``(L - 50) / 100``.

    Shape is preserved: ``(B, 1, H, W) -> (B, 1, H, W)``.
    """
    return (L - L_CENTER) / L_SCALE


def denormalize_l(x):
    """Inverse of :func:`normalize_l`: ``x * 100 + 50``. Shape is preserved."""
    return x * L_SCALE + L_CENTER


def normalize_ab(ab):
    """Map ab (about [-128, 127]) to about [-1, 1]: ``ab / 110``. Shape is preserved."""
    return ab / AB_SCALE


def denormalize_ab(x):
    """Inverse of :func:`normalize_ab`: ``x * 110``. Shape is preserved."""
    return x * AB_SCALE


# --------------------------------------------------------------------------- helpers
def _as_channel_first(x, name: str):
    """Return (tensor with channels at dim -3, restore function) for a tensor or an array."""
    if isinstance(x, np.ndarray):
        if x.ndim < 3 or x.shape[-1] != 3:
            raise ValueError(f"{name}: numpy input must have shape (..., H, W, 3), got {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x))
        t = t.movedim(-1, -3)

        def restore(out):
            return out.movedim(-3, -1).contiguous().numpy()
        return t, restore
    if isinstance(x, torch.Tensor):
        if x.ndim < 3 or x.shape[-3] != 3:
            raise ValueError(f"{name}: tensor input must have shape (..., 3, H, W), "
                             f"got {tuple(x.shape)}")
        return x, (lambda out: out)
    raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def _to_float(t: torch.Tensor, name: str, limit: float) -> tuple[torch.Tensor, torch.dtype]:
    """Float32/64 working tensor within +-``limit``, and the dtype to return; refuses NaN and
    inf."""
    if not t.is_floating_point():
        raise TypeError(f"{name}: expected float or uint8 input, got {t.dtype}")
    out_dtype = t.dtype
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if t.numel() == 0:
        return t, out_dtype
    # one pass, no copy; NaN propagates into both
    lo, hi = (float(v) for v in torch.aminmax(t.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: input contains NaN or inf values")
    if lo < -limit or hi > limit:
        t = t.clamp(-limit, limit)
    return t, out_dtype


# Every piecewise curve below is written without masks, as
#     smooth(max(c, t)) + slope * (min(c, t) - t),
# which is exactly the smooth branch above the knee t and the linear branch (to ~1e-9) below it.
# Masks (torch.where) cost ~10x an elementwise op on CPU, and the clamps keep gradients finite.
_LIN_KNEE, _LIN_GAMMA_KNEE = 0.04045, 0.0031308
_F_KNEE, _F_INV_KNEE = 0.008856, 0.2068966
# Lab from f(X/Xn), f(Y/Yn), f(Z/Zn) is linear: L = 116 fy - 16, a = 500 (fx - fy),
# b = 200 (fy - fz).
_LAB_FROM_F = [[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]]
_F_FROM_LAB = np.linalg.inv(np.array(_LAB_FROM_F)).tolist()
_SRGB_U8_LUT: dict = {}


def _mix(m, t: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix (nested lists) over the channel axis -3 of ``t``."""
    return torch.einsum("ij,...jhw->...ihw", torch.tensor(m, dtype=t.dtype, device=t.device), t)


# The four curves below are piecewise: a power law above a knee, a straight line below it. Each
# is written as ``curve(max(x, knee)) + slope * (x - max(x, knee))``, which needs no masks. The
# trailing-underscore methods work in place on temporaries the expression has just made (autograd
# allows it for these ops); on a CPU each avoided buffer saves about a millisecond per 3M values.
def _srgb_to_linear(c):
    """sRGB decoding (IEC 61966-2-1): ``((c + 0.055) / 1.055) ** 2.4``, below the knee
    ``c / 12.92``."""
    hi = c.clamp(min=_LIN_KNEE)
    below = (c - hi).div_(12.92)
    return hi.add_(0.055).div_(1.055).pow(2.4).add_(below)


def _srgb_u8_to_linear(u8: torch.Tensor) -> torch.Tensor:
    """Exact linearisation of uint8 sRGB through a 256-entry lookup table."""
    key = str(u8.device)
    if key not in _SRGB_U8_LUT:
        _SRGB_U8_LUT[key] = _srgb_to_linear(
            torch.arange(256, dtype=torch.float64) / 255.0).float().to(u8.device)
    return _SRGB_U8_LUT[key].index_select(0, u8.reshape(-1).int()).view(u8.shape)


def _linear_to_srgb(c):
    """sRGB encoding: ``1.055 * c ** (1 / 2.4) - 0.055``, below the knee ``12.92 * c``."""
    hi = c.clamp(min=_LIN_GAMMA_KNEE)
    below = (c - hi).mul_(12.92)
    return hi.pow(1 / 2.4).mul_(1.055).sub_(0.055).add_(below)


def _f_lab(t):
    """CIE Lab's f: ``t ** (1 / 3)``, below the knee ``7.787 * t + 16 / 116`` (they meet at the
    knee)."""
    hi = t.clamp(min=_F_KNEE)
    return hi.pow(1 / 3).add_((t - hi).mul_(7.787))


def _f_lab_inv(f):
    """The inverse of :func:`_f_lab`: ``f ** 3``, below the knee ``(f - 16 / 116) / 7.787``."""
    hi = f.clamp(min=_F_INV_KNEE)
    return hi.pow(3).add_((f - hi).div_(7.787))


# --------------------------------------------------------------------------- public API
def rgb_to_lab(rgb):
    """Convert sRGB to CIE Lab (D65, 2-degree observer), as :func:`skimage.color.rgb2lab`.

    Parameters
    ----------
    rgb : torch.Tensor of shape (..., 3, H, W) or numpy.ndarray of shape (..., H, W, 3)
        Float RGB in [0, 1], or uint8 RGB in [0, 255]. Any device; differentiable. Float values
        outside [0, 1] are converted as scikit-image does, after clamping to +-1e4 (so any finite
        input gives a finite result).

    Returns
    -------
    lab : same type and layout as the input
        L in [0, 100], a and b in about [-128, 127]. Float (uint8 input gives float32).

    Raises
    ------
    ValueError
        If the shape has no channel axis of size 3, or the input holds NaN or inf.

    Examples
    --------
    >>> import torch
    >>> from colorlab.color import rgb_to_lab
    >>> red = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    >>> rgb_to_lab(red).flatten().round(decimals=1)
    tensor([53.2000, 80.1000, 67.2000])
    """
    t, restore = _as_channel_first(rgb, "rgb_to_lab")
    if t.dtype == torch.uint8:
        linear, out_dtype = _srgb_u8_to_linear(t), torch.float32
    else:
        # c ** 2.4 overflows float32 from ~1e16
        t, out_dtype = _to_float(t, "rgb_to_lab", _RGB_LIMIT)
        linear = _srgb_to_linear(t)
    lab = _mix(_LAB_FROM_F, _f_lab(_mix(_XYZN_FROM_RGB, linear)))
    lab[..., 0, :, :] -= 16.0
    return restore(lab.to(out_dtype))


def lab_to_rgb(lab):
    """Convert CIE Lab (D65, 2-degree observer) to sRGB in [0, 1], as :func:`skimage.color.lab2rgb`.

    Colours outside the sRGB gamut are clipped to [0, 1], never NaN: like scikit-image, negative Z
    is clipped to 0, and values are clamped to +-1e4 first so any finite input stays finite.

    Parameters
    ----------
    lab : torch.Tensor of shape (..., 3, H, W) or numpy.ndarray of shape (..., H, W, 3)
        L in [0, 100], a and b in about [-128, 127]. Any device; differentiable.

    Returns
    -------
    rgb : same type, layout and float dtype as the input, values in [0, 1].

    Raises
    ------
    TypeError
        If the input is uint8 (Lab needs floats).
    ValueError
        If the shape has no channel axis of size 3, or the input holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from colorlab.color import lab_to_rgb
    >>> lab_to_rgb(np.array([[[53.24, 80.09, 67.20]]])).round(2)
    array([[[1., 0., 0.]]])
    """
    t, restore = _as_channel_first(lab, "lab_to_rgb")
    if t.dtype == torch.uint8:
        raise TypeError("lab_to_rgb: Lab input must be a float tensor or array, got uint8")
    t, out_dtype = _to_float(t, "lab_to_rgb", _LAB_LIMIT)
    linear = _lab_to_linear(t, clip_z=True)
    rgb = _linear_to_srgb(linear)
    return restore(rgb.clamp(0.0, 1.0).to(out_dtype))


def _lab_to_linear(t: torch.Tensor, clip_z: bool) -> torch.Tensor:
    """Lab ``(..., 3, H, W)`` -> linear RGB, not clipped (negative Z clipped to 0 if ``clip_z``)."""
    offset = torch.tensor([16.0, 0.0, 0.0], dtype=t.dtype, device=t.device).view(3, 1, 1)
    f = _mix(_F_FROM_LAB, t + offset)  # fx, fy, fz
    if clip_z:  # negative Z clips, as in skimage
        f = torch.cat((f[..., :2, :, :], f[..., 2:, :, :].clamp(min=0.0)), dim=-3)
    return _mix(_RGB_FROM_XYZN, _f_lab_inv(f))


def fit_ab_to_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Shrink each pixel's ab towards grey until (L, ab) is a colour sRGB can show.

    A network can predict a chroma that no screen shows at that lightness (a saturated blue at
    L = 95, say); converting it clips the RGB channels one by one and the hue jumps, which shows
    as rainbow blotches in very dark and very bright regions. This scales ab by the largest factor
    in [0, 1] (found by bisection, ``2 ** -steps`` precise) that keeps linear RGB in [0, 1]; the
    hue is kept, and pixels already in gamut are unchanged.

    Parameters
    ----------
    L : torch.Tensor of shape (..., 1, H, W)
        Lightness in [0, 100].
    ab : torch.Tensor of shape (..., 2, H, W)
        Chroma in Lab units.
    steps : int
        Bisection steps.

    Returns
    -------
    torch.Tensor of shape (..., 2, H, W)
        ab with ``|ab|`` reduced where needed; same dtype as ``ab``.

    Examples
    --------
    >>> import torch
    >>> L = torch.tensor([95.0, 50.0]).view(1, 1, 1, 2)
    >>> ab = torch.tensor([[0.0, 20.0],
    ...                    [-100.0, -20.0]]).view(1, 2, 1, 2)   # blue at L=95, mild at 50
    >>> fit_ab_to_gamut(L, ab)[0, :, 0].round()
    tensor([[  0.,  20.],
            [ -8., -20.]])
    """
    Lf, abf = L.float(), ab.float()

    def inside(scale):
        lin = _lab_to_linear(torch.cat([Lf, abf * scale], dim=-3), clip_z=False)
        return ((lin >= -1e-4) & (lin <= 1.0 + 1e-4)).all(dim=-3, keepdim=True)

    ok = inside(torch.ones_like(Lf))
    if bool(ok.all()):
        return ab
    lo, hi = torch.zeros_like(Lf), torch.ones_like(Lf)
    for _ in range(steps):
        mid = (lo + hi) / 2
        good = inside(mid)
        lo, hi = torch.where(good, mid, lo), torch.where(good, hi, mid)
    scale = torch.where(ok, torch.ones_like(lo), lo)
    return (abf * scale).to(ab.dtype)


def rgb_to_gray_l(rgb):
    """The lightness channel of an sRGB image: ``rgb_to_lab(rgb)`` restricted to L.

    Parameters
    ----------
    rgb : torch.Tensor of shape (..., 3, H, W)

    Returns
    -------
    L : torch.Tensor of shape (..., 1, H, W), in [0, 100].
    """
    return rgb_to_lab(rgb)[..., :1, :, :]


def split_lab(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a Lab tensor ``(..., 3, H, W)`` into L ``(..., 1, H, W)`` and ab ``(..., 2, H, W)``."""
    return lab[..., :1, :, :], lab[..., 1:, :, :]


def merge_lab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Join L ``(..., 1, H, W)`` and ab ``(..., 2, H, W)`` into Lab ``(..., 3, H, W)``."""
    if L.shape[-2:] != ab.shape[-2:]:
        raise ValueError(f"merge_lab: L is {tuple(L.shape)} but ab is {tuple(ab.shape)}; "
                         "sizes must match")
    return torch.cat((L, ab.to(L.dtype)), dim=-3)
