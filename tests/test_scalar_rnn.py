"""The scalar-engine recurrent cells (tinygrad_rnn.nn.scalar_rnn) against the tensor engine's, and their roles."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn, recurrence
from tinygrad_rnn.autograd import scope
from tinygrad_rnn.errors import ArgumentError, CheckpointError, ShapeError
from tinygrad_rnn.graph import record_gradients, trace
from tinygrad_rnn.nn import scalar_rnn

KINDS = {
    "rnn": (nn.RNNCell, scalar_rnn.RNNCell),
    "lstm": (nn.LSTMCell, scalar_rnn.LSTMCell),
    "gru": (nn.GRUCell, scalar_rnn.GRUCell),
}


def _run_both(kind: str, input_size: int, hidden: int, steps: int, bias: bool, seed: int):
    """The same cell, inputs and per-step loss on both engines; returns (tensor results, scalar results)."""
    rng = np.random.default_rng(seed)
    tensor_cls, scalar_cls = KINDS[kind]
    cell = tensor_cls(input_size, hidden, bias=bias)
    # Weights of either sign and a spread of sizes (not just the default U(-1/sqrt(H), 1/sqrt(H))).
    cell.load_state_dict({k: rng.uniform(-1.5, 1.5, v.shape) for k, v in cell.state_dict().items()})
    neurons = scalar_cls(input_size, hidden, bias=bias)
    neurons.load_state_dict(cell.state_dict())
    xs = rng.standard_normal((steps, input_size))
    coeffs = rng.standard_normal((steps, hidden))  # a per-step loss that weighs every unit differently

    state, loss, hs = None, 0.0, []
    for t in range(steps):
        with scope(step=t):
            state = cell(tg.Tensor(xs[t]), state)
        h = state[0] if kind == "lstm" else state
        hs.append(h.data.copy())
        loss = loss + (h * tg.Tensor(coeffs[t])).sum()
    loss.backward()
    tensor = {"h": np.array(hs), "loss": float(loss.data), "grads": {k: p.grad for k, p in cell.named_parameters()}}

    outputs, _ = scalar_rnn.unroll(neurons, xs.tolist())
    total = sum(v * float(c) for h_t, row in zip(outputs, coeffs) for v, c in zip(h_t, row))
    total.backward()
    scalar = {"h": np.array([[v.data for v in h_t] for h_t in outputs]), "loss": total.data, "grads": neurons.grads()}
    return tensor, scalar, neurons, total


@given(
    kind=st.sampled_from(sorted(KINDS)),
    input_size=st.integers(1, 3),
    hidden=st.integers(1, 4),
    steps=st.integers(1, 6),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_scalar_cells_equal_tensor_cells_outputs_and_every_weight_gradient(kind, input_size, hidden, steps, bias, seed):
    tensor, scalar, _, _ = _run_both(kind, input_size, hidden, steps, bias, seed)
    np.testing.assert_allclose(scalar["h"], tensor["h"], rtol=0, atol=1e-12)
    assert math.isclose(scalar["loss"], tensor["loss"], rel_tol=0, abs_tol=1e-12)
    assert set(scalar["grads"]) == set(tensor["grads"])
    for name, g in tensor["grads"].items():
        np.testing.assert_allclose(scalar["grads"][name], g, rtol=0, atol=1e-12, err_msg=name)


def test_cross_check_fails_when_the_scalar_cell_is_wrong(monkeypatch):
    # Negation: swap the LSTM's forget and input gate rows in the scalar cell only; the check must see it.
    original = scalar_rnn.LSTMCell._preactivation
    H = 2

    def swapped(self, r, x, h, t):
        return original(self, (r + H) % (2 * H) if r < 2 * H else r, x, h, t)

    monkeypatch.setattr(scalar_rnn.LSTMCell, "_preactivation", swapped)
    tensor, scalar, _, _ = _run_both("lstm", 2, H, 3, True, 0)
    assert np.abs(scalar["h"] - tensor["h"]).max() > 1e-3


def test_same_seed_same_weights_on_both_engines():
    for tensor_cls, scalar_cls in KINDS.values():
        tg.manual_seed(7)
        cell = tensor_cls(3, 2)
        tg.manual_seed(7)
        neurons = scalar_cls(3, 2)
        for name, array in cell.state_dict().items():
            np.testing.assert_array_equal(neurons.state_dict()[name], array)
        cell.load_state_dict(neurons.state_dict())  # and the reverse direction loads


def test_parameter_names_shapes_and_roles():
    cell = scalar_rnn.LSTMCell(3, 2)
    assert [(n, np.shape(cell.state_dict()[n])) for n, _ in cell.named_parameters()] == [
        ("weight_ih", (8, 3)),
        ("weight_hh", (8, 2)),
        ("bias_ih", (8,)),
        ("bias_hh", (8,)),
    ]
    w = cell.weight_hh[5][1]
    assert w.name == "weight_hh[5,1]" and w.role.label() == "weight_hh[5,1]" and w.role.kind == "parameter"
    assert len(cell.parameters()) == 8 * 3 + 8 * 2 + 16
    assert scalar_rnn.RNNCell(2, 3, bias=False).named_parameters()[-1][0] == "weight_hh"


def test_roles_name_every_neuron_of_every_step():
    cell = scalar_rnn.LSTMCell(1, 2)
    hs, (_, c) = scalar_rnn.unroll(cell, [[0.5], [-1.0], [2.0]])
    # Subscripts as in the equations (and the tensor layers): step t (from 0) writes h_(t+1).
    assert [v.role.label() for v in hs[2]] == ["h_3[0]", "h_3[1]"]
    assert [v.role.label() for v in c] == ["c_3[0]", "c_3[1]"]
    graph = trace(sum(hs[-1]))
    labels = {n.obj.role.label() for n in graph if n.obj.role is not None}
    for expected in ("f_2[0]", "i_1[1]", "g_3[0]", "o_2[1]", "x_1[0]", "h_0[0]", "c_0[1]", "W_hh·h_1[2]"):
        assert expected in labels, expected
    f = next(n for n in graph if n.obj.role is not None and n.obj.role.label() == "f_2[0]")
    assert (f.path, f.step) == ("f[0]", 1)  # one scope per neuron per step: what the scope-level drawing groups


def test_per_step_contributions_of_one_scalar_weight_sum_to_its_gradient_exactly():
    cell = scalar_rnn.RNNCell(1, 2)
    hs, _ = scalar_rnn.unroll(cell, [[0.5], [-1.0], [0.3], [1.2]])
    loss = sum(v * v for h_t in hs for v in h_t)
    with record_gradients() as record:  # the scalar engine reports each edge, as the tensor engine does
        loss.backward()
    graph = trace(loss, gradients=record)
    w = cell.weight_hh[0][1]
    parts = recurrence.contributions(graph, "weight_hh[0,1]")
    assert [c.step for c in parts] == [0, 1, 2, 3]  # one use per step
    # backward added them latest step first, starting from 0.0: the same sum, bit for bit.
    total = 0.0
    for c in reversed(parts):
        total += float(c.grad)
    assert total == w.grad and w.grad != 0.0
    assert len({float(c.grad) for c in parts}) == 4  # four different numbers, not one repeated


def test_errors_name_the_cell_and_the_sizes():
    cell = scalar_rnn.GRUCell(2, 3)
    with pytest.raises(ShapeError, match=r"scalar GRUCell: input has 1 numbers, expected input_size=2"):
        cell([1.0])
    with pytest.raises(ShapeError, match="state h has 2 numbers, expected hidden_size=3"):
        cell([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ShapeError, match=r"pair \(h, c\)"):
        scalar_rnn.LSTMCell(1, 1)([1.0], ([0.0],))
    with pytest.raises(ArgumentError, match="hidden_size must be a whole number >= 1"):
        scalar_rnn.RNNCell(1, 0)
    with pytest.raises(ArgumentError, match="nonlinearity"):
        scalar_rnn.RNNCell(1, 1, nonlinearity="sigmoid")
    before = cell.state_dict()
    bad = dict(before, weight_hh=np.zeros((9, 2)), extra=np.zeros(1))
    with pytest.raises(
        CheckpointError,
        match=r"nothing was loaded: key 'weight_hh' has shape \(9, 2\), expected \(9, 3\); unexpected key 'extra'",
    ):
        cell.load_state_dict(bad)
    for name, array in cell.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
