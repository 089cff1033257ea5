"""`make docs`: nbdev-docs where Quarto is installed; otherwise a static site in _docs/ built with Sphinx + myst-nb.

Without Quarto the site is built from nbdev's own processed notebooks (`_proc/`, written by nbdev's `proc_nbs`:
export/hide cells removed, a front-matter title, `show_doc` entries for every exported name), in four steps:

1. proc:    nbdev's processing of nbs/ into _proc/ (FilterDefaults, its show_doc executor limited to export, import-only
            and show_doc cells; redone for notebooks whose content changed);
2. execute: every notebook of nbs/ run as `make test` runs it (nbdev's test_nb, `#| slow`/`#| gpu`/`#| eval: false`
            cells skipped), into .cache/docs-exec/ (kept while the notebook and clipood/ are unchanged);
            the notebooks in git stay output-free;
3. stage:   _proc notebooks + those outputs (matched by cell id) + nbdev directives turned into myst-nb tags, the latest
            study report (runs/synthetic/report.ipynb, if `make study` ran) as a page, into _docsrc/;
4. sphinx:  `sphinx-build -c docs _docsrc .cache/docs-build/html` (furo theme, MathJax served from the site
            itself), copied to _docs/, then checked (`check_site`).

Open _docs/index.html in a browser (no server needed).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
PROC, STAGE, OUT = ROOT / "_proc", ROOT / "_docsrc", ROOT / "_docs"
EXEC = ROOT / ".cache" / "docs-exec"
BUILD = ROOT / ".cache" / "docs-build"  # Sphinx's incremental build; _docs/ is a copy of its html/
STUDY = ROOT / "runs" / "synthetic"
PROC_VERSION = "1"

# The sidebar: the paper's reading order. A notebook missing here lands in "More" (so every notebook has a page).
SECTIONS = [
    ("The study", ["index"]),
    ("Metrics and scores", ["00_metrics", "01_scores"]),
    ("Models and data", ["02_models", "02b_text", "03_data", "03a_datasets", "03b_fewshot", "03c_datacheck", "03d_fakedata",
                         "04_synthetic", "05_features", "06_pretrain", "06a_checkpoints", "07_cache"]),
    ("The methods", ["10_base", "11_zeroshot", "12_coop", "13_cocoop", "14_tip", "15_tipf", "16_linprobe", "17_clipadapter",
                     "18_locoop", "19_methods"]),
    ("The experiment", ["20_grid", "21_experiment", "experiments/run"]),
    ("The sweep", ["23_sweep", "24_collect", "25_study"]),
    ("The report", ["22_report", "report", "study_report"]),
    ("Testing", ["90_testing"]),
]


def notebooks() -> list[Path]:
    "Every notebook under nbs/ (skipping hidden/underscore folders and files, as nbdev does)"
    return sorted(p for p in NBS.rglob("*.ipynb")
                  if not any(part.startswith((".", "_")) for part in p.relative_to(NBS).parts))


def _rel(p: Path) -> str: return p.relative_to(NBS).with_suffix("").as_posix()


# ---------------------------------------------------------------- 1. nbdev's processing
def _filters():
    """nbdev's FilterDefaults, with its show_doc executor limited to what the docs need: export cells, import-only
    cells and show_doc cells. (nbdev also runs any cell that merely contains an import, test code included, and a
    test cell that needs an earlier non-executed cell then fails the whole notebook.)"""
    import ast
    from nbdev.processors import FilterDefaults, exec_show_docs, _do_eval

    class exec_docs(exec_show_docs):
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, "k") or not _do_eval(cell): return
            trees = cell.parsed_() or []
            imports_only = all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees)
            if not (imports_only or "show_doc" in cell.source or cell.directives_.keys() & {"export", "exports", "exporti", "exec_doc"}):
                return
            self.k.cell(cell)
            if (e := self.k.exc):
                print(f"  warning: {self.nb.frontmatter_.get('title', '')}: cell {cell.idx_} failed ({type(e).__name__}: {e})", file=sys.stderr)
                self.k.exc = None; cell.outputs = []

    class Filters(FilterDefaults):
        def base_procs(self): return [exec_docs if p is exec_show_docs else p for p in super().base_procs()]
    return Filters


def _proc_one(args):
    src, dst = map(Path, args)
    os.chdir(ROOT); os.environ["IN_TEST"] = "1"
    from nbdev.serve_drv import exec_nb
    dst.parent.mkdir(parents=True, exist_ok=True)
    try: exec_nb(src, dst, _filters())
    except Exception as e: return f"{src}: {type(e).__name__}: {e}"


def proc(workers: int):
    "nbdev's processing (what nbdev-proc-nbs does, without writing nbdev's yml files into nbs/), redone for changed notebooks"
    import nbdev.doclinks
    os.chdir(ROOT)
    nbdev.doclinks._build_modidx()
    # redone when a notebook's bytes, pyproject.toml or PROC_VERSION (bump it when _filters changes) change: not by
    # mtime, since nbdev-clean rewrites every notebook
    stamp = PROC / ".clipood-docs.json"
    seen = json.loads(stamp.read_text()) if stamp.exists() else {}
    salt = PROC_VERSION + hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    keys = {str(p): hashlib.sha256(salt.encode() + p.read_bytes()).hexdigest() for p in notebooks()}
    jobs = [(src, str(PROC / Path(src).relative_to(NBS))) for src, k in keys.items()
            if seen.get(src) != k or not (PROC / Path(src).relative_to(NBS)).exists()]
    print(f"  {len(jobs)} notebook(s) to process")
    def one(job):  # a process per notebook: a crashing notebook can't take the others down
        r = subprocess.run([sys.executable, __file__, "--proc-one", *job], cwd=ROOT, capture_output=True, text=True)
        warns = [l for l in r.stderr.splitlines() if l.startswith("  warning:")]
        if warns: print("\n".join(warns), file=sys.stderr)
        return job[0], None if r.returncode == 0 else f"{job[0]} (exit {r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-3000:]}"
    with ThreadPoolExecutor(workers) as ex:
        errors = dict(e for e in ex.map(one, jobs) if e[1])
    PROC.mkdir(exist_ok=True)
    stamp.write_text(json.dumps({src: k for src, k in keys.items() if src not in errors}, indent=1))
    if errors: raise SystemExit("nbdev could not process:\n" + "\n".join(errors.values()))


# ---------------------------------------------------------------- 2. outputs
def _lib_hash() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "clipood").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts: h.update(p.relative_to(ROOT).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def _exec_one(args) -> tuple[str, bool, float, str]:
    src, dst, key = args
    import contextlib, io
    import nbdev.test as nbt
    from nbdev.config import get_config
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    skip = str(get_config(ROOT).tst_flags or "").split()
    t0, log = time.time(), io.StringIO()
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        ok, _ = nbt.test_nb(dst, skip_flags=skip, basepath=ROOT, save=True)
    if ok: dst.with_suffix(".key").write_text(key)
    else: dst.with_suffix(".key").unlink(missing_ok=True)
    return _rel(src), ok, time.time() - t0, log.getvalue()[-3000:]


def execute(workers: int) -> dict[str, Path]:
    "Run every notebook (cached); {notebook rel name: executed copy}. The copies live at the same depth as nbs/."
    lib, jobs, done = _lib_hash(), [], {}
    for p in notebooks():
        dst = EXEC / p.relative_to(NBS)
        key = hashlib.sha256(p.read_bytes() + lib.encode()).hexdigest()
        kf = dst.with_suffix(".key")
        if kf.exists() and kf.read_text() == key and dst.exists(): done[_rel(p)] = dst
        else: jobs.append((str(p), str(dst), key))
    if jobs:
        print(f"  executing {len(jobs)} notebook(s) ({len(done)} cached), {workers} at a time")
        def one(job):  # a process per notebook, as `make test` runs them
            t0 = time.time()
            r = subprocess.run([sys.executable, __file__, "--exec-one", *job], cwd=ROOT, capture_output=True, text=True)
            return _rel(Path(job[0])), r.returncode == 0, time.time() - t0, (r.stdout + r.stderr)[-3000:]
        with ThreadPoolExecutor(workers) as ex:
            for rel, ok, secs, log in ex.map(one, jobs):
                print(f"    {rel}: {'ok' if ok else 'FAILED'} ({secs:.0f} s)")
                if ok: done[rel] = EXEC / f"{rel}.ipynb"
                else: print(log, file=sys.stderr)
    return done


# ---------------------------------------------------------------- 3. staging
_TEST = re.compile(r"\btest_(?:eq|ne|close|fail|is|stdout|warns|shuffled|eq_type|sig)\w*\(|^\s*assert\b", re.M)  # fastcore.test
_DIRECTIVE = re.compile(r"^\s*#\|\s*(.*)$")


def _directives(src: str) -> tuple[dict, str]:
    "({directive: value}, source without the leading `#|` lines)"
    lines, d = src.splitlines(), {}
    while lines and (m := _DIRECTIVE.match(lines[0])):
        k, _, v = m.group(1).partition(":")
        d[k.strip()] = v.strip()
        lines.pop(0)
    return d, "\n".join(lines)


def _scrub(text: str) -> str:
    "No machine paths in the site: the checkout becomes '.', the home folder '~'"
    text = text.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home not in ("/", "") else text


def _scrub_outputs(outputs: list) -> list:
    out = []
    for o in outputs:
        if o.get("output_type") == "stream" and o.get("name") == "stderr": continue  # warnings and progress bars
        o = json.loads(_scrub(json.dumps(o)))
        md = o.get("data", {}).get("text/markdown")
        if md is not None:  # show_doc entries open with a '---' rule, which docutils can't place inside an output
            md = "".join(md) if isinstance(md, list) else md
            o["data"]["text/markdown"] = re.sub(r"^\s*---\s*\n", "", md)
        out.append(o)
    return out


_LINK = re.compile(r"(\]\(|<img [^>]*src=\"|href=\")([^)\"#\s]+)")


def _fix_links(md: str, page: Path, pages: set[str], root: Path = STAGE) -> str:
    """Links written for GitHub or for another folder, made to resolve in the site: a `.ipynb` link that does not
    resolve from the page is matched by file name; an image path from the repository root (README) made relative."""
    def fix(m):
        pre, url = m.groups()
        if re.match(r"^[a-z]+:", url) or url.startswith("/"): return m.group(0)
        target = (page.parent / url)
        if url.endswith(".ipynb"):
            rel = os.path.relpath(target.with_suffix(""), root).replace(os.sep, "/")
            if rel in pages: return m.group(0)
            hits = [p for p in pages if p.split("/")[-1] == Path(url).stem]
            if len(hits) == 1: return pre + os.path.relpath(root / f"{hits[0]}.ipynb", page.parent).replace(os.sep, "/")
            return m.group(0)
        if not target.exists() and url.startswith("nbs/") and (root / url[4:]).exists():
            return pre + os.path.relpath(root / url[4:], page.parent).replace(os.sep, "/")
        return m.group(0)
    return _LINK.sub(fix, md)


def _front_matter(cell) -> dict:
    import yaml
    src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    m = re.match(r"\s*---\n(.*?)\n---", src, re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def stage_nb(nb: dict, executed: dict | None, dst: Path, pages: set[str], root: Path = STAGE):
    "One page: front matter -> title, outputs by cell id, directives -> myst-nb tags, links fixed, paths scrubbed."
    outs = {c.get("id"): c.get("outputs", []) for c in (executed or {}).get("cells", []) if c["cell_type"] == "code"}
    cells = []
    for c in nb["cells"]:
        src = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        if c["cell_type"] == "raw":
            fm = _front_matter(c)
            if fm.get("title"):
                md = f"# {fm['title']}\n\n" + (f"> {' '.join(str(fm['description']).split())}\n" if fm.get("description") else "")
                cells.append(dict(cell_type="markdown", metadata={}, source=md, id=c.get("id", "fm")))
            continue
        if c["cell_type"] == "markdown":
            if src.strip() == "<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->": continue
            cells.append({**c, "source": _fix_links(_scrub(src), dst, pages, root)})
            continue
        d, body = _directives(src)
        tags = set(c.get("metadata", {}).get("tags", []))
        if d.get("echo") == "false": tags.add("remove-input")
        if d.get("output") == "false": tags.add("remove-output")
        if "hide" in d or (not body.strip() and not c.get("outputs")): continue
        outputs = _scrub_outputs(c.get("outputs") or outs.get(c.get("id"), []))
        meta = {}
        if not outputs and _TEST.search(body):  # a test with nothing to show: folded, one click away
            tags.add("hide-input"); meta["mystnb"] = {"code_prompt_show": "Show the test", "code_prompt_hide": "Hide the test"}
        if tags: meta["tags"] = sorted(tags)
        cells.append(dict(cell_type="code", id=c.get("id"), source=_scrub(body), execution_count=None,
                          metadata=meta, outputs=outputs))
    nb = {**nb, "cells": cells}
    nb["metadata"] = {**nb.get("metadata", {}), "mystnb": {"execution_mode": "off"}}
    nb["metadata"].setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1))


def _study_report_nb() -> dict:
    "The latest study's executed report, code hidden; or a page saying how to make one"
    rep = STUDY / "report.ipynb"
    if not rep.exists():
        src = ("# The study report\n\nNo study has been run in this checkout: `make study` runs the synthetic study "
               "(see the README) and writes `runs/synthetic/report.html`; `make docs` then shows that report here.")
        return dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[dict(cell_type="markdown", metadata={}, source=src, id="none")])
    nb = json.loads(rep.read_text())
    cells = []
    for c in nb["cells"]:
        tags = c.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags: continue
        if c["cell_type"] == "code":
            c = {**c, "source": "#| echo: false\n" + ("".join(c["source"]) if isinstance(c["source"], list) else c["source"])}
        cells.append(c)
    for c in cells:  # the page title says whose report this is
        if c["cell_type"] == "markdown":
            s = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            c["source"] = re.sub(r"^# .*", "# The study report (latest `make study`)", s, count=1)
            break
    return {**nb, "cells": cells}


def _module_constants(lib: Path = ROOT / "clipood") -> dict[str, list[tuple[str, str, str]]]:
    """{notebook rel name: [(module, name, source of its assignment)]} for the names of each module's __all__ that
    are not functions or classes (nbdev writes show_doc entries for those only)"""
    import ast
    out = {}
    for p in sorted(lib.glob("*.py")):
        text = p.read_text()
        m = re.search(r"File to edit: \.\./nbs/(.+?)\.ipynb", text)
        if not m: continue
        tree = ast.parse(text)
        names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and any(getattr(t, "id", "") == "__all__" for t in n.targets)), [])
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            targets = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]  # A, B = ...
            for t in targets:
                if getattr(t, "id", None) in names and t.id != "__all__":
                    src = ast.get_source_segment(text, node)
                    lines = src.splitlines()
                    if len(lines) > 12: src = "\n".join(lines[:12] + ["    ...  # (continues in the source)"])
                    out.setdefault(m.group(1), []).append((p.stem, t.id, src))
    return out


def _constants_cells(consts) -> list[dict]:
    md = "## Constants\n\nExported names that are values, not functions or classes.\n"
    cells = [dict(cell_type="markdown", metadata={}, source=md, id="constants")]
    for mod, name, src in consts:
        cells.append(dict(cell_type="markdown", metadata={}, id=f"const-{name}",
                          source=f"### {name}\n\n`clipood.{mod}.{name}`\n\n```python\n{src}\n```\n"))
    return cells


def stage(executed: dict[str, Path]) -> list[str]:
    "Write _docsrc/; returns the page names in sidebar order"
    if STAGE.exists(): shutil.rmtree(STAGE)
    STAGE.mkdir()
    for d in ("images",):
        if (NBS / d).exists(): shutil.copytree(NBS / d, STAGE / d)
    rels = [_rel(p) for p in notebooks()]
    pages = set(rels) | {"study_report"}
    consts = _module_constants()
    for rel in rels:
        procd = PROC / f"{rel}.ipynb"
        if not procd.exists(): raise SystemExit(f"nbdev did not process nbs/{rel}.ipynb (see the errors above)")
        ex = json.loads(executed[rel].read_text()) if rel in executed else None
        nb = json.loads(procd.read_text())
        if rel in consts: nb["cells"] += _constants_cells(consts[rel])
        stage_nb(nb, ex, STAGE / f"{rel}.ipynb", pages)
    stage_nb(_study_report_nb(), None, STAGE / "study_report.ipynb", pages)
    order = [p for _, names in SECTIONS for p in names if p in pages]
    extra = [p for p in rels if p not in order]
    sections = SECTIONS + ([("More", extra)] if extra else [])
    add_toc(STAGE / "index.ipynb", sections, pages)
    return order + extra


# Sidebar labels where two notebooks share a title
LABELS = {"experiments/run": "One experiment: the papermill notebook", "report": "The report notebook"}


def add_toc(index: Path, sections, pages):
    "The sidebar (and prev/next order): one hidden toctree per section, appended to the index page"
    entry = lambda p: f"{LABELS[p]} <{p}>" if p in LABELS else p
    toc = "\n".join(f"```{{toctree}}\n:caption: {cap}\n:hidden:\n\n" + "\n".join(entry(p) for p in names if p in pages and p != "index")
                    + "\n```\n" for cap, names in sections if any(p in pages and p != "index" for p in names))
    idx = json.loads(index.read_text())
    idx["cells"].append(dict(cell_type="markdown", metadata={}, source=toc, id="toctree"))
    index.write_text(json.dumps(idx, indent=1))


# ---------------------------------------------------------------- checks (run by `make docs` and tests/test_docs.py)
def exported_names(lib: Path = ROOT / "clipood") -> dict[str, list[str]]:
    "{module: its __all__} read from the exported sources (no import)"
    import ast
    out = {}
    for p in sorted(lib.glob("*.py")):
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                out[p.stem] = [ast.literal_eval(e) for e in node.value.elts]
    return out


def api_coverage() -> tuple[list[str], int]:
    """(names of some module's __all__ that the site would have no entry for, how many names have one), from nbdev's
    own show_doc insertion (no execution) and the constants' entries: seconds, where building the site takes minutes"""
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs, populate_language
    consts, names, missing, n = _module_constants(), exported_names(), [], 0
    for p in sorted((ROOT / "clipood").glob("*.py")):
        m = re.search(r"File to edit: \.\./nbs/(.+?)\.ipynb", p.read_text())
        if not m or p.stem not in names: continue
        proc = NBProcessor(NBS / f"{m.group(1)}.ipynb", procs=[populate_language, add_show_docs]); proc.process()
        shown = {x for c in proc.nb.cells if c.cell_type == "code" for x in re.findall(r"show_doc\((\w+)", c.source)}
        shown |= {name for _, name, _ in consts.get(m.group(1), [])}
        for name in names[p.stem]:
            if name in shown: n += 1
            else: missing.append(f"clipood.{p.stem}.{name} (nbs/{m.group(1)}.ipynb)")
    return missing, n


_ATTR = re.compile(r"""<(a|link|script|img|iframe|source)\b[^>]*?\b(href|src)=["']([^"']*)["']""", re.I)
_HEADING = re.compile(r"<(?:h[1-6]|p class=\"rubric\")[^>]*>(.*?)</(?:h[1-6]|p)>", re.S)  # show_doc headings become rubrics


def check_site(out: Path, pages: list[str], names: dict[str, list[str]], roots: list[str] = ()) -> list[str]:
    """Problems a reader would meet: a missing page, an exported name with no API entry, an internal link or image
    that does not resolve, anything loaded from outside the site, a machine path in a page. Empty when all is well."""
    problems, headings = [], set()
    for p in pages:
        if not (out / f"{p}.html").exists(): problems.append(f"no page for {p}")
    for f in sorted(out.rglob("*.html")):
        text, rel = f.read_text(errors="replace"), f.relative_to(out).as_posix()
        headings |= {re.sub(r"<[^>]+>|¶|#", "", h).strip() for h in _HEADING.findall(text)}
        for root in roots:
            if root in text: problems.append(f"{rel}: contains the machine path {root}")
        for tag, attr, url in _ATTR.findall(text):
            if url.startswith(("http://", "https://", "//")):
                if tag.lower() != "a": problems.append(f"{rel}: <{tag}> loads {url} from outside the site")
                continue
            if url.startswith(("#", "mailto:", "data:", "javascript:")) or not url: continue
            target = (f.parent / url.split("#")[0].split("?")[0]).resolve()
            if not target.exists(): problems.append(f"{rel}: broken {'link' if tag.lower() in ('a', 'link') else tag} {url}")
    for mod, ns in names.items():
        for n in ns:
            if n not in headings: problems.append(f"no API entry for {mod}.{n}")
    return problems


# ---------------------------------------------------------------- 4. sphinx
def sphinx(out: Path, src: Path = STAGE) -> int:
    "Build `src` into `out`; Sphinx's doctrees and myst-nb's jupyter_execute/ go beside `out`, not into the site"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(ROOT / "docs"), "-d", str(out.parent / "doctrees"),
           str(src), str(out)]
    return subprocess.call(cmd, cwd=ROOT)


