"""Parameter initialisation, as ``torch.nn.init``: each function fills a tensor in place and returns it.

The recurrent layers draw every parameter with :func:`uniform_` from ``U(-1/sqrt(H), 1/sqrt(H))``
in PyTorch's parameter order (:func:`rnn_default_`), so a seed gives the same numbers run to run.
The other helpers are the usual remedies for vanishing and exploding gradients through time:

* :func:`orthogonal_` -- a (semi-)orthogonal matrix: every singular value 1;
* :func:`eye_` -- the identity (IRNN: a relu RNN that starts by copying its state);
* :func:`spectral_radius_` -- rescale each gate's ``(H, H)`` block to a chosen spectral radius;
* :func:`memory_gate_bias_` -- open the gate that keeps the old state (LSTM ``f``, GRU ``z``).

All draws come from :func:`tinygrad_rnn.random.get_rng` (seed with :func:`tinygrad_rnn.manual_seed`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..random import get_rng
from ..tensor import Tensor, bump_version

__all__ = [
    "constant_",
    "eye_",
    "memory_gate_bias_",
    "orthogonal_",
    "rnn_default_",
    "spectral_radius_",
    "uniform_",
    "zeros_",
]


def _array(tensor, where: str) -> np.ndarray:
    data = getattr(tensor, "data", None)
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise ArgumentError(f"{where}: expected a floating-point Tensor or Parameter, got {type(tensor).__name__}")
    if isinstance(tensor, Tensor):  # every caller writes into ``data`` next: a graph that saved it must not backward
        bump_version(tensor)
    return data


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill ``tensor`` with draws from ``U(a, b)`` (as ``torch.nn.init.uniform_``).

    Raises:
        ArgumentError: if ``a > b`` or ``tensor`` is not a floating-point tensor.
    """
    data = _array(tensor, "uniform_")
    if a > b:
        raise ArgumentError(f"uniform_: the lower bound a={a} is above the upper bound b={b}")
    data[...] = get_rng().uniform(a, b, data.shape)
    return tensor


def constant_(tensor, value: float):
    """Fill ``tensor`` with ``value``."""
    _array(tensor, "constant_")[...] = value
    return tensor


def zeros_(tensor):
    """Fill ``tensor`` with zeros."""
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D ``tensor`` with the identity (ones on the diagonal, as ``torch.nn.init.eye_``).

    Raises:
        ShapeError: if ``tensor`` is not 2-D.
    """
    data = _array(tensor, "eye_")
    if data.ndim != 2:
        raise ShapeError(f"eye_: expected a 2-D tensor, got shape {data.shape}")
    data[...] = np.eye(*data.shape)
    return tensor


def orthogonal_(tensor, gain: float = 1.0):
    """Fill a 2-D ``tensor`` with a random (semi-)orthogonal matrix times ``gain`` (as ``torch.nn.init.orthogonal_``).

    The QR decomposition of a Gaussian matrix, with the signs of ``R``'s diagonal folded into ``Q``
    so the result is uniformly distributed; a wide matrix has orthonormal rows, a tall one
    orthonormal columns.

    Raises:
        ShapeError: if ``tensor`` is not 2-D.
    """
    data = _array(tensor, "orthogonal_")
    if data.ndim != 2:
        raise ShapeError(f"orthogonal_: expected a 2-D tensor, got shape {data.shape}")
    rows, cols = data.shape
    flat = get_rng().standard_normal((rows, cols))
    q, r = np.linalg.qr(flat.T if rows < cols else flat)
    q = q * np.sign(np.diag(r))
    data[...] = gain * (q.T if rows < cols else q)
    return tensor


def spectral_radius_(tensor, radius: float, blocks: int = 1):
    """Rescale each of the ``blocks`` square row blocks of ``tensor`` to spectral radius ``radius``.

    A gated layer's ``weight_hh`` stacks one ``(H, H)`` block per gate (``blocks=4`` for the LSTM);
    for a linear recurrence ``h_t = h_(t-1) W^T`` the gradient carried back ``k`` steps scales
    like ``radius ** k``.

    Raises:
        ShapeError: if the tensor is not ``blocks`` square blocks stacked along its rows.
        ArgumentError: if ``radius`` is negative or a block has spectral radius 0.
    """
    data = _array(tensor, "spectral_radius_")
    if data.ndim != 2 or blocks < 1 or data.shape[0] != blocks * data.shape[1]:
        raise ShapeError(
            f"spectral_radius_: expected {blocks} square (H, H) blocks stacked as ({blocks} * H, H), got {data.shape}"
        )
    if radius < 0:
        raise ArgumentError(f"spectral_radius_: radius must be >= 0, got {radius}")
    H = data.shape[1]
    for k in range(blocks):
        block = data[k * H : (k + 1) * H]
        current = float(np.max(np.abs(np.linalg.eigvals(block.astype(np.float64))))) if H else 0.0
        if current == 0.0:
            raise ArgumentError("spectral_radius_: a block has spectral radius 0 and cannot be rescaled")
        block *= radius / current
    return tensor


def rnn_default_(module):
    """Draw every parameter of a recurrent layer or cell from ``U(-1/sqrt(H), 1/sqrt(H))``, in order.

    This is PyTorch's ``reset_parameters`` of ``nn.RNNBase`` and the cells; parameters are drawn
    in registration order, which is PyTorch's order, so a seed gives a reproducible model.
    """
    hidden = module.hidden_size
    bound = 1.0 / math.sqrt(hidden) if hidden > 0 else 0.0
    for p in module.parameters():
        uniform_(p, -bound, bound)
    return module


def memory_gate_bias_(module, value: float):
    """Set the bias of the memory gate (LSTM ``f``, GRU ``z``) in every layer, so its sum is ``value``.

    That gate decides how much of the old state is kept (``c_t = f ⊙ c_(t-1) + ...``,
    ``h_t = (1 - z) ⊙ n + z ⊙ h_(t-1)``); a positive bias opens it (σ(2) = 0.88), which lets
    gradients pass many steps. The gate's block of ``bias_ih`` is set to ``value`` and of
    ``bias_hh`` to 0. Which gate that is comes from the module's :class:`~tinygrad_rnn.nn.cells.CellSpec`.

    Raises:
        ArgumentError: if the cell type has no memory gate (the Elman RNN) or the module has no biases.
    """
    spec = getattr(module, "spec", None)
    gate = getattr(spec, "memory_gate", None)
    where = type(module).__name__
    if gate is None:
        raise ArgumentError(f"memory_gate_bias_: {where} ({getattr(spec, 'name', 'no cell spec')}) has no memory gate")
    H = module.hidden_size
    block = spec.gates.index(gate)
    # Every layer (and direction): bias_ih_l0 pairs with bias_hh_l0, bias_ih_l1 with bias_hh_l1, ...
    pairs = [(n, "bias_hh" + n[len("bias_ih") :]) for n, _ in module.named_parameters() if n.startswith("bias_ih")]
    if not pairs:
        raise ArgumentError(f"memory_gate_bias_: {where} has no biases (built with bias=False)")
    for name_ih, name_hh in pairs:
        for name in (name_ih, name_hh):
            bump_version(getattr(module, name))
        getattr(module, name_ih).data[block * H : (block + 1) * H] = value
        getattr(module, name_hh).data[block * H : (block + 1) * H] = 0.0
    return module
