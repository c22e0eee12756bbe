"""The shipped checkpoints colour the sample photos exactly as recorded (a guard for refactors).

``tests/data/shipped_outputs.npz`` holds, for every shipped model and sample photo, the photo
coloured whole by ``colorize_image`` (uint8 RGB), averaged over 16 x 16 blocks plus its
exact sha256. A refactor must leave these unchanged within float16 rounding (at most 1/255 per
block); a new checkpoint or a deliberate change of the pipeline regenerates the file with

    COLORLAB_REGENERATE_OUTPUTS=1 python -m pytest tests/test_shipped_outputs.py

and the commit says what changed and by how much (the test prints the largest block change).
"""
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import colorlab.models as cm
from colorlab._shared import MODEL_NAMES
from colorlab.data import sample_photos

REFERENCE = Path(__file__).parent / "data" / "shipped_outputs.npz"
BLOCK = 16


def coloured(name):
    torch.set_num_threads(2)
    model = cm.pretrained(name)
    out = {}
    for photo, rgb in sample_photos().items():
        image = model.colorize_image(rgb)
        h, w = (s - s % BLOCK for s in image.shape[:2])
        blocks = image[:h, :w].astype(np.float32).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3)
        out[f"{name}/{photo}"] = blocks.mean(axis=(1, 3))
        out[f"{name}/{photo}/sha256"] = np.array(hashlib.sha256(image.tobytes()).hexdigest())
    return out


@pytest.mark.slow
def test_shipped_models_colour_the_sample_photos_as_recorded():
    now = {}
    for name in MODEL_NAMES:
        now.update(coloured(name))
    if os.environ.get("COLORLAB_REGENERATE_OUTPUTS"):
        REFERENCE.parent.mkdir(exist_ok=True)
        np.savez_compressed(REFERENCE, **{k: v.astype(np.float16) if v.dtype == np.float32
                                          else v for k, v in now.items()})
        pytest.skip(f"wrote {REFERENCE}")
    ref = np.load(REFERENCE)
    assert sorted(ref.files) == sorted(now), "the shipped models or sample photos changed"
    worst = {k: float(np.abs(now[k] - ref[k].astype(np.float32)).max())
             for k in now if not k.endswith("sha256")}
    key = max(worst, key=worst.get)
    assert worst[key] <= 1.0, f"{key}: a block's colour moved by {worst[key]:.2f} of 255"
    exact = sum(str(now[k]) == str(ref[k]) for k in now if k.endswith("sha256"))
    print(f"largest block change {worst[key]:.3f}/255 ({key}); {exact} of {len(worst)} "
          "photos bit-identical")
