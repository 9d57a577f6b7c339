"""Lesson 3: vanishing and exploding gradients, measured against the theory.

Going one step back in time multiplies the gradient by the step's Jacobian transposed:

    dL/dh_(t-1) = W_hh^T diag(1 - h_t^2) dL/dh_t

so k steps back it has been multiplied by k such factors. With tanh' = 1 - h^2 in (0, 1], the
size of each factor is at most the size of W_hh. If W_hh = rho * Q with Q orthogonal (all singular
values equal rho) and the units stay in tanh's linear region, every step scales the gradient by
exactly rho: rho < 1 vanishes like rho^k, rho > 1 explodes like rho^k. A saturated tanh (|h| near
1, tanh' near 0) makes it vanish even when rho > 1.

Run: ``python tutorials/03_vanishing_exploding.py [--quick] [--out FOLDER]``
"""

from _common import Lesson, table

lesson = Lesson(__doc__, "03_vanishing_exploding")

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
for rho in (0.5, 1.0, 1.5):
    # For rho = 1.5 the state grows like 1.5^t: start it tiny so it is still small after T steps.
    scale = 1e-3 * 1.5 ** (-T) if rho > 1 else 1e-3
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
    lesson.claim(abs(rate - rho) < 0.02 * rho, f"{label}: gradient scales by {rate:.4f} per step back (theory {rho})")
lesson.claim(
    float(rows[0][4]) < 1e-4 and float(rows[2][4]) > 1e4, "over the sequence, rho = 0.5 vanishes and rho = 1.5 explodes"
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

# The gradient-heat graph: a short run drawn with each node coloured by the size of its gradient.
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
lesson.done()
