# %% [markdown]
# # Lesson 4: remedies -- gradient clipping, truncated BPTT, and identity/orthogonal initialisation
#
# 1. **Clipping by norm.** If the whole gradient g (all parameters together) is longer than a
#    threshold c, rescale it to length c: g <- g * c / ||g||. Its direction is kept; only a huge
#    step is cut down. Clipping is meant for the *rare* step that falls off a cliff of the loss
#    surface; if it fires on every step it is just a smaller learning rate. The course's other
#    version, **clipping by value**, clamps each component to [-c, c] -- which also turns the
#    gradient's direction.
# 2. **Truncated BPTT.** Train on a long stream in chunks of k steps, carrying the hidden state
#    from chunk to chunk (min-char-rnn's `hprev`) but cutting the graph at each chunk boundary
#    (`nn.utils.detach_state`). Backward then costs O(k) -- and no gradient crosses a cut, so a
#    dependency longer than k cannot be *learned*.
# 3. **Initialisation.** The gradient is multiplied by W_hh^T diag(tanh') per step back. The
#    default uniform initialisation has singular values well below 1, so it vanishes fast; an
#    orthogonal W_hh (every singular value 1) or the identity (Le et al. 2015) keep its size for
#    far longer.
#
# Penalties: the course's L2 penalty on W_rec is run below. Pascanu, Mikolov & Bengio (2013) add
# instead a term that grows when a step's Jacobian shrinks the gradient. Gated cells (lesson 5)
# build the same idea into the architecture.

# %%
from _common import Lesson

lesson = Lesson(
    "04_remedies",
    ingredients={
        "clipping": "the gradient is clipped to norm 2 (without: the same run, unclipped)",
        "chunk_length": "truncation chunks of k = 4 > the 3-step dependency (without: k = 3)",
    },
)

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

H = 16
rng = lesson.rng
Q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(H, H)))  # orthogonal

# %% [markdown]
# ## 1. Clipping, in the regime it is made for
#
# Task: after 30 steps of noise, output the input seen 3 steps before the end. A tanh RNN whose
# W_hh starts at 1.2 x an orthogonal matrix, plain SGD with learning rate 0.3. Most gradients are
# of norm about 1, but now and then one is hundreds of times larger: without clipping one such
# step throws the weights off and the run diverges. We clip at norm 2, and compare with the
# obvious alternative, a ten times smaller learning rate without clipping.

# %%
LR = 0.3
CLIP = lesson.param("clip", 2.0) if lesson.uses("clipping") else None
VALUE_CLIP = 0.2  # per component, for the clip-by-value contrast
ITERATIONS = 150  # the whole lesson takes seconds: quick mode runs the same training


def flat_gradient(params) -> np.ndarray:
    return np.concatenate([p.grad.ravel() for p in params])


def train_delay(lr: float, clip: float | None = None, by_value: bool = False, seed: int = 0, penalty: float = 0.0):
    """SGD on the delay task; returns losses, gradient norms before clipping, one spike gradient, final rho."""
    tg.manual_seed(seed)
    data_rng = np.random.default_rng(seed)
    rnn = nn.RNN(1, H, batch_first=True, fused=True)
    head = nn.Linear(H, 1)
    rnn.weight_hh_l0.data[:] = 1.2 * Q
    params = [*rnn.parameters(), *head.parameters()]
    optimizer = optim.SGD(params, lr=lr)
    losses, norms, spike = [], [], None
    for _ in range(ITERATIONS):
        x = data_rng.normal(0, 1, (32, 30, 1))
        output, _ = rnn(Tensor(x))
        loss = nn.functional.mse_loss(head(output[:, -1])[:, 0], Tensor(x[:, -3, 0]))
        optimizer.zero_grad()
        if penalty:  # L2 penalty on the recurrent weight: pulls W_hh (and its spectral radius) towards 0
            (loss + penalty * (rnn.weight_hh_l0**2).sum()).backward()
        else:
            loss.backward()
        norm = nn.utils.clip_grad_norm_(params, float("inf"))  # max_norm = inf: only measures
        if spike is None and norm > 2.0:
            spike = flat_gradient(params)  # the first large gradient, for the clip-by-value contrast
        if clip is not None and not by_value:
            nn.utils.clip_grad_norm_(params, clip)
        if clip is not None and by_value:
            for p in params:
                np.clip(p.grad, -clip, clip, out=p.grad)
        norms.append(norm)
        losses.append(loss.item())
        if not np.isfinite(losses[-1]) or losses[-1] > 1e6:
            break  # diverged: the weights are already ruined
        with np.errstate(over="ignore", invalid="ignore"):  # an unclipped step may overflow: that is the point
            optimizer.step()
    radius = float(np.abs(np.linalg.eigvals(rnn.weight_hh_l0.data)).max())  # where W_hh ended up
    return np.array(losses), np.array(norms), spike, radius


