"""Tests of clipood.sweep that a notebook cannot hold: resume after kill -9, worker processes, kernel-start retry, submitit, shipped grids, report rendering."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import open_clip
import pytest

from clipood import sweep as sw
from clipood.collect import collect, read_status
from clipood.report import render_report
from clipood.testing import make_toy_notebook

ROOT = Path(__file__).resolve().parents[1]
SWEEP_BIN = Path(sys.executable).parent / "clipood-sweep"


def _grid(tmp_path, xs=(1, 2, 3, 4, 5, 6), sleep=0.0, name="toy"):
    nb = make_toy_notebook(tmp_path / f"toy_{name}.ipynb", sleep=sleep)
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(textwrap.dedent(f"""
        name: {name}
        notebook: {nb}
        params: {{y: b}}
        grid: {{x: {list(xs)}}}
        """))
    return cfg


def _sweep_cmd(cfg, runs_dir, workers):
    exe = [str(SWEEP_BIN)] if SWEEP_BIN.exists() else [sys.executable, "-c", "import sys; from clipood.sweep import sweep_cli; sys.exit(sweep_cli())"]
    return exe + [str(cfg), "--runs-dir", str(runs_dir), "--workers", str(workers)]


def _finished(grid_dir):
    return {p.name: json.loads((p / "status.json").read_text())["started"]
            for p in Path(grid_dir).iterdir() if (p / "status.json").exists()}


@pytest.mark.parametrize("workers", [1, 2])
def test_kill9_then_resume_equals_uninterrupted(tmp_path, workers):
    cfg = _grid(tmp_path, sleep=1.5)
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_sweep_cmd(cfg, killed_dir, workers), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    grid_dir = killed_dir / "toy"
    deadline = time.time() + 120
    while time.time() < deadline and not (grid_dir.exists() and len(_finished(grid_dir)) >= 2):
        time.sleep(0.1)
    assert proc.poll() is None, "the sweep finished before it could be killed: make the toy runs slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # workers die with the sweep (PDEATHSIG) and kernels with their worker
    before = _finished(grid_dir)
    assert 2 <= len(before) < 6, before
    time.sleep(2.5)
    assert _finished(grid_dir) == before, "something kept running after the sweep was killed"
    # resume: only the missing runs run, the finished ones are kept untouched
    res = sw.sweep(cfg, workers=workers, runs_dir=killed_dir, progress=False)
    assert (res["done"], res["failed"], res["skipped"]) == (6, [], len(before))
    after = _finished(grid_dir)
    assert all(after[k] == v for k, v in before.items())
    assert not any((grid_dir / ".work").iterdir()), "scratch folders left behind"
    resumed = collect(grid_dir)
    # the same grid, uninterrupted
    sw.sweep(_grid(tmp_path, sleep=0.0), workers=workers, runs_dir=clean_dir, progress=False)
    clean = collect(clean_dir / "toy")
    pd.testing.assert_frame_equal(resumed, clean)
    assert len(clean) == 6 and clean.value.tolist() == [float(x * x) for x in range(1, 7)]


def test_failure_recorded_not_raised(tmp_path):
    cfg = _grid(tmp_path, xs=(2, -1))
    res = sw.sweep(cfg, runs_dir=tmp_path / "runs", progress=False)
    assert res["done"] == 1 and len(res["failed"]) == 1
    f = res["failed"][0]
    assert "x must be >= 0" in f["error"] and f["attempts"] == 1
    assert Path(f["notebook"]).exists() and "ValueError" in Path(f["notebook"]).read_text()
    df = collect(tmp_path / "runs" / "toy")
    assert df.x.tolist() == [2] and len(df.attrs["failures"]) == 1
    assert (tmp_path / "runs" / "toy" / "failures.csv").exists()
    # the CLI exits 1 and names the failed notebook
    out = subprocess.run(_sweep_cmd(cfg, tmp_path / "runs", 1), capture_output=True, text=True)
    assert out.returncode == 1 and "FAILED" in out.stderr and "executed.ipynb" in out.stderr


def test_kernel_start_error_retried_once(tmp_path, monkeypatch):
    import papermill as pm
    real, calls = pm.execute_notebook, []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*a, **k)

    monkeypatch.setattr(pm, "execute_notebook", flaky)
    nb = make_toy_notebook(tmp_path / "toy.ipynb")
    st = sw.execute_run(dict(run_id="r1", params=dict(x=3, y="a"), notebook=str(nb), grid_dir=str(tmp_path / "g")))
    assert st["status"] == "ok" and st["attempts"] == 2 and len(calls) == 2

    def dead(*a, **k):
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(pm, "execute_notebook", dead)
    st = sw.execute_run(dict(run_id="r2", params=dict(x=3, y="a"), notebook=str(nb), grid_dir=str(tmp_path / "g")))
    assert st["status"] == "failed" and st["attempts"] == 2 and "didn't respond" in st["error"]
    assert read_status(tmp_path / "g" / "r2")["status"] == "failed"


def test_cell_error_is_not_a_kernel_start_error(tmp_path):
    from papermill.exceptions import PapermillExecutionError
    e = PapermillExecutionError(0, 1, "x", "ValueError", "boom", [])
    assert not sw.is_kernel_start_error(e)
    assert sw.is_kernel_start_error(RuntimeError("Kernel died before replying to kernel_info"))


def test_submitit_local_executor_matches_local(tmp_path):
    cfg = _grid(tmp_path, xs=(1, 2, 3))
    res = sw.sweep(cfg, executor="submitit-local", runs_dir=tmp_path / "sub", progress=False)
    assert res["done"] == 3 and not res["failed"]
    assert list((tmp_path / "sub" / "toy" / ".submitit").iterdir()), "submitit wrote no job folder"
    sw.sweep(cfg, runs_dir=tmp_path / "loc", progress=False)
    pd.testing.assert_frame_equal(collect(tmp_path / "sub" / "toy"), collect(tmp_path / "loc" / "toy"))
    # a rerun submits nothing
    assert sw.sweep(cfg, executor="submitit-local", runs_dir=tmp_path / "sub", progress=False)["ran"] == 0


def test_slurm_without_sbatch_is_a_clear_error(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    cfg = _grid(tmp_path, xs=(1,))
    with pytest.raises(RuntimeError, match="submitit-local"):
        sw.sweep(cfg, executor="slurm", runs_dir=tmp_path / "runs", progress=False)


def test_bad_grids(tmp_path):
    nb = make_toy_notebook(tmp_path / "toy.ipynb")
    for text, msg in [(f"notebook: {nb}\ngrid: {{z: [1]}}", "unknown parameter"),
                      (f"notebook: {nb}\nparams: {{out_dir: /x}}", "out_dir is set by the sweep"),
                      (f"notebook: {nb}\ngrid: {{x: 3}}", "non-empty list"),
                      (f"notebook: {nb}\ngrids: {{x: [3]}}", "unknown top-level key"),
                      ("notebook: nope.ipynb", "not found")]:
        p = tmp_path / "bad.yaml"
        p.write_text(text)
        with pytest.raises((ValueError, FileNotFoundError), match=msg):
            sw.plan(p, runs_dir=tmp_path / "runs")


def test_run_ids_stable_and_defaults_included(tmp_path):
    cfg = _grid(tmp_path, xs=(1, 2))
    _, _, runs = sw.plan(cfg, runs_dir=tmp_path / "r")
    _, _, runs2 = sw.plan(cfg, runs_dir=tmp_path / "other")
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in runs2]
    assert runs[0]["params"] == dict(x=1, y="b")  # notebook defaults merged, out_dir left to the sweep
    _, _, runs3 = sw.plan(cfg, runs_dir=tmp_path / "r", overrides=dict(y="c"))
    assert {r["run_id"] for r in runs3}.isdisjoint({r["run_id"] for r in runs})


@pytest.mark.parametrize("name,n_runs", [("synthetic", 88), ("synthetic-robust", 45), ("synthetic-full", 63), ("paper", 213), ("tiny", 4)])
def test_shipped_grids_expand(name, n_runs):
    cfg = ROOT / "configs" / f"{name}.yaml"
    if not (ROOT / "nbs/experiments/run.ipynb").exists():
        pytest.skip("nbs/experiments/run.ipynb not written yet")
    _, _, runs = sw.plan(cfg, runs_dir="/tmp/clipood-test-unused")
    assert len(runs) == len({r["run_id"] for r in runs}) == n_runs
    methods = {r["params"]["method"] for r in runs}
    paper_methods = {"zeroshot", "coop", "cocoop", "tip", "tipf"}
    assert methods == ({"zeroshot", "coop"} if name == "tiny" else paper_methods | {"locoop", "linprobe", "clipadapter"} if name in ("synthetic", "paper") else paper_methods)
    if name != "tiny":  # the paper's protocol: every method at 16 shots with seeds 1-3, and a 1/2/4/8/16 shots ablation
        main = [r for r in runs if r["params"]["shots"] == 16]
        assert {(r["params"]["method"], r["params"]["seed"]) for r in main} >= {(m, s) for m in methods for s in (1, 2, 3)}
        if name == "synthetic-robust":  # the main comparison only, once per pretrained tiny CLIP
            assert {r["params"]["shots"] for r in runs} == {16}
            assert {r["params"]["pretrained"] for r in runs} == {"synthetic-s0", "synthetic-s1", "synthetic-s2"}
        else: assert {r["params"]["shots"] for r in runs} == {1, 2, 4, 8, 16}
    if name == "synthetic":  # issue #10: >= 5 seeds at 16 shots, >= 3 seeds at every shot count of the ablation
        for k in (1, 2, 4, 8, 16):
            seeds = {r["params"]["seed"] for r in runs if r["params"]["shots"] == k}
            assert len(seeds) >= (5 if k == 16 else 3), (k, seeds)


def _toy_report(path):
    import nbformat as nbf
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell('grid_dir: str = "."  # sweep folder')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell("# Toy report"), p,
                nbf.v4.new_code_cell("import pandas as pd\nSECRET_CODE = 1\npd.read_parquet(grid_dir + '/results.parquet').value.sum()")]
    nb.metadata["kernelspec"] = dict(name="python3", display_name="Python 3", language="python")
    nbf.write(nb, str(path))
    return path


def test_render_report_hides_code_and_is_reused(tmp_path):
    cfg = _grid(tmp_path, xs=(1, 2))
    res = sw.sweep(cfg, runs_dir=tmp_path / "runs", progress=False)
    nb = _toy_report(tmp_path / "report.ipynb")
    html = render_report(res["grid_dir"], nb)
    text = html.read_text()
    assert "5.0" in text and "SECRET_CODE" not in text  # the result (1 + 4) is there, the code is not
    mtime = html.stat().st_mtime
    assert render_report(res["grid_dir"], nb) == html and html.stat().st_mtime == mtime  # up to date: reused
    collect(res["grid_dir"])  # unchanged results keep their file, so the report stays up to date
    assert render_report(res["grid_dir"], nb).stat().st_mtime == mtime
    assert render_report(res["grid_dir"], nb, force=True).stat().st_mtime > mtime


def test_scale_grid_expands():
    "configs/synthetic-scale.yaml: three sizes of the tiny CLIP x zero-shot / Tip-Adapter x seeds 1-3, every temperature of synthetic.yaml"
    import yaml
    if not (ROOT / "nbs/experiments/run.ipynb").exists():
        pytest.skip("nbs/experiments/run.ipynb not written yet")
    _, _, runs = sw.plan(ROOT / "configs" / "synthetic-scale.yaml", runs_dir="/tmp/clipood-test-unused")
    assert len(runs) == len({r["run_id"] for r in runs}) == 18
    assert {(r["params"]["backbone"], r["params"]["method"], r["params"]["seed"]) for r in runs} == {
        (b, m, s) for b in ("clipood-tiny-xs", "clipood-tiny-s", "clipood-tiny") for m in ("zeroshot", "tip") for s in (1, 2, 3)}
    assert {r["params"]["pretrained"] for r in runs} == {"synthetic"} and {r["params"]["shots"] for r in runs} == {16}
    base = yaml.safe_load((ROOT / "configs" / "synthetic.yaml").read_text())["params"]["temperatures"]
    assert all(set(base) <= set(r["params"]["temperatures"]) for r in runs)


def test_family_grid_expands():
    """configs/synthetic-family.yaml: the paper's five methods x seeds 1-5 on the tiny CLIP ViT and the tiny SigLIP (shipped),
    LoCoOp and GL-MCM only where local features exist; every run passes the experiment's parameter check"""
    from clipood.experiment import PARAMETERS, check_params
    from clipood.features import local_kind
    if not (ROOT / "nbs/experiments/run.ipynb").exists():
        pytest.skip("nbs/experiments/run.ipynb not written yet")
    _, _, runs = sw.plan(ROOT / "configs" / "synthetic-family.yaml", runs_dir="/tmp/clipood-test-unused")
    assert len(runs) == len({r["run_id"] for r in runs}) == 55
    paper = {"zeroshot", "coop", "cocoop", "tip", "tipf"}
    cells = {(r["params"]["backbone"], r["params"]["method"], r["params"]["seed"]) for r in runs}
    for b in ("clipood-tiny-vit", "clipood-tiny-siglip"):
        assert {(m, s) for bb, m, s in cells if bb == b} >= {(m, s) for m in paper for s in range(1, 6)}
    for r in runs:
        p = r["params"]
        assert (p["pretrained"], p["shots"]) == ("synthetic", 16)
        assert check_params(**{k: p[k] for k in PARAMETERS if k in p}, raise_error=False) == []
    local = {r["params"]["backbone"] for r in runs if r["params"]["method"] == "locoop" or "glmcm" in r["params"]["scores"]}
    assert local == {"clipood-tiny-vit"} and local_kind(open_clip.create_model("clipood-tiny-vit")) == "vit-value-path"
    with pytest.raises(ValueError, match="attentional pooler"):
        local_kind(open_clip.create_model("clipood-tiny-siglip"))


