"""Neural-network building blocks, as ``torch.nn``: modules, layers, recurrent layers and losses.

See :mod:`tinygrad_rnn.nn.module` for the naming, scope and dtype contracts, and
:mod:`tinygrad_rnn.nn.rnn` for how recurrent layers tag their unrolled graph.
"""

from __future__ import annotations

from . import functional, utils
from .functional import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .layers import Embedding, Linear, ReLU, Sigmoid, Tanh
from .module import Module, ModuleList, Parameter, Sequential
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "utils",
]
