"""The package's import graph is acyclic: every `import` of a clipood module, at module level or inside a function."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "clipood"


def _imports(path: Path) -> set[str]:
    "clipood modules imported anywhere in `path` (absolute, relative and function-level imports)"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "clipood"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y / from . import y
                base = "clipood" + ("." + base if base else "")
            if base.split(".")[0] != "clipood": continue
            if base == "clipood":  # from clipood import data -> clipood.data
                out |= {f"clipood.{a.name}" for a in node.names if (PKG / f"{a.name}.py").exists()}
            else: out.add(base)
    return {m.split(".")[1] if m != "clipood" else "__init__" for m in out}


def _graph() -> dict[str, set[str]]:
    mods = {p.stem for p in PKG.glob("*.py")}
    g = {p.stem: _imports(p) & mods for p in PKG.glob("*.py")}
    for m in g: g[m].discard(m)
    return g


def _cycle(g):
    "A cycle of `g` as a list of modules, or None"
    state, stack = {}, []
    def visit(m):
        state[m] = 1; stack.append(m)
        for n in sorted(g[m]):
            if state.get(n) == 1: return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)): return c
        state[m] = 2; stack.pop()
        return None
    for m in sorted(g):
        if m not in state and (c := visit(m)): return c
    return None


def test_cycle_detector_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_sees_function_level_and_relative_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from .models import x\ndef f():\n    from clipood.pretrain import y\n    import clipood.data\nfrom clipood import scores\n")
    assert _imports(f) == {"models", "pretrain", "data", "scores"}


def test_package_import_graph_is_acyclic():
    g = _graph()
    assert {"cache", "models", "features", "pretrain", "experiment", "report", "sweep"} <= set(g)
    assert "pretrain" not in g["models"] and "pretrain" not in g["features"]
    assert _cycle(g) is None, f"import cycle: {' -> '.join(_cycle(g))}"
