"""Issue 6, part 1: every bad or odd image, through the library API and ``python -m colorlab``.

Each case of :data:`_bad_inputs.IMAGE_CASES` is made on the spot and must either fail with a clear
error that names the file and the problem, or be handled correctly (shape, 8-bit RGB). In a run
over many inputs, the good ones are still processed and the exit code is 1 when any failed. After
every test, every input file still has the SHA-256 it had before.
"""
import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _bad_inputs import IMAGE_CASES, digest_tree, write_image_cases
from PIL import Image

from colorlab.data import DatasetNotFoundError, ImageSkippedWarning, load_dataset, prepare_image
from colorlab.evaluation import evaluate
from colorlab.io import ImageReadError, list_images, read_image
from colorlab.models import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
UNREADABLE = [case for case in IMAGE_CASES if case.problem]
READABLE = [case for case in IMAGE_CASES if not case.problem]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The mixed folder (every case), a folder without images, and a path that does not exist."""
    root = tmp_path_factory.mktemp("inputs")
    mixed, empty = root / "mixed folder ü", root / "no images"
    write_image_cases(mixed)
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    return SimpleNamespace(root=root, mixed=mixed, empty=empty, missing=root / "does not exist",
                           before=digest_tree(root))


@pytest.fixture(autouse=True)
def inputs_never_change(inputs):
    torch.set_num_threads(1)
    yield
    assert digest_tree(inputs.root) == inputs.before, "an input file was changed or created"


@pytest.fixture(scope="module")
def model():
    return load_checkpoint("mse")  # the shipped reference checkpoint: small, offline


def run_cli(*args, cache):
    """``colorlab ARGS`` in this process (the console script runs the same ``main``): its exit
    code and what it printed, as ``.returncode``, ``.stdout``, ``.stderr``."""
    import contextlib
    import io

    from colorlab.cli import main
    out, err, old = io.StringIO(), io.StringIO(), os.environ.get("COLORLAB_CACHE")
    os.environ["COLORLAB_CACHE"] = str(cache)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        if old is None:
            os.environ.pop("COLORLAB_CACHE", None)
        else:
            os.environ["COLORLAB_CACHE"] = old
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


# --------------------------------------------------------------------------- library API
@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.name)
def test_read_image_reads_or_names_the_file_and_the_problem(inputs, case):
    path = inputs.mixed / case.name
    if case.problem:
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        assert info.value.path == path and str(info.value).startswith(f"{path}: ")
        assert case.problem in info.value.reason
    else:
        image = read_image(path)
        assert image.shape == case.shape and image.dtype == np.uint8


def test_colorize_image_gives_full_resolution_rgb_for_every_readable_case(inputs, model):
    for case in READABLE:
        out = model.colorize_image(read_image(inputs.mixed / case.name))
        assert out.shape == case.shape and out.dtype == np.uint8, case.name


def test_a_thin_strip_is_predicted_at_a_bounded_size(inputs, model, monkeypatch):
    seen, original = [], model.colorize

    def colorize(L):  # fail before the model runs: 256 x 426,667 pixels would take over 18 GB
        seen.append(tuple(L.shape))
        assert L.shape[-2] * L.shape[-1] <= 4 * 256 * 256, f"prediction of {tuple(L.shape)} pixels"
        return original(L)
    monkeypatch.setattr(model, "colorize", colorize)
    strip = read_image(inputs.mixed / "3x5000.png")
    assert model.colorize_image(strip, size=256).shape == (3, 5000, 3)
    assert seen == [(1, 1, 1, 1024)]  # long side capped at 4 x size


def test_a_thin_strip_is_prepared_from_its_centre_without_resizing_all_of_it(inputs):
    strip = read_image(inputs.mixed / "3x5000.png")  # red rises from 0 (left) to 255 (right)
    square = prepare_image(strip, 256)  # resizing it whole would make 256 x 426,667 pixels
    assert square.shape == (3, 256, 256) and abs(float(square[0].mean()) - 0.5) < 0.01


def test_folder_dataset_keeps_the_readable_images_and_names_the_others(inputs, model, tmp_path):
    for attempt in ("built", "from the cache"):  # the cached dataset still reports what it skipped
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = load_dataset(f"folder:{inputs.mixed}", size=16, cache=tmp_path)
        skipped = [str(w.message) for w in caught if w.category is ImageSkippedWarning]
        assert len(skipped) == len(UNREADABLE), (attempt, skipped)
        for case in UNREADABLE:
            start = f"skipping unreadable image {inputs.mixed / case.name}: "
            assert any(m.startswith(start) and case.problem in m for m in skipped), (attempt, case)
        assert sorted(Path(p).name for p in data.paths) == sorted(c.name for c in READABLE)
        assert data.lab.shape == (len(READABLE), 3, 16, 16) and torch.isfinite(data.lab).all()
    scores = evaluate(model, data, size=16)
    assert scores["n_images"] == len(READABLE)
    assert all(np.isfinite(scores[k])
               for k in ("psnr", "ssim", "auc", "auc_rebalanced", "colorfulness"))


def test_missing_paths_and_folders_without_images_are_named(inputs, model):
    with pytest.raises(ImageReadError, match=f"^{inputs.missing}: no such file$"):
        read_image(inputs.missing)
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(inputs.empty)
    with pytest.raises(FileNotFoundError, match=f"{inputs.missing}: no such file or folder"):
        list_images(inputs.missing)
    assert list_images(inputs.empty) == []
    with pytest.raises(DatasetNotFoundError, match=f"{inputs.missing}: no such folder"):
        load_dataset(f"folder:{inputs.missing}", cache=False)
    with pytest.raises(ValueError, match=f"{inputs.empty}: no image files found"):
        load_dataset(f"folder:{inputs.empty}", cache=False)
    with pytest.raises(TypeError, match="non-empty list"):
        evaluate(model, [])
    with pytest.raises(ValueError, match="no images to evaluate"):
        evaluate(model, torch.zeros(0, 3, 16, 16))


# --------------------------------------------------------------------------- command line
def test_cli_colorize_writes_every_readable_image_and_names_every_failure(inputs, tmp_path):
    out = tmp_path / "coloured"
    done = run_cli("colorize", inputs.mixed, inputs.missing, inputs.empty, "--model", "mse",
                   "--out", out, cache=tmp_path / "cache")
    assert done.returncode == 1, done.stderr
    errors = done.stderr.strip().splitlines()
    assert all(line.startswith("colorlab colorize: error: ") for line in errors), done.stderr
    assert len(errors) == len(UNREADABLE) + 2
    for case in UNREADABLE:
        assert any(f"{inputs.mixed / case.name}: " in line and case.problem in line
                   for line in errors), case
    assert any(f"{inputs.missing}: no such file or folder" in line for line in errors)
    assert any(f"{inputs.empty}: no images in this folder" in line for line in errors)
    assert (f"colorized {len(READABLE)} image(s) into {out}; {len(UNREADABLE) + 2} failed"
            in done.stdout)
    written = {p.name: p for p in out.iterdir()}
    assert sorted(written) == sorted(f"{Path(c.name).stem}.png" for c in READABLE)
    for case in READABLE:
        with Image.open(written[f"{Path(case.name).stem}.png"]) as im:
            assert im.mode == "RGB" and (im.height, im.width, 3) == case.shape, case.name


def test_cli_evaluate_scores_the_readable_images_then_fails(inputs, tmp_path):
    done = run_cli("evaluate", "--model", "mse", "--data", f"folder:{inputs.mixed}", "--size", "16",
                   "--json", cache=tmp_path / "cache")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["n_images"] == len(READABLE)
    errors = done.stderr.strip().splitlines()
    assert all(line.startswith("colorlab evaluate: error: ") for line in errors), done.stderr
    for case in UNREADABLE:
        assert any(f"{inputs.mixed / case.name}: " in line and case.problem in line
                   for line in errors), case
    assert errors[-1].endswith(f"{len(UNREADABLE)} unreadable image(s) left out of these scores")


@pytest.mark.parametrize("where, message", [("missing", "no such folder"),
                                            ("empty", "no image files found")])
def test_cli_evaluate_on_a_missing_or_empty_folder_is_one_line(inputs, capsys, where, message):
    from colorlab.cli import main
    folder = getattr(inputs, where)
    assert main(["evaluate", "--model", "mse", "--data", f"folder:{folder}", "--size", "16"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"colorlab evaluate: error: {folder}: {message}"), err
