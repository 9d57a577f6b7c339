"""Lesson 4: remedies -- gradient-norm clipping, truncated BPTT, and identity/orthogonal initialisation.

1. **Clipping by L2 norm.** If the whole gradient g (all parameters together) is longer than a
   threshold c, rescale it to length c: g <- g * c / ||g||. Its direction is kept; only a huge step
   is cut down. We train a tanh RNN whose W_hh starts with spectral radius 2 with plain SGD, once
   without and once with ``nn.utils.clip_grad_norm_``.
2. **Truncated BPTT.** Cut the graph every k steps (``nn.utils.detach_state``): the state still
   flows forward, but no gradient crosses a cut, so backward costs O(k) and sees at most k steps.
3. **Initialisation.** The gradient is multiplied by W_hh^T diag(tanh') per step back. The default
   uniform initialisation has singular values well below 1, so it vanishes fast; an orthogonal
   W_hh (every singular value 1) or the identity (Le et al. 2015) keep its size for far longer.

A fourth remedy, not run here, is a penalty: Pascanu, Mikolov & Bengio (2013) add to the loss a term
that grows when a step's Jacobian shrinks the gradient, nudging training towards norm-preserving
steps. Gated cells (lesson 5) build the same idea into the architecture.

Run: ``python tutorials/04_remedies.py [--quick] [--out FOLDER]``
"""

from _common import Lesson

lesson = Lesson(__doc__, "04_remedies")

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

H = 16
rng = lesson.rng
Q, _ = np.linalg.qr(rng.normal(size=(H, H)))  # orthogonal


# ---------------------------------------------------------------------------------------------
# 1. Clipping. Task: after T steps of noise, output the input seen 3 steps before the end.
def train_delay(clip: float | None, iterations: int) -> tuple[list[float], list[float]]:
    tg.manual_seed(0)
    data_rng = np.random.default_rng(0)
    rnn = nn.RNN(1, H, batch_first=True)
    head = nn.Linear(H, 1)
    rnn.weight_hh_l0.data[:] = 2.0 * Q  # spectral radius 2: the gradient can grow like 2^k
    params = [*rnn.parameters(), *head.parameters()]
    optimizer = optim.SGD(params, lr=0.3)
    losses, norms = [], []
    for _ in range(iterations):
        x = data_rng.normal(0, 1, (32, 30, 1))
        output, _ = rnn(Tensor(x))
        loss = nn.functional.mse_loss(head(output[:, -1])[:, 0], Tensor(x[:, -3, 0]))
        optimizer.zero_grad()
        loss.backward()
        # clip_grad_norm_ returns the norm *before* clipping; with max_norm = inf it only measures.
        norms.append(nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf")))
        losses.append(loss.item())
        if not np.isfinite(losses[-1]) or losses[-1] > 1e6:
            break  # diverged: the weights are already ruined
        with np.errstate(over="ignore", invalid="ignore"):  # an unclipped step may overflow: that is the point
            optimizer.step()
    return losses, norms


ITERATIONS = lesson.pick(150, 80)
plain_losses, plain_norms = train_delay(None, ITERATIONS)
clipped_losses, clipped_norms = train_delay(1.0, ITERATIONS)
start = np.mean(clipped_losses[:10])
print(f"\nwithout clipping: largest gradient norm {max(plain_norms):.3g}, last loss {plain_losses[-1]:.3g}")
print(f"with clipping at 1.0: largest norm before clipping {max(clipped_norms):.3g}, ")
print(f"  loss {start:.3f} (first 10) -> {np.mean(clipped_losses[-10:]):.3f} (last 10)")
lesson.claim(
    max(plain_norms) > 1e3 and (not np.isfinite(plain_losses[-1]) or plain_losses[-1] > 100 * start),
    f"without clipping the run explodes (gradient norm up to {max(plain_norms):.3g})",
)
lesson.claim(
    np.mean(clipped_losses[-10:]) < 0.8 * start and np.all(np.isfinite(clipped_losses)),
    "with clipping the same run stays finite and its loss goes down",
)

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.semilogy(plain_losses, color="tab:red", label="no clipping")
ax.semilogy(clipped_losses, color="tab:blue", label="clip_grad_norm_(max_norm=1)")
ax.set(xlabel="SGD step", ylabel="training MSE", title="A tanh RNN with spectral radius 2, lr 0.3")
ax.legend()
lesson.savefig(fig, "clipping_loss_curves", key=True)

# ---------------------------------------------------------------------------------------------
# 2. Truncated BPTT: run 12 steps in chunks of k = 4, detaching the state between chunks.
cell = nn.RNNCell(1, H)
x = Tensor(rng.normal(0, 1, (12, 1, 1)), requires_grad=True)  # 12 steps, batch 1, 1 feature
K = 4
h = None
chunk_ends = []
for t in range(12):
    if t % K == 0 and h is not None:
        chunk_ends.append(h)
        h = nn.utils.detach_state(h)  # the cut: value kept, history forgotten
    with tg.scope("rnn", step=t):
        h = cell(x[t], h)
last_loss = h.sum()
last_loss.backward()
reach = np.abs(x.grad[:, 0, 0]) > 0
print(f"\ntruncated BPTT (k = {K}): the last step's loss reaches the inputs of steps {np.flatnonzero(reach).tolist()}")
lesson.claim(
    reach.tolist() == [False] * 8 + [True] * 4,
    "with truncation every 4 steps, the gradient reaches back only to the start of the last chunk",
)
lesson.draw(
    [*chunk_ends, last_loss], "truncated_bptt", title="truncated BPTT, k = 4: dashed edges are the cuts", detail="cell"
)

# ---------------------------------------------------------------------------------------------
# 3. Initialisation: gradient size k steps back for default, orthogonal and identity W_hh.
T = lesson.pick(60, 40)


def gradient_vs_steps_back(weight_hh: np.ndarray | None, nonlinearity: str) -> np.ndarray:
    tg.manual_seed(1)
    rnn = nn.RNN(1, H, nonlinearity=nonlinearity)
    if weight_hh is not None:
        rnn.weight_hh_l0.data[:] = weight_hh
    states = []
    h = None
    inputs = np.random.default_rng(2).normal(0, 0.1, (T, 1))
    for t in range(T):
        _, h = rnn(Tensor(inputs[t : t + 1]), h)  # one step at a time to keep every h_t
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    norms = np.array([np.linalg.norm(s.grad) for s in states])[::-1]
    return norms / norms[0]


curves = {
    "default U(-1/sqrt(H), 1/sqrt(H)), tanh": gradient_vs_steps_back(None, "tanh"),
    "orthogonal W_hh, tanh": gradient_vs_steps_back(Q, "tanh"),
    "identity W_hh, ReLU (IRNN)": gradient_vs_steps_back(np.eye(H), "relu"),
}
for label, curve in curves.items():
    print(f"  {label}: ||dL/dh|| {T - 1} steps back = {curve[-1]:.3g} x its value at the end")
default, orthogonal, identity = curves.values()
lesson.claim(
    orthogonal[-1] > 1e3 * default[-1] and identity[-1] > 1e3 * default[-1],
    f"orthogonal and identity initialisation keep the gradient {T - 1} steps back far larger than the default",
)
fig, ax = plt.subplots(figsize=(6, 3.4))
for label, curve in curves.items():
    ax.semilogy(curve, label=label)
ax.set(
    xlabel="steps back", ylabel="||dL/dh_(T-k)|| / ||dL/dh_T||", title="How initialisation sets the gradient's reach"
)
ax.legend(fontsize=8)
lesson.savefig(fig, "initialisation_reach")
lesson.done()
