"""colorlab.metrics.evaluate: new scores, the model's working size, whole photos, file paths; the
model fed as colorize_image feeds it."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from test_quantize import _one_thread  # noqa: E402,F401  (autouse: one torch thread)

import colorlab.models as cm
from colorlab import metrics
from colorlab.color import lab_to_rgb, rgb_to_lab
from colorlab.data import sample_photos
from colorlab.evaluation import evaluate
from colorlab.io import ImageReadError


def grey(L):
    return torch.zeros(L.shape[0], 2, *L.shape[2:])


def _scored_lab(photo, size):
    """The photo as whole-mode scores it, written out here: short side to ``size``, bicubic,
    antialiased."""
    rgb = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    h, w = rgb.shape[-2:]
    s = size / min(h, w)
    rgb = F.interpolate(rgb, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True,
                        align_corners=False).clamp(0, 1)
    return rgb_to_lab(rgb)


@pytest.fixture(scope="module")
def three_shapes():
    """Three real photos: square, landscape, portrait."""
    photos = sample_photos(["astronaut", "chelsea", "grace_hopper"])
    assert len({round(p.shape[1] / p.shape[0], 2) for p in photos.values()}) == 3
    return photos


def test_grey_model_cast_is_the_mean_chroma_of_mean_ab_and_never_spikes(three_shapes):
    r = evaluate(grey, three_shapes, size=32, whole=True)
    means = torch.cat([_scored_lab(p, 32)[:, 1:].double().mean((2, 3))
                       for p in three_shapes.values()])
    assert r["n_images"] == 3 and r["spikes"] == 0.0
    assert math.isclose(r["cast"], float(means.norm(dim=1).mean()), rel_tol=1e-3)
    assert math.isclose(r["tint"], float(means.mean(0).norm()), rel_tol=1e-3)
    assert r["chroma_ratio"] == 0.0
    square = evaluate(grey, list(three_shapes.values()), size=32)      # square crops: same story
    assert square["spikes"] == 0.0 and square["cast"] > 0 and square["n_images"] == 3


def test_a_model_that_adds_20_to_a_has_tint_20():
    colours = [(200, 40, 40), (40, 160, 60), (60, 80, 200)]          # one uniform colour per photo
    shapes = [(40, 40), (30, 70), (90, 30)]
    photos = [np.broadcast_to(np.array(c, np.uint8), (*hw, 3)).copy()
              for c, hw in zip(colours, shapes)]
    truth = {round(float(lab[0, 0, 0, 0]), 3): lab[0, 1:, 0, 0] for lab in
             (rgb_to_lab(torch.tensor(c, dtype=torch.float32).view(1, 3, 1, 1) / 255)
              for c in colours)}

    def shifted(L):                                       # knows each photo's colour from its L
        ab = [truth[min(truth, key=lambda k: abs(k - float(row.mean())))]
              + torch.tensor([20.0, 0.0]) for row in L]
        return torch.stack(ab)[:, :, None, None].expand(L.shape[0], 2, *L.shape[2:])

    r = evaluate(shifted, photos, size=24, whole=True)
    assert r["n_images"] == 3
    assert (math.isclose(r["tint"], 20.0, abs_tol=0.05)
            and math.isclose(r["cast"], 20.0, abs_tol=0.05))
    assert r["spikes"] == 0.0                              # 20 more chroma is under the 40 margin
    square = evaluate(shifted, photos, size=24)
    assert math.isclose(square["tint"], 20.0, abs_tol=0.05)


def test_whole_photos_of_three_aspect_ratios_at_the_models_working_size(three_shapes):
    model = cm.build("mse", width=0.25, image_size=16)
    seen = []
    colorize = model.colorize

    def recording(L):
        seen.append(tuple(L.shape[-2:]))
        return colorize(L)
    model.colorize = recording
    r = evaluate(model, three_shapes, size=48, whole=True)
    assert r["n_images"] == 3
    assert all(math.isfinite(v) for v in r.values()), r
    assert 0 <= r["spikes"] <= 1 and 0 <= r["auc"] <= 1 and 0 <= r["auc_rebalanced"] <= 1
    # predicted at the working size, aspect kept ...
    assert seen == [(16, 16), (16, 24), (19, 16)]
    seen.clear()
    # ... unless told otherwise
    evaluate(model, three_shapes, size=48, whole=True, predict_size=24)
    assert [min(hw) for hw in seen] == [24, 24, 24]


def test_default_predict_size_follows_config_image_size():
    model = cm.build("mse", width=0.25, image_size=16)
    lab = rgb_to_lab(torch.rand(2, 3, 32, 32))
    seen = []
    colorize = model.colorize
    model.colorize = lambda L: seen.append(tuple(L.shape[-2:])) or colorize(L)
    r = evaluate(model, lab)
    assert seen == [(16, 16)]
    assert r == evaluate(model, lab, predict_size=16)
    seen.clear()
    evaluate(model, lab, predict_size=32)                 # an explicit predict_size wins
    assert seen == [(32, 32)]
    seen.clear()
    evaluate(cm.build("mse", width=0.25), lab)            # no image_size: the scored size
    assert seen == []                                     # (that model's colorize was not wrapped)


def test_whole_mode_scores_exactly_what_colorize_image_makes():
    photo = sample_photos(["chelsea"])["chelsea"][::4, ::4].copy()      # 75 x 113
    model = cm.build("mse", width=0.25, image_size=32)
    out = model.colorize_image(photo)                     # full resolution, predicted at 32
    r = evaluate(model, [photo], size=min(photo.shape[:2]), whole=True)
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255   # noqa: E731
    true_rgb = lab_to_rgb(rgb_to_lab(to_t(photo)))
    assert math.isclose(r["psnr"], metrics.psnr(to_t(out), true_rgb), abs_tol=0.05)
    assert math.isclose(r["colorfulness"], metrics.colorfulness(to_t(out)), rel_tol=0.02,
                        abs_tol=0.2)


def test_rebalanced_auc_weights_by_the_prior_of_all_photos(three_shapes):
    from colorlab.quantize import ABQuantizer
    q = ABQuantizer.from_gamut()
    true = [_scored_lab(p, 24)[:, 1:].double() for p in three_shapes.values()]
    pixels = torch.cat([t.permute(0, 2, 3, 1).reshape(-1, 2) for t in true])
    w = q.rebalance_weights(q.prior(pixels), lam=0.0).double()
    num = den = 0.0
    for t in true:
        hits = metrics.auc_ab(torch.zeros_like(t), t, reduction="none")
        wt = w[q.hard_encode(t.float())]
        num, den = num + float((hits * wt).sum()), den + float(wt.sum())
    r = evaluate(grey, three_shapes, size=24, whole=True, quantizer=q)
    assert math.isclose(r["auc_rebalanced"], num / den, rel_tol=1e-3)
    all_hits = torch.cat([metrics.auc_ab(torch.zeros_like(t), t, reduction="none").reshape(-1)
                          for t in true])
    assert math.isclose(r["auc"], float(all_hits.mean()), rel_tol=1e-3)   # pooled over all pixels


def test_whole_mode_reads_file_paths_and_names_an_unreadable_one(tmp_path, three_shapes):
    paths = []
    for name, photo in three_shapes.items():
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(photo).save(paths[-1])
    from_files = evaluate(grey, [str(p) for p in paths], size=24, whole=True)
    assert from_files == evaluate(grey, three_shapes, size=24, whole=True)
    # any iterable, one at a time
    assert evaluate(grey, iter(paths), size=24, whole=True) == from_files
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        evaluate(grey, [paths[0], tmp_path / "broken.jpg"], size=24, whole=True)


def test_whole_mode_refuses_square_datasets_and_empty_input():
    lab = rgb_to_lab(torch.rand(2, 3, 16, 16))
    with pytest.raises(TypeError, match="whole=True"):
        evaluate(grey, lab, whole=True)
    with pytest.raises(TypeError, match="whole=True"):
        evaluate(grey, "photo.jpg", whole=True)
    with pytest.raises(ValueError, match="no images to evaluate"):
        evaluate(grey, [], whole=True)


def test_bootstrap_intervals_bracket_every_score_and_repeat_with_the_seed():
    g = torch.Generator().manual_seed(5)
    lab = torch.cat([torch.rand(12, 1, 24, 24, generator=g) * 80 + 10,
                     torch.randn(12, 2, 24, 24, generator=g) * 25], 1)
    half = lambda L: lab[:, 1:][:len(L)] * 0.5 if len(L) == 12 else None   # noqa: E731
    r = evaluate(half, lab, batch_size=12, bootstrap=300, seed=1)
    again = evaluate(half, lab, batch_size=12, bootstrap=300, seed=1)
    assert r["ci95"] == again["ci95"]
    for key, (lo, hi) in r["ci95"].items():
        assert lo <= r[key] + 1e-9 and r[key] - 1e-9 <= hi, (key, lo, r[key], hi)
    assert r["ci95"]["psnr"][1] - r["ci95"]["psnr"][0] > 0
    assert r["ci95"]["chroma_ratio"] == pytest.approx((0.5, 0.5))
    assert "ci95" not in evaluate(half, lab, batch_size=12)
