"""Count the lines a learner reads to understand the whole engine (issue 11's measure).

The engine is ``tinygrad_rnn/autograd.py`` (all of it) and the core of ``tinygrad_rnn/tensor.py``:
the node type (``Tensor``'s slots and constructor, ``.grad``, ``backward``, hooks, ``retain_grad``,
``detach``, ``requires_grad_``), how a leaf is made (``_init_leaf``, ``_wrap``), the in-place
version bump and the hook plumbing (``RemovableHandle``, ``_hook_result``). Not counted:
docstrings, comments, blank lines, and the long tail of convenience methods (operators,
``sum``/``reshape``/... wrappers, factories, in-place arithmetic, PyTorch aliases), which each
call one op and teach nothing new about the engine.

Run: ``python scripts/engine_lines.py [path/to/tinygrad_rnn]`` (one line per part and the total).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tinygrad_rnn"
TENSOR_CORE = {"_init_leaf", "_wrap", "RemovableHandle", "_hook_result", "bump_version", "make_node", "_make"}
TENSOR_METHODS = {
    "__slots__",
    "__init__",
    "grad",
    "backward",
    "register_hook",
    "_run_hooks",
    "retain_grad",
    "detach",
    "requires_grad_",
    "is_leaf",
}


_NOT_CODE = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def code_lines(source: str) -> set[int]:
    """Line numbers holding code: not blank, not only a comment, not part of a docstring."""
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in _NOT_CODE:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):  # a docstring
                lines -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _span(node: ast.AST) -> set[int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return set(range(first, node.end_lineno + 1))


def tensor_core_lines(source: str) -> set[int]:
    """The lines of tensor.py's engine core (see the module docstring)."""
    keep: set[int] = set()
    for node in ast.parse(source).body:
        names = {getattr(node, "name", None)}
        if isinstance(node, ast.Assign):
            names = {t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)}
        if isinstance(node, ast.ImportFrom) and node.module == "autograd":
            keep |= _span(node)
        if names & TENSOR_CORE:
            keep |= _span(node)
        if isinstance(node, ast.ClassDef) and node.name == "Tensor":
            keep.add(node.lineno)
            for item in node.body:
                item_names = {getattr(item, "name", None)}
                if isinstance(item, ast.Assign):
                    item_names = {t.id for t in item.targets if isinstance(t, ast.Name)}
                if item_names & TENSOR_METHODS:
                    keep |= _span(item)
    return keep & code_lines(source)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else ROOT  # another checkout's package, to compare
    autograd = (root / "autograd.py").read_text(encoding="utf-8")
    tensor = (root / "tensor.py").read_text(encoding="utf-8")
    parts = {
        "autograd.py (all code)": len(code_lines(autograd)),
        "tensor.py (engine core)": len(tensor_core_lines(tensor)),
    }
    for name, count in parts.items():
        print(f"{name:<26} {count:5d}")
    print(f"{'total':<26} {sum(parts.values()):5d}")
    raw = len(autograd.splitlines()) + len(tensor.splitlines())
    print(f"(raw lines of both files: {raw}; code lines of all of tensor.py: {len(code_lines(tensor))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
