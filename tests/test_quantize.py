"""Tests for colorlab.quantize against scikit-learn, numpy and hand-computed references."""
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from colorlab.color import rgb_to_lab
from colorlab.quantize import ABQuantizer, soft_cross_entropy


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a shared 2-core machine two busy-waiting OpenMP threads crawl."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def q():
    return ABQuantizer.from_gamut()


def _real_ab(n=4, size=64, seed=0):
    """ab of smooth random colour images plus grey pixels: realistic, clustered values."""
    g = torch.Generator().manual_seed(seed)
    rgb = F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=size, mode="bilinear")
    rgb[:, :, : size // 4] = rgb[:, :1, : size // 4]          # a grey band
    return rgb_to_lab(rgb)[:, 1:]


def _sk(centers, pts, k):
    nn_ = NearestNeighbors(n_neighbors=k).fit(centers.double().numpy())
    return nn_.kneighbors(pts.double().numpy())


def _check_against_sklearn(q, ab, k=5):
    pts = ab.permute(0, 2, 3, 1).reshape(-1, 2) if ab.ndim == 4 else ab
    d_ref, i_ref = _sk(q.centers, pts, k)
    idx, d2 = q.knn(ab, k)
    idx = idx.permute(0, 2, 3, 1).reshape(-1, k) if ab.ndim == 4 else idx
    d2 = d2.permute(0, 2, 3, 1).reshape(-1, k) if ab.ndim == 4 else d2
    d = d2.double().sqrt().numpy()
    np.testing.assert_allclose(d, d_ref, atol=1e-5)
    # indices equal except where two bins are at the same distance (ties)
    tie = np.zeros_like(d_ref, dtype=bool)
    tie[:, 1:] |= np.isclose(d_ref[:, 1:], d_ref[:, :-1], atol=1e-6)
    tie[:, :-1] |= np.isclose(d_ref[:, 1:], d_ref[:, :-1], atol=1e-6)
    if k < len(q.centers):
        nxt, _ = _sk(q.centers, pts, k + 1)
        tie[:, -1] |= np.isclose(nxt[:, -1], d_ref[:, -1], atol=1e-6)
    assert (idx.numpy() == i_ref)[~tie].all()
    # weights: Gaussian over the exact distances
    i2, w = q.soft_encode(ab, k=k, sigma=5.0)
    wr = np.exp(-(d_ref ** 2 - d_ref[:, :1] ** 2) / 50.0)      # shifted: no underflow far away
    wr /= wr.sum(1, keepdims=True)
    w = w.permute(0, 2, 3, 1).reshape(-1, k) if ab.ndim == 4 else w
    i2 = i2.permute(0, 2, 3, 1).reshape(-1, k) if ab.ndim == 4 else i2
    np.testing.assert_allclose(np.sort(w.double().numpy(), 1), np.sort(wr, 1), atol=1e-5)
    assert (np.sort(i2.numpy(), 1) == np.sort(i_ref, 1))[~tie.any(1)].all()


def test_gamut_bins_documented_count(q):
    assert q.Q == 261
    assert q.centers.shape == (261, 2) and q.centers.dtype == torch.float32
    assert (q.centers % 10 == 0).all()
    # every centre of the grid rounded from a random sRGB colour is a bin
    rgb = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    cells = torch.round(rgb_to_lab(rgb)[1:].reshape(2, -1).T / 10) * 10
    assert torch.cdist(cells, q.centers).amin(1).max() == 0


def test_knn_and_soft_encode_match_sklearn_real_ab(q):
    _check_against_sklearn(q, _real_ab())


def test_knn_matches_sklearn_everywhere_including_outside_bins(q):
    g = torch.Generator().manual_seed(2)
    pts = torch.cat([
        torch.rand(6000, 2, generator=g, dtype=torch.float64) * 280 - 140,   # whole plane
        torch.rand(500, 2, generator=g, dtype=torch.float64) * 2000 - 1000,  # far away
        torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0], [120.0, -120.0]], dtype=torch.float64)])
    for k in (1, 5):
        _check_against_sklearn(q, pts, k)


