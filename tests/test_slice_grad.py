"""Slice gradients: a basic-slice getitem's gradient is added into its parent's buffer in place.

The engine receives ``(index, grad)`` from such a getitem instead of a zero-filled array. These
tests check every route that gradient can take (leaf, non-leaf owned or shared buffer, hooks,
edge observers, retain_grad, float32) against the dense computation done by hand.
"""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.autograd import STATE
from tinygrad_rnn.autograd import SliceGrad as _SliceGrad


def _data(seed: int = 0, shape=(3, 8), dtype="float64") -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_chunk_pieces_of_a_leaf_add_up_in_its_grad():
    x = tg.Tensor(_data(), requires_grad=True)
    a, b, c, d = x.chunk(4, axis=1)
    (a * 1.0 + b * 2.0 + c * 3.0 + d * 4.0).sum().backward()
    expected = np.repeat(np.array([1.0, 2.0, 3.0, 4.0]), 2)[None, :].repeat(3, axis=0)
    np.testing.assert_array_equal(x.grad, expected)


def test_overlapping_slices_of_a_non_leaf_add_up():
    x = tg.Tensor(_data(), requires_grad=True)
    y = x * 1.0  # a non-leaf: its gradient lives in the pass's buffer
    (y[:, :5].sum() * 2.0 + y[:, 3:].sum() * 5.0 + y[1].sum()).backward()
    expected = np.zeros((3, 8))
    expected[:, :5] += 2.0
    expected[:, 3:] += 5.0
    expected[1] += 1.0
    np.testing.assert_array_equal(x.grad, expected)


def test_slice_gradient_after_a_shared_dense_gradient_does_not_write_into_it():
    # ``y`` first receives add's gradient, the very array its sibling also receives; the slice
    # gradient that follows must go into a copy, or ``z`` would see it too.
    x = tg.Tensor(_data(1), requires_grad=True)
    z = tg.Tensor(_data(2), requires_grad=True)
    y = x * 1.0
    s = y[:, 2:4]  # made before ``total`` so backward reaches it after add has sent its gradients
    total = y + z
    (total.sum() + (s * 10.0).sum()).backward()
    expected = np.ones((3, 8))
    expected[:, 2:4] += 10.0
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(z.grad, np.ones((3, 8)))


def test_leaf_with_existing_grad_accumulates():
    x = tg.Tensor(_data(), requires_grad=True)
    x[:, :2].sum().backward()
    x[:, 1:3].sum().backward()
    expected = np.zeros((3, 8))
    expected[:, :2] += 1
    expected[:, 1:3] += 1
    np.testing.assert_array_equal(x.grad, expected)


def test_hooks_and_retain_grad_see_the_full_gradient():
    x = tg.Tensor(_data(), requires_grad=True)
    y = (x * 1.0).retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.copy()))
    leaf_seen = []
    x.register_hook(lambda g: leaf_seen.append(g.copy()))
    a, b = y.split([3, 5], axis=1)
    (a.sum() * 2.0 + b.sum() * 3.0).backward()
    expected = np.concatenate([np.full((3, 3), 2.0), np.full((3, 5), 3.0)], axis=1)
    np.testing.assert_array_equal(seen[0], expected)
    np.testing.assert_array_equal(y.grad, expected)
    np.testing.assert_array_equal(leaf_seen[0], expected)
    np.testing.assert_array_equal(x.grad, expected)


def test_edge_hook_receives_each_slice_edge_as_a_full_array():
    x = tg.Tensor(_data(), requires_grad=True)
    y = x * 1.0
    a, b = y.chunk(2, axis=1)
    loss = (a * 2.0).sum() + (b * 3.0).sum()
    edges = []
    STATE.edge_hook = lambda child, parent, index, grad: edges.append((child.op, parent is y, grad.copy()))
    try:
        loss.backward()
    finally:
        STATE.edge_hook = None
    slices = [g for op, to_y, g in edges if op == "getitem" and to_y]
    assert len(slices) == 2
    assert all(type(g) is np.ndarray and g.shape == (3, 8) for g in slices)
    np.testing.assert_array_equal(slices[0] + slices[1], x.grad)
    assert {float(g.sum()) for g in slices} == {2.0 * 12, 3.0 * 12}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_slice_gradients_keep_the_dtype(dtype):
    x = tg.Tensor(_data(dtype=dtype), requires_grad=True)
    y = x * 2.0
    parts = y.chunk(4, axis=1)
    tg.stack(parts).sum().backward()
    assert x.grad.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.grad, np.full((3, 8), 2.0, dtype=dtype))


def test_retained_graph_gives_the_same_slice_gradient_twice():
    x = tg.Tensor(_data(), requires_grad=True)
    y = x.tanh()
    loss = (y[:, :4] * y[:, 4:]).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)


def test_advanced_index_still_scatter_adds_repeats():
    x = tg.Tensor(_data(), requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad[:, 0], [2.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (7, 5), (7, 3, 2)])
def test_integer_array_index_gradient_equals_sequential_scatter_add(shape, dtype):
    """An embedding-style lookup (many repeats, negative rows) adds each row's gradients in order, bit for bit."""
    rng = np.random.default_rng(3)
    rows = rng.integers(-7, 7, size=(40, 9))
    x = tg.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    g = rng.standard_normal(rows.shape + shape[1:]).astype(dtype)
    x[rows].backward(g)
    expected = np.zeros(shape, dtype=dtype)
    for k, row in enumerate(rows.ravel()):  # the definition: one addition per use, in order
        expected[row] += g.reshape((rows.size, *shape[1:]))[k]
    assert x.grad.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.grad, expected)


def test_dense_materialises_the_slice():
    piece = _SliceGrad((slice(None), slice(1, 3)), np.ones((2, 2), dtype=np.float32))
    full = piece.dense(np.empty((2, 4), dtype=np.float32))
    assert full.dtype == np.float32
    np.testing.assert_array_equal(full, [[0, 1, 1, 0], [0, 1, 1, 0]])
