# %% [markdown]
# # Lesson 11: an RNN neuron by neuron -- one scalar weight, one number per time step
#
# Lesson 1 drew a feed-forward network twice: one node per scalar operation (the scalar engine,
# `Value`), and one node per layer operation (the tensor engine). Since lesson 2 every recurrent
# picture has been at layer level: `W_hh` is one box, a whole matrix. Here we unroll a recurrent
# network on the scalar engine, where every weight is a number of its own, and look at the most
# concrete picture of backpropagation through time there is: **one** scalar weight `w_hh[0,1]`
# (how much unit 1's old state feeds unit 0), used once at every step, collecting one gradient
# number per step.
#
# The cell is `tinygrad_rnn.nn.scalar_rnn.RNNCell`, written the way the equation reads for each
# hidden unit j:
#
#     h_(t+1)[j] = tanh( Σ_k W_ih[j,k] x_(t+1)[k] + b_ih[j] + Σ_k W_hh[j,k] h_t[k] + b_hh[j] )
#
# It has PyTorch's parameter names, shapes and state dict, so it loads the weights of the tensor
# engine's `nn.RNNCell` -- the same network at two levels of detail.

# %%
from _common import Lesson

lesson = Lesson("11_neuron_by_neuron", ingredients={"sharing": "one Value per weight is used at every time step"})

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, recurrence, viz
from tinygrad_rnn.autograd import Role, scope
from tinygrad_rnn.graph import record_gradients, trace
from tinygrad_rnn.nn import scalar_rnn

STEPS, HIDDEN = lesson.param("steps", 4), 2
tg.manual_seed(0)
layer = nn.RNNCell(1, HIDDEN)  # the tensor engine's cell: W_hh is one (2, 2) matrix
xs = lesson.rng.standard_normal((STEPS, 1))
h0 = lesson.rng.standard_normal(HIDDEN) * 0.5  # a nonzero initial state: W_hh already matters at step 1
targets = lesson.rng.standard_normal((STEPS, HIDDEN))
print("weight_hh =\n", layer.weight_hh.data)

# %% [markdown]
# ## 1. The layer view: a matrix per step
#
# Four steps of the tensor cell, a loss at every step, `L = ½ Σ_t Σ_j (h_t[j] − y_t[j])²`.
# We keep each state's gradient (`retain_grad`) and record the gradient sent along every edge, so
# the per-step contributions of the shared matrix `W_hh` can be read off afterwards.

# %%
h, loss, layer_states = Tensor(h0), 0.0, []
for t in range(STEPS):
    with scope(step=t):
        h = layer(Tensor(xs[t]), h)
        h.retain_grad()
        layer_states.append(h)
        diff = h - Tensor(targets[t])
        loss = loss + 0.5 * (diff * diff).sum()
with record_gradients() as record:
    loss.backward()
layer_graph = trace(loss, gradients=record)
layer_parts = recurrence.contributions(layer_graph, "weight_hh")  # one (2, 2) matrix per step
print(f"L = {loss.data:.6f}; W_hh is used at steps {[c.step for c in layer_parts]}")

# %% [markdown]
# ## 2. The neuron view: a number per weight, per unit, per step
#
# The scalar cell gets the same weights. `unroll` runs it step by step; every weight is one `Value`,
# every hidden unit is a sum over k written out term by term, and every node the cell makes carries
# a role such as `h_3[0]` (unit 0 of the state written at step 3) or `W_hh·h_2[1]`.
#
# Without the key ingredient (`--without sharing`) each step gets its own copy of the weights,
# equal in value: the forward numbers are the same, but no single `Value` is used four times.

# %%
neurons = scalar_rnn.RNNCell(1, HIDDEN)
neurons.load_state_dict(layer.state_dict())
if lesson.uses("sharing"):
    hs, _ = scalar_rnn.unroll(neurons, xs.tolist(), h0.tolist())
else:  # untied: a fresh copy of every weight at every step
    copies = [scalar_rnn.RNNCell(1, HIDDEN) for _ in range(STEPS)]
    state, hs = h0.tolist(), []
    for t, copy in enumerate(copies):
        copy.load_state_dict(layer.state_dict())
        with scope(step=t):
            state = copy(xs[t].tolist(), state)
        hs.append(state)
    neurons = copies[0]
total = 0.0
for t, h_t in enumerate(hs):
    with scope("loss", step=t):  # each step's loss is one drawn node, L_(t+1)
        for j, v in enumerate(h_t):
            total = total + 0.5 * (v - float(targets[t, j])) * (v - float(targets[t, j]))
    total.role = Role("L", t + 1, "loss")
