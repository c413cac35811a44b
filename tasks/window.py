"""The window chain: understand → recommend → generate → publish, one window batch at a time.

A task takes the whole window's representatives (batches are what make a GPU pay), adds its
stage's result to each, and passes the batch on. Where one worker serves every queue (a small
box, no GPU) the four hops cost more than the stages (a Redis round trip and a queue wait
each); `answer_window` runs the same four stages as one task (`LIVEBOT_WINDOW_TASKS=fused`). The payload is the `WindowBatch` as plain
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

from pipeline import metrics
from pipeline.answer import Choice, RoomContext, decide_window, reply_requests
from pipeline.contracts import (
    Action,
    AlertAction,
    ModerationAction,
    ProductAction,
    ReplyAction,
    derive_id,
    iso,
)
from pipeline.policy import Decision
from pipeline.recommend import Recommendation
from pipeline.reduce import Moderation, Unanswered, WindowBatch
from pipeline.respond import respond
from pipeline.schema import actions, conversation_turns, unanswered_questions
from pipeline.storage import (
    from_epoch,
    insert_ignore,
    mark_published,
    room_state_for_update,
    stock_levels,
    unpublished_actions,
    update_room_state,
    upsert_window_stats,
    utcnow,
)
from pipeline.taxonomy import Understanding
from tasks.app import app
from tasks.runtime import runtime

log = logging.getLogger(__name__)
Batch = dict[str, Any]


def _timed(batch: Batch, stage: str, started: float) -> None:
    seconds = time.perf_counter() - started
    batch.setdefault("timings_ms", {})[stage] = seconds * 1000.0
    metrics.STAGE_SECONDS.labels(stage).observe(seconds)


@app.task(name="livebot.understand")
def understand(batch: Batch) -> Batch:
    """Intent, slots and sentiment for the whole window at once (one model batch)."""
    started = time.perf_counter()
    reps = batch["representatives"]
    metrics.MODEL_BATCH.labels("understand").observe(len(reps))
    for rep, understood in zip(reps, runtime().understand([r["text"] for r in reps]), strict=True):
        rep["understanding"] = understood.to_dict()
    _timed(batch, "understand", started)
    return batch


@app.task(name="livebot.recommend")
def recommend(batch: Batch) -> Batch:
    """Products, the reply policy and product cards, against the room's state (locked meanwhile)."""
    started = time.perf_counter()
    rt = runtime()
    room_id, reps = batch["room_id"], batch["representatives"]
    understood = [_understanding(rep) for rep in reps]
    with rt.engine.begin() as conn:
        row = room_state_for_update(conn, room_id)
        context = RoomContext.from_row(row, stock_levels(conn))
        context, choices, alerts = decide_window(room_id, batch["window_id"], reps, understood, context, rt.catalogue,
                                                 rt.host_context, rt.answer_config, time.time())
        update_room_state(conn, room_id, policy=context.policy.to_dict(), heat=context.heat.to_dict(),
                          cards=context.cards.to_dict(), mode=context.policy.mode)
    for rep, choice in zip(reps, choices, strict=True):
        rep.update(choice.to_dict())
    batch["alerts"] = [msgspec.to_builtins(alert) for alert in alerts]
    _timed(batch, "recommend", started)
    return batch


@app.task(name="livebot.generate")
def generate(batch: Batch) -> Batch:
    """Replies for the questions the policy answers: the LLM when configured, else templates;
    every reply through the guard."""
    started = time.perf_counter()
    rt = runtime()
    reps = batch["representatives"]
    with rt.engine.connect() as conn:
        stock = stock_levels(conn)  # now, not when the window closed: stock may have run out since
    choices = [_choice(rep) for rep in reps]
    requests = reply_requests(reps, [_understanding(rep) for rep in reps], choices, rt.catalogue, stock,
                              rt.answer_config)
    wanted = [request for request in requests if request is not None]
    replies = iter(respond(wanted, persona=rt.persona, generator=rt.generator, sensitive=rt.sensitive(),
                           template_set=rt.templates) if wanted else [])
    for rep, request in zip(reps, requests, strict=True):
        if request is not None:
            reply = next(replies)
            metrics.REPLIES.labels(reply.outcome).inc()
            rep["reply"] = reply.to_dict()
    _timed(batch, "generate", started)
    return batch


@app.task(name="livebot.publish")
def publish(batch: Batch) -> dict[str, int]:
    """The window's statistics, its turns, its unanswered questions and its actions, each once."""
    window = msgspec.convert(batch, WindowBatch)
    now = time.time()
    timings = batch.get("timings_ms", {})
    to_send: list[Action] = []
    turns, unanswered = [], [_unanswered_row(window, u) for u in window.unanswered]
    for rep in batch["representatives"]:
        if "reply" not in rep:  # held back by the reply policy
            reason = rep.get("decision", {}).get("reason", "skipped")
            unanswered.append(_unanswered_row(window, Unanswered(
                rep["cluster_id"], rep["text"], rep["size"], rep["distinct_viewers"], f"policy:{reason}",
                rep["first_event_time"])))
            continue
        action, turn = _reply_and_turn(window, rep, timings, now)
        to_send.append(action)
        turns.append(turn)
        if rep.get("show_card"):
            to_send.append(_product_card(window, rep, now))
    to_send += [_alert(window, alert, now) for alert in batch.get("alerts", [])]

    def rows(conn: Connection) -> None:
        upsert_window_stats(conn, _stats_row(window))
        insert_ignore(conn, conversation_turns, turns)
        insert_ignore(conn, unanswered_questions, unanswered)

    sent = send_actions(to_send, rows)
    log.info("window published", extra={"room_id": window.room_id, "window_id": window.window_id, "actions": sent})
    return {"actions": sent}


@app.task(name="livebot.answer_window")
def answer_window(batch: Batch) -> dict[str, int]:
    """The four stages of one window in one task: for workers that serve every queue."""
    return publish.run(generate.run(recommend.run(understand.run(batch))))


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
    for row in pending:
        metrics.ACTIONS.labels(row["payload"]["type"]).inc()
    return len(pending)


def _understanding(rep: Batch) -> Understanding:
    return Understanding(**rep["understanding"])


def _choice(rep: Batch) -> Choice:
    decision = rep["decision"]
    return Choice(Recommendation.from_dict(rep["recommendation"]),
                  Decision(0, decision["action"], decision["reason"], decision["strategy"]), rep["show_card"])


def _product_card(window: WindowBatch, rep: Batch, now: float) -> ProductAction:
    chosen = rep["recommendation"]
    return ProductAction(
        action_id=derive_id(window.room_id, window.window_id, rep["cluster_id"], "product"),
        room_id=window.room_id, created_at=iso(now), source_event_ids=rep["source_event_ids"],
        cluster_size=rep["size"], window_id=window.window_id, event_time=rep["first_event_time"],
        latency_ms=round((now - rep["first_event_time"]) * 1000.0, 1),
        sku=chosen["sku"], reasons=chosen["reasons"],
    )


def _alert(window: WindowBatch, alert: dict[str, Any], now: float) -> AlertAction:
    return AlertAction(
        # Keyed by the surge, not the window: one alert per surge however many windows see it.
        action_id=derive_id(window.room_id, alert["kind"], alert["since"], "alert"),
        room_id=window.room_id, created_at=iso(now), source_event_ids=[], window_id=window.window_id,
        event_time=alert["since"], kind=alert["kind"], detail=alert["detail"],
    )


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
