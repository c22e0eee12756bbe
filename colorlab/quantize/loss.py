"""Cross-entropy against sparse soft targets (the k nearest bins and their weights)."""
from __future__ import annotations

import torch

__all__ = ["soft_cross_entropy"]


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
    >>> from colorlab.quantize import ABQuantizer
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
