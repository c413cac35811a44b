"""`livebot respond`: answer viewer questions from stdin with exactly the code the tasks run.

Each input line is a question: plain text, or JSON with `text` and optional `room_id` and
room context — `current_product` (a sku or a product name the host is presenting), `stock`
(`{sku: level}` overrides), `viewer` (`{level, is_member, new_viewer, spend_tier}`). Each
question is understood, decided (product, strategy) and answered (LLM when configured, else
templates, always through the guard) as a window of one in a fresh room, with pacing off so
every line gets its reply. One JSON line out per line in: `reply`, `sku`, `reasons`,
`strategy`, `model`, `guard`, plus `intent`, `sentiment` and `violations` for the curious.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import IO, Any

from pipeline.answer import RoomContext, decide_window, reply_requests
from pipeline.host import HostState
from pipeline.respond import respond
from tasks.runtime import Runtime


def answer_line(line: str, rt: Runtime) -> dict[str, Any]:
    question = _parse(line)
    now = time.time()
    catalogue = rt.catalogue
    stock = {p.sku: p.stock for p in catalogue.products} | {str(k): int(v) for k, v in question["stock"].items()}
    host = HostState()
    if question["current_product"]:
        product = catalogue.by_sku(question["current_product"])
        host, _ = rt.host_context.observe(host, product.name if product else question["current_product"], now)
    rep = {"text": question["text"], "size": 1, "distinct_viewers": 1, "score": 1.0, "first_event_time": now,
           "last_event_time": now, "viewer": question["viewer"]}
    [understood] = rt.understand([question["text"]])
    config = replace(rt.answer_config,
                     policy=replace(rt.answer_config.policy, reply_cooldown_s=0.0, replies_per_minute=10**6))
    _, [choice], _ = decide_window(question["room_id"], "respond", [rep], [understood],
                                   RoomContext(host=host, stock=stock), catalogue, rt.host_context, config, now)
    [request] = reply_requests([rep], [understood], [choice], catalogue, stock, config)
    result: dict[str, Any] = {"text": question["text"], "intent": understood.intent,
                              "sentiment": understood.sentiment, "sku": choice.recommendation.sku,
                              "reasons": choice.recommendation.reasons, "strategy": choice.decision.strategy}
    if request is None:  # the policy held it back (a blocked room, a stale question)
        return result | {"reply": None, "model": None, "guard": f"policy:{choice.decision.reason}", "violations": []}
    [reply] = respond([request], persona=rt.persona, generator=rt.generator, sensitive=rt.sensitive(),
                      template_set=rt.templates)
    return result | {"reply": reply.text, "strategy": reply.strategy, "model": reply.model, "guard": reply.guard,
                     "violations": list(reply.violations)}


def respond_stream(stream: IO[str], out: IO[str], rt: Runtime) -> int:
    answered = 0
    for line in stream:
        if not line.strip():
            continue
        try:
            result = answer_line(line, rt)
        except ValueError as exc:
            result = {"error": str(exc), "input": line.rstrip("\n")[:200]}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
        answered += 1
    return answered


def _parse(line: str) -> dict[str, Any]:
    text = line.strip()
    doc: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(doc.get("text"), str) or not doc["text"].strip():
            raise ValueError("a JSON question needs a non-empty `text`")
        text = doc["text"]
    context = doc.get("context") or {}
    return {
        "text": text,
        "room_id": str(doc.get("room_id") or "respond"),
        "current_product": doc.get("current_product") or context.get("current_product"),
        "stock": doc.get("stock") or context.get("stock") or {},
        "viewer": doc.get("viewer") or context.get("viewer"),
    }
