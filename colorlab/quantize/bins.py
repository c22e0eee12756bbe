"""ABQuantizer: the ab bins, soft and hard encoding, class prior, rebalancing and decoding.

See :mod:`colorlab.quantize` for which bins exist and why.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from colorlab.quantize._nearest import search, split_points

__all__ = ["ABQuantizer"]

_GAMUT_CACHE: dict = {}


class ABQuantizer(nn.Module):
    """Bins on the ab grid, with soft/hard encoding, the class prior, rebalancing and decoding.

    An ``nn.Module`` whose only state is the buffer ``centers``, so ``.to(device)``,
    ``state_dict()`` and ``load_state_dict`` work as for any layer (a model that owns a quantizer
    carries it along).

    Parameters
    ----------
    centers : torch.Tensor of shape (Q, 2), optional
        Bin centres in ab units. ``None`` means :meth:`from_gamut`'s 261 sRGB cells.
    grid : float
        Cell size in ab units (10, as in Zhang et al.).

    Attributes
    ----------
    centers : torch.Tensor (Q, 2) float32
    Q : int
    grid : float

    Examples
    --------
    >>> import torch
    >>> from colorlab.quantize import ABQuantizer
    >>> q = ABQuantizer.from_gamut()
    >>> q.Q
    261
    >>> ab = torch.zeros(1, 2, 4, 4)
    >>> idx, w = q.soft_encode(ab)               # (1, 5, 4, 4) each
    >>> bool(torch.allclose(w.sum(1), torch.ones(1, 4, 4)))
    True
    >>> q.centers[q.hard_encode(ab)[0, 0, 0]].tolist()
    [0.0, 0.0]
    """

    def __init__(self, centers: torch.Tensor | None = None, grid: float = 10.0):
        super().__init__()
        if centers is None:
            centers = _gamut_centers(float(grid))
        centers = torch.as_tensor(centers, dtype=torch.float32)
        if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) < 1:
            raise ValueError("ABQuantizer: centers must have shape (Q, 2), "
                             f"got {tuple(centers.shape)}")
        if not bool(torch.isfinite(centers).all()):
            raise ValueError("ABQuantizer: centers contain NaN or inf")
        if grid <= 0:
            raise ValueError(f"ABQuantizer: grid must be positive, got {grid}")
        self.grid = float(grid)
        self.register_buffer("centers", centers.clone())

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_gamut(cls, grid: float = 10.0) -> "ABQuantizer":
        """The cells that 8-bit sRGB colours reach (Q = 261 for ``grid=10``; see the module doc).

        Examples
        --------
        >>> ABQuantizer.from_gamut().centers.shape
        torch.Size([261, 2])
        """
        return cls(_gamut_centers(float(grid)), grid)

    @classmethod
    def from_data(cls, ab, grid: float = 10.0, min_count: int = 1) -> "ABQuantizer":
        """The cells that at least ``min_count`` pixels of ``ab`` fall into (nearest grid point).

        Parameters
        ----------
        ab : torch.Tensor (B, 2, H, W) or (N, 2), or a dataset with ``.lab`` (N, 3, S, S)
        grid : float
        min_count : int

        Examples
        --------
        >>> ab = torch.tensor([[0.0, 0.0], [12.0, -3.0], [11.0, 1.0]])
        >>> ABQuantizer.from_data(ab).centers.tolist()
        [[0.0, 0.0], [10.0, 0.0]]
        """
        cells = torch.cat([torch.round(chunk.double() / grid).long() for chunk in _ab_chunks(ab)])
        uniq, counts = torch.unique(cells, dim=0, return_counts=True)
        return cls(uniq[counts >= min_count].float() * grid, grid)

    @classmethod
    def from_state_dict(cls, state: dict, grid: float = 10.0) -> "ABQuantizer":
        """Rebuild from ``state_dict()`` output (``{"centers": (Q, 2)}``)."""
        return cls(state["centers"], grid)

    @property
    def Q(self) -> int:
        return int(self.centers.shape[0])

    def extra_repr(self) -> str:
        return f"Q={self.Q}, grid={self.grid:g}"

    # ------------------------------------------------------------------ nearest bins
    def knn(self, ab: torch.Tensor, k: int = 5,
            ordered: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact k nearest bins of each ab value, with squared distances.

        Parameters
        ----------
        ab : torch.Tensor (B, 2, H, W) or (N, 2)
            Float; float32 distances are exact to about 1e-6 for in-gamut ab (use float64 for
            values far outside, where float32 rounding of ``d^2`` grows with the distance).
        k : int, 1 <= k <= Q
        ordered : bool
            Nearest first (True), or the k bins in an unspecified order (faster).

        Returns
        -------
        idx : torch.LongTensor (B, k, H, W) or (N, k)
        d2 : torch.Tensor, same shape and ab's float dtype

        Examples
        --------
        >>> q = ABQuantizer(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]))
        >>> idx, d2 = q.knn(torch.tensor([[1.0, 7.0]]), k=2)
        >>> idx.tolist(), d2.tolist()
        ([[2, 0]], [[10.0, 50.0]])
        """
        return search(self.centers, self.grid, ab, k, ordered, None)

    def soft_encode(self, ab: torch.Tensor, k: int = 5, sigma: float = 5.0, dense: bool = False):
        """Soft-encode ab on its k nearest bins with Gaussian weights (Zhang et al., sec. 2.1).

        Parameters
        ----------
        ab : torch.Tensor (B, 2, H, W) or (N, 2)
        k : int
            Number of nearest bins (5 in the paper, 10 in the released training code).
        sigma : float
            Gaussian width in ab units: ``w_i ∝ exp(-d_i^2 / (2 sigma^2))``.
        dense : bool
            Return the full target ``(B, Q, H, W)`` instead of ``(indices, weights)``.

        Returns
        -------
        idx : torch.LongTensor (B, k, H, W) or (N, k)
            The k nearest bins, in no particular order (use :meth:`knn` for nearest first);
            a non-contiguous view of ``(B, H, W, k)`` memory.
        w : torch.Tensor, same shape, float, summing to 1 over the k axis.
        or, with ``dense=True``, target : torch.Tensor (B, Q, H, W) or (N, Q).

        Examples
        --------
        >>> q = ABQuantizer.from_gamut()
        >>> idx, w = q.soft_encode(torch.tensor([[3.0, -4.0]]))
        >>> q.centers[idx[0, 0]].tolist(), round(float(w.sum()), 6)
        ([0.0, 0.0], 1.0)
        """
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        idx, w = search(self.centers, self.grid, ab, k, False, float(sigma))
        if not dense:
            return idx, w
        shape = list(idx.shape)
        shape[1] = self.Q
        return torch.zeros(shape, dtype=w.dtype, device=w.device).scatter_(1, idx, w)

    def hard_encode(self, ab: torch.Tensor) -> torch.Tensor:
        """Index of the nearest bin: ab (B, 2, H, W) -> (B, H, W) long, or (N, 2) -> (N,).

        Examples
        --------
        >>> q = ABQuantizer(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
        >>> q.hard_encode(torch.tensor([[4.0, 0.0], [6.0, 1.0]])).tolist()
        [0, 1]
        """
        return self.knn(ab, 1)[0].squeeze(1)

    # ------------------------------------------------------------------ prior and weights
    def prior(self, ab_or_dataset) -> torch.Tensor:
        """Empirical distribution over the bins of the nearest-bin labels (sums to 1).

        Parameters
        ----------
        ab_or_dataset : torch.Tensor (B, 2, H, W) or (N, 2), or a dataset with ``.lab`` (N, 3, S, S)

        Returns
        -------
        p : torch.Tensor (Q,) float32

        Examples
        --------
        >>> q = ABQuantizer(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
        >>> q.prior(torch.tensor([[1.0, 0.0], [2.0, 0.0], [9.0, 0.0], [0.0, 1.0]])).tolist()
        [0.75, 0.25]
        """
        counts = torch.zeros(self.Q, dtype=torch.float64, device=self.centers.device)
        for chunk in _ab_chunks(ab_or_dataset):
            lab = self.hard_encode(chunk.to(self.centers.device))
            counts += torch.bincount(lab.reshape(-1), minlength=self.Q).double()
        if counts.sum() == 0:
            raise ValueError("prior: no ab values given")
        return (counts / counts.sum()).float()

    def smooth_prior(self, prior: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
        """The prior convolved with a 2-D Gaussian of ``sigma`` ab units, renormalised over the
        bins.

        Equivalent to placing the prior on the ab grid, filtering it with a Gaussian and reading
        it back at the bins: ``p~_i ∝ sum_j p_j exp(-|c_i - c_j|^2 / (2 sigma^2))``.
        """
        c = self.centers.double()
        kern = torch.exp(-torch.cdist(c, c) ** 2 / (2.0 * sigma ** 2))
        sm = kern @ prior.to(c)
        return (sm / sm.sum()).to(torch.float32)

    def rebalance_weights(self, prior: torch.Tensor, lam: float = 0.5,
                          sigma: float = 5.0) -> torch.Tensor:
        """Class-rebalancing weights ``w ∝ ((1 - lam) p~ + lam / Q)^-1`` with ``sum(p~ * w) = 1``.

        ``p~`` is :meth:`smooth_prior` (Gaussian, ``sigma`` ab units) of ``prior``; ``lam`` mixes
        it with the uniform distribution over the Q bins (Zhang et al., eq. 4). ``lam=1`` gives
        all-ones weights; ``lam=0`` the plain inverse (smoothed) prior.

        Parameters
        ----------
        prior : torch.Tensor (Q,)
        lam : float in [0, 1]
        sigma : float, > 0

        Returns
        -------
        w : torch.Tensor (Q,) float32

        Examples
        --------
        >>> q = ABQuantizer.from_gamut()
        >>> p = q.prior(torch.randn(4, 2, 8, 8) * 20)
        >>> w = q.rebalance_weights(p)
        >>> round(float((q.smooth_prior(p) * w).sum()), 4)
        1.0
        """
        prior = torch.as_tensor(prior, device=self.centers.device)
        if prior.shape != (self.Q,):
            raise ValueError(f"prior must have shape ({self.Q},), got {tuple(prior.shape)}")
        if not 0.0 <= lam <= 1.0 or sigma <= 0:
            raise ValueError(f"need 0 <= lam <= 1 and sigma > 0, got lam={lam}, sigma={sigma}")
        ps = self.smooth_prior(prior, sigma).double()
        w = (1.0 / ((1.0 - lam) * ps + lam / self.Q)).clamp(max=1e30)   # lam=0: finite for p~=0 too
        return (w / (ps * w).sum()).float()

    # ------------------------------------------------------------------ decoding
    def decode(self, logits: torch.Tensor, T: float = 0.38, mode: bool = False) -> torch.Tensor:
        """Turn logits into ab: the annealed mean (default), the mean (``T=1``) or the mode.

        ``softmax(logits / T)`` is computed after subtracting the per-pixel maximum, so any
        positive T is safe: T -> 0 tends to the mode, T -> inf to the plain average of the centres.

        Parameters
        ----------
        logits : torch.Tensor (B, Q, H, W)
        T : float, > 0
            Temperature (0.38 in Zhang et al.).
        mode : bool
            Return the centre of the most likely bin instead.

        Returns
        -------
        ab : torch.Tensor (B, 2, H, W)

        Examples
        --------
        >>> q = ABQuantizer(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
        >>> logits = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)
        >>> q.decode(logits, mode=True).flatten().tolist()
        [10.0, 0.0]
        >>> round(q.decode(logits, T=1.0)[0, 0, 0, 0].item(), 4)  # 10 * sigmoid(1)
        7.3106
        """
        if logits.ndim != 4 or logits.shape[1] != self.Q:
            raise ValueError(f"decode: logits must be (B, Q={self.Q}, H, W), "
                             f"got {tuple(logits.shape)}")
        c = self.centers.to(logits.dtype if logits.is_floating_point() else torch.float32)
        if mode:
            return c[logits.argmax(1)].permute(0, 3, 1, 2)
        try:
            T_ = float(T)                       # int, float, numpy or 0-d tensor
        except (TypeError, ValueError, RuntimeError):
            T_ = math.nan
        if not T_ > 0:                          # also rejects NaN
            raise ValueError(f"decode: temperature T must be a positive number, got {T!r}")
        T = max(T_, torch.finfo(torch.float32).tiny)  # a smaller T would round to 0 in float32: 0/0
        z = logits.float() - logits.float().amax(1, keepdim=True)
        p = torch.softmax(z / T, dim=1)
        return torch.einsum("bqhw,qc->bchw", p, c.float()).to(c.dtype)


def _ab_chunks(src, chunk: int = 256):
    """Yield ab points (n, 2) from a tensor (B, 2, H, W) / (N, 2) or a dataset with ``.lab``."""
    if hasattr(src, "lab"):
        lab = src.lab
        for s in range(0, len(lab), chunk):
            yield lab[s:s + chunk, 1:3].permute(0, 2, 3, 1).reshape(-1, 2)
    else:
        ab = torch.as_tensor(src)
        split_points(ab, "ab")  # checks the shape
        yield ab.reshape(-1, 2) if ab.ndim == 2 else ab.permute(0, 2, 3, 1).reshape(-1, 2)


def _gamut_centers(grid: float) -> torch.Tensor:
    """Centres of the grid cells reached by the ab of the 8-bit sRGB cube's faces (see module
    doc)."""
    if grid not in _GAMUT_CACHE:
        from colorlab.color import rgb_to_lab
        v = torch.arange(256, dtype=torch.float32) / 255.0
        g, b = torch.meshgrid(v, v, indexing="ij")
        cells = []
        for val in (0.0, 1.0):
            f = torch.full_like(g, val)
            for face in ((f, g, b), (g, f, b), (g, b, f)):
                ab = rgb_to_lab(torch.stack(face))[1:].reshape(2, -1).double()
                cells.append(torch.unique(torch.round(ab / grid).long(), dim=1))
        _GAMUT_CACHE[grid] = torch.unique(torch.cat(cells, 1), dim=1).T.float() * grid
    return _GAMUT_CACHE[grid].clone()
