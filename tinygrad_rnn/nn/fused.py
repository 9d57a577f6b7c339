"""Fused recurrent layers: a whole sequence of RNN, LSTM or GRU steps as one graph node.

The ops path (:mod:`tinygrad_rnn.nn.rnn`) builds ~20 nodes per LSTM step, so every gate can be
inspected. The fused path computes the same numbers with a hand-derived backward, the way fast
libraries do:

* the input projections of **all** steps are one matmul, ``(T*B, I) @ (I, gates*H)``;
* all gates of a step come from one stacked matmul with ``W_hh`` (``(gates*H, H)``);
* in backward, each step only computes the gate gradients and ``dh``; the weight gradients are
  then **one** matmul over all steps (``dA^T @ X`` and ``dA^T @ H_prev``).

Equal to the ops path to float64 round-off (``tests/test_fused.py`` checks 1e-12, gradients included).

How steps stay visible: the node is made in the layer's scope (e.g. ``Scope("LSTM.l0", None)``),
its role says so (``role.kind == "fused"``) and ``role.span`` holds the time steps it covers
(:func:`is_fused`, :func:`fused_steps`).
The rule for inspection tools that need the op-level graph (per-step gradient contributions of a
shared weight, Jacobian norms along the unrolled path, op-level drawing): check
:func:`has_fused` on the model (or :func:`is_fused` on a node) and rerun the forward inside
:func:`ops_path`, which switches every fused layer to the ops path for the block -- never report a
single fused contribution as if it were one step's.

Select per layer with ``nn.LSTM(..., fused=True)`` (``RNN`` and ``GRU`` likewise), or call the
functions here directly on tensors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ..autograd import Role
from ..errors import ArgumentError, ShapeError
from ..ops import register
from ..tensor import Tensor, _make

#: Op names of the fused nodes; a node with one of these covers several time steps.
FUSED_OPS = ("fused_rnn", "fused_lstm", "fused_gru")


def is_fused(node) -> bool:
    """True if ``node`` is a fused whole-sequence node: its producer declared ``role.kind == "fused"``."""
    role = getattr(node, "role", None)
    return role is not None and role.kind == "fused"


def fused_steps(node) -> range | None:
    """The time steps a fused node covers (``range(T)``, its ``role.span``), or None for any other node."""
    return node.role.span if is_fused(node) else None


def _fused(out: Tensor, cell: str, steps: int) -> Tensor:
    """Declare ``out`` a fused node of ``cell`` covering time steps ``0 .. steps - 1``."""
    out.role = Role(cell, None, "fused", span=range(steps))
    return out


def has_fused(module) -> bool:
    """True if ``module`` or any sub-module runs a recurrent layer on the fused path."""
    return any(getattr(m, "fused", False) for _, m in module.named_modules())


@contextlib.contextmanager
def ops_path(module) -> Iterator[None]:
    """Run every fused recurrent layer inside ``module`` on the op-level path within the block.

    Inspection tools that need one node per op (per-step contributions, Jacobians, op-level
    drawings) wrap the forward pass in this; the numbers are the same to round-off, only the graph
    is finer. The layers' ``fused`` flags are restored on exit.

    Example:
        >>> with ops_path(model):
        ...     loss = model(x).sum()      # an op-level graph, one node per gate and step
    """
    switched = [m for _, m in module.named_modules() if getattr(m, "fused", False)]
    for m in switched:
        m.fused = False
    try:
        yield
    finally:
        for m in switched:
            m.fused = True


# ------------------------------------------------------------------------------------ helpers
def _check(op: str, x: Tensor, states: tuple, w_ih: Tensor, w_hh: Tensor, gates: int) -> tuple[int, int, int]:
    """Validate shapes; return (T, B, H)."""
    if x.ndim != 3:
        raise ShapeError(f"{op}: input must be (T, B, I), got shape {x.shape}")
    steps, batch, features = x.shape
    hidden = w_hh.shape[-1]
    if w_ih.shape != (gates * hidden, features) or w_hh.shape != (gates * hidden, hidden):
        raise ShapeError(
            f"{op}: weight_ih {w_ih.shape} and weight_hh {w_hh.shape} do not fit input {x.shape}; expected "
            f"({gates * hidden}, {features}) and ({gates * hidden}, {hidden})"
        )
    for s in states:
        if s.shape != (batch, hidden):
            raise ShapeError(f"{op}: state has shape {s.shape}, expected (B, H) = ({batch}, {hidden})")
    if steps == 0:
        raise ShapeError(f"{op}: the input sequence is empty (shape {x.shape}); need T >= 1")
    return steps, batch, hidden


def _bias(b_ih: Tensor | None, b_hh: Tensor | None):
    """The summed bias as an array (or None), and the bias tensors that are graph parents."""
    present = tuple(b for b in (b_ih, b_hh) if b is not None)
    if not present:
        return None, ()
    total = present[0].data if len(present) == 1 else present[0].data + present[1].data
    return total, present


def _sigmoid_(a: np.ndarray) -> None:
    """In place: a <- 1 / (1 + e**-a), written as 0.5 (1 + tanh(a / 2)), which never overflows."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _project(x: np.ndarray, w_ih: np.ndarray, bias) -> np.ndarray:
    """Input projections of every step in one matmul: (T, B, I) -> (T, B, G)."""
    steps, batch, features = x.shape
    a = (x.reshape(steps * batch, features) @ w_ih.T).reshape(steps, batch, w_ih.shape[0])
    if bias is not None:
        a += bias
    return a


