"""How much do a few clicks buy, and where should a person click?

The measurements of lesson 10 and the hint model's card, on whole photos coloured the way a user
colours them (:func:`colorlab.pipeline.colorize_image` with ``hints=``):

- :func:`random_points` and :func:`uncertain_points` choose where to click: anywhere, or where the
  class model is least sure of the colour (the highest entropy of its predicted distribution,
  spread out so that two clicks never land on the same spot);
- :func:`true_colour_hints` colours each click with the photo's own colour there (the mean RGB of
  a 3 x 3 patch), as a person who knows the answer would pick it;
- :func:`hint_curve` scores every photo with 0, 1, 2, 5, ... hints (the first n of one list of
  points per photo, so each photo's curve adds hints one by one), giving per-photo PSNR to average
  and to compare paired (:func:`colorlab.metrics.bootstrap.paired_bootstrap`).

Examples
--------
>>> import torch
>>> pts = random_points(40, 60, 3, torch.Generator().manual_seed(0))
>>> len(pts), all(0 <= x < 60 and 0 <= y < 40 for x, y in pts)
(3, True)
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from colorlab.color import rgb_to_lab
from colorlab.metrics import psnr
from colorlab.models.layers import crop_to, pad_to_multiple
from colorlab.pipeline import as_rgb_tensor, resize_whole

__all__ = ["random_points", "uncertain_points", "true_colour_hints", "hint_curve",
           "HINT_COUNTS", "entropy_map"]

#: the numbers of hints of Zhang et al.'s curve (their Figure 4)
HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)


def random_points(height: int, width: int, n: int, generator=None) -> list[tuple[int, int]]:
    """``n`` pixels ``(x, y)`` drawn uniformly (with replacement) from a ``height`` x ``width``
    photo."""
    ys = torch.randint(0, height, (n,), generator=generator).tolist()
    xs = torch.randint(0, width, (n,), generator=generator).tolist()
    return list(zip(xs, ys))


@torch.no_grad()
def entropy_map(class_model, photo, size: int | None = None) -> torch.Tensor:
    """``(H, W)`` entropy (nats) of the class model's predicted colour distribution at every pixel
    of ``photo``, predicted at the model's working size and upsampled bilinearly.

    Parameters
    ----------
    class_model : a classification ColorizationModel (e.g. ``pretrained("class")``)
    photo : (H, W, 3) or (H, W) array
    size : int, optional
        Working size (default: the model's ``image_size``).
    """
    rgb = as_rgb_tensor(photo)
    H, W = rgb.shape[-2:]
    size = size or class_model.config.get("image_size") or 128
    L = rgb_to_lab(resize_whole(rgb, size))[:, :1].to(class_model.device)
    padded, hw = pad_to_multiple(L, int(getattr(class_model, "multiple", 1) or 1))
    was_training = class_model.training
    class_model.eval()
    try:
        logits = class_model(padded).float()
    finally:
        class_model.train(was_training)
    p = torch.softmax(logits, dim=1)
    ent = -(p * torch.log(p.clamp(min=1e-12))).sum(1, keepdim=True)
    ent = crop_to(F.interpolate(ent, size=padded.shape[-2:], mode="bilinear",
                                align_corners=False), hw)
    return F.interpolate(ent, size=(H, W), mode="bilinear", align_corners=False)[0, 0].cpu()


def uncertain_points(class_model, photo, n: int, min_distance: float | None = None,
                     size: int | None = None) -> list[tuple[int, int]]:
    """The ``n`` pixels ``(x, y)`` of highest entropy (:func:`entropy_map`), greedily, each at
    least ``min_distance`` pixels from the ones before (default: a tenth of the short side)."""
    ent = entropy_map(class_model, photo, size).clone()
    H, W = ent.shape
    radius = min_distance if min_distance is not None else min(H, W) / 10
    yy = torch.arange(H)[:, None].float()
    xx = torch.arange(W)[None, :].float()
    points = []
    for _ in range(n):
        flat = int(torch.argmax(ent))
        y, x = divmod(flat, W)
        points.append((x, y))
        ent[(yy - y) ** 2 + (xx - x) ** 2 < radius ** 2] = -1.0
    return points


def true_colour_hints(photo, points, radius: int = 1) -> list:
    """Hints ``(x, y, (r, g, b))`` coloured with the photo's own mean colour over the
    ``(2 radius + 1)`` square around each point (floats in [0, 1])."""
    rgb = as_rgb_tensor(photo)[0]                               # (3, H, W)
    H, W = rgb.shape[-2:]
    hints = []
    for x, y in points:
        patch = rgb[:, max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1]
        hints.append((int(x), int(y), tuple(float(v) for v in patch.mean((1, 2)))))
    return hints


def hint_curve(model, photos, counts=HINT_COUNTS, strategy: str = "random", class_model=None,
               seed: int = 0) -> dict:
    """Per-photo PSNR of ``model`` given 0, 1, 2, ... true-colour hints.

    Parameters
    ----------
    model : the hint model (``colorize_image(photo, hints=...)``)
    photos : dict or list of (H, W, 3) uint8 arrays
    counts : sequence of int
        Numbers of hints; each photo's points for ``n`` are the first ``n`` of one list.
    strategy : {"random", "uncertain"}
        Where the clicks go (:func:`random_points`, :func:`uncertain_points` with
        ``class_model``).
    seed : int
        Seeds the random points (photo ``i`` uses ``seed + i``).

    Returns
    -------
    dict
        ``counts`` (list) and ``psnr``: a ``(len(counts), N)`` float64 tensor, one row per count.
    """
    if strategy not in ("random", "uncertain"):
        raise ValueError(f"strategy must be 'random' or 'uncertain', got {strategy!r}")
    if strategy == "uncertain" and class_model is None:
        raise ValueError("strategy='uncertain' needs class_model= (e.g. pretrained('class'))")
    photos = list(photos.values()) if isinstance(photos, dict) else list(photos)
    counts = [int(c) for c in counts]
    most = max(counts)
    scores = torch.empty(len(counts), len(photos), dtype=torch.float64)
    for i, photo in enumerate(photos):
        photo = np.asarray(photo)
        h, w = photo.shape[:2]
        if strategy == "random":
            points = random_points(h, w, most, torch.Generator().manual_seed(seed + i))
        else:
            points = uncertain_points(class_model, photo, most)
        hints = true_colour_hints(photo, points)
        truth = as_rgb_tensor(photo)
        for j, n in enumerate(counts):
            pred = as_rgb_tensor(model.colorize_image(photo, hints=hints[:n]))
            scores[j, i] = psnr(pred, truth)
    return {"counts": counts, "psnr": scores}
