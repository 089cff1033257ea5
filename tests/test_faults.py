"""Fault injection: the study pipeline keeps its promises when runs are interrupted, files are damaged or the
grid is wrong (issue #12). One test (or more) per case; toy notebooks wherever the behaviour is the sweep's or
collect's, so the whole file stays fast.

| case | test |
|---|---|
| 1 new / retried runs rebuild results and report | test_new_run_rebuilds_results_and_report, test_warm_study_changes_nothing |
| 2 a deleted result file is repaired | test_deleted_metrics_is_reported_and_rerun |
| 3 a damaged file does not take the grid down | test_damaged_run_files_are_reported_and_rerun, test_bad_schema_is_damaged |
| 4 grid mistakes before the first run | test_misspelt_options, test_wrong_values_fail_before_any_run_toy, test_experiment_grid_mistakes_in_one_message |
| 5 feature cache keyed on the files | test_feature_cache_key_follows_the_files |
| 6 advice that works | test_corrupt_image_advice_fits_the_layout, test_data_check_verify_fails_on_corrupt_files, test_cache_under_a_file |
| 7 cosmetic | test_lock_holder_just_started, test_study_lock_error_is_one_line, test_dry_run_into_a_closed_pipe, test_readme_hand_run_creates_out |
| already working | test_sigint_then_resume_equals_uninterrupted, test_concurrent_sweeps_run_nothing_twice, test_truncated_checkpoint_is_rebuilt (kill -9: test_sweep.py; truncated feature file: nbs/05_features.ipynb) |
"""
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat as nbf
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clipood import sweep as sw
from clipood.cache import file_lock
from clipood.collect import collect, run_state
from clipood.study import collect_cli, study_cli
from clipood.testing import make_fake_root, make_toy_notebook

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _cli(name, *args, env=None, **kw):
    "Run a console script (or its function through python -c where it is not installed)"
    exe = BIN / name
    funcs = {"clipood-sweep": "clipood.sweep:sweep_cli", "clipood-study": "clipood.study:study_cli",
             "clipood-collect": "clipood.study:collect_cli", "clipood-data-check": "clipood.datacheck:data_check_cli"}
    mod, fn = funcs[name].split(":")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", f"import sys; from {mod} import {fn}; sys.exit({fn}())"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return cmd + [str(a) for a in args], env


def _run(name, *args, env=None, timeout=300):
    cmd, env = _cli(name, *args, env=env)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def _grid(tmp, xs=(1, 2, 3), name="toy", sleep=0.0, extra=""):
    nb = tmp / f"toy_{name}.ipynb"
    if not nb.exists(): make_toy_notebook(nb, sleep=sleep)
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(f"name: {name}\nnotebook: {nb}\nparams: {{y: b}}\ngrid:\n  - x: {list(xs)}\n{extra}")
    return cfg


def _report_nb(tmp):
    "A toy report: the number of runs and the sum of the values in results.parquet"
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell('grid_dir: str = "."'); p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbf.v4.new_code_cell("import pandas as pd\n_r = pd.read_parquet(grid_dir + '/results.parquet')\n"
                                        "print(f'RUNS={_r.run_id.nunique()} SUM={_r.value.sum()}')")]
    nb.metadata["kernelspec"] = dict(name="python3", display_name="Python 3", language="python")
    nbf.write(nb, str(tmp / "report.ipynb"))
    return tmp / "report.ipynb"


def _study(cfg, runs, report):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return study_cli(["--config", str(cfg), "--runs-dir", str(runs), "--report", str(report)])


def _reported(grid_dir):
    return next(l for l in (Path(grid_dir) / "report.html").read_text().splitlines() if "RUNS=" in l and "print" not in l)


def _ids(grid_dir):
    return sorted(p.name for p in Path(grid_dir).iterdir() if (p / "status.json").exists())


# ---- case 1: results and report follow the runs on disk

