"""User hints: encoding, simulated training hints, the hint model and its training task."""
import numpy as np
import pytest
import torch

import colorlab.models as cm
from colorlab.color import rgb_to_lab
from colorlab.data import LabDataset
from colorlab.hints import (
    hint_map,
    parse_colour,
    parse_hint,
    pool_hints,
    simulate_hints,
    user_hints,
)
from colorlab.train import seed_everything, train


def test_hint_map_colours_a_patch_cut_at_the_borders():
    m = hint_map([(0, 0, 55.0, -11.0), (4, 5, 1.0, 2.0)], 6, 8, patch=3)
    assert m.shape == (3, 6, 8)
    assert m[2, :2, :2].sum() == 4 and m[2].sum() == 4 + 9      # corner patch cut to 2 x 2
    assert torch.allclose(m[:2, 0, 0] * 110, torch.tensor([55.0, -11.0]))
    assert m[:, 3:6, 4:7].mul(m[2:, 3:6, 4:7]).sum() > 0 and m[:, 0, 7].abs().sum() == 0


def test_simulated_hints_follow_the_recipe():
    g = torch.Generator().manual_seed(0)
    ab = torch.randn(400, 2, 16, 16) * 20
    h = simulate_hints(ab, g)
    hinted = h[:, 2].flatten(1).amax(1) > 0
    assert 0.44 < float(hinted.float().mean()) < 0.56           # p_none = 0.5
    again = simulate_hints(ab, torch.Generator().manual_seed(0))
    assert torch.equal(h, again)
    assert (h[:, :2].abs() <= 1).all() and set(h[:, 2].unique().tolist()) <= {0.0, 1.0}
    # a uniform photo: every hint reveals exactly its colour
    flat = torch.zeros(8, 2, 16, 16)
    flat[:, 0], flat[:, 1] = 25.0, -40.0
    hf = simulate_hints(flat, torch.Generator().manual_seed(1), p_none=0.0)
    inside = hf[:, 2] > 0
    assert inside.flatten(1).any(1).all()
    assert torch.allclose(hf[:, 0][inside] * 110, torch.tensor(25.0))
    assert torch.allclose(hf[:, 1][inside] * 110, torch.tensor(-40.0))


def test_pooled_hints_keep_a_one_pixel_click_at_full_strength():
    m = hint_map([(13, 2, 33.0, 0.0)], 16, 16, patch=1)[None]
    p = pool_hints(m, (2, 2))
    assert p[0, 2, 1, 0] == 1 and p[0, 2].sum() == 1
    assert torch.isclose(p[0, 0, 1, 0] * 110, torch.tensor(33.0))


def test_user_hints_scale_positions_convert_colours_and_fit_the_gamut():
    L = torch.full((1, 1, 90, 120), 50.0)
    L[..., :, 60:] = 95.0                          # right half nearly white
    m = user_hints([(10, 10, "#0000ff"), (100, 80, (0, 0, 255))], L, (30, 40), patch=1)
    blue = rgb_to_lab(torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1))[0, 1:, 0, 0]
    left = m[0, :2, 3, 3] * 110                    # x 10 -> col 3, y 10 -> row 3
    assert left[1] < -60 and m[0, 2, 3, 3] == 1
    right = m[0, :2, 26, 33] * 110                 # at L = 95 pure blue cannot be shown
    assert right.norm() < 0.5 * blue.norm()
    assert torch.sign(right[1]) == torch.sign(blue[1])      # same hue, less chroma


@pytest.mark.parametrize("hint, message", [
    ((120, 5, "#ff0000"), "x=120 is outside"), ((5, -1, "#ff0000"), "y=-1 is outside"),
    ((5, 5, "red"), "expected #RRGGBB"), ((5, 5, (1, 2)), "three numbers"),
    ((5, 5, (0, 0, 300)), "0..255"), ((5, 5, (0.5, 0.2, 1.5)), r"\[0, 1\]"), ((5, 5), "hint 0"),
])
def test_bad_hints_are_refused_clearly(hint, message):
    with pytest.raises(ValueError, match=message):
        user_hints([hint], torch.full((1, 1, 50, 120), 50.0), (32, 64))


def test_parse_hint_and_colour():
    assert parse_hint("3, 4, #00FF00") == (3, 4, "#00FF00")
    assert parse_colour("00ff00").tolist() == [0.0, 1.0, 0.0]
    for bad in ("3,4", "a,4,#00ff00", "1,2,3,4"):
        with pytest.raises(ValueError, match="X,Y"):
            parse_hint(bad)


