"""colorlab.data against Pillow / scikit-image / numpy references. No network (sockets are
blocked)."""
import os
import socket
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from colorlab import data
from colorlab.data import (
    DatasetNotFoundError,
    ImageSkippedWarning,
    LabDataset,
    augment_lab,
    load_dataset,
    prepare_image,
    sample_photos,
)
from colorlab.download import OfflineError
from colorlab.io import IMAGE_FORMATS

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def offline_and_private_cache(monkeypatch, tmp_path):
    """No test here may touch the network, and each gets its own cache folder."""
    def blocked(*args, **kwargs):
        raise OSError(101, "Network is unreachable (blocked in tests)")
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setenv("COLORLAB_CACHE", str(tmp_path / "cache"))


def _pil_prepare(img, size):
    """Independent reference: Pillow bicubic resize of the short side, then centre crop."""
    h, w = img.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    ref = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BICUBIC), dtype=np.float32) / 255
    top, left = (nh - size) // 2, (nw - size) // 2
    return ref[top:top + size, left:left + size]


# --------------------------------------------------------------------------- prepare_image
@pytest.mark.parametrize("size", [17, 64, 300])
def test_prepare_image_matches_pillow_bicubic(size):
    img = sample_photos(["chelsea"])["chelsea"]  # 300 x 451
    out = prepare_image(img, size)
    assert out.shape == (3, size, size) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    diff = np.abs(out.permute(1, 2, 0).numpy() - _pil_prepare(img, size))
    assert diff.mean() < 0.003 and diff.max() < 0.06


def test_prepare_image_inputs_agree_and_exact_crop():
    img = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = prepare_image(img, 20)  # short side already 20: pure centre crop, exact
    np.testing.assert_array_equal((out.permute(1, 2, 0).numpy() * 255).round(), img[:, 5:25])
    assert torch.equal(prepare_image(torch.from_numpy(img).permute(2, 0, 1), 12),
                       prepare_image(img, 12))
    assert torch.allclose(prepare_image(img / 255.0, 12), prepare_image(img, 12), atol=1e-6)
    assert torch.equal(prepare_image(img[..., 0], 8),
                       prepare_image(np.repeat(img[..., :1], 3, 2), 8))
    tall = RNG.integers(0, 256, (5000, 3, 3), dtype=np.uint8)
    assert prepare_image(tall, 3).shape == (3, 3, 3)


@pytest.mark.parametrize("size", [0, -3, 2.5, "64", None, True])
def test_prepare_image_rejects_bad_size(size):
    with pytest.raises(ValueError, match="size must be a positive integer"):
        prepare_image(np.zeros((4, 4, 3), np.uint8), size)


def test_prepare_image_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        prepare_image(np.zeros((4, 4, 4), np.uint8), 4)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        prepare_image(torch.zeros(4, 4, 3), 4)


# --------------------------------------------------------------------------- sample photos
def test_sample_photos_are_the_shipped_photos():
    import skimage.data
    from sklearn.datasets import load_sample_image
    photos = sample_photos()
    assert list(photos) == ["astronaut", "chelsea", "coffee", "rocket", "china", "flower",
                            "grace_hopper"]
    for name, img in photos.items():
        assert (img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
                and min(img.shape[:2]) >= 256)
        assert img.std(axis=2).mean() > 5, f"{name} is not a colour photo"
    np.testing.assert_array_equal(photos["coffee"], skimage.data.coffee())
    np.testing.assert_array_equal(photos["china"], load_sample_image("china.jpg"))
    assert photos["grace_hopper"].shape == (600, 512, 3)
    with pytest.raises(ValueError, match="unknown sample photo"):
        sample_photos(["lena"])


# --------------------------------------------------------------------------- LabDataset
def test_from_images_matches_skimage_lab():
    photos = sample_photos(["astronaut", "rocket"])
    ds = LabDataset.from_images(photos, size=24, name="two")
    assert (len(ds) == 2 and ds.size == 24 and ds.paths == ["astronaut", "rocket"]
            and ds.name == "two")
    assert ds.lab.shape == (2, 3, 24, 24) and ds.lab.dtype == torch.float32
    for i, img in enumerate(photos.values()):
        rgb8 = (prepare_image(img, 24).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        ref = rgb2lab(rgb8)
        np.testing.assert_allclose(ds.lab[i].permute(1, 2, 0).numpy(), ref, atol=2e-3)
        L, ab = ds[i]
        assert L.shape == (1, 24, 24) and ab.shape == (2, 24, 24)
        np.testing.assert_allclose(ds.rgb(i).permute(1, 2, 0).numpy(), lab2rgb(ref), atol=2e-3)
    with pytest.raises(ValueError, match="no images"):
        LabDataset.from_images([], size=8)


def test_batch_without_augmentation_is_indexing():
    ds = LabDataset.from_images([RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8)
                                 for _ in range(5)], size=8)
    idx = torch.tensor([4, 0, 4])
    L, ab = ds.batch(idx)
    assert torch.equal(torch.cat([L, ab], 1), ds.lab[idx])
    assert ds.to("cpu") is ds and ds.device == torch.device("cpu")


