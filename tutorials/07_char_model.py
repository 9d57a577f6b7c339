# %% [markdown]
# # Lesson 7: a character model -- "hello" from one-hot vectors, then English, against n-gram baselines
#
# A character-level language model reads one character per step (as a one-hot vector) and
# predicts the next one: at step t its output is a score for every character, trained with
# cross-entropy against the character that actually follows. The course's smallest example: the
# vocabulary (h, e, l, o), the input "hell" and the targets "ello". Note that "l" is followed once
# by "l" and once by "o": only the hidden state, which remembers what came before, can tell the two
# cases apart.
#
# Then real English: text gathered offline from the Python standard library's documentation
# (`tinygrad_rnn.apps.datasets.english_text`), an LSTM trained on random slices of it, judged
# against the models it must beat -- **n-gram counts**, which predict the next character from the
# previous n - 1 and know nothing else. A trigram model already captures much of English
# spelling; an RNN earns its keep only if it does better than the best of them.

# %%
from _common import Lesson

lesson = Lesson("07_char_model", ingredients={"training": "the RNN and the LSTM are trained"})

from collections import Counter, defaultdict

import matplotlib.pyplot as plt
import numpy as np
from tinygrad_rnn.apps.datasets import CharVocab, english_text

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

# %% [markdown]
# ## 1. "hello"
#
# The vocabulary in the course's order, h, e, l, o: each character is a one-hot row. PyTorch's
# names for the RNN's weights map to the course's: `weight_ih_l0` is W_xh (input to hidden),
# `weight_hh_l0` is W_hh (hidden to hidden); the readout `Linear` is W_hy.

# %%
CHARS = ["h", "e", "l", "o"]  # the course's order (CharVocab would sort them: e, h, l, o)
one_hot = {c: np.eye(len(CHARS))[i] for i, c in enumerate(CHARS)}
print("one-hot table:        " + "  ".join(CHARS))
for c in CHARS:
    print(f"  {c!r} -> {one_hot[c].astype(int).tolist()}")

