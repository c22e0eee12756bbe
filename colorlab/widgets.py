"""Interactive widgets: compare models side by side, explore the decoding temperature, and run a
colourisation Turing test.

Every widget renders images as PNG bytes into :class:`ipywidgets.Image` views that are updated in
place, so moving a slider never piles up figures. In Colab, run
``google.colab.output.enable_custom_widget_manager()`` first (the lessons' set-up cell does).

Examples
--------
>>> from colorlab.widgets import ModelComparison            # doctest: +SKIP
>>> ModelComparison(["mse", "class-rebal"])                 # doctest: +SKIP
"""
from __future__ import annotations

import io as _io
import json
import math
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from colorlab.io import atomic_write
from colorlab.pipeline import gray_image

__all__ = ["ModelComparison", "TemperatureExplorer", "TuringTest", "wilson_interval", "to_png",
           "uploaded_files"]

DISPLAY_MAX_SIDE = 384  # uploads are shrunk to this for the widget; the CLI colours at full size


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """``[(file name, bytes), ...]`` from any upload: ipywidgets 8's or 7's ``FileUpload.value``,
    or the dict ``google.colab.files.upload()`` returns.

    ipywidgets 8 holds a tuple of dicts with ``name`` and ``content`` (a memoryview); ipywidgets 7
    a dict ``{name: {"metadata": {...}, "content": bytes}}``; Colab's uploader ``{name: bytes}``.

    Examples
    --------
    >>> uploaded_files(({"name": "a.png", "content": memoryview(b"x")},))      # ipywidgets 8
    [('a.png', b'x')]
    >>> uploaded_files({"b.jpg": {"metadata": {"name": "b.jpg"}, "content": b"y"}})  # ipywidgets 7
    [('b.jpg', b'y')]
    >>> uploaded_files({"c.png": b"z"})                                    # google.colab.files
    [('c.png', b'z')]
    """
    if not value:
        return []
    if isinstance(value, dict):
        return [(str(name), bytes(item["content"] if isinstance(item, dict) else item))
                for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in value]


def to_png(rgb: np.ndarray, height: int | None = None) -> bytes:
    """Encode an RGB ``uint8`` array ``(H, W, 3)`` as PNG bytes, optionally scaled to ``height``
    pixels."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb))
    if height and img.height != height:
        img = img.resize((max(1, round(img.width * height / img.height)), height), Image.NEAREST
                         if img.height < height else Image.BICUBIC)
    buf = _io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _shrink(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The widget's own writable copy of ``rgb``, at most ``max_side`` pixels on its longer side.

    A copy, so the widget never aliases the caller's array; writable, because PIL's arrays are
    read-only and torch warns about those in the learner's notebook (seen in the browser test).
    """
    from PIL import Image

    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return np.array(rgb)
    scale = max_side / max(h, w)
    return np.array(Image.fromarray(rgb).resize((max(1, round(w * scale)),
                                                 max(1, round(h * scale))), Image.BICUBIC))


def _load_models(models) -> dict:
    """Accept a dict name -> model, or a list of shipped names / checkpoint paths / models."""
    from . import models as M

    if isinstance(models, dict):
        return dict(models)
    loaded = {}
    for item in models:
        if isinstance(item, (str, os.PathLike)):
            loaded[Path(item).stem if os.path.exists(item) else str(item)] = M.load_checkpoint(item)
        else:
            loaded[getattr(item, "config", {}).get("name", type(item).__name__)] = item
    return loaded


def _per_image_metrics(pred: np.ndarray, truth: np.ndarray) -> dict:
    from . import metrics
    from .color import rgb_to_lab

    p = torch.from_numpy(pred).permute(2, 0, 1)[None].float() / 255
    t = torch.from_numpy(truth).permute(2, 0, 1)[None].float() / 255
    ab_p, ab_t = rgb_to_lab(p)[:, 1:], rgb_to_lab(t)[:, 1:]
    return {"PSNR": metrics.psnr(p, t), "colourfulness": metrics.colorfulness(p),
            "chroma ratio": metrics.chroma_ratio(ab_p, ab_t)}


def _panel(title: str, height: int):
    import ipywidgets as W

    image = W.Image(format="png", layout=W.Layout(height=f"{height}px", width="auto"))
    label = W.HTML(f"<b>{title}</b>")
    return (W.VBox([label, image], layout=W.Layout(align_items="center", margin="0 6px")), image,
            label)


