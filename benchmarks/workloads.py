"""The benchmark workloads: the same computation written for each implementation.

Every ``make_*`` function returns a dict ``{label: callable}``; one call of the callable is one
timed repetition. The first label is the baseline its row's ratios are taken against. Each
workload also has a ``check_*`` function that runs the implementations once in float64 and
compares their gradients with the hand-derived numpy reference before anything is timed.

PyTorch implementations are added only when ``torch`` is importable (it is never a dependency).
"""

from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional
from tinygrad_rnn.nn.fused import fused_rnn

from . import references as ref
from .micrograd_style import MicroValue, micro_mlp, scalar_mlp

try:  # optional: a column for PyTorch when it happens to be installed
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

CHARRNN = {"vocab": 65, "hidden": 100, "steps": 25}
LSTM = {"batch": 32, "input": 32, "hidden": 128, "steps": 50}


class CheckError(AssertionError):
    """An implementation's gradients disagree with the numpy reference."""


def _close(label: str, name: str, ours: np.ndarray, expected: np.ndarray, tol: float = 1e-8) -> None:
    ours = np.asarray(ours).reshape(np.shape(expected))
    err = float(np.max(np.abs(ours - expected)) / (1.0 + np.max(np.abs(expected))))
    if not err < tol:
        raise CheckError(f"{label}: gradient of {name} differs from the numpy reference by {err:.2e} (tol {tol})")


# ------------------------------------------------------------------------------------- char-RNN
def _charrnn_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    text = rng.integers(0, CHARRNN["vocab"], CHARRNN["steps"] + 1)
    return text[:-1], text[1:]


def _one_hot(indices: np.ndarray, vocab: int, dtype) -> np.ndarray:
    x = np.zeros((len(indices), vocab), dtype=dtype)
    x[np.arange(len(indices)), indices] = 1
    return x


def _tg_params(params: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """The reference's weights as leaf tensors, biases flattened to PyTorch's ``(n,)``."""
    return {k: Tensor(v.reshape(-1) if k.startswith("b") else v.copy(), requires_grad=True) for k, v in params.items()}


def _tg_charrnn_loss_ops(p: dict[str, Tensor], x_onehot: np.ndarray, targets: np.ndarray, h0: np.ndarray) -> Tensor:
    """The char-RNN with its cell written from ops, one step at a time."""
    xp = Tensor(x_onehot) @ p["Wxh"].T + p["bh"]  # (T, H): input projections of all steps in one matmul
    w_hh_t = p["Whh"].T
    h = Tensor(h0)  # (H,)
    hs = []
    for t in range(len(targets)):
        with tg.scope(step=t):
            h = (xp[t] + h @ w_hh_t).tanh()  # h_t = tanh(Wxh x_t + bh + Whh h_(t-1))
        hs.append(h)
    logits = tg.stack(hs) @ p["Why"].T + p["by"]  # (T, V)
    return functional.cross_entropy(logits, targets, reduction="sum")


def _tg_charrnn_loss_fused(p: dict[str, Tensor], x_onehot: np.ndarray, targets: np.ndarray, h0: np.ndarray) -> Tensor:
    """The same model with the recurrence as one ``fused_rnn`` node (what ``nn.RNN(fused=True)`` runs)."""
    steps, vocab = x_onehot.shape
    hs = fused_rnn(Tensor(x_onehot.reshape(steps, 1, vocab)), Tensor(h0.reshape(1, -1)), p["Wxh"], p["Whh"], p["bh"])
    logits = hs.reshape(steps, -1) @ p["Why"].T + p["by"]  # (T, V)
    return functional.cross_entropy(logits, targets, reduction="sum")


def _torch_charrnn_loss_ops(p, x_onehot, targets, h0):
    xp = x_onehot @ p["Wxh"].T + p["bh"]
    w_hh_t = p["Whh"].T
    h = h0
    hs = []
    for t in range(len(targets)):
        h = torch.tanh(xp[t] + h @ w_hh_t)
        hs.append(h)
    logits = torch.stack(hs) @ p["Why"].T + p["by"]
    return torch.nn.functional.cross_entropy(logits, targets, reduction="sum")


def check_charrnn() -> None:
    """Gradients of every char-RNN implementation equal the numpy reference (float64)."""
    params = ref.charrnn_init(CHARRNN["vocab"], CHARRNN["hidden"], "float64", seed=1)
    for p in params.values():  # larger weights than training's init, so the check is not trivially small
        p += np.random.default_rng(2).standard_normal(p.shape) * 0.1
    inputs, targets = _charrnn_data()
    h0 = np.zeros((CHARRNN["hidden"], 1))
    loss, grads, _ = ref.charrnn_loss_and_grads(params, inputs, targets, h0)
    loss_b, grads_b, _ = ref.charrnn_loss_and_grads_batched(params, inputs, targets, h0)
    _close("numpy batched", "loss", np.float64(loss_b), np.float64(loss))
    for k in ref.CHARRNN_PARAMS:
        _close("numpy batched", k, grads_b[k], grads[k])
    x = _one_hot(inputs, CHARRNN["vocab"], np.float64)
    for label, fn in (("tinygrad ops", _tg_charrnn_loss_ops), ("tinygrad fused", _tg_charrnn_loss_fused)):
        p = _tg_params(params)
        out = fn(p, x, targets, h0.reshape(-1))
        out.backward()
        _close(label, "loss", out.data, np.float64(loss))
        for k in ref.CHARRNN_PARAMS:
            _close(label, k, p[k].grad, grads[k])
    if torch is not None:
        p = {k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, requires_grad=True) for k, v in params.items()}
        h0_torch = torch.zeros(CHARRNN["hidden"], dtype=torch.float64)
        out = _torch_charrnn_loss_ops(p, torch.tensor(x), torch.tensor(targets), h0_torch)
        out.backward()
        for k in ref.CHARRNN_PARAMS:
            _close("torch ops", k, p[k].grad.numpy(), grads[k])


