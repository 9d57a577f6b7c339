"""Lesson 5: inside the LSTM (and the GRU) -- gates, the cell-state path, and why the gradient survives.

An LSTM step computes four gates from x_t and h_(t-1) (PyTorch order i, f, g, o):

    i = sigmoid(.)  input gate        f = sigmoid(.)  forget gate
    g = tanh(.)     candidate ("gate" g)   o = sigmoid(.)  output gate
    c_t = f * c_(t-1) + i * g          h_t = o * tanh(c_t)

The cell state is updated *element-wise*: going one step back along the cell path multiplies the
gradient by f (a number in (0, 1) per unit), not by a matrix times tanh'. So dc_T/dc_t is the
product of the forget gates in between: with gates around 0.85 (as here, before any training) that
is about 1e-5 after 100 steps -- against about 1e-40 for a vanilla RNN's dh_T/dh_t -- and a
network that needs to remember learns forget gates close to 1, where it stays near 1.
The GRU does the same with one gate: h_t = (1 - z) * n + z * h_(t-1), so dh_t/dh_(t-1) contains
z directly.

Run: ``python tutorials/05_inside_lstm.py [--quick] [--out FOLDER]``
"""

from _common import Lesson

lesson = Lesson(__doc__, "05_inside_lstm")

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.graph import record_gradients

T = lesson.pick(100, 50)
D, H = 3, 8
rng = lesson.rng
xs = rng.normal(0, 1, (T, 1, D))  # (T, batch 1, D)

# ---------------------------------------------------------------------------------------------
# 1. Run an LSTM cell step by step and read its gates off the equations above.
lstm = nn.LSTMCell(D, H)
lstm.bias_hh.data[H : 2 * H] += 2.0  # forget gates start mostly open (a common initialisation)


def run_lstm(cut_h: bool):
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


cells, gates = run_lstm(cut_h=False)
lesson.claim(
    np.allclose(cells[-1].data[0], gates[-1, 1] * cells[-2].data[0] + gates[-1, 0] * gates[-1, 2], atol=1e-12),
    "the cell update is c_t = f * c_(t-1) + i * g, element by element",
)
exact = np.array([np.abs(c.grad).mean() for c in cells])  # all paths: through c and through h

# Along the cell path alone, going back one step multiplies by f: dc_T/dc_t = f_T * ... * f_(t+1).
cell_path, _ = run_lstm(cut_h=True)
forget_products = np.array([np.prod(gates[t + 1 :, 1], axis=0) for t in range(T)])  # (T, H)
lesson.claim(
    all(np.allclose(cell_path[t].grad[0], forget_products[t], rtol=1e-10, atol=0) for t in range(T)),
    "along the cell path, dc_T/dc_t is exactly the element-wise product of the forget gates in between",
)
forget_product = forget_products.mean(axis=1)


# ---------------------------------------------------------------------------------------------
# 2. The same measurement for a vanilla RNN and a GRU of the same size (default initialisation).
def state_gradients(cell) -> np.ndarray:
    h = Tensor(np.zeros((1, H)))
    states = []
    for t in range(T):
        h = cell(Tensor(xs[t]), h)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    return np.array([np.abs(s.grad).mean() for s in states])


tg.manual_seed(0)
rnn_grads = state_gradients(nn.RNNCell(D, H))
gru = nn.GRUCell(D, H)
gru.bias_hh.data[H : 2 * H] += 2.0  # update gates start leaning towards keeping the state
gru_grads = state_gradients(gru)
back = T - 1
print(f"\nmean |dL/dstate| {back} steps back (relative to the last step):")
print(f"  LSTM cell state c: {exact[0] / exact[-1]:.3g}   (product of forget gates alone: {forget_product[0]:.3g})")
print(f"  GRU hidden state:  {gru_grads[0] / gru_grads[-1]:.3g}")
print(f"  vanilla RNN h:     {rnn_grads[0] / rnn_grads[-1]:.3g}")
lesson.claim(
    exact[0] / exact[-1] > 1e4 * rnn_grads[0] / rnn_grads[-1],
    f"{back} steps back the LSTM's cell gradient is over 10^4 times the vanilla RNN's",
)
lesson.claim(
    gru_grads[0] / gru_grads[-1] > 1e4 * rnn_grads[0] / rnn_grads[-1],
    f"{back} steps back the GRU's state gradient is over 10^4 times the vanilla RNN's",
)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for k, (name, color) in enumerate(zip("ifgo", ["tab:blue", "tab:orange", "tab:green", "tab:red"], strict=True)):
    axes[0].plot(gates[:, k].mean(axis=1), color=color, label=f"{name} (mean over units)")
axes[0].set(xlabel="time step", ylabel="gate value", title="LSTM gates per step")
axes[0].legend(fontsize=8)
steps_back = np.arange(T)[::-1]
axes[1].semilogy(steps_back, exact / exact[-1], label="LSTM: dL/dc_t (exact)")
axes[1].semilogy(steps_back, forget_product, "--", label="LSTM: product of forget gates")
axes[1].semilogy(steps_back, gru_grads / gru_grads[-1], label="GRU: dL/dh_t")
axes[1].semilogy(steps_back, rnn_grads / rnn_grads[-1], label="vanilla RNN: dL/dh_t")
axes[1].set(xlabel="steps back from T", ylabel="mean |gradient| (relative)", title="What reaches back")
axes[1].legend(fontsize=8)
lesson.savefig(fig, "lstm_gates_and_gradient_reach", key=True)

# ---------------------------------------------------------------------------------------------
# 3. The cell-state path in the graph: three LSTM steps, with gradient heat.
lstm3 = nn.LSTM(D, 4)
with record_gradients() as record:
    out, (h_n, c_n) = lstm3(Tensor(xs[:3]))
    loss = c_n.sum() + h_n.sum()
    loss.backward()
lesson.draw(loss, "lstm_three_steps", title="LSTM, 3 steps: c flows step to step through mul and add", gradients=record)
lesson.done()