class ModelComparison:
    """Pick models, an image (or upload one) and a temperature; see the colourisations side by
    side.

    Parameters
    ----------
    models : dict or list
        ``{name: model}``, or shipped names (``"mse"``, ``"class"``, ``"class-rebal"``, ``"gan"``,
        ``"fusion"``) and checkpoint paths. Every model needs ``colorize_image(image, size=...)``.
    images : dict, optional
        ``{name: uint8 RGB (H, W, 3)}``; defaults to :func:`colorlab.data.sample_photos`.
    size : int, optional
        Working size of the models (the image is coloured at its full display resolution).
        Default: each model's own, the size it was trained at (``config["image_size"]``).
    height : int
        Display height of each panel in pixels.

    Attributes
    ----------
    outputs : dict
        ``{panel name: uint8 RGB}`` currently shown; ``metrics`` holds the per-image metrics table.
    """

    def __init__(self, models, images=None, size: int | None = None, height: int = 192):
        import ipywidgets as W

        from .data import sample_photos

        self.models = _load_models(models)
        if not self.models:
            raise ValueError("ModelComparison needs at least one model")
        self.images = {k: _shrink(v)
                       for k, v in (images if images is not None else sample_photos()).items()}
        self.size, self.height = (None if size is None else int(size)), int(height)
        self.outputs, self.metrics = {}, {}
        self._panels: dict = {}  # panel name -> (box, image), reused so no widget is ever orphaned
        names = list(self.models)
        self.model_picker = W.SelectMultiple(options=names,
                                             value=tuple(names[: min(3, len(names))]),
                                             description="models", rows=min(6, len(names)))
        self.image_picker = W.Dropdown(options=list(self.images), description="image")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.temperature = W.FloatSlider(value=0.38, min=0.01, max=1.0, step=0.01, description="T",
                                         continuous_update=False, readout_format=".2f")
        self.status = W.HTML()
        self.table = W.HTML()
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        for control in (self.model_picker, self.image_picker, self.temperature):
            control.observe(lambda change: self.update(), names="value")
        self.upload.observe(self._on_upload, names="value")
        controls = W.HBox([self.model_picker,
                           W.VBox([self.image_picker, self.upload, self.temperature])])
        self.widget = W.VBox([controls, self.status, self.row, self.table])
        self.update()

    def _on_upload(self, change):
        from .io import ImageReadError, read_image

        for name, content in uploaded_files(change["new"]):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / Path(name).name
                path.write_bytes(content)
                try:
                    self.images[f"upload: {name}"] = _shrink(read_image(path))
                except ImageReadError as exc:
                    self.status.value = f"<span style='color:#b00'>{name}: {exc.reason}</span>"
                    return
            self.image_picker.options = list(self.images)
            self.image_picker.value = f"upload: {name}"

    def update(self):
        """Recolour the chosen image with every chosen model and refresh the panels in place."""
        truth = self.images[self.image_picker.value]
        is_grey = bool(np.ptp(truth.astype(int), axis=-1).max() <= 2)
        panels = {"grey input": gray_image(truth)}
        for name in self.model_picker.value:
            model = self.models[name]
            if hasattr(model, "T"):
                model.T = float(self.temperature.value)
            with torch.no_grad():
                panels[name] = model.colorize_image(truth, size=self.size)
        if not is_grey:
            panels["ground truth"] = truth
        self.metrics = {} if is_grey else {n: _per_image_metrics(panels[n], truth)
                                           for n in self.model_picker.value}
        self.outputs = panels
        self._render()

    def _render(self):
        # One panel per name, made once: changing the models used to build fresh panels each time,
        # leaving the old Image widgets (and their PNG bytes) alive in the kernel and the page.
        # Images are set before the row changes, so a new panel never shows up empty.
        for name, rgb in self.outputs.items():
            if name not in self._panels:
                self._panels[name] = _panel(name, self.height)[:2]
            self._panels[name][1].value = to_png(rgb, self.height)
        boxes = tuple(self._panels[name][0] for name in self.outputs)
        if tuple(self.row.children) != boxes:
            self.row.children = boxes
        rows = "".join(f"<tr><td>{n}</td>" + "".join(f"<td>{v:.2f}</td>" for v in m.values())
                       + "</tr>" for n, m in self.metrics.items())
        head = "".join(f"<th>{k}</th>" for k in next(iter(self.metrics.values()), {}))
        truth_c = ""
        if self.metrics and "ground truth" in self.outputs:
            from . import metrics
            t = torch.from_numpy(self.outputs["ground truth"]).permute(2, 0, 1)[None].float() / 255
            truth_c = f"<p>ground-truth colourfulness: {metrics.colorfulness(t):.2f}</p>"
        self.table.value = (f"<table><tr><th>model</th>{head}</tr>{rows}</table>{truth_c}" if rows
                            else "<p>grey input: no ground truth, so no metrics</p>")
        self.status.value = f"T = {self.temperature.value:.2f} (classification models only)"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class TemperatureExplorer(ModelComparison):
    """One classification model, one image, and a slider for the annealed-mean temperature T.

    T near 0 gives the mode (saturated, patchy), T = 1 the mean (dull, sepia-like), T = 0.38 the
    ECCV16 compromise.
    """

    def __init__(self, model, image=None, size: int | None = None, height: int = 192):
        from .data import sample_photos

        images = ({"image": image} if image is not None
                  else dict(list(sample_photos().items())[:4]))
        super().__init__({"model": model} if not isinstance(model, (dict, list)) else model,
                         images, size, height)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default); ``(0, 1)`` when there are no
    trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
            / (1 + z * z / trials))
    return max(0.0, centre - half), min(1.0, centre + half)