def _reference_augment(x, pad, flip, oy, ox):
    """numpy reference: reflect-pad, crop at (oy, ox), then mirror horizontally if flip."""
    p = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    S = x.shape[-1]
    c = p[:, oy:oy + S, ox:ox + S]
    return c[:, :, ::-1] if flip else c


def test_augmentation_is_a_flip_and_crop_drawn_from_the_generator():
    S, B = 16, 64
    ds = LabDataset.from_images([RNG.integers(0, 256, (S, S, 3), dtype=np.uint8)
                                 for _ in range(B)], size=S, augment=True)
    idx = torch.arange(B)
    torch.manual_seed(1)
    L1, ab1 = ds.batch(idx, torch.Generator().manual_seed(7))
    torch.manual_seed(2)  # the global RNG must not matter
    L2, ab2 = ds.batch(idx, torch.Generator().manual_seed(7))
    assert torch.equal(L1, L2) and torch.equal(ab1, ab2)
    L3, _ = ds.batch(idx, torch.Generator().manual_seed(8))
    assert not torch.equal(L1, L3)
    out = torch.cat([L1, ab1], 1).numpy()
    pad, found_flip, found_shift = S // 8, set(), set()
    for b in range(B):  # each output is exactly one of the (2 pad + 1)^2 x 2 candidates
        x = ds.lab[b].numpy()
        hits = [(f, oy, ox) for f in (0, 1) for oy in range(2 * pad + 1)
                for ox in range(2 * pad + 1)
                if np.array_equal(out[b], _reference_augment(x, pad, f, oy, ox))]
        assert hits, f"sample {b} is not a flip/crop of its image"
        found_flip.add(hits[0][0])
        found_shift.add(hits[0][1:])
    assert found_flip == {0, 1} and len(found_shift) > 10


def test_augment_lab_tiny_images():
    x = torch.arange(3.0).view(1, 3, 1, 1)
    assert torch.equal(augment_lab(x, torch.Generator().manual_seed(0)), x)


# --------------------------------------------------------------------------- load_dataset
def test_samples_dataset_is_cached(tmp_path, monkeypatch):
    ds = load_dataset("samples", size=16)
    assert len(ds) == 7 and ds.paths[0] == "astronaut" and ds.name == "samples"
    files = list((tmp_path / "cache" / "datasets").glob("samples-*.pt"))
    assert len(files) == 1
    ref = LabDataset.from_images(sample_photos(), size=16).lab
    assert (ds.lab - ref).abs().max() < 0.05  # stored as float16: within 0.05 Lab units

    def must_not_run(*a, **k):
        raise AssertionError("cache miss")
    monkeypatch.setattr(data.sources, "prepare_stack", must_not_run)
    again = load_dataset("samples", size=16, augment=True)
    assert torch.equal(again.lab, ds.lab) and again.augment
    with pytest.raises(AssertionError, match="cache miss"):  # another size is another cache entry
        load_dataset("samples", size=17)
    monkeypatch.undo()
    assert len(load_dataset("samples", size=8, limit=2, cache=False)) == 2
    assert len(list((tmp_path / "cache" / "datasets").glob("*"))) == 1  # cache=False wrote nothing


