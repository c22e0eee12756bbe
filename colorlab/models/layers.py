"""Building blocks shared by every colorlab model, and the design-variant switches.

The seeds compare a handful of design choices on the same network; here each one is a switch,
so one class covers every variant instead of one copy per variant:

- ``upsample="nearest" | "bilinear" | "transpose"``: :func:`up_block`
- ``batchnorm=True | False``: :func:`conv_block`
- ``dropout=p``: :func:`conv_block` (and the models' own dropout points)
- ``ab_blur=sigma``: :class:`GaussianBlur`, a fixed Gaussian filter on the predicted ab

Plus the padding helpers that let every model colourise an image of any size.

Examples
--------
>>> import torch
>>> block = conv_block(1, 8, n=2, stride=2)
>>> block(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 8, 16, 16])
>>> up_block(8, 4, "transpose")(torch.zeros(2, 8, 16, 16)).shape
torch.Size([2, 4, 32, 32])
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.filters import gaussian_blur, gaussian_radius

__all__ = ["UPSAMPLE_MODES", "channels", "conv_block", "up_block", "GaussianBlur",
           "pad_to_multiple", "crop_to"]

UPSAMPLE_MODES = ("nearest", "bilinear", "transpose")


def channels(n: int, width: float, minimum: int = 4) -> int:
    """Scale a published channel count ``n`` by the width knob.

    Parameters
    ----------
    n : int
        Channel count at ``width=1.0`` (the published network).
    width : float
        Width multiplier, > 0.
    minimum : int
        Never go below this many channels.

    Returns
    -------
    int
        ``max(minimum, round(n * width))``.

    Examples
    --------
    >>> channels(512, 0.25), channels(64, 1.0), channels(64, 0.01)
    (128, 64, 4)
    """
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    return max(minimum, int(round(n * width)))


def conv_block(cin: int, cout: int, n: int = 1, stride: int = 1, dilation: int = 1,
               batchnorm: bool = True, dropout: float = 0.0) -> nn.Sequential:
    """``n`` 3x3 convolutions with ReLU; the last one has ``stride``; BatchNorm and dropout at the
    end.

    This is the ECCV16 block layout (``conv, relu, conv, relu, ..., batchnorm``), so at the
    defaults its state_dict keys are ``0.weight, 2.weight, ..., 2n.weight`` (BatchNorm).

    Parameters
    ----------
    cin, cout : int
        Input and output channels.
    n : int
        Number of convolutions.
    stride : int
        Stride of the last convolution (2 halves H and W).
    dilation : int
        Dilation of every convolution (padding follows, so the size is kept).
    batchnorm : bool
        Append a BatchNorm2d (the seeds' "batch normalisation" switch).
    dropout : float
        Append a Dropout2d with this probability when > 0.

    Returns
    -------
    nn.Sequential
        Maps ``(B, cin, H, W)`` to ``(B, cout, H / stride, W / stride)`` (H, W multiples of stride).
    """
    layers: list[nn.Module] = []
    for i in range(n):
        s = stride if i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride=s, padding=dilation,
                             dilation=dilation, bias=True), nn.ReLU(inplace=True)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(cout))
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


def up_block(cin: int, cout: int, mode: str = "nearest") -> nn.Sequential:
    """Double H and W, mapping ``cin`` to ``cout`` channels (followed by ReLU).

    Parameters
    ----------
    cin, cout : int
        Input and output channels.
    mode : {"nearest", "bilinear", "transpose"}
        ``"nearest"`` / ``"bilinear"``: fixed upsampling then a 3x3 convolution;
        ``"transpose"``: a learned 4x4 stride-2 transposed convolution (can show checkerboards).

    Returns
    -------
    nn.Sequential
        Maps ``(B, cin, H, W)`` to ``(B, cout, 2H, 2W)``.

    Examples
    --------
    >>> import torch
    >>> up_block(4, 2, "bilinear")(torch.zeros(1, 4, 3, 5)).shape
    torch.Size([1, 2, 6, 10])
    """
    if mode == "transpose":
        return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1),
                             nn.ReLU(inplace=True))
    if mode in ("nearest", "bilinear"):
        up = nn.Upsample(scale_factor=2, mode=mode,
                         **({"align_corners": False} if mode == "bilinear" else {}))
        return nn.Sequential(up, nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))
    raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {mode!r}")


class GaussianBlur(nn.Module):
    """A fixed (not learned) Gaussian filter, the seeds' smoothing of the predicted ab.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, > 0. The kernel has radius ``ceil(3 * sigma)``.
    channels : int
        Number of channels filtered independently (2 for ab).

    Notes
    -----
    The filter is :func:`colorlab.filters.gaussian_blur` (the one the metrics use), with replicate
    borders; the size is kept. It has no weights: the model's config records ``sigma``, so nothing
    of it appears in a checkpoint.

    Examples
    --------
    >>> import torch
    >>> blur = GaussianBlur(1.0)
    >>> x = torch.zeros(1, 2, 9, 9); x[:, :, 4, 4] = 1
    >>> y = blur(x)
    >>> y.shape, round(float(y.sum()), 4)
    (torch.Size([1, 2, 9, 9]), 2.0)
    """

    def __init__(self, sigma: float, channels: int = 2):
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"ab_blur sigma must be > 0, got {sigma!r}")
        self.sigma, self.channels = float(sigma), channels
        self.radius = gaussian_radius(self.sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x`` of shape ``(B, channels, H, W)``; returns the same shape."""
        return gaussian_blur(x, self.sigma, self.radius, padding="replicate")

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, channels={self.channels}"


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W (bottom and right, replicate) up to a multiple of ``multiple``.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, H, W)``, any H, W >= 1.
    multiple : int
        Target multiple (8 for a network with three stride-2 steps).

    Returns
    -------
    padded : torch.Tensor
        ``(B, C, H', W')`` with H', W' the next multiples.
    size : tuple of int
        The original ``(H, W)``, for :func:`crop_to`.

    Examples
    --------
    >>> import torch
    >>> y, hw = pad_to_multiple(torch.zeros(1, 1, 31, 45), 8)
    >>> y.shape, hw
    (torch.Size([1, 1, 32, 48]), (31, 45))
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size = (H, W)`` of ``(B, C, H', W')``."""
    return x[..., :size[0], :size[1]]
