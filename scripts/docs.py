"""`make docs`: nbdev-docs where Quarto is installed; otherwise an offline HTML preview of every notebook.

The preview (nbconvert, no Quarto, no pandoc) goes to _docs_preview/, one page per notebook plus
an index.html linking them; cells marked `#| hide` are left out and nbdev directives are stripped.
"""
import argparse
import html
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _title(nb) -> tuple[str, str]:
    "The notebook's '# Title' and '> summary' lines."
    for c in nb.cells:
        if c.cell_type != "markdown": continue
        lines = c.source.splitlines()
        title = next((l[2:].strip() for l in lines if l.startswith("# ")), "")
        summary = next((l[1:].strip() for l in lines if l.startswith(">")), "")
        if title: return title, summary
    return "", ""


def _clean(nb):
    "Drop `#| hide` cells and strip nbdev directive lines (`#| export`, ...) from code cells."
    cells = []
    for c in nb.cells:
        if c.cell_type == "code":
            lines = c.source.splitlines()
            if any(l.replace(" ", "") == "#|hide" for l in lines if l.startswith("#|")): continue
            c.source = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
            if not c.source: continue
        cells.append(c)
    nb.cells = cells
    return nb


def preview(out: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    nbs = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
                 if not any(part.startswith((".", "_")) for part in p.relative_to(ROOT / "nbs").parts))
    rows = []
    for p in nbs:
        rel = p.relative_to(ROOT / "nbs").with_suffix(".html")
        if str(rel) == "index.html": rel = Path("readme.html")  # nbs/index.ipynb is the README; index.html is ours
        nb = nbformat.read(str(p), as_version=4)
        title, summary = _title(nb)
        body, _ = exporter.from_notebook_node(_clean(nb))
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(body)
        rows.append((str(rel), title or p.stem, summary))
        print(f"  {p.relative_to(ROOT)} -> {out / rel}")
    items = "\n".join(f'<li><a href="{html.escape(r)}">{html.escape(t)}</a> <code>{html.escape(r[:-5])}.ipynb</code>'
                      f'<br><small>{html.escape(s)}</small></li>' for r, t, s in rows)
    (out / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>clipood notebooks (offline preview)</title>"
        "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}li{margin:.6em 0}</style></head><body>"
        "<h1>clipood — notebooks</h1><p>Offline preview built with nbconvert (Quarto is not installed). "
        "Notebooks show the outputs stored in them.</p>"
        f"<ul>{items}</ul></body></html>")
    return out / "index.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_docs_preview"), help="preview folder (default: _docs_preview)")
    ap.add_argument("--preview", action="store_true", help="build the nbconvert preview even if Quarto is installed")
    a = ap.parse_args(argv)
    if shutil.which("quarto") and not a.preview:
        nbdev_docs = Path(sys.executable).parent / "nbdev-docs"
        return subprocess.call([str(nbdev_docs) if nbdev_docs.exists() else "nbdev-docs"], cwd=ROOT)
    if not a.preview: print("Quarto is not installed, so nbdev-docs cannot run: building an offline nbconvert preview in _docs_preview/ instead.")
    index = preview(Path(a.out))
    print(f"docs preview: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
