"""Sentence embedders for clustering a room's window and for recognising repeated questions.

Everything downstream (`pipeline.cluster`, `pipeline.recent`) needs one thing: rows that are
L2-normalised, so that a dot product is the cosine similarity. Two implementations:

- `CharNgramEmbedder`, the default: hashed character n-grams. It needs no model, no download
  and no fitting, so a bare laptop clusters out of the box, and its output does not depend on
  the rest of the window (no IDF), which keeps a question's vector comparable across windows.
  It returns a *sparse* CSR matrix: 2**18 hashed features would be gigabytes dense, while a
  short comment touches a few dozen of them, and sparse-times-sparse products are what the
  clustering needs anyway.
- `SentenceTransformerEmbedder`: a sentence-transformers model from a local directory (the
  project's own encoder once the models work lands, or one an operator provides). It returns a
  dense float32 array.

`load_embedder(path)` picks between them from the configured path. Nothing here downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

if TYPE_CHECKING:  # torch is heavy; only the sentence-transformers path imports it, lazily
    from sentence_transformers import SentenceTransformer

Vectors: TypeAlias = np.ndarray | sp.csr_matrix
"""Shape (n, d), float32, every non-zero row of unit L2 norm (an empty text may give a zero row).

Dense `np.ndarray` from neural encoders, `scipy.sparse.csr_matrix` from `CharNgramEmbedder`.
Consumers only rely on `X @ Y.T` being the cosine similarity and on row slicing, which both
types support; use `to_dense_rows` where a dense block is required.
"""

DEFAULT_NGRAM_RANGE: tuple[int, int] = (1, 3)
# 2**18 buckets: a window of 2,000 nearly all distinct comments holds ~24k distinct n-grams,
# of which ~4% share a bucket with another; with a sparse output the width costs nothing.
DEFAULT_N_FEATURES: int = 2**18

# Marks the start and end of a text so that "吗" ending a question and "吗" inside a word are
# different features, and so that very short texts ("有货吗") still have several n-grams.
# Control characters, because the normaliser strips them from comments (one that slipped
# through would only add a boundary-like feature).
_BOS = "\x02"
_EOS = "\x03"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (see `Vectors`): one row per text, same order."""

    def encode(self, texts: list[str]) -> Vectors: ...


class CharNgramEmbedder:
    """Hashed character n-grams with start/end markers, term frequency, L2 norm.

    Chosen over sklearn's `char_wb` analyzer because `char_wb` pads with spaces and emits the
    pad itself as a unigram: every text then shares a constant feature, which gives two
    unrelated short comments ("好看" / "发货") a cosine of ~0.3 and makes a fixed DBSCAN `eps`
    mean different things for short and long texts. Here only n-grams that contain a real
    character are kept.
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = DEFAULT_NGRAM_RANGE,
        n_features: int = DEFAULT_N_FEATURES,
    ) -> None:
        lo, hi = ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"ngram_range must satisfy 1 <= low <= high, got {ngram_range!r}")
        if n_features < 2 or n_features > DEFAULT_N_FEATURES:
            raise ValueError(f"n_features must be in [2, {DEFAULT_N_FEATURES}], got {n_features}")
        self.ngram_range = (lo, hi)
        self.n_features = n_features
        self._vectorizer = HashingVectorizer(
            analyzer=self._ngrams,
            n_features=n_features,
            alternate_sign=False,  # signs would let colliding n-grams cancel into negative cosines
            norm="l2",
            dtype=np.float32,
        )

    def _ngrams(self, text: str) -> list[str]:
        if not text:
            return []  # the bare markers alone would make every empty text identical
        lo, hi = self.ngram_range
        s = _BOS + text.lower() + _EOS
        n_chars = len(s)
        grams: list[str] = []
        for n in range(lo, hi + 1):
            for i in range(n_chars - n + 1):
                gram = s[i : i + n]
                # A bare marker is shared by every text: it would only add a constant
                # similarity between unrelated comments.
                if n == 1 and (gram == _BOS or gram == _EOS):
                    continue
                grams.append(gram)
        return grams

    def encode(self, texts: list[str]) -> sp.csr_matrix:
        """Sparse (len(texts), n_features) float32 CSR; an empty text gives an all-zero row."""
        if not texts:  # HashingVectorizer cannot transform an empty batch
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        matrix = self._vectorizer.transform(texts)
        return sp.csr_matrix(matrix, dtype=np.float32)

    def __repr__(self) -> str:
        return f"CharNgramEmbedder(ngram_range={self.ngram_range}, n_features={self.n_features})"


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory; never downloads.

    The device is CUDA when available, else CPU; on CUDA the weights are cast to half precision
    for throughput. The output is always float32 and re-normalised, so fp16 rounding of the
    norms never reaches the similarity thresholds downstream.
    """

    def __init__(self, path: str, device: str | None = None, batch_size: int = 64) -> None:
        model_dir = Path(path)
        if not model_dir.is_dir():
            raise FileNotFoundError(
                f"sentence-transformers model directory {path!r} does not exist or is not a "
                "directory; livebot never downloads models: point the embedder path at a "
                "model saved locally, or leave it empty for the character n-gram default"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")

        import torch  # deferred: importing torch costs seconds that the n-gram default never pays
        from sentence_transformers import SentenceTransformer

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.path = str(model_dir)
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer = SentenceTransformer(
            self.path, device=device, local_files_only=True
        )
        if device.startswith("cuda"):
            self._model.half()
        self.dimension = _embedding_dimension(self._model)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Dense (len(texts), dimension) float32 with unit-norm rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(path={self.path!r}, device={self.device!r})"


def _embedding_dimension(model: Any) -> int:
    # sentence-transformers renamed the accessor across major versions.
    for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        getter = getattr(model, name, None)
        if getter is not None:
            dim = getter()
            if dim:
                return int(dim)
    return int(model.encode([""], convert_to_numpy=True).shape[1])


def load_embedder(path: str | None) -> Embedder:
    """The embedder for a configured model path: none or empty means character n-grams."""
    if path is None or not path.strip():
        return CharNgramEmbedder()
    return SentenceTransformerEmbedder(path.strip())


def to_dense_rows(vectors: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A dense float32 copy of a (small) block of vectors."""
    if sp.issparse(vectors):
        return np.asarray(vectors.toarray(), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32)

