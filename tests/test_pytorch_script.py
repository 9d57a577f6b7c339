"""A PyTorch user's script runs after changing only its imports (issue 16).

``pytorch_scripts/char_rnn_torch.py`` is a character model written for PyTorch (Embedding, a
2-layer bidirectional GRU with dropout, AdamW with CosineAnnealingLR, clip_grad_norm_, sampling with
multinomial); ``char_rnn_tinygrad.py`` is the same file with the imports pointed at tinygrad_rnn.
With the same weights the two agree: outputs, 12 training steps (losses and every weight), and the
sampling distribution. Dropout is compared in eval mode (the two libraries draw different masks);
in training mode it is checked to change the output, the same way in both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent / "pytorch_scripts"
IMPORT_LINES = {
    "import torch": "import tinygrad_rnn as torch",
    "from torch import nn": "from tinygrad_rnn import nn",
    "from torch.nn import functional as F": "from tinygrad_rnn.nn import functional as F",
    "from torch.optim import AdamW": "from tinygrad_rnn.optim import AdamW",
    "from torch.optim.lr_scheduler import CosineAnnealingLR": (
        "from tinygrad_rnn.optim.lr_scheduler import CosineAnnealingLR"
    ),
}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_two_scripts_differ_only_in_their_imports():
    theirs = (HERE / "char_rnn_torch.py").read_text(encoding="utf-8").splitlines()
    ours = (HERE / "char_rnn_tinygrad.py").read_text(encoding="utf-8").splitlines()
    assert len(theirs) == len(ours)
    changed = [(a, b) for a, b in zip(theirs, ours) if a != b]
    assert changed == list(IMPORT_LINES.items())


def _pair():
    torch = pytest.importorskip("torch")
    theirs_mod, ours_mod = _load("char_rnn_torch"), _load("char_rnn_tinygrad")
    chars, t_ids = theirs_mod.encode(theirs_mod.TEXT)
    _, ids = ours_mod.encode(ours_mod.TEXT)
    np.testing.assert_array_equal(ids.numpy(), t_ids.numpy())
    torch.manual_seed(0)
    theirs = theirs_mod.CharRNN(len(chars)).double()
    ours = ours_mod.CharRNN(len(chars))
    their_state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert set(their_state) == set(ours.state_dict())  # PyTorch's parameter names, one to one
    ours.load_state_dict(their_state)
    return torch, (theirs_mod, theirs, t_ids), (ours_mod, ours, ids), chars


def test_same_weights_same_training_and_sampling_distribution():
    _, (theirs_mod, theirs, t_ids), (ours_mod, ours, ids), chars = _pair()
    theirs.eval(), ours.eval()  # dropout off in both: the masks come from different generators
    x = t_ids[:12].unsqueeze(0)
    np.testing.assert_allclose(ours(ids[:12].unsqueeze(0)).data, theirs(x).detach().numpy(), rtol=1e-10, atol=1e-10)

    their_losses = theirs_mod.train(theirs, t_ids, steps=12)
    our_losses = ours_mod.train(ours, ids, steps=12)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9, atol=1e-10)
    assert our_losses[-1] < our_losses[0]  # it learned something
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.data, their_params[name].detach().numpy(), rtol=1e-8, atol=1e-9, err_msg=name)

    probs = ours_mod.next_char_probs(ours, ids[:10])
    t_probs = theirs_mod.next_char_probs(theirs, t_ids[:10])
    np.testing.assert_allclose(probs.data, t_probs.numpy(), rtol=1e-8, atol=1e-10)
    text = ours_mod.sample(ours, chars, ids[:10], length=15)
    assert len(text) == 25 and set(text) <= set(chars) and text.startswith(ours_mod.TEXT[:10])


def test_dropout_is_active_in_training_mode_in_both():
    _, (_, theirs, t_ids), (_, ours, ids), _ = _pair()
    theirs.train(), ours.train()
    x, t_x = ids[:12].unsqueeze(0), t_ids[:12].unsqueeze(0)
    assert not np.allclose(ours(x).data, ours.eval()(x).data)
    assert not np.allclose(theirs(t_x).detach().numpy(), theirs.eval()(t_x).detach().numpy())
