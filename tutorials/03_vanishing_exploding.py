# %% [markdown]
# # Lesson 3: vanishing and exploding gradients, measured against the theory
#
# Going one step back in time multiplies the gradient by the step's Jacobian transposed:
#
#     dL/dh_(t-1) = W_hh^T diag(1 - h_t^2) dL/dh_t
#
# so k steps back it has been multiplied by k such factors. With tanh' = 1 - h^2 in (0, 1], the
# size of each factor is at most the size of W_hh. If W_hh = rho * Q with Q orthogonal (all singular
# values equal rho) and the units stay in tanh's linear region, every step scales the gradient by
# exactly rho: rho < 1 vanishes like rho^k, rho > 1 explodes like rho^k. A saturated tanh (|h| near
# 1, tanh' near 0) makes it vanish even when rho > 1.
#
# Pascanu, Mikolov & Bengio (2013) state it precisely. With ||diag(tanh')|| <= gamma (gamma = 1
# for tanh) and lambda_1 the largest *singular value* of W_hh, lambda_1 < 1/gamma is **sufficient**
# for the gradient to vanish, and lambda_1 > 1/gamma is **necessary** for it to explode -- not
# sufficient (the saturated run below), and stated for singular values, not eigenvalues: a W_hh
# whose eigenvalues are all below 1 can still make the gradient grow for a while.

# %%
from _common import Lesson, table

lesson = Lesson(
    "03_vanishing_exploding",
    ingredients={"linear_regime": "tiny inputs keep tanh in its linear region (without: inputs of size 1)"},
)

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor

T = lesson.pick(40, 25)
H = lesson.pick(32, 16)
rng = lesson.rng
Q, _ = np.linalg.qr(rng.normal(size=(H, H)))  # a random orthogonal matrix: every singular value is 1
readout = rng.normal(size=H)


def gradient_norms(rho: float, input_scale: float, initial_scale: float):
    """Run h_t = tanh(rho Q h_(t-1) + x_t) for T steps; return ||dL/dh_t|| for L = readout . h_T."""
    W_hh = Tensor(rho * Q, requires_grad=True)
    h = Tensor(rng.normal(0, initial_scale, H))
    states = []
    for t in range(T):
        with tg.scope("rnn", step=t):
            h = (W_hh @ h + Tensor(rng.normal(0, input_scale, H))).tanh()
        h.retain_grad()
        states.append(h)
    loss = (h * Tensor(readout)).sum()
    loss.backward()
    norms = np.array([np.linalg.norm(s.grad) for s in states])  # index t: gradient at step t
    saturation = np.mean([np.mean(1 - s.data**2) for s in states])  # average tanh'
    return norms[::-1], saturation, loss  # reversed: index k = k steps back from the end


def fitted_rate(norms: np.ndarray) -> float:
    """Per-step growth factor: slope of log ||dL/dh|| against steps back, by least squares."""
    k = np.arange(len(norms))
    return float(np.exp(np.polyfit(k, np.log(norms), 1)[0]))


# Linear regime: tiny inputs and initial state keep h near 0, so tanh' ~ 1 and the theory is rho^k.
runs = {}
for rho in (lesson.param("rho", 0.5), 1.0, 1.5):
    # For rho = 1.5 the state grows like 1.5^t: start it tiny so it is still small after T steps.
    scale = 1e-3 * 1.5 ** (-T) if rho > 1 else 1e-3
    if not lesson.uses("linear_regime"):
        scale = 1.0  # inputs of size 1: the units leave tanh's linear region
    runs[f"rho = {rho}"] = (rho, *gradient_norms(rho, input_scale=scale, initial_scale=scale))
# Saturated: rho = 1.5 but large inputs push every unit to +-1, where tanh' ~ 0.
runs["rho = 1.5, saturated tanh"] = (1.5, *gradient_norms(1.5, input_scale=3.0, initial_scale=1.0))

rows = []
for label, (rho, norms, mean_slope, _) in runs.items():
    rate = fitted_rate(norms)
    rows.append([label, rho, rate, mean_slope, f"{norms[-1] / norms[0]:.3g}"])
print()
print(table(rows, ["run", "theory rho", "measured rate/step", "mean tanh'", "||g_(T-1 back)|| / ||g_0||"]))