def make_charrnn(dtype: str = "float32") -> dict:
    """One training step: forward over 25 characters, backward, clip to [-5, 5], Adagrad."""
    vocab, hidden = CHARRNN["vocab"], CHARRNN["hidden"]
    inputs, targets = _charrnn_data()
    x = _one_hot(inputs, vocab, dtype)
    impls = {}

    params = ref.charrnn_init(vocab, hidden, dtype)
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    h_col = np.zeros((hidden, 1), dtype=dtype)

    def numpy_step():
        _, grads, _ = ref.charrnn_loss_and_grads(params, inputs, targets, h_col)
        ref.clip_and_adagrad(params, grads, memory)

    impls["numpy (hand-derived)"] = numpy_step

    params_b = ref.charrnn_init(vocab, hidden, dtype)
    memory_b = {k: np.zeros_like(v) for k, v in params_b.items()}

    def numpy_batched_step():
        _, grads, _ = ref.charrnn_loss_and_grads_batched(params_b, inputs, targets, h_col)
        ref.clip_and_adagrad(params_b, grads, memory_b)

    impls["numpy, weight grads batched"] = numpy_batched_step

    def tg_step(loss_fn):
        p = _tg_params(ref.charrnn_init(vocab, hidden, dtype))
        mem = {k: np.zeros_like(v.data) for k, v in p.items()}
        h0 = np.zeros(hidden, dtype=dtype)

        def step():
            for v in p.values():
                v.grad = None
            loss_fn(p, x, targets, h0).backward()
            ref.clip_and_adagrad({k: v.data for k, v in p.items()}, {k: v.grad for k, v in p.items()}, mem)

        return step

    impls["tinygrad_rnn ops"] = tg_step(_tg_charrnn_loss_ops)
    impls["tinygrad_rnn fused"] = tg_step(_tg_charrnn_loss_fused)

    if torch is not None:
        tx, tt = torch.from_numpy(x), torch.from_numpy(targets)
        init = ref.charrnn_init(vocab, hidden, dtype)
        tp = {k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, requires_grad=True) for k, v in init.items()}
        tmem = {k: np.zeros(tuple(v.shape), dtype=dtype) for k, v in tp.items()}
        th0 = torch.zeros(hidden, dtype=getattr(torch, dtype))

        def torch_ops_step():
            for v in tp.values():
                v.grad = None
            _torch_charrnn_loss_ops(tp, tx, tt, th0).backward()
            with torch.no_grad():
                ref.clip_and_adagrad(
                    {k: v.detach().numpy() for k, v in tp.items()}, {k: v.grad.numpy() for k, v in tp.items()}, tmem
                )

        rnn = torch.nn.RNN(vocab, hidden).to(getattr(torch, dtype))
        why = torch.tensor(init["Why"], requires_grad=True)
        by = torch.tensor(init["by"].reshape(-1), requires_grad=True)
        fused_params = [*rnn.parameters(), why, by]
        fmem = [np.zeros(tuple(v.shape), dtype=dtype) for v in fused_params]
        tx3 = tx.reshape(len(inputs), 1, vocab)
        th03 = th0.reshape(1, 1, hidden)

        def torch_fused_step():
            for v in fused_params:
                v.grad = None
            out, _ = rnn(tx3, th03)
            logits = out.reshape(len(inputs), hidden) @ why.T + by
            torch.nn.functional.cross_entropy(logits, tt, reduction="sum").backward()
            with torch.no_grad():
                names = [str(i) for i in range(len(fused_params))]
                ref.clip_and_adagrad(
                    {n: v.detach().numpy() for n, v in zip(names, fused_params)},
                    {n: v.grad.numpy() for n, v in zip(names, fused_params)},
                    dict(zip(names, fmem)),
                )

        impls["torch ops"] = torch_ops_step
        impls["torch nn.RNN"] = torch_fused_step
    return impls


