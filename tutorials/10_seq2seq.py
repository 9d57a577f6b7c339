# %% [markdown]
# # Lesson 10: encoder-decoder sequence to sequence, and one-to-many generation
#
# **Encoder-decoder.** A translation-like toy task: read a sequence of digits and write it reversed
# ("3 1 4 1 5" -> "5 1 4 1 3"). The encoder GRU reads the whole input; its final hidden state is the
# summary handed to the decoder GRU, which writes the output one token at a time, each step fed the
# previous output token (starting from a special <go> token). During training the decoder is fed the
# *true* previous token (teacher forcing); at test time it is fed its own previous guess (greedy
# decoding), so one early mistake can derail the rest.
#
# **One-to-many.** One input, a whole sequence out: given a single digit d, count up
# d, d+1, d+2, ... (mod 10). The digit's embedding becomes the decoder's initial state.

# %%
from _common import Lesson

lesson = Lesson(
    "10_seq2seq",
    ingredients={"context": "the decoder starts from the encoder final state / the digit (without: from zeros)"},
)

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

CONTEXT = lesson.uses("context")
DIGITS, GO = 10, 10  # tokens 0-9 are digits, 10 is <go>
LENGTH = lesson.param("length", lesson.pick(5, 4))
H = 48


class Seq2Seq(nn.Module):
    """Embedding -> encoder GRU -> (final state) -> decoder GRU -> digit scores."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(DIGITS + 1, 16)
        self.encoder = nn.GRU(16, H, batch_first=True)
        self.decoder = nn.GRU(16, H, batch_first=True)
        self.head = nn.Linear(H, DIGITS)

    def forward(self, source: np.ndarray, decoder_inputs: np.ndarray) -> Tensor:
        """Teacher forcing: score every output position given the true previous tokens."""
        _, summary = self.encoder(self.embed(source))  # summary: (1, B, H)
        summary = summary if CONTEXT else summary * 0.0  # without context: the decoder starts from zeros
        output, _ = self.decoder(self.embed(decoder_inputs), summary)  # (B, T, H)
        return self.head(output)  # (B, T, 10)

    def greedy(self, source: np.ndarray) -> np.ndarray:
        """Decode with the model's own previous output as the next input."""
        with tg.no_grad():
            _, state = self.encoder(self.embed(source))
            state = state if CONTEXT else state * 0.0
            token = np.full((len(source), 1), GO)
            outputs = []
            for _ in range(source.shape[1]):
                output, state = self.decoder(self.embed(token), state)
                token = self.head(output).data.argmax(axis=-1)  # (B, 1)
                outputs.append(token[:, 0])
        return np.stack(outputs, axis=1)


def batch(n: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = rng.integers(0, DIGITS, (n, LENGTH))
    target = source[:, ::-1]
    decoder_inputs = np.concatenate([np.full((n, 1), GO), target[:, :-1]], axis=1)  # <go>, then shifted target
    return source, decoder_inputs, target


tg.manual_seed(0)
model = Seq2Seq()
optimizer = optim.Adam(model.parameters(), lr=0.01)
rng = lesson.rng
losses = []
for _ in lesson.progress(range(lesson.pick(600, 200)), "training the encoder-decoder"):
    source, decoder_inputs, target = batch(64, rng)
    loss = nn.functional.cross_entropy(model(source, decoder_inputs), target)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    losses.append(loss.item())

source, _, target = batch(500, np.random.default_rng(99))
decoded = model.greedy(source)
token_accuracy = float((decoded == target).mean())
sequence_accuracy = float((decoded == target).all(axis=1).mean())
for k in range(3):
    print(f"  {' '.join(map(str, source[k]))}  ->  {' '.join(map(str, decoded[k]))}")
print(
    f"greedy decoding on 500 new sequences: {token_accuracy:.1%} of digits, {sequence_accuracy:.1%} of whole sequences"
)
lesson.claim(
    sequence_accuracy >= lesson.pick(0.9, 0.7) and token_accuracy >= lesson.pick(0.97, 0.85),
    f"the encoder-decoder reverses unseen sequences ({sequence_accuracy:.1%} exactly right, greedy decoding)",
    needs="context",
)
per_position = (decoded == target).mean(axis=0)


# %% [markdown]
# ## One-to-many: a single digit in, a counting sequence out.


# %%
class Counter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.start = nn.Embedding(DIGITS, 32)  # the one input becomes the initial state
        self.embed = nn.Embedding(DIGITS + 1, 8)
        self.decoder = nn.GRU(8, 32, batch_first=True)
        self.head = nn.Linear(32, DIGITS)

    def forward(self, digits: np.ndarray, decoder_inputs: np.ndarray) -> Tensor:
        state = self.start(digits).tanh().unsqueeze(0)  # (1, B, 32)
        state = state if CONTEXT else state * 0.0
        output, _ = self.decoder(self.embed(decoder_inputs), state)
        return self.head(output)

    def generate(self, digits: np.ndarray, steps: int) -> np.ndarray:
        with tg.no_grad():
            state = self.start(digits).tanh().unsqueeze(0)
            state = state if CONTEXT else state * 0.0
            token = np.full((len(digits), 1), GO)
            outputs = []
            for _ in range(steps):
                output, state = self.decoder(self.embed(token), state)
                token = self.head(output).data.argmax(axis=-1)
                outputs.append(token[:, 0])
        return np.stack(outputs, axis=1)


STEPS = 6
counter = Counter()
optimizer = optim.Adam(counter.parameters(), lr=0.02)
all_digits = np.arange(DIGITS)
counting = (all_digits[:, None] + np.arange(STEPS)) % DIGITS  # (10, STEPS)
for _ in lesson.progress(range(lesson.pick(300, 200)), "training the counter"):
    inputs = np.concatenate([np.full((DIGITS, 1), GO), counting[:, :-1]], axis=1)
    loss = nn.functional.cross_entropy(counter(all_digits, inputs), counting)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
generated = counter.generate(all_digits, STEPS)
for d in (0, 7):
    print(f"  one-to-many: {d} -> {' '.join(map(str, generated[d]))}")
lesson.claim(
    np.array_equal(generated, counting),
    "from one digit, the decoder generates the whole counting sequence",
    needs="context",
)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].semilogy(np.convolve(losses, np.ones(10) / 10, mode="valid"))
axes[0].set(xlabel="training step", ylabel="cross-entropy (teacher forcing)", title="Learning to reverse digits")
axes[1].bar(range(1, LENGTH + 1), per_position, color="tab:blue")
axes[1].set(
    xlabel="output position (greedy decoding)",
    ylabel="accuracy",
    ylim=(0, 1.05),
    title="Accuracy per output position",
)
lesson.savefig(fig, "seq2seq_reverse", key=True)

# %% [markdown]
# ## Predict, then run
#
# 1. `--set length=8`: longer sequences, same training. Predict: which output positions suffer
#    first -- the early ones (the last digits read) or the late ones?
# 2. `--without context`: the decoder starts from zeros. What can it still get right, per
#    position, and what is the best accuracy possible without the input?

# %%
lesson.done()
