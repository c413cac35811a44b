"""How close the generated training comments come to the real intent dev set.

The dev set in `../shared/data/intents/real_dev.tsv` checks that the intent model generalises to
real text; a template written from one of its lines turns that check into a memory test. This
audit samples the generator and, for every dev line, finds the generated comment with the
highest character-bigram Dice similarity, read without punctuation, placeholders ([订单x]) and
the field names of JD order cards (咨询订单号:, 商品ID:): the generator writes that masked-card
format on purpose (LABELLING.md makes a bare card `other`); what must not be copied is content.

    .venv/bin/python -m models.audit [--n 60000] [--threshold 0.8] [--show 40]

It prints the closest pairs, with the template that wrote each, and as its last line one JSON
object. Short lines (好的, 没有了谢谢, 是不是断货了) are what anyone writing templates for these
intents would write, and a chant (7777777) is one character, so the figure that matters is
`distinctive_near_copies`: dev lines of at least `MIN_DISTINCTIVE` characters, so read, five of
them different, with a generated comment at or above the threshold.
A test keeps it at zero.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from models import data as realdata
from models.synth import generate
from pipeline.catalogue import SAMPLE_CATALOGUE, Catalogue

MIN_DISTINCTIVE = 8
_PLACEHOLDER = re.compile(r"\[[^\[\]]{1,6}x\]")
_CARD_FIELDS = re.compile(r"(咨询|查询)?(订单号|订单编号|订单金额|下单时间|商品id|商品号)")
_DROP = re.compile(r"[\s,，。.!！?？~、:：;；\"'‘’“”()（）\[\]]+")


def _squeeze(text: str) -> str:
    return _DROP.sub("", _CARD_FIELDS.sub("", _PLACEHOLDER.sub("", text.lower())))


def _distinctive(text: str) -> bool:
    squeezed = _squeeze(text)
    return len(squeezed) >= MIN_DISTINCTIVE and len(set(squeezed)) >= 5


def _bigrams(text: str) -> frozenset[str]:
    text = _squeeze(text)
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) if len(text) > 1 else frozenset((text,))


@dataclass(frozen=True)
class Match:
    dev_text: str
    dev_intent: str
    generated: str
    template: str
    dice: float


def nearest_generated(dev: list[tuple[str, str]], generated: list[tuple[str, str]]) -> list[Match]:
    """For each (text, intent) dev line, the generated (text, template) with the highest Dice."""
    grams = [_bigrams(t) for t, _ in generated]
    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for b in g:
            index[b].append(i)
    out = []
    for text, intent in dev:
        d = _bigrams(text)
        shared: dict[int, int] = defaultdict(int)
        for b in d:
            for i in index.get(b, ()):
                shared[i] += 1
        best, best_dice = -1, 0.0
        for i, k in shared.items():
            dice = 2 * k / (len(d) + len(grams[i]))
            if dice > best_dice:
                best, best_dice = i, dice
        gen_text, template = generated[best] if best >= 0 else ("", "")
        out.append(Match(text, intent, gen_text, template, round(best_dice, 3)))
    return out


def audit(catalogue: Catalogue, *, n: int = 60000, seed: int = 0, threshold: float = 0.8,
          data_dir: Path | None = None) -> dict:
    rows = realdata.read_intent_dev(data_dir)
    # no colloquial noise: the templates' own wording is what could have been copied
    sample = generate(catalogue, n, seed=seed, noise=0.0)
    matches = nearest_generated([(r.text, r.intent) for r in rows], [(e.text, e.paraphrase_group) for e in sample])
    near = [m for m in matches if m.dice >= threshold]
    distinctive = [m for m in near if _distinctive(m.dev_text)]
    return {
        "dev_lines": len(matches), "generated": n, "threshold": threshold,
        "near_copies": len(near), "near_copy_share": round(len(near) / max(1, len(matches)), 4),
        "distinctive_near_copies": len(distinctive),
        "distinctive_templates": sorted({m.template for m in distinctive}),
        "matches": sorted(matches, key=lambda m: (not _distinctive(m.dev_text), -m.dice)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60000, help="generated comments to sample")
    parser.add_argument("--threshold", type=float, default=0.8, help="Dice at or above which a line is a near copy")
    parser.add_argument("--show", type=int, default=40, help="closest pairs to print (distinctive lines first)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if not realdata.data_available(args.data_dir, realdata.INTENT_DEV):
        print("the real dev set is absent (../shared/data/intents/real_dev.tsv): nothing to audit", file=sys.stderr)
        return 2
    result = audit(Catalogue.load(SAMPLE_CATALOGUE), n=args.n, threshold=args.threshold, data_dir=args.data_dir)
    for m in result["matches"][: args.show]:
        print(f"{m.dice:.3f}  {m.dev_intent:<11} {m.dev_text[:40]!r:<44} <- {m.template:<14} {m.generated[:40]!r}")
    summary = {k: v for k, v in result.items() if k != "matches"}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
