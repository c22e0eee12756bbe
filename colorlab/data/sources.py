"""load_dataset: the sample photos, image folders and torchvision datasets, as cached
LabDatasets."""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .._shared import positive_int
from ..download import OfflineError, check_online
from ..io import IMAGE_EXTENSIONS, ImageReadError, read_image, scan_images
from .cache import cache_dir, cache_path, load_cache, save_cache
from .dataset import LabDataset, prepare_stack
from .prepare import SAMPLE_PHOTOS, sample_photos

__all__ = ["load_dataset", "list_photos", "DatasetNotFoundError", "ImageSkippedWarning", "DATASETS"]

#: torchvision datasets: name -> (class name, download URL (for the offline check), approx. size,
#: splits)
DATASETS = {
    "cifar10": ("CIFAR10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "163 MB",
                ("train", "test")),
    "imagenette": ("Imagenette", "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
                   "94 MB (the 160px version)", ("train", "val")),
    "stl10": ("STL10", "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", "2.6 GB",
              ("train", "test", "unlabeled")),
    "flowers102": ("Flowers102", "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/", "345 MB",
                   ("train", "val", "test")),
    "places365": ("Places365", "http://data.csail.mit.edu/places/places365/",
                  "24 GB for train, 0.5 GB for test (= the official val set), 256x256 images",
                  ("train", "test", "val")),
}
_INSTEAD = ('use load_dataset("samples") (photos shipped with the installed packages, no network) '
            'or load_dataset("folder:PATH") on a folder of your own images')


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not on disk (and ``download=False``); the message says what to do."""


class ImageSkippedWarning(UserWarning):
    """An unreadable image in a folder dataset was skipped (the message names the file and why)."""


def _balanced_order(labels: np.ndarray) -> np.ndarray:
    """Indices visiting the classes round-robin (each class in its own order): a limit stays
    balanced."""
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    rank = np.empty(len(labels), dtype=np.int64)
    for g in groups:
        rank[g] = np.arange(len(g))
    return np.lexsort((labels, rank))  # by rank within class, then class


# --------------------------------------------------------------------------- sources
def _load_samples(size: int, limit, use_cache: bool, cache_root):
    import matplotlib
    import skimage
    import sklearn
    names = list(SAMPLE_PHOTOS)[:limit]
    settings = {"name": "samples", "photos": names, "size": size,
                "versions": [skimage.__version__, sklearn.__version__, matplotlib.__version__]}

    def build():
        rgb = prepare_stack(sample_photos(names).values(), size)
        return {"lab": _to_lab16(rgb), "paths": "\0".join(names), "labels": None, "classes": None}
    return _cached(settings, build, use_cache, cache_root), "samples"


def _folder_base(root: Path, split: str) -> Path:
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root}: no such folder (for load_dataset('folder:{root}'))")
    present = [s for s in ("train", "test", "val") if (root / s).is_dir()]
    if not present:
        return root
    if split not in present:
        raise ValueError(f"{root} has split folders {present} but no {split!r} folder; "
                         "pass split= one of them")
    return root / split


def _read_images(paths, order, limit):
    """Read ``paths`` in ``order`` until ``limit`` good ones; skip bad ones with a warning each."""
    kept, skipped = [], []
    for i in order:
        if limit is not None and len(kept) >= limit:
            break
        try:
            kept.append((int(i), read_image(paths[i])))
        except ImageReadError as e:
            skipped.append(e)
            warnings.warn(f"skipping unreadable image {e}", ImageSkippedWarning, stacklevel=4)
    kept.sort(key=lambda t: t[0])  # back to path order (class by class)
    return kept, skipped


def _load_folder(spec: str, split: str, size: int, limit, use_cache: bool, cache_root):
    root = Path(spec).expanduser()
    base = _folder_base(root, split)
    # plain strings: 50,000 Path objects cost more than the cache load
    files = scan_images(str(base))
    if not files:
        raise ValueError(f"{base}: no image files found "
                         f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))}, recursively)")
    skip = len(str(base)) + 1
    rel = [f[skip:].split(os.sep) for f in files]  # string ops: fast on 50,000 files
    classes = sorted({r[0] for r in rel if len(r) > 1})
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[r[0]] if len(r) > 1 else -1 for r in rel], dtype=np.int64)
    h = hashlib.sha256()
    for f, r in zip(files, rel):
        st = os.stat(f)
        h.update(f"{'/'.join(r)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    settings = {"name": f"folder-{base.resolve()}", "files": h.hexdigest(), "size": size,
                "limit": limit, "records_skipped": True}
    built = []

    def build():
        built.append(True)
        order = _balanced_order(labels) if classes else np.arange(len(files))
        kept, skipped = _read_images(files, order, limit)
        if not kept:
            raise ValueError(f"{base}: none of the {len(skipped)} image files could be read "
                             f"(first: {skipped[0] if skipped else '-'})")
        idx = [i for i, _ in kept]
        return {"lab": _to_lab16(prepare_stack((a for _, a in kept), size)),
                "paths": "\0".join(files[i] for i in idx),
                "skipped": "\0".join(map(str, skipped)),
                "labels": torch.from_numpy(labels[idx]), "classes": classes}
    payload = _cached(settings, build, use_cache, cache_root)
    if not built:  # read from the cache: warn again about the files skipped when it was made
        for text in filter(None, payload.get("skipped", "").split("\0")):
            warnings.warn(f"skipping unreadable image {text}", ImageSkippedWarning, stacklevel=3)
    return payload, f"folder:{root}"


# --------------------------------------------------------------------------- torchvision
def _torchvision_dataset(name: str, root: Path, split: str, download: bool):
    import torchvision.datasets as tvd
    cls_name, url, approx, splits = DATASETS[name]
    if split not in splits:
        raise ValueError(f"{name}: unknown split {split!r}; choose from {list(splits)}")
    cls = getattr(tvd, cls_name)
    kw = {"cifar10": {"train": split == "train"}, "stl10": {"split": split},
          "flowers102": {"split": split}, "imagenette": {"split": split, "size": "160px"},
          "places365": {"split": "train-standard" if split == "train" else "val",
                        "small": True}}[name]
    try:
        return cls(str(root), download=False, **kw)
    except (RuntimeError, FileNotFoundError, OSError) as e:
        missing = e
    if not download:
        raise DatasetNotFoundError(
            f"{name} ({split} split) is not under {root} ({missing}). Either pass download=True on "
            f"a machine with internet access (torchvision downloads about {approx} and verifies "
            f"its checksum), or {_INSTEAD}.") from None
    check_online(url, timeout=5.0,
                 instead=f"copy the {name} files into {root} from a machine that has them, "
                         f"or {_INSTEAD}")
    try:
        return cls(str(root), download=True, **kw)
    except OSError as e:  # connection lost mid-download, etc.
        raise OfflineError(f"{name}: download into {root} failed ({e}). Retry on a stable "
                           "connection (torchvision resumes nothing, so it starts over), or "
                           f"{_INSTEAD}.") from None


def _torchvision_images(ds, name: str):
    """(list of images or paths, labels array, classes) from a torchvision dataset object."""
    if name == "cifar10":
        return list(ds.data), np.asarray(ds.targets), list(ds.classes)
    if name == "stl10":
        labels = np.asarray(ds.labels) if ds.labels is not None else np.full(len(ds.data), -1)
        return list(ds.data.transpose(0, 2, 3, 1)), labels, list(ds.classes)
    if name == "flowers102":
        return [Path(p) for p in ds._image_files], np.asarray(ds._labels), None
    if name == "imagenette":  # classes are tuples of synonyms: keep the first, e.g. "tench"
        return ([Path(p) for p, _ in ds._samples],
                np.asarray([t for _, t in ds._samples], dtype=np.int64),
                [c[0] for c in ds.classes])
    return [Path(p) for p, _ in ds.imgs], np.asarray([t for _, t in ds.imgs]), list(ds.classes)


def _load_torchvision(name, root, split, size, limit, download, use_cache, cache_root):
    root = Path(root).expanduser() if root is not None else cache_dir() / "torchvision"
    settings = {"name": name, "root": str(root.resolve()), "split": split, "size": size,
                "limit": limit}

    def build():
        ds = _torchvision_dataset(name, root, split, download)
        items, labels, classes = _torchvision_images(ds, name)
        order = _balanced_order(labels)
        if isinstance(items[0], Path):
            kept, _ = _read_images(items, order, limit)
            idx, arrays = [i for i, _ in kept], [a for _, a in kept]
        else:
            idx = (sorted(order[:limit].tolist()) if limit is not None
                   else list(range(len(items))))
            arrays = [items[i] for i in idx]
        paths = "\0".join(str(items[i]) for i in idx) if isinstance(items[0], Path) else None
        return {"lab": _to_lab16(prepare_stack(arrays, size)), "paths": paths,
                "labels": torch.from_numpy(labels[idx]), "classes": classes}
    return _cached(settings, build, use_cache, cache_root), name


def list_photos(name: str, root=None, split: str = "train", limit: int | None = None,
                download: bool = False) -> dict:
    """The photos of a dataset at their own size, unread:
    ``{name: file path or HxWx3 uint8 array}``.

    For scoring or showing whole photos (``evaluate(..., whole=True)``, ``colorlab compare``)
    rather than the square prepared images of :func:`load_dataset`. Files are not opened here.

    Parameters
    ----------
    name, root, split, download
        As for :func:`load_dataset`. "samples" gives the arrays of :func:`sample_photos`;
        "folder:PATH" and the torchvision datasets stored as files (imagenette, flowers102,
        places365) give paths; cifar10 and stl10 give their (small) arrays.
    limit : int, optional
        The first ``limit`` photos, round-robin over the classes (as :func:`load_dataset`).

    Returns
    -------
    dict
        Keys: photo names (for files, the path below the folder or dataset split).

    Examples
    --------
    >>> photos = list_photos("samples", limit=2)
    >>> [(k, v.shape) for k, v in photos.items()]
    [('astronaut', (512, 512, 3)), ('chelsea', (300, 451, 3))]
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    if name == "samples":
        return sample_photos(list(SAMPLE_PHOTOS)[:limit])
    if name.startswith("folder:"):
        base = _folder_base(Path(name[len("folder:"):]).expanduser(), split)
        items = [Path(f) for f in scan_images(str(base))]
        if not items:
            raise ValueError(f"{base}: no image files found "
                             f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))}, recursively)")
        keys = [str(p.relative_to(base)) for p in items]
        tops = [k.split(os.sep)[0] if os.sep in k else "" for k in keys]
        labels = np.unique(tops, return_inverse=True)[1].reshape(-1)
    elif name in DATASETS:
        root = Path(root).expanduser() if root is not None else cache_dir() / "torchvision"
        items, labels, _ = _torchvision_images(_torchvision_dataset(name, root, split, download),
                                               name)
        keys = [f"{p.parent.name}/{p.name}" if isinstance(p, Path) else f"{name}-{split}-{i}"
                for i, p in enumerate(items)]
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from 'samples', "
                         f"{', '.join(map(repr, DATASETS))} or 'folder:PATH'")
    chosen = sorted(_balanced_order(labels)[:limit].tolist())
    return {keys[i]: items[i] for i in chosen}


