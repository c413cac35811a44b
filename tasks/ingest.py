"""Tasks that store what the consumers took in: dead letters, ASR segments, ERP stock.

Each is keyed by the record that caused it, so running one twice writes nothing new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from pipeline.contracts import AsrSegment, DeadLetter, StockUpdate, derive_id
from pipeline.schema import asr_segments, dead_letters
from pipeline.storage import apply_stock as apply_stock_row
from pipeline.storage import from_epoch, insert_ignore
from tasks.app import app
from tasks.runtime import runtime


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
    """FOUNDATION: stores the segments; issue 5 adds the room's current product."""
    rows = []
    for raw in segments:
        segment = msgspec.convert(raw, AsrSegment)
        rows.append({
            "event_id": segment.event_id,
            "room_id": segment.room_id,
            "text": segment.text,
            "started_at": from_epoch(float(segment.ts_start)),
            "ended_at": from_epoch(float(segment.ts_end)),
            "confidence": segment.confidence,
            "product_sku": None,
        })
    with runtime().engine.begin() as conn:
        return insert_ignore(conn, asr_segments, rows)


@app.task(name="livebot.apply_stock")
def apply_stock(updates: list[dict[str, Any]]) -> int:
    """Apply stock levels; an update older than the stored one never wins."""
    applied = 0
    with runtime().engine.begin() as conn:
        for raw in updates:
            update = msgspec.convert(raw, StockUpdate)
            applied += apply_stock_row(conn, update.sku, update.stock, from_epoch(float(update.ts)), update.event_id)
    return applied
