"""Score a model on a set of images: :func:`evaluate` returns every metric of
:mod:`colorlab.metrics`.

The model is run as :func:`colorlab.pipeline.colorize_image` runs it (it only needs a
``.colorize(L)`` method, or to be a callable), and every image is scored with the per-image
forms of the metrics (``reduction="none"``), pooled over all the images. Two ways to score:

- square (default): every image is prepared as the datasets are (short side to ``size``, centre
  crop, :func:`colorlab.data.prepare_image`) and the images are scored in batches;
- whole photos (``whole=True``): every photo is resized *whole* so that its short side is
  ``size`` (aspect kept, nothing cropped) and coloured exactly as
  :func:`colorlab.pipeline.colorize_image` colours it; photos are scored one at a time.

In both, the model runs at its *working size* (``model.config["image_size"]``, the size it was
trained at) unless ``predict_size`` says otherwise: on the L of the image resized whole to that
size as :func:`colorlab.pipeline.predict_at_size` resizes it (the same input
:func:`~colorlab.pipeline.colorize_image` gives it), and its ab is upsampled to the scored size.

Examples
--------
>>> import numpy as np, torch
>>> from colorlab.metrics import evaluate
>>> grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])
>>> photos = [np.random.default_rng(i).integers(0, 256, (40 + 20 * i, 50, 3), dtype=np.uint8)
...           for i in range(2)]
>>> r = evaluate(grey, photos, size=24, whole=True)
>>> r["n_images"], r["spikes"], r["chroma_ratio"]
(2, 0.0, 0.0)
"""
from __future__ import annotations

import math
import os

import torch

from colorlab._shared import positive_int
from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab
from colorlab.data import prepare_image
from colorlab.io import read_image
from colorlab.metrics.color_shift import chroma_spikes, color_cast, tint
from colorlab.metrics.scores import auc_ab, colorfulness, psnr, smooth_colorfulness, ssim
from colorlab.pipeline import as_rgb_tensor, predict_at_size, resize_whole
from colorlab.quantize import ABQuantizer

__all__ = ["evaluate", "score_table", "verdict", "working_size"]

MAX_THRESHOLD = 150   # AuC thresholds 0..150 (Zhang et al.)


def _positive_int(value, name: str) -> int:
    return positive_int(value, name, "evaluate: ")


def working_size(model, predict_size=None):
    """The size ``model`` predicts at: ``predict_size`` if given, else its config's ``image_size``.

    ``None`` means "at the scored size itself" (a callable, or a model with no ``image_size``).

    Examples
    --------
    >>> import colorlab.models as cm
    >>> (working_size(cm.build("mse", image_size=32)),
    ...  working_size(cm.build("mse", image_size=32), 64))
    (32, 64)
    """
    if predict_size is not None:
        return _positive_int(predict_size, "predict_size")
    config = getattr(model, "config", None)
    size = config.get("image_size") if isinstance(config, dict) else None
    return _positive_int(size, "config image_size") if size else None


