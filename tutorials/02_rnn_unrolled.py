# %% [markdown]
# # Lesson 2: the vanilla RNN unrolled through time, and backpropagation through time (BPTT)
#
# A vanilla RNN reads one input per step and keeps a hidden state:
#
#     h_t = tanh(W_hh h_{t-1} + W_xh x_t)        y_t = W_hy h_t
#
# The *same* three matrices are used at every step, which is why an RNN takes sequences of any
# length without growing. Unrolling the loop gives an ordinary (deep) graph with one copy of the
# step per time step, all pointing at the one W_hh. In the many-to-many shape each step has its
# own loss and the total loss is their sum. Backpropagation through time is plain backward on the
# unrolled graph: each use of W_hh sends back its own contribution, and W_hh.grad is the sum of
# the per-step contributions -- and, going back in time, dL/dh_t collects what flows back from
# step t + 1.

# %%
from _common import Lesson

lesson = Lesson(
    "02_rnn_unrolled",
    ingredients={"bptt": "the gradient flows back through h (without: h is detached at every step)"},
)

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.graph import record_gradients

T = lesson.param("steps", lesson.pick(4, 3))  # time steps (kept small so the drawing stays readable)
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
            h_prev = h if lesson.uses("bptt") else h.detach()  # without BPTT: no gradient into the past
            h = (W_hh_at(t) @ h_prev + W_xh @ Tensor(xs[t])).tanh()  # h_t = tanh(W_hh h_{t-1} + W_xh x_t)
            y = W_hy @ h  # y_t = W_hy h_t
            losses.append(((y - Tensor(targets[t])) ** 2).sum())  # this step's loss
        states.append(h)
    total = losses[0]
    for step_loss in losses[1:]:
        total = total + step_loss  # many-to-many: the total loss is the sum of per-step losses
    return total, losses, states


# %% [markdown]
# ## 1. One W_hh shared by all steps; backward through the unrolled graph

# %%
loss, step_losses, states = unrolled(lambda t: W_hh)
for h in states:
    h.retain_grad()
with record_gradients() as record:  # also keep the gradient sent along every edge, for the drawing
    loss.backward()
print(f"total loss {loss.item():.5f} = sum of {T} per-step losses {[round(s.item(), 4) for s in step_losses]}")

# %% [markdown]
# ## 2. Per-step contributions
#
# Untie the weight: give every step its own copy of W_hh (same values). Each copy's gradient is
# exactly what that step's use contributes to the shared gradient.

# %%
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

# %% [markdown]
# ## 3. BPTT by hand, in numpy
#
# Going backwards in time:
#
#     dL/dh_t = W_hy^T dL/dy_t + W_hh^T da_{t+1},   da_t = (1 - h_t^2) * dL/dh_t,
#
# and step t contributes da_t h_{t-1}^T to dL/dW_hh. The term W_hh^T da_{t+1} is the gradient
# arriving from the future: it exists only because h_t was used again at step t + 1. (Run
# `--without bptt` and the autograd graph loses it -- the hand-written recursion then disagrees.)

# %%
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
    needs="bptt",
)
lesson.claim(
    all(np.allclose(manual_dh[t], states[t].grad, rtol=0, atol=1e-12) for t in range(T)),
    "the hidden-state gradients dL/dh_t match the hand-written recursion at every step",
    needs="bptt",
)

# %% [markdown]
# ## 4. The course's names and PyTorch's
#
# `nn.RNN` (like `torch.nn.RNN`) calls W_xh `weight_ih_l0` and W_hh `weight_hh_l0`, and adds two
# biases. Copy our matrices into it (biases zero) and it must compute the same hidden states; the
# same model then reads a sequence of any length without growing: its parameters are the same
# three matrices whether T is 4 or 400, only the unrolled graph grows.

# %%
from tinygrad_rnn import nn
from tinygrad_rnn.autograd import toposort

layer = nn.RNN(D, H, bias=False)
layer.weight_ih_l0.data[:] = W_xh.data  # W_xh: (H, D), input -> hidden
layer.weight_hh_l0.data[:] = W_hh.data  # W_hh: (H, H), hidden -> hidden
with tg.no_grad():
    outputs, _ = layer(Tensor(xs))  # (T, H)
lesson.claim(
    np.allclose(outputs.data, np.stack([h.data for h in states]), rtol=0, atol=1e-12),
    "nn.RNN with weight_ih_l0 = W_xh and weight_hh_l0 = W_hh computes our h_t at every step",
)
n_params = sum(p.size for p in layer.parameters())
for length in (4, 40, 400):
    out, _ = layer(Tensor(rng.normal(0, 1, (length, D))))
    print(f"  T = {length:3d}: {n_params} parameters, {len(toposort(out.sum()))} nodes in the unrolled graph")

# %% [markdown]
# ## 5. Pictures: the unrolled graph clustered by time step, and the per-step contributions

