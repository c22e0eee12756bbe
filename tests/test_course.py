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
    assert "data: the sample photos" in capsys.readouterr().out
