"""Prefilter false positives and speed on real text, against a naive baseline in the same run.

False positives: every comment of the real Bilibili danmaku in `../shared/data/danmaku/*.csv`
(entertainment rooms: none of it is meant to be moderated, so a comment labelled `sensitive`
or `spam` is a false positive unless a person reading it would hide it too) and the real
product reviews of `../shared/data/sentiment/online_shopping_8_cats.csv` (shopping language).
Prints the share of comments per label, the cues behind the sensitive and spam labels, and
examples to read.

Speed, single core, normalise + mask_pii + classify per comment:
  * cold: each distinct danmaku text once, with every cache empty;
  * replay: the danmaku stream in its real order (floods included), caches empty at the start;
  * warm: the same stream again, caches full;
  * naive baseline: a classifier (NFKC + lower, then `entry in text` for every lexicon entry),
    on a sample, so the ratio says what the automaton and the caches buy.
The last line is one JSON object. Skips cleanly (exit 0) when ../shared/data is absent.

    .venv/bin/python bench/prefilter_fp.py [--data ../shared/data] [--examples 15] [--repeats 3]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeline.text as text_module  # noqa: E402
from pipeline.prefilter import LABELS, LEXICON_DIR, Prefilter, read_lexicon  # noqa: E402
from pipeline.text import mask_pii, normalize  # noqa: E402


def read_column(path: Path, column: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh) if row.get(column) is not None]


def false_positives(name: str, texts: list[str], prefilter: Prefilter, examples: int) -> dict[str, object]:
    labels: collections.Counter[str] = collections.Counter()
    cues: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in ("sensitive", "spam")}
    shown: dict[str, list[str]] = {"sensitive": [], "spam": []}
    for raw in texts:
        verdict = prefilter.check(raw)
        labels[verdict.label] += 1
        if verdict.label in cues:
            cues[verdict.label].update(verdict.cues)
            if len(shown[verdict.label]) < examples and raw[:60] not in shown[verdict.label]:
                shown[verdict.label].append(raw[:60])
    n = len(texts)
    print(f"\n== {name}: {n} texts")
    for label in LABELS:
        print(f"  {label:10s} {labels[label]:7d}  {labels[label] / n:8.4%}")
    for label in ("sensitive", "spam"):
        print(f"  {label} cues: {cues[label].most_common(15)}")
        for example in shown[label]:
            print(f"    {label}: {example!r}")
    return {
        "texts": n,
        "sensitive_rate": round(labels["sensitive"] / n, 6),
        "spam_rate": round(labels["spam"] / n, 6),
        "labels": {label: labels[label] for label in LABELS},
    }


def clear_caches() -> None:
    text_module._normalize_cached.cache_clear()
    text_module._mask_cached.cache_clear()


def per_second(texts: list[str], prefilter: Prefilter) -> float:
    start = time.perf_counter()
    for raw in texts:
        norm = normalize(raw)
        prefilter.classify(norm, mask_pii(norm.text).kinds)
    return len(texts) / (time.perf_counter() - start)


def naive_per_second(texts: list[str], entries: list[str]) -> float:
    start = time.perf_counter()
    for raw in texts:
        folded = unicodedata.normalize("NFKC", raw).lower()
        _ = [entry for entry in entries if entry in folded]
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--examples", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    danmaku_files = sorted((args.data / "danmaku").glob("*.csv"))
    if not danmaku_files:
        print(f"skipped: no danmaku CSV files under {args.data / 'danmaku'}")
        return 0

    prefilter = Prefilter.from_dir(LEXICON_DIR)
    print(f"lexicons: {prefilter.counts}")
    danmaku = [t for path in danmaku_files for t in read_column(path, "text")]
    report: dict[str, object] = {
        "danmaku": false_positives("danmaku (all files)", danmaku, prefilter, args.examples)
    }
    for path in danmaku_files:
        report[path.stem] = false_positives(path.name, read_column(path, "text"), prefilter, 5)
    reviews = args.data / "sentiment" / "online_shopping_8_cats.csv"
    if reviews.exists():
        texts = read_column(reviews, "review")
        report["shopping_reviews"] = false_positives(reviews.name, texts, prefilter, args.examples)

    # Best of `--repeats` runs: the machine's noise only ever slows a run down.
    distinct = list(dict.fromkeys(danmaku))
    cold = replay = warm = 0.0
    for _ in range(args.repeats):
        fresh = Prefilter.from_dir(LEXICON_DIR)  # an empty verdict cache
        clear_caches()
        cold = max(cold, per_second(distinct, fresh))
        fresh = Prefilter.from_dir(LEXICON_DIR)
        clear_caches()
        replay = max(replay, per_second(danmaku, fresh))
        warm = max(warm, per_second(danmaku, fresh))
    entries = [key for path in sorted(LEXICON_DIR.glob("*.txt")) for key, _ in read_lexicon(path)]
    sample = distinct[:2000]
    naive = max(naive_per_second(sample, entries) for _ in range(args.repeats))
    print(f"\n== speed, single core, normalise + mask_pii + classify "
          f"({len(distinct)} distinct of {len(danmaku)})")
    print(f"  cold   {cold:12,.0f} comments/s  {1e6 / cold:6.2f} us/comment")
    print(f"  replay {replay:12,.0f} comments/s  {1e6 / replay:6.2f} us/comment")
    print(f"  warm   {warm:12,.0f} comments/s  {1e6 / warm:6.2f} us/comment")
    print(f"  naive  {naive:12,.0f} comments/s  "
          f"(substring scan of {len(entries)} entries, {len(sample)} texts)")
    print(f"  cold / naive = {cold / naive:.0f}x")
    report["speed"] = {
        "cold_per_s": round(cold),
        "replay_per_s": round(replay),
        "warm_per_s": round(warm),
        "naive_per_s": round(naive),
        "cold_over_naive": round(cold / naive, 1),
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
