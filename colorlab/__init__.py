"""colorlab: a small, tested PyTorch library behind the colorlab course on automatic image
colourisation.

Modules by concept: :mod:`colorlab.checkpoint_io` (every checkpoint file read and written one
way), :mod:`colorlab.device`, :mod:`colorlab.color` (sRGB <-> Lab), :mod:`colorlab.pipeline` (how a
photo is resized, made grey and coloured, wherever it is), :mod:`colorlab.filters` (the Gaussian
blur), :mod:`colorlab.data` (images and datasets), :mod:`colorlab.quantize` (the 313-style ab bins),
:mod:`colorlab.models`, :mod:`colorlab.train`, :mod:`colorlab.metrics` (the scores, and
``evaluate``: a model scored on photos; :mod:`colorlab.evaluation` re-exports it),
:mod:`colorlab.viz`, :mod:`colorlab.architecture` (diagrams drawn from the code),
:mod:`colorlab.widgets`, :mod:`colorlab.course`, :mod:`colorlab.checks` and
:mod:`colorlab.assignments`; the command line in :mod:`colorlab.cli` and
:mod:`colorlab.commands`. Submodules load on first use, so ``import colorlab`` stays fast.
"""
import importlib

__version__ = "0.1.0"
_SUBMODULES = {"checkpoint_io", "device", "color", "pipeline", "filters", "data", "io",
               "quantize", "metrics", "evaluation", "viz", "architecture", "models", "train",
               "checks", "widgets", "course", "assignments", "cli", "commands"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"colorlab.{name}")
    raise AttributeError(f"module 'colorlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