def test_rehearsal_covers_the_paper_grid():
    "configs/paper-rehearsal.yaml: every (ID dataset, method) cell of the paper grid's ViT-B/16 16-shot block, with the same OOD sets"
    from clipood.experiment import PARAMETERS, check_params
    _, _, paper = sw.plan(ROOT / "configs" / "paper.yaml", runs_dir="/tmp/clipood-test-unused")
    _, _, reh = sw.plan(ROOT / "configs" / "paper-rehearsal.yaml", runs_dir="/tmp/clipood-test-unused")
    cells = lambda runs: {(r["params"]["dataset"], r["params"]["method"], tuple(r["params"]["ood_datasets"])) for r in runs}
    main = [r for r in paper if r["params"]["backbone"] == "ViT-B-16" and r["params"]["shots"] == 16]
    assert cells(reh) == cells(main)
    assert len(reh) == len(cells(main))                                   # one run per cell
    for r in reh:
        p = r["params"]
        assert (p["backbone"], p["pretrained"], p["device"], p["shots"], p["views"]) == ("ViT-B-16", "", "cpu", 1, 1)
        assert p["scores"] == main[0]["params"]["scores"]                    # every score of the paper grid, GL-MCM included
        assert check_params(**{k: p[k] for k in PARAMETERS if k in p}, raise_error=False) == []
