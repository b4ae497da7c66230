"""Featurizers: turn a tokenised message into a sparse, L2-normalised TF-IDF vector."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import sparse

from nlu.errors import ConfigError

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the featurizers see it: normalised text plus its words."""

    text: str
    tokens: tuple[str, ...]


def _weigh(tf: FloatArray, idf: FloatArray, sublinear: bool, weight: float) -> FloatArray:
    if sublinear:
        tf = (1.0 + np.log(tf)).astype(np.float32)
    val: FloatArray = tf * idf
    norm = math.sqrt(float(np.dot(val, val)))
    if norm > 0.0:
        val *= weight / norm
    return val.astype(np.float32, copy=False)


def char_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams of the text; n-grams that contain a space are skipped."""
    grams: list[str] = []
    length = len(text)
    for n in range(min_n, max_n + 1):
        grams.extend(g for i in range(length - n + 1) if " " not in (g := text[i : i + n]))
    return grams


def word_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """Word n-grams joined with a space (unigrams are the words themselves)."""
    grams: list[str] = []
    length = len(tokens)
    for n in range(min_n, max_n + 1):
        if n == 1:
            grams.extend(tokens)
        else:
            grams.extend(" ".join(tokens[i : i + n]) for i in range(length - n + 1))
    return grams


class TfidfFeaturizer:
    """Bag of character or word n-grams weighted by TF-IDF, L2-normalised, then scaled.

    Implemented here rather than with scikit-learn's vectorizers so that training and parsing
    share one code path, parsing one message costs no scipy overhead, and the vocabulary is
    saved as plain arrays instead of a pickle.
    """

    def __init__(
        self,
        name: str,
        *,
        analyzer: str = "char",
        min_n: int = 1,
        max_n: int = 2,
        min_df: int = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        weight: float = 1.0,
    ) -> None:
        if analyzer not in ("char", "word"):
            raise ConfigError(f"{name}: analyzer must be 'char' or 'word', not {analyzer!r}")
        if not 1 <= min_n <= max_n:
            raise ConfigError(f"{name}: need 1 <= min_n <= max_n, got {min_n}..{max_n}")
        self.name = name
        self.analyzer = analyzer
        self.min_n = min_n
        self.max_n = max_n
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.weight = weight
        self.vocabulary: dict[str, int] = {}
        self.idf: FloatArray = np.zeros(0, dtype=np.float32)

    @property
    def params(self) -> dict[str, object]:
        """Constructor parameters (saved with the model)."""
        return {
            "analyzer": self.analyzer,
            "min_n": self.min_n,
            "max_n": self.max_n,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "weight": self.weight,
        }

    @property
    def dim(self) -> int:
        """Number of features."""
        return len(self.vocabulary)

    def _grams(self, message: Message) -> list[str]:
        if self.analyzer == "char":
            return char_ngrams(message.text, self.min_n, self.max_n)
        return word_ngrams(message.tokens, self.min_n, self.max_n)

    def fit_transform(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Learn vocabulary and IDF from the messages and return their vectors."""
        counts = [Counter(self._grams(m)) for m in messages]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n_docs = len(messages)
        max_docs = self.max_df * n_docs if self.max_df <= 1.0 else self.max_df
        kept = [t for t, d in df.items() if d >= self.min_df and d <= max_docs]
        if self.max_features is not None and len(kept) > self.max_features:
            # Most frequent first; ties broken by the term so training is deterministic.
            kept.sort(key=lambda t: (-df[t], t))
            kept = kept[: self.max_features]
        kept.sort()
        self.vocabulary = {t: i for i, t in enumerate(kept)}
        dfs = np.array([df[t] for t in kept], dtype=np.float64)
        self.idf = (np.log((1.0 + n_docs) / (1.0 + dfs)) + 1.0).astype(np.float32)
        return self._to_matrix(counts)

    def transform_many(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Vectors of several messages as one CSR matrix."""
        return self._to_matrix([Counter(self._grams(m)) for m in messages])

    def _to_matrix(self, counts: Sequence[Counter[str]]) -> sparse.csr_matrix:
        indptr = [0]
        indices: list[IntArray] = []
        values: list[FloatArray] = []
        for c in counts:
            idx, val = self._vector(c)
            indices.append(idx)
            values.append(val)
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, np.float32),
                np.concatenate(indices) if indices else np.zeros(0, np.int32),
                np.array(indptr, dtype=np.int64),
            ),
            shape=(len(counts), self.dim),
            dtype=np.float32,
        )

    def transform(self, message: Message) -> tuple[IntArray, FloatArray]:
        """Sparse vector of one message as (feature indices, values)."""
        return self._vector(Counter(self._grams(message)))

    def _vector(self, counts: Counter[str]) -> tuple[IntArray, FloatArray]:
        get = self.vocabulary.get
        pairs = [(j, c) for t, c in counts.items() if (j := get(t)) is not None]
        if not pairs:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        idx = np.fromiter((p[0] for p in pairs), dtype=np.int32, count=len(pairs))
        tf = np.fromiter((p[1] for p in pairs), dtype=np.float32, count=len(pairs))
        return idx, _weigh(tf, self.idf[idx], self.sublinear_tf, self.weight)

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """State to save: the vocabulary (in index order) and the IDF weights."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        # One UTF-8 blob joined by newlines: terms never contain one (normalisation blanks
        # them), and a fixed-width unicode array would cost 4 bytes x the longest term each.
        blob = "\n".join(terms).encode("utf-8")
        return {"vocab": np.frombuffer(blob, dtype=np.uint8), "idf": self.idf}

    def load_arrays(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Restore state saved by :meth:`arrays`."""
        blob = np.asarray(arrays["vocab"], dtype=np.uint8).tobytes().decode("utf-8")
        terms = blob.split("\n") if blob else []
        self.vocabulary = {t: i for i, t in enumerate(terms)}
        self.idf = np.asarray(arrays["idf"], dtype=np.float32)
        if len(self.idf) != len(terms):
            raise ValueError(f"{self.name}: {len(terms)} terms but {len(self.idf)} IDF weights")


class Featurizer(Protocol):
    """What the pipeline needs from a featurizer."""

    name: str

    @property
    def params(self) -> dict[str, object]:
        """Constructor parameters (saved with the model)."""
        ...

    @property
    def dim(self) -> int:
        """Number of features."""
        ...

    def fit_transform(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Learn from the messages and return their vectors."""
        ...

    def transform_many(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Vectors of several messages."""
        ...

    def transform(self, message: Message) -> tuple[IntArray, FloatArray]:
        """Sparse vector of one message as (indices, values)."""
        ...

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """State to save."""
        ...

    def load_arrays(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Restore saved state."""
        ...


_CHAR_BITS = np.uint64(21)  # every Unicode code point fits in 21 bits


def char_ngram_keys(text: str, n: int) -> npt.NDArray[np.uint64]:
    """Integer keys of the character n-grams of a text (n-grams with a space are skipped).

    A key packs the n code points into 21 bits each, so keys are exact up to n = 3 and wrap
    around (collisions become possible but are astronomically rare) beyond.
    """
    if len(text) < n:
        return np.zeros(0, dtype=np.uint64)
    cp: npt.NDArray[np.uint64] = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(
        np.uint64
    )
    count = len(cp) - n + 1
    keys = cp[:count].copy()
    for j in range(1, n):
        keys = (keys << _CHAR_BITS) + cp[j : j + count]
    space = np.concatenate([[0], np.cumsum(cp == 32)])
    keep = space[n : n + count] - space[:count] == 0
    out: npt.NDArray[np.uint64] = keys[keep]
    return out


class CharNgramFeaturizer:
    """TF-IDF over character n-grams, vectorised with numpy.

    The vocabulary is one sorted array of integer keys per n (see :func:`char_ngram_keys`),
    so looking up a message's n-grams is a ``searchsorted`` instead of a Python loop: parsing
    a 2,000-character message costs tens of microseconds, and training is fast too.
    ``head_chars`` limits the featurizer to the start of the message, where residents say what
    the problem is (a title, a first sentence); a second instance with a head limit lets the
    classifier weigh the opening more than the rest.
    """

    def __init__(
        self,
        name: str,
        *,
        min_n: int = 1,
        max_n: int = 3,
        min_df: int = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        weight: float = 1.0,
        head_chars: int | None = None,
    ) -> None:
        if not 1 <= min_n <= max_n <= 6:
            raise ConfigError(f"{name}: need 1 <= min_n <= max_n <= 6, got {min_n}..{max_n}")
        self.name = name
        self.min_n = min_n
        self.max_n = max_n
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.weight = weight
        self.head_chars = head_chars
        self.keys: list[npt.NDArray[np.uint64]] = [
            np.zeros(0, np.uint64) for _ in range(min_n, max_n + 1)
        ]
        self.idf: FloatArray = np.zeros(0, dtype=np.float32)

    @property
    def params(self) -> dict[str, object]:
        """Constructor parameters (saved with the model)."""
        return {
            "min_n": self.min_n,
            "max_n": self.max_n,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "weight": self.weight,
            "head_chars": self.head_chars,
        }

    @property
    def dim(self) -> int:
        """Number of features."""
        return int(sum(len(k) for k in self.keys))

    def _text(self, message: Message) -> str:
        return message.text if self.head_chars is None else message.text[: self.head_chars]

    def _unique(self, text: str) -> list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]]:
        out = []
        for n in range(self.min_n, self.max_n + 1):
            keys, counts = np.unique(char_ngram_keys(text, n), return_counts=True)
            out.append((keys, counts))
        return out

    def fit_transform(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Learn the vocabulary and IDF from the messages and return their vectors."""
        per_doc = [self._unique(self._text(m)) for m in messages]
        n_docs = len(messages)
        max_docs = self.max_df * n_docs if self.max_df <= 1.0 else self.max_df
        candidates: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []
        for level in range(self.max_n - self.min_n + 1):
            stacked = [doc[level][0] for doc in per_doc]
            all_keys = np.concatenate(stacked) if stacked else np.zeros(0, np.uint64)
            keys, df = np.unique(all_keys, return_counts=True)
            keep = (df >= self.min_df) & (df <= max_docs)
            candidates.append((keys[keep], df[keep]))
        if self.max_features is not None:
            dfs = np.concatenate([df for _, df in candidates])
            if len(dfs) > self.max_features:
                # Keep the most frequent; ties at the cut are dropped together (deterministic).
                cut = np.sort(dfs)[::-1][self.max_features - 1]
                candidates = [(k[df > cut], df[df > cut]) for k, df in candidates]
        self.keys = [k for k, _ in candidates]
        dfs = np.concatenate([df for _, df in candidates]).astype(np.float64)
        self.idf = (np.log((1.0 + n_docs) / (1.0 + dfs)) + 1.0).astype(np.float32)
        return self._matrix(per_doc)

    def transform_many(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Vectors of several messages as one CSR matrix."""
        return self._matrix([self._unique(self._text(m)) for m in messages])

    def transform(self, message: Message) -> tuple[IntArray, FloatArray]:
        """Sparse vector of one message as (feature indices, values)."""
        return self._vector(self._unique(self._text(message)))

    def _vector(
        self, grams: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]]
    ) -> tuple[IntArray, FloatArray]:
        indices = []
        tfs = []
        offset = 0
        for vocab, (keys, counts) in zip(self.keys, grams, strict=True):
            if len(vocab) and len(keys):
                pos = np.searchsorted(vocab, keys)
                pos_clipped = np.minimum(pos, len(vocab) - 1)
                hit = vocab[pos_clipped] == keys
                indices.append(pos_clipped[hit] + offset)
                tfs.append(counts[hit])
            offset += len(vocab)
        if not indices:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        idx = np.concatenate(indices).astype(np.int32)
        if len(idx) == 0:
            return idx, np.zeros(0, np.float32)
        tf = np.concatenate(tfs).astype(np.float32)
        return idx, _weigh(tf, self.idf[idx], self.sublinear_tf, self.weight)

    def _matrix(
        self, per_doc: Sequence[list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]]]
    ) -> sparse.csr_matrix:
        vectors = [self._vector(doc) for doc in per_doc]
        indptr = np.concatenate([[0], np.cumsum([len(i) for i, _ in vectors])]).astype(np.int64)
        indices = np.concatenate([i for i, _ in vectors]) if vectors else np.zeros(0, np.int32)
        values = np.concatenate([v for _, v in vectors]) if vectors else np.zeros(0, np.float32)
        return sparse.csr_matrix(
            (values, indices, indptr), shape=(len(per_doc), self.dim), dtype=np.float32
        )

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """State to save: the sorted keys per n and the IDF weights."""
        out: dict[str, npt.NDArray[np.generic]] = {"idf": self.idf}
        for level, keys in enumerate(self.keys):
            out[f"keys{self.min_n + level}"] = keys
        return out

    def load_arrays(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Restore state saved by :meth:`arrays`."""
        self.keys = [
            np.asarray(arrays[f"keys{n}"], dtype=np.uint64)
            for n in range(self.min_n, self.max_n + 1)
        ]
        self.idf = np.asarray(arrays["idf"], dtype=np.float32)
        if len(self.idf) != self.dim:
            raise ValueError(f"{self.name}: {self.dim} n-grams but {len(self.idf)} IDF weights")
