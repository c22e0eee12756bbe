"""The model registry: each model name and the class that builds it, and :func:`build`.

Two tables: the from-scratch networks of the projects (:data:`FROM_SCRATCH`) and the photo models
over the ImageNet-pretrained encoder (:data:`OVER_ENCODER`, what :func:`colorlab.models.pretrained`
ships, plus ``"hints"``, the photo model that takes user hints). :func:`build` picks one by name
and refuses options the chosen class does not take, so a mistake (``lam`` for an ``mse`` model,
``embed_size`` without an encoder) fails at once, for Python users and the command line alike.

Examples
--------
>>> sorted(FROM_SCRATCH) == sorted(MODEL_NAMES)
True
>>> sorted(set(OVER_ENCODER) - set(MODEL_NAMES))
['hints']
>>> try:  # doctest: +NORMALIZE_WHITESPACE
...     build("mse", lam=0.5)
... except TypeError as e:
...     print(e)
build('mse'): unexpected keyword(s) ['lam']; it takes width, upsample, batchnorm, dropout,
ab_blur, image_size
"""
from __future__ import annotations

import functools
import inspect

from colorlab._shared import MODEL_NAMES
from colorlab.models.base import ColorizationModel
from colorlab.models.baseline import MSEColorizer
from colorlab.models.eccv16 import ClassColorizer, RebalancedClassColorizer
from colorlab.models.fusion import FusionColorizer
from colorlab.models.gan import GANColorizer
from colorlab.models.photo import (
    PhotoClassifier,
    PhotoGAN,
    PhotoHintColorizer,
    PhotoRebalancedClassifier,
    PhotoRegressor,
)

__all__ = ["MODEL_NAMES", "FROM_SCRATCH", "OVER_ENCODER", "build"]

#: name -> the class of the from-scratch network (``build(name)``).
FROM_SCRATCH = {"mse": MSEColorizer, "class": ClassColorizer,
                "class-rebal": RebalancedClassColorizer, "gan": GANColorizer,
                "fusion": FusionColorizer}
#: name -> what builds the photo model (``build(name, encoder="efficientnet_lite0")``).
OVER_ENCODER = {"mse": functools.partial(PhotoRegressor, "mse"),
                "fusion": functools.partial(PhotoRegressor, "fusion"),
                "class": PhotoClassifier, "class-rebal": PhotoRebalancedClassifier,
                "gan": PhotoGAN, "hints": PhotoHintColorizer}


def _check_keywords(name: str, make, kw: dict) -> None:
    """TypeError naming the options ``make`` does not take (classes with ``**kw`` check their
    own)."""
    params = inspect.signature(make).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    known = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kw) - set(known))
    if unknown:
        raise TypeError(f"build({name!r}): unexpected keyword(s) {unknown}; it takes "
                        f"{', '.join(known)}")


def build(name: str, **kw) -> ColorizationModel:
    """Build a model by name.

    Parameters
    ----------
    name : {"mse", "class", "class-rebal", "gan", "fusion"}
        Which design.
    **kw
        That model's options (see its class): e.g. ``width``, ``upsample``, ``batchnorm``,
        ``dropout``, ``ab_blur``; ``quantizer`` (or ``Q``) and ``T`` for the classification models;
        ``variant="dcgan"``, ``depth`` for the GAN; ``backbone``, ``pretrained`` for fusion.
        ``encoder="efficientnet_lite0"`` builds the photo model of that kind over the
        ImageNet-pretrained encoder instead (:mod:`colorlab.models.photo`): what
        :func:`~colorlab.models.pretrained` ships.

    Returns
    -------
    ColorizationModel
        ``model.config`` holds these kwargs (JSON-able, with ``"name"``), so
        ``build(**model.config)`` rebuilds the same architecture.

    Raises
    ------
    ValueError
        For an unknown name, or an option value the model refuses.
    TypeError
        For an option the model does not take (the message lists those it takes).

    Examples
    --------
    >>> build("gan", variant="dcgan").kind
    'gan'
    >>> build("class", Q=313, width=1.0).model_out.weight.shape
    torch.Size([2, 313, 1, 1])
    >>> build("class-rebal", encoder="efficientnet_lite0").multiple
    32
    """
    table = OVER_ENCODER if kw.get("encoder") is not None else FROM_SCRATCH
    if kw.get("encoder", 0) is None:
        del kw["encoder"]
    if name not in table:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    _check_keywords(name, table[name], kw)
    return table[name](**kw)
