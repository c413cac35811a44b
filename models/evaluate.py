"""Evaluation of livebot's models, with reports a person can read.

    evaluate_intent(model_dir, out_dir, *, data_dir=None, catalogue=None, seed=0) -> metrics dict
    evaluate_sentiment(model_dir, out_dir, *, data_dir=None, catalogue=None, seed=0) -> metrics dict
    evaluate_embedder(model_dir, out_dir, *, data_dir=None) -> metrics dict

Each writes into `out_dir`: `report.md` (per-class precision / recall / F1, confusion matrices
as Markdown tables, the data used with sizes and sha256), one PNG confusion matrix per
evaluation set (matplotlib, Agg backend) and `metrics.json`. Real data sets are evaluated when
`../shared/data/` is present and skipped (and said so in the report) when it is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from models import data as realdata
from models.encoder import TextClassifier, bio_spans, load_sentiment
from models.slots import RuleTagger
from models.synth import Example, generate
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue
from pipeline.taxonomy import INTENTS, SENTIMENTS

# ---------------------------------------------------------------------------------------------
# Metric helpers (also used by training to fill meta.json)


def classification_metrics(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 over the classes present in `gold`, per-class P/R/F1, confusion matrix."""
    present = [label for label in labels if label in set(gold)]
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=present, zero_division=0)
    cm = confusion_matrix(gold, pred, labels=list(labels))
    return {
        "n": len(gold),
        "accuracy": round(float(np.mean([g == q for g, q in zip(gold, pred)])) if gold else 0.0, 4),
        "macro_f1": round(float(np.mean(f)) if len(f) else 0.0, 4),
        "per_class": {label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                              "f1": round(float(f[i]), 4), "support": int(s[i])} for i, label in enumerate(present)},
        "labels": list(labels),
        "confusion": cm.tolist(),
    }


def intent_metrics(clf: TextClassifier, texts: Sequence[str], gold: Sequence[str]) -> dict:
    probs = clf.predict(list(texts)).probs
    pred = [clf.labels[i] for i in probs.argmax(1)]
    return classification_metrics(list(gold), pred, INTENTS)


def sentiment_metrics(clf: TextClassifier, texts: Sequence[str], gold: Sequence[str], *, binary: bool = False) -> dict:
    """3-way metrics; with `binary` (review corpora labelled only neg/pos) the decision is the
    larger of P(neg) and P(pos), which is how a binary benchmark reads a 3-way model."""
    probs = clf.predict(list(texts)).probs
    if binary:
        neg, pos = clf.labels.index("neg"), clf.labels.index("pos")
        pred = ["pos" if row[pos] >= row[neg] else "neg" for row in probs]
        return classification_metrics(list(gold), pred, ("neg", "pos"))
    pred = [clf.labels[i] for i in probs.argmax(1)]
    return classification_metrics(list(gold), pred, SENTIMENTS)


def _prf(gold: list[set], pred: list[set]) -> dict:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    fp = sum(len(p - g) for g, p in zip(gold, pred))
    fn = sum(len(g - p) for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn}


