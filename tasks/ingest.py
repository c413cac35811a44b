"""Tasks that store what the consumers took in: dead letters, ASR segments, ERP stock (with its alerts).

Each is keyed by the record that caused it, so running one twice writes nothing new.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import msgspec

from sqlalchemy import select

from pipeline.contracts import AlertAction, AsrSegment, DeadLetter, StockUpdate, derive_id, iso
from pipeline.host import HostState
from pipeline.schema import asr_segments, dead_letters, products
from pipeline.stock import StockLevel, receive
from pipeline.storage import apply_stock as apply_stock_row
from pipeline.storage import from_epoch, insert_ignore, room_state_for_update, update_room_state
from tasks.app import app
from tasks.runtime import runtime
from tasks.window import send_actions

log = logging.getLogger(__name__)


@app.task(name="livebot.store_dead_letters")
def store_dead_letters(records: list[dict[str, Any]]) -> int:
    rows = []
    for record in records:
        letter = msgspec.convert(record, DeadLetter)
        rows.append({
            "dead_letter_id": derive_id(letter.source_topic, letter.partition, letter.offset),
            "source_topic": letter.source_topic,
            "kafka_partition": letter.partition,
            "kafka_offset": letter.offset,
            "error": letter.error,
            "payload": letter.payload,
            "payload_encoding": letter.payload_encoding,
            "failed_at": datetime.fromisoformat(letter.failed_at),
        })
    with runtime().engine.begin() as conn:
        return insert_ignore(conn, dead_letters, rows)


@app.task(name="livebot.store_asr")
def store_asr(segments: list[dict[str, Any]]) -> int:
    """Store transcript segments and fold them into each room's idea of the current product."""
    rt = runtime()
    by_room: dict[str, list[AsrSegment]] = defaultdict(list)
    for raw in segments:
        segment = msgspec.convert(raw, AsrSegment)
        by_room[segment.room_id].append(segment)
    stored = 0
    with rt.engine.begin() as conn:
        for room_id, room_segments in by_room.items():
            host = HostState.from_dict(room_state_for_update(conn, room_id)["host"] or {})
            rows = []
            for segment in sorted(room_segments, key=lambda s: float(s.ts_end)):
                host, about = rt.host_context.observe(host, segment.text, float(segment.ts_end),
                                                      confidence=segment.confidence)
                rows.append({
                    "event_id": segment.event_id,
                    "room_id": segment.room_id,
                    "text": segment.text,
                    "started_at": from_epoch(float(segment.ts_start)),
                    "ended_at": from_epoch(float(segment.ts_end)),
                    "confidence": segment.confidence,
                    "product_sku": about,
                })
            current, _weight = rt.host_context.current(host, max(float(s.ts_end) for s in room_segments))
            update_room_state(conn, room_id, host=host.to_dict(), current_sku=current)
            stored += insert_ignore(conn, asr_segments, rows)
    return stored


@app.task(name="livebot.apply_stock")
def apply_stock(updates: list[dict[str, Any]]) -> int:
    """Apply stock levels (a late, older update never wins) and alert once per crossing."""
    rt = runtime()
    threshold = rt.settings.low_stock_threshold
    alerts: list[AlertAction] = []
    applied = 0
    with rt.engine.begin() as conn:
        for raw in sorted(updates, key=lambda u: float(u["ts"])):
            update = msgspec.convert(raw, StockUpdate)
            row = conn.execute(select(products.c.stock, products.c.stock_updated_at, products.c.name)
                               .where(products.c.sku == update.sku).with_for_update()).first()
            if row is None:
                log.warning("stock update for an unknown sku", extra={"sku": update.sku, "event_id": update.event_id})
                continue
            since = row.stock_updated_at.timestamp() if row.stock_updated_at else 0.0
            change = receive(StockLevel(update.sku, row.stock, since), update, low_threshold=threshold)
            if not change.applied:
                continue
            applied += apply_stock_row(conn, update.sku, update.stock, from_epoch(float(update.ts)), update.event_id)
            for kind in change.crossings:
                alerts.append(_stock_alert(rt.catalogue.room_id, update, kind, row.name, row.stock))
    if alerts:
        send_actions(alerts)
    return applied


def _stock_alert(room_id: str, update: StockUpdate, kind: str, name: str, before: int) -> AlertAction:
    now = time.time()
    return AlertAction(
        action_id=derive_id(update.sku, update.event_id, kind),  # one alert per crossing, on any retry
        room_id=room_id, created_at=iso(now), source_event_ids=[update.event_id],
        event_time=float(update.ts), latency_ms=round((now - float(update.ts)) * 1000.0, 1),
        kind=kind, detail=f"{name} ({update.sku}): stock {before} → {update.stock}",
    )
