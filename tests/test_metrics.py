"""Tests for colorlab.metrics against scikit-image, numpy and hand-computed cases."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from test_quantize import _one_thread  # noqa: E402,F401  (autouse: one torch thread)

from colorlab import data, metrics
from colorlab.color import lab_to_rgb, rgb_to_lab
from colorlab.evaluation import evaluate
from colorlab.quantize import ABQuantizer


def _images(n=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    true = torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=size,
                                           mode="bilinear")
    pred = (true + 0.1 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    return pred, true


def _hwc(x, i):
    return x[i].permute(1, 2, 0).double().numpy()


def test_psnr_matches_skimage():
    pred, true = _images()
    ref = np.mean([peak_signal_noise_ratio(_hwc(true, i), _hwc(pred, i), data_range=1.0)
                   for i in range(3)])
    assert math.isclose(metrics.psnr(pred, true), ref, rel_tol=1e-9)
    assert metrics.psnr(true, true) == 100.0
    with pytest.raises(ValueError):
        metrics.psnr(pred[:, :2], true[:, :2])


def test_ssim_matches_skimage():
    pred, true = _images()
    ref = np.mean([structural_similarity(_hwc(true, i), _hwc(pred, i), data_range=1.0,
                                         channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
                   for i in range(3)])
    assert abs(metrics.ssim(pred, true) - ref) < 1e-6
    assert math.isclose(metrics.ssim(true, true), 1.0, abs_tol=1e-9)
    with pytest.raises(ValueError, match="larger"):
        metrics.ssim(pred[..., :8, :8], true[..., :8, :8])


def _auc_loop(err, w, T=150):
    """Direct definition: mean over t = 0..T of the weighted fraction of pixels with err <= t."""
    return np.mean([(w * (err <= t)).sum() / w.sum() for t in range(T + 1)])


def test_auc_ab_hand_computed_and_against_loop():
    true = torch.zeros(1, 2, 1, 3)
    pred = torch.tensor([[[[0.0, 3.0, 200.0]], [[0.0, 4.0, 0.0]]]])     # errors 0, 5, 200
    # t = 0..150: error 0 is within all 151; error 5 within 146; error 200 within none
    assert math.isclose(metrics.auc_ab(pred, true), (151 + 146 + 0) / (3 * 151), rel_tol=1e-12)
    g = torch.Generator().manual_seed(1)
    true = torch.randn(2, 2, 8, 8, generator=g) * 30
    pred = torch.randn(2, 2, 8, 8, generator=g) * 30
    err = (pred - true).pow(2).sum(1).sqrt().double().numpy()
    w = torch.rand(2, 8, 8, generator=g)
    assert math.isclose(metrics.auc_ab(pred, true), _auc_loop(err, np.ones_like(err)), rel_tol=1e-9)
    assert math.isclose(metrics.auc_ab(pred, true, weights=w), _auc_loop(err, w.double().numpy()),
                        rel_tol=1e-9)


def test_auc_rebalanced_weights_by_inverse_prior_of_true_bin():
    q = ABQuantizer.from_gamut()
    g = torch.Generator().manual_seed(2)
    true = torch.randn(2, 2, 8, 8, generator=g) * 25
    pred = true + torch.randn(2, 2, 8, 8, generator=g) * 10
    prior = q.prior(true)
    # reference: weight = 1 / (Gaussian-smoothed prior) of the nearest bin of the true ab, in numpy
    c = q.centers.double().numpy()
    ps = np.exp(-((c[:, None] - c[None]) ** 2).sum(-1) / 50.0) @ prior.double().numpy()
    pts = true.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    nearest = ((pts[:, None] - c[None]) ** 2).sum(-1).argmin(1)
    w = 1.0 / ps[nearest]
    err = (pred - true).pow(2).sum(1).sqrt().reshape(-1).double().numpy()
    ref = _auc_loop(err, w)
    assert math.isclose(metrics.auc_ab_rebalanced(pred, true, q, prior), ref, rel_tol=1e-5)
    assert math.isclose(metrics.auc_ab_rebalanced(pred, true), ref, rel_tol=1e-5)   # defaults
    # a perfect prediction scores 1 either way
    assert metrics.auc_ab_rebalanced(true, true, q, prior) == 1.0


def test_colorfulness_against_numpy_formula():
    pred, _ = _images(n=2)

    def hs(img):                                     # REFERENCES.md, on 0..255 RGB
        R, G, B = (img * 255.0).transpose(2, 0, 1)
        rg, yb = R - G, 0.5 * (R + G) - B
        return (np.sqrt(rg.std() ** 2 + yb.std() ** 2)
                + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    ref = np.mean([hs(_hwc(pred, i)) for i in range(2)])
    assert math.isclose(metrics.colorfulness(pred), ref, rel_tol=1e-9)
    assert metrics.colorfulness(torch.full((1, 3, 4, 4), 0.3)) == 0.0


def test_chroma_ratio_hand_computed():
    true = torch.tensor([3.0, 0.0, 4.0, 0.0]).view(1, 2, 1, 2)       # chroma 5 and 0 -> mean 2.5
    pred = torch.tensor([0.0, 6.0, 0.0, 8.0]).view(1, 2, 1, 2)       # chroma 0 and 10 -> mean 5
    assert metrics.chroma_ratio(pred, true) == 2.0
    assert math.isnan(metrics.chroma_ratio(pred, torch.zeros_like(true)))


class _Stub(torch.nn.Module):
    """A 'model' that returns half the true colours of the images it was built with."""

    def __init__(self, lab):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))
        self.lab = lab

    def colorize(self, L):
        assert not self.training and not torch.is_grad_enabled()
        i = [int((self.lab[:, :1] - row).abs().flatten(1).sum(1).argmin()) for row in L]
        return self.lab[i, 1:] * self.scale


def test_evaluate_dict_against_individual_metrics():
    rgb = _images(n=5, size=24, seed=3)[1]
    lab = rgb_to_lab(rgb)
    model = _Stub(lab).train()
    r = evaluate(model, lab, batch_size=2)
    assert model.training                                 # mode restored
    assert set(r) == {"psnr", "ssim", "auc", "auc_rebalanced", "colorfulness", "colorfulness_gt",
                      "colorfulness_ratio", "smooth_colorfulness_ratio", "chroma_ratio", "cast",
                      "tint", "spikes", "n_images"}
    pred_ab = lab[:, 1:] * 0.5
    pred_rgb = lab_to_rgb(torch.cat([lab[:, :1], pred_ab], 1))
    true_rgb = lab_to_rgb(lab)
    assert r["n_images"] == 5
    assert math.isclose(r["psnr"], metrics.psnr(pred_rgb, true_rgb), rel_tol=1e-6)
    assert math.isclose(r["ssim"], metrics.ssim(pred_rgb, true_rgb), rel_tol=1e-6)
    assert math.isclose(r["auc"], metrics.auc_ab(pred_ab, lab[:, 1:]), rel_tol=1e-6)
    assert math.isclose(r["auc_rebalanced"], metrics.auc_ab_rebalanced(pred_ab, lab[:, 1:]),
                        rel_tol=1e-6)
    assert math.isclose(r["chroma_ratio"], 0.5, rel_tol=1e-6)
    assert math.isclose(r["colorfulness_gt"], metrics.colorfulness(true_rgb), rel_tol=1e-6)
    assert math.isclose(r["colorfulness_ratio"], r["colorfulness"] / r["colorfulness_gt"],
                        rel_tol=1e-9)
    smooth = metrics.smooth_colorfulness(pred_rgb) / metrics.smooth_colorfulness(true_rgb)
    assert math.isclose(r["smooth_colorfulness_ratio"], smooth, rel_tol=1e-3)
    assert math.isclose(r["cast"], metrics.color_cast(pred_ab, lab[:, 1:]), rel_tol=1e-6,
                        abs_tol=1e-9)
    assert math.isclose(r["tint"], metrics.tint(pred_ab, lab[:, 1:]), rel_tol=1e-6, abs_tol=1e-9)
    assert r["spikes"] == metrics.chroma_spikes(pred_ab, lab[:, 1:]) == 0.0

    class DS:                                             # LabDataset-like
        pass
    ds = DS()
    ds.lab = lab
    model.eval()
    plain = evaluate(lambda L: model.colorize(L), ds)   # a plain callable works too
    assert math.isclose(plain["auc"], r["auc"], rel_tol=1e-9)


def test_evaluate_raw_arrays_use_prepare_image():
    rng = np.random.default_rng(4)
    imgs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(2)]
    grey = lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:])   # noqa: E731
    r = evaluate(grey, imgs, size=16)
    r2 = evaluate(grey, {"a": imgs[0], "b": imgs[1]}, size=16)
    assert r["n_images"] == 2 and r == r2
    lab = rgb_to_lab(torch.stack([data.prepare_image(im, 16) for im in imgs]))
    assert math.isclose(r["colorfulness_gt"], metrics.colorfulness(lab_to_rgb(lab)), rel_tol=1e-5)
    assert r["colorfulness"] < 0.01  # ab = 0 is grey up to Lab -> sRGB rounding


def test_evaluate_predict_size_runs_the_model_small_and_upsamples():
    lab = torch.cat([torch.full((2, 1, 16, 16), 60.0), torch.randn(2, 2, 16, 16) * 20], 1)
    seen = []

    def constant(L):
        seen.append(tuple(L.shape[-2:]))
        return torch.full((L.shape[0], 2, *L.shape[2:]), 10.0)

    r = evaluate(constant, lab, predict_size=8)
    assert seen == [(8, 8)] and r["n_images"] == 2
    assert r == evaluate(constant, lab)  # a constant ab upsamples to itself
    with pytest.raises(ValueError, match="predict_size"):
        evaluate(constant, lab, predict_size=0)


# ---------------------------------------------------------------------- colour cast, tint, spikes
def test_color_cast_is_the_mean_distance_of_mean_ab_per_image():
    g = torch.Generator().manual_seed(5)
    true = torch.randn(3, 2, 6, 9, generator=g) * 20
    pred = torch.randn(3, 2, 6, 9, generator=g) * 20
    ref = np.mean([np.hypot(*(pred[i].double().mean((1, 2))
                              - true[i].double().mean((1, 2))).numpy())
                   for i in range(3)])
    assert math.isclose(metrics.color_cast(pred, true), ref, rel_tol=1e-9)
    assert metrics.color_cast(true, true) == 0.0
    grey = torch.zeros_like(true)                        # grey: cast = mean |mean true ab|
    ref = float(true.double().mean((2, 3)).norm(dim=1).mean())
    assert math.isclose(metrics.color_cast(grey, true), ref, rel_tol=1e-9)
    with pytest.raises(ValueError, match="color_cast"):
        metrics.color_cast(pred[:, :1], true[:, :1])
    assert metrics.colour_cast is metrics.color_cast     # the spelling lessons 08 and 09 use


def test_tint_averages_over_photos_first():
    true = torch.randn(4, 2, 5, 5) * 10
    shifted = true + torch.tensor([20.0, 0.0]).view(1, 2, 1, 1)
    assert math.isclose(metrics.tint(shifted, true), 20.0, rel_tol=1e-6)
    assert math.isclose(metrics.color_cast(shifted, true), 20.0, rel_tol=1e-6)
    opposite = true.clone()
    opposite[:2, 1] += 15.0
    opposite[2:, 1] -= 15.0                                  # opposite casts: no systematic tint
    assert (metrics.tint(opposite, true) < 1e-6
            and math.isclose(metrics.color_cast(opposite, true), 15.0, rel_tol=1e-6))
    # per photo, the (a, b) shift: photos of different sizes pool the same way
    small, big = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 9, 7)
    shifts = torch.cat([metrics.tint(small + torch.tensor([1.0, 2.0]).view(1, 2, 1, 1), small,
                                     reduction="none"),
                        metrics.tint(big + torch.tensor([3.0, 2.0]).view(1, 2, 1, 1), big,
                                     reduction="none")])
    assert torch.allclose(shifts, torch.tensor([[1.0, 2.0], [3.0, 2.0]], dtype=torch.float64))
    assert math.isclose(float(shifts.mean(0).norm()), math.hypot(2.0, 2.0))
    with pytest.raises(ValueError, match="tint"):
        metrics.tint(small, big)


def test_chroma_spikes_use_the_999th_percentile_against_numpy():
    g = torch.Generator().manual_seed(6)
    true = torch.randn(4, 2, 50, 40, generator=g) * 10
    pred = true.clone()
    # 9 of 2000 pixels: above the 99.9th percentile
    pred[1, 0, :3, :3] += 120.0
    pred[2, 0, 0, 0] += 120.0                             # 1 pixel: below it, no spike
    chroma = lambda ab: np.hypot(ab[:, 0], ab[:, 1]).reshape(len(ab), -1)   # noqa: E731
    p_np = np.percentile(chroma(pred.double().numpy()), 99.9, axis=1)
    grey = torch.zeros_like(pred)            # against a grey truth, a spike is chroma > margin
    for i, p in enumerate(p_np):
        one = pred[i:i + 1].double()
        assert metrics.chroma_spikes(one, grey[:1], margin=p * (1 - 1e-9)) == 1.0
        assert metrics.chroma_spikes(one, grey[:1], margin=p * (1 + 1e-9)) == 0.0
    assert metrics.chroma_spikes(pred, true, reduction="none").tolist() == [0.0, 1.0, 0.0, 0.0]
    assert metrics.chroma_spikes(pred, true) == 0.25
    assert metrics.chroma_spikes(pred, true, margin=1000.0) == 0.0
    assert metrics.chroma_spikes(torch.zeros_like(true), true) == 0.0   # grey never spikes


@pytest.mark.slow  # a fresh interpreter per layer
def test_lower_layers_never_import_higher_ones():
    """checkpoint files, device, colour < pipeline < data < quantize < models, metrics < train <
    commands: each import alone. evaluate runs models through their colorize method, so metrics
    never imports them."""
    import subprocess
    import sys
    above = {"colorlab.checkpoint_io": ["colorlab.data", "colorlab.models", "colorlab.train"],
             "colorlab.device": ["colorlab.models", "colorlab.train"],
             "colorlab.color": ["colorlab.pipeline", "colorlab.metrics", "colorlab.models",
                                "colorlab.data"],
             "colorlab.pipeline": ["colorlab.data", "colorlab.quantize", "colorlab.models",
                                   "colorlab.metrics"],
             "colorlab.filters": ["colorlab.color", "colorlab.models", "colorlab.metrics"],
             "colorlab.quantize": ["colorlab.models", "colorlab.metrics", "colorlab.data"],
             "colorlab.data": ["colorlab.models", "colorlab.metrics", "colorlab.quantize"],
             "colorlab.metrics": ["colorlab.models", "colorlab.train", "colorlab.commands",
                                  "colorlab.viz", "colorlab.widgets"],
             "colorlab.models": ["colorlab.metrics", "colorlab.train", "colorlab.commands",
                                 "colorlab.viz"],
             "colorlab.evaluation": ["colorlab.models", "colorlab.train", "colorlab.commands",
                                     "colorlab.widgets"]}
    for module, forbidden in above.items():
        code = (f"import sys, {module}; bad = [m for m in {forbidden!r} if m in sys.modules]; "
                "assert not bad, bad")
        subprocess.run([sys.executable, "-c", code], check=True)
    from colorlab import evaluation
    assert evaluation.evaluate is metrics.evaluate       # the old module re-exports it


def test_smooth_colorfulness_ignores_speckle_but_keeps_object_colour():
    lab = torch.zeros(1, 3, 48, 48)
    lab[:, 0] = 60.0
    speckled = lab.clone()
    speckled[:, 1, ::2, ::2], speckled[:, 1, 1::2, 1::2] = 50.0, -50.0   # red/green speckle
    patch = lab.clone()
    patch[:, 1, :, :24] = 40.0                                           # a red object, left half
    cf = {k: (metrics.colorfulness(lab_to_rgb(v)), metrics.smooth_colorfulness(lab_to_rgb(v)))
          for k, v in {"speckle": speckled, "object": patch}.items()}
    assert cf["speckle"][0] > 20 and cf["speckle"][1] < 0.1 * cf["speckle"][0]
    assert cf["object"][1] > 0.8 * cf["object"][0]
    assert metrics.smooth_colorfulness(lab_to_rgb(lab)) < 0.01


# ---------------------------------------------------------------------- per-image forms
def test_every_per_image_form_averages_to_the_pooled_score():
    pred, true = _images(n=4, size=24, seed=3)
    lab_p, lab_t = rgb_to_lab(pred), rgb_to_lab(true)
    ab_p, ab_t = lab_p[:, 1:] * 1.5, lab_t[:, 1:]
    per_image = {"psnr": (metrics.psnr, (pred, true)), "ssim": (metrics.ssim, (pred, true)),
                 "colorfulness": (metrics.colorfulness, (pred,)),
                 "smooth_colorfulness": (metrics.smooth_colorfulness, (pred,)),
                 "color_cast": (metrics.color_cast, (ab_p, ab_t)),
                 "chroma_spikes": (metrics.chroma_spikes, (ab_p * 3, ab_t))}
    for name, (score, args) in per_image.items():
        values = score(*args, reduction="none")
        assert values.shape == (4,) and values.dtype == torch.float64, name
        assert math.isclose(float(values.mean()), score(*args), rel_tol=1e-12, abs_tol=1e-12), name
        for i in range(4):                                   # each value is that image's score
            one = tuple(a[i:i + 1] for a in args)
            assert math.isclose(float(values[i]), score(*one), rel_tol=1e-12, abs_tol=1e-12), name
        with pytest.raises(ValueError, match="reduction"):
            score(*args, reduction="sum")
    hits = metrics.auc_ab(ab_p, ab_t, reduction="none")      # the AuC pools pixels: one per pixel
    assert hits.shape == (4, 24, 24) and 0 <= hits.min() and hits.max() <= 1
    assert math.isclose(float(hits.mean()), metrics.auc_ab(ab_p, ab_t), rel_tol=1e-12)
    q = ABQuantizer.from_gamut()
    w = q.rebalance_weights(q.prior(ab_t), lam=0.0)[q.hard_encode(ab_t)].double()
    assert math.isclose(float((hits * w).sum() / w.sum()),
                        metrics.auc_ab_rebalanced(ab_p, ab_t, quantizer=q), rel_tol=1e-9)
    with pytest.raises(ValueError, match="weights"):
        metrics.auc_ab(ab_p, ab_t, weights=w, reduction="none")
    shifts = metrics.tint(ab_p, ab_t, reduction="none")      # tint: the (a, b) shift per image
    assert shifts.shape == (4, 2)
    assert math.isclose(float(shifts.mean(0).norm()), metrics.tint(ab_p, ab_t), rel_tol=1e-12)
    assert torch.allclose(shifts.norm(dim=1), metrics.color_cast(ab_p, ab_t, reduction="none"))


def test_the_one_gaussian_blur_matches_scipy_and_serves_models_and_metrics():
    from scipy import ndimage

    from colorlab.filters import gaussian_blur
    x = torch.rand(2, 3, 17, 23, dtype=torch.float64)
    mine = gaussian_blur(x, 1.5, radius=5)                   # SSIM's window, reflected borders
    ref = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 1.5, 1.5), mode="mirror",
                                  truncate=5 / 1.5)
    assert np.allclose(mine.numpy(), ref, atol=1e-12)
    edge = gaussian_blur(x, 2.0, padding="replicate")        # the models' ab filter
    ref = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 2, 2), mode="nearest", truncate=3.0)
    assert np.allclose(edge.numpy(), ref, atol=1e-12)
    from colorlab.models.layers import GaussianBlur
    assert torch.allclose(GaussianBlur(2.0, channels=3)(x), edge)
    assert gaussian_blur(x.float(), 9.0).shape == x.shape    # radius cut to fit 17 px
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(x, 0.0)
