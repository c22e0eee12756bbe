"""The widgets update in place, react to models, images, uploads and the temperature, and keep
score."""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("ipywidgets")

from colorlab.models import build  # noqa: E402
from colorlab.widgets import (  # noqa: E402
    ModelComparison,
    TemperatureExplorer,
    TuringTest,
    to_png,
    wilson_interval,
)


def _photos():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    smooth = np.stack([xx * 4, yy * 5, 255 - xx * 3], -1).astype(np.uint8)
    return {"gradient": smooth, "noise": rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)}


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"mse": build("mse").eval(), "class": build("class").eval()}


def test_comparison_panels_metrics_and_in_place_updates(models):
    w = ModelComparison(models, images=_photos(), size=32, height=64)
    assert list(w.outputs) == ["grey input", "mse", "class", "ground truth"]
    assert all(v.shape == (48, 64, 3) for v in w.outputs.values())
    assert set(w.metrics) == {"mse", "class"} and "PSNR" in w.metrics["mse"]
    n_panels = len(w.row.children)
    before = w.row.children[2].children[1].value
    w.temperature.value = 0.05  # sharper decode: the classification panel changes, no new panels
    assert len(w.row.children) == n_panels
    assert w.row.children[2].children[1].value != before
    boxes = dict(zip(w.outputs, w.row.children))
    w.model_picker.value = ("mse",)
    assert list(w.outputs) == ["grey input", "mse", "ground truth"] and len(w.row.children) == 3
    # Panels are reused by name, never rebuilt: no orphaned Image widgets pile up in the kernel.
    assert list(w.row.children) == [boxes["grey input"], boxes["mse"], boxes["ground truth"]]
    w.model_picker.value = ("mse", "class")
    assert list(w.row.children) == list(boxes.values())
    w.model_picker.value = ("mse",)
    w.image_picker.value = "noise"
    assert w.outputs["ground truth"].shape == (40, 40, 3)


def _upload(name, content):
    """What ipywidgets 8's FileUpload holds for one uploaded file."""
    import datetime

    return {"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)}


def test_upload_of_good_and_broken_files(models, tmp_path):
    from PIL import Image

    w = ModelComparison(models, images=_photos(), size=32, height=64)
    path = tmp_path / "mine.png"
    Image.fromarray(_photos()["gradient"]).convert("L").save(path)
    w.upload.value = (_upload("mine.png", path.read_bytes()),)
    assert w.image_picker.value == "upload: mine.png"
    # a grey photo has no truth to score against
    assert "ground truth" not in w.outputs and w.metrics == {}
    w.upload.value = (_upload("broken.jpg", b"not an image"),)
    assert "broken.jpg" in w.status.value and w.image_picker.value == "upload: mine.png"


def test_ipywidgets_7_and_colab_uploads_work_too(models, tmp_path):
    from PIL import Image

    w = ModelComparison(models, images=_photos(), size=32, height=64)
    path = tmp_path / "old.png"
    Image.fromarray(_photos()["gradient"]).save(path)
    v7 = {"old.png": {"metadata": {"name": "old.png", "type": "image/png"},
                      "content": path.read_bytes()}}
    w._on_upload({"new": v7})                       # ipywidgets 7's FileUpload.value
    assert w.image_picker.value == "upload: old.png" and "ground truth" in w.outputs
    w._on_upload({"new": {"colab.png": path.read_bytes()}})     # google.colab.files.upload()
    assert w.image_picker.value == "upload: colab.png"


def test_images_are_private_writable_copies(models):
    """PIL hands out read-only arrays; torch warned about them in the learner's notebook (found by
    tests/test_browser.py, where the warning showed as a second output above the widget)."""
    from PIL import Image

    big = np.asarray(Image.fromarray(_photos()["gradient"]).resize((640, 480)))
    small = np.asarray(Image.fromarray(_photos()["noise"]))
    assert not big.flags.writeable and not small.flags.writeable
    for w in (ModelComparison(models, images={"big": big, "small": small}, size=32, height=64),
              TuringTest(models, images={"big": big, "small": small}, size=32)):
        assert all(v.flags.writeable for v in w.images.values())
        assert w.images["small"] is not small and np.array_equal(w.images["small"], small)
        assert w.images["big"].shape == (288, 384, 3)  # shrunk to DISPLAY_MAX_SIDE


def test_temperature_explorer(models):
    t = TemperatureExplorer(models["class"], image=_photos()["gradient"], size=32)
    first = t.outputs["model"].copy()
    t.temperature.value = 1.0
    assert not np.array_equal(first, t.outputs["model"])


def test_turing_test_counts_and_saves(models, tmp_path):
    test = TuringTest(models, images=_photos(), size=32, seed=1)
    for _ in range(6):
        real = test.round["real_side"]
        test.answer("left" if real == "right" else "right")  # always fooled
    res = test.results()
    assert sum(r["rounds"] for r in res.values()) == 6
    assert all(r["rate"] == 1.0 for r in res.values() if r["rounds"])
    assert "answers: 6" in test.score.value
    saved = json.loads(test.save(tmp_path / "answers.json").read_text())
    assert len(saved["answers"]) == 6
    test.pick_left.click()
    assert len(test.answers) == 7
    with pytest.raises(ValueError):
        test.answer("middle")


def test_wilson_interval_against_hand_computed_values():
    lo, hi = wilson_interval(32, 100)
    assert abs(lo - 0.2367) < 1e-3 and abs(hi - 0.4166) < 1e-3  # Wilson 1927, z = 1.96
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_to_png_round_trip():
    from io import BytesIO

    from PIL import Image

    rgb = _photos()["noise"]
    assert np.array_equal(np.asarray(Image.open(BytesIO(to_png(rgb)))), rgb)
    assert Image.open(BytesIO(to_png(rgb, height=80))).size == (80, 80)
