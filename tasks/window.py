"""The window chain: understand → recommend → generate → publish, one window batch at a time.

A task takes the whole window's representatives (batches are what make a GPU pay), adds its
stage's result to each, and passes the batch on. The payload is the `WindowBatch` as plain
JSON plus, per representative, `understanding`, `recommendation` and `reply`. `publish`
writes rows and actions keyed by their cause, so a redelivered window changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from pipeline import generate as generate_stage
from pipeline import recommend as recommend_stage
from pipeline import understand as understand_stage
from pipeline.contracts import Action, ModerationAction, ReplyAction, derive_id, iso
from pipeline.reduce import Moderation, Unanswered, WindowBatch
from pipeline.schema import actions, conversation_turns, unanswered_questions, window_stats
from pipeline.storage import from_epoch, insert_ignore, mark_published, stock_levels, unpublished_actions, utcnow
from tasks.app import app
from tasks.runtime import runtime

log = logging.getLogger(__name__)
Batch = dict[str, Any]


def _timed(batch: Batch, stage: str, started: float) -> None:
    batch.setdefault("timings_ms", {})[stage] = (time.perf_counter() - started) * 1000.0


@app.task(name="livebot.understand")
def understand(batch: Batch) -> Batch:
    started = time.perf_counter()
    reps = batch["representatives"]
    results = understand_stage.understand([r["text"] for r in reps], runtime().catalogue)
    for rep, result in zip(reps, results, strict=True):
        rep["understanding"] = result
    _timed(batch, "understand", started)
    return batch


@app.task(name="livebot.recommend")
def recommend(batch: Batch) -> Batch:
    started = time.perf_counter()
    rt = runtime()
    with rt.engine.connect() as conn:
        stock = stock_levels(conn)
    for rep in batch["representatives"]:
        rep["recommendation"] = recommend_stage.recommend(rep["understanding"], rt.catalogue, stock)
    _timed(batch, "recommend", started)
    return batch


@app.task(name="livebot.generate")
def generate(batch: Batch) -> Batch:
    started = time.perf_counter()
    catalogue = runtime().catalogue
    for rep in batch["representatives"]:
        chosen = rep["recommendation"]
        product = catalogue.by_sku(chosen["sku"]) if chosen["sku"] else None
        rep["reply"] = generate_stage.generate(
            rep["understanding"]["intent"], product, chosen["in_stock"], persona=catalogue.room_name or "主播"
        )
    _timed(batch, "generate", started)
    return batch


@app.task(name="livebot.publish")
def publish(batch: Batch) -> dict[str, int]:
    """The window's statistics, its turns and its reply actions, each written once."""
    rt = runtime()
    window = msgspec.convert(batch, WindowBatch)
    now = time.time()
    reply_actions, turns = [], []
    for rep in batch["representatives"]:
        action, turn = _reply_and_turn(window, rep, batch.get("timings_ms", {}), now)
        reply_actions.append(action)
        turns.append(turn)

    def rows(conn: Connection) -> None:
        insert_ignore(conn, window_stats, [_stats_row(window)])
        insert_ignore(conn, conversation_turns, turns)
        insert_ignore(conn, unanswered_questions, [_unanswered_row(window, u) for u in window.unanswered])

    sent = send_actions(reply_actions, rows)
    log.info("window published", extra={"room_id": window.room_id, "window_id": window.window_id, "replies": sent})
    return {"replies": sent}


@app.task(name="livebot.publish_moderations")
def publish_moderations(decisions: list[dict[str, Any]]) -> dict[str, int]:
    """Hide/block actions for comments the prefilter caught; one per comment, ever."""
    now = time.time()
    moderation_actions = []
    for raw in decisions:
        decision = msgspec.convert(raw, Moderation)
        moderation_actions.append(ModerationAction(
            action_id=derive_id(decision.room_id, decision.event_id, "moderation"),
            room_id=decision.room_id,
            created_at=iso(now),
            source_event_ids=[decision.event_id],
            event_time=decision.event_time,
            latency_ms=round((now - decision.event_time) * 1000.0, 1),
            event_id=decision.event_id,
            reason=decision.reason,
        ))
    return {"moderations": send_actions(moderation_actions)}


