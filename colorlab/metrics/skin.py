"""Skin on aligned face photos: is the face coloured like skin, or orange, red or magenta?

Portraits are the photos people colour most (old family pictures), and a face painted orange is the
first thing a person sees. On *aligned* face photos (a face crop, the face in the middle) the face
fills a fixed centre box, rows 30-75 % and columns 25-75 % of the photo (:func:`face_box`). Per
photo, the mean ab in that box, predicted against true, gives:

- ``skin_cast``: ``|mean pred ab - mean true ab|``, averaged over photos (a grey output scores the
  mean chroma of the skin, about 25 on UTKFace-like crops; a good model at most half of that);
- ``a_shift``, ``b_shift``: the mean signed shift of a* (> 0 redder) and b* (> 0 yellower);
- ``skin_chroma_ratio``: the chroma of each photo's box-mean ab, predicted, summed over photos,
  over the same for the truth: 1 = as saturated as the real skin (below 1 washed out, above
  orange);
- ``magenta_share``: the share of faces pushed more than 25 degrees of hue towards magenta (hue
  angle ``atan2(b, a)`` falling) with an a* shift above 8: the faces that look red to purple.

Examples
--------
>>> import torch
>>> true = torch.zeros(2, 2, 40, 40); true[:, 0], true[:, 1] = 15.0, 20.0   # skin: a 15, b 20
>>> grey = torch.zeros_like(true)
>>> s = skin_summary(skin_per_image(grey, true))
>>> round(s["skin_cast"], 1), round(s["a_shift"], 1), s["skin_chroma_ratio"]
(25.0, -15.0, 0.0)
"""
from __future__ import annotations

import math

import torch

__all__ = ["face_box", "skin_per_image", "skin_summary", "FACE_BOX", "MAGENTA_HUE_DEG",
           "MAGENTA_A_SHIFT"]

#: The face in an aligned crop: (top, bottom) and (left, right) as fractions of height and width.
FACE_BOX = ((0.30, 0.75), (0.25, 0.75))
#: A face counts as pushed to magenta when its hue falls by more than this many degrees ...
MAGENTA_HUE_DEG = 25.0
#: ... and its a* rises by more than this (Lab units).
MAGENTA_A_SHIFT = 8.0


def face_box(height: int, width: int) -> tuple[slice, slice]:
    """The rows and columns of :data:`FACE_BOX` in an ``height`` x ``width`` photo.

    Examples
    --------
    >>> face_box(100, 80)
    (slice(30, 75, None), slice(20, 60, None))
    """
    (top, bottom), (left, right) = FACE_BOX
    rows = slice(int(round(top * height)), max(int(round(bottom * height)), 1))
    cols = slice(int(round(left * width)), max(int(round(right * width)), 1))
    return rows, cols


def _box_means(ab: torch.Tensor) -> torch.Tensor:
    rows, cols = face_box(*ab.shape[-2:])
    return ab[..., rows, cols].double().mean((-2, -1))                 # (B, 2)


def skin_per_image(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> dict:
    """Per photo, the mean ab of the face box, predicted against true.

    Parameters
    ----------
    pred_ab, true_ab : torch.Tensor of shape (B, 2, H, W)
        ab in Lab units, the same shape.

    Returns
    -------
    dict of str -> torch.Tensor of shape (B,), float64
        ``pred_a``, ``pred_b``, ``true_a``, ``true_b`` (box means); concatenate the dicts of
        several batches (or photos of different sizes) before :func:`skin_summary`.
    """
    if pred_ab.ndim != 4 or pred_ab.shape[1] != 2 or pred_ab.shape != true_ab.shape:
        raise ValueError(f"skin: expected two ab tensors of one shape (B, 2, H, W), got "
                         f"{tuple(pred_ab.shape)} and {tuple(true_ab.shape)}")
    p, t = _box_means(pred_ab.detach()), _box_means(true_ab.detach().to(pred_ab.device))
    return {"pred_a": p[:, 0].cpu(), "pred_b": p[:, 1].cpu(),
            "true_a": t[:, 0].cpu(), "true_b": t[:, 1].cpu()}


def skin_summary(per_image: dict) -> dict:
    """The skin numbers over photos from :func:`skin_per_image`'s box means.

    Parameters
    ----------
    per_image : dict
        ``pred_a``, ``pred_b``, ``true_a``, ``true_b``: sequences or (N,) tensors, one value per
        photo.

    Returns
    -------
    dict
        ``skin_cast`` (Lab units, >= 0), ``a_shift`` and ``b_shift`` (signed Lab units),
        ``skin_chroma_ratio`` (1 = as saturated as the truth), ``magenta_share`` (0-1), ``n_faces``.
    """
    pa, pb, ta, tb = (torch.as_tensor(per_image[k], dtype=torch.float64).reshape(-1)
                      for k in ("pred_a", "pred_b", "true_a", "true_b"))
    if len(pa) == 0:
        raise ValueError("skin: no photos to summarise")
    da, db = pa - ta, pb - tb
    true_chroma = torch.hypot(ta, tb)
    hue_shift = torch.rad2deg(torch.atan2(pb, pa) - torch.atan2(tb, ta))
    hue_shift = (hue_shift + 180.0) % 360.0 - 180.0                     # into [-180, 180)
    magenta = (hue_shift < -MAGENTA_HUE_DEG) & (da > MAGENTA_A_SHIFT)
    ratio = float(torch.hypot(pa, pb).sum() / true_chroma.sum()) if true_chroma.sum() > 0 \
        else math.nan
    return {"skin_cast": float(torch.hypot(da, db).mean()), "a_shift": float(da.mean()),
            "b_shift": float(db.mean()), "skin_chroma_ratio": ratio,
            "magenta_share": float(magenta.double().mean()), "n_faces": len(pa)}
