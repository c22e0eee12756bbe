"""User hints: a few clicked colours that resolve what grey alone cannot (Zhang et al., 2017).

"Real-Time User-Guided Image Colorization with Learned Deep Priors" (SIGGRAPH 2017) feeds the
network, besides L, the user's points as two maps at the photo's size: ``ab`` holding each hint's
colour over a small patch (zero elsewhere) and a ``mask`` marking where hints are. Here the three
channels ``(a / 110, b / 110, mask)`` form one ``(B, 3, H, W)`` tensor, the *hint map*:

- :func:`hint_map`: points ``(row, col, a, b)`` at the working size -> the hint map;
- :func:`simulate_hints`: training hints drawn from the true ab as the paper does (a geometric
  number of points around the centre, each revealing the mean true ab of a random 1-9 px patch),
  with half of the photos given none, so the model also colours on its own;
- :func:`user_hints`: what a person gives, ``(x, y, colour)`` in the original photo's pixels and a
  picked RGB, -> the hint map at the working size (the colour's ab at that pixel's lightness,
  pulled into the sRGB gamut there);
- :func:`parse_hint`: the command line's ``X,Y,#RRGGBB``.

Examples
--------
>>> import torch
>>> h = hint_map([(2, 3, 40.0, -20.0)], 6, 8, patch=1)
>>> h.shape, float(h[2].sum()), round(float(h[0, 2, 3]) * 110, 1)
(torch.Size([3, 6, 8]), 1.0, 40.0)
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch
import torch.nn.functional as F

from colorlab.color import AB_SCALE, fit_ab_to_gamut, rgb_to_lab

__all__ = ["HINT_CHANNELS", "USER_PATCH", "hint_map", "simulate_hints", "user_hints",
           "parse_hint", "parse_colour", "pool_hints"]

#: normalised a, normalised b, mask
HINT_CHANNELS = 3
#: side (pixels at the working size) of the patch a user's click colours
USER_PATCH = 3


def _patch(row: int, col: int, side: int, height: int, width: int) -> tuple[slice, slice]:
    top, left = row - (side - 1) // 2, col - (side - 1) // 2
    return (slice(max(top, 0), min(top + side, height)),
            slice(max(left, 0), min(left + side, width)))


def hint_map(points, height: int, width: int, patch: int = USER_PATCH) -> torch.Tensor:
    """The ``(3, H, W)`` hint map of points at the working size.

    Parameters
    ----------
    points : iterable of (row, col, a, b) or (row, col, a, b, side)
        Pixel position (integers, inside the map), colour in Lab units, and optionally that
        point's own patch side.
    height, width : int
        The map's size (the network's working size).
    patch : int
        Side of the square each point colours, centred on it (cut at the borders).

    Returns
    -------
    torch.Tensor of shape (3, H, W), float32
        ``a / 110``, ``b / 110`` over each patch (a later point overwrites an earlier one), and the
        mask (1 inside the patches, 0 elsewhere).
    """
    out = torch.zeros(HINT_CHANNELS, height, width)
    for point in points:
        row, col, a, b = point[:4]
        side = point[4] if len(point) > 4 else patch
        rows, cols = _patch(int(row), int(col), int(side), height, width)
        out[0, rows, cols] = float(a) / AB_SCALE
        out[1, rows, cols] = float(b) / AB_SCALE
        out[2, rows, cols] = 1.0
    return out


def simulate_hints(ab: torch.Tensor, generator: torch.Generator | None = None,
                   p_none: float = 0.5, p_stop: float = 1 / 8, max_patch: int = 9,
                   max_points: int = 64) -> torch.Tensor:
    """Training hints revealed from the true colours, as in Zhang et al. (2017), section 3.3.

    Per photo: no hints with probability ``p_none``; otherwise ``1 + Geometric(p_stop)`` points
    (mean 8 for the paper's ``p = 1/8``), each at a pixel drawn from a Gaussian around the centre
    (sd a quarter of each side, clipped to the photo), revealing the mean true ab of a square
    patch whose side is uniform in ``1 .. max_patch``.

    Parameters
    ----------
    ab : torch.Tensor of shape (B, 2, H, W)
        The true ab, Lab units.
    generator : torch.Generator, optional
        CPU source of all randomness (default: torch's global generator, which training
        checkpoints save, so resume is exact).
    p_none, p_stop : float
        Share of photos with no hints; the geometric distribution's stopping probability.
    max_patch, max_points : int

    Returns
    -------
    torch.Tensor of shape (B, 3, H, W)
        Hint maps, on ``ab``'s device.

    Examples
    --------
    >>> ab = torch.zeros(4, 2, 16, 16); ab[:, 0] = 30.0
    >>> h = simulate_hints(ab, torch.Generator().manual_seed(0))
    >>> h.shape, bool(((h[:, 0] * 110 - 30).abs() < 1e-4)[h[:, 2] > 0].all())
    (torch.Size([4, 3, 16, 16]), True)
    """
    B, _, H, W = ab.shape
    true = ab.detach().float().cpu()
    maps = []
    for i in range(B):
        points = []
        if float(torch.rand((), generator=generator)) >= p_none:
            u = float(torch.rand((), generator=generator))
            n = 1 + min(int(math.log1p(-u) / math.log1p(-p_stop)), max_points - 1)
            centre = torch.tensor([(H - 1) / 2, (W - 1) / 2])
            spread = torch.tensor([H / 4, W / 4])
            pos = centre + spread * torch.randn(n, 2, generator=generator)
            pos = torch.stack([pos[:, 0].clamp(0, H - 1), pos[:, 1].clamp(0, W - 1)], 1).round()
            sides = torch.randint(1, max_patch + 1, (n,), generator=generator).tolist()
            for (row, col), side in zip(pos.long().tolist(), sides):
                rows, cols = _patch(row, col, side, H, W)
                a, b = true[i, :, rows, cols].mean((1, 2)).tolist()
                points.append((row, col, a, b, side))
        maps.append(hint_map(points, H, W))
    return torch.stack(maps).to(ab.device)


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(colour) -> np.ndarray:
    """A picked colour -> sRGB floats ``(3,)`` in [0, 1].

    Accepts ``"#3050c0"`` (or without the ``#``), three integers 0-255, or three floats in
    [0, 1] (a tuple with any float is read as floats).

    Examples
    --------
    >>> parse_colour("#ff8000").round(3).tolist(), parse_colour((0, 128, 255)).round(3).tolist()
    ([1.0, 0.502, 0.0], [0.0, 0.502, 1.0])
    """
    if isinstance(colour, str):
        m = _HEX.match(colour.strip())
        if not m:
            raise ValueError(f"hint colour {colour!r}: expected #RRGGBB")
        return np.array([int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4)]) / 255.0
    try:
        values = list(colour)
    except TypeError:
        raise ValueError(f"hint colour {colour!r}: expected #RRGGBB or (r, g, b)") from None
    if len(values) != 3 or not all(isinstance(v, (int, float, np.integer, np.floating))
                                   and not isinstance(v, bool) and math.isfinite(v)
                                   for v in values):
        raise ValueError(f"hint colour {colour!r}: expected three numbers (r, g, b)")
    if any(isinstance(v, (float, np.floating)) for v in values):
        if not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"hint colour {colour!r}: float channels must be in [0, 1]")
        return np.array(values, dtype=np.float64)
    if not all(0 <= v <= 255 for v in values):
        raise ValueError(f"hint colour {colour!r}: integer channels must be in 0..255")
    return np.array(values, dtype=np.float64) / 255.0


def parse_hint(text: str):
    """``"X,Y,#RRGGBB"`` (or ``"X,Y,R,G,B"``) -> ``(x, y, colour)``.

    Examples
    --------
    >>> parse_hint("120,80,#3050c0")
    (120, 80, '#3050c0')
    >>> parse_hint("5,6,255,0,0")
    (5, 6, (255, 0, 0))
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) == 3:
            return int(parts[0]), int(parts[1]), parts[2]
        if len(parts) == 5:
            return int(parts[0]), int(parts[1]), tuple(int(p) for p in parts[2:])
    except ValueError:
        pass
    raise ValueError(f"hint {text!r}: expected X,Y,#RRGGBB or X,Y,R,G,B (pixels from the top-left)")


def user_hints(hints, L_full: torch.Tensor, working_hw: tuple[int, int],
               patch: int = USER_PATCH) -> torch.Tensor:
    """A person's hints -> the ``(1, 3, h, w)`` hint map at the working size.

    Parameters
    ----------
    hints : sequence of (x, y, colour)
        ``x`` (column) and ``y`` (row) in the original photo's pixels, from the top-left;
        ``colour`` as :func:`parse_colour` reads it.
    L_full : torch.Tensor of shape (1, 1, H, W)
        The photo's lightness at full size: each hint keeps the picked colour's ab at the
        lightness of the pixel clicked (a grey photo's L is the truth), shrunk towards grey until
        sRGB can show it there.
    working_hw : (h, w)
        The network's working size; positions are scaled to it.
    patch : int
        Side of the patch each hint colours at the working size.

    Returns
    -------
    torch.Tensor of shape (1, 3, h, w)

    Examples
    --------
    >>> L = torch.full((1, 1, 100, 200), 60.0)
    >>> m = user_hints([(150, 10, "#2040ff")], L, (32, 64))
    >>> int(m[0, 2].sum()), float(m[0, 1].min()) < 0          # 3x3 patch; blue: b < 0
    (9, True)
    """
    H, W = L_full.shape[-2:]
    h, w = working_hw
    points = []
    for k, hint in enumerate(hints):
        try:
            x, y, colour = hint
        except (TypeError, ValueError):
            raise ValueError(f"hint {k}: expected (x, y, colour), got {hint!r}") from None
        for name, v, limit in (("x", x, W), ("y", y, H)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or not 0 <= v < limit:
                raise ValueError(f"hint {k}: {name}={v!r} is outside the photo "
                                 f"({W} x {H} pixels, x in [0, {W}), y in [0, {H}))")
        rgb = torch.tensor(parse_colour(colour), dtype=torch.float32).view(1, 3, 1, 1)
        ab = rgb_to_lab(rgb)[:, 1:]
        L = L_full[:, :, int(y), int(x)].reshape(1, 1, 1, 1).float()
        a, b = fit_ab_to_gamut(L, ab)[0, :, 0, 0].tolist()
        row = min(int(y * h / H), h - 1)
        col = min(int(x * w / W), w - 1)
        points.append((row, col, a, b))
    return hint_map(points, h, w, patch)[None]


def pool_hints(hints: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """A hint map shrunk to a decoder level's ``(h, w)``: a cell is hinted if any pixel is (max
    of the mask) and holds the mean colour of its hinted pixels, so a one-pixel click still
    reaches the 1/16 level at full strength.

    Parameters
    ----------
    hints : torch.Tensor of shape (B, 3, H, W)
    hw : (h, w)

    Returns
    -------
    torch.Tensor of shape (B, 3, h, w)

    Examples
    --------
    >>> m = hint_map([(0, 0, 22.0, 0.0)], 8, 8, patch=1)[None]
    >>> p = pool_hints(m, (2, 2)); float(p[0, 2, 0, 0]), round(float(p[0, 0, 0, 0]) * 110, 3)
    (1.0, 22.0)
    """
    if tuple(hints.shape[-2:]) == tuple(hw):
        return hints
    ab, mask = hints[:, :2], hints[:, 2:]
    cover = F.adaptive_avg_pool2d(mask, hw)
    ab_mean = F.adaptive_avg_pool2d(ab * mask, hw) / cover.clamp(min=1e-6)
    hinted = F.adaptive_max_pool2d(mask, hw)
    return torch.cat([ab_mean * hinted, hinted], dim=1)
