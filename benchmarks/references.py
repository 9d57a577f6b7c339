"""Hand-derived numpy BPTT: the baselines every benchmark is measured against.

These are written from the equations, the way a course teaches them: a forward loop that keeps
every step's values, then a backward loop that walks the steps in reverse and accumulates each
weight's gradient into one buffer (``dW += ...``). No autograd, no graph, no Python objects per op.
The harness checks their gradients against tinygrad_rnn in float64 before it times anything.

* :func:`charrnn_loss_and_grads` -- the classic character-level vanilla RNN (one-hot input,
  softmax output, cross-entropy summed over the steps), min-char-rnn style: every weight gradient
  accumulated step by step; :func:`clip_and_adagrad` then clips to [-5, 5] and applies Adagrad.
  :func:`charrnn_loss_and_grads_batched` is the same model hand-derived with the weight gradients
  batched over the steps (a stronger baseline, shown beside the classic one).
* :func:`lstm_forward_backward` -- a one-layer LSTM over a batch of sequences, PyTorch's gate
  order (i, f, g, o), backpropagating a given gradient of every output h_t.
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------------------------------- char-RNN
CHARRNN_PARAMS = ("Wxh", "Whh", "Why", "bh", "by")


def charrnn_init(vocab: int, hidden: int, dtype="float32", seed: int = 0) -> dict[str, np.ndarray]:
    """Small random weights (std 0.01) and zero biases, column-vector convention (W @ x)."""
    rng = np.random.default_rng(seed)
    return {
        "Wxh": (rng.standard_normal((hidden, vocab)) * 0.01).astype(dtype),
        "Whh": (rng.standard_normal((hidden, hidden)) * 0.01).astype(dtype),
        "Why": (rng.standard_normal((vocab, hidden)) * 0.01).astype(dtype),
        "bh": np.zeros((hidden, 1), dtype=dtype),
        "by": np.zeros((vocab, 1), dtype=dtype),
    }


def charrnn_loss_and_grads(
    params: dict[str, np.ndarray], inputs, targets, h_prev: np.ndarray
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Forward and backward through one sequence of a vanilla char-RNN.

    Equations at step t (x_t one-hot, column vectors)::

        h_t = tanh(Wxh x_t + Whh h_(t-1) + bh)
        y_t = Why h_t + by;   p_t = softmax(y_t);   loss = -sum_t log p_t[target_t]

    Args:
        params: the five arrays named in :data:`CHARRNN_PARAMS`.
        inputs: character indices, one per step.
        targets: the next character at each step.
        h_prev: hidden state before the first step, ``(H, 1)``.

    Returns:
        ``(loss, grads, h_last)`` with one gradient per parameter.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in CHARRNN_PARAMS)
    vocab, dtype = Wxh.shape[1], Wxh.dtype
    xs, hs, ps = [], [h_prev], []
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros((vocab, 1), dtype=dtype)
        x[inputs[t]] = 1
        h = np.tanh(Wxh @ x + Whh @ hs[-1] + bh)  # (H, 1)
        y = Why @ h + by  # (V, 1)
        e = np.exp(y - y.max())
        p = e / e.sum()
        loss -= float(np.log(p[targets[t], 0]))
        xs.append(x)
        hs.append(h)
        ps.append(p)
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(h_prev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1  # d loss / d y_t = p_t - onehot(target_t)
        dWhy += dy @ hs[t + 1].T
        dby += dy
        dh = Why.T @ dy + dh_next
        draw = (1 - hs[t + 1] * hs[t + 1]) * dh  # back through tanh
        dbh += draw
        dWxh += draw @ xs[t].T
        dWhh += draw @ hs[t].T
        dh_next = Whh.T @ draw
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    return loss, grads, hs[-1]


def charrnn_loss_and_grads_batched(
    params: dict[str, np.ndarray], inputs, targets, h_prev: np.ndarray
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """The same char-RNN, hand-derived with the weight gradients batched over all steps.

    Only the recurrence needs a Python loop; the output layer, the softmax and every weight
    gradient are one matrix operation over all steps (``dWhh = sum_t d_t h_(t-1)^T`` as one
    matmul instead of T outer products). A stronger numpy baseline than the classic one.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in CHARRNN_PARAMS)
    steps, hidden = len(inputs), Whh.shape[0]
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    hs = np.empty((steps + 1, hidden), dtype=Wxh.dtype)  # rows: h_(-1), h_0, ..., h_(T-1)
    hs[0] = h_prev[:, 0]
    xproj = Wxh[:, inputs].T + bh[:, 0]  # (T, H): Wxh x_t for a one-hot x_t is a column of Wxh
    for t in range(steps):
        hs[t + 1] = np.tanh(xproj[t] + Whh @ hs[t])
    y = hs[1:] @ Why.T + by[:, 0]  # (T, V)
    y -= y.max(axis=1, keepdims=True)
    p = np.exp(y)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(steps)
    loss = -float(np.log(p[rows, targets]).sum())
    dy = p
    dy[rows, targets] -= 1  # d loss / d y_t = p_t - onehot(target_t), all steps
    dh_out = dy @ Why  # (T, H): what each h_t receives from its output
    draw = np.empty_like(hs[1:])
    dh_next = np.zeros(hidden, dtype=Wxh.dtype)
    for t in reversed(range(steps)):
        draw[t] = (1 - hs[t + 1] * hs[t + 1]) * (dh_out[t] + dh_next)
        dh_next = draw[t] @ Whh
    dWxh = np.zeros_like(Wxh)
    np.add.at(dWxh.T, inputs, draw)  # one-hot inputs: scatter the rows instead of a matmul
    grads = {
        "Wxh": dWxh,
        "Whh": draw.T @ hs[:-1],
        "Why": dy.T @ hs[1:],
        "bh": draw.sum(axis=0)[:, None],
        "by": dy.sum(axis=0)[:, None],
    }
    return loss, grads, hs[-1][:, None]


