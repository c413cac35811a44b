"""`livebot run`: the whole pipeline in one process on the embedded defaults.

librdkafka's mock cluster, a SQLite file, Celery tasks run in-process, the project's own
models; the sample session is replayed through the three consumers and a summary is printed.
With other settings (a real Kafka, a Redis broker and workers) the same command drives them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from consumers import KINDS, build_consumer
from consumers.loop import ConsumerLoop
from livebot.replay import replay
from pipeline.catalogue import Catalogue
from pipeline.kafka import Publisher, read_all, resolve_bootstrap, start_embedded_cluster
from pipeline.schema import conversation_turns, window_stats
from pipeline.settings import EMBEDDED, Settings
from pipeline.storage import load_catalogue, make_engine, upgrade
from tasks.dispatch import in_process_worker
from tasks.runtime import install

SAMPLE_SESSION = Path(__file__).resolve().parent / "sample" / "session.jsonl"
TRY_SQL = (
    "SELECT question_text, cluster_size, intent, reply_text FROM conversation_turns "
    "ORDER BY cluster_size DESC LIMIT 10;"
)


@dataclass
class RunSummary:
    sent: Counter[str] = field(default_factory=Counter)
    consumed: Counter[str] = field(default_factory=Counter)
    dead_lettered: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    comments_in: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    examples: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0


def compressed(settings: Settings, speed: float) -> Settings:
    """The room's pacing sped up as much as the replay: a session replayed 12× faster gets
    replies 12× as often, so the demo shows what a real room would get over its real length."""
    if speed <= 1:
        return settings
    return settings.model_copy(update={
        "reply_cooldown_s": settings.reply_cooldown_s / speed,
        "replies_per_minute": int(settings.replies_per_minute * speed),
        "card_cooldown_s": settings.card_cooldown_s / speed,
        "repeat_ttl_s": settings.repeat_ttl_s / speed,
    })


def run(settings: Settings, session: Path = SAMPLE_SESSION, *, speed: float = 12.0, rate: float | None = None,
        progress: bool = True) -> RunSummary:
    started = time.monotonic()
    settings = compressed(settings, speed if rate is None else 1.0)
    install(settings)
    if settings.kafka_bootstrap == EMBEDDED:
        start_embedded_cluster()
    bootstrap = resolve_bootstrap(settings)

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        load_catalogue(conn, Catalogue.load(settings.catalogue_file))

    loops = {kind: build_consumer(kind, settings, bootstrap) for kind in KINDS}
    threads = [threading.Thread(target=loop.run, name=f"consume-{kind}", daemon=True) for kind, loop in loops.items()]
    for thread in threads:
        thread.start()

    summary = RunSummary()
    try:
        summary.sent = replay(session, Publisher(bootstrap), settings, rate=rate, speed=speed, progress=progress)
        _wait_consumed(loops, summary.sent, timeout_s=120)
    finally:
        for loop in loops.values():
            loop.stop()
        for thread in threads:
            thread.join(timeout=60)
    if settings.celery_broker == EMBEDDED:
        in_process_worker().join()

    for kind, loop in loops.items():
        summary.consumed[kind] = loop.stats.consumed
        summary.dead_lettered += loop.stats.dead_lettered
    for message in read_all(bootstrap, list(settings.action_topics.values()), idle_s=2.0):
        summary.actions[json.loads(message.value())["type"]] += 1
    with engine.connect() as conn:
        summary.windows = conn.scalar(select(func.count()).select_from(window_stats)) or 0
        summary.comments_in = conn.scalar(select(func.sum(window_stats.c.comments_in))) or 0
        columns = ("clustered", "chatter", "deduplicated", "moderated", "spam", "shed", "clusters", "sent", "suppressed")
        totals = conn.execute(select(*(func.coalesce(func.sum(window_stats.c[c]), 0) for c in columns))).one()
        summary.outcomes = dict(zip(columns, (int(v) for v in totals), strict=True))
        summary.answered = conn.scalar(select(func.count()).select_from(conversation_turns)) or 0
        rows = conn.execute(
            select(conversation_turns.c.question_text, conversation_turns.c.cluster_size, conversation_turns.c.reply_text)
            .order_by(conversation_turns.c.cluster_size.desc()).limit(5)
        )
        summary.examples = [tuple(row) for row in rows]
    engine.dispose()
    summary.seconds = time.monotonic() - started
    return summary


def _wait_consumed(loops: dict[str, ConsumerLoop], sent: Counter[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(loop.stats.consumed >= sent.get(kind, 0) for kind, loop in loops.items()):
            return
        time.sleep(0.2)
    behind = {k: f"{loop.stats.consumed}/{sent.get(k, 0)}" for k, loop in loops.items()}
    raise TimeoutError(f"consumers did not catch up within {timeout_s:.0f} s: {behind}")


def format_summary(summary: RunSummary, settings: Settings) -> str:
    sent = sum(summary.sent.values())
    lines = [
        "",
        f"livebot run: sample session replayed in {summary.seconds:.1f} s",
        f"  events in      {sent:>6}  ({', '.join(f'{k} {v}' for k, v in sorted(summary.sent.items()))})",
        f"  dead-lettered  {summary.dead_lettered:>6}  (topic {settings.topic_deadletter}, table dead_letters)",
        f"  windows        {summary.windows:>6}  ({summary.comments_in} comments accounted for: "
        + ", ".join(f"{summary.outcomes.get(k, 0)} {k}" for k in ("clustered", "chatter", "deduplicated", "moderated",
                                                                 "spam", "shed")) + ")",
        f"  clusters       {summary.outcomes.get('clusters', 0):>6}  ({summary.outcomes.get('sent', 0)} sent to the "
        f"models, {summary.outcomes.get('suppressed', 0)} suppressed as answered recently)",
        f"  answered       {summary.answered:>6}  question clusters",
        f"  actions out    {sum(summary.actions.values()):>6}  "
        f"({', '.join(f'{k} {v}' for k, v in sorted(summary.actions.items())) or 'none'})",
        "",
        "  most-asked questions and their replies:",
    ]
    lines += [f"    [{size:>3}x] {question}  →  {reply}" for question, size, reply in summary.examples]
    lines += [
        "",
        f"  database: {settings.database_url}",
        "  try:",
        f"    .venv/bin/livebot sql \"{TRY_SQL}\"",
        "",
    ]
    return "\n".join(lines)
