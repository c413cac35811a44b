"""Training of livebot's own models: intent (+ slot tagger), sentiment and the embedder.

Each entry point is a plain function that writes one self-contained folder (weights as
safetensors, tokenizer, `meta.json` with the data versions read, the settings and the metrics):

    train_intent(out_dir, *, base=None, seed=0, ...)     -> meta dict   (+ sentiment head)
    train_sentiment(out_dir, *, base=None, seed=0, ...)  -> meta dict   (a model of its own)
    train_embedder(out_dir, *, base=None, seed=0, ...)   -> meta dict   (see models/embedder.py)

The intent model carries a sentiment head by default, trained in the same run on the generated
comments' moods and the real reviews: serving then answers intent and sentiment in one encoder
pass (half the compute of two models). `train_sentiment` still trains a sentiment model of its
own, which serving prefers when a model folder has one (an operator's bigger model, say).

With `base=None` a tiny BERT (`encoder.tiny_config`) is trained from scratch over a character
vocabulary built from the training text; with `base=PATH` the same code fine-tunes an operator's
pretrained BERT checkpoint on disk (its own tokenizer and config). Real data is read from
`../shared/data/` when present (`data_dir=None` = the default location; `use_real=False` =
synthetic only, as the tests do).

All defaults in one command (≈35 minutes on two CPU cores: a shared character vocabulary, MLM
pre-training of the encoder on unlabelled text (`models.pretrain`), then the intent model with
its sentiment head and the embedder fine-tuned from it):

    .venv/bin/python -m models.train --all --pretrain --out models/default
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from models import data as realdata
from models.encoder import BertForUnderstanding, TextClassifier, tiny_config
from models.slots import RuleTagger
from models.synth import Example, generate
from models.tokenizer import DEFAULT_MAX_LENGTH, build_vocab, clip_text, load_tokenizer, make_tokenizer, prepare, save_tokenizer
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue
from pipeline.taxonomy import INTENTS, SENTIMENTS, SLOT_TAG_INDEX, SLOT_TAGS

META_FILE = "meta.json"
FROZEN_VOCAB_ABOVE = 60_000  # a base with more word-embedding rows keeps them frozen (see new_model)


# ---------------------------------------------------------------------------------------------
# Shared machinery


def set_seed(seed: int, threads: int = 2) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    label: int                      # -100: no label for the main head (a review in intent training)
    token_labels: list[int] | None  # None: no slot supervision for this example
    sentiment: int = -100           # the sentiment head's label; -100: none


def encode_examples(
    tokenizer, texts: Sequence[str], labels: Sequence[int], *, max_length: int,
    spans: Sequence[Sequence[tuple[str, int, int]] | None] | None = None,
    sentiments: Sequence[int] | None = None,
) -> list[Encoded]:
    """Tokenize once up front; BIO labels from character spans through the offset mapping."""
    prepared = [prepare(clip_text(t, max_length - 2)) for t in texts]
    enc = tokenizer(prepared, truncation=True, max_length=max_length, return_offsets_mapping=spans is not None)
    out: list[Encoded] = []
    for i, ids in enumerate(enc["input_ids"]):
        token_labels = None
        if spans is not None and spans[i] is not None:
            token_labels = []
            for start, end in enc["offset_mapping"][i]:
                if end <= start:
                    token_labels.append(-100)  # [CLS], [SEP]
                    continue
                tag = "O"
                for slot, s, e in spans[i]:
                    if s <= start < e:
                        tag = ("B-" if start == s else "I-") + slot
                        break
                token_labels.append(SLOT_TAG_INDEX[tag])
        out.append(Encoded(list(ids), labels[i], token_labels, sentiments[i] if sentiments is not None else -100))
    return out


def _batches(data: list[Encoded], batch_size: int, rng: random.Random) -> list[list[Encoded]]:
    """Shuffled, then length-bucketed inside chunks of 50 batches, then batch order shuffled."""
    order = data[:]
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[Encoded]] = []
    for lo in range(0, len(order), chunk):
        part = sorted(order[lo : lo + chunk], key=lambda e: len(e.input_ids))
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def collate(batch: list[Encoded], pad_id: int = 0) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.tensor([e.label for e in batch], dtype=torch.long)
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    with_tokens = any(e.token_labels is not None for e in batch)
    if with_tokens:
        tok = torch.full((len(batch), width), -100, dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        mask[i, :n] = 1
        if with_tokens and e.token_labels is not None:
            tok[i, :n] = torch.tensor(e.token_labels)
    if with_tokens:
        out["token_labels"] = tok
    if any(e.sentiment != -100 for e in batch):
        out["sentiment_targets"] = torch.tensor([e.sentiment for e in batch], dtype=torch.long)
    return out


def fit(
    model: torch.nn.Module, data: list[Encoded], *, epochs: float, batch_size: int, lr: float, seed: int,
    desc: str, max_steps: int | None = None, pad_id: int = 0, warmup: float = 0.06,
) -> dict[str, float]:
    """AdamW with linear warm-up and decay; a tqdm bar over the optimisation steps."""
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(data) / batch_size)
    total = max(1, int(steps_per_epoch * epochs))
    if max_steps is not None:
        total = min(total, max_steps)
    trainable = [p for p in model.parameters() if p.requires_grad]
    no_decay = [p for p in trainable if p.ndim < 2]
    decay = [p for p in trainable if p.ndim >= 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    warm = max(1, int(total * warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    model.train()
    step, t0, running = 0, time.time(), 0.0
    bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0)
    while step < total:
        for batch in _batches(data, batch_size, rng):
            out = model(**collate(batch, pad_id))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            loss_value = out.loss.detach().item()
            running = 0.98 * running + 0.02 * loss_value if step else loss_value
            step += 1
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running:.3f}")
            if step >= total:
                break
    bar.close()
    model.eval()
    return {"steps": step, "seconds": round(time.time() - t0, 1), "final_loss": round(running, 4)}


def new_model(
    *, base: Path | None, tokenizer, labels: Sequence[str], token_labels: Sequence[str] = (),
    sentiment_labels: Sequence[str] = (), sentiment_loss_weight: float = 1.0, sentiment_head_hidden: int = 0,
    task: str, hidden: int, layers: int, max_length: int,
) -> BertForUnderstanding:
    id2label = dict(enumerate(labels))
    extra = {
        "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}, "num_labels": len(labels),
        "num_token_labels": len(token_labels), "token_labels": list(token_labels),
        "sentiment_labels": list(sentiment_labels), "sentiment_loss_weight": sentiment_loss_weight,
        "sentiment_head_hidden": sentiment_head_hidden, "task": task,
        "max_length_serving": max_length,
    }
    if base is not None:
        # a base with other heads (or none) keeps its encoder; the heads start fresh. The heads'
        # settings go into the config first: a plain BertConfig (bert-base-chinese, an MLM
        # checkpoint) has no such fields, and from_pretrained would hand them to __init__.
        from transformers import BertConfig

        config = BertConfig.from_pretrained(str(base), local_files_only=True)
        config.update(extra)
        model = BertForUnderstanding.from_pretrained(str(base), config=config, local_files_only=True,
                                                     ignore_mismatched_sizes=True)
        if config.vocab_size > FROZEN_VOCAB_ABOVE:
            # a multilingual base (multilingual-e5-small: 250k rows, 82 % of its weights): AdamW
            # would carry ~0.8 GB of state for rows the comments never use, and the few thousand
            # they do use would move away from the rest (a choice, not measured against training them)
            model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        return model
    from models.tokenizer import vocab_size

    config = tiny_config(vocab_size(tokenizer), hidden=hidden, layers=layers, max_length=max_length)
    config.update(extra)
    return BertForUnderstanding(config)


def project_pretrained(base: Path | None) -> dict | None:
    """The meta of a base written by `models.pretrain`, else None. Such a base is as small as a
    from-scratch model and wants the from-scratch learning rate, not an operator BERT's 5e-5."""
    meta_file = base / META_FILE if base is not None else None
    if meta_file is None or not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return meta if meta.get("task") == "mlm-pretrain" else None


