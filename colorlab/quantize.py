"""Quantised ab space: the bins of Zhang et al.'s "Colorful Image Colorization" (ECCV 2016).

The ab plane is cut into square cells of side ``grid`` (10 by default) centred on multiples of
``grid``; a cell is a *bin* when the rule of the constructor keeps it:

- :meth:`ABQuantizer.from_gamut` keeps the cells that sRGB colours reach. The rule: a cell counts
  when the ab of at least one 8-bit sRGB colour rounds to its centre. Every vertical (L) line through
  the sRGB solid in Lab meets its surface, so the ab footprint of the solid is the footprint of the
  six faces of the RGB cube; we convert the 6 x 256 x 256 face colours with
  :func:`colorlab.color.rgb_to_lab`. The result is **Q = 261** bins (all 16.7M 8-bit colours give
  the same 261). Zhang et al. keep **313** cells, learnt from ImageNet: their set also contains a
  rim of cells just outside the 8-bit sRGB footprint (their cells came from the colours of
  decoded ImageNet photos and a different conversion code, not from the gamut itself), so
  theirs is a superset-like, looser rule. A network predicting one of the 52 extra rim bins
  cannot show that colour on screen anyway.
- :meth:`ABQuantizer.from_data` keeps the cells that a dataset reaches (CIFAR-10: about 240).
- ``ABQuantizer(centers)`` takes any ``(Q, 2)`` centres, e.g. the 313 of the ECCV16 weights
  (``model_out.weight[:, :, 0, 0].T * 110``).

Nearest-bin search exploits the regular grid. A fine lookup table (cells of ``grid / 10``) stores,
for every fine cell in which the set of k nearest bins is the same everywhere (checked exactly
at the cell's four corners, since the difference of two squared distances is linear), those k
bins and their coordinates; a query then costs one table look-up and k distances. Points in the few mixed cells are
compared only with the bins that can be among their k nearest (a 1-Lipschitz bound on the k-th
distance), and points beyond the table compare with every bin, so results are exact everywhere.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ABQuantizer", "soft_cross_entropy"]

_FINE = 10          # fine lookup cells per grid cell side
_MARGIN = 3         # lookup table covers the centres' bounding box plus this many grid cells
_FAR = 1e6          # coordinate of padding candidates: never among the k nearest
_CHUNK = 32768      # points per chunk: keeps temporaries in cache
_GAMUT_CACHE: dict = {}
_TABLE_CACHE: dict = {}


def _points(ab: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """Split ab (B,2,H,W) or (N,2) into flat a, b and the output shape (without the k axis)."""
    if ab.ndim == 4 and ab.shape[1] == 2:
        return ab[:, 0].reshape(-1), ab[:, 1].reshape(-1), (ab.shape[0], ab.shape[2], ab.shape[3])
    if ab.ndim == 2 and ab.shape[1] == 2:
        return ab[:, 0], ab[:, 1], (ab.shape[0],)
    raise ValueError(f"{name}: ab must have shape (B, 2, H, W) or (N, 2), got {tuple(ab.shape)}")


def _k_last_to_axis1(x: torch.Tensor, shape: tuple) -> torch.Tensor:
    """(N, k) -> (B, k, H, W) as a view (4-D input) or (N, k) (2-D input)."""
    if len(shape) == 1:
        return x
    return x.view(*shape, x.shape[-1]).permute(0, 3, 1, 2)


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
            raise ValueError(f"ABQuantizer: centers must have shape (Q, 2), got {tuple(centers.shape)}")
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
    def _table(self, k: int) -> dict:
        c = self.centers.detach().cpu().double()
        key = (k, self.grid, str(self.centers.device), c.numpy().tobytes())
        if key not in _TABLE_CACHE:       # shared by every quantizer with the same bins
            _TABLE_CACHE[key] = {kk: v.to(self.centers.device) if torch.is_tensor(v) else v
                                 for kk, v in _build_table(c, self.grid, k).items()}
        return _TABLE_CACHE[key]

    def knn(self, ab: torch.Tensor, k: int = 5, ordered: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
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
        return self._search(ab, k, ordered, None)

    def _search(self, ab, k, ordered, sigma):
        """knn (sigma None) or soft-encoding weights (sigma > 0), chunk by chunk."""
        if not 1 <= k <= self.Q:
            raise ValueError(f"k must be in [1, Q={self.Q}], got {k}")
        a, b, shape = _points(ab, "ab")
        if not ab.is_floating_point():
            a, b = a.float(), b.float()
        a, b = a.contiguous(), b.contiguous()
        t = self._table(k)
        idx = torch.empty(len(a), k, dtype=torch.long, device=a.device)
        d2 = torch.empty(len(a), k, dtype=a.dtype, device=a.device)
        for s in range(0, len(a), _CHUNK):
            self._chunk(t, a[s:s + _CHUNK], b[s:s + _CHUNK], idx[s:s + _CHUNK], d2[s:s + _CHUNK],
                        ordered, sigma)
        return _k_last_to_axis1(idx, shape), _k_last_to_axis1(d2, shape)

    def _chunk(self, t, a, b, idx_out, d2_out, ordered, sigma):
        """Fill idx_out and d2_out (or weights) (n, k) for points (a, b): look-up, exact fallbacks."""
        k, n = idx_out.shape[1], t["n"]
        i = (a - t["a0"]).mul_(t["inv_s"]).floor_()
        j = (b - t["b0"]).mul_(t["inv_s"]).floor_()
        inside = (i >= 0) & (i < n) & (j >= 0) & (j < n)        # False for NaN too
        cell = i.clamp_(0, n - 1).nan_to_num_(0.0).mul_(n).add_(j.clamp_(0, n - 1).nan_to_num_(0.0)).long()
        torch.index_select(t["knn"], 0, cell, out=idx_out)          # -1 in mixed cells
        xy = t["xy"].index_select(0, cell).to(a.dtype)             # (n, 2k) bins' a then b
        d2 = torch.sub(a[:, None], xy[:, :k]).square_()
        d2.add_(torch.sub(b[:, None], xy[:, k:]).square_())
        hard = ~inside | (idx_out[:, 0] < 0)
        if bool(hard.any()):
            sel = hard.nonzero().squeeze(1)
            ps = torch.stack((a[sel], b[sel]), 1)
            if not bool(torch.isfinite(ps).all()):
                raise ValueError("ab contains NaN or inf values")
            row = t["row"][cell[sel]]
            mixed = (row >= 0) & inside[sel]
            sub_i = torch.empty(len(sel), k, dtype=torch.long, device=a.device)
            sub_d = torch.empty(len(sel), k, dtype=a.dtype, device=a.device)
            if bool(mixed.any()):      # mixed cells: only the bins that can be among the k nearest
                r = row[mixed]
                dd = (ps[mixed, 0:1] - t["cx"][r].to(a.dtype)) ** 2 + (ps[mixed, 1:2] - t["cy"][r].to(a.dtype)) ** 2
                sub_d[mixed], near = dd.topk(k, dim=1, largest=False)
                sub_i[mixed] = t["cand"][r].gather(1, near)
            if bool((~mixed).any()):   # beyond the table: every bin
                far = ((ps[~mixed, None, :] - self.centers.to(a.dtype)) ** 2).sum(-1)
                sub_d[~mixed], sub_i[~mixed] = far.topk(k, dim=1, largest=False)
            idx_out[sel] = sub_i
            d2[sel] = sub_d
        if ordered and k > 1:
            d2, order = d2.sort(1)
            idx_out.copy_(idx_out.gather(1, order))
        if sigma is not None:       # Gaussian weights, shifted by the nearest distance (no underflow)
            d2 = d2.sub_(d2.amin(1, keepdim=True)).mul_(-0.5 / sigma ** 2).exp_()
            d2.div_(d2.sum(1, keepdim=True))
        d2_out.copy_(d2)

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
        idx, w = self._search(ab, k, False, float(sigma))
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
        """The prior convolved with a 2-D Gaussian of ``sigma`` ab units, renormalised over the bins.

        Equivalent to placing the prior on the ab grid, filtering it with a Gaussian and reading
        it back at the bins: ``p~_i ∝ sum_j p_j exp(-|c_i - c_j|^2 / (2 sigma^2))``.
        """
        c = self.centers.double()
        kern = torch.exp(-torch.cdist(c, c) ** 2 / (2.0 * sigma ** 2))
        sm = kern @ prior.to(c)
        return (sm / sm.sum()).to(torch.float32)

    def rebalance_weights(self, prior: torch.Tensor, lam: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
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
        w = 1.0 / ((1.0 - lam) * ps + lam / self.Q)
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
            raise ValueError(f"decode: logits must be (B, Q={self.Q}, H, W), got {tuple(logits.shape)}")
        c = self.centers.to(logits.dtype if logits.is_floating_point() else torch.float32)
        if mode:
            return c[logits.argmax(1)].permute(0, 3, 1, 2)
        if not (isinstance(T, (int, float)) and math.isfinite(T) or T == math.inf) or not T > 0:
            raise ValueError(f"decode: temperature T must be a positive number, got {T!r}")
        z = logits.float() - logits.float().amax(1, keepdim=True)
        p = torch.softmax(z / T, dim=1)
        return torch.einsum("bqhw,qc->bchw", p, c.float()).to(c.dtype)


# ---------------------------------------------------------------------- loss
class _SoftCE(torch.autograd.Function):
    """Sum over k of -w * log_softmax(logits)[idx], saving only logits and the log-partition."""

    @staticmethod
    def forward(ctx, logits, idx, w, pw):
        x = logits.to(w.dtype)
        lse = torch.logsumexp(x, dim=1, keepdim=True)                   # (B,1,H,W)
        wsum = w.sum(1, keepdim=True)
        per_pixel = (lse * wsum - (x.gather(1, idx) * w).sum(1, keepdim=True)) * pw
        ctx.save_for_backward(logits, lse, idx, w, pw, wsum)
        return per_pixel.sum() / per_pixel.numel()

    @staticmethod
    def backward(ctx, g):
        logits, lse, idx, w, pw, wsum = ctx.saved_tensors
        scale = (g / lse.numel()) * pw                                   # (B,1,H,W)
        grad = logits.to(w.dtype).sub(lse).exp_().mul_(scale * wsum)
        grad.scatter_add_(1, idx, -(w * scale))
        return grad.to(logits.dtype), None, None, None


def soft_cross_entropy(logits: torch.Tensor, idx: torch.Tensor, w: torch.Tensor,
                       pixel_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy against a sparse soft target, never building the ``(B, Q, H, W)`` target.

    ``loss = mean over pixels of  v(pixel) * sum_k -w_k log softmax(logits)[idx_k]``, computed as
    ``logsumexp(logits) * sum_k w_k - sum_k w_k logits[idx_k]``. Only the input logits and a
    ``(B, 1, H, W)`` log-partition are kept for the backward pass (no log-softmax copy).

    Parameters
    ----------
    logits : torch.Tensor (B, Q, H, W)
    idx : torch.LongTensor (B, k, H, W)
        From :meth:`ABQuantizer.soft_encode`.
    w : torch.Tensor (B, k, H, W)
    pixel_weights : torch.Tensor (B, H, W) or (B, 1, H, W), optional
        E.g. ``class_weights[hard_label]`` for class rebalancing, or 0 for images without colour.

    Returns
    -------
    loss : scalar torch.Tensor

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> q = ABQuantizer.from_gamut()
    >>> logits = torch.randn(2, q.Q, 4, 4)
    >>> idx, w = q.soft_encode(torch.randn(2, 2, 4, 4) * 30)
    >>> dense = (F.one_hot(idx, q.Q).movedim(-1, 1).float() * w[:, None]).sum(2)  # (2, Q, 4, 4)
    >>> ref = -(dense * F.log_softmax(logits, 1)).sum(1).mean()
    >>> bool(torch.allclose(soft_cross_entropy(logits, idx, w), ref, atol=1e-5))
    True
    """
    if logits.ndim != 4 or idx.shape != w.shape or idx.shape[0] != logits.shape[0] \
            or idx.shape[2:] != logits.shape[2:]:
        raise ValueError(f"soft_cross_entropy: logits {tuple(logits.shape)} (B,Q,H,W) and idx/w "
                         f"{tuple(idx.shape)}/{tuple(w.shape)} (B,k,H,W) do not match")
    B, _, H, W = logits.shape
    dt = torch.float64 if logits.dtype == torch.float64 else torch.float32
    if pixel_weights is None:
        pw = torch.ones(B, 1, H, W, device=logits.device, dtype=dt)
    else:
        pw = pixel_weights.reshape(B, 1, H, W).to(dt)
    return _SoftCE.apply(logits, idx.long(), w.to(dt), pw)


