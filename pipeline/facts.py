"""The facts a reply may use, and nothing else: what the prompt carries and the guard checks.

A `Facts` is built once per answered question from the chosen product (or none), the stock
level ERP last reported, the understanding and the cluster. The LLM sees exactly
`Facts.to_prompt()`; the templates render from the same object; the output guard checks a
reply against it (prices, stock state, stock count, viewer count, promotion numbers). So a
number or a claim that is not here cannot reach the room.

Stock is reported as a state, never as the raw number, except when it is low (urgency is only
honest with the real count): `in_stock`, `low` (with `stock_left`) or `sold_out`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from typing import Any, Final

from pipeline.catalogue import Product
from pipeline.guard import numbers_in
from pipeline.taxonomy import INTENTS, SENTIMENTS, Understanding
from pipeline.text import mask_pii

STOCK_STATES: Final[tuple[str, ...]] = ("in_stock", "low", "sold_out")
STRATEGIES: Final[tuple[str, ...]] = ("plain", "urgency", "social_proof", "discount", "apology")

# Stock at or below this (and above 0) is "low". The stock-alert threshold is the natural value;
# callers pass it (`low_stock_at=`) so both read one setting.
LOW_STOCK_AT: Final = 20
# Viewer text is cut to this many characters before it is stored in facts or shown to a model.
MAX_QUESTION_CHARS: Final = 120

# Catalogue attribute keys as a viewer reads them; unknown keys are shown as written.
ATTRIBUTE_LABELS: Final[dict[str, str]] = {
    "volume": "容量",
    "weight": "重量",
    "colours": "颜色",
    "colors": "颜色",
    "sizes": "尺码",
    "material": "面料",
    "spf": "防晒指数",
    "contents": "包含",
    "scent": "香型",
    "origin": "产地",
}

# For the model: what each label means, in the language it answers in.
INTENT_NAMES: Final[dict[str, str]] = {
    "price": "问价格",
    "buy_howto": "问怎么买",
    "stock": "问库存",
    "spec": "问规格",
    "suitability": "问适不适合",
    "shipping": "问发货物流",
    "promotion": "问优惠活动",
    "after_sales": "售后问题",
    "complaint": "抱怨",
    "chitchat": "闲聊",
    "other": "其他",
}
SENTIMENT_NAMES: Final[dict[str, str]] = {"neg": "不满", "neu": "平静", "pos": "开心"}
STRATEGY_NAMES: Final[dict[str, str]] = {
    "plain": "直接回答",
    "urgency": "库存紧张时提醒抓紧（只用给出的库存数）",
    "social_proof": "提一句有多少位观众在问（只用给出的人数）",
    "discount": "突出直播间优惠（只用给出的价格和活动）",
    "apology": "先道歉安抚情绪，再回答",
}
STOCK_NAMES: Final[dict[str, str]] = {"in_stock": "有货", "low": "库存紧张", "sold_out": "已售罄"}


@dataclass(frozen=True)
class ProductFacts:
    """What a reply may say about the product: catalogue fields plus the stock state."""

    sku: str
    name: str
    price: Decimal
    promo_price: Decimal | None
    promo: str
    stock_state: str
    stock_left: int | None  # only when stock_state == "low"
    selling_points: tuple[str, ...] = ()
    suitable_for: tuple[str, ...] = ()
    not_for: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()  # (label, value), e.g. ("容量", "30ml")

    @property
    def selling_price(self) -> Decimal:
        return self.promo_price if self.promo_price is not None else self.price

    @property
    def prices(self) -> frozenset[Decimal]:
        """The only prices a reply may quote."""
        return frozenset(p for p in (self.price, self.promo_price) if p is not None)

    @cached_property
    def promo_numbers(self) -> frozenset[Decimal]:
        """Numbers the promotion text states ("满300减40" → 300, 40): a reply may repeat them."""
        return frozenset(numbers_in(self.promo))

    @property
    def sold_out(self) -> bool:
        return self.stock_state == "sold_out"

    @property
    def low(self) -> bool:
        return self.stock_state == "low"


@dataclass(frozen=True)
class Facts:
    """Everything one reply may be built from."""

    intent: str
    sentiment: str = "neu"
    strategy: str = "plain"
    question: str = ""  # masked, capped viewer text: for the prompt (as data) and storage only
    asked_by: int = 1  # how many viewers asked (the cluster's distinct viewers or its size)
    product: ProductFacts | None = None
    viewer_need: str = ""  # the skin or body type the viewer asked about, if any

    def __post_init__(self) -> None:
        if self.intent not in INTENTS:
            raise ValueError(f"unknown intent {self.intent!r}; expected one of {INTENTS}")
        if self.sentiment not in SENTIMENTS:
            raise ValueError(f"unknown sentiment {self.sentiment!r}; expected one of {SENTIMENTS}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; expected one of {STRATEGIES}")

    @property
    def promo_numbers(self) -> frozenset[Decimal]:
        """Numbers the product's promotion states; a reply may repeat them, and no others."""
        return self.product.promo_numbers if self.product else frozenset()

    def with_strategy(self, strategy: str) -> Facts:
        return self if strategy == self.strategy else replace(self, strategy=strategy)

    @classmethod
    def none(cls, intent: str = "other") -> Facts:
        """Facts with no product and no question: what a catchphrase or a greeting may use."""
        return cls(intent=intent)

    @classmethod
    def build(
        cls,
        product: Product | None,
        understanding: Understanding | Mapping[str, Any],
        *,
        stock: int | None = None,
        asked_by: int = 1,
        question: str = "",
        strategy: str = "plain",
        low_stock_at: int = LOW_STOCK_AT,
    ) -> Facts:
        """Facts for one question.

        `stock` is the level ERP last reported for the product (None: the catalogue's own
        `stock`); `question` is the representative comment, masked and capped here.
        """
        if not isinstance(understanding, Understanding):
            understanding = _understanding(understanding)
        return cls(
            intent=understanding.intent,
            sentiment=understanding.sentiment,
            strategy=strategy,
            question=clean_question(question),
            asked_by=max(1, int(asked_by)),
            product=None if product is None else product_facts(product, stock, low_stock_at=low_stock_at),
            viewer_need=str(understanding.slots.get("skin_type", "")),
        )

    def to_prompt(self) -> dict[str, Any]:
        """The facts as the model reads them (Chinese keys, prices as yuan strings)."""
        out: dict[str, Any] = {
            "问题类型": INTENT_NAMES[self.intent],
            "观众情绪": SENTIMENT_NAMES[self.sentiment],
            "回复策略": STRATEGY_NAMES[self.strategy],
            "提问人数": self.asked_by,
        }
        if self.viewer_need:
            out["观众关心的肤质或身材"] = self.viewer_need
        p = self.product
        if p is None:
            out["商品"] = "未确定（请观众说一下想问哪一款或几号链接，不要提任何价格和库存）"
            return out
        out["商品"] = p.name
        out["日常价"] = f"{yuan(p.price)}元"
        if p.promo_price is not None:
            out["直播间到手价"] = f"{yuan(p.promo_price)}元"
        if p.promo:
            out["优惠活动"] = p.promo
        out["库存"] = STOCK_NAMES[p.stock_state] + (f"，仅剩{p.stock_left}件" if p.low else "")
        if p.selling_points:
            out["卖点"] = list(p.selling_points)
        if p.suitable_for:
            out["适合"] = list(p.suitable_for)
        if p.not_for:
            out["不适合"] = list(p.not_for)
        if p.attributes:
            out["规格"] = dict(p.attributes)
        return out