def default_lr(base: Path | None, *, scratch: float, pretrained: float) -> float:
    """`scratch` from scratch or on a `models.pretrain` base, `pretrained` on an operator's checkpoint."""
    return pretrained if base is not None and project_pretrained(base) is None else scratch


def describe_base(base: Path | None) -> dict | None:
    """What a model folder records of its base: the path, and for a `models.pretrain` base the
    settings and data versions it was pre-trained on (the folder itself may be temporary)."""
    if base is None:
        return None
    meta = project_pretrained(base)
    if meta is None:
        return {"path": str(base)}
    return {"path": str(base), "pretrain": {k: meta.get(k) for k in ("seed", "settings", "training", "data")}}


def fit_max_length(base: Path | None, max_length: int) -> int:
    """`max_length`, cut to the positions a base checkpoint has (a `models.pretrain` base has 64;
    reading longer texts with it would index past its position table)."""
    if base is None:
        return max_length
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    return min(max_length, int(config.get("max_position_embeddings") or max_length))


def get_tokenizer(base: Path | None, tokenizer_dir: Path | None, texts: Callable[[], list[str]], max_length: int):
    """The base checkpoint's tokenizer, a given project tokenizer, or a new one built from `texts`.
    Returns (tokenizer, vocab list or None). A base's vocab.txt travels on into the new folder,
    where `models.pretrain --vocab` and people look for it."""
    if base is not None:
        vocab_file = base / "vocab.txt"
        vocab = vocab_file.read_text(encoding="utf-8").splitlines() if vocab_file.is_file() else None
        return load_tokenizer(base), vocab
    if tokenizer_dir is not None:
        vocab = (Path(tokenizer_dir) / "vocab.txt").read_text(encoding="utf-8").splitlines()
        return make_tokenizer(vocab, max_length=max_length), vocab
    vocab = build_vocab(texts())
    return make_tokenizer(vocab, max_length=max_length), vocab


