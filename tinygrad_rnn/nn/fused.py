"""Fused recurrent layers: a whole sequence of RNN, LSTM or GRU steps as one graph node.

The ops path (:mod:`tinygrad_rnn.nn.rnn`) builds ~20 nodes per LSTM step, so every gate can be
inspected. The fused path computes the same numbers with a hand-derived backward, the way fast
libraries do:

* the input projections of **all** steps are one matmul, ``(T*B, I) @ (I, gates*H)``;
* all gates of a step come from one stacked matmul with ``W_hh`` (``(gates*H, H)``);
* in backward, each step only computes the gate gradients and ``dh``; the weight gradients are
  then **one** matmul over all steps (``dA^T @ X`` and ``dA^T @ H_prev``; the LSTM does one per
  block of 16 steps, so a long sequence needs no transposed copy of all its gate gradients).

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
from ..ops import _make, register
from ..tensor import Tensor

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


# ------------------------------------------------------------------------------- buffer reuse
# A fused LSTM or GRU allocates a few (T, ·, B) arrays and frees them after backward. glibc returns
# freed memory of that size to the system, so each new array costs a page fault per 4 KiB on its
# first write. Arrays that only the kernel ever sees (work arrays, the reordered weights, the
# backward's blocks) are therefore handed back here when it is done with them and reused by the
# next call of that shape. Measured per forward + backward (T 50, B 32, H 128, float32, each in a
# process of its own): LSTM 1,255 faults -> 0, 9.4 -> 7.6 ms; GRU 1,246 -> 0, 8.7 -> 6.6 ms.
_SPARE: dict[tuple, list[np.ndarray]] = {}
_SPARE_LIMIT = 64 * 2**20  # bytes kept at most; larger arrays are left to the allocator
_spare_bytes = [0]


def _take(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array: a spare one of this shape and dtype if there is one, else a new one."""
    spares = _SPARE.get((shape, np.dtype(dtype).str))
    if spares:
        try:
            a = spares.pop()
        except IndexError:  # another thread took the last one in between
            return np.empty(shape, dtype=dtype)
        _spare_bytes[0] -= a.nbytes
        return a
    return np.empty(shape, dtype=dtype)


def _give(*arrays: np.ndarray) -> None:
    """Keep arrays that nothing else refers to any more for reuse by :func:`_take` (up to the limit)."""
    for a in arrays:
        if _spare_bytes[0] + a.nbytes <= _SPARE_LIMIT:
            _SPARE.setdefault((a.shape, a.dtype.str), []).append(a)
            _spare_bytes[0] += a.nbytes


def _transposed(w: np.ndarray) -> np.ndarray:
    """``w.T`` as a row-major spare array (:func:`_take`; give it back after use).

    A recurrence multiplies by it at every step: ``h @ W_hh.T`` through the transposed view is a
    form OpenBLAS runs slowly for a batch of few rows (measured at B 32, H 128: 33 us per step for a
    GRU's ``(H, 3H)``, 22 us with this copy, which takes one pass over the weight per call).
    """
    out = _take(w.shape[::-1], w.dtype)
    np.copyto(out, w.T)
    return out


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
    W_hh_t = _transposed(W_hh)
    for t in range(steps):
        pre = a[t]
        pre += hs[t] @ W_hh_t
        if nonlinearity == "tanh":
            np.tanh(pre, out=hs[t + 1])
        else:
            np.maximum(pre, 0, out=hs[t + 1])
    _give(W_hh_t)
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
def _oifg(hidden: int) -> np.ndarray:
    """Row order that puts PyTorch's (i, f, g, o) gates as (o, i, f, g).

    The three sigmoids (o, i, f) are then side by side for the forward, and the three gates whose
    gradient is a multiple of ``dc`` (i, f, g) side by side for the backward.
    """
    return np.concatenate([np.arange(3 * hidden, 4 * hidden), np.arange(0, 3 * hidden)])


_CHUNK = 16  # backward works on blocks of this many steps: per-step factors, weight gradients


