#!/usr/bin/env python
"""The GPU paths, exercised and timed on one CUDA machine (CI has no GPU; run this where one is lent).

1. Pretraining: the default recipe of `clipood.pretrain` on CUDA (time, images/s) and the quality bars of
   the resulting checkpoint (`evaluate`).
2. Methods on CUDA vs CPU: every method of `clipood.methods.METHODS` fitted on the synthetic benchmark (16
   shots, 10 augmented views at crop scale 0.5-1, the pretrained tiny CLIP) once on CUDA and once on the CPU,
   same seed and features; ID accuracy and MCM AUROC (near/far) of each, and the largest difference between
   the two devices' similarities (training-free methods must agree to float tolerance; trained methods
   differ by kernel rounding only, so their metrics must agree closely).
3. Image-tower throughput of ViT-B-16 (random weights; speed does not depend on them) on CUDA, fp32 vs
   fp16 autocast, one run (ratio measured in the same run).

    python benchmarks/gpu_check.py --json gpu.json                        # all three (about 10 min on an H100)
    python benchmarks/gpu_check.py --skip pretrain vit --ckpt X.pt --quick  # methods only, short schedules
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch


DEVICES = ("cuda", "cpu")


def pretrain_on_gpu(cache_dir):
    from clipood.pretrain import ensure_pretrained, evaluate, failed_bars, format_metrics
    from clipood.models import load_clip
    t0 = time.time()
    path = ensure_pretrained("clipood-tiny", 0, cache_dir, device="cuda")
    secs = time.time() - t0
    log = json.loads(path.with_suffix(".json").read_text())
    clip = load_clip("clipood-tiny", pretrained=str(path), seed=0)
    m = evaluate(clip)
    print(f"[pretrain] CUDA: {secs:.1f} s wall ({log['images_per_s']:.0f} img/s); {format_metrics(m)}; "
          f"failed bars: {failed_bars(m)}", flush=True)
    return path, dict(seconds=secs, images_per_s=log["images_per_s"], metrics=m, failed=failed_bars(m))


QUICK = dict(coop=dict(epochs=10), cocoop=dict(epochs=1), locoop=dict(epochs=10), tipf=dict(epochs=5))  # --quick schedules


def methods_cuda_vs_cpu(ckpt, cache_dir, quick=False):
    from clipood.data import DATASETS, get_dataset
    from clipood.fewshot import few_shot, validation_split
    from clipood.features import image_features
    from clipood.methods import METHODS, build_method
    from clipood.metrics import ood_metrics
    from clipood.models import load_clip
    from clipood.scores import compute
    import clipood.synthetic  # noqa: F401  (registers the synthetic datasets)
    clip = load_clip("clipood-tiny", pretrained=str(ckpt), seed=0)
    info = DATASETS["synthetic"]
    tr, te = get_dataset("synthetic", "train"), get_dataset("synthetic", "test")
    kw = dict(cache_dir=cache_dir, progress=False)
    pool = few_shot(tr, 16, 1)
    local = any(getattr(c, "needs_local", False) for c in METHODS.values())  # LoCoOp trains on the views' local features
    views, y, *views_local = image_features(clip, tr, views=10, indices=pool, normalize=False, seed=1, crop_scale=(0.5, 1.0),
                                            local=local, **kw)
    val_idx = validation_split(tr, 4, 1, max_shots=16)
    val_f, val_y = image_features(clip, tr, indices=val_idx, **kw)
    test_f, test_y = image_features(clip, te, **kw)
    ood = {o: image_features(clip, get_dataset(o, "test"), **kw)[0] for o in ("synthetic-near", "synthetic-far")}
    rows = []
    for name in METHODS:
        res = {}
        for dev in DEVICES:
            t0 = time.time()
            m = build_method(name, load_clip("clipood-tiny", pretrained=str(ckpt), seed=0), list(info.classnames),
                             list(info.templates), seed=1, device=dev, progress=False,
                             **(QUICK.get(name, {}) if quick else {}))
            m.fit(views, y, val_f, val_y, **(dict(train_local=views_local[0]) if getattr(m, "needs_local", False) else {}))
            sims = {k: m.similarities(v).float().cpu() for k, v in dict(test=test_f, **ood).items()}
            secs = time.time() - t0
            s = {k: compute("mcm", v, temperature=1.0) for k, v in sims.items()}
            res[dev] = dict(seconds=secs, sims=sims,
                            acc=float((sims["test"].argmax(-1) == test_y).float().mean()),
                            near=ood_metrics(s["test"], s["synthetic-near"])["auroc"],
                            far=ood_metrics(s["test"], s["synthetic-far"])["auroc"])
        diff = max(float((res[DEVICES[0]]["sims"][k] - res[DEVICES[1]]["sims"][k]).abs().max()) for k in res[DEVICES[1]]["sims"])
        row = dict(method=name, max_abs_sim_diff=diff, **{f"{d}_{k}": res[d][k] for d in res for k in ("seconds", "acc", "near", "far")})
        print("[methods] " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        rows.append(row)
    return rows


def vit_throughput(n=2048, batch=256):
    from clipood.models import load_clip
    clip = load_clip("ViT-B-16", pretrained=None, seed=0)
    model = clip.model.cuda().eval()
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    out = {}
    for mode in ("fp32", "fp16-autocast"):
        ctx = torch.autocast("cuda", dtype=torch.float16) if mode != "fp32" else torch.autocast("cuda", enabled=False)
        with torch.no_grad(), ctx:
            for _ in range(2): model.encode_image(x)
            torch.cuda.synchronize(); t0 = time.time()
            for _ in range(n // batch): model.encode_image(x)
            torch.cuda.synchronize()
        out[mode] = n / (time.time() - t0)
    out["ratio"] = out["fp16-autocast"] / out["fp32"]
    print(f"[vit-b-16] images/s on {torch.cuda.get_device_name()}: fp32 {out['fp32']:.0f}, fp16 autocast "
          f"{out['fp16-autocast']:.0f} ({out['ratio']:.2f}x)", flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--cache-dir", default=None, help="cache root (default: a temporary folder)")
    p.add_argument("--skip", nargs="*", default=[], choices=["pretrain", "methods", "vit"])
    p.add_argument("--ckpt", default=None, help="a synthetic-pretrained clipood-tiny checkpoint for the methods (default: "
                   "the one step 1 pretrains)")
    p.add_argument("--quick", action="store_true", help=f"short schedules for the trained methods: {QUICK}")
    a = p.parse_args(argv)
    if not torch.cuda.is_available(): raise SystemExit("gpu_check.py needs a CUDA device (torch.cuda.is_available() is False)")
    cache = a.cache_dir or tempfile.mkdtemp(prefix="clipood-gpu-")
    os.environ["CLIPOOD_CACHE"] = cache
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; cache {cache}", flush=True)
    res = {}
    ckpt = a.ckpt
    if "pretrain" not in a.skip: ckpt, res["pretrain"] = pretrain_on_gpu(cache)
    if "methods" not in a.skip:
        if ckpt is None:
            from clipood.pretrain import ensure_pretrained
            ckpt = ensure_pretrained("clipood-tiny", 0, cache)
        res["methods"] = methods_cuda_vs_cpu(ckpt, cache, a.quick)
    if "vit" not in a.skip: res["vit_b16"] = vit_throughput()
    if a.json:
        with open(a.json, "w") as f: json.dump(res, f, indent=1, default=float)


if __name__ == "__main__":
    main()
