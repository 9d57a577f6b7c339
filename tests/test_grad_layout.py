"""Gradients come back in their operand's memory layout, so optimizer updates run on contiguous memory."""

import numpy as np

import tinygrad_rnn as tg


def test_weight_used_transposed_gets_a_row_major_gradient_of_the_right_value():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    g = rng.standard_normal((4, 5))
    (x @ w.T).backward(g)
    assert w.grad.flags.c_contiguous
    np.testing.assert_allclose(w.grad, g.T @ x.data, rtol=1e-14)
    np.testing.assert_allclose(x.grad, g @ w.data, rtol=1e-14)


def test_transposed_left_operand_gets_its_gradient_right():
    rng = np.random.default_rng(1)
    a = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    g = rng.standard_normal((4, 2))
    (a.T @ b).backward(g)
    assert a.grad.flags.c_contiguous
    np.testing.assert_allclose(a.grad, (g @ b.data.T).T, rtol=1e-14)
    np.testing.assert_allclose(b.grad, a.data @ g, rtol=1e-14)
