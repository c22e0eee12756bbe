"""``python -m colorlab``: help, one-line argument errors, broken inputs, never overwriting
inputs."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import colorlab.models as cm
from colorlab.cli import main
from colorlab.train import load_training_checkpoint

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["train", "colorize", "evaluate", "compare", "doctor"]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def spec(tmp_path):
    """A model for --model: a real (untrained) mse checkpoint."""
    path = tmp_path / "mse.ckpt"
    torch.save(cm.checkpoint_payload(cm.build("mse")), path)
    return str(path)


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def photos(folder):
    folder.mkdir()
    Image.fromarray(np.full((7, 11, 3), 90, np.uint8)).save(folder / "good one.png")
    Image.fromarray(np.full((20, 5), 200, np.uint8)).save(folder / "grey_ü.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    return folder


def test_python_dash_m_colorlab_help_lists_every_command():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "colorlab", "--help"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0 and all(c in out.stdout for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and f"usage: colorlab {command}" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "mse", "--data", "samples", "--steps", "3", "--size", "0"],
     "size must be > 0"),
    (["train", "--model", "mse", "--data", "samples", "--steps", "3", "--size", "-4"],
     "size must be > 0"),
    (["train", "--model", "mse", "--data", "samples", "--steps", "3", "--size", "big"],
     "size must be a number, got 'big'"),
    (["train", "--model", "unet", "--data", "samples", "--steps", "3"], "invalid choice: 'unet'"),
    (["train", "--model", "mse", "--data", "samples", "--steps", "0"], "must be > 0"),
    (["colorize", "a.png", "--model", "mse", "--out", "o", "-T", "0"], "T must be > 0, got '0'"),
    (["colorize", "a.png", "--model", "mse", "--out", "o", "-T", "-1"], "T must be > 0"),
    (["evaluate", "--model", "mse", "--data", "samples", "--size", "1.5"], "size must be a number"),
    (["compare", "--models", "mse", "--data", "samples"], "required: --out"),
    (["compare", "--models", "mse", "--out", "x.png"],
     "one of the arguments --files --data is required"),
    (["compare", "--models", "mse", "--files", "a.jpg", "--data", "samples", "--out", "x.png"],
     "not allowed with"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err


def test_colorize_folder_with_broken_files(tmp_path, capsys, spec):
    src = photos(tmp_path / "old photos")
    before = digest(src)
    code = main(["colorize", str(src), str(tmp_path / "missing.jpg"), "--model", spec,
                 "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good one.png", "grey_ü.png"]
    assert np.asarray(Image.open(tmp_path / "out" / "grey_ü.png")).shape == (20, 5, 3)  # full size
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("colorlab colorize: error: ") for line in lines)
    assert any("empty.jpg" in line for line in lines) and any("text.png" in line for line in lines)
    assert any("missing.jpg" in line for line in lines)
    assert "colorized 2 image(s)" in out and "3 failed" in out
    assert digest(src) == before


def test_colorize_never_writes_over_an_input(tmp_path, capsys, spec):
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "b.jpg")
    before = digest(folder)
    code = main(["colorize", str(folder), "--model", spec, "--out", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "refusing to write" in err and "a.png" in err
    assert digest(folder) == {**before, "b.png": digest(folder)["b.png"]}  # inputs untouched


@pytest.mark.slow  # a fresh interpreter
def test_colorize_and_evaluate_never_import_the_training_package(tmp_path, spec):
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((12, 16, 3), 90, np.uint8)).save(photo)
    colorize = ["colorize", str(photo), "--model", spec, "--out", str(tmp_path / "out"),
                "--device", "cpu"]
    evaluate = ["evaluate", "--model", spec, "--data", f"folder:{tmp_path}", "--size", "16",
                "--device", "cpu"]
    code = ("import sys; from colorlab.cli import main\n"
            f"assert main({colorize!r}) == 0 and main({evaluate!r}) == 0\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('colorlab.'))\n"
            "assert 'colorlab.train' not in loaded, loaded")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr


def test_colorize_same_stem_twice_gets_distinct_outputs(tmp_path, spec):
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / sub / "p.png")
    assert main(["colorize", str(tmp_path / "x"), str(tmp_path / "y"), "--model", spec,
                 "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["p-2.png", "p.png"]


def test_unknown_model_name_is_one_clear_line(tmp_path, capsys):
    code = main(["evaluate", "--model", "nope", "--data", "samples"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "nope" in err


def test_evaluate_json_prints_the_metrics_dict(capsys, spec):
    assert main(["evaluate", "--model", spec, "--data", "samples", "--size", "32", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"psnr", "ssim", "auc", "auc_rebalanced", "colorfulness", "colorfulness_gt",
            "colorfulness_ratio", "smooth_colorfulness_ratio", "chroma_ratio", "cast", "tint",
            "spikes", "n_images"} <= set(result)


def test_evaluate_whole_scores_a_folders_files_at_their_own_size(tmp_path, capsys, spec):
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name, hw in (("wide.png", (40, 90)), ("tall.jpg", (80, 30)), ("square.png", (50, 50))):
        folder.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (*hw, 3), dtype=np.uint8)).save(folder / name)
    assert main(["evaluate", "--model", spec, "--data", f"folder:{folder}", "--whole",
                 "--size", "24"]) == 0
    out = capsys.readouterr().out
    assert all(f"{key} " in out for key in ("cast", "tint", "spikes", "auc_rebalanced"))
    assert out.splitlines()[-1].split() == ["n_images", "3"]
    (folder / "broken.jpg").write_bytes(b"")               # scored without it, then named, exit 1
    assert main(["evaluate", "--model", spec, "--data", f"folder:{folder}", "--whole",
                 "--size", "24", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_images"] == 3
    assert "broken.jpg" in captured.err and "1 unreadable image(s) left out" in captured.err


def test_compare_draws_a_contact_sheet_of_whole_photos(tmp_path, spec):
    fig, ckpt = tmp_path / "cmp.png", tmp_path / "mine.ckpt"
    ckpt.write_bytes(Path(spec).read_bytes())
    assert main(["compare", "--models", f"{spec},{ckpt}", "--data", "samples", "--size", "32",
                 "--n", "3", "--out", str(fig)]) == 0
    h, w, _ = np.asarray(Image.open(fig)).shape
    assert w > 1.2 * h  # 4 columns (original, grey, model, mine) by 3 rows
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # written atomically


@pytest.mark.slow  # five contact sheets
def test_compare_files_and_seeded_draws_from_a_folder(tmp_path, spec, monkeypatch, capsys):
    import colorlab.viz
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, hw in enumerate([(40, 60), (60, 40), (50, 50), (30, 90), (45, 45)]):
        Image.fromarray(np.full((*hw, 3), 40 * k, np.uint8)).save(folder / f"p{k}.png")
    (folder / "zz-broken.jpg").write_bytes(b"")
    calls = []
    real = colorlab.viz.contact_sheet

    def recording(photos, models, size=256, predict_size=None):
        calls.append((list(photos), [p.shape[:2] for p in photos.values()], list(models), size,
                      predict_size))
        return real(photos, models, size=size, predict_size=predict_size)
    monkeypatch.setattr(colorlab.viz, "contact_sheet", recording)
    out = tmp_path / "sheet.png"
    files = [str(folder / "p3.png"), str(folder / "p1.png")]
    assert main(["compare", "--models", spec, "--files", *files, "--out", str(out), "--size", "40",
                 "--predict-size", "16"]) == 0
    names, shapes, models, size, psize = calls[-1]
    assert names == ["p3.png", "p1.png"] and shapes == [(30, 90), (60, 40)]   # full size, in order
    assert (size, psize) == (40, 16) and len(models) == 1
    h, w, _ = np.asarray(Image.open(out)).shape
    assert h >= 40 + 60 and w >= 3 * 120                   # tiles: short side 40, aspect kept
    drawn = []
    for seed in (0, 0, 1, 2, 3):
        assert main(["compare", "--models", spec, "--data", f"folder:{folder}", "--n", "5",
                     "--seed", str(seed), "--size", "24", "--out", str(out)]) == 0
        drawn.append(calls[-1][0])
    assert drawn[0] == drawn[1]                            # deterministic
    # the broken file skipped
    assert all(sorted(d) == [f"p{k}.png" for k in range(5)] for d in drawn)
    assert len({tuple(d) for d in drawn}) > 1              # the seed chooses
    assert "zz-broken.jpg" in capsys.readouterr().err
    assert main(["compare", "--models", spec, "--files", str(folder / "zz-broken.jpg"),
                 "--out", str(out)]) == 1


def test_train_then_resume_to_the_total_steps(tmp_path, capsys):
    ckpt = tmp_path / "m.ckpt"
    args = ["train", "--model", "mse", "--data", "samples", "--size", "32", "--batch-size", "4",
            "--out", str(ckpt), "--checkpoint-every", "2", "--device", "cpu", "--no-progress"]
    assert main(args + ["--steps", "4"]) == 0
    assert main(args + ["--steps", "6", "--resume", str(ckpt)]) == 0
    assert load_training_checkpoint(ckpt)["step"] == 6
    assert "wrote" in capsys.readouterr().out
    code = main(["train", "--model", "gan", "--data", "samples", "--steps", "7",
                 "--resume", str(ckpt)])
    assert code == 1 and "holds a 'mse' model" in capsys.readouterr().err


def test_doctor_reports_versions_device_colab_data_checkpoints(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("torch", "device:", "colab:", "data:", "checkpoints:"))


def test_train_on_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys,
                                                                         monkeypatch):
    from _train_doubles import FullDisk, break_checkpoint_writes

    from colorlab import checkpoint_io
    ckpt = tmp_path / "m.ckpt"
    monkeypatch.setattr(checkpoint_io, "atomic_write", break_checkpoint_writes(2, FullDisk))
    code = main(["train", "--model", "mse", "--data", "samples", "--size", "32", "--batch-size",
                 "4", "--steps", "3", "--checkpoint-every", "1", "--out", str(ckpt), "--device",
                 "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert f"could not write checkpoint {ckpt}: disk full (ENOSPC)" in err and "intact" in err
    assert (load_training_checkpoint(ckpt)["step"] == 1
            and [p.name for p in tmp_path.iterdir()] == ["m.ckpt"])


# ----------------------------------------------------------------------------- colorize --out
def _write_photo(path, colour=True):
    from PIL import Image
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    if not colour:
        arr = np.repeat(arr[..., :1], 3, axis=-1)
    Image.fromarray(arr).save(path)
    return path


def test_colorize_one_input_to_a_named_file(tmp_path, capsys):
    src = _write_photo(tmp_path / "photo.jpg")
    out = tmp_path / "result.png"
    assert main(["colorize", str(src), "--model", "mse", "--out", str(out)]) == 0
    assert out.is_file()
    assert "already had colour" in capsys.readouterr().out


def test_colorize_out_mistakes_get_one_clear_line(tmp_path, capsys):
    a, b = _write_photo(tmp_path / "a.jpg"), _write_photo(tmp_path / "b.jpg", colour=False)
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    assert main(["colorize", str(a), str(b), "--model", "mse", "--out", str(existing)]) == 1
    assert "is an existing file" in capsys.readouterr().err
    assert existing.read_text() == "keep me"
    assert main(["colorize", str(a), str(b), "--model", "mse",
                 "--out", str(tmp_path / "x.png")]) == 1
    assert "names one image file, but there are 2 inputs" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_colorize_name_clashes_keep_the_extension(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _write_photo(src / "a.jpg")
    _write_photo(src / "a.png", colour=False)
    _write_photo(src / "b.jpg")
    assert main(["colorize", str(src), "--model", "mse", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg.png", "a.png.png",
                                                                     "b.png"]


def test_train_says_where_the_history_is_and_draws_the_curve(tmp_path, capsys):
    out = tmp_path / "m.ckpt"
    assert main(["train", "--model", "mse", "--data", "samples", "--size", "32", "--steps", "20",
                 "--batch-size", "4", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "loss history: in the checkpoint" in text and "curve:" in text
    curve = tmp_path / "m.png"
    assert curve.is_file() and curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(load_training_checkpoint(out)["history"]) == 2
    assert "validation: none (the samples are the training set)" in text


def _split_folder(root, n_train=6, n_val=3):
    """root/train/x and root/val/x with small made-up photos (each a different colour)."""
    rng = np.random.default_rng(1)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split / "x").mkdir(parents=True)
        for i in range(n):
            rgb = np.clip(rng.normal(rng.uniform(40, 215, 3), 25, (20, 28, 3)), 0, 255)
            Image.fromarray(rgb.astype(np.uint8)).save(root / split / "x" / f"{i}.png")
    return root


def test_train_scores_the_held_out_split_when_the_data_has_one(tmp_path, capsys):
    data = _split_folder(tmp_path / "photos")
    assert main(["train", "--model", "mse", "--data", f"folder:{data}", "--size", "16",
                 "--steps", "2", "--batch-size", "2", "--out", str(tmp_path / "m.ckpt"),
                 "--no-progress"]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("validation"))
    assert line.startswith("validation on 3 val images at 16 px: PSNR ") and " dB, AuC " in line


def test_the_finished_progress_bar_is_drawn_once(tmp_path, capsys):
    assert main(["train", "--model", "mse", "--data", "samples", "--size", "16", "--steps", "5",
                 "--batch-size", "2", "--out", str(tmp_path / "m.ckpt")]) == 0
    bars = capsys.readouterr().err.replace("\r", "\n")
    assert bars.count(" 5/5 ") == 1, bars


def test_evaluate_bootstrap_prints_intervals(spec, capsys):
    assert main(["evaluate", "--model", spec, "--data", "samples", "--size", "32",
                 "--bootstrap", "50"]) == 0
    psnr = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("psnr"))
    value, interval = psnr.split()[1], psnr.split("[")[1].rstrip("]").split(", ")
    assert float(interval[0]) <= float(value) <= float(interval[1])
