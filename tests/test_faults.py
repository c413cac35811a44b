"""Faults on the real parts: nothing lost, nothing answered twice.

Every test runs a local deployment (`livebot.local.LocalDeployment`: consumer and Celery worker
processes) against the Kafka mock cluster, Redis and a Postgres schema of its own, sends
question comments with `livebot.loadgen`, breaks something mid-stream, lets the system settle,
and then checks the two promises:

* **no comment unaccounted for**: every window's outcomes add up to its comments; every valid
  comment is behind some reply action's `source_event_ids` or counted in the windows'
  statistics as something other than answered (deduplicated, chatter, shed, a cluster held
  back); where no consumer restarted, exactly: comments in = comments sent, and the answered
  ones are exactly the clustered ones less the clusters held back;
* **no action id twice** on the action topic, and one `actions` row per action, all confirmed.

Every cluster is answered (`LIVEBOT_TOP_K_PER_WINDOW=1000`, `LIVEBOT_REPEAT_TTL_S=0.001`, no
reply cap), so an answered comment is visible on the reply topic. The machine's Postgres and
Redis are never stopped: outages go through `livebot.tcpproxy.TcpProxy`. The tests use Redis
database 10, not the integration tests' 13, so a concurrent test session cannot take their
tasks. Sizes are scaled for CI (about 6 minutes together on the shared 2-core dev machine, most of it
waiting for Celery to redeliver); `bench/` scales them up.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from livebot.loadgen import run_loadgen
from livebot.local import GroupLag, LocalDeployment, ensure_topics, topics_env
from livebot.tcpproxy import TcpProxy
from pipeline.catalogue import Catalogue
from pipeline.contracts import ContractError, DeadLetter, decode
from pipeline.kafka import read_all
from pipeline.schema import actions, conversation_turns, dead_letters, unanswered_questions, window_stats
from pipeline.settings import Settings
from pipeline.storage import load_catalogue, make_engine, upgrade
from tests.conftest import PG_URL

pytestmark = pytest.mark.integration

ANSWER_EVERYTHING = {
    "LIVEBOT_TOP_K_PER_WINDOW": "1000",  # every cluster goes on to the models ...
    "LIVEBOT_REPEAT_TTL_S": "0.001",  # ... none is held back as answered recently ...
    "LIVEBOT_LONE_MIN_CUE_STRENGTH": "0",  # ... nor left unanswered for a weak cue when alone ...
    "LIVEBOT_REPLY_COOLDOWN_S": "0",  # ... nor by the reply policy
    "LIVEBOT_REPLIES_PER_MINUTE": "1000000",
    "LIVEBOT_STALE_AFTER_S": "3600",  # a slow moment under a fault must not drop questions as stale
    "LIVEBOT_WINDOW_MAX_SIZE": "40",
    "LIVEBOT_WINDOW_MAX_AGE_S": "0.5",
    "LIVEBOT_LOG_LEVEL": "INFO",
}
OTHER_OUTCOMES = ("deduplicated", "moderated", "spam", "chatter", "shed")


# ---- a deployment of our own ----------------------------------------------------------------


@pytest.fixture
def fresh_db(postgres_url: str) -> Iterator[str]:
    """A Postgres schema for this test alone (window statistics are summed over the whole table)."""
    schema = f"livebot_fault_{uuid.uuid4().hex[:8]}"
    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        load_catalogue(conn, Catalogue.load())
    engine.dispose()
    yield url
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def fault_redis(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + "/10"


class Run:
    """One deployment under test, what was sent to it, and the checks."""

    def __init__(self, kafka: str, database_url: str, redis_url: str, workdir: Path, *, consumers: int = 1,
                 workers: tuple[tuple[str, str], ...] = (("worker-0", "nlp,llm,io"),),
                 env: dict[str, str] | None = None) -> None:
        self.kafka = kafka
        self.database_url = database_url
        self.tag = uuid.uuid4().hex[:6]
        self.env = {**topics_env(f"ft{self.tag}"), **ANSWER_EVERYTHING, **(env or {})}
        names = {k.removeprefix("LIVEBOT_").lower(): v for k, v in self.env.items()}
        self.settings = Settings(**{k: v for k, v in names.items() if k in Settings.model_fields})
        ensure_topics(kafka, [self.settings.topic_danmaku, self.settings.topic_deadletter,
                              *self.settings.action_topics.values()])
        self.deployment = LocalDeployment(kafka=kafka, redis_url=redis_url, database_url=database_url,
                                          workdir=workdir, consumers=consumers, workers=0, env=self.env)
        for name, queues in workers:
            self.deployment.add(name, ["worker", "--queues", queues])
        self.lag = GroupLag(kafka, self.settings.group_id("danmaku"), self.settings.topic_danmaku)
        self.valid: set[str] = set()
        self.malformed = 0
        self._engine: Any = None
        self._t0 = time.monotonic()

    def note(self, what: str) -> None:
        """A timestamped line for the test's output (shown when it fails)."""
        print(f"[{time.monotonic() - self._t0:6.1f} s] {what}", flush=True)

    @property
    def engine(self) -> Any:
        if self._engine is None:  # straight to Postgres, never through a test's proxy
            self._engine = make_engine(self.database_url)
        return self._engine

    def start(self) -> None:
        self.deployment.flush_redis()
        self.deployment.start()
        self.deployment.wait_ready(timeout=120)
        self.note("deployment ready")

    def send(self, *, rate: float, duration_s: float, seed: int, rooms: int = 8,
             malformed_share: float = 0.0) -> threading.Thread:
        """Question comments at a constant rate, in a background thread."""
        def on_sent(kind: str, ident: str) -> None:
            if kind == "danmaku":
                self.valid.add(ident)
            else:
                self.malformed += 1

        thread = threading.Thread(target=run_loadgen, args=(self.kafka, self.settings), kwargs={
            "rooms": rooms, "rate": rate, "duration_s": duration_s, "seed": seed, "malformed_share": malformed_share,
            "asr": False, "stock": False, "pace": "constant", "kinds": {"question"}, "progress": False,
            "on_sent": on_sent})
        thread.start()
        return thread

    def settle(self, timeout: float) -> None:
        """Until everything sent is consumed and committed and no task waits or runs (3 s in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            try:
                done = (self.lag.total() == 0 and not sum(self.deployment.queue_depths().values())
                        and not self.deployment.unacked())
            except Exception:  # Redis or Kafka not answering this second
                done = False
            quiet = quiet + 1 if done else 0
            if quiet >= 3:
                self.note("settled")
                return
            time.sleep(1.0)
        raise AssertionError(f"not settled after {timeout:.0f} s: lag {self.lag.lag()}, queues "
                             f"{self.deployment.queue_depths()}, unacked {self.deployment.unacked()}")

    def published(self) -> list[dict[str, Any]]:
        """Every action on the four action topics."""
        topics = list(self.settings.action_topics.values())
        return [json.loads(m.value()) for m in read_all(self.kafka, topics, idle_s=1.5)]

    def check(self, *, exact: bool) -> dict[str, int]:
        """No comment unaccounted for, no action id twice (see the module docstring)."""
        published = self.published()
        self.note(f"{len(published)} actions read back")
        ids = Counter(a["action_id"] for a in published)
        assert [i for i, n in ids.items() if n > 1] == [], "an action id was published twice"
        replies = [a for a in published if a["type"] == "reply"]
        covered = {e for a in replies for e in a["source_event_ids"]}
        assert covered <= self.valid, f"replies name comments never sent: {sorted(covered - self.valid)[:5]}"
        uncovered = self.valid - covered
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(window_stats)).mappings()]
            reasons = dict(conn.execute(select(unanswered_questions.c.reason, func.sum(unanswered_questions.c.cluster_size))
                                        .group_by(unanswered_questions.c.reason)).all())
            held_back = sum(reasons.values())
            # One row per action, every one confirmed by the broker; one turn per reply.
            assert conn.scalar(select(func.count()).select_from(actions)) == len(ids)
            assert conn.scalar(select(func.count()).where(actions.c.published_at.is_(None))) == 0
            assert conn.scalar(select(func.count()).select_from(conversation_turns)) == len(replies)
        for row in rows:
            assert sum(row[k] for k in OTHER_OUTCOMES) + row["clustered"] == row["comments_in"], row
        comments_in = sum(r["comments_in"] for r in rows)
        clustered = sum(r["clustered"] for r in rows)
        other = sum(sum(r[k] for k in OTHER_OUTCOMES) for r in rows)
        figures = {"sent": len(self.valid), "answered": len(covered), "not_answered": len(uncovered),
                   "comments_in": comments_in, "clustered": clustered, "other_outcomes": other,
                   "held_back": int(held_back), "held_back_why": reasons, "replies": len(replies), "actions": len(ids), "windows": len(rows)}
        if exact:  # every comment in exactly one window, every clustered one answered unless held back
            assert comments_in == len(self.valid), figures
            assert clustered - held_back == len(covered), figures
            assert other + held_back == len(uncovered), figures
        else:  # a restarted consumer re-reads: comments may be counted twice, never not at all
            assert comments_in >= len(self.valid), figures
            assert other + held_back >= len(uncovered), figures
        return figures

    def close(self) -> None:
        print(self.deployment.logs(5000))  # pytest shows it only when the test failed
        self.deployment.stop()
        self.lag.close()
        if self._engine is not None:
            self._engine.dispose()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    made: list[Run] = []
    yield made
    for run in made:
        run.close()


def _proxied(url: str, port: int) -> str:
    parsed = make_url(url)
    return parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def _redis_proxied(url: str, port: int) -> str:
    scheme, rest = url.split("://", 1)
    database = rest.split("/", 1)[1] if "/" in rest else "0"
    return f"{scheme}://127.0.0.1:{port}/{database}"


# ---- (a) a model worker killed mid-batch -------------------------------------------------------


def test_a_model_worker_killed_mid_batch_has_its_task_redelivered_and_nothing_is_lost_or_doubled(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(kafka, fresh_db, fault_redis, tmp_path, workers=(("worker-0", "nlp,llm"), ("worker-1", "io")),
              env={"LIVEBOT_TASK_VISIBILITY_TIMEOUT_S": "4"})
    runs.append(run)
    run.start()
    sender = run.send(rate=250, duration_s=10, seed=101)
    time.sleep(3)
    # Kill the model worker while it holds an unacknowledged nlp/llm task, until one is orphaned.
    orphaned = False
    for _attempt in range(15):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not {"nlp", "llm"} & set(run.deployment.unacked()):
            time.sleep(0.001)
        assert run.deployment.kill("worker-0") == -signal.SIGKILL
        orphaned = bool({"nlp", "llm"} & set(run.deployment.unacked()))
        if orphaned:
            break
        run.deployment.restart("worker-0")
        time.sleep(0.5)
    assert orphaned, "never caught the model worker holding a task"
    # Down for longer than the visibility timeout, windows piling up meanwhile; a worker that
    # starts restores the tasks unacknowledged for that long (later, kombu only looks again
    # every 10th check, ~100 s: see test_d).
    time.sleep(5)
    run.deployment.restart("worker-0")
    sender.join(60)
    run.settle(150)
    figures = run.check(exact=True)
    assert figures["answered"] > 0.5 * figures["sent"]
    assert run.deployment.services["worker-0"].lives >= 2


# ---- (b) a consumer killed mid-stream -----------------------------------------------------------


def test_b_a_consumer_killed_mid_stream_and_restarted_loses_nothing_and_answers_nothing_twice(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(kafka, fresh_db, fault_redis, tmp_path)
    runs.append(run)
    run.start()
    sender = run.send(rate=250, duration_s=10, seed=202, malformed_share=0.02)
    time.sleep(4)
    assert run.deployment.kill("consumer-0") == -signal.SIGKILL
    time.sleep(1)
    run.deployment.restart("consumer-0")
    sender.join(60)
    run.deployment.wait_ready(["consumer-0"], timeout=90)
    run.settle(120)
    figures = run.check(exact=False)
    print("consumer killed:", figures)
    assert figures["answered"] > 0.5 * figures["sent"]
    assert figures["comments_in"] > figures["sent"], "nothing was re-read: the kill came too late to matter"
    # A clean stop: batch finished, windows flushed, offsets committed, exit 0.
    assert run.deployment.terminate("consumer-0") == 0


def test_b_a_window_flushed_on_revocation_and_re_read_after_a_failed_commit_is_still_fully_counted() -> None:
    """The consumer loop's revocation path, step by step, with the real reducer and ON CONFLICT
    storage: flush the partition's windows, the commit fails, the next owner re-reads from the
    last commit (as `ConsumerLoop._on_revoke` does when `commit` raises)."""
    from pipeline.contracts import Danmaku
    from pipeline.reduce import Reducer

    settings = Settings(window_max_size=40, window_max_age_s=0.5, top_k_per_window=1000, repeat_ttl_s=0.001)
    texts = ["精华多少钱", "敏感肌能用吗", "面霜还有货吗", "口红有什么颜色", "包邮吗"]
    events = [Danmaku(event_id=f"e{n}", room_id="room-a" if n % 4 else "room-b", user_id=f"u{n}",
                      text=texts[n % 5], ts=1_795_000_000.0 + n * 0.01) for n in range(400)]
    stored: dict[str, tuple[int, int]] = {}  # window_stats as upsert_window_stats keeps it: id → (last offset, in)

    def store(results: list[Any]) -> None:
        for result in results:
            batch = result.batch
            if batch.last_offset > stored.get(batch.window_id, (-1, 0))[0]:
                stored[batch.window_id] = (batch.last_offset, batch.stats.comments_in)

    def consume(reducer: Reducer, offsets: range, step: float) -> tuple[int, float]:
        now, committed = 0.0, offsets.start
        for offset in offsets:
            now += step
            store(reducer.add(events[offset], 0, offset, now) + reducer.due(now))
            committed = min(offset + 1, reducer.held_offsets().get(0, offset + 1))
        return committed, now

    first = Reducer.from_settings(settings)
    committed, now = consume(first, range(0, 120), 0.01)  # 100 comments/s, live
    store(first.flush(now, {0}, "revoked"))  # revoked: windows handed off, then the commit fails
    second = Reducer.from_settings(settings)
    _, now = consume(second, range(committed, 400), 0.0005)  # the next owner catches up from `committed`
    store(second.flush(now + 1, None, "shutdown"))
    assert sum(count for _, count in stored.values()) >= len(events)


# ---- (c) Postgres unreachable for 20 s --------------------------------------------------------------


def test_c_the_task_retry_policy_outlasts_a_20_s_database_outage_whatever_the_jitter() -> None:
    """Celery's own backoff computation with StageTask's settings: the least total wait over all
    retries must cover the outage, or some task gives up inside it."""
    from celery.utils.time import get_exponential_backoff_interval

    from tasks.app import StageTask

    if StageTask.max_retries is None:
        return  # retries until the database is back
    least = sum(
        0 if StageTask.retry_jitter else get_exponential_backoff_interval(
            factor=StageTask.retry_backoff, retries=n, maximum=StageTask.retry_backoff_max, full_jitter=False)
        for n in range(StageTask.max_retries))
    assert least >= 20, f"all {StageTask.max_retries} retries may be spent within {least} s"


def test_c_postgres_unreachable_for_20_s_tasks_retry_and_catch_up_with_nothing_dropped(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    target = make_url(fresh_db)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        run = Run(kafka, fresh_db, fault_redis, tmp_path, env={"LIVEBOT_DATABASE_URL": _proxied(fresh_db, proxy.port)})
        runs.append(run)
        run.start()
        sender = run.send(rate=150, duration_s=26, seed=303)
        time.sleep(3)
        proxy.cut()
        time.sleep(20)
        proxy.restore()
        sender.join(60)
        run.settle(150)
    figures = run.check(exact=True)
    assert figures["answered"] > 0.5 * figures["sent"]
    assert "Retry in" in run.deployment.log("worker-0", 10**7)  # the tasks did retry


# ---- (d) Redis away and back --------------------------------------------------------------------------


def test_d_redis_restarted_mid_stream_hand_offs_wait_and_nothing_is_lost_or_doubled(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    direct = urlsplit(fault_redis)
    with TcpProxy(direct.hostname or "127.0.0.1", direct.port or 6379) as proxy:
        run = Run(kafka, fresh_db, fault_redis, tmp_path,
                  env={"LIVEBOT_CELERY_BROKER": _redis_proxied(fault_redis, proxy.port),
                       "LIVEBOT_TASK_VISIBILITY_TIMEOUT_S": "10"})
        runs.append(run)
        run.start()
        sender = run.send(rate=200, duration_s=14, seed=404)
        time.sleep(4)
        proxy.cut()
        time.sleep(6)
        proxy.restore()
        sender.join(60)
        run.settle(150)
        failures = run.deployment.metric("consumer-0", "livebot_handoff_failures_total")
        assert run.deployment.alive("consumer-0") and run.deployment.alive("worker-0")
    figures = run.check(exact=True)
    assert figures["answered"] > 0.5 * figures["sent"]
    assert failures > 0, "the consumer never noticed Redis was away"


# ---- (e) a 10× burst --------------------------------------------------------------------------------------


def test_e_a_10x_burst_sheds_within_the_memory_bound_and_counts_what_it_shed(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    bound = 300
    run = Run(kafka, fresh_db, fault_redis, tmp_path,
              env={"LIVEBOT_MAX_OPEN_COMMENTS": str(bound), "LIVEBOT_WINDOW_MAX_SIZE": "200",
                   "LIVEBOT_WINDOW_MAX_AGE_S": "1.0"})
    runs.append(run)
    run.start()
    run.deployment.start_sampling(0.2)
    base, seconds = 100.0, 10.0
    run.send(rate=base, duration_s=2, seed=501, rooms=4).join(30)
    before_kb = run.deployment.rss_kb("consumer-0")[0]
    run.send(rate=10 * base, duration_s=seconds, seed=502, rooms=4).join(60)
    run.send(rate=base, duration_s=2, seed=503, rooms=4).join(30)
    run.settle(120)
    run.deployment.stop_sampling()
    peak_kb = max(s["rss_kb"]["consumer-0"] for s in run.deployment.samples)
    shed_metric = run.deployment.metric("consumer-0", "livebot_comments_total", outcome="shed")
    figures = run.check(exact=True)
    with run.engine.connect() as conn:
        shed = conn.scalar(select(func.sum(window_stats.c.shed)))
        biggest = conn.scalar(select(func.max(window_stats.c.clustered)))
    print("burst:", figures, "shed", shed, "biggest window", biggest, "rss before/peak KiB", before_kb, peak_kb)
    assert shed > 0 and shed_metric == shed, (shed, shed_metric)
    assert biggest <= bound
    # 1,000 questions/s into windows of up to a second need ~3x the bound: most of the burst is shed.
    assert shed >= 0.3 * 10 * base * seconds, shed
    assert figures["sent"] >= 0.9 * (base * 4 + 10 * base * seconds)
    # Shedding keeps the consumer's memory flat: the burst adds little over the steady process.
    assert (peak_kb - before_kb) / 1024 < 64, (before_kb, peak_kb)


# ---- (f) 10,000 fuzzed records ----------------------------------------------------------------------------


def test_f_ten_thousand_fuzzed_records_all_reach_the_dead_letter_topic_without_a_crash(
    kafka: str, fresh_db: str, fault_redis: str, tmp_path: Path, runs: list[Run]
) -> None:
    from confluent_kafka import Producer

    run = Run(kafka, fresh_db, fault_redis, tmp_path, workers=(("worker-0", "io"),),
              env={"LIVEBOT_LOG_LEVEL": "ERROR"})  # a warning per dead letter would be 10,000 lines
    runs.append(run)
    made: list[list[bytes | None]] = []
    drawing = threading.Thread(target=lambda: made.append(_fuzzed_records(10_000, int(time.time() * 1000))))
    drawing.start()  # hypothesis draws while the processes start
    run.start()
    drawing.join(300)
    records = made[0]
    delivered: dict[tuple[int, int], bytes | None] = {}

    def on_delivery(err: Any, msg: Any) -> None:
        assert err is None, err
        delivered[(msg.partition(), msg.offset())] = msg.value()

    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True, "linger.ms": 20})
    for n, raw in enumerate(records):
        while True:
            try:
                producer.produce(run.settings.topic_danmaku, value=raw, key=f"room-{n % 7}", on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0 and len(delivered) == len(records)
    run.settle(180)
    assert run.deployment.alive("consumer-0"), run.deployment.log("consumer-0")
    letters = [msgspec.json.decode(m.value(), type=DeadLetter)
               for m in read_all(kafka, [run.settings.topic_deadletter], idle_s=2.0)]
    by_position = {(d.partition, d.offset): d for d in letters}
    assert len(letters) == len(by_position) == len(records)
    assert set(by_position) == set(delivered)
    for position, letter in by_position.items():
        assert letter.error and letter.source_topic == run.settings.topic_danmaku
        assert letter.original_bytes() == (delivered[position] or b"")
    reasons = Counter(letter.error.split(":")[0].split("`")[0].strip() for letter in letters)
    assert len(reasons) >= 6, reasons  # many different contract failures, each named
    assert run.deployment.metric("consumer-0", "livebot_records_total", kind="danmaku", outcome="valid") == 0
    with run.engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(dead_letters)
                             .where(dead_letters.c.source_topic == run.settings.topic_danmaku))
    assert stored == len(records)
    assert run.deployment.terminate("consumer-0") == 0
    # No exception escaped the loop (the metrics server's broken pipes, when a probe gave up
    # waiting on a busy process, are http.server's and harmless).
    chunks = run.deployment.log("consumer-0", 10**7).split("Traceback (most recent call last):")[1:]
    assert [c[:300] for c in chunks if "socketserver.py" not in c[:300]] == []


def _fuzzed_records(n: int, now_ms: int) -> list[bytes | None]:
    """`n` danmaku records, each broken in one way, drawn by hypothesis (never a valid one)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    ids = st.text(min_size=1, max_size=16).filter(lambda s: "\x00" not in s)
    plain = st.text(max_size=30).filter(lambda s: "\x00" not in s)
    valid = st.fixed_dictionaries(
        {"event_id": ids, "room_id": st.sampled_from([f"room-{k}" for k in range(7)]), "user_id": ids,
         "text": plain, "ts": st.just(now_ms)},
        optional={"platform": plain, "user": st.fixed_dictionaries({}, optional={
            "level": st.integers(0, 1000), "is_member": st.booleans(), "spend_tier": st.sampled_from(["low", "vip"])})})
    required = ["event_id", "room_id", "user_id", "text", "ts"]
    not_str = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    not_time = st.one_of(st.booleans(), st.none(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                         st.text(max_size=12).filter(lambda s: not _iso(s)))

    def encode(doc: Any) -> bytes:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")

    def with_field(doc: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
        return {**doc, field: value}

    broken = st.one_of(
        # a required field missing
        st.tuples(valid, st.sampled_from(required)).map(lambda t: encode({k: v for k, v in t[0].items() if k != t[1]})),
        # a field of the wrong type
        st.tuples(valid, st.sampled_from(["event_id", "room_id", "user_id", "text", "platform"]), not_str)
        .map(lambda t: encode(with_field(*t))),
        st.tuples(valid, not_time).map(lambda t: encode(with_field(t[0], "ts", t[1]))),
        st.tuples(valid, st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2)))
        .map(lambda t: encode(with_field(t[0], "user", t[1]))),
        st.tuples(valid, st.one_of(st.integers(max_value=-1), st.integers(min_value=1001), st.text(max_size=3)))
        .map(lambda t: encode(with_field(t[0], "user", {"level": t[1]}))),
        # limits: over-long text, empty or over-long ids, NUL characters
        st.tuples(valid, st.text(min_size=501, max_size=700)).map(lambda t: encode(with_field(t[0], "text", t[1]))),
        st.tuples(valid, st.sampled_from(["event_id", "room_id", "user_id"]), st.sampled_from(["", "x" * 129]))
        .map(lambda t: encode(with_field(*t))),
        st.tuples(valid, st.sampled_from(["event_id", "room_id", "user_id", "text", "platform"]), plain, plain)
        .map(lambda t: encode(with_field(t[0], t[1], f"{t[2]}\x00{t[3]}"))),
        # times in the future, the absurd past, or not finite
        st.tuples(valid, st.integers(now_ms + 3_600_000, now_ms + 10 * 365 * 86_400_000))  # far enough to stay so
        .map(lambda t: encode(with_field(t[0], "ts", t[1]))),
        st.tuples(valid, st.integers(-10**12, now_ms - 8 * 86_400_000)).map(lambda t: encode(with_field(t[0], "ts", t[1]))),
        st.tuples(valid, st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        .map(lambda t: json.dumps(with_field(t[0], "ts", t[1])).encode()),
        # invalid UTF-8 inside a field the contract reads
        st.tuples(valid, st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80abc"]))
        .map(lambda t: encode(with_field(t[0], "text", "\ue000")).replace("\ue000".encode(), t[1])),
        # not an object, not JSON, truncated, oversized, empty, no value at all
        st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=10), st.booleans(), st.none())
        .map(encode),
        st.binary(max_size=200),
        st.tuples(valid, st.floats(0.05, 0.95)).map(lambda t: encode(t[0])[: max(1, int(len(encode(t[0])) * t[1]))]),
        st.tuples(valid, st.integers(16_400, 20_000)).map(lambda t: encode(with_field(t[0], "padding", "x" * t[1]))),
        st.just(b""),
        st.just(None),
    )
    out: list[bytes | None] = []

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(broken)
    def collect(raw: bytes | None) -> None:
        if len(out) < n and _invalid(raw, now_ms):
            out.append(raw)

    while len(out) < n:
        collect()
    return out


def _iso(value: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _invalid(raw: bytes | None, now_ms: int) -> bool:
    try:
        decode("danmaku", raw, now=now_ms / 1000)
    except ContractError:
        return True
    return False


def test_the_fuzzed_records_cover_every_way_to_break_the_contract() -> None:
    records = _fuzzed_records(1_000, int(time.time() * 1000))
    reasons: Counter[str] = Counter()
    for raw in records:
        try:
            decode("danmaku", raw)
        except ContractError as exc:
            message = str(exc)
            reasons[next((k for k in ("empty record", "exceeds", "not valid UTF-8", "not JSON", "missing required",
                                      "Expected", "characters, over", "NUL", "future", "past", "not ISO",
                                      "not a finite", "length") if k in message), message)] += 1
    assert len(records) == 1_000
    for kind in ("empty record", "exceeds", "not valid UTF-8", "not JSON", "missing required", "Expected",
                 "characters, over", "NUL", "future", "past"):
        assert reasons[kind] > 0, (kind, reasons)
