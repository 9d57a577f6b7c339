"""The engine imports numpy only: drawing, plotting, progress bars and torch stay out of it.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide a leak.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("graphviz", "matplotlib", "tinygrad_rnn.viz", "tinygrad_rnn.apps", "torch", "tqdm")

# Prints {module name: file} for the modules that importing the engine added to sys.modules.
_PROBE = """
import importlib, json, pkgutil, sys
sys.path.insert(0, {root!r})
before = set(sys.modules)
import tinygrad_rnn
if {everything}:
    for info in pkgutil.walk_packages(tinygrad_rnn.__path__, "tinygrad_rnn."):
        if info.name != "tinygrad_rnn.__main__":
            importlib.import_module(info.name)
added = set(sys.modules) - before
print(json.dumps({{name: getattr(sys.modules.get(name), "__file__", None) for name in sorted(added)}}))
"""


def _modules_added(everything: bool) -> dict[str, str | None]:
    code = _PROBE.format(root=str(ROOT), everything=everything)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("everything", [False, True], ids=["package", "every-submodule"])
def test_engine_imports_numpy_only(everything):
    added = _modules_added(everything)
    assert "tinygrad_rnn" in added and "numpy" in added  # the probe really imported the package
    leaked = sorted(name for name in added if any(name == f or name.startswith(f + ".") for f in FORBIDDEN))
    assert not leaked, f"importing tinygrad_rnn imported {leaked}"
    # Installed packages live in site-/dist-packages; the standard library and helper modules that
    # extensions create without a file (e.g. numpy's ``cython_runtime``) do not.
    installed = sorted(
        {
            name.split(".")[0]
            for name, file in added.items()
            if file and ("site-packages" in file or "dist-packages" in file)
        }
    )
    assert installed in (["numpy"], ["numpy", "tinygrad_rnn"]), f"third-party imports beyond numpy: {installed}"


# ------------------------------------------------------------------------------- import cycles
PACKAGE = ROOT / "tinygrad_rnn"
# The one cycle the engine allows: ops.py needs the Tensor type, tensor.py's methods call the ops, so
# tensor.py imports ops at its very end (after Tensor exists). The name Tensor is all that ops.py
# takes from tensor.py (shared argument helpers live in arguments.py, the node constructors are
# bound in ops.py).
ALLOWED_CYCLE = {"tinygrad_rnn.ops", "tinygrad_rnn.tensor"}
OPS_TAKES_FROM_TENSOR = {"Tensor"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_time_statements(body: list):
    """The import statements that run when the module is imported: module and class level, also
    inside if/try/with, but not inside functions nor under ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _import_time_statements(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _import_time_statements(inner)


def import_graph(package: Path = PACKAGE) -> dict[tuple[str, str], set[str]]:
    """``{(importer, imported): names}`` between the modules of ``package`` at import time.

    ``from .x import y`` is an edge to the module ``x.y`` when that is a module, else to ``x`` with
    the name ``y``; an edge to a module itself carries the name ``<module>``.
    """
    files = {_module_name(p, package.parent): p for p in package.rglob("*.py")}
    edges: dict[tuple[str, str], set[str]] = {}
    for name, path in files.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _import_time_statements(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in files:
                        edges.setdefault((name, alias.name), set()).add("<module>")
                continue
            target = node.module
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            if target not in files:
                continue  # numpy, the standard library
            for alias in node.names:
                if f"{target}.{alias.name}" in files:
                    edges.setdefault((name, f"{target}.{alias.name}"), set()).add("<module>")
                else:
                    edges.setdefault((name, target), set()).add(alias.name)
    return edges


def import_cycles(edges: dict[tuple[str, str], set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (each is a set of import cycles)."""
    graph: dict[str, list[str]] = {}
    for src, dst in edges:
        graph.setdefault(src, []).append(dst)
        graph.setdefault(dst, [])
    # Kosaraju, iteratively: finishing order on the graph, then components on the reversed graph.
    order, seen = [], set()
    for start in graph:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(graph[start]))]
        while stack:
            node, targets = stack[-1]
            for nxt in targets:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(graph[nxt])))
                    break
            else:
                stack.pop()
                order.append(node)
    reverse: dict[str, list[str]] = {n: [] for n in graph}
    for src, dst in edges:
        reverse[dst].append(src)
    components, assigned = [], set()
    for start in reversed(order):
        if start in assigned:
            continue
        component, stack = set(), [start]
        assigned.add(start)
        while stack:
            node = stack.pop()
            component.add(node)
            for prev in reverse[node]:
                if prev not in assigned:
                    assigned.add(prev)
                    stack.append(prev)
        if len(component) > 1:
            components.append(component)
    return components


def test_the_only_import_cycle_is_tensor_and_ops_over_the_tensor_type():
    edges = import_graph()
    assert ("tinygrad_rnn.nn.rnn", "tinygrad_rnn.tensor") in edges  # the walk really sees relative imports
    assert import_cycles(edges) == [ALLOWED_CYCLE]
    assert edges[("tinygrad_rnn.tensor", "tinygrad_rnn.ops")] == {"<module>"}
    assert edges[("tinygrad_rnn.ops", "tinygrad_rnn.tensor")] == OPS_TAKES_FROM_TENSOR
    # tensor.py imports ops last, once Tensor exists: the cycle is broken by order, not by luck.
    tree = ast.parse((PACKAGE / "tensor.py").read_text(encoding="utf-8"))
    last = tree.body[-1]
    assert isinstance(last, ast.ImportFrom) and [a.name for a in last.names] == ["ops"]


def test_the_cycle_finder_finds_a_cycle_through_three_modules_and_ignores_function_level_imports(tmp_path):
    package = tmp_path / "tinygrad_rnn"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("from . import c\n\ndef f():\n    from .a import g\n")
    (package / "c.py").write_text("import numpy\nfrom .a import g\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .e import x\n")
    (package / "e.py").write_text("from .d import y\n")
    edges = import_graph(package)
    assert import_cycles(edges) == [{"tinygrad_rnn.a", "tinygrad_rnn.b", "tinygrad_rnn.c"}]
    assert edges[("tinygrad_rnn.b", "tinygrad_rnn.c")] == {"<module>"}
    assert ("tinygrad_rnn.b", "tinygrad_rnn.a") not in edges  # inside a function: runs later
    assert ("tinygrad_rnn.d", "tinygrad_rnn.e") not in edges  # for the type checker only
