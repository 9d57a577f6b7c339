"""Small offline datasets for the tutorials: real English text and a word-order sentiment task.

Nothing here downloads anything. :func:`english_text` gathers real English prose that is present
on every machine that runs this project: the documentation strings of Python's standard library
(the same text ``pydoc`` shows). :func:`negation_sentiment` makes short sentences whose label
depends on word order ("good and not bad" vs "bad and not good"), the task a bag of words cannot
solve. :class:`CharVocab` turns text into integer ids and back.

This module imports numpy and the standard library only.

Example:
    >>> text = english_text(min_chars=5_000)
    >>> vocab = CharVocab(text)
    >>> vocab.decode(vocab.encode("the cat")) == "the cat"
    True
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["STDLIB_MODULES", "CharVocab", "english_text", "negation_sentiment"]

#: Standard-library modules whose documentation is mostly prose (present in every CPython >= 3.10).
STDLIB_MODULES = (
    "argparse",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email.message",
    "fractions",
    "functools",
    "heapq",
    "http.client",
    "inspect",
    "json",
    "logging",
    "os",
    "pathlib",
    "pickle",
    "queue",
    "random",
    "shutil",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.parse",
    "uuid",
    "zipfile",
)

_ALLOWED = re.compile(r"[^a-z0-9 .,;:'()\-\n]")
_CODE_HINTS = (">>>", "...", "{", "}", "=", "->", "__", "|", "\\", "[", "]", "`", "*", "#", "<", ">")


def _docstrings(module_name: str) -> Iterable[str]:
    """Yield the module's docstring, then those of its public members in name order."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # a trimmed-down Python may lack a module: skip it rather than fail
        return
    yield inspect.getdoc(module) or ""
    for name in sorted(vars(module)):
        if name.startswith("_"):
            continue
        member = getattr(module, name)
        if getattr(member, "__module__", None) != module.__name__:
            continue  # re-exported from elsewhere: count it once, where it is defined
        if inspect.isclass(member) or inspect.isfunction(member):
            yield inspect.getdoc(member) or ""


def _prose(doc: str) -> list[str]:
    """Keep the paragraphs of a docstring that read as sentences; drop code, tables and lists."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", doc):
        lines = [line.strip() for line in block.splitlines()]
        text = " ".join(lines)
        if len(text) < 60 or any(hint in text for hint in _CODE_HINTS):
            continue
        if any(line.startswith(("-", ":", "+", "o ")) for line in lines):
            continue
        if not text.endswith("."):
            continue
        text = _ALLOWED.sub("", text.lower())
        paragraphs.append(re.sub(r" +", " ", text).strip())
    return paragraphs


def english_text(min_chars: int = 50_000, modules: Sequence[str] = STDLIB_MODULES) -> str:
    """Real English prose from the standard library's documentation strings, lower-cased.

    Paragraphs that look like code, tables or lists are dropped; characters outside
    ``a-z 0-9 .,;:'()-`` and newlines are removed, so a character model needs only ~45 symbols.
    One paragraph per line; the order is fixed (modules in the given order, members by name), so
    the same Python version always gives the same text.

    Args:
        min_chars: stop gathering once the text is at least this long.
        modules: names of the modules to read.

    Returns:
        The text (possibly shorter than ``min_chars`` if the modules run out).

    Raises:
        ValueError: if no prose was found at all.
    """
    paragraphs: list[str] = []
    total = 0
    seen: set[str] = set()
    for module_name in modules:
        for doc in _docstrings(module_name):
            for paragraph in _prose(doc):
                if paragraph in seen:
                    continue
                seen.add(paragraph)
                paragraphs.append(paragraph)
                total += len(paragraph) + 1
            if total >= min_chars:
                return "\n".join(paragraphs)
    if not paragraphs:
        raise ValueError(f"english_text: found no prose in the modules {list(modules)}")
    return "\n".join(paragraphs)


class CharVocab:
    """A character vocabulary: the sorted set of characters of a text, with encode/decode.

    Args:
        text: the text whose characters make the vocabulary.

    Example:
        >>> v = CharVocab("hello")
        >>> v.chars, v.encode("hell").tolist()
        (['e', 'h', 'l', 'o'], [1, 0, 2, 2])
    """

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Return the int64 ids of the characters of ``text``.

        Raises:
            KeyError: naming the first character that is not in the vocabulary.
        """
        try:
            return np.array([self.index[c] for c in text], dtype=np.int64)
        except KeyError as error:
            raise KeyError(f"CharVocab.encode: character {error.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Return the text for a sequence of ids."""
        return "".join(self.chars[int(i)] for i in ids)

    def one_hot(self, text: str) -> np.ndarray:
        """Return the one-hot float64 matrix ``(len(text), len(vocab))`` of ``text``."""
        return np.eye(len(self.chars))[self.encode(text)]


_POSITIVE = ("good", "great", "fine", "nice", "superb", "lovely")
_NEGATIVE = ("bad", "awful", "poor", "dull", "boring", "weak")
_SUBJECTS = ("the film", "the plot", "the cast", "the music", "the ending", "this book")


def negation_sentiment(n: int, rng: np.random.Generator) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Short sentences whose sentiment needs word order: negation flips the adjective after it.

    Half the sentences have one clause, "the film was [not] ADJ", labelled positive when the
    adjective is positive xor negated. The other half pair two adjectives of opposite polarity,
    "the film was ADJ1 and not ADJ2": the label follows ADJ1. Swapping the two adjectives keeps
    the same bag of words but flips the label, so an order-blind model can only guess on them.

    Args:
        n: number of sentences.
        rng: the random generator.

    Returns:
        ``(sentences, labels, paired)``: token lists, int64 labels (1 = positive) and a boolean
        array marking the two-adjective sentences.
    """
    sentences = []
    labels = np.zeros(n, dtype=np.int64)
    paired = rng.random(n) < 0.5
    for k in range(n):
        subject = _SUBJECTS[rng.integers(len(_SUBJECTS))].split()
        positive = bool(rng.integers(2))
        adjective = (_POSITIVE if positive else _NEGATIVE)[rng.integers(6)]
        if paired[k]:
            other = (_NEGATIVE if positive else _POSITIVE)[rng.integers(6)]
            sentences.append([*subject, "was", adjective, "and", "not", other])
            labels[k] = positive
        else:
            negated = bool(rng.integers(2))
            sentences.append([*subject, "was", *(["not"] if negated else []), adjective])
            labels[k] = positive != negated
    return sentences, labels, paired