# ------------------------------------------------------------------ char-RNN, written per step
def _tg_charrnn_loss_per_step(p: dict[str, Tensor], inputs, targets, h: Tensor, vocab: int) -> Tensor:
    """The char-RNN exactly as the course writes it: 1-D vectors, one step at a time, per-step loss."""
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros(vocab, dtype=p["Wxh"].dtype)  # one-hot x_t, (V,)
        x[inputs[t]] = 1
        h = (p["Wxh"] @ x + p["Whh"] @ h + p["bh"]).tanh()  # h_t = tanh(W_xh x_t + W_hh h_(t-1) + b_h), (H,)
        y = p["Why"] @ h + p["by"]  # (V,)
        loss = loss - y.log_softmax()[targets[t]]  # -log p_t[target_t]
    return loss


def _torch_charrnn_loss_per_step(p, inputs, targets, h, vocab: int):
    """The same, in PyTorch, written the same way."""
    loss = 0.0
    for t in range(len(inputs)):
        x = torch.zeros(vocab, dtype=p["Wxh"].dtype)
        x[inputs[t]] = 1
        h = torch.tanh(p["Wxh"] @ x + p["Whh"] @ h + p["bh"])
        y = p["Why"] @ h + p["by"]
        loss = loss - torch.log_softmax(y, 0)[targets[t]]
    return loss


def check_charrnn_per_step() -> None:
    """Gradients of the per-step char-RNN (ours and PyTorch's) equal the numpy reference (float64)."""
    vocab, hidden = CHARRNN["vocab"], CHARRNN["hidden"]
    params = ref.charrnn_init(vocab, hidden, "float64", seed=1)
    for v in params.values():
        v += np.random.default_rng(2).standard_normal(v.shape) * 0.1
    inputs, targets = _charrnn_data()
    loss, grads, _ = ref.charrnn_loss_and_grads(params, inputs, targets, np.zeros((hidden, 1)))
    p = _tg_params(params)
    out = _tg_charrnn_loss_per_step(p, inputs, targets, Tensor(np.zeros(hidden)), vocab)
    out.backward()
    _close("tinygrad per-step", "loss", out.data, np.float64(loss))
    for k in ref.CHARRNN_PARAMS:
        _close("tinygrad per-step", k, p[k].grad, grads[k])
    if torch is not None:
        tp = {k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, requires_grad=True) for k, v in params.items()}
        out = _torch_charrnn_loss_per_step(tp, inputs, targets, torch.zeros(hidden, dtype=torch.float64), vocab)
        out.backward()
        for k in ref.CHARRNN_PARAMS:
            _close("torch per-step", k, tp[k].grad.numpy(), grads[k])


