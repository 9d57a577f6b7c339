"""Feed-forward layers: ``Linear``, ``Embedding`` and activation modules, with PyTorch's names and init.

Parameters are drawn from ``tinygrad_rnn.random.get_rng()`` (reseed with ``manual_seed``) and are
float64 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops import where
from ..random import get_rng
from ..tensor import Tensor
from .module import Module, Parameter, _as_input, _size_arg


def _uniform(shape: tuple[int, ...], bound: float, dtype) -> Parameter:
    """A parameter drawn from U(-bound, bound), PyTorch's default init for Linear and RNN weights."""
    return Parameter(get_rng().uniform(-bound, bound, size=shape).astype(dtype))


class Linear(Module):
    """Affine map ``y = x W^T + b``, as ``torch.nn.Linear``.

    Args:
        in_features: size of the last axis of the input.
        out_features: size of the last axis of the output.
        bias: learn an additive bias ``b``.
        dtype: parameter dtype (float64 by default).

    Attributes:
        weight: ``(out_features, in_features)``, init U(-1/sqrt(in_features), 1/sqrt(in_features)).
        bias: ``(out_features,)``, same init (or None).

    Shapes: input ``(..., in_features)`` -> output ``(..., out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype="float64") -> None:
        super().__init__()
        # Sizes of 0 are allowed, as in PyTorch (an empty weight; the output is the bias).
        self.in_features = _size_arg("Linear", "in_features", in_features, minimum=0)
        self.out_features = _size_arg("Linear", "out_features", out_features, minimum=0)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _uniform((out_features, in_features), bound, dtype)
        self.bias = _uniform((out_features,), bound, dtype) if bias else None

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        """Apply the affine map to the last axis of ``x``."""
        x = _as_input(x, self.weight.dtype, "Linear")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear: input has shape {x.shape}, expected (..., {self.in_features}) "
                f"(in_features={self.in_features})"
            )
        y = x @ self.weight.T  # (..., out)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table of vectors, ``y[...] = weight[index[...]]``, as ``torch.nn.Embedding``.

    The backward pass scatter-adds into the rows that were looked up (a row used twice gets two
    contributions).

    Args:
        num_embeddings: number of rows (vocabulary size).
        embedding_dim: size of each vector.
        padding_idx: a row (negative counts from the end) that starts at zero and never receives
            a gradient, as PyTorch's: looking it up gives its current value, but training leaves it.
        dtype: parameter dtype (float64 by default).

    Attributes:
        weight: ``(num_embeddings, embedding_dim)``, init N(0, 1) as PyTorch.

    Shapes: integer input ``(...)`` -> output ``(..., embedding_dim)``.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype="float64"
    ) -> None:
        super().__init__()
        self.num_embeddings = _size_arg("Embedding", "num_embeddings", num_embeddings, minimum=0)
        self.embedding_dim = _size_arg("Embedding", "embedding_dim", embedding_dim, minimum=0)
        if padding_idx is not None:
            if (
                not isinstance(padding_idx, int | np.integer)
                or not -self.num_embeddings <= padding_idx < self.num_embeddings
            ):
                raise ArgumentError(
                    f"Embedding: padding_idx must be an int in [{-self.num_embeddings}, {self.num_embeddings - 1}], "
                    f"got {padding_idx!r}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(get_rng().standard_normal((num_embeddings, embedding_dim)).astype(dtype))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, indices: np.ndarray | Tensor) -> Tensor:
        """Look up the rows named by the integer array ``indices``."""
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise DTypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise ShapeError(
                f"Embedding: index {int(bad)} is out of range for num_embeddings={self.num_embeddings} "
                f"(expected 0 <= index < {self.num_embeddings})"
            )
        rows = self.weight[idx]  # (..., D)
        if self.padding_idx is None:
            return rows
        pad = (idx == self.padding_idx)[..., None]
        if not pad.any():
            return rows
        # The padding rows' values, as constants: no gradient reaches weight[padding_idx].
        return where(pad, Tensor(self.weight.data[idx]), rows)

    def extra_repr(self) -> str:
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, as ``torch.nn.Dropout``.

    In training mode (``train()``, the default) each element is zeroed with probability ``p`` and
    the rest scaled by ``1 / (1 - p)``; in ``eval()`` mode the input passes unchanged. The masks
    come from the generator seeded by :func:`tinygrad_rnn.manual_seed`.

    Args:
        p: the probability of zeroing an element, in [0, 1].
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ArgumentError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``dropout(x, p, training=self.training)``."""
        from .functional import dropout

        return dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Tanh(Module):
    """Elementwise tanh as a module."""

    def forward(self, x: Tensor) -> Tensor:
        """Return tanh(x)."""
        return x.tanh()


class ReLU(Module):
    """Elementwise max(x, 0) as a module."""

    def forward(self, x: Tensor) -> Tensor:
        """Return relu(x)."""
        return x.relu()


class Sigmoid(Module):
    """Elementwise logistic function as a module."""

    def forward(self, x: Tensor) -> Tensor:
        """Return sigmoid(x)."""
        return x.sigmoid()
