"""Choose the product a reply talks about, and say why.

`recommend` scores every catalogue product for one understood question with an additive,
explainable score: each signal that applies adds (or takes away) a fixed weight, and the
winner's reasons list exactly those contributions, so "why this product" is always readable
("named in the question (+3.0)", "host is presenting it (+2.1)", "only 3 left (+0.5)").

Signals, with their default weights (`RecommendWeights`):

| signal | weight | when |
| --- | --- | --- |
| named | +3.0 | the question's `product` slot is this sku |
| same category | +1.0 | another product was named and this one is in its category (alternatives) |
| colour / size | +1.0 / -1.0 | the product has the asked colour or size / has that attribute but not the value |
| skin type / need | +1.5 / -3.0 / +0.5 | the `skin_type` slot (or, without it, a need the question text names, "送礼") is in `suitable_for` / in `not_for` / the product suits every skin type |
| price | +1.0 | the price the viewer mentions is this product's price or promotion price |
| name in text | +3.0 | no `product` slot, and the question text names several products, this one among them (one product named in the text counts as `named`) |
| keyword | +1.0 each, at most +1.5 | the question text contains one of the product's attribute values ("spf50", "50ml") |
| host | +2.5 x weight | the host is presenting it (weight 0..1 from `HostContext.current`) |
| low stock * | +0.5 | 1 to `low_stock_threshold` left: a reason to buy now |
| new viewer | +1.0 | entry-tier product for a new viewer (the new-viewer coupon applies) |
| high value | +1.0 | premium or limited product for a high spender, high level or member |
| promotion * | +0.5, +0.75 | on promotion; the higher weight for price and promotion questions |
| heat | +1.0 x heat | viewers are asking about it now (heat 0..1 from `pipeline.host.heat`) |

The named product always answers its question (the reply is about what the viewer asked),
but only a product with stock > 0 is ever *recommended*: a named sold-out product comes back
with `in_stock=False` and the best in-stock `alternative`, which is also offered when another
product fits the question better than the named one. Without a named product, the best
in-stock product is chosen for product questions (price, spec, ...), none for shipping,
after-sales, complaints and chit-chat. A product (or an alternative) qualifies only when its
*relevance* (every signal but the starred ones) reaches `min_score`: low stock and promotions
rank products, they never make one the answer.

`show_card` says a product card would help (a purchase-type question about an in-stock sku);
`CardCooldown` then keeps the same card from being pushed again within a cooldown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import msgspec

from pipeline.catalogue import Catalogue, Product
from pipeline.cluster import SPEND_TIERS
from pipeline.contracts import Viewer
from pipeline.stock import band
from pipeline.taxonomy import Understanding
from pipeline.text import normalize

__all__ = [
    "CardCooldown",
    "Recommendation",
    "RecommendConfig",
    "RecommendWeights",
    "recommend",
    "should_show",
]


@dataclass(frozen=True)
class RecommendWeights:
    named: float = 3.0
    """Above the host's largest pull (2.5): what the viewer asked about beats what is on stage."""
    same_category: float = 1.0
    attribute_match: float = 1.0
    attribute_mismatch: float = -1.0
    suits: float = 1.5
    not_for: float = -3.0
    """As strong as being named: a product the catalogue says is not for this skin type must
    not win on other signals."""
    suits_all: float = 0.5
    price_match: float = 1.0
    keyword: float = 1.0
    keyword_cap: float = 1.5
    host: float = 2.5
    """Times the host weight; a freshly presented product alone clears `min_score`, one faded
    below weight 0.4 does not."""
    low_stock: float = 0.5
    new_viewer_entry: float = 1.0
    high_value_premium: float = 1.0
    promo: float = 0.5
    promo_asked: float = 0.75
    """Below `min_score`: a promotion alone never makes a product the answer."""
    heat: float = 1.0


