"""End-to-end training from fixed seeds: the loss must fall by a stated factor, and the README runs."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - PyTorch's idiom
from tinygrad_rnn.nn.utils import clip_grad_norm_, detach_state, tbptt_chunks

README = Path(__file__).resolve().parent.parent / "README.md"


class Classifier(nn.Module):
    """Many-to-one: read the whole sequence, classify from the last hidden state."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(1, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        _, (h_n, _) = self.rnn(x)
        return self.head(h_n[-1])  # (B, 2)


class CharModel(nn.Module):
    """Next-character model: embedding, GRU, linear read-out at every step."""

    def __init__(self, vocab: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.rnn = nn.GRU(8, 16)
        self.head = nn.Linear(16, vocab)

    def forward(self, tokens, h=None):
        out, h = self.rnn(self.embed(tokens), h)  # (T, B, 16)
        return self.head(out), h  # (T, B, vocab)


TEXT = "hello world. hello rnn. "
VOCAB = sorted(set(TEXT))
IDS = np.array([VOCAB.index(ch) for ch in TEXT])
INPUTS, TARGETS = IDS[:-1, None], IDS[1:, None]  # (T=23, B=1)


def test_many_to_one_lstm_classifier_loss_falls_50x():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(32, 7, 1))
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)  # majority sign (7 steps, never a tie)
    model = Classifier()
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 50, losses  # measured: 0.786 -> 0.0023 (x338)
    assert np.array_equal(np.argmax(model(x).data, axis=1), y)


def test_char_model_full_bptt_loss_falls_10x():
    tg.manual_seed(0)
    model = CharModel(len(VOCAB))
    opt = optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        logits, _ = model(INPUTS)
        loss = F.cross_entropy(logits, TARGETS)
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, losses  # measured: 2.30 -> 0.061 (x38)


def test_char_model_truncated_bptt_loss_falls_10x():
    tg.manual_seed(0)
    model = CharModel(len(VOCAB))
    opt = optim.Adam(model.parameters(), lr=0.03)

    def full_loss() -> float:
        with tg.no_grad():
            return F.cross_entropy(model(INPUTS)[0], TARGETS).item()

    first = full_loss()
    for _ in range(25):
        h = None
        for x_chunk, y_chunk in tbptt_chunks(INPUTS, TARGETS, k=8):
            opt.zero_grad()
            logits, h = model(x_chunk, h)
            F.cross_entropy(logits, y_chunk).backward()
            opt.step()
            h = detach_state(h)  # carry the state, not the graph
    assert full_loss() < first / 10  # measured: 2.30 -> 0.070 (x33)


def test_readme_nn_example_runs_and_trains():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("<!-- section:nn -->") : text.index("<!-- /section:nn -->")]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len([line for line in code.splitlines() if line.strip()]) <= 16  # a short example
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, "README.md[nn]", "exec"), namespace)
    assert "final loss" in out.getvalue()
    assert namespace["loss"].item() < 0.693 / 20  # started at log 2
