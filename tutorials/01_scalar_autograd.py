"""Lesson 1: scalar autograd, the neuron-level graph, and the same network at layer level.

Reverse-mode autodiff records every operation as a node that knows its parents and how to send a
gradient back to them; ``backward()`` visits the nodes from the output back to the inputs and
applies the chain rule once per edge. We start with single numbers (``Value``), where every
multiplication inside a neuron is its own node, then build the same network from matrices
(``Tensor``), where one node is one layer -- and check that both give the same gradients.

Run: ``python tutorials/01_scalar_autograd.py [--quick] [--out FOLDER]``
"""

import math

from _common import Lesson

lesson = Lesson(__doc__, "01_scalar_autograd")

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_rnn import Tensor, Value
from tinygrad_rnn.autograd import toposort

# ---------------------------------------------------------------------------------------------
# 1. One neuron, o = tanh(w1*x1 + w2*x2 + b). Each operation makes a node; backward fills .grad.
x1, x2 = Value(2.0, name="x1"), Value(0.5, name="x2")
w1, w2, b = Value(-0.8, name="w1"), Value(1.2, name="w2"), Value(0.3, name="b")
o = (w1 * x1 + w2 * x2 + b).tanh()
o.backward()
print(f"\none neuron: o = {o.data:.6f}, do/dw1 = {w1.grad:.6f}, do/dw2 = {w2.grad:.6f}, do/db = {b.grad:.6f}")

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

# ---------------------------------------------------------------------------------------------
# 2. A tiny two-layer network (2 inputs -> 3 tanh neurons -> 1 output) from Values: every weight,
#    product and sum is its own node. That is the neuron-level graph.
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

# 3. The same network from Tensors: one matmul and one tanh per layer. That is the layer-level graph.
tensor_params = {
    name: Tensor(array.copy(), requires_grad=True) for name, array in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
for name, tensor in tensor_params.items():
    tensor.name = name  # the drawing labels named leaves
x_tensor = Tensor(np.array(x_example))
y_tensor = tensor_params["W2"] @ (tensor_params["W1"] @ x_tensor + tensor_params["b1"]).tanh() + tensor_params["b2"]
y_tensor.sum().backward()
layer_nodes = len(toposort(y_tensor))
print(f"\nthe 2-3-1 network: {neuron_nodes} nodes at neuron level, {layer_nodes} nodes at layer level")

scalar_grad_w1 = np.array([[v.grad for v in row] for row in scalar_params["W1"]])
scalar_grad_w2 = np.array([[v.grad for v in row] for row in scalar_params["W2"]])
lesson.claim(
    np.allclose(scalar_grad_w1, tensor_params["W1"].grad, rtol=0, atol=1e-12)
    and np.allclose(scalar_grad_w2, tensor_params["W2"].grad, rtol=0, atol=1e-12)
    and abs(y_scalar.data - y_tensor.item()) < 1e-12,
    "the scalar (neuron-level) and tensor (layer-level) networks give the same output and gradients",
)
lesson.claim(
    neuron_nodes > 3 * layer_nodes,
    f"the same maths, {neuron_nodes} scalar nodes vs {layer_nodes} layer nodes: layers group neurons",
)

lesson.draw(y_scalar, "neuron_level_graph", title="2-3-1 network, one node per scalar operation")
lesson.draw(y_tensor, "layer_level_graph", title="the same network, one node per layer operation")
from tinygrad_rnn import viz

both = viz.side_by_side(
    [(y_scalar, f"neuron level: {neuron_nodes} nodes", {}), (y_tensor, f"layer level: {layer_nodes} nodes", {})],
    title="one 2-3-1 network, two levels of detail",
)
lesson.save_graph(both, "neuron_vs_layer_level", key=True)

# ---------------------------------------------------------------------------------------------
# 4. Learning is just "backward, then step against the gradient". Fit XOR-like targets with the
#    tensor network and plain gradient descent; the loss must fall.
X = Tensor(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]) * 2 - 1)
Y = Tensor(np.array([-1.0, 1.0, 1.0, -1.0]))
W1t = Tensor(rng.normal(0, 1, (2, 8)), requires_grad=True)
b1t = Tensor(np.zeros(8), requires_grad=True)
W2t = Tensor(rng.normal(0, 0.5, (8,)), requires_grad=True)
losses = []
for _ in range(lesson.pick(300, 150)):
    prediction = (X @ W1t + b1t).tanh() @ W2t
    loss = ((prediction - Y) ** 2).mean()
    for p in (W1t, b1t, W2t):
        p.grad = None
    loss.backward()
    for p in (W1t, b1t, W2t):
        p.data -= 0.1 * p.grad
    losses.append(loss.item())
print(f"\nXOR fit: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
lesson.claim(losses[-1] < 0.1 * losses[0], "gradient descent on the autograd gradients cuts the XOR loss tenfold")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogy(losses)
ax.set(xlabel="gradient-descent step", ylabel="mean squared error", title="Fitting XOR with a 2-8-1 tanh network")
ax.grid(alpha=0.3)
lesson.savefig(fig, "xor_loss")
lesson.done()