@dataclass(frozen=True)
class RecommendConfig:
    weights: RecommendWeights = RecommendWeights()
    min_score: float = 1.0
    """Least relevance (the score without low stock and promotion) for an unnamed product or
    an alternative to be recommended: one real signal (a fresh host mention, a fit, the viewer's
    tier, the category of the product asked about) and not a faded hint."""
    low_stock_threshold: int = 5
    high_level: int = 30
    """Viewer level from which a viewer counts as high value (platform levels run to about 50-60)."""
    high_spend_tier: int = 3
    """Spend tier from which a viewer counts as a high spender (`high`; see `cluster.SPEND_TIERS`)."""
    limited_markers: tuple[str, ...] = ("限定", "限量")
    """A product whose name or promotion contains one of these is a limited edition."""
    universal_fit: tuple[str, ...] = ("全肤质", "所有肤质", "各种肤质")
    product_intents: frozenset[str] = frozenset({"price", "buy_howto", "stock", "spec", "suitability", "promotion", "other"})
    """Intents for which a product is chosen even when none was named."""
    card_intents: frozenset[str] = frozenset({"price", "buy_howto", "stock", "promotion"})
    """Intents where a product card (the buy link) helps the viewer act."""

    @classmethod
    def from_settings(cls, settings: Any) -> "RecommendConfig":
        """Each field from the settings attribute of the same name, where the settings have one."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)})


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    """The product a reply is about, and why.

    `scores` holds every product's total (sold-out ones too, for the record). `stock` and
    `stock_level` ("ok", "low", "sold_out") describe `sku`; `alternative` is an in-stock sku to
    offer instead when `sku` is sold out or fits worse; `new_viewer_coupon` says the reply may
    mention the new-viewer coupon.
    """

    sku: str | None
    reasons: list[str]
    scores: dict[str, float]
    in_stock: bool
    show_card: bool
    alternative: str | None = None
    stock: int | None = None
    stock_level: str = ""
    new_viewer_coupon: bool = False

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Recommendation":
        return msgspec.convert(dict(data), cls)


class Signal(NamedTuple):
    label: str
    value: float
    ranks_only: bool = False
    """Low stock and promotions rank products; on their own they never make one the answer."""


@dataclass(frozen=True)
class _Question:
    intent: str
    slots: Mapping[str, str]
    key: str  # normalised question text, "" when none was given
    named: Product | None


@dataclass(frozen=True)
class _ViewerTier:
    new: bool
    high_value: str  # why the viewer is high value ("high spender", "level 35", "member"), or ""


def recommend(
    understanding: Understanding | Mapping[str, Any],
    catalogue: Catalogue,
    stock: Mapping[str, int] | None = None,
    *,
    host: tuple[str | None, float] = (None, 0.0),
    heat: Mapping[str, float] | None = None,
    viewer: Viewer | Mapping[str, Any] | None = None,
    question: str | None = None,
    config: RecommendConfig = RecommendConfig(),
) -> Recommendation:
    """Score the catalogue for one understood question; see the module docstring.

    `stock` maps sku → units (from ERP); a sku missing from it falls back to the catalogue's
    stock. `host` is `HostContext.current(...)`, `heat` is `pipeline.host.heat(...)`, both
    evaluated at the caller's `now`, so this function is pure. `question` (the representative's
    text) enables keyword matching.
    """
    stock = stock or {}
    heat = heat or {}
    q = _question(understanding, catalogue, question)
    tier = _viewer_tier(viewer, config)

    def units(product: Product) -> int:
        return int(stock.get(product.sku, product.stock))

    signals = {p.sku: _signals(p, q, units(p), host, heat, tier, config) for p in catalogue.products}
    totals = {sku: sum(sig.value for sig in s) for sku, s in signals.items()}
    scores = {sku: round(total, 3) for sku, total in totals.items()}
    order = {p.sku: i for i, p in enumerate(catalogue.products)}

    def best(exclude: str | None) -> Product | None:
        eligible = [
            p for p in catalogue.products
            if p.sku != exclude and units(p) > 0 and _relevance(signals[p.sku]) >= config.min_score
        ]
        # ties: more stock (least likely to sell out under the viewer), then catalogue order
        return max(eligible, key=lambda p: (totals[p.sku], units(p), -order[p.sku]), default=None)

    if q.named is not None:
        chosen: Product | None = q.named
        alternative = best(exclude=chosen.sku)
        if alternative is not None and units(chosen) > 0 and totals[alternative.sku] <= totals[chosen.sku]:
            alternative = None
    elif q.intent in config.product_intents:
        chosen, alternative = best(exclude=None), None
    else:
        chosen, alternative = None, None

    if chosen is None:
        if q.intent not in config.product_intents:
            why = f"no product needed for a {q.intent} question"
        elif not any(units(p) > 0 for p in catalogue.products):
            why = "nothing in stock"
        else:
            why = f"no product named, and nothing in stock fits the question with a score of {config.min_score:.1f} or more"
        return Recommendation(sku=None, reasons=[why], scores=scores, in_stock=False, show_card=False)

    n = units(chosen)
    level = band(n, config.low_stock_threshold)
    reasons = [_reason(sig.label, sig.value) for sig in sorted(signals[chosen.sku], key=lambda sig: -sig.value)]
    if n <= 0:
        reasons.append("sold out (0 in stock): not recommended")
    if alternative is not None:
        why = "in-stock alternative" if n <= 0 else "fits the question better"
        top = ", ".join(sig.label for sig in sorted(signals[alternative.sku], key=lambda sig: -sig.value) if sig.value > 0)
        reasons.append(f"{why}: {alternative.name} ({alternative.sku}), score {totals[alternative.sku]:.1f}"
                       + (f": {top}" if top else ""))
    elif n <= 0:
        reasons.append("no in-stock alternative fits")
    coupon_for = alternative if n <= 0 and alternative is not None else chosen
    return Recommendation(
        sku=chosen.sku,
        reasons=reasons,
        scores=scores,
        in_stock=n > 0,
        show_card=n > 0 and q.intent in config.card_intents,
        alternative=None if alternative is None else alternative.sku,
        stock=n,
        stock_level=level,
        new_viewer_coupon=tier.new and coupon_for.tier == "entry",
    )


def _signals(
    product: Product,
    q: _Question,
    units: int,
    host: tuple[str | None, float],
    heat: Mapping[str, float],
    tier: _ViewerTier,
    config: RecommendConfig,
) -> list[Signal]:
    w = config.weights
    out: list[tuple[str, float] | Signal] = []
    if q.named is not None:
        if q.named.sku == product.sku:
            out.append(("named in the question", w.named))
        elif q.named.category and q.named.category == product.category:
            out.append(("same category as the product asked about", w.same_category))
    used_terms: set[str] = set()
    for slot, keys in (("colour", ("colours", "colour", "colors", "color")), ("size", ("sizes", "size"))):
        value = q.slots.get(slot)
        if not value:
            continue
        used_terms.add(_key(value))
        offered = [v for k in keys for v in _values(product.attributes.get(k))]
        if not offered:
            continue
        if _key(value) in {_key(v) for v in offered}:
            out.append((f"comes in {value}", w.attribute_match))
        else:
            out.append((f"does not come in {value}", w.attribute_mismatch))
    skin = q.slots.get("skin_type")
    if skin:
        used_terms.add(_key(skin))
        if _key(skin) in {_key(s) for s in product.not_for}:
            out.append((f"not for {skin}", w.not_for))
        elif _key(skin) in {_key(s) for s in product.suitable_for}:
            out.append((f"suits {skin}", w.suits))
        elif any(u in product.suitable_for for u in config.universal_fit):
            out.append(("suits every skin type", w.suits_all))
    mentioned = _decimal(q.slots.get("price_mentioned"))
    if mentioned is not None and mentioned in {product.price, product.selling_price}:
        out.append((f"sells at {mentioned}", w.price_match))
    if q.key:
        # several products named in the text (a comparison): each counts, none is "the" one
        if q.named is None and (said := [n for n in product.names if _in_question(n, q, used_terms)]):
            out.append((f"name in the question: {said[0]}", w.named))
        # a need the question names counts like the skin-type slot ("送礼", "孕妇"), once
        fit = [t for t in product.not_for if _in_question(t, q, used_terms)]
        if fit and not skin:
            out.append((f"not for {fit[0]}", w.not_for))
        elif not skin and (fit := [t for t in product.suitable_for if _in_question(t, q, used_terms)]):
            out.append((f"suits {fit[0]}", w.suits))
        keyword = 0.0
        for term in dict.fromkeys(v for vs in product.attributes.values() for v in _values(vs)):
            if _in_question(term, q, used_terms) and keyword < w.keyword_cap:
                step = min(w.keyword, w.keyword_cap - keyword)
                keyword += step
                out.append((f"question mentions {term}", step))
    host_sku, host_weight = host
    if host_sku == product.sku and host_weight > 0:
        out.append(("host is presenting it", w.host * min(host_weight, 1.0)))
    if band(units, config.low_stock_threshold) == "low":
        out.append(Signal(f"only {units} left", w.low_stock, ranks_only=True))
    if tier.new and product.tier == "entry":
        out.append(("entry product for a new viewer, new-viewer coupon applies", w.new_viewer_entry))
    limited = any(m in product.name or m in product.promo for m in config.limited_markers)
    if tier.high_value and (product.tier == "premium" or limited):
        kind = "premium, limited" if product.tier == "premium" and limited else ("premium" if product.tier == "premium" else "limited")
        out.append((f"{kind} product for a {tier.high_value} viewer", w.high_value_premium))
    if product.promo and product.promo_price is not None and product.promo_price < product.price:
        asked = q.intent in ("price", "promotion")
        out.append(Signal(f"on promotion: {product.promo}", w.promo_asked if asked else w.promo, ranks_only=True))
    h = heat.get(product.sku, 0.0)
    if h > 0:
        out.append(("viewers are asking about it now", w.heat * min(h, 1.0)))
    return [Signal(*s) for s in out if s[1] != 0]


def _relevance(signals: list[Signal]) -> float:
    return sum(s.value for s in signals if not s.ranks_only)


def _in_question(term: str, q: _Question, used_terms: set[str]) -> bool:
    k = _key(term)
    return len(k) >= 2 and k not in used_terms and k in q.key


def _question(understanding: Understanding | Mapping[str, Any], catalogue: Catalogue, text: str | None) -> _Question:
    if isinstance(understanding, Understanding):
        intent, slots = understanding.intent, understanding.slots
    else:
        intent, slots = str(understanding.get("intent", "other")), understanding.get("slots") or {}
    named_sku = slots.get("product")
    named = catalogue.by_sku(named_sku) if named_sku else None
    key = _key(text) if text else ""
    if named is None and key:
        # the slot tagger missed a name the text spells out; one product named counts as named
        said = [p for p in catalogue.products if any(len(k) >= 2 and k in key for k in map(_key, p.names))]
        named = said[0] if len(said) == 1 else None
    return _Question(intent, {k: str(v) for k, v in slots.items() if v is not None}, key, named)


def _viewer_tier(viewer: Viewer | Mapping[str, Any] | None, config: RecommendConfig) -> _ViewerTier:
    if viewer is None:
        return _ViewerTier(False, "")
    get = viewer.get if isinstance(viewer, Mapping) else lambda name: getattr(viewer, name, None)
    level, spend = get("level"), _spend_tier(get("spend_tier"))
    if spend >= config.high_spend_tier:
        why = "high-spending"
    elif isinstance(level, int) and level >= config.high_level:
        why = f"level-{level}"
    elif get("is_member"):
        why = "member"
    else:
        why = ""
    return _ViewerTier(bool(get("new_viewer")), why)


def _spend_tier(value: object) -> int:
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    name = str(value).strip().lower()
    return int(name) if name.isdigit() else SPEND_TIERS.get(name, 0)


def _reason(label: str, value: float) -> str:
    shown = f"{value:+.2f}"
    return f"{label} ({shown[:-1] if shown.endswith('0') else shown})"  # +3.0, +0.75, +1.38


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return [str(value)]


def _key(text: str) -> str:
    return normalize(text).key


def _decimal(value: str | None) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


# ----------------------------------------------------------------------------------------
# product card cooldown
# ----------------------------------------------------------------------------------------
class CardCooldown(msgspec.Struct, frozen=True, kw_only=True):
    """When each product card was last pushed: `shown[room_id][sku]` = epoch seconds."""

    shown: dict[str, dict[str, float]] = {}

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CardCooldown":
        return msgspec.convert(dict(data), cls)


def should_show(state: CardCooldown, room: str, sku: str, now: float, cooldown_s: float) -> tuple[CardCooldown, bool]:
    """Whether to push `sku`'s card in `room` at `now`; if so the new state remembers it.

    A card pushed less than `cooldown_s` ago is not pushed again (viewers already have it on
    screen). Entries older than the cooldown are dropped, so the state holds at most the cards
    pushed within one cooldown.
    """
    if cooldown_s < 0:
        raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
    cards = {s: t for s, t in state.shown.get(room, {}).items() if now - t < cooldown_s or t > now}
    last = cards.get(sku)
    if last is not None:
        return _with_room(state, room, cards), False
    cards[sku] = now
    return _with_room(state, room, cards), True


def _with_room(state: CardCooldown, room: str, cards: dict[str, float]) -> CardCooldown:
    shown = dict(state.shown)
    if cards:
        shown[room] = cards
    else:
        shown.pop(room, None)
    return CardCooldown(shown=shown)
