"""Recurrent layers: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the sequence layers ``RNN``, ``LSTM``, ``GRU``.

Everything matches PyTorch: parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``; the cells drop the ``_l{k}``), shapes (``(gates * H, I)`` and ``(gates * H, H)``),
gate order (LSTM: i, f, g, o; GRU: r, z, n), the initialisation U(-1/sqrt(H), 1/sqrt(H)) in
PyTorch's parameter order, ``batch_first``, ``num_layers``, ``bias=False``, an optional initial state,
unbatched 2-D input, and the return values ``(output, h_n)`` / ``(output, (h_n, c_n))``. A state dict
exported from the PyTorch module loads unchanged and gives the same outputs and gradients.

How the unrolled graph is tagged (the graph tools rely on this):

* Each layer ``k`` of a sequence layer runs inside ``scope(f"l{k}")`` and each of its time steps
  inside ``scope(step=t)``; with the module's own scope, a node of layer 0, step 3 of a root
  ``LSTM`` has ``Scope("LSTM.l0", 3)`` (``Scope("model.rnn.l0", 3)`` inside a model whose
  attribute ``rnn`` is the LSTM).
* Cells called on their own take the step from the caller: wrap the call in ``scope(step=t)``.
* Every step uses the shared weights itself: it computes its own ``x_t @ W_ih.T`` and
  ``h @ W_hh.T`` (its own transpose and matmul nodes), so each Parameter has exactly one use site
  per step and backward sums one gradient contribution per step into ``.grad``. Weights are never
  copied.

The per-step equations live in :func:`_rnn_step`, :func:`_lstm_step` and :func:`_gru_step`, shared by
the cells and by ``_step`` of the sequence layers; ``_RNNBase._layer`` runs the time loop of one
layer. A fused alternative (e.g. projecting all inputs at once) can be dispatched from
``_RNNBase.forward`` in place of ``_layer`` without touching the step logic.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import scope
from ..errors import ArgumentError, ShapeError
from ..ops import stack
from ..random import get_rng
from ..tensor import Tensor
from .fused import fused_layer
from .module import Module, Parameter, _as_input

# ------------------------------------------------------------------------------- step equations


def _affine(x: Tensor, w: Parameter, b: Parameter | None) -> Tensor:
    """x W^T + b, with W used (transposed) right here so each call is one use site of W."""
    y = x @ w.T
    return y + b if b is not None else y


def _rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity: str) -> Tensor:
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu."""
    pre = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, H)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def _lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh) -> tuple[Tensor, Tensor]:
    """One LSTM step (gates stacked i, f, g, o along the last axis of the projections)."""
    gates = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, axis=-1)  # each (B, H)
    i = i.sigmoid()  # input gate: how much of the candidate to write
    f = f.sigmoid()  # forget gate: how much of the old cell to keep
    g = g.tanh()  # candidate cell values
    o = o.sigmoid()  # output gate: how much of the cell to expose
    c_next = f * c + i * g  # the additive path that lets gradients pass through time
    h_next = o * c_next.tanh()
    return h_next, c_next


def _gru_step(x, h, w_ih, w_hh, b_ih, b_hh) -> Tensor:
    """One GRU step (gates stacked r, z, n along the last axis of the projections)."""
    gi = _affine(x, w_ih, b_ih)  # (B, 3H): W_ir x + b_ir | W_iz x + b_iz | W_in x + b_in
    gh = _affine(h, w_hh, b_hh)  # (B, 3H): W_hr h + b_hr | W_hz h + b_hz | W_hn h + b_hn
    i_r, i_z, i_n = gi.chunk(3, axis=-1)
    h_r, h_z, h_n = gh.chunk(3, axis=-1)
    r = (i_r + h_r).sigmoid()  # reset gate
    z = (i_z + h_z).sigmoid()  # update gate
    n = (i_n + r * h_n).tanh()  # candidate; r scales the whole hidden projection, bias included
    return (1 - z) * n + z * h


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_cell_input(where: str, x: Tensor, input_size: int) -> None:
    if x.ndim not in (1, 2) or x.shape[-1] != input_size:
        raise ShapeError(
            f"{where}: input has shape {x.shape}, expected (batch, {input_size}) or ({input_size},) "
            f"(input_size={input_size})"
        )


def _check_state(where: str, name: str, state, expected: tuple[int, ...], dtype) -> Tensor:
    state = _as_input(state, dtype, f"{where} {name}")
    if state.shape != expected:
        raise ShapeError(f"{where}: {name} has shape {state.shape}, expected {expected}")
    return state


