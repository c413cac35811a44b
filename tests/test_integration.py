"""End to end on the real parts: mock Kafka cluster → consumer process → Celery worker process
on Redis → action topic and Postgres, with the consumer SIGKILLed half-way and restarted."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Producer
from sqlalchemy import func, select

from livebot.local import free_port
from pipeline.catalogue import Catalogue
from pipeline.contracts import DeadLetter
from pipeline.kafka import read_all
from pipeline.schema import actions, conversation_turns, dead_letters, window_stats
from pipeline.storage import load_catalogue, make_engine, upgrade
from tests.conftest import LIVEBOT, start_process, wait_for

pytestmark = pytest.mark.integration

QUESTIONS = ["精华多少钱", "敏感肌能用吗", "面霜还有货吗", "口红有什么颜色", "卫衣有XL吗", "包邮吗", "怎么领券",
             "什么时候发货", "礼盒多少钱", "防晒霜油皮能用吗"]
ROOMS = [f"room-{n}" for n in range(8)]

MALFORMED: list[tuple[bytes | None, str]] = [
    (b"definitely not json", "not JSON"),
    (b'{"event_id": "x", "text": "\xff\xfe"}', "not valid UTF-8"),
    (b'{"event_id": "x", "room_id": "room-0", "text": "no user"}', "missing required field"),
    (b'{"event_id": "x", "room_id": "room-0", "user_id": 7, "text": "t", "ts": 1}', "Expected `str`, got `int`"),
    (None, "no value"),
    (b"[1, 2, 3]", "Expected `object`"),
]


def _valid(n: int, now_ms: int) -> tuple[str, bytes]:
    room = ROOMS[n % len(ROOMS)]
    doc = {"event_id": f"ev-{n:05d}", "room_id": room, "user_id": f"viewer-{n}", "text": QUESTIONS[n % 7 + n % 3],
           "ts": now_ms, "user": {"level": n % 20, "is_member": n % 5 == 0}}
    return room, json.dumps(doc, ensure_ascii=False).encode()


def _malformed(n: int, now_ms: int) -> tuple[bytes | None, str]:
    kinds = MALFORMED + [
        (json.dumps({"event_id": "x", "room_id": "room-1", "user_id": "u", "text": "长" * 600, "ts": now_ms},
                    ensure_ascii=False).encode(), "over the 500 limit"),
        (json.dumps({"event_id": "x", "room_id": "room-1", "user_id": "u", "text": "a\u0000b", "ts": now_ms}).encode(),
         "NUL"),
        (json.dumps({"event_id": "x", "room_id": "room-1", "user_id": "u", "text": "t", "ts": now_ms + 86_400_000})
         .encode(), "in the future"),
        (json.dumps({"event_id": "x", "room_id": "room-1", "user_id": "u", "text": "t", "ts": 1000}).encode(),
         "in the past"),
    ]
    return kinds[n % len(kinds)]


def test_comments_become_replies_and_rows_once_even_when_the_consumer_is_killed(
    kafka: str, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    topics = {"danmaku": f"it{tag}.danmaku", "reply": f"it{tag}.reply", "deadletter": f"it{tag}.deadletter"}
    env = {
        "LIVEBOT_KAFKA_BOOTSTRAP": kafka,
        "LIVEBOT_DATABASE_URL": postgres_url,
        "LIVEBOT_CELERY_BROKER": redis_url,
        "LIVEBOT_TOPIC_DANMAKU": topics["danmaku"],
        "LIVEBOT_TOPIC_REPLY": topics["reply"],
        "LIVEBOT_TOPIC_DEADLETTER": topics["deadletter"],
        "LIVEBOT_CONSUMER_GROUP_PREFIX": f"it{tag}",
        "LIVEBOT_WINDOW_MAX_SIZE": "40",
        "LIVEBOT_WINDOW_MAX_AGE_S": "0.5",
        "LIVEBOT_TOP_K_PER_WINDOW": "1000",  # answer every cluster and suppress no repeat,
        "LIVEBOT_REPEAT_TTL_S": "0.001",  # pace nothing, so that every comment is behind some reply
        "LIVEBOT_LONE_MIN_CUE_STRENGTH": "0",  # a lone weakly cued comment is answered too
        "LIVEBOT_REPLY_COOLDOWN_S": "0",
        "LIVEBOT_REPLIES_PER_MINUTE": "1000000",
        "LIVEBOT_STALE_AFTER_S": "600",
    }
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        load_catalogue(conn, Catalogue.load())

    worker_port, consumer_port = free_port(), free_port()
    worker = start_process([LIVEBOT, "worker", "--queues", "nlp,llm,io"],
                           {**env, "LIVEBOT_METRICS_PORT": str(worker_port)}, tmp_path / "worker.log")
    consumer = start_process([LIVEBOT, "consume", "danmaku"], env, tmp_path / "consumer-1.log")
    processes = [worker, consumer]
    try:
        valid_ids: set[str] = set()
        malformed_reasons: list[str] = []
        sent = threading.Event()
        half = threading.Event()

        def produce() -> None:
            producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
            for n in range(1050):
                now_ms = int(time.time() * 1000)
                if n % 21 == 20:  # 50 malformed records among 1,000 valid ones
                    raw, reason = _malformed(len(malformed_reasons), now_ms)
                    malformed_reasons.append(reason)
                    producer.produce(topics["danmaku"], value=raw, key=ROOMS[n % len(ROOMS)])
                else:
                    room, raw = _valid(len(valid_ids), now_ms)
                    valid_ids.add(f"ev-{len(valid_ids):05d}")
                    producer.produce(topics["danmaku"], value=raw, key=room)
                if n == 525:
                    producer.flush()
                    half.set()
                time.sleep(0.006)
            assert producer.flush(30) == 0
            sent.set()

        producer_thread = threading.Thread(target=produce)
        producer_thread.start()

        # Half-way, once the first replies are in the database, kill the consumer outright.
        half.wait(60)
        wait_for(lambda: _count(engine, conversation_turns) > 0, 60, what="first replies in Postgres")
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(10)
        consumer = start_process([LIVEBOT, "consume", "danmaku"], {**env, "LIVEBOT_METRICS_PORT": str(consumer_port)},
                                 tmp_path / "consumer-2.log")
        processes.append(consumer)
        producer_thread.join(90)
        assert sent.is_set() and len(valid_ids) == 1000 and len(malformed_reasons) == 50

        def all_answered() -> bool:
            covered = {e for a in _actions(kafka, topics["reply"]) for e in a["source_event_ids"]}
            return valid_ids <= covered

        wait_for(all_answered, 120, interval=2.0, what="every comment to be behind some reply action")
        # Both processes answer health checks and export what they did.
        assert _get(worker_port, "/healthz") == 200 and _get(worker_port, "/readyz") == 200
        assert wait_for(lambda: _get(consumer_port, "/readyz") == 200, 30, what="consumer ready")
        exported = urllib.request.urlopen(f"http://127.0.0.1:{consumer_port}/metrics", timeout=5).read().decode()
        assert 'livebot_records_total{kind="danmaku",outcome="valid"}' in exported
        wait_for(lambda: _count(engine, dead_letters) >= 50, 60, what="dead letters stored")

        # A clean shutdown: the consumer finishes its batch, commits and exits 0.
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(30) == 0

        replies = _actions(kafka, topics["reply"])
        ids = Counter(a["action_id"] for a in replies)
        assert [i for i, n in ids.items() if n > 1] == [], "an action id was published twice"
        covered = Counter(e for a in replies for e in a["source_event_ids"])
        assert set(covered) == valid_ids
        assert all(a["type"] == "reply" and a["text"] and a["latency_ms"] > 0 for a in replies)

        letters = [msgspec.json.decode(m.value(), type=DeadLetter) for m in read_all(kafka, [topics["deadletter"]])]
        assert len({(d.partition, d.offset) for d in letters}) == 50
        assert all(d.source_topic == topics["danmaku"] for d in letters)
        for reason in set(malformed_reasons):
            assert any(reason in d.error for d in letters), reason

        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).where(actions.c.action_type == "reply")) == len(ids)
            assert conn.scalar(select(func.count()).where(actions.c.published_at.is_(None))) == 0
            assert conn.scalar(select(func.count()).select_from(conversation_turns)) == len(ids)
            assert conn.scalar(select(func.count()).select_from(dead_letters)) == 50
            for row in conn.execute(select(window_stats)).mappings():
                parts = sum(row[k] for k in ("deduplicated", "moderated", "spam", "chatter", "clustered", "shed"))
                assert parts == row["comments_in"], dict(row)
            assert conn.scalar(select(func.sum(window_stats.c.comments_in))) >= 1000
    except BaseException:
        for log in sorted(tmp_path.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()


def _get(port: int, path: str) -> int:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table)) or 0


def _actions(bootstrap: str, topic: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(m.value()) for m in read_all(bootstrap, [topic], idle_s=1.5)]