def make_charrnn_per_step(dtype: str = "float32") -> dict:
    """One training step as a user writes it: per-step forward and loss, backward, clip to 5, Adagrad(0.1)."""
    vocab, hidden = CHARRNN["vocab"], CHARRNN["hidden"]
    inputs, targets = _charrnn_data()
    params = ref.charrnn_init(vocab, hidden, dtype)
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    h_col = np.zeros((hidden, 1), dtype=dtype)

    def numpy_step():
        _, grads, _ = ref.charrnn_loss_and_grads(params, inputs, targets, h_col)
        ref.clip_and_adagrad(params, grads, memory)

    impls = {"numpy (hand-derived)": numpy_step}

    p = _tg_params(ref.charrnn_init(vocab, hidden, dtype))
    opt = tg.optim.Adagrad(list(p.values()), lr=0.1)
    h0 = Tensor(np.zeros(hidden, dtype=dtype))

    def tg_step():
        opt.zero_grad()
        _tg_charrnn_loss_per_step(p, inputs, targets, h0, vocab).backward()
        nn.utils.clip_grad_value_(p.values(), 5.0)
        opt.step()

    impls["tinygrad_rnn per-step"] = tg_step
    if torch is not None:
        init = ref.charrnn_init(vocab, hidden, dtype)
        tp = {k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, requires_grad=True) for k, v in init.items()}
        topt = torch.optim.Adagrad(tp.values(), lr=0.1)
        th0 = torch.zeros(hidden, dtype=getattr(torch, dtype))
        t_inputs, t_targets = inputs.tolist(), targets.tolist()

        def torch_step():
            topt.zero_grad()
            _torch_charrnn_loss_per_step(tp, t_inputs, t_targets, th0, vocab).backward()
            torch.nn.utils.clip_grad_value_(tp.values(), 5.0)
            topt.step()

        impls["torch per-step"] = torch_step
    return impls


