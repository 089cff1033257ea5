"""`make study`: pretrain the tiny CLIP if needed, run a grid (default configs/synthetic.yaml), render the report.

Prints the main table, the verdict on the paper's claims and the path of the HTML report.
Everything is reused on a second run: finished runs are skipped, the report is re-rendered only
when the results or the report notebook changed.
"""
import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/synthetic.yaml", help="grid file (default: configs/synthetic.yaml)")
    ap.add_argument("--workers", type=int, default=None, help="local worker processes (default: the grid's options.workers)")
    ap.add_argument("--runs-dir", default="runs", help="parent folder of the runs (default: runs)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="override a parameter of every run")
    ap.add_argument("--force-report", action="store_true", help="re-render the report even if it is up to date")
    a = ap.parse_args(argv)
    t0 = time.time()
    from clipood.sweep import load_grid, sweep, render_report, _parse_set

    overrides = _parse_set(a.sets)
    cfg = load_grid(a.config)
    params = {**cfg["params"], **overrides}
    if params.get("pretrained") == "synthetic":  # pretrain once here, not in two workers at the same time
        from clipood.pretrain import ensure_pretrained
        t = time.time()
        path = ensure_pretrained(params.get("backbone", "clipood-tiny"), seed=0)
        print(f"[study] tiny CLIP checkpoint: {path} ({time.time() - t:.0f} s)")
    t = time.time()
    res = sweep(a.config, workers=a.workers, runs_dir=a.runs_dir, overrides=overrides)
    print(f"[study] sweep: {res['done']}/{res['n_runs']} runs finished ({res['ran']} ran now) in {time.time() - t:.0f} s")
    for s in res["failed"]:
        print(f"[study] FAILED run {s['run_id']}: {s['error']}\n        notebook: {s.get('notebook')}", file=sys.stderr)
    if res["done"] == 0:
        print("[study] no finished run: no report", file=sys.stderr)
        return 1
    t = time.time()
    html = render_report(res["grid_dir"], force=a.force_report)
    print(f"[study] report rendered in {time.time() - t:.0f} s")
    summary = Path(res["grid_dir"]) / "summary.md"
    if summary.exists(): print("\n" + summary.read_text())
    print(f"[study] figures: {Path(res['grid_dir']) / 'figures'}")
    print(f"[study] done in {time.time() - t0:.0f} s. Report: {html}")
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
