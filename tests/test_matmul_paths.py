"""matmul's backward fast paths: each shape case, with plain and transposed (column-major) operands.

The hypothesis table in test_ops_gradients covers the shapes; these cases add the memory layouts
the fast paths branch on (a weight used as ``w.T`` is a column-major view) and check the layout of
the gradient a leaf receives.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck

RNG = np.random.default_rng(0)

# (shape of a, shape of b, transpose a, transpose b): the stored array is transposed, then viewed back.
CASES = [
    ((3,), (3, 4), False, False),  # vector @ matrix
    ((3,), (3, 4), False, True),  # h @ W.T
    ((4, 3), (3,), False, False),  # matrix @ vector
    ((4, 3), (3,), True, False),  # W.T @ h
    ((2, 3), (3, 4), False, False),  # matrices
    ((2, 3), (3, 4), True, True),
    ((2, 5, 3), (3, 4), False, False),  # Linear on (B, T, F)
    ((2, 5, 3), (3, 4), False, True),  # x @ w.T on (B, T, F)
    ((3,), (3,), False, False),  # dot product
    ((2, 2, 3), (2, 3, 4), False, False),  # batches: the general path
]


def _leaf(shape, transposed):
    """A float64 leaf; when ``transposed`` it is stored the other way round and used as ``leaf.T``."""
    return Tensor(RNG.standard_normal(shape[::-1] if transposed else shape), requires_grad=True)


@pytest.mark.parametrize(("shape_a", "shape_b", "ta", "tb"), CASES)
def test_matmul_gradients_every_path_and_layout(shape_a, shape_b, ta, tb):
    a, b = _leaf(shape_a, ta), _leaf(shape_b, tb)

    def product(x, y):
        return (x.T if ta else x) @ (y.T if tb else y)

    assert gradcheck(product, [a, b])
    product(a, b).sum().backward()
    # Each leaf's gradient comes out in the leaf's own layout: row-major like the array it belongs to.
    for leaf in (a, b):
        assert leaf.grad.shape == leaf.data.shape
        assert leaf.grad.flags.c_contiguous


# ------------------------------------------------------------------- a weight's products, multiplied once
def _per_step_loss(w: Tensor, steps: int, transposed: bool) -> Tensor:
    """A weight used at every step of a small recurrence, as ``w @ h`` or as ``h @ w.T``."""
    h = Tensor(np.linspace(-1.0, 1.0, w.shape[1]))
    loss = 0.0
    for _ in range(steps):
        h = (h @ w.T if transposed else w @ h).tanh()
        loss = loss + (h * h).sum()
    return loss


def _dense_gradient(w: Tensor, steps: int, transposed: bool) -> np.ndarray:
    """The same gradient with every product multiplied out where it is made (an observer forces that)."""
    from tinygrad_rnn.autograd import PER_THREAD

    w.grad = None
    PER_THREAD.state.edge_hook = lambda *edge: None
    try:
        _per_step_loss(w, steps, transposed).backward()
    finally:
        PER_THREAD.state.edge_hook = None
    return w.grad.copy()


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("steps", [1, 7, 60])  # 60 steps outgrow the bound: products are multiplied out early too
def test_a_weights_products_are_summed_once_and_equal_the_per_use_sum(steps, transposed):
    w = Tensor(RNG.standard_normal((5, 5)) * 0.5, requires_grad=True)
    _per_step_loss(w, steps, transposed).backward()
    deferred = w.grad.copy()
    # The edges an observer sees, added up one by one, give the same gradient to rounding.
    per_use = np.zeros_like(w.data)

    def observe(child, parent, index, grad):
        if parent is w:
            per_use[...] += grad

    from tinygrad_rnn.autograd import PER_THREAD

    w.grad = None
    PER_THREAD.state.edge_hook = observe
    try:
        _per_step_loss(w, steps, transposed).backward()
    finally:
        PER_THREAD.state.edge_hook = None
    np.testing.assert_allclose(deferred, per_use, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(w.grad, deferred)  # observing does not change the engine's rounding
    assert gradcheck(lambda v: _per_step_loss(v, min(steps, 7), transposed), [w])


def test_a_hook_or_retained_grad_on_the_weight_sees_the_whole_gradient():
    w = Tensor(RNG.standard_normal((4, 4)) * 0.5, requires_grad=True)
    expected = _dense_gradient(w, 5, True)
    seen = []
    w.grad = None
    w.register_hook(lambda g: seen.append(g.copy()))
    h = Tensor(np.linspace(-1.0, 1.0, 4))
    loss = 0.0
    wt = w.T  # one transpose used at every step: products meet in it
    wt.retain_grad()
    for _ in range(5):
        h = (h @ wt).tanh()
        loss = loss + (h * h).sum()
    loss.backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected, rtol=1e-12)
    np.testing.assert_allclose(wt.grad, expected.T, rtol=1e-12)
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)
