"""Quantised ab space: the bins of Zhang et al.'s "Colorful Image Colorization" (ECCV 2016).

The ab plane is cut into square cells of side ``grid`` (10 by default) centred on multiples of
``grid``; a cell is a *bin* when the rule of the constructor keeps it:

- :meth:`ABQuantizer.from_gamut` keeps the cells that sRGB colours reach. The rule: a cell counts
  when the ab of at least one 8-bit sRGB colour rounds to its centre. Every vertical (L) line
  through the sRGB solid in Lab meets its surface, so the ab footprint of the solid is the footprint
  of the six faces of the RGB cube; we convert the 6 x 256 x 256 face colours with
  :func:`colorlab.color.rgb_to_lab`. The result is **Q = 261** bins (all 16.7M 8-bit colours give
  the same 261: the rule does not depend on the sampling once every 8-bit colour is in).
  Zhang et al. keep **313** cells, "in gamut", chosen from ImageNet; the paper does not state
  their rule, and it is looser than any footprint rule we tried: even counting every grid point
  within 10 ab units of an sRGB colour gives only 290. No 8-bit sRGB pixel's ab falls into a
  cell outside our 261, so a 261-way classifier loses no colour that a photo can hold; the
  explicit-centres constructor below reproduces the published 313 when needed.
- :meth:`ABQuantizer.from_data` keeps the cells that a dataset reaches (CIFAR-10: about 240).
- ``ABQuantizer(centers)`` takes any ``(Q, 2)`` centres, e.g. the 313 of the ECCV16 weights
  (``model_out.weight[:, :, 0, 0].T * 110``).

The k-nearest-bin search behind :meth:`ABQuantizer.soft_encode` is exact and exploits the
regular grid; see :mod:`colorlab.quantize._nearest`.
"""
from colorlab.quantize.bins import ABQuantizer
from colorlab.quantize.loss import soft_cross_entropy

__all__ = ["ABQuantizer", "soft_cross_entropy"]
