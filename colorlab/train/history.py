"""The record of a training run: one row per logged step.

Examples
--------
>>> h = History([{"step": 10, "loss": 0.5}, {"step": 20, "loss": 0.25}])
>>> h.to_dict()["loss"]
[0.5, 0.25]
>>> h.last("loss")
0.25

Draw it with :func:`colorlab.viz.training_curves` (``training_curves(h)``).
"""
from __future__ import annotations

__all__ = ["History"]


class History(list):
    """A list of dict rows: ``step``, ``loss``, ``lr``, ``images_per_s`` and, for a GAN,
    ``d_loss``, ``g_adv`` and ``g_l1``; ``val_loss`` and ``val_psnr`` at validation steps.
    Losses are means over the steps since the previous row.
    """

    def to_dict(self) -> dict:
        """Columns: ``{key: [value per row]}`` (``None`` where a row lacks the key), JSON-able."""
        keys = []
        for row in self:
            keys += [k for k in row if k not in keys]
        return {k: [row.get(k) for row in self] for k in keys}

    def last(self, key: str = "loss"):
        """The most recent value of ``key`` (None if never logged)."""
        for row in reversed(self):
            if key in row:
                return row[key]
        return None
