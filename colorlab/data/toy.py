"""The red-or-blue toy: the smallest world where a colour cannot be told from the lightness.

Every image is a grey background with one square at lightness ``L = 50``; in colour the square is
red half of the time and blue the other half. The two colours have the same L, so the network's
input carries no clue: an MSE model must paint their mean (lesson 03), a classifier can put its
probability on both and pick one (lesson 04).

Examples
--------
>>> from colorlab.data.toy import TOY_BLUE, TOY_RED, toy_squares
>>> lab, is_red = toy_squares(8, seed=0)
>>> lab.shape, is_red.dtype
(torch.Size([8, 3, 16, 16]), torch.bool)
>>> square = lab[:, 0] == 50.0
>>> sorted({tuple(ab.tolist()) for ab in lab[:, 1:].permute(0, 2, 3, 1)[square]})
[(15.0, -60.0), (65.0, 50.0)]
"""
from __future__ import annotations

import torch

__all__ = ["TOY_RED", "TOY_BLUE", "TOY_L", "toy_squares"]

#: The two colours of the square (ab at L = 50; both inside the sRGB gamut).
TOY_RED, TOY_BLUE = torch.tensor([65.0, 50.0]), torch.tensor([15.0, -60.0])
#: Lightness of the square and of the background.
TOY_L, TOY_BACKGROUND_L = 50.0, 85.0


def toy_squares(n: int, size: int = 16, side: int = 6, seed: int = 0, p_red: float = 0.5):
    """``n`` Lab images with one red-or-blue square each, and which ones are red.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Image side in pixels.
    side : int
        Square side in pixels (placed uniformly at random, fully inside the image).
    seed : int
        Seed of the placement and of the colour draw (same seed, same images).
    p_red : float
        Probability that a square is red.

    Returns
    -------
    lab : torch.Tensor (n, 3, size, size)
        L 85 background with ab 0; the square at L 50 with :data:`TOY_RED` or :data:`TOY_BLUE`.
    is_red : torch.Tensor (n,) bool
    """
    if not 0 < side <= size:
        raise ValueError(f"toy_squares: need 0 < side <= size, got side={side}, size={size}")
    g = torch.Generator().manual_seed(seed)
    lab = torch.zeros(n, 3, size, size)
    lab[:, 0] = TOY_BACKGROUND_L
    is_red = torch.rand(n, generator=g) < p_red
    corners = torch.randint(0, size - side + 1, (n, 2), generator=g).tolist()
    for i, (y, x) in enumerate(corners):
        lab[i, 0, y:y + side, x:x + side] = TOY_L
        lab[i, 1:, y:y + side, x:x + side] = (TOY_RED if is_red[i] else TOY_BLUE)[:, None, None]
    return lab, is_red