# ----------------------------------------------------------------------------------------- cells


class _CellBase(Module):
    """Parameters shared by the three cells: weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int, dtype) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        rng = get_rng()
        # Drawn in PyTorch's parameter order, each from U(-1/sqrt(H), 1/sqrt(H)).
        self.weight_ih = Parameter(rng.uniform(-bound, bound, (gates * hidden_size, input_size)).astype(dtype))
        self.weight_hh = Parameter(rng.uniform(-bound, bound, (gates * hidden_size, hidden_size)).astype(dtype))
        if bias:
            self.bias_ih = Parameter(rng.uniform(-bound, bound, (gates * hidden_size,)).astype(dtype))
            self.bias_hh = Parameter(rng.uniform(-bound, bound, (gates * hidden_size,)).astype(dtype))
        else:
            self.bias_ih = None
            self.bias_hh = None

    def _prepare(self, x, hx, n_states: int):
        """Check shapes, add a batch axis to unbatched input, and make zero states when none given."""
        where = type(self).__name__
        x = _as_input(x, self.weight_ih.dtype, where)
        _check_cell_input(where, x, self.input_size)
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        if hx is None:
            states = [Tensor(np.zeros(expected, dtype=x.dtype)) for _ in range(n_states)]
        else:
            hx = (hx,) if n_states == 1 else tuple(hx)
            if len(hx) != n_states:
                raise ShapeError(f"{where}: expected a tuple of {n_states} states (h, c), got {len(hx)}")
            wanted = expected[1:] if unbatched else expected
            states = [_check_state(where, "state", s, wanted, x.dtype) for s in hx]
            if unbatched:
                states = [s.unsqueeze(0) for s in states]
        return x, states, unbatched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text + (", bias=False" if self.bias_ih is None else "")


class RNNCell(_CellBase):
    """An Elman RNN cell, as ``torch.nn.RNNCell``.

    Equation (act = tanh or relu)::

        h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)

    Args:
        input_size: size of x.
        hidden_size: size of h.
        bias: learn b_ih and b_hh.
        nonlinearity: "tanh" or "relu".
        dtype: parameter dtype (float64 by default).

    Shapes: input ``(B, I)`` or ``(I,)``, hx ``(B, H)`` or ``(H,)`` (zeros if omitted) -> h' like hx.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", dtype="float64"
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor | np.ndarray, hx: Tensor | np.ndarray | None = None) -> Tensor:
        """Compute the next hidden state."""
        x, (h,), unbatched = self._prepare(x, hx, 1)
        h = _rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """A long short-term memory cell, as ``torch.nn.LSTMCell`` (gates stacked i, f, g, o).

    Equations (σ the logistic function, ⊙ elementwise product)::

        i  = σ(W_ii x + b_ii + W_hi h + b_hi)
        f  = σ(W_if x + b_if + W_hf h + b_hf)
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o  = σ(W_io x + b_io + W_ho h + b_ho)
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    ``weight_ih`` is ``[W_ii; W_if; W_ig; W_io]`` of shape (4H, I), ``weight_hh`` likewise (4H, H).

    Args:
        input_size: size of x.
        hidden_size: size of h and c.
        bias: learn b_ih and b_hh.
        dtype: parameter dtype (float64 by default).

    Shapes: input ``(B, I)`` or ``(I,)``, hx a tuple ``(h, c)`` each ``(B, H)`` or ``(H,)`` (zeros if
    omitted) -> ``(h', c')``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype="float64") -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, x: Tensor | np.ndarray, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        """Compute the next (hidden, cell) state."""
        x, (h, c), unbatched = self._prepare(x, hx, 2)
        h, c = _lstm_step(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """A gated recurrent unit cell, as ``torch.nn.GRUCell`` (gates stacked r, z, n).

    Equations::

        r  = σ(W_ir x + b_ir + W_hr h + b_hr)
        z  = σ(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 - z) ⊙ n + z ⊙ h

    Args:
        input_size: size of x.
        hidden_size: size of h.
        bias: learn b_ih and b_hh.
        dtype: parameter dtype (float64 by default).

    Shapes: input ``(B, I)`` or ``(I,)``, hx ``(B, H)`` or ``(H,)`` (zeros if omitted) -> h' like hx.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype="float64") -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, x: Tensor | np.ndarray, hx: Tensor | np.ndarray | None = None) -> Tensor:
        """Compute the next hidden state."""
        x, (h,), unbatched = self._prepare(x, hx, 1)
        h = _gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h


