"""Zhang, Isola and Efros (ECCV 2016): colourisation as classification over ab bins (lessons 04-05).

A VGG-style network without pooling predicts, at 1/4 of the input resolution, logits over the Q
ab bins of a :class:`colorlab.quantize.ABQuantizer`; :meth:`ClassColorizer.colorize` decodes them
with the annealed mean (temperature ``T``, default 0.38) and upsamples ab to the input size.

Layer plan (channels at ``width=1.0``; blocks end in BatchNorm; ``/2`` stride 2, ``d2``
dilation 2)::

    model1  1 -> 64 -> 64/2            model5  512 x3 d2
    model2  128 -> 128/2               model6  512 x3 d2
    model3  256 -> 256 -> 256/2        model7  512 x3
    model4  512 x3                     model8  4x4 transposed conv x2 -> 256, 256, 256,
                                               1x1 -> Q logits
    model_out  1x1, bias-free, Q -> 2: its weight is the bin centres / 110 (a buffer, never trained)

At ``width=1.0`` and Q = 313 the state_dict keys and shapes are exactly those of the published
weights (``model1.0.weight`` ... ``model8.6.weight``, ``model_out.weight`` [2, 313, 1, 1]; 32.2M
parameters), which :func:`load_eccv16` loads. The course default ``width=0.25`` (~2M parameters)
trains on a CPU at 32x32.

Examples
--------
>>> import torch
>>> model = ClassColorizer(Q=261, width=0.25)   # centres come from a checkpoint or a quantizer
>>> model(torch.full((2, 1, 32, 32), 50.0)).shape
torch.Size([2, 261, 8, 8])
"""
from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorlab.checkpoint_io import CheckpointError, read_checkpoint
from colorlab.color import AB_SCALE, normalize_l
from colorlab.models.base import ColorizationModel
from colorlab.models.layers import channels, conv_block, up_block
from colorlab.models.state import load_state
from colorlab.quantize import ABQuantizer

__all__ = ["ClassColorizer", "RebalancedClassColorizer", "BinCenters", "load_eccv16",
           "ECCV16_URL", "ECCV16_SHA256_PREFIX"]

ECCV16_URL = "https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth"
ECCV16_SHA256_PREFIX = "9b330a0b"  # torch.hub convention: the hash prefix is in the file name


def check_temperature(T) -> float:
    """``T`` as a float if it is a positive, finite number, else a ValueError that says so.

    Examples
    --------
    >>> check_temperature(0.38)
    0.38
    >>> check_temperature(0)
    Traceback (most recent call last):
    ...
    ValueError: temperature T must be a positive, finite number (0.38 in the paper), got 0
    """
    try:
        value = float(T)  # int, float, numpy or 0-d tensor
    except (TypeError, ValueError, RuntimeError):
        value = math.nan
    if isinstance(T, bool) or not (value > 0 and math.isfinite(value)):
        raise ValueError("temperature T must be a positive, finite number (0.38 in the paper), "
                         f"got {T!r}")
    return value


class BinCenters(nn.Module):
    """ECCV16's ``model_out``: a bias-free 1x1 projection from Q bin probabilities to ab / 110.

    Its ``weight`` (2, Q, 1, 1) is a *buffer* holding the bin centres / 110, so a checkpoint carries
    its own bins and the quantizer can be rebuilt from it. ``forward(probs)`` is the plain mean
    (the annealed mean at T = 1), in normalised ab.

    Parameters
    ----------
    centers : torch.Tensor
        ``(Q, 2)`` bin centres in Lab units.
    """

    def __init__(self, centers: torch.Tensor):
        super().__init__()
        centers = torch.as_tensor(centers, dtype=torch.float32)
        self.register_buffer("weight", (centers / AB_SCALE).T[:, :, None, None].clone())

    @property
    def centers(self) -> torch.Tensor:
        """``(Q, 2)`` bin centres in Lab units."""
        return (self.weight[:, :, 0, 0].T * AB_SCALE).round(decimals=4)  # exact grid values again

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        """``(B, Q, h, w)`` probabilities -> ``(B, 2, h, w)`` expected ab / 110."""
        return F.conv2d(probs, self.weight.to(probs.dtype))


