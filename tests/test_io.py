"""colorlab.io against Pillow/numpy references, on bad and odd images generated on the spot."""
import hashlib
import io as _io
import pickle
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from colorlab.io import ImageReadError, atomic_write, list_images, read_image, save_image

RNG = np.random.default_rng(0)


def _rgb(h=16, w=24):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _jpeg_bytes(arr, **kw):
    buf = _io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(w=100_000, h=100_000) -> bytes:
    """A 100-byte PNG that claims w x h pixels (what a decompression bomb looks like to Pillow)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- bad files
@pytest.fixture
def bad_files(tmp_path):
    good = _rgb(32, 32)
    jpg, png = _jpeg_bytes(good), _io.BytesIO()
    Image.fromarray(good).save(png, format="PNG")
    files = {
        "empty.jpg": (b"", "empty"),
        "truncated.jpg": (jpg[: len(jpg) // 2], "truncated"),
        "truncated.png": (png.getvalue()[: len(png.getvalue()) // 2], "truncated"),
        "notes.jpg": (b"this is a text file, not a JPEG\n" * 10, "not an image"),
        "bomb.png": (_bomb_png(), "decompression-bomb"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path, {name: why for name, (_, why) in files.items()}


def test_bad_files_raise_naming_file_and_problem(bad_files):
    folder, expected = bad_files
    for name, why in expected.items():
        path = folder / name
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        err = info.value
        assert err.path == path and str(err) == f"{path}: {err.reason}"
        assert name in str(err) and why in err.reason.lower(), str(err)
        assert isinstance(err, ValueError)


def test_formats_outside_the_allow_list_are_not_decoded(tmp_path):
    eps = tmp_path / "photo.jpg"  # an EPS file would make Pillow run Ghostscript on it
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    Image.fromarray(_rgb(4, 4)).save(tmp_path / "im.psd.sgi", format="SGI")
    for path in (eps, tmp_path / "im.psd.sgi"):
        with pytest.raises(ImageReadError, match="not an image file"):
            read_image(path)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_decompression_bomb_is_refused_fast_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png())  # 10^10 pixels: 30 GB if decoded
    t = time.perf_counter()
    with pytest.raises(ImageReadError, match="decompression-bomb limit"):
        read_image(path)
    assert time.perf_counter() - t < 3.0  # decoding it would take minutes and 30 GB
    # between 1x and 2x the limit Pillow only warns; read_image refuses those too
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.fromarray(_rgb(30, 50)).save(tmp_path / "big.png")  # 1500 pixels
    with pytest.raises(ImageReadError, match="MAX_IMAGE_PIXELS"):
        read_image(tmp_path / "big.png")


def test_error_pickles():
    e = pickle.loads(pickle.dumps(ImageReadError("a b.png", "empty file (0 bytes)")))
    assert str(e) == "a b.png: empty file (0 bytes)" and e.reason == "empty file (0 bytes)"


# --------------------------------------------------------------------------- odd but valid images
def test_greyscale_and_grey_stored_as_rgb(tmp_path):
    grey = RNG.integers(0, 256, (7, 9), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(np.stack([grey] * 3, axis=2)).save(tmp_path / "g3.png")
    Image.fromarray(grey > 127).save(tmp_path / "bw.png")  # mode "1"
    for name in ("g.png", "g3.png"):
        out = read_image(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (7, 9, 3)
        np.testing.assert_array_equal(out, np.stack([grey] * 3, axis=2))
    np.testing.assert_array_equal(read_image(tmp_path / "bw.png")[..., 0],
                                  np.where(grey > 127, 255, 0))


def test_rgba_and_la_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]      # opaque red
    rgba[0, 1] = [0, 0, 255, 0]        # fully transparent: white
    rgba[0, 2] = [0, 0, 0, 128]        # half black: 255 * (1 - 128/255) = 127
    Image.fromarray(rgba).save(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png")
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [127, 127, 127]
    Image.fromarray(rgba[..., [0, 3]], mode="LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png")[0, 1].tolist() == [255, 255, 255]


def test_16bit_png_scaled_to_8bit(tmp_path):
    a = np.array([[0, 257 * 100, 65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")
    out = read_image(tmp_path / "deep.png")
    assert out[..., 0].tolist() == [[0, 100, 255, 7]] and (out[..., 0] == out[..., 2]).all()


def test_float_tiff(tmp_path):
    a = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    Image.fromarray(a, mode="F").save(tmp_path / "f.tif")
    assert read_image(tmp_path / "f.tif")[..., 1].tolist() == [[0, 128, 255]]


def test_palette_png_with_and_without_transparency(tmp_path):
    img = Image.fromarray(_rgb(8, 8)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), np.asarray(img.convert("RGB")))
    img.info["transparency"] = 0
    img.save(tmp_path / "pt.png", transparency=0)
    out = read_image(tmp_path / "pt.png")
    idx = np.asarray(img)
    assert (out[idx == 0] == 255).all()
    np.testing.assert_array_equal(out[idx != 0], np.asarray(img.convert("RGB"))[idx != 0])


def test_cmyk_jpeg_matches_pillow_conversion(tmp_path):
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, :16] = [200, 30, 40]
    rgb[:, 16:] = [20, 90, 220]
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    out = read_image(tmp_path / "cmyk.jpg")
    with Image.open(tmp_path / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
        np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))
    assert np.abs(out.astype(int) - rgb).max() <= 12


def test_exif_rotation_applied(tmp_path):
    # 16 high x 32 wide: left half red, right half blue; orientation 6 = rotate 90 degrees clockwise
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, :16] = [255, 0, 0]
    rgb[:, 16:] = [0, 0, 255]
    exif = Image.Exif()
    exif[0x0112] = 6
    (tmp_path / "rot.jpg").write_bytes(_jpeg_bytes(rgb, exif=exif.tobytes()))
    out = read_image(tmp_path / "rot.jpg")
    expected = np.rot90(rgb, k=-1)  # clockwise: the red left half ends on top
    assert out.shape == expected.shape == (32, 16, 3)
    # JPEG blurs the red/blue edge only
    assert (np.abs(out.astype(int) - expected) > 60).mean() < 0.05
    assert (out[:12, :, 0] > 200).all() and (out[20:, :, 2] > 200).all()


@pytest.mark.parametrize("shape", [(1, 1), (3, 5000), (5000, 3)])
def test_extreme_shapes(tmp_path, shape):
    a = RNG.integers(0, 256, (*shape, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "x.png")
    np.testing.assert_array_equal(read_image(tmp_path / "x.png"), a)


def test_non_ascii_names_and_inputs_unchanged(tmp_path, bad_files):
    folder, expected = bad_files
    a = _rgb(5, 6)
    Image.fromarray(a).save(folder / "ünï cødé photo 1.png")
    (folder / "sub dir").mkdir()
    Image.fromarray(a).save(folder / "sub dir" / "日本 2.PNG")
    before = {p: _sha(p) for p in folder.rglob("*") if p.is_file()}
    paths = list_images(folder)
    assert {p.name for p in paths} == set(expected) | {"ünï cødé photo 1.png", "日本 2.PNG"}
    for p in paths:
        try:
            assert read_image(p).shape == (5, 6, 3)
        except ImageReadError as e:
            assert p.name in expected and str(p) in str(e)
    assert {p: _sha(p) for p in folder.rglob("*") if p.is_file()} == before


# --------------------------------------------------------------------------- listing
def test_list_images(tmp_path):
    for rel in ["b.JPG", "a.png", "c/d.webp", "c/e/f.tiff", ".hidden.png", ".cache/x.png",
                "notes.txt", "g.JpEg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rel = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert rel == ["a.png", "b.JPG", "c/d.webp", "c/e/f.tiff", "g.JpEg"]  # sorted by path parts
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["a.png", "b.JPG", "g.JpEg"]
    assert list_images(tmp_path / "notes.txt") == [tmp_path / "notes.txt"]
    (tmp_path / "empty").mkdir()
    assert list_images(tmp_path / "empty") == []
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        list_images(tmp_path / "missing")


# --------------------------------------------------------------------------- saving
def test_save_image_roundtrip_and_formats(tmp_path):
    a = _rgb(9, 11)
    assert save_image(tmp_path / "deep" / "a.png", a) == tmp_path / "deep" / "a.png"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "deep" / "a.png")), a)
    save_image(tmp_path / "f.png", a / 255.0)
    np.testing.assert_array_equal(read_image(tmp_path / "f.png"), a)
    save_image(tmp_path / "j.JPG", a)
    with Image.open(tmp_path / "j.JPG") as im:
        assert im.format == "JPEG" and im.size == (11, 9)
    with pytest.raises(ValueError, match="unknown image format"):
        save_image(tmp_path / "x.xyz", a)
    with pytest.raises(ValueError, match="NaN"):
        save_image(tmp_path / "n.png", np.full((2, 2, 3), np.nan))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "f.png", "j.JPG"]


def test_save_image_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    save_image(target, _rgb(4, 4))
    before = _sha(target)

    def failing_save(self, fp, *a, **k):
        fp.write(b"half an image")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        save_image(target, _rgb(4, 4))
    assert _sha(target) == before and [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    (tmp_path / "plain.bin").write_bytes(b"x")
    with atomic_write(tmp_path / "atomic.bin") as f:
        f.write(b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode


def test_atomic_write_keeps_old_content_on_error(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"new")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_multiframe_files_give_the_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((6, 7, 3), c, np.uint8)) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    for name in ("anim.gif", "pages.tif"):
        out = read_image(tmp_path / name)
        assert out.shape == (6, 7, 3) and (out == [255, 0, 0]).all(), name
