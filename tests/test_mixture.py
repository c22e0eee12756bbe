"""Several photo sources as one training set (weighted draws), and the validation curve."""
import numpy as np
import pytest
import torch

import colorlab.data as cd
import colorlab.models as cm
from colorlab.cli import main
from colorlab.io import save_image
from colorlab.train import load_training_checkpoint, seed_everything, train
from colorlab.train.runtime import BatchOrder


def solid(n, value, size=16, name="x"):
    rng = np.random.default_rng(value)
    images = [np.clip(rng.normal(value, 20, (size + 4, size, 3)), 0, 255).astype(np.uint8)
              for _ in range(n)]
    return cd.LabDataset.from_images(images, size=size, name=name)


def test_mix_gives_each_source_its_share_of_the_draws_whatever_its_size():
    big, small = solid(60, 40), solid(4, 200)
    mix = cd.mix_datasets({"big": big, "small": small}, weights=[0.25, 0.75])
    assert len(mix) == 64 and mix.classes == ["big", "small"]
    assert torch.equal(mix.lab[:60], big.lab) and torch.equal(mix.lab[60:], small.lab)
    order = BatchOrder(len(mix), 32, seed=0, weights=mix.sample_weights)
    drawn = torch.cat([order.indices(s) for s in range(200)])
    share_small = float((mix.labels[drawn] == 1).float().mean())
    assert abs(share_small - 0.75) < 0.02
    # uniform over images (no weights) would give the small source 4 / 64
    plain = torch.cat([BatchOrder(len(mix), 32, seed=0).indices(s) for s in range(200)])
    assert float((mix.labels[plain] == 1).float().mean()) < 0.1


def test_mix_refuses_what_cannot_be_mixed():
    with pytest.raises(ValueError, match="different sizes"):
        cd.mix_datasets({"a": solid(2, 10, size=16), "b": solid(2, 10, size=32)})
    with pytest.raises(ValueError, match="2 weights for 1"):
        cd.mix_datasets({"a": solid(2, 10)}, weights=[1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        cd.mix_datasets({"a": solid(2, 10), "b": solid(2, 20)}, weights=[1, -1])
    with pytest.raises(ValueError, match="no sources"):
        cd.mix_datasets({})
    with pytest.raises(ValueError, match="sample_weights"):
        cd.LabDataset(torch.zeros(3, 3, 4, 4), sample_weights=[1, 1])


def test_weighted_order_is_a_function_of_seed_and_step():
    w = torch.tensor([1.0, 2.0, 0.0, 5.0])
    a, b = BatchOrder(4, 6, seed=3, weights=w), BatchOrder(4, 6, seed=3, weights=w)
    for step in (5, 0, 9):   # any order of asking: the same batches
        assert torch.equal(a.indices(step), b.indices(step))
    assert 2 not in torch.cat([a.indices(s) for s in range(50)]).tolist()
    with pytest.raises(ValueError, match="3 sample weights for 4"):
        BatchOrder(4, 2, seed=0, weights=torch.ones(3))


def make_folders(tmp_path):
    """Two sources in the layouts of the real ones: train/ + val/, and train/ + test/."""
    rng = np.random.default_rng(0)
    for source, held_out, n in (("scenes", "val", 6), ("people", "test", 3)):
        for split in ("train", held_out):
            folder = tmp_path / source / split / "c"
            folder.mkdir(parents=True)
            for i in range(n):
                save_image(folder / f"{i}.png", rng.integers(0, 255, (40, 48, 3), np.uint8))
    return f"folder:{tmp_path / 'scenes'},folder:{tmp_path / 'people'}"


def test_load_mixture_reads_each_folder_and_finds_val_or_test(tmp_path):
    spec = make_folders(tmp_path)
    train_set = cd.load_mixture(spec, "1,3", size=32, cache=False)
    assert train_set.classes == ["scenes", "people"] and len(train_set) == 9
    assert torch.allclose(train_set.sample_weights[train_set.labels == 1].sum(),
                          torch.tensor(0.75, dtype=torch.float64))
    held_out = cd.load_mixture(spec, split="val", size=32, cache=False, limit=2)
    assert len(held_out) == 4   # 2 from scenes/val, 2 from people/test
    with pytest.raises(ValueError, match="2 weights for 1"):
        cd.load_mixture("folder:a", "1,2")


def test_train_records_the_validation_curve_and_resumes_it_exactly(tmp_path):
    torch.set_num_threads(1)
    data = solid(8, 120, size=32)
    val = solid(4, 90, size=32)

    def run(steps, resume=None):
        seed_everything(0)
        model = cm.build("mse", width=0.125)
        history = train(model, data, steps, batch_size=4, progress=False, log_every=2,
                        out=tmp_path / "m.ckpt", checkpoint_every=2, validation=val,
                        validate_every=2, resume=resume)
        return model, history

    _, full = run(6)
    rows = [r for r in full if "val_loss" in r]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert all(np.isfinite(r["val_loss"]) and 5 < r["val_psnr"] < 60 for r in rows)
    run(4)
    _, resumed = run(6, resume=tmp_path / "m.ckpt")
    assert [r.get("val_loss") for r in resumed] == [r.get("val_loss") for r in full]
    stored = load_training_checkpoint(tmp_path / "m.ckpt")["history"]
    assert stored[-1]["val_psnr"] == full[-1]["val_psnr"]
    with pytest.raises(ValueError, match="validate_every needs validation"):
        train(cm.build("mse", width=0.125), data, 2, validate_every=1, progress=False)


def test_cli_trains_on_a_weighted_mixture_with_a_validation_curve(tmp_path, capsys):
    spec = make_folders(tmp_path)
    out = tmp_path / "runs" / "mse.ckpt"
    assert main(["train", "--model", "mse", "--data", spec, "--weights", "1,1", "--size", "32",
                 "--steps", "4", "--batch-size", "2", "--val-every", "2", "--out", str(out),
                 "--no-progress"]) == 0
    history = load_training_checkpoint(out)["history"]
    assert [r["step"] for r in history if "val_psnr" in r] == [2, 4]
    assert "validation on" in capsys.readouterr().out
    assert main(["train", "--model", "mse", "--data", "samples", "--weights", "1", "--steps", "1",
                 "--out", str(out)]) == 1
    assert "weights need two or more sources, got 1 (samples)" in capsys.readouterr().err
