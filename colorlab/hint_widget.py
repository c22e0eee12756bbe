"""Click to colour: :class:`HintColorizer`, the widget of lesson 10 (user-guided colourisation).

The photo is shown coloured by the hint model; a click places a hint with the colour picker's
colour at that point, and the photo re-colours at once (the network runs at its working size, so a
1-megapixel photo takes well under a second on a laptop CPU: ``benchmarks/hints.py``). Hints are
listed and drawn as markers, with undo and clear; "save" writes the coloured photo at full
resolution and the hints as JSON, which ``colorlab colorize --hints FILE`` replays.

Clicks come from ipyevents (a widget library made for pointer events on images); in Colab run
``google.colab.output.enable_custom_widget_manager()`` first, as the lessons' set-up cell does.

Examples
--------
>>> from colorlab.hint_widget import HintColorizer           # doctest: +SKIP
>>> w = HintColorizer("hints", photo)                        # doctest: +SKIP
>>> w.add_hint(120, 80, "#3050c0"); w.save("out.png")        # doctest: +SKIP
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from colorlab.hints import parse_colour
from colorlab.io import atomic_write, save_image

__all__ = ["HintColorizer", "load_hints", "save_hints", "DISPLAY_SIDE"]

#: the longer side of the photo as the widget shows it (clicks are mapped back to the photo)
DISPLAY_SIDE = 512
_MARKER = 5


def save_hints(path, hints, photo_size=None) -> Path:
    """Write hints as JSON ``{"hints": [{"x", "y", "colour"}, ...], "photo_size": [W, H]}``
    (atomically).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "h.json")
    >>> load_hints(save_hints(p, [(3, 4, "#102030")]))
    [(3, 4, '#102030')]
    """
    entries = [{"x": int(x), "y": int(y), "colour": _hex(c)} for x, y, c in hints]
    payload = {"hints": entries}
    if photo_size is not None:
        payload["photo_size"] = [int(photo_size[0]), int(photo_size[1])]
    path = Path(path)
    with atomic_write(path) as f:
        f.write(json.dumps(payload, indent=1).encode())
    return path


def load_hints(path) -> list:
    """Read :func:`save_hints`' JSON (or a plain list of ``[x, y, colour]``) as
    ``[(x, y, colour)]``; a clear error names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such hints file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a hints JSON file ({e})") from None
    items = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected {{'hints': [...]}} or a list of [x, y, colour]")
    hints = []
    for k, item in enumerate(items):
        try:
            x, y, c = ((item["x"], item["y"], item["colour"]) if isinstance(item, dict)
                       else tuple(item))
            hints.append((int(x), int(y), c if isinstance(c, str) else tuple(c)))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: hint {k} is not (x, y, colour): {item!r}") from None
    return hints


def _hex(colour) -> str:
    rgb = np.round(parse_colour(colour) * 255).astype(int)
    return "#" + "".join(f"{v:02x}" for v in rgb)


def _draw_markers(rgb: np.ndarray, points) -> np.ndarray:
    """A copy of ``rgb`` with a ring (black and white) around each ``(col, row, colour)``,
    filled with the hint's colour."""
    out = rgb.copy()
    h, w = out.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    for col, row, colour in points:
        d2 = (yy - row) ** 2 + (xx - col) ** 2
        out[d2 <= (_MARKER + 2) ** 2] = 255
        out[d2 <= (_MARKER + 1) ** 2] = 0
        out[d2 <= _MARKER ** 2] = np.round(parse_colour(colour) * 255).astype(np.uint8)
    return out


