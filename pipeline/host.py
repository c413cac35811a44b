"""What the host is presenting now (from ASR) and which products viewers keep asking about.

Two small per-room states, each with a single writer:

- `HostState`, written by the ASR consumer: a decaying mention score per sku. Every transcript
  segment that names a product (its name or an alias, found with one Aho-Corasick pass) adds
  the segment's confidence to that sku's score; scores halve every `host_half_life_s` and are
  capped at `host_score_cap`, so a product the host presented for ten minutes is not "current"
  for ten more once the host moves on. The current product is the highest score; its weight
  (0..1) is how fresh it is (a just-mentioned product weighs 1) times how clear the lead is
  (score / (score + runner-up)): two products mentioned equally weigh 0.5 each way. It also
  remembers when the host last used promotion words ("秒杀", "到手价", the catalogue's own
  promotion phrases), which the reply policy reads as "the host is pushing a promotion".
- `HeatState`, written by the workers from understood questions: a decaying count per sku of
  the viewers whose questions named it, read as heat 0..1 (`n / (n + heat_half_saturation)`).

Both are msgspec structs with `to_dict` / `from_dict`, JSON-ready, a few hundred bytes per
room. Nothing here reads a clock: every call takes the event time or `now`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ahocorasick
import msgspec

from pipeline.catalogue import Catalogue
from pipeline.text import normalize

__all__ = [
    "HostConfig",
    "HostContext",
    "HostState",
    "HeatState",
    "Decaying",
    "heat",
    "observe_questions",
]

# Spoken and written forms of a link number: hosts say "一号链接", catalogues write "1号链接".
_CN_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
_PROMO = "\x00promo"  # automaton payload of a promotion cue (not a sku: skus have no NUL)


@dataclass(frozen=True)
class HostConfig:
    host_half_life_s: float = 30.0
    """A host mentions the product being sold every 10-30 s; after two silent half-lives
    (a minute) the product has clearly lost the floor."""
    host_score_cap: float = 3.0
    """Mentions beyond three fresh ones add nothing, so the next product takes over after
    two or three mentions (about 20 s) rather than after as many as the last one had."""
    host_full_weight_score: float = 1.0
    """A score at or above this (one fresh mention) is fully fresh (weight 1)."""
    host_min_weight: float = 0.1
    """Below this weight there is no current product (about 3.3 half-lives after the last
    mention of a single-mention product, 5 after a capped one)."""
    promo_window_s: float = 60.0
    """The host counts as pushing a promotion for this long after saying a promotion cue."""
    promo_cues: tuple[str, ...] = (
        "优惠", "优惠券", "领券", "秒杀", "限时", "折扣", "打折", "满减", "到手价", "福利", "专享价",
        "半价", "买一送一", "拍二发三", "赠品", "红包", "抢购", "上车", "库存不多",
    )
    """Words that mean the host is selling on price; the catalogue's promotion phrases are added."""
    heat_half_life_s: float = 120.0
    """Heat is "asked about in the last few minutes"."""
    heat_half_saturation: float = 5.0
    """Five viewers asking about a product recently make heat 0.5; fifty make it 0.9."""
    prune_below: float = 0.01
    """Decayed scores below this are dropped, so the state stays small."""

    @classmethod
    def from_settings(cls, settings: Any) -> "HostConfig":
        """Each field from the settings attribute of the same name, where the settings have one."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)})


class Decaying(msgspec.Struct, frozen=True):
    """A score that halves every half-life: `value` as of time `as_of`; `last` = latest event."""

    value: float
    as_of: float
    last: float

    def at(self, now: float, half_life_s: float) -> float:
        return self.value * _factor(now - self.as_of, half_life_s)

    def add(self, amount: float, ts: float, half_life_s: float, cap: float = math.inf) -> "Decaying":
        """Add `amount` happening at `ts`; a late event (before `as_of`) is decayed to `as_of`."""
        if ts >= self.as_of:
            value, as_of = self.at(ts, half_life_s) + amount, ts
        else:
            value, as_of = self.value + amount * _factor(self.as_of - ts, half_life_s), self.as_of
        return Decaying(min(value, cap), as_of, max(self.last, ts))


def _factor(elapsed_s: float, half_life_s: float) -> float:
    # A negative elapsed time (a reader behind the writer's clock) must not grow a score.
    return 0.5 ** (max(elapsed_s, 0.0) / half_life_s)


class HostState(msgspec.Struct, frozen=True, kw_only=True):
    """One room's host context: decaying mention scores per sku, and the last promotion talk."""

    mentions: dict[str, Decaying] = {}
    promo_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HostState":
        return msgspec.convert(data, cls)


class HeatState(msgspec.Struct, frozen=True, kw_only=True):
    """One room's question heat: decaying count per sku of viewers whose questions named it."""

    counts: dict[str, Decaying] = {}

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HeatState":
        return msgspec.convert(data, cls)


