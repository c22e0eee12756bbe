"""Architecture diagrams come from the models' own forward pass."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

import colorlab.models as cm  # noqa: E402
from colorlab.architecture import draw_architecture, layer_profile  # noqa: E402

torch.set_num_threads(1)


def test_the_profiles_show_each_design():
    mse = layer_profile(cm.build("mse"), size=32)
    assert mse[-1]["shape"] == (2, 32, 32) and {r["stage"] for r in mse} == {"encoder", "decoder"}
    assert min(r["shape"][1] for r in mse) < 32            # it goes down, then back up
    eccv = layer_profile(cm.build("class"), size=32)
    assert eccv[-1]["shape"] == (261, 8, 8)                  # Q logits at a quarter of the size
    gan = layer_profile(cm.build("gan"), size=32)
    assert gan[-1]["stage"] == "discriminator" and gan[-1]["shape"][0] == 1
    fusion = layer_profile(cm.build("fusion"), size=32)
    assert "global path" in {r["stage"] for r in fusion}


def test_photo_fusion_has_a_one_pixel_global_path():
    pytest.importorskip("timm", reason="the photo models need timm (in requirements.txt)")
    rows = layer_profile(cm.build("fusion", encoder="efficientnet_lite0"), size=64)
    glob = [r for r in rows if r["stage"] == "global path"]
    assert glob and all(len(r["shape"]) == 1 or r["shape"][1] == 1 for r in glob)


def test_draw_has_one_bar_per_layer_and_restores_training_mode():
    model = cm.build("mse").train()
    fig = draw_architecture(model, size=32)
    bars = sum(len(container) for container in fig.axes[0].containers)
    assert bars == len(layer_profile(model, size=32)) and model.training
    assert "mse" in fig.axes[0].get_title()
