"""Exact k-nearest-bin search for :class:`colorlab.quantize.ABQuantizer`.

A plain ``cdist`` + ``topk`` against all Q bins is slower than scikit-learn's tree; instead the
search exploits the regular grid. A fine look-up table (cells of ``grid / 10``) stores, for every
fine cell in which the set of k nearest bins is the same everywhere (checked exactly at the
cell's four corners, since the difference of two squared distances is linear in the point), those
k bins and their coordinates: a query then costs one table look-up and k distances. Points in
the remaining "mixed" cells are compared only with the bins that can be among their k nearest
(the k-th distance is 1-Lipschitz, so these are the bins within ``d_k(cell centre) +
half-diagonal`` of the cell), and points beyond the table are compared with every bin, so the
result is exact everywhere, including ab far outside every bin.
"""
from __future__ import annotations

import math

import torch

_FINE = 10          # fine lookup cells per grid cell side
_MARGIN = 3         # lookup table covers the centres' bounding box plus this many grid cells
_FAR = 1e6          # coordinate of padding candidates: never among the k nearest
_CHUNK = 65536      # points per chunk: keeps temporaries in cache
_TABLE_CACHE: dict = {}


def split_points(ab: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor, tuple]:
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


def _table(centers: torch.Tensor, grid: float, k: int) -> dict:
    """The look-up tables for these centres and k, built once per process and device."""
    c = centers.detach().cpu().double()
    key = (k, grid, str(centers.device), c.numpy().tobytes())
    if key not in _TABLE_CACHE:       # shared by every quantizer with the same bins
        _TABLE_CACHE[key] = {kk: v.to(centers.device) if torch.is_tensor(v) else v
                             for kk, v in _build_table(c, grid, k).items()}
    return _TABLE_CACHE[key]


def search(centers, grid, ab, k, ordered, sigma):
    """k nearest of ``centers`` (Q, 2) for ab (B, 2, H, W) / (N, 2), nearest first when
    ``ordered``; returns (idx, d2), or (idx, Gaussian weights) when ``sigma`` is given."""
    if not 1 <= k <= len(centers):
        raise ValueError(f"k must be in [1, Q={len(centers)}], got {k}")
    a, b, shape = split_points(ab, "ab")
    if not ab.is_floating_point():
        a, b = a.float(), b.float()
    a, b = a.contiguous(), b.contiguous()
    t = _table(centers, grid, k)
    idx = torch.empty(len(a), k, dtype=torch.long, device=a.device)
    d2 = torch.empty(len(a), k, dtype=a.dtype, device=a.device)
    for s in range(0, len(a), _CHUNK):
        _chunk(centers, t, a[s:s + _CHUNK], b[s:s + _CHUNK], idx[s:s + _CHUNK], d2[s:s + _CHUNK],
                    ordered, sigma)
    return _k_last_to_axis1(idx, shape), _k_last_to_axis1(d2, shape)

