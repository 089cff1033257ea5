"""The README's shell snippets, as a newcomer would type them in a fresh clone: every `make` target exists (checked
with `make -n`, nothing runs), every file it names exists, and the cheap commands run as written."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
OWN = {"configs/mine.yaml", "my_params.yaml", "runs/mine", "out/run.ipynb", "nbs/16_mymethod.ipynb"}  # the reader's own files, by design


def _commands() -> list[str]:
    "Every command line of the README's bash blocks (continuations joined, comments dropped)"
    out = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"): out.append(line)
    return out


def _env():
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_readme_has_commands():
    cmds = _commands()
    assert "make docs" in cmds and "make study-tiny" in cmds and "make test" in cmds, cmds


def test_make_targets_exist():
    for cmd in _commands():
        words = shlex.split(cmd)
        if words[0] != "make": continue
        r = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, env=_env())
        assert r.returncode == 0, f"`{cmd}`: {r.stderr}"


def test_named_files_exist():
    named = set(re.findall(r"\b((?:configs|nbs|scripts|tests|benchmarks|docs)/[\w./-]+\.(?:yaml|ipynb|py|md))", README))
    assert "configs/tiny.yaml" in named and "nbs/experiments/run.ipynb" in named
    missing = sorted(p for p in named - OWN if not (ROOT / p).exists())
    assert missing == [], f"README names files that don't exist: {missing}"


def test_cheap_commands_run_as_written():
    cheap = [c for c in _commands() if c.startswith("papermill --help-notebook") or c.endswith("--dry-run")]
    assert len(cheap) >= 2, cheap
    for cmd in cheap:
        cmd = cmd.replace("configs/mine.yaml", "configs/tiny.yaml")  # "a grid of your own": the shipped small one
        r = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, env=_env(), timeout=120)
        assert r.returncode == 0, f"`{cmd}` failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        assert r.stdout.strip(), cmd
