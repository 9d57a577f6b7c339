"""tinygrad_rnn.gradflow: exact Jacobians through time, per-step factors, forget-gate products, radii."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import gradflow as gf
from tinygrad_rnn import nn
from tinygrad_rnn.errors import GraphError, ShapeError
from tinygrad_rnn.graph import trace


def _linear_rnn(W: np.ndarray, T: int):
    """h_t = W h_(t-1) (column vectors), h_0 random and requiring grad; returns [h_0, ..., h_T]."""
    Wt = tg.Tensor(W, requires_grad=True)
    h = tg.Tensor(np.random.default_rng(0).standard_normal(W.shape[0]), requires_grad=True)
    states = [h]
    for t in range(1, T + 1):
        with tg.scope("linear", step=t):
            h = Wt @ h
        states.append(h)
    return Wt, states


def test_linear_rnn_jacobians_are_matrix_powers():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((4, 4)) * 0.6
    T = 7
    Wt, states = _linear_rnn(W, T)
    J = gf.jacobians(states[-1], states)
    assert J.shape == (T + 1, 1, 4, 4)
    for t in range(T + 1):
        np.testing.assert_allclose(J[t, 0], np.linalg.matrix_power(W, T - t), rtol=1e-12, atol=1e-14)
    assert Wt.grad is None  # a measurement: parameters' gradients untouched


@pytest.mark.parametrize("r", [0.5, 0.9, 1.3])
def test_diagonal_linear_rnn_norm_decays_as_r_to_the_steps_back(r):
    T = 10
    _, states = _linear_rnn(np.diag([r, 0.5 * r, -0.25 * r]), T)
    norms = gf.jacobian_norms(states[-1], states)[:, 0]
    np.testing.assert_allclose(norms, r ** (T - np.arange(T + 1.0)), rtol=1e-12)


def test_state_gradients_match_retained_gradients_and_keep_parameter_grads():
    tg.manual_seed(1)
    rnn = nn.RNN(2, 3)
    out, _ = rnn(tg.randn(6, 2, 2))
    loss = (out[-1] * out[-1]).sum()
    g = trace(loss)
    hs = [g[i].obj for i in g.state_tracks()[0].nodes]
    for h in hs:
        h.retain_grad()
    grads = gf.state_gradients(loss, hs)
    assert grads.shape == (6, 2, 3)
    for t, h in enumerate(hs):
        np.testing.assert_allclose(grads[t], h.grad, rtol=1e-13)
    assert rnn.weight_hh_l0.grad is None


def test_rnn_step_factors_multiply_to_the_engine_jacobian():
    tg.manual_seed(2)
    rnn = nn.RNN(3, 4)
    out, _ = rnn(tg.randn(5, 2, 3))
    g = trace(out.sum())
    hs = [g[i].obj for i in g.state_tracks()[0].nodes]
    J = gf.jacobians(hs[-1], hs)  # (T, B, H, H)
    F = gf.rnn_step_factors(rnn.weight_hh_l0, hs)  # F[k] carries gradient from step k+1 to k
    assert F.shape == (4, 2, 4, 4)
    for t in range(5):
        for b in range(2):
            product = np.eye(4)
            for k in range(t, 4):
                product = product @ F[k, b]
            np.testing.assert_allclose(J[t, b], product.T, rtol=1e-10, atol=1e-13)
    # tanh' <= 1, so ||W_hh|| bounds every factor.
    assert np.all(np.linalg.norm(F, 2, axis=(-2, -1)) <= np.linalg.norm(rnn.weight_hh_l0.data, 2) + 1e-12)


def test_lstm_cell_path_is_the_product_of_forget_gates():
    tg.manual_seed(3)
    lstm = nn.LSTM(2, 3)
    lstm.weight_hh_l0.data[:] = 0.0  # gates then ignore h: c_T depends on c_t through f alone
    out, _ = lstm(tg.randn(6, 2, 2))
    g = trace(out.sum())
    c_track = next(t for t in g.state_tracks() if t.role == "c")
    products = gf.forget_gate_products(g, c_track.nodes)
    cs = [g[i].obj for i in c_track.nodes]
    J = gf.jacobians(cs[-1], cs)
    for t in range(6):
        for b in range(2):
            np.testing.assert_allclose(J[t, b], np.diag(products[t, b]), rtol=1e-12, atol=1e-15)
    assert np.all((products > 0) & (products <= 1))
    with pytest.raises(GraphError, match="is this an LSTM"):
        gf.forget_gate_products(g, next(t for t in g.state_tracks() if t.role == "h").nodes)


def test_spectral_radius_utilities():
    W = np.array([[0.0, 2.0], [-2.0, 0.0]])  # eigenvalues +-2i
    assert gf.spectral_radius(W) == pytest.approx(2.0)
    assert gf.spectral_radius(gf.with_spectral_radius(W, 0.7)) == pytest.approx(0.7)
    for kind, blocks in (("rnn", 1), ("gru", 3), ("lstm", 4)):
        model = gf.make_model(kind, 2, 5, spectral_radius=0.9, num_layers=2, seed=4)
        for k in range(2):
            W_hh = getattr(model, f"weight_hh_l{k}").data
            for b in range(blocks):
                assert gf.spectral_radius(W_hh[5 * b : 5 * (b + 1)]) == pytest.approx(0.9)
    with pytest.raises(ShapeError, match="square"):
        gf.spectral_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="radius 0"):
        gf.with_spectral_radius(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="unknown model kind"):
        gf.make_model("transformer", 2, 2)


def test_memory_bias_opens_the_gate_that_keeps_the_state():
    lstm = gf.make_model("lstm", 2, 3, memory_bias=2.0)
    assert np.all(lstm.bias_ih_l0.data[3:6] + lstm.bias_hh_l0.data[3:6] == 2.0)
    with pytest.raises(GraphError, match="LSTM or GRU"):
        gf.set_memory_bias_(nn.RNN(2, 3), 1.0)


def test_gradient_flow_of_rnn_vanishes_at_the_theoretical_rate_for_small_radius():
    x = np.random.default_rng(0).standard_normal((12, 3, 2)) * 0.01  # tiny inputs: tanh ~ linear
    rnn = gf.make_model("rnn", 2, 4, spectral_radius=0.5, seed=0)
    for name in ("bias_ih_l0", "bias_hh_l0"):
        getattr(rnn, name).data[:] = 0.0
    flow = gf.gradient_flow(rnn, x)
    assert flow.kind == "rnn" and list(flow.steps_back) == list(range(11, -1, -1))
    assert flow.jacobian_norms[-1] == pytest.approx(1.0)
    assert np.all(np.diff(flow.jacobian_norms) > 0)  # shrinks going back in time
    assert flow.spectral_radius == pytest.approx(0.5)
    assert flow.factor_norms.shape == (11,)
    # Near the linear regime, k steps back cost about rho^k (up to the non-normality of W_hh).
    rate = (flow.jacobian_norms[0] / flow.jacobian_norms[-1]) ** (1 / 11)
    assert 0.3 < rate < 0.7
    assert rnn.weight_hh_l0.grad is None


def test_gradient_flow_of_lstm_reports_the_cell_path():
    x = np.random.default_rng(1).standard_normal((8, 2, 2))
    flow = gf.gradient_flow(gf.make_model("lstm", 2, 3, memory_bias=3.0, seed=1), x)
    assert flow.cell_path_norms.shape == (8,) and flow.cell_jacobian_norms.shape == (8,)
    assert flow.cell_path_norms[-1] == 1.0
    # With the forget gate wide open (bias 3), the cell path keeps most of the gradient.
    assert flow.cell_path_norms[0] > 0.3
    assert flow.factor_norms is None


def test_jacobians_reject_mismatched_states():
    a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match="one shape"):
        gf.jacobians(a * 2, [a, tg.Tensor(np.ones(3), requires_grad=True)])
    with pytest.raises(ShapeError, match="expected final"):
        gf.jacobians((a * 2).sum(), [a])
    with pytest.raises(GraphError, match="does not require grad"):
        gf.jacobians(a * 2, [tg.Tensor(np.ones((2, 3)))])


def test_gradient_flow_unrolls_a_fused_layer_op_by_op():
    x = np.random.default_rng(2).standard_normal((5, 2, 2))
    plain = gf.gradient_flow(gf.make_model("gru", 2, 3, seed=5), x)
    model = gf.make_model("gru", 2, 3, seed=5)
    model.fused = True
    fused = gf.gradient_flow(model, x)
    np.testing.assert_allclose(fused.jacobian_norms, plain.jacobian_norms, rtol=1e-10)
    assert model.fused