def steps_to(losses: np.ndarray, level: float) -> int | None:
    """The first step at which the 10-step average loss is below ``level`` (None if never)."""
    average = np.convolve(losses, np.ones(10) / 10, mode="valid")
    below = np.flatnonzero(average < level)
    return int(below[0]) + 10 if len(below) else None


runs = {
    "no clipping, lr 0.3": train_delay(LR),
    f"clip norm at {CLIP}, lr 0.3": train_delay(LR, CLIP),
    "no clipping, lr 0.03": train_delay(LR / 10),
    f"clip value at {VALUE_CLIP}, lr 0.3": train_delay(LR, VALUE_CLIP, by_value=True),
}
header = ["run", "steps", "median norm", "largest", "clip fired", "last loss", "to 0.1"]
print(f"{header[0]:28s} " + " ".join(f"{h:>{w}s}" for h, w in zip(header[1:], [5, 11, 9, 10, 9, 6], strict=True)))
for name, (losses, norms, _, _) in runs.items():
    fired = f"{np.mean(norms > CLIP):.0%}" if CLIP is not None and "clip norm" in name else "-"
    print(
        f"{name:28s} {len(losses):5d} {np.median(norms):11.3g} {norms.max():9.3g} {fired:>10s} "
        f"{np.mean(losses[-10:]):9.3g} {steps_to(losses, 0.1) or '-':>6}"
    )

plain_losses, plain_norms, spike, _ = runs["no clipping, lr 0.3"]
clipped_losses, clipped_norms, _, _ = runs[f"clip norm at {CLIP}, lr 0.3"]
slow_losses, _, _, _ = runs["no clipping, lr 0.03"]
start = float(np.mean(plain_losses[:5]))
fired = float(np.mean(clipped_norms > CLIP)) if CLIP is not None else 0.0
lesson.claim(
    len(plain_losses) < ITERATIONS and plain_norms.max() > 100 * np.median(plain_norms[:5]),
    f"without clipping the run diverges after {len(plain_losses)} steps (gradient norm up to {plain_norms.max():.3g})",
)
lesson.claim(
    len(clipped_losses) == ITERATIONS and np.mean(clipped_losses[-10:]) < 0.1 and 0 < fired < 0.15,
    f"clipping at norm {CLIP} fires on only {fired:.0%} of the steps and saves the run "
    f"(last loss {np.mean(clipped_losses[-10:]):.3f})",
    needs="clipping",
)
clipped_reach, slow_reach = steps_to(clipped_losses, 0.1), steps_to(slow_losses, 0.1)
lesson.claim(
    clipped_reach is not None and (slow_reach is None or clipped_reach < 0.75 * slow_reach),
    f"clipped SGD at lr 0.3 reaches loss 0.1 in {clipped_reach} steps, the unclipped lr 0.03 control in "
    f"{slow_reach}: on the steps it does not fire, clipping keeps the full learning rate",
    needs="clipping",
)

