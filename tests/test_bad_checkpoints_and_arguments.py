"""Issue 6, part 1: bad checkpoints and bad arguments, through the library API and the command line.

Loading each bad checkpoint through the API is tested one by one in ``test_models_checkpoint.py``
and ``test_resume.py``; here every one of them goes through ``colorize``, ``evaluate`` and
``train --resume`` (one reader, :mod:`colorlab.checkpoint_io`, so one wording), and the one
whose pickle would run code also through a fresh interpreter: each is refused in one line naming
the file, and the marker file that running its code would create never appears. Bad arguments
get a ValueError naming the argument (API) or exit code 2 (CLI).
"""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _bad_inputs import digest_tree, write_bad_checkpoints
from PIL import Image

import colorlab.models as cm
from colorlab.cli import main
from colorlab.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Every bad checkpoint, the marker its hostile pickle would create, and one good photo."""
    root = tmp_path_factory.mktemp("checkpoints")
    photos = root / "photos"
    photos.mkdir()
    Image.fromarray(np.full((24, 32, 3), (180, 120, 60), np.uint8)).save(photos / "photo.png")
    marker = root / "CODE RAN"
    files = write_bad_checkpoints(root / "bad", marker)
    return SimpleNamespace(root=root, photos=photos, marker=marker, files=files,
                           before=digest_tree(root))


@pytest.fixture(autouse=True)
def nothing_ran_and_no_input_changed(bad, monkeypatch, tmp_path):
    monkeypatch.setenv("COLORLAB_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    yield
    assert not bad.marker.exists(), "loading a checkpoint ran the code in its pickle"
    assert digest_tree(bad.root) == bad.before


# --------------------------------------------------------------------------- checkpoints
RESUME_WORDS = {"holds weights of a GAN": "a model checkpoint without training state"}


@pytest.mark.parametrize("command", ["colorize", "evaluate", "train --resume"])
def test_cli_refuses_every_bad_checkpoint_in_one_line(bad, command, capsys, tmp_path):
    out = tmp_path / "out"
    for path, words in bad.files.items():
        data = ["--data", f"folder:{bad.photos}", "--size", "16"]
        argv = {"colorize": ["colorize", str(bad.photos), "--model", str(path), "--out", str(out)],
                "evaluate": ["evaluate", "--model", str(path), *data],
                "train --resume": ["train", "--model", "mse", *data, "--steps", "1",
                                   "--resume", str(path), "--out", str(out / "run.ckpt"),
                                   "--no-progress"]}[command]
        assert main(argv) == 1, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(
            f"colorlab {command.split()[0]}: error: {path}: "), err
        # one reader for every checkpoint: the same words, except that the training loader
        # refuses a model checkpoint for what it lacks
        if command == "train --resume":
            words = RESUME_WORDS.get(words, words)
        assert words in err, err
    assert not out.exists()


@pytest.mark.slow  # a fresh interpreter
def test_hostile_checkpoint_is_refused_by_a_fresh_interpreter(bad, tmp_path):
    hostile = next(p for p in bad.files if p.name == "runs code.pt")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    argv = ["colorize", str(bad.photos), "--model", str(hostile), "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-m", "colorlab", *argv], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1 and "nothing was executed" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


# -------------------------------------------------------------------------- arguments: command line
COLORIZE = ["colorize", "p.png", "--model", "mse", "--out", "o"]
EVALUATE = ["evaluate", "--model", "mse", "--data", "samples"]


@pytest.mark.parametrize("argv, message", [
    (COLORIZE + ["--size", "0"], "size must be > 0, got '0'"),
    (COLORIZE + ["--size", "-3"], "size must be > 0, got '-3'"),
    (COLORIZE + ["--size", "big"], "size must be a number, got 'big'"),
    (COLORIZE + ["--size", "1.5"], "size must be a number, got '1.5'"),
    (COLORIZE + ["-T", "inf"], "T must be a finite number, got 'inf'"),
    (COLORIZE + ["-T", "nan"], "T must be a finite number, got 'nan'"),
    (COLORIZE + ["-T", "warm"], "T must be a number, got 'warm'"),
    (EVALUATE + ["--size", "0"], "size must be > 0, got '0'"),
    (EVALUATE + ["--size", "-3"], "size must be > 0, got '-3'"),
    (EVALUATE + ["--size", "big"], "size must be a number, got 'big'"),
    (EVALUATE + ["--batch-size", "0"], "must be > 0, got '0'"),
    (EVALUATE + ["--limit", "-1"], "must be > 0, got '-1'"),
    (["train", "--model", "mse", "--data", "samples", "--steps", "2", "--lr", "nan"],
     "lr must be a finite number"),
])
def test_bad_numbers_give_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("argv", [["colorize", "p.png", "--out", "o", "--model", "unet"],
                                  ["compare", "--data", "samples", "--out", "c.png",
                                   "--models", "mse,unet"]])
def test_unknown_model_names_are_named_with_the_known_ones(argv, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert (err.count("\n") == 1 and "no shipped checkpoint named 'unet'" in err
            and "class-rebal" in err), err


# --------------------------------------------------------------------------- arguments: library
@pytest.mark.parametrize("size", [0, -3, "64", 2.5, True])
def test_colorize_image_refuses_a_size_that_is_not_a_positive_int(size):
    with pytest.raises(ValueError, match=f"size must be a positive integer, got {size!r}"):
        cm.build("mse", width=0.25).colorize_image(np.zeros((8, 8), np.uint8), size=size)


@pytest.mark.parametrize("kw", [{"size": 0}, {"size": -3}, {"size": "64"}, {"batch_size": 0},
                                {"batch_size": -1}, {"batch_size": 2.5}])
def test_evaluate_refuses_sizes_that_are_not_positive_ints(kw):
    lab = torch.cat([torch.full((2, 1, 16, 16), 50.0), torch.zeros(2, 2, 16, 16)], 1)
    name, value = next(iter(kw.items()))
    with pytest.raises(ValueError,
                       match=f"evaluate: {name} must be a positive integer, got {value!r}"):
        evaluate(lambda L: torch.zeros(len(L), 2, *L.shape[2:]), lab, **kw)


@pytest.mark.parametrize("T", [0, -0.5, float("nan"), float("inf"), "warm", None, True])
def test_temperature_must_be_positive_and_finite_when_built_or_set(T):
    with pytest.raises(ValueError, match="temperature T must be a positive, finite number"):
        cm.build("class", width=0.125, T=T)
    model = cm.build("class", width=0.125, T=0.5)
    with pytest.raises(ValueError, match=f"got {T!r}"):
        model.T = T
    assert model.T == 0.5 and model.config["T"] == 0.5


def test_unknown_model_names_in_the_library():
    with pytest.raises(ValueError,
                       match="unknown model 'unet'; choose one of mse, class, class-rebal"):
        cm.build("unet")
    for load in (cm.load_checkpoint, cm.pretrained):
        with pytest.raises(FileNotFoundError,
                           match="no shipped checkpoint named 'unet'.*class-rebal"):
            load("unet")