for label, rho, rate, _, _ in rows[:3]:
    lesson.claim(
        abs(rate - rho) < 0.02 * rho,
        f"{label}: gradient scales by {rate:.4f} per step back (theory {rho})",
        needs="linear_regime",
    )
lesson.claim(
    float(rows[0][4]) < 1e-4 and float(rows[2][4]) > 1e4,
    f"over the sequence, rho = {rows[0][1]} vanishes and rho = 1.5 explodes",
    needs="linear_regime",
)
saturated_rate = rows[3][2]
lesson.claim(
    saturated_rate < 1.0 < rows[3][1],
    f"a saturated tanh (mean tanh' {rows[3][3]:.3f}) makes the gradient vanish "
    f"({saturated_rate:.3f}/step) despite rho = 1.5",
)

fig, ax = plt.subplots(figsize=(6.4, 4))
colors = ["tab:blue", "tab:green", "tab:red", "tab:purple"]
for color, (label, (rho, norms, _, _)) in zip(colors, runs.items(), strict=True):
    k = np.arange(len(norms))
    ax.semilogy(k, norms, "o", ms=3, color=color, label=f"measured, {label}")
    if "saturated" not in label:
        ax.semilogy(k, norms[0] * rho**k, "-", lw=1, color=color, alpha=0.7, label=f"theory {rho}^k")
ax.set(xlabel="k = steps back from the last step", ylabel="||dL/dh_(T-k)||", title="Gradient norm vs steps back")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=7, ncol=2)
lesson.savefig(fig, "gradient_norm_vs_steps_back", key=True)

# %% [markdown]
# ## Eigenvalues below 1, and the gradient still grows: a non-normal W_hh
#
# W_hh = Q B Q^T where B is block-diagonal with 2 x 2 blocks [[0.9, 5], [0, 0.9]]: every eigenvalue
# is 0.9 (spectral radius 0.9 < 1), but the largest singular value is about 5.1. Going back k steps
# multiplies by (B^T)^k, whose size is about 5 k 0.9^(k-1): it *grows* until k ~ 10, then decays.

# %%
B = np.zeros((H, H))
for j in range(0, H, 2):
    B[j : j + 2, j : j + 2] = [[0.9, 5.0], [0.0, 0.9]]
W_nonnormal = Q @ B @ Q.T
eigen = np.abs(np.linalg.eigvals(W_nonnormal)).max()
singular = np.linalg.norm(W_nonnormal, 2)
LONG = lesson.pick(80, 60)
h = Tensor(np.zeros(H))
W_nn = Tensor(W_nonnormal, requires_grad=True)
states = []
for _ in range(LONG):
    h = (W_nn @ h + Tensor(rng.normal(0, 1e-6, H))).tanh()  # tiny inputs: the linear regime
    h.retain_grad()
    states.append(h)
(h * Tensor(Q[:, 0::2].sum(axis=1))).sum().backward()  # B^T carries each block's first coordinate into its second
transient = np.array([np.linalg.norm(s.grad) for s in states])[::-1]  # index k = k steps back
peak = int(transient.argmax())
print(f"spectral radius {eigen:.2f}, largest singular value {singular:.2f}: ||dL/dh|| k steps back, relative:")
print("  " + "  ".join(f"k={k}: {transient[k] / transient[0]:.3g}" for k in (0, 5, peak, 30, LONG - 1)))
lesson.claim(
    eigen < 1 < singular and transient[peak] > 10 * transient[0] and transient[-1] < transient[0],
    f"with every eigenvalue at {eigen:.2f} < 1 the gradient still grows {transient[peak] / transient[0]:.0f}x "
    f"over the first {peak} steps back before it vanishes: rho < 1 does not mean 'no growth'",
)

# %% [markdown]
# ## The cliff that clipping exists for
#
# Pascanu et al.'s one-unit example: h_t = w sigmoid(h_(t-1)) + b, 50 steps, loss (h_50 - 0.7)^2,
# as a function of the recurrent weight w. For most w the loss surface is flat-ish; near the w
# where the recurrence switches from one fixed point to another it jumps -- a *cliff* -- and the
# gradient there is thousands of times larger than elsewhere. One SGD step on the cliff throws the
# weights far away; clipping (lesson 4) caps that step and keeps the direction.