class HostContext:
    """Finds products in host speech; built once per catalogue, shared by every room using it."""

    def __init__(self, catalogue: Catalogue, config: HostConfig = HostConfig()) -> None:
        self.config = config
        names: dict[str, set[str]] = {}
        for product in catalogue.products:
            for name in product.names:
                for spelling in {name, name.translate(_CN_DIGITS)}:
                    key = normalize(spelling).key
                    if key:
                        names.setdefault(key, set()).add(product.sku)
        self._automaton = ahocorasick.Automaton()
        for key, skus in names.items():
            # A name two products share ("套装" in two sets) is evidence for neither.
            if len(skus) == 1:
                self._automaton.add_word(key, next(iter(skus)))
        cues = set(config.promo_cues)
        for product in catalogue.products:
            cues.update(p for p in re.split(r"[，,、;；。 ]+", product.promo) if len(p) >= 2)
        for cue in cues:
            key = normalize(cue).key
            # A product name wins over a cue spelled the same (longest match decides otherwise).
            if key and key not in names:
                self._automaton.add_word(key, _PROMO)
        self._has_words = len(self._automaton) > 0
        if self._has_words:
            self._automaton.make_automaton()

    def mentions(self, text: str) -> tuple[list[str], bool]:
        """The skus `text` names, in order of appearance (repeats kept), and whether it has a promo cue.

        Matching is on the normalised key (no spaces or punctuation, lower case, simplified),
        longest match first: "防晒霜" is the sunscreen, not the "霜" of the face cream.
        """
        if not self._has_words:
            return [], False
        key = normalize(text).key
        skus, promo = [], False
        for _end, value in self._automaton.iter_long(key):
            if value == _PROMO:
                promo = True
            else:
                skus.append(value)
        return skus, promo

    def observe(
        self, state: HostState, segment_text: str, ts: float, *, confidence: float | None = None
    ) -> tuple[HostState, str | None]:
        """Fold one ASR segment (its text, its end time `ts`) into the room's host state.

        Returns the new state and the product this segment is about (the sku it names most,
        the last-named on a tie), or None when it names none. Each named sku gains the
        segment's confidence once however often the segment repeats it, so one long segment
        does not outweigh the host coming back to a product again and again.
        """
        cfg = self.config
        skus, promo = self.mentions(segment_text)
        weight = 1.0 if confidence is None else min(max(float(confidence), 0.0), 1.0)
        mentions = _pruned(state.mentions, ts, cfg.host_half_life_s, cfg.prune_below)
        for sku in dict.fromkeys(skus):
            before = mentions.get(sku, Decaying(0.0, ts, ts))
            mentions[sku] = before.add(weight, ts, cfg.host_half_life_s, cfg.host_score_cap)
        promo_at = state.promo_at
        if promo and weight > 0:
            promo_at = ts if promo_at is None else max(promo_at, ts)
        about = None
        if skus:
            counts = Counter(skus)
            top = max(counts.values())
            about = next(s for s in reversed(skus) if counts[s] == top)
        return HostState(mentions=mentions, promo_at=promo_at), about

    def current(self, state: HostState, now: float) -> tuple[str | None, float]:
        """The product the host is presenting at `now` and how sure that is (0..1)."""
        cfg = self.config
        ranked = sorted(
            ((d.at(now, cfg.host_half_life_s), d.last, sku) for sku, d in state.mentions.items()),
            reverse=True,
        )
        if not ranked or ranked[0][0] <= 0.0:
            return None, 0.0
        lead, _, sku = ranked[0]
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        freshness = min(lead / cfg.host_full_weight_score, 1.0)
        weight = freshness * lead / (lead + runner_up)
        if weight < cfg.host_min_weight:
            return None, 0.0
        return sku, round(weight, 4)

    def promoting(self, state: HostState, now: float) -> bool:
        """Whether the host used a promotion cue within the last `promo_window_s`."""
        return state.promo_at is not None and 0.0 <= now - state.promo_at <= self.config.promo_window_s


def observe_questions(
    state: HeatState, questions: Iterable[tuple[str | None, float]], ts: float, config: HostConfig = HostConfig()
) -> HeatState:
    """Add understood questions to the heat: `(sku named or None, viewers who asked it)` pairs.

    Pass the representative's distinct viewers as the weight: a question fifty viewers asked
    is fifty times the evidence, whatever one of them typed.
    """
    counts = _pruned(state.counts, ts, config.heat_half_life_s, config.prune_below)
    for sku, viewers in questions:
        if sku and viewers > 0:
            counts[sku] = counts.get(sku, Decaying(0.0, ts, ts)).add(float(viewers), ts, config.heat_half_life_s)
    return HeatState(counts=counts)


def heat(state: HeatState, now: float, config: HostConfig = HostConfig()) -> dict[str, float]:
    """Heat 0..1 per sku at `now`; skus nobody asked about recently are absent."""
    result = {}
    for sku, decaying in state.counts.items():
        n = decaying.at(now, config.heat_half_life_s)
        if n >= config.prune_below:
            result[sku] = round(n / (n + config.heat_half_saturation), 4)
    return result


def _pruned(scores: dict[str, Decaying], now: float, half_life_s: float, below: float) -> dict[str, Decaying]:
    return {sku: d for sku, d in scores.items() if d.at(now, half_life_s) >= below}
