"""The tensor engine's contract beyond single ops: accumulation, graph lifetime, modes, dtypes, errors.

Gradients are compared with results derived by hand (written beside each test), not with the engine
itself, so a wrong accumulation rule or a dropped contribution fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, shapes

import tinygrad_rnn
from tinygrad_rnn import DTypeError, GraphError, Scope, ShapeError, Tensor
from tinygrad_rnn.autograd import STATE, toposort


# ----------------------------------------------------------------------------- accumulation
@given(
    coefficients=st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=6),
    x=shapes(max_dims=2).flatmap(arrays),
)
def test_tensor_used_k_times_receives_the_sum_of_its_contributions(coefficients, x):
    # loss = sum_i c_i * sum(x * x)  =>  dloss/dx = 2 x * sum_i c_i
    t = Tensor(x, requires_grad=True)
    loss = tinygrad_rnn.stack([(t * t).sum() * c for c in coefficients]).sum()
    loss.backward()
    np.testing.assert_allclose(t.grad, 2 * x * sum(coefficients), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2, 5, 12])
def test_shared_recurrent_weight_gets_one_contribution_per_step(steps):
    # h_t = w * h_(t-1) with h_0 = 1.5, so h_T = 1.5 w**T and dh_T/dw = 1.5 T w**(T-1):
    # the T terms of backpropagation through time, one per use of the shared weight.
    w = Tensor(0.9, requires_grad=True)
    h = Tensor(1.5)
    contributions = []
    STATE.edge_hook = lambda child, parent, index, grad: parent is w and contributions.append(float(grad))
    try:
        for _ in range(steps):
            h = w * h
        h.backward()
    finally:
        STATE.edge_hook = None
    assert w.grad == pytest.approx(1.5 * steps * 0.9 ** (steps - 1), rel=1e-12)
    assert len(contributions) == steps
    assert sum(contributions) == pytest.approx(float(w.grad), rel=1e-12)


def test_matrix_recurrence_weight_gradient_is_the_sum_over_steps():
    # h_t = W h_(t-1); L = sum(h_2) = 1^T W W h_0.  dL/dW = (W^T 1) h_0^T + 1 (W h_0)^T.
    rng = np.random.default_rng(3)
    W0, h0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    W = Tensor(W0, requires_grad=True)
    (W @ (W @ Tensor(h0))).sum().backward()
    ones = np.ones(3)
    expected = np.outer(W0.T @ ones, h0) + np.outer(ones, W0 @ h0)
    np.testing.assert_allclose(W.grad, expected, rtol=1e-12)


def test_repeated_indices_scatter_add():
    table = Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    rows = table[np.array([[0, 2], [0, 0]])]  # token 0 appears three times, token 2 once
    (rows * Tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(table.grad, [[3.0, 30.0], [0.0, 0.0], [1.0, 10.0], [0.0, 0.0]])


def test_leaf_grad_accumulates_across_backward_calls():
    x = Tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0])
    (x * 3).sum().backward()  # a new graph: its gradient adds to the old one, as in PyTorch
    np.testing.assert_array_equal(x.grad, [5.0, -1.0])


def test_user_gradient_array_is_not_modified_or_aliased():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([1.0, 1.0])
    (x + x).backward(seed)
    (x * 1).backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    x.grad[0] = 99.0
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_in_place_gradient_sums_never_touch_saved_buffers():
    # With retain_graph, a second pass reuses every saved array; if the first pass had summed
    # gradients into any of them, the second pass would give different gradients.
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    y = x.exp()
    z = y + y * y + y.sum(axis=0) + y[0] + y[np.array([1, 1])]
    z.backward(np.ones(z.shape), retain_graph=True)
    first = x.grad.copy()
    x.grad = None
    z.backward(np.ones(z.shape))
    np.testing.assert_allclose(x.grad, first, rtol=1e-15)


# ----------------------------------------------------------------------------- graph lifetime
def test_retain_graph_allows_a_second_backward_and_then_frees():
    x = Tensor(2.0, requires_grad=True)
    y = (x * x).tanh()
    y.backward(retain_graph=True)
    once = float(x.grad)
    y.backward()  # allowed: the first call kept the buffers
    assert float(x.grad) == pytest.approx(2 * once, rel=1e-15)
    with pytest.raises(GraphError, match="second time"):
        y.backward()  # the second call freed them


def test_backward_through_a_freed_graph_raises_instead_of_returning_garbage():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 2
    hidden.sum().backward()
    with pytest.raises(GraphError, match="retain_graph"):
        (hidden * 3).sum().backward()  # reaches ``hidden``, whose buffers were released


def test_graph_stays_traceable_after_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    assert [n.op for n in toposort(y)] == ["", "", "mul", "sum"]  # x, the constant 2, x * 2, the sum
    assert y.parents[0].parents[0] is x
    assert y.item() == 6.0


def test_backward_of_non_scalar_needs_a_gradient():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        y.backward(np.ones(3))


def test_backward_without_a_graph_raises():
    with pytest.raises(GraphError, match="requires_grad"):
        (Tensor([1.0]) * 2).sum().backward()


# ------------------------------------------------------------------------------------- modes
def test_no_grad_records_nothing_and_restores_the_mode():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tinygrad_rnn.no_grad():
        y = x * 2
        with tinygrad_rnn.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.parents == ()
    assert z.requires_grad and z.parents[0] is x
    assert tinygrad_rnn.is_grad_enabled()
    with pytest.raises(KeyError), tinygrad_rnn.set_grad_enabled(False):
        raise KeyError
    assert tinygrad_rnn.is_grad_enabled()


def test_detach_shares_data_and_blocks_gradient():
    x = Tensor([1.0, 3.0], requires_grad=True)
    d = x.detach()
    assert d.data is x.data and not d.requires_grad and d.parents == ()
    (d * x).sum().backward()  # only the non-detached use contributes: d/dx (c * x) = c
    np.testing.assert_array_equal(x.grad, [1.0, 3.0])


def test_requires_grad_on_integer_or_boolean_data_raises():
    with pytest.raises(DTypeError, match="int64"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(DTypeError):
        Tensor(np.array([True]), requires_grad=True)
    assert Tensor([1, 2], requires_grad=True).dtype == np.float64  # Python ints become float64


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    y = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(GraphError, match="detach"):
        y.requires_grad_(False)


# ------------------------------------------------------------------------------------- dtypes
def test_float32_stays_float32_with_python_numbers_and_in_gradients():
    x = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    y = ((x * 2.0 + 1) / 3 - 0.25) ** 2
    out = (y.exp() + y.tanh() + y.sigmoid()).sum()
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32


def test_float32_with_float64_promotes_to_float64():
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64  # each leaf keeps its own dtype
    assert tinygrad_rnn.randn(2, 2, dtype="float32").dtype == np.float32


# ------------------------------------------------------------------------------ deep graphs
def test_100000_op_chain_backpropagates_without_recursion():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = (y * 1.00001) + 0.5  # 100,000 ops, each on the previous one
    y.backward()
    assert float(x.grad) == pytest.approx(1.00001**50_000, rel=1e-9)
    assert len(toposort(y)) > 100_000


# ----------------------------------------------------------------------------- retain/hooks
def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = (x * 3).retain_grad()
    other = x * 4
    (hidden * hidden + other).sum().backward()
    np.testing.assert_array_equal(hidden.grad, 2 * hidden.data)  # d(h^2)/dh = 2h
    assert other.grad is None  # not retained


def test_register_hook_replaces_the_gradient_and_can_be_removed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    seen = []
    hidden.register_hook(lambda g: seen.append(g.copy()))  # observes, returns None
    remove = hidden.register_hook(lambda g: g * 10)  # replaces
    hidden.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])
    remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    leaf = Tensor([1.0], requires_grad=True)
    leaf.register_hook(lambda g: -g)
    (leaf * 5).sum().backward()
    np.testing.assert_array_equal(leaf.grad, [-5.0])


# ------------------------------------------------------------------------------------ scopes
def test_every_node_records_the_scope_current_at_creation():
    x = Tensor([1.0], requires_grad=True)
    with tinygrad_rnn.scope("encoder"):
        with tinygrad_rnn.scope("lstm", step=3):
            inner = x * 2
            assert tinygrad_rnn.current_scope() == Scope("encoder.lstm", 3)
        with tinygrad_rnn.scope(step=7), tinygrad_rnn.scope(step=8):
            stepped = x + 1
        middle = x - 1
    outer = x.exp()
    assert inner.scope == Scope("encoder.lstm", 3)
    assert stepped.scope == Scope("encoder", 8)  # the inner step overrides
    assert middle.scope == Scope("encoder", None)
    assert outer.scope == Scope("", None) == tinygrad_rnn.current_scope()


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("make", "op", "shapes_named"),
    [
        (lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5))), "matmul", ["(2, 3)", "(4, 5)"]),
        (lambda: Tensor(np.ones(3)) @ Tensor(np.ones(4)), "matmul", ["(3,)", "(4,)"]),
        (lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2))), "matmul", ["(2, 3, 4)", "(5, 4, 2)"]),
        (lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones(4)), "add", ["(2, 3)", "(4,)"]),
        (lambda: Tensor(np.ones((2, 3))) * np.ones((3, 2)), "mul", ["(2, 3)", "(3, 2)"]),
        (lambda: Tensor(np.ones(2)).maximum(Tensor(np.ones(3))), "maximum", ["(2,)", "(3,)"]),
        (
            lambda: tinygrad_rnn.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]),
            "cat",
            ["(2, 3)", "(2, 4)"],
        ),
        (
            lambda: tinygrad_rnn.cat([Tensor(np.ones((2, 3))), Tensor(np.ones(3))], axis=1),
            "cat",
            ["(2, 3)", "(3,)"],
        ),
        (lambda: tinygrad_rnn.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]), "stack", ["(2,)", "(3,)"]),
        (lambda: Tensor(np.ones((2, 3))).reshape(4, 2), "reshape", ["(2, 3)", "(4, 2)"]),
    ],
)
def test_shape_mismatch_errors_name_the_op_and_both_shapes(make, op, shapes_named):
    with pytest.raises(ShapeError) as info:
        make()
    message = str(info.value)
    assert message.startswith(op)
    for shape in shapes_named:
        assert shape in message


# ----------------------------------------------------------------------------- kink choices
def test_tied_maxima_share_the_gradient_equally():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 3.0], requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])


def test_relu_and_abs_have_zero_gradient_at_zero():
    x = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, -1.0, 2.0])


def test_power_gradient_for_the_exponent_is_zero_where_the_base_is_zero():
    # d/dw sum(x ** w) = sum(x ** w log x); the x = 0 term tends to 0 (w > 0), not nan.
    x = Tensor([0.0, 2.0, 0.5])
    w = Tensor(3.0, requires_grad=True)
    (x**w).sum().backward()
    assert float(w.grad) == pytest.approx(8 * np.log(2.0) + 0.125 * np.log(0.5), rel=1e-12)


@given(
    wiring=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["add", "mul", "tanh"])),
        min_size=1,
        max_size=30,
    )
)
def test_toposort_lists_each_reachable_node_once_parents_first_and_deterministically(wiring):
    # A random DAG: node k combines two earlier nodes (chosen by the drawn integers), so nodes are
    # shared by several children and the graph is not a tree.
    nodes = [Tensor(1.0, requires_grad=True), Tensor(0.5, requires_grad=True)]
    for left, right, op in wiring:
        a, b = nodes[left % len(nodes)], nodes[right % len(nodes)]
        nodes.append(a.tanh() if op == "tanh" else (a + b if op == "add" else a * b))
    root = nodes[-1]
    order = toposort(root)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)  # no node twice
    assert order[-1] is root
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)
    reachable, stack = {id(root)}, [root]
    while stack:
        for parent in stack.pop().parents:
            if id(parent) not in reachable:
                reachable.add(id(parent))
                stack.append(parent)
    assert set(position) == reachable
    assert [id(n) for n in toposort(root)] == [id(n) for n in order]


def test_nodes_of_both_engines_start_without_a_role_and_keep_the_one_their_maker_sets():
    from tinygrad_rnn import Role, Value

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    v = Value(1.0) * 3.0
    assert x.role is None and y.role is None and v.role is None
    y.role = Role("f", 3, "gate")
    v.role = Role("W_hh·h", 2, "projection")
    assert (y.role.label(), v.role.label(), Role("W_hh").label()) == ("f_3", "W_hh·h_2", "W_hh")


def test_a_backward_returning_too_few_gradients_is_named_not_dropped():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    out = tinygrad_rnn.make_node(a.data * b.data, "half_done", (a, b), lambda g: (g * b.data,))
    with pytest.raises(GraphError, match="op 'half_done' returned 1 gradients for its 2 inputs"):
        out.sum().backward()
