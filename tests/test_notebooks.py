"""Execute every notebook in nbs/ with nbdev's own test runner, one pytest test per notebook.

Cells flagged with a `tst_flags` flag (`#| slow`, `#| gpu`) are skipped unless the flag is listed
in the env var CLIPOOD_TEST_FLAGS (e.g. `CLIPOOD_TEST_FLAGS=slow make test`); `gpu` cells also run
when CUDA is available.
"""
import os
from pathlib import Path

import pytest
import nbdev.test as nbt
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"


def _notebooks():
    "Every notebook under nbs/, skipping hidden/underscore folders and files (as nbdev does)"
    out = []
    for p in sorted(NBS.rglob("*.ipynb")):
        if any(part.startswith((".", "_")) for part in p.relative_to(NBS).parts): continue
        out.append(p)
    return out


def _flags():
    "(skip_flags, force_flags) from the project's tst_flags and CLIPOOD_TEST_FLAGS"
    all_flags = str(get_config(ROOT).tst_flags or "").split()
    force = set(os.environ.get("CLIPOOD_TEST_FLAGS", "").split())
    try:
        import torch
        if torch.cuda.is_available(): force.add("gpu")
    except ImportError: pass
    return [f for f in all_flags if f not in force], sorted(force)


def test_found_notebooks():
    names = {p.name for p in _notebooks()}
    assert {"index.ipynb", "00_metrics.ipynb", "01_scores.ipynb"} <= names, names


@pytest.mark.parametrize("nb", _notebooks(), ids=lambda p: str(p.relative_to(NBS)))
def test_notebook(nb):
    skip, force = _flags()
    ok, secs = nbt.test_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f"notebook {nb.relative_to(ROOT)} failed after {secs:.1f}s (traceback above)"