def test_new_run_rebuilds_results_and_report(tmp_path):
    rep = _report_nb(tmp_path)
    assert _study(_grid(tmp_path, (1, 2)), tmp_path / "runs", rep) == 0
    assert "RUNS=2 SUM=5.0" in _reported(tmp_path / "runs/toy")
    # the reproduction: a copy of a finished study (times preserved), one block added to a copy of the grid
    shutil.copytree(tmp_path / "runs", tmp_path / "copy" / "runs")
    cfg = _grid(tmp_path, (1, 2), extra="  - x: [3]\n")
    assert _study(cfg, tmp_path / "copy/runs", rep) == 0
    g = tmp_path / "copy/runs/toy"
    assert pd.read_parquet(g / "results.parquet").run_id.nunique() == 3
    assert "RUNS=3 SUM=14.0" in _reported(g)
    # a retried run whose table is unchanged still changes the runs on disk: the report is rendered again
    rid = _ids(g)[0]
    html = (g / "report.html").stat().st_mtime_ns
    st = json.loads((g / rid / "status.json").read_text())
    (g / rid / "status.json").write_text(json.dumps({**st, "status": "failed"}))
    assert _study(cfg, tmp_path / "copy/runs", rep) == 0
    assert (g / "report.html").stat().st_mtime_ns > html


def test_warm_study_changes_nothing(tmp_path):
    rep, cfg = _report_nb(tmp_path), _grid(tmp_path, (1, 2))
    assert _study(cfg, tmp_path / "runs", rep) == 0
    g = tmp_path / "runs/toy"
    before = {f: (g / f).stat().st_mtime_ns for f in ("results.parquet", "report.html", "results.manifest.json")}
    t = time.time()
    assert _study(cfg, tmp_path / "runs", rep) == 0
    assert time.time() - t < 10, "a warm study must not run or render anything"
    assert {f: (g / f).stat().st_mtime_ns for f in before} == before


# ---- cases 2 and 3: damaged runs are reported by path, the others collected, and the damaged ones rerun

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    "A finished toy grid of 4 runs, and its collected table"
    tmp = tmp_path_factory.mktemp("finished")
    cfg = _grid(tmp, (1, 2, 3, 4))
    res = sw.sweep(cfg, runs_dir=tmp / "runs", progress=False)
    assert res["done"] == 4
    return cfg, tmp / "runs" / "toy", collect(tmp / "runs" / "toy")


def _copy(finished, tmp_path):
    cfg, g, clean = finished
    shutil.copytree(g, tmp_path / "runs" / "toy")
    return cfg, tmp_path / "runs" / "toy", clean


def _repair_and_compare(cfg, g, clean, n_damaged):
    res = sw.sweep(cfg, runs_dir=g.parent, progress=False)
    assert (res["ran"], res["done"], res["damaged"]) == (n_damaged, 4, [])
    pd.testing.assert_frame_equal(collect(g), clean)


def test_deleted_metrics_is_reported_and_rerun(finished, tmp_path):
    cfg, g, clean = _copy(finished, tmp_path)
    rid = _ids(g)[1]
    (g / rid / "metrics.parquet").unlink()
    assert run_state(g / rid)[0] == "damaged"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        assert collect_cli([str(g)]) == 1
    assert f"DAMAGED {rid}: {g / rid / 'metrics.parquet'}: missing" in err.getvalue()
    assert pd.read_parquet(g / "results.parquet").run_id.nunique() == 3  # the table holds what is on disk
    _, _, runs = sw.plan(cfg, runs_dir=g.parent)
    assert [r["status"] for r in runs if r["run_id"] == rid] == ["damaged"]
    _repair_and_compare(cfg, g, clean, 1)


