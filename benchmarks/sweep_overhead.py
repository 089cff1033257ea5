"""Per-run overhead of a sweep: a fresh kernel per run vs one warm kernel per worker (clipood.sweep, `reuse_kernel`).

Runs the same small grid of the offline benchmark (zero-shot and Tip-Adapter, 16 shots, seeds 1-3; CoOp with 2 epochs)
three times with one worker: a warm-up pass that fills the feature cache, then a pass with `reuse_kernel: false` and one
with `reuse_kernel: true`. Prints, per pass, the median wall time of a run, the median time spent inside
`run_experiment` (params.json) and the difference (kernel start, imports, notebook bookkeeping), the ratio of the two
passes, and the largest difference between their metrics (they must agree to float32 rounding).

Usage: python benchmarks/sweep_overhead.py [workdir]
"""
import json, statistics, sys, tempfile, textwrap, time
from pathlib import Path
import pandas as pd
from clipood.sweep import sweep

work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="clipood-overhead-"))
repo = Path(__file__).resolve().parents[1]

def grid(name, reuse):
    p = work/f"{name}.yaml"
    p.write_text(textwrap.dedent(f"""\
        name: {name}
        notebook: {repo}/nbs/experiments/run.ipynb
        params: {{dataset: synthetic, ood_datasets: [synthetic-near, synthetic-far], backbone: clipood-tiny, pretrained: synthetic,
                 views: 10, crop_scale: [0.5, 1.0], max_shots: 16, val_per_class: 4, scores: [ms, mcm, msp, energy, entropy],
                 temperatures: [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}}
        grid:
          - {{method: [zeroshot, tip], shots: [16], seed: [1, 2, 3]}}
          - {{method: [coop], shots: [16], seed: [1, 2, 3], hparams: [{{epochs: 2}}]}}
        options: {{workers: 1, reuse_kernel: {str(reuse).lower()}}}
        """))
    return p

def measure(name, reuse):
    t0 = time.time()
    res = sweep(grid(name, reuse), runs_dir=work/"runs", progress=False)
    wall = time.time() - t0
    assert not res["failed"], res["failed"]
    runs = [d for d in (work/"runs"/name).iterdir() if (d/"status.json").exists()]
    run_wall = [json.loads((d/"status.json").read_text())["wall_s"] for d in runs]
    inside = [json.loads((d/"params.json").read_text())["resolved"]["seconds"]["total"] for d in runs]
    m = pd.concat([pd.read_parquet(d/"metrics.parquet") for d in runs])
    return dict(sweep_s=wall, run_s=statistics.median(run_wall), inside_s=statistics.median(inside),
                overhead_s=statistics.median(w - i for w, i in zip(run_wall, inside)), n=len(runs)), m

measure("warmup", True)
cold, m_cold = measure("fresh", False)
warm, m_warm = measure("warm", True)
key = ["method", "seed", "ood_dataset", "score", "temperature", "metric"]
d = m_cold.merge(m_warm, on=key, suffixes=("_fresh", "_warm"))
diff = float((d.value_fresh - d.value_warm).abs().max())
print(pd.DataFrame({"fresh kernel per run": cold, "warm kernel per worker": warm}).round(2).to_string())
print(f"\nratio fresh / warm: whole sweep {cold['sweep_s'] / warm['sweep_s']:.2f}x, median run {cold['run_s'] / warm['run_s']:.2f}x, "
      f"overhead {cold['overhead_s'] / max(warm['overhead_s'], 1e-9):.1f}x; largest metric difference {diff:.2e} over {len(d)} values")
