"""The compact BERT-style encoder livebot trains itself, with its classification heads.

`BertForUnderstanding` is a `transformers` BERT encoder (any `BertConfig`: the project's tiny
from-scratch one, or an operator's pretrained checkpoint such as bert-base-chinese on disk) with
a sequence-classification head over mean-pooled token states (intent or sentiment), an optional
second sequence head for sentiment (one encoder pass then answers both: the default model is
built so), and an optional token-classification head (BIO slot tags). It saves and loads with
`save_pretrained` / `from_pretrained` (safetensors) like any HuggingFace model.

`TextClassifier` is the serving side of one such folder: it loads the model and its tokenizer
from disk, picks the device (CUDA with bf16 when present, else CPU fp32), batches by length,
and returns one head's probabilities under `torch.inference_mode()`. `load_sentiment` finds the
sentiment classifier of a folder, whichever of the two shapes it has.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import ModelOutput

from models.tokenizer import DEFAULT_MAX_LENGTH, clip_text, load_tokenizer, prepare


def tiny_config(
    vocab_size: int, *, hidden: int = 128, layers: int = 2, heads: int = 4, max_length: int = DEFAULT_MAX_LENGTH,
) -> BertConfig:
    """The project's from-scratch encoder shape: sized for ≥2,000 comments/s on two CPU cores."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 4,
        max_position_embeddings=max_length,
        type_vocab_size=2,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        pad_token_id=0,
    )


@dataclass
class UnderstandingOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    token_logits: torch.Tensor | None = None
    sentiment_logits: torch.Tensor | None = None
    pooled: torch.Tensor | None = None


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Mean cross-entropy over the targets that are not -100; None when every one is (a batch of
    reviews has no intent label, a batch of danmaku chatter no sentiment label)."""
    if not bool((target != -100).any()):
        return None
    return nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=-100)


class BertForUnderstanding(BertPreTrainedModel):
    """BERT encoder + mean-pooled sequence head (+ optional sentiment head, BIO token head).

    Extra config fields: `num_token_labels` (0 = no token head), `token_labels` (tag names),
    `sentiment_labels` (names; empty = no sentiment head), `sentiment_loss_weight` (1.0 when
    absent), `task` ("intent" / "sentiment"), `max_length_serving`.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        n_sentiment = len(getattr(config, "sentiment_labels", None) or ())
        n_between = int(getattr(config, "sentiment_head_hidden", 0) or 0)  # 0: one linear layer
        self.sentiment_classifier: nn.Module | None = None
        if n_sentiment and n_between:
            self.sentiment_classifier = nn.Sequential(
                nn.Linear(config.hidden_size, n_between), nn.GELU(), nn.Dropout(config.hidden_dropout_prob),
                nn.Linear(n_between, n_sentiment),
            )
        elif n_sentiment:
            self.sentiment_classifier = nn.Linear(config.hidden_size, n_sentiment)
        n_token = int(getattr(config, "num_token_labels", 0) or 0)
        self.token_classifier = nn.Linear(config.hidden_size, n_token) if n_token else None
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        token_labels: torch.Tensor | None = None,
        sentiment_targets: torch.Tensor | None = None,
        token_loss_weight: float = 0.5,
        **_: object,
    ) -> UnderstandingOutput:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        features = self.dropout(pooled)
        logits = self.classifier(features)
        sentiment_logits = self.sentiment_classifier(features) if self.sentiment_classifier is not None else None
        token_logits = self.token_classifier(self.dropout(hidden)) if self.token_classifier is not None else None
        # -100 marks an example without a label for a head (a review has no intent, chatter no slots)
        parts = []
        if labels is not None:
            parts.append(_masked_cross_entropy(logits, labels))
        if sentiment_targets is not None and sentiment_logits is not None:
            sentiment_loss = _masked_cross_entropy(sentiment_logits, sentiment_targets)
            weight = float(getattr(self.config, "sentiment_loss_weight", 1.0) or 1.0)
            parts.append(None if sentiment_loss is None else sentiment_loss * weight)
        if token_labels is not None and token_logits is not None:
            token_loss = _masked_cross_entropy(token_logits, token_labels)
            parts.append(None if token_loss is None else token_loss * token_loss_weight)
        parts = [p for p in parts if p is not None]
        loss = torch.stack(parts).sum() if parts else None
        return UnderstandingOutput(loss=loss, logits=logits, token_logits=token_logits,
                                   sentiment_logits=sentiment_logits, pooled=pooled)


