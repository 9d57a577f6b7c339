"""Property tests of the user cell in ``minimal_gated_unit.py``, written with the public ``tinygrad_rnn.testing``.

No library file knows the MGU; everything below works because its step function tags its nodes
and its ``CellSpec`` names its gates and states.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from minimal_gated_unit import MGU

import tinygrad_rnn as tg
from tinygrad_rnn import ArgumentError, Tensor, gradcheck, gradflow, nn
from tinygrad_rnn.graph import trace
from tinygrad_rnn.recurrence import state_tracks
from tinygrad_rnn.testing import arrays, assert_contributions_sum, recurrent_configs


def _reference(x: np.ndarray, layer) -> np.ndarray:
    """The MGU equations in numpy, sequence-first, zero initial state."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    H = layer.hidden_size
    inputs = x
    for k in range(layer.num_layers):
        w_ih, w_hh = getattr(layer, f"weight_ih_l{k}").data, getattr(layer, f"weight_hh_l{k}").data
        b_ih = getattr(layer, f"bias_ih_l{k}", None)
        b_hh = getattr(layer, f"bias_hh_l{k}", None)
        b_ih = np.zeros(2 * H) if b_ih is None else b_ih.data
        b_hh = np.zeros(2 * H) if b_hh is None else b_hh.data
        h = np.zeros((x.shape[1], H))
        outputs = []
        for x_t in inputs:
            gx = x_t @ w_ih.T + b_ih
            f = sigmoid(gx[:, :H] + h @ w_hh[:H].T + b_hh[:H])
            n = np.tanh(gx[:, H:] + (f * h) @ w_hh[H:].T + b_hh[H:])
            h = f * h + (1 - f) * n
            outputs.append(h)
        inputs = np.stack(outputs)
    return inputs


@settings(max_examples=15)
@given(recurrent_configs(modes=(MGU,)), arrays((4, 2, 3)))
def test_mgu_layer_equations_roles_and_contributions(config, data):
    tg.manual_seed(0)
    layer = config.build()
    x = np.resize(data, (config.steps, config.batch, config.input_size))  # (T, B, I), any config
    given = x.transpose(1, 0, 2) if config.batch_first else x
    out, h_n = layer(Tensor(given))
    expected = _reference(x, layer)
    np.testing.assert_allclose(out.data, expected.transpose(1, 0, 2) if config.batch_first else expected, rtol=1e-12)
    np.testing.assert_allclose(h_n.data[-1], expected[-1], rtol=1e-12)

    # Role names: every step of every layer has its gate, candidate and state.
    graph = trace(out.sum())
    for k in range(config.num_layers):
        for t in range(config.steps):
            labels = {n.role.label() for n in graph.at_step(t, f"RNNBase.l{k}") if n.role is not None}
            assert {f"f_{t + 1}", f"n_{t + 1}", f"h_{t + 1}"} <= labels
    tracks = state_tracks(graph)
    assert [(tr.role, tr.steps) for tr in tracks] == [("h", list(range(config.steps)))] * config.num_layers

    # Per-step contributions: W_hh is used twice per step (its f and n blocks); they sum to .grad.
    parts = assert_contributions_sum(lambda: (layer(Tensor(given))[0] ** 2).sum(), layer.weight_hh_l0)
    assert sorted({c.step for c in parts}) == list(range(config.steps))
    assert len(parts) == 2 * config.steps


def test_mgu_gradients_match_finite_differences():
    tg.manual_seed(1)
    layer = nn.RNNBase(MGU, 2, 3, num_layers=2)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x: layer(x)[0], [x])
    assert gradcheck(lambda w: layer(x)[0], [layer.weight_hh_l1])  # gradcheck perturbs w in place


def test_mgu_gradient_flow_and_memory_gate():
    tg.manual_seed(2)
    layer = nn.RNNBase(MGU, 2, 3)
    nn.init.memory_gate_bias_(layer, 4.0)  # f ~ 0.98: the state is kept, the gradient survives
    assert np.all(layer.bias_ih_l0.data[:3] == 4.0) and np.all(layer.bias_hh_l0.data[:3] == 0.0)
    flow = gradflow.gradient_flow(layer, np.random.default_rng(2).standard_normal((10, 2, 2)) * 0.1)
    assert flow.jacobian_norms.shape == (10,) and flow.jacobian_norms[-1] == pytest.approx(1.0)
    assert flow.jacobian_norms[0] > 0.5  # an open memory gate carries the gradient back 9 steps
    assert flow.factor_norms is None and flow.cell_path_norms is None  # neither tanh RNN nor separate cell
    with pytest.raises(ArgumentError, match="no fused kernel"):
        nn.RNNBase(MGU, 2, 3, fused=True)


def test_the_example_script_runs(capsys):
    from minimal_gated_unit import main

    main()
    printed = capsys.readouterr().out
    assert "f_3" in printed and "weight_hh_l0 use at step 1" in printed and "dh_T/dh_t" in printed
