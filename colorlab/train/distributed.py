"""Data parallel training when started by ``torchrun``: process group, device, DDP wrapping.

``torchrun --nproc_per_node N script.py`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`setup` then joins the process group (``nccl`` on CUDA, ``gloo`` on CPU) and
:func:`colorlab.train.train` wraps the trained modules in ``DistributedDataParallel``. Each
process trains on its own slice of every global batch, gradients are averaged, and only rank 0
shows progress and writes checkpoints.

Examples
--------
>>> ctx = setup("cpu")          # not under torchrun: a single process
>>> ctx.world_size, ctx.rank, ctx.active
(1, 0, False)
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "setup", "wrap", "gather", "teardown"]


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, on ``device``.

    ``active`` is True when more than one process trains; ``owns_group`` when :func:`setup`
    created the process group (it is destroyed at exit).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None
    active: bool = False
    owns_group: bool = False


def setup(device) -> DistContext:
    """Join the ``torchrun`` process group if the environment says so.

    Parameters
    ----------
    device : str or torch.device
        The requested device ("auto", "cpu", "cuda", "mps"); under torchrun with CUDA each
        process takes ``cuda:LOCAL_RANK``.

    Returns
    -------
    DistContext
        ``device`` is set only for a distributed run (the engine picks it otherwise).
    """
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        owns = False
    else:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        owns = world > 1
    if world <= 1:
        return DistContext()
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    want = str(device)
    use_cuda = torch.cuda.is_available() and want in ("auto", "cuda") or want.startswith("cuda")
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if owns:
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
        # Kept for the life of the process: re-creating a group on torchrun's store in a second
        # train() call can hang, so it is destroyed once, at exit.
        atexit.register(dist.destroy_process_group)
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev, active=True,
                       owns_group=owns)


def wrap(module: nn.Module, ctx: DistContext) -> nn.Module:
    """``DistributedDataParallel(module)`` in a distributed run, else ``module`` itself.

    ``static_graph=True``: each wrapped module runs one forward and one backward per step, the
    same every step (a GAN's discriminator is called twice inside that one forward), so DDP may
    find parameters that ``forward`` never uses by itself (no ``find_unused_parameters``
    traversal cost, no error for such parameters).
    """
    if not ctx.active:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, static_graph=True)


def gather(obj, ctx: DistContext) -> list:
    """All ranks' ``obj`` as a list in rank order (``[obj]`` in a single process)."""
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def teardown(ctx: DistContext) -> None:
    """Wait for every rank (the process group lives on for later ``train`` calls)."""
    if ctx.active:
        dist.barrier()