# %%
lesson.draw(
    loss,
    "unrolled_rnn",
    title=f"vanilla RNN unrolled over {T} steps: W_hh's edges carry each step's contribution",
    gradients=record,
)

norms = np.linalg.norm(contributions.reshape(T, -1), axis=1)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.bar(range(T), norms, color="tab:blue", label="||contribution of step t||")
ax.axhline(np.linalg.norm(W_hh.grad), color="tab:red", ls="--", label="||dL/dW_hh|| (norm of the sum)")
ax.set(xlabel="time step t", ylabel="Frobenius norm", title="W_hh's gradient is a sum of per-step contributions")
ax.legend(fontsize=8)
lesson.savefig(fig, "whh_contributions")

# %% [markdown]
# ## 6. The five shapes, rolled and unrolled
#
# The same cell serves every input/output shape: one-to-one (a plain network), one-to-many (one
# input, a sequence out: captioning, generation), many-to-one (a sequence in, one answer:
# classification), many-to-many (an output per step: tagging, the character model), and the
# encoder-decoder (read everything, then write: translation). Rolled, each is one cell with a loop;
# unrolled, the loop becomes a chain of copies of the cell.

# %%
SHAPES = {  # (steps with an input, steps with an output, steps of a second, decoder, cell)
    "one-to-one": ([0], [0], 1, 0),
    "one-to-many": ([0], [0, 1, 2, 3], 4, 0),
    "many-to-one": ([0, 1, 2, 3], [3], 4, 0),
    "many-to-many": ([0, 1, 2, 3], [0, 1, 2, 3], 4, 0),
    "encoder-decoder": ([0, 1, 2], [3, 4, 5], 3, 3),
}
fig, axes = plt.subplots(len(SHAPES), 2, figsize=(10, 9), gridspec_kw={"width_ratios": [1, 3.2]})


def box(ax, x, y, text, color):
    ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": color, "ec": "0.3"})


for row, (name, (ins, outs, encoder, decoder)) in enumerate(SHAPES.items()):
    rolled, unrolled = axes[row]
    cells = [(0.5, "RNN")] if not decoder else [(0.25, "enc"), (0.75, "dec")]
    for k, (x, label) in enumerate(cells):
        box(rolled, x, 0.5, label, "#f6e0db" if label == "dec" else "#dbe9f6")
        if encoder > 1:  # the loop: h_t goes back in as h_(t-1)
            loop = {"arrowstyle": "->", "connectionstyle": "arc3,rad=-1.8", "color": "tab:blue"}
            rolled.annotate("", (x + 0.1, 0.42), (x + 0.1, 0.58), arrowprops=loop)
        if k == 0:
            box(rolled, x, 0.1, "x", "#fde9c9")
            rolled.annotate("", (x, 0.4), (x, 0.18), arrowprops={"arrowstyle": "->"})
        if k == len(cells) - 1:
            box(rolled, x, 0.9, "y", "#d9f0d3")
            rolled.annotate("", (x, 0.82), (x, 0.6), arrowprops={"arrowstyle": "->"})
    if decoder:
        rolled.annotate("", (0.66, 0.5), (0.34, 0.5), arrowprops={"arrowstyle": "->"})
    rolled.set_xlim(0, 1.1)
    rolled.set_title(f"{name}: rolled", fontsize=9)
    steps = encoder + decoder
    for t in range(steps):
        box(
            unrolled,
            t,
            0.5,
            f"{'dec' if t >= encoder else ('enc' if decoder else 'RNN')}\nt={t}",
            "#f6e0db" if t >= encoder else "#dbe9f6",
        )
        if t:
            unrolled.annotate("", (t - 0.28, 0.5), (t - 0.72, 0.5), arrowprops={"arrowstyle": "->"})
        if t in ins:
            box(unrolled, t, 0.1, f"x_{t}", "#fde9c9")
            unrolled.annotate("", (t, 0.36), (t, 0.18), arrowprops={"arrowstyle": "->"})
        if t in outs:
            box(unrolled, t, 0.9, f"y_{t}", "#d9f0d3")
            unrolled.annotate("", (t, 0.82), (t, 0.64), arrowprops={"arrowstyle": "->"})
    unrolled.set_xlim(-0.6, 5.6)
    unrolled.set_title(f"{name}: unrolled", fontsize=9)
    for ax in (rolled, unrolled):
        ax.set_ylim(-0.05, 1.05)
        ax.axis("off")
fig.suptitle("The five shapes of a recurrent network: one cell, rolled (left) and unrolled in time (right)")
fig.tight_layout()
lesson.savefig(fig, "five_shapes", key=True)

# %% [markdown]
# ## Predict, then run
#
# 1. `--set steps=8`: twice the time steps. Predict: is the largest per-step contribution to
#    dL/dW_hh at the first step or the last? Does the picture agree?
# 2. `--without bptt`: h is detached at every step. Which claims fail -- and why does the sum of
#    per-step contributions still equal W_hh.grad?

# %%
lesson.done()