def _lstm_forward(x, h0, c0, W_ih_s, W_hh_s, bias_s, dtype) -> tuple[np.ndarray, ...]:
    """The LSTM recurrence over all steps, feature-major; weights and bias in (o, i, f, g) row order.

    Every step works on ``(4H, B)`` blocks: ``a = W_hh h`` puts each gate in a contiguous block of
    rows, so every elementwise op runs on contiguous memory (numpy's strided loops cost 3-4x more),
    and OpenBLAS is fastest for these shapes in this orientation. The sigmoid rows of the weights
    and bias are pre-scaled by 1/2 (exact in binary floating point), so one ``tanh`` over all four
    gates serves both ``σ(a) = (1 + tanh(a / 2)) / 2`` and ``tanh(g)``.

    Returns:
        ``acts`` ``(T, 4H, B)``: the gate values o, i, f, g of every step; ``hs`` ``(T + 1, H, B)``:
        h_0 .. h_T; ``cs`` ``(T + 1, H, B)``: c_0 .. c_T; ``tanh_c`` ``(T, H, B)``: tanh(c_1) .. tanh(c_T).
    """
    steps, batch, _ = x.shape
    hidden = W_hh_s.shape[1]
    H, H2, H3 = hidden, 2 * hidden, 3 * hidden
    # Every step's input projection (and the bias) in one batched matmul, laid out (T, 4H, B) so that
    # step t reads one contiguous block; each step then adds W_hh h in place, so this array ends up
    # holding the gate values.
    acts = _take((steps, 4 * hidden, batch), dtype)
    np.matmul(W_ih_s, x.transpose(0, 2, 1), out=acts)
    if bias_s is not None:
        acts += bias_s[:, None]
    hs = _take((steps + 1, hidden, batch), dtype)
    cs = _take((steps + 1, hidden, batch), dtype)
    tanh_c = _take((steps, hidden, batch), dtype)
    hs[0] = h0.T
    cs[0] = c0.T
    recurrent = np.empty((4 * hidden, batch), dtype=dtype)
    ig = np.empty((hidden, batch), dtype=dtype)
    for t in range(steps):
        a = acts[t]  # (4H, B)
        np.matmul(W_hh_s, hs[t], out=recurrent)  # all four gates in one matmul
        a += recurrent
        np.tanh(a, out=a)
        sig = a[:H3]
        sig *= 0.5
        sig += 0.5  # o, i, f = σ
        c = cs[t + 1]
        np.multiply(a[H2:H3], cs[t], out=c)  # f * c
        np.multiply(a[H:H2], a[H3:], out=ig)
        c += ig  # + i * g
        np.tanh(c, out=tanh_c[t])
        np.multiply(a[:H], tanh_c[t], out=hs[t + 1])  # h = o * tanh(c)
    return acts, hs, cs, tanh_c


def _lstm_factors(acts, c_prev, tanh_c, s1, s2) -> None:
    """Turn a block of steps' saved values into the factors backward multiplies by, in place.

    With ``dc`` the gradient reaching ``c_t`` and ``dh`` the one reaching ``h_t``, the gradients of
    the pre-activations are ``d_o = dh P_o`` and ``d_{i,f,g} = dc P_{i,f,g}``, and ``dc`` gains
    ``dh A_o``, where::

        P_o = tanh(c) o (1 - o)     P_i = g i (1 - i)     P_f = c_prev f (1 - f)     P_g = i (1 - g²)
        A_o = o (1 - tanh² c)

    ``acts`` (o, i, f, g values, ``(n, 4H, B)``) becomes (P_o, P_i, P_f, P_g), ``tanh_c`` becomes
    ``A_o``, and ``c_prev`` becomes ``f`` (which carries ``dc`` one step back). None of these depends
    on the gradients, so a block of steps takes a few large numpy calls instead of many per step.
    ``s1`` and ``s2`` are scratch arrays shaped like ``tanh_c``.
    """
    H = tanh_c.shape[1]
    o, i, f, g = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H : 3 * H], acts[:, 3 * H :]
    np.subtract(1, o, out=s1)
    s1 *= o
    s1 *= tanh_c  # P_o
    np.multiply(tanh_c, tanh_c, out=tanh_c)
    np.subtract(1, tanh_c, out=tanh_c)
    tanh_c *= o  # A_o
    np.copyto(o, s1)
    np.subtract(1, f, out=s1)
    s1 *= c_prev
    np.copyto(c_prev, f)
    f *= s1  # P_f
    np.multiply(g, g, out=s1)
    np.subtract(1, s1, out=s1)
    s1 *= i  # P_g, while i is still the gate value
    np.subtract(1, i, out=s2)
    i *= s2
    i *= g  # P_i
    np.copyto(g, s1)