def product_facts(product: Product, stock: int | None = None, *, low_stock_at: int = LOW_STOCK_AT) -> ProductFacts:
    level = product.stock if stock is None else int(stock)
    if level <= 0:
        state, left = "sold_out", None
    elif level <= low_stock_at:
        state, left = "low", level
    else:
        state, left = "in_stock", None
    return ProductFacts(
        sku=product.sku,
        name=product.name,
        price=product.price,
        promo_price=product.promo_price,
        promo=product.promo,
        stock_state=state,
        stock_left=left,
        selling_points=product.selling_points,
        suitable_for=product.suitable_for,
        not_for=product.not_for,
        attributes=tuple((ATTRIBUTE_LABELS.get(k, k), _attribute(v)) for k, v in product.attributes.items()),
    )


def clean_question(text: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """Viewer text fit to be quoted: PII masked, one line, at most `limit` characters."""
    masked = mask_pii(text).text
    one_line = " ".join(masked.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def yuan(amount: Decimal) -> str:
    """149 → "149", 9.90 → "9.9": how a price is said."""
    text = format(amount.normalize(), "f")
    return text


def _attribute(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


def _understanding(data: Mapping[str, Any]) -> Understanding:
    fields = Understanding.__dataclass_fields__
    return Understanding(**{k: v for k, v in data.items() if k in fields})


__all__ = [
    "ATTRIBUTE_LABELS",
    "Facts",
    "LOW_STOCK_AT",
    "MAX_QUESTION_CHARS",
    "ProductFacts",
    "STOCK_STATES",
    "STRATEGIES",
    "clean_question",
    "product_facts",
    "yuan",
]
