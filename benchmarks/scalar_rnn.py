"""Issue 17's speed row: a recurrent net on the scalar engine against micrograd's design, same workload.

Both sides run the same Elman RNN (hidden 4, input 2, 25 steps, a squared-error loss at every step),
forward and backward, one scalar object per number:

* ``tinygrad_rnn.nn.scalar_rnn.RNNCell`` unrolled with ``scalar_rnn.unroll`` -- the library's
  cell as a user calls it, scopes and roles included (the price of being drawable);
* the same equations written the same way (unit j's sum over k, term by term, then tanh) on
  :class:`benchmarks.micrograd_style.MicroValue`, micrograd's engine.

The weights are equal; :func:`check_scalar_rnn` checks, before timing, that loss and every weight's
gradient agree to 1e-12.
"""

from __future__ import annotations

import numpy as np

from tinygrad_rnn.nn import scalar_rnn
from tinygrad_rnn.random import manual_seed

from .micrograd_style import MicroValue

HIDDEN, INPUTS, STEPS = 4, 2, 25


def _data(steps: int, seed: int = 0) -> tuple[list[list[float]], list[list[float]]]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((steps, INPUTS)).tolist(), rng.standard_normal((steps, HIDDEN)).tolist()


class _MicroRNN:
    """The Elman cell written neuron by neuron on MicroValue, with the weights of a scalar_rnn cell."""

    def __init__(self, state_dict: dict[str, np.ndarray]) -> None:
        self.w_ih = [[MicroValue(float(v)) for v in row] for row in state_dict["weight_ih"]]
        self.w_hh = [[MicroValue(float(v)) for v in row] for row in state_dict["weight_hh"]]
        self.b_ih = [MicroValue(float(v)) for v in state_dict["bias_ih"]]
        self.b_hh = [MicroValue(float(v)) for v in state_dict["bias_hh"]]
        self.parameters = [p for row in self.w_ih + self.w_hh for p in row] + self.b_ih + self.b_hh

    def step(self, x: list[float], h: list) -> list:
        out = []
        for j in range(HIDDEN):
            wx = self.w_ih[j][0] * x[0]
            for k in range(1, INPUTS):
                wx = wx + self.w_ih[j][k] * x[k]
            wh = self.w_hh[j][0] * h[0]
            for k in range(1, HIDDEN):
                wh = wh + self.w_hh[j][k] * h[k]
            out.append(((wx + self.b_ih[j]) + (wh + self.b_hh[j])).tanh())
        return out


def _micro_loss(model: _MicroRNN, xs, ys):
    h = [MicroValue(0.0) for _ in range(HIDDEN)]
    loss = MicroValue(0.0)
    for x, y in zip(xs, ys):
        h = model.step(x, h)
        for v, target in zip(h, y):
            diff = v - target
            loss = loss + diff * diff
    return loss


def _scalar_loss(cell: scalar_rnn.RNNCell, xs, ys):
    hs, _ = scalar_rnn.unroll(cell, xs)
    loss = 0.0
    for h, y in zip(hs, ys):
        for v, target in zip(h, y):
            diff = v - target
            loss = loss + diff * diff
    return loss


def make_scalar_rnn(steps: int = STEPS) -> dict:
    """``{label: step function}``: zero the gradients, forward over ``steps``, backward."""
    xs, ys = _data(steps)
    manual_seed(0)
    cell = scalar_rnn.RNNCell(INPUTS, HIDDEN)
    micro = _MicroRNN(cell.state_dict())

    def micro_step():
        for p in micro.parameters:
            p.grad = 0.0
        _micro_loss(micro, xs, ys).backward()

    def ours_step():
        cell.zero_grad()
        _scalar_loss(cell, xs, ys).backward()

    return {"micrograd-style": micro_step, "tinygrad_rnn.nn.scalar_rnn": ours_step}


def check_scalar_rnn(steps: int = STEPS) -> None:
    """Both sides compute the same loss and weight gradients (to 1e-12), else AssertionError."""
    xs, ys = _data(steps)
    manual_seed(0)
    cell = scalar_rnn.RNNCell(INPUTS, HIDDEN)
    micro = _MicroRNN(cell.state_dict())
    theirs = _micro_loss(micro, xs, ys)
    theirs.backward()
    ours = _scalar_loss(cell, xs, ys)
    ours.backward()
    assert abs(ours.data - theirs.data) < 1e-12, (ours.data, theirs.data)
    grads = cell.grads()
    np.testing.assert_allclose(grads["weight_hh"], [[p.grad for p in row] for row in micro.w_hh], rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["weight_ih"], [[p.grad for p in row] for row in micro.w_ih], rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["bias_hh"], [p.grad for p in micro.b_hh], rtol=0, atol=1e-12)
