"""The offline datasets: real English prose from installed documentation, vocabularies, negation task."""

import numpy as np
import pytest
from tinygrad_rnn.apps.datasets import CharVocab, english_text, negation_sentiment


def test_english_text_is_real_prose_and_deterministic():
    text = english_text(min_chars=20_000)
    assert len(text) >= 20_000
    assert text == english_text(min_chars=20_000)
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz0123456789 .,;:'()-\n")
    words = text.split()
    # English: the commonest words are the usual function words, and most lines end a sentence
    common = {w for w, _ in zip(*np.unique(words, return_counts=True), strict=True)}
    assert {"the", "of", "and", "to", "a", "is"} <= common
    counts = {w: words.count(w) for w in ("the", "of", "is")}
    assert counts["the"] > len(words) * 0.03
    assert all(line.endswith(".") for line in text.splitlines())


def test_english_text_skips_missing_modules_and_rejects_empty_sources():
    text = english_text(min_chars=1_000, modules=("no_such_module_here", "argparse"))
    assert "argument" in text
    with pytest.raises(ValueError, match="found no prose"):
        english_text(modules=("no_such_module_here",))


def test_char_vocab_round_trip_and_one_hot():
    vocab = CharVocab("hello world")
    assert len(vocab) == 8 and vocab.chars[0] == " "
    ids = vocab.encode("hold")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "hold"
    one_hot = vocab.one_hot("oh")
    assert one_hot.shape == (2, 8) and np.array_equal(one_hot.argmax(axis=1), vocab.encode("oh"))
    with pytest.raises(KeyError, match="character 'z' is not in the vocabulary"):
        vocab.encode("z")


def test_negation_sentiment_labels_follow_word_order():
    sentences, labels, paired = negation_sentiment(400, np.random.default_rng(0))
    positive = {"good", "great", "fine", "nice", "superb", "lovely"}
    for words, label, pair in zip(sentences, labels, paired, strict=True):
        was = words.index("was")
        if pair:
            assert words[was + 2 : was + 4] == ["and", "not"]
            assert label == (words[was + 1] in positive)
            assert (words[was + 1] in positive) != (words[was + 4] in positive)
        else:
            negated = words[was + 1] == "not"
            assert label == ((words[-1] in positive) != negated)
    assert 0.4 < labels.mean() < 0.6 and 0.4 < paired.mean() < 0.6
    # a swapped pair has the same bag of words and the opposite label
    bags = {}
    for words, label, pair in zip(sentences, labels, paired, strict=True):
        if pair:
            bags.setdefault(tuple(sorted(words)), set()).add(int(label))
    assert any(len(found) == 2 for found in bags.values())
