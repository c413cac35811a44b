"""Benchmark of livebot's own models: quality on real and generated data, and serving speed.

    .venv/bin/python -m bench.models [--model-dir models/default] [--n 4000] [--quick]

Prints, with the baseline measured in the same run:
  * intent macro-F1 on ../shared/data/intents/real_dev.tsv (per class) and on a generated
    held-out split,
  * sentiment accuracy on ../shared/data/sentiment/chnsenticorp_dev.csv,
  * embedder ROC-AUC on the real paraphrase dev pairs vs the character n-gram baseline,
  * intent + sentiment + slots throughput (comments/s): batched at several batch sizes vs one
    comment at a time, fp32 and (CPU) int8 dynamic quantisation; for a model whose sentiment is
    a head of the intent model, also the same weights run as two models (two encoder passes, the
    shape the defaults had before), at the best batch size.
Real-data figures are skipped (null) when ../shared/data is absent. The LAST line printed is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from models import data as realdata
from models.encoder import TextClassifier, load_sentiment
from models.evaluate import intent_metrics, paraphrase_auc, sentiment_metrics
from models.synth import generate
from models.understand import DEFAULT_MODEL_DIR, Understander, default_model_folder
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue


def _throughput(understander: Understander, texts: list[str], batch_size: int, repeats: int = 3) -> float:
    """Best of `repeats` passes: the machine is shared, the best pass is the least disturbed."""
    understander.batch_size = batch_size
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for lo in range(0, len(texts), batch_size):
            understander.predict(texts[lo : lo + batch_size])
        best = max(best, len(texts) / (time.perf_counter() - start))
    return round(best, 1)


def _one_at_a_time(understander: Understander, texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        understander.predict([t])
    return round(len(texts) / (time.perf_counter() - start), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--n", type=int, default=4000, help="comments for the throughput runs")
    parser.add_argument("--quick", action="store_true", help="smaller sweep, no embedder dev pairs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cat = Catalogue.load(SAMPLE_CATALOGUE)
    root = args.data_dir
    figures: dict[str, object] = {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "model_dir": str(args.model_dir),
        # the machine is shared: a load above the thread count means the speed figures are low
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }

    # -- quality -------------------------------------------------------------------------------
    intent = TextClassifier(args.model_dir / "intent")
    heldout = generate(cat, 2200, seed=10_007)
    m = intent_metrics(intent, [e.text for e in heldout], [e.intent for e in heldout])
    print(f"intent  generated held-out  macro-F1 {m['macro_f1']:.4f}  accuracy {m['accuracy']:.4f}  n={m['n']}")
    figures["intent_generated_macro_f1"] = m["macro_f1"]
    figures["intent_real_dev_macro_f1"] = None
    if realdata.data_available(root, realdata.INTENT_DEV):
        rows = realdata.read_intent_dev(root)
        m = intent_metrics(intent, [r.text for r in rows], [r.intent for r in rows])
        print(f"intent  real dev            macro-F1 {m['macro_f1']:.4f}  accuracy {m['accuracy']:.4f}  n={m['n']}")
        for label, v in m["per_class"].items():
            print(f"    {label:<12} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  n={v['support']}")
        figures["intent_real_dev_macro_f1"] = m["macro_f1"]
        figures["intent_real_dev_accuracy"] = m["accuracy"]
        figures["intent_real_dev_per_class_f1"] = {k: v["f1"] for k, v in m["per_class"].items()}
        # context, not the target: lines whose own text cannot tell the intent (labelled other)
        clear = [r for r in rows if not r.ambiguous]
        mc = intent_metrics(intent, [r.text for r in clear], [r.intent for r in clear])
        print(f"intent  real dev, {len(rows) - len(clear)} ambiguous lines left out  macro-F1 {mc['macro_f1']:.4f}  "
              f"accuracy {mc['accuracy']:.4f}  n={mc['n']}")
        figures["intent_real_dev_unambiguous_macro_f1"] = mc["macro_f1"]
    else:
        print("intent  real dev            skipped (../shared/data absent)")

    sentiment = load_sentiment(default_model_folder("sentiment", args.model_dir))
    figures["sentiment_chnsenticorp_dev_accuracy"] = None
    if realdata.data_available(root, realdata.CHNSENTICORP_DEV):
        dev = realdata.read_chnsenticorp_dev(root)
        s = sentiment_metrics(sentiment, [t for t, _ in dev], [y for _, y in dev], binary=True)
        print(f"sentiment ChnSentiCorp dev  accuracy {s['accuracy']:.4f}  n={s['n']}")
        figures["sentiment_chnsenticorp_dev_accuracy"] = s["accuracy"]
    else:
        print("sentiment ChnSentiCorp dev  skipped (../shared/data absent)")

    emb_dir = args.model_dir / "embedder"
    if (emb_dir / "modules.json").is_file():
        from models.embedder import load_embedder

        embedder = load_embedder(emb_dir)
        for rel in realdata.PARAPHRASE_DEV:
            key = Path(rel).stem
            if args.quick or not realdata.data_available(root, rel):
                figures[f"embedder_{key}_auc"] = figures[f"char_ngram_{key}_auc"] = None
                print(f"embedder {key:<14} skipped")
                continue
            r = paraphrase_auc(embedder, realdata.read_paraphrase_pairs(Path(root or realdata.DEFAULT_DATA_DIR) / rel))
            print(f"embedder {key:<14} ROC-AUC {r['embedder_auc']:.4f}   char 1-3-gram baseline {r['char_ngram_auc']:.4f}  n={r['n']}")
            figures[f"embedder_{key}_auc"] = r["embedder_auc"]
            figures[f"char_ngram_{key}_auc"] = r["char_ngram_auc"]

    # -- speed ---------------------------------------------------------------------------------
    texts = [e.text for e in generate(cat, args.n, seed=77, balanced=False)]
    sizes = (16, 64, 256) if args.quick else (1, 8, 32, 64, 128, 256, 512)
    variants = [("fp32", False)] + ([("int8", True)] if not torch.cuda.is_available() else [])
    for name, quantize in variants:
        u = Understander.load(args.model_dir, cat, quantize=quantize)
        figures["device"] = str(u.device)
        figures["one_encoder_pass"] = u.joint  # intent and sentiment from one model
        single = _one_at_a_time(u, texts[: min(400, len(texts))])
        sweep = {bs: _throughput(u, texts, bs) for bs in sizes}
        best_bs = max(sweep, key=sweep.get)
        print(f"throughput {name} on {u.device}: one at a time {single:.0f}/s; batched "
              + ", ".join(f"bs{bs} {v:.0f}/s" for bs, v in sweep.items())
              + f"  -> best {sweep[best_bs]:.0f}/s = {sweep[best_bs] / single:.1f}x one-at-a-time")
        figures[f"throughput_{name}_one_at_a_time"] = single
        figures[f"throughput_{name}_batched"] = {str(k): v for k, v in sweep.items()}
        figures[f"throughput_{name}_best"] = sweep[best_bs]
        figures[f"throughput_{name}_speedup"] = round(sweep[best_bs] / single, 2)
        if u.joint and name == "fp32":
            # the same weights as two models: the sentiment head on a second copy of the encoder
            second = TextClassifier(args.model_dir / "intent", head="sentiment")
            two = Understander(u.intent, second, u.tagger, slot_mode=u.slot_mode, version="two-passes")
            two.warm_up()
            rate = _throughput(two, texts, best_bs)
            print(f"throughput fp32, two encoder passes (sentiment as a model of its own), bs{best_bs}: {rate:.0f}/s "
                  f"-> one pass is {sweep[best_bs] / rate:.2f}x")
            figures["throughput_fp32_two_passes"] = rate
            figures["throughput_fp32_one_pass_vs_two"] = round(sweep[best_bs] / rate, 2)
    figures["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
