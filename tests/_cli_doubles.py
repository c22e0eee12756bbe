"""Stand-ins for colorlab.io / models / data / metrics so the command line can be tested alone.

Install them with :func:`install` (monkeypatch) only when the real modules are missing.
"""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
from PIL import Image

from _train_doubles import TinyDataset, TinyModel


class ImageReadError(ValueError):
    def __init__(self, path, reason):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def read_image(path):
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "no such file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(path, f"not a readable image ({type(e).__name__})") from None


def list_images(path, recursive=True):
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or folder")
    if not root.is_dir():
        return [root]
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
    return sorted(q for q in root.rglob("*") if q.suffix.lower() in exts)


def save_image(path, rgb):
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(path)


class Colorizer(TinyModel):
    """TinyModel with colorize_image: returns an RGB image of the input's size."""

    T = 0.38

    def colorize_image(self, image, size=None):
        arr = np.asarray(image)
        return np.repeat(arr[..., None], 3, -1) if arr.ndim == 2 else arr[..., :3].copy()


def load_checkpoint(spec, map_location="cpu", expect=None):
    if str(spec) == "tiny" or Path(spec).is_file():
        return Colorizer()
    raise FileNotFoundError(f"{spec}: no shipped checkpoint named {spec!r} (expected names: tiny)")


def build(name, **kw):
    model = Colorizer()
    model.config["name"] = name
    return model


class FigureData(TinyDataset):
    def __getitem__(self, i):
        return self.lab[i, :1], self.lab[i, 1:]

    def rgb(self, i):
        from colorlab.color import lab_to_rgb
        return lab_to_rgb(self.lab[i])


def load_dataset(name, root=None, split="train", size=64, limit=None, **kw):
    if name != "samples":
        raise FileNotFoundError(f"unknown dataset {name!r}")
    return FigureData(n=limit or 12, size=8)


def evaluate(model, images, size=64, batch_size=32, **kw):
    keys = ("psnr", "ssim", "auc", "auc_rebalanced", "colorfulness", "colorfulness_gt",
            "colorfulness_ratio", "chroma_ratio")
    return {**{k: 0.5 for k in keys}, "n_images": len(images)}


def install(monkeypatch):
    """Put the doubles in sys.modules for each colorlab module that cannot be imported."""
    import importlib
    import sys
    modules = {"colorlab.io": dict(ImageReadError=ImageReadError, read_image=read_image,
                                   list_images=list_images, save_image=save_image),
               "colorlab.models": dict(load_checkpoint=load_checkpoint, build=build),
               "colorlab.data": dict(load_dataset=load_dataset),
               "colorlab.metrics": dict(evaluate=evaluate)}
    for name, attrs in modules.items():
        try:
            importlib.import_module(name)
        except ImportError:
            monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
