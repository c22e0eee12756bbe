"""colorlab.viz: figures render under Agg and carry the expected axes, titles and artists."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PathCollection, QuadMesh  # noqa: E402
from test_quantize import _one_thread  # noqa: E402,F401  (autouse: one torch thread)

from colorlab import viz  # noqa: E402
from colorlab.color import lab_to_rgb  # noqa: E402
from colorlab.quantize import ABQuantizer  # noqa: E402


def _render(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    w, h = canvas.get_width_height()
    assert w > 50 and h > 50
    assert fig.dpi == 100
    return np.asarray(canvas.buffer_rgba())


def test_colorization_grid_layout_and_pixels():
    L = torch.full((3, 1, 8, 8), 60.0)
    truth = torch.zeros(3, 2, 8, 8)
    truth[:, 0] = 60.0                              # reddish
    fig = viz.colorization_grid(L, {"mse": torch.zeros(3, 2, 8, 8), "class": truth}, truth, n=2)
    _render(fig)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["grey input", "mse", "class", "truth"]
    assert all(ax.get_title() == "" for ax in fig.axes[4:])
    shown = fig.axes[3].images[0].get_array()
    expected = lab_to_rgb(torch.cat([L[:1], truth[:1]], 1))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(np.asarray(shown), expected, atol=1e-6)
    grey = np.asarray(fig.axes[0].images[0].get_array())
    assert np.ptp(grey, axis=-1).max() < 1e-3      # the input column is grey
    fig2 = viz.colorization_grid(L, torch.zeros(3, 2, 8, 8))
    assert len(fig2.axes) == 3 * 2 and fig2.axes[1].get_title() == "prediction"


def test_gamut_image_matches_known_colours():
    img = viz.gamut_image(50.0, resolution=47, ab_range=115.0)
    assert img.shape == (47, 47, 4)
    assert img[23, 23, 3] == 1.0                     # neutral grey is in gamut
    np.testing.assert_allclose(img[23, 23, :3], lab_to_rgb(np.array([[[50.0, 0.0, 0.0]]]))[0, 0],
                               atol=1e-6)
    assert img[0, 0, 3] == 0.0                       # a = b = -115 at L=50: not an sRGB colour
    assert 0.2 < img[..., 3].mean() < 0.8


def test_ab_histogram_draws_on_gamut_with_log_norm():
    ab = torch.randn(2, 2, 16, 16) * 20
    fig = viz.ab_histogram(ab, L=70, bins=32)
    _render(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"
    assert len(ax.images) == 1                       # the gamut background
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    assert isinstance(meshes[0].norm, matplotlib.colors.LogNorm)
    assert meshes[0].get_array().sum() == 2 * 16 * 16   # every pixel counted (all within +-115)
    assert len(fig.axes) == 2                           # plus the colour bar
    fig2 = viz.ab_histogram(np.zeros((0, 2)))           # empty input still renders
    _render(fig2)


def test_plot_bins_one_marker_per_bin():
    q = ABQuantizer.from_gamut()
    fig = viz.plot_bins(q, annotate=True)
    _render(fig)
    ax = fig.axes[0]
    (sc,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(sc.get_offsets(), q.centers.numpy())
    assert len(ax.texts) == q.Q
    assert ax.get_title().startswith("Q = 261")


@pytest.mark.parametrize("history", [
    [{"step": i, "loss": 1.0 / (i + 1), "val_auc": 0.5 + i / 100} for i in range(20)],
    {"step": list(range(20)), "loss": [1.0 / (i + 1) for i in range(20)], "val_auc": [0.5] * 20},
])
def test_training_curves_from_records_or_columns(history):
    fig = viz.training_curves(history, log_y=True)
    _render(fig)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_auc"]
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), np.arange(20))
    np.testing.assert_allclose(line.get_ydata(), 1.0 / (np.arange(20) + 1))
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError):
        viz.training_curves([{"step": 1}])


def test_contact_sheet_whole_photos_one_pixel_per_pixel_titles_and_row_labels():
    import colorlab.models as cm
    from colorlab.data import sample_photos
    photos = sample_photos(["chelsea", "grace_hopper"])             # landscape and portrait
    photos = dict(zip(["cat.jpg", "navy.jpg"], photos.values()))
    models = {"mse": cm.build("mse", width=0.25, image_size=16),
              "my-class": cm.build("class", width=0.25)}
    fig = viz.contact_sheet(photos, models, size=64)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["original", "grey input", "mse", "my-class"]
    assert [fig.axes[i].get_ylabel() for i in (0, 4)] == ["cat.jpg", "navy.jpg"]
    shapes = [ax.get_images()[0].get_array().shape[:2] for ax in fig.axes]
    # short side 64, aspect kept
    assert shapes[:4] == [(64, 96)] * 4 and shapes[4:] == [(75, 64)] * 4
    img = _render(fig)
    h, w = img.shape[:2]
    assert h >= 64 + 75 and w >= 4 * 96                     # tiles are drawn at full size
    grey = fig.axes[1].get_images()[0].get_array()
    assert np.ptp(grey.astype(float), axis=-1).max() < 0.02  # the grey input is grey
    original = fig.axes[0].get_images()[0].get_array()
    assert np.ptp(original.astype(float), axis=-1).mean() > 5   # the original is in colour
    seen = []
    colorize = models["mse"].colorize
    models["mse"].colorize = lambda L: seen.append(min(L.shape[-2:])) or colorize(L)
    viz.contact_sheet(photos, {"mse": models["mse"]}, size=64, predict_size=32)
    assert seen == [32, 32]
    with pytest.raises(ValueError, match="at least one photo"):
        viz.contact_sheet({}, models)
    assert viz._short_label("a" * 30, 9) == "aaaa\u2026aaaa"