def save_folder(out_dir: Path, model: torch.nn.Module, tokenizer, vocab: list[str] | None, meta: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    if vocab is not None:
        save_tokenizer(tokenizer, vocab, out_dir)
    else:
        tokenizer.save_pretrained(str(out_dir))
    (out_dir / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def _environment() -> dict[str, str]:
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "threads": str(torch.get_num_threads())}


def _spans(ex: Example) -> list[tuple[str, int, int]]:
    return [(s.slot, s.start, s.end) for s in ex.spans]


# ---------------------------------------------------------------------------------------------
# Intent + slots


def train_intent(
    out_dir: str | Path,
    *,
    base: str | Path | None = None,
    seed: int = 0,
    catalogue: str | Path | Catalogue | None = None,
    data_dir: str | Path | None = None,
    use_real: bool = True,
    n_synth: int = 24000,
    n_chatter: int = 2000,
    epochs: float = 3.0,
    batch_size: int = 64,
    lr: float | None = None,
    hidden: int = 128,
    layers: int = 2,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_steps: int | None = None,
    slot_head: bool = True,
    sentiment_head: bool = True,
    sentiment_loss_weight: float = 1.0,
    sentiment_head_hidden: int = 128,
    reviews_per_file: int = 30000,
    tokenizer_dir: str | Path | None = None,
    n_heldout: int = 2200,
    threads: int = 2,
) -> dict:
    """Train the intent classifier, with a sentiment head (see the module's docstring) and a BIO
    slot head (measured against the rules tagger; serving uses whichever measured better).

    The sentiment head learns from the generated comments' moods and, when the real data is
    present, from labelled reviews (clipped head + tail to `max_length`; no intent label). It is
    one hidden layer of `sentiment_head_hidden` units (0: a single linear layer): on the same
    pre-trained base it read the real dev comments at 0.696 against 0.656 for the linear head
    (BENCHMARKS.md, "Models"; ChnSentiCorp dev: 0.903 for the defaults built so)."""
    t_start = time.time()
    set_seed(seed, threads)
    out = Path(out_dir)
    base_path = Path(base) if base is not None else None
    cat = catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)
    data_root = Path(data_dir) if data_dir is not None else None
    real = use_real and realdata.data_available(data_root, realdata.INTENT_DEV, *realdata.DANMAKU_FILES)
    real_reviews = sentiment_head and use_real and realdata.data_available(data_root, *realdata.SENTIMENT_TRAIN_FILES)
    log = realdata.DataLog()

    synth = generate(cat, n_synth, seed=seed)
    log.generated("models.synth.generate", rows=len(synth), seed=seed,
                  role="train: intent + slots" + (" + sentiment" if sentiment_head else ""))
    exclude = realdata.dev_exclusion(data_root) if real or real_reviews else set()
    chatter: list[str] = []
    if real and n_chatter:
        chatter = realdata.read_danmaku_chatter(data_root, limit=n_chatter, seed=seed, log=log, exclude=exclude)
    reviews: list[tuple[str, str]] = []
    if real_reviews:
        reviews = realdata.read_labelled_reviews(data_root, per_file=reviews_per_file, seed=seed, log=log,
                                                 exclude=exclude)
    texts = [e.text for e in synth] + chatter + [t for t, _ in reviews]
    labels = [INTENTS.index(e.intent) for e in synth] + [INTENTS.index("chitchat")] * len(chatter) + [-100] * len(reviews)
    sentiments = ([SENTIMENTS.index(e.sentiment) for e in synth] + [-100] * len(chatter)
                  + [SENTIMENTS.index(s) for _, s in reviews])
    spans: list = [_spans(e) for e in synth] + [None] * (len(chatter) + len(reviews))

    max_length = fit_max_length(base_path, max_length)
    tokenizer, vocab = get_tokenizer(base_path, Path(tokenizer_dir) if tokenizer_dir else None, lambda: texts, max_length)
    model = new_model(
        base=base_path, tokenizer=tokenizer, labels=INTENTS, token_labels=SLOT_TAGS if slot_head else (),
        sentiment_labels=SENTIMENTS if sentiment_head else (), sentiment_loss_weight=sentiment_loss_weight,
        sentiment_head_hidden=sentiment_head_hidden, task="intent", hidden=hidden, layers=layers, max_length=max_length,
    )
    encoded = encode_examples(tokenizer, texts, labels, max_length=max_length, spans=spans if slot_head else None,
                              sentiments=sentiments if sentiment_head else None)
    lr = lr or default_lr(base_path, scratch=1e-3, pretrained=5e-5)
    train_info = fit(
        model, encoded, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        desc="intent", max_steps=max_steps, pad_id=tokenizer.pad_token_id or 0,
    )
    meta = {
        "task": "intent", "labels": list(INTENTS), "slot_tags": list(SLOT_TAGS) if slot_head else [],
        "sentiment_labels": list(SENTIMENTS) if sentiment_head else [],
        "base": str(base_path) if base_path else None, "base_detail": describe_base(base_path), "seed": seed,
        "catalogue": cat.room_id,
        "settings": {"n_synth": n_synth, "n_chatter": len(chatter), "n_reviews": len(reviews), "epochs": epochs,
                     "batch_size": batch_size, "lr": lr, "sentiment_loss_weight": sentiment_loss_weight,
                     "sentiment_head_hidden": sentiment_head_hidden,
                     "hidden": model.config.hidden_size, "layers": model.config.num_hidden_layers, "max_length": max_length},
        "training": train_info, "data": log.entries, "environment": _environment(),
    }
    save_folder(out, model, tokenizer, vocab, meta)

    # Metrics on a held-out generated split (a different seed) and, when present, the real dev set.
    from models.evaluate import intent_metrics, slot_comparison

    heldout = generate(cat, n_heldout, seed=seed + 10_007)
    clf = TextClassifier(out, device="cpu")
    metrics = {"generated_heldout": intent_metrics(clf, [e.text for e in heldout], [e.intent for e in heldout])}
    metrics["slots_generated_heldout"] = slot_comparison(clf, RuleTagger(cat), heldout)
    dev = realdata.read_intent_dev(data_root, log=log) if real else None
    if dev is not None:
        metrics["real_dev"] = intent_metrics(clf, [r.text for r in dev], [r.intent for r in dev])
    if sentiment_head:
        metrics["sentiment"] = _sentiment_metrics(TextClassifier(out, device="cpu", head="sentiment"), cat, seed=seed,
                                                  data_root=data_root, use_real=use_real, log=log, dev_rows=dev)
    meta["slot_tagger"] = metrics["slots_generated_heldout"]["chosen"]
    meta["metrics"] = metrics
    meta["data"] = log.entries
    meta["seconds_total"] = round(time.time() - t_start, 1)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta


