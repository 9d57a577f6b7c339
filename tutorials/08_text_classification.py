# %% [markdown]
# # Lesson 8: many-to-one text classification with word embeddings -- where word order matters
#
# Each word gets a learned vector (`nn.Embedding`: row k of a matrix for word k; its gradient
# scatter-adds into the rows that were used). A GRU reads the vectors in order and its last hidden
# state goes to a linear classifier: many inputs, one output.
#
# The sentences need order: "the film was good and not bad" is positive, "the film was bad and not
# good" is negative -- the *same bag of words*. A bag-of-words model (average of the embeddings,
# then the same classifier) cannot tell them apart, however long it trains; the GRU can.

# %%
from _common import Lesson

lesson = Lesson(
    "08_text_classification",
    ingredients={"word_order": "the GRU reads the words in order (without: each sentence shuffled)"},
)

import matplotlib.pyplot as plt
import numpy as np
from tinygrad_rnn.apps.datasets import negation_sentiment

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim

train_sentences, train_labels, _ = negation_sentiment(lesson.pick(2000, 1000), np.random.default_rng(0))
test_sentences, test_labels, test_paired = negation_sentiment(500, np.random.default_rng(1))
words = sorted({w for s in train_sentences + test_sentences for w in s})
index = {w: k + 1 for k, w in enumerate(words)}  # 0 is padding
print(f"vocabulary: {len(words)} words; e.g. {' '.join(train_sentences[0])!r} -> {train_labels[0]}")


def encode(sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned word ids (padding 0 at the front, so the last step is always the last word), lengths."""
    width = max(len(s) for s in sentences)
    ids = np.zeros((len(sentences), width), dtype=np.int64)
    for row, s in enumerate(sentences):
        ids[row, width - len(s) :] = [index[w] for w in s]
    return ids, np.array([len(s) for s in sentences])


if not lesson.uses("word_order"):  # the same words, each sentence in a random order
    shuffle = np.random.default_rng(2)
    train_sentences = [list(shuffle.permutation(s)) for s in train_sentences]
    test_sentences = [list(shuffle.permutation(s)) for s in test_sentences]
x_train, _ = encode(train_sentences)
x_test, _ = encode(test_sentences)
E = lesson.param("embedding", 8)  # embedding size


class GRUClassifier(nn.Module):
    """Embedding -> GRU -> last hidden state -> 2 class scores."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(words) + 1, E)
        self.gru = nn.GRU(E, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, ids: np.ndarray) -> Tensor:
        output, _ = self.gru(self.embed(ids))  # (B, T, 16)
        return self.head(output[:, -1])  # (B, 2)


class BagOfWords(nn.Module):
    """Embedding -> average over the (non-padding) words -> 2 class scores: order is thrown away."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(words) + 1, E)
        self.head = nn.Linear(E, 2)

    def forward(self, ids: np.ndarray) -> Tensor:
        mask = Tensor((ids > 0).astype(np.float64)[:, :, None])  # (B, T, 1)
        mean = (self.embed(ids) * mask).sum(axis=1) / mask.sum(axis=1)  # (B, E)
        return self.head(mean)


def fit(model: nn.Module, iterations: int) -> nn.Module:
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(0)
    for _ in lesson.progress(range(iterations), f"training the {type(model).__name__}"):
        batch = rng.integers(0, len(x_train), 64)
        loss = nn.functional.cross_entropy(model(x_train[batch]), train_labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def accuracy(model: nn.Module, mask: np.ndarray | None = None) -> float:
    with tg.no_grad():
        predicted = model(x_test).data.argmax(axis=1)
    hits = predicted == test_labels
    return float(hits[mask].mean() if mask is not None else hits.mean())


tg.manual_seed(0)
gru_model = fit(GRUClassifier(), lesson.pick(400, 250))
tg.manual_seed(0)
bag_model = fit(BagOfWords(), lesson.pick(400, 250))
results = {
    "GRU": (accuracy(gru_model), accuracy(gru_model, test_paired), accuracy(gru_model, ~test_paired)),
    "bag of words": (accuracy(bag_model), accuracy(bag_model, test_paired), accuracy(bag_model, ~test_paired)),
}
print("\ntest accuracy       all   'A and not B'   '[not] A'")
for name, (overall, paired, single) in results.items():
    print(f"  {name:14s}  {overall:.3f}      {paired:.3f}        {single:.3f}")

gru_all, gru_paired = results["GRU"][0], results["GRU"][1]
bag_paired = results["bag of words"][1]
lesson.claim(
    gru_all >= lesson.pick(0.97, 0.9),
    f"the GRU classifies {gru_all:.1%} of test sentences correctly",
    needs="word_order",
)
# Bag of words is at chance on 'A and not B' by construction (swapping A and B keeps its input); the
# claim that can fail is that the GRU, reading in order, does much better on exactly those sentences.
print(f"bag of words on 'A and not B': {bag_paired:.1%} (chance: the two orders give it the same input)")
lesson.claim(
    gru_paired > bag_paired + 0.3,
    f"on 'A and not B' the GRU is right {gru_paired:.1%} of the time, bag of words {bag_paired:.1%}: order matters",
    needs="word_order",
)

# The learned embeddings in 2-D (principal components), coloured by the adjective's polarity.
vectors = gru_model.embed.weight.data[1:]  # (words, E), without padding
centered = vectors - vectors.mean(axis=0)
_, _, vt = np.linalg.svd(centered, full_matrices=False)
xy = centered @ vt[:2].T
positive = {"good", "great", "fine", "nice", "superb", "lovely"}
negative = {"bad", "awful", "poor", "dull", "boring", "weak"}
fig, ax = plt.subplots(figsize=(6, 4.5))
for w, (px, py) in zip(words, xy, strict=True):
    color = "tab:green" if w in positive else "tab:red" if w in negative else "tab:grey"
    ax.scatter(px, py, color=color, s=25)
    ax.annotate(w, (px, py), fontsize=8, xytext=(3, 3), textcoords="offset points")
for color, label in (("tab:green", "positive adjective"), ("tab:red", "negative adjective"), ("tab:grey", "other")):
    ax.scatter([], [], color=color, s=25, label=label)
ax.legend(fontsize=8)
ax.set(xlabel="principal component 1", ylabel="principal component 2", title="GRU classifier's word embeddings")
lesson.savefig(fig, "embeddings_2d", key=True)

# Positive and negative adjectives end up apart: each adjective's nearest adjective shares its polarity.
adjectives = sorted(positive | negative)
adj = np.array([vectors[words.index(w)] for w in adjectives])
adj = adj / np.linalg.norm(adj, axis=1, keepdims=True)
similarity = adj @ adj.T - 2 * np.eye(len(adjectives))
nearest_same = np.mean(
    [(adjectives[k] in positive) == (adjectives[j] in positive) for k, j in enumerate(similarity.argmax(1))]
)
lesson.claim(
    nearest_same >= 0.9,
    f"learned embeddings group adjectives by polarity ({nearest_same:.0%} nearest neighbours agree)",
)

# %% [markdown]
# ## Predict, then run
#
# 1. `--without word_order`: every sentence is shuffled. Predict the GRU's accuracy on "A and not
#    B" sentences -- and on the simple ones. Do the embeddings still separate the adjectives?
# 2. `--set embedding=2`: two numbers per word. Enough for the GRU? Look at the 2-D picture.

# %%
lesson.done()