class TuringTest:
    """A colourisation Turing test: which of two pictures is the real one?

    Each round shows the real photo and one model's colourisation, in random order. The learner
    clicks the one they think is real; a model "fools" them when they pick its colourisation. The
    ECCV16 paper reports 32% fooled for its full model (50% would be indistinguishable).

    Parameters
    ----------
    models : dict or list
        As for :class:`ModelComparison`.
    images : dict, optional
        ``{name: uint8 RGB}``; defaults to the sample photos.
    size : int, optional
        Working size of the models; default: each model's own training size.
    seed : int
        Seeds the order of rounds and of left/right, so a class can share one sequence.

    Examples
    --------
    >>> test = TuringTest(["class-rebal"])      # doctest: +SKIP
    >>> test.answer("left"); test.results()     # doctest: +SKIP
    """

    def __init__(self, models, images=None, size: int | None = None, height: int = 224,
                 seed: int = 0):
        import ipywidgets as W

        from .data import sample_photos

        self.models = _load_models(models)
        self.images = {k: _shrink(v)
                       for k, v in (images if images is not None else sample_photos()).items()}
        self.size, self.height = (None if size is None else int(size)), int(height)
        self.rng = random.Random(seed)
        self.answers: list[dict] = []
        self.left, self.right = W.Image(format="png"), W.Image(format="png")
        self.pick_left = W.Button(description="left is real", icon="check")
        self.pick_right = W.Button(description="right is real", icon="check")
        self.pick_left.on_click(lambda _: self.answer("left"))
        self.pick_right.on_click(lambda _: self.answer("right"))
        self.score = W.HTML()
        self.widget = W.VBox([W.HBox([self.left, self.right]),
                              W.HBox([self.pick_left, self.pick_right]), self.score])
        self._next_round()

    def _next_round(self):
        model_name = self.rng.choice(list(self.models))
        image_name = self.rng.choice(list(self.images))
        truth = self.images[image_name]
        with torch.no_grad():
            fake = self.models[model_name].colorize_image(truth, size=self.size)
        real_side = self.rng.choice(["left", "right"])
        self.round = {"model": model_name, "image": image_name, "real_side": real_side}
        pair = (truth, fake) if real_side == "left" else (fake, truth)
        self.left.value, self.right.value = (to_png(x, self.height) for x in pair)
        self._show_score()

    def answer(self, side: str):
        """Record that the learner picked ``side`` ("left" or "right") as real, then start the next
        round."""
        if side not in ("left", "right"):
            raise ValueError(f"answer must be 'left' or 'right', got {side!r}")
        self.answers.append({**self.round, "picked": side,
                             "fooled": side != self.round["real_side"]})
        self._next_round()

    def results(self) -> dict:
        """``{model: {"rounds", "fooled", "rate", "ci95"}}``: the fooling rate with a Wilson 95%
        interval."""
        out = {}
        for name in self.models:
            rounds = [a for a in self.answers if a["model"] == name]
            fooled = sum(a["fooled"] for a in rounds)
            out[name] = {"rounds": len(rounds), "fooled": fooled,
                         "rate": fooled / len(rounds) if rounds else float("nan"),
                         "ci95": wilson_interval(fooled, len(rounds))}
        return out

    def _show_score(self):
        rows = "".join(
            f"<tr><td>{n}</td><td>{r['fooled']}/{r['rounds']}</td>"
            + (f"<td>{100 * r['rate']:.0f}% (95% CI {100 * r['ci95'][0]:.0f}-"
               f"{100 * r['ci95'][1]:.0f}%)</td>"
               if r["rounds"] else "<td>-</td>") + "</tr>"
            for n, r in self.results().items())
        self.score.value = (f"<p>answers: {len(self.answers)}</p><table><tr><th>model</th>"
                            f"<th>fooled</th><th>fooling rate</th></tr>{rows}</table>")

    def save(self, path) -> Path:
        """Write the answers and the results as JSON, atomically; returns the path."""
        path = Path(path)
        with atomic_write(path) as f:
            f.write(json.dumps({"answers": self.answers, "results": self.results()},
                               indent=2).encode())
        return path

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
