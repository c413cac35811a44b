"""The sentence embedder the clustering stage uses: a sentence-transformers model on the
project's own encoder, trained contrastively.

`SentenceTransformer` = the project's BERT-style encoder (`transformers` BertModel over the
character tokenizer, or an operator's pretrained checkpoint) + mean pooling. Training uses
MultipleNegativesRankingLoss (in-batch negatives, symmetric) on
  * generated paraphrase groups: one question, several wordings (`models.synth`), and
  * real paraphrase pairs: label-1 pairs of `../shared/data/paraphrase/atec_train.csv`.
The loop is a plain torch loop over `SentenceTransformer.forward`, so no trainer stack is needed.
Saved with `.save(dir)`; `SentenceTransformer(dir)` (or `load_embedder`) loads it offline.

    train_embedder(out_dir, *, base=None, seed=0, ...) -> meta dict
    load_embedder(model_dir, device=None) -> SentenceTransformer
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from models import data as realdata
from models.synth import paraphrase_groups
from models.tokenizer import DEFAULT_MAX_LENGTH, build_vocab, make_tokenizer, save_tokenizer
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue

try:  # sentence-transformers ≥ 6
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
except ImportError:  # pragma: no cover - older layout
    from sentence_transformers.models import Pooling, Transformer
from sentence_transformers import SentenceTransformer

META_FILE = "meta.json"


def load_embedder(model_dir: str | Path, device: str | None = None) -> SentenceTransformer:
    """Load a saved embedder from disk only (CUDA when present unless `device` says otherwise)."""
    path = Path(model_dir)
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model in {path} (modules.json missing)")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(str(path), device=device, local_files_only=True)


def _build(encoder_dir: Path, max_length: int) -> SentenceTransformer:
    word = Transformer(str(encoder_dir), max_seq_length=max_length)
    pool = Pooling(word.get_embedding_dimension() if hasattr(word, "get_embedding_dimension")
                   else word.get_word_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[word, pool], device="cpu")


def generated_pairs(catalogue: Catalogue, n: int, seed: int) -> list[tuple[str, str, int]]:
    """Labelled pairs for evaluation: half from one paraphrase group (1), half across groups (0)."""
    groups = paraphrase_groups(catalogue, n, seed=seed, size=2)
    rng = random.Random(seed)
    pairs: list[tuple[str, str, int]] = []
    for i, g in enumerate(groups):
        if i % 2 == 0:
            pairs.append((g[0].text, g[1].text, 1))
        else:
            other = groups[rng.randrange(len(groups))]
            if other is not g:
                pairs.append((g[0].text, other[1].text, 0))
    return pairs


def _mnrl_loss(model: SentenceTransformer, anchors: list[str], positives: list[str], scale: float) -> torch.Tensor:
    """Symmetric in-batch-negatives loss (MultipleNegativesRankingLoss, both directions)."""
    feats_a = model.preprocess(anchors) if hasattr(model, "preprocess") else model.tokenize(anchors)
    feats_p = model.preprocess(positives) if hasattr(model, "preprocess") else model.tokenize(positives)
    ea = torch.nn.functional.normalize(model(feats_a)["sentence_embedding"], dim=-1)
    ep = torch.nn.functional.normalize(model(feats_p)["sentence_embedding"], dim=-1)
    scores = ea @ ep.T * scale
    target = torch.arange(len(anchors))
    return (torch.nn.functional.cross_entropy(scores, target) + torch.nn.functional.cross_entropy(scores.T, target)) / 2


def _dedup_batches(pairs: list[tuple[str, str]], batch_size: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """Batches in which no text repeats (a repeat would be a false in-batch negative)."""
    order = pairs[:]
    rng.shuffle(order)
    batches: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    seen: set[str] = set()
    leftover: list[tuple[str, str]] = []
    for a, p in order:
        if a in seen or p in seen:
            leftover.append((a, p))
            continue
        current.append((a, p))
        seen.update((a, p))
        if len(current) == batch_size:
            batches.append(current)
            current, seen = [], set()
    if len(current) >= 2:
        batches.append(current)
    return batches


def train_embedder(
    out_dir: str | Path,
    *,
    base: str | Path | None = None,
    seed: int = 0,
    catalogue: str | Path | Catalogue | None = None,
    data_dir: str | Path | None = None,
    use_real: bool = True,
    n_groups: int = 3000,
    group_size: int = 4,
    epochs: float = 2.0,
    batch_size: int = 64,
    lr: float | None = None,
    hidden: int = 128,
    layers: int = 2,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_steps: int | None = None,
    scale: float = 20.0,
    tokenizer_dir: str | Path | None = None,
    init_from: str | Path | None = None,
    threads: int = 2,
) -> dict:
    """Train the embedder; `init_from` starts from a trained intent/sentiment folder's encoder."""
    from transformers import BertModel

    from models.encoder import tiny_config
    from models.evaluate import paraphrase_auc
    from models.tokenizer import load_tokenizer, vocab_size
    from models.train import default_lr, describe_base

    t_start = time.time()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    out = Path(out_dir)
    cat = catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)
    root = Path(data_dir) if data_dir is not None else None
    log = realdata.DataLog()

    pairs: list[tuple[str, str]] = []
    for group in paraphrase_groups(cat, n_groups, seed=seed, size=group_size):
        texts = [e.text for e in group]
        pairs += [(texts[i], texts[i + 1]) for i in range(len(texts) - 1) if texts[i] != texts[i + 1]]
    log.generated("models.synth.paraphrase_groups", rows=n_groups * group_size, seed=seed, role="train: paraphrase groups")
    real = use_real and realdata.data_available(root, realdata.PARAPHRASE_TRAIN)
    if real:
        path = Path(root or realdata.DEFAULT_DATA_DIR) / realdata.PARAPHRASE_TRAIN
        rows = realdata.read_paraphrase_pairs(path)
        positive = [(a, b) for a, b, y in rows if y == 1 and a != b]
        pairs += positive
        log.file(path, rows_total=len(rows), rows_used=len(positive), role="train: paraphrase pairs (label 1)")

    # The encoder folder: a pretrained base as it is, a trained project model's encoder, or a new
    # tiny BERT over a character vocabulary built from the training pairs.
    work = out / "_encoder"
    work.mkdir(parents=True, exist_ok=True)
    if base is not None:
        encoder_dir = Path(base)
    else:
        if init_from is not None:
            tokenizer = load_tokenizer(init_from)
            encoder = BertModel.from_pretrained(str(init_from), local_files_only=True, add_pooling_layer=False)
            vocab = (Path(init_from) / "vocab.txt").read_text(encoding="utf-8").splitlines()
        else:
            if tokenizer_dir is not None:
                vocab = (Path(tokenizer_dir) / "vocab.txt").read_text(encoding="utf-8").splitlines()
            else:
                vocab = build_vocab([t for pair in pairs for t in pair])
            tokenizer = make_tokenizer(vocab, max_length=max_length)
            encoder = BertModel(tiny_config(vocab_size(tokenizer), hidden=hidden, layers=layers, max_length=max_length),
                                add_pooling_layer=False)
        encoder.save_pretrained(str(work), safe_serialization=True)
        save_tokenizer(tokenizer, vocab, work)
        encoder_dir = work
    model = _build(encoder_dir, max_length)
    model.train()

    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(pairs) / batch_size)
    total = max(1, int(steps_per_epoch * epochs))
    if max_steps is not None:
        total = min(total, max_steps)
    lr = lr or default_lr(Path(base) if base is not None else None, scratch=5e-4, pretrained=2e-5)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, int(total * 0.06))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    step, running, t0 = 0, 0.0, time.time()
    bar = tqdm(total=total, desc="embedder", unit="step", dynamic_ncols=True, mininterval=1.0)
    while step < total:
        for batch in _dedup_batches(pairs, batch_size, rng):
            loss = _mnrl_loss(model, [a for a, _ in batch], [p for _, p in batch], scale)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            value = loss.detach().item()
            running = 0.98 * running + 0.02 * value if step else value
            step += 1
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running:.3f}")
            if step >= total:
                break
    bar.close()
    model.eval()
    model.save(str(out))
    import shutil

    shutil.rmtree(work, ignore_errors=True)

    loaded = load_embedder(out, device="cpu")
    metrics = {"generated_pairs": paraphrase_auc(loaded, generated_pairs(cat, 1000, seed=seed + 30_011))}
    for rel in realdata.PARAPHRASE_DEV:
        if use_real and realdata.data_available(root, rel):
            path = Path(root or realdata.DEFAULT_DATA_DIR) / rel
            rows = realdata.read_paraphrase_pairs(path)
            log.file(path, rows_total=len(rows), rows_used=len(rows), role="eval: paraphrase pairs")
            metrics[Path(rel).stem] = paraphrase_auc(loaded, rows)
    meta = {
        "task": "embedder", "base": str(base) if base else None,
        "base_detail": describe_base(Path(base) if base is not None else None), "init_from": str(init_from) if init_from else None,
        "seed": seed, "pooling": "mean", "loss": f"MultipleNegativesRankingLoss (symmetric, scale {scale})",
        "settings": {"n_groups": n_groups, "group_size": group_size, "pairs": len(pairs), "epochs": epochs,
                     "batch_size": batch_size, "lr": lr, "max_length": max_length},
        "training": {"steps": step, "seconds": round(time.time() - t0, 1), "final_loss": round(running, 4)},
        "metrics": metrics, "data": log.entries, "seconds_total": round(time.time() - t_start, 1),
    }
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta
