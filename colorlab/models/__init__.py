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
from colorlab.models.gan import GANColorizer, PatchDiscriminator, UNetGenerator
from colorlab.pipeline import colorize_image, predict_at_size  # the photo pipeline, re-exported

__all__ = ["build", "MODELS", "ColorizationModel", "colorize_image", "predict_at_size",
           "MSEColorizer", "ClassColorizer",
           "RebalancedClassColorizer", "GANColorizer", "UNetGenerator", "PatchDiscriminator",
           "FusionColorizer", "load_eccv16", "load_checkpoint", "pretrained", "resolve_checkpoint",
           "checkpoint_payload", "model_from_payload", "CheckpointError"]

MODELS = MODEL_NAMES


def __getattr__(name):
    if name == "FusionColorizer":  # imports torchvision: only on demand
        from colorlab.models.fusion import FusionColorizer
        return FusionColorizer
    raise AttributeError(f"module 'colorlab.models' has no attribute {name!r}")


def build(name: str, **kw) -> ColorizationModel:
    """Build a model by name.

    Parameters
    ----------
    name : {"mse", "class", "class-rebal", "gan", "fusion"}
        Which design.
    **kw
        That model's options (see its class): e.g. ``width``, ``upsample``, ``batchnorm``,
        ``dropout``, ``ab_blur``; ``quantizer`` (or ``Q``) and ``T`` for the classification models;
        ``variant="dcgan"``, ``depth`` for the GAN; ``backbone``, ``pretrained`` for fusion.
        ``encoder="efficientnet_lite0"`` builds the photo model of that kind over the
        ImageNet-pretrained encoder instead (:mod:`colorlab.models.photo`): what
        :func:`pretrained` ships.

    Returns
    -------
    ColorizationModel
        ``model.config`` holds these kwargs (JSON-able, with ``"name"``), so
        ``build(**model.config)`` rebuilds the same architecture.

    Raises
    ------
    ValueError
        For an unknown name. TypeError for an unknown keyword.

    Examples
    --------
    >>> build("gan", variant="dcgan").kind
    'gan'
    >>> build("class", Q=313, width=1.0).model_out.weight.shape
    torch.Size([2, 313, 1, 1])
    >>> build("class-rebal", encoder="efficientnet_lite0").multiple
    32
    """
    if kw.get("encoder") is not None:  # over the ImageNet-pretrained encoder: the photo models
        from colorlab.models import photo
        if name in ("mse", "fusion"):
            return photo.PhotoRegressor(name, **kw)
        if name == "hints":
            from colorlab.models.photo_hints import PhotoHintColorizer
            return PhotoHintColorizer(**kw)
        photo_builders = {"class": photo.PhotoClassifier,
                          "class-rebal": photo.PhotoRebalancedClassifier,
                          "gan": photo.PhotoGAN}
        if name not in photo_builders:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
        return photo_builders[name](**kw)
    kw.pop("encoder", None)
    if name == "fusion":
        from colorlab.models.fusion import FusionColorizer
        return FusionColorizer(**kw)
    builders = {"mse": MSEColorizer, "class": ClassColorizer,
                "class-rebal": RebalancedClassColorizer, "gan": GANColorizer}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return builders[name](**kw)