# %%
def loss_and_slope(w_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loss after 50 steps and dL/dw, for one independent one-unit RNN per value of w."""
    w = Tensor(w_values, requires_grad=True)
    h = Tensor(np.full(len(w_values), 0.5))
    for _ in range(50):
        h = w * h.sigmoid() + Tensor(np.full(len(w_values), -4.0))
    loss = (h - Tensor(np.full(len(w_values), 0.7))) ** 2
    loss.sum().backward()  # the sum of independent losses: each w gets its own dL/dw
    return loss.data, w.grad


w_coarse = np.linspace(0.0, 12.0, 1201)
coarse_loss, coarse_slope = loss_and_slope(w_coarse)
jump = int(np.abs(np.diff(coarse_loss)).argmax())  # the cliff lies between two neighbouring grid points
parts = [(w_coarse, coarse_loss, coarse_slope)]
low, high = w_coarse[jump], w_coarse[jump + 1]
for _ in range(4):  # zoom in on the cliff: it is far narrower than the grid
    w_fine = np.linspace(low, high, 201)
    fine_loss, fine_slope = loss_and_slope(w_fine)
    parts.append((w_fine, fine_loss, fine_slope))
    k = int(np.abs(np.diff(fine_loss)).argmax())
    low, high = w_fine[k], w_fine[k + 1]
w_all = np.concatenate([p[0] for p in parts])
order = np.argsort(w_all)
w_all, loss_all = w_all[order], np.concatenate([p[1] for p in parts])[order]
slopes = np.abs(np.concatenate([p[2] for p in parts])[order])
steepest = float(w_all[slopes.argmax()])
print(f"the loss jumps by {abs(coarse_loss[jump + 1] - coarse_loss[jump]):.3g} between w = {w_coarse[jump]:.2f} and")
print(f"  {w_coarse[jump + 1]:.2f}; |dL/dw|: median {np.median(np.abs(coarse_slope)):.3g}, largest {slopes.max():.3g}")
lesson.claim(
    slopes.max() > 1000 * np.median(np.abs(coarse_slope)),
    f"the loss surface has a cliff: at w = {steepest:.6f} the gradient is "
    f"{slopes.max() / np.median(np.abs(coarse_slope)):.2g} times its median over w",
)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].plot(w_all, loss_all, color="tab:blue")
axes[0].set(xlabel="recurrent weight w", ylabel="loss after 50 steps", title="The loss surface: a cliff")
axes[1].semilogy(w_all, slopes + 1e-12, color="tab:red")
axes[1].set(xlabel="recurrent weight w", ylabel="|dL/dw|", title="The gradient on and off the cliff")
lesson.savefig(fig, "loss_cliff")
steps_back = np.arange(LONG)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.semilogy(steps_back, transient / transient[0], label=f"non-normal W_hh, eigenvalues {eigen:.1f}")
ax.semilogy(steps_back, 0.9**steps_back, "--", label="0.9^k (a normal W_hh, same eigenvalues)")
ax.set(xlabel="k = steps back", ylabel="||dL/dh_(T-k)|| / ||dL/dh_T||", title="rho < 1, and the gradient grows first")
ax.legend(fontsize=8)
lesson.savefig(fig, "non_normal_transient")

# %% [markdown]
# ## The gradient-heat graph
#
# A short run drawn with each node coloured by the size of its gradient.

# %%
from tinygrad_rnn.graph import record_gradients

W_small = Tensor(0.5 * Q[:6, :6] / np.linalg.norm(Q[:6, :6], 2), requires_grad=True)
W_small.name = "W_hh"
h = Tensor(np.full(6, 0.01))
for t in range(lesson.pick(8, 5)):
    with tg.scope("rnn", step=t):
        h = (W_small @ h + Tensor(rng.normal(0, 0.01, 6))).tanh()
heat_loss = (h * Tensor(readout[:6])).sum()
with record_gradients() as record:
    heat_loss.backward()
lesson.draw(heat_loss, "gradient_heat", title="gradient heat, rho = 0.5: fading going back in time", gradients=record)

# %% [markdown]
# ## Predict, then run
#
# 1. `--set rho=0.95`: the first run's rho. Predict the measured rate per step, and how small the
#    gradient is 39 steps back (0.95^39 = ?). Does "vanishes" (below 1e-4) still hold?
# 2. `--without linear_regime`: inputs of size 1. Which measured rates leave their theory, and
#    which way -- faster vanishing, or slower?

# %%
lesson.done()