def send_actions(to_send: Sequence[Action], rows: Callable[[Connection], None] | None = None) -> int:
    """Record actions (with `rows`, in one transaction), publish the unconfirmed, mark them.

    Each step is safe to repeat: a retry or a redelivered window finds the rows there and
    publishes only what the broker has not confirmed yet.
    """
    rt = runtime()
    topics = rt.settings.action_topics
    # 1. rows and actions, in one transaction
    with rt.engine.begin() as conn:
        if rows is not None:
            rows(conn)
        insert_ignore(conn, actions, [_action_row(a, topics[a.__struct_config__.tag]) for a in to_send])
        pending = unpublished_actions(conn, [a.action_id for a in to_send])
    # 2. publish what has not been confirmed yet (all of it, unless this is a retry)
    for row in pending:
        rt.publisher.produce(row["topic"], msgspec.json.encode(row["payload"]), key=row["room_id"])
    rt.publisher.flush()  # raises PublishError → the task is retried, nothing marked
    # 3. remember they went out, so a redelivery does not send them again
    with rt.engine.begin() as conn:
        mark_published(conn, [row["action_id"] for row in pending])
    return len(pending)


def _reply_and_turn(window: WindowBatch, rep: Batch, timings: dict[str, float], now: float) -> tuple[ReplyAction, dict[str, Any]]:
    understanding, chosen, reply = rep["understanding"], rep["recommendation"], rep["reply"]
    latency_ms = (now - rep["first_event_time"]) * 1000.0
    action = ReplyAction(
        action_id=derive_id(window.room_id, window.window_id, rep["cluster_id"], "reply"),
        room_id=window.room_id,
        created_at=iso(now),
        source_event_ids=rep["source_event_ids"],
        cluster_size=rep["size"],
        window_id=window.window_id,
        event_time=rep["first_event_time"],
        latency_ms=round(latency_ms, 1),
        text=reply["text"],
        tts=True,
        intent=understanding["intent"],
        sku=chosen["sku"],
        model=reply["model"],
    )
    turn = {
        "turn_id": derive_id(window.room_id, window.window_id, rep["cluster_id"], "turn"),
        "room_id": window.room_id,
        "window_id": window.window_id,
        "cluster_id": rep["cluster_id"],
        "question_text": rep["text"],
        "cluster_size": rep["size"],
        "distinct_viewers": rep["distinct_viewers"],
        "sample_members": rep["sample_members"],
        "intent": understanding["intent"],
        "intent_confidence": understanding.get("confidence"),
        "slots": understanding.get("slots", {}),
        "sentiment": understanding["sentiment"],
        "sku": chosen["sku"],
        "sku_reasons": chosen["reasons"],
        "reply_text": reply["text"],
        "reply_model": reply["model"],
        "reply_strategy": reply.get("strategy"),
        "guard_outcome": reply.get("guard", "passed"),
        "first_event_at": from_epoch(rep["first_event_time"]),
        "answered_at": from_epoch(now),
        "understand_ms": timings.get("understand"),
        "recommend_ms": timings.get("recommend"),
        "generate_ms": timings.get("generate"),
        "end_to_end_ms": latency_ms,
    }
    return action, turn


def _action_row(action: Action, topic: str) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "action_type": action.__struct_config__.tag,
        "room_id": action.room_id,
        "window_id": action.window_id,
        "topic": topic,
        "created_at": utcnow(),
        "payload": msgspec.to_builtins(action),
    }


def _unanswered_row(window: WindowBatch, cluster: Unanswered) -> dict[str, Any]:
    return {
        "unanswered_id": derive_id(window.room_id, window.window_id, cluster.cluster_id, "unanswered"),
        "room_id": window.room_id,
        "window_id": window.window_id,
        "cluster_id": cluster.cluster_id,
        "question_text": cluster.text,
        "cluster_size": cluster.size,
        "distinct_viewers": cluster.distinct_viewers,
        "reason": cluster.reason,
        "first_event_at": from_epoch(cluster.first_event_time),
    }


def _stats_row(window: WindowBatch) -> dict[str, Any]:
    return {
        "window_id": window.window_id,
        "room_id": window.room_id,
        "kafka_partition": window.partition,
        "first_offset": window.first_offset,
        "last_offset": window.last_offset,
        "opened_at": from_epoch(window.opened_at),
        "closed_at": from_epoch(window.closed_at),
        "close_reason": window.close_reason,
        **msgspec.to_builtins(window.stats),
    }