def build(out: Path = OUT, workers: int = 2, run: bool = True) -> Path:
    t0 = time.time()
    print("== 1/4 nbdev: processing notebooks into _proc/"); proc(workers)
    print(f"   {time.time()-t0:.0f} s")
    print("== 2/4 executing notebooks (cache: .cache/docs-exec/)")
    executed = execute(workers) if run else {}
    print(f"   {time.time()-t0:.0f} s")
    print("== 3/4 staging pages into _docsrc/"); order = stage(executed)
    print("== 4/4 sphinx -> " + os.path.relpath(out, ROOT))
    if sphinx(BUILD / "html") != 0: raise SystemExit("sphinx-build failed")
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(BUILD / "html", out)
    problems = check_site(out, order, exported_names(), roots=[str(ROOT), str(Path.home()) + "/"])
    if problems: raise SystemExit("the site has problems:\n  " + "\n  ".join(problems))
    print(f"   {time.time()-t0:.0f} s")
    return out / "index.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT), help="site folder (default: _docs)")
    ap.add_argument("--sphinx", action="store_true", help="build the Sphinx site even if Quarto is installed")
    ap.add_argument("--no-execute", action="store_true", help="don't run the notebooks (pages show no outputs but API entries)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--study", default=None, help="sweep folder whose report.ipynb becomes the report page (default: runs/synthetic)")
    ap.add_argument("--exec-one", nargs=3, metavar=("SRC", "DST", "KEY"), help=argparse.SUPPRESS)
    ap.add_argument("--proc-one", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.exec_one:
        rel, ok, secs, log = _exec_one(a.exec_one)
        print(log)
        return 0 if ok else 1
    if a.proc_one:
        err = _proc_one(a.proc_one)
        if err: print(err, file=sys.stderr)
        return 1 if err else 0
    if shutil.which("quarto") and not a.sphinx:
        nbdev_docs = Path(sys.executable).parent / "nbdev-docs"
        return subprocess.call([str(nbdev_docs) if nbdev_docs.exists() else "nbdev-docs"], cwd=ROOT)
    if not a.sphinx: print("Quarto is not installed (nbdev-docs needs it): building the Sphinx site instead.")
    if a.study:
        global STUDY
        STUDY = Path(a.study).resolve()
    index = build(Path(a.out).resolve(), a.workers, run=not a.no_execute)
    print(f"docs: {os.path.relpath(index, Path.cwd())} (open it in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
