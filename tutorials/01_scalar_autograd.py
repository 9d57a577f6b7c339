# %% [markdown]
# # Lesson 1: scalar autograd, the neuron-level graph, and the same network at layer level
#
# Reverse-mode autodiff records every operation as a node that knows its parents and how to send
# a gradient back to them; `backward()` visits the nodes from the output back to the inputs and
# applies the chain rule once per edge. We start with single numbers (`Value`), where every
# multiplication inside a neuron is its own node, then build the same network from matrices
# (`Tensor`), where one node is one layer -- and check that both give the same gradients.
# Finally we learn with those gradients, and check that it is the *gradient* that does the
# learning: the same number of steps of the same length in random directions gets nowhere.

# %%
import math

from _common import Lesson

lesson = Lesson(
    "01_scalar_autograd",
    ingredients={
        "backprop": "each step follows the autograd gradient (without: a random direction of the same length)"
    },
)

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_rnn import Tensor, Value
from tinygrad_rnn.autograd import toposort

# %% [markdown]
# ## 1. One neuron
#
# o = tanh(w1 x1 + w2 x2 + b). Each operation makes a node; `backward()` fills every `.grad`.

# %%
x1, x2 = Value(2.0, name="x1"), Value(0.5, name="x2")
w1, w2, b = Value(-0.8, name="w1"), Value(1.2, name="w2"), Value(0.3, name="b")
o = (w1 * x1 + w2 * x2 + b).tanh()
o.backward()
print(f"one neuron: o = {o.data:.6f}, do/dw1 = {w1.grad:.6f}, do/dw2 = {w2.grad:.6f}, do/db = {b.grad:.6f}")

# The chain rule by hand: do/dw1 = tanh'(z) * x1 with tanh'(z) = 1 - o^2.
local = 1.0 - o.data**2
lesson.claim(
    abs(w1.grad - local * x1.data) < 1e-12 and abs(w2.grad - local * x2.data) < 1e-12 and abs(b.grad - local) < 1e-12,
    "backward gives the hand-derived chain rule do/dw = (1 - o^2) x for every weight",
)


# A central finite difference agrees too (the numbers are exact up to float64 round-off).
def neuron(w1v: float) -> float:
    return math.tanh(w1v * x1.data + w2.data * x2.data + b.data)


eps = 1e-6
numeric = (neuron(w1.data + eps) - neuron(w1.data - eps)) / (2 * eps)
lesson.claim(abs(numeric - w1.grad) < 1e-9, f"finite differences agree: {numeric:.9f} vs {w1.grad:.9f}")

# %% [markdown]
# ## 2. The neuron-level graph and the layer-level graph
#
# A tiny two-layer network (2 inputs -> 3 tanh neurons -> 1 output) built from Values: every
# weight, product and sum is its own node. Then the same network from Tensors: one matmul and one
# tanh per layer. Same maths, far fewer nodes -- and the same gradients.

# %%
rng = lesson.rng
W1 = rng.normal(0, 1, (3, 2))
b1 = np.zeros(3)
W2 = rng.normal(0, 1, (1, 3))
b2 = np.zeros(1)


def mlp_values(params: dict, x: list[float]) -> Value:
    """Forward pass of the 2-3-1 network, neuron by neuron."""
    hidden = []
    for j in range(3):
        z = params["b1"][j]
        for i in range(2):
            z = z + params["W1"][j][i] * x[i]
        hidden.append(z.tanh())
    out = params["b2"][0]
    for j in range(3):
        out = out + params["W2"][0][j] * hidden[j]
    return out


