"""colorlab.color against scikit-image, on random values and real photos, plus gamut and gradient
properties."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import color as skcolor
from skimage import data as skdata

import colorlab.color as C
from colorlab.color import lab_to_rgb, rgb_to_lab

TOL = 1e-3


def _random_lab(n, rng):
    """n Lab triples spanning the whole nominal range, with the extremes included."""
    lab = np.stack([rng.uniform(0, 100, n), rng.uniform(-128, 127, n), rng.uniform(-128, 127, n)],
                   -1)
    corners = np.array([[L, a, b] for L in (0, 100) for a in (-128, 127) for b in (-128, 127)],
                       float)
    return np.concatenate([corners, lab]).reshape(1, -1, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rgb_to_lab_matches_skimage_on_random_values(dtype):
    rng = np.random.default_rng(0)
    rgb = rng.random((3, 17, 23, 3)).astype(dtype)
    np.testing.assert_allclose(rgb_to_lab(rgb), skcolor.rgb2lab(rgb), atol=TOL)


def test_rgb_to_lab_matches_skimage_on_real_photos_uint8_and_float():
    for photo in (skdata.astronaut(), skdata.coffee(), skdata.chelsea()):
        np.testing.assert_allclose(rgb_to_lab(photo), skcolor.rgb2lab(photo), atol=TOL)
        f = photo.astype(np.float32) / 255
        np.testing.assert_allclose(rgb_to_lab(f), skcolor.rgb2lab(f), atol=TOL)


def test_uint8_and_float_inputs_agree():
    u8 = skdata.astronaut()[::8, ::8]
    np.testing.assert_allclose(rgb_to_lab(u8), rgb_to_lab(u8 / 255.0), atol=1e-4)


def test_tensor_layout_is_channel_first_and_matches_numpy():
    photo = skdata.coffee()[::4, ::4]
    t = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W)
    lab_t = rgb_to_lab(t)
    assert lab_t.shape == t.shape and lab_t.dtype == torch.float32
    np.testing.assert_allclose(lab_t[0].permute(1, 2, 0).numpy(), skcolor.rgb2lab(photo), atol=TOL)
    back = lab_to_rgb(lab_t)
    assert back.shape == t.shape
    assert (back - t).abs().max() < 1e-4  # in-gamut round trip


def test_known_colours_by_hand():
    # sRGB primaries and white/black, values from the CIE formulae (D65).
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]]], float)
    expected = np.array([[[53.24, 80.09, 67.20], [87.73, -86.18, 83.18], [32.30, 79.19, -107.86],
                          [100.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    np.testing.assert_allclose(rgb_to_lab(rgb), expected, atol=0.01)


def test_lab_to_rgb_matches_skimage_in_and_out_of_gamut():
    lab = _random_lab(20_000, np.random.default_rng(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about negative Z values it clips
        ref = skcolor.lab2rgb(lab)
    np.testing.assert_allclose(lab_to_rgb(lab), ref, atol=TOL)
    np.testing.assert_allclose(lab_to_rgb(lab.astype(np.float32)), ref, atol=TOL)


def test_out_of_gamut_lab_never_gives_nan_100k_values():
    rng = np.random.default_rng(2)
    lab = _random_lab(100_000, rng)
    # plus values far outside the nominal range, and the extremes of float32
    wild = rng.uniform(-1e6, 1e6, (1, 1000, 3))
    big = np.array([[[np.finfo(np.float32).max, np.finfo(np.float32).min, 0.0],
                     [-np.finfo(np.float32).max, 0.0, np.finfo(np.float32).max]]])
    for x in (lab, wild, big):
        out = lab_to_rgb(torch.from_numpy(x).permute(2, 0, 1).float())
        assert torch.isfinite(out).all()
        assert out.min() >= 0 and out.max() <= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=3, max_size=3))
def test_lab_to_rgb_is_finite_and_clipped_for_any_finite_float(values):
    out = lab_to_rgb(torch.tensor(values, dtype=torch.float32).view(3, 1, 1))
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_inf_inputs_are_refused_clearly(bad):
    x = torch.full((3, 2, 2), 0.5)
    x[1, 0, 0] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        rgb_to_lab(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        lab_to_rgb(x * 100)


def test_wrong_shapes_and_types_are_refused():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        rgb_to_lab(torch.rand(4, 8, 8))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W, 3\)"):
        rgb_to_lab(np.zeros((8, 8, 4)))
    with pytest.raises(TypeError):
        rgb_to_lab([[0.1, 0.2, 0.3]])
    with pytest.raises(TypeError):
        rgb_to_lab(torch.zeros(3, 2, 2, dtype=torch.int64))


def test_conversions_are_differentiable():
    rgb = torch.rand(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = rgb_to_lab(torch.rand(2, 3, 5, 4, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lab_to_rgb, (lab,))
    # gradients stay finite at the knees of the piecewise curves and at black
    x = (torch.tensor([0.0, 0.04045, 0.0031308, 1.0]).view(1, 1, 4).expand(3, 1, 4).clone()
         .requires_grad_())
    rgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_half_precision_and_leading_dims():
    x = torch.rand(2, 3, 3, 6, 6)
    out = rgb_to_lab(x.half())
    assert out.dtype == torch.float16 and out.shape == x.shape
    assert (out.float() - rgb_to_lab(x)).abs().max() < 0.2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(rgb_to_lab(x.cuda()).cpu(), rgb_to_lab(x), atol=1e-3)


def test_normalisation_helpers_round_trip_and_ranges():
    L = torch.tensor([0.0, 50.0, 100.0])
    assert torch.allclose(C.normalize_l(L), torch.tensor([-0.5, 0.0, 0.5]))
    assert torch.allclose(C.denormalize_l(C.normalize_l(L)), L)
    ab = torch.tensor([-110.0, 0.0, 110.0])
    assert torch.allclose(C.normalize_ab(ab), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(C.denormalize_ab(C.normalize_ab(ab)), ab)


def test_split_merge_and_gray_l():
    lab = rgb_to_lab(torch.rand(2, 3, 4, 5))
    L, ab = C.split_lab(lab)
    assert L.shape == (2, 1, 4, 5) and ab.shape == (2, 2, 4, 5)
    assert torch.equal(C.merge_lab(L, ab), lab)
    with pytest.raises(ValueError, match="sizes must match"):
        C.merge_lab(L, ab[..., :3])
    assert torch.allclose(C.rgb_to_gray_l(C.lab_to_rgb(lab)), L, atol=1e-2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
       st.sampled_from([np.float32, np.float64]))
def test_both_directions_are_finite_for_any_finite_float(values, dtype):
    x = np.clip(np.array(values), np.finfo(dtype).min,
                np.finfo(dtype).max).astype(dtype).reshape(1, 1, 3)
    assert np.isfinite(rgb_to_lab(x)).all()
    rgb = lab_to_rgb(x)
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=3, max_size=3))
def test_lab_round_trip_returns_any_in_gamut_colour(values):
    rgb = np.array(values).reshape(1, 1, 3)
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(width=32), min_size=12, max_size=12), st.integers(0, 11),
       st.sampled_from([float("nan"), float("inf"), -float("inf")]),
       st.sampled_from(["numpy", "torch"]), st.sampled_from(["rgb_to_lab", "lab_to_rgb"]))
def test_any_nan_or_inf_anywhere_is_a_clear_error(values, where, bad, kind, direction):
    values[where] = bad
    x = np.array(values, np.float32).reshape(2, 2, 3)
    x = torch.from_numpy(x).permute(2, 0, 1) if kind == "torch" else x
    with pytest.raises(ValueError, match="NaN or inf"):
        getattr(C, direction)(x)
