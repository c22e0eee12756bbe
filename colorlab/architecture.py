"""Architecture diagrams drawn from the code: run a model once and plot what its layers produce.

:func:`layer_profile` runs one forward pass of a model on a grey image and records, for every
convolution and linear layer in the order they run, the shape of its output (with forward hooks:
nothing is hand-written per model). :func:`draw_architecture` draws that profile as a row of
bars, one per layer: the bar's height is the feature map's side (log scale), its colour the
number of channels, and the bars are grouped by the part of the model they belong to (encoder,
decoder, global path, discriminator ...). Encoder-decoders show their down-then-up shape, the
ECCV16 classifier its quarter-resolution logits, a U-Net generator its symmetric path next to the
PatchGAN's shrinking one, and fusion the one-pixel global path joining the decoder.

Examples
--------
>>> import colorlab.models as cm
>>> rows = layer_profile(cm.build("class"), size=64)
>>> rows[-1]["stage"], rows[-1]["shape"]          # the ECCV16 logits: Q bins at 1/4 resolution
('model8', (261, 16, 16))
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["layer_profile", "draw_architecture"]

_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


_CONTAINERS = {"net", "model", "generator", "layers", "features"}   # names that say nothing
_RENAME = {"levels": "decoder", "fusion": "global path", "fuse": "global path",
           "backbone": "global path"}


def _stage_names(model: nn.Module) -> dict:
    """{layer: the part of ``model`` it sits in}: the first informative name on its path."""
    names = {}
    for name, module in model.named_modules():
        if isinstance(module, _LAYERS):
            parts = [p for p in name.split(".") if not p.isdigit()]
            stage = next((p for p in parts[:-1] if p not in _CONTAINERS), parts[-1])
            names[module] = _RENAME.get(stage, stage)
    return names


def layer_profile(model: nn.Module, size: int = 64) -> list[dict]:
    """Each convolution's and linear layer's output, in the order the forward pass runs them.

    Parameters
    ----------
    model : ColorizationModel
        Any colorlab model. GANs are run through their generator (``colorize``) and, on the
        coloured result, their discriminator.
    size : int
        Side of the grey test image.

    Returns
    -------
    list of dict
        ``{"stage": str, "layer": str, "shape": (C, H, W) or (C,)}`` per layer call.
    """
    stages, rows, hooks = _stage_names(model), [], []

    def record(module, _inputs, output):
        if torch.is_tensor(output):
            rows.append({"stage": stages.get(module, "?"), "layer": type(module).__name__,
                         "shape": tuple(output.shape[1:])})

    for module in stages:
        hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            L = torch.full((1, 1, size, size), 50.0)
            model.colorize(L)
            disc = getattr(model, "discriminator", None)
            if disc is not None:                        # it judges (L, normalised ab) pairs
                disc(L, torch.zeros(1, 2, size, size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def draw_architecture(model: nn.Module, size: int = 64, ax=None, title: str | None = None):
    """Draw :func:`layer_profile` as bars: height = feature-map side, colour = channels.

    Parameters
    ----------
    model : ColorizationModel
    size : int
        Side of the grey input the profile is measured on.
    ax : matplotlib Axes, optional
    title : str, optional
        Default: the model's name and its number of parameters.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm

    rows = layer_profile(model, size)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * len(rows) + 2), 3.2))
    fig = ax.figure
    channels = [r["shape"][0] for r in rows]
    norm = LogNorm(vmin=max(1, min(channels)), vmax=max(channels))
    cmap = colormaps["viridis"]
    start, previous, group = 0, None, 0
    for i, r in enumerate(rows + [{"stage": None}]):
        if r["stage"] != previous and previous is not None:       # a group ends: name it
            ax.axvspan(start - 0.5, i - 0.5, color="0.90" if group % 2 else "0.97", zorder=0)
            ax.text((start + i - 1) / 2, size * (1.5 if group % 2 else 3.2), previous,
                    ha="center", va="bottom", fontsize=8)
            start, group = i, group + 1
        previous = r["stage"]
        if r["stage"] is None:
            break
        side = r["shape"][1] if len(r["shape"]) == 3 else 1
        ax.bar(i, side, width=0.8, color=cmap(norm(r["shape"][0])), zorder=2)
    ax.set_yscale("log", base=2)
    ax.set_ylim(0.7, size * 7)
    ax.set_xlim(-0.7, len(rows) - 0.3)
    ax.set_xticks([])
    ax.set(xlabel=f"layers in the order they run ({len(rows)} convolutions and linear layers)",
           ylabel=f"feature-map side (input {size})")
    params = sum(p.numel() for p in model.parameters())
    name = dict(getattr(model, "config", {})).get("name", type(model).__name__)
    ax.set_title(title or f"{name}: {params / 1e6:.1f}M parameters", fontsize=10)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
    bar.set_label("channels")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.axhline(size, color="0.5", linewidth=0.6, linestyle=":")
    return fig
