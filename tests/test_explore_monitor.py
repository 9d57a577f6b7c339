"""GradientMonitor: snapshots every n iterations whose numbers are the engine's own, and which leave training alone."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.errors import ArgumentError, GraphError
from tinygrad_rnn.gradflow import state_gradients
from tinygrad_rnn.graph import record_gradients, trace
from tinygrad_rnn.monitor import GradientMonitor, signed_contributions


def _model(kind="LSTM", seed=0, **kw):
    tg.manual_seed(seed)
    return getattr(nn, kind)(2, 3, **kw)


def _loss(model, x):
    out, _ = model(Tensor(x))
    return 0.5 * (out[-1] * out[-1]).sum()


X = np.random.default_rng(1).normal(size=(6, 2, 2))  # (T, B, I)


def test_records_every_nth_iteration_and_forced_ones():
    model = _model()
    monitor = GradientMonitor(model, every=3)
    made = [monitor.backward(_loss(model, X)) is not None for _ in range(7)]
    assert made == [True, False, False, True, False, False, True]
    assert [s.iteration for s in monitor.snapshots] == [0, 3, 6]
    assert monitor.backward(_loss(model, X), record=True).iteration == 7
    assert monitor.backward(_loss(model, X), record=False) is None  # iteration 8 would not be due anyway
    assert monitor.iteration == 9


def test_gradients_are_those_of_a_plain_backward():
    plain, watched = _model(), _model()
    _loss(plain, X).backward()
    GradientMonitor(watched, every=1).backward(_loss(watched, X))
    for (name, p), (_, q) in zip(plain.named_parameters(), watched.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_gradients_and_contributions_are_the_engines(kind):
    model = _model(kind)
    snap = GradientMonitor(model, every=1).backward(_loss(model, X))

    # dL/dh_t from gradflow's hooks, on a fresh graph of the same model and input.
    out, _ = model(Tensor(X))
    loss = 0.5 * (out[-1] * out[-1]).sum()
    graph = trace(loss, gradients=False)
    (track,) = [t for t in graph.state_tracks() if t.role == "h"]
    hs = [graph[i].obj for i in track.nodes if graph[i].step is not None]  # h_1 ... h_T (not h_0)
    expected = np.linalg.norm(state_gradients(loss, hs), axis=-1).mean(axis=1)
    np.testing.assert_allclose(snap.state_grad_norms, expected, rtol=1e-12, atol=1e-300)
    assert list(snap.steps) == list(range(1, len(X) + 1))  # h_1 ... h_T, as the equations number them

    # Per-use contributions from the recorded edge gradients of the traced graph.
    model.zero_grad()
    with record_gradients() as rec:
        loss.backward()
    uses = {c.step: c for c in trace(loss, gradients=rec).contributions("weight_hh_l0")}
    np.testing.assert_allclose(snap.contributions["weight_hh_l0"], [uses[t].norm for t in range(len(X))], rtol=1e-12)
    grad = model.weight_hh_l0.grad
    assert snap.grad_norms["weight_hh_l0"] == pytest.approx(np.linalg.norm(grad), rel=1e-12)
    assert snap.signed["weight_hh_l0"].sum() == pytest.approx(np.linalg.norm(grad), rel=1e-9)


def test_signed_contributions_add_up_and_keep_their_sign():
    c = np.array([[3.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    signed = signed_contributions(c)
    assert signed.sum() == pytest.approx(np.linalg.norm(c.sum(axis=0)))
    assert signed[1] < 0 < signed[0]  # the use pointing against the total pulls against it
    assert signed_contributions(np.array([[1.0], [-1.0]])).tolist() == [0.0, 0.0]


def _numpy_lstm_gates(model, x):
    """Mean i and f gate per step, from a plain numpy LSTM with the model's weights."""
    W, U = model.weight_ih_l0.data, model.weight_hh_l0.data
    b = model.bias_ih_l0.data + model.bias_hh_l0.data
    H = U.shape[1]
    h = np.zeros((x.shape[1], H))
    c = np.zeros_like(h)
    i_means, f_means = [], []
    for x_t in x:
        a = x_t @ W.T + h @ U.T + b
        i, f = 1 / (1 + np.exp(-a[:, :H])), 1 / (1 + np.exp(-a[:, H : 2 * H]))
        g, o = np.tanh(a[:, 2 * H : 3 * H]), 1 / (1 + np.exp(-a[:, 3 * H :]))
        c = f * c + i * g
        h = o * np.tanh(c)
        i_means.append(i.mean())
        f_means.append(f.mean())
    return np.array(i_means), np.array(f_means)


def test_gate_activations_per_step():
    lstm = _model("LSTM")
    snap = GradientMonitor(lstm).backward(_loss(lstm, X))
    i_means, f_means = _numpy_lstm_gates(lstm, X)
    np.testing.assert_allclose(snap.gates["f"], f_means, rtol=1e-12)
    np.testing.assert_allclose(snap.gates["i"], i_means, rtol=1e-12)
    gru = _model("GRU")
    assert {"r", "z"} <= set(GradientMonitor(gru).backward(_loss(gru, X)).gates)
    rnn = _model("RNN")
    assert GradientMonitor(rnn).backward(_loss(rnn, X)).gates == {}


def test_reach_and_spectral_radius():
    model = _model("RNN")
    snap = GradientMonitor(model).backward(_loss(model, X))
    assert 0 <= snap.reach() <= len(X) - 1
    assert snap.spectral_radius == pytest.approx(np.max(np.abs(np.linalg.eigvals(model.weight_hh_l0.data))))
    assert snap.to_dict()["steps"] == list(range(1, len(X) + 1))


def test_last_layer_of_a_stack_is_watched():
    model = _model("GRU", num_layers=2)
    snap = GradientMonitor(model).backward(_loss(model, X))
    assert len(snap.state_grad_norms) == len(X)
    assert set(snap.contributions) == {"weight_hh_l0", "weight_hh_l1"}


def test_clear_errors():
    model = _model()
    with pytest.raises(ArgumentError, match="every"):
        GradientMonitor(model, every=0)
    with pytest.raises(ArgumentError, match="no parameter"):
        GradientMonitor(model, params=["weight_hh_l7"])
    fused = _model(fused=True)
    with pytest.raises(GraphError, match="fused=True"):
        GradientMonitor(fused).backward(_loss(fused, X))
