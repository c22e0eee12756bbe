"""``build("hints", encoder="efficientnet_lite0")``: the photo U-Net that also takes user hints.

Zhang et al. (SIGGRAPH 2017) give the network the user's points as an ab map and a mask beside L.
Here the ImageNet encoder still sees only the grey photo (it was trained on photos, not on maps);
the hint map (:mod:`colorlab.models.hints`) enters the decoder, pooled to each level's size and
added through 1x1 convolutions that start at zero. So the model starts as the ``mse`` it is
initialised from (``train --init mse``) and learns, from hints simulated out of the true colours,
to spread a clicked colour over the object under it.

Examples
--------
>>> import torch
>>> from colorlab.models.hints import hint_map
>>> model = PhotoHintColorizer(encoder_pretrained=False).eval()
>>> L = torch.full((1, 1, 64, 64), 50.0)
>>> hints = hint_map([(32, 32, 60.0, 40.0)], 64, 64)[None]
>>> model(L).shape, model(L, hints).shape
(torch.Size([1, 2, 64, 64]), torch.Size([1, 2, 64, 64]))
>>> torch.equal(model(L), model(L, hints))      # the hint convolutions start at zero
True
"""
from __future__ import annotations

import torch

from colorlab.models.base import ColorizationModel
from colorlab.models.photo import PhotoUNet, _check_encoder, _full_size, _PhotoBase

__all__ = ["PhotoHintColorizer"]


class PhotoHintColorizer(_PhotoBase, ColorizationModel):
    """ab regression over the pretrained encoder, guided by an optional hint map.

    Parameters
    ----------
    encoder, encoder_pretrained, fine_tune, width, gamut, ab_blur, image_size
        As for :class:`~colorlab.models.photo.PhotoRegressor` ("mse"), whose weights this model's
        share by name (so ``train --init`` copies a trained mse into it).

    Notes
    -----
    ``forward(L, hints=None)``: ``(B, 1, H, W)`` L in [0, 100] and an optional ``(B, 3, H, W)``
    hint map, H and W multiples of 32 -> ``(B, 2, H, W)`` normalised ab. Without hints it is the
    network's own guess.
    """

    kind = "hints"
    _unet_path = "net"

    def __init__(self, encoder: str = "efficientnet_lite0", encoder_pretrained: bool = True,
                 fine_tune: int = 0, width: float = 1.0, gamut: bool = True, ab_blur: float = 0.0,
                 image_size: int | None = None):
        _check_encoder(encoder)
        super().__init__(dict(name="hints", encoder=encoder,
                              encoder_pretrained=encoder_pretrained, fine_tune=fine_tune,
                              width=width, gamut=gamut, ab_blur=ab_blur, image_size=image_size))
        self.net = PhotoUNet(2, 2, width, pretrained=encoder_pretrained, fine_tune=fine_tune,
                             hints=True)

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1, H, W)`` L (+ ``(B, 3, H, W)`` hints) -> ``(B, 2, H, W)`` normalised ab."""
        self.check_input(L)
        if hints is not None and (hints.ndim != 4 or hints.shape[0] != L.shape[0]
                                  or hints.shape[1] != 3 or hints.shape[-2:] != L.shape[-2:]):
            raise ValueError(f"hints must have shape {(L.shape[0], 3, *L.shape[-2:])}, "
                             f"got {tuple(hints.shape)}")
        return _full_size(self.net(L, hints), L)
