"""Figures: colourisation grids, contact sheets of whole photos, ab histograms, bins,
training curves.

Every function builds and returns a :class:`matplotlib.figure.Figure` (100 dpi) without touching
pyplot's global state, so it works under any backend (Agg in tests, inline in Jupyter, where the
returned figure displays itself).

Examples
--------
>>> import torch
>>> from colorlab import viz
>>> from colorlab.quantize import ABQuantizer
>>> fig = viz.plot_bins(ABQuantizer.from_gamut())
>>> len(fig.axes)
1
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from colorlab._shared import positive_int
from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab
from colorlab.pipeline import as_rgb_tensor, colorize_image, gray_image, resize_whole

__all__ = ["colorization_grid", "contact_sheet", "gamut_image", "ab_histogram", "plot_bins",
           "training_curves"]

DPI = 100
AB_RANGE = 115.0


def _rgb_hwc(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """(1, H, W) L and (2, H, W) ab -> (H, W, 3) RGB numpy in [0, 1]."""
    return lab_to_rgb(merge_lab(L[None].detach().float().cpu(),
                                ab[None].detach().float().cpu()))[0] \
        .permute(1, 2, 0).numpy()


def colorization_grid(L: torch.Tensor, preds, truth: torch.Tensor | None = None,
                      n: int | None = None, size: float = 2.0) -> Figure:
    """One row per image: grey input, each prediction, and the ground truth.

    Parameters
    ----------
    L : torch.Tensor (B, 1, H, W)
        Lightness in [0, 100].
    preds : torch.Tensor (B, 2, H, W) or dict[str, torch.Tensor (B, 2, H, W)]
        Predicted ab, one column per entry (a bare tensor is titled "prediction").
    truth : torch.Tensor (B, 2, H, W), optional
        Ground-truth ab: last column, "truth".
    n : int, optional
        Show only the first n images.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        ``B x (2 + len(preds))`` axes (one column fewer without truth), titles on the first row.

    Examples
    --------
    >>> import torch
    >>> L = torch.full((2, 1, 8, 8), 50.0)
    >>> fig = colorization_grid(L, {"mse": torch.zeros(2, 2, 8, 8)},
    ...                         truth=torch.randn(2, 2, 8, 8) * 20)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['grey input', 'mse', 'truth']
    """
    if isinstance(preds, torch.Tensor):
        preds = {"prediction": preds}
    B = L.shape[0] if n is None else min(n, L.shape[0])
    cols = ([("grey input", None)] + list(preds.items())
            + ([("truth", truth)] if truth is not None else []))
    fig = Figure(figsize=(size * len(cols), size * B), dpi=DPI)
    axes = fig.subplots(B, len(cols), squeeze=False)
    for i in range(B):
        for j, (title, ab) in enumerate(cols):
            ax = axes[i, j]
            ab_i = torch.zeros(2, *L.shape[2:]) if ab is None else ab[i]
            ax.imshow(_rgb_hwc(L[i], ab_i), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _short_label(text: str, max_chars: int) -> str:
    """``text`` shortened in the middle with an ellipsis to at most ``max_chars`` characters."""
    if len(text) <= max_chars:
        return text
    keep = max_chars - 1
    return text[:(keep + 1) // 2] + "\u2026" + text[len(text) - keep // 2:]


def contact_sheet(photos: dict, models: dict, size: int = 256,
                  predict_size: int | None = None) -> Figure:
    """One row per photo: the original, its grey input, then each model's colours,
    at a readable size.

    Every photo is shown whole (aspect kept, nothing cropped), resized so that its short side is
    ``size`` pixels (bicubic, antialiased) and each model colours that grey photo with
    :func:`colorlab.pipeline.colorize_image` (ab predicted at the model's working size,
    upsampled, merged with the tile's own L). Tiles are drawn at one figure pixel per image pixel.

    Parameters
    ----------
    photos : dict[str, numpy.ndarray (H, W, 3) uint8]
        ``{name: photo}``; the names (file names) label the rows.
    models : dict[str, ColorizationModel]
        ``{title: model}``; the titles head the columns.
    size : int
        Short side of every tile, in pixels (a long thin strip is capped at 4x as long).
    predict_size : int, optional
        The models' working size; default: each model's own (``config["image_size"]``).

    Returns
    -------
    matplotlib.figure.Figure
        ``len(photos) x (2 + len(models))`` axes; columns "original", "grey input", then the models.

    Examples
    --------
    >>> import numpy as np, colorlab.models as cm
    >>> photos = {"wide.jpg": np.zeros((30, 60, 3), np.uint8),
    ...           "tall.jpg": np.zeros((50, 25, 3), np.uint8)}
    >>> fig = contact_sheet(photos, {"mse": cm.build("mse", width=0.25)}, size=40)
    >>> [ax.get_title() for ax in fig.axes[:3]], fig.axes[3].get_ylabel()
    (['original', 'grey input', 'mse'], 'tall.jpg')
    """
    if not photos or not models:
        raise ValueError("contact_sheet: give at least one photo and one model")
    size = positive_int(size, "size", "contact_sheet: ")
    rows = []
    for name, photo in photos.items():
        tile = resize_whole(as_rgb_tensor(photo), size)
        tile = (tile[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        coloured = [colorize_image(m, tile, size=predict_size) for m in models.values()]
        rows.append((str(name), [tile, gray_image(tile)] + coloured))
    titles = ["original", "grey input"] + [str(t) for t in models]
    pad, left, top, bottom = 8, 30, 30, 6                  # pixels (1 px = 1/DPI inch)
    col_w = max(tiles[0].shape[1] for _, tiles in rows)
    width = left + len(titles) * col_w + (len(titles) - 1) * pad + pad
    height = top + sum(tiles[0].shape[0] for _, tiles in rows) + (len(rows) - 1) * pad + bottom
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    y = top
    for name, tiles in rows:
        h, w = tiles[0].shape[:2]
        for j, tile in enumerate(tiles):
            x = left + j * (col_w + pad) + (col_w - w) / 2
            ax = fig.add_axes((x / width, 1 - (y + h) / height, w / width, h / height))
            ax.imshow(tile, interpolation="none")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if y == top:
                ax.set_title(_short_label(titles[j], max(8, col_w // 8)), fontsize=12)
            if j == 0:
                ax.set_ylabel(_short_label(name, max(8, h // 8)), fontsize=10)
        y += h + pad
    return fig


def gamut_image(L: float = 50.0, resolution: int = 256,
                ab_range: float = AB_RANGE) -> np.ndarray:
    """The ab plane at lightness ``L`` as an RGBA image, transparent where sRGB cannot show the
    colour.

    Parameters
    ----------
    L : float in [0, 100]
    resolution : int
    ab_range : float
        The image spans a and b in ``[-ab_range, ab_range]``. Row 0 is b = -ab_range, so draw it
        with ``imshow(..., origin="lower", extent=(-r, r, -r, r))`` as :func:`ab_histogram` does.

    Returns
    -------
    numpy.ndarray (resolution, resolution, 4) float in [0, 1]; row index = b, column = a.

    Examples
    --------
    >>> img = gamut_image(50.0, resolution=32)
    >>> img.shape, float(img[16, 16, 3])          # the neutral centre is in gamut
    ((32, 32, 4), 1.0)
    """
    v = torch.linspace(-ab_range, ab_range, resolution, dtype=torch.float64)
    bb, aa = torch.meshgrid(v, v, indexing="ij")
    lab = torch.stack((torch.full_like(aa, float(L)), aa, bb))
    rgb = lab_to_rgb(lab)
    inside = ((rgb_to_lab(rgb) - lab).abs().amax(0) < 0.5).double()        # survives the round trip
    return torch.cat((rgb, inside[None]), 0).permute(1, 2, 0).numpy()


def ab_histogram(ab, L: float = 50.0, bins: int = 64, ax=None, title: str | None = None) -> Figure:
    """Log-scale 2-D histogram of ab values drawn over the sRGB gamut at lightness ``L``.

    Parameters
    ----------
    ab : torch.Tensor (B, 2, H, W) or (N, 2), or numpy array (N, 2)
    L : float
        Lightness of the background gamut slice.
    bins : int
        Histogram bins per axis over [-115, 115].
    ax : matplotlib Axes, optional
        Draw into it (its figure is returned) instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with the gamut image, a log-normalised histogram mesh, and a colour bar.

    Examples
    --------
    >>> import torch
    >>> fig = ab_histogram(torch.randn(2, 2, 16, 16) * 20)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('a', 'b')
    """
    ab = torch.as_tensor(np.asarray(ab) if not torch.is_tensor(ab) else ab).detach().float().cpu()
    pts = ab.permute(0, 2, 3, 1).reshape(-1, 2) if ab.ndim == 4 else ab.reshape(-1, 2)
    if ax is None:
        fig = Figure(figsize=(5, 4.2), dpi=DPI)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    r = AB_RANGE
    ax.imshow(gamut_image(L), extent=(-r, r, -r, r), origin="lower", alpha=0.6)
    edges = np.linspace(-r, r, bins + 1)
    h, _, _ = np.histogram2d(pts[:, 0].numpy(), pts[:, 1].numpy(), bins=(edges, edges))
    h = np.ma.masked_equal(h.T, 0)                  # rows = b
    if h.count():
        mesh = ax.pcolormesh(edges, edges, h, norm=LogNorm(vmin=1, vmax=max(h.max(), 1.5)),
                             cmap="magma", alpha=0.85)
        fig.colorbar(mesh, ax=ax, label="pixels (log scale)")
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    ax.set_aspect("equal")
    ax.set_title(title or f"ab histogram on the sRGB gamut at L={L:g}", fontsize=10)
    return fig


def plot_bins(quantizer, L: float = 50.0, ax=None, annotate: bool = False) -> Figure:
    """The quantizer's bin centres, each drawn in its colour at lightness ``L``, with the cell grid.

    Parameters
    ----------
    quantizer : ABQuantizer
    L : float
    ax : matplotlib Axes, optional
    annotate : bool
        Write each bin's index next to it.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a scatter of Q points and the title "Q = ... bins".

    Examples
    --------
    >>> from colorlab.quantize import ABQuantizer
    >>> fig = plot_bins(ABQuantizer.from_gamut())
    >>> fig.axes[0].get_title()
    'Q = 261 bins (grid 10), coloured at L=50'
    """
    c = quantizer.centers.detach().float().cpu()
    if ax is None:
        fig = Figure(figsize=(5, 5), dpi=DPI)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    lab = torch.cat((torch.full((len(c), 1), float(L)), c), 1).T[:, :, None]   # (3, Q, 1)
    colours = lab_to_rgb(lab)[:, :, 0].T.numpy()
    g = quantizer.grid
    ax.scatter(c[:, 0], c[:, 1], c=colours, s=(g * 1.6) ** 2 / 4, marker="s", edgecolors="k",
               linewidths=0.3)
    if annotate:
        for i, (a, b) in enumerate(c.tolist()):
            ax.annotate(str(i), (a, b), fontsize=5, ha="center", va="center")
    r = AB_RANGE + g
    ticks = np.arange(-np.ceil(r / g) * g + g / 2, r, g)
    ax.set_xticks(ticks, minor=True)
    ax.set_yticks(ticks, minor=True)
    ax.grid(which="minor", linewidth=0.3, color="0.8")
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    ax.set_title(f"Q = {quantizer.Q} bins (grid {g:g}), coloured at L={L:g}", fontsize=10)
    return fig


def training_curves(history, keys=None, x: str = "step", log_y: bool = False) -> Figure:
    """One panel per logged quantity (loss, ...) against the step.

    Parameters
    ----------
    history : list of dict or dict of lists (or an object with ``.records`` / ``.to_dict()``)
        E.g. a :class:`colorlab.train.History`, ``[{"step": 1, "loss": 2.3}, ...]`` or
        ``{"step": [1, 2], "loss": [2.3, 2.1]}``. Entries missing a key (or None) are skipped for
        that key.
    keys : list of str, optional
        Which quantities to draw (default: every numeric key except ``x``); those never logged
        are left out.
    x : str
        The x-axis key; the record index when absent.
    log_y : bool

    Returns
    -------
    matplotlib.figure.Figure
        One axes per key, titled with the key.

    Examples
    --------
    >>> fig = training_curves([{"step": i, "loss": 1 / (i + 1), "lr": 1e-3} for i in range(10)])
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'lr']
    >>> fig = training_curves([{"step": 1, "loss": 0.5}, {"step": 2, "val_psnr": 20.0}],
    ...                       keys=("loss", "d_loss", "val_psnr"))
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'val_psnr']
    """
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    elif hasattr(history, "records"):
        history = history.records
    if isinstance(history, dict):
        n = max((len(v) for v in history.values()), default=0)
        records = [{k: v[i] for k, v in history.items() if i < len(v)} for i in range(n)]
    else:
        records = [dict(r) for r in history]
    records = [{k: v for k, v in r.items() if v is not None} for r in records]
    if keys is None:
        keys = []
        for r in records:
            keys += [k for k, v in r.items() if k != x and k not in keys
                     and isinstance(v, (int, float)) and not isinstance(v, bool)]
    keys = [k for k in keys if any(k in r for r in records)]
    if not keys:
        raise ValueError("training_curves: history has no numeric quantity to plot")
    fig = Figure(figsize=(4 * len(keys), 3), dpi=DPI)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        pts = [(r.get(x, i), r[key]) for i, r in enumerate(records) if key in r]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, linewidth=1.2)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(x if records and x in records[0] else "record")
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