rnn = nn.RNN(len(CHARS), 8)
readout = nn.Linear(8, len(CHARS))
print(f"W_xh = rnn.weight_ih_l0 {rnn.weight_ih_l0.shape}, W_hh = rnn.weight_hh_l0 {rnn.weight_hh_l0.shape}, ", end="")
print(f"W_hy = readout.weight {readout.weight.shape}")
inputs = Tensor(np.stack([one_hot[c] for c in "hell"]))  # (4 steps, 4 characters)
targets = np.array([CHARS.index(c) for c in "ello"])
optimizer = optim.Adam([*rnn.parameters(), *readout.parameters()], lr=0.05)
for _ in range(100 if lesson.uses("training") else 0):
    outputs, _ = rnn(inputs)  # unbatched input (T, features) -> outputs (T, 8)
    loss = nn.functional.cross_entropy(readout(outputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

# At test time: start from "h", feed each prediction back in as the next input, carrying the state.
with tg.no_grad():
    outputs, _ = rnn(inputs)
    probabilities = readout(outputs).softmax(axis=1).data  # (4, 4)
    generated, state = "h", None
    for _ in range(4):
        out, state = rnn(Tensor(one_hot[generated[-1]][None]), state)
        generated += CHARS[int(readout(out).data[0].argmax())]
print(f'from "h", feeding its own predictions back, the RNN writes "{generated}"')
lesson.claim(
    generated == "hello",
    'started from "h", the trained RNN writes "hello": after the first "l" it says "l", after the second "o"',
    needs="training",
)

fig, ax = plt.subplots(figsize=(4, 3))
ax.imshow(probabilities.T, cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(4), [f"{c}->{n}" for c, n in zip("hell", "ello", strict=True)])
ax.set_yticks(range(4), CHARS)
ax.set(xlabel="input -> target", ylabel="predicted next character", title="P(next character) for 'hell'")
for (i, j), p in np.ndenumerate(probabilities):
    ax.text(i, j, f"{p:.2f}", ha="center", va="center", fontsize=8, color="white" if p > 0.5 else "black")
lesson.savefig(fig, "hello_probabilities")

# %% [markdown]
# ## 2. Real English, and the n-gram baselines
#
# An n-gram model counts, in the training text, which character follows each context of n - 1
# characters, and predicts with those counts (add-alpha smoothing; a context never seen falls back
# to a shorter one). The smoothing alpha is chosen on the last tenth of the training text, never
# on the held-out text.

# %%
text = english_text(min_chars=lesson.pick(40_000, 15_000))
vocab = CharVocab(text)
data = vocab.encode(text)
split = int(0.9 * len(data))
train_ids, test_ids = data[:split], data[split:]
V = len(vocab)
print(f"corpus: {len(text)} characters of standard-library documentation, {V} distinct characters")
print(f"sample: {text[:150]!r}")


def ngram_loss(order: int, alpha: float, fit: np.ndarray, score: np.ndarray) -> float:
    """Mean cross-entropy (nats/char) on ``score`` of an add-alpha n-gram counted on ``fit``, with back-off."""
    counts = [defaultdict(Counter) for _ in range(order)]  # counts[n][previous n characters][next]
    for i in range(len(fit)):
        for n in range(min(order, i + 1)):
            counts[n][tuple(fit[i - n : i])][fit[i]] += 1
    total = 0.0
    for i in range(len(score)):
        for n in range(min(order, i + 1) - 1, -1, -1):  # the longest context that was seen
            following = counts[n].get(tuple(score[i - n : i]))
            if following is not None:
                total -= np.log((following[score[i]] + alpha) / (sum(following.values()) + alpha * V))
                break
    return total / len(score)


fit_part, tune_part = train_ids[: int(0.9 * split)], train_ids[int(0.9 * split) :]
baselines = {}
for order in (1, 2, 3, 4):
    alpha = min((0.01, 0.03, 0.1, 0.3, 1.0), key=lambda a: ngram_loss(order, a, fit_part, tune_part))
    baselines[f"{order}-gram (alpha {alpha})"] = ngram_loss(order, alpha, train_ids, test_ids)
for name, value in baselines.items():
    print(f"  held-out loss of the {name:18s} {value:.3f} nats/char")
best_name = min(baselines, key=baselines.get)

# %% [markdown]
# ## 3. The LSTM, with samples as it learns
#
# One-hot characters in, an LSTM, scores for the next character out; Adam on random slices of 32
# characters, every step predicting the next character. Every so often we let it write (sampling
# at temperature 0.7): watch spaces, then short words, then longer ones appear.

# %%
H, SEQ, BATCH = lesson.param("hidden", lesson.pick(96, 48)), 32, 32
# 500 batches of 32 x 32 characters is about 14 passes over the 36,000 training characters; more
# passes overfit this small text (1,000 batches of 48 gave a *worse* held-out loss, 1.81).
ITERATIONS = lesson.pick(500, 300) if lesson.uses("training") else 0


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


model = CharLSTM()
optimizer = optim.Adam(model.parameters(), lr=0.01)
rng = lesson.rng
losses = []
for iteration in lesson.progress(range(1, ITERATIONS + 1), "training the character LSTM"):
    starts = rng.integers(0, len(train_ids) - SEQ - 1, BATCH)
    chunk = np.stack([train_ids[s : s + SEQ + 1] for s in starts])  # (B, T + 1)
    logits, _ = model(chunk[:, :-1])
    loss = nn.functional.cross_entropy(logits, chunk[:, 1:])  # every step predicts the next character
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    losses.append(loss.item())
    if iteration % (ITERATIONS // 4) == 0:
        sample, _ = generate("the ", 60, 0.7, np.random.default_rng(iteration))
        print(f"  after {iteration:4d} batches (loss {np.mean(losses[-20:]):.2f}): {sample!r}")


def held_out_loss() -> float:
    """Mean cross-entropy (nats per character) on text the model never trained on."""
    n = (len(test_ids) - 1) // SEQ
    chunk = np.stack([test_ids[k * SEQ : k * SEQ + SEQ + 1] for k in range(n)])
    with tg.no_grad():
        logits, _ = model(chunk[:, :-1])
        return nn.functional.cross_entropy(logits, chunk[:, 1:]).item()


test_loss = held_out_loss()
print(f"held-out loss: LSTM {test_loss:.3f} nats/char; best n-gram: {best_name}, {baselines[best_name]:.3f}")
if lesson.quick:  # a small model trained for seconds: it must at least beat the bigram
    lesson.claim(
        test_loss < baselines[next(k for k in baselines if k.startswith("2-gram"))],
        f"quick mode: the LSTM ({test_loss:.3f}) beats the bigram model on held-out text",
        needs="training",
    )
else:
    trigram = baselines[next(k for k in baselines if k.startswith("3-gram"))]
    lesson.claim(
        test_loss < 0.95 * trigram and test_loss < 1.03 * baselines[best_name],
        f"the LSTM ({test_loss:.3f} nats/char) beats the trigram ({trigram:.3f}) by over 5% and is within 3% of "
        f"the best n-gram, the {best_name} ({baselines[best_name]:.3f}), on held-out text",
        needs="training",
    )

# %% [markdown]
# An honest result: on 36,000 characters of training text, a 4-gram count model is as good as
# this LSTM. The LSTM's advantage -- context of any length, shared structure between similar
# contexts -- pays off with more text and more training than a lesson can afford; the 4-gram's
# table, meanwhile, grows with every new context it sees.

# %% [markdown]
# ## 4. Generation with temperature
#
# Sampling from softmax(logits / tau): tau < 1 sharpens the distribution, tau > 1 flattens it.
# That the entropy grows with tau is a property of softmax, true of any model; what the *model*
# decides is whether its confident choices are good ones -- here, whether they are real words.

# %%
known_words = set(text.split())
real_by_tau = {}
for tau in (0.5, 1.0, 1.5):
    sample, entropy = generate("the ", lesson.pick(200, 100), tau, np.random.default_rng(1))
    words = sample.split()
    real_by_tau[tau] = float(np.mean([w.strip(".,;:()") in known_words for w in words]))
    print(f"tau = {tau}: mean entropy {entropy:.2f} nats, {real_by_tau[tau]:.0%} of words are real words\n  {sample!r}")
lesson.claim(
    real_by_tau[0.5] > lesson.pick(0.6, 0.3) and real_by_tau[0.5] > real_by_tau[1.5],
    f"at low temperature the trained model writes mostly real words ({real_by_tau[0.5]:.0%} at tau 0.5 vs "
    f"{real_by_tau[1.5]:.0%} at 1.5)",
    needs="training",
)

fig, ax = plt.subplots(figsize=(6.4, 3.6))
if losses:
    ax.plot(np.convolve(losses, np.ones(10) / 10, mode="valid"), label="LSTM training loss (10-batch average)")
for (name, value), style in zip(baselines.items(), [":", "-.", "--", "-"], strict=True):
    ax.axhline(value, color="grey", ls=style, lw=1, label=f"{name}, held out")
ax.axhline(test_loss, color="tab:green", lw=2, label="LSTM, held out")
ax.set(xlabel="batch", ylabel="cross-entropy (nats/char)", title="Character LSTM on standard-library docs")
ax.legend(fontsize=7)
lesson.savefig(fig, "char_lstm_loss", key=True)

# %% [markdown]
# ## Predict, then run
#
# 1. `--quick --set hidden=8`: an LSTM with 8 units instead of 48. Predict: does it still beat the
#    bigram after 300 batches? The trigram?
# 2. `--without training`: the models keep their random weights. What does "hello" become, and
#    where does the untrained LSTM's held-out loss sit relative to the unigram (about log V)?

# %%
lesson.done()
