"""Tolerance-based feedback for the lessons' exercises.

Checks compare a learner's result with a reference by shape, range and relative error, never by
exact seeded values, so they pass across library versions, devices and random seeds. Each check
prints one line of feedback (``✅`` or ``❌`` with what is wrong and a hint) and returns ``True`` or
``False``; it never raises on a wrong answer, so a notebook keeps running. A solution left as
``raise NotImplementedError()`` is reported as "not done yet" by :func:`attempt`.

The relative error is the one CS231n uses: ``max|x - y| / max(1e-8, max(|x| + |y|))``.

Examples
--------
>>> import numpy as np
>>> from colorlab.checks import check_close
>>> check_close("mean", np.array([1.0, 2.0]), np.array([1.0, 2.0000001]))
✅ mean: matches (relative error 2.5e-08 <= 1e-04)
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["rel_error", "check_close", "check_shape", "check_range", "check_true", "attempt"]


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().float().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


def rel_error(x, y) -> float:
    """Relative error ``max|x - y| / max(1e-8, max(|x| + |y|))`` between two arrays or tensors.

    Parameters
    ----------
    x, y : array-like or torch.Tensor of the same shape (any shape)

    Returns
    -------
    float
    """
    x, y = _np(x).astype(np.float64), _np(y).astype(np.float64)
    return float(np.max(np.abs(x - y)) / max(1e-8, float(np.max(np.abs(x) + np.abs(y)))))


def _report(ok: bool, name: str, message: str, hint: str | None = None) -> bool:
    line = f"{'✅' if ok else '❌'} {name}: {message}"
    if not ok and hint:
        line += f"\n   hint: {hint}"
    print(line)
    return ok


def check_shape(name: str, got, expected_shape) -> bool:
    """Check that ``got`` has shape ``expected_shape`` (``None`` entries match any size)."""
    shape = tuple(_np(got).shape) if not hasattr(got, "shape") else tuple(got.shape)
    want = tuple(expected_shape)
    ok = len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want))
    return _report(ok, name, f"shape {shape}" + ("" if ok else f", expected {want}"))


def check_range(name: str, got, low: float, high: float, tol: float = 1e-3) -> bool:
    """Check that every value of ``got`` lies in ``[low - tol, high + tol]`` and is finite."""
    a = _np(got).astype(np.float64)
    if not np.isfinite(a).all():
        return _report(False, name, "contains NaN or inf",
                       "look for a division by zero or a log of 0")
    lo, hi = float(a.min()), float(a.max())
    ok = lo >= low - tol and hi <= high + tol
    return _report(ok, name, f"values in [{lo:.4g}, {hi:.4g}]"
                   + ("" if ok else f", expected within [{low}, {high}]"))


def check_close(name: str, got, expected, rtol: float = 1e-4, hint: str | None = None) -> bool:
    """Check shape equality and a relative error at most ``rtol`` (see :func:`rel_error`).

    Parameters
    ----------
    name : str
        What is being checked, shown in the feedback line.
    got, expected : array-like or torch.Tensor
        The learner's result and the reference, same shape.
    rtol : float
        Largest accepted relative error.
    hint : str, optional
        Shown when the check fails.
    """
    if got is None:
        return _report(False, name, "got None", hint or "did you forget to return the result?")
    g, e = _np(got), _np(expected)
    if g.shape != e.shape:
        return _report(False, name, f"shape {g.shape}, expected {e.shape}", hint)
    err = rel_error(g, e)
    ok = err <= rtol
    return _report(ok, name, f"{'matches' if ok else 'differs'} (relative error {err:.2g} "
                   f"{'<=' if ok else '>'} {rtol:.0e})", hint)


def check_true(name: str, condition: bool, message: str, hint: str | None = None) -> bool:
    """Report a boolean condition with a message, e.g.
    ``check_true("weights", w.min() > 0, "all positive")``."""
    return _report(bool(condition), name, message, hint)


def attempt(name: str, fn, *args, **kwargs):
    """Call the learner's ``fn(*args, **kwargs)``; report "not done yet" instead of crashing.

    Returns the result, or ``None`` if ``fn`` raised (the exception is summarised in one line).
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _report(False, name, "not done yet: replace `raise NotImplementedError()` with your code")
    except Exception as exc:  # feedback for a learner, not a crash
        _report(False, name, f"raised {type(exc).__name__}: {exc}")
    return None
