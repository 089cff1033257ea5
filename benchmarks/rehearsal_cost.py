"""What each method costs in the paper rehearsal (configs/paper-rehearsal.yaml): seconds and peak memory per run.

    python benchmarks/rehearsal_cost.py runs/paper-rehearsal [--wall SECONDS] [--note TEXT]

Reads every finished run's params.json (`resolved.seconds`, `resolved.memory`, written by
clipood.experiment.run_experiment), prints a table per method (summed over the ID datasets, with the
largest peak) and one per run, and writes both to <runs>/cost.md. `--wall` adds the measured wall
time of the whole rehearsal (make paper-rehearsal passes it).
"""
import argparse
import json
import sys
from pathlib import Path

import pandas as pd


def cost_table(grid_dir: Path) -> pd.DataFrame:
    "One row per finished run: dataset, method, classes, seconds (features, fit, evaluate, total), peak RSS"
    rows = []
    ids = json.loads((grid_dir / "runs.json").read_text()) if (grid_dir / "runs.json").exists() else None
    for p in sorted(grid_dir.glob("*/params.json")):
        if ids is not None and p.parent.name not in ids: continue  # a run of an earlier version of the grid
        d = json.loads(p.read_text())
        par, res = d["params"], d["resolved"]
        sec, mem = res.get("seconds", {}), res.get("memory", {})
        rows.append(dict(dataset=par["dataset"], method=par["method"], classes=res["n_classes"],
                         features_s=sec.get("features"), fit_s=sec.get("fit"), evaluate_s=sec.get("evaluate"),
                         total_s=sec.get("total"), peak_rss_mb=mem.get("peak_rss_mb"), peak_cuda_mb=mem.get("peak_cuda_mb")))
    if not rows: sys.exit(f"no finished runs (params.json) under {grid_dir}: run `make paper-rehearsal` first")
    df = pd.DataFrame(rows)
    return df.sort_values(["classes", "dataset", "total_s"], ascending=[False, True, False]).reset_index(drop=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid_dir", type=Path)
    ap.add_argument("--wall", type=float, default=None, help="measured wall time of the whole rehearsal, seconds")
    ap.add_argument("--note", default=None, help="a sentence on how this rehearsal was run (written under the title)")
    a = ap.parse_args(argv)
    runs = cost_table(a.grid_dir)
    order = list(runs.groupby("method").total_s.sum().sort_values(ascending=False).index)
    per_method = (runs.groupby("method", sort=False)
                  .agg(runs=("dataset", "size"), features_s=("features_s", "sum"), fit_s=("fit_s", "sum"),
                       evaluate_s=("evaluate_s", "sum"), total_s=("total_s", "sum"), peak_rss_mb=("peak_rss_mb", "max"))
                  .reindex(order).round(1))
    if runs.peak_cuda_mb.notna().any(): per_method["peak_cuda_mb"] = runs.groupby("method").peak_cuda_mb.max()
    runs = runs.drop(columns=["peak_cuda_mb"] if runs.peak_cuda_mb.isna().all() else [])
    head = [f"# Rehearsal cost: {a.grid_dir}", ""] + ([a.note, ""] if a.note else [])
    wall = f"Wall time of the whole rehearsal (fake data, sweep, collection, report): {a.wall / 60:.1f} min; " if a.wall is not None else ""
    head += [f"{wall}Sum of the runs' own times: {runs.total_s.sum() / 60:.1f} min.", ""]
    note = ("Image features are extracted once per dataset, by the first run that needs them, and read from the feature "
            "cache by the others (here every image set is shared, with 1 view), so `features_s` lands on the first "
            "method that runs; `fit_s` includes the text tower's class prototypes, `evaluate_s` every score at every "
            "temperature (CoCoOp's similarities need one pass of the text tower per image).")
    text = "\n".join(head + ["## Per method (summed over the ID datasets; peak = the largest run's peak resident memory)", "",
                             per_method.to_markdown(), "", note, "", "## Per run", "", runs.to_markdown(index=False), ""])
    (a.grid_dir / "cost.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
