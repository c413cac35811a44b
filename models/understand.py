"""Serving: intent + slots + sentiment for a batch of comments, and hot reload of model versions.

    understander = Understander.load(model_dir, catalogue, device=None)
    understander.predict(["这个多少钱", "口红有豆沙色吗"]) -> [Understanding, Understanding]

`model_dir` holds an `intent/` folder as written by `models.train`, and either a `sentiment/`
folder beside it or a sentiment head inside the intent model (the defaults in `models/default/`
are built so: one encoder pass answers both). The device is chosen automatically (CUDA with
bf16 when present, else CPU fp32); inference runs under `torch.inference_mode()`, batched by
length, each text cut to the model's max length; the models are warmed up at load. With two
models sharing a vocabulary a batch is tokenized once for both. Slots come from the
Aho-Corasick + rules tagger over the catalogue, plus the intent model's learned BIO head where
`meta.json` says that measured better ("hybrid": the head only fills slots the rules left empty).

`ModelRegistry` holds the live `Understander`: `reload(path)` loads and warms a new version in a
background thread and swaps it in atomically; `predict` keeps serving the old version until the
swap and never mixes versions within one call. Only the load code touches the disk; nothing
here downloads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.encoder import TextClassifier, bio_spans, load_sentiment, token_tags
from models.slots import RuleTagger
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue
from pipeline.taxonomy import Understanding

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default"
WARM_UP_TEXTS = ("这个多少钱", "好的谢谢", "什么时候发货呀主播", "口红有没有豆沙色", "哈哈哈哈哈哈", "干皮能用吗 要两瓶")


def default_model_folder(task: str, root: Path = DEFAULT_MODEL_DIR) -> Path:
    """The folder holding `task`'s model under `root`: sentiment lives in the intent model's head
    when there is no sentiment folder of its own."""
    if task == "sentiment" and not (root / "sentiment" / "config.json").is_file():
        return root / "intent"
    return root / task


class Understander:
    """One loaded model version. `predict` is thread-safe.

    `sentiment=None` means the intent model's own sentiment head answers (one encoder pass)."""

    def __init__(self, intent: TextClassifier, sentiment: TextClassifier | None, tagger: RuleTagger, *,
                 slot_mode: str = "rules", version: str = "", batch_size: int = 128) -> None:
        if slot_mode not in ("rules", "hybrid", "token_head"):
            raise ValueError(f"unknown slot mode {slot_mode!r}: expected rules, hybrid or token_head")
        if slot_mode != "rules" and not intent.token_labels:
            slot_mode = "rules"  # the intent model has no token head to help
        if sentiment is None and not intent.sentiment_labels:
            raise ValueError(f"{intent.model_dir} has no sentiment head and no sentiment model was given")
        self.intent = intent
        self.sentiment = sentiment
        self.tagger = tagger
        self.slot_mode = slot_mode
        self.version = version
        self.batch_size = batch_size
        self.sentiment_labels = sentiment.labels if sentiment is not None else intent.sentiment_labels
        # Same vocabulary: tokenize once, at the shorter of the two max lengths (a live comment is
        # far shorter than either; the sentiment model may have trained on longer reviews).
        self.shared_tokenizer = sentiment is None or intent.tokenizer.get_vocab() == sentiment.tokenizer.get_vocab()
        self._shared_encoder = intent if sentiment is None or intent.max_length <= sentiment.max_length else sentiment

    @property
    def joint(self) -> bool:
        """One model answers intent and sentiment in one encoder pass."""
        return self.sentiment is None

    @classmethod
    def load(cls, model_dir: str | Path = DEFAULT_MODEL_DIR, catalogue: Catalogue | str | Path | None = None,
             device: str | torch.device | None = None, *, quantize: bool = False, warm_up: bool = True,
             version: str | None = None) -> Understander:
        """Load `model_dir/intent` and `model_dir/sentiment` (else the intent model's sentiment
        head); warm up unless told not to."""
        root = Path(model_dir)
        if not (root / "intent" / "config.json").is_file():
            raise FileNotFoundError(f"{root} has no trained intent model ({root / 'intent' / 'config.json'} missing); "
                                    f"train one with: python -m models.train --all --out {root}")
        cat = catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)
        intent = TextClassifier(root / "intent", device=device, quantize=quantize)
        sentiment = None  # a sentiment folder of its own wins over the intent model's head
        if (root / "sentiment" / "config.json").is_file():
            # either shape: a sentiment model, or another joint model whose sentiment head answers
            sentiment = load_sentiment(root / "sentiment", device=device, quantize=quantize)
        elif not intent.sentiment_labels:
            raise FileNotFoundError(f"{root} has no sentiment model: neither {root / 'sentiment'} nor a sentiment "
                                    f"head in {root / 'intent'}; train one with: python -m models.train --all --out {root}")
        meta_path = root / "intent" / "meta.json"
        slot_mode = "rules"
        if meta_path.is_file():
            slot_mode = json.loads(meta_path.read_text(encoding="utf-8")).get("slot_tagger", "rules")
        if version is None:
            weights = root / "intent" / "model.safetensors"
            version = f"{root.name}@{int(weights.stat().st_mtime) if weights.exists() else 0}"
        understander = cls(intent, sentiment, RuleTagger(cat), slot_mode=slot_mode, version=version)
        if warm_up:
            understander.warm_up()
        return understander

    @property
    def device(self) -> torch.device:
        return self.intent.device

    def warm_up(self) -> None:
        for n in (1, 8, 64):
            self.predict(list((WARM_UP_TEXTS * 11)[:n]))

    # -- inference ---------------------------------------------------------------------------

    def _classify(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, int, int]]] | None]:
        with_tokens = self.slot_mode != "rules"
        if not self.shared_tokenizer:
            assert self.sentiment is not None
            ip = self.intent.predict(texts, batch_size=self.batch_size, with_tokens=with_tokens)
            sp = self.sentiment.predict(texts, batch_size=self.batch_size)
            return ip.probs, sp.probs, ip.token_tags
        # one tokenization; one encoder pass for a joint model, else two
        intent_probs = np.zeros((len(texts), len(self.intent.labels)), dtype=np.float32)
        sent_probs = np.zeros((len(texts), len(self.sentiment_labels)), dtype=np.float32)
        tags: list[list[tuple[int, int, int]]] = [[] for _ in texts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                batch = self._shared_encoder.encode([texts[i] for i in idx], offsets=with_tokens)
                offsets = batch.pop("offset_mapping", None)
                ids = batch["input_ids"].to(self.device)
                mask = batch["attention_mask"].to(self.device)
                out_i = self.intent.model(input_ids=ids, attention_mask=mask)
                if self.sentiment is None:
                    sent_logits = out_i.sentiment_logits
                else:
                    sent_logits = self.sentiment.head_logits(self.sentiment.model(input_ids=ids, attention_mask=mask))
                intent_probs[idx] = torch.softmax(out_i.logits.float(), -1).cpu().numpy()
                sent_probs[idx] = torch.softmax(sent_logits.float(), -1).cpu().numpy()
                if with_tokens and out_i.token_logits is not None and offsets is not None:
                    for i, row_tags in zip(idx, token_tags(out_i.token_logits, offsets, mask)):
                        tags[i] = row_tags
        return intent_probs, sent_probs, tags if with_tokens else None

    def _slots(self, text: str, token_tags: list[tuple[int, int, int]] | None) -> dict[str, str]:
        slots = self.tagger.slots(text) if self.slot_mode != "token_head" else {}
        if token_tags is not None:
            for slot, start, end in bio_spans(token_tags, self.intent.token_labels):
                if slot not in slots:
                    value = self.tagger.resolve(slot, text[start:end])
                    if value:
                        slots[slot] = value
        return slots

    def predict(self, texts: list[str]) -> list[Understanding]:
        """One `Understanding` per text, in order. An empty list gives an empty list."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return []
        intent_probs, sent_probs, tags = self._classify(texts)
        results = []
        for i, text in enumerate(texts):
            ii, si = int(intent_probs[i].argmax()), int(sent_probs[i].argmax())
            results.append(Understanding(
                intent=self.intent.labels[ii], confidence=float(intent_probs[i, ii]),
                slots=self._slots(text, tags[i] if tags is not None else None),
                sentiment=self.sentiment_labels[si], sentiment_confidence=float(sent_probs[i, si]),
            ))
        return results


@dataclass(frozen=True)
class Served:
    version: str
    results: list[Understanding]


class ModelRegistry:
    """The live model of a worker process, swappable without a pause in serving."""

    def __init__(self, catalogue: Catalogue | str | Path | None = None, device: str | torch.device | None = None,
                 *, quantize: bool = False) -> None:
        self.catalogue = catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)
        self.device = device
        self.quantize = quantize
        self._current: Understander | None = None
        self._reload_lock = threading.Lock()  # one background load at a time

    def _load(self, model_dir: str | Path, version: str | None) -> Understander:
        return Understander.load(model_dir, self.catalogue, self.device, quantize=self.quantize, version=version)

    def load(self, model_dir: str | Path = DEFAULT_MODEL_DIR, *, version: str | None = None) -> Understander:
        """Load and warm synchronously (worker start), then serve it."""
        self._current = self._load(model_dir, version)
        return self._current

    def reload(self, model_dir: str | Path, *, version: str | None = None) -> Future:
        """Load + warm `model_dir` in a background thread, then swap. The future resolves to the
        new version string, or to the load error (the old version keeps serving then)."""
        future: Future = Future()

        def run() -> None:
            with self._reload_lock:
                started = time.perf_counter()
                try:
                    new = self._load(model_dir, version)
                except Exception as exc:  # noqa: BLE001 - reported through the future and the log
                    log.error("model reload failed", extra={"model_dir": str(model_dir), "error": repr(exc)})
                    future.set_exception(exc)
                    return
                old = self._current
                self._current = new  # a single reference assignment: atomic for readers
                log.info("model swapped", extra={"old": old.version if old else None, "new": new.version,
                                                 "load_seconds": round(time.perf_counter() - started, 2)})
                future.set_result(new.version)

        threading.Thread(target=run, name="model-reload", daemon=True).start()
        return future

    @property
    def current(self) -> Understander:
        model = self._current
        if model is None:
            raise RuntimeError("no model loaded: call ModelRegistry.load(model_dir) first")
        return model

    @property
    def version(self) -> str:
        return self.current.version

    def predict(self, texts: list[str]) -> list[Understanding]:
        return self.predict_versioned(texts).results

    def predict_versioned(self, texts: list[str]) -> Served:
        model = self.current  # one snapshot per call: a swap mid-call cannot mix versions
        return Served(model.version, model.predict(texts))