def test_corrupt_cache_file_is_rebuilt(tmp_path):
    ds = load_dataset("samples", size=8, limit=1)
    (f,) = (tmp_path / "cache" / "datasets").glob("*.pt")
    f.write_bytes(f.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable cache file"):
        again = load_dataset("samples", size=8, limit=1)
    assert torch.equal(again.lab, ds.lab)


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _solid(rgb, h=10, w=14):
    return np.full((h, w, 3), rgb, np.uint8)


def test_folder_with_classes_splits_limit_and_bad_files(tmp_path):
    root = tmp_path / "my photos ü"
    colours = {"red": (200, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 200)}
    for split in ("train", "test"):
        for cls, rgb in colours.items():
            for i in range(4 if split == "train" else 2):
                _write(root / split / cls / f"{i}.png", _solid(rgb))
    bad = [root / "train" / "green" / "0b.jpg", root / "train" / "red" / "empty.png"]
    bad[0].write_text("not an image")
    bad[1].write_bytes(b"")
    with pytest.warns(ImageSkippedWarning) as rec:
        ds = load_dataset(f"folder:{root}", size=8)
    not_image = f"not an image file (not one of the formats {', '.join(IMAGE_FORMATS)})"
    expected = [f"skipping unreadable image {bad[0]}: {not_image}",
                f"skipping unreadable image {bad[1]}: empty file (0 bytes)"]
    assert sorted(str(w.message) for w in rec) == sorted(expected)
    assert len(ds) == 12 and ds.classes == ["blue", "green", "red"] and ds.name == f"folder:{root}"
    assert ds.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert all(Path(p).parent.name == ds.classes[c] for p, c in zip(ds.paths, ds.labels.tolist()))
    red_lab = rgb2lab(np.array([[colours["red"]]], np.uint8))[0, 0]
    np.testing.assert_allclose(ds.lab[-1, :, 4, 4].numpy(), red_lab, atol=0.05)
    test = load_dataset(f"folder:{root}", split="test", size=8)
    assert len(test) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageSkippedWarning)
        lim = load_dataset(f"folder:{root}", size=8, limit=5, cache=False)
    # round-robin: blue, green, red, blue, (bad green), red
    assert lim.labels.tolist() == [0, 0, 1, 2, 2]
    with pytest.raises(ValueError, match="no 'val' folder"):
        load_dataset(f"folder:{root}", split="val")


def test_folder_mixing_every_bad_case_keeps_the_good_ones(tmp_path):
    root = tmp_path / "mixed"
    _write(root / "good 1.png", _solid((250, 120, 0)))
    _write(root / "grey.png", RNG.integers(0, 256, (9, 9), dtype=np.uint8))
    _write(root / "tall.png", _solid((1, 2, 3), 5000, 3))
    _write(root / "tiny.png", _solid((9, 9, 9), 1, 1))
    Image.fromarray(RNG.integers(0, 256, (9, 9, 4), dtype=np.uint8)).save(root / "alpha.png")
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("hello")
    jpg = root / "cut.jpg"
    Image.fromarray(_solid((5, 5, 5), 64, 64)).save(jpg)
    jpg.write_bytes(jpg.read_bytes()[:300])
    before = {p: p.read_bytes() for p in root.iterdir()}
    with pytest.warns(ImageSkippedWarning) as rec:
        ds = load_dataset(f"folder:{root}", size=4, cache=False)
    assert sorted(Path(str(w.message).split(": ")[0].split(" ")[-1]).name for w in rec) == [
        "cut.jpg", "text.jpg", "zero.jpg"]
    assert len(ds) == 5 and ds.labels.tolist() == [-1] * 5 and ds.classes == []
    assert {p: p.read_bytes() for p in root.iterdir()} == before


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no such folder"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no image files found"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "allbad").mkdir()
    (tmp_path / "allbad" / "a.png").write_bytes(b"")
    with pytest.warns(ImageSkippedWarning), pytest.raises(ValueError,
                                                          match="none of the 1 image files"):
        load_dataset(f"folder:{tmp_path / 'allbad'}")


def test_folder_cache_follows_the_files(tmp_path):
    root = tmp_path / "f"
    _write(root / "a.png", _solid((255, 0, 0)))
    assert len(load_dataset(f"folder:{root}", size=4)) == 1
    _write(root / "b.png", _solid((0, 0, 255)))
    assert len(load_dataset(f"folder:{root}", size=4)) == 2  # a new file changes the cache key


@pytest.mark.parametrize("name", ["cifar10", "flowers102", "places365", "stl10"])
def test_torchvision_datasets_fail_at_once_without_data_or_network(tmp_path, name):
    t = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, root=tmp_path / "tv", split="test", download=False)
    msg = str(info.value)
    assert "download=True" in msg and 'load_dataset("samples")' in msg and "folder:PATH" in msg
    with pytest.raises(OfflineError) as info:
        load_dataset(name, root=tmp_path / "tv", split="test", download=True)
    msg = str(info.value)
    assert "offline" in msg and 'load_dataset("samples")' in msg
    assert time.perf_counter() - t < 15  # importing torchvision is most of it; no network wait


def test_imagenette_offline_errors_and_a_local_copy_in_torchvisions_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("imagenette", root=tmp_path / "none", split="val")
    msg = str(info.value)
    assert "imagenette (val split)" in msg and "download=True" in msg and "folder:PATH" in msg
    assert "94 MB" in msg
    with pytest.raises(ValueError, match="unknown split 'test'"):
        load_dataset("imagenette", root=tmp_path, split="test")
    with pytest.raises(OfflineError, match="offline"):
        load_dataset("imagenette", root=tmp_path / "none", split="val", download=True)
    # what torchvision extracts from the 160px archive
    base = tmp_path / "tv" / "imagenette2-160" / "val"
    for wnid, colour in (("n01440764", (200, 30, 30)), ("n02102040", (30, 30, 200))):
        for k in range(2):
            _write(base / wnid / f"ILSVRC_{k}.JPEG", _solid(colour, h=16 + 4 * k, w=24))
    ds = load_dataset("imagenette", root=tmp_path / "tv", split="val", size=8, cache=False)
    assert len(ds) == 4 and ds.lab.shape == (4, 3, 8, 8)
    assert ds.classes == ["tench", "English springer"] and ds.labels.tolist() == [0, 0, 1, 1]
    assert all(Path(p).is_file() and p.endswith(".JPEG") for p in ds.paths)
    # a limit is balanced over the classes
    assert load_dataset("imagenette", root=tmp_path / "tv", split="val", size=8, limit=2,
                        cache=False).labels.tolist() == [0, 1]


