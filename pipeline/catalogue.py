"""The room's product catalogue: what can be recommended and which facts a reply may state.

Loaded from a YAML file (the sample session ships `livebot/sample/catalog.yaml`). Prices are
the only numbers a reply may quote, so they live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

SAMPLE_CATALOGUE = Path(__file__).resolve().parent.parent / "livebot" / "sample" / "catalog.yaml"


class CatalogueError(ValueError):
    """The catalogue file is missing a field or has one of the wrong type."""


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    aliases: tuple[str, ...] = ()
    category: str = ""
    promo_price: Decimal | None = None
    promo: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    selling_points: tuple[str, ...] = ()
    suitable_for: tuple[str, ...] = ()
    not_for: tuple[str, ...] = ()
    stock: int = 0
    tier: str = "entry"

    @property
    def names(self) -> tuple[str, ...]:
        """Every string a viewer or the host may use for this product, longest first."""
        return tuple(sorted({self.name, *self.aliases}, key=lambda name: (-len(name), name)))

    @property
    def selling_price(self) -> Decimal:
        return self.promo_price if self.promo_price is not None else self.price


@dataclass(frozen=True)
class Catalogue:
    room_id: str
    room_name: str
    products: tuple[Product, ...]

    def by_sku(self, sku: str) -> Product | None:
        for product in self.products:
            if product.sku == sku:
                return product
        return None

    @classmethod
    def load(cls, path: str | Path = SAMPLE_CATALOGUE) -> "Catalogue":
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogueError(f"cannot read catalogue {path}: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("products"), list):
            raise CatalogueError(f"{path}: expected a mapping with a 'products' list")
        room = doc.get("room") or {}
        products = tuple(_product(entry, path, i) for i, entry in enumerate(doc["products"]))
        skus = [p.sku for p in products]
        if len(set(skus)) != len(skus):
            raise CatalogueError(f"{path}: duplicate sku in {skus}")
        return cls(room_id=str(room.get("room_id", "")), room_name=str(room.get("name", "")), products=products)


def _product(entry: Any, path: Path, index: int) -> Product:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{path}: product #{index} is not a mapping")
    for required in ("sku", "name", "price"):
        if required not in entry:
            raise CatalogueError(f"{path}: product #{index} has no '{required}'")
    try:
        promo_price = entry.get("promo_price")
        return Product(
            sku=str(entry["sku"]),
            name=str(entry["name"]),
            price=Decimal(str(entry["price"])),
            aliases=tuple(str(a) for a in entry.get("aliases", ())),
            category=str(entry.get("category", "")),
            promo_price=None if promo_price is None else Decimal(str(promo_price)),
            promo=str(entry.get("promo", "")),
            attributes=dict(entry.get("attributes") or {}),
            selling_points=tuple(str(s) for s in entry.get("selling_points", ())),
            suitable_for=tuple(str(s) for s in entry.get("suitable_for", ())),
            not_for=tuple(str(s) for s in entry.get("not_for", ())),
            stock=int(entry.get("stock", 0)),
            tier=str(entry.get("tier", "entry")),
        )
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise CatalogueError(f"{path}: product #{index} ({entry.get('sku')}): {exc}") from exc
