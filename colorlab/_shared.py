"""Names and argument checks that several colorlab modules share, kept in one place.

This module imports nothing heavy (no torch), so the command line can read the model names
before it loads anything.

Examples
--------
>>> from colorlab._shared import MODEL_NAMES, positive_int
>>> MODEL_NAMES
('mse', 'class', 'class-rebal', 'gan', 'fusion')
>>> positive_int(3, "steps", "train(): ")
3
>>> positive_int(0, "steps", "train(): ")
Traceback (most recent call last):
    ...
ValueError: train(): steps must be a positive integer, got 0
"""
from __future__ import annotations

import numbers

__all__ = ["MODEL_NAMES", "positive_int"]

#: The models colorlab builds and ships (``build(name)``, ``pretrained(name)``, ``--model``).
MODEL_NAMES = ("mse", "class", "class-rebal", "gan", "fusion")


def positive_int(value, name: str, where: str = "", allow_none: bool = False):
    """``int(value)`` if it is a positive integer (not a bool); ``None`` passes when allowed.

    Parameters
    ----------
    value : object
        What the caller was given.
    name : str
        The argument's name, used in the message.
    where : str
        A prefix that names the caller, e.g. ``"evaluate: "``.
    allow_none : bool
        Let ``None`` through (e.g. "no limit").

    Raises
    ------
    ValueError
        ``f"{where}{name} must be a positive integer, got {value!r}"``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{where}{name} must be a positive integer{extra}, got {value!r}")
    return int(value)