def test_load_dataset_argument_errors():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="unknown split"):
        load_dataset("cifar10", split="validation")
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        load_dataset("samples", limit=0)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        load_dataset("samples", size=-1)


# ------------------------------------------------------------------------- CIFAR-10 as JPEG folders
@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    env = os.environ.get("COLORLAB_CIFAR10_DIR")
    if env and (Path(env) / "test").is_dir():
        return Path(env)
    archive = SHARED / "cifar10" / "cifar10-jpg.tar.gz"
    if not archive.is_file():
        pytest.skip(f"CIFAR-10 JPEGs not found at {archive} (only on the development machine)")
    out = tmp_path_factory.mktemp("cifar10")
    with tarfile.open(archive) as tar:  # the first 30 test images of each class are enough here
        members = [m for m in tar
                   if m.name.startswith("test/") and (m.isdir() or m.name[-8:-4] < "0030")]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
        tar.extractall(out, members=members, **safe)
    return out


@pytest.mark.slow  # reads the course copy of CIFAR-10
def test_cifar10_folder_loads(cifar_dir, monkeypatch):
    ds = load_dataset(f"folder:{cifar_dir}", split="test", size=32, limit=250)
    assert ds.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                          "ship", "truck"]
    assert len(ds) == 250 and np.bincount(ds.labels.numpy()).tolist() == [25] * 10
    first = Image.open(ds.paths[0])
    assert first.size == (32, 32)
    np.testing.assert_allclose(ds.lab[0].permute(1, 2, 0).numpy(),
                               rgb2lab(np.asarray(first.convert("RGB"))),
                               atol=0.05)  # 32 px: no resize; float16 storage
    # the reload must come from the cache alone
    monkeypatch.setattr(data.sources, "read_image", None)
    again = load_dataset(f"folder:{cifar_dir}", split="test", size=32, limit=250)
    assert torch.equal(again.lab, ds.lab) and again.paths == ds.paths


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_resident_dataset_batches_like_cpu():
    ds = LabDataset.from_images([RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8)
                                 for _ in range(6)], size=12, augment=True)
    cpu = ds.batch(torch.arange(6), torch.Generator().manual_seed(3))
    gpu = load_dataset("samples", size=12, limit=2, device="cuda")
    assert gpu.lab.is_cuda and gpu.batch(torch.tensor([1]))[0].is_cuda
    ds.to("cuda")
    out = ds.batch(torch.arange(6), torch.Generator().manual_seed(3))  # CPU generator, CUDA data
    assert out[0].is_cuda and all(torch.equal(a.cpu(), b) for a, b in zip(out, cpu))


def test_list_photos_gives_unread_files_balanced_by_class_or_sample_arrays(tmp_path):
    from colorlab.data import list_photos, sample_photos
    for cls in ("cats", "dogs"):
        for k in range(3):
            _write(tmp_path / "test" / cls / f"{k}.png", _solid((k * 50, 0, 0), h=10 + k, w=20))
    (tmp_path / "test" / "dogs" / "bad.jpg").write_bytes(b"")      # listed, not read
    photos = list_photos(f"folder:{tmp_path}", split="test")
    assert sorted(photos) == sorted([f"cats{os.sep}{k}.png" for k in range(3)]
                                    + [f"dogs{os.sep}{k}.png" for k in range(3)]
                                    + [f"dogs{os.sep}bad.jpg"])
    assert all(isinstance(p, Path) and p.is_file() for p in photos.values())
    assert sorted(list_photos(f"folder:{tmp_path}", split="test", limit=2)) == [
        f"cats{os.sep}0.png", f"dogs{os.sep}0.png"]
    samples = list_photos("samples", limit=3)
    assert list(samples) == list(sample_photos())[:3] and all(v.dtype == np.uint8
                                                              for v in samples.values())
    with pytest.raises(DatasetNotFoundError):
        list_photos("imagenette", root=tmp_path / "none", split="val")
    with pytest.raises(ValueError, match="unknown dataset"):
        list_photos("imagenet")