@register("fused_lstm")
def _fused_lstm_node(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """The fused LSTM node: returns ``[h_1; ...; h_T; c_T]`` packed as ``(T + 1, B, H)``.

    The recurrence runs feature-major (:func:`_lstm_forward`). Backward turns the saved values into
    per-step factors a block of steps at a time (:func:`_lstm_factors`), so each step is one matmul
    and six small in-place products, and writes the pre-activation gradients over those factors (no
    second ``(T, 4H, B)`` array). The weight gradients are then one matmul per block of steps each,
    over a ``(4H, n B)`` copy of the block (a whole-sequence copy would double the peak memory of a
    long sequence). A second backward (``retain_graph=True``) reruns the forward recurrence first.
    """
    steps, batch, hidden = _check("fused_lstm", x, (h0, c0), w_ih, w_hh, 4)
    order = _oifg(hidden)
    bias, bias_parents = _bias(b_ih, b_hh)
    dtype = np.result_type(x.data, w_ih.data, w_hh.data)
    weights = _lstm_weights(w_ih, w_hh, bias, order)
    acts, hs, cs, tanh_c = _lstm_forward(x.data, h0.data, c0.data, *weights, dtype)
    packed = np.empty((steps + 1, batch, hidden), dtype=dtype)
    packed[:steps] = hs[1:].transpose(0, 2, 1)
    packed[steps] = cs[steps].T
    _give(hs, *weights[:2])  # backward reads the previous states from packed
    saved = [acts, cs, tanh_c]  # emptied by the first backward, which overwrites them
    parents = (x, h0, c0, w_ih, w_hh, *bias_parents)

    def backward(g):
        if saved:
            acts, cs, tanh_c = saved
            saved.clear()
        else:  # a second backward (retain_graph=True): the first one overwrote what it needs
            weights = _lstm_weights(w_ih, w_hh, bias, order)
            acts, hs, cs, tanh_c = _lstm_forward(x.data, h0.data, c0.data, *weights, dtype)
            _give(hs, *weights[:2])
        chunk = min(_CHUNK, steps)
        dh = np.zeros((hidden, batch), dtype=dtype)
        dc = np.array(g[steps].T, dtype=dtype)  # gradient reaching c_T from outside, (H, B)
        u = np.empty((hidden, batch), dtype=dtype)
        g_t = _take((chunk, hidden, batch), dtype)  # a block of the output gradients, (n, H, B)
        s1, s2 = _take(g_t.shape, dtype), _take(g_t.shape, dtype)
        W_hh = _rows(w_hh.data, order, w_hh.data.dtype)  # gates o, i, f, g, as acts
        W_hh_t = W_hh.T  # (H, 4H), a transposed view: BLAS reads it in place
        for t in range(steps - 1, -1, -1):
            if t == steps - 1 or (t + 1) % _CHUNK == 0:  # entering a block of steps lo .. t
                lo = t - t % _CHUNK
                n = t + 1 - lo
                span = slice(lo, t + 1)
                _lstm_factors(acts[span], cs[span], tanh_c[span], s1[:n], s2[:n])
                np.copyto(g_t[:n], g[span].transpose(0, 2, 1))
            p = acts[t]  # factors in, pre-activation gradients out
            dh += g_t[t - lo]
            np.multiply(dh, tanh_c[t], out=u)
            dc += u  # dc += dh A_o
            np.multiply(p[:hidden], dh, out=p[:hidden])  # d_o = dh P_o
            p_ifg = p[hidden:].reshape(3, hidden, batch)
            np.multiply(p_ifg, dc, out=p_ifg)  # d_{i,f,g} = dc P_{i,f,g}
            dc *= cs[t]  # now f_t: reaches c_(t-1)
            np.matmul(W_hh_t, p, out=dh)  # reaches h_(t-1)
        dx, dw_ih, dw_hh, db = _lstm_weight_grads(acts, x, h0, packed, w_ih, chunk, w_hh)
        _give(acts, cs, tanh_c, g_t, s1, s2, W_hh)  # nothing refers to them any more: the next call reuses them
        states = (dh.T.copy() if h0.requires_grad else None, dc.T.copy() if c0.requires_grad else None)
        return (dx, *states, dw_ih, dw_hh) + (db,) * len(bias_parents)

    return _fused(_make(packed, "fused_lstm", parents, backward), "LSTM", steps)


def _lstm_weights(w_ih: Tensor, w_hh: Tensor, bias, order: np.ndarray) -> tuple:
    """The weights and bias as the forward recurrence reads them: rows in gate order o, i, f, g, and
    the sigmoid rows (o, i, f) halved, so the matmuls give ``a / 2`` there. Two of the arrays are spares
    (:func:`_take`): the caller gives them back when the recurrence is done."""
    gates, hidden = w_hh.shape
    half = np.ones((gates, 1), dtype=np.result_type(w_ih.data, w_hh.data))
    half[: 3 * hidden] = 0.5
    W_ih_s, W_hh_s = _rows(w_ih.data, order, half.dtype), _rows(w_hh.data, order, half.dtype)
    W_ih_s *= half
    W_hh_s *= half
    return W_ih_s, W_hh_s, (None if bias is None else bias[order] * half[:, 0])


def _rows(a: np.ndarray, order: np.ndarray, dtype) -> np.ndarray:
    """``a[order]`` as ``dtype``, written into a spare array (:func:`_take`)."""
    out = _take(a.shape, dtype)
    if a.dtype == out.dtype:
        np.take(a, order, axis=0, out=out, mode="clip")  # "clip": unbuffered; every index is in range
    else:
        out[...] = a[order]
    return out


def _lstm_weight_grads(d, x, h0, packed, w_ih, chunk: int, w_hh):
    """dx, dW_ih, dW_hh and db from the pre-activation gradients ``d`` ``(T, 4H, B)`` of all steps.

    A block of ``chunk`` steps at a time is copied to ``(4H, n B)`` (columns step-major, as the
    batch-major ``x`` and ``h`` rows), its gate rows put back in PyTorch's order on the way
    (``d`` has them as o, i, f, g: see :func:`_oifg`), then each gradient is one matmul per block.
    The previous states are read from the node's own batch-major output ``packed`` (h_1 .. h_T)
    and ``h0``.
    """
    steps, gates, batch = d.shape
    hidden = gates // 4
    x2 = x.data.reshape(steps * batch, x.shape[-1])  # (T*B, I); not -1, which fails for batch 0
    dx = np.empty(x2.shape, dtype=d.dtype) if x.requires_grad else None
    dw_ih = np.zeros((gates, x.shape[-1]), dtype=d.dtype) if w_ih.requires_grad else None
    dw_hh = np.zeros((gates, hidden), dtype=d.dtype) if w_hh.requires_grad else None
    db = np.zeros(gates, dtype=d.dtype)
    block = _take((gates, chunk * batch), d.dtype)
    h0_used = h0.data.any()  # h_0 = 0 adds nothing to dW_hh
    for lo in range(0, steps, chunk):
        hi = min(lo + chunk, steps)
        cols = slice(lo * batch, hi * batch)
        n = (hi - lo) * batch
        dblock = block[:, :n]
        # Gates (o, i, f, g) of d back to PyTorch's (i, f, g, o): two block copies (a gather by row
        # index, np.take, took 2.6x as long).
        dblock3 = dblock.reshape(gates, hi - lo, batch)
        np.copyto(dblock3[: 3 * hidden], d[lo:hi, hidden:].transpose(1, 0, 2))
        np.copyto(dblock3[3 * hidden :], d[lo:hi, :hidden].transpose(1, 0, 2))
        db += dblock.sum(axis=1)
        if dx is not None:
            np.matmul(dblock.T, w_ih.data, out=dx[cols])
        if dw_ih is not None:
            dw_ih += dblock @ x2[cols]
        if dw_hh is not None:
            if lo == 0:  # step 0's previous state is h_0; steps 1 .. hi-1 read h_1 .. h_(hi-1)
                if h0_used:
                    dw_hh += dblock[:, :batch] @ h0.data
                dw_hh += dblock[:, batch:] @ packed[: hi - 1].reshape((hi - 1) * batch, hidden)
            else:
                dw_hh += dblock @ packed[lo - 1 : hi - 1].reshape(n, hidden)
    _give(block)
    return (None if dx is None else dx.reshape(x.shape)), dw_ih, dw_hh, db


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
def _gru_gates(x, hs, w_ih, W_hh, b_i, b_h, write_states: bool) -> tuple[np.ndarray, np.ndarray]:
    """The GRU recurrence over ``hs`` ``(T + 1, B, H)``, whose ``hs[0]`` is h_0.

    Returns ``gi`` ``(T, B, 3H)``, the gate values r, z, n of every step, and ``hn`` ``(T, B, H)``,
    ``W_hn h + b_hn`` (which r scales), both spare arrays (:func:`_take`) for the caller to give back.
    With ``write_states`` the new states are written into ``hs[1:]``; without, they are read from
    there (a second backward recomputing the gates of a sequence run before).
    """
    steps, batch, hidden = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    H, H2 = hidden, 2 * hidden
    gi = _take((steps, batch, 3 * hidden), hs.dtype)
    np.matmul(x.reshape(steps * batch, x.shape[-1]), w_ih.T, out=gi.reshape(steps * batch, 3 * hidden))
    if b_i is not None:
        gi += b_i
    hn = _take((steps, batch, hidden), hs.dtype)
    W_hh_t = _transposed(W_hh)
    for t in range(steps):
        a = gi[t]
        gh = hs[t] @ W_hh_t  # (B, 3H)
        if b_h is not None:
            gh += b_h
        a[:, :H2] += gh[:, :H2]
        _sigmoid_(a[:, :H2])  # r, z
        hn[t] = gh[:, H2:]
        n = a[:, H2:]
        n += a[:, :H] * hn[t]
        np.tanh(n, out=n)
        if write_states:
            h = hs[t + 1]
            np.subtract(hs[t], n, out=h)
            h *= a[:, H:H2]
            h += n  # h' = n + z (h - n)
    _give(W_hh_t)
    return gi, hn


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
    b_i = None if b_ih is None else b_ih.data
    b_h = None if b_hh is None else b_hh.data
    dtype = np.result_type(x.data, w_ih.data, *(() if b_i is None else (b_i,)))  # the projection's
    hs = np.empty((steps + 1, batch, hidden), dtype=dtype)  # h_0 .. h_T; h_1 .. h_T are the output
    hs[0] = h0.data
    gi, hn = _gru_gates(x.data, hs, w_ih.data, W_hh, b_i, b_h, write_states=True)
    saved = [gi, hn]  # handed back to the spares by the first backward
    parents = (x, h0, w_ih, w_hh, *(b for b in (b_ih, b_hh) if b is not None))

    def backward(g):
        if saved:
            gi, hn = saved
            saved.clear()
        else:  # a second backward (retain_graph=True): the gates again, from the saved states
            gi, hn = _gru_gates(x.data, hs, w_ih.data, W_hh, b_i, b_h, write_states=False)
        di = _take(gi.shape, dtype)  # gradients of the input-side pre-activations
        dhh = _take(gi.shape, dtype)  # gradients of the hidden-side pre-activations
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
        _give(di, dhh, gi, hn)  # every gradient above is a new array: the next call reuses these
        return tuple(grads)

    return _fused(_make(hs[1:], "fused_gru", parents, backward), "GRU", steps)
