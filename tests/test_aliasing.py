"""Aliasing (issue 10): the obvious code never gives a gradient computed from values changed later.

PyTorch's rule: ``Tensor(array)`` copies (like ``torch.tensor``), ``Tensor.from_numpy`` shares (like
``torch.from_numpy``); ``detach()``, basic slices and ``Parameter(tensor)`` share memory and the
version counter. Arrays an op keeps for backward (constant operands, masks, index arrays) are
copies, so reusing your buffer between forward and backward is safe.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import DTypeError, GraphError, Tensor
from tinygrad_rnn.nn import Parameter


def test_tensor_of_an_array_copies_so_mutating_the_array_cannot_change_the_gradient():
    a = np.array([1.0, 2.0, 3.0])
    x = Tensor(a, requires_grad=True)
    loss = (x * x).sum()
    a[:] = 0.0
    loss.backward()
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_constant_operands_and_masks_are_copied(dtype):
    x = Tensor([1.0, 2.0], requires_grad=True, dtype=dtype)
    m = np.array([3.0, 4.0])
    mask = np.array([True, False])
    loss = (x * m).sum() + tg.where(mask, x, 0.0).sum()
    m[:] = 100.0
    mask[:] = False
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])


def test_tensor_of_a_tensor_copies():
    t = Tensor([1.0, 2.0])
    u = Tensor(t)
    u.add_(1.0)
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_from_numpy_shares_both_ways_and_tracks_its_own_in_place_updates():
    a = np.array([1.0, 2.0])
    t = Tensor.from_numpy(a)
    assert tg.from_numpy(a).data is a
    a[0] = 5.0
    assert t.data[0] == 5.0
    x = Tensor([1.0, 1.0], requires_grad=True)
    loss = (x * t).sum()
    t[1] = 7.0  # through the tensor: seen by the version counter
    assert a[1] == 7.0
    with pytest.raises(GraphError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("bad", [[1.0, 2.0], np.array([1 + 2j]), np.array(["a"]), np.array([None])])
def test_from_numpy_refuses_what_it_cannot_share(bad):
    with pytest.raises(DTypeError, match="from_numpy"):
        Tensor.from_numpy(bad)


def test_detach_and_slices_share_memory_and_the_version_counter():
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (w * w).sum()
    d = w.detach()
    assert d.data is w.data
    d[0] = 10.0  # allowed on the detached tensor, and it is w's memory
    assert w.data[0] == 10.0
    assert w._version == 1
    with pytest.raises(GraphError, match="modified by an in-place operation"):
        loss.backward()
    s = Tensor([1.0, 2.0, 3.0])
    view = s[1:]
    view.fill_(0.0)
    assert s._version == 1 and s.data.tolist() == [1.0, 0.0, 0.0]


def test_parameter_shares_a_tensor_but_copies_an_array():
    t = Tensor([1.0, 2.0])
    p = Parameter(t)
    assert p.data is t.data
    a = np.array([1.0, 2.0])
    q = Parameter(a)
    a[0] = 9.0
    assert q.data[0] == 1.0


@pytest.mark.parametrize("dtype", ["complex128", complex, "U3", object, "S2"])
@pytest.mark.parametrize(
    "make",
    [
        lambda d: Tensor([1.0, 2.0], dtype=d),
        lambda d: Tensor(np.ones(2), dtype=d),
        lambda d: tg.zeros(2, dtype=d),
        lambda d: tg.ones(2, dtype=d),
        lambda d: tg.randn(2, dtype=d),
    ],
)
def test_refused_dtypes_do_not_slip_through_the_dtype_keyword(make, dtype):
    with pytest.raises(DTypeError, match=r"refused|not a dtype"):
        make(dtype)


def test_index_and_bound_arrays_of_gather_and_clip_are_copied():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    index = np.array([[0, 0], [1, 0]])
    low = np.array([0.0, 0.0])
    loss = tg.ops.gather(x, 0, index).sum() + x.clip(low, 10.0).sum()
    index[:] = 1
    low[:] = 5.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 3.0], [2.0, 1.0]])
