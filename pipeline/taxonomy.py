"""livebot's understanding taxonomy in one place: intents, slots, sentiments, and the result type.

Every stage that reads or writes an understanding (the models, the recommender, the policy, the
storage rows, the benchmarks) imports its label names from here, so a label is spelled once.
The meaning of each intent follows `../shared/data/intents/LABELLING.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

INTENTS: Final[tuple[str, ...]] = (
    "price",        # what does it cost, is that the real price, price changed
    "buy_howto",    # how to order: which link, how to pick a size/colour in the cart, pay
    "stock",        # in stock, restock, when does it come back, how many left
    "spec",         # attributes (size, colour, volume, material) and how to use or set up
    "suitability",  # fit for a person or need (skin type, height, gift), quality, authenticity
    "shipping",     # delivery time, urging, logistics, address changes, shipping fee
    "promotion",    # coupons, 满减, gifts, giveaways, price protection
    "after_sales",  # return, refund, exchange, repair, cancel, invoice, missing items, defects
    "complaint",    # venting or insulting with nothing specific asked
    "chitchat",     # greetings, thanks, acknowledgements, praise, banter, 666/777
    "other",        # order numbers, links, 转人工, accounts, fragments, ambiguous requests
)

SLOTS: Final[tuple[str, ...]] = (
    "product",          # resolved to a catalogue sku through names and aliases
    "colour",
    "size",
    "quantity",
    "skin_type",        # skin or body type: 干皮, 油皮, 敏感肌, 黄皮, 梨形身材, 微胖
    "price_mentioned",  # a price the viewer states ("99能买吗")
)

SENTIMENTS: Final[tuple[str, ...]] = ("neg", "neu", "pos")

INTENT_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(INTENTS)}
SENTIMENT_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(SENTIMENTS)}

# BIO tags for a token-level slot tagger, in a fixed order: O, then B-/I- per slot.
SLOT_TAGS: Final[tuple[str, ...]] = ("O",) + tuple(f"{p}-{s}" for s in SLOTS for p in ("B", "I"))
SLOT_TAG_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(SLOT_TAGS)}


@dataclass(frozen=True, slots=True)
class Understanding:
    """What livebot understood of one comment.

    `slots` maps a slot name from `SLOTS` to its value: the sku for `product`, the catalogue's
    spelling for colour and size, digits for quantity and price_mentioned.
    """

    intent: str
    confidence: float
    slots: dict[str, str] = field(default_factory=dict)
    sentiment: str = "neu"
    sentiment_confidence: float = 1.0

    def __post_init__(self) -> None:
        if self.intent not in INTENT_INDEX:
            raise ValueError(f"unknown intent {self.intent!r}; expected one of {INTENTS}")
        if self.sentiment not in SENTIMENT_INDEX:
            raise ValueError(f"unknown sentiment {self.sentiment!r}; expected one of {SENTIMENTS}")
        unknown = set(self.slots) - set(SLOTS)
        if unknown:
            raise ValueError(f"unknown slot(s) {sorted(unknown)}; expected names from {SLOTS}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: what `livebot classify` prints and the turn row stores."""
        return {
            "intent": self.intent,
            "confidence": round(float(self.confidence), 4),
            "slots": dict(self.slots),
            "sentiment": self.sentiment,
            "sentiment_confidence": round(float(self.sentiment_confidence), 4),
        }