def pick_device(device: str | torch.device | None = None) -> tuple[torch.device, torch.dtype]:
    """The given device, else CUDA with bf16 when present, else CPU fp32."""
    if device is not None:
        dev = torch.device(device)
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return dev, dtype


@dataclass(frozen=True)
class Prediction:
    probs: np.ndarray                     # (n, num_labels) float32
    token_tags: list[list[tuple[int, int, int]]] | None = None  # per text: (start, end, tag id)


class TextClassifier:
    """One trained folder, ready to serve. Thread-safe for concurrent `predict` calls.

    `head` picks what `labels` and `predict` answer: "main" (the folder's own task) or
    "sentiment" (the sentiment head of a joint intent + sentiment folder)."""

    def __init__(self, model_dir: str | Path, *, device: str | torch.device | None = None, quantize: bool = False,
                 head: str = "main") -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no trained model in {self.model_dir} (config.json missing)")
        if head not in ("main", "sentiment"):
            raise ValueError(f"unknown head {head!r}: expected main or sentiment")
        self.device, self.dtype = pick_device(device)
        self.tokenizer = load_tokenizer(self.model_dir)
        model = BertForUnderstanding.from_pretrained(str(self.model_dir), local_files_only=True)
        model.eval()
        cfg = model.config
        if quantize and self.device.type == "cpu":
            # int8 dynamic quantisation of the Linear layers: ~1.5x on CPU for a small accuracy cost
            self.model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        else:
            self.model = model.to(self.device, dtype=self.dtype)
        self.sentiment_labels: tuple[str, ...] = tuple(getattr(cfg, "sentiment_labels", None) or ())
        if head == "sentiment" and not self.sentiment_labels:
            raise ValueError(f"{self.model_dir} has no sentiment head")
        self.head = head
        self.labels: tuple[str, ...] = (self.sentiment_labels if head == "sentiment"
                                        else tuple(cfg.id2label[i] for i in range(cfg.num_labels)))
        self.token_labels: tuple[str, ...] = tuple(getattr(cfg, "token_labels", ()) or ())
        self.max_length = int(getattr(cfg, "max_length_serving", 0) or DEFAULT_MAX_LENGTH)
        self._lock = threading.Lock()  # tokenizers' Rust object: guard padding/truncation state
        # The Rust tokenizer underneath, set to truncate and pad as the call below does: the
        # transformers wrapper spent as long converting its output as the tokenizing took.
        self._fast = Tokenizer.from_str(self.tokenizer.backend_tokenizer.to_str())
        self._fast.enable_truncation(self.max_length)
        self._fast.enable_padding(pad_id=self.tokenizer.pad_token_id or 0, pad_token=self.tokenizer.pad_token or "[PAD]")

    def head_logits(self, out: UnderstandingOutput) -> torch.Tensor:
        """The logits of the head this classifier answers with."""
        return out.sentiment_logits if self.head == "sentiment" else out.logits

    def encode(self, texts: list[str], *, offsets: bool | None = None) -> dict[str, torch.Tensor]:
        """Input tensors for `texts`; `offsets` adds the character offset of each token."""
        offsets = bool(self.token_labels) if offsets is None else offsets
        # every head reads a long text as training clipped it, head + tail (a review's verdict is
        # often in its last sentence; the sentiment head once read head-only texts here and lost
        # 3.4 points of ChnSentiCorp accuracy to it)
        limit = self.max_length - 2
        prepared = [prepare(clip_text(t, limit)) for t in texts]
        with self._lock:
            if offsets:
                enc = self.tokenizer(
                    prepared, padding=True, truncation=True, max_length=self.max_length,
                    return_tensors="pt", return_offsets_mapping=True,
                )
                _unclip_offsets(enc["offset_mapping"], texts, limit)
                return enc
            encodings = self._fast.encode_batch(prepared)
        return {
            "input_ids": torch.from_numpy(np.array([e.ids for e in encodings], dtype=np.int64)),
            "attention_mask": torch.from_numpy(np.array([e.attention_mask for e in encodings], dtype=np.int64)),
        }

    @torch.inference_mode()
    def predict(self, texts: list[str], *, batch_size: int = 256, with_tokens: bool = False) -> Prediction:
        if not texts:
            return Prediction(np.zeros((0, len(self.labels)), dtype=np.float32), [] if with_tokens else None)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # length buckets: less padding
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        tags: list[list[tuple[int, int, int]]] = [[] for _ in texts]
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            batch = self.encode([texts[i] for i in idx], offsets=with_tokens and bool(self.token_labels))
            offsets = batch.pop("offset_mapping", None)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            p = torch.softmax(self.head_logits(out).float(), dim=-1).cpu().numpy()
            probs[idx] = p
            if with_tokens and out.token_logits is not None and offsets is not None:
                for i, row_tags in zip(idx, token_tags(out.token_logits, offsets, batch["attention_mask"])):
                    tags[i] = row_tags
        return Prediction(probs, tags if with_tokens else None)

    def warm_up(self) -> None:
        """Run a few batches so the first real window does not pay for lazy initialisation."""
        sample = ["这个多少钱", "好的谢谢", "什么时候发货呀主播", "口红有没有豆沙色", "哈哈哈哈哈哈哈哈"]
        for n in (1, 8, 64):
            self.predict((sample * 13)[:n], with_tokens=bool(self.token_labels))


