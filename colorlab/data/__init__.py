"""Images and datasets: one way to prepare an image, the offline sample photos, and Lab datasets.

- :func:`prepare_image`: short side resized to ``size`` (bicubic, antialiased), centre crop.
- :func:`sample_photos`: natural colour photos shipped inside scikit-image, scikit-learn,
  matplotlib.
- :func:`load_dataset`: "samples", "cifar10", "imagenette", "flowers102", "places365", "stl10",
  "folder:PATH", as a :class:`LabDataset` (one Lab tensor ``(N, 3, S, S)``, cached on disk,
  optionally on the GPU); :func:`list_photos`: a dataset's photos at their own size, unread.
- :func:`load_mixture`, :func:`mix_datasets`: several sources as one training set, each with its
  share of every batch.
- :func:`toy_squares`: the red-or-blue toy of lessons 03 and 04 (:mod:`colorlab.data.toy`).

Examples
--------
>>> from colorlab.data import load_dataset
>>> ds = load_dataset("samples", size=32, cache=False)
>>> L, ab = ds[0]
>>> L.shape, ab.shape
(torch.Size([1, 32, 32]), torch.Size([2, 32, 32]))
"""
from .cache import cache_dir
from .dataset import LabDataset, augment_lab, prepare_stack
from .mixture import load_mixture, mix_datasets
from .prepare import SAMPLE_PHOTOS, prepare_batch, prepare_image, sample_photos
from .sources import DATASETS, DatasetNotFoundError, ImageSkippedWarning, list_photos, load_dataset
from .toy import TOY_BLUE, TOY_RED, toy_squares

__all__ = ["prepare_image", "prepare_batch", "prepare_stack", "sample_photos", "SAMPLE_PHOTOS",
           "load_dataset", "LabDataset", "augment_lab", "cache_dir", "DATASETS",
           "DatasetNotFoundError", "ImageSkippedWarning", "list_photos", "toy_squares", "TOY_RED",
           "TOY_BLUE", "load_mixture", "mix_datasets"]