# Clipping by value at the first large gradient: each component is clamped, so the direction turns.
by_value = np.clip(spike, -VALUE_CLIP, VALUE_CLIP)
cosine = float(spike @ by_value / (np.linalg.norm(spike) * np.linalg.norm(by_value)))
print(f"\nthe first gradient above norm 2 ({np.linalg.norm(spike):.3g}): clip-by-value at {VALUE_CLIP} leaves")
print(f"  cos(angle) = {cosine:.3f} with the original direction; clip-by-norm leaves exactly 1")
lesson.claim(
    cosine < 0.95,
    f"clipping by value turns the gradient by {np.degrees(np.arccos(cosine)):.0f} degrees; clipping by norm never does",
)

# %% [markdown]
# The course's other remedy for exploding gradients: an **L2 penalty on W_rec**, loss + lambda
# ||W_hh||^2, which pulls the recurrent weight -- and its spectral radius -- towards 0. Does it save
# the same run without clipping?

# %%
penalised = {}
for lam in (0.03, 0.3):
    penalty_losses, _, _, radius = train_delay(LR, penalty=lam)
    penalised[lam] = (penalty_losses, radius)
    print(
        f"  L2 penalty {lam}: {len(penalty_losses)} steps, last loss {np.mean(penalty_losses[-10:]):.3g}, "
        f"spectral radius of W_hh at the end {radius:.2f}"
    )
weak, strong = penalised[0.03][0], penalised[0.3][0]
lesson.claim(
    len(weak) < ITERATIONS and len(strong) == ITERATIONS and np.mean(strong[-10:]) > 4 * np.mean(clipped_losses[-10:]),
    f"a penalty of 0.03 does not stop the divergence; one of 0.3 does, but it shrinks W_hh to spectral radius "
    f"{penalised[0.3][1]:.2f} and the run learns far less (loss {np.mean(strong[-10:]):.2f} against "
    f"{np.mean(clipped_losses[-10:]):.3f} with clipping): the penalty fights memory itself",
)

fig, ax = plt.subplots(figsize=(6.4, 3.6))
colors = ["tab:red", "tab:blue", "tab:grey", "tab:purple"]
for color, (name, (losses, _, _, _)) in zip(colors, runs.items(), strict=True):
    ax.semilogy(losses, color=color, label=name)
if CLIP is not None:
    fired_steps = np.flatnonzero(clipped_norms > CLIP)
    ax.plot(fired_steps, clipped_losses[fired_steps], "v", color="tab:blue", ms=5, label="steps where clipping fired")
ax.set(xlabel="SGD step", ylabel="training MSE", title="A tanh RNN (W_hh = 1.2 x orthogonal) on the delay task")
ax.legend(fontsize=7)
lesson.savefig(fig, "clipping_loss_curves", key=True)

# %% [markdown]
# ## 2. Truncated BPTT, as it is used
#
# A stream of random +-1 inputs; the target at every step is the input from 3 steps earlier. We
# feed it in chunks of k steps, carry the state across chunks, detach it at each boundary, and
# train with Adam after every chunk. Inside a chunk of length k, the target at position t depends
# on the input at position t - 3: when k <= 3 that input always lies in an *earlier* chunk, behind
# a cut, so no gradient ever connects them.

# %%
DELAY = 3
K_LONG = lesson.param("k", 4) if lesson.uses("chunk_length") else DELAY