# ---------------------------------------------------------------------- helpers
def _ab_chunks(src, chunk: int = 256):
    """Yield ab points (n, 2) from a tensor (B, 2, H, W) / (N, 2) or a dataset with ``.lab``."""
    if hasattr(src, "lab"):
        lab = src.lab
        for s in range(0, len(lab), chunk):
            yield lab[s:s + chunk, 1:3].permute(0, 2, 3, 1).reshape(-1, 2)
    else:
        ab = torch.as_tensor(src)
        _points(ab, "ab")
        yield ab.reshape(-1, 2) if ab.ndim == 2 else ab.permute(0, 2, 3, 1).reshape(-1, 2)


def _gamut_centers(grid: float) -> torch.Tensor:
    """Centres of the grid cells reached by the ab of the 8-bit sRGB cube's faces (see module doc)."""
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


def _build_table(c: torch.Tensor, grid: float, k: int) -> dict:
    """Lookup tables for exact k-NN against centres ``c`` (Q, 2) float64 (see module doc)."""
    s = grid / _FINE
    lo = c.min(0).values - _MARGIN * grid
    n = int(math.ceil(float((c.max(0).values - c.min(0).values).max() + 2 * _MARGIN * grid) / s))
    ii = torch.arange(n, dtype=torch.float64)
    ga, gb = torch.meshgrid(lo[0] + (ii + 0.5) * s, lo[1] + (ii + 0.5) * s, indexing="ij")
    mid = torch.stack((ga.reshape(-1), gb.reshape(-1)), 1)                 # (C, 2) cell centres
    corners = torch.tensor([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=torch.float64) * (s / 2)
    knn = torch.empty(len(mid), k, dtype=torch.long)
    cand_rows, mixed_cells = [], []
    for start in range(0, len(mid), 4096):
        m = mid[start:start + 4096]
        dk, top = torch.cdist(m, c).topk(k, dim=1, largest=False)
        # the cell is pure when at its 4 corners (hence everywhere: d_i^2 - d_j^2 is linear) every
        # bin of the centre's top k is at least as near as every other bin
        d2c = torch.stack([(m[:, None, 0] + o[0] - c[:, 0]) ** 2 + (m[:, None, 1] + o[1] - c[:, 1]) ** 2
                           for o in corners], 1)                                          # (m,4,Q)
        far_top = d2c.gather(2, top[:, None, :].expand(-1, 4, -1)).amax(2)
        rest = d2c.scatter(2, top[:, None, :].expand(-1, 4, -1), math.inf).amin(2)
        pure = (far_top <= rest).all(1)
        knn[start:start + len(m)] = torch.where(pure[:, None], top, -1)
        # candidates of mixed cells: bins within (k-th distance at centre + half-diagonal) of the cell
        mixed = (~pure).nonzero().squeeze(1)
        gap = ((m[mixed, None] - c).abs() - s / 2).clamp(min=0)
        box = (gap[..., 0] ** 2 + gap[..., 1] ** 2).sqrt()
        reach = box <= (dk[mixed, k - 1] + s * math.sqrt(0.5) + 1e-9)[:, None]
        cnt = reach.sum(1)
        order = (~reach).to(torch.uint8).argsort(dim=1, stable=True)[:, :max(int(cnt.max()) if len(cnt) else 0, k)]
        order[torch.arange(order.shape[1]) >= cnt[:, None]] = -1
        mixed_cells.append(mixed + start)
        cand_rows.append(order)
    M = max([r.shape[1] for r in cand_rows] + [k])
    cand = torch.cat([torch.nn.functional.pad(r, (0, M - r.shape[1]), value=-1) for r in cand_rows])
    mixed_cells = torch.cat(mixed_cells)
    cxy = torch.where((cand >= 0)[..., None], c[cand.clamp(min=0)], _FAR)
    cand = cand.clamp(min=0)
    row = torch.full((len(mid),), -1, dtype=torch.long)
    row[mixed_cells] = torch.arange(len(mixed_cells))
    xy = c[knn.clamp(min=0)].permute(0, 2, 1).reshape(len(mid), 2 * k).float()   # a's, then b's
    return {"a0": float(lo[0]), "b0": float(lo[1]), "inv_s": 1.0 / s, "n": n, "knn": knn, "xy": xy,
            "row": row, "cand": cand, "cx": cxy[..., 0].float(), "cy": cxy[..., 1].float()}
