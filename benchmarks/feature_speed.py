#!/usr/bin/env python
"""Images/s of clipood's feature extraction (`clipood.features.image_features`), per model.

Generates `--n` JPEG files in a temporary folder (real JPEG decoding, like a real dataset), then for each
model (random weights: the speed does not depend on them) measures

- `decode`   : DataLoader throughput of decoding + the model's eval transform alone (no model),
- `forward`  : image-tower forwards on already-transformed batches (no decoding),
- `end2end`  : `image_features(..., cache=False)`: decoding + transform + forwards, what users wait for.

Examples:
    python benchmarks/feature_speed.py --n 256 --batch-size 64 --threads 2
    python benchmarks/feature_speed.py --models ViT-B-16 --device cuda --precision fp16 \
        --batch-size 256 --num-workers 8 --n 5000
This is a benchmark, not a test; nothing depends on its output.
"""
import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset


class JpegFolder(Dataset):
    "JPEG files with the attributes clipood datasets have (targets, classnames, name, split, fingerprint)"
    def __init__(self, paths, name="bench-jpegs", split="test"):
        self.paths = [str(p) for p in paths]
        self.targets = [i % 10 for i in range(len(self.paths))]
        self.classnames = [f"class {c}" for c in range(10)]
        self.name, self.split = name, split
        self.fingerprint = f"{name}-{len(self.paths)}"
        self.transform = None
    def __len__(self): return len(self.paths)
    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            img = im.convert("RGB")
        return (self.transform(img) if self.transform else img), self.targets[i]


def make_jpegs(folder: Path, n: int, px: int, seed: int = 0) -> list:
    "n px-by-px JPEGs (smooth colour fields + noise, so they compress like photos, not like white noise)"
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:px, 0:px] / px
    paths = []
    for i in range(n):
        a, b, c = rng.random(3) * 6
        base = np.stack([np.sin(a * xx + b * yy), np.cos(b * xx - c * yy), np.sin(c * (xx + yy) + a)], -1)
        img = ((base * 0.4 + 0.5 + rng.normal(0, 0.05, base.shape)).clip(0, 1) * 255).astype(np.uint8)
        p = folder / f"{i:06d}.jpg"
        Image.fromarray(img).save(p, quality=90)
        paths.append(p)
    return paths


def _sync(device):
    if torch.device(device).type == "cuda": torch.cuda.synchronize()


def bench_model(name, ds, args):
    from clipood.features import image_features
    from clipood.models import load_clip

    t0 = time.perf_counter()
    clip = load_clip(name, None, device=args.device, precision=args.precision)
    load_s = time.perf_counter() - t0
    n = len(ds)
    kw = dict(cache=False, batch_size=args.batch_size, num_workers=args.num_workers, progress=False,
              autocast=args.autocast)

    # decode + transform only
    ds.transform = clip.preprocess
    loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.num_workers)
    t0 = time.perf_counter()
    batches = [x for x, _ in loader]
    decode_s = time.perf_counter() - t0
    ds.transform = None

    # forwards only, on pre-transformed batches
    model = clip.model
    dtype = next(model.visual.parameters()).dtype
    ctx = (torch.autocast(device_type="cuda", dtype={"fp16": torch.float16, "bf16": torch.bfloat16}[args.autocast])
           if args.autocast else torch.autocast(device_type="cpu", enabled=False))
    with torch.no_grad(), ctx:
        model.encode_image(batches[0].to(args.device, dtype=dtype))  # warm-up
        _sync(args.device)
        t0 = time.perf_counter()
        for x in batches:
            model.encode_image(x.to(args.device, dtype=dtype)).float().cpu()
        _sync(args.device)
        fwd_s = time.perf_counter() - t0

    # end to end through image_features (warm-up on one batch first)
    image_features(clip, ds, indices=np.arange(min(args.batch_size, n)), **kw)
    t0 = time.perf_counter()
    feats, _ = image_features(clip, ds, **kw)
    _sync(args.device)
    e2e_s = time.perf_counter() - t0
    assert feats.shape[0] == n
    return dict(model=name, n=n, load_s=round(load_s, 2), decode_ips=round(n / decode_s, 1),
                forward_ips=round(n / fwd_s, 1), end2end_ips=round(n / e2e_s, 1),
                input_px=int(batches[0].shape[-1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["clipood-tiny", "ViT-B-16"], help="open_clip model names")
    p.add_argument("--n", type=int, default=256, help="number of JPEG images")
    p.add_argument("--image-px", type=int, default=256, help="side of the generated JPEGs (before the eval transform)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers for decoding")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"], help="weights precision (load_clip)")
    p.add_argument("--autocast", default=None, choices=["fp16", "bf16"], help="torch.autocast (CUDA only)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="clipood-bench-"))
    try:
        t0 = time.perf_counter()
        ds = JpegFolder(make_jpegs(tmp, args.n, args.image_px))
        gen_s = time.perf_counter() - t0
        env = dict(device=args.device, precision=args.precision, autocast=args.autocast,
                   batch_size=args.batch_size, num_workers=args.num_workers, threads=torch.get_num_threads(),
                   torch=torch.__version__, cpu=platform.processor() or platform.machine(),
                   gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                   jpeg_px=args.image_px, jpeg_gen_s=round(gen_s, 2))
        print("setup:", json.dumps(env))
        rows = []
        for name in args.models:
            r = bench_model(name, ds, args)
            rows.append(r)
            print(f"{r['model']:>16}: end2end {r['end2end_ips']:>9.1f} img/s | decode+transform only "
                  f"{r['decode_ips']:>9.1f} img/s | forward only {r['forward_ips']:>9.1f} img/s "
                  f"(n={r['n']}, input {r['input_px']} px, load {r['load_s']} s)", flush=True)
        if args.json: Path(args.json).write_text(json.dumps(dict(setup=env, results=rows), indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
