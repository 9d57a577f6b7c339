"""detect_anomaly(): the first NaN or Inf in forward or backward raises, naming op, scope, step and line."""

import math
import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import AnomalyError, Tensor
from tinygrad_rnn.autograd import STATE


def _exploding_recurrence(W: Tensor, steps: int, last_input: np.ndarray):
    """h_t = tanh(W h_(t-1) + x_t) with x_t = 0 except at the last step, so h stays 0 (and tanh' = 1)
    until the end: the forward pass is tame while the gradient grows by W at every step back."""
    h = Tensor(np.zeros(W.shape[0]))
    for t in range(steps):
        x_t = last_input if t == steps - 1 else np.zeros(W.shape[0])
        with tg.scope("rnn", step=t):
            h = (W @ h + x_t).tanh()  # the line anomaly mode must point at
    return h.sum()


def _first_overflowing_step(W: np.ndarray, steps: int, d_last: np.ndarray) -> int:
    """The step whose matmul backward first sends an inf, computed independently in log space.

    Going back from the loss, the gradient reaching the pre-activation a_t of step t is g_t (tanh' is
    ``d_last`` at the last step and 1 before it, where h = 0); the matmul of step t sends W^T g_t to
    h_(t-1). Tracking log|g| avoids overflowing while we predict the overflow.
    """
    direction = d_last / np.linalg.norm(d_last)
    log_scale = math.log(np.linalg.norm(d_last))
    limit = math.log(np.finfo(np.float64).max)
    for t in range(steps - 1, 0, -1):
        sent = W.T @ direction
        log_sent = log_scale + math.log(np.max(np.abs(sent)))
        if log_sent > limit:
            return t
        log_scale += math.log(np.linalg.norm(sent))
        direction = sent / np.linalg.norm(sent)
    raise AssertionError("the gradient never overflows")


def test_exploding_rnn_points_at_the_step_where_the_gradient_first_overflows():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    W_np = 1e6 * Q  # every singular value 1e6: the gradient grows by exactly 1e6 per step back
    steps = 80
    last_input = np.full(4, 0.5)
    expected = _first_overflowing_step(W_np, steps, 1 - np.tanh(last_input) ** 2)
    assert 0 < expected < steps - 1

    W = Tensor(W_np, requires_grad=True)
    with tg.detect_anomaly():
        loss = _exploding_recurrence(W, steps, last_input)
        assert math.isfinite(loss.item())  # forward is fine
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    # Whether BLAS also turns some of the overflow into nan (inf - inf) depends on its kernel.
    assert re.search(rf"backward of op 'matmul' in scope 'rnn', time step {expected} sent (nan and )?inf", message)
    assert f"time step {expected - 1}" in message  # the input it was sent to is h from the step before
    assert "test_anomaly.py" in message and "h = (W @ h + x_t).tanh()" in message


def test_without_anomaly_mode_the_same_run_silently_gives_inf():
    # The contrast that makes the mode worth having: plain backward finishes with inf/nan gradients.
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    W = Tensor(1e6 * Q, requires_grad=True)
    loss = _exploding_recurrence(W, 80, np.full(4, 0.5))
    with np.errstate(over="ignore", invalid="ignore"):
        loss.backward()
    assert not np.isfinite(W.grad).all()


def test_forward_overflow_names_op_scope_and_line():
    x = Tensor([1.0, 800.0], requires_grad=True)
    with tg.detect_anomaly(), tg.scope("decoder", step=3), pytest.raises(AnomalyError) as info:
        _ = (x * 1.0).exp()  # exp(800) = inf: correct maths, caught here
    message = str(info.value)
    assert "forward of op 'exp' produced inf (1 of 2 values, the first at index (1,))" in message
    assert "scope 'decoder', time step 3" in message
    assert "its inputs (shapes (2,)) were finite" in message
    assert "_ = (x * 1.0).exp()" in message


def test_forward_nan_from_log_of_negative_is_caught_without_grad():
    # Forward checks do not depend on requires_grad: every op's result is checked.
    with tg.detect_anomaly(), pytest.raises(AnomalyError, match=r"forward of op 'log' produced nan"):
        Tensor([1.0, -1.0]).log()


def test_non_finite_input_is_reported_as_already_non_finite():
    with tg.detect_anomaly(), pytest.raises(AnomalyError, match=r"'mul' produced nan .*were already non-finite"):
        Tensor([np.nan, 1.0], requires_grad=True) * 2.0


def test_backward_inf_from_sqrt_at_zero_names_the_sqrt():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt().sum()  # forward fine: sqrt(0) = 0
        with pytest.raises(
            AnomalyError, match=r"backward of op 'sqrt' in scope '<top level>' sent inf .* to its input 0"
        ):
            y.backward()


def test_hooks_are_restored_after_the_block_even_on_error():
    assert STATE.node_hook is None and STATE.edge_hook is None  # zero cost outside the block
    with pytest.raises(AnomalyError), tg.detect_anomaly():
        assert tg.is_anomaly_enabled()
        Tensor([-1.0]).sqrt()
    assert STATE.node_hook is None and STATE.edge_hook is None
    assert not tg.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor([-1.0]).sqrt().item())  # outside the block: plain numpy maths again