class HintColorizer:
    """Colour a photo with a few clicks.

    Parameters
    ----------
    model : str or ColorizationModel
        A hint model: ``"hints"`` (the shipped one), a checkpoint path, or a model whose
        ``colorize_image(photo, hints=...)`` takes hints.
    photo : numpy.ndarray or str or os.PathLike
        ``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey, or an image file; a colour photo is treated as
        grey (only its lightness is used).
    display_side : int
        The longer side of the photo on screen.

    Attributes
    ----------
    hints : list of (x, y, colour)
        In the photo's own pixels; ``colour`` as ``"#rrggbb"``.
    coloured : numpy.ndarray
        The photo coloured with the current hints, full resolution.
    widget : ipywidgets.VBox
    """

    def __init__(self, model="hints", photo=None, display_side: int = DISPLAY_SIDE):
        import ipywidgets as W
        from ipyevents import Event

        from colorlab.io import read_image
        from colorlab.models import load_checkpoint
        from colorlab.widgets import to_png

        self._to_png = to_png
        self.model = load_checkpoint(model) if isinstance(model, (str, Path)) else model
        if photo is None:
            from colorlab.data import sample_photos
            photo = sample_photos(["astronaut"])["astronaut"]
        self.photo = read_image(photo) if isinstance(photo, (str, Path)) else np.asarray(photo)
        h, w = self.photo.shape[:2]
        scale = min(1.0, display_side / max(h, w))
        self.display_hw = (max(1, round(h * scale)), max(1, round(w * scale)))
        self.hints: list = []
        self.image = W.Image(format="png", layout=W.Layout(width=f"{self.display_hw[1]}px",
                                                           height=f"{self.display_hw[0]}px"))
        self.picker = W.ColorPicker(value="#3050c0", description="colour", concise=False)
        self.undo_button = W.Button(description="undo", icon="undo")
        self.clear_button = W.Button(description="clear", icon="trash")
        self.path = W.Text(value="coloured.png", description="save as")
        self.save_button = W.Button(description="save", icon="save")
        self.listing = W.HTML()
        self.status = W.HTML()
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.save_button.on_click(lambda _: self._save_clicked())
        self.events = Event(source=self.image, watched_events=["click"])
        self.events.on_dom_event(self._on_click)
        controls = W.VBox([self.picker, W.HBox([self.undo_button, self.clear_button]),
                           W.HBox([self.path, self.save_button]), self.listing, self.status])
        self.widget = W.HBox([self.image, controls])
        self.update()

    # ------------------------------------------------------------------ actions
    def add_hint(self, x: int, y: int, colour=None) -> None:
        """Place a hint at photo pixel ``(x, y)`` (default colour: the picker's) and re-colour."""
        colour = _hex(self.picker.value if colour is None else colour)
        h, w = self.photo.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"hint ({x}, {y}) is outside the photo ({w} x {h} pixels)")
        self.hints.append((int(x), int(y), colour))
        self.update()

    def undo(self) -> None:
        """Remove the last hint."""
        if self.hints:
            self.hints.pop()
            self.update()

    def clear(self) -> None:
        """Remove every hint."""
        self.hints.clear()
        self.update()

    def save(self, path) -> tuple[Path, Path]:
        """Write the coloured photo (full resolution) to ``path`` and the hints beside it as
        ``<stem>.hints.json``; returns both paths."""
        path = Path(path)
        image = save_image(path, self.coloured)
        hints = save_hints(path.with_suffix(".hints.json"), self.hints,
                           (self.photo.shape[1], self.photo.shape[0]))
        return image, hints

    def update(self) -> None:
        """Re-colour the photo with the current hints and redraw the view, markers and list."""
        self.coloured = self.model.colorize_image(self.photo, hints=list(self.hints))
        from PIL import Image
        dh, dw = self.display_hw
        shown = np.asarray(Image.fromarray(self.coloured).resize((dw, dh), Image.BILINEAR))
        sy, sx = dh / self.photo.shape[0], dw / self.photo.shape[1]
        shown = _draw_markers(shown, [(x * sx, y * sy, c) for x, y, c in self.hints])
        self.image.value = self._to_png(shown)
        self.listing.value = "<br>".join(
            f"{i + 1}. ({x}, {y}) <span style='background:{c}'>&nbsp;&nbsp;&nbsp;&nbsp;</span> {c}"
            for i, (x, y, c) in enumerate(self.hints)) or "no hints: the model's own guess"

    # ------------------------------------------------------------------ events
    def _on_click(self, event: dict) -> None:
        dh, dw = self.display_hw
        x = event.get("dataX", event.get("relativeX", 0))
        y = event.get("dataY", event.get("relativeY", 0))
        h, w = self.photo.shape[:2]
        px = min(max(int(float(x) * w / dw), 0), w - 1)
        py = min(max(int(float(y) * h / dh), 0), h - 1)
        self.add_hint(px, py)

    def _save_clicked(self) -> None:
        try:
            image, hints = self.save(self.path.value)
            self.status.value = f"wrote {image} and {hints}"
        except (OSError, ValueError) as e:
            self.status.value = f"<span style='color:#b00'>could not save: {e}</span>"

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
