"""Training speed: the data pipeline, per-model CPU training, and (when CUDA exists) GPU precision.

Run from the repository root::

    python benchmarks/training.py                      # all sections that can run here
    python benchmarks/training.py --sections data      # one section
    python benchmarks/training.py --json out.json      # also write the figures as JSON

Sections
--------
data
    Images/s of ``LabDataset.batch`` (Lab tensors prepared once, indexed per batch, augmentation
    drawn from a generator) against a naive per-item pipeline: ``PIL.Image.open`` +
    ``skimage.color.rgb2lab`` inside ``__getitem__`` and a standard ``DataLoader``, on the same
    CIFAR-10 images. Target: at least 20x. The one-off preparation is timed separately.
cpu
    Training images/s of every model (``build(name)`` defaults) through
    :func:`colorlab.train.train` on the CPU, 32x32 inputs.
gpu
    Only with CUDA: the ECCV16-width classification network (``width=1``) at 256x256, fp32 against
    bf16 + channels-last (and + ``torch.compile``); images/s and MFU = counted FLOPs per second
    (``torch.utils.flop_counter``, forward + backward) over the peak bf16 matmul rate measured on
    the same GPU. Targets: mixed precision >= 2x fp32, >= 35 % MFU.

CIFAR-10 is read from ``--cifar`` (default ``$COLORLAB_CIFAR10_DIR`` or ``/tmp/cifar10``), a folder
with ``train/<class>/*.jpg``; extract ``../shared/data/cifar10/cifar10-jpg.tar.gz`` there first.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from colorlab.train import seed_everything, train  # noqa: E402

MODELS = ("mse", "class", "class-rebal", "gan", "fusion")


def timed(fn, repeat=1):
    """Best wall time of ``repeat`` calls of ``fn`` (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class NaiveDataset(torch.utils.data.Dataset):
    """The per-item pipeline most tutorials write: decode and convert in ``__getitem__``."""

    def __init__(self, paths):
        self.paths = list(paths)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image
        from skimage.color import rgb2lab
        with Image.open(self.paths[i]) as im:
            lab = rgb2lab(np.asarray(im.convert("RGB"))).astype(np.float32)
        lab = torch.from_numpy(lab).permute(2, 0, 1)
        return lab[:1], lab[1:]


def bench_data(cifar: Path, limit: int, batch_size: int, workers: int) -> dict:
    from colorlab.data import load_dataset
    spec = f"folder:{cifar}"
    t_build, ds = timed(lambda: load_dataset(spec, split="train", size=32, limit=limit,
                                             cache=False))
    t_cached, ds = timed(lambda: load_dataset(spec, split="train", size=32, limit=limit))
    n = len(ds)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))

    def epoch_fast():
        g = torch.Generator().manual_seed(0)
        for s in range(0, n - batch_size + 1, batch_size):
            ds.batch(order[s:s + batch_size], g)
    t_fast, _ = timed(epoch_fast, repeat=3)
    ds.augment = True
    t_aug, _ = timed(epoch_fast, repeat=3)
    paths = ds.paths if ds.paths else sorted((cifar / "train").rglob("*.jpg"))[:n]
    loader = torch.utils.data.DataLoader(NaiveDataset(paths), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, drop_last=True)

    def epoch_naive():
        for _ in loader:
            pass
    t_naive, _ = timed(epoch_naive)
    used = (n // batch_size) * batch_size
    fast, naive, aug = used / t_fast, used / t_naive, used / t_aug
    return {"images": n, "batch_size": batch_size, "naive_workers": workers,
            "labdataset_images_per_s": fast, "naive_images_per_s": naive, "speedup": fast / naive,
            "labdataset_augmented_images_per_s": aug, "augmented_speedup": aug / naive,
            "prepare_once_s": t_build, "reload_from_cache_s": t_cached}


def bench_cpu(steps: int, batch_size: int, size: int = 32) -> dict:
    import colorlab.models as cm
    from colorlab.data import LabDataset
    seed_everything(0)
    data = LabDataset.from_rgb(torch.rand(256, 3, size, size))
    out = {}
    for name in MODELS:
        model = cm.build(name)
        kw = {"pretrain_steps": 0} if model.kind == "gan" else {}
        warm = max(2, steps // 4)
        history = train(model, data, warm + steps, batch_size=batch_size, device="cpu",
                        progress=False, log_every=warm, **kw)
        # rows after the first (warm-up) window, weighted by their steps
        rows = history[1:]
        n_img = sum((r["step"] - p["step"]) * batch_size for p, r in zip(history, rows))
        secs = sum((r["step"] - p["step"]) * batch_size / r["images_per_s"]
                   for p, r in zip(history, rows))
        params = sum(p.numel() for p in model.parameters())
        out[name] = {"images_per_s": n_img / secs, "params": params, "size": size,
                     "batch_size": batch_size}
        print(f"  {name:<12} {out[name]['images_per_s']:8.1f} images/s   "
              f"({params / 1e6:.2f} M params)")
    return out


def peak_bf16_flops(n: int = 8192, repeat: int = 20) -> float:
    """Measured peak: FLOP/s of a large bf16 matmul on the current GPU."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * repeat / (time.perf_counter() - t0)


def flops_per_image(model, size: int) -> float:
    """Forward + backward FLOPs of one training image, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.full((2, 1, size, size), 50.0, device="cuda")
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def bench_gpu(steps: int, batch_size: int, size: int = 256, compile_too: bool = True) -> dict:
    import colorlab.models as cm
    from colorlab.data import LabDataset
    peak = peak_bf16_flops()
    data = LabDataset.from_rgb(torch.rand(2 * batch_size, 3, size, size))
    settings = {"fp32": dict(amp=False), "bf16+channels_last": dict(amp=True, channels_last=True)}
    if compile_too:
        settings["bf16+channels_last+compile"] = dict(amp=True, channels_last=True, compile=True)
    out = {"gpu": torch.cuda.get_device_name(0), "peak_bf16_tflops": peak / 1e12, "size": size,
           "batch_size": batch_size}
    fpi = None
    for label, kw in settings.items():
        seed_everything(0)
        model = cm.build("class", width=1.0).cuda()
        fpi = fpi or flops_per_image(model, size)
        warm = 10
        history = train(model, data, warm + steps, batch_size=batch_size, device="cuda",
                        progress=False, log_every=warm, **kw)
        rows = history[1:]
        ips = np.mean([r["images_per_s"] for r in rows])
        out[label] = {"images_per_s": float(ips), "mfu": float(ips * fpi / peak)}
        print(f"  {label:<28} {ips:8.1f} images/s   MFU {100 * ips * fpi / peak:5.1f} %")
    out["gflops_per_image_fwd_bwd"] = fpi / 1e9
    out["bf16_speedup"] = out["bf16+channels_last"]["images_per_s"] / out["fp32"]["images_per_s"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default="data,cpu,gpu")
    p.add_argument("--cifar", default=os.environ.get("COLORLAB_CIFAR10_DIR", "/tmp/cifar10"))
    p.add_argument("--limit", type=int, default=5000, help="CIFAR-10 images for the data section")
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader workers of the naive pipeline")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: steady on a shared CPU)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    sections = set(a.sections.split(","))
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                         f"torch {torch.__version__}, {a.threads} threads"}
    print(result["date"], "|", result["machine"])
    if "data" in sections:
        cifar = Path(a.cifar)
        if (cifar / "train").is_dir():
            print(f"data pipeline, CIFAR-10 ({a.limit} images, 32x32):")
            r = result["data"] = bench_data(cifar, a.limit, 64, a.workers)
            print(f"  LabDataset.batch {r['labdataset_images_per_s']:10.0f} images/s\n"
                  f"  ... augmented    {r['labdataset_augmented_images_per_s']:10.0f} images/s "
                  f"(flip + crop; {r['augmented_speedup']:.0f}x the naive pipeline)\n"
                  f"  naive DataLoader {r['naive_images_per_s']:10.0f} images/s "
                  f"({a.workers} workers)\n  speed-up {r['speedup']:.0f}x (target >= 20x); "
                  f"prepared once in {r['prepare_once_s']:.1f} s, "
                  f"reloaded from cache in {r['reload_from_cache_s']:.2f} s")
        else:
            print(f"data: skipped, no CIFAR-10 folder at {cifar}")
    if "cpu" in sections:
        print(f"training on the CPU (32x32, batch 16, {a.steps} timed steps):")
        result["cpu"] = bench_cpu(a.steps, 16)
    if "gpu" in sections:
        if torch.cuda.is_available():
            print("GPU: ECCV16 width, 256x256:")
            result["gpu"] = bench_gpu(a.steps, 32)
        else:
            print("gpu: skipped, CUDA is not available here")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
