"""Reading, listing and saving images, robustly.

Every image that enters colorlab goes through :func:`read_image`, which turns whatever Pillow can
open into one layout, ``uint8`` RGB of shape ``(H, W, 3)``, and turns every way a file can be bad
into one exception, :class:`ImageReadError`, whose message names the file and the problem.

What :func:`read_image` normalises
----------------------------------
- greyscale (``1``, ``L``) and greyscale-stored-as-RGB: replicated / kept as RGB;
- transparency (``RGBA``, ``LA``, ``PA``, palette with a transparent index): composited on white;
- palette (``P``): expanded;
- 16-bit (``I;16``, ``I``) and 32-bit float (``F``) images: scaled to 8 bit (see
  :func:`read_image`);
- CMYK (and YCbCr, ...): converted to RGB by Pillow;
- EXIF orientation: applied, so the array looks the way a photo viewer shows it;
- multi-frame files (GIF, TIFF): the first frame.

Files are opened read-only and are never modified. Images over Pillow's decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS`` pixels) are refused before any pixel is decoded.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageReadError", "IMAGE_EXTENSIONS", "IMAGE_FORMATS", "read_image", "list_images",
           "scan_images", "save_image", "atomic_write"]

#: File extensions (lower case) that :func:`list_images` treats as images.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Pillow formats :func:`read_image` decodes, whatever the file is named. Others (EPS, which would
#: run Ghostscript; PSD, FITS, ...) are refused as "not an image": learners open files from
#: anywhere.
IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM", "TGA", "ICO")


class ImageReadError(ValueError):
    """An image file could not be read; ``str(e) == f"{e.path}: {e.reason}"``.

    Attributes
    ----------
    path : pathlib.Path
        The file that failed.
    reason : str
        What is wrong with it, in words.

    Examples
    --------
    >>> e = ImageReadError("photo.jpg", "empty file (0 bytes)")
    >>> str(e)
    'photo.jpg: empty file (0 bytes)'
    """

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # keep it picklable (e.g. across DataLoader worker processes)
        return (type(self), (str(self.path), self.reason))


# --------------------------------------------------------------------------- reading
def _bomb_reason(err: Exception) -> str:
    return ("image too large: over Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels (PIL.Image.MAX_IMAGE_PIXELS), refused without "
            f"decoding it ({err}). "
            "If you trust this file, raise PIL.Image.MAX_IMAGE_PIXELS or downscale it first")


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Convert an opened (oriented) Pillow image of any mode to uint8 RGB ``(H, W, 3)``."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im.convert("I") if mode != "I" else im, dtype=np.float64)
        # 16-bit data (the usual case, also what 16-bit PNGs open as); wider ints are scaled by
        # their max
        top = 65535.0 if a.max(initial=0) <= 65535 else float(a.max())
        a = np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ValueError("float image holds NaN or inf values")
        top = 1.0 if a.max(initial=0) <= 1.0 else 255.0  # float images in [0, 1], else in [0, 255]
        a = np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "L" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        rgba = np.asarray(im, dtype=np.float32)
        alpha = rgba[:, :, 3:] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)  # composite on white
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


def read_image(path) -> np.ndarray:
    """Read any image file Pillow understands as uint8 RGB, or fail with a clear
    :class:`ImageReadError`.

    Parameters
    ----------
    path : str or os.PathLike
        The image file. Opened read-only; never modified.

    Returns
    -------
    image : numpy.ndarray of shape (H, W, 3), dtype uint8
        RGB, EXIF orientation applied, transparency composited on white. 16-bit integer images
        are scaled by 255/65535; float (``F``) images are taken as [0, 1] when their maximum is at
        most 1, else as [0, 255]. Multi-frame files give their first frame.

    Raises
    ------
    ImageReadError
        The path does not exist, is a folder, is empty, is not an image, holds corrupt or
        truncated data, or is over Pillow's decompression-bomb limit. The message names the file
        and the problem.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> Image.new("L", (5, 3), 128).save(path)
    >>> img = read_image(path)
    >>> img.shape, img.dtype, img[0, 0].tolist()
    ((3, 5, 3), dtype('uint8'), [128, 128, 128])
    """
    p = Path(path)
    if not p.exists():
        raise ImageReadError(p, "no such file")
    if p.is_dir():
        raise ImageReadError(p, "is a folder, not an image file")
    try:
        if p.stat().st_size == 0:
            raise ImageReadError(p, "empty file (0 bytes)")
        with open(p, "rb") as f, warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; refuse those too, before decoding
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f, formats=IMAGE_FORMATS) as im:
                im.load()
                try:
                    oriented = ImageOps.exif_transpose(im)
                except Exception:  # a broken EXIF block must not lose an otherwise good image
                    oriented = im
                return _to_rgb_array(oriented)
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(p, _bomb_reason(e)) from None
    except UnidentifiedImageError:
        raise ImageReadError(p, "not an image file (not one of the formats "
                                f"{', '.join(IMAGE_FORMATS)})") from None
    except PermissionError as e:
        raise ImageReadError(p, f"permission denied ({e.strerror})") from None
    except MemoryError:
        raise ImageReadError(p, "not enough memory to decode this image") from None
    except Exception as e:  # OSError, SyntaxError, ValueError, EOFError, struct.error from decoders
        detail = str(e) or type(e).__name__
        raise ImageReadError(p, f"corrupt or truncated image data ({detail})") from None


# --------------------------------------------------------------------------- listing
def list_images(path, recursive: bool = True) -> list[Path]:
    """List the image files in a folder (or accept one image file), sorted.

    Parameters
    ----------
    path : str or os.PathLike
        A folder, or a single file (returned as a one-element list whatever its extension, so that
        :func:`read_image` can say precisely what is wrong with it).
    recursive : bool
        Descend into sub-folders. Hidden files and folders (names starting with ".") are skipped.

    Returns
    -------
    paths : list of pathlib.Path
        Files whose extension (case-insensitive) is in :data:`IMAGE_EXTENSIONS`, sorted by their
        path relative to ``path``. Empty if the folder holds no images.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (the message names it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "cats").mkdir()
    >>> Image.new("RGB", (2, 2)).save(d / "cats" / "b.PNG")
    >>> Image.new("RGB", (2, 2)).save(d / "a.jpg")
    >>> (d / "notes.txt").write_text("hi")
    2
    >>> [q.relative_to(d).as_posix() for q in list_images(d)]
    ['a.jpg', 'cats/b.PNG']
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or folder")
    if not root.is_dir():
        return [root]
    return [Path(p) for p in scan_images(str(root), recursive)]


