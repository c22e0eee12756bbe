"""Skin on aligned face photos (colorlab.metrics.skin): the centre box, shifts, chroma, magenta."""
import math

import pytest
import torch

from colorlab.metrics.skin import face_box, skin_per_image, skin_summary

SKIN = (18.0, 22.0)   # a typical skin tone's (a*, b*)


def faces(n, a, b, size=64, background=(0.0, -30.0)):
    ab = torch.empty(n, 2, size, size)
    ab[:, 0], ab[:, 1] = background
    rows, cols = face_box(size, size)
    ab[:, 0, rows, cols], ab[:, 1, rows, cols] = a, b
    return ab


def test_the_face_box_is_the_centre_of_an_aligned_crop():
    assert face_box(128, 128) == (slice(38, 96), slice(32, 96))
    assert face_box(1, 1) == (slice(0, 1), slice(0, 1))


def test_only_the_face_box_counts():
    true = faces(3, *SKIN)
    pred = faces(3, *SKIN, background=(80.0, 80.0))      # wrong background, right face
    s = skin_summary(skin_per_image(pred, true))
    assert s["skin_cast"] == pytest.approx(0) and s["skin_chroma_ratio"] == pytest.approx(1)


def test_grey_orange_and_magenta_faces():
    true = faces(4, *SKIN)
    grey = skin_summary(skin_per_image(torch.zeros_like(true), true))
    assert grey["skin_cast"] == pytest.approx(math.hypot(*SKIN))
    assert grey["a_shift"] == pytest.approx(-SKIN[0]) and grey["skin_chroma_ratio"] == 0
    orange = skin_summary(skin_per_image(faces(4, 25.0, 60.0), true))
    assert orange["b_shift"] == pytest.approx(38) and orange["skin_chroma_ratio"] > 1.8
    assert orange["magenta_share"] == 0                   # hue moved towards yellow, not magenta
    pred = torch.cat([faces(1, 45.0, -5.0), faces(3, *SKIN)])   # one face purple-red
    s = skin_summary(skin_per_image(pred, true))
    assert s["magenta_share"] == pytest.approx(0.25)
    assert skin_summary(skin_per_image(faces(4, 24.0, 21.0), true))["magenta_share"] == 0


def test_batches_of_different_sizes_combine_and_bad_input_is_refused():
    a = skin_per_image(faces(2, *SKIN, size=32), faces(2, *SKIN, size=32))
    b = skin_per_image(faces(1, 0.0, 0.0, size=48), faces(1, *SKIN, size=48))
    both = skin_summary({k: torch.cat([a[k], b[k]]) for k in a})
    assert both["n_faces"] == 3
    assert both["skin_cast"] == pytest.approx(math.hypot(*SKIN) / 3)
    with pytest.raises(ValueError, match="one shape"):
        skin_per_image(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError, match="no photos"):
        skin_summary({k: [] for k in ("pred_a", "pred_b", "true_a", "true_b")})
