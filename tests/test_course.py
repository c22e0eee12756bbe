"""colorlab.course: the lessons' data source and its fallbacks."""
import colorlab.course as course


def test_course_dataset_uses_the_local_folder_when_given(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    for split in ("train", "test"):
        (tmp_path / split / "cat").mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(
                tmp_path / split / "cat" / f"{i}.png")
    monkeypatch.setenv("COLORLAB_CIFAR10_DIR", str(tmp_path))
    monkeypatch.setenv("COLORLAB_CACHE", str(tmp_path / "cache"))
    assert course.local_cifar10() == tmp_path
    ds, source = course.course_dataset(split="test", size=8, verbose=False)
    assert len(ds) == 3 and source == "CIFAR-10 test split"


def test_course_dataset_falls_back_to_sample_photos_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COLORLAB_CIFAR10_DIR", raising=False)
    monkeypatch.setenv("COLORLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(course, "local_cifar10", lambda start=None: None)
    ds, source = course.course_dataset(split="test", size=16)
    assert "sample photos" in source and len(ds) >= 5
    out = capsys.readouterr().out
    assert "data: the sample photos" in out
    assert "!! CIFAR-10 test split not found" in out and "will NOT match" in out
    assert "DOWNLOAD is off" in out and "set DOWNLOAD = True" in out


def test_course_dataset_downloads_by_default_in_colab(tmp_path, monkeypatch, capsys):
    import sys
    import types

    import colorlab.data
    from colorlab.download import OfflineError
    real, calls = colorlab.data.load_dataset, []

    def offline(name, **kw):
        calls.append((name, kw.get("download")))
        if name == "cifar10":
            raise OfflineError("cannot reach www.cs.toronto.edu")
        return real(name, **kw)
    monkeypatch.setattr(colorlab.data, "load_dataset", offline)
    monkeypatch.setattr(course, "local_cifar10", lambda start=None: None)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    ds, source = course.course_dataset(split="train", size=16)
    assert calls[0] == ("cifar10", True), "in Colab the default is to download"
    out = capsys.readouterr().out
    assert "the download failed (cannot reach www.cs.toronto.edu)" in out
    monkeypatch.delitem(sys.modules, "google.colab")
    course.course_dataset(split="train", size=16, verbose=False)
    assert calls[-2] == ("cifar10", False), "locally the default is not to download"


def _course_copy(tmp_path):
    """The files set-repo rewrites, copied into tmp_path with the repository's layout."""
    import shutil
    from pathlib import Path
    root = Path(course.__file__).resolve().parents[1]
    (tmp_path / "colorlab").mkdir()
    shutil.copy(root / "colorlab" / "course.py", tmp_path / "colorlab" / "course.py")
    shutil.copytree(root / "lessons", tmp_path / "lessons")
    shutil.copy(root / "README.md", tmp_path / "README.md")
    return tmp_path


def test_set_repo_points_every_badge_set_up_cell_and_clone_command_at_a_fork(tmp_path):
    import json
    import subprocess
    import sys
    root = _course_copy(tmp_path)
    cmd = [sys.executable, "-m", "colorlab.course", "set-repo", "my-school/colour-101",
           "--branch", "fall-2027", "--root", str(root)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    changed = run.stdout.split()
    assert "colorlab/course.py" in changed and "README.md" in changed and len(changed) == 12
    assert 'REPO = "my-school/colour-101"' in (root / "colorlab" / "course.py").read_text()
    assert 'BRANCH = "fall-2027"' in (root / "colorlab" / "course.py").read_text()
    readme = (root / "README.md").read_text()
    assert "colorlab-course/colorlab" not in readme
    assert "git clone https://github.com/my-school/colour-101.git && cd colour-101" in readme
    assert readme.count("github/my-school/colour-101/blob/fall-2027/lessons/") == 10
    for nb_path in sorted((root / "lessons").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text())
        sources = ["".join(c["source"]) for c in nb["cells"]]
        badge = f"github/my-school/colour-101/blob/fall-2027/lessons/{nb_path.name}"
        assert any(badge in s for s in sources), nb_path.name
        setup = course.setup_cell_source("my-school/colour-101", "fall-2027")
        assert setup in sources and "git+https://github.com/my-school/colour-101@fall-2027" in setup
        assert not any("colorlab-course/colorlab" in s for s in sources), nb_path.name
    again = course.set_repo("my-school/colour-101", "fall-2027", root)
    assert again == [], "a second run changes nothing"


def test_set_repo_refuses_what_is_not_owner_slash_name(tmp_path):
    import pytest
    root = _course_copy(tmp_path)
    for bad in ("colorlab", "https://github.com/a/b", "a/b c", "/b"):
        with pytest.raises(ValueError, match="OWNER/NAME"):
            course.set_repo(bad, root=root)
    with pytest.raises(FileNotFoundError, match="repository's root"):
        course.set_repo("a/b", root=tmp_path / "lessons")


def test_course_photos_from_a_folder_or_the_samples_with_a_banner(tmp_path, monkeypatch, capsys):
    import numpy as np
    from PIL import Image

    import colorlab.data
    from colorlab.download import OfflineError
    for i in range(3):
        Image.fromarray(np.full((30, 40 + i, 3), 50 * i, np.uint8)).save(tmp_path / f"p{i}.jpg")
    monkeypatch.setenv("COLORLAB_PHOTOS_DIR", str(tmp_path))
    photos, source = course.course_photos(limit=2)
    assert sorted(photos) == ["p0.jpg", "p1.jpg"] and str(tmp_path) in source
    monkeypatch.delenv("COLORLAB_PHOTOS_DIR")
    monkeypatch.setattr(course, "_shared_archive", lambda *a: None)
    real = colorlab.data.list_photos

    def offline(name, **kw):
        if name == "imagenette":
            raise OfflineError("no network")
        return real(name, **kw)
    monkeypatch.setattr(colorlab.data, "list_photos", offline)
    photos, source = course.course_photos()
    assert source == "the sample photos" and len(photos) >= 5
    assert "!! no held-out photo set" in capsys.readouterr().out