with record_gradients() as neuron_record:  # each edge's gradient, recorded as in the layer view
    total.backward()
neuron_graph = trace(total, gradients=neuron_record)
print(f"L = {total.data:.6f} on the scalar engine ({len(neuron_graph)} scalar nodes)")
values = np.array([[v.data for v in h_t] for h_t in hs])
lesson.claim(
    np.abs(values - np.array([s.data for s in layer_states])).max() < 1e-12,
    "the neuron view computes the same states h_1..h_4 as the layer view (to 1e-12)",
)

# %% [markdown]
# ## 3. One scalar weight, one number per step
#
# `w_hh[0,1]` is used once per step: in unit 0's sum, multiplying `h_t[1]`. Backward sends one
# number back along each of those four uses; `.grad` is their sum (backward adds them, latest step
# first). The layer view holds the same four numbers -- as entry [0, 1] of four matrices.

# %%
w = neurons.weight_hh[0][1]
parts = recurrence.contributions(neuron_graph, neuron_graph.node_of(w))
numbers = [float(c.grad) for c in parts]
from_layer = [float(c.grad[0, 1]) for c in layer_parts]
for c in parts:
    print(f"  step {c.step}: {float(c.grad):+.6f}")
added = 0.0
for number in reversed(numbers):  # backward's order
    added += number
print(f"  sum {added:+.6f}   w_hh[0,1].grad {w.grad:+.6f}   layer view weight_hh.grad[0,1] "
      f"{layer.weight_hh.grad[0, 1]:+.6f}")  # fmt: skip
lesson.claim(
    len(parts) == STEPS and added == w.grad and len(set(numbers)) == STEPS,
    f"w_hh[0,1] collects {STEPS} different numbers, one per step, and they add up to its .grad exactly",
    needs="sharing",
)
lesson.claim(
    abs(w.grad - layer.weight_hh.grad[0, 1]) < 1e-12
    and len(numbers) == len(from_layer)
    and np.allclose(numbers, from_layer, rtol=0, atol=1e-12),
    "the neuron view and the layer view agree: the same per-step numbers and the same gradient (to 1e-12)",
    needs="sharing",
)

# %% [markdown]
# ## 4. How much each neuron's state matters: ‖dL/dh_t[j]‖
#
# After backward every `Value` holds dL/d(itself), so each unit's state gradient is one number per
# step. It is the same as the layer view's `h_t.grad`, split by unit.

# %%
state_grads = np.array([[v.grad for v in h_t] for h_t in hs])
for t in range(STEPS):
    print(f"  dL/dh_{t + 1} = [{', '.join(f'{g:+.4f}' for g in state_grads[t])}]")
lesson.claim(
    np.abs(state_grads - np.array([s.grad for s in layer_states])).max() < 1e-12,
    "every neuron's dL/dh_t equals the matching entry of the layer view's gradient",
)

# %% [markdown]
# ## 5. The two pictures side by side
#
# Left, the neuron view: one box per neuron per step (its value and gradient), steps in shaded
# clusters, and each of the four scalar weights `weight_hh[j,k]` drawn once, with one labelled edge
# per step carrying that step's number. Right, the layer view of the same four steps: the matrix
# `weight_hh` fans out to one use per step, each edge labelled with the norm of its (2, 2)
# contribution.

# %%
names = [f"weight_hh[{j},{k}]" for j in range(HIDDEN) for k in range(HIDDEN)]  # the four scalar weights
both = viz.side_by_side(
    [
        (neuron_graph, "neuron level (scalar engine)", {"detail": "neuron", "params": names}),
        (layer_graph, "layer level (tensor engine)", {"detail": "op", "params": ["weight_hh"]}),
    ],
    title=f"A 2-unit RNN unrolled over {STEPS} steps: neuron view and layer view",
)
lesson.save_graph(both, "neuron_vs_layer_rnn")
# Each view on its own, too (what the README shows next to each other).
lesson.save_graph(
    viz.draw(neuron_graph, detail="neuron", params=names, title="neuron level: one node per neuron per step"),
    "neuron_level_rnn",
    key=True,
)
lesson.save_graph(
    viz.draw(layer_graph, detail="cell", params=["weight_hh"], title="layer level: one node per layer per step"),
    "layer_level_rnn",
)

# %% [markdown]
# ## Predict, then run
# 1. `--set steps=8`: the weight collects eight numbers. Do the early steps' numbers shrink
#    (vanishing gradient) or not, for these weights? Look at the printed table first, then guess.
# 2. Run with `--without sharing`: which claims fail, and why does the forward claim still hold?

# %%
lesson.done()