def test_damaged_run_files_are_reported_and_rerun(finished, tmp_path):
    cfg, g, clean = _copy(finished, tmp_path)
    a, b, c = _ids(g)[:3]
    (g / a / "metrics.parquet").write_bytes(np.random.default_rng(0).bytes(700))
    (g / b / "status.json").write_text("[]")
    (g / c / "status.json").write_text("{}")
    df = collect(g)
    assert len(df) == 1 and df.attrs["n_ok"] == 1
    problems = {d["run_id"]: d["problem"] for d in df.attrs["damaged"]}
    assert set(problems) == {a, b, c}
    assert problems[a].startswith(str(g / a / "metrics.parquet")) and "bytes, the run wrote" in problems[a]
    assert problems[b] == f"{g / b / 'status.json'}: a JSON list, not a run record"
    assert problems[c] == f"{g / c / 'status.json'}: no 'status' entry"
    # the CLI: the others are collected, the damaged ones named, exit status 1
    out = _run("clipood-collect", g)
    assert out.returncode == 1 and "Traceback" not in out.stderr and out.stderr.count("DAMAGED") == 3, out.stderr
    _repair_and_compare(cfg, g, clean, 3)


def test_bad_schema_is_damaged(finished, tmp_path):
    cfg, g, clean = _copy(finished, tmp_path)
    rid = _ids(g)[0]
    pd.DataFrame(dict(x=[1], y=["b"], metric=["square"], value=["1.0"])).to_parquet(g / rid / "metrics.parquet")
    st = json.loads((g / rid / "status.json").read_text())  # the size check alone would catch it: align it
    st["outputs"]["metrics.parquet"] = (g / rid / "metrics.parquet").stat().st_size
    (g / rid / "status.json").write_text(json.dumps(st))
    state, problem, _ = run_state(g / rid)
    assert state == "damaged" and "column 'value'" in problem and "expected number" in problem
    _repair_and_compare(cfg, g, clean, 1)


def test_run_without_valid_table_is_a_failure(tmp_path):
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell('x: int = 1\nout_dir: str = "."'); p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbf.v4.new_code_cell("pass  # writes nothing")]
    nb.metadata["kernelspec"] = dict(name="python3", display_name="Python 3", language="python")
    nbf.write(nb, str(tmp_path / "silent.ipynb"))
    st = sw.execute_run(dict(run_id="r", params=dict(x=1), notebook=str(tmp_path / "silent.ipynb"), grid_dir=str(tmp_path / "g")))
    assert st["status"] == "failed" and "metrics.parquet: missing" in st["error"]


# ---- case 4: every mistake caught before the first run

def test_misspelt_options(tmp_path):
    cfg = _grid(tmp_path, extra="options:\n  worker: 2\n  execution_timout: 60\n")
    with pytest.raises(ValueError, match=r"unknown option 'worker' \(did you mean 'workers'\?\).*unknown option 'execution_timout'"):
        sw.plan(cfg, runs_dir=tmp_path / "runs")