def truncated_bptt(k: int, seed: int = 0, total_steps: int = 1200) -> np.ndarray:
    """Train a tanh RNN on the delay-3 stream with truncation length k; return the per-chunk losses."""
    tg.manual_seed(seed)
    stream_rng = np.random.default_rng(seed)
    rnn = nn.RNN(1, H, batch_first=True, fused=True)
    head = nn.Linear(H, 1)
    optimizer = optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.01)
    chunks = total_steps // k
    stream = stream_rng.choice([-1.0, 1.0], (32, chunks * k + DELAY))  # (B, steps)
    h = None  # min-char-rnn's hprev
    losses = []
    for c in range(chunks):
        s = DELAY + c * k
        output, h = rnn(Tensor(stream[:, s : s + k, None]), h)  # (B, k, H)
        loss = nn.functional.mse_loss(head(output)[:, :, 0], Tensor(stream[:, s - DELAY : s - DELAY + k]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        h = nn.utils.detach_state(h)  # keep the value, cut the history
        losses.append(loss.item())
    return np.array(losses)


chunk_runs = {k: truncated_bptt(k) for k in sorted({2, DELAY, K_LONG, 8})}
for k, losses in chunk_runs.items():
    print(f"  k = {k}: loss {np.mean(losses[:10]):.3f} (first 10 chunks) -> {np.mean(losses[-20:]):.4f} (last 20)")
lesson.claim(
    np.mean(chunk_runs[K_LONG][-20:]) < 0.05,
    f"with chunks of k = {K_LONG} > {DELAY} steps the RNN learns the delay-{DELAY} echo "
    f"(loss {np.mean(chunk_runs[K_LONG][-20:]):.4f}) -- at every position, also just after a cut: the "
    "state carries the past across the cut, only the gradient stops there",
    needs="chunk_length",
)
lesson.claim(
    min(np.mean(chunk_runs[k][-20:]) for k in chunk_runs if k <= DELAY) > 0.5,
    f"with k <= {DELAY} it learns nothing (loss stays near the variance, 1): the dependency is never inside a chunk",
)

# %% [markdown]
# What truncation buys: memory. One update on a sequence of T steps keeps the whole unrolled graph
# for backward, so memory grows with T; truncated BPTT keeps only the current chunk of k = 20 steps.
# (Time per pass is about the same: the same steps are computed, in T/k pieces, each with an update.)

# %%
import time
import tracemalloc


def one_pass(T: int, k: int | None) -> tuple[float, float]:
    """Peak traced memory (MB) and seconds for one pass over T steps: one update, or one per chunk of k."""
    tg.manual_seed(0)
    rnn = nn.RNN(1, 64, batch_first=True)  # the unfused layer: its graph holds every step's nodes
    optimizer = optim.SGD(rnn.parameters(), lr=0.01)
    x = np.random.default_rng(0).normal(0, 1, (16, T, 1))
    tracemalloc.start()
    start = time.perf_counter()
    h = None
    for s in range(0, T, k or T):
        output, h = rnn(Tensor(x[:, s : s + (k or T)]), h)
        loss = (output**2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        h = nn.utils.detach_state(h)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak, seconds


print("one pass over T steps: peak memory (MB) and time, full BPTT vs truncated (k = 20)")
memory = {}
for T_long in lesson.pick((40, 80, 160, 320), (40, 120)):
    (full_mb, full_s), (cut_mb, cut_s) = one_pass(T_long, None), one_pass(T_long, 20)
    memory[T_long] = (full_mb, cut_mb)
    print(
        f"  T = {T_long:3d}: full {full_mb:6.2f} MB {full_s * 1e3:6.0f} ms   "
        f"truncated {cut_mb:6.2f} MB {cut_s * 1e3:6.0f} ms"
    )
shortest, longest = min(memory), max(memory)
growth_full = memory[longest][0] / memory[shortest][0]
growth_cut = memory[longest][1] / memory[shortest][1]
lesson.claim(
    growth_full > 0.5 * longest / shortest and growth_cut < 1.5,
    f"from T = {shortest} to {longest}, full BPTT's memory grows {growth_full:.1f}x (like T), truncated BPTT's "
    f"{growth_cut:.1f}x: it holds one chunk of the graph, whatever T is",
)

# %%
# The cut in the graph: 12 steps in chunks of 4, drawn at cell level. Each chunk is a band; the
# dashed magenta edge between two bands is the cut. Only the last chunk's loss is backpropagated
# here, so only its band carries gradient colour: nothing crosses a cut back into the chunk before.
from tinygrad_rnn.graph import record_gradients

cell = nn.RNNCell(1, H)
x = Tensor(rng.normal(0, 1, (12, 1, 1)))  # 12 steps, batch 1, 1 feature
h = None
chunk_ends = []
for t in range(12):
    if t % 4 == 0 and h is not None:
        chunk_ends.append(h)
        h = nn.utils.detach_state(h)  # the cut: value kept, history forgotten
    with tg.scope("rnn", step=t):
        h = cell(x[t], h)
last_loss = h.sum()
with record_gradients() as record:
    last_loss.backward()
lesson.draw(
    [*chunk_ends, last_loss],
    "truncated_bptt",
    title="truncated BPTT, k = 4: three chunks, the last one's loss backpropagated",
    detail="cell",
    params=["weight_hh"],
    gradients=record,
)

# %% [markdown]
# ## 3. Initialisation: how far back the gradient reaches
#
# The gradient size k steps back, relative to the last step, for the default, orthogonal and
# identity W_hh (the identity with ReLU, the IRNN).

# %%
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
# %% [markdown]
# The same comparison seen through the whole gradient of W_hh. With a loss at every step, dL/dW_hh
# splits by the loss step t and by the step k whose use of W_hh the gradient passes through
# (`tinygrad_rnn.recurrence.loss_use_map`). Entries with t - k large are the long-term dependencies
# the gradient can teach; entries near the diagonal, the short-term ones.

# %%
from tinygrad_rnn.recurrence import loss_use_map


def use_map(weight_hh: np.ndarray | None):
    tg.manual_seed(1)
    rnn = nn.RNN(1, H)
    if weight_hh is not None:
        rnn.weight_hh_l0.data[:] = weight_hh
    output, _ = rnn(Tensor(np.random.default_rng(2).normal(0, 1, (30, 1))))  # (30, H)
    m = loss_use_map([(output[t] ** 2).sum() for t in range(30)], rnn.weight_hh_l0)
    lag = np.arange(30)[:, None] - np.array(m.use_steps)[None, :]  # t - k
    far = m.norms[lag >= 10].sum() / m.norms[(lag >= 0) & (lag < 10)].sum()
    return m, far


maps = {"default": use_map(None), "orthogonal": use_map(Q)}
for name, (_, far) in maps.items():
    print(f"  {name} W_hh: the gradient through uses 10 or more steps before the loss is {far:.2%} of the rest")
lesson.claim(
    maps["default"][1] < 0.01 and maps["orthogonal"][1] > 5 * maps["default"][1],
    f"with the default W_hh, dependencies of 10+ steps get {maps['default'][1]:.2%} of the short ones' gradient; "
    f"with an orthogonal W_hh {maps['orthogonal'][1]:.1%}",
)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (name, (m, _)) in zip(axes, maps.items(), strict=True):
    shown = np.ma.masked_equal(m.norms, 0.0)  # k > t: a use after the loss sends it nothing (blank)
    image = ax.imshow(np.log10(shown), cmap="viridis", vmin=-8, vmax=0, origin="lower")
    ax.set(xlabel="use step k of W_hh", ylabel="loss step t", title=f"{name} W_hh")
fig.colorbar(image, ax=axes, shrink=0.8, label="log10 ||dL_t/dW_hh via use k||")
fig.suptitle("The (loss step x use step) map: far below the diagonal are the long-term dependencies")
lesson.savefig(fig, "loss_use_maps")

fig, ax = plt.subplots(figsize=(6, 3.4))
for label, curve in curves.items():
    ax.semilogy(curve, label=label)
ax.set(
    xlabel="steps back", ylabel="||dL/dh_(T-k)|| / ||dL/dh_T||", title="How initialisation sets the gradient's reach"
)
ax.legend(fontsize=8)
lesson.savefig(fig, "initialisation_reach")

# %% [markdown]
# ## Predict, then run
#
# 1. `--set clip=0.5`: clipping now fires on most steps. Predict: does the run still reach loss
#    0.1 faster than the lr 0.03 control? (Clipping that always fires *is* a smaller learning rate.)
# 2. `--set k=6`: a longer chunk. Does the echo get learned faster or slower per step of the
#    stream, and why? (`--without chunk_length` shows k = 3.)

# %%
lesson.done()
