"""Choose the product a reply talks about, and say why.

FOUNDATION PLACEHOLDER (issue 2): the named product if it has stock, else the in-stock
product with the most stock. Issue 5 replaces this with the scored, explainable recommender
(host context from ASR, viewer tier, promotions, heat); the output shape stays.
"""

from __future__ import annotations

from typing import Any

from pipeline.catalogue import Catalogue


def recommend(understanding: dict[str, Any], catalogue: Catalogue, stock: dict[str, int]) -> dict[str, Any]:
    named = understanding.get("slots", {}).get("product")
    if named is not None:
        return {"sku": named, "reasons": ["named in the question"], "in_stock": stock.get(named, 0) > 0}
    in_stock = [p for p in catalogue.products if stock.get(p.sku, 0) > 0]
    if not in_stock:
        return {"sku": None, "reasons": ["nothing in stock"], "in_stock": False}
    best = max(in_stock, key=lambda p: stock.get(p.sku, 0))
    return {"sku": best.sku, "reasons": ["in stock", "most stock"], "in_stock": True}
