"""Tests for colorlab.models checkpoints and the ECCV16 loader: round trips, shipped names, and
clear errors for wrong-model, truncated, random and hostile files. CPU only, no network."""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import types

import pytest
import torch

import colorlab.models as cm
import colorlab.models.checkpoint as ckpt
from colorlab import quantize
from colorlab.download import sha256sum
from colorlab.models import CheckpointError, checkpoint_payload, load_checkpoint, load_eccv16

torch.set_num_threads(2)

SMALL = {"mse": {}, "class": {"Q": 40, "width": 0.125}, "class-rebal": {"Q": 40, "width": 0.125},
         "gan": {"width": 0.25, "d_width": 0.25}, "fusion": {"width": 0.125}}


def small(name, **kw):
    model = cm.build(name, **{**SMALL[name], **kw})
    if name.startswith("class"):  # give the bins real values (as a quantizer would)
        with torch.no_grad():
            model.model_out.weight.copy_(torch.randn_like(model.model_out.weight) * 0.5)
    return model


def save(payload, path):
    torch.save(payload, path)
    return path


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", list(SMALL))
def test_checkpoint_round_trip_rebuilds_from_config_alone(name, tmp_path):
    torch.manual_seed(0)
    model = small(name).eval()
    if name == "class-rebal":
        model.class_weights.uniform_(0.5, 2.0)
    path = save(checkpoint_payload(model), tmp_path / f"{name}.pt")
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        assert torch.equal(loaded(L), model(L))


def test_half_precision_checkpoint_loads_into_float32(tmp_path):
    model = small("gan").eval()
    payload = checkpoint_payload(model, half=True)
    assert all(v.dtype == torch.float16 for v in payload["model_state"].values()
               if v.is_floating_point())
    loaded = load_checkpoint(save(payload, tmp_path / "g16.pt"))
    assert next(loaded.parameters()).dtype == torch.float32
    L = torch.rand(1, 1, 32, 32) * 100
    with torch.no_grad():
        torch.testing.assert_close(loaded(L), model(L), atol=2e-2, rtol=0)


def test_class_temperature_and_bins_survive_a_checkpoint(tmp_path):
    model = small("class")
    model.T = 0.5
    loaded = load_checkpoint(save(checkpoint_payload(model), tmp_path / "c.pt"))
    assert loaded.T == 0.5
    torch.testing.assert_close(loaded.centers, model.centers)


def test_pretrained_fusion_checkpoint_loads_offline(tmp_path, monkeypatch):
    from urllib.error import URLError

    import torchvision
    model = small("fusion", freeze_backbone=True)
    payload = checkpoint_payload(model)
    payload["model_config"].update(pretrained=True, backbone_size=None)

    def offline(name, weights=None):
        if weights is not None:
            raise URLError("no network")
        return original(name, weights=weights)
    original = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", offline)
    loaded = load_checkpoint(save(payload, tmp_path / "f.pt"))  # the weights come from the file
    assert loaded.config["pretrained"] is True and loaded.config["freeze_backbone"] is True
    with pytest.raises(RuntimeError, match="offline.*pretrained=False"):
        cm.build("fusion", pretrained=True)


def test_trainer_extra_keys_are_ignored(tmp_path):
    payload = {**checkpoint_payload(small("mse")), "optimizer": {"state": {}}, "step": 7}
    assert load_checkpoint(save(payload, tmp_path / "t.pt")).config["name"] == "mse"


# ----------------------------------------------------------------------------- names
def test_shipped_names_resolve_or_name_the_expected_path(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"class-rebal\.pt"):
        cm.pretrained("class-rebal")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "gan.pt")):
        load_checkpoint("gan")
    save(checkpoint_payload(small("mse")), tmp_path / "mse.pt")
    assert cm.resolve_checkpoint("mse") == tmp_path / "mse.pt"
    assert cm.pretrained("mse").config["name"] == "mse"
    assert load_checkpoint("mse").kind == "regression"
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_shipped_checkpoint_of_the_wrong_model_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "PRETRAINED_DIR", tmp_path)
    save(checkpoint_payload(small("mse")), tmp_path / "gan.pt")
    with pytest.raises(CheckpointError, match="holds a 'mse' model.*'gan' model was expected"):
        cm.pretrained("gan")


