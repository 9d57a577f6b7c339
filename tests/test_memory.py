"""Memory: graphs are freed after each backward, so a long training run holds memory flat.

The graph of one step is kept alive only by the loss tensor (``parents``) and by each node's
saved backward closure (ops whose gradient reads only the graph share one rule instead). Backward
releases the closures; dropping the loss releases the nodes, by
reference counting alone (no reference cycles, so no need to wait for the garbage collector).
"""

import gc
import tracemalloc
import weakref

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor


def _lstm_params(rng, inputs: int, hidden: int) -> list[Tensor]:
    scale = 1 / np.sqrt(hidden)
    W = Tensor(rng.uniform(-scale, scale, (inputs, 4 * hidden)), requires_grad=True)  # (I, 4H)
    U = Tensor(rng.uniform(-scale, scale, (hidden, 4 * hidden)), requires_grad=True)  # (H, 4H)
    b = Tensor(np.zeros(4 * hidden), requires_grad=True)  # (4H,)
    V = Tensor(rng.uniform(-scale, scale, (hidden, 1)), requires_grad=True)  # (H, 1) read-out
    return [W, U, b, V]


def _lstm_loss(params, xs: np.ndarray, ys: np.ndarray) -> Tensor:
    """A hand-written LSTM over xs (T, B, I) predicting ys (B, 1) from the last hidden state."""
    W, U, b, V = params
    batch, hidden = xs.shape[1], U.shape[0]
    h = c = Tensor(np.zeros((batch, hidden)))
    for t, x in enumerate(xs):
        with tg.scope("lstm", step=t):
            i, f, g, o = (Tensor(x) @ W + h @ U + b).chunk(4, axis=-1)  # each (B, H)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
    diff = h @ V - Tensor(ys)
    return (diff * diff).mean()


def _train(params, iterations: int, data, on_iteration=None) -> float:
    xs, ys = data
    loss_value = 0.0
    for it in range(iterations):
        loss = _lstm_loss(params, xs, ys)
        loss.backward()
        for p in params:  # plain SGD, in place
            p.data -= 0.05 * p.grad
            p.grad = None
        loss_value = loss.item()
        if on_iteration is not None:
            on_iteration(it, loss)
    return loss_value


def _data(rng):
    xs = rng.standard_normal((2, 2, 3))  # (T, B, I): two steps keep 1,000 traced iterations to a few seconds
    ys = rng.standard_normal((2, 1))  # (B, 1)
    return xs, ys


def _memory_growth(iterations: int, keep=None) -> tuple[int, float, float]:
    """Bytes allocated (still held) between iteration 50 and the last one, plus first/last loss."""
    rng = np.random.default_rng(0)
    params, data = _lstm_params(rng, 3, 6), _data(rng)
    first_loss = _lstm_loss(params, *data).item()
    marks = {}

    def measure(it, loss):
        if keep is not None:
            keep.append(loss)
        if it in (50, iterations - 1):
            marks[it] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        last_loss = _train(params, iterations, data, measure)
    finally:
        tracemalloc.stop()
    return marks[iterations - 1] - marks[50], first_loss, last_loss


BOUND = 512 * 1024  # generous: one leaked step graph is ~20 kB, so 950 leaked graphs would be ~20 MB


def test_training_an_lstm_for_1000_iterations_holds_memory_flat():
    growth, first_loss, last_loss = _memory_growth(1000)
    assert last_loss < first_loss  # it really trained
    assert growth < BOUND, f"memory grew by {growth / 1024:.0f} kB over 950 iterations"


def test_the_measurement_would_see_a_leak():
    # Keeping every loss (and so every graph) alive must blow the bound: the test above can fail.
    kept = []
    growth, _, _ = _memory_growth(150, keep=kept)
    assert growth > BOUND


def test_backward_releases_saved_closures_even_while_the_loss_is_alive():
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    y = (x @ x).tanh().log_softmax()  # log_softmax and sum save closures; matmul, tanh, mul use shared rules
    loss = (y * y).sum()
    nodes = [n for n in tg.autograd.toposort(loss) if n.parents]
    closures = [weakref.ref(n._backward) for n in nodes if type(n._backward) is not tg.autograd.NodeRule]
    assert len(closures) == 2 and all(r() is not None for r in closures)
    loss.backward()
    assert all(r() is None for r in closures)  # buffers the closures saved are gone too
    # A rule saves nothing beyond the graph, but it is released all the same: a second backward refuses.
    assert all(n._backward is tg.autograd.FREED for n in nodes)
    assert loss.parents and y.parents  # the structure stays, for tracing and drawing


def test_retain_graph_keeps_closures_until_the_last_backward():
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x.exp() * 2).log_softmax().sum()
    nodes = [n for n in tg.autograd.toposort(loss) if n.parents]
    closures = [weakref.ref(n._backward) for n in nodes if type(n._backward) is not tg.autograd.NodeRule]
    loss.backward(retain_graph=True)
    assert closures and all(r() is not None for r in closures)
    assert not any(n._backward is tg.autograd.FREED for n in nodes)
    loss.backward()
    assert all(r() is None for r in closures)
    assert all(n._backward is tg.autograd.FREED for n in nodes)


def test_dropping_the_loss_frees_every_intermediate_node_without_the_garbage_collector():
    rng = np.random.default_rng(1)
    params, data = _lstm_params(rng, 3, 4), _data(rng)
    gc.disable()  # freed by reference counting alone means the graph has no reference cycles
    try:
        loss = _lstm_loss(params, *data)
        nodes = [weakref.ref(n) for n in tg.autograd.toposort(loss) if n.parents]
        assert len(nodes) > 20
        loss.backward()
        del loss
        alive = [r().op for r in nodes if r() is not None]
        assert not alive, f"{len(alive)} intermediate nodes survived: {alive[:5]}"
        assert all(p.grad is not None for p in params)  # what should survive does
    finally:
        gc.enable()


def test_anomaly_mode_does_not_keep_graphs_alive():
    # Creation sites are stored by weak reference: the side table must not pin the nodes.
    x = Tensor(np.ones(3), requires_grad=True)
    with tg.detect_anomaly():
        loss = (x.tanh() * 3.0).sum()
        node = weakref.ref(loss.parents[0])
        loss.backward()
        del loss
        assert node() is None


def test_nn_lstm_with_optimizer_holds_memory_flat():
    # The library's own LSTM, Linear, loss and optimizer (whose state must not grow either); fewer
    # iterations than above because every nn call adds a few small Python objects to trace.
    from tinygrad_rnn import nn, optim

    tg.manual_seed(0)
    lstm, head = nn.LSTM(3, 6), nn.Linear(6, 1)
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.01)
    rng = np.random.default_rng(0)
    xs, ys = Tensor(rng.standard_normal((2, 2, 3))), Tensor(rng.standard_normal((2, 1)))
    marks, losses = {}, []
    tracemalloc.start()
    try:
        for it in range(150):
            out, _ = lstm(xs)  # (T, B, H)
            loss = nn.functional.mse_loss(head(out[-1]), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if it in (30, 149):
                marks[it] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0]
    assert marks[149] - marks[30] < BOUND / 2, f"memory grew by {(marks[149] - marks[30]) / 1024:.0f} kB"
