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