def _param_grads(d: np.ndarray, x: Tensor, h_prev: np.ndarray, w_ih: Tensor, w_hh: Tensor, W_ih: np.ndarray, rows=None):
    """Gradients of x, W_ih, W_hh and the (summed) bias from the pre-activation gradients of all steps.

    ``d`` is ``(T, B, G)``; ``h_prev`` holds h_0..h_(T-1), ``(T, B, H)``; ``W_ih`` is the weight
    array the forward used. Each weight gradient is one matmul over all steps. ``rows`` undoes an
    internal reordering of the gate rows.
    """
    steps, batch, gates = d.shape
    d2 = d.reshape(steps * batch, gates)
    dx = (d2 @ W_ih).reshape(x.shape) if x.requires_grad else None
    dw_ih = d2.T @ x.data.reshape(steps * batch, x.shape[-1]) if w_ih.requires_grad else None
    dw_hh = d2.T @ h_prev.reshape(steps * batch, h_prev.shape[-1]) if w_hh.requires_grad else None
    db = d2.sum(axis=0)
    if rows is not None:
        dw_ih = None if dw_ih is None else dw_ih[rows]
        dw_hh = None if dw_hh is None else dw_hh[rows]
        db = db[rows]
    return dx, dw_ih, dw_hh, db


# --------------------------------------------------------------------------------- fused RNN
@register("fused_rnn")
def fused_rnn(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """Elman RNN over a whole sequence as one node: ``h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)``.

    Args:
        x: inputs ``(T, B, I)``.
        h0: initial state ``(B, H)``.
        w_ih, w_hh: ``(H, I)`` and ``(H, H)``, PyTorch's layout.
        b_ih, b_hh: ``(H,)`` each, or None.
        nonlinearity: "tanh" or "relu".

    Returns:
        ``h_1..h_T`` as one tensor ``(T, B, H)``; ``h_n`` is its last entry.

    Raises:
        ShapeError: if the shapes do not fit together.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ArgumentError(f"fused_rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    steps, batch, hidden = _check("fused_rnn", x, (h0,), w_ih, w_hh, 1)
    bias, bias_parents = _bias(b_ih, b_hh)
    W_hh = w_hh.data
    a = _project(x.data, w_ih.data, bias)  # (T, B, H), becomes the pre-activations
    hs = np.empty((steps + 1, batch, hidden), dtype=a.dtype)  # h_0 .. h_T
    hs[0] = h0.data
    for t in range(steps):
        pre = a[t]
        pre += hs[t] @ W_hh.T
        if nonlinearity == "tanh":
            np.tanh(pre, out=hs[t + 1])
        else:
            np.maximum(pre, 0, out=hs[t + 1])
    parents = (x, h0, w_ih, w_hh, *bias_parents)

    def backward(g):
        d = np.empty_like(a)  # gradients of the pre-activations, all steps
        dh = np.zeros_like(hs[0])
        for t in range(steps - 1, -1, -1):
            dh = dh + g[t]
            h = hs[t + 1]
            if nonlinearity == "tanh":
                np.multiply(dh, 1 - h * h, out=d[t])
            else:
                np.multiply(dh, h > 0, out=d[t])
            dh = d[t] @ W_hh
        dx, dw_ih, dw_hh, db = _param_grads(d, x, hs[:-1], w_ih, w_hh, w_ih.data)
        return (dx, dh if h0.requires_grad else None, dw_ih, dw_hh) + (db,) * len(bias_parents)

    return _fused(_make(hs[1:], "fused_rnn", parents, backward), "RNN", steps)


# -------------------------------------------------------------------------------- fused LSTM
def _ifog(hidden: int) -> np.ndarray:
    """Row order that puts PyTorch's (i, f, g, o) gates as (i, f, o, g): the three sigmoids side by side."""
    return np.concatenate(
        [np.arange(0, 2 * hidden), np.arange(3 * hidden, 4 * hidden), np.arange(2 * hidden, 3 * hidden)]
    )


@register("fused_lstm")
def _fused_lstm_node(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """The fused LSTM node: returns ``[h_1; ...; h_T; c_T]`` packed as ``(T + 1, B, H)``.

    Inside, every step works feature-major, ``(gates * H, B)``: ``a = W_hh h`` puts each gate in a
    contiguous block of rows, so every elementwise op runs on contiguous memory (numpy's fast loops).
    The input projections of all steps are one batched matmul, laid out ``(T, 4H, B)`` so that step
    t reads one contiguous block (a strided block of a ``(4H, T*B)`` array cost more than the step's
    matmul: a page per row). The rows of the sigmoid gates are pre-scaled by 1/2 (exact in binary
    floating point), so one ``tanh`` over all four gates serves both ``σ(a) = (1 + tanh(a / 2)) / 2``
    and ``tanh(g)``.
    """
    steps, batch, hidden = _check("fused_lstm", x, (h0, c0), w_ih, w_hh, 4)
    order = _ifog(hidden)
    rows = np.argsort(order)  # maps gradient rows back to PyTorch's order
    bias, bias_parents = _bias(b_ih, b_hh)
    W_ih, W_hh = w_ih.data[order], w_hh.data[order]  # (4H, ·) with gates i, f, o, g
    H, H2, H3 = hidden, 2 * hidden, 3 * hidden
    x2 = x.data.reshape(steps * batch, x.shape[-1])  # (T*B, I); not -1, which fails for batch 0
    # Half-scaled copies for the forward: the matmuls then give a / 2 on the i, f, o rows.
    half = np.ones((4 * hidden, 1), dtype=np.result_type(W_ih, W_hh))
    half[:H3] = 0.5
    W_hh_s = W_hh * half
    # Every step's input projection (and the bias), (T, 4H, B); each step then adds W_hh h in place,
    # so this array ends up holding the pre-activations, then the gate values.
    acts = np.matmul(W_ih * half, x.data.transpose(0, 2, 1))
    if bias is not None:
        acts += bias[order, None] * half
    dtype = acts.dtype
    hs = np.empty((steps + 1, hidden, batch), dtype=dtype)  # h_0 .. h_T, feature-major
    cs = np.empty((steps + 1, hidden, batch), dtype=dtype)  # c_0 .. c_T
    tanh_c = np.empty((steps, hidden, batch), dtype=dtype)
    ig = np.empty((hidden, batch), dtype=dtype)
    recurrent = np.empty((4 * hidden, batch), dtype=dtype)
    hs[0] = h0.data.T
    cs[0] = c0.data.T
    for t in range(steps):
        a = acts[t]
        np.matmul(W_hh_s, hs[t], out=recurrent)  # all four gates in one matmul
        a += recurrent
        np.tanh(a, out=a)
        sig = a[:H3]
        sig *= 0.5
        sig += 0.5  # i, f, o = σ
        c = cs[t + 1]
        np.multiply(a[H:H2], cs[t], out=c)  # f * c
        np.multiply(a[:H], a[H3:], out=ig)
        c += ig  # + i * g
        np.tanh(c, out=tanh_c[t])
        np.multiply(a[H2:H3], tanh_c[t], out=hs[t + 1])  # h = o * tanh(c)
    packed = np.empty((steps + 1, batch, hidden), dtype=dtype)
    packed[:steps] = hs[1:].transpose(0, 2, 1)
    packed[steps] = cs[steps].T
    parents = (x, h0, c0, w_ih, w_hh, *bias_parents)

    def backward(g):
        g = np.ascontiguousarray(g.transpose(0, 2, 1))  # (T + 1, H, B)
        # Pre-activation gradients of all steps, (T, 4H, B): step t writes one contiguous block.
        d = np.empty((steps, 4 * hidden, batch), dtype=dtype)
        dh = np.zeros((hidden, batch), dtype=dtype)
        dc = g[steps].copy()  # gradient reaching c_T from outside
        W_hh_t = np.ascontiguousarray(W_hh.T)  # (H, 4H)
        for t in range(steps - 1, -1, -1):
            a, tc, da = acts[t], tanh_c[t], d[t]
            i, f, o, gg = a[:H], a[H:H2], a[H2:H3], a[H3:]
            dh += g[t]
            dc += dh * o * (1 - tc * tc)
            np.multiply(dc, gg, out=da[:H])  # d i
            np.multiply(dc, cs[t], out=da[H:H2])  # d f
            np.multiply(dh, tc, out=da[H2:H3])  # d o
            np.multiply(dc, i, out=da[H3:])  # d g
            da[:H3] *= a[:H3] * (1 - a[:H3])  # through the three sigmoids
            da[H3:] *= 1 - gg * gg  # through tanh
            dc *= f
            dh = W_hh_t @ da
        # Weight gradients: one matmul over all steps each, (4H, T*B) @ (T*B, ·), after one copy
        # into that layout.
        d2 = d.transpose(1, 0, 2).reshape(4 * hidden, steps * batch)
        dw_ih = (d2 @ x2)[rows] if w_ih.requires_grad else None
        h_prev = hs[:steps].transpose(0, 2, 1).reshape(steps * batch, hidden)
        dw_hh = (d2 @ h_prev)[rows] if w_hh.requires_grad else None
        db = d2.sum(axis=1)[rows]
        dx = (d2.T @ W_ih).reshape(x.shape) if x.requires_grad else None
        dh0 = dh.T.copy() if h0.requires_grad else None
        dc0 = dc.T.copy() if c0.requires_grad else None
        return (dx, dh0, dc0, dw_ih, dw_hh) + (db,) * len(bias_parents)

    return _fused(_make(packed, "fused_lstm", parents, backward), "LSTM", steps)


def fused_lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM over a whole sequence as one ``fused_lstm`` node (gates i, f, g, o as PyTorch).

    Equations at every step (σ the logistic function)::

        i, f, g, o = σ(·), σ(·), tanh(·), σ(·)  of  x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh
        c_t = f c_(t-1) + i g;   h_t = o tanh(c_t)

    Args:
        x: inputs ``(T, B, I)``.
        h0, c0: initial states ``(B, H)``.
        w_ih, w_hh: ``(4H, I)`` and ``(4H, H)``.
        b_ih, b_hh: ``(4H,)`` each, or None.

    Returns:
        ``(output (T, B, H), (h_n, c_n))``, the three read from the one fused node.

    Raises:
        ShapeError: if the shapes do not fit together.
    """
    packed = _fused_lstm_node(x, h0, c0, w_ih, w_hh, b_ih, b_hh)  # (T + 1, B, H)
    steps = x.shape[0]
    return packed[:steps], (packed[steps - 1], packed[steps])


# --------------------------------------------------------------------------------- fused GRU
@register("fused_gru")
def fused_gru(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """GRU over a whole sequence as one node (gates r, z, n as PyTorch).

    Equations at every step::

        r = σ(W_ir x + b_ir + W_hr h + b_hr);   z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn));   h' = (1 - z) n + z h

    Returns:
        ``h_1..h_T`` as one tensor ``(T, B, H)``.

    Raises:
        ShapeError: if the shapes do not fit together.
    """
    steps, batch, hidden = _check("fused_gru", x, (h0,), w_ih, w_hh, 3)
    H, H2 = hidden, 2 * hidden
    W_hh = w_hh.data
    gi = _project(x.data, w_ih.data, None if b_ih is None else b_ih.data)  # (T, B, 3H) -> r, z, n values
    b_h = None if b_hh is None else b_hh.data
    dtype = gi.dtype
    hs = np.empty((steps + 1, batch, hidden), dtype=dtype)
    hn = np.empty((steps, batch, hidden), dtype=dtype)  # W_hn h + b_hn, which r scales
    hs[0] = h0.data
    for t in range(steps):
        a = gi[t]
        gh = hs[t] @ W_hh.T  # (B, 3H)
        if b_h is not None:
            gh += b_h
        a[:, :H2] += gh[:, :H2]
        _sigmoid_(a[:, :H2])  # r, z
        hn[t] = gh[:, H2:]
        n = a[:, H2:]
        n += a[:, :H] * hn[t]
        np.tanh(n, out=n)
        h = hs[t + 1]
        np.subtract(hs[t], n, out=h)
        h *= a[:, H:H2]
        h += n  # h' = n + z (h - n)
    parents = (x, h0, w_ih, w_hh, *(b for b in (b_ih, b_hh) if b is not None))

    def backward(g):
        di = np.empty_like(gi)  # gradients of the input-side pre-activations
        dhh = np.empty_like(gi)  # gradients of the hidden-side pre-activations
        dh = np.zeros((batch, hidden), dtype=dtype)
        for t in range(steps - 1, -1, -1):
            a = gi[t]
            r, z, n = a[:, :H], a[:, H:H2], a[:, H2:]
            dh = dh + g[t]
            dn = dh * (1 - z) * (1 - n * n)  # through tanh: the n pre-activation
            np.multiply(dh * (hs[t] - n), z * (1 - z), out=di[t, :, H:H2])  # z
            np.multiply(dn * hn[t], r * (1 - r), out=di[t, :, :H])  # r
            di[t, :, H2:] = dn
            dhh[t, :, :H2] = di[t, :, :H2]
            np.multiply(dn, r, out=dhh[t, :, H2:])
            dh = dh * z + dhh[t] @ W_hh
        steps_batch = steps * batch
        d_i = di.reshape(steps_batch, 3 * hidden)
        d_h = dhh.reshape(steps_batch, 3 * hidden)
        dx = (d_i @ w_ih.data).reshape(x.shape) if x.requires_grad else None
        grads = [
            dx,
            dh if h0.requires_grad else None,
            d_i.T @ x.data.reshape(steps_batch, x.shape[-1]) if w_ih.requires_grad else None,
            d_h.T @ hs[:steps].reshape(steps_batch, hidden) if w_hh.requires_grad else None,
        ]
        if b_ih is not None:
            grads.append(d_i.sum(axis=0))
        if b_hh is not None:
            grads.append(d_h.sum(axis=0))
        return tuple(grads)

    return _fused(_make(hs[1:], "fused_gru", parents, backward), "GRU", steps)