def _chunk(centers, t, a, b, idx_out, d2_out, ordered, sigma):
    """Fill idx_out and d2_out (or weights) (n, k) for points (a, b): look-up, exact fallbacks."""
    k, n = idx_out.shape[1], t["n"]
    i = (a - t["a0"]).mul_(t["inv_s"]).floor_()
    j = (b - t["b0"]).mul_(t["inv_s"]).floor_()
    inside = (i >= 0) & (i < n) & (j >= 0) & (j < n)        # False for NaN too
    cell = i.mul_(n).add_(j).long().where(inside, 0)
    torch.index_select(t["knn"], 0, cell, out=idx_out)         # k bins; -1 in mixed cells
    d2 = d2_out
    torch.sub(a[:, None], t["xa"].index_select(0, cell).to(a.dtype), out=d2).square_()
    d2.add_(torch.sub(b[:, None], t["xb"].index_select(0, cell).to(a.dtype)).square_())
    # the last slot goes to the nearer of the cell's two contenders (a far dummy in pure cells)
    alt = t["alt"].index_select(0, cell)                       # (n, 3): a, b, index
    d_alt = (a - alt[:, 0].to(a.dtype)).square_().add_((b - alt[:, 1].to(a.dtype)).square_())
    swap = d_alt < d2[:, k - 1]
    idx_out[:, k - 1] = torch.where(swap, alt[:, 2].long(), idx_out[:, k - 1])
    d2[:, k - 1] = torch.minimum(d2[:, k - 1], d_alt)
    hard = ~inside | (idx_out[:, 0] < 0)
    shift = (sigma is not None
             and 0.5 * float(t["d2max"].index_select(0, cell).max()) / sigma ** 2 > 80.0)
    if bool(hard.any()):
        shift = shift or not bool(inside.all())
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
            dd = ((ps[mixed, 0:1] - t["cx"][r].to(a.dtype)) ** 2
                  + (ps[mixed, 1:2] - t["cy"][r].to(a.dtype)) ** 2)
            sub_d[mixed], near = dd.topk(k, dim=1, largest=False)
            sub_i[mixed] = t["cand"][r].gather(1, near)
        if bool((~mixed).any()):   # beyond the table: every bin
            sub_d[~mixed], sub_i[~mixed] = _far_knn(centers, ps[~mixed], k,
                                                    relative=sigma is not None)
        idx_out[sel] = sub_i
        d2[sel] = sub_d
    if ordered and k > 1:
        d2s, order = d2.sort(1)
        d2.copy_(d2s)
        idx_out.copy_(idx_out.gather(1, order))
    # Gaussian weights; shifted by the nearest distance if they could underflow
    if sigma is not None:
        if shift:
            d2.sub_(d2.amin(1, keepdim=True))
        d2.mul_(-0.5 / sigma ** 2).exp_()
        d2.div_(d2.sum(1, keepdim=True))


def _far_knn(centers, ps, k, relative):
    """k nearest bins of points ``ps`` (m, 2) beyond the table, exact and finite for any finite ab.

    Ranks on ``r_i = d_i^2 - d_j^2 = |c_i|^2 - |c_j|^2 + 2 p.(c_j - c_i)``, with ``j`` the bin
    furthest along ``p`` (float64): the differences ``c_j - c_i`` are exact, so no ``|p|^2`` term
    overflows (|ab| above ~1e19 in float32) and ties along ``p`` are broken by ``|c|^2`` exactly.
    Returns ``(d2, idx)``: the squared distances (inf where they do not fit the dtype), or with
    ``relative`` their excess over the nearest one, ``d_i^2 - d_1^2`` (what Gaussian weights need).
    """
    c = centers.to(device=ps.device, dtype=torch.float64)
    cc = (c * c).sum(1)
    out_d = torch.empty(len(ps), k, dtype=ps.dtype, device=ps.device)
    out_i = torch.empty(len(ps), k, dtype=torch.long, device=ps.device)
    for s in range(0, len(ps), 4096):          # (m, Q) float64 temporaries stay small
        p = ps[s:s + 4096].double()
        scale = p.abs().amax(1, keepdim=True).div(1e100).clamp_(min=1.0)  # beyond 1e100 only the
        p = p / scale                          # direction matters (|c|^2 is negligible there)
        j = (p @ c.T).argmax(1)
        r = (cc - cc[j, None]) + 2.0 * (p[:, :1] * (c[j, None, 0] - c[:, 0])
                                        + p[:, 1:] * (c[j, None, 1] - c[:, 1]))
        r, idx = r.topk(k, dim=1, largest=False)
        if relative:
            d2 = (r - r[:, :1]) * scale
        else:
            dj = ((p - c[j]) ** 2).sum(1, keepdim=True)
            d2 = (dj + r).clamp_(min=0) * scale ** 2
        out_d[s:s + 4096], out_i[s:s + 4096] = d2.to(ps.dtype), idx
    return out_d, out_i