# ------------------------------------------------------------------------------- sequence layers


class _RNNBase(Module):
    """The multi-layer time loop shared by RNN, LSTM and GRU.

    Subclasses set ``mode`` and define ``_step(k, x_t, state) -> state`` (the cell equations of
    layer ``k``; ``state`` is a tuple, ``(h,)`` or ``(h, c)``, whose first entry is the output).
    """

    mode = ""  # "RNN_TANH", "RNN_RELU", "LSTM" or "GRU", as torch.nn.RNNBase.mode
    n_states = 1  # 2 for LSTM: (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ArgumentError(f"{type(self).__name__}: num_layers must be at least 1, got {num_layers}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        # fused=True runs each layer as one node with a hand-derived backward (nn/fused.py).
        self.fused = fused
        gates = _GATES[self.mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        rng = get_rng()
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size
            # Drawn in PyTorch's parameter order, each from U(-1/sqrt(H), 1/sqrt(H)).
            shapes = {f"weight_ih_l{k}": (gates, fan_in), f"weight_hh_l{k}": (gates, hidden_size)}
            if bias:
                shapes.update({f"bias_ih_l{k}": (gates,), f"bias_hh_l{k}": (gates,)})
            for name, shape in shapes.items():
                setattr(self, name, Parameter(rng.uniform(-bound, bound, shape).astype(dtype)))

    def _weights(self, k: int) -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k (biases None when bias=False)."""
        return (
            getattr(self, f"weight_ih_l{k}"),
            getattr(self, f"weight_hh_l{k}"),
            getattr(self, f"bias_ih_l{k}", None),
            getattr(self, f"bias_hh_l{k}", None),
        )

    def _step(self, k: int, x_t: Tensor, state: tuple) -> tuple:
        raise NotImplementedError

    def _layer(self, k: int, inputs, state: tuple) -> tuple[list[Tensor], tuple]:
        """Run layer k over all time steps; ``inputs[t]`` is the input at step t."""
        outputs = []
        for t in range(len(inputs)):
            with scope(step=t):
                state = self._step(k, inputs[t], state)
            outputs.append(state[0])
        return outputs, state

    def _initial_states(self, hx, batch: int | None, dtype) -> list[Tensor] | None:
        """The checked initial states, each ``(num_layers, B, H)``; None when ``hx`` is None."""
        if hx is None:
            return None
        where = type(self).__name__
        shape = (self.num_layers, self.hidden_size) if batch is None else (self.num_layers, batch, self.hidden_size)
        if self.n_states == 1:
            names, given = ("h_0",), (hx,)
        else:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise ShapeError(f"{where}: the initial state must be a tuple (h_0, c_0)")
            names, given = ("h_0", "c_0"), tuple(hx)
        checked = [_check_state(where, n, s, shape, dtype) for n, s in zip(names, given)]
        if batch is None:  # unbatched: give each layer's state a batch axis of 1
            checked = [s.unsqueeze(1) for s in checked]
        return checked

    def forward(self, x: Tensor | np.ndarray, hx=None) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Run the layers over the whole sequence.

        Args:
            x: ``(T, B, I)``, or ``(B, T, I)`` when ``batch_first``, or unbatched ``(T, I)``.
            hx: initial state, ``(num_layers, B, H)`` (``(num_layers, H)`` unbatched); for LSTM a
                tuple ``(h_0, c_0)``. Zeros when omitted.

        Returns:
            ``(output, h_n)``, for LSTM ``(output, (h_n, c_n))``: ``output`` holds the last layer's
            hidden state at every step, shaped like the input with H features; ``h_n``/``c_n`` hold
            every layer's final state, ``(num_layers, B, H)``.
        """
        where = type(self).__name__
        x = _as_input(x, self.weight_ih_l0.dtype, where)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ShapeError(
                f"{where}: input has shape {x.shape}, expected {layout} or unbatched (T, I) with "
                f"I = input_size = {self.input_size}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (B, T, I) -> (T, B, I)
        if x.shape[0] == 0:
            raise ShapeError(f"{where}: the input sequence is empty (shape {tuple(x.shape)}); need T >= 1")
        batch = x.shape[1]
        given = self._initial_states(hx, None if unbatched else batch, x.dtype)

        inputs = x  # layer 0 reads x[t] (sliced inside step t's scope); later layers a list of h_t
        finals = []
        for k in range(self.num_layers):
            with scope(f"l{k}"):
                if given is None:
                    zeros = np.zeros((batch, self.hidden_size), dtype=x.dtype)
                    state = tuple(Tensor(zeros) for _ in range(self.n_states))
                else:
                    state = tuple(s[k] for s in given)  # (B, H) each
                if self.fused:
                    inputs, state = fused_layer(self, k, inputs, state)  # inputs: one (T, B, H) tensor
                else:
                    inputs, state = self._layer(k, inputs, state)
            finals.append(state)

        output = inputs if isinstance(inputs, Tensor) else stack(inputs, axis=0)  # (T, B, H)
        final = [stack([s[i] for s in finals], axis=0) for i in range(self.n_states)]  # (L, B, H) each
        if unbatched:
            output = output.squeeze(1)
            final = [s.squeeze(1) for s in final]
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, (final[0] if self.n_states == 1 else tuple(final))

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text


class RNN(_RNNBase):
    """A multi-layer Elman RNN, as ``torch.nn.RNN``; each layer applies, at every step t::

        h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)      (act = tanh or relu)

    Layer k > 0 takes layer k-1's ``h_t`` as its ``x_t``.

    Args:
        input_size: features of x_t.
        hidden_size: features of h_t.
        num_layers: stacked layers.
        nonlinearity: "tanh" or "relu".
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``.
        dtype: parameter dtype (float64 by default).
        fused: run each layer as one graph node with a hand-derived backward (faster; same numbers).
            See :mod:`tinygrad_rnn.nn.fused` for what inspection tools do with it.

    Example:
        >>> rnn = RNN(3, 5, num_layers=2)
        >>> out, h_n = rnn(randn(7, 4, 3))     # out (7, 4, 5), h_n (2, 4, 5)
    """

    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dtype, fused)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def _step(self, k: int, x_t: Tensor, state: tuple) -> tuple:
        """One step of layer k: the RNN equation above."""
        (h,) = state
        return (_rnn_step(x_t, h, *self._weights(k), self.nonlinearity),)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_RNNBase):
    """A multi-layer LSTM, as ``torch.nn.LSTM``; each layer applies, at every step t::

        i_t = σ(W_ii x_t + b_ii + W_hi h_(t-1) + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_(t-1) + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_(t-1) + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_(t-1) + b_ho)
        c_t = f_t ⊙ c_(t-1) + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    ``weight_ih_l{k}`` stacks ``[W_ii; W_if; W_ig; W_io]`` (4H, I or H), ``weight_hh_l{k}`` (4H, H).

    Args:
        input_size: features of x_t.
        hidden_size: features of h_t and c_t.
        num_layers: stacked layers.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``.
        dtype: parameter dtype (float64 by default).
        fused: run each layer as one graph node with a hand-derived backward (faster; same numbers).
            See :mod:`tinygrad_rnn.nn.fused` for what inspection tools do with it.

    Returns from a call: ``(output, (h_n, c_n))``.

    Example:
        >>> lstm = LSTM(3, 5, batch_first=True)
        >>> out, (h_n, c_n) = lstm(randn(4, 7, 3))     # out (4, 7, 5), h_n and c_n (1, 4, 5)
    """

    mode = "LSTM"
    n_states = 2

    def _step(self, k: int, x_t: Tensor, state: tuple) -> tuple:
        h, c = state
        return _lstm_step(x_t, h, c, *self._weights(k))


class GRU(_RNNBase):
    """A multi-layer GRU, as ``torch.nn.GRU``; each layer applies, at every step t::

        r_t = σ(W_ir x_t + b_ir + W_hr h_(t-1) + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_(t-1) + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_(t-1) + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_(t-1)

    ``weight_ih_l{k}`` stacks ``[W_ir; W_iz; W_in]`` (3H, I or H), ``weight_hh_l{k}`` (3H, H).

    Args:
        input_size: features of x_t.
        hidden_size: features of h_t.
        num_layers: stacked layers.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``.
        dtype: parameter dtype (float64 by default).
        fused: run each layer as one graph node with a hand-derived backward (faster; same numbers).
            See :mod:`tinygrad_rnn.nn.fused` for what inspection tools do with it.
    """

    mode = "GRU"

    def _step(self, k: int, x_t: Tensor, state: tuple) -> tuple:
        (h,) = state
        return (_gru_step(x_t, h, *self._weights(k)),)
