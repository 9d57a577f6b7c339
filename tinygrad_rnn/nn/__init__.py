"""Neural-network building blocks, as ``torch.nn``: modules, layers, recurrent layers and losses.

See :mod:`tinygrad_rnn.nn.module` for the naming, scope and dtype contracts, and
:mod:`tinygrad_rnn.nn.rnn` for how recurrent layers tag their unrolled graph.
"""

from __future__ import annotations

from . import cells, functional, init, scalar_rnn, utils
from .cells import CellSpec
from .functional import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .layers import Dropout, Embedding, Linear, ReLU, Sigmoid, Tanh
from .module import Module, ModuleList, Parameter, Sequential
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BCEWithLogitsLoss",
    "CellSpec",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "cells",
    "functional",
    "init",
    "scalar_rnn",
    "utils",
]
