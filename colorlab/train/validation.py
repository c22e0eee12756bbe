"""Held-out scores during training: the validation curve of a run.

Every ``validate_every`` steps :func:`~colorlab.train.train` puts the model in eval mode, scores a
fixed held-out set and adds two numbers to that step's history row: ``val_loss`` (the training
loss on those images: MSE, soft cross-entropy, or a GAN's L1 term) and ``val_psnr`` (dB of the
coloured RGB against the truth). Nothing random is drawn and no state is kept, so a resumed run's
curve continues exactly.

Examples
--------
>>> import colorlab.models as cm, colorlab.data as cd
>>> from colorlab.train.losses import make_task
>>> model = cm.build("mse")
>>> data = cd.load_dataset("samples", size=16, cache=False)
>>> scores = validation_scores(model, make_task(model, steps=1), data)
>>> sorted(scores)
['val_loss', 'val_psnr']
"""
from __future__ import annotations

import torch

from colorlab.color import lab_to_rgb, merge_lab
from colorlab.metrics.scores import psnr

__all__ = ["validation_scores"]


@torch.no_grad()
def validation_scores(model, task, data, batch_size: int = 64) -> dict:
    """``{"val_loss", "val_psnr"}`` of ``model`` on every image of ``data`` (its square images,
    un-augmented), computed in eval mode; the model's train/eval mode is restored afterwards.

    Parameters
    ----------
    model : ColorizationModel
    task : the training task (:func:`colorlab.train.losses.make_task`), for its loss
    data : LabDataset
        Held-out images (``data.lab`` of shape (N, 3, S, S)), centre-cropped to the largest side
        the network takes (a multiple of ``model.multiple``: 144 px images are scored at 128).
    batch_size : int

    Returns
    -------
    dict
        ``val_loss`` (mean over images of the task's loss) and ``val_psnr`` (dB, mean over
        images).
    """
    was_training = model.training
    dev = next(model.parameters()).device
    model.eval()
    multiple = int(getattr(model, "multiple", 1) or 1)
    side = data.size - data.size % multiple
    if side < 1:
        raise ValueError(f"validation: images of {data.size} px are smaller than the "
                         f"{multiple} px the model needs")
    top = (data.size - side) // 2
    loss_sum, psnr_sum, n = 0.0, 0.0, 0
    try:
        for i in range(0, len(data), batch_size):
            lab = data.lab[i:i + batch_size, :, top:top + side, top:top + side].to(dev).float()
            L, ab = lab[:, :1], lab[:, 1:]
            out = model(L)
            loss_sum += float(task.validation_loss(out.float(), ab)) * len(L)
            pred = model.decode(out, L)                      # as colorize, one forward pass
            psnr_sum += psnr(lab_to_rgb(merge_lab(L, pred)), lab_to_rgb(lab)) * len(L)
            n += len(L)
    finally:
        model.train(was_training)
    return {"val_loss": loss_sum / n, "val_psnr": psnr_sum / n}
