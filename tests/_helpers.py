"""Small helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg


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