def neural_slots(clf: TextClassifier, tagger: RuleTagger, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
    """(slot, resolved value) pairs from the learned BIO head of an intent model."""
    pred = clf.predict(list(texts), with_tokens=True)
    out = []
    for text, tags in zip(texts, pred.token_tags or []):
        pairs = []
        for slot, start, end in bio_spans(tags, clf.token_labels):
            value = tagger.resolve(slot, text[start:end])
            if value:
                pairs.append((slot, value))
        out.append(pairs)
    return out


def slot_comparison(clf: TextClassifier, tagger: RuleTagger, examples: Sequence[Example]) -> dict:
    """Micro P/R/F1 over (slot, value) pairs: rules vs the learned token head vs both (rules
    first, the head filling slots the rules left empty). `chosen` is the best F1."""
    gold = [{(s.slot, s.value) for s in e.spans} for e in examples]
    rules = [{(s.slot, s.value) for s in tagger.tag(e.text)} for e in examples]
    result: dict[str, object] = {"n": len(examples), "rules": _prf(gold, rules)}
    if clf.token_labels:
        neural = [set(p) for p in neural_slots(clf, tagger, [e.text for e in examples])]
        hybrid = []
        for r, n in zip(rules, neural):
            have = {slot for slot, _ in r}
            hybrid.append(r | {(slot, v) for slot, v in n if slot not in have})
        result["token_head"] = _prf(gold, neural)
        result["hybrid"] = _prf(gold, hybrid)
    scores = {k: v["f1"] for k, v in result.items() if isinstance(v, dict)}
    result["chosen"] = max(scores, key=lambda k: (scores[k], k == "rules"))  # a tie goes to the rules
    return result


# ---------------------------------------------------------------------------------------------
# Reports


def _markdown_confusion(m: dict) -> str:
    labels = m["labels"]
    cm = m["confusion"]
    keep = [i for i, _ in enumerate(labels) if any(cm[i]) or any(row[i] for row in cm)]
    head = "| gold \\ predicted | " + " | ".join(labels[i] for i in keep) + " |"
    sep = "|---|" + "---|" * len(keep)
    rows = [f"| **{labels[i]}** | " + " | ".join(str(cm[i][j]) for j in keep) + " |" for i in keep]
    return "\n".join([head, sep, *rows])


def _markdown_per_class(m: dict) -> str:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, v in m["per_class"].items():
        lines.append(f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    lines.append(f"| **macro** | | | **{m['macro_f1']:.3f}** | {m['n']} |")
    return "\n".join(lines)


def _png_confusion(m: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = m["labels"]
    cm = np.array(m["confusion"], dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(labels), 0.8 + 0.6 * len(labels)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (row-normalised colour)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _data_table(entries: list[dict]) -> str:
    lines = ["| file | role | rows used | bytes | sha256 |", "|---|---|---|---|---|"]
    for e in entries:
        if e.get("generated"):
            lines.append(f"| {e['file']} (generated, seed {e['seed']}) | {e['role']} | {e['rows_used']} | | |")
        else:
            lines.append(f"| {e['file']} | {e['role']} | {e['rows_used']} | {e['bytes']} | `{e['sha256'][:16]}…` |")
    return "\n".join(lines)


def _write_report(out_dir: Path, title: str, model_dir: Path, sections: list[tuple[str, dict, str]],
                  log: realdata.DataLog, notes: list[str], extra: dict | None = None) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "", f"Model: `{model_dir}`", ""]
    metrics: dict[str, object] = {}
    for name, m, description in sections:
        png = out_dir / f"confusion_{name}.png"
        _png_confusion(m, png, f"{title}: {name}")
        lines += [f"## {name}", "", description, "", f"accuracy {m['accuracy']:.4f} · macro-F1 {m['macro_f1']:.4f} · n={m['n']}",
                  "", _markdown_per_class(m), "", "Confusion matrix (rows gold, columns predicted):", "",
                  _markdown_confusion(m), "", f"![confusion]({png.name})", ""]
        metrics[name] = m
    if extra:
        metrics.update(extra)
    lines += ["## Notes", "", *[f"- {n}" for n in notes], "", "## Data used", "", _data_table(log.entries), ""]
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    return metrics


def _catalogue(catalogue: str | Path | Catalogue | None) -> Catalogue:
    return catalogue if isinstance(catalogue, Catalogue) else Catalogue.load(catalogue or SAMPLE_CATALOGUE)


def evaluate_intent(model_dir: str | Path, out_dir: str | Path, *, data_dir: str | Path | None = None,
                    catalogue: str | Path | Catalogue | None = None, seed: int = 0, n_heldout: int = 2200) -> dict:
    """Intent report: generated held-out split, the real dev set when present, slot taggers."""
    model_dir, out = Path(model_dir), Path(out_dir)
    cat = _catalogue(catalogue)
    clf = TextClassifier(model_dir, device="cpu")
    log = realdata.DataLog()
    heldout_seed = seed + 10_007  # the split train_intent holds out for this seed
    heldout = generate(cat, n_heldout, seed=heldout_seed)
    log.generated("models.synth.generate", rows=n_heldout, seed=heldout_seed, role="eval: generated held-out")
    sections = [("generated_heldout", intent_metrics(clf, [e.text for e in heldout], [e.intent for e in heldout]),
                 f"{n_heldout} generated comments from a seed the model was not trained on (balanced intents).")]
    notes = []
    root = Path(data_dir) if data_dir is not None else None
    if realdata.data_available(root, realdata.INTENT_DEV):
        dev = realdata.read_intent_dev(root, log=log)
        sections.append(("real_dev", intent_metrics(clf, [r.text for r in dev], [r.intent for r in dev]),
                         "Real customer turns (JD.com) and live danmaku, hand-labelled; never trained on. "
                         "Several classes have 1–5 examples, so their F1 moves in big steps."))
    else:
        notes.append("real dev set skipped: ../shared/data/intents/real_dev.tsv is absent")
    slots = slot_comparison(clf, RuleTagger(cat), heldout)
    notes.append("slot taggers on the generated held-out split (micro P/R/F1 over (slot, value)): "
                 + "; ".join(f"{k} F1 {v['f1']:.4f}" for k, v in slots.items() if isinstance(v, dict))
                 + f"; serving uses **{slots['chosen']}**")
    return _write_report(out, "Intent evaluation", model_dir, sections, log, notes, {"slots": slots})


def evaluate_sentiment(model_dir: str | Path, out_dir: str | Path, *, data_dir: str | Path | None = None,
                       catalogue: str | Path | Catalogue | None = None, seed: int = 0) -> dict:
    """Sentiment report: ChnSentiCorp dev (binary), real dev set (3-way), generated held-out.
    `model_dir` is a sentiment folder or an intent folder with a sentiment head."""
    model_dir, out = Path(model_dir), Path(out_dir)
    cat = _catalogue(catalogue)
    clf = load_sentiment(model_dir, device="cpu")
    log = realdata.DataLog()
    held_seed = seed + 20_011
    heldout = generate(cat, 2000, seed=held_seed)
    log.generated("models.synth.generate", rows=2000, seed=held_seed, role="eval: generated held-out")
    sections = [("generated_heldout", sentiment_metrics(clf, [e.text for e in heldout], [e.sentiment for e in heldout]),
                 "Generated comments from a seed the model was not trained on.")]
    notes = []
    root = Path(data_dir) if data_dir is not None else None
    if realdata.data_available(root, realdata.CHNSENTICORP_DEV):
        dev = realdata.read_chnsenticorp_dev(root, log=log)
        sections.append(("chnsenticorp_dev", sentiment_metrics(clf, [t for t, _ in dev], [s for _, s in dev], binary=True),
                         "ChnSentiCorp dev, binary: the larger of P(neg) and P(pos). Long reviews are read as "
                         "head + tail clipped to the model's max length."))
    else:
        notes.append("ChnSentiCorp dev skipped: ../shared/data/sentiment/ is absent")
    if realdata.data_available(root, realdata.INTENT_DEV):
        rows = realdata.read_intent_dev(root, log=log)
        sections.append(("real_dev", sentiment_metrics(clf, [r.text for r in rows], [r.sentiment for r in rows]),
                         "The real intent dev set's sentiment column (3-way)."))
    return _write_report(out, "Sentiment evaluation", model_dir, sections, log, notes)


# ---------------------------------------------------------------------------------------------
# Embedder


def ngram_vectors(texts: Sequence[str], *, dim: int = 1 << 18, ns: tuple[int, ...] = (1, 2, 3)):
    """Hashed character 1–3-gram term-frequency vectors, L2-normalised (scipy sparse)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vec = HashingVectorizer(analyzer="char", ngram_range=(min(ns), max(ns)), n_features=dim, alternate_sign=False,
                            norm="l2", lowercase=True)
    return vec.transform(list(texts))


def ngram_cosine(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """The character n-gram baseline: cosine of hashed 1–3-gram TF vectors, pair by pair."""
    va, vb = ngram_vectors(a), ngram_vectors(b)
    return np.asarray(va.multiply(vb).sum(axis=1)).ravel()


def embedder_cosine(model, a: Sequence[str], b: Sequence[str], batch_size: int = 256) -> np.ndarray:
    ea = model.encode(list(a), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    eb = model.encode(list(b), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return (ea * eb).sum(1)


def paraphrase_auc(model, pairs: Sequence[tuple[str, str, int]]) -> dict:
    a, b, y = [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]
    return {"n": len(pairs), "positives": int(sum(y)),
            "embedder_auc": round(float(roc_auc_score(y, embedder_cosine(model, a, b))), 4),
            "char_ngram_auc": round(float(roc_auc_score(y, ngram_cosine(a, b))), 4)}


def evaluate_embedder(model_dir: str | Path, out_dir: str | Path, *, data_dir: str | Path | None = None,
                      catalogue: str | Path | Catalogue | None = None, seed: int = 0) -> dict:
    """ROC-AUC of cosine similarity on paraphrase pairs: the embedder vs the char n-gram baseline."""
    from models.embedder import generated_pairs, load_embedder

    model_dir, out = Path(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_embedder(model_dir)
    log = realdata.DataLog()
    cat = _catalogue(catalogue)
    results: dict[str, dict] = {}
    pairs = generated_pairs(cat, 1000, seed=seed + 30_011)
    log.generated("models.synth.paraphrase_groups", rows=len(pairs), seed=seed + 30_011, role="eval: generated pairs")
    results["generated_pairs"] = paraphrase_auc(model, pairs)
    root = Path(data_dir or realdata.DEFAULT_DATA_DIR)
    notes = []
    for rel in realdata.PARAPHRASE_DEV:
        if realdata.data_available(root, rel):
            rows = realdata.read_paraphrase_pairs(root / rel)
            log.file(root / rel, rows_total=len(rows), rows_used=len(rows), role="eval: paraphrase pairs")
            results[Path(rel).stem] = paraphrase_auc(model, rows)
        else:
            notes.append(f"{rel} skipped: absent")
    lines = ["# Embedder evaluation", "", f"Model: `{model_dir}`", "",
             "ROC-AUC of cosine similarity for telling paraphrase pairs (label 1) from other pairs. Baseline: "
             "hashed character 1–3-gram TF vectors, cosine.", "",
             "| pairs | n | positives | embedder AUC | char n-gram AUC |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['n']} | {r['positives']} | {r['embedder_auc']:.4f} | {r['char_ngram_auc']:.4f} |")
    lines += ["", "## Notes", "", *[f"- {n}" for n in notes], "", "## Data used", "", _data_table(log.entries), ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return results