def token_tags(token_logits: torch.Tensor, offsets: torch.Tensor,
               attention_mask: torch.Tensor) -> list[list[tuple[int, int, int]]]:
    """Per row, (start, end, tag id) of each real token: the token head's argmax, specials and
    padding left out."""
    tag_ids = token_logits.argmax(-1).cpu().numpy()
    mask = attention_mask.cpu().numpy()
    return [
        [(int(s), int(e), int(t)) for (s, e), t, m in zip(offsets[row].tolist(), tag_ids[row], mask[row]) if m and e > s]
        for row in range(len(tag_ids))
    ]


def _unclip_offsets(offset_mapping: torch.Tensor, texts: list[str], limit: int) -> None:
    """Point the offsets of a clipped text's tail tokens back into the whole text (in place):
    `clip_text` keeps the first limit // 2 characters and the last limit - limit // 2."""
    head = limit // 2
    for row, text in enumerate(texts):
        shift = len(text) - limit
        if shift > 0:
            starts, ends = offset_mapping[row, :, 0], offset_mapping[row, :, 1]
            starts[starts >= head] += shift  # [CLS], [SEP] and padding sit at (0, 0) and stay there
            ends[ends > head] += shift


def load_sentiment(model_dir: str | Path, **kwargs) -> TextClassifier:
    """The sentiment classifier in `model_dir`: a sentiment folder of its own, or the sentiment
    head of a joint intent + sentiment folder."""
    config_file = Path(model_dir) / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    joint = config.get("task") != "sentiment" and bool(config.get("sentiment_labels"))
    return TextClassifier(model_dir, head="sentiment" if joint else "main", **kwargs)


def bio_spans(text_tags: list[tuple[int, int, int]], tag_names: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(slot, start, end) character spans from per-token BIO tags (an I- after O starts a span)."""
    spans: list[tuple[str, int, int]] = []
    current: list | None = None
    for start, end, tag_id in text_tags:
        tag = tag_names[tag_id] if tag_id < len(tag_names) else "O"
        if tag == "O":
            if current:
                spans.append(tuple(current))  # type: ignore[arg-type]
            current = None
            continue
        prefix, slot = tag.split("-", 1)
        if prefix == "B" or current is None or current[0] != slot or start > current[2] + 1:
            if current:
                spans.append(tuple(current))  # type: ignore[arg-type]
            current = [slot, start, end]
        else:
            current[2] = end
    if current:
        spans.append(tuple(current))  # type: ignore[arg-type]
    return spans