def test_wrong_values_fail_before_any_run_toy(tmp_path):
    cfg = _grid(tmp_path, (1, "four"))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        assert sw.sweep_cli([str(cfg), "--runs-dir", str(tmp_path / "runs"), "--dry-run"]) == 2
        assert sw.sweep_cli([str(cfg), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "x must be an int, got 'four' (str)" in err.getvalue()
    assert not (tmp_path / "runs" / "toy").exists() or not _ids(tmp_path / "runs" / "toy")


def test_experiment_grid_mistakes_in_one_message(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPOOD_CACHE", str(tmp_path / "cache"))
    text = (ROOT / "configs/tiny.yaml").read_text().replace("options:", textwrap.dedent("""\
          - method: [zeroshot]
            shots: ["four"]
          - method: [coopp]
          - method: [coop]
            hparams: [{epochz: 3}]
        options:"""))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(text)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        assert sw.sweep_cli([str(cfg), "--runs-dir", str(tmp_path / "runs"), "--dry-run"]) == 2
    msg = err.getvalue()
    assert msg.count("clipood-sweep: error:") == 1 and "nothing was run" in msg
    for part in ("shots must be a", "'four'", "method 'coopp' is unknown", "hparams ['epochz'] are not hyper-parameters of 'coop'"):
        assert part in msg, (part, msg)


# ---- case 5: the feature cache follows the files, not the file list

def test_feature_cache_key_follows_the_files(tmp_path):
    from clipood.data import ImageListDataset
    from clipood.features import _files_key
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.png"); Image.new("RGB", (8, 8), (i * 50, 0, 0)).save(files[-1])
    ds = ImageListDataset(files, [0, 1, 0], ["a", "b"], "mine", "test", tmp_path)
    idx = np.arange(3)
    k0, fp = _files_key(ds, idx), ds.fingerprint
    assert _files_key(ds, idx) == k0
    Image.new("RGB", (8, 8), (0, 0, 255)).save(files[1])  # replaced in place: same list, same fingerprint
    st = files[1].stat(); os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert ds.fingerprint == fp and _files_key(ds, idx) != k0
    assert _files_key(ds, np.array([0, 2])) == _files_key(ds, np.array([0, 2]))


# ---- case 6: advice that works

def test_corrupt_image_advice_fits_the_layout(tmp_path):
    from clipood.data import CorruptImageError, get_dataset
    from clipood.datacheck import repair_advice
    from clipood.features import _Items
    root = make_fake_root(tmp_path / "data", ["food101", "inaturalist"])
    for name, good, bad in (("food101", "replace it with an intact copy", "or delete it"),
                            ("inaturalist", "or delete it", "would make the dataset incomplete")):
        ds = get_dataset(name, "test", root=root)
        Path(ds.paths[1]).write_bytes(b"\x00" * 40)
        with pytest.raises(CorruptImageError) as e:
            _Items(ds, np.arange(len(ds)), 1, lambda im: im, False, 0)[1]
        msg = str(e.value)
        assert str(ds.paths[1]) in msg and good in msg and bad not in msg, msg
        assert e.value.path == ds.paths[1]
    assert "Replace it with an intact copy" in repair_advice("not-registered")


def test_data_check_verify_fails_on_corrupt_files(tmp_path):
    from clipood.data import get_dataset
    from clipood.datacheck import data_check_cli
    root = make_fake_root(tmp_path / "data", ["food101"])
    with contextlib.redirect_stdout(io.StringIO()):
        assert data_check_cli(["--root", str(root), "--names", "food101", "--verify"]) == 0
    bad = get_dataset("food101", "train", root=root).paths[0]
    Path(bad).write_bytes(b"junk")
    with contextlib.redirect_stdout(out := io.StringIO()):
        assert data_check_cli(["--root", str(root), "--names", "food101", "--verify"]) == 1
    assert str(bad) in out.getvalue() and "split files" in out.getvalue()


def test_cache_under_a_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("CLIPOOD_CACHE", str(tmp_path / "file" / "cache"))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        assert sw.sweep_cli([str(ROOT / "configs/tiny.yaml"), "--runs-dir", str(tmp_path / "runs"), "--dry-run"]) == 2
        assert study_cli(["--config", str(ROOT / "configs/tiny.yaml"), "--runs-dir", str(tmp_path / "runs")]) == 2
    msg = err.getvalue()
    assert msg.count(f"CLIPOOD_CACHE={str(tmp_path / 'file' / 'cache')!r}") == 2 and "is a file, not a folder" in msg
    assert "NotADirectoryError" not in msg and not (tmp_path / "runs").exists()


# ---- case 7: cosmetic

def test_lock_holder_just_started(tmp_path):
    import fcntl
    from clipood.cache import LockBusyError
    lock = tmp_path / ".lock"
    with open(lock, "a+") as f:  # a sweep that has the lock but has not written its pid yet
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(LockBusyError, match="took the lock just now"):
            with file_lock(lock, wait=False): pass


def test_study_lock_error_is_one_line(tmp_path):
    cfg = _grid(tmp_path, (1,))
    g = tmp_path / "runs" / "toy"
    with file_lock(g / ".lock"):  # another sweep holds the grid
        out = _run("clipood-study", "--config", cfg, "--runs-dir", tmp_path / "runs", "--report", _report_nb(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"another sweep is running on {g} (held by pid {os.getpid()}" in out.stderr


def test_dry_run_into_a_closed_pipe(tmp_path):
    cfg = _grid(tmp_path, tuple(range(6000)))
    cmd, env = _cli("clipood-sweep", cfg, "--runs-dir", tmp_path / "runs", "--dry-run")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdout.readline(); p.stdout.close()  # `| head -1`
    err = p.stderr.read().decode(); p.wait(120)
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def test_readme_hand_run_creates_out():
    for text in ((ROOT / "README.md").read_text(), (ROOT / "nbs/index.ipynb").read_text()):
        i = text.index("papermill nbs/experiments/run.ipynb out/run.ipynb")
        assert "mkdir -p out" in text[max(0, i - 200):i]


# ---- what already worked, kept working

def test_sigint_then_resume_equals_uninterrupted(tmp_path):
    cfg = _grid(tmp_path, (1, 2, 3, 4, 5), sleep=1.5)
    cmd, env = _cli("clipood-sweep", cfg, "--runs-dir", tmp_path / "runs", "--workers", 2)
    # a shell's background job inherits SIGINT ignored, and Python then keeps ignoring it: restore the default
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    g = tmp_path / "runs" / "toy"
    deadline = time.time() + 180
    while time.time() < deadline and not (g.exists() and len(_ids(g)) >= 1): time.sleep(0.1)
    assert p.poll() is None, "the sweep finished before it could be interrupted"
    p.send_signal(signal.SIGINT)
    assert p.wait(300) == 130 and "rerun the same command to resume" in p.stderr.read().decode()
    assert 1 <= len(_ids(g)) < 5
    res = sw.sweep(cfg, runs_dir=tmp_path / "runs", progress=False)
    assert res["done"] == 5 and res["skipped"] >= 1
    clean = sw.sweep(_grid(tmp_path, (1, 2, 3, 4, 5), name="toy2"), runs_dir=tmp_path / "clean", progress=False)
    pd.testing.assert_frame_equal(collect(g)[["x", "value"]], collect(clean["grid_dir"])[["x", "value"]])


def test_concurrent_sweeps_run_nothing_twice(tmp_path):
    cfg = _grid(tmp_path, (1, 2, 3), sleep=0.5)
    cmd, env = _cli("clipood-sweep", cfg, "--runs-dir", tmp_path / "runs")
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [(p.wait(300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in outs)
    refused = [e for rc, e in outs if rc == 2]
    if codes == [0, 2]:  # they overlapped: the second was refused, naming the first
        assert "another sweep is running" in refused[0] and "(held by pid " in refused[0], refused[0]
    else:  # the first finished before the second looked: the second found everything done
        assert codes == [0, 0]
    g = tmp_path / "runs" / "toy"
    assert len(_ids(g)) == 3 and all(json.loads((g / r / "status.json").read_text())["attempts"] == 1 for r in _ids(g))
    res = sw.sweep(cfg, runs_dir=tmp_path / "runs", progress=False)
    assert res["ran"] == 0


def test_truncated_checkpoint_is_rebuilt(tmp_path, monkeypatch):
    import torch
    from clipood import pretrain as pt
    calls = []

    def fake_pretrain(name, seed, recipe, **kw):  # stands for the 5-minute pretraining
        calls.append(1)
        return torch.nn.Linear(3, 2), {}

    monkeypatch.setattr(pt, "pretrain", fake_pretrain)
    path = pt.ensure_pretrained("clipood-tiny", cache_dir=tmp_path, progress=False)
    assert pt.check_checkpoint(path) is None and len(calls) == 1
    pt.ensure_pretrained("clipood-tiny", cache_dir=tmp_path, progress=False)
    assert len(calls) == 1
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert pt.check_checkpoint(path).startswith("unreadable")
    with contextlib.redirect_stderr(io.StringIO()):
        pt.ensure_pretrained("clipood-tiny", cache_dir=tmp_path, progress=False)
    assert len(calls) == 2 and pt.check_checkpoint(path) is None
