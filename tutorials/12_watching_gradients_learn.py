# %% [markdown]
# # Lesson 12: watching gradients learn -- the LSTM learns to carry them back, the tanh RNN never does
#
# Lesson 6 showed *that* the LSTM solves the adding problem and the tanh RNN does not. Here we
# watch *why*, while they train. The answer of the adding problem, `0.5 + (X1 + X2) / 4`, is asked
# for at the last step `T`, but the first marked number `X1` sits within the first ten steps. For
# the loss to teach the network to keep `X1`, the gradient `dL/dh_t` must reach back to those early
# steps: a network can only learn to use what its gradient can see.
#
# `tinygrad_rnn.GradientMonitor` watches a real training run. It replaces `loss.backward()` in the
# loop; every tenth call it also records a *snapshot*: the loss, `‖dL/dh_t‖` at every step, each
# step's contribution to `weight_hh.grad`, and the mean activation of every gate. It reads what a
# node is from the roles the recurrent layers declare, and costs little (see the README's budget).
#
# We train a tanh RNN and an LSTM of the same width on the same batches, then compare their
# snapshots: how much of the gradient at the last step reaches the first ten steps,
#
#     reach ratio = mean of ‖dL/dh_t‖ over t ≤ 10  /  ‖dL/dh_T‖,
#
# at the first iteration and at the last. The explorer page (`tinygrad_rnn.viz.explore`) lets you
# scrub through the same snapshots by hand.

# %%
from _common import Lesson

lesson = Lesson("12_watching_gradients_learn", ingredients={"training": "the models are trained (learning rate > 0)"})

import matplotlib.pyplot as plt
import numpy as np
from tinygrad_rnn.apps.explore_cli import watch_training
from tinygrad_rnn.viz.explore import explore, save_gif

T = 20
EARLY = 10  # X1 is marked within the first ten steps
ITERATIONS = lesson.pick(400, 200) if lesson.uses("training") else 30
LR = 0.01 if lesson.uses("training") else 0.0  # without training: the same loop, no step taken

# %% [markdown]
# ## 1. Train both, with a monitor watching
#
# `watch_training` is the loop you would write: Adam on fresh batches of the adding problem, with
# `monitor.backward(loss)` in place of `loss.backward()`. The LSTM starts with its forget gate
# leaning open (bias +1), the usual initialisation.

# %%
runs = {}
for kind in ("rnn", "lstm"):
    runs[kind] = watch_training(kind, "adding", steps=T, iterations=ITERATIONS, every=10, hidden=16, lr=LR, seed=0)
    losses = runs[kind].losses
    print(
        f"{kind.upper():4s}: loss {np.mean(losses[:10]):.4f} (first 10 iterations) -> {np.mean(losses[-10:]):.4f} "
        f"(last 10), {len(runs[kind].monitor.snapshots)} snapshots"
    )


def reach_ratio(snapshot) -> float:
    """How much of the gradient at the last step reaches the first EARLY steps (mean over them)."""
    norms = snapshot.state_grad_norms
    return float(norms[:EARLY].mean() / norms[-1])


ratios = {kind: [reach_ratio(s) for s in run.monitor.snapshots] for kind, run in runs.items()}
for kind, r in ratios.items():
    print(f"{kind.upper():4s}: reach ratio {r[0]:.2e} at iteration 0 -> {r[-1]:.2e} at the end ({r[-1] / r[0]:.1f}x)")

# %% [markdown]
# ## 2. What the snapshots say
#
# The predicting-the-mean baseline has an MSE of about 0.04. The LSTM gets far below it; the RNN
# does not. And the recorded gradients show the reason: during training the LSTM's reach ratio
# grows many times over -- it has learned to carry the gradient back to where `X1` is -- while the
# tanh RNN's stays tiny (each step back multiplies it by `W_hh^T diag(1 - h_t^2)`, of norm below
# one, lesson 3), so the early steps never get a signal to learn from.

# %%
lstm_loss = float(np.mean(runs["lstm"].losses[-10:]))
rnn_loss = float(np.mean(runs["rnn"].losses[-10:]))
growth = ratios["lstm"][-1] / ratios["lstm"][0]
limit = lesson.pick(0.01, 0.025)  # the baseline (predicting the mean) has an MSE of about 0.04
lesson.claim(lstm_loss < limit, f"the LSTM learned the adding problem (MSE {lstm_loss:.4f})", needs="training")
lesson.claim(
    growth >= lesson.pick(10.0, 3.0),
    f"while learning, the LSTM's gradient at the first {EARLY} steps grew {growth:.1f}x relative to the last "
    "step's: it learned to carry it back",
    needs="training",
)
lesson.claim(
    max(ratios["rnn"]) < 1e-2 and rnn_loss > 0.03,
    f"the tanh RNN's gradient never reaches the first {EARLY} steps (reach ratio at most {max(ratios['rnn']):.1e}) "
    f"and it stays near the baseline (MSE {rnn_loss:.4f})",
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, kind in zip(axes, ("rnn", "lstm")):
    snaps = runs[kind].monitor.snapshots
    for snap, colour in ((snaps[0], "#9ecae1"), (snaps[len(snaps) // 2], "#4292c6"), (snaps[-1], "#08306b")):
        back = snap.steps[-1] - snap.steps
        ax.semilogy(
            back, snap.state_grad_norms / snap.state_grad_norms[-1], color=colour, label=f"iteration {snap.iteration}"
        )
    ax.axvspan(T - EARLY, T - 1, color="#fdd0a2", alpha=0.5, label=f"first {EARLY} steps (X1)")
    ax.set(title=f"{kind.upper()}: ‖dL/dh_t‖ / ‖dL/dh_T‖ while training", xlabel="steps back from the last step")
    ax.legend(fontsize=8)
axes[0].set_ylabel("relative gradient norm (log)")
fig.tight_layout()
lesson.savefig(fig, "gradient_reach_while_training", key=True)

# %% [markdown]
# ## 3. Scrub through it yourself
#
# Each run is written as an explorer page (one offline HTML file: open it in a browser) and as an
# animated GIF. On the page, move the *training iteration* slider: the hidden states and the edges
# of `weight_hh` are recoloured with that iteration's `‖dL/dh_t‖` and per-step contributions; click
# a step to light up the gradient's path back to it, click `weight_hh_l0` for its per-step bars.

# %%
for kind, run in runs.items():
    page = explore(run.monitor, lesson.out / f"explore_{kind}.html", x=run.x, loss_fn=run.loss_fn, title=run.title)
    print(f"wrote {page.path}")
    print(f"wrote {save_gif(run.monitor, lesson.out / f'training_{kind}.gif', title=run.title)}")

# %% [markdown]
# ## Predict, then run
#
# 1. Forget-gate bias: `watch_training` opens the LSTM's forget gate with a bias of +1. Read the gate
#    plot on the LSTM page: how does the mean forget gate `f_t` change while it learns?
# 2. `--without training`: the same loop with a learning rate of 0. Which claims fail, and what do the
#    reach ratios do?

# %%
lesson.done()
