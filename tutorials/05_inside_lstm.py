# %% [markdown]
# # Lesson 5: inside the LSTM (and the GRU) -- gates, the cell-state path, and what the forget-gate bias buys
#
# An LSTM step computes four gates from x_t and h_(t-1) (PyTorch order i, f, g, o):
#
#     i = sigmoid(.)  input gate            f = sigmoid(.)  forget gate
#     g = tanh(.)     candidate ("gate" g)  o = sigmoid(.)  output gate
#     c_t = f * c_(t-1) + i * g             h_t = o * tanh(c_t)
#
# The cell state is updated *element-wise*: going one step back along the cell path multiplies the
# gradient by f (a number in (0, 1) per unit), not by a matrix times tanh'. So dc_T/dc_t is the
# product of the forget gates in between. That is only good news if f is close to 1: a forget
# gate at 0.5 halves the gradient every step, no better than a vanilla RNN. Before any training,
# f = sigmoid(pre-activation) sits near sigmoid(bias). Hence the common initialisation we test
# here: **add +2 to the forget gate's bias** (sigmoid(2) = 0.88; Gers et al. 2000, Jozefowicz et
# al. 2015 use +1). The GRU does the same with one gate, h_t = (1 - z) * n + z * h_(t-1): its
# update gate z plays f's part, and gets the same +2.
#
# The candidate g uses tanh, not sigmoid: it is the *value* written into the cell, and must be
# able to add or subtract (range (-1, 1), centred on 0); the gates are *fractions* (range (0, 1)).

# %%
from _common import Lesson

lesson = Lesson(
    "05_inside_lstm",
    ingredients={"gate_bias": "+2 on the LSTM's forget-gate bias and the GRU's update-gate bias"},
)

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.graph import record_gradients

T = lesson.pick(100, 50)
D, H = 3, 8
BIAS = lesson.param("bias", 2.0) if lesson.uses("gate_bias") else 0.0
rng = lesson.rng
xs = rng.normal(0, 1, (T, 1, D))  # (T, batch 1, D)
print(f"{T} steps, {H} units, gate bias +{BIAS:g}")


# %% [markdown]
# ## 1. The gates, read off the equations, and the cell path
#
# We run an LSTM cell step by step, recompute its gates from its weights, and measure dL/dc_t for
# L = sum(c_T). A second run cuts h out of the recurrence (the gates see a detached h), so the
# gradient flows along the cell path only: there dc_T/dc_t must be exactly the product of the
# forget gates in between.


# %%
def run_lstm(lstm: nn.LSTMCell, cut_h: bool):
    """Run T steps; with ``cut_h`` the gates see a detached h, so gradient flows along c only."""
    h, c = Tensor(np.zeros((1, H))), Tensor(np.zeros((1, H)))
    cells, gates = [], []
    for t in range(T):
        x_t = Tensor(xs[t])
        pre = (x_t @ lstm.weight_ih.T + lstm.bias_ih + h @ lstm.weight_hh.T + lstm.bias_hh).data[0]  # (4H,)
        i, f, g, o = (pre[k * H : (k + 1) * H] for k in range(4))
        gates.append([1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), np.tanh(g), 1 / (1 + np.exp(-o))])
        with tg.scope("lstm", step=t):
            h, c = lstm(x_t, (h.detach() if cut_h else h, c))
        c.retain_grad()
        cells.append(c)
    cells[-1].sum().backward()  # L = sum(c_T)
    return cells, np.array(gates)  # gates: (T, 4, H)


def lstm_with_bias(bias: float) -> nn.LSTMCell:
    tg.manual_seed(0)  # the same weights for every bias: only the bias differs
    lstm = nn.LSTMCell(D, H)
    lstm.bias_hh.data[H : 2 * H] += bias  # rows H..2H are the forget gate's (order i, f, g, o)
    return lstm


lstm = lstm_with_bias(BIAS)
cells, gates = run_lstm(lstm, cut_h=False)
exact = np.array([np.abs(c.grad).mean() for c in cells])  # all paths: through c and through h
cell_path, _ = run_lstm(lstm, cut_h=True)
forget_products = np.array([np.prod(gates[t + 1 :, 1], axis=0) for t in range(T)])  # (T, H)
lesson.claim(
    all(np.allclose(cell_path[t].grad[0], forget_products[t], rtol=1e-10, atol=0) for t in range(T)),
    "along the cell path, dc_T/dc_t is exactly the element-wise product of the forget gates in between",
)
print(f"mean forget gate {gates[:, 1].mean():.3f}, mean input gate {gates[:, 0].mean():.3f}")

# The same weights without the bias, for comparison.
plain_cells, plain_gates = run_lstm(lstm_with_bias(0.0), cut_h=False)
plain = np.array([np.abs(c.grad).mean() for c in plain_cells])


# %% [markdown]
# ## 2. The same measurement for a vanilla RNN and a GRU of the same size
#
# We summarise each curve by its *rate*: the geometric-mean factor by which the gradient shrinks
# per step back, (|dL/dstate_0| / |dL/dstate_T|)^(1/(T-1)). A rate of 0.9 keeps 1e-5 of the
# gradient after 100 steps; a rate of 0.5 keeps 1e-30.


