"""Embedders: the character n-gram default and a sentence-transformers model loaded from disk."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from pipeline.embed import (
    CharNgramEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    load_embedder,
    to_dense_rows,
)


def _cosine(embedder: Embedder, a: str, b: str) -> float:
    vectors = embedder.encode([a, b])
    return float(to_dense_rows(vectors[0] @ vectors[1].T).item())


# --- character n-grams ---------------------------------------------------------------------


def test_char_ngram_rows_are_unit_norm_float32_sparse() -> None:
    embedder = CharNgramEmbedder()
    vectors = embedder.encode(["多少钱", "这个多少钱呀", "m码有货吗", "a"])

    assert sp.issparse(vectors) and vectors.format == "csr"
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, embedder.n_features)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_char_ngram_vectors_do_not_depend_on_the_batch_or_the_instance() -> None:
    # Repeat detection compares vectors made in different windows, possibly by another process.
    alone = CharNgramEmbedder().encode(["包邮吗"])
    in_batch = CharNgramEmbedder().encode(["多少钱", "包邮吗", "有货吗"])[1]

    assert (alone != in_batch).nnz == 0


def test_char_ngram_paraphrase_is_closer_than_another_question() -> None:
    embedder = CharNgramEmbedder()

    assert _cosine(embedder, "多少钱", "这个多少钱") > 0.6
    assert _cosine(embedder, "多少钱", "有货吗") == pytest.approx(0.0)


def test_char_ngram_unrelated_short_texts_share_no_boundary_feature() -> None:
    # sklearn's char_wb would give these ~0.3 through its shared padding unigram.
    assert _cosine(CharNgramEmbedder(), "好看", "发货") == pytest.approx(0.0)


def test_char_ngram_is_case_insensitive() -> None:
    assert _cosine(CharNgramEmbedder(), "XL码有吗", "xl码有吗") == pytest.approx(1.0)


def test_char_ngram_empty_text_gives_a_zero_row_and_no_texts_an_empty_matrix() -> None:
    embedder = CharNgramEmbedder()

    assert embedder.encode([""]).nnz == 0
    assert embedder.encode([]).shape == (0, embedder.n_features)


@pytest.mark.parametrize("ngram_range", [(0, 3), (3, 2)])
def test_char_ngram_rejects_an_impossible_ngram_range(ngram_range: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="ngram_range"):
        CharNgramEmbedder(ngram_range=ngram_range)


@pytest.mark.parametrize("path", [None, "", "  "])
def test_load_embedder_without_a_path_gives_the_char_ngram_default(path: str | None) -> None:
    embedder = load_embedder(path)

    assert isinstance(embedder, CharNgramEmbedder)
    assert isinstance(embedder, Embedder)


def test_load_embedder_with_a_missing_path_fails_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"

    with pytest.raises(FileNotFoundError, match="no-such-model"):
        load_embedder(str(missing))


# --- sentence-transformers from a local directory ------------------------------------------

_HIDDEN = 16


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """Fail any attempt to open a network connection while the model is built and loaded."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(f"network access attempted during an offline test: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def tiny_model_dir(offline: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised one-layer BERT with a 30-token vocabulary, saved as a
    sentence-transformers model (Transformer + mean Pooling)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer

    root = tmp_path_factory.mktemp("tiny-encoder")
    hf_dir = root / "hf"
    hf_dir.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"多少钱呀这个有货吗发什么快递包邮尺码"]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(hf_dir / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=_HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)

    model = SentenceTransformer(
        modules=[Transformer(str(hf_dir), max_seq_length=32), Pooling(_HIDDEN)], device="cpu"
    )
    model_dir = root / "sentence-model"
    model.save(str(model_dir))
    return model_dir


def test_sentence_transformer_embedder_loads_a_local_model_and_normalises_rows(
    tiny_model_dir: Path,
) -> None:
    embedder = SentenceTransformerEmbedder(str(tiny_model_dir), device="cpu", batch_size=2)
    vectors = embedder.encode(["多少钱", "这个有货吗", "发什么快递", "包邮吗", "尺码"])

    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, _HIDDEN)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embedder.dimension == _HIDDEN


def test_sentence_transformer_embedder_batch_size_does_not_change_the_vectors(
    tiny_model_dir: Path,
) -> None:
    texts = ["多少钱", "这个有货吗", "发什么快递"]
    one_by_one = SentenceTransformerEmbedder(str(tiny_model_dir), device="cpu", batch_size=1)
    together = SentenceTransformerEmbedder(str(tiny_model_dir), device="cpu", batch_size=64)

    np.testing.assert_allclose(one_by_one.encode(texts), together.encode(texts), atol=1e-5)


def test_sentence_transformer_embedder_on_no_texts_returns_an_empty_matrix(
    tiny_model_dir: Path,
) -> None:
    embedder = SentenceTransformerEmbedder(str(tiny_model_dir), device="cpu")

    assert embedder.encode([]).shape == (0, _HIDDEN)


def test_sentence_transformer_embedder_picks_the_available_device(tiny_model_dir: Path) -> None:
    import torch

    embedder = SentenceTransformerEmbedder(str(tiny_model_dir))

    assert embedder.device == ("cuda" if torch.cuda.is_available() else "cpu")
    np.testing.assert_allclose(
        np.linalg.norm(embedder.encode(["多少钱"]), axis=1), 1.0, rtol=1e-3
    )


def test_load_embedder_with_a_path_gives_the_sentence_transformer(tiny_model_dir: Path) -> None:
    embedder = load_embedder(str(tiny_model_dir))

    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.encode(["有货吗"]).shape == (1, _HIDDEN)


def test_sentence_transformer_embedder_refuses_a_file_that_is_not_a_model_directory(
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "model.bin"
    not_a_dir.write_bytes(b"\0")

    with pytest.raises(FileNotFoundError, match="never downloads"):
        SentenceTransformerEmbedder(str(not_a_dir))