# ----------------------------------------------------------------------------------------- LSTM
def _lstm_data(dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((LSTM["steps"], LSTM["batch"], LSTM["input"])).astype(dtype)
    dout = rng.standard_normal((LSTM["steps"], LSTM["batch"], LSTM["hidden"])).astype(dtype)
    return x, dout


def _tg_lstm(params: dict[str, np.ndarray], fused: bool, dtype) -> nn.LSTM:
    lstm = nn.LSTM(LSTM["input"], LSTM["hidden"], dtype=dtype, fused=fused)
    lstm.load_state_dict({f"{k}_l0": v for k, v in params.items()})
    return lstm


def _torch_lstm_cell_forward(p, x):
    hidden = p["weight_hh"].shape[1]
    h = torch.zeros(x.shape[1], hidden, dtype=x.dtype)
    c = torch.zeros_like(h)
    outs = []
    for t in range(x.shape[0]):
        gates = x[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs)


def check_lstm() -> None:
    """Gradients of every LSTM implementation equal the numpy reference (float64)."""
    params = ref.lstm_init(LSTM["input"], LSTM["hidden"], "float64", seed=3)
    x, dout = _lstm_data("float64")
    out_ref, grads = ref.lstm_forward_backward(params, x, dout)
    for label, fused in (("tinygrad ops", False), ("tinygrad fused", True)):
        lstm = _tg_lstm(params, fused, "float64")
        xt = Tensor(x, requires_grad=True)
        out, _ = lstm(xt)
        out.backward(dout)
        _close(label, "output", out.data, out_ref)
        _close(label, "x", xt.grad, grads["x"])
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            _close(label, k, getattr(lstm, f"{k}_l0").grad, grads[k])
    if torch is not None:
        p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        xt = torch.tensor(x, requires_grad=True)
        _torch_lstm_cell_forward(p, xt).backward(torch.tensor(dout))
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            _close("torch ops", k, p[k].grad.numpy(), grads[k])


def make_lstm(dtype: str = "float32") -> dict:
    """Forward and backward of a one-layer LSTM (B 32, I 32, H 128, T 50), gradients for x too."""
    params = ref.lstm_init(LSTM["input"], LSTM["hidden"], dtype)
    x, dout = _lstm_data(dtype)
    impls = {"numpy (hand-derived)": lambda: ref.lstm_forward_backward(params, x, dout)}

    def tg_run(fused: bool):
        lstm = _tg_lstm(params, fused, dtype)

        def run():
            lstm.zero_grad()
            xt = Tensor(x, requires_grad=True)
            out, _ = lstm(xt)
            out.backward(dout)

        return run

    impls["tinygrad_rnn ops"] = tg_run(False)
    impls["tinygrad_rnn fused"] = tg_run(True)
    if torch is not None:
        tdout = torch.from_numpy(dout)
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

        def torch_ops():
            for v in tp.values():
                v.grad = None
            xt = torch.tensor(x, requires_grad=True)
            _torch_lstm_cell_forward(tp, xt).backward(tdout)

        tl = torch.nn.LSTM(LSTM["input"], LSTM["hidden"]).to(getattr(torch, dtype))

        def torch_fused():
            tl.zero_grad(set_to_none=True)
            xt = torch.tensor(x, requires_grad=True)
            out, _ = tl(xt)
            out.backward(tdout)

        impls["torch ops"] = torch_ops
        impls["torch nn.LSTM"] = torch_fused
    return impls


def make_lstm_bookkeeping(dtype: str = "float32") -> dict:
    """The LSTM workload's steps at B 1, I 1, H 1: the arithmetic is nothing, the graph's bookkeeping is all.

    The hand-derived numpy LSTM and the op-level tinygrad_rnn one, as in :func:`make_lstm`; the
    difference of the two is what the graph costs per call apart from the arithmetic.
    """
    params = ref.lstm_init(1, 1, dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((LSTM["steps"], 1, 1)).astype(dtype)
    dout = rng.standard_normal((LSTM["steps"], 1, 1)).astype(dtype)
    lstm = nn.LSTM(1, 1, dtype=dtype)
    lstm.load_state_dict({f"{k}_l0": v for k, v in params.items()})

    def tg_run():
        lstm.zero_grad()
        xt = Tensor(x, requires_grad=True)
        out, _ = lstm(xt)
        out.backward(dout)

    return {"numpy (hand-derived)": lambda: ref.lstm_forward_backward(params, x, dout), "tinygrad_rnn ops": tg_run}


def make_fused_lstm_matmuls(dtype: str = "float32") -> dict:
    """Only the matrix products the fused LSTM makes in one forward and backward, the same shapes and calls.

    The input projection of all steps, a ``(4H, H) @ (H, B)`` product per step forward and its
    transpose per step backward, and per block of 16 steps the ``dx``, ``dW_ih`` and ``dW_hh``
    products (see ``tinygrad_rnn/nn/fused.py``). What is left of the fused layer's time is its
    element-wise gate work and bookkeeping.
    """
    steps, batch, features, hidden = LSTM["steps"], LSTM["batch"], LSTM["input"], LSTM["hidden"]
    gates, chunk = 4 * hidden, 16
    rng = np.random.default_rng(0)
    W_ih, W_hh = (rng.standard_normal((gates, n)).astype(dtype) for n in (features, hidden))
    x = rng.standard_normal((steps, batch, features)).astype(dtype)
    hs = rng.standard_normal((steps + 1, hidden, batch)).astype(dtype)
    acts = np.empty((steps, gates, batch), dtype=dtype)
    rows = rng.standard_normal((steps * batch, hidden)).astype(dtype)  # h_(t-1), batch-major
    recurrent, dh = np.empty((gates, batch), dtype=dtype), np.empty((hidden, batch), dtype=dtype)
    block = rng.standard_normal((gates, chunk * batch)).astype(dtype)
    dx = np.empty((steps * batch, features), dtype=dtype)
    x2 = x.reshape(steps * batch, features)

    def run():
        np.matmul(W_ih, x.transpose(0, 2, 1), out=acts)
        for t in range(steps):
            np.matmul(W_hh, hs[t], out=recurrent)
        for t in range(steps):
            np.matmul(W_hh.T, acts[t], out=dh)
        for lo in range(0, steps, chunk):
            n = (min(lo + chunk, steps) - lo) * batch
            cols = slice(lo * batch, lo * batch + n)
            np.matmul(block[:, :n].T, W_ih, out=dx[cols])
            block[:, :n] @ x2[cols]
            block[:, :n] @ rows[cols]

    return {"numpy: the fused LSTM's matmuls alone": run}


# ------------------------------------------------------------------- fused layers vs PyTorch
def make_fused_layer(cell: str, dtype: str = "float32") -> dict:
    """Forward and backward of ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with ``fused=True`` against PyTorch's layer.

    Same sizes as the LSTM workload (B 32, I 32, H 128, T 50), same weights, gradients for x too.
    PyTorch's layer comes first (the baseline) when it is installed.
    """
    x, dout = _lstm_data(dtype)
    names = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
    ours = getattr(nn, names[cell])(LSTM["input"], LSTM["hidden"], dtype=dtype, fused=True)
    impls = {}
    if torch is not None:
        theirs = getattr(torch.nn, names[cell])(LSTM["input"], LSTM["hidden"]).to(getattr(torch, dtype))
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        tdout = torch.from_numpy(dout)

        def torch_run():
            theirs.zero_grad(set_to_none=True)
            xt = torch.tensor(x, requires_grad=True)
            out, _ = theirs(xt)
            out.backward(tdout)

        impls[f"torch nn.{names[cell]}"] = torch_run

    def tg_run():
        ours.zero_grad()
        xt = Tensor(x, requires_grad=True)
        out, _ = ours(xt)
        out.backward(dout)

    impls[f"tinygrad_rnn fused {names[cell]}"] = tg_run
    return impls


# --------------------------------------------------------------------------- per-op overhead
def make_per_op(dtype: str = "float32") -> dict:
    """One 1x1 add forward and its backward into two leaves that accumulate ``.grad``."""
    an, bn = np.ones((1, 1), dtype=dtype), np.ones((1, 1), dtype=dtype)
    ga, gb = np.zeros_like(an), np.zeros_like(bn)
    g = np.ones_like(an)

    def numpy_op():
        c = an + bn  # forward
        np.add(ga, g, out=ga)  # backward: dc/da = dc/db = 1, accumulated
        np.add(gb, g, out=gb)
        return c

    a, b = Tensor(an.copy(), requires_grad=True), Tensor(bn.copy(), requires_grad=True)

    def tg_op():
        (a + b).backward(g)

    impls = {"numpy (hand-derived)": numpy_op, "tinygrad_rnn": tg_op}
    if torch is not None:
        ta = torch.ones((1, 1), dtype=getattr(torch, dtype), requires_grad=True)
        tb = torch.ones((1, 1), dtype=getattr(torch, dtype), requires_grad=True)
        tg_ = torch.ones((1, 1), dtype=getattr(torch, dtype))

        def torch_op():
            (ta + tb).backward(tg_)

        impls["torch"] = torch_op
    return impls


# --------------------------------------------------------------------------- long LSTM memory
def long_lstm_run(engine: str, steps: int, dtype: str = "float32"):
    """A fused one-layer LSTM (B 32, I 32, H 128) over ``steps`` steps: a function running fwd + bwd once."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, LSTM["batch"], LSTM["input"])).astype(dtype)
    if engine == "torch":
        layer = torch.nn.LSTM(LSTM["input"], LSTM["hidden"]).to(getattr(torch, dtype))
        tx = torch.from_numpy(x)

        def run_torch():
            layer.zero_grad(set_to_none=True)
            out, _ = layer(tx)
            out.sum().backward()

        return run_torch
    layer = nn.LSTM(LSTM["input"], LSTM["hidden"], dtype=dtype, fused=True)

    def run_tg():
        layer.zero_grad()
        out, _ = layer(Tensor(x))
        out.sum().backward()

    return run_tg


# --------------------------------------------------------------------------- long graphs
def tg_chain_graph(n: int):
    """Build a chain of ``n`` multiplications; return (output, function that runs backward)."""
    x = Tensor(np.ones(1), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    loss = y.sum()
    return loss, loss.backward


def tg_chain(n: int) -> None:
    """Build a chain of ``n`` multiplications and backpropagate through it."""
    tg_chain_graph(n)[1]()


def torch_chain_graph(n: int):
    """The same chain in PyTorch (float64, like ours)."""
    x = torch.ones(1, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    loss = y.sum()
    return loss, loss.backward


def torch_chain(n: int) -> None:
    """Build and backpropagate the PyTorch chain."""
    torch_chain_graph(n)[1]()


def micro_chain(n: int) -> None:
    """The same chain with the micrograd-style engine (recursive topological sort)."""
    x = MicroValue(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.backward()


def make_unrolled(steps: int, fused: bool):
    """An RNN (input 8, hidden 32, batch 1) unrolled over ``steps`` steps: forward + backward."""
    tg.manual_seed(0)
    rnn = nn.RNN(8, 32, fused=fused)
    x = np.random.default_rng(0).standard_normal((steps, 1, 8)) * 0.5

    def run():
        rnn.zero_grad()
        out, _ = rnn(Tensor(x))
        (out * out).mean().backward()

    return run


# --------------------------------------------------------------------------- scalar engine
def make_scalar(samples: int = 10) -> dict:
    """A 3-16-16-1 tanh MLP, squared error over a few samples, forward + backward, one Value per number."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (samples, 3)).tolist()
    ys = rng.uniform(-1, 1, samples).tolist()
    impls = {}
    micro = micro_mlp([3, 16, 16, 1], seed=0)
    ours = scalar_mlp([3, 16, 16, 1], seed=0)

    def run(model, value_type):
        def step():
            for p in model.parameters:
                p.grad = 0.0
            loss = value_type(0.0)
            for x, y in zip(xs, ys):
                diff = model(x) - y
                loss = loss + diff * diff
            loss.backward()

        return step

    impls["micrograd-style"] = run(micro, MicroValue)
    impls["tinygrad_rnn.scalar"] = run(ours, tg.Value)
    return impls
