"""Seeds, mixed precision and the stateless data order used by the training engine (and
:func:`~colorlab.device.pick_device`, re-exported).

Examples
--------
>>> seed_everything(0)
>>> pick_device("cpu")
device(type='cpu')
>>> order = BatchOrder(n=10, batch_size=4, seed=0)
>>> order.indices(0).shape
torch.Size([4])
"""
from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from colorlab.device import pick_device

__all__ = ["seed_everything", "pick_device", "derive_seed", "BatchOrder", "Precision"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative.

    Examples
    --------
    >>> seed_everything(1); a = torch.rand(2); seed_everything(1); torch.equal(a, torch.rand(2))
    True
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from non-negative integers, e.g. ``(seed, purpose, step)``.

    Examples
    --------
    >>> derive_seed(0, 1, 2) == derive_seed(0, 1, 2) != derive_seed(0, 1, 3)
    True
    """
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


_EPOCH, _STEP = 1, 2  # "purpose" tags that keep the seed streams apart


class BatchOrder:
    """Which examples each step uses, computed from ``(seed, step)`` alone (no iterator state).

    The examples form an endless stream: epoch ``e`` is a permutation of ``range(n)`` drawn from a
    generator seeded with ``(seed, e)``. Step ``s`` uses the global batch at stream positions
    ``[s * B * W, (s + 1) * B * W)``, and rank ``r`` its slice ``[r * B, (r + 1) * B)``. Resuming
    at any step therefore sees exactly the same data, and batches larger than ``n`` work.

    Parameters
    ----------
    n : int
        Dataset length.
    batch_size : int
        Per-process batch size B.
    seed : int
    rank, world_size : int
        This process and the number of processes W.
    weights : torch.Tensor of shape (n,), optional
        Relative sampling weights (a dataset's ``sample_weights``): epoch ``e`` is then ``n`` draws
        with replacement, each example with probability proportional to its weight, from the same
        ``(seed, e)`` generator, so resume stays exact.

    Examples
    --------
    >>> w = torch.tensor([1.0, 0.0, 0.0, 3.0])
    >>> sorted(set(BatchOrder(4, 8, seed=0, weights=w).indices(0).tolist()))
    [0, 3]
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 weights=None):
        if n <= 0:
            raise ValueError("train(): the dataset is empty")
        self.weights = None
        if weights is not None:
            self.weights = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
            if len(self.weights) != n:
                raise ValueError(f"train(): {len(self.weights)} sample weights for {n} examples")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._perms: dict[int, torch.Tensor] = {}   # the last few epochs' permutations

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) >= 4:
                self._perms.pop(next(iter(self._perms)))
            g = torch.Generator().manual_seed(derive_seed(self.seed, _EPOCH, epoch))
            if self.weights is None:
                self._perms[epoch] = torch.randperm(self.n, generator=g)
            else:
                self._perms[epoch] = torch.multinomial(self.weights, self.n, replacement=True,
                                                       generator=g)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        """``(B,)`` long tensor of this rank's example indices at ``step``."""
        start = (step * self.world_size + self.rank) * self.batch_size
        pos = torch.arange(start, start + self.batch_size)
        epochs = pos // self.n
        out = torch.empty_like(pos)
        for e in epochs.unique().tolist():
            mask = epochs == e
            out[mask] = self._perm(e)[pos[mask] % self.n]
        return out

    def generator(self, step: int) -> torch.Generator:
        """The CPU generator that ``dataset.batch`` draws augmentation from at ``step``."""
        return torch.Generator().manual_seed(derive_seed(self.seed, _STEP, step, self.rank))


class Precision:
    """Mixed-precision choice: autocast dtype (or none) and the gradient scaler to use.

    ``amp=None`` means on for CUDA, off elsewhere. bf16 where the device supports it (CUDA with
    bf16, the CPU), else fp16 with a ``GradScaler``.

    Examples
    --------
    >>> p = Precision(None, torch.device("cpu"))
    >>> p.dtype is None, p.scaler.is_enabled()
    (True, False)
    """

    def __init__(self, amp, device: torch.device):
        enabled = (device.type == "cuda") if amp is None else bool(amp)
        self.device = device
        if not enabled:
            self.dtype = None
        elif device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "mps":  # pragma: no cover - macOS only
            self.dtype = torch.float16
        else:
            self.dtype = torch.bfloat16
        fp16 = self.dtype == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    @property
    def name(self) -> str:
        return "fp32" if self.dtype is None else str(self.dtype).replace("torch.", "")

    def autocast(self):
        """A fresh autocast context (a no-op context in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)
