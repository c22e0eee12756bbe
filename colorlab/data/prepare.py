"""Preparing images the one way colorlab does it, and the sample photos that ship with installed
packages."""
from __future__ import annotations

import numpy as np
import torch

from colorlab._shared import positive_int
from colorlab.pipeline import MAX_ASPECT, resize_whole

__all__ = ["prepare_image", "prepare_batch", "sample_photos", "SAMPLE_PHOTOS"]

#: The sample photos: name -> (package, how to load it, licence). Natural colour photographs only
#: (no microscopy, astronomy or synthetic images), all present in the installed packages.
SAMPLE_PHOTOS = {
    "astronaut": ("scikit-image", "skimage.data.astronaut()", "public domain (NASA)"),
    "chelsea": ("scikit-image", "skimage.data.chelsea()", "CC0 (Stefan van der Walt)"),
    "coffee": ("scikit-image", "skimage.data.coffee()", "CC0 (Rachel Michetti)"),
    "rocket": ("scikit-image", "skimage.data.rocket()", "public domain (SpaceX)"),
    "china": ("scikit-learn", "sklearn.datasets.load_sample_image('china.jpg')",
              "CC BY 2.0 (danielbuechele)"),
    "flower": ("scikit-learn", "sklearn.datasets.load_sample_image('flower.jpg')",
               "CC BY 2.0 (vultilion)"),
    "grace_hopper": ("matplotlib", "matplotlib.cbook.get_sample_data('grace_hopper.jpg')",
                     "public domain (US Navy)"),
}


def prepare_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (short side to ``size``, bicubic, antialiased) and centre-crop a batch of same-size
    images.

    Images more than :data:`~colorlab.pipeline.MAX_ASPECT` (4) times longer than wide are first cut
    to their centre 4:1 window (which holds the final crop and its resampling neighbourhood), so
    that thin strips cost no more than others. The resize is the photo pipeline's
    (:func:`colorlab.pipeline.resize_whole`), so a crop holds the pixels that
    :func:`~colorlab.pipeline.colorize_image` sees of the same photo at that size.

    Parameters
    ----------
    images : torch.Tensor of shape (B, 3, H, W)
        uint8, or float RGB in [0, 1].
    size : int
        Output side S.

    Returns
    -------
    torch.Tensor of shape (B, 3, S, S), float32 in [0, 1]

    Examples
    --------
    >>> prepare_batch(torch.zeros(2, 3, 40, 60, dtype=torch.uint8), 32).shape
    torch.Size([2, 3, 32, 32])
    """
    size = positive_int(size, "size")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"prepare_batch: expected (B, 3, H, W), got {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if max(h, w) > MAX_ASPECT * min(h, w):
        # a thin strip: only its centre can end in the crop, and resizing all of it could take
        # gigabytes (3 x 5000 at size 256 is 256 x 426,667 pixels); keep the centre 4:1 window
        keep = MAX_ASPECT * min(h, w)
        top, left = max(0, (h - keep) // 2), max(0, (w - keep) // 2)
        images = images[:, :, top:top + min(h, keep), left:left + min(w, keep)]
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    x = resize_whole(x, size)              # at most 4:1 now: the short side becomes ``size``
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[:, :, top:top + size, left:left + size].contiguous()


def prepare_image(image, size: int) -> torch.Tensor:
    """Prepare one image the way every part of colorlab does: short side to ``size``, centre crop.

    Resizing is bicubic with antialiasing (as Pillow's ``Image.resize(..., BICUBIC)``); the crop
    keeps the centre ``size`` x ``size`` square. An image whose short side already equals ``size``
    is only cropped, so its pixels are kept exactly.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W, 3) or (H, W), or torch.Tensor of shape (3, H, W)
        uint8 in [0, 255] or float in [0, 1]. A 2-D array is taken as greyscale.
    size : int
        Output side S, a positive integer.

    Returns
    -------
    torch.Tensor of shape (3, S, S), float32 RGB in [0, 1]

    Raises
    ------
    ValueError
        ``size`` is not a positive integer, or ``image`` has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((300, 451, 3), dtype=np.uint8)
    >>> prepare_image(img, 64).shape
    torch.Size([3, 64, 64])
    """
    size = positive_int(size, "size")
    if isinstance(image, torch.Tensor):
        t = image
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError("prepare_image: a tensor must have shape (3, H, W), "
                             f"got {tuple(t.shape)}")
    else:
        a = np.asarray(image)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"prepare_image: an array must have shape (H, W, 3), got {a.shape}")
        if a.dtype != np.uint8 and a.dtype.kind != "f":
            raise TypeError(f"prepare_image: expected uint8 or float in [0, 1], got {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a) if a.flags.writeable
                             else np.array(a)).permute(2, 0, 1)
    return prepare_batch(t[None], size)[0]


def _load_sample(name: str) -> np.ndarray:
    if name in ("astronaut", "chelsea", "coffee", "rocket"):
        import skimage.data
        return getattr(skimage.data, name)()
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        return load_sample_image(f"{name}.jpg")
    from matplotlib import cbook
    from PIL import Image
    with cbook.get_sample_data(f"{name}.jpg") as f, Image.open(f) as im:
        return np.array(im.convert("RGB"))


def sample_photos(names=None) -> dict[str, np.ndarray]:
    """The natural colour photos that ship inside scikit-image, scikit-learn and matplotlib (no
    network).

    Parameters
    ----------
    names : list of str, optional
        A subset of :data:`SAMPLE_PHOTOS` (default: all, in its order).

    Returns
    -------
    dict of str -> numpy.ndarray of shape (H, W, 3), uint8
        "astronaut" (512x512), "chelsea" (300x451), "coffee" (400x600), "rocket" (427x640),
        "china" (427x640), "flower" (427x640), "grace_hopper" (600x512). Licences are listed in
        :data:`SAMPLE_PHOTOS` and datasets/README.md.

    Examples
    --------
    >>> photos = sample_photos()
    >>> list(photos)[:3], photos["coffee"].shape
    (['astronaut', 'chelsea', 'coffee'], (400, 600, 3))
    """
    names = list(SAMPLE_PHOTOS) if names is None else list(names)
    unknown = [n for n in names if n not in SAMPLE_PHOTOS]
    if unknown:
        raise ValueError(f"unknown sample photo(s) {unknown}; choose from {list(SAMPLE_PHOTOS)}")
    # writable copies
    return {n: np.array(_load_sample(n), dtype=np.uint8, order="C") for n in names}
