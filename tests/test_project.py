"""Project-level checks: configuration, conda environment, README freshness, CI entry point."""
import re
import runpy
import subprocess
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _reqs(lines):
    "{normalised name: specifier string} for requirement strings"
    out = {}
    for line in lines:
        r = Requirement(line)
        out[re.sub(r"[-_.]+", "-", r.name).lower()] = str(r.specifier)
    return out


def test_nbdev_config():
    cfg = PYPROJECT["tool"]["nbdev"]
    assert cfg["lib_path"] == "clipood" and cfg["nbs_path"] == "nbs"
    assert cfg["allowed_cell_metadata_keys"] == ["tags"]  # keeps papermill's `parameters` tag
    assert set(cfg["tst_flags"].split()) == {"slow", "gpu"}
    assert cfg["readme_nb"] == "index.ipynb" and cfg["jupyter_hooks"] is True
    assert not (ROOT / "settings.ini").exists(), "nbdev 3 refuses settings.ini"


def test_runtime_dependencies():
    deps = _reqs(PYPROJECT["project"]["dependencies"])
    need = {"torch", "torchvision", "open-clip-torch", "numpy", "pandas", "pyarrow", "scikit-learn", "seaborn",
            "matplotlib", "papermill", "ipykernel", "nbformat", "nbconvert", "tqdm", "fastcore", "pillow"}
    assert need <= deps.keys(), need - deps.keys()
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert _reqs(extras["dev"]).keys() >= {"nbdev", "pytest"} and "jupyterlab" in _reqs(extras["lab"])
    # the torch range admits the wheels installed on our machines
    assert Requirement("torch" + deps["torch"]).specifier.contains(Version("2.14.1"))
    assert Requirement("torchvision" + deps["torchvision"]).specifier.contains(Version("0.29.1"))
    assert "==" not in deps["torch"], "don't pin an exact torch: users must match their CUDA driver"


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda and "pip" in conda
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    editable = [p for p in pip if p.startswith("-e")]
    assert editable == ['-e ".[dev,lab,docs]"'], "the pip section must install the package with its dev, lab and docs extras"
    listed = _reqs([p for p in pip if not p.startswith("-e")])
    extras = PYPROJECT["project"]["optional-dependencies"]
    proj = _reqs(PYPROJECT["project"]["dependencies"] + extras["dev"] + extras["lab"] + extras["docs"])
    assert listed == proj, f"environment.yml and pyproject.toml disagree: {set(listed.items()) ^ set(proj.items())}"


def test_readme_up_to_date(tmp_path):
    # everything but the results block must follow nbs/index.ipynb; the block is whatever the committed README holds
    # (a local `make study` writes runs/synthetic/, whose numbers differ in the last digits on another CPU: that must
    # not fail `make test`)
    mod = runpy.run_path(str(ROOT / "scripts" / "make_readme.py"))
    assert (ROOT / "README.md").read_text() == mod["render"](runs=tmp_path / "no-study", rehearsal=tmp_path / "no-rehearsal",
                                                                        family=tmp_path / "no-family"), "README.md is stale: run `make readme`"


def test_readme_rendering_drops_directives(tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("#| hide\nsecret = 1"),
        nbformat.v4.new_code_cell("#| echo: false\nprint('x')", outputs=[nbformat.v4.new_output("stream", text="shown\n")]),
        nbformat.v4.new_code_cell("#| eval: false\nvisible_code()")])
    p = tmp_path / "index.ipynb"; nbformat.write(nb, p)
    text = runpy.run_path(str(ROOT / "scripts" / "make_readme.py"))["render"](p)
    assert "# Title" in text and "visible_code()" in text and "shown" in text
    assert "secret" not in text and "#|" not in text and "print('x')" not in text


def test_readme_shows_the_commands():
    text = (ROOT / "README.md").read_text()
    for cmd in ("make test", "make study"):
        assert cmd in text, f"README must show `{cmd}`"
    assert "settings.ini" in text


def test_makefile_targets_exist():
    out = subprocess.run(["make", "-pRrq", "-C", str(ROOT)], capture_output=True, text=True).stdout
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", out, re.M))
    assert {"install", "test", "readme"} <= targets, targets


def test_ci_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_no_notebook_cell_mixes_imports_and_code():
    """nbdev's docs processing (nbdev-proc-nbs, nbdev-docs) executes every cell that contains an import, so a test cell that
    also imports runs out of context there and fails or warns: imports go in export cells or cells of their own."""
    import ast, json
    bad = []
    for nb in sorted((ROOT / "nbs").rglob("*.ipynb")):
        if any(p.startswith((".", "_")) for p in nb.relative_to(ROOT / "nbs").parts): continue
        for i, c in enumerate(json.loads(nb.read_text())["cells"]):
            src = "".join(c["source"])
            if c["cell_type"] != "code" or "nbdev_export()" in src or re.search(r"^#\|\s*(export|exporti|exports|exec_doc)\b", src, re.M):
                continue
            try: tree = ast.parse("\n".join("" if l.startswith(("#|", "%", "!")) else l for l in src.splitlines()))
            except SyntaxError: continue
            top = [type(t) for t in tree.body]
            has_imp = any(issubclass(t, (ast.Import, ast.ImportFrom)) for t in top)
            has_code = any(issubclass(t, (ast.Expr, ast.Assign)) for t in top)
            if has_imp and has_code and "matplotlib.use(" not in src: bad.append(f"{nb.relative_to(ROOT)} cell {i}")
    assert bad == [], f"split the imports into a cell of their own: {bad}"
