"""A PyTorch user's character model: Embedding, a 2-layer bidirectional GRU with dropout, AdamW with
cosine annealing, gradient clipping, and sampling with multinomial.

``char_rnn_tinygrad.py`` beside it is the same file with only the imports changed;
``tests/test_pytorch_script.py`` checks that, and that the two agree on the same weights.
"""

import tinygrad_rnn as torch
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import AdamW
from tinygrad_rnn.optim.lr_scheduler import CosineAnnealingLR

TEXT = "hello world, hello recurrent world. "


class CharRNN(nn.Module):
    def __init__(self, vocab_size, embed_size=8, hidden_size=16, num_layers=2, dropout=0.25):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.gru = nn.GRU(
            embed_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout, bidirectional=True
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, vocab_size)

    def forward(self, ids):
        out, _ = self.gru(self.embed(ids))  # (B, T, 2H)
        return self.head(self.drop(out))  # (B, T, V)


def encode(text):
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return chars, torch.tensor([index[c] for c in text], dtype=torch.long)


def batches(ids, seq_len, batch_size, step):
    starts = [(step * batch_size + b) * 3 % (ids.size(0) - seq_len - 1) for b in range(batch_size)]
    x = torch.stack([ids[s : s + seq_len] for s in starts])
    y = torch.stack([ids[s + 1 : s + seq_len + 1] for s in starts])
    return x, y


def train(model, ids, steps=30, seq_len=10, batch_size=4, lr=0.01):
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = CosineAnnealingLR(optimizer, T_max=steps)
    losses = []
    for step in range(steps):
        x, y = batches(ids, seq_len, batch_size, step)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), label_smoothing=0.05)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def next_char_probs(model, ids):
    with torch.no_grad():
        logits = model(ids.unsqueeze(0))
        return F.softmax(logits[0, -1], dim=-1)


def sample(model, chars, ids, length=20):
    model.eval()
    out = ids.tolist()
    for _ in range(length):
        probs = next_char_probs(model, torch.tensor(out[-10:], dtype=torch.long))
        out.append(torch.multinomial(probs, num_samples=1).item())
    return "".join(chars[i] for i in out)
