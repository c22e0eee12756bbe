"""Tiny datasets and models that follow the training contract (tests only, never the library).

They keep the engine's tests fast; the classifier uses the real
:class:`colorlab.quantize.ABQuantizer`. Run as a script, this module is the training worker the
interruption tests start and kill.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.color import denormalize_ab, normalize_l, rgb_to_lab  # noqa: E402
from colorlab.quantize import ABQuantizer  # noqa: E402


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


class TinyModel(nn.Module):
    """Regression double with BatchNorm and dropout (so buffers and the RNG matter for resume)."""

    kind = "regression"

    def __init__(self, out=2, width=4, dropout=0.2, batchnorm=True):
        super().__init__()
        self.config = {"name": "tiny", "out": out, "width": width}
        layers = [nn.Conv2d(1, width, 3, padding=1)]
        layers += [nn.BatchNorm2d(width)] if batchnorm else []
        layers += [nn.ReLU(), nn.Dropout2d(dropout), nn.Conv2d(width, out, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, L):
        x = self.net(normalize_l(L))
        return torch.tanh(x) if self.kind == "regression" else x

    def colorize(self, L):
        return denormalize_ab(self(L))


def one_thread(monkeypatch=None):
    """One torch thread, so losses and weights are exactly reproducible between runs."""
    torch.set_num_threads(1)


class TinyClassModel(TinyModel):
    kind = "classification"

    def __init__(self, rebalance=False):
        quantizer = ABQuantizer.from_gamut()
        super().__init__(out=quantizer.Q)
        self.quantizer = quantizer
        self.config = {"name": "tiny-class"}
        self.net[-1] = nn.Conv2d(4, self.quantizer.Q, 3, padding=1, stride=2)
        if rebalance:
            self.register_buffer("class_weights", torch.linspace(0.5, 1.5, self.quantizer.Q))

    def set_prior(self, prior):
        self.class_weights = 1.0 / (torch.as_tensor(prior, dtype=torch.float32) + 0.1)


class TinyDiscriminator(nn.Module):
    """``discriminator(L, ab_normalised)`` -> patch logits, as colorlab.models' PatchGAN."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(4, 1, 3, padding=1))

    def forward(self, L, ab):
        return self.net(torch.cat([normalize_l(L), ab], 1))


class TinyGAN(nn.Module):
    kind = "gan"

    def __init__(self):
        super().__init__()
        self.config = {"name": "tiny-gan"}
        self.generator = TinyModel()
        self.discriminator = TinyDiscriminator()

    def forward(self, L):
        return self.generator(L)

    def colorize(self, L):
        return self.generator.colorize(L)


def ddp_worker(folder):
    """Under torchrun: train a plain TinyModel and a TinyGAN; save each rank's weights to folder."""
    import os

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
    from colorlab.train import checkpoint, seed_everything, train
    if a.hang_on_save:
        real, calls = checkpoint._write_file, []

        def slow_write(f, data):
            calls.append(f)
            if len(calls) == a.hang_on_save:
                f.write(bytes(data)[: len(data) // 2])
                f.flush()
                Path(a.marker).touch()
                time.sleep(600)
            return real(f, data)
        checkpoint._write_file = slow_write
    seed_everything(0)
    model = TinyModel()
    train(model, TinyDataset(delay=a.delay), a.steps, batch_size=4, out=a.out,
          checkpoint_every=a.every, progress=False, log_every=5)


if __name__ == "__main__":
    main()
