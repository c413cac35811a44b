"""Keyword understanding: intent, product slot and sentiment from cue words.

FOUNDATION PLACEHOLDER (issue 2): issue 4 replaces this with the trained intent / slot /
sentiment models served from `models/`; the output shape (`intent`, `confidence`, `slots`,
`sentiment`) is the one those models return.
"""

from __future__ import annotations

from typing import Any

from pipeline.catalogue import Catalogue

_INTENT_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complaint", ("骗", "垃圾", "差评", "投诉", "假货", "退款")),
    ("after_sales", ("退货", "换货", "售后", "保修")),
    ("price", ("多少钱", "价格", "什么价", "几块", "多少米")),
    ("stock", ("有货", "库存", "还有吗", "没货", "补货", "卖完")),
    ("buy_howto", ("怎么买", "怎么拍", "链接", "在哪买", "怎么下单")),
    ("shipping", ("发货", "快递", "包邮", "几天到")),
    ("promotion", ("优惠", "券", "活动", "便宜", "打折", "赠品", "送")),
    ("suitability", ("适合", "能用", "敏感肌", "干皮", "油皮", "孕妇")),
    ("spec", ("尺码", "多大", "颜色", "规格", "容量", "色号", "材质")),
)
_NEGATIVE = ("骗", "垃圾", "差", "投诉", "假", "退款", "坑", "失望")
_POSITIVE = ("好用", "喜欢", "爱了", "好看", "回购", "推荐")


def understand(texts: list[str], catalogue: Catalogue) -> list[dict[str, Any]]:
    return [_one(text, catalogue) for text in texts]


def _one(text: str, catalogue: Catalogue) -> dict[str, Any]:
    intent = next((name for name, cues in _INTENT_CUES if any(c in text for c in cues)), "other")
    slots: dict[str, str] = {}
    for product in catalogue.products:
        if any(name in text for name in product.names):
            slots["product"] = product.sku
            break
    if any(w in text for w in _NEGATIVE):
        sentiment = "neg"
    elif any(w in text for w in _POSITIVE):
        sentiment = "pos"
    else:
        sentiment = "neu"
    return {"intent": intent, "confidence": 1.0 if intent != "other" else 0.5, "slots": slots, "sentiment": sentiment}
