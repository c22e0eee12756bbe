"""Colourisation models: one interface, five designs, safe checkpoints.

Every model maps L ``(B, 1, H, W)`` in [0, 100] to ab ``(B, 2, H, W)`` in Lab units through
:meth:`~colorlab.models.base.ColorizationModel.colorize` (any H, W), and colours whole photographs
at full resolution with :meth:`~colorlab.models.base.ColorizationModel.colorize_image` (the photo
pipeline of :mod:`colorlab.pipeline`, re-exported here as :func:`colorize_image` and
:func:`predict_at_size`).

===============  ==========================================  ==============  =====  ===========
name             architecture                                kind            width  parameters
===============  ==========================================  ==============  =====  ===========
``mse``          encoder-decoder CNN, tanh ab (baseline)     regression      0.5    1.0M
``class``        Zhang ECCV16 net, Q-bin logits at 1/4       classification  0.25   2.0M
``class-rebal``  the same + class-rebalancing weights        classification  0.25   2.0M
``gan``          pix2pix U-Net + 70x70 PatchGAN (or DCGAN)   gan             0.25   1.0M + 0.2M
``fusion``       Koalarization: encoder + tiled embedding    regression      0.25   1.4M
===============  ==========================================  ==============  =====  ===========

Widths are the course defaults (each model trains on a CPU at 32x32 at hundreds of images per
second); ``width=1.0`` gives the published sizes (ECCV16: 32.2M; pix2pix with ``depth=8``: 54.4M
+ 2.8M). The GAN counts are generator + discriminator; fusion includes its 0.9M
mobilenet_v3_small backbone.

Design variants are switches of one class (``upsample=``, ``batchnorm=``, ``dropout=``,
``ab_blur=``); see :mod:`colorlab.models.layers`. Published ECCV16 weights load with
:func:`load_eccv16`; colorlab checkpoints with :func:`load_checkpoint` (``weights_only=True``).
Names map to classes in :mod:`colorlab.models.registry` (:func:`build`); which weights a
checkpoint stores, and loading them strictly, is :mod:`colorlab.models.state`.

Examples
--------
>>> import torch, colorlab.models as cm
>>> model = cm.build("mse", width=0.25)
>>> model.colorize(torch.full((1, 1, 30, 41), 60.0)).shape
torch.Size([1, 2, 30, 41])
>>> model.config["name"], model.kind
('mse', 'regression')
"""
from __future__ import annotations

from colorlab._shared import MODEL_NAMES
from colorlab.models.base import ColorizationModel
from colorlab.models.baseline import MSEColorizer
from colorlab.models.checkpoint import (
    CheckpointError,
    checkpoint_payload,
    load_checkpoint,
    model_from_payload,
    pretrained,
    resolve_checkpoint,
)
from colorlab.models.eccv16 import ClassColorizer, RebalancedClassColorizer, load_eccv16
from colorlab.models.fusion import FusionColorizer
from colorlab.models.gan import GANColorizer, PatchDiscriminator, UNetGenerator
from colorlab.models.registry import build
from colorlab.pipeline import colorize_image, predict_at_size  # the photo pipeline, re-exported

__all__ = ["build", "MODELS", "ColorizationModel", "colorize_image", "predict_at_size",
           "MSEColorizer", "ClassColorizer",
           "RebalancedClassColorizer", "GANColorizer", "UNetGenerator", "PatchDiscriminator",
           "FusionColorizer", "load_eccv16", "load_checkpoint", "pretrained", "resolve_checkpoint",
           "checkpoint_payload", "model_from_payload", "CheckpointError"]

MODELS = MODEL_NAMES
