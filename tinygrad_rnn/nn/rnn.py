"""Recurrent layers: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the sequence layers ``RNN``, ``LSTM``, ``GRU``.

Everything matches PyTorch: parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``; the cells drop the ``_l{k}``), shapes (``(gates * H, I)`` and ``(gates * H, H)``),
gate order (LSTM: i, f, g, o; GRU: r, z, n), the initialisation U(-1/sqrt(H), 1/sqrt(H)) in
PyTorch's parameter order, ``batch_first``, ``num_layers``, ``bias=False``, an optional initial state,
unbatched 2-D input, and the return values ``(output, h_n)`` / ``(output, (h_n, c_n))``. A state dict
exported from the PyTorch module loads unchanged and gives the same outputs and gradients.

The layers are generic over a :class:`~tinygrad_rnn.nn.cells.CellSpec` (gate and state names, the
step equations, the fused kernel): :class:`RNNBase` and :class:`RNNCellBase` run any spec, including
one a user writes (see ``examples/``). ``RNN``, ``LSTM``, ``GRU`` and the three cells only pick theirs.

How the unrolled graph is tagged (the graph tools rely on this):

* Each layer ``k`` of a sequence layer runs inside ``scope(f"l{k}")`` and each of its time steps
  inside ``scope(step=t)``; with the module's own scope, a node of layer 0, step 3 of a root
  ``LSTM`` has ``Scope("LSTM.l0", 3)`` (``Scope("model.rnn.l0", 3)`` inside a model whose
  attribute ``rnn`` is the LSTM).
* Every node says what it means (``node.role``, a :class:`~tinygrad_rnn.autograd.Role`): ``x_t``
  (input), ``h_0``/``c_0`` (initial_state), ``W_xh·x_t`` and ``W_hh·h_(t-1)`` (projection), ``a_t``
  (preactivation), the gates, the candidate, ``h_t``/``c_t`` (state); the stacked output is
  ``y`` and the final states ``h_n``/``c_n`` (output). ``y_t`` is the last layer's ``h_t`` (the
  same node). A fused layer's node has kind ``"fused"`` and ``role.span`` = the steps it covers.
* Cells called on their own take the step from the caller: wrap the call in ``scope(step=t)``.
* Every step uses the shared weights itself: it computes its own ``x_t @ W_ih.T`` and
  ``h @ W_hh.T`` (its own transpose and matmul nodes), so each Parameter has exactly one use site
  per step and backward sums one gradient contribution per step into ``.grad``. Weights are never
  copied.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Role, scope
from ..errors import ArgumentError, ShapeError
from ..ops import cat, stack
from ..tensor import Tensor
from . import functional as F  # noqa: N812 - PyTorch's idiom
from . import init
from .cells import CellSpec, cell_spec, tag
from .module import Module, Parameter, _as_input, _size_arg


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


def _parameter(shape: tuple[int, ...], dtype) -> Parameter:
    """A parameter to be filled by :func:`init.rnn_default_` (drawn in registration order)."""
    return Parameter(np.zeros(shape, dtype=dtype))


# ----------------------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """A recurrent cell for any :class:`~tinygrad_rnn.nn.cells.CellSpec`: one step, called by the user's loop.

    Parameters ``weight_ih`` ``(blocks * H, I)``, ``weight_hh`` ``(blocks * H, H)`` and, with
    ``bias``, ``bias_ih`` and ``bias_hh`` ``(blocks * H,)``, drawn from U(-1/sqrt(H), 1/sqrt(H)) in
    that order (PyTorch's).

    Args:
        spec: the cell type (a :class:`CellSpec`, or a mode name such as ``"LSTM"``).
        input_size: size of x.
        hidden_size: size of each state.
        bias: learn b_ih and b_hh.
        dtype: parameter dtype (float64 by default).

    Shapes: input ``(B, I)`` or ``(I,)``; ``hx`` one state ``(B, H)`` or ``(H,)`` for a one-state cell,
    else a tuple of them (zeros if omitted). Returns the new state the same way.
    """

    def __init__(self, spec: CellSpec | str, input_size: int, hidden_size: int, bias: bool = True, dtype="float64"):
        super().__init__()
        self.spec = cell_spec(spec)
        self.input_size = _size_arg(type(self).__name__, "input_size", input_size)
        self.hidden_size = _size_arg(type(self).__name__, "hidden_size", hidden_size)
        rows = self.spec.blocks * hidden_size
        self.weight_ih = _parameter((rows, input_size), dtype)
        self.weight_hh = _parameter((rows, hidden_size), dtype)
        self.bias_ih = _parameter((rows,), dtype) if bias else None
        self.bias_hh = _parameter((rows,), dtype) if bias else None
        init.rnn_default_(self)

    def _prepare(self, x, hx):
        """Check shapes, add a batch axis to unbatched input, and make zero states when none given."""
        where = type(self).__name__
        names = self.spec.states
        x = _as_input(x, self.weight_ih.dtype, where)
        _check_cell_input(where, x, self.input_size)
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.role is None:
            tag(x, "x", "input")
        expected = (x.shape[0], self.hidden_size)
        if hx is None:
            states = [tag(Tensor(np.zeros(expected, dtype=x.dtype)), n, "initial_state", lag=1) for n in names]
        else:
            hx = (hx,) if len(names) == 1 else tuple(hx)
            if len(hx) != len(names):
                raise ShapeError(f"{where}: expected a tuple of {len(names)} states {names}, got {len(hx)}")
            wanted = expected[1:] if unbatched else expected
            states = [_check_state(where, "state", s, wanted, x.dtype) for s in hx]
            if unbatched:
                states = [s.unsqueeze(0) for s in states]
        return x, tuple(states), unbatched

    def forward(self, x: Tensor | np.ndarray, hx=None):
        """Compute the next state: ``h'`` for a one-state cell, else the tuple (for LSTM ``(h', c')``)."""
        x, states, unbatched = self._prepare(x, hx)
        new = self.spec.step(x, states, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if unbatched:
            new = tuple(s.squeeze(0) for s in new)
        return new[0] if len(new) == 1 else tuple(new)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text + (", bias=False" if self.bias_ih is None else "")


class RNNCell(RNNCellBase):
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
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
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
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)


class GRUCell(RNNCellBase):
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
        super().__init__("GRU", input_size, hidden_size, bias, dtype)


# ------------------------------------------------------------------------------- sequence layers


class RNNBase(Module):
    """A multi-layer recurrent layer for any :class:`~tinygrad_rnn.nn.cells.CellSpec`, as ``torch.nn.RNNBase``.

    Layer ``k`` applies ``spec.step`` at every time step, taking layer ``k - 1``'s ``h_t`` as its
    input; the parameters of layer ``k`` are ``weight_ih_l{k}`` ``(blocks * H, I or H)``,
    ``weight_hh_l{k}`` ``(blocks * H, H)`` and, with ``bias``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
    drawn from U(-1/sqrt(H), 1/sqrt(H)) in PyTorch's order.

    Args:
        mode: the cell type: a :class:`CellSpec`, or a mode name (``"LSTM"``, ``"GRU"``,
            ``"RNN_TANH"``, ``"RNN_RELU"``).
        input_size: features of x_t.
        hidden_size: features of each state.
        num_layers: stacked layers.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``.
        dropout: probability of zeroing each output of every layer but the last, in training mode
            (``train()``), as PyTorch; the masks come from the generator seeded by ``manual_seed``.
        bidirectional: run a second pass over the reversed sequence in every layer, with its own
            parameters named ``..._l{k}_reverse`` (PyTorch's names); outputs carry ``2 * H``
            features (forward, then reverse), ``h_n`` is ``(2 * num_layers, B, H)`` ordered
            ``l0, l0_reverse, l1, ...``. The reverse pass runs in scope ``l{k}_reverse``, so a
            drawing shows and clusters the two directions apart. Its nodes are numbered by the
            original time, as in Graves' bidirectional equations ``h←_t = H(W x_t + U h←_(t+1) + b)``:
            it runs ``scope(step=t-1)`` for t = T, ..., 1, reading ``x_t`` and ``h_(t+1)`` and
            writing ``h_t`` (roles ``x_t``, ``W_hh·h_(t+1)``, ``f_t``, ``h_t``); its initial state is
            ``h_(T+1)`` (kind ``"initial_state"``) and ``h_n`` holds its ``h_1``. So step t's ``←``
            box of a drawing and the use of ``weight_hh_l{k}_reverse`` at step t (per-use
            contributions, the loss-use map) belong to input ``x_t``, and :func:`state_tracks` lists
            the reverse states in time order (the reverse of the order they are computed in).
        dtype: parameter dtype (float64 by default).
        fused: run each layer as one graph node with the spec's fused kernel (faster; same numbers);
            the reverse pass runs the same kernel on the reversed sequence.

    Raises:
        ArgumentError: for ``num_layers < 1``, an unknown mode, a dropout outside [0, 1], or
            ``fused=True`` for a cell without a fused kernel.
    """

    def __init__(
        self,
        mode: CellSpec | str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        self.spec = cell_spec(mode)
        # Sizes first, as PyTorch: RNN(3, -1), GRU(3, 2.5), LSTM(3, 2, num_layers=0) are refused here.
        input_size = _size_arg(where, "input_size", input_size)
        hidden_size = _size_arg(where, "hidden_size", hidden_size)
        num_layers = _size_arg(where, "num_layers", num_layers)
        if not isinstance(dropout, int | float) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ArgumentError(f"{where}: dropout must be a probability in [0, 1], got {dropout!r}")
        if not isinstance(bidirectional, bool):
            raise ArgumentError(f"{where}: bidirectional must be True or False, got {bidirectional!r}")
        if fused and self.spec.fused is None:
            raise ArgumentError(f"{where}: the cell {self.spec.name!r} has no fused kernel; use fused=False")
        self.mode = self.spec.name  # as torch.nn.RNNBase.mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        # fused=True runs each layer as one node with a hand-derived backward (nn/fused.py).
        self.fused = fused
        rows = self.spec.blocks * hidden_size
        directions = ("", "_reverse") if bidirectional else ("",)
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size * len(directions)
            for suffix in directions:  # PyTorch's registration order, so a seed gives PyTorch's layout
                setattr(self, f"weight_ih_l{k}{suffix}", _parameter((rows, fan_in), dtype))
                setattr(self, f"weight_hh_l{k}{suffix}", _parameter((rows, hidden_size), dtype))
                if bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", _parameter((rows,), dtype))
                    setattr(self, f"bias_hh_l{k}{suffix}", _parameter((rows,), dtype))
        init.rnn_default_(self)

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def _weights(self, k: int, suffix: str = "") -> tuple:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k (biases None when bias=False)."""
        return (
            getattr(self, f"weight_ih_l{k}{suffix}"),
            getattr(self, f"weight_hh_l{k}{suffix}"),
            getattr(self, f"bias_ih_l{k}{suffix}", None),
            getattr(self, f"bias_hh_l{k}{suffix}", None),
        )

    def _layer(
        self, k: int, inputs, state: tuple, suffix: str = "", reverse: bool = False
    ) -> tuple[list[Tensor], tuple]:
        """Run layer k over all time steps; ``inputs[t]`` is the input at step t.

        With ``reverse``, the steps run from the last to the first, each still in ``scope(step=t)``
        of the input it reads; the outputs are returned in time order (``outputs[t]`` is ``h_(t+1)``).
        """
        step, weights = self.spec.step, self._weights(k, suffix)
        steps = range(len(inputs))
        outputs = [None] * len(inputs)
        for t in reversed(steps) if reverse else steps:
            with scope(step=t):
                x_t = inputs[t]  # layer 0: the slice x[t], made here; layer k > 0: layer k-1's h_t
                if x_t.role is None:
                    tag(x_t, "x", "input")
                state = step(x_t, state, *weights)
            outputs[t] = state[0]
        return outputs, state

    def _fused_layer(self, k: int, inputs, state: tuple, suffix: str = "") -> tuple[Tensor, tuple]:
        """Run layer k as one fused node; returns the outputs ``(T, B, H)`` as one tensor and the final state."""
        if self.spec.fused is None:
            raise ArgumentError(f"{type(self).__name__}: the cell {self.spec.name!r} has no fused kernel")
        if not isinstance(inputs, Tensor):
            inputs = stack(list(inputs), axis=0)
        output, final = self.spec.fused(inputs, state, *self._weights(k, suffix))
        steps = inputs.shape[0]
        for s, name in zip(final, self.spec.states):  # the reverse pass ends at time 1
            s.role = Role(name, 1 if suffix else steps, "state")
        return output, final

    def _initial_states(self, hx, batch: int | None, dtype) -> list[Tensor] | None:
        """The checked initial states, each ``(num_layers, B, H)``; None when ``hx`` is None."""
        if hx is None:
            return None
        where = type(self).__name__
        layers = self.num_layers * self.num_directions
        shape = (layers, self.hidden_size) if batch is None else (layers, batch, self.hidden_size)
        names = tuple(f"{n}_0" for n in self.spec.states)
        if len(names) == 1:
            given = (hx,)
        else:
            if not isinstance(hx, tuple | list) or len(hx) != len(names):
                raise ShapeError(f"{where}: the initial state must be a tuple ({', '.join(names)})")
            given = tuple(hx)
        checked = [_check_state(where, n, s, shape, dtype) for n, s in zip(names, given)]
        if batch is None:  # unbatched: give each layer's state a batch axis of 1
            checked = [s.unsqueeze(1) for s in checked]
        return checked

    def forward(self, x: Tensor | np.ndarray, hx=None) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Run the layers over the whole sequence.

        Args:
            x: ``(T, B, I)``, or ``(B, T, I)`` when ``batch_first``, or unbatched ``(T, I)``.
            hx: initial state, ``(D * num_layers, B, H)`` (``(D * num_layers, H)`` unbatched, D = 2
                when bidirectional, else 1); for a cell with several states (LSTM) a tuple
                ``(h_0, c_0)``. Zeros when omitted.

        Returns:
            ``(output, h_n)``, for LSTM ``(output, (h_n, c_n))``: ``output`` holds the last layer's
            hidden state at every step, shaped like the input with D * H features; ``h_n``/``c_n``
            hold every layer's (and direction's) final state, ``(D * num_layers, B, H)``.
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
        if x.role is None:
            x.role = Role("x", None, "input")
        if x.shape[0] == 0:
            raise ShapeError(f"{where}: the input sequence is empty (shape {tuple(x.shape)}); need T >= 1")
        batch = x.shape[1]
        given = self._initial_states(hx, None if unbatched else batch, x.dtype)

        inputs = x  # layer 0 reads x[t] (sliced inside step t's scope); later layers a list of h_t
        finals = []
        directions = ("", "_reverse") if self.bidirectional else ("",)
        for k in range(self.num_layers):
            if k and self.dropout and self.training:  # between layers, as PyTorch: not after the last
                with scope(f"l{k - 1}_dropout"):
                    inputs = _dropout_each(inputs, self.dropout)
            outputs = []
            for d, suffix in enumerate(directions):
                with scope(f"l{k}{suffix}"):
                    if given is None:
                        zeros = np.zeros((batch, self.hidden_size), dtype=x.dtype)
                        state = tuple(Tensor(zeros) for _ in self.spec.states)
                    else:
                        state = tuple(s[k * len(directions) + d] for s in given)  # (B, H) each
                    # The reverse pass starts after the last input: its initial state is h_(T+1).
                    start = len(inputs) + 1 if suffix else 0
                    for s, name in zip(state, self.spec.states):
                        if s.role is None:  # a detached state keeps its own role (where it was cut)
                            s.role = Role(name, start, "initial_state")
                    if self.fused:  # the kernel runs forward in time: give it the reversed sequence
                        seq = inputs if not suffix else _reversed(inputs)
                        out, state = self._fused_layer(k, seq, state, suffix)  # out: one (T, B, H) tensor
                        outputs.append(out if not suffix else _reversed(out))
                    else:  # outputs come back in time order, whichever way the pass ran
                        out, state = self._layer(k, inputs, state, suffix, reverse=bool(suffix))
                        outputs.append(out)
                finals.append(state)
            inputs = outputs[0] if len(outputs) == 1 else _join_directions(*outputs)

        output = inputs if isinstance(inputs, Tensor) else stack(inputs, axis=0)  # (T, B, D * H)
        if output.role is None:  # a one-layer fused RNN/GRU returns its fused node itself: keep that role
            output.role = Role("y", None, "output")
        final = [stack([s[i] for s in finals], axis=0) for i in range(len(self.spec.states))]  # (L, B, H) each
        for s, name in zip(final, self.spec.states):
            s.role = Role(f"{name}_n", None, "output")
        if unbatched:
            output = output.squeeze(1)
            final = [s.squeeze(1) for s in final]
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, (final[0] if len(self.spec.states) == 1 else tuple(final))

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


def _reversed(seq):
    """The sequence in reverse time order: a list reversed, or a (T, B, ·) tensor sliced ``[::-1]``."""
    return seq[::-1] if isinstance(seq, Tensor) else list(reversed(seq))


def _join_directions(forward, reverse):
    """Each step's forward and reverse outputs side by side, ``[h_t→, h_t←]`` on the feature axis."""
    if isinstance(forward, Tensor) and isinstance(reverse, Tensor):
        return cat([forward, reverse], axis=-1)  # (T, B, 2H)
    forward = forward if isinstance(forward, list) else list(forward)
    reverse = reverse if isinstance(reverse, list) else list(reverse)
    return [cat([f, r], axis=-1) for f, r in zip(forward, reverse)]


def _dropout_each(seq, p: float):
    """Dropout on a layer's outputs: one (T, B, ·) tensor, or each step's tensor of a list."""
    if isinstance(seq, Tensor):
        return F.dropout(seq, p, training=True)
    return [F.dropout(h, p, training=True) for h in seq]


class RNN(RNNBase):
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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, fused
        )
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, fused
        )


class GRU(RNNBase):
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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype="float64",
        fused: bool = False,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, fused
        )