def test_the_hint_model_starts_as_mse_and_learns_to_use_hints(tmp_path):
    torch.set_num_threads(1)
    seed_everything(0)
    mse = cm.build("mse", encoder="efficientnet_lite0", encoder_pretrained=False, width=0.25)
    model = cm.build("hints", encoder="efficientnet_lite0", encoder_pretrained=False, width=0.25)
    missing, unexpected = model.load_state_dict(mse.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("net.hint_inputs") for k in missing)
    L = torch.full((2, 1, 64, 64), 50.0)
    assert torch.equal(model.eval()(L), mse.eval()(L))
    # two colours the grey cannot tell apart: red or blue squares on grey, same L
    images = []
    for i in range(16):
        img = np.full((64, 64, 3), 118, np.uint8)
        img[16:48, 16:48] = (200, 40, 40) if i % 2 else (40, 70, 200)
        images.append(img)
    lab = LabDataset.from_images(images, size=64).lab
    lab[:, :1] = 50.0                   # the same grey: only the hints tell red from blue
    data = LabDataset(lab)
    history = train(model, data, steps=80, batch_size=8, lr=3e-3, progress=False, log_every=10,
                    out=tmp_path / "h.ckpt", p_none=0.0)
    assert history[-1]["loss"] < history[0]["loss"]
    assert any(p.abs().sum() > 0 for p in model.net.hint_inputs.parameters())
    model.eval()
    with torch.no_grad():
        red = hint_map([(32, 32, 60.0, 45.0)], 64, 64, patch=5)[None]
        blue = hint_map([(32, 32, 37.0, -70.0)], 64, 64, patch=5)[None]
        b_red = model(lab[:1, :1], red)[0, 1, 24:40, 24:40].mean() * 110
        b_blue = model(lab[:1, :1], blue)[0, 1, 24:40, 24:40].mean() * 110
    assert b_red > b_blue + 40       # the hint's colour reaches the square around it
    with pytest.raises(ValueError, match="hints must have shape"):
        model(L, torch.zeros(2, 3, 32, 32))


def test_colorize_image_with_a_users_hints_and_refusals():
    torch.set_num_threads(1)
    seed_everything(0)
    model = cm.build("hints", encoder="efficientnet_lite0", encoder_pretrained=False, width=0.25)
    for conv in model.net.hint_inputs:          # a model that has learnt to use the b channel
        torch.nn.init.constant_(conv.weight, 0.5)
    photo = np.full((90, 150, 3), 120, np.uint8)
    plain = model.colorize_image(photo)
    hinted = model.colorize_image(photo, hints=[(20, 30, "#2040ff")])
    assert hinted.shape == plain.shape == (90, 150, 3)
    assert not np.array_equal(hinted, plain)
    assert np.array_equal(model.colorize_image(photo, hints=[]), plain)
    with pytest.raises(ValueError, match="outside the photo"):
        model.colorize_image(photo, hints=[(150, 3, "#ffffff")])
    with pytest.raises(ValueError, match="takes no hints"):
        cm.build("mse", width=0.25).colorize_image(photo, hints=[(1, 1, "#ffffff")])


def test_the_hint_widget_places_undoes_and_saves_hints(tmp_path):
    pytest.importorskip("ipyevents")
    from colorlab.hint_widget import HintColorizer, load_hints
    torch.set_num_threads(1)
    model = cm.build("hints", encoder="efficientnet_lite0", encoder_pretrained=False, width=0.25)
    photo = np.full((60, 80, 3), 100, np.uint8)
    w = HintColorizer(model, photo, display_side=40)
    first = w.image.value
    w._on_click({"dataX": 10, "dataY": 15})           # the display is half the photo's size
    assert w.hints == [(20, 30, "#3050c0")] and w.image.value != first
    w.picker.value = "#ff0000"
    w.add_hint(5, 5)
    assert [h[2] for h in w.hints] == ["#3050c0", "#ff0000"] and "2." in w.listing.value
    w.undo()
    assert len(w.hints) == 1
    image, hints = w.save(tmp_path / "out.png")
    assert image.exists() and load_hints(hints) == [(20, 30, "#3050c0")]
    w.clear()
    assert w.hints == [] and "no hints" in w.listing.value
    with pytest.raises(ValueError, match="outside the photo"):
        w.add_hint(80, 0)


def test_hint_curve_scores_every_photo_at_every_count_and_places_uncertain_clicks():
    from colorlab.hint_study import hint_curve, uncertain_points
    torch.set_num_threads(1)
    seed_everything(0)
    model = cm.build("hints", encoder="efficientnet_lite0", encoder_pretrained=False, width=0.25)
    classes = cm.build("class", encoder="efficientnet_lite0", encoder_pretrained=False,
                       width=0.25)
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(2)]
    curve = hint_curve(model, photos, counts=(0, 2), seed=0)
    assert curve["counts"] == [0, 2] and curve["psnr"].shape == (2, 2)
    assert torch.isfinite(curve["psnr"]).all()
    points = uncertain_points(classes, photos[0], 3, min_distance=10)
    assert len(points) == 3 and all(0 <= x < 56 and 0 <= y < 40 for x, y in points)
    assert all((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 >= 100
               for i, a in enumerate(points) for b in points[i + 1:])
    with pytest.raises(ValueError, match="needs class_model"):
        hint_curve(model, photos, strategy="uncertain")
