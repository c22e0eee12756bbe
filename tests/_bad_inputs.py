"""Every bad or odd input of issue 6, made on the spot, and what colorlab must do with each.

:data:`IMAGE_CASES` lists the image files (:func:`write_image_cases` writes them into a folder):
each either must be refused with an :class:`colorlab.io.ImageReadError` whose reason holds
``problem``, or must read as uint8 RGB of shape ``shape``. :func:`write_bad_checkpoints` does the
same for checkpoint files. Nothing here needs the network; everything is small on disk.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

RNG = np.random.default_rng(6)


@dataclass(frozen=True)
class Case:
    """One input file and the outcome colorlab owes it.

    Attributes
    ----------
    name : str
        File name (its stem is unique, so ``colorize`` writes ``<stem>.png`` for it).
    problem : str or None
        Words the error's reason must contain; ``None`` for a file that must be read.
    shape : tuple or None
        ``(H, W, 3)`` that :func:`colorlab.io.read_image` must return, for a readable file.
    """

    name: str
    problem: str | None = None
    shape: tuple | None = None


def _encoded(array_or_image, fmt: str, **options) -> bytes:
    image = (array_or_image if isinstance(array_or_image, Image.Image)
             else Image.fromarray(array_or_image))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def over_the_bomb_limit_png(side: int = 9460) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` pixels (89.5 million: over Pillow's default limit of
    89,478,485), stripes of one pattern, so it compresses to ~23 kB and is made in ~0.1 s."""
    row = b"\x00" + b"\x55" * ((side + 7) // 8)  # filter byte "none", then alternating bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def _photo(h: int, w: int) -> np.ndarray:
    """A smooth colour gradient (JPEG-friendly) of shape (h, w, 3)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.full_like(x, 90)],
                    2).astype(np.uint8)


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    # orientation 6: shown rotated 90 degrees clockwise, so 16 x 32 reads as 32 x 16
    exif[0x0112] = 6
    return _encoded(_photo(16, 32), "JPEG", exif=exif.tobytes())


def _transparent_rgba() -> np.ndarray:
    rgba = np.concatenate([_photo(12, 10), np.full((12, 10, 1), 255, np.uint8)], 2)
    rgba[:, :5, 3] = 0  # left half fully transparent
    return rgba


def _palette_png() -> bytes:
    return _encoded(Image.fromarray(_photo(9, 13)).convert("P", palette=Image.Palette.ADAPTIVE,
                                                           colors=8), "PNG")


_GOOD_JPEG = _encoded(_photo(40, 48), "JPEG", quality=90)
_GOOD_PNG = _encoded(_photo(40, 48), "PNG")
_GREY = RNG.integers(0, 256, (20, 30), dtype=np.uint8)

#: (case, bytes to write) for every image case of issue 6, part 1.
_IMAGE_FILES = [
    (Case("zero bytes.jpg", problem="empty file (0 bytes)"), b""),
    (Case("truncated.jpg", problem="corrupt or truncated"), _GOOD_JPEG[: len(_GOOD_JPEG) // 2]),
    (Case("truncated.png", problem="corrupt or truncated"), _GOOD_PNG[: len(_GOOD_PNG) // 2]),
    (Case("text named.jpg", problem="not an image file"),
     b"this is a text file, not a JPEG\n" * 20),
    (Case("over the bomb limit.png", problem="decompression-bomb limit"),
     over_the_bomb_limit_png()),
    (Case("grey L.png", shape=(20, 30, 3)), _encoded(_GREY, "PNG")),
    (Case("grey stored as RGB.png", shape=(20, 30, 3)), _encoded(np.stack([_GREY] * 3, 2), "PNG")),
    (Case("rgba transparent.png", shape=(12, 10, 3)), _encoded(_transparent_rgba(), "PNG")),
    (Case("16-bit.png", shape=(7, 11, 3)),
     _encoded(RNG.integers(0, 65536, (7, 11), dtype=np.uint16), "PNG")),
    (Case("palette.png", shape=(9, 13, 3)), _palette_png()),
    (Case("cmyk.jpg", shape=(24, 20, 3)),
     _encoded(Image.fromarray(_photo(24, 20)).convert("CMYK"), "JPEG")),
    (Case("exif rotated.jpg", shape=(32, 16, 3)), _exif_rotated_jpeg()),
    (Case("1x1.png", shape=(1, 1, 3)), _encoded(np.array([[[200, 30, 40]]], np.uint8), "PNG")),
    (Case("3x5000.png", shape=(3, 5000, 3)), _encoded(_photo(3, 5000), "PNG")),
    (Case("été à Zürich 日本 photo.png", shape=(40, 48, 3)), _GOOD_PNG),
    (Case("good one.jpg", shape=(40, 48, 3)), _GOOD_JPEG),
]
IMAGE_CASES = [case for case, _ in _IMAGE_FILES]


def write_image_cases(folder: Path) -> dict[str, Case]:
    """Write every image case into ``folder`` (created); returns ``{file name: Case}``."""
    folder.mkdir(parents=True, exist_ok=True)
    for case, data in _IMAGE_FILES:
        (folder / case.name).write_bytes(data)
    return {case.name: case for case in IMAGE_CASES}


def digest_tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, keyed by relative path (to prove inputs never
    change)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


class _CreatesMarker:
    """Unpickling this opens ``marker`` for writing, which creates it: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_bad_checkpoints(folder: Path, marker: Path) -> dict[Path, str]:
    """Write each kind of bad checkpoint; returns ``{path: words its error must contain}``.

    ``marker`` must never exist: it appears only if loading ran the hostile file's pickled code.
    """
    import colorlab.models as cm
    folder.mkdir(parents=True, exist_ok=True)
    good = cm.checkpoint_payload(cm.build("mse", width=0.25))
    files = {}
    mixed = folder / "mse config with gan weights.pt"
    torch.save({**good, "model_state": cm.build("gan", width=0.25, d_width=0.25).state_dict()},
               mixed)
    files[mixed] = "holds weights of a GAN"
    foreign = folder / "someone else's model.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), foreign)
    files[foreign] = "not a colorlab checkpoint"
    truncated = folder / "truncated.pt"
    torch.save(good, truncated)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    files[truncated] = "truncated or corrupt checkpoint"
    noise = folder / "random bytes.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    files[noise] = "not a PyTorch checkpoint"
    hostile = folder / "runs code.pt"
    torch.save({**good, "payload": _CreatesMarker(marker)}, hostile)
    files[hostile] = "refused: it would call or build"
    assert not marker.exists() and os.path.getsize(hostile) > 0
    return files
