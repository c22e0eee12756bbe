"""Tests for colorlab.models: shapes at any size, full-resolution colourisation, ECCV16 layout,
design-variant switches, gradients. CPU only, no network, a few seconds."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from torch import nn

import colorlab.models as cm
from colorlab.color import rgb_to_lab
from colorlab.models.layers import GaussianBlur
from colorlab.quantize import ABQuantizer

torch.set_num_threads(2)
_GAMUT = ABQuantizer.from_gamut()


@pytest.fixture(scope="module")
def quantizer():
    return _GAMUT


def small(name, quantizer=None, **kw):
    """A small model of each kind, fast on a CPU."""
    if name in ("class", "class-rebal"):
        kw = {"quantizer": quantizer or _GAMUT, "width": 0.125, **kw}
    elif name == "gan":
        kw = {"width": 0.25, "d_width": 0.25, **kw}
    return cm.build(name, **kw)


ALL = ["mse", "class", "class-rebal", "gan", "gan-dcgan", "fusion"]


def make(spec, quantizer=None):
    return small("gan", variant="dcgan") if spec == "gan-dcgan" else small(spec, quantizer)


@functools.lru_cache(maxsize=None)
def shared(spec):
    """One eval-mode model per spec, for the tests that only read it (keeps the file fast)."""
    return make(spec).eval()


# ----------------------------------------------------------------------------- build / config
@pytest.mark.parametrize("spec", ALL)
def test_config_is_json_and_rebuilds_the_same_architecture(spec):
    model = shared(spec)
    config = json.loads(json.dumps(model.config))
    assert config["name"] == spec.split("-dcgan")[0]
    again = cm.build(**config)
    assert {k: v.shape for k, v in again.state_dict().items()} == \
           {k: v.shape for k, v in model.state_dict().items()}
    assert model.kind in ("regression", "classification", "gan")


def test_unknown_name_and_keyword_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        cm.build("vgg")
    with pytest.raises(TypeError):
        cm.build("mse", widht=0.5)
    with pytest.raises(TypeError, match="unexpected"):
        cm.build("class", Q=10, lam=0.5)
    with pytest.raises(ValueError, match="upsample"):
        cm.build("mse", upsample="cubic")


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("spec", ALL)
@pytest.mark.parametrize("hw", [(31, 45), (8, 8), (1, 1), (17, 5)])
def test_colorize_returns_ab_at_any_size(spec, hw):
    model = shared(spec)
    with torch.no_grad():
        ab = model.colorize(torch.rand(2, 1, *hw) * 100)
    assert ab.shape == (2, 2, *hw)
    assert torch.isfinite(ab).all() and ab.abs().max() <= 128


def test_forward_shapes_at_32(quantizer):
    L = torch.rand(3, 1, 32, 32) * 100
    assert small("mse")(L).shape == (3, 2, 32, 32)
    cls = small("class", quantizer)
    assert cls(L).shape == (3, len(quantizer.centers), 8, 8)
    gan = small("gan")
    ab = gan(L)
    assert ab.shape == (3, 2, 32, 32) and ab.abs().max() <= 1
    assert gan.discriminator(L, ab).shape == (3, 1, 2, 2)  # 70x70 PatchGAN on 32x32
    dc = small("gan", variant="dcgan")
    assert dc.discriminator(L, dc(L)).shape == (3, 1, 1, 1)
    assert small("fusion")(L).shape == (3, 2, 32, 32)


def test_forward_rejects_unpadded_sizes_with_a_clear_message():
    with pytest.raises(ValueError, match="multiples of 8.*colorize"):
        small("mse")(torch.zeros(1, 1, 31, 45))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        small("mse").colorize(torch.zeros(1, 3, 32, 32))


def test_gan_depth_adapts_to_the_image_size():
    gan = cm.build("gan", depth=3, width=0.125, d_width=0.125)
    assert gan.multiple == 8 and gan(torch.zeros(2, 1, 8, 8)).shape == (2, 2, 8, 8)
    assert len(cm.build("gan", depth=7, width=0.125).generator.down) == 7


# ----------------------------------------------------------------------------- colorize_image
def _zero_ab(model):
    """Make the MSE baseline predict ab = 0 (grey) or a constant: its last conv feeds a tanh."""
    last = model.decoder[-2]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return last


def test_colorize_image_keeps_full_resolution_l_grey_and_rgb():
    model = small("mse")
    last = _zero_ab(model)
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    out = model.colorize_image(grey, size=16)
    assert out.shape == (37, 53, 3) and out.dtype == np.uint8
    # ab = 0: the output is the input grey exactly (up to uint8 rounding of L)
    assert np.abs(out.astype(int) - grey[..., None]).max() <= 1
    with torch.no_grad():
        last.bias.fill_(0.1)  # ab = 110 * tanh(0.1) ~ 11: colour, still in gamut
    rgb = rng.random((41, 29, 3)).astype(np.float32) * 0.5 + 0.25
    out = model.colorize_image(rgb, size=16)
    assert out.shape == (41, 29, 3) and out.dtype == np.uint8
    L_in = rgb_to_lab(rgb)[..., 0]
    L_out = rgb_to_lab(out)[..., 0]
    assert np.abs(L_in - L_out).max() < 1.0  # the original L, at full resolution
    assert np.abs(rgb_to_lab(out)[..., 1:]).mean() > 5  # and it was coloured


@pytest.mark.parametrize("spec", ALL)
def test_colorize_image_every_model_odd_sizes(spec):
    model = make(spec).train()
    for image in (np.full((23, 35), 0.5, dtype=np.float32),
                  np.random.default_rng(1).integers(0, 256, (19, 40, 3), dtype=np.uint8)):
        out = model.colorize_image(image, size=16)
        assert out.shape == image.shape[:2] + (3,) and out.dtype == np.uint8
    assert model.training  # mode restored


def test_colorize_image_resizes_the_short_side_without_cropping(monkeypatch):
    model, seen = small("mse"), []
    original = model.colorize
    monkeypatch.setattr(model, "colorize", lambda L: seen.append(L.shape) or original(L))
    model.colorize_image(np.zeros((40, 100, 3), np.uint8), size=16)
    assert seen == [(1, 1, 16, 40)]
    model.colorize_image(np.zeros((50, 20), np.uint8), size=8)
    assert seen[-1] == (1, 1, 20, 8)
    # default: image_size
    cm.build("mse", image_size=24).colorize_image(np.zeros((48, 48), np.uint8))
    with pytest.raises(ValueError, match="size"):
        model.colorize_image(np.zeros((8, 8), np.uint8), size=0)
    with pytest.raises(ValueError, match="HxW"):
        model.colorize_image(np.zeros((8, 8, 5), np.uint8), size=8)


# ----------------------------------------------------------------------------- classification
def test_class_decodes_with_the_quantizer_and_temperature(quantizer):
    model = small("class", quantizer).eval()
    torch.testing.assert_close(model.centers, torch.as_tensor(quantizer.centers).float(), atol=1e-4,
                               rtol=0)
    L = torch.rand(1, 1, 31, 45) * 100
    with torch.no_grad():
        model.T = 1.0
        mean = model.colorize(L)
        model.T = 0.1
        sharp = model.colorize(L)
    assert mean.shape == sharp.shape == (1, 2, 31, 45)
    assert not torch.allclose(mean, sharp)
    assert model.config["T"] == 0.1


def test_class_rebal_weights_buffer_and_set_prior(quantizer):
    model = small("class-rebal", quantizer)
    Q = model.config["Q"]
    assert torch.equal(model.class_weights, torch.ones(Q))
    assert "class_weights" in model.state_dict()
    prior = torch.rand(Q)
    prior /= prior.sum()
    w = model.set_prior(prior)
    assert w.shape == (Q,) and torch.isfinite(w).all() and (w > 0).all()
    assert torch.equal(model.class_weights, w) and not torch.equal(w, torch.ones(Q))


def _eccv16_keys():
    """The published ECCV16 state_dict layout (richzhang/colorization, colorizers/eccv16.py)."""
    keys = {}
    chans = {1: (1, 64, 2), 2: (64, 128, 2), 3: (128, 256, 3), 4: (256, 512, 3),
             5: (512, 512, 3), 6: (512, 512, 3), 7: (512, 512, 3)}
    for m, (cin, cout, n) in chans.items():
        for i in range(n):
            keys[f"model{m}.{2 * i}.weight"] = (cout, cin if i == 0 else cout, 3, 3)
            keys[f"model{m}.{2 * i}.bias"] = (cout,)
        for s in ("weight", "bias", "running_mean", "running_var"):
            keys[f"model{m}.{2 * n}.{s}"] = (cout,)
        keys[f"model{m}.{2 * n}.num_batches_tracked"] = ()
    keys.update({"model8.0.weight": (512, 256, 4, 4), "model8.0.bias": (256,),
                 "model8.2.weight": (256, 256, 3, 3), "model8.2.bias": (256,),
                 "model8.4.weight": (256, 256, 3, 3), "model8.4.bias": (256,),
                 "model8.6.weight": (313, 256, 1, 1), "model8.6.bias": (313,),
                 "model_out.weight": (2, 313, 1, 1)})
    return keys


def test_full_width_class_model_has_the_published_eccv16_layout():
    with torch.device("meta"):
        model = cm.build("class", Q=313, width=1.0)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == _eccv16_keys()
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 32.2e6) < 0.05e6
    assert all(p.requires_grad for p in model.parameters())
    assert not model.model_out.weight.requires_grad  # the bin centres are a buffer, never trained


# ----------------------------------------------------------------------------- variants
def _modules(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("name", ["mse", "class"])
def test_variant_switches_change_the_architecture(name):
    base = small(name)
    assert _modules(base, nn.BatchNorm2d)
    assert not _modules(base, (nn.MaxPool2d, nn.AvgPool2d))  # strided convolutions, no pooling
    assert not _modules(small(name, batchnorm=False), nn.BatchNorm2d)
    transposed = _modules(small(name, upsample="transpose"), nn.ConvTranspose2d)
    nearest = small(name, upsample="nearest")
    assert transposed and not _modules(nearest, nn.ConvTranspose2d)
    assert {m.mode for m in _modules(small(name, upsample="bilinear"), nn.Upsample)} == {"bilinear"}
    drop = _modules(small(name, dropout=0.3), nn.Dropout2d)
    assert drop and all(m.p == 0.3 for m in drop)
    assert not _modules(small(name, dropout=0.0), nn.Dropout2d)
    blurred = small(name, ab_blur=1.5)
    assert isinstance(blurred.ab_blur, GaussianBlur) and base.ab_blur is None
    assert blurred.state_dict().keys() == base.state_dict().keys()  # the filter is fixed, not saved
    for model in (nearest, small(name, batchnorm=False)):
        assert model.eval().colorize(torch.rand(1, 1, 20, 28) * 100).shape == (1, 2, 20, 28)


def test_ab_blur_smooths_the_prediction():
    torch.manual_seed(0)
    sharp = small("mse", upsample="nearest").eval()
    blurred = cm.build(**{**sharp.config, "ab_blur": 2.0}).eval()
    blurred.load_state_dict(sharp.state_dict())
    L = torch.rand(1, 1, 40, 40) * 100

    def tv(ab):
        return (ab.diff(dim=-1).abs().mean() + ab.diff(dim=-2).abs().mean()).item()
    with torch.no_grad():
        assert tv(blurred.colorize(L)) < 0.7 * tv(sharp.colorize(L))


def test_gaussian_blur_is_a_normalised_depthwise_filter():
    blur = GaussianBlur(1.0)
    x = torch.randn(2, 2, 15, 15)
    assert torch.allclose(blur(torch.ones(1, 2, 7, 9)), torch.ones(1, 2, 7, 9), atol=1e-6)
    y = blur(x)
    assert y.shape == x.shape and not any(p.requires_grad for p in blur.parameters())
    with pytest.raises(ValueError):
        GaussianBlur(0.0)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("spec", ALL)
def test_gradients_reach_every_trainable_parameter(spec):
    torch.manual_seed(0)
    model = make(spec).train()
    L = torch.rand(4, 1, 32, 32) * 100
    out = model(L)
    loss = out.float().square().mean()
    if model.kind == "gan":
        loss = loss + model.discriminator(L, out).mean()
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters() if p.grad is not None)


def test_fusion_frozen_backbone_stays_fixed():
    model = cm.build("fusion", freeze_backbone=True, width=0.125).train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not model.backbone.training and model.encoder.training
    assert model.config["pretrained"] is False
