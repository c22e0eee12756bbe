"""colorlab.pipeline: one resize, one grey, one way to feed a model a photo, wherever it runs
(colorize_image, evaluate in both modes, the datasets, figures, widgets, the models' encoders)."""
import numpy as np
import pytest
import torch
from test_quantize import _one_thread  # noqa: E402,F401  (autouse: one torch thread)

import colorlab.models as cm
from colorlab import pipeline
from colorlab.color import lab_to_rgb, rgb_to_lab
from colorlab.data import prepare_image, sample_photos
from colorlab.metrics import evaluate


def _recording(model):
    """``model`` with its colorize wrapped so that every L it is given is kept in ``seen``."""
    seen, colorize = [], model.colorize

    def recording(L, *args, **kw):
        seen.append(L.detach().clone())
        return colorize(L, *args, **kw)
    model.colorize = recording
    return model, seen


@pytest.fixture(scope="module")
def chelsea():
    return sample_photos(["chelsea"])["chelsea"]          # 300 x 451


def test_evaluate_square_mode_feeds_the_network_what_colorize_image_feeds_it(chelsea):
    square = prepare_image(chelsea, 96)                        # a square photo, float [0, 1]
    square_u8 = (square.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    model, seen = _recording(cm.build("mse", width=0.25, image_size=32))
    model.colorize_image(square_u8)
    evaluate(model, [square_u8], size=96)                      # square mode, working size 32
    assert len(seen) == 2 and seen[0].shape == (1, 1, 32, 32)
    assert torch.equal(seen[0], seen[1])                       # the same L, bit for bit
    # a prepared dataset (Lab only) goes back to RGB first: the same L up to that round trip
    seen.clear()
    evaluate(model, rgb_to_lab(torch.from_numpy(square_u8).permute(2, 0, 1)[None] / 255.0))
    model.colorize_image(square_u8)
    assert torch.allclose(seen[0], seen[1], atol=1e-3)


def test_evaluate_whole_mode_feeds_the_network_what_colorize_image_feeds_it(chelsea):
    model, seen = _recording(cm.build("mse", width=0.25, image_size=32))
    model.colorize_image(chelsea)
    evaluate(model, [chelsea], size=64, whole=True)            # scored at 64, predicted at 32
    assert seen[0].shape == (1, 1, 32, 48) and torch.equal(seen[0], seen[1])


def test_predict_at_size_resizes_the_grey_photo_of_L_as_colorize_image_does(chelsea):
    grey = pipeline.gray_image(chelsea)                        # (300, 451, 3) uint8, grey
    model, seen = _recording(cm.build("mse", width=0.25).eval())
    model.colorize_image(grey, size=40)
    L = rgb_to_lab(pipeline.as_rgb_tensor(grey))[:, :1]
    with torch.no_grad():
        ab = model.colorize(L, size=40)                        # predict_at_size, no photo given
    colorize_image_input, predict_at_size_input = seen[0], seen[2]   # seen[1]: L itself
    assert ab.shape == (1, 2, 300, 451) and predict_at_size_input.shape == (1, 1, 40, 60)
    assert torch.allclose(colorize_image_input, predict_at_size_input, atol=1e-3)   # float noise
    seen.clear()                                               # at L's own size: L itself
    pipeline.predict_at_size(model.colorize, L[..., :40, :60], 40)
    assert torch.equal(seen[0], L[..., :40, :60])


def test_the_datasets_crop_what_the_pipeline_resizes(chelsea):
    whole = pipeline.resize_whole(pipeline.as_rgb_tensor(chelsea), 64)[0]    # (3, 64, 96)
    assert whole.shape == (3, 64, 96)
    assert torch.equal(prepare_image(chelsea, 64), whole[:, :, 16:80])     # its centre square
    strip = np.zeros((10, 200, 3), np.uint8)                   # capped: long side 4 x size
    assert pipeline.working_hw(10, 200, 8) == (2, 32)
    assert pipeline.resize_whole(pipeline.as_rgb_tensor(strip), 8).shape == (1, 3, 2, 32)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        pipeline.working_hw(10, 20, 0)


def test_grey_is_the_srgb_value_of_the_lightness_everywhere(chelsea):
    L = torch.linspace(0, 100, 11).view(1, 1, 1, 11)
    grey = pipeline.gray_rgb(L)
    assert torch.allclose(rgb_to_lab(grey)[:, 0], L[:, 0], atol=0.05)        # back to the same L
    assert (grey[:, 1:] == grey[:, :1]).all()
    assert (grey[:, 0] - L[:, 0] / 100).abs().max() > 0.03                # not L / 100
    image = pipeline.gray_image(chelsea)
    lab = rgb_to_lab(pipeline.as_rgb_tensor(chelsea))
    expected = (pipeline.gray_rgb(lab[:, :1])[0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.array_equal(image, expected)
    assert np.abs(rgb_to_lab(image)[..., 1:]).max() < 0.05                    # no colour left


def test_the_from_scratch_fusion_backbone_sees_the_srgb_grey():
    model = cm.build("fusion", width=0.125, backbone_size=32).eval()
    seen = []
    model.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    L = torch.rand(2, 1, 16, 24) * 100
    with torch.no_grad():
        model.embed(L)
    grey = pipeline.resize_rgb(pipeline.gray_rgb(L), (32, 32))    # the pipeline's one resize
    assert torch.allclose(seen[0], (grey - model.rgb_mean) / model.rgb_std, atol=1e-6)


def test_colorize_image_merges_the_photos_own_full_resolution_L_with_the_ab():
    grey_model = lambda L: torch.full((L.shape[0], 2, *L.shape[2:]), 20.0)   # noqa: E731

    class Constant(torch.nn.Module):
        config, device = {"image_size": 8}, torch.device("cpu")

        def colorize(self, L):
            return grey_model(L)
    rgb = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    out = pipeline.colorize_image(Constant(), rgb)
    L = rgb_to_lab(rgb)[..., :1]                               # the photo's own L, full size
    expected = lab_to_rgb(np.concatenate([L, np.full((30, 50, 2), 20.0)], -1))
    assert out.shape == (30, 50, 3)
    assert np.abs(out / 255.0 - expected).max() <= 0.5 / 255 + 1e-6       # uint8 rounding only
