"""Word segmentation with a private jieba instance and a domain user dictionary."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import jieba

_WORD_FREQ = 200_000  # high enough that jieba keeps domain terms whole

# jieba logs "Building prefix dict..." at INFO on its own logger; keep our logs clean.
jieba.setLogLevel(logging.WARNING)


def domain_terms() -> list[str]:
    """Return the built-in domain vocabulary shipped in ``nlu/resources/domain_terms.txt``."""
    text = resources.files("nlu").joinpath("resources/domain_terms.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's packaged prefix dictionary and its total count (never modified: copied)."""
    base = jieba.Tokenizer()
    base.initialize()  # jieba caches the prefix dict in the temp dir
    return base.FREQ, base.total


class JiebaTokenizer:
    """Segments normalised Chinese text into words.

    Uses its own ``jieba.Tokenizer`` so user words never leak into (or from) jieba's global
    default instance, which other code in the process may use. HMM discovery of unknown words
    is off: it is slow and makes segmentation depend on statistics outside our control.
    """

    name = "jieba"

    def __init__(self, user_words: Iterable[str] = (), *, max_chars: int = 10_000) -> None:
        # Segmentation is the slowest step of parsing; word features of a long letter add
        # little beyond its opening, so the pipeline may cap what jieba reads.
        self.max_chars = max_chars
        self.user_words = sorted({w.strip() for w in user_words if w and w.strip()})
        self._jieba = jieba.Tokenizer()
        # jieba's packaged dictionary, loaded once per process (about a second) and copied
        # here (milliseconds): every model a process loads or trains gets its own copy, so
        # user words stay private to this tokenizer.
        freq, total = _base_dictionary()
        self._jieba.FREQ = dict(freq)
        self._jieba.total = total
        self._jieba.initialized = True
        for word in self.user_words:
            if " " not in word:
                self._jieba.add_word(word, freq=_WORD_FREQ)

    def tokenize(self, text: str) -> list[str]:
        """Split text into words, dropping whitespace and lone punctuation tokens."""
        return [
            token
            for token in self._jieba.cut(text, HMM=False)
            if token.strip() and (token.isalnum() or len(token) > 1)
        ]
