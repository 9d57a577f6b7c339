"""tinygrad_rnn.nn.init: in-place initialisers, as torch.nn.init, and what the recurrent layers draw."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.errors import ArgumentError, ShapeError
from tinygrad_rnn.gradflow import spectral_radius
from tinygrad_rnn.nn import init


def test_layers_draw_u_of_one_over_sqrt_h_in_pytorch_order():
    tg.manual_seed(7)
    gru = nn.GRU(2, 4, num_layers=2)
    rng = np.random.default_rng(7)  # manual_seed(7) seeds this same generator
    bound = 1 / math.sqrt(4)
    for name, p in gru.named_parameters():
        np.testing.assert_array_equal(p.data, rng.uniform(-bound, bound, p.shape), err_msg=name)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    w = init.orthogonal_(tg.Tensor(np.zeros(shape)), gain=2.0)
    small = min(shape)
    product = w.data @ w.data.T if shape[0] <= shape[1] else w.data.T @ w.data
    np.testing.assert_allclose(product, 4.0 * np.eye(small), atol=1e-12)


def test_eye_uniform_constant():
    w = init.eye_(tg.Tensor(np.ones((2, 3))))
    np.testing.assert_array_equal(w.data, np.eye(2, 3))
    u = init.uniform_(tg.Tensor(np.zeros(1000)), -0.5, 0.25)
    assert -0.5 <= u.data.min() and u.data.max() <= 0.25 and u.data.std() > 0.1
    assert np.all(init.zeros_(u).data == 0)
    with pytest.raises(ShapeError, match="eye_"):
        init.eye_(tg.Tensor(np.ones(3)))
    with pytest.raises(ArgumentError, match="lower bound"):
        init.uniform_(u, 1.0, 0.0)


def test_spectral_radius_rescales_each_gate_block():
    tg.manual_seed(1)
    lstm = nn.LSTM(2, 3)
    init.spectral_radius_(lstm.weight_hh_l0, 0.7, blocks=4)
    for g in range(4):
        assert spectral_radius(lstm.weight_hh_l0.data[3 * g : 3 * g + 3]) == pytest.approx(0.7)
    with pytest.raises(ShapeError, match="square"):
        init.spectral_radius_(lstm.weight_hh_l0, 0.7, blocks=3)


def test_memory_gate_bias_reads_the_cell_spec():
    gru = nn.GRU(2, 3, num_layers=2)
    init.memory_gate_bias_(gru, 2.0)
    for k in range(2):  # z is block 1 of (r, z, n)
        b_ih, b_hh = getattr(gru, f"bias_ih_l{k}").data, getattr(gru, f"bias_hh_l{k}").data
        assert np.all(b_ih[3:6] == 2.0) and np.all(b_hh[3:6] == 0.0) and not np.any(b_ih[:3] == 2.0)
    cell = init.memory_gate_bias_(nn.LSTMCell(2, 3), -1.0)  # f is block 1 of (i, f, g, o)
    assert np.all(cell.bias_ih.data[3:6] == -1.0) and np.all(cell.bias_hh.data[3:6] == 0.0)
    with pytest.raises(ArgumentError, match="no memory gate"):
        init.memory_gate_bias_(nn.RNN(2, 3), 1.0)
    with pytest.raises(ArgumentError, match="no biases"):
        init.memory_gate_bias_(nn.LSTM(2, 3, bias=False), 1.0)
