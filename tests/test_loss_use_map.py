"""recurrence.loss_use_map: the exact (loss step x use step) split of a shared weight's gradient."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.errors import ArgumentError
from tinygrad_rnn.recurrence import loss_use_map


def _model_and_losses(kind: str, T: int = 6):
    tg.manual_seed(3)
    model = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](2, 3)
    x = tg.Tensor(np.random.default_rng(4).standard_normal((T, 1, 2)))
    out, _ = model(x)
    return model, [0.5 * (out[t] * out[t]).sum() for t in range(T)]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_map_sums_to_grad_and_each_row_to_that_steps_loss_gradient(kind):
    model, losses = _model_and_losses(kind)
    W = model.weight_hh_l0
    m = loss_use_map(losses, W)
    T = len(losses)
    assert m.contributions.shape == (T, T, *W.shape) and m.use_steps == list(range(T))
    assert W.grad is None  # a measurement: no .grad left behind

    # Each row is the gradient of that step's loss alone, computed by a plain backward.
    for t in range(T):
        W.grad = None
        losses[t].backward(retain_graph=True)
        np.testing.assert_allclose(m.row(t), W.grad, rtol=1e-10, atol=1e-12)
    # The whole matrix is the gradient of the summed loss.
    W.grad = None
    sum(losses[1:], losses[0]).backward(retain_graph=True)
    np.testing.assert_allclose(m.total, W.grad, rtol=1e-10, atol=1e-12)
    # The signed shares add up to ||grad|| (the norms do not).
    assert m.shares.sum() == pytest.approx(np.linalg.norm(W.grad), rel=1e-10)
    assert m.norms.sum() > np.linalg.norm(W.grad) * 1.01


def test_a_loss_sends_nothing_through_later_uses_and_most_through_recent_ones():
    model, losses = _model_and_losses("rnn", T=8)
    norms = loss_use_map(losses, model.weight_hh_l0).norms
    assert np.all(np.triu(norms, k=1) == 0)  # exactly zero: no path from a later use to an earlier loss
    assert np.all(np.diag(norms)[1:] > 0)  # step 0 multiplies h_0 = 0, so its own use gives exactly 0
    # Short-term dominates for a contracting RNN: one step back beats seven steps back.
    assert norms[7, 6] > 100 * norms[7, 1]


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ArgumentError, match="empty"):
        loss_use_map([], tg.Tensor(np.ones(2), requires_grad=True))
    W = tg.Tensor(np.eye(2) * 0.5, requires_grad=True)
    h = tg.Tensor(np.ones((1, 2)))
    loss = (h @ W).sum()  # used outside any time step
    with pytest.raises(ArgumentError, match="outside a time step"):
        loss_use_map([loss], W)