class ClassColorizer(ColorizationModel):
    """The Zhang-style classification network (``build("class")``, ``kind="classification"``).

    Parameters
    ----------
    quantizer : ABQuantizer, optional
        The ab bins (anything with ``.centers`` (Q, 2) and ``.decode(logits, T)``). Default:
        ``ABQuantizer.from_gamut()`` (~261 bins of the 10-grid reachable in sRGB), unless ``Q`` is
        given, in which case the centres are left for a checkpoint to fill.
    Q : int, optional
        Number of bins when no quantizer is passed (rebuilding from a checkpoint's config).
    width : float
        Channel multiplier; 1.0 is the published network. Course default 0.25.
    T : float
        Annealed-mean temperature used by :meth:`colorize` (0.38 in the paper; 1 = mean).
    upsample : {"transpose", "nearest", "bilinear"}
        ``model8``'s upsampling; "transpose" is the published 4x4 transposed convolution (the
        other modes shift ``model8``'s key names, so they cannot load published weights).
    batchnorm : bool
        BatchNorm at the end of blocks 1-7 (published: True).
    dropout : float
        Dropout2d after blocks 5, 6 and 7 when > 0 (published: 0).
    ab_blur : float
        If > 0, a fixed Gaussian filter (sigma in input pixels) on the decoded, upsampled ab.
    grid : int
        Grid step of the bins, passed to the rebuilt :class:`ABQuantizer`.
    image_size : int, optional
        Training size; :meth:`colorize_image`'s default prediction size.

    Notes
    -----
    ``forward(L)``: ``(B, 1, H, W)`` L in [0, 100], H and W multiples of 8 -> ``(B, Q, H/4, W/4)``
    logits. ``colorize(L)`` -> ``(B, 2, H, W)`` ab at any H, W.
    """

    kind = "classification"
    multiple = 8
    name = "class"
    _extra_keys: tuple = ()  # extra config keys a subclass adds (class-rebal: lam, sigma)

    def __init__(self, quantizer=None, Q: int | None = None, width: float = 0.25, T: float = 0.38,
                 upsample: str = "transpose", batchnorm: bool = True, dropout: float = 0.0,
                 ab_blur: float = 0.0, grid: int = 10, image_size: int | None = None, **extra):
        unknown = set(extra) - set(self._extra_keys)
        if unknown:
            raise TypeError(f"build({self.name!r}): unexpected keyword(s) {sorted(unknown)}")
        T = check_temperature(T)
        if quantizer is None and Q is None:
            quantizer = ABQuantizer.from_gamut()
        if quantizer is not None:
            centers = torch.as_tensor(quantizer.centers, dtype=torch.float32).detach().cpu()
            if Q is not None and int(Q) != len(centers):
                raise ValueError(f"Q={Q} but the quantizer has {len(centers)} bins")
            Q = len(centers)
            grid = getattr(quantizer, "grid", grid)
        else:
            centers = torch.zeros(int(Q), 2)
        super().__init__(dict(name=self.name, Q=int(Q), width=width, T=T, upsample=upsample,
                              batchnorm=batchnorm, dropout=dropout, ab_blur=ab_blur, grid=grid,
                              image_size=image_size, **extra))
        self.T = T
        object.__setattr__(self, "_quantizer_cache", quantizer)  # never a registered submodule
        self._build_network(int(Q), width=width, upsample=upsample, batchnorm=batchnorm,
                            dropout=dropout)
        self.model_out = BinCenters(centers)

    def _build_network(self, Q: int, width, upsample, batchnorm, dropout) -> None:
        """The layers from L to Q logits (subclasses with another network override this and
        forward)."""
        c = lambda n: channels(n, width)  # noqa: E731 - shorthand for the layer plan
        bn = dict(batchnorm=batchnorm)
        self.model1 = conv_block(1, c(64), n=2, stride=2, **bn)
        self.model2 = conv_block(c(64), c(128), n=2, stride=2, **bn)
        self.model3 = conv_block(c(128), c(256), n=3, stride=2, **bn)
        self.model4 = conv_block(c(256), c(512), n=3, **bn)
        self.model5 = conv_block(c(512), c(512), n=3, dilation=2, dropout=dropout, **bn)
        self.model6 = conv_block(c(512), c(512), n=3, dilation=2, dropout=dropout, **bn)
        self.model7 = conv_block(c(512), c(512), n=3, dropout=dropout, **bn)
        self.model8 = nn.Sequential(
            *up_block(c(512), c(256), upsample),
            *conv_block(c(256), c(256), n=2, batchnorm=False),
            nn.Conv2d(c(256), int(Q), 1),
        )

    @property
    def T(self) -> float:
        """Annealed-mean temperature used by :meth:`colorize`; setting it checks it is positive and
        finite."""
        return self._T

    @T.setter
    def T(self, value) -> None:
        object.__setattr__(self, "_T", check_temperature(value))

    @property
    def config(self) -> dict:
        """The build kwargs (JSON-able), with the current temperature ``T``."""
        return dict(self._config, T=float(self.T))

    @property
    def centers(self) -> torch.Tensor:
        """``(Q, 2)`` bin centres in Lab units (read from ``model_out.weight``)."""
        return self.model_out.centers

    @property
    def quantizer(self):
        """The model's :class:`ABQuantizer`, rebuilt from :attr:`centers` when they change."""
        centers = self.centers.detach().float().cpu()
        q = self._quantizer_cache
        if q is not None:
            qc = torch.as_tensor(q.centers).detach().float().cpu()
            if qc.shape == centers.shape and torch.allclose(qc, centers, atol=1e-3):
                return q
        q = ABQuantizer(centers, grid=self._config["grid"])
        object.__setattr__(self, "_quantizer_cache", q)
        return q

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` L in [0, 100] -> ``(B, Q, H/4, W/4)`` bin logits."""
        self.check_input(L)
        x = normalize_l(L)
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5,
                      self.model6, self.model7, self.model8):
            x = block(x)
        return x

    def output_to_ab(self, out: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Decode ``(B, Q, h, w)`` logits (annealed mean at ``self.T``) -> ``(B, 2, *size)`` ab."""
        q = self.quantizer
        if hasattr(q, "to"):
            q = q.to(out.device) or q
        ab = q.decode(out.float(), T=self.T)
        return F.interpolate(ab, size=tuple(size), mode="bilinear", align_corners=False)


class RebalancedClassColorizer(ClassColorizer):
    """``build("class-rebal")``: :class:`ClassColorizer` plus class-rebalancing weights.

    Parameters
    ----------
    lam : float
        Mixing of the smoothed prior with the uniform distribution, in [0, 1] (0.5 in the paper).
    sigma : float
        Gaussian smoothing of the prior over the ab plane (5 in the paper).
    **kw
        As for :class:`ClassColorizer`.

    Attributes
    ----------
    class_weights : torch.Tensor
        ``(Q,)`` buffer, all ones until :meth:`set_prior` is called; saved in checkpoints.

    Examples
    --------
    >>> import torch
    >>> model = RebalancedClassColorizer(Q=261)
    >>> model.class_weights.shape
    torch.Size([261])
    """

    name = "class-rebal"
    _extra_keys = ("lam", "sigma")

    def __init__(self, quantizer=None, lam: float = 0.5, sigma: float = 5.0, **kw):
        if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0 <= lam <= 1:
            raise ValueError(f"build({self.name!r}): lam must be in [0, 1], got {lam!r}")
        super().__init__(quantizer, lam=lam, sigma=sigma, **kw)
        self.register_buffer("class_weights", torch.ones(self._config["Q"]))

    def set_prior(self, prior: torch.Tensor) -> torch.Tensor:
        """Set :attr:`class_weights` from an empirical prior ``(Q,)``
        (``quantizer.rebalance_weights``).

        Returns the new weights ``(Q,)``.
        """
        w = self.quantizer.rebalance_weights(torch.as_tensor(prior), lam=self._config["lam"],
                                             sigma=self._config["sigma"])
        self.class_weights.copy_(torch.as_tensor(w, dtype=torch.float32))
        return self.class_weights

    def pixel_weights(self, ab: torch.Tensor) -> torch.Tensor:
        """Per-pixel loss weights: ``(B, 2, H, W)`` ab -> ``(B, H, W)``, the weight of each nearest
        bin."""
        idx = self.quantizer.hard_encode(ab)
        return self.class_weights.to(idx.device)[idx]


def _check_hash(path: Path, prefix: str) -> None:
    from colorlab.download import sha256sum
    digest = sha256sum(path)
    if not digest.startswith(prefix):
        raise ValueError(f"{path}: SHA-256 {digest[:12]}... does not match the expected "
                         f"{prefix}...; the download is corrupt or not the ECCV16 release")


def load_eccv16(path_or_url=ECCV16_URL, map_location="cpu", sha256: str | None = None,
                T: float = 0.38) -> ClassColorizer:
    """Load the published ECCV16 weights into a full-width :class:`ClassColorizer`.

    Parameters
    ----------
    path_or_url : str or Path
        A local ``.pth`` state_dict, or an ``http(s)://`` URL (default: the authors' release),
        downloaded through :func:`colorlab.download.download` into ``<cache>/weights/`` (see
        :func:`colorlab.data.cache.cache_dir`) and checked by SHA-256 (the prefix in the file name,
        torch.hub style, or ``sha256``): a file with another hash is refused and not kept. Only
        URLs touch the network.
    map_location : str or torch.device
        Passed to ``torch.load`` (which runs with ``weights_only=True``).
    sha256 : str, optional
        Expected SHA-256 (or a prefix) of the file; checked for local files too when given.
    T : float
        Annealed-mean temperature of the returned model.

    Returns
    -------
    ClassColorizer
        ``width=1.0``; its Q bins (313 for the release) are read from ``model_out.weight`` x 110.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, wrong hash, or a file that is not an ECCV16 state_dict (the message names it).
    colorlab.download.DownloadError
        A URL could not be fetched (``OfflineError``) or its bytes have another SHA-256
        (``ChecksumError``; nothing is left in the cache).

    Examples
    --------
    >>> model = load_eccv16("colorization_release_v2-9b330a0b.pth")  # doctest: +SKIP
    >>> model.quantizer.Q                                             # doctest: +SKIP
    313
    """
    src = str(path_or_url)
    if src.startswith(("http://", "https://")):
        from colorlab.data.cache import cache_dir
        from colorlab.download import download
        name = src.split("?", 1)[0].rsplit("/", 1)[-1] or "eccv16.pth"
        m = re.search(r"-([0-9a-f]{8,64})\.", name)
        sha256 = sha256 or (m.group(1) if m else None)
        path = Path(download(src, cache_dir() / "weights" / name, sha256))  # verified, or not kept
    else:
        path = Path(src)
    if sha256:
        _check_hash(path, sha256.lower())
    state = read_checkpoint(path, map_location)
    if not isinstance(state, dict) or "model_out.weight" not in state:
        raise CheckpointError(path, "not an ECCV16 state_dict (no 'model_out.weight'); for "
                                    "colorlab checkpoints use colorlab.models.load_checkpoint")
    w = state["model_out.weight"]
    if w.ndim != 4 or w.shape[0] != 2 or w.shape[2:] != (1, 1):
        raise CheckpointError(path, f"model_out.weight has shape {tuple(w.shape)}, "
                                    "expected [2, Q, 1, 1]")
    model = ClassColorizer(Q=w.shape[1], width=1.0, T=T)
    load_state(model, state, path, optional=("num_batches_tracked",))
    return model
