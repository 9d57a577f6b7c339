"""Small helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.nn.cells import tag


def tbptt_losses(weight: tg.Tensor, chunks: int, steps: int) -> list[tg.Tensor]:
    """Run ``h = tanh(h @ weight)`` for ``chunks`` chunks of ``steps`` steps, detaching ``h`` between chunks.

    Each step runs in ``scope("rnn", step=t)``; returns each chunk's loss ``h.sum()`` (truncated BPTT:
    no gradient crosses from one chunk into the previous one).
    """
    h = tg.ones(1, weight.shape[0])
    losses = []
    for chunk in range(chunks):
        for t in range(steps):
            with tg.scope("rnn", step=steps * chunk + t):
                h = (h @ weight).tanh()
        losses.append(h.sum())
        h = h.detach()
    return losses


def half_eye(n: int = 2) -> tg.Tensor:
    """A trainable ``0.5 * I`` named ``W``: a contracting recurrent weight."""
    weight = tg.Tensor(np.eye(n) * 0.5, requires_grad=True)
    weight.name = "W"
    return weight


def hand_rnn(T: int, seed: int = 0, H: int = 3, scale: float = 0.8):
    """A hand-written tanh RNN (no nn): ``h_t = tanh(x_t U + h_(t-1) W)``, each step in ``scope("rnn", step=t)``.

    Like any producer, it declares what its state is (``tag(h, "h", "state")``), so the recurrence
    tools find the hidden state.

    Returns:
        ``(W, U, states, loss)`` with ``W`` named ``W_hh`` (entries ``scale`` times standard normal),
        ``U`` named ``W_xh``, the hidden state of every step and ``loss = sum(h_T^2)``.
    """
    rng = np.random.default_rng(seed)
    W = tg.Tensor(rng.standard_normal((H, H)) * scale, requires_grad=True)
    W.name = "W_hh"
    U = tg.Tensor(rng.standard_normal((2, H)), requires_grad=True)
    U.name = "W_xh"
    x = tg.Tensor(rng.standard_normal((T, 1, 2)))
    h = tg.zeros(1, H)
    states = []
    for t in range(T):
        with tg.scope("rnn", step=t):
            h = tag((x[t] @ U + h @ W).tanh(), "h", "state")
        states.append(h)
    return W, U, states, (h * h).sum()