def scan_images(root: str, recursive: bool = True) -> list[str]:
    """:func:`list_images` on plain strings (fast on 50,000 files): sorted paths under folder
    ``root``, which must exist."""
    # (relative parts, path): sorting on parts keeps "a/b" after "a.png", folder by folder
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        rel = tuple(os.path.relpath(dirpath, root).split(os.sep)) if dirpath != root else ()
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append((rel + (name,), os.path.join(dirpath, name)))
    found.sort(key=lambda t: t[0])
    return [p for _, p in found]


# --------------------------------------------------------------------------- saving
def _default_file_mode() -> int:
    mask = os.umask(0o022)  # read the umask (only way), then put it back
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_write(path, sync_folder: bool = False):
    """Write a file atomically: yield a binary file in the same folder, then fsync and
    ``os.replace``.

    If the block raises (or the process dies), ``path`` keeps its old content (or stays absent)
    and the temporary file is removed. Parent folders are created.

    Parameters
    ----------
    path : str or os.PathLike
    sync_folder : bool
        Also fsync the folder after the rename, so the new name survives a power cut (what a
        training checkpoint needs; one more disk flush per file, so off for images).

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a", "note.bin")
    >>> with atomic_write(target) as f:
    ...     _ = f.write(b"done")
    >>> with open(target, "rb") as f:
    ...     f.read()
    b'done'
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; give the usual permissions of a new file
        os.replace(tmp, p)
        if sync_folder:
            _fsync_dir(p.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform has directory file descriptors)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _to_uint8_image(rgb) -> np.ndarray:
    a = rgb.detach().cpu().numpy() if hasattr(rgb, "detach") else np.asarray(rgb)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3 and hasattr(rgb, "detach"):
        a = a.transpose(1, 2, 0)  # a (3, H, W) tensor
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"save_image: expected an (H, W, 3) image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind != "f":
        raise TypeError(f"save_image: expected uint8 or float in [0, 1], got {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError("save_image: image holds NaN or inf values")
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def save_image(path, rgb, quality: int = 95) -> Path:
    """Save an RGB image atomically (temporary file in the same folder, then ``os.replace``).

    A crash or a full disk mid-write never leaves a half-written file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the format follows the suffix (``.png``, ``.jpg``/``.jpeg``, ...). Parent
        folders are created.
    rgb : numpy.ndarray of shape (H, W, 3) (or (H, W) grey), or torch.Tensor of shape (3, H, W)
        uint8, or float in [0, 1] (clipped, rounded to 8 bit).
    quality : int
        JPEG quality.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> out = save_image(os.path.join(tempfile.mkdtemp(), "red.png"), np.array([[[1.0, 0, 0]]]))
    >>> read_image(out).tolist()
    [[[255, 0, 0]]]
    """
    p = Path(path)
    fmt = Image.registered_extensions().get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"{p}: unknown image format for suffix {p.suffix!r}; use .png or .jpg")
    img = Image.fromarray(_to_uint8_image(rgb))
    with atomic_write(p) as f:
        img.save(f, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return p
