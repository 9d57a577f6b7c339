"""tinygrad_rnn.testing: the public strategies and assertion helpers (the suite's own, and users')."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_rnn as tg
from tinygrad_rnn import GradcheckError, Tensor, gradcheck
from tinygrad_rnn.testing import (
    assert_contributions_sum,
    expression_programs,
    recurrent_configs,
    well_conditioned_matrices,
)

ROOT = Path(__file__).resolve().parents[1]


def test_importing_never_needs_hypothesis_and_using_it_names_the_extra():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"  # as if hypothesis were not installed
        "import tinygrad_rnn.testing as t\n"
        "try:\n    t.arrays((2,))\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'tinygrad_rnn[test]'" in result.stdout


@given(expression_programs())
def test_expression_programs_run_alike_on_the_engine_and_numpy_and_have_exact_gradients(program):
    tensors = [Tensor(a, requires_grad=True) for a in program.inputs]
    np.testing.assert_allclose(program(*tensors).data, program.numpy(*program.inputs), rtol=1e-13, atol=1e-14)
    assert gradcheck(program, tensors)


@given(well_conditioned_matrices(4))
def test_well_conditioned_matrices_keep_their_singular_values_in_range(m):
    s = np.linalg.svd(m, compute_uv=False)
    assert s.min() >= 0.5 - 1e-12 and s.max() <= 2.0 + 1e-12


@settings(max_examples=12)
@given(recurrent_configs())
def test_per_use_contributions_of_every_weight_sum_to_its_grad(config):
    tg.manual_seed(0)
    layer = config.build()
    x = Tensor(np.random.default_rng(0).standard_normal(config.input_shape))
    for _, param in layer.named_parameters():
        parts = assert_contributions_sum(lambda: (layer(x)[0] ** 2).sum(), param, min_uses=1)
        # The built-in cells use every parameter exactly once per step: one contribution per step.
        assert [c.step for c in parts] == list(range(config.steps))


def test_contribution_sum_helper_fails_when_it_should():
    w = Tensor(np.ones(2), requires_grad=True)
    w.name = "w"
    with pytest.raises(GradcheckError, match="w has 1 use"):
        assert_contributions_sum(lambda: (w * 3).sum(), w)
    # A hook that rescales the gradient reaching w makes .grad differ from what its uses sent.
    w.register_hook(lambda g: 2 * g)
    with pytest.raises(GradcheckError, match=r"differs from \.grad"):
        assert_contributions_sum(lambda: (w * w).sum(), w)
