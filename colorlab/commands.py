"""What each ``colorlab`` command does; :mod:`colorlab.cli` parses the arguments and calls these.

Each ``cmd_NAME(args)`` takes the parsed arguments of ``colorlab NAME`` and returns the exit code.
Heavy modules (torch, the models) are imported inside the functions, on first use.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["cmd_train", "cmd_colorize", "cmd_evaluate", "cmd_compare", "cmd_doctor",
           "doctor_report"]

VALIDATION_IMAGES = 256   # train scores at most this many held-out images when it ends


def _load_data(args, split, command, level="warning", **kw):
    """``load_dataset`` from the arguments, printing ``colorlab COMMAND: LEVEL: skipped ...`` for
    each unreadable image of a folder (left out of the data); returns ``(data, number skipped)``."""
    import warnings

    from colorlab.data import ImageSkippedWarning, load_dataset, load_mixture
    weights = getattr(args, "weights", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageSkippedWarning)
        if "," in args.data or weights is not None:
            data = load_mixture(args.data, weights, root=args.root,
                                split=split, size=args.size, limit=args.limit,
                                download=args.download, **kw)
        else:
            data = load_dataset(args.data, root=args.root, split=split, size=args.size,
                                limit=args.limit, download=args.download, **kw)
    skipped = 0
    for w in caught:
        if issubclass(w.category, ImageSkippedWarning):
            skipped += 1
            message = str(w.message).replace("skipping", "skipped", 1)
            print(f"colorlab {command}: {level}: {message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return data, skipped


def _load_model(spec, device):
    from colorlab.models import load_checkpoint
    return load_checkpoint(spec, map_location=device).to(device).eval()


#: ``colorlab train`` options passed on to build() and to train() when given: each model class
#: and training task refuses those it does not take, in one line (e.g. --lam for an mse model).
BUILD_OPTIONS = ("lam", "T", "embed_size", "discriminator")
TRAIN_OPTIONS = ("pretrain_steps", "l1_weight", "chroma_penalty", "chroma_margin")


def _given(args, names) -> dict:
    """``{name: value}`` of the options among ``names`` given on the command line (not None)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_train(args) -> int:
    from colorlab.device import pick_device
    from colorlab.models import build, model_from_payload
    from colorlab.train import load_training_checkpoint, seed_everything, train
    out = Path(args.out or f"runs/{args.model}.ckpt")
    if args.model == "hints" and not args.encoder and not args.resume:
        raise ValueError("--model hints is a photo model: add --encoder efficientnet_lite0")
    data, _ = _load_data(args, args.split, "train", augment=args.augment)
    validation = None
    if args.val_every is not None:
        split, validation = _held_out(args, limit=args.val_limit)
        if split is None:
            raise ValueError(f"--val-every: no held-out images ({validation})")
    if args.crop_size is not None:
        data.crop_size = args.crop_size
    seed_everything(args.seed)  # before the model is built: same seed, same initial weights
    resume = None
    if args.resume:  # read once: the model is rebuilt from it, then train() continues it
        resume = load_training_checkpoint(args.resume)
        model = model_from_payload(resume, source=args.resume, expect=args.model)
    else:
        kw = _given(args, BUILD_OPTIONS)
        if args.encoder:
            kw.update(encoder=args.encoder, image_size=data.train_size, fine_tune=args.fine_tune)
            if args.global_features:
                kw["global_features"] = True
        model = build(args.model, **kw)
        if args.init:
            _init_weights(model, args.init)
        if hasattr(model, "set_prior"):  # class-rebal: weights from this data's colour prior
            model.set_prior(model.quantizer.prior(data))
    history = train(model, data, args.steps, batch_size=args.batch_size, lr=args.lr,
                    device=pick_device(args.device), amp=args.amp, seed=args.seed, out=out,
                    checkpoint_every=args.checkpoint_every, resume=resume,
                    progress=not args.no_progress, schedule=args.schedule,
                    validation=validation, validate_every=args.val_every,
                    **_given(args, TRAIN_OPTIONS))
    last = history[-1] if history else {}
    print(f"wrote {out}: {args.model}, {args.steps} steps, "
          f"loss {last.get('loss', float('nan')):.4g}, {last.get('images_per_s', 0):.0f} images/s")
    print(_validation_line(args, model))
    curve = _write_curve(history, out.with_suffix(".png"))
    print(f"loss history: in the checkpoint "
          f"(colorlab.train.load_training_checkpoint('{out}')['history']); curve: {curve}")
    print(f"next: colorlab evaluate --model {out} --data ... --whole   or   "
          f"colorlab colorize PHOTOS --model {out} --out coloured/")
    return 0


def _held_out(args, limit=None):
    """``(split, data)``: up to :data:`VALIDATION_IMAGES` images of the data's held-out split (or
    ``limit`` of each source of a mixture), or ``(None, reason)`` when it has none here (the
    samples, a folder without val/ or test/, a torchvision split that is not downloaded)."""
    import warnings

    from colorlab.data import DatasetNotFoundError, ImageSkippedWarning, load_dataset, load_mixture
    if args.data == "samples":
        return None, "the samples are the training set"
    if args.split != "train":
        return None, f"trained on the {args.split!r} split"
    if "," in args.data:
        specs = args.data.split(",")
        each = limit or max(1, VALIDATION_IMAGES // len(specs))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImageSkippedWarning)
                return "val", load_mixture(specs, split="val", root=args.root, size=args.size,
                                           limit=each)
        except (DatasetNotFoundError, ValueError) as e:
            return None, f"not every source has a val/ or test/ split ({e})"
    for split in ("val", "test"):
        if args.data.startswith("folder:") and not (Path(args.data[7:]) / split).is_dir():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImageSkippedWarning)
                return split, load_dataset(args.data, root=args.root, split=split, size=args.size,
                                           limit=limit or VALIDATION_IMAGES)
        except (DatasetNotFoundError, ValueError):
            continue
    return None, "no val/ or test/ split found beside the training split"


