"""scripts/engine_lines.py counts code lines only: docstrings, comments and blank lines are not read as code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("engine_lines", ROOT / "scripts" / "engine_lines.py")
engine_lines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(engine_lines)

SAMPLE = '''"""Module docstring,
two lines."""

import numpy as np  # a comment after code counts as code


def f(x):
    """A docstring."""
    # a comment line
    y = (x +
         1)
    return y


class Tensor:
    """The class docstring."""

    __slots__ = ("data",)

    def backward(self):
        return 1

    def sum(self):
        return 2
'''


def test_code_lines_leave_out_docstrings_comments_and_blank_lines():
    # import, def f, the two lines of y = ..., return y, class, __slots__, def backward, return, def sum, return
    assert engine_lines.code_lines(SAMPLE) == {4, 7, 10, 11, 12, 15, 18, 20, 21, 23, 24}


def test_the_tensor_core_keeps_the_engine_methods_and_drops_the_convenience_ones():
    assert engine_lines.tensor_core_lines(SAMPLE) == {15, 18, 20, 21}  # class line, slots, backward


def test_the_count_runs_on_the_package():
    autograd = (ROOT / "tinygrad_rnn" / "autograd.py").read_text(encoding="utf-8")
    tensor = (ROOT / "tinygrad_rnn" / "tensor.py").read_text(encoding="utf-8")
    core = engine_lines.tensor_core_lines(tensor)
    assert 100 < len(engine_lines.code_lines(autograd)) < len(autograd.splitlines())
    assert 50 < len(core) < len(engine_lines.code_lines(tensor))
