"""The photo models on the CPU: training throughput at 128 px and the time to colour a \
1-megapixel photo.

Run from the repository root::

    python benchmarks/photo_models.py --photos /tmp/photos/imagenette/train
    python benchmarks/photo_models.py --photos DIR --json out.json

Sections
--------
train
    Training images/s of ``build("mse", encoder="efficientnet_lite0")`` at 128 px (random resized
    crops, batch 32) through :func:`colorlab.train.train` on a :class:`LabDataset` prepared once,
    with the encoder frozen (the shipped recipe) and fine-tuned, against the pipeline the seeds
    wrote: a per-item ``Dataset`` that opens the JPEG with PIL, crops, converts with
    ``skimage.color.rgb2lab`` in ``__getitem__``, a ``DataLoader`` (2 workers) and a plain
    Adam + MSE loop over the same frozen-encoder model.
colorize
    Seconds to colour one 1000 x 1000 photo with :func:`colorlab.models.colorize_image` (network at
    the model's working size 128, ab upsampled, full-resolution L kept) against the same steps
    done with scikit-image (``rgb2lab`` of the whole photo, ``transform.resize`` of L down and of
    ab up, ``lab2rgb``) around the same network.

``--photos`` is a folder of JPEGs (e.g. Imagenette's train split). Figures are ratios against the
reference measured in the same process; ``benchmarks/README.md`` keeps them with date and machine.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import colorlab.models as cm  # noqa: E402
from colorlab.data import LabDataset  # noqa: E402
from colorlab.train import seed_everything, train  # noqa: E402


class SeedsDataset(torch.utils.data.Dataset):
    """Per-item pipeline: decode, random crop + flip, rgb2lab, all inside ``__getitem__``."""

    def __init__(self, paths, size=128):
        self.paths, self.size = list(paths), size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image
        from skimage.color import rgb2lab
        img = np.asarray(Image.open(self.paths[i]).convert("RGB"))
        rng = np.random.default_rng(i)
        y = rng.integers(0, img.shape[0] - self.size + 1)
        x = rng.integers(0, img.shape[1] - self.size + 1)
        img = img[y:y + self.size, x:x + self.size]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        lab = torch.from_numpy(rgb2lab(img).astype(np.float32)).permute(2, 0, 1)
        return lab[:1], lab[1:]


def bench_train(photos: list, steps: int, batch: int = 32) -> dict:
    from PIL import Image

    from colorlab.data import prepare_stack
    images = [np.asarray(Image.open(p).convert("RGB")) for p in photos[:steps * batch]]
    t0 = time.perf_counter()
    data = LabDataset.from_rgb(prepare_stack(images, 144))
    prepare_s = time.perf_counter() - t0
    data.crop_size = 128
    result = {"prepare_s": prepare_s, "images": len(images)}
    for label, fine_tune in (("frozen", False), ("fine_tuned", True)):
        seed_everything(0)
        model = cm.build("mse", encoder="efficientnet_lite0", fine_tune=fine_tune)
        train(model, data, 2, batch_size=batch, progress=False)  # warm-up
        t0 = time.perf_counter()
        train(model, data, steps, batch_size=batch, progress=False)
        result[f"colorlab_{label}_img_s"] = steps * batch / (time.perf_counter() - t0)
    seed_everything(0)
    model = cm.build("mse", encoder="efficientnet_lite0").train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loader = torch.utils.data.DataLoader(SeedsDataset(photos[:steps * batch]), batch_size=batch,
                                         shuffle=True, num_workers=2)
    t0, seen = time.perf_counter(), 0
    for L, ab in loader:
        loss = torch.nn.functional.mse_loss(model(L), ab / 110.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(L)
    result["seeds_pipeline_img_s"] = seen / (time.perf_counter() - t0)
    result["ratio_frozen_vs_seeds"] = (result["colorlab_frozen_img_s"]
                                       / result["seeds_pipeline_img_s"])
    return result


def bench_colorize(photo_path: str, repeat: int = 3) -> dict:
    from PIL import Image
    from skimage import color, transform
    img = np.asarray(Image.open(photo_path).convert("RGB").resize((1000, 1000), Image.BICUBIC))
    model = cm.build("mse", encoder="efficientnet_lite0").eval()

    def ours():
        return model.colorize_image(img, size=128)

    def skimage_way():
        lab = color.rgb2lab(img)
        L_small = transform.resize(lab[..., 0], (128, 128), anti_aliasing=True)
        with torch.inference_mode():
            ab = (model.colorize(torch.from_numpy(L_small).float()[None, None])[0]
                  .permute(1, 2, 0).numpy())
        ab_full = transform.resize(ab, (1000, 1000), order=1)
        rgb = color.lab2rgb(np.concatenate([lab[..., :1], ab_full], axis=-1))
        return (rgb * 255).round().astype(np.uint8)

    times = {}
    for name, fn in (("colorlab_s", ours), ("skimage_s", skimage_way)):
        fn()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    times["ratio"] = times["skimage_s"] / times["colorlab_s"]
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", required=True, help="a folder of JPEG photos (searched recursively)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--sections", default="train,colorize")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    photos = sorted(str(f) for f in Path(args.photos).rglob("*")
                    if f.suffix.lower() in (".jpg", ".jpeg"))
    if not photos:
        raise SystemExit(f"{args.photos}: no JPEG photos found")
    out = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
           "torch": torch.__version__, "threads": torch.get_num_threads()}
    if "train" in args.sections:
        out["train"] = bench_train(photos, args.steps)
    if "colorize" in args.sections:
        out["colorize"] = bench_colorize(photos[0])
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
