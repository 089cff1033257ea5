"""GL-MCM and LoCoOp on the synthetic benchmark: one run each of zero-shot CLIP, CoOp and LoCoOp, scores MCM and GL-MCM.

The study's settings (configs/synthetic.yaml: clipood-tiny pretrained on synthetic data, 16 shots, seed 1, 10 views of
crop 0.5-1, CPU, fp32), on a fresh feature cache, in an order that isolates what local features cost:

1. zero-shot, scores [mcm]          -> extracts the global features only (train views, validation, test, OOD);
2. zero-shot, scores [mcm, glmcm]   -> adds the local features of the ID test and OOD sets (its own cache files);
3. CoOp,      scores [mcm, glmcm]   -> everything cached;
4. LoCoOp,    scores [mcm, glmcm]   -> adds the local features of the training views.

Prints accuracy, AUROC / FPR95 (MCM rule) per score and OOD set at each temperature, each run's seconds, and the
cache sizes of the global and local feature files; writes them as JSON with --out.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/local_ood.py --threads 1 --out /tmp/local_ood.json
"""
import argparse
import json
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="feature cache root (default: a fresh temporary folder)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from clipood.experiment import run_experiment
    cache = Path(args.cache or tempfile.mkdtemp(prefix="local-ood-"))
    base = dict(dataset="synthetic", ood_datasets=["synthetic-near", "synthetic-far"], hparams={}, backbone="clipood-tiny",
                pretrained="synthetic", shots=16, seed=1, views=10, crop_scale=[0.5, 1.0], max_shots=16, val_per_class=4,
                temperatures=[0.1, 1.0], device="cpu", precision="fp32", batch_size=256, num_workers=0)
    out = []
    for method, scores in (("zeroshot", ["mcm"]), ("zeroshot", ["mcm", "glmcm"]), ("coop", ["mcm", "glmcm"]),
                           ("locoop", ["mcm", "glmcm"])):
        t0 = time.time()
        r = run_experiment(method=method, scores=scores, **base, cache_dir=str(cache))
        wall = time.time() - t0
        m = r.metrics
        acc = float(m[m.metric == "id_accuracy"].value.iloc[0])
        det = {f"{row.score}@{row.temperature:g}/{row.ood_dataset}/{row.metric}": round(100 * row.value, 2)
               for row in m[m.metric.isin(["auroc", "fpr95_mcm"])].itertuples()}
        rec = dict(method=method, scores=scores, accuracy=round(100 * acc, 2), wall_s=round(wall, 1),
                   seconds=r.resolved["seconds"], local_features=r.resolved.get("local_features"),
                   skipped=r.resolved.get("skipped_scores"), metrics=det)
        out.append(rec)
        print(f"{method:9s} {','.join(scores):10s} acc {rec['accuracy']:.1f}%  seconds {rec['seconds']}", flush=True)
        for ood in base["ood_datasets"]:
            for s in scores:
                for t in base["temperatures"]:
                    k = f"{s}@{t:g}/{ood}"
                    print(f"    {ood:15s} {s:6s} tau={t:<4g} AUROC {det[k + '/auroc']:6.2f}  FPR95 {det[k + '/fpr95_mcm']:6.2f}")
    files = list((cache / "features").rglob("*.pt"))
    size = lambda fs: sum(f.stat().st_size for f in fs)
    local = [f for f in files if "-local-" in f.name]
    sizes = dict(global_mb=round(size([f for f in files if f not in local]) / 2**20, 2), local_mb=round(size(local) / 2**20, 2),
                 local_files={f.name: round(f.stat().st_size / 2**20, 2) for f in local})
    print(f"feature cache {cache}: global files {sizes['global_mb']} MiB, local files {sizes['local_mb']} MiB "
          f"({', '.join(f'{k}: {v} MiB' for k, v in sizes['local_files'].items())})")
    if args.out: Path(args.out).write_text(json.dumps(dict(runs=out, cache=sizes), indent=1))


if __name__ == "__main__":
    main()
