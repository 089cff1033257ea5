"""Regenerate README.md from nbs/index.ipynb with nbconvert (Quarto, needed by `nbdev-readme`,
cannot be installed on our machines).

Cells whose first lines carry `#| hide` are dropped; other `#|` directive lines are removed;
`#| echo: false` cells keep only their outputs. Usage: `python scripts/make_readme.py [--check]`.
"""
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]
NB, README = ROOT / "nbs" / "index.ipynb", ROOT / "README.md"
_DIRECTIVE = re.compile(r"^\s*#\|\s*(.*)$")
HEADER = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n"


def _directives(src):
    return [m.group(1).strip() for line in src.splitlines() if (m := _DIRECTIVE.match(line))]


def render(nb_path=NB) -> str:
    "The README text for the notebook at `nb_path`"
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for cell in nb.cells:
        d = _directives(cell.source) if cell.cell_type == "code" else []
        if "hide" in d or any(x.startswith("default_exp") for x in d): continue
        cell.source = "\n".join(l for l in cell.source.splitlines() if not _DIRECTIVE.match(l)).strip("\n")
        if any(x.replace(" ", "") in ("echo:false", "hide_input") for x in d):
            cell.metadata.setdefault("transient", {})["remove_source"] = True
            cell.source = ""
        if cell.cell_type == "code" and not cell.source and not cell.get("outputs"): continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata["language_info"] = {"name": "python"}  # fenced code blocks as ```python
    exporter = MarkdownExporter()
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return HEADER + body


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not README.exists() or README.read_text() != text:
            sys.exit("README.md is out of date with nbs/index.ipynb: run `make readme`")
        print("README.md is up to date"); return
    README.write_text(text)
    print(f"wrote {README.relative_to(ROOT)}")


if __name__ == "__main__": main()
