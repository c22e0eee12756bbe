"""Deep Koalarization (Baldassarre et al. 2017): global classifier features fused into a CNN
(lesson 07).

An encoder takes L down to 1/8 resolution (8 convolutions, 3 of them stride 2). In parallel, an
image classifier (a torchvision backbone) looks at the whole grey image and returns one embedding
vector; the vector is **tiled** over the encoder's 1/8 grid, **concatenated** with the encoder
features and **mixed** by a 1x1 convolution back to 256 channels (width-scaled). A decoder with
three upsampling steps returns ab through a tanh, read as ab / 110 (an MSE-trained regression
model).

Backbone weights
----------------
``pretrained=True`` asks torchvision for its ImageNet weights (downloaded once into the torch hub
cache: this needs the network) and freezes the backbone, as in the paper. Offline, and by default,
``pretrained=False``: the backbone starts from random weights and is trained together with the
colouriser on the course data. Loading a checkpoint never downloads: its weights are in the file.

Examples
--------
>>> import torch
>>> model = FusionColorizer()          # mobilenet_v3_small backbone, random init (offline)
>>> model(torch.full((2, 1, 32, 32), 50.0)).shape
torch.Size([2, 2, 32, 32])
"""
from __future__ import annotations

import torch
from torch import nn

from colorlab.color import normalize_l
from colorlab.models.base import ColorizationModel
from colorlab.models.layers import channels, conv_block, up_block
from colorlab.pipeline import gray_rgb, resize_rgb

__all__ = ["FusionColorizer", "make_backbone"]

_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_backbone(name: str = "mobilenet_v3_small",
                  pretrained: bool = False) -> tuple[nn.Module, int]:
    """A torchvision classifier with its last layer removed, and the size of its embedding.

    Parameters
    ----------
    name : str
        Any torchvision classification model with an ``fc`` or ``classifier`` head
        (``"mobilenet_v3_small"``, ``"resnet18"``, ...).
    pretrained : bool
        Load torchvision's default ImageNet weights (needs the network the first time).

    Returns
    -------
    backbone : nn.Module
        ``(B, 3, H, W)`` ImageNet-normalised RGB -> ``(B, E)`` embedding.
    dim : int
        E (576 for mobilenet_v3_small, 512 for resnet18).
    """
    import torchvision
    try:
        net = torchvision.models.get_model(name, weights="DEFAULT" if pretrained else None)
    except ValueError as e:
        raise ValueError(f"unknown torchvision backbone {name!r}: {e}") from None
    except (OSError, RuntimeError) as e:  # URLError is an OSError
        raise RuntimeError(f"could not download the ImageNet weights of {name!r} ({e}); offline, "
                           "use pretrained=False (random backbone, trained on the "
                           "course data)") from e
    if hasattr(net, "fc"):
        net.fc = nn.Identity()
    elif hasattr(net, "classifier"):
        net.classifier = nn.Identity()
    else:
        raise ValueError(f"backbone {name!r} has no 'fc' or 'classifier' head to remove")
    was_training = net.training
    with torch.no_grad():
        dim = net.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
    net.train(was_training)
    return net, int(dim)


class FusionColorizer(ColorizationModel):
    """``build("fusion")``: encoder + tiled global embedding + decoder (``kind="regression"``).

    Parameters
    ----------
    width : float
        Multiplier of the paper's channels (encoder 64..512, fusion 256). Course default 0.25.
    backbone : str
        torchvision classifier giving the global embedding (default ``"mobilenet_v3_small"``,
        2.5M parameters; ``"resnet18"`` also works).
    pretrained : bool
        ImageNet weights for the backbone (online only); default False (random, trained with us).
    freeze_backbone : bool, optional
        Keep the backbone fixed (and in eval mode). Default: ``pretrained``.
    backbone_size : int, optional
        Resize the grey image to this square size for the backbone (224 suits ImageNet weights).
        Default: 224 when pretrained, else the input size as is.
    upsample, batchnorm, ab_blur, image_size
        As for :class:`colorlab.models.baseline.MSEColorizer`.

    Notes
    -----
    ``forward(L)``: ``(B, 1, H, W)`` L in [0, 100], H and W multiples of 8 -> ``(B, 2, H, W)``
    normalised ab in [-1, 1].
    """

    kind = "regression"
    multiple = 8

    def __init__(self, width: float = 0.25, backbone: str = "mobilenet_v3_small",
                 pretrained: bool = False,
                 freeze_backbone: bool | None = None, backbone_size: int | None = None,
                 upsample: str = "nearest", batchnorm: bool = True, ab_blur: float = 0.0,
                 image_size: int | None = None):
        freeze = bool(pretrained if freeze_backbone is None else freeze_backbone)
        if backbone_size is None and pretrained:
            backbone_size = 224
        super().__init__(dict(name="fusion", width=width, backbone=backbone, pretrained=pretrained,
                              freeze_backbone=freeze, backbone_size=backbone_size,
                              upsample=upsample, batchnorm=batchnorm, ab_blur=ab_blur,
                              image_size=image_size))
        c = lambda n: channels(n, width)  # noqa: E731 - shorthand for the layer plan
        bn = dict(batchnorm=batchnorm)
        self.encoder = nn.Sequential(
            conv_block(1, c(64), stride=2, **bn), conv_block(c(64), c(128), **bn),
            conv_block(c(128), c(128), stride=2, **bn), conv_block(c(128), c(256), **bn),
            conv_block(c(256), c(256), stride=2, **bn), conv_block(c(256), c(512), **bn),
            conv_block(c(512), c(512), **bn), conv_block(c(512), c(256), **bn),
        )
        self.backbone, dim = make_backbone(backbone, pretrained)
        if freeze:
            self.backbone.requires_grad_(False)
        self.register_buffer("rgb_mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("rgb_std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self.fuse = nn.Sequential(nn.Conv2d(c(256) + dim, c(256), 1), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            conv_block(c(256), c(128), **bn), up_block(c(128), c(64), upsample),
            conv_block(c(64), c(64), **bn), up_block(c(64), c(32), upsample),
            conv_block(c(32), c(32), **bn), up_block(c(32), c(16), upsample),
            nn.Conv2d(c(16), 2, 3, padding=1), nn.Tanh(),
        )

    def train(self, mode: bool = True):
        """Set train/eval mode; a frozen backbone always stays in eval mode."""
        super().train(mode)
        if self._config["freeze_backbone"]:
            self.backbone.eval()
        return self

    def embed(self, L: torch.Tensor) -> torch.Tensor:
        """The backbone's global embedding of the grey image: ``(B, 1, H, W)`` L -> ``(B, E)``.

        The backbone sees the grey photo as a camera stores it (the sRGB value of each L,
        :func:`colorlab.pipeline.gray_rgb`), resized to ``backbone_size`` square as the pipeline
        resizes every photo (:func:`colorlab.pipeline.resize_rgb`) and ImageNet-normalised: what
        its ImageNet weights expect.
        """
        grey = gray_rgb(L)
        size = self._config["backbone_size"]
        if size:
            grey = resize_rgb(grey, (size, size))
        return self.backbone((grey - self.rgb_mean) / self.rgb_std)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L in [0, 100] -> ``(B, 2, H, W)`` normalised ab in [-1, 1]."""
        self.check_input(L)
        x = self.encoder(normalize_l(L))
        e = self.embed(L)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return self.decoder(self.fuse(torch.cat([x, e], dim=1)))
