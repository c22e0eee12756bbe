"""Tiny stand-ins for LabDataset, ColorizationModel and ABQuantizer (tests only, never the library).

They follow the contract in CONTRACT.md so the engine can be tested before the real modules land.
Run as a script, this module is the training worker the interruption tests start and kill.
"""
from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.color import denormalize_ab, normalize_l, rgb_to_lab  # noqa: E402


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


class TinyQuantizer:
    """A coarse ab grid (step 40) with the ABQuantizer methods the engine uses."""

    def __init__(self, grid=40):
        r = torch.arange(-120, 121, grid, dtype=torch.float32)
        self.centers = torch.cartesian_prod(r, r)
        self.Q = len(self.centers)

    def _dist(self, ab):
        flat = ab.permute(0, 2, 3, 1)[..., None, :]
        return ((flat - self.centers.to(ab.device)) ** 2).sum(-1)  # (B,H,W,Q)

    def soft_encode(self, ab, k=5, sigma=5.0, dense=False):
        d2, idx = self._dist(ab).topk(k, dim=-1, largest=False)
        w = torch.softmax(-d2 / (2 * sigma ** 2), dim=-1)
        return idx.permute(0, 3, 1, 2), w.permute(0, 3, 1, 2)

    def hard_encode(self, ab):
        return self._dist(ab).argmin(-1)


def soft_cross_entropy(logits, idx, w, pixel_weights=None):
    """Double of colorlab.quantize.soft_cross_entropy (gathers, no dense targets)."""
    logp = F.log_softmax(logits, dim=1).gather(1, idx)
    per_pixel = -(w * logp).sum(1)
    if pixel_weights is not None:
        per_pixel = per_pixel * pixel_weights
    return per_pixel.mean()


def use_quantize_double(monkeypatch):
    """The real colorlab.quantize when it exists, else the double; one thread for exact results."""
    try:
        import colorlab.quantize  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "colorlab.quantize", fake_quantize_module())
    torch.set_num_threads(1)


def fake_quantize_module():
    """A module object standing in for colorlab.quantize (install it with monkeypatch)."""
    return types.SimpleNamespace(soft_cross_entropy=soft_cross_entropy, ABQuantizer=TinyQuantizer)


class TinyClassModel(TinyModel):
    kind = "classification"

    def __init__(self, rebalance=False):
        self.quantizer = TinyQuantizer()
        super().__init__(out=self.quantizer.Q)
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

        def slow_write(path, data):
            calls.append(path)
            if len(calls) == a.hang_on_save:
                with open(path, "wb") as f:
                    f.write(bytes(data)[: len(data) // 2])
                    f.flush()
                Path(a.marker).touch()
                time.sleep(600)
            return real(path, data)
        checkpoint._write_file = slow_write
    seed_everything(0)
    model = TinyModel()
    train(model, TinyDataset(delay=a.delay), a.steps, batch_size=4, out=a.out,
          checkpoint_every=a.every, progress=False, log_every=5)


if __name__ == "__main__":
    main()
