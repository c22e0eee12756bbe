"""Tiny datasets and real colorlab models of a few hundred weights (tests only, never the
library).

The models are :class:`colorlab.models.ColorizationModel` subclasses, so the engine runs its real
code on them (the working size they adopt, ``colorize``, checkpoints); the classifiers are
:class:`~colorlab.models.ClassColorizer` and :class:`~colorlab.models.RebalancedClassColorizer`
with a smaller network, so the real bins, decoding, prior and per-pixel weights run under test.
:func:`break_checkpoint_writes` makes the n-th checkpoint write fail the way a real disk would.
Run as a script, this module is the training worker the interruption tests start and kill.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab import checkpoint_io  # noqa: E402
from colorlab.color import normalize_l, rgb_to_lab  # noqa: E402
from colorlab.models import (  # noqa: E402
    ClassColorizer,
    ColorizationModel,
    RebalancedClassColorizer,
)


class TinyDataset:
    """In-memory Lab images: ``lab`` (N,3,S,S); ``batch`` flips with the given generator."""

    def __init__(self, n=12, size=8, seed=0, augment=True, delay=0.0, grey=False, fail_at=None):
        g = torch.Generator().manual_seed(seed)
        rgb = torch.rand(n, 3, size, size, generator=g)
        if grey:
            rgb = rgb.mean(1, keepdim=True).expand(-1, 3, -1, -1)
        self.lab = rgb_to_lab(rgb.contiguous())
        if grey:
            self.lab[:, 1:] = 0
        self.size, self.augment, self.delay, self.device = size, augment, delay, torch.device("cpu")
        self.name, self.paths = "tiny", None
        self.fail_at, self.calls = fail_at, 0  # raise on the fail_at-th batch: an interruption

    def __len__(self):
        return len(self.lab)

    def batch(self, indices, generator=None):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated interruption")
        lab = self.lab[indices]
        if self.augment:
            flip = torch.rand(len(indices), generator=generator) < 0.5
            lab = torch.where(flip[:, None, None, None], lab.flip(-1), lab)
        if self.delay:
            time.sleep(self.delay)
        return lab[:, :1], lab[:, 1:]

    def to(self, device):
        self.lab, self.device = self.lab.to(device), torch.device(device)
        return self


def _layers(out, width=4, dropout=0.2, batchnorm=True, stride=1) -> nn.Sequential:
    layers = [nn.Conv2d(1, width, 3, padding=1)]
    layers += [nn.BatchNorm2d(width)] if batchnorm else []
    layers += [nn.ReLU(), nn.Dropout2d(dropout), nn.Conv2d(width, out, 3, padding=1, stride=stride)]
    return nn.Sequential(*layers)


class TinyModel(ColorizationModel):
    """Regression model with BatchNorm and dropout (so buffers and the RNG matter for resume)."""

    kind = "regression"
    multiple = 1

    def __init__(self, out=2, width=4, dropout=0.2, batchnorm=True):
        super().__init__({"name": "tiny", "out": out, "width": width, "image_size": None})
        self.net = _layers(out, width, dropout, batchnorm)

    def forward(self, L):
        return torch.tanh(self.net(normalize_l(L)))


def one_thread(monkeypatch=None):
    """One torch thread, so losses and weights are exactly reproducible between runs."""
    torch.set_num_threads(1)


class TinyClassModel(ClassColorizer):
    """:class:`ClassColorizer` (the gamut's bins, annealed-mean decoding) over two convolutions:
    logits at half the input size."""

    name = "tiny-class"
    multiple = 2

    def _build_network(self, Q, width, upsample, batchnorm, dropout) -> None:
        self.net = _layers(Q, stride=2)

    def forward(self, L):
        return self.net(normalize_l(L))


class TinyRebalancedModel(TinyClassModel, RebalancedClassColorizer):
    """:class:`RebalancedClassColorizer` over :class:`TinyClassModel`'s network; its class weights
    start uneven (0.5 to 1.5), so rebalancing changes the loss before any prior is set."""

    name = "tiny-class-rebal"
    _extra_keys = ("lam", "sigma")

    def __init__(self):
        super().__init__()
        self.class_weights.copy_(torch.linspace(0.5, 1.5, self.quantizer.Q))


class TinyDiscriminator(nn.Module):
    """``discriminator(L, ab_normalised)`` -> patch logits, as colorlab.models' PatchGAN."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(4, 1, 3, padding=1))

    def forward(self, L, ab):
        return self.net(torch.cat([normalize_l(L), ab], 1))


class TinyGAN(ColorizationModel):
    """A GAN: :class:`TinyModel` as the generator, a two-layer patch discriminator."""

    kind = "gan"
    multiple = 1

    def __init__(self):
        super().__init__({"name": "tiny-gan", "image_size": None})
        self.generator = TinyModel()
        self.discriminator = TinyDiscriminator()

    def forward(self, L):
        return self.generator(L)


class FullDisk:
    """A file that takes ``room`` more bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, f, room=100):
        self.f, self.room = f, room

    def write(self, data):
        data = bytes(data)
        if len(data) > self.room:
            self.f.write(data[:self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


class HangingWrite(FullDisk):
    """A file whose first write lands on disk, then touches ``marker`` and hangs (to be killed)."""

    def __init__(self, f, marker):
        super().__init__(f)
        self.marker = marker

    def write(self, data):
        self.f.write(bytes(data))
        self.f.flush()
        Path(self.marker).touch()
        time.sleep(600)


def break_checkpoint_writes(n, broken):
    """A stand-in for ``colorlab.checkpoint_io.atomic_write`` (install it with
    ``monkeypatch.setattr``) under which the ``n``-th file written goes through ``broken(f)``
    (e.g. :class:`FullDisk`) instead of its open temporary file ``f``."""
    real, calls = checkpoint_io.atomic_write, []

    @contextlib.contextmanager
    def atomic_write(path, **kw):
        calls.append(path)
        with real(path, **kw) as f:
            yield broken(f) if len(calls) == n else f
    return atomic_write


def ddp_worker(folder):
    """Under torchrun: train a plain TinyModel and a TinyGAN; save each rank's weights to folder."""
    from colorlab.train import seed_everything, train
    rank, folder = int(os.environ["RANK"]), Path(folder)
    for name, make, kw in (("plain", plain_model, {}), ("gan", TinyGAN, {"pretrain_steps": 2})):
        seed_everything(rank)  # different inits on purpose: DDP must broadcast rank 0's
        model = make()
        train(model, TinyDataset(n=16, augment=name == "gan"), 5, batch_size=2, device="cpu",
              out=folder / f"{name}.ckpt", checkpoint_every=2, log_every=1, **kw)
        torch.save(dict(model.named_parameters()), folder / f"{name}-rank{rank}.pt")


def plain_model():
    """No BatchNorm, no dropout: DDP on 2 x B must match one process on 2B. It also holds a
    parameter that forward never uses, which DDP must tolerate."""
    model = TinyModel(dropout=0.0, batchnorm=False)
    model.unused = nn.Parameter(torch.zeros(3))
    return model


def main(argv=None):
    """Worker: train TinyModel, optionally hanging inside the N-th checkpoint write."""
    p = argparse.ArgumentParser()
    p.add_argument("--ddp", default=None)
    p.add_argument("--out")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--hang-on-save", type=int, default=0)
    p.add_argument("--marker", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.ddp:
        return ddp_worker(a.ddp)
    from colorlab.train import seed_everything, train
    if a.hang_on_save:
        checkpoint_io.atomic_write = break_checkpoint_writes(
            a.hang_on_save, lambda f: HangingWrite(f, a.marker))
    seed_everything(0)
    model = TinyModel()
    train(model, TinyDataset(delay=a.delay), a.steps, batch_size=4, out=a.out,
          checkpoint_every=a.every, progress=False, log_every=5)


if __name__ == "__main__":
    main()
