"""Readers for the real data in `../shared/data/`, with a record of exactly what was read.

The files are read where they lie at training or evaluation time and never copied into the
repository (see `../shared/data/README.md` for their licences). Every reader logs the file's
name, size, sha256 and the rows it used into a `DataLog`, which lands in the model folder's
`meta.json`, so a model says which data versions made it. Texts of the real intent dev set are
removed from every training source, so no dev line is ever trained on.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"  # LIVEBOT_DATA_DIR (settings) overrides it

SENTIMENT_TRAIN_FILES = ("sentiment/chnsenticorp_train.csv", "sentiment/online_shopping_8_cats.csv", "sentiment/waimai_10k.csv")
CHNSENTICORP_DEV = "sentiment/chnsenticorp_dev.csv"
INTENT_DEV = "intents/real_dev.tsv"
DANMAKU_FILES = ("danmaku/bili_live_2020-12-11.csv", "danmaku/bili_live_2020-12-12.csv", "danmaku/bili_video.csv")
PARAPHRASE_TRAIN = "paraphrase/atec_train.csv"
PARAPHRASE_DEV = ("paraphrase/atec_ccks_dev.csv", "paraphrase/bq_dev.csv")

csv.field_size_limit(1 << 24)


def data_available(data_dir: Path | None = None, *files: str) -> bool:
    root = Path(data_dir or DEFAULT_DATA_DIR)
    return root.is_dir() and all((root / f).is_file() for f in files)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class DataLog:
    """What a training or evaluation run read: one entry per source."""

    entries: list[dict[str, object]] = field(default_factory=list)

    def file(self, path: Path, *, rows_total: int, rows_used: int, role: str) -> None:
        # The path under the data folder ("paraphrase/atec_train.csv"): where the folder lives
        # differs between machines; the file is identified by its size and sha256.
        self.entries.append(
            {"file": path.name, "path": f"{path.parent.name}/{path.name}", "bytes": path.stat().st_size,
             "sha256": sha256(path),
             "rows_total": rows_total, "rows_used": rows_used, "role": role}
        )

    def generated(self, name: str, *, rows: int, seed: int, role: str) -> None:
        self.entries.append({"file": name, "generated": True, "rows_used": rows, "seed": seed, "role": role})


def _norm_key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


@dataclass(frozen=True)
class DevRow:
    source: str
    intent: str
    sentiment: str
    ambiguous: bool
    text: str


def read_intent_dev(data_dir: Path | None = None, log: DataLog | None = None) -> list[DevRow]:
    path = Path(data_dir or DEFAULT_DATA_DIR) / INTENT_DEV
    rows: list[DevRow] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for r in reader:
            rows.append(DevRow(r["source"], r["intent"], r["sentiment"], r.get("ambiguous") == "1", r["text"]))
    if log is not None:
        log.file(path, rows_total=len(rows), rows_used=len(rows), role="dev (evaluation only)")
    return rows


def dev_exclusion(data_dir: Path | None = None) -> set[str]:
    """Normalised texts of the real intent dev set: removed from every training source."""
    if not data_available(data_dir, INTENT_DEV):
        return set()
    return {_norm_key(r.text) for r in read_intent_dev(data_dir)}


def read_labelled_reviews(
    data_dir: Path | None, *, per_file: int | None, seed: int, log: DataLog | None, exclude: set[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(text, 'neg'|'pos') from the sentiment training files: all of ChnSentiCorp train, and a
    seeded sample of at most `per_file` rows from each other file."""
    root = Path(data_dir or DEFAULT_DATA_DIR)
    out: list[tuple[str, str]] = []
    rng = random.Random(seed)
    for rel in SENTIMENT_TRAIN_FILES:
        path = root / rel
        rows = _read_label_text(path)
        kept = [(t, "pos" if y == "1" else "neg") for y, t in rows if t and _norm_key(t) not in exclude]
        if "chnsenticorp" not in rel and per_file is not None and len(kept) > per_file:
            rng.shuffle(kept)
            kept = kept[:per_file]
        out.extend(kept)
        if log is not None:
            log.file(path, rows_total=len(rows), rows_used=len(kept), role="train: sentiment")
    return out


def read_chnsenticorp_dev(data_dir: Path | None = None, log: DataLog | None = None) -> list[tuple[str, str]]:
    path = Path(data_dir or DEFAULT_DATA_DIR) / CHNSENTICORP_DEV
    rows = _read_label_text(path)
    if log is not None:
        log.file(path, rows_total=len(rows), rows_used=len(rows), role="dev: sentiment")
    return [(t, "pos" if y == "1" else "neg") for y, t in rows]


def _read_label_text(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        text_col = "text" if "text" in (reader.fieldnames or ()) else "review"
        return [(r["label"].strip(), (r[text_col] or "").strip()) for r in reader]


# Danmaku that is plain room chatter: short, and free of any question, purchase, complaint or
# stream-quality signal (those belong to other intents; see LABELLING.md).
_NOT_CHATTER = re.compile(
    r"[?？吗呢么嘛]|多少|怎么|咋|什么|啥|哪|几|买|钱|价|链接|货|退|换|发|券|送|码|色|尺|适合|能不能|可以吗|有没有"
    r"|烂|垃圾|差|无聊|难听|恶心|滚|卡|糊|土|骗|假|坑|举报|封|黑|广告|加[微v]|qq|http|\d{5,}",
    re.IGNORECASE,
)


def read_danmaku_chatter(
    data_dir: Path | None, *, limit: int, seed: int, log: DataLog | None, exclude: set[str] = frozenset(),
    max_len: int = 12,
) -> list[str]:
    """Unique short chatter lines from the real danmaku, as `chitchat` examples."""
    root = Path(data_dir or DEFAULT_DATA_DIR)
    pool: dict[str, None] = {}
    counts: list[tuple[Path, int]] = []
    for rel in DANMAKU_FILES:
        path = root / rel
        total = 0
        with path.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                total += 1
                text = (r.get("text") or "").strip()
                if 1 <= len(text) <= max_len and not _NOT_CHATTER.search(text) and _norm_key(text) not in exclude:
                    pool.setdefault(text, None)
        counts.append((path, total))
    lines = sorted(pool)
    random.Random(seed).shuffle(lines)
    lines = lines[:limit]
    if log is not None:
        for path, total in counts:
            log.file(path, rows_total=total, rows_used=-1, role=f"train: chitchat (pool of {len(pool)} unique, {len(lines)} sampled)")
    return lines


def read_paraphrase_pairs(path: Path) -> list[tuple[str, str, int]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(r["sentence1"].strip(), r["sentence2"].strip(), int(r["label"])) for r in csv.DictReader(f)]


def read_danmaku_texts(data_dir: Path | None, *, limit: int, seed: int, exclude: set[str] = frozenset()) -> list[str]:
    """Unique real danmaku lines of any kind (unlabelled text, e.g. for the tokenizer's vocabulary)."""
    root = Path(data_dir or DEFAULT_DATA_DIR)
    pool: dict[str, None] = {}
    for rel in DANMAKU_FILES:
        with (root / rel).open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                text = (r.get("text") or "").strip()
                if text and _norm_key(text) not in exclude:
                    pool.setdefault(text, None)
    lines = sorted(pool)
    random.Random(seed).shuffle(lines)
    return lines[:limit]
