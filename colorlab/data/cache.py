"""The on-disk cache of prepared datasets: one file per settings, written atomically.

Location: ``$COLORLAB_CACHE`` if set, else ``~/.cache/colorlab`` (outside the repository; the
repository's own ``datasets/cache/`` is git-ignored too). Files are ``datasets/<name>-<key>.pt``
where ``key`` hashes every setting that changes the result (source fingerprint, split, size, limit,
format version), so a changed setting or a changed folder never reads a stale file. They are
written and read like every colorlab checkpoint (:mod:`colorlab.checkpoint_io`: atomic,
``weights_only=True``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path

from ..checkpoint_io import CheckpointError, read_checkpoint, write_checkpoint

__all__ = ["cache_dir", "cache_path", "save_cache", "load_cache"]

CACHE_VERSION = 2


def cache_dir() -> Path:
    """The cache root: ``$COLORLAB_CACHE``, else ``~/.cache/colorlab``.

    Examples
    --------
    >>> cache_dir().name in ("colorlab",) or "COLORLAB_CACHE" in __import__("os").environ
    True
    """
    env = os.environ.get("COLORLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "colorlab"


def cache_path(settings: dict, root=None) -> Path:
    """The cache file for ``settings`` (a JSON-able dict), under ``root`` (default
    :func:`cache_dir`).

    Examples
    --------
    >>> cache_path({"name": "samples", "size": 64}, root="/tmp/c").name[:8]
    'samples-'
    """
    blob = json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_",
                  str(settings.get("name", "data")))[-40:].strip("_") or "data"
    return Path(root if root is not None else cache_dir()) / "datasets" / f"{slug}-{key}.pt"


def save_cache(path: Path, payload: dict) -> None:
    """Write ``payload`` to the cache file ``path`` atomically (a failed write leaves no torn file).

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.pt"
    >>> save_cache(f, {"lab": torch.zeros(1, 3, 2, 2)})
    >>> load_cache(f)["lab"].shape
    torch.Size([1, 3, 2, 2])
    """
    write_checkpoint(path, payload, what="cache file")


def load_cache(path: Path):
    """The cached payload (``weights_only=True``), or None if absent; an unreadable file is warned
    about (and then rebuilt by the caller).

    Examples
    --------
    >>> load_cache(Path("/nonexistent/x.pt")) is None
    True
    """
    if not path.is_file():
        return None
    try:
        return read_checkpoint(path)
    except CheckpointError as e:  # truncated or foreign file: rebuild rather than fail
        warnings.warn(f"{path}: ignoring unreadable cache file ({e.reason}); rebuilding it",
                      stacklevel=3)
        return None
