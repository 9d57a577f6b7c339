"""tinygrad_rnn: a small, exact reverse-mode autograd on numpy, built to make recurrent networks visible.

The engine imports numpy only; drawing lives in :mod:`tinygrad_rnn.viz` (the ``[viz]`` extra).
"""

from __future__ import annotations

import numpy as _np

from . import nn, ops, optim
from .anomaly import detect_anomaly, is_anomaly_enabled
from .autograd import Role, Scope, current_scope, enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .checkpoint import load, save
from .errors import (
    AnomalyError,
    ArgumentError,
    CheckpointError,
    DTypeError,
    GradcheckError,
    GraphError,
    ShapeError,
    TinygradRNNError,
)
from .gradcheck import gradcheck
from .heap import keep_freed_memory
from .monitor import GradientMonitor
from .ops import argmax, argmin, cat, chunk, gather, make_node, multinomial, split, stack, where
from .random import manual_seed
from .scalar import Value
from .tensor import Tensor, arange, from_numpy, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .threads import blas_threads

__version__ = "0.1.0"

# PyTorch's dtype names, for ``tensor(ids, dtype=long)`` and ``zeros(3, dtype=float32)``: numpy dtypes.
long = int64 = _np.dtype(_np.int64)
float32 = _np.dtype(_np.float32)
float64 = double = _np.dtype(_np.float64)

__all__ = [
    "AnomalyError",
    "ArgumentError",
    "CheckpointError",
    "DTypeError",
    "GradcheckError",
    "GradientMonitor",
    "GraphError",
    "Role",
    "Scope",
    "ShapeError",
    "Tensor",
    "TinygradRNNError",
    "Value",
    "arange",
    "argmax",
    "argmin",
    "blas_threads",
    "cat",
    "chunk",
    "current_scope",
    "detect_anomaly",
    "double",
    "enable_grad",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "gather",
    "gradcheck",
    "int64",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "keep_freed_memory",
    "load",
    "long",
    "make_node",
    "manual_seed",
    "multinomial",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "ops",
    "optim",
    "rand",
    "randn",
    "save",
    "scope",
    "set_grad_enabled",
    "split",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]
