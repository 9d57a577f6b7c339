"""Conventions at non-differentiable and non-finite points (issue 10), each tested against the value
the README's table documents and, where PyTorch is installed, against PyTorch.

Every row of ``CONVENTIONS`` is one line of the README table ("Reliability" section); the last test
checks that the README lists each of them with the same value, so the table cannot drift from what
the engine does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, Value
from tinygrad_rnn.nn.utils import clip_grad_norm_

NAN, INF = math.nan, math.inf
README = Path(__file__).resolve().parents[1] / "README.md"


def _ours(fn, inputs):
    tensors = [Tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in inputs]
    with np.errstate(all="ignore"):
        out = fn(*tensors)
        out.backward(np.ones(out.shape))
    return out.data, [t.grad for t in tensors]


def _torch(fn, inputs):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in inputs]
    out = fn(torch, *tensors)
    out.backward(torch.ones_like(out))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# (where, what the README says, inputs, ours, torch's, forward value, gradients)
CONVENTIONS = [
    ("`relu(x)` at x = 0", "gradient 0", [[0.0]], lambda x: x.relu(), lambda t, x: t.relu(x), [0.0], [[0.0]]),
    ("`abs(x)` at x = 0", "gradient 0", [[0.0]], lambda x: x.abs(), lambda t, x: t.abs(x), [0.0], [[0.0]]),
    (
        "`maximum(a, b)`, `minimum(a, b)` at a = b",
        "each gets half the gradient",
        [[1.0], [1.0]],
        lambda a, b: a.maximum(b) + a.minimum(b),
        lambda t, a, b: t.maximum(a, b) + t.minimum(a, b),
        [2.0],
        [[1.0], [1.0]],
    ),
    (
        "`max(x, axis)` with k tied maxima",
        "each gets 1/k of the gradient (as `torch.amax`)",
        [[1.0, 1.0, 0.0]],
        lambda x: x.max(),
        lambda t, x: t.amax(x),
        1.0,
        [[0.5, 0.5, 0.0]],
    ),
    (
        "`clip(x, low, high)` at x = low or high",
        "gradient 1 (the bound is inside)",
        [[0.0, 1.0]],
        lambda x: x.clip(0.0, 1.0),
        lambda t, x: t.clamp(x, 0.0, 1.0),
        [0.0, 1.0],
        [[1.0, 1.0]],
    ),
    ("`sqrt(x)` at x = 0", "gradient +inf", [[0.0]], lambda x: x.sqrt(), lambda t, x: t.sqrt(x), [0.0], [[INF]]),
    (
        "`log(x)` at x = 0",
        "value -inf, gradient +inf",
        [[0.0]],
        lambda x: x.log(),
        lambda t, x: t.log(x),
        [-INF],
        [[INF]],
    ),
    (
        "`x ** 0` at x = 0 (number or tensor exponent)",
        "value 1, gradient 0",
        [[0.0], [0.0]],
        lambda x, e: x**0.0 + x**e,
        lambda t, x, e: x**0.0 + x**e,
        [2.0],
        [[0.0], [0.0]],
    ),
    (
        "`x ** p` at x = 0",
        "gradient 0 for p > 1, 1 for p = 1, +inf for 0 < p < 1",
        [[0.0, 0.0, 0.0]],
        lambda x: x ** Tensor([2.0, 1.0, 0.5]),
        lambda t, x: x ** t.tensor([2.0, 1.0, 0.5], dtype=t.float64),
        [0.0, 0.0, 0.0],
        [[0.0, 1.0, INF]],
    ),
    (
        "`0 ** e`, gradient for the exponent e",
        "0 for e >= 0; -inf for e < 0 (where the value is +inf)",
        [[2.0, 0.0, -1.0]],
        lambda e: Tensor([0.0, 0.0, 0.0]) ** e,
        lambda t, e: t.zeros(3, dtype=t.float64) ** e,
        [0.0, 1.0, INF],
        [[0.0, 0.0, -INF]],
    ),
    (
        "`x / y` at y = 0 (x = 1)",
        "value +inf; gradient +inf for x, -inf for y",
        [[1.0], [0.0]],
        lambda x, y: x / y,
        lambda t, x, y: x / y,
        [INF],
        [[INF], [-INF]],
    ),
    (
        "`relu(nan)`",
        "value nan, gradient 1 (nan is not <= 0)",
        [[NAN]],
        lambda x: x.relu(),
        lambda t, x: t.relu(x),
        [NAN],
        [[1.0]],
    ),
    (
        "`abs(nan)`",
        "value nan, gradient 0 (sign(nan) is taken as 0)",
        [[NAN]],
        lambda x: x.abs(),
        lambda t, x: t.abs(x),
        [NAN],
        [[0.0]],
    ),
    (
        "`maximum(nan, b)`, `minimum(nan, b)`",
        "value nan; both operands get the whole gradient",
        [[NAN], [1.0]],
        lambda a, b: a.maximum(b),
        lambda t, a, b: t.maximum(a, b),
        [NAN],
        [[1.0], [1.0]],
    ),
    (
        "`max(x, axis)` with a nan in x",
        "value nan; gradient nan for every element",
        [[NAN, 1.0]],
        lambda x: x.max(),
        lambda t, x: t.amax(x),
        NAN,
        [[NAN, NAN]],
    ),
]


def _same(actual, expected) -> None:
    np.testing.assert_array_equal(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64))


@pytest.mark.parametrize("row", CONVENTIONS, ids=[row[0] for row in CONVENTIONS])
def test_documented_value(row):
    _, _, inputs, ours, _, value, grads = row
    out, got = _ours(ours, inputs)
    _same(out, value)
    for g, expected in zip(got, grads):
        _same(g, expected)


@pytest.mark.parametrize("row", CONVENTIONS, ids=[row[0] for row in CONVENTIONS])
def test_same_as_pytorch(row):
    _, _, inputs, ours, theirs, _, _ = row
    out, got = _ours(ours, inputs)
    t_out, t_got = _torch(theirs, inputs)
    _same(out, t_out)
    for g, expected in zip(got, t_got):
        _same(g, expected)


def test_scalar_engine_follows_the_same_conventions():
    for exponent, slope in [(0, 0.0), (0.0, 0.0), (1, 1.0), (2, 0.0), (0.5, INF)]:
        x = Value(0.0)
        (x**exponent).backward()
        assert x.grad == slope, exponent
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_with_a_non_finite_gradient_matches_pytorch(bad):
    grads = [np.array([1.0, bad]), np.array([3.0])]
    params = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    with np.errstate(invalid="ignore"):
        total = clip_grad_norm_(params, 1.0)
    expected = [np.array([NAN, NAN]), np.array([NAN])] if np.isnan(bad) else [np.array([0.0, NAN]), np.array([0.0])]
    for p, e in zip(params, expected):
        _same(p.grad, e)
    assert math.isnan(total) if np.isnan(bad) else total == INF
    torch = pytest.importorskip("torch")
    tparams = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_(tparams, 1.0)
    for p, t in zip(params, tparams):
        _same(p.grad, t.grad.numpy())


def test_clip_grad_norm_error_if_nonfinite_changes_nothing():
    p = Tensor([0.0, 0.0], requires_grad=True)
    p.grad = np.array([1.0, np.nan])
    with pytest.raises(tg.ArgumentError, match=r"total norm .* is nan"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    _same(p.grad, [1.0, NAN])


def test_readme_table_lists_every_convention_with_its_value():
    text = README.read_text()
    for where, value, *_ in CONVENTIONS:
        assert f"| {where} | {value} |" in text, f"README conventions table is missing: | {where} | {value} |"