def _build_table(c: torch.Tensor, grid: float, k: int) -> dict:
    """Lookup tables for exact k-NN against centres ``c`` (Q, 2) float64 (see module doc)."""
    s = grid / _FINE
    lo = c.min(0).values - _MARGIN * grid
    n = int(math.ceil(float((c.max(0).values - c.min(0).values).max() + 2 * _MARGIN * grid) / s))
    ii = torch.arange(n, dtype=torch.float64)
    ga, gb = torch.meshgrid(lo[0] + (ii + 0.5) * s, lo[1] + (ii + 0.5) * s, indexing="ij")
    mid = torch.stack((ga.reshape(-1), gb.reshape(-1)), 1)                 # (C, 2) cell centres
    corners = torch.tensor([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=torch.float64) * (s / 2)
    knn = torch.empty(len(mid), k + 1, dtype=torch.long)   # k bins, then a contender or -1
    cand_rows, mixed_cells = [], []
    # bound on a pure cell's k distances^2
    d2max = torch.zeros(len(mid), dtype=torch.float32)
    for start in range(0, len(mid), 4096):
        m = mid[start:start + 4096]
        # the cell is pure when at its 4 corners (hence everywhere: d_i^2 - d_j^2 is linear) every
        # bin of the centre's top k is at least as near as every other bin. Only bins within
        # d_k + diagonal of the centre can compete; the nearest kk (checked) hold all of them.
        kk = min(k + 16, len(c))
        dn, near = torch.cdist(m, c).topk(kk, dim=1, largest=False)
        dk, top = dn[:, :k], near[:, :k]
        cx, cy = c[near, 0], c[near, 1]                                             # (m, kk)
        d2c = torch.stack([(m[:, 0:1] + o[0] - cx) ** 2 + (m[:, 1:2] + o[1] - cy) ** 2
                           for o in corners], 1)
        far_top = d2c[..., :k].amax(2)
        rest = d2c[..., k:].amin(2) if kk > k else torch.full_like(far_top, math.inf)
        covered = (dn[:, -1] > dk[:, -1] + 2 * s) | (kk == len(c))
        pure = (far_top <= rest).all(1) & covered
        # "two contenders": the centre's top k-1 beat every other bin everywhere in the cell, and
        # every bin after the centre's (k+1)-th loses everywhere to its k-th (A) or its (k+1)-th
        # (B); then the k nearest are the top k-1 plus the nearer of A and B, decided per point.
        two = torch.zeros_like(pure)
        if kk > k:
            top_km1 = d2c[..., :k - 1].amax(2) if k > 1 else torch.full_like(far_top, -math.inf)
            sure = (top_km1 <= d2c[..., k - 1:].amin(2)).all(1)
            beat = ((d2c[..., k - 1:k] <= d2c[..., k + 1:]).all(1)
                    | (d2c[..., k:k + 1] <= d2c[..., k + 1:]).all(1))
            two = sure & beat.all(1) & covered & ~pure
        d2max[start:start + len(m)] = torch.where(pure | two, d2c[..., :k + 1].amax(dim=(1, 2)),
                                                  0.0)
        knn[start:start + len(m), :k] = torch.where((pure | two)[:, None], top, -1)
        knn[start:start + len(m), k] = torch.where(two, near[:, min(k, kk - 1)], -1)
        pure = pure | two
        # candidates of mixed cells: bins within (k-th distance at centre + half-diagonal) of
        # the cell
        mixed = (~pure).nonzero().squeeze(1)
        gap = ((m[mixed, None] - c).abs() - s / 2).clamp(min=0)
        box = (gap[..., 0] ** 2 + gap[..., 1] ** 2).sqrt()
        reach = box <= (dk[mixed, k - 1] + s * math.sqrt(0.5) + 1e-9)[:, None]
        cnt = reach.sum(1)
        order = (~reach).to(torch.uint8).argsort(dim=1, stable=True)[
            :, :max(int(cnt.max()) if len(cnt) else 0, k)]
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
    xy = torch.where((knn >= 0)[..., None], c[knn.clamp(min=0)], _FAR).float()   # (C, k+1, 2)
    alt = torch.cat((xy[:, k], knn[:, k:].clamp(min=0).float()), 1)            # (C, 3): a, b, index
    knn, xa, xb = knn[:, :k].contiguous(), xy[:, :k, 0].contiguous(), xy[:, :k, 1].contiguous()
    return {"a0": float(lo[0]), "b0": float(lo[1]), "inv_s": 1.0 / s, "n": n, "d2max": d2max,
            "knn": knn, "xa": xa, "xb": xb, "alt": alt,
            "row": row, "cand": cand, "cx": cxy[..., 0].float(), "cy": cxy[..., 1].float()}
