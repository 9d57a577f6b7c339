"""The scalar engine :class:`tinygrad_rnn.scalar.Value`: values against ``math``, gradients against
central finite differences, micrograd-style usage, and a 100,000-node chain."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import DTypeError, Scope, scope
from tinygrad_rnn.autograd import STATE, toposort
from tinygrad_rnn.scalar import Value


def _finite(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _away_from_zero(low: float = 0.3, high: float = 3.0):
    """Magnitudes in [low, high] with either sign: safe divisors and relu inputs off the kink."""
    return st.tuples(_finite(low, high), st.booleans()).map(lambda ms: ms[0] if ms[1] else -ms[0])


# (name, value strategy for the first operand, for the second, Value function, math function)
BINARY = [
    ("add", _finite(-3, 3), _finite(-3, 3), lambda a, b: a + b, lambda a, b: a + b),
    ("sub", _finite(-3, 3), _finite(-3, 3), lambda a, b: a - b, lambda a, b: a - b),
    ("mul", _finite(-3, 3), _finite(-3, 3), lambda a, b: a * b, lambda a, b: a * b),
    ("div", _finite(-3, 3), _away_from_zero(), lambda a, b: a / b, lambda a, b: a / b),
]
UNARY = [
    ("neg", _finite(-3, 3), lambda a: -a, lambda a: -a),
    ("pow2", _finite(-3, 3), lambda a: a**2, lambda a: a**2),
    ("pow-half", _finite(0.2, 4), lambda a: a**0.5, math.sqrt),
    ("pow-neg", _away_from_zero(), lambda a: a**-3, lambda a: a**-3),
    ("exp", _finite(-5, 5), Value.exp, math.exp),
    ("log", _finite(0.1, 10), Value.log, math.log),
    ("tanh", _finite(-4, 4), Value.tanh, math.tanh),
    ("sigmoid", _finite(-8, 8), Value.sigmoid, lambda a: 1 / (1 + math.exp(-a))),
    ("relu", _away_from_zero(), Value.relu, lambda a: max(a, 0.0)),
    ("radd", _finite(-3, 3), lambda a: 2.5 + a, lambda a: 2.5 + a),
    ("rsub", _finite(-3, 3), lambda a: 2.5 - a, lambda a: 2.5 - a),
    ("rmul", _finite(-3, 3), lambda a: 2.5 * a, lambda a: 2.5 * a),
    ("rdiv", _away_from_zero(), lambda a: 2.5 / a, lambda a: 2.5 / a),
    ("add-number", _finite(-3, 3), lambda a: a + 1, lambda a: a + 1),
    ("mul-number", _finite(-3, 3), lambda a: a * 4, lambda a: a * 4),
]


def _central_difference(f, x: float, eps: float = 1e-6) -> float:
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.mark.parametrize(("name", "values", "fn", "reference"), UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_value_and_gradient(name, values, fn, reference, data):
    x = data.draw(values)
    a = Value(x)
    out = fn(a)
    assert out.data == pytest.approx(reference(x), rel=1e-12, abs=1e-12)
    out.backward()
    assert a.grad == pytest.approx(_central_difference(reference, x), rel=1e-6, abs=1e-7)


@pytest.mark.parametrize(("name", "left", "right", "fn", "reference"), BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_value_and_gradients(name, left, right, fn, reference, data):
    x, y = data.draw(left), data.draw(right)
    a, b = Value(x), Value(y)
    out = fn(a, b)
    assert out.data == pytest.approx(reference(x, y), rel=1e-12, abs=1e-12)
    out.backward()
    assert a.grad == pytest.approx(_central_difference(lambda t: reference(t, y), x), rel=1e-6, abs=1e-7)
    assert b.grad == pytest.approx(_central_difference(lambda t: reference(x, t), y), rel=1e-6, abs=1e-7)


def test_micrograd_style_neuron():
    # out = tanh(w1 x1 + w2 x2 + b): d out / d w1 = (1 - out**2) x1, and so on.
    x1, x2, w1, w2, b = Value(2.0), Value(-1.0), Value(0.25), Value(0.5), Value(0.1)
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    local = 1 - math.tanh(0.1) ** 2
    assert out.data == pytest.approx(math.tanh(0.1))
    assert w1.grad == pytest.approx(local * 2.0)
    assert w2.grad == pytest.approx(local * -1.0)
    assert x1.grad == pytest.approx(local * 0.25)
    assert b.grad == pytest.approx(local)


def test_reused_value_sums_its_contributions():
    a = Value(3.0)
    out = a * a + a + a / 3  # d/da = 2a + 1 + 1/3
    out.backward()
    assert a.grad == pytest.approx(2 * 3.0 + 1 + 1 / 3)
    b = Value(-2.0)
    (b + b).backward()
    assert b.grad == 2.0


def test_leaf_gradients_accumulate_until_reset_but_intermediates_start_fresh():
    a = Value(2.0)
    hidden = a * 3
    out = hidden * hidden  # d/da = 2 * 3a * 3 = 36
    out.backward()
    assert a.grad == pytest.approx(36.0)
    out.backward()  # micrograd semantics: leaves accumulate; intermediates are recomputed
    assert a.grad == pytest.approx(72.0)
    assert hidden.grad == pytest.approx(12.0)


def test_sigmoid_is_stable_at_large_magnitudes():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0
    low = Value(-30.0)
    low.sigmoid().backward()
    assert low.grad == pytest.approx(math.exp(-30.0), rel=1e-9)


def test_graph_interface_matches_the_tensor_engine():
    a, b = Value(1.0, name="a"), Value(2.0)
    with scope("cell", step=4):
        out = (a * b).tanh()
    assert out.op == "tanh" and out.parents[0].op == "mul"
    assert out.parents[0].parents == (a, b)  # a tuple, in call order
    assert isinstance(out.parents, tuple) and a.parents == () and a.op == ""
    assert out.scope == Scope("cell", 4) and a.scope == Scope("", None)
    assert a.name == "a" and out.requires_grad
    assert toposort(out)[-1] is out


def test_combining_with_a_non_number_raises():
    with pytest.raises(DTypeError, match="str"):
        Value(1.0) + "2"
    with pytest.raises(DTypeError):
        Value(2.0) ** Value(2.0)


def test_100000_node_chain_backpropagates_without_recursion():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad == pytest.approx(1.00001**100_000, rel=1e-9)


def test_backward_of_a_leaf_accumulates_one_and_edge_shares_follow_the_chain_rule():
    a = Value(3.0)
    a.backward()
    a.backward()
    assert a.grad == 2.0 and a._backward(5.0) == ()
    b = Value(-2.0)
    prod, t = a * b, b.tanh()
    assert prod._backward(0.5) == (0.5 * -2.0, 0.5 * 3.0)  # d(ab)/da = b, d(ab)/db = a
    assert t._backward(2.0) == pytest.approx((2.0 * (1 - math.tanh(-2.0) ** 2),))


def test_backward_reports_every_edge_and_creation_reports_every_node_through_the_engine_hooks():
    # The observers of the tensor engine (autograd's edge_hook and node_hook) see the scalar engine too.
    made, sent = [], []
    STATE.node_hook = made.append
    try:
        a, b = Value(2.0), Value(-3.0)
        c = a * b
        d = (c + a).tanh()
    finally:
        STATE.node_hook = None
    assert made[0] is c and made[-1] is d and len(made) == 3  # the op results (mul, add, tanh)
    STATE.edge_hook = lambda child, parent, index, grad: sent.append((child, parent, index, grad))
    try:
        d.backward()
    finally:
        STATE.edge_hook = None
    assert {(child.op, index) for child, _, index, _ in sent} == {
        ("tanh", 0),
        ("add", 0),
        ("add", 1),
        ("mul", 0),
        ("mul", 1),
    }
    for child, parent, index, grad in sent:
        assert parent is child.parents[index]
        assert grad == child._backward(child.grad)[index]  # the chain rule's share along that edge
    # What each node received, summed over its edges, is its gradient (a is used twice).
    assert sum(g for _, parent, _, g in sent if parent is a) == a.grad
