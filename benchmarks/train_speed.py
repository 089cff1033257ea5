#!/usr/bin/env python
"""CoOp training speed: the reference-style path vs clipood's fast path, and their accuracy parity.

Reference-style path (`CoOp.fit_images`): every step augments the batch's images, encodes them with
the frozen image tower and runs the text tower on full 77-token prompts -- what KaiyangZhou/CoOp does.
Fast path (`CoOp.fit`): trains on cached augmented-view features (encoded once, before training) and
runs the text tower on prompts cut exactly after the longest EOT token.

A third run, "trunc_only", is the fast path without the shared-prefix text tower (`share_prefix=False`):
cached features + exact truncation only.

Both run the same number of steps (batch 32) on the same few-shot set with the same seed. The table
gives seconds per step of each path (median over steps, the first step excluded when there are
several), their ratio, the one-time cost of caching the features the fast path trained on, and the
final accuracy of each path on a held-out set (meaningless, i.e. chance, for random weights: speed does
not depend on the weights).

    .venv/bin/python benchmarks/train_speed.py                      # speed table (ViT-B-16 37/1000 classes, tiny)
    .venv/bin/python benchmarks/train_speed.py --only tiny --parity # + accuracy parity, full schedule, 3 seeds

Parity: on the synthetic benchmark with the pretrained tiny CLIP (`clipood.checkpoints.load_synthetic(
"clipood-tiny")`), 16 shots, CoOp's full schedule (200 epochs), both paths, seeds 0 1 2;
test accuracy mean +- std per path. The fast path caches `--views` augmented views per image (one per
epoch up to that cap, then reshuffled cycles: `clipood.base.view_schedule`).
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from PIL import Image


class NoiseImages(torch.utils.data.Dataset):
    "n random RGB images with labels i % n_classes (content is irrelevant for speed)."
    def __init__(self, n, n_classes, size=64, seed=0, split="train"):
        self.n, self.size, self.seed, self.split = n, size, seed, split
        self.targets = [i % n_classes for i in range(n)]
        self.name, self.fingerprint = f"noise{n_classes}", f"noise-{n}-{n_classes}-{size}-{seed}-{split}"
    def __len__(self): return self.n
    def __getitem__(self, i):
        rng = np.random.default_rng((self.seed, i))
        return Image.fromarray(rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)), self.targets[i]


# Oxford-IIIT Pet's 37 breeds (cleaned names, CoOp's class order), for realistic prompt lengths
PETS = ["abyssinian", "american bulldog", "american pit bull terrier", "basset hound", "beagle", "bengal", "birman",
        "bombay", "boxer", "british shorthair", "chihuahua", "egyptian mau", "english cocker spaniel", "english setter",
        "german shorthaired", "great pyrenees", "havanese", "japanese chin", "keeshond", "leonberger", "maine coon",
        "miniature pinscher", "newfoundland", "persian", "pomeranian", "pug", "ragdoll", "russian blue",
        "saint bernard", "samoyed", "scottish terrier", "shiba inu", "siamese", "sphynx",
        "staffordshire bull terrier", "wheaten terrier", "yorkshire terrier"]


def per_step(history):
    """Median seconds per step over all epochs, excluding the very first step when there are several.
    With `class_chunk` the extra no-grad text forward that chunking costs is subtracted (an unchunked step
    does not pay it)."""
    times = [t - o for rec in history for t, o in zip(rec["step_seconds"], rec["chunking_overhead_seconds"])]
    return statistics.median(times[1:] if len(times) > 1 else times)


def accuracy(method, feats, labels):
    return (method.similarities(feats).argmax(-1) == labels).double().mean().item()


def speed_row(label, clip, classnames, templates, train_ds, train_idx, test_ds, steps, batch_size=32, seed=0,
              class_chunk=None):
    from clipood.coop import CoOp
    from clipood.features import image_features
    n_epochs = max(1, -(-steps * batch_size // len(train_idx)))  # enough epochs for `steps` steps
    kw = dict(seed=seed, epochs=n_epochs, batch_size=batch_size, progress=False)
    test_f, test_y = image_features(clip, test_ds, views=1, cache=False, progress=False)
    # reference-style path
    t = time.perf_counter()
    ref = CoOp(clip, classnames, templates, class_chunk=class_chunk, **kw).fit_images(train_ds, train_idx)
    ref_total = time.perf_counter() - t
    # fast path: cache one augmented view per epoch (one-time cost), then train on features
    t = time.perf_counter()
    views = max(2, n_epochs)
    feats, labels = image_features(clip, train_ds, views=views, indices=train_idx, normalize=False,
                                   cache=False, progress=False, seed=seed)
    cache_s = time.perf_counter() - t
    fast = CoOp(clip, classnames, templates, **kw).fit(feats, labels)
    trunc = CoOp(clip, classnames, templates, share_prefix=False, class_chunk=class_chunk,  # the issue's two levers only
                 **kw).fit(feats, labels)
    r, f = per_step(ref.history), per_step(fast.history)
    n_steps = sum(len(h["step_seconds"]) for h in fast.history)
    return dict(config=label, classes=len(classnames), steps=n_steps, ref_s_per_step=r, fast_s_per_step=f,
                ratio=r / f, trunc_only_s_per_step=per_step(trunc.history), ratio_trunc_only=r / per_step(trunc.history),
                cache_s=cache_s, cache_s_per_step_amortised=cache_s / n_steps,
                ref_total_s=ref_total, prompt_tokens=f"{fast.trunc_len} vs {fast.full_len}",
                ref_acc=accuracy(ref, test_f, test_y), fast_acc=accuracy(fast, test_f, test_y))


def vitb16_rows(n_classes_list, steps_for, ref_chunk=125):
    from clipood.data import DATASETS
    from clipood.models import load_clip
    clip = load_clip("ViT-B-16", pretrained=None, seed=0)
    rows = []
    for C in n_classes_list:
        if C == 37: classnames, templates = PETS, ["a photo of a {}, a type of pet."]
        else: classnames, templates = list(DATASETS["imagenet"].classnames)[:C], list(DATASETS["imagenet"].templates)[:1]
        assert len(classnames) == C, (C, len(classnames))
        steps = steps_for(C)
        train = NoiseImages(steps * 32, C, split="train"); test = NoiseImages(64, C, seed=1, split="test")
        chunk = ref_chunk if C > ref_chunk else None
        rows.append(speed_row(f"ViT-B-16 (random) {C} cls" + (f" [class_chunk {chunk}]" if chunk else ""), clip,
                              classnames, templates, train, np.arange(len(train)), test, steps, class_chunk=chunk))
        print(fmt([rows[-1]], header=len(rows) == 1), flush=True)
    return rows


def tiny_setup(pretrained, shots=16, seed=0):
    from clipood.data import get_dataset
    from clipood.models import load_clip
    from clipood.checkpoints import load_synthetic
    clip = load_synthetic("clipood-tiny", seed=0) if pretrained == "synthetic" else load_clip("clipood-tiny", pretrained=pretrained, seed=0)
    train, test = get_dataset("synthetic", "train"), get_dataset("synthetic", "test")
    return clip, train, test


def tiny_rows(pretrained, steps):
    from clipood.fewshot import few_shot
    clip, train, test = tiny_setup(pretrained)
    idx = few_shot(train, 16, 0)
    row = speed_row(f"clipood-tiny ({pretrained or 'random'}) {len(train.classnames)} cls", clip,
                    list(train.classnames), list(getattr(train, "templates", None) or ["a photo of a {}."]),
                    train, idx, test, steps)
    print(fmt([row]), flush=True)
    return [row]


def parity(pretrained, seeds, views, shots=16, crop_scale=(0.08, 1.0)):
    from clipood.coop import CoOp
    from clipood.fewshot import few_shot
    from clipood.features import image_features
    clip, train, test = tiny_setup(pretrained)
    classnames = list(train.classnames)
    templates = list(getattr(train, "templates", None) or ["a photo of a {}."])
    test_f, test_y = image_features(clip, test, views=1, progress=False)
    out = {"fast": [], "ref": [], "fast_s": [], "ref_s": [], "zeroshot": None}
    from clipood.zeroshot import ZeroShotCLIP
    out["zeroshot"] = accuracy(ZeroShotCLIP(clip, classnames, templates), test_f, test_y)
    for s in seeds:
        idx = few_shot(train, shots, s)
        kw = dict(seed=s, shots=shots, dataset="synthetic", progress=True)
        t = time.perf_counter()
        feats, labels = image_features(clip, train, views=views, indices=idx, normalize=False, seed=s, progress=False,
                                       crop_scale=crop_scale)
        fast = CoOp(clip, classnames, templates, **kw).fit(feats, labels)
        out["fast_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = CoOp(clip, classnames, templates, **kw).fit_images(train, idx, crop_scale=crop_scale)
        out["ref_s"].append(time.perf_counter() - t)
        out["fast"].append(accuracy(fast, test_f, test_y)); out["ref"].append(accuracy(ref, test_f, test_y))
        print(f"seed {s}: epochs {len(fast.history)}  fast acc {out['fast'][-1]:.4f} ({out['fast_s'][-1]:.0f} s incl. "
              f"caching {views} views)  reference acc {out['ref'][-1]:.4f} ({out['ref_s'][-1]:.0f} s)  "
              f"train loss fast {fast.history[-1]['loss']:.3f} ref {ref.history[-1]['loss']:.3f}", flush=True)
    ms = lambda v: f"{100 * np.mean(v):.2f} +- {100 * np.std(v, ddof=1) if len(v) > 1 else 0:.2f}"
    print(f"\nparity (clipood-tiny {pretrained}, {shots} shots, full schedule, crop {tuple(crop_scale)}, seeds {list(seeds)}): "
          f"zero-shot {100 * out['zeroshot']:.2f} | fast {ms(out['fast'])} | reference {ms(out['ref'])} | "
          f"time fast {np.mean(out['fast_s']):.0f} s vs reference {np.mean(out['ref_s']):.0f} s per seed")
    return out


def fmt(rows, header=True):
    cols = ["config", "steps", "prompt_tokens", "ref_s_per_step", "fast_s_per_step", "ratio", "trunc_only_s_per_step",
            "ratio_trunc_only", "cache_s", "ref_acc", "fast_acc"]
    lines = [" | ".join(cols)] if header else []
    for r in rows:
        lines.append(" | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", default=["vitb16-37", "vitb16-1000", "tiny"],
                   help="configs to time: vitb16-37 vitb16-1000 tiny")
    p.add_argument("--steps", type=int, default=3, help="steps for ViT-B-16 at 37 classes")
    p.add_argument("--steps-1000", type=int, default=2, help="steps for ViT-B-16 at 1000 classes")
    p.add_argument("--steps-tiny", type=int, default=20, help="steps for the tiny model")
    p.add_argument("--pretrained", default="synthetic", help="tiny model weights: 'synthetic' or 'none'")
    p.add_argument("--parity", action="store_true", help="also run the accuracy-parity experiment")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--views", type=int, default=50, help="parity: cached augmented views per image (the cap)")
    p.add_argument("--crop-scale", type=float, nargs=2, default=[0.08, 1.0],
                   help="parity: RandomResizedCrop area range of both paths (CoOp's 0.08 1; the synthetic study: 0.5 1)")
    p.add_argument("--class-chunk", type=int, default=125,
                   help="ViT-B-16 with more classes than this: the reference and truncation-only paths backpropagate "
                        "through the text tower in chunks of this many prompts (memory; the 77-token reference "
                        "step at 1000 classes needs ~20 GB otherwise). The chunking's extra no-grad forward is "
                        "timed and subtracted.")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    pretrained = None if a.pretrained.lower() == "none" else a.pretrained
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU" if not torch.cuda.is_available()
          else f"GPU {torch.cuda.get_device_name()}", flush=True)
    rows = []
    Cs = [C for C, k in ((37, "vitb16-37"), (1000, "vitb16-1000")) if k in a.only]
    if Cs: rows += vitb16_rows(Cs, lambda C: a.steps if C == 37 else a.steps_1000, a.class_chunk)
    if "tiny" in a.only: rows += tiny_rows(pretrained, a.steps_tiny)
    print("\n" + fmt(rows))
    res = dict(speed=rows)
    if a.parity: res["parity"] = parity(pretrained, a.seeds, a.views, crop_scale=tuple(a.crop_scale))
    if a.json:
        with open(a.json, "w") as f: json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
