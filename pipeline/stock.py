"""ERP stock levels: which update wins, and when a change deserves an alert.

The stock consumer keeps one `StockLevel` per sku. ERP systems resend and reorder, so the rule
is "later `ts` wins": `apply` takes the stored level and an update and says whether the update
replaces it. Only an applied update is checked for `crossings`, so a late, older update can
neither overwrite a newer level nor raise an alert.

Every level falls in one band: `ok` (more than the low-stock threshold), `low` (1 up to the
threshold) or `sold_out` (0). An alert is raised when the band changes, never while it stays:

| from → to        | alerts                      |
| ---------------- | --------------------------- |
| ok → low         | `low_stock`                 |
| ok/low → sold_out| `sold_out`                  |
| sold_out → ok    | `restocked`                 |
| sold_out → low   | `restocked`, `low_stock`    |
| low → ok         | none (re-arms `low_stock`)  |

With no stored level there is nothing to cross: the stock consumer seeds each sku's level
from the catalogue, so the first ERP update has a baseline.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from pipeline.contracts import StockUpdate

Band = Literal["ok", "low", "sold_out"]
Crossing = Literal["low_stock", "sold_out", "restocked"]

__all__ = ["StockLevel", "StockChange", "apply", "band", "crossings", "receive"]


class StockLevel(msgspec.Struct, frozen=True):
    """What the room knows of one sku's stock, and the ERP time that set it (epoch seconds)."""

    sku: str
    stock: int
    ts: float

    @classmethod
    def of(cls, update: StockUpdate) -> "StockLevel":
        return cls(update.sku, int(update.stock), float(update.ts))

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "stock": self.stock, "ts": self.ts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StockLevel":
        return msgspec.convert(data, cls)


class StockChange(msgspec.Struct, frozen=True):
    """The outcome of one update: the level now held, whether it changed, the alerts to raise."""

    level: StockLevel
    applied: bool
    crossings: list[str]


def apply(current: StockLevel | None, update: StockUpdate | StockLevel) -> tuple[StockLevel, bool]:
    """The level to keep after `update`, and whether `update` won.

    A strictly later `ts` wins. At an equal `ts` the lower stock wins: the result then does not
    depend on arrival order, and when two ERP writes disagree the room never claims stock that
    may not be there. A redelivered update (same ts, same stock) is not applied again.
    """
    new = update if isinstance(update, StockLevel) else StockLevel.of(update)
    if current is None:
        return new, True
    if new.sku != current.sku:
        raise ValueError(f"stock update for sku {new.sku!r} applied to the level of {current.sku!r}")
    if new.ts > current.ts or (new.ts == current.ts and new.stock < current.stock):
        return new, True
    return current, False


def band(stock: int, low_threshold: int) -> Band:
    """`sold_out` at 0, `low` up to and including `low_threshold`, `ok` above it."""
    if stock <= 0:
        return "sold_out"
    if stock <= low_threshold:
        return "low"
    return "ok"


def crossings(old_stock: int | None, new_stock: int, *, low_threshold: int) -> list[str]:
    """The alerts a change from `old_stock` to `new_stock` raises; empty unless the band changed."""
    if low_threshold < 0:
        raise ValueError(f"low_threshold must be >= 0, got {low_threshold}")
    if old_stock is None:
        return []
    before, after = band(old_stock, low_threshold), band(new_stock, low_threshold)
    if before == after:
        return []
    if after == "sold_out":
        return ["sold_out"]
    if before == "sold_out":
        return ["restocked", "low_stock"] if after == "low" else ["restocked"]
    return ["low_stock"] if after == "low" else []


def receive(current: StockLevel | None, update: StockUpdate | StockLevel, *, low_threshold: int) -> StockChange:
    """`apply` then `crossings`: what the stock consumer does with each update."""
    level, applied = apply(current, update)
    if not applied:
        return StockChange(level, False, [])
    old = None if current is None else current.stock
    return StockChange(level, True, crossings(old, level.stock, low_threshold=low_threshold))
