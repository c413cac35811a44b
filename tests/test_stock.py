"""ERP stock: later updates win, and each crossing of a stock band alerts exactly once."""

from __future__ import annotations

import itertools
import json

import pytest

from pipeline.contracts import StockUpdate
from pipeline.stock import StockLevel, apply, band, crossings, receive

SKU = "SKU-LIPSTICK-04"


def update(stock: int, ts: float, sku: str = SKU) -> StockUpdate:
    return StockUpdate(event_id=f"e-{ts}-{stock}", sku=sku, stock=stock, ts=ts)


def test_a_later_update_replaces_the_stored_level() -> None:
    level, applied = apply(StockLevel(SKU, 40, 100.0), update(12, 200.0))

    assert applied
    assert level == StockLevel(SKU, 12, 200.0)


def test_an_older_update_arriving_late_never_wins() -> None:
    current = StockLevel(SKU, 0, 200.0)

    level, applied = apply(current, update(40, 150.0))

    assert not applied
    assert level is current


def test_a_late_older_update_never_raises_an_alert() -> None:
    # stock sold out at ts=200; an update from ts=150 saying 40 arrives afterwards
    change = receive(StockLevel(SKU, 0, 200.0), update(40, 150.0), low_threshold=5)

    assert not change.applied
    assert change.crossings == []
    assert change.level.stock == 0


def test_a_redelivered_update_is_not_applied_twice() -> None:
    first = receive(StockLevel(SKU, 12, 100.0), update(3, 200.0), low_threshold=5)
    again = receive(first.level, update(3, 200.0), low_threshold=5)

    assert first.crossings == ["low_stock"]
    assert not again.applied
    assert again.crossings == []


def test_updates_with_the_same_time_keep_the_lower_stock_whatever_their_order() -> None:
    a, b = update(7, 300.0), update(2, 300.0)
    start = StockLevel(SKU, 50, 100.0)

    one = apply(apply(start, a)[0], b)[0]
    other = apply(apply(start, b)[0], a)[0]

    assert one == other == StockLevel(SKU, 2, 300.0)


def test_the_final_level_is_the_latest_update_in_any_arrival_order() -> None:
    updates = [update(30, 10.0), update(4, 20.0), update(0, 30.0), update(25, 40.0)]
    for order in itertools.permutations(updates):
        level: StockLevel | None = StockLevel(SKU, 50, 0.0)
        for u in order:
            level = receive(level, u, low_threshold=5).level
        assert level == StockLevel(SKU, 25, 40.0)


def test_each_crossing_alerts_once() -> None:
    assert crossings(12, 3, low_threshold=5) == ["low_stock"]
    assert crossings(3, 2, low_threshold=5) == []
    assert crossings(2, 0, low_threshold=5) == ["sold_out"]
    assert crossings(0, 0, low_threshold=5) == []
    assert crossings(0, 40, low_threshold=5) == ["restocked"]
    assert crossings(40, 39, low_threshold=5) == []


def test_a_sequence_of_updates_yields_one_alert_per_crossing() -> None:
    level = StockLevel(SKU, 12, 0.0)
    alerts = []
    for ts, stock in enumerate([9, 3, 2, 1, 0, 0, 40, 38], start=1):
        change = receive(level, update(stock, float(ts)), low_threshold=5)
        level = change.level
        alerts += change.crossings

    assert alerts == ["low_stock", "sold_out", "restocked"]


def test_selling_out_from_plenty_reports_only_sold_out() -> None:
    assert crossings(50, 0, low_threshold=5) == ["sold_out"]


def test_a_restock_that_is_still_low_reports_both() -> None:
    assert crossings(0, 3, low_threshold=5) == ["restocked", "low_stock"]


def test_rising_out_of_the_low_band_rearms_the_low_stock_alert() -> None:
    assert crossings(3, 40, low_threshold=5) == []
    assert crossings(40, 4, low_threshold=5) == ["low_stock"]


def test_the_threshold_itself_counts_as_low() -> None:
    assert band(5, 5) == "low"
    assert band(6, 5) == "ok"
    assert band(0, 5) == "sold_out"
    assert crossings(6, 5, low_threshold=5) == ["low_stock"]


def test_without_a_stored_level_there_is_nothing_to_cross() -> None:
    change = receive(None, update(0, 10.0), low_threshold=5)

    assert change.applied
    assert change.crossings == []
    assert change.level == StockLevel(SKU, 0, 10.0)


def test_an_update_for_another_sku_is_refused() -> None:
    with pytest.raises(ValueError, match="SKU-SERUM-01"):
        apply(StockLevel(SKU, 1, 1.0), update(2, 2.0, sku="SKU-SERUM-01"))


def test_a_stock_level_round_trips_through_json() -> None:
    level = StockLevel(SKU, 7, 1_700_000_000.123)

    assert StockLevel.from_dict(json.loads(json.dumps(level.to_dict()))) == level
