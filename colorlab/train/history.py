"""The record of a training run: one row per logged step.

Examples
--------
>>> h = History([{"step": 10, "loss": 0.5}, {"step": 20, "loss": 0.25}])
>>> h.to_dict()["loss"]
[0.5, 0.25]
>>> h.last("loss")
0.25
"""
from __future__ import annotations

import importlib

__all__ = ["History"]


class History(list):
    """A list of dict rows: ``step``, ``loss``, ``lr``, ``images_per_s`` and, for a GAN,
    ``d_loss``, ``g_adv`` and ``g_l1``. Losses are means over the steps since the previous row.
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

    def plot(self, keys=("loss", "d_loss"), ax=None):
        """Plot losses against steps; uses ``colorlab.viz.plot_history`` when it exists.

        Parameters
        ----------
        keys : sequence of str
            Columns to draw (missing ones are skipped).
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        try:
            viz = importlib.import_module("colorlab.viz")
        except ImportError:
            viz = None
        if viz is not None and hasattr(viz, "plot_history"):
            return viz.plot_history(self, ax=ax)
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        cols = self.to_dict()
        for key in keys:
            pts = [(s, v) for s, v in zip(cols.get("step", []), cols.get(key, [])) if v is not None]
            if pts:
                ax.plot(*zip(*pts), label=key)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        return ax