# --------------------------------------------------------------------------- common
def _to_lab16(rgb8: torch.Tensor) -> torch.Tensor:
    """Prepared uint8 RGB (N, 3, S, S) -> Lab stored as float16: half the cache, instant reload.

    float16 keeps Lab within 0.04 units (L <= 100, |ab| < 128: spacing 1/16), finer than the 8-bit
    RGB it comes from (one RGB step moves L by up to ~0.4), so nothing visible is lost.
    """
    return LabDataset.from_rgb(rgb8).lab.half()


def _cached(settings: dict, build, use_cache: bool, cache_root):
    path = cache_path(settings, cache_root) if use_cache else None
    payload = load_cache(path) if use_cache else None
    if payload is None:
        payload = build()
        if use_cache:
            save_cache(path, payload)
    return payload


def load_dataset(name: str, root=None, split: str = "train", size: int = 64,
                 download: bool = False, augment: bool = False, limit: int | None = None,
                 cache=True, device=None) -> LabDataset:
    """Load a dataset as a :class:`LabDataset` of S x S Lab images, prepared once and cached on
    disk.

    Parameters
    ----------
    name : str
        "samples" (the offline photos of :func:`sample_photos`; ``split`` is ignored), "cifar10",
        "imagenette" (the 160px version), "flowers102", "places365", "stl10" (through
        torchvision) or "folder:PATH" (every image under PATH; sub-folders are classes; if PATH
        has train/ and test/ (or val/) folders, ``split`` picks one).
    root : str or os.PathLike, optional
        Where torchvision datasets live (default ``<cache>/torchvision``). Unused otherwise.
    split : str
        "train" or "test" (also "val" for flowers102/places365/folders, "unlabeled" for stl10);
        imagenette has "train" and "val" only.
    size : int
        Side S of the prepared images (short side resized to S, then centre crop).
    download : bool
        Let torchvision download a missing dataset (it verifies checksums). If False and the data
        is absent, or if offline, this fails at once with a message saying what to do instead.
    augment : bool
        Random flips and crops in :meth:`LabDataset.batch`.
    limit : int, optional
        Keep only the first ``limit`` images, taken round-robin over classes (balanced,
        deterministic). In a folder, unreadable files are skipped (one
        :class:`ImageSkippedWarning` each, on every load, also from the cache) and the next
        readable ones taken.
    cache : bool or str or os.PathLike
        Use the on-disk cache (``$COLORLAB_CACHE`` or ``~/.cache/colorlab``), or a cache folder.
    device : str or torch.device, optional
        Move the data there (e.g. "cuda": GPU-resident).

    Returns
    -------
    LabDataset
        ``lab`` of shape (N, 3, S, S), float32.

    Raises
    ------
    DatasetNotFoundError
        The data is not on disk and ``download=False`` (or the folder does not exist).
    colorlab.download.OfflineError
        ``download=True`` but the host cannot be reached.
    ValueError
        Unknown name or split, bad size or limit, a folder with no (readable) images.

    Examples
    --------
    >>> ds = load_dataset("samples", size=32, cache=False)
    >>> len(ds), ds.lab.shape
    (7, torch.Size([7, 3, 32, 32]))
    >>> load_dataset("cifar10", root="/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    colorlab.data.sources.DatasetNotFoundError: cifar10 (train split) is not under /nonexistent ...
    """
    size = positive_int(size, "size")
    limit = positive_int(limit, "limit", allow_none=True)
    use_cache = bool(cache)
    cache_root = None if isinstance(cache, bool) else Path(cache)
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    if name == "samples":
        payload, label = _load_samples(size, limit, use_cache, cache_root)
    elif name.startswith("folder:"):
        payload, label = _load_folder(name[len("folder:"):], split, size, limit, use_cache,
                                      cache_root)
    elif name in DATASETS:
        payload, label = _load_torchvision(name, root, split, size, limit, download, use_cache,
                                           cache_root)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from 'samples', "
                         f"{', '.join(map(repr, DATASETS))} or 'folder:PATH'")
    # paths are cached as one "\0"-joined string: 50,000 separate strings unpickle slowly
    paths = payload["paths"].split("\0") if payload["paths"] is not None else None
    return LabDataset(payload["lab"].float(), name=label, paths=paths, labels=payload["labels"],
                               classes=payload["classes"], augment=augment, device=device)
