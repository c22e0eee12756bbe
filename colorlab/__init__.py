"""colorlab: a small, tested PyTorch library behind the colorlab course on automatic image
colourisation.

Modules by concept: :mod:`colorlab.color` (sRGB <-> Lab), :mod:`colorlab.data` (images and
datasets), :mod:`colorlab.quantize` (the 313-style ab bins), :mod:`colorlab.models`,
:mod:`colorlab.train`, :mod:`colorlab.metrics`, :mod:`colorlab.viz`, :mod:`colorlab.widgets`,
:mod:`colorlab.checks` and :mod:`colorlab.assignments`. Submodules load on first use, so
``import colorlab`` stays fast.
"""
import importlib

__version__ = "0.1.0"
_SUBMODULES = {"color", "data", "io", "quantize", "metrics", "viz", "models", "train", "checks",
               "widgets", "assignments", "cli"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"colorlab.{name}")
    raise AttributeError(f"module 'colorlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