def clip_and_adagrad(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    memory: dict[str, np.ndarray],
    lr: float = 0.1,
    clip: float = 5.0,
) -> None:
    """Clip each gradient to [-clip, clip], then Adagrad in place: ``mem += g*g; p -= lr g / sqrt(mem + 1e-8)``.

    Shared by every char-RNN implementation so the benchmark times the gradients, not the update.
    """
    for name, p in params.items():
        g = grads[name]
        np.clip(g, -clip, clip, out=g)
        mem = memory[name]
        mem += g * g
        p -= lr * g / np.sqrt(mem + 1e-8)


# --------------------------------------------------------------------------------------- LSTM
def lstm_init(input_size: int, hidden: int, dtype="float32", seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch's layout and initialisation: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, biases ``(4H,)``."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden)
    shapes = {
        "weight_ih": (4 * hidden, input_size),
        "weight_hh": (4 * hidden, hidden),
        "bias_ih": (4 * hidden,),
        "bias_hh": (4 * hidden,),
    }
    return {k: rng.uniform(-bound, bound, s).astype(dtype) for k, s in shapes.items()}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(x / 2)) is the logistic function and never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_forward_backward(
    params: dict[str, np.ndarray], x: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One-layer LSTM over ``x (T, B, I)`` from zero state, then BPTT of ``dout (T, B, H)``.

    Equations at step t (gates stacked i, f, g, o along the last axis)::

        a = x_t W_ih^T + b_ih + h W_hh^T + b_hh          (B, 4H)
        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
        c' = f c + i g;   h' = o tanh(c')

    Returns:
        ``(outputs (T, B, H), grads)`` with gradients for the four parameters and ``"x"``.
    """
    W_ih, W_hh, b_ih, b_hh = params["weight_ih"], params["weight_hh"], params["bias_ih"], params["bias_hh"]
    steps, batch, _ = x.shape
    hidden = W_hh.shape[1]
    h = np.zeros((batch, hidden), dtype=x.dtype)
    c = np.zeros_like(h)
    hs, cs, tanh_cs, gates = [h], [c], [], []
    for t in range(steps):
        a = x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i = _sigmoid(a[:, :hidden])
        f = _sigmoid(a[:, hidden : 2 * hidden])
        g = np.tanh(a[:, 2 * hidden : 3 * hidden])
        o = _sigmoid(a[:, 3 * hidden :])
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        hs.append(h)
        cs.append(c)
        tanh_cs.append(tc)
        gates.append((i, f, g, o))
    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros_like(b_ih)
    dx = np.zeros_like(x)
    dh_next = np.zeros_like(h)
    dc_next = np.zeros_like(h)
    da = np.empty((batch, 4 * hidden), dtype=x.dtype)
    for t in reversed(range(steps)):
        i, f, g, o = gates[t]
        dh = dout[t] + dh_next
        do = dh * tanh_cs[t]
        dc = dh * o * (1 - tanh_cs[t] * tanh_cs[t]) + dc_next
        da[:, :hidden] = dc * g * i * (1 - i)
        da[:, hidden : 2 * hidden] = dc * cs[t] * f * (1 - f)
        da[:, 2 * hidden : 3 * hidden] = dc * i * (1 - g * g)
        da[:, 3 * hidden :] = do * o * (1 - o)
        dc_next = dc * f
        dW_ih += da.T @ x[t]
        dW_hh += da.T @ hs[t]
        db += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh
    grads = {"weight_ih": dW_ih, "weight_hh": dW_hh, "bias_ih": db, "bias_hh": db.copy(), "x": dx}
    return np.stack(hs[1:]), grads