def _validation_line(args, model) -> str:
    """One line: the trained model scored on held-out images, or why there is no such score."""
    split, data = _held_out(args)
    if split is None:
        return f"validation: none ({data})"
    from colorlab.evaluation import evaluate
    r = evaluate(model, data, size=args.size, batch_size=args.batch_size)
    return (f"validation on {r['n_images']} {split} images at {args.size} px: "
            f"PSNR {r['psnr']:.2f} dB, AuC {100 * r['auc']:.1f}, "
            f"rebalanced AuC {100 * r['auc_rebalanced']:.1f}, "
            f"colourfulness ratio {r['colorfulness_ratio']:.2f}")


def _write_curve(history, path: Path) -> Path:
    """Draw ``history``'s loss curves (:func:`colorlab.viz.training_curves`) into ``path``,
    atomically."""
    from colorlab.io import atomic_write
    from colorlab.viz import training_curves
    fig = training_curves(history, keys=("loss", "d_loss", "g_adv", "val_loss", "val_psnr"))
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    return path


def _init_weights(model, spec) -> None:
    """Copy every weight of checkpoint ``spec`` that fits ``model`` (same name, or the same name
    under ``generator.``, as from an mse model into a gan generator); at least one must."""
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
    """``{input: output}``: one input and ``--out NAME.png|.jpg`` writes that file; else ``out`` is
    a folder of ``<stem>.png``; inputs whose stems clash keep their extension (``a.jpg.png``)."""
    out = Path(out)
    if len(files) == 1 and out.suffix.lower() in _IMAGE_SUFFIXES and not out.is_dir():
        return {files[0]: out}
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a folder (or, for one input, "
                         "a new .png or .jpg file name)")
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

    from colorlab.device import pick_device
    from colorlab.io import list_images, read_image, save_image
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
            grey = image.ndim == 2 or (np.ptp(image.astype(np.int16), axis=-1) == 0).all()
            coloured += int(not grey)
            rgb = model.colorize_image(image, size=args.size)
            save_image(dst, rgb)
            print(f"{src} -> {dst}")
            done += 1
        except Exception as e:  # noqa: BLE001 - one line per broken input, the others go on
            text = str(e) if str(src) in str(e) else f"{src}: {e}"
            print(f"colorlab colorize: error: {text}", file=sys.stderr)
            failed += 1
    if coloured:
        print(f"note: {coloured} input(s) already had colour; it was replaced (only their "
              "lightness is used)")
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
    from colorlab.device import pick_device
    from colorlab.evaluation import evaluate
    model = _load_model(args.model, pick_device(args.device))
    if args.whole:  # the photos themselves, one at a time, at their own size
        from colorlab.data import list_photos
        photos, failed = list_photos(args.data, root=args.root, split=args.split, limit=args.limit,
                                     download=args.download), []
        readable = _readable(photos.values(), "evaluate", "error", failed)
        result = evaluate(model, readable, size=args.size, predict_size=args.predict_size,
                          whole=True, bootstrap=args.bootstrap)
        skipped = len(failed)
    else:
        # unreadable images are named and scored without
        data, skipped = _load_data(args, args.split, "evaluate", level="error")
        result = evaluate(model, data, size=args.size, batch_size=args.batch_size,
                          predict_size=args.predict_size, bootstrap=args.bootstrap)
    if args.json:
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in result.items()}
        print(json.dumps(plain, indent=2))
    else:
        ci = result.pop("ci95", {})
        for key, value in result.items():
            line = f"{key:<26} {value:.4f}" if isinstance(value, float) else f"{key:<26} {value}"
            print(line + (f"  [{ci[key][0]:.4f}, {ci[key][1]:.4f}]" if key in ci else ""))
    if skipped:
        print(f"colorlab evaluate: error: {skipped} unreadable image(s) left out of these scores",
              file=sys.stderr)
        return 1
    return 0


def _chosen_photos(args) -> dict:
    """``{file name: uint8 photo}`` for compare: ``--files`` in order, or ``--n`` drawn from
    ``--data`` with ``--seed`` (an unreadable file is skipped with a warning, the next drawn)."""
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
    from colorlab.device import pick_device
    from colorlab.io import atomic_write
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
    from colorlab.device import pick_device
    device = pick_device("auto")
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    lines += [f"device: {device} (CUDA {'yes' if torch.cuda.is_available() else 'no'}, GPU {gpu}, "
              f"torch built for CUDA {torch.version.cuda or '-'})",
              f"colab: {'yes' if 'google.colab' in sys.modules else 'no'}"]
    repo = Path(colorlab.__file__).resolve().parents[1]
    places = {"datasets": repo / "datasets" / "cache"}
    if (repo.parent / "shared" / "data").is_dir():  # the course developers' copy, beside the repo
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
    lines += [f"checkpoints: shipped {', '.join(shipped) or 'none'}; "
              f"runs/ {', '.join(runs) or 'none'}"]
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    print(doctor_report())
    return 0