# ---------------------------------------------------------------------------------------------
# Sentiment


def train_sentiment(
    out_dir: str | Path,
    *,
    base: str | Path | None = None,
    seed: int = 0,
    catalogue: str | Path | Catalogue | None = None,
    data_dir: str | Path | None = None,
    use_real: bool = True,
    n_synth: int = 12000,
    reviews_per_file: int = 15000,
    epochs: float = 3.0,
    batch_size: int = 64,
    lr: float | None = None,
    hidden: int = 128,
    layers: int = 2,
    max_length: int = 128,  # reviews are long; live comments are far shorter either way
    max_steps: int | None = None,
    tokenizer_dir: str | Path | None = None,
    threads: int = 2,
) -> dict:
    """Train the 3-way sentiment classifier (neg/neu/pos) on real reviews + generated comments.

    Reviews carry only neg/pos; the generated comments bring the neutral questions a live room
    is mostly made of, and the moods viewers add to them.
    """
    t_start = time.time()
    set_seed(seed, threads)
    out = Path(out_dir)
    base_path = Path(base) if base is not None else None
    cat = catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)
    data_root = Path(data_dir) if data_dir is not None else None
    real = use_real and realdata.data_available(data_root, *realdata.SENTIMENT_TRAIN_FILES)
    log = realdata.DataLog()

    synth = generate(cat, n_synth, seed=seed + 1)
    log.generated("models.synth.generate", rows=len(synth), seed=seed + 1, role="train: sentiment (comments)")
    pairs = [(e.text, e.sentiment) for e in synth]
    if real:
        pairs += realdata.read_labelled_reviews(
            data_root, per_file=reviews_per_file, seed=seed, log=log, exclude=realdata.dev_exclusion(data_root)
        )
    texts = [t for t, _ in pairs]
    labels = [SENTIMENTS.index(s) for _, s in pairs]

    max_length = fit_max_length(base_path, max_length)
    tokenizer, vocab = get_tokenizer(base_path, Path(tokenizer_dir) if tokenizer_dir else None, lambda: texts, max_length)
    model = new_model(base=base_path, tokenizer=tokenizer, labels=SENTIMENTS, task="sentiment", hidden=hidden,
                      layers=layers, max_length=max_length)
    encoded = encode_examples(tokenizer, texts, labels, max_length=max_length)
    lr = lr or default_lr(base_path, scratch=1e-3, pretrained=5e-5)
    train_info = fit(
        model, encoded, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        desc="sentiment", max_steps=max_steps, pad_id=tokenizer.pad_token_id or 0,
    )
    meta = {
        "task": "sentiment", "labels": list(SENTIMENTS), "base": str(base_path) if base_path else None,
        "base_detail": describe_base(base_path), "seed": seed,
        "settings": {"n_synth": n_synth, "reviews_per_file": reviews_per_file, "epochs": epochs, "batch_size": batch_size,
                     "lr": lr,
                     "hidden": model.config.hidden_size, "layers": model.config.num_hidden_layers, "max_length": max_length,
                     "long_texts": f"head+tail clipped to {max_length - 2} characters"},
        "training": train_info, "data": log.entries, "environment": _environment(),
    }
    save_folder(out, model, tokenizer, vocab, meta)

    metrics = _sentiment_metrics(TextClassifier(out, device="cpu"), cat, seed=seed, data_root=data_root,
                                 use_real=use_real, log=log)
    meta["metrics"] = metrics
    meta["data"] = log.entries
    meta["seconds_total"] = round(time.time() - t_start, 1)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta


def _sentiment_metrics(clf: TextClassifier, cat: Catalogue, *, seed: int, data_root: Path | None, use_real: bool,
                       log: realdata.DataLog, dev_rows: list[realdata.DevRow] | None = None) -> dict:
    """Generated held-out comments, ChnSentiCorp dev (binary) and the real dev set (3-way;
    `dev_rows` when the caller has read it already, so the data log names it once)."""
    from models.evaluate import sentiment_metrics

    heldout = generate(cat, 2000, seed=seed + 20_011)
    metrics = {"generated_heldout": sentiment_metrics(clf, [e.text for e in heldout], [e.sentiment for e in heldout])}
    if use_real and realdata.data_available(data_root, realdata.CHNSENTICORP_DEV):
        dev = realdata.read_chnsenticorp_dev(data_root, log=log)
        metrics["chnsenticorp_dev"] = sentiment_metrics(clf, [t for t, _ in dev], [s for _, s in dev], binary=True)
    if dev_rows is None and use_real and realdata.data_available(data_root, realdata.INTENT_DEV):
        dev_rows = realdata.read_intent_dev(data_root, log=log)
    if dev_rows is not None:
        metrics["real_dev"] = sentiment_metrics(clf, [r.text for r in dev_rows], [r.sentiment for r in dev_rows])
    return metrics


