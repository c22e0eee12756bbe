"""The photo pipeline: how every part of colorlab resizes a photo, makes it grey and colours it.

One module, so that a model sees a photo the same way wherever it is run: by
:func:`colorize_image` (and :meth:`~colorlab.models.base.ColorizationModel.colorize_image`),
by :func:`colorlab.metrics.evaluate` (square crops and whole photos), by
:func:`colorlab.viz.contact_sheet`, by :func:`colorlab.data.prepare_image` (the datasets) and by
the photo models' encoder. It sits just above :mod:`colorlab.color` and :mod:`colorlab.hints`
(the encoding of user hints) and imports nothing else of colorlab, so every layer may use it.

How a photograph is coloured
----------------------------
1. The image (RGB or grey, uint8 or float in [0, 1], any H x W; :func:`as_rgb_tensor`) is resized
   *whole*, without cropping, so that its **short side is** ``size`` pixels (:func:`resize_whole`:
   bicubic, antialiased, aspect ratio kept, in sRGB), like :func:`colorlab.data.prepare_image` but
   without the centre crop: every pixel gets a colour. A strip more than :data:`MAX_ASPECT` (4)
   times longer than wide is resized so that its *long* side is ``MAX_ASPECT * size`` instead
   (the short side shrinks, to 1 pixel at least; :func:`working_hw`), so that no image makes the
   prediction larger than ``size`` x ``4 * size``.
2. The model predicts ab from the L of that small photo (padding internally to its multiple, then
   cropping back).
3. The ab planes are upsampled bilinearly to the original H x W and merged with the *original,
   full-resolution* L, so the detail of the photograph is untouched (DeOldify's trick).

Steps 1 to 3 for any L -> ab callable are :func:`predict_at_size`; :func:`colorize_image` adds
reading the image and writing uint8 RGB. The grey a model is given, and the grey panel a figure
shows, is the sRGB grey of the photo's lightness: :func:`gray_rgb`, :func:`gray_image`.

Examples
--------
>>> import numpy as np, torch
>>> from colorlab import pipeline
>>> pipeline.working_hw(300, 451, 128), pipeline.working_hw(10, 100, 8)
((128, 192), (3, 32))
>>> grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])
>>> pipeline.predict_at_size(grey, torch.full((1, 1, 64, 96), 50.0), 32).shape
torch.Size([1, 2, 64, 96])
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from colorlab._shared import positive_int
from colorlab.color import lab_to_rgb, merge_lab, rgb_to_lab
from colorlab.hints import user_hints

__all__ = ["MAX_ASPECT", "DEFAULT_IMAGE_SIZE", "as_rgb_tensor", "working_hw", "resize_rgb",
           "resize_whole", "gray_rgb", "gray_image", "predict_at_size", "colorize_image"]

#: Predictions are at most ``MAX_ASPECT * size`` pixels along the long side (a 3 x 5000 strip would
#: otherwise be predicted at size x 1667 * size pixels: gigabytes at size 256);
#: :func:`colorlab.data.prepare_image` keeps only the centre 4:1 window of a longer image.
MAX_ASPECT = 4
#: :func:`colorize_image`'s size when the model's config records no ``image_size``.
DEFAULT_IMAGE_SIZE = 256


def as_rgb_tensor(image) -> torch.Tensor:
    """A photo as a float RGB tensor: HxW, HxWx1 or HxWx3 uint8 or float [0, 1] -> (1, 3, H, W).

    Parameters
    ----------
    image : numpy.ndarray or PIL image
        ``(H, W)`` or ``(H, W, 1)`` grey (repeated to three channels) or ``(H, W, 3)`` RGB; uint8,
        or float in [0, 1] (clamped).

    Returns
    -------
    torch.Tensor
        ``(1, 3, H, W)`` float32 in [0, 1], memory of its own.

    Raises
    ------
    ValueError
        Wrong shape, or NaN / inf in a float image.
    TypeError
        Neither uint8 nor float.

    Examples
    --------
    >>> as_rgb_tensor(np.full((2, 3), 255, np.uint8)).shape
    torch.Size([1, 3, 2, 3])
    """
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


def working_hw(h: int, w: int, size: int) -> tuple[int, int]:
    """``(h, w)`` scaled so that the short side is ``size``, the long side capped at
    ``MAX_ASPECT * size`` (each side at least 1).

    Raises
    ------
    ValueError
        ``size`` is not a positive integer.

    Examples
    --------
    >>> working_hw(600, 512, 128), working_hw(3, 5000, 256)
    ((150, 128), (1, 1024))
    """
    size = positive_int(size, "size")
    scale = min(size / min(h, w), MAX_ASPECT * size / max(h, w))   # a thin strip: long side capped
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_rgb(rgb: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """The one resize of colorlab: ``(B, 3, H, W)`` RGB in [0, 1] to ``(B, 3, *hw)``, bicubic,
    antialiased (as Pillow's ``BICUBIC``), clamped to [0, 1]; returned as it is when already
    ``hw``.

    Examples
    --------
    >>> resize_rgb(torch.rand(2, 3, 40, 60), (20, 30)).shape
    torch.Size([2, 3, 20, 30])
    """
    hw = tuple(int(n) for n in hw)
    if hw == tuple(rgb.shape[-2:]):
        return rgb
    return F.interpolate(rgb, size=hw, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0.0, 1.0)


def resize_whole(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB resized whole to its working size (:func:`working_hw`) with
    :func:`resize_rgb`: how :func:`colorize_image` sees a photo.

    Examples
    --------
    >>> resize_whole(torch.rand(1, 3, 300, 451), 128).shape
    torch.Size([1, 3, 128, 192])
    """
    return resize_rgb(rgb, working_hw(*rgb.shape[-2:], size))


def gray_rgb(L: torch.Tensor) -> torch.Tensor:
    """Lightness to the grey sRGB image a camera would store: ``(B, 1, H, W)`` L in [0, 100] ->
    ``(B, 3, H, W)`` float32 in [0, 1], three equal channels.

    Not ``L / 100``: the sRGB value of a lightness follows the sRGB curve (L = 50 is 0.466), which
    is what an ImageNet classifier was trained on.

    Examples
    --------
    >>> gray_rgb(torch.tensor([0.0, 50.0, 100.0]).view(1, 1, 1, 3))[0, :, 0].round(decimals=3)
    tensor([[0.0000, 0.4660, 1.0000],
            [0.0000, 0.4660, 1.0000],
            [0.0000, 0.4660, 1.0000]])
    """
    zeros = torch.zeros_like(L).expand(-1, 2, -1, -1)
    grey = lab_to_rgb(torch.cat([L.float().clamp(0.0, 100.0), zeros], dim=1))[:, :1]
    return grey.clamp(0.0, 1.0).expand(-1, 3, -1, -1)


def gray_image(image) -> np.ndarray:
    """The grey version of a photo, as a model is given it: ``(H, W, 3)`` uint8, the sRGB grey of
    each pixel's lightness (:func:`gray_rgb`).

    Parameters
    ----------
    image : numpy.ndarray
        Anything :func:`as_rgb_tensor` takes.

    Examples
    --------
    >>> g = gray_image(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8))
    >>> g.shape, g[0, :, 0].tolist(), bool((g == g[..., :1]).all())
    ((1, 2, 3), [127, 76], True)
    """
    L = rgb_to_lab(as_rgb_tensor(image))[:, :1]
    return (gray_rgb(L)[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def predict_at_size(predict, L: torch.Tensor, size: int, photo: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """Run ``predict`` (L -> ab) on the photo resized whole to its working size ``size``; upsample
    the ab (bilinear) to L's size.

    The network's input is the L of ``photo`` resized with :func:`resize_whole` (sRGB, bicubic),
    exactly as :func:`colorize_image` makes it; without ``photo``, of the grey photo of ``L``
    (:func:`gray_rgb`). When the working size is L's own size, ``L`` itself is the input.

    Parameters
    ----------
    predict : callable
        Maps ``(B, 1, h, w)`` L to ``(B, 2, h, w)`` ab, e.g. ``model.colorize``.
    L : torch.Tensor
        ``(B, 1, H, W)`` lightness in [0, 100]: the size of the result.
    size : int
        The working size (short side), a positive int; the long side is capped at
        ``MAX_ASPECT * size``.
    photo : torch.Tensor, optional
        ``(B, 3, H0, W0)`` RGB in [0, 1] that ``L`` was made from, at any resolution (the original
        of a downsized ``L``): the working size is taken from its H0 x W0.

    Returns
    -------
    torch.Tensor
        ``(B, 2, H, W)`` ab, bilinearly upsampled from the working size.

    Examples
    --------
    >>> seen = []
    >>> grey = lambda L: seen.append(tuple(L.shape[-2:])) or torch.zeros(len(L), 2, *L.shape[2:])
    >>> predict_at_size(grey, torch.full((1, 1, 64, 96), 50.0), 32).shape, seen
    (torch.Size([1, 2, 64, 96]), [(32, 48)])
    """
    hw = working_hw(*(L if photo is None else photo).shape[-2:], size)
    if hw == tuple(L.shape[-2:]):
        return predict(L)
    source = gray_rgb(L) if photo is None else photo
    small = rgb_to_lab(resize_rgb(source, hw))[:, :1]
    ab = predict(small)
    return F.interpolate(ab, size=tuple(L.shape[-2:]), mode="bilinear", align_corners=False)


def colorize_image(model, image, size: int | None = None, hints=None) -> np.ndarray:
    """Colour a grey or colour photograph of any size; return full-resolution uint8 RGB.

    Parameters
    ----------
    model : ColorizationModel
        Any colorlab model: ``.colorize(L)``, ``.config``, ``.device`` (its train/eval mode is
        restored afterwards).
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
        bilinearly to H x W (:func:`predict_at_size`).

    hints : sequence of (x, y, colour), optional
        For the hint model: clicks in the photo's own pixels (``x`` from the left, ``y`` from the
        top) with a picked colour (``"#rrggbb"``, 0-255 integers or 0-1 floats), encoded at the
        working size by :func:`colorlab.hints.user_hints` (the colour's ab at the clicked pixel's
        lightness, pulled into the sRGB gamut there).

    Raises
    ------
    ValueError
        ``size`` is not a positive int; the image has a wrong shape or holds NaN or inf; a hint
        is outside the photo or its colour is malformed; hints for a model that takes none.
    TypeError
        The image is neither uint8 nor float.

    Examples
    --------
    >>> import colorlab.models as cm
    >>> rgb = np.random.default_rng(0).integers(0, 256, (41, 29, 3), dtype=np.uint8)
    >>> colorize_image(cm.build("mse"), rgb, size=16).shape
    (41, 29, 3)
    """
    if size is None:
        size = model.config.get("image_size") or DEFAULT_IMAGE_SIZE
    size = positive_int(size, "size", "colorize_image: ")
    rgb = as_rgb_tensor(image)
    L = rgb_to_lab(rgb)[:, :1]

    def predict(L_small):
        extra = {}
        if hints:
            extra["hints"] = user_hints(hints, L, L_small.shape[-2:]).to(model.device)
        with torch.inference_mode():
            return model.colorize(L_small.to(model.device), **extra).float().cpu()

    was_training = model.training
    model.eval()
    try:
        ab = predict_at_size(predict, L, size, photo=rgb)
    finally:
        model.train(was_training)
    out = lab_to_rgb(merge_lab(L, ab)).clamp(0.0, 1.0)
    return (out[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
