"""The headline workload: training a character model end to end, the way a user writes it.

``Embedding(95, 32) -> LSTM(32, 128, batch_first=True) -> Linear(128, 95) -> cross_entropy ->
Adam(lr=3e-3)`` on batches of 32 x 64 characters of English prose (the project's offline text,
:func:`tinygrad_rnn.apps.datasets.english_text`), and the same model with a GRU. PyTorch is
written the same way when it is installed; both start from the same weights (PyTorch's
initialisation, copied into ours) and see the same batches, so their loss curves must agree:
:func:`loss_curves` checks that before anything is timed.

Characters map to ids ``ord(c) - 32`` (printable ASCII, newlines as spaces): a vocabulary of 95.
"""

from __future__ import annotations

import numpy as np
from tinygrad_rnn.apps.datasets import english_text

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional
from tinygrad_rnn.optim import Adam

try:  # optional: a column for PyTorch when it happens to be installed
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

MODEL = {"vocab": 95, "embed": 32, "hidden": 128, "batch": 32, "steps": 64, "lr": 3e-3}


def text_ids(chars: int = 60_000) -> np.ndarray:
    """The offline prose as int64 ids in ``[0, 95)``: ``ord(c) - 32``, newlines read as spaces."""
    text = english_text(chars).replace("\n", " ")
    ids = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8).astype(np.int64) - 32
    return np.clip(ids, 0, MODEL["vocab"] - 1)


def make_batches(count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches ``(inputs, targets)``, each ``(B, T)``, targets shifted one character on."""
    ids = text_ids()
    batch, steps = MODEL["batch"], MODEL["steps"]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        starts = rng.integers(0, len(ids) - steps - 1, batch)
        window = np.stack([ids[s : s + steps + 1] for s in starts])  # (B, T + 1)
        out.append((window[:, :-1].copy(), window[:, 1:].copy()))
    return out


class CharModel(nn.Module):
    """``Embedding -> LSTM or GRU (batch_first) -> Linear``: logits for the next character."""

    def __init__(self, cell: str, fused: bool, dtype: str) -> None:
        super().__init__()
        v, e, h = MODEL["vocab"], MODEL["embed"], MODEL["hidden"]
        self.embed = nn.Embedding(v, e, dtype=dtype)
        layer = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = layer(e, h, batch_first=True, fused=fused, dtype=dtype)
        self.head = nn.Linear(h, v, dtype=dtype)

    def forward(self, idx: np.ndarray) -> Tensor:
        out, _ = self.rnn(self.embed(idx))  # (B, T, H)
        return self.head(out)  # (B, T, V)


def _torch_model(cell: str, dtype: str, seed: int = 0):
    torch.manual_seed(seed)
    v, e, h = MODEL["vocab"], MODEL["embed"], MODEL["hidden"]

    class TorchCharModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(v, e)
            layer = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
            self.rnn = layer(e, h, batch_first=True)
            self.head = torch.nn.Linear(h, v)

        def forward(self, idx):
            out, _ = self.rnn(self.embed(idx))
            return self.head(out)

    return TorchCharModel().to(getattr(torch, dtype))


def _initial_weights(cell: str, dtype: str, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch's initial weights when it is installed (so both start alike), else a seeded model's."""
    if torch is not None:
        return {k: v.detach().numpy().copy() for k, v in _torch_model(cell, dtype, seed).state_dict().items()}
    from tinygrad_rnn import manual_seed

    manual_seed(seed)
    return CharModel(cell, False, dtype).state_dict()


def tg_trainer(cell: str, fused: bool, dtype: str, batches, weights: dict[str, np.ndarray]):
    """One call = one training step of tinygrad_rnn on the next batch; returns the loss."""
    model = CharModel(cell, fused, dtype)
    model.load_state_dict(weights)
    opt = Adam(model.parameters(), lr=MODEL["lr"])
    vocab = MODEL["vocab"]
    counter = iter(range(1 << 62))

    def step() -> float:
        x, y = batches[next(counter) % len(batches)]
        opt.zero_grad()
        logits = model(x)  # (B, T, V)
        loss = functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_trainer(cell: str, dtype: str, batches, seed: int = 0):
    """The same training step in PyTorch, written the same way."""
    model = _torch_model(cell, dtype, seed)
    opt = torch.optim.Adam(model.parameters(), lr=MODEL["lr"])
    vocab = MODEL["vocab"]
    tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    counter = iter(range(1 << 62))

    def step() -> float:
        x, y = tensors[next(counter) % len(tensors)]
        opt.zero_grad()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def make_training(cell: str, dtype: str = "float32", batch_count: int = 16) -> dict:
    """``{label: one training step}``: PyTorch first (the baseline) when installed, then ours."""
    batches = make_batches(batch_count)
    weights = _initial_weights(cell, dtype)
    impls = {}
    if torch is not None:
        impls[f"torch nn.{cell.upper()}"] = torch_trainer(cell, dtype, batches)
    impls["tinygrad_rnn fused"] = tg_trainer(cell, True, dtype, batches, weights)
    impls["tinygrad_rnn ops"] = tg_trainer(cell, False, dtype, batches, weights)
    return impls


def loss_curves(cell: str, steps: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    """The loss at each of ``steps`` training steps, for each implementation, from the same start."""
    return {label: np.array([step() for _ in range(steps)]) for label, step in make_training(cell, dtype).items()}


def curve_disagreement(curves: dict[str, np.ndarray]) -> float:
    """The largest difference between any implementation's loss and the first one's, over all steps."""
    labels = list(curves)
    base = curves[labels[0]]
    return max(float(np.max(np.abs(curves[k] - base))) for k in labels[1:]) if len(labels) > 1 else 0.0
