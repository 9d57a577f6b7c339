"""Indexing gradients for every index form numpy accepts (issue 10: repeated indices must add up).

The oracle is numpy itself: ``np.arange(n).reshape(shape)[index]`` tells which element of the input
each output element was read from, so the gradient of ``x[index]`` is the bincount of those positions
weighted by the output's gradient -- whatever form (tuple, list, nested tuple, Tensor, mask) the
index was written in. PyTorch is a second oracle where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import arrays, index_forms, shapes

from tinygrad_rnn import ShapeError, Tensor
from tinygrad_rnn.errors import TinygradRNNError


def _numpy_index(index):
    """The same index with Tensors replaced by their arrays (what numpy reads)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(p.data if isinstance(p, Tensor) else p for p in index)
    return index


def _expected_grad(shape, index, g: np.ndarray) -> np.ndarray:
    positions = np.arange(int(np.prod(shape))).reshape(shape)[_numpy_index(index)]
    size = int(np.prod(shape))
    return np.bincount(positions.ravel(), weights=g.ravel(), minlength=size).reshape(shape)


@pytest.mark.parametrize(
    ("shape", "index", "weights", "expected"),
    [
        ((3,), ((0, 0),), [1.0, 2.0], [3.0, 0.0, 0.0]),  # the case from the issue
        ((3,), ([0, 0],), [1.0, 2.0], [3.0, 0.0, 0.0]),
        ((3,), [0, -3], [1.0, 2.0], [3.0, 0.0, 0.0]),  # a negative index repeating a positive one
        ((3,), np.array([2, 2, 2]), [1.0, 2.0, 4.0], [0.0, 0.0, 7.0]),
        ((3, 3), ((0, 0), (1, 1)), [1.0, 2.0], [[0.0, 3.0, 0.0], [0.0] * 3, [0.0] * 3]),
    ],
)
def test_repeated_indices_add_up(shape, index, weights, expected):
    x = Tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
    (x[index] * Tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.array(expected))


@settings(max_examples=100)  # many forms per shape: more examples than the default profile
@given(st.data())
def test_every_index_form_gives_numpy_semantics_and_summed_gradients(data):
    shape = data.draw(shapes(min_dims=1), label="shape")
    x_data = data.draw(arrays(shape), label="x")
    index = data.draw(index_forms(shape), label="index")
    x = Tensor(x_data, requires_grad=True)
    try:
        expected = x_data[_numpy_index(index)]
    except IndexError:  # e.g. a mask and an index array that do not broadcast: refused clearly, not raw
        with pytest.raises(ShapeError, match=r"(?s)getitem: .* is invalid for a tensor of shape"):
            x[index]
        return
    out = x[index]
    np.testing.assert_array_equal(out.data, expected)
    g = data.draw(arrays(out.shape), label="g")
    out.backward(g)
    np.testing.assert_allclose(x.grad, _expected_grad(shape, index, g), rtol=1e-12, atol=1e-12)


@settings(max_examples=60)
@given(st.data())
def test_index_forms_match_pytorch(data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(min_dims=1), label="shape")
    x_data = data.draw(arrays(shape), label="x")
    index = _numpy_index(data.draw(index_forms(shape), label="index"))
    parts = index if isinstance(index, tuple) else (index,)
    # PyTorch reads a tuple nested in the index as a sequence too; give it tensors to be unambiguous.
    torch_parts = tuple(
        torch.as_tensor(np.asarray(p)) if isinstance(p, np.ndarray | list | tuple) else p for p in parts
    )
    xt = torch.tensor(x_data, requires_grad=True)
    try:
        out_t = xt[torch_parts]
    except (IndexError, RuntimeError, TypeError, ValueError):  # PyTorch refuses it (e.g. a negative step)
        return
    x = Tensor(x_data, requires_grad=True)
    out = x[index]
    if tuple(out_t.shape) != out.shape:
        # numpy and PyTorch place the axes of advanced indices separated by a slice or None differently
        # (numpy moves them first); we follow numpy, so only same-shaped results are compared.
        return
    g = data.draw(arrays(out.shape), label="g")
    out.backward(g)
    out_t.backward(torch.as_tensor(g))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_mutating_the_index_array_after_forward_does_not_move_the_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = np.array([0, 0])
    y = x[index]
    index[:] = 2  # the caller reuses their buffer before backward
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 0.0])
    np.testing.assert_array_equal(index, [2, 2])  # and the caller's array is theirs, untouched


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (np.array([0.5]), "invalid"),
        ([[0, 1], [0]], "ragged"),
        ((np.array([0, 1]), np.array([0, 1, 2])), "invalid"),  # fancy indices that do not broadcast
        (np.array([True, False]), "invalid"),  # a mask of the wrong length
        ((0, 0, 0), "invalid"),  # too many indices
        (((0, 5),), "invalid"),  # out of range inside a nested tuple
        ([0, None], "invalid"),
        ("a", "invalid"),
        ({0: 1}, "invalid"),
    ],
)
def test_bad_index_forms_raise_shape_error(index, message):
    x = Tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=f"getitem: .*{message}"):
        x[index]


def test_setitem_uses_the_same_index_forms_and_refuses_tensors_that_require_grad():
    x = Tensor(np.zeros((3, 3)))
    x[((0, 0), (1, 1))] = np.array([5.0, 7.0])  # a repeated element takes the last value, as in numpy
    assert x.data[0, 1] == 7.0 and x.data.sum() == 7.0
    with pytest.raises(ShapeError, match="setitem: index"):
        x[5] = 1.0
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TinygradRNNError, match="in place"):
        w[0] = 5.0
