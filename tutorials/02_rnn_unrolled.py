"""Lesson 2: the vanilla RNN unrolled through time, and backpropagation through time (BPTT).

A vanilla RNN reads one input per step and keeps a hidden state:

    h_t = tanh(W_hh h_{t-1} + W_xh x_t)        y_t = W_hy h_t

The *same* three matrices are used at every step. Unrolling the loop gives an ordinary (deep)
graph with one copy of the step per time step, all pointing at the one W_hh. In the many-to-many
shape each step has its own loss and the total loss is their sum. Backpropagation through time is
plain backward on the unrolled graph: each use of W_hh sends back its own contribution, and
W_hh.grad is the sum of the per-step contributions.

Run: ``python tutorials/02_rnn_unrolled.py [--quick] [--out FOLDER]``
"""

from _common import Lesson

lesson = Lesson(__doc__, "02_rnn_unrolled")

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.graph import record_gradients

T = lesson.pick(4, 3)  # time steps (kept small so the drawing stays readable)
D, H, K = 3, 4, 2  # input, hidden, output sizes
rng = lesson.rng
W_xh = Tensor(rng.normal(0, 0.5, (H, D)), requires_grad=True)
W_hh = Tensor(rng.normal(0, 0.5, (H, H)), requires_grad=True)
W_hy = Tensor(rng.normal(0, 0.5, (K, H)), requires_grad=True)
W_xh.name, W_hh.name, W_hy.name = "W_xh", "W_hh", "W_hy"
xs = rng.normal(0, 1, (T, D))
targets = rng.normal(0, 1, (T, K))


def unrolled(W_hh_at) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Run the RNN for T steps; ``W_hh_at(t)`` says which tensor plays W_hh at step t.

    Returns the total loss, the per-step losses and the hidden states.
    """
    h = Tensor(np.zeros(H))
    losses, states = [], []
    for t in range(T):
        with tg.scope("rnn", step=t):  # every node of this step is tagged with its step: the drawing clusters them
            h = (W_hh_at(t) @ h + W_xh @ Tensor(xs[t])).tanh()  # h_t = tanh(W_hh h_{t-1} + W_xh x_t)
            y = W_hy @ h  # y_t = W_hy h_t
            losses.append(((y - Tensor(targets[t])) ** 2).sum())  # this step's loss
        states.append(h)
    total = losses[0]
    for step_loss in losses[1:]:
        total = total + step_loss  # many-to-many: the total loss is the sum of per-step losses
    return total, losses, states


# ---------------------------------------------------------------------------------------------
# 1. One W_hh shared by all steps; backward through the unrolled graph.
loss, step_losses, states = unrolled(lambda t: W_hh)
for h in states:
    h.retain_grad()
with record_gradients() as record:  # also keep the gradient sent along every edge, for the drawing
    loss.backward()
print(f"\ntotal loss {loss.item():.5f} = sum of {T} per-step losses {[round(s.item(), 4) for s in step_losses]}")
lesson.claim(
    abs(loss.item() - sum(s.item() for s in step_losses)) < 1e-12, "the total loss is the sum of per-step losses"
)

# ---------------------------------------------------------------------------------------------
# 2. Per-step contributions. Untie the weight: give every step its own copy of W_hh (same values).
#    Each copy's gradient is exactly what that step's use contributes to the shared gradient.
copies = [Tensor(W_hh.data.copy(), requires_grad=True) for _ in range(T)]
untied_loss, _, _ = unrolled(lambda t: copies[t])
untied_loss.backward()
contributions = np.stack([c.grad for c in copies])  # (T, H, H)
for t in range(T):
    print(f"  step {t}: ||contribution to dL/dW_hh|| = {np.linalg.norm(contributions[t]):.5f}")
print(f"  sum of contributions vs W_hh.grad: max difference {np.abs(contributions.sum(0) - W_hh.grad).max():.2e}")
lesson.claim(
    np.allclose(contributions.sum(axis=0), W_hh.grad, rtol=0, atol=1e-12),
    "dL/dW_hh is the sum over steps of each step's contribution",
)

# ---------------------------------------------------------------------------------------------
# 3. BPTT by hand, in numpy, to see what backward computed. Going backwards in time:
#    dL/dh_t = W_hy^T dL/dy_t + W_hh^T da_{t+1},   da_t = (1 - h_t^2) * dL/dh_t,
#    and step t contributes da_t h_{t-1}^T to dL/dW_hh.
hs = [np.zeros(H)] + [h.data for h in states]  # hs[t + 1] is h_t
dh_next = np.zeros(H)
manual_grad = np.zeros((H, H))
manual_dh = [None] * T
for t in reversed(range(T)):
    dy = 2 * (W_hy.data @ hs[t + 1] - targets[t])
    dh = W_hy.data.T @ dy + dh_next
    manual_dh[t] = dh
    da = (1 - hs[t + 1] ** 2) * dh
    manual_grad += np.outer(da, hs[t])  # zero at t = 0: the state before the first step is h_(-1) = 0
    if t == T - 1:
        last_contribution = np.outer(da, hs[t])
    dh_next = W_hh.data.T @ da
lesson.claim(
    np.allclose(manual_grad, W_hh.grad, rtol=0, atol=1e-12)
    and np.allclose(last_contribution, contributions[T - 1], rtol=0, atol=1e-12),
    "hand-written BPTT (sum over t of da_t h_(t-1)^T) equals autograd's W_hh.grad",
)
lesson.claim(
    all(np.allclose(manual_dh[t], states[t].grad, rtol=0, atol=1e-12) for t in range(T)),
    "the hidden-state gradients dL/dh_t match the hand-written recursion at every step",
)

# ---------------------------------------------------------------------------------------------
# 4. Pictures: the unrolled graph clustered by time step, and the per-step contributions.
lesson.draw(
    loss,
    "unrolled_rnn",
    title=f"vanilla RNN unrolled over {T} steps: W_hh's edges carry each step's contribution",
    gradients=record,
    key=True,
)

norms = np.linalg.norm(contributions.reshape(T, -1), axis=1)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.bar(range(T), norms, color="tab:blue", label="||contribution of step t||")
ax.axhline(np.linalg.norm(W_hh.grad), color="tab:red", ls="--", label="||dL/dW_hh|| (norm of the sum)")
ax.set(xlabel="time step t", ylabel="Frobenius norm", title="W_hh's gradient is a sum of per-step contributions")
ax.legend(fontsize=8)
lesson.savefig(fig, "whh_contributions")
lesson.done()
