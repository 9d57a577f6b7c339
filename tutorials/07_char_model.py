"""Lesson 7: a character model -- first "hello" from one-hot vectors, then English text generation.

A character-level language model reads one character per step (as a one-hot vector) and predicts
the next one: at step t its output is a score for every character, trained with cross-entropy
against the character that actually follows. The smallest example: the alphabet {h, e, l, o}, the
input "hell" and the targets "ello". Note that "l" is followed once by "l" and once by "o": only the
hidden state, which remembers what came before, can tell the two cases apart.

Then the same recipe on real English: text gathered offline from the Python standard library's
documentation (``tinygrad_rnn.apps.datasets.english_text``), an LSTM trained on random slices of it (with
a progress bar), and generation by sampling one character at a time from softmax(logits / tau).
The temperature tau sharpens (tau < 1) or flattens (tau > 1) the distribution.

Run: ``python tutorials/07_char_model.py [--quick] [--out FOLDER]``
"""

from _common import Lesson

lesson = Lesson(__doc__, "07_char_model")

import matplotlib.pyplot as plt
import numpy as np
from tinygrad_rnn.apps.datasets import CharVocab, english_text
from tqdm import tqdm

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

# ---------------------------------------------------------------------------------------------
# 1. "hello": four characters, one-hot inputs, a vanilla RNN and a linear readout.
vocab = CharVocab("helo")
inputs = Tensor(vocab.one_hot("hell"))  # (4 steps, 4 characters)
targets = vocab.encode("ello")
rnn = nn.RNN(len(vocab), 8)
readout = nn.Linear(8, len(vocab))
optimizer = optim.Adam([*rnn.parameters(), *readout.parameters()], lr=0.05)
for _ in range(100):
    outputs, _ = rnn(inputs)  # unbatched input (T, features) -> outputs (T, 8)
    logits = readout(outputs)  # (T, 4)
    loss = nn.functional.cross_entropy(logits, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
predicted = vocab.decode(logits.data.argmax(axis=1))
print(f'\n"hell" -> "{predicted}" after 100 Adam steps (loss {loss.item():.4f})')
lesson.claim(
    predicted == "ello", 'the RNN maps "hell" to "ello": after "l" it says "l" the first time and "o" the second'
)

probabilities = logits.softmax(axis=1).data
fig, ax = plt.subplots(figsize=(4, 3))
ax.imshow(probabilities.T, cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(4), [f"{c}->{n}" for c, n in zip("hell", "ello", strict=True)])
ax.set_yticks(range(4), vocab.chars)
ax.set(xlabel="input -> target", ylabel="predicted next character", title="P(next character) for 'hell'")
for (i, j), p in np.ndenumerate(probabilities):
    ax.text(i, j, f"{p:.2f}", ha="center", va="center", fontsize=8, color="white" if p > 0.5 else "black")
lesson.savefig(fig, "hello_probabilities")

# ---------------------------------------------------------------------------------------------
# 2. Real English, gathered from documentation installed on this machine (nothing downloaded).
text = english_text(min_chars=lesson.pick(40_000, 15_000))
vocab = CharVocab(text)
data = vocab.encode(text)
split = int(0.9 * len(data))
train_ids, test_ids = data[:split], data[split:]
print(f"\ncorpus: {len(text)} characters of standard-library documentation, {len(vocab)} distinct characters")
print(f"sample: {text[:150]!r}")

V, H, SEQ, BATCH = len(vocab), lesson.pick(96, 32), lesson.pick(32, 24), 32
ITERATIONS = lesson.pick(500, 80)


class CharLSTM(nn.Module):
    """One-hot character in, LSTM, scores for the next character out."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(V, H, batch_first=True, fused=True)  # one node per layer: faster, same numbers
        self.head = nn.Linear(H, V)

    def forward(self, ids: np.ndarray, state=None):
        x = Tensor(np.eye(V)[ids])  # one-hot: (B, T, V)
        output, state = self.lstm(x, state)  # (B, T, H)
        return self.head(output), state  # (B, T, V)


model = CharLSTM()
optimizer = optim.Adam(model.parameters(), lr=0.01)
rng = lesson.rng
losses = []
for _ in tqdm(range(ITERATIONS), desc="training the character LSTM", unit="batch", mininterval=1.0):
    starts = rng.integers(0, len(train_ids) - SEQ - 1, BATCH)
    chunk = np.stack([train_ids[s : s + SEQ + 1] for s in starts])  # (B, T + 1)
    logits, _ = model(chunk[:, :-1])
    loss = nn.functional.cross_entropy(logits, chunk[:, 1:])  # every step predicts the next character
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    losses.append(loss.item())


def held_out_loss() -> float:
    """Mean cross-entropy (nats per character) on text the model never trained on."""
    n = (len(test_ids) - 1) // SEQ
    chunk = np.stack([test_ids[k * SEQ : k * SEQ + SEQ + 1] for k in range(n)])
    with tg.no_grad():
        logits, _ = model(chunk[:, :-1])
        return nn.functional.cross_entropy(logits, chunk[:, 1:]).item()


counts = np.bincount(train_ids, minlength=V) + 1
unigram = counts / counts.sum()
unigram_loss = float(-np.log(unigram[test_ids]).mean())  # best model that ignores context
test_loss = held_out_loss()
print(f"held-out loss: LSTM {test_loss:.3f} nats/char vs {unigram_loss:.3f} for character frequencies alone")
lesson.claim(
    test_loss < lesson.pick(0.75, 0.92) * unigram_loss,
    f"the LSTM uses context: held-out loss {test_loss:.3f} < {lesson.pick(0.75, 0.92)} x unigram {unigram_loss:.3f}",
)


# ---------------------------------------------------------------------------------------------
# 3. Generation with temperature: feed the model its own samples, one character at a time.
def generate(prompt: str, length: int, temperature: float, sample_rng) -> tuple[str, float]:
    """Sample ``length`` characters after ``prompt``; also return the mean entropy of the distributions."""
    ids = list(vocab.encode(prompt))
    entropies = []
    with tg.no_grad():
        logits, state = model(np.array([ids]))
        for _ in range(length):
            scores = logits.data[0, -1] / temperature
            p = np.exp(scores - scores.max())
            p /= p.sum()
            entropies.append(float(-(p * np.log(p + 1e-300)).sum()))
            ids.append(int(sample_rng.choice(V, p=p)))
            logits, state = model(np.array([[ids[-1]]]), state)  # carry the state: no need to re-read the text
    return vocab.decode(ids), float(np.mean(entropies))


known_words = set(text.split())
entropy_by_tau, real_by_tau = {}, {}
for tau in (0.5, 1.0, 1.5):
    sample, entropy = generate("the ", lesson.pick(200, 60), tau, np.random.default_rng(1))
    words = sample.split()
    real = np.mean([w.strip(".,;:()") in known_words for w in words])
    entropy_by_tau[tau], real_by_tau[tau] = entropy, real
    print(f"\ntau = {tau}: mean entropy {entropy:.2f} nats, {real:.0%} of words are real words\n  {sample!r}")
lesson.claim(
    entropy_by_tau[0.5] < entropy_by_tau[1.0] < entropy_by_tau[1.5],
    "a higher temperature flattens the next-character distribution (its entropy grows)",
)
lesson.claim(
    real_by_tau[0.5] > real_by_tau[1.5],
    f"low temperature writes more real words ({real_by_tau[0.5]:.0%} at tau 0.5 vs {real_by_tau[1.5]:.0%} at 1.5)",
)

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(np.convolve(losses, np.ones(10) / 10, mode="valid"), label="training loss (10-batch average)")
ax.axhline(unigram_loss, color="grey", ls="--", label="character frequencies alone")
ax.axhline(test_loss, color="tab:green", ls=":", label="held-out loss after training")
ax.set(xlabel="batch", ylabel="cross-entropy (nats/char)", title="Character LSTM on standard-library docs")
ax.legend(fontsize=8)
lesson.savefig(fig, "char_lstm_loss", key=True)
lesson.done()
