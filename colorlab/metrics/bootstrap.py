"""Bootstrap intervals over photos, and the paired comparison of two models on the same photos.

Two models scored on the same photos are compared *paired*: resample the photos, and for each
resample take the mean of the per-photo differences. Photos that are hard for both (a dark
interior, a blue object) then cancel out, so a real difference shows with far fewer photos than
two separate intervals would need (two overlapping intervals can still hide a clear paired
difference).

Examples
--------
>>> import torch
>>> a = torch.tensor([20.0, 25.0, 30.0, 22.0])
>>> r = paired_bootstrap(a + 0.5, a, n=200)
>>> r["mean_difference"], r["ci95"], r["share_better"]
(0.5, (0.5, 0.5), 1.0)
"""
from __future__ import annotations

import torch

__all__ = ["bootstrap_interval", "paired_bootstrap"]


def _resamples(n_items: int, n: int, seed: int) -> torch.Tensor:
    if n_items < 1:
        raise ValueError("bootstrap: no values")
    return torch.randint(0, n_items, (int(n), n_items),
                         generator=torch.Generator().manual_seed(int(seed)))


def bootstrap_interval(values, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values`` over ``n`` resamples.

    Parameters
    ----------
    values : sequence of float or torch.Tensor of shape (N,)
        One value per photo.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> bootstrap_interval([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    v = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    means = v[_resamples(len(v), n, seed)].mean(1)
    lo, hi = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(lo), float(hi)


def paired_bootstrap(a, b, n: int = 1000, seed: int = 0) -> dict:
    """Mean of the per-photo differences ``a - b``, with its 95 % interval from resampling the
    photos (the same photos for both).

    Parameters
    ----------
    a, b : sequence of float or torch.Tensor of shape (N,)
        Per-photo scores of two models (or settings) on the same N photos, in the same order.
    n, seed : int
        Resamples and their seed.

    Returns
    -------
    dict
        ``mean_difference``, ``ci95`` (lo, hi), ``share_better`` (share of resamples whose mean
        difference is > 0) and ``verdict``: ``"better"`` or ``"worse"`` when the interval excludes
        0, else ``"within noise"``.
    """
    a = torch.as_tensor(a, dtype=torch.float64).reshape(-1)
    b = torch.as_tensor(b, dtype=torch.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: {len(a)} and {len(b)} scores; pair the same photos")
    d = a - b
    means = d[_resamples(len(d), n, seed)].mean(1)
    lo, hi = (float(x) for x in torch.quantile(means, torch.tensor([0.025, 0.975],
                                                                   dtype=torch.float64)))
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "within noise"
    return {"mean_difference": float(d.mean()), "ci95": (lo, hi),
            "share_better": float((means > 0).double().mean()), "verdict": verdict}