def train_embedder(out_dir: str | Path, **kwargs) -> dict:
    """Contrastive sentence embedder; see `models.embedder.train_embedder` for the arguments."""
    from models.embedder import train_embedder as _train

    return _train(out_dir, **kwargs)


# ---------------------------------------------------------------------------------------------
# Command line: python -m models.train {intent,sentiment,embedder,--all} --out DIR


def build_shared_tokenizer(out_dir: Path, *, seed: int, data_dir: Path | None, catalogue: Catalogue) -> Path:
    """One vocabulary for all default models, so serving tokenizes a comment once."""
    texts = [e.text for e in generate(catalogue, 30000, seed=seed)]
    if realdata.data_available(data_dir, *realdata.SENTIMENT_TRAIN_FILES, *realdata.DANMAKU_FILES):
        exclude = realdata.dev_exclusion(data_dir)
        texts += [t for t, _ in realdata.read_labelled_reviews(data_dir, per_file=10000, seed=seed, log=None, exclude=exclude)]
        texts += realdata.read_danmaku_texts(data_dir, limit=30000, seed=seed, exclude=exclude)
        if realdata.data_available(data_dir, realdata.PARAPHRASE_TRAIN):
            for a, b, _ in realdata.read_paraphrase_pairs(Path(data_dir or realdata.DEFAULT_DATA_DIR) / realdata.PARAPHRASE_TRAIN):
                texts += [a, b]
    vocab = build_vocab(texts, max_size=6000, min_freq=3)
    tok_dir = out_dir / "_tokenizer"
    save_tokenizer(make_tokenizer(vocab), vocab, tok_dir)
    return tok_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", nargs="?", choices=("intent", "sentiment", "embedder"))
    parser.add_argument("--all", action="store_true",
                        help="train the defaults' set into OUT/<task>: intent (with its sentiment head) and embedder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=None, help="fine-tune this pretrained BERT folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--catalogue", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (1 on a busy shared machine)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default: 1e-3 from scratch or on a `models.pretrain` base, which is "
                        "as small as a from-scratch model; 5e-5 on another --base)")
    parser.add_argument("--pretrain", action="store_true",
                        help="with --all: MLM pre-training of the encoder on unlabelled text first (models.pretrain, "
                        "≈20 minutes on two cores), every model fine-tuned from it (the defaults are built so)")
    parser.add_argument("--pretrain-steps", type=int, default=3000)
    args = parser.parse_args(argv)
    if not args.all and not args.task:
        parser.error("name a task or pass --all")
    if args.pretrain and (not args.all or args.base):
        parser.error("--pretrain goes with --all and without --base")
    cat = Catalogue.load(args.catalogue or SAMPLE_CATALOGUE)
    common = {"base": args.base, "seed": args.seed, "data_dir": args.data_dir, "threads": args.threads, "lr": args.lr}
    if args.all:
        import shutil

        args.out.mkdir(parents=True, exist_ok=True)
        tok_dir = None if args.base else build_shared_tokenizer(args.out, seed=args.seed, data_dir=args.data_dir, catalogue=cat)
        scratch = [tok_dir] if tok_dir is not None else []
        if args.pretrain:
            from models.pretrain import pretrain

            mlm_dir = args.out / "_mlm"
            pretrain(mlm_dir, vocab_file=tok_dir / "vocab.txt", steps=args.pretrain_steps, seed=args.seed,
                     data_dir=args.data_dir, threads=args.threads, catalogue=cat)
            common["base"], tok_dir = mlm_dir, None  # the base carries the vocabulary now
            scratch.append(mlm_dir)
        summary = {}
        for task, fn in (("intent", train_intent), ("embedder", train_embedder)):
            meta = fn(args.out / task, catalogue=cat, tokenizer_dir=tok_dir, **common)
            summary[task] = meta.get("metrics")
        for folder in scratch:  # the models record what they need of these (base_detail in meta.json)
            shutil.rmtree(folder)
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    fn = {"intent": train_intent, "sentiment": train_sentiment, "embedder": train_embedder}[args.task]
    meta = fn(args.out, catalogue=cat, **common)
    print(json.dumps(meta.get("metrics"), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