# ----------------------------------------------------------------------------- broken files
def test_weights_of_another_model_say_which_model_they_are(tmp_path):
    payload = checkpoint_payload(small("class"))
    payload["model_state"] = small("gan").state_dict()
    path = save(payload, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert str(path) in msg and "GAN" in msg and "'class'" in msg and "missing" in msg


def test_width_mismatch_reports_shapes(tmp_path):
    payload = checkpoint_payload(small("mse", width=0.25))
    payload["model_config"]["width"] = 0.5
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_checkpoint(save(payload, tmp_path / "w.pt"))


def test_expect_refuses_another_model(tmp_path):
    path = save(checkpoint_payload(small("mse")), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="'mse' model.*'class' model was expected"):
        load_checkpoint(path, expect="class")


def test_bare_state_dict_is_not_a_colorlab_checkpoint(tmp_path):
    path = save(cm.build("class", Q=313, width=0.125).state_dict(), tmp_path / "bare.pth")
    with pytest.raises(CheckpointError, match="not a colorlab checkpoint.*load_eccv16"):
        load_checkpoint(path)


def test_newer_format_version_is_refused(tmp_path):
    path = save({**checkpoint_payload(small("mse")), "version": 99}, tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_truncated_random_empty_and_directory_files(tmp_path):
    good = save(checkpoint_payload(small("mse")), tmp_path / "good.pt")
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt: truncated or corrupt"):
        load_checkpoint(tmp_path / "trunc.pt")
    (tmp_path / "rand.pt").write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="rand.pt: not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "rand.pt")
    (tmp_path / "text.pt").write_text("hello\n" * 50)
    with pytest.raises(CheckpointError, match="text.pt: not a"):
        load_checkpoint(tmp_path / "text.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match="directory"):
        load_checkpoint(tmp_path / "dir.pt")


class _Hostile:
    """Unpickling this would create the marker file (a stand-in for running any code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle2", "pickle4"])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "PWNED"
    path = tmp_path / "hostile.pt"
    if writer == "torch.save":
        torch.save({**checkpoint_payload(small("mse")), "evil": _Hostile(marker)}, path)
    else:
        payload = {"format": "colorlab-checkpoint", "evil": _Hostile(marker)}
        path.write_bytes(pickle.dumps(payload, protocol=int(writer[-1])))
    assert not marker.exists()
    expected = ("not a PyTorch checkpoint.*refused" if writer == "pickle4"
                else "refused: it would call.*open")
    with pytest.raises(CheckpointError, match="hostile.pt: " + expected):
        load_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_eccv16(path)
    assert not marker.exists()


# ----------------------------------------------------------------------------- ECCV16 loader
@pytest.fixture(scope="module")
def eccv16_file(tmp_path_factory):
    """A synthetic state_dict with the published ECCV16 keys and shapes (random values)."""
    torch.manual_seed(0)
    state = cm.build("class", Q=313, width=1.0).state_dict()
    a, b = torch.meshgrid(torch.arange(-110, 111, 10.0), torch.arange(-110, 111, 10.0),
                          indexing="ij")
    centers = torch.stack([a.flatten(), b.flatten()], 1)[:313]
    state["model_out.weight"] = (centers / 110).T[:, :, None, None].clone()
    # old-style file
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("eccv16") / "colorization_release_v2-9b330a0b.pth"
    torch.save(state, path)
    return path, state, centers


def test_load_eccv16_reads_weights_and_bins(eccv16_file):
    path, state, centers = eccv16_file
    model = load_eccv16(path)
    assert model.config["width"] == 1.0 and model.config["Q"] == 313 and model.T == 0.38
    torch.testing.assert_close(model.centers, centers, atol=1e-4, rtol=0)
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())
    logits = model.eval()(torch.rand(1, 1, 32, 32) * 100)
    assert logits.shape == (1, 313, 8, 8)


def test_load_eccv16_checks_the_hash_and_the_content(eccv16_file, tmp_path):
    path, _, _ = eccv16_file
    with pytest.raises(ValueError, match="does not match"):
        load_eccv16(path, sha256="00000000")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_eccv16(path, sha256=digest[:8]).config["Q"] == 313
    other = save(checkpoint_payload(small("mse")), tmp_path / "mse.pt")
    with pytest.raises(CheckpointError, match="not an ECCV16 state_dict"):
        load_eccv16(other)
    wrong = save({"model_out.weight": torch.zeros(2, 313, 1, 1), "model1.0.weight": torch.zeros(3)},
                 tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="missing"):
        load_eccv16(wrong)


def test_load_eccv16_from_url_downloads_through_colorlab_download(eccv16_file, monkeypatch):
    path, _, _ = eccv16_file
    calls = []
    fake = types.ModuleType("colorlab.download")
    fake.download = lambda url, *a, **k: calls.append(url) or path
    fake.sha256sum = sha256sum
    monkeypatch.setitem(sys.modules, "colorlab.download", fake)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_eccv16(f"https://example.invalid/eccv16-{digest[:8]}.pth").config["Q"] == 313
    with pytest.raises(ValueError, match="9b330a0b"):  # the release's hash, checked on download
        load_eccv16()
    assert calls[-1] == cm.eccv16.ECCV16_URL
    monkeypatch.setitem(sys.modules, "colorlab.download", None)
    with pytest.raises(ImportError, match="colorlab.download"):
        load_eccv16("https://example.invalid/x.pth")


def test_class_quantizer_is_rebuilt_from_the_checkpoint_bins(tmp_path):
    q = quantize.ABQuantizer.from_gamut()
    model = cm.build("class-rebal", quantizer=q, width=0.125)
    loaded = load_checkpoint(save(checkpoint_payload(model), tmp_path / "q.pt"))
    assert isinstance(loaded.quantizer, quantize.ABQuantizer)
    assert torch.equal(loaded.quantizer.centers, q.centers)  # exact grid values, not x/110*110
    assert "_quantizer_cache" not in dict(loaded.named_modules())