# %%
def state_gradients(cell) -> np.ndarray:
    h = Tensor(np.zeros((1, H)))
    states = []
    for t in range(T):
        h = cell(Tensor(xs[t]), h)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    return np.array([np.abs(s.grad).mean() for s in states])


def gru_with_bias(bias: float) -> nn.GRUCell:
    tg.manual_seed(0)
    gru = nn.GRUCell(D, H)
    gru.bias_hh.data[H : 2 * H] += bias  # rows H..2H are the update gate z's (order r, z, n)
    return gru


tg.manual_seed(0)
rnn_grads = state_gradients(nn.RNNCell(D, H))
gru_grads = state_gradients(gru_with_bias(BIAS))
plain_gru_grads = state_gradients(gru_with_bias(0.0))
back = T - 1


def rate(curve: np.ndarray) -> float:
    return float((curve[0] / curve[-1]) ** (1 / back))


rates = {
    f"LSTM cell state, bias +{BIAS:g}": rate(exact),
    "LSTM cell state, no bias": rate(plain),
    f"GRU state, bias +{BIAS:g}": rate(gru_grads),
    "GRU state, no bias": rate(plain_gru_grads),
    "vanilla RNN state": rate(rnn_grads),
}
print(f"mean |dL/dstate| {back} steps back, relative to the last step, and the rate per step:")
for (name, r), curve in zip(rates.items(), [exact, plain, gru_grads, plain_gru_grads, rnn_grads], strict=True):
    print(f"  {name:28s} {curve[0] / curve[-1]:10.3g}   rate {r:.3f}")

lesson.claim(
    rates[f"LSTM cell state, bias +{BIAS:g}"] > 0.8,
    f"the LSTM with forget bias keeps {rates[f'LSTM cell state, bias +{BIAS:g}']:.3f} of its cell gradient per step",
    needs="gate_bias",
)
lesson.claim(
    rates[f"GRU state, bias +{BIAS:g}"] > 0.8,
    f"the GRU with update bias keeps {rates[f'GRU state, bias +{BIAS:g}']:.3f} of its state gradient per step",
    needs="gate_bias",
)
lesson.claim(
    max(rates["LSTM cell state, no bias"], rates["GRU state, no bias"]) < 0.75,
    "without the bias the same LSTM and GRU lose the gradient exponentially too "
    f"(rates {rates['LSTM cell state, no bias']:.3f}, {rates['GRU state, no bias']:.3f} vs "
    f"{rates['vanilla RNN state']:.3f} for the RNN): gates alone do not carry the gradient, open gates do",
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for k, (name, color) in enumerate(zip("ifgo", ["tab:blue", "tab:orange", "tab:green", "tab:red"], strict=True)):
    axes[0].plot(gates[:, k].mean(axis=1), color=color, label=f"{name} (mean over units)")
axes[0].plot(plain_gates[:, 1].mean(axis=1), color="tab:orange", ls=":", label="f without the bias")
axes[0].set(xlabel="time step", ylabel="gate value", title=f"LSTM gates per step (forget bias +{BIAS:g})")
axes[0].legend(fontsize=7)
steps_back = np.arange(T)[::-1]
axes[1].semilogy(steps_back, exact / exact[-1], color="tab:blue", label=f"LSTM dL/dc_t, bias +{BIAS:g}")
axes[1].semilogy(
    steps_back, forget_products.mean(axis=1), "--", color="tab:blue", lw=1, label="product of forget gates"
)
axes[1].semilogy(steps_back, plain / plain[-1], ":", color="tab:blue", label="LSTM, no bias")
axes[1].semilogy(steps_back, gru_grads / gru_grads[-1], color="tab:green", label=f"GRU dL/dh_t, bias +{BIAS:g}")
axes[1].semilogy(steps_back, plain_gru_grads / plain_gru_grads[-1], ":", color="tab:green", label="GRU, no bias")
axes[1].semilogy(steps_back, rnn_grads / rnn_grads[-1], color="tab:red", label="vanilla RNN dL/dh_t")
axes[1].set(xlabel="steps back from T", ylabel="mean |gradient| (relative)", title="What reaches back")
axes[1].legend(fontsize=7)
lesson.savefig(fig, "lstm_gates_and_gradient_reach", key=True)

# %% [markdown]
# ## 3. The cell-state path in the graph
#
# Three LSTM steps, drawn with gradient heat: c flows from step to step through one multiply (by
# f) and one add -- no matrix on the way.

# %%
lstm3 = nn.LSTM(D, 4)
with record_gradients() as record:
    out, (h_n, c_n) = lstm3(Tensor(xs[:3]))
    loss = c_n.sum() + h_n.sum()
    loss.backward()
lesson.draw(loss, "lstm_three_steps", title="LSTM, 3 steps: c flows step to step through mul and add", gradients=record)

# %% [markdown]
# ## Predict, then run
#
# 1. `--set bias=1` (the value Jozefowicz et al. recommend): sigmoid(1) = 0.73. Predict the LSTM's
#    rate per step before you run. Does it pass the 0.8 claim?
# 2. `--without gate_bias`: which claims fail, and which curve in the right panel moves?

# %%
lesson.done()
