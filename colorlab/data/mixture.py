"""Several photo sources as one training set, each drawn with its own share of every batch.

Photo models train on scenes, people and objects together. Concatenated as they come, the biggest
source would dominate each batch (landscapes outnumber faces); :func:`mix_datasets` instead gives
each source a weight, and the training engine draws examples with probability proportional to
their :attr:`LabDataset.sample_weights` (so a source with weight 0.3 fills about 30 % of every
batch, whatever its size). :func:`load_mixture` does the same from dataset specs.

Examples
--------
>>> import numpy as np
>>> a = LabDataset.from_images([np.zeros((8, 8, 3), np.uint8)] * 6, size=8, name="a")
>>> b = LabDataset.from_images([np.full((8, 8, 3), 200, np.uint8)] * 2, size=8, name="b")
>>> mix = mix_datasets({"a": a, "b": b}, weights=[1, 1])
>>> len(mix), mix.classes
(8, ['a', 'b'])
>>> [round(float(mix.sample_weights[mix.labels == i].sum()), 2) for i in range(2)]
[0.5, 0.5]
"""
from __future__ import annotations

import torch

from .dataset import LabDataset

__all__ = ["mix_datasets", "load_mixture", "parse_mixture"]


def _weights(weights, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise ValueError(f"mix: {len(weights)} weights for {n} sources")
    if any(not w >= 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"mix: weights must be >= 0 and not all 0, got {weights}")
    total = sum(weights)
    return [w / total for w in weights]


def mix_datasets(parts: dict, weights=None) -> LabDataset:
    """One :class:`LabDataset` from several of the same size, each source drawn with its weight.

    Parameters
    ----------
    parts : dict of str -> LabDataset
        The sources by name, all with the same :attr:`~LabDataset.size`.
    weights : sequence of float, optional
        Share of the batches for each source, in the order of ``parts`` (normalised to sum 1);
        default equal shares.

    Returns
    -------
    LabDataset
        ``lab`` of shape ``(sum N_i, 3, S, S)``; :attr:`labels` the source of each image with
        :attr:`classes` the source names; :attr:`sample_weights` ``(N,)``, summing to 1, each
        image ``weight_i / N_i``; :attr:`paths` concatenated when every source has them.
    """
    if not parts:
        raise ValueError("mix: no sources given")
    names, sets = list(parts), list(parts.values())
    sizes = {ds.size for ds in sets}
    if len(sizes) != 1:
        raise ValueError(f"mix: the sources have different sizes {sorted(sizes)}; load them at "
                         "one size")
    shares = _weights(weights, len(sets))
    lab = torch.cat([ds.lab for ds in sets])
    labels = torch.cat([torch.full((len(ds),), i, dtype=torch.long) for i, ds in enumerate(sets)])
    per_image = torch.cat([torch.full((len(ds),), s / len(ds), dtype=torch.float64)
                           for s, ds in zip(shares, sets)])
    paths = None
    if all(ds.paths is not None for ds in sets):
        paths = [p for ds in sets for p in ds.paths]
    return LabDataset(lab, name="+".join(names), paths=paths, labels=labels, classes=names,
                      augment=sets[0].augment, crop_size=sets[0].crop_size,
                      sample_weights=per_image)


def parse_mixture(spec: str, weights=None) -> tuple[list[str], list[float] | None]:
    """Split ``"folder:A,folder:B"`` (and ``"0.3,0.7"`` or a list of weights) into lists.

    Examples
    --------
    >>> parse_mixture("folder:a,folder:b", "1,3")
    (['folder:a', 'folder:b'], [1.0, 3.0])
    """
    specs = [s.strip() for s in spec.split(",") if s.strip()]
    if isinstance(weights, str):
        try:
            weights = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ValueError(f"mix: weights must be numbers separated by commas, got "
                             f"{weights!r}") from None
    if weights is not None and len(weights) != len(specs):
        raise ValueError(f"mix: {len(weights)} weights for {len(specs)} sources ({spec})")
    return specs, (None if weights is None else list(weights))


def _load_split(load_dataset, spec: str, split: str, kw: dict) -> LabDataset:
    """``split`` of ``spec``; a held-out split falls back to the other name (val <-> test)."""
    other = {"val": "test", "test": "val"}.get(split)
    try:
        return load_dataset(spec, split=split, **kw)
    except ValueError:
        if other is None:
            raise
        return load_dataset(spec, split=other, **kw)


def load_mixture(specs, weights=None, split: str = "train", **kw) -> LabDataset:
    """:func:`~colorlab.data.load_dataset` on each spec, then :func:`mix_datasets`.

    Parameters
    ----------
    specs : str or list of str
        Dataset specs (``"folder:PATH"``, ``"imagenette"``, ...), or one string of them separated
        by commas.
    weights : sequence of float or str, optional
        Each source's share of the batches (default equal); only for two or more sources.
    split : str
        The split to read. A held-out split ("val" or "test") falls back to the other one for a
        source that has only that (the Intel scenes call theirs test/).
    **kw
        Passed to :func:`~colorlab.data.load_dataset` (``size``, ``limit``, ``augment``, ...).
        ``limit`` applies to each source.

    Returns
    -------
    LabDataset
        As :func:`mix_datasets` returns it.
    """
    from .sources import load_dataset
    if isinstance(specs, str):
        specs, weights = parse_mixture(specs, weights)
    if weights is not None and len(specs) < 2:
        raise ValueError(f"mix: weights need two or more sources, got {len(specs)} "
                         f"({', '.join(specs) or 'none'})")
    parts = {}
    short = [spec[len("folder:"):].rstrip("/").rsplit("/", 1)[-1] if spec.startswith("folder:")
             else spec for spec in specs]
    keys = short if len(set(short)) == len(short) else list(specs)
    for key, spec in zip(keys, specs):
        parts[key] = _load_split(load_dataset, spec, split, kw)
    return mix_datasets(parts, weights)