scalar_params = {
    name: [[Value(float(v), name=f"{name}[{j},{i}]") for i, v in enumerate(row)] for j, row in enumerate(array)]
    if array.ndim == 2
    else [Value(float(v), name=f"{name}[{j}]") for j, v in enumerate(array)]
    for name, array in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
x_example = [1.0, -2.0]
y_scalar = mlp_values(scalar_params, [Value(v, name=f"x[{i}]") for i, v in enumerate(x_example)])
y_scalar.backward()
neuron_nodes = len(toposort(y_scalar))

tensor_params = {
    name: Tensor(array.copy(), requires_grad=True) for name, array in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
for name, tensor in tensor_params.items():
    tensor.name = name  # the drawing labels named leaves
x_tensor = Tensor(np.array(x_example))
y_tensor = tensor_params["W2"] @ (tensor_params["W1"] @ x_tensor + tensor_params["b1"]).tanh() + tensor_params["b2"]
y_tensor.sum().backward()
layer_nodes = len(toposort(y_tensor))
print(f"the 2-3-1 network: {neuron_nodes} nodes at neuron level, {layer_nodes} nodes at layer level")

scalar_grad_w1 = np.array([[v.grad for v in row] for row in scalar_params["W1"]])
scalar_grad_w2 = np.array([[v.grad for v in row] for row in scalar_params["W2"]])
lesson.claim(
    np.allclose(scalar_grad_w1, tensor_params["W1"].grad, rtol=0, atol=1e-12)
    and np.allclose(scalar_grad_w2, tensor_params["W2"].grad, rtol=0, atol=1e-12)
    and abs(y_scalar.data - y_tensor.item()) < 1e-12,
    "the scalar (neuron-level) and tensor (layer-level) networks give the same output and gradients",
)

lesson.draw(y_scalar, "neuron_level_graph", title="2-3-1 network, one node per scalar operation")
lesson.draw(y_tensor, "layer_level_graph", title="the same network, one node per layer operation")
from tinygrad_rnn import viz

both = viz.side_by_side(
    [(y_scalar, f"neuron level: {neuron_nodes} nodes", {}), (y_tensor, f"layer level: {layer_nodes} nodes", {})],
    title="one 2-3-1 network, two levels of detail",
)
lesson.save_graph(both, "neuron_vs_layer_level", key=True)

# %% [markdown]
# ## 3. Learning is "backward, then step against the gradient"
#
# Fit XOR with the tensor network and plain gradient descent. The control: steps of the same
# length in random directions (`--without backprop` makes the main run use them).

# %%
X = Tensor(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]) * 2 - 1)
Y = Tensor(np.array([-1.0, 1.0, 1.0, -1.0]))
W1t = Tensor(rng.normal(0, 1, (2, 8)), requires_grad=True)
b1t = Tensor(np.zeros(8), requires_grad=True)
W2t = Tensor(rng.normal(0, 0.5, (8,)), requires_grad=True)


LR = lesson.param("lr", 0.1)


def fit_xor(use_gradient: bool) -> list[float]:
    """Gradient descent (or random steps of the same length) on XOR; returns the losses."""
    step_rng = np.random.default_rng(3)
    params = [Tensor(p.data.copy(), requires_grad=True) for p in (W1t, b1t, W2t)]
    losses = []
    for _ in range(lesson.pick(300, 150)):
        prediction = (X @ params[0] + params[1]).tanh() @ params[2]
        loss = ((prediction - Y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            step = p.grad if use_gradient else step_rng.normal(size=p.shape) * np.linalg.norm(p.grad) / np.sqrt(p.size)
            p.data -= LR * step
        losses.append(loss.item())
    return losses


losses = fit_xor(lesson.uses("backprop"))
random_losses = fit_xor(False)
print(f"XOR fit: loss {losses[0]:.4f} -> {losses[-1]:.4f}; random steps of the same length: -> {random_losses[-1]:.4f}")
lesson.claim(
    losses[-1] < 0.1 * losses[0] and losses[-1] < 0.1 * random_losses[-1],
    f"gradient descent cuts the XOR loss tenfold ({losses[0]:.3f} -> {losses[-1]:.4f}); random steps of the same "
    f"length do not ({random_losses[-1]:.3f})",
    needs="backprop",
)

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogy(losses, label="steps against the gradient")
ax.semilogy(random_losses, color="grey", label="random steps of the same length")
ax.legend(fontsize=8)
ax.set(xlabel="gradient-descent step", ylabel="mean squared error", title="Fitting XOR with a 2-8-1 tanh network")
ax.grid(alpha=0.3)
lesson.savefig(fig, "xor_loss")

# %% [markdown]
# ## Predict, then run
#
# 1. `--set lr=1.0`: ten times the step size. Predict: does XOR get solved faster, or does the
#    loss jump around? (`--set lr=0.01` for the other side.)
# 2. `--without backprop`: which claim fails, and how far does the random walk get?

# %%
lesson.done()
