"""LabDataset: images prepared once, held as one Lab tensor, batched (and augmented) from a
torch.Generator."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .._shared import positive_int
from ..color import lab_to_rgb, rgb_to_lab
from .prepare import prepare_batch, prepare_image

__all__ = ["LabDataset", "prepare_stack", "crop_shapes", "random_resized_crops"]

_PENDING_VALUES = 1 << 26  # prepare at most this many input values (~64 MB as uint8) at once
_CHUNK = 1024             # images per vectorised batch


def _quantize(x: torch.Tensor) -> torch.Tensor:
    """Float RGB in [0, 1] -> uint8, rounding (the stored form of prepared images)."""
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def prepare_stack(images, size: int) -> torch.Tensor:
    """Prepare many images (any sizes) into one uint8 tensor, batching images of equal shape.

    Same result as stacking :func:`~colorlab.data.prepare_image` outputs rounded to 8 bit, but
    images of equal shape are resized together, and memory stays bounded (pending inputs are
    flushed).

    Parameters
    ----------
    images : iterable of numpy.ndarray (H, W, 3) uint8 (or anything prepare_image takes)
    size : int
        Output side S.

    Returns
    -------
    torch.Tensor of shape (N, 3, S, S), uint8

    Examples
    --------
    >>> import numpy as np
    >>> prepare_stack([np.zeros((40, 50, 3), np.uint8), np.ones((8, 8, 3), np.uint8)], 8).shape
    torch.Size([2, 3, 8, 8])
    """
    size = positive_int(size, "size")
    out = []  # list of (index, (k, 3, S, S) uint8)
    buckets: dict[tuple, list] = {}
    pending = 0

    def flush():
        nonlocal pending
        for key, items in buckets.items():
            if key[0] == "single":  # floats, greyscale, tensors: through the public path
                out.extend((i, _quantize(prepare_image(a, size))) for i, a in items)
                continue
            for s in range(0, len(items), _CHUNK):  # uint8 (H, W, 3) of one shape: vectorised
                part = items[s:s + _CHUNK]
                x = torch.from_numpy(np.stack([a for _, a in part])).permute(0, 3, 1, 2)
                out.extend(zip([i for i, _ in part], _quantize(prepare_batch(x, size))))
        buckets.clear()
        pending = 0

    for i, img in enumerate(images):
        batchable = (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3
                     and img.shape[2] == 3)
        buckets.setdefault(img.shape if batchable else ("single", i), []).append((i, img))
        pending += int(np.prod(img.shape))
        if pending > _PENDING_VALUES:
            flush()
    flush()
    if not out:
        return torch.empty(0, 3, size, size, dtype=torch.uint8)
    out.sort(key=lambda t: t[0])
    return torch.stack([t for _, t in out])


def _rgb_to_lab_chunked(rgb: torch.Tensor) -> torch.Tensor:
    lab = torch.empty(rgb.shape, dtype=torch.float32, device=rgb.device)
    for s in range(0, rgb.shape[0], _CHUNK):
        lab[s:s + _CHUNK] = rgb_to_lab(rgb[s:s + _CHUNK])
    return lab


def augment_lab(lab: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal flip (p = 1/2) and random crop (reflect-padded by S//8, at least 1) of a
    batch.

    All randomness comes from ``generator`` (drawn on its device, then moved): the same generator
    state gives the same batch on every device.

    Parameters
    ----------
    lab : torch.Tensor of shape (B, C, S, S)
    generator : torch.Generator, optional
        Default: torch's global CPU generator.

    Returns
    -------
    torch.Tensor of shape (B, C, S, S), on ``lab``'s device

    Examples
    --------
    >>> x = torch.arange(16.).view(1, 1, 4, 4)
    >>> augment_lab(x, torch.Generator().manual_seed(0)).shape
    torch.Size([1, 1, 4, 4])
    """
    B, C, S, _ = lab.shape
    pad = max(1, S // 8)
    gdev = generator.device if generator is not None else torch.device("cpu")
    flip = (torch.rand(B, generator=generator, device=gdev) < 0.5).to(lab.device)
    off = torch.randint(0, 2 * pad + 1, (B, 2), generator=generator, device=gdev).to(lab.device)
    padded = F.pad(lab, (pad, pad, pad, pad), mode="reflect" if pad < S else "replicate")
    ar = torch.arange(S, device=lab.device)
    rows = off[:, :1] + ar                                          # (B, S)
    cols = off[:, 1:] + torch.where(flip[:, None], S - 1 - ar, ar)  # (B, S), reversed if flipped
    b = torch.arange(B, device=lab.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]  # (B, S, S, C)
    return out.permute(0, 3, 1, 2).contiguous()


def crop_shapes(size: int, multiple: int = 32) -> list[tuple[int, int]]:
    """Training shapes around ``size``: the square, and a landscape and a portrait of about 5:3.

    Each side is a multiple of ``multiple``; all have about ``size ** 2`` pixels.

    Examples
    --------
    >>> crop_shapes(128)
    [(128, 128), (96, 160), (160, 96)]
    """
    short = max(multiple, int(round(0.75 * size / multiple)) * multiple)
    long = max(multiple, int(round(1.25 * size / multiple)) * multiple)
    square = max(multiple, int(round(size / multiple)) * multiple)
    return [(square, square), (short, long), (long, short)]


def random_resized_crops(lab: torch.Tensor, shape: tuple[int, int],
                         generator: torch.Generator | None = None,
                         scale: tuple[float, float] = (0.3, 1.0)) -> torch.Tensor:
    """Random crops of a batch, each resized to ``shape`` (bilinear), half of them flipped.

    Every crop covers a random fraction ``scale`` of the image's area, with the aspect ratio of
    ``shape`` (so nothing is stretched) at a random position; the whole batch comes out as one
    ``(B, C, h, w)`` tensor. All randomness comes from ``generator``.

    Parameters
    ----------
    lab : torch.Tensor of shape (B, C, S, S)
    shape : (int, int)
        Output ``(h, w)``.
    generator : torch.Generator, optional
    scale : (float, float)
        Range of the crop's area as a fraction of the image's.

    Returns
    -------
    torch.Tensor of shape (B, C, h, w)

    Examples
    --------
    >>> x = torch.rand(2, 3, 16, 16)
    >>> random_resized_crops(x, (8, 12), torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 8, 12])
    """
    B = lab.shape[0]
    h, w = shape
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(B, 4, generator=generator, device=gdev).to(lab.device, torch.float32)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    aspect = (w / h) * lab.shape[-2] / lab.shape[-1]
    ch, cw = (area / aspect).sqrt(), (area * aspect).sqrt()       # fractions of the image's sides
    shrink = torch.maximum(torch.ones_like(ch), torch.maximum(ch, cw))
    ch, cw = ch / shrink, cw / shrink
    ty, tx = (2 * u[:, 1] - 1) * (1 - ch), (2 * u[:, 2] - 1) * (1 - cw)
    flip = torch.where(u[:, 3] < 0.5, -1.0, 1.0)
    theta = torch.zeros(B, 2, 3, device=lab.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = cw * flip, tx, ch, ty
    grid = F.affine_grid(theta, (B, lab.shape[1], h, w), align_corners=False)
    return F.grid_sample(lab.float(), grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


class LabDataset(Dataset):
    """Images prepared to S x S and held as one Lab tensor ``lab`` of shape (N, 3, S, S), float32.

    Build one with :func:`~colorlab.data.load_dataset`, :meth:`from_images` or :meth:`from_rgb`.

    Attributes
    ----------
    lab : torch.Tensor of shape (N, 3, S, S), float32
        L in [0, 100] then a, b. Lives on :attr:`device`.
    size : int
        S.
    name : str
    paths : list of str or None
        Source of each image (file paths, or photo names for "samples").
    labels : torch.LongTensor of shape (N,) or None
        Class index per image (-1: no class), with :attr:`classes` the class names.
    augment : bool
        Whether :meth:`batch` flips and randomly crops.
    crop_size : int or None
        If set, :meth:`batch` returns random resized crops (and flips) of about this size instead,
        each batch in one of :func:`crop_shapes` (square, landscape or portrait): what the photo
        models train on, so they work at any aspect ratio.
    train_size : int
        The size a model trained on this data sees: ``crop_size``, else ``size``.
    sample_weights : torch.Tensor of shape (N,) or None
        How often training draws each image, relative to the others (None: uniformly, each image
        once per epoch); :func:`~colorlab.data.mix_datasets` sets it so each source gets its share.
    device : torch.device

    Examples
    --------
    >>> import numpy as np
    >>> ds = LabDataset.from_images([np.full((40, 60, 3), 200, np.uint8)] * 4, size=16)
    >>> len(ds), ds.lab.shape
    (4, torch.Size([4, 3, 16, 16]))
    >>> L, ab = ds[0]; L.shape, ab.shape
    (torch.Size([1, 16, 16]), torch.Size([2, 16, 16]))
    >>> L, ab = ds.batch(torch.tensor([0, 2]), torch.Generator().manual_seed(0)); L.shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, lab: torch.Tensor, name: str = "images", paths=None, labels=None,
                 classes=None, augment: bool = False, device=None, crop_size: int | None = None,
                 sample_weights=None):
        if lab.ndim != 4 or lab.shape[1] != 3 or lab.shape[2] != lab.shape[3]:
            raise ValueError("LabDataset: lab must have shape (N, 3, S, S), "
                             f"got {tuple(lab.shape)}")
        self.lab = lab.float()
        self.size = int(lab.shape[-1])
        self.name = name
        self.paths = list(paths) if paths is not None else None
        self.labels = torch.as_tensor(labels, dtype=torch.long) if labels is not None else None
        self.classes = list(classes) if classes is not None else None
        self.augment = bool(augment)
        self.crop_size = positive_int(crop_size, "crop_size") if crop_size is not None else None
        self.sample_weights = None
        if sample_weights is not None:
            w = torch.as_tensor(sample_weights, dtype=torch.float64).reshape(-1)
            if len(w) != len(self.lab) or not bool((w >= 0).all()) or not float(w.sum()) > 0:
                raise ValueError(f"LabDataset: sample_weights must be {len(self.lab)} weights "
                                 ">= 0, not all 0")
            self.sample_weights = w
        self.device = self.lab.device
        if device is not None:
            self.to(device)

    @classmethod
    def from_rgb(cls, rgb: torch.Tensor, **kw) -> "LabDataset":
        """From prepared RGB ``(N, 3, S, S)`` (uint8, or float in [0, 1]); converted in vectorised
        chunks.

        Examples
        --------
        >>> LabDataset.from_rgb(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)).lab.shape
        torch.Size([2, 3, 8, 8])
        """
        return cls(_rgb_to_lab_chunked(rgb), **kw)

    @classmethod
    def from_images(cls, images, size: int, name: str = "images", augment: bool = False,
                    device=None, **kw) -> "LabDataset":
        """Prepare in-memory images (list of (H, W, 3) arrays, or a dict name -> array) into a
        dataset.

        Each image goes through :func:`~colorlab.data.prepare_image` (resize short side, centre
        crop), rounded to 8 bit, then to Lab. A dict's keys become :attr:`paths`.

        Examples
        --------
        >>> from colorlab.data import sample_photos
        >>> LabDataset.from_images(sample_photos(["coffee"]), size=32).paths
        ['coffee']
        """
        if isinstance(images, dict):
            kw.setdefault("paths", list(images))
            images = list(images.values())
        images = list(images)
        if not images:
            raise ValueError("LabDataset.from_images: no images given")
        return cls.from_rgb(prepare_stack(images, size), name=name, augment=augment, device=device,
                            **kw)

    def __len__(self) -> int:
        return self.lab.shape[0]

    def __getitem__(self, i):
        """``(L (1, S, S), ab (2, S, S))`` of image ``i``, un-augmented (use :meth:`batch` to
        augment)."""
        x = self.lab[i]
        return x[:1], x[1:]

    def batch(self, indices, generator: torch.Generator | None = None):
        """A batch ``(L (B, 1, S, S), ab (B, 2, S, S))`` on :attr:`device`, augmented if
        :attr:`augment`.

        Parameters
        ----------
        indices : torch.LongTensor of shape (B,) (or a list of ints)
        generator : torch.Generator, optional
            Source of all augmentation randomness (flip, crop offsets), for exact reproducibility.

        Returns
        -------
        L : torch.Tensor of shape (B, 1, S, S), in [0, 100]
        ab : torch.Tensor of shape (B, 2, S, S)

        Examples
        --------
        >>> import numpy as np
        >>> ds = LabDataset.from_images([np.zeros((8, 8, 3), np.uint8)] * 3, size=8, augment=True)
        >>> g = torch.Generator().manual_seed(0)
        >>> [t.shape[1] for t in ds.batch(torch.tensor([2, 0]), g)]
        [1, 2]
        """
        idx = torch.as_tensor(indices, dtype=torch.long).to(self.lab.device)
        x = self.lab[idx]
        if self.crop_size is not None:
            shapes = crop_shapes(self.crop_size)
            gdev = generator.device if generator is not None else torch.device("cpu")
            pick = int(torch.randint(len(shapes), (1,), generator=generator, device=gdev))
            x = random_resized_crops(x, shapes[pick], generator)
        elif self.augment:
            x = augment_lab(x, generator)
        return x[:, :1], x[:, 1:]

    @property
    def train_size(self) -> int:
        """The size a model trained on this data sees (``crop_size`` if set, else ``size``)."""
        return self.crop_size or self.size

    def to(self, device) -> "LabDataset":
        """Move the data to ``device`` (e.g. "cuda": a GPU-resident dataset); returns ``self``.

        Examples
        --------
        >>> import numpy as np
        >>> ds = LabDataset.from_images([np.zeros((4, 4, 3), np.uint8)], size=4)
        >>> ds.to("cpu").device
        device(type='cpu')
        """
        self.lab = self.lab.to(device)
        self.device = self.lab.device
        return self

    def rgb(self, i: int) -> torch.Tensor:
        """Image ``i`` as RGB ``(3, S, S)`` float in [0, 1], converted back from Lab.

        Examples
        --------
        >>> import numpy as np
        >>> ds = LabDataset.from_images([np.full((4, 4, 3), 255, np.uint8)], size=4)
        >>> ds.rgb(0).shape, round(float(ds.rgb(0).min()), 3)
        (torch.Size([3, 4, 4]), 1.0)
        """
        return lab_to_rgb(self.lab[i])

    def __repr__(self) -> str:
        return (f"LabDataset(name={self.name!r}, n={len(self)}, size={self.size}, "
                f"augment={self.augment}, device={self.device})")