def test_explicit_irregular_centers_match_sklearn():
    c = torch.randn(40, 2, generator=torch.Generator().manual_seed(3)) * 30
    q = ABQuantizer(c)
    _check_against_sklearn(q, _real_ab(n=2, size=32), k=5)


def test_soft_encode_shapes_dense_and_hard(q):
    ab = _real_ab(n=2, size=16)
    idx, w = q.soft_encode(ab)
    assert idx.shape == w.shape == (2, 5, 16, 16) and idx.dtype == torch.long
    torch.testing.assert_close(w.sum(1), torch.ones(2, 16, 16))
    dense = q.soft_encode(ab, dense=True)
    assert dense.shape == (2, q.Q, 16, 16)
    torch.testing.assert_close(dense.gather(1, idx), w)
    torch.testing.assert_close(dense.sum(1), torch.ones(2, 16, 16))
    hard = q.hard_encode(ab)
    assert hard.shape == (2, 16, 16)
    ref = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), q.centers).argmin(1)
    assert (hard.reshape(-1) == ref).float().mean() > 0.999      # ties aside
    for sigma in (0.3, 50.0):                      # tiny sigma: no underflow to 0/0
        pts = torch.tensor([[3.0, 4.0], [57.0, -33.0], [500.0, 500.0]])
        _, ws = q.soft_encode(pts, sigma=sigma)
        d, _ = _sk(q.centers, pts, 5)
        ref = np.exp(-(d ** 2 - d[:, :1] ** 2) / (2 * sigma ** 2))
        np.testing.assert_allclose(np.sort(ws.double().numpy(), 1),
                                   np.sort(ref / ref.sum(1, keepdims=True), 1), atol=1e-5)
    with pytest.raises(ValueError):
        q.soft_encode(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        q.soft_encode(torch.full((1, 2, 2, 2), float("nan")))


def test_from_data_and_prior_hand_computed():
    ab = torch.tensor([[1.0, 0.0], [2.0, 0.0], [9.0, 0.0], [0.0, 1.0], [31.0, -19.0]])
    q = ABQuantizer.from_data(ab)
    assert q.centers.tolist() == [[0.0, 0.0], [10.0, 0.0], [30.0, -20.0]]
    torch.testing.assert_close(q.prior(ab), torch.tensor([0.6, 0.2, 0.2]))

    class DS:                                     # anything with .lab (N, 3, S, S)
        lab = torch.cat([torch.full((2, 1, 2, 2), 50.0), torch.zeros(2, 2, 2, 2)], 1)
    q2 = ABQuantizer.from_data(DS())
    assert q2.centers.tolist() == [[0.0, 0.0]]
    torch.testing.assert_close(q.prior(DS()), torch.tensor([1.0, 0.0, 0.0]))


def test_rebalance_weights_against_numpy(q):
    p = q.prior(_real_ab())
    w = q.rebalance_weights(p, lam=0.5, sigma=5.0).double().numpy()
    c = q.centers.double().numpy()
    d2 = ((c[:, None] - c[None]) ** 2).sum(-1)
    ps = np.exp(-d2 / 50.0) @ p.double().numpy()
    ps /= ps.sum()
    ref = 1.0 / (0.5 * ps + 0.5 / q.Q)
    ref /= (ps * ref).sum()
    np.testing.assert_allclose(w, ref, rtol=1e-5)
    assert math.isclose(float((ps * w).sum()), 1.0, rel_tol=1e-5)
    np.testing.assert_allclose(q.rebalance_weights(p, lam=1.0).numpy(), 1.0, rtol=1e-5)
    assert w.argmax() != p.argmax()         # rare colours get the large weights


def test_decode_mean_mode_annealed_and_extreme_T(q):
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, q.Q, 3, 3, generator=g) * 3
    p = torch.softmax(logits, 1)
    mean = torch.einsum("bqhw,qc->bchw", p, q.centers)
    torch.testing.assert_close(q.decode(logits, T=1.0), mean, atol=1e-4, rtol=1e-4)
    mode = q.centers[logits.argmax(1)].permute(0, 3, 1, 2)
    torch.testing.assert_close(q.decode(logits, mode=True), mode)
    pT = torch.softmax(logits / 0.38, 1)
    torch.testing.assert_close(q.decode(logits), torch.einsum("bqhw,qc->bchw", pT, q.centers),
                               atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(q.decode(logits * 1e4, T=1e-30), mode)       # tiny T -> mode
    huge = q.decode(logits, T=1e30)                                          # huge T -> average
    torch.testing.assert_close(huge, q.centers.mean(0).view(1, 2, 1, 1).expand_as(huge), atol=1e-3,
                               rtol=0)
    torch.testing.assert_close(q.decode(logits, T=torch.tensor(0.38)), q.decode(logits))
    for bad in (0.0, -1.0, float("nan"), "warm", torch.tensor(-2.0)):
        with pytest.raises(ValueError, match="T"):
            q.decode(logits, T=bad)


def test_soft_cross_entropy_matches_dense_and_gradients(q):
    g = torch.Generator().manual_seed(5)
    ab = _real_ab(n=2, size=8)
    idx, w = q.soft_encode(ab)
    logits = torch.randn(2, q.Q, 8, 8, generator=g, requires_grad=True)
    pw = torch.rand(2, 8, 8, generator=g)
    dense = q.soft_encode(ab, dense=True)
    for weights in (None, pw):
        ref = -(dense * F.log_softmax(logits, 1)).sum(1)
        ref = (ref if weights is None else ref * weights).mean()
        (g_ref,) = torch.autograd.grad(ref, logits)
        loss = soft_cross_entropy(logits, idx, w, weights)
        (g_got,) = torch.autograd.grad(loss, logits)
        torch.testing.assert_close(loss, ref)
        torch.testing.assert_close(g_got, g_ref)
    small = torch.randn(1, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    sidx = torch.randint(0, 4, (1, 2, 2, 2))
    sw = torch.rand(1, 2, 2, 2, dtype=torch.float64)
    spw = torch.rand(1, 2, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: soft_cross_entropy(x, sidx, sw, spw), (small,))


def test_state_dict_to_and_module_behaviour(q):
    sd = q.state_dict()
    assert set(sd) == {"centers"}
    q2 = ABQuantizer.from_state_dict(sd)
    torch.testing.assert_close(q2.centers, q.centers)
    q3 = ABQuantizer(torch.zeros(q.Q, 2))
    q3.load_state_dict(sd)
    torch.testing.assert_close(q3.centers, q.centers)
    assert q.to("cpu").centers.device.type == "cpu"
    eccv_like = ABQuantizer(torch.randn(313, 2) * 40)
    assert eccv_like.Q == 313
    with pytest.raises(ValueError):
        ABQuantizer(torch.zeros(5, 3))


ANY_FLOAT32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ANY_FLOAT32, ANY_FLOAT32), min_size=1, max_size=4))
def test_soft_encode_is_exact_and_finite_for_any_finite_ab_even_outside_every_bin(q, points):
    ab = torch.tensor(points, dtype=torch.float32)
    idx, w = q.soft_encode(ab)
    assert idx.shape == w.shape == (len(ab), 5) and torch.isfinite(w).all() and (w >= 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(len(ab)))
    centres = [(Fraction(int(a)), Fraction(int(b))) for a, b in q.centers.tolist()]
    for (a, b), found in zip(ab.tolist(), q.knn(ab, k=1)[0][:, 0].tolist()):
        d2 = [(ca - Fraction(a)) ** 2 + (cb - Fraction(b)) ** 2 for ca, cb in centres]  # exact
        assert d2[found] == min(d2), (a, b)


@settings(max_examples=150, deadline=None)
@given(T=st.floats(min_value=0, exclude_min=True, allow_infinity=False),
       scale=st.floats(min_value=0, max_value=1e30), seed=st.integers(0, 2 ** 16))
def test_decode_at_any_positive_temperature_stays_among_the_bins(q, T, scale, seed):
    logits = torch.randn(1, q.Q, 2, 2, generator=torch.Generator().manual_seed(seed)) * scale
    ab = q.decode(logits, T=T)
    assert ab.shape == (1, 2, 2, 2) and torch.isfinite(ab).all()
    low, high = q.centers.min(0).values.view(1, 2, 1, 1), q.centers.max(0).values.view(1, 2, 1, 1)
    assert (ab >= low - 1e-3).all() and (ab <= high + 1e-3).all()  # a weighted mean of centres
