"""The MSE baseline: a plain encoder-decoder CNN that regresses ab (lesson 03).

The seeds' baseline (Wallner's "beta" network): 3x3 convolutions, **no pooling** (three stride-2
convolutions halve the resolution), a dropout layer, three upsampling steps back to full size and a
``tanh`` output, read as ab / 110. Trained with a mean squared error on ab, it goes sepia: the
conditional mean of a multimodal colour distribution is a desaturated brown.

Layer plan at ``width=1.0`` (channels; ``/2`` marks a stride-2 convolution, ``x2`` an upsampling)::

    1 -> 64 -> 64/2 -> 128 -> 128/2 -> 256 -> 256/2 -> 512 -> 256   (encoder, 1/8 resolution)
    dropout -> 128 -> x2 64 -> x2 32 -> x2 -> 2, tanh              (decoder, full resolution)

Examples
--------
>>> import torch
>>> model = MSEColorizer(width=0.25)
>>> model(torch.full((2, 1, 32, 32), 50.0)).shape
torch.Size([2, 2, 32, 32])
"""
from __future__ import annotations

import torch
from torch import nn

from colorlab.color import normalize_l
from colorlab.models.base import ColorizationModel
from colorlab.models.layers import channels, conv_block, up_block

__all__ = ["MSEColorizer"]


class MSEColorizer(ColorizationModel):
    """Encoder-decoder CNN regressing normalised ab (``kind="regression"``).

    Parameters
    ----------
    width : float
        Channel multiplier of the layer plan above. The course default 0.5 (~1.0M parameters)
        trains on a CPU at 32x32 (hundreds of images/s); 1.0 is the seeds' size (~3.9M).
    upsample : {"nearest", "bilinear", "transpose"}
        How the decoder doubles the resolution.
    batchnorm : bool
        BatchNorm after every encoder/decoder stage.
    dropout : float
        Dropout2d probability at the bottleneck (0 disables).
    ab_blur : float
        If > 0, a fixed Gaussian filter of this sigma (pixels) on the predicted ab in
        :meth:`colorize`.
    image_size : int, optional
        The size the model is trained at; :meth:`colorize_image`'s default prediction size.

    Notes
    -----
    ``forward(L)``: ``(B, 1, H, W)`` L in [0, 100], H and W multiples of 8 ->
    ``(B, 2, H, W)`` normalised ab in [-1, 1] (multiply by 110 for Lab units).
    """

    kind = "regression"
    multiple = 8

    def __init__(self, width: float = 0.5, upsample: str = "nearest", batchnorm: bool = True,
                 dropout: float = 0.2, ab_blur: float = 0.0, image_size: int | None = None):
        super().__init__(dict(name="mse", width=width, upsample=upsample, batchnorm=batchnorm,
                              dropout=dropout, ab_blur=ab_blur, image_size=image_size))
        c = lambda n: channels(n, width)  # noqa: E731 - a local shorthand for the plan below
        bn = dict(batchnorm=batchnorm)
        self.encoder = nn.Sequential(
            conv_block(1, c(64), **bn),
            conv_block(c(64), c(64), stride=2, **bn),
            conv_block(c(64), c(128), **bn),
            conv_block(c(128), c(128), stride=2, **bn),
            conv_block(c(128), c(256), **bn),
            conv_block(c(256), c(256), stride=2, **bn),
            conv_block(c(256), c(512), **bn),
            conv_block(c(512), c(256), dropout=dropout, **bn),
        )
        self.decoder = nn.Sequential(
            conv_block(c(256), c(128), **bn),
            up_block(c(128), c(64), upsample),
            up_block(c(64), c(32), upsample),
            up_block(c(32), c(32), upsample),
            nn.Conv2d(c(32), 2, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L in [0, 100] -> ``(B, 2, H, W)`` normalised ab in [-1, 1]."""
        self.check_input(L)
        return self.decoder(self.encoder(normalize_l(L)))