def test_previous_hooks_are_chained_and_restored():
    # Another tool (the graph recorder) may own the single hook slots; anomaly mode chains to them.
    seen_nodes, seen_edges = [], []
    STATE.node_hook = seen_nodes.append
    STATE.edge_hook = lambda child, parent, index, grad: seen_edges.append((child.op, index))
    try:
        x = Tensor([1.0, 2.0], requires_grad=True)
        with tg.detect_anomaly():
            y = (x * 3.0).sum()
            y.backward()
        assert [n.op for n in seen_nodes] == ["mul", "sum"]
        assert seen_edges == [("sum", 0), ("mul", 0)]
        assert STATE.node_hook == seen_nodes.append
    finally:
        STATE.node_hook = STATE.edge_hook = None


def test_finite_training_step_is_unchanged_by_anomaly_mode():
    rng = np.random.default_rng(1)
    W_np, x_np = rng.standard_normal((3, 3)), rng.standard_normal(3)
    grads = []
    for mode in (False, True):
        W = Tensor(W_np.copy(), requires_grad=True)
        ctx = tg.detect_anomaly() if mode else tg.scope()
        with ctx:
            ((W @ Tensor(x_np)).tanh().softmax() * Tensor([1.0, 2.0, 3.0])).sum().backward()
        grads.append(W.grad)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_nested_blocks_restore_the_outer_one():
    with tg.detect_anomaly():
        outer = STATE.node_hook
        with tg.detect_anomaly():
            assert STATE.node_hook is not outer
        assert STATE.node_hook is outer and tg.is_anomaly_enabled()
    assert STATE.node_hook is None


def test_exploding_nn_rnn_points_at_the_layer_step_and_the_users_line():
    nn = pytest.importorskip("tinygrad_rnn.nn")
    tg.manual_seed(0)
    rnn = nn.RNN(2, 4, bias=False)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    with tg.no_grad():
        rnn.weight_hh_l0.data[...] = 1e6 * Q
    steps = 70
    x = np.zeros((steps, 1, 2))
    x[-1] = 0.5  # h stays exactly 0 until the last step, so tanh' = 1 and only W_hh scales the gradient
    d_last = 1 - np.tanh(rnn.weight_ih_l0.data @ x[-1, 0]) ** 2
    expected = _first_overflowing_step(rnn.weight_hh_l0.data, steps, d_last)
    with tg.detect_anomaly():
        out, _ = rnn(Tensor(x))  # the user's line the error must show
        with pytest.raises(AnomalyError) as info:
            out[-1].sum().backward()
    message = str(info.value)
    assert re.search(rf"backward of op 'matmul' in scope 'RNN\.l0', time step {expected} sent (nan and )?inf", message)
    assert "out, _ = rnn(Tensor(x))" in message  # the user's code, however deep the layer nests
    assert "rnn.py" in message  # and the layer's own line in between


def test_a_parameter_that_became_nan_is_named_by_the_first_op_that_uses_it():
    # E.g. after an optimizer step with a huge learning rate: the parameter is not an op's result,
    # so the first op that reads it reports it, by its dotted name.
    nn = pytest.importorskip("tinygrad_rnn.nn")
    model = nn.Linear(3, 2)
    with tg.no_grad():
        model.weight.data[0, 1] = np.nan
    with tg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        model(Tensor(np.ones((4, 3))))
    message = str(info.value)
    assert "forward of op 'transpose'" in message  # Linear computes x @ weight.T: transpose reads it first
    assert "were already non-finite: input 0 (parameter 'weight' of shape (2, 3))" in message


def test_a_fused_layer_is_reported_as_one_op_without_a_time_step():
    # The README's caveat: fused=True makes the whole sequence one node, so the step is not known.
    nn = pytest.importorskip("tinygrad_rnn.nn")
    tg.manual_seed(0)
    rnn = nn.RNN(2, 4, bias=False, fused=True)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    with tg.no_grad():
        rnn.weight_hh_l0.data[...] = 1e6 * Q
    x = np.zeros((70, 1, 2))
    x[-1] = 0.5
    with tg.detect_anomaly():
        out, _ = rnn(Tensor(x))
        with pytest.raises(AnomalyError) as info:
            out[-1].sum().backward()
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith("detect_anomaly: backward of op 'fused_rnn' in scope 'RNN.l0' sent")
    assert "time step" not in first_line.split(" sent ")[0]


def test_the_scalar_engine_is_checked_too_forward_and_backward():
    # Value reports its nodes and edges through the same hooks as Tensor, so one detector serves both.
    with tg.detect_anomaly(), tg.scope("neuron", step=2):
        with pytest.raises(AnomalyError, match=r"forward of op 'mul' produced inf .*scope 'neuron', time step 2"):
            tg.Value(1e308) * 10.0
        root = tg.Value(0.0) ** 0.5  # forward fine: 0 ** 0.5 = 0; its slope there is infinite
        with pytest.raises(AnomalyError, match=r"backward of op 'pow' in scope 'neuron', time step 2 sent inf"):
            (root * 2.0).backward()