def _square_images(images, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, 3, S, S) Lab, and the RGB it was made from when there is one, from a LabDataset, a
    list of HxWx3 arrays or a dict of them."""
    if hasattr(images, "lab"):
        return images.lab, None
    if isinstance(images, dict):
        images = list(images.values())
    if torch.is_tensor(images) and images.ndim == 4 and images.shape[1] == 3:
        return images.float(), None                        # already Lab (N, 3, S, S)
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError("evaluate: images must be a LabDataset, a non-empty list of HxWx3 arrays, "
                        f"or a dict from sample_photos(); got {type(images).__name__}")
    rgb = torch.stack([prepare_image(im, size) for im in images])  # the one way images are prepared
    return rgb_to_lab(rgb), rgb


def _runner(model):
    """L -> ab on the CPU, the model run on the device of its parameters."""
    fn = model.colorize if hasattr(model, "colorize") else model
    device = None
    if isinstance(model, torch.nn.Module):
        p = next(iter(model.parameters()), None)
        device = p.device if p is not None else None

    def run(L):
        return fn(L if device is None else L.to(device)).detach().float().cpu()
    return run


class _Scores:
    """Running sums of every score, fed one batch (or one photo) at a time: memory stays bounded."""

    def __init__(self, quantizer, prior, margin, keep_bins=False):
        self.quantizer, self.margin, self.keep_bins = quantizer, margin, keep_bins
        self.weights = (None if prior is None
                        else quantizer.rebalance_weights(torch.as_tensor(prior), lam=0.0))
        self.per_image = {k: [] for k in ("psnr", "ssim", "cf", "cf_gt", "cfs", "cfs_gt", "cast",
                                          "spikes", "shift")}
        # AuC hits per true bin ...
        self.bin_hits = torch.zeros(quantizer.Q, dtype=torch.float64)
        # ... and pixels per true bin
        self.bin_count = torch.zeros(quantizer.Q, dtype=torch.float64)
        self.chroma = [0.0, 0.0]
        self.per_image_bins = {"hits": [], "count": [], "chroma_p": [], "chroma_t": []}

    def add(self, L, pred_ab, true_ab):
        """Score one batch: L (B, 1, H, W), pred_ab and true_ab (B, 2, H, W)."""
        L, pred_ab, true_ab = L.double(), pred_ab.double(), true_ab.double()
        pred_rgb = lab_to_rgb(merge_lab(L, pred_ab))
        true_rgb = lab_to_rgb(merge_lab(L, true_ab))
        for key, value in (("psnr", psnr(pred_rgb, true_rgb, reduction="none")),
                           ("ssim", ssim(pred_rgb, true_rgb, reduction="none")),
                           ("cf", colorfulness(pred_rgb, reduction="none")),
                           ("cf_gt", colorfulness(true_rgb, reduction="none")),
                           ("cfs", smooth_colorfulness(pred_rgb, reduction="none")),
                           ("cfs_gt", smooth_colorfulness(true_rgb, reduction="none")),
                           ("cast", color_cast(pred_ab, true_ab, reduction="none")),
                           ("spikes", chroma_spikes(pred_ab, true_ab, self.margin,
                                                    reduction="none")),
                           ("shift", tint(pred_ab, true_ab, reduction="none"))):   # (B, 2)
            self.per_image[key].append(value)
        bins = self.quantizer.hard_encode(true_ab.float()).reshape(-1)
        hits = auc_ab(pred_ab, true_ab, MAX_THRESHOLD, reduction="none").reshape(-1)
        self.bin_hits += torch.bincount(bins, weights=hits, minlength=self.quantizer.Q)
        self.bin_count += torch.bincount(bins, minlength=self.quantizer.Q).double()
        chroma_p = pred_ab.pow(2).sum(1).sqrt().flatten(1).sum(1)      # (B,) per image
        chroma_t = true_ab.pow(2).sum(1).sqrt().flatten(1).sum(1)
        self.chroma[0] += float(chroma_p.sum())
        self.chroma[1] += float(chroma_t.sum())
        if self.keep_bins:   # per image, for the bootstrap
            B, Q = len(true_ab), self.quantizer.Q
            img = (bins.view(B, -1) + Q * torch.arange(B)[:, None]).reshape(-1)
            keep = self.per_image_bins
            keep["hits"].append(torch.bincount(img, weights=hits, minlength=B * Q).view(B, Q))
            keep["count"].append(torch.bincount(img, minlength=B * Q).view(B, Q).double())
            keep["chroma_p"].append(chroma_p)
            keep["chroma_t"].append(chroma_t)

    def _weights(self):
        # rebalanced AuC: every pixel weighted by w[its true bin], w = inverse smoothed prior of ALL
        # the images' true colours (the bin counts are that prior), so per-bin sums are enough
        w = self.weights
        if w is None:
            w = self.quantizer.rebalance_weights((self.bin_count / self.bin_count.sum()).float(),
                                                 lam=0.0)
        return w.double()

    def bootstrap(self, n: int, seed: int) -> dict:
        """95 % percentile intervals of every score over ``n`` resamples of the images."""
        w = self._weights()
        keep = {k: torch.cat(v) for k, v in self.per_image_bins.items()}
        per = {k: torch.cat(v) for k, v in self.per_image.items()}
        N = len(per["psnr"])
        idx = torch.randint(0, N, (n, N), generator=torch.Generator().manual_seed(seed))

        def mean(k):
            return per[k][idx].mean(1)

        def ratio(num, den):
            return num[idx].sum(1) / den[idx].sum(1)

        shift = per["shift"][idx].mean(1)                                    # (n, 2)
        draws = {"psnr": mean("psnr"), "ssim": mean("ssim"), "cast": mean("cast"),
                 "spikes": mean("spikes"),
                 "auc": ratio(keep["hits"].sum(1), keep["count"].sum(1)),
                 "auc_rebalanced": ratio(keep["hits"] @ w, keep["count"] @ w),
                 "colorfulness": mean("cf"),
                 "colorfulness_ratio": ratio(per["cf"], per["cf_gt"]),
                 "smooth_colorfulness_ratio": ratio(per["cfs"], per["cfs_gt"]),
                 "chroma_ratio": ratio(keep["chroma_p"], keep["chroma_t"]),
                 "tint": shift.pow(2).sum(1).sqrt()}
        q = torch.tensor([0.025, 0.975], dtype=torch.float64)
        return {k: tuple(float(x) for x in torch.quantile(v.double(), q)) for k, v in draws.items()}

    def result(self) -> dict:
        w = self._weights()
        mean = {k: torch.cat(v) for k, v in self.per_image.items()}
        avg = {k: float(v.mean()) for k, v in mean.items() if v.ndim == 1}
        return {
            "psnr": avg["psnr"], "ssim": avg["ssim"],
            "auc": float(self.bin_hits.sum() / self.bin_count.sum()),
            "auc_rebalanced": float((w * self.bin_hits).sum() / (w * self.bin_count).sum()),
            "colorfulness": avg["cf"], "colorfulness_gt": avg["cf_gt"],
            "colorfulness_ratio": avg["cf"] / avg["cf_gt"] if avg["cf_gt"] > 0 else math.nan,
            "smooth_colorfulness_ratio": (avg["cfs"] / avg["cfs_gt"] if avg["cfs_gt"] > 0
                                          else math.nan),
            "chroma_ratio": self.chroma[0] / self.chroma[1] if self.chroma[1] > 0 else math.nan,
            "cast": avg["cast"], "tint": float(mean["shift"].mean(0).pow(2).sum().sqrt()),
            "spikes": avg["spikes"], "n_images": int(len(mean["psnr"])),
        }


def _photos(images):
    """Iterate the photos of ``images`` (dict values, or a list/iterable of arrays or file
    paths)."""
    if hasattr(images, "lab") or torch.is_tensor(images):
        raise TypeError("evaluate(whole=True): give the photos themselves (a list or dict of "
                        "HxWx3 arrays, or file paths), not a prepared dataset of square images")
    if isinstance(images, dict):
        images = images.values()
    if isinstance(images, (str, os.PathLike)) or not hasattr(images, "__iter__"):
        raise TypeError("evaluate(whole=True): images must be a list or dict of HxWx3 arrays or "
                        f"image file paths, got {type(images).__name__}")
    for item in images:
        yield read_image(item) if isinstance(item, (str, os.PathLike)) else item


def _score_whole(scores, run, images, size, psize):
    """Each photo resized whole (short side ``size``) and coloured as ``colorize_image`` does."""
    for photo in _photos(images):
        rgb = as_rgb_tensor(photo)                           # (1, 3, H, W) float in [0, 1]
        lab = rgb_to_lab(resize_whole(rgb, size))            # the scored photo
        L = lab[:, :1]
        # the model's input made from the photo itself, at the working size
        pred_ab = run(L) if psize is None else predict_at_size(run, L, psize, photo=rgb)
        scores.add(L, pred_ab, lab[:, 1:])


def _score_square(scores, run, images, size, psize, batch_size):
    """The prepared square images in batches, the model fed as ``colorize_image`` feeds it."""
    lab, rgb = _square_images(images, size)
    lab = lab.detach().cpu().float()
    for s in range(0, len(lab), batch_size):
        batch = lab[s:s + batch_size]
        L, true_ab = batch[:, :1], batch[:, 1:]
        if psize is None:
            pred_ab = run(L)
        else:           # resized from the RGB crops (a dataset's: back from its Lab)
            photo = lab_to_rgb(batch) if rgb is None else rgb[s:s + batch_size]
            pred_ab = predict_at_size(run, L, psize, photo=photo)
        scores.add(L, pred_ab, true_ab)


def evaluate(model, images, size: int = 64, batch_size: int = 32, quantizer=None, prior=None,
             predict_size: int | None = None, whole: bool = False,
             spike_margin: float = 40.0, bootstrap: int = 0, seed: int = 0) -> dict:
    """Colourise ``images`` with ``model`` from their L and score the result against the truth.

    Parameters
    ----------
    model : object with ``.colorize(L)`` or a callable
        Maps L ``(B, 1, H, W)`` in [0, 100] to ab ``(B, 2, H, W)``. An ``nn.Module`` is run in
        eval mode (its mode is restored afterwards) on the device of its parameters.
    images : LabDataset, (N, 3, S, S) Lab tensor, list or dict of HxWx3 arrays, or file paths
        Square mode: arrays are prepared with :func:`colorlab.data.prepare_image` (short side to
        ``size``, centre crop); a dataset's own ``.lab`` (N, 3, S, S) is used as it is.
        ``whole=True``: a list, dict or other iterable of photos (uint8 or float arrays of any
        sizes and aspect ratios, or image file paths read with :func:`colorlab.io.read_image`).
    size : int
        Square mode: side of the prepared images. ``whole=True``: short side the photos are
        scored at. Positive.
    batch_size : int
        Images per forward pass (square mode; whole photos go one at a time). Positive.
    quantizer : ABQuantizer, optional
        Bins for the rebalanced AuC (default: :meth:`ABQuantizer.from_gamut`).
    prior : torch.Tensor (Q,), optional
        Prior for the rebalanced AuC; by default the prior of all the evaluated true colours.
    predict_size : int, optional
        The working size: the model runs on the L of the image resized whole so that its short
        side is this (from the RGB photo, bicubic, as ``colorize_image`` resizes it:
        :func:`colorlab.pipeline.predict_at_size`), and its ab is upsampled (bilinear) to the
        scored size. Default: the model's ``config["image_size"]`` when it has one, else the
        scored size itself.
    whole : bool
        Score whole photos (aspect kept, nothing cropped) instead of square crops.
    spike_margin : float
        Chroma excess that counts as a spike (see :func:`colorlab.metrics.chroma_spikes`).
    bootstrap : int
        When positive, resample the images this many times (with replacement, ``seed``) and add
        ``ci95``: ``{score: (low, high)}``, the 2.5 and 97.5 percentiles of each score (the
        rebalancing weights held fixed). 1000 is usual; 0 (default) skips it.
    seed : int
        Seed of the bootstrap resamples.

    Returns
    -------
    dict
        ``psnr`` (dB), ``ssim``, ``colorfulness`` (of the predictions), ``colorfulness_gt``,
        ``cast`` (Lab units): means over images; ``auc``, ``auc_rebalanced`` (in [0, 1]),
        ``chroma_ratio``: pooled over all pixels; ``colorfulness_ratio``;
        ``smooth_colorfulness_ratio`` (the same with both ab blurred by
        :data:`colorlab.metrics.SPECKLE_SIGMA` px: speckle cannot raise it); ``tint`` (Lab units);
        ``spikes`` (fraction of images with chroma spikes); ``n_images``.

    Raises
    ------
    ValueError
        ``size``, ``batch_size`` or ``predict_size`` is not a positive integer, or no images.
    TypeError
        ``images`` is none of the accepted kinds.
    colorlab.io.ImageReadError
        ``whole=True`` and a file cannot be read (the message names it).

    Examples
    --------
    >>> import torch
    >>> lab = torch.cat([torch.full((3, 1, 16, 16), 60.0), torch.randn(3, 2, 16, 16) * 20], 1)
    >>> grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])
    >>> r = evaluate(grey, lab)
    >>> r["n_images"], r["chroma_ratio"], round(r["colorfulness"], 1), r["spikes"]
    (3, 0.0, 0.0, 0.0)
    """
    size, batch_size = _positive_int(size, "size"), _positive_int(batch_size, "batch_size")
    psize = working_size(model, predict_size)
    if quantizer is None:
        quantizer = ABQuantizer.from_gamut()
    bootstrap = int(bootstrap)
    acc = _Scores(quantizer.cpu(), prior, spike_margin, keep_bins=bootstrap > 0)
    run = _runner(model)
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            if whole:
                _score_whole(acc, run, images, size, psize)
            else:
                _score_square(acc, run, images, size, psize, batch_size)
    finally:
        if was_training:
            model.train()
    if not acc.per_image["psnr"]:
        raise ValueError("evaluate: no images to evaluate")
    result = acc.result()
    if bootstrap > 0:
        result["ci95"] = acc.bootstrap(bootstrap, seed)
    return result


def score_table(table: dict, columns, width: int = 15, name_width: int = 12) -> str:
    """Rows of scores with their 95 % intervals on the line below, as text.

    Parameters
    ----------
    table : dict
        ``{row name: evaluate(..., bootstrap=N) result}``.
    columns : list of (key, heading, scale, decimals)
        E.g. ``("auc", "AuC (%)", 100, 1)``: the score ``key`` times ``scale``.
    width, name_width : int
        Column widths in characters.

    Examples
    --------
    >>> r = {"psnr": 23.456, "ci95": {"psnr": (23.1, 23.8)}}
    >>> print(score_table({"mse": r}, [("psnr", "PSNR (dB)", 1, 2)], width=14, name_width=4))
             PSNR (dB)
     mse         23.46
         [23.10,23.80]
    """
    def interval(r, key, scale, decimals):
        lo, hi = r["ci95"][key]
        return f"[{scale * lo:.{decimals}f},{scale * hi:.{decimals}f}]"

    lines = [f"{'':>{name_width}}" + "".join(f"{head:>{width}}" for _, head, _, _ in columns)]
    for name, r in table.items():
        lines.append(f"{name:>{name_width}}" + "".join(f"{s * r[k]:>{width}.{d}f}"
                                                        for k, _, s, d in columns))
        lines.append(f"{'':>{name_width}}" + "".join(f"{interval(r, k, s, d):>{width}}"
                                                     for k, _, s, d in columns))
    return "\n".join(lines)


def verdict(a: dict, b: dict, key: str) -> str:
    """``">"`` or ``"<"`` when the 95 % intervals of results ``a`` and ``b`` on ``key`` do not
    overlap, else ``"within noise of"``.

    Examples
    --------
    >>> verdict({"ci95": {"psnr": (24, 25)}}, {"ci95": {"psnr": (22, 23)}}, "psnr")
    '>'
    >>> verdict({"ci95": {"psnr": (22, 24)}}, {"ci95": {"psnr": (23, 25)}}, "psnr")
    'within noise of'
    """
    (lo_a, hi_a), (lo_b, hi_b) = a["ci95"][key], b["ci95"][key]
    return ">" if lo_a > hi_b else "<" if hi_a < lo_b else "within noise of"
