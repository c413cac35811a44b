"""Masked-language-model pre-training of the project's tiny encoder on unlabelled text.

The intent model trained from scratch sees only generated comments and a little real chatter,
and generalises poorly to real customer turns. Pre-training the same 2-layer, 128-wide encoder
on real unlabelled text first (live danmaku, shopping reviews) plus generated comments, then
fine-tuning it, is how the defaults are built (`models.train --all --pretrain`; the gain is
measured in BENCHMARKS.md, "Models"). The output is a plain `BertForMaskedLM` folder with the
tokenizer, which `--base` accepts like any operator checkpoint (and, seeing its meta.json, trains
at the from-scratch learning rate):

    .venv/bin/python -m models.pretrain --out var/mlm [--steps 3000] [--vocab models/default/intent/vocab.txt]
    .venv/bin/python -m models.train intent --base var/mlm --out var/intent

The loss is computed on the masked positions only (15 % of the tokens): projecting every
position onto the 6,000-character vocabulary cost 7x the compute for the same gradient.
3,000 steps of 128 texts took 17.5 minutes on the two development cores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import BertForMaskedLM, DataCollatorForLanguageModeling

from models import data as realdata
from models.encoder import tiny_config
from models.synth import generate
from models.tokenizer import DEFAULT_MAX_LENGTH, make_tokenizer, save_tokenizer, vocab_size
from models.train import _environment, set_seed
from pipeline.catalogue import Catalogue

DEFAULT_VOCAB = Path(__file__).resolve().parent / "default" / "intent" / "vocab.txt"


def pretrain_texts(*, seed: int, n_synth: int, use_real: bool, data_dir: Path | None,
                   log: realdata.DataLog, catalogue: Catalogue) -> list[str]:
    """Generated comments, plus real danmaku and reviews when the data folder is there. Texts of
    the real intent dev set are left out, so the dev figure stays a held-out one."""
    synth = [e.text for e in generate(catalogue, n_synth, seed=seed + 99)]
    log.generated("models.synth.generate", rows=len(synth), seed=seed + 99, role="pretrain: unlabelled")
    texts = list(synth)
    if use_real and realdata.data_available(data_dir, realdata.INTENT_DEV, *realdata.DANMAKU_FILES):
        exclude = realdata.dev_exclusion(data_dir)
        texts += realdata.read_danmaku_texts(data_dir, limit=60_000, seed=seed, exclude=exclude)
        reviews = realdata.read_labelled_reviews(data_dir, per_file=15_000, seed=seed, log=log, exclude=exclude)
        texts += [text[: DEFAULT_MAX_LENGTH - 2] for text, _ in reviews]
    random.Random(seed).shuffle(texts)
    return texts


def pretrain(out_dir: str | Path, *, vocab_file: str | Path = DEFAULT_VOCAB, steps: int = 3000,
             batch_size: int = 128, lr: float = 1e-3, seed: int = 0, n_synth: int = 20_000,
             use_real: bool = True, data_dir: str | Path | None = None, hidden: int = 128, layers: int = 2,
             threads: int = 2, catalogue: Catalogue | None = None) -> dict:
    """Pre-train and write `out_dir` (weights, config, tokenizer, meta.json); returns the meta."""
    set_seed(seed, threads)
    t0 = time.time()
    data_root = Path(data_dir) if data_dir is not None else None
    vocab = Path(vocab_file).read_text(encoding="utf-8").splitlines()
    tokenizer = make_tokenizer(vocab, max_length=DEFAULT_MAX_LENGTH)
    log = realdata.DataLog()
    texts = pretrain_texts(seed=seed, n_synth=n_synth, use_real=use_real, data_dir=data_root, log=log,
                           catalogue=catalogue or Catalogue.load())
    examples = [{"input_ids": ids} for ids in tokenizer(texts, truncation=True, max_length=DEFAULT_MAX_LENGTH)["input_ids"]]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    model = BertForMaskedLM(tiny_config(vocab_size(tokenizer), hidden=hidden, layers=layers))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.06)
    model.train()
    running = None
    bar = tqdm(range(steps), desc="pretrain", unit="step")
    for step in bar:
        batch = collator([examples[(step * batch_size + i) % len(examples)] for i in range(batch_size)])
        labels = batch["labels"]
        hidden_states = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        masked = labels != -100
        loss = torch.nn.functional.cross_entropy(model.cls(hidden_states[masked]), labels[masked])
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{running:.3f}")
    bar.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    save_tokenizer(tokenizer, vocab, out)
    meta = {
        "task": "mlm-pretrain", "seed": seed, "vocab": str(vocab_file),
        "settings": {"steps": steps, "batch_size": batch_size, "lr": lr, "hidden": hidden, "layers": layers,
                     "mask": 0.15, "texts": len(texts)},
        "training": {"seconds": round(time.time() - t0, 1), "final_loss": round(running or 0.0, 4)},
        "data": log.entries, "environment": _environment(),
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB, help="the character vocabulary to keep")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    meta = pretrain(args.out, vocab_file=args.vocab, steps=args.steps, seed=args.seed, data_dir=args.data_dir,
                    threads=args.threads)
    print(json.dumps(meta["training"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
