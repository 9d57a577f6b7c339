"""The scalar engine and the tensor engine agree on random expression trees.

Hypothesis draws a small tree over ``+ - * /``, ``tanh exp log relu sigmoid``, unary minus and
powers by a constant, with variables and Python-number constants at the leaves; a ``reuse`` node
feeds one computed node to four consumers, so the graphs are DAGs with shared intermediate nodes,
not only trees with shared leaves. Unsafe ops get safe
arguments by construction (``log(1 + u*u)``, ``a / (1 + b*b)``, ``exp(tanh(u))``, bounded bases
for powers), so no value overflows and every derivative exists. Each tree is evaluated

* in the scalar engine, once per element, with :class:`tinygrad_rnn.scalar.Value` leaves, and
* in the tensor engine, once, with 1-D float64 :class:`tinygrad_rnn.Tensor` leaves (elementwise),

and the values and the gradients of every variable must match. The two engines share no code for
the maths (``math`` against numpy, ``a * b**-1`` against ``a / b``), so the tolerance is a few
ulps relative to the largest magnitude in the graph.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor
from tinygrad_rnn.autograd import toposort
from tinygrad_rnn.scalar import Value

VARIABLES = 3
BINARY_OPS = ("add", "sub", "mul", "div")
UNARY_OPS = ("tanh", "exp", "log", "relu", "sigmoid", "neg", "reuse")
EXPONENTS = (2, 3, -1, 0.5, 1.5, -2.5)


def _trees():
    numbers = st.floats(-2, 2, allow_nan=False)
    leaves = st.one_of(
        st.tuples(st.just("var"), st.integers(0, VARIABLES - 1)),
        st.tuples(st.just("const"), numbers),
    )

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(BINARY_OPS), children, children),
            st.tuples(st.sampled_from(UNARY_OPS), children),
            st.tuples(st.just("pow"), children, st.sampled_from(EXPONENTS)),
        )

    return st.recursive(leaves, extend, max_leaves=10)


def _evaluate(tree, env, lift):
    """Evaluate ``tree`` with ``env`` for the variables; ``lift`` wraps a constant as a node."""
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "const":
        return tree[1]
    if kind in BINARY_OPS:
        a, b = _evaluate(tree[1], env, lift), _evaluate(tree[2], env, lift)
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        return a / (b * b + 1)  # a denominator of at least 1
    u = _evaluate(tree[1], env, lift)
    if isinstance(u, float):
        u = lift(u)  # methods such as .tanh() need a node even for a constant subtree
    if kind == "pow":
        exponent = tree[2]
        base = u.tanh() if exponent in (2, 3) else u.tanh() * u.tanh() + 0.5  # bounded, positive if needed
        return base**exponent
    if kind == "neg":
        return -u
    if kind == "reuse":  # one node feeding four consumers: its gradient is a sum of four contributions
        return u * u - u * 0.5 + u.tanh()
    if kind == "exp":
        return u.tanh().exp()
    if kind == "log":
        return (u * u + 1).log()
    return getattr(u, kind)()  # tanh, relu, sigmoid


def _scale(values) -> float:
    return max([1.0, *(abs(v) for v in values)])


@pytest.mark.parametrize("root_op", [*BINARY_OPS, *UNARY_OPS, "pow"])
@given(
    data=st.data(),
    points=st.integers(1, 3).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n),
            min_size=VARIABLES,
            max_size=VARIABLES,
        )
    ),
)
def test_scalar_and_tensor_engines_agree(root_op, data, points):
    # Every op is the root of some trees (a free recursive draw rarely reaches each op), and the
    # root's first operand always mentions a variable, so that op's derivative is exercised.
    first = st.tuples(st.sampled_from(BINARY_OPS), _trees(), st.tuples(st.just("var"), st.integers(0, VARIABLES - 1)))
    if root_op in BINARY_OPS:
        tree = (root_op, data.draw(first), data.draw(_trees()))
    elif root_op == "pow":
        tree = ("pow", data.draw(first), data.draw(st.sampled_from(EXPONENTS)))
    else:
        tree = (root_op, data.draw(first))
    xs = [Tensor(np.array(p), requires_grad=True) for p in points]
    out = _evaluate(tree, xs, Tensor)
    if not isinstance(out, Tensor):
        out = Tensor(np.full(len(points[0]), out))  # a tree of constants only
    out = out * np.ones(len(points[0]))  # constant subtrees are 0-d: give every tree the points' shape
    if out.requires_grad:
        out.sum().backward()

    for j in range(len(points[0])):
        env = [Value(p[j]) for p in points]
        root = _evaluate(tree, env, Value)
        if not isinstance(root, Value):
            root = Value(root)
        root.backward()
        nodes = toposort(root)
        value_scale = _scale(n.data for n in nodes)
        grad_scale = _scale(n.grad for n in nodes)
        np.testing.assert_allclose(out.data[j], root.data, rtol=1e-9, atol=1e-12 * value_scale)
        for x, v in zip(xs, env):
            tensor_grad = 0.0 if x.grad is None else x.grad[j]
            np.testing.assert_allclose(tensor_grad, v.grad, rtol=1e-9, atol=1e-12 * grad_scale * value_scale)
