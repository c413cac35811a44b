"""The load generator against the mock cluster: what it sends, how much of it is malformed, its pace."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from livebot.loadgen import MALFORMED, malformed_kinds, run_loadgen
from livebot.traffic import room_ids
from pipeline.catalogue import Catalogue
from pipeline.contracts import AsrSegment, ContractError, Danmaku, StockUpdate, decode
from pipeline.kafka import read_all
from pipeline.settings import Settings


def _settings() -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(topic_danmaku=f"lg{tag}.danmaku", topic_asr=f"lg{tag}.asr", topic_stock=f"lg{tag}.stock")


def _read(kafka: str, topic: str) -> list:  # type: ignore[type-arg]
    return read_all(kafka, [topic], idle_s=1.0)


def test_every_topic_gets_what_the_counts_say_and_every_record_is_judged_as_labelled(kafka: str) -> None:
    settings = _settings()
    valid_ids: dict[str, set[str]] = {"danmaku": set(), "asr": set(), "stock": set()}
    sent = run_loadgen(kafka, settings, rooms=8, rate=300, duration_s=6, seed=5, malformed_share=0.05,
                       asr=True, stock=True, progress=False,
                       on_sent=lambda kind, ident: valid_ids[kind].add(ident) if kind in valid_ids else None)
    assert sent["danmaku"] > 1000 and sent["asr"] > 0 and sent["stock"] > 5

    skus = {p.sku for p in Catalogue.load().products}
    topics = {"danmaku": settings.topic_danmaku, "asr": settings.topic_asr, "stock": settings.topic_stock}
    everything = read_all(kafka, list(topics.values()), idle_s=1.0)
    for kind, topic in topics.items():
        messages = [m for m in everything if m.topic() == topic]
        now = time.time()
        good, bad = [], 0
        for message in messages:
            try:
                good.append(decode(kind, message.value(), now=now))
            except ContractError:
                bad += 1
        assert len(good) == sent[kind]
        assert {e.event_id for e in good} == valid_ids[kind]
        if kind == "danmaku":
            assert all(isinstance(e, Danmaku) for e in good)
            assert {e.room_id for e in good} <= set(room_ids(8)) and len({e.room_id for e in good}) == 8
            assert all(m.key().decode() == e.room_id for m, e in zip(
                [m for m in messages if _valid(kind, m.value(), now)], good, strict=True))
        elif kind == "asr":
            assert all(isinstance(e, AsrSegment) and e.ts_end > e.ts_start for e in good)
        else:
            assert all(isinstance(e, StockUpdate) and e.sku in skus for e in good)
        # The malformed records are the share asked for, of this topic's records too.
        assert bad == sum(1 for m in messages if not _valid(kind, m.value(), now))
        if kind == "danmaku":
            assert bad / len(messages) == pytest.approx(0.05, abs=0.005)
    assert sent["malformed"] == sum(v for k, v in sent.items() if k.startswith("malformed."))
    # Every malformed kind of the danmaku topic went out, several times (ASR's own kind, an end
    # before its start, needs more ASR segments than a short run has: see the next test).
    assert all(sent[f"malformed.{name}"] >= 3 for name in malformed_kinds("danmaku"))


def _valid(kind: str, raw: bytes | None, now: float) -> bool:
    try:
        decode(kind, raw, now=now)
    except ContractError:
        return False
    return True


@pytest.mark.parametrize("kind", ["danmaku", "asr", "stock"])
def test_each_malformed_kind_breaks_the_contract_of_each_topic(kind: str) -> None:
    settings = Settings()
    key = "SKU-SERUM-01" if kind == "stock" else "room-0001"
    now_ms = int(time.time() * 1000)
    for name in malformed_kinds(kind):
        with pytest.raises(ContractError):
            decode(kind, MALFORMED[name](kind, now_ms, key, settings), now=now_ms / 1000)


def test_constant_pace_sends_the_asked_rate_with_event_times_stamped_at_send_time(kafka: str) -> None:
    settings = _settings()
    started = time.monotonic()
    sent = run_loadgen(kafka, settings, rooms=5, rate=800, duration_s=4, seed=2, malformed_share=0.0, asr=False,
                       stock=False, pace="constant", progress=False)
    elapsed = time.monotonic() - started
    assert sent["danmaku"] == 3200
    assert 4 * 0.5 <= elapsed <= 4 * 1.5
    messages = _read(kafka, settings.topic_danmaku)
    assert len(messages) == 3200
    stamps = []
    for message in messages:
        event = decode("danmaku", message.value())
        _type, broker_ms = message.timestamp()
        # Stamped when sent: the event time is at most a moment before the producer's timestamp.
        assert abs(float(event.ts) * 1000 - broker_ms) < 1500
        stamps.append(float(event.ts))
    span = max(stamps) - min(stamps)
    assert 4 * 0.5 <= span <= 4 * 1.5
    per_second = Counter(int(t - min(stamps)) for t in stamps)
    steady = [per_second[s] for s in range(1, 3)]  # the whole seconds inside the run
    assert all(800 * 0.5 <= n <= 800 * 1.5 for n in steady), per_second


def test_only_the_asked_comment_kinds_are_sent(kafka: str) -> None:
    settings = _settings()
    ids: list[str] = []
    sent = run_loadgen(kafka, settings, rooms=4, rate=200, duration_s=2, seed=9, asr=False, stock=False,
                       pace="constant", kinds={"question"}, progress=False, on_sent=lambda kind, i: ids.append(i))
    assert sent["danmaku"] == 400 and len(set(ids)) == 400
    from livebot.traffic import generate

    questions = [c.danmaku.event_id for c in generate(rooms=4, rate=200, duration_s=2, seed=9, start=0.0)
                 if c.kind == "question"]
    # The generated stream's questions, in order (then the next seed's, if those were too few).
    assert ids[: len(questions)] == questions[:400]


def test_replay_sends_a_recording_in_order_at_the_asked_speed(kafka: str, tmp_path: Path) -> None:
    csv = tmp_path / "live.csv"
    lines = ["session,streamer,offset_s,send_ts,send_time_cst,mode,font_size,color,pool,user_hash,row_id,text"]
    # 4 recorded seconds, 30 comments a second, whole-second stamps like the real files.
    for n in range(120):
        lines.append(f"s1,host,0,{1607700000 + n // 30},x,1,25,0,0,u{n % 17},{n},第{n}条 多少钱")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = _settings()
    started = time.monotonic()
    sent = run_loadgen(kafka, settings, duration_s=0, seed=0, replay_csv=csv, speed=2.0, asr=True, stock=False,
                       progress=False)
    elapsed = time.monotonic() - started
    assert sent["danmaku"] == 120
    assert 2.0 * 0.5 <= elapsed <= 2.0 * 1.5  # 4 s of recording at twice the speed
    events = [decode("danmaku", m.value()) for m in _read(kafka, settings.topic_danmaku)]
    assert [e.event_id for e in events] == [f"s1:{n}" for n in range(120)]  # one room: one partition, in order
    assert all(e.room_id == "s1" for e in events)
    # Spread within each recorded second rather than sent in four lumps.
    gaps = [b.ts - a.ts for a, b in zip(events, events[1:], strict=False)]
    assert max(gaps) < 0.2


def test_bad_arguments_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="malformed_share"):
        run_loadgen("127.0.0.1:1", Settings(), malformed_share=1.0, progress=False)
    with pytest.raises(ValueError, match="speed"):
        run_loadgen("127.0.0.1:1", Settings(), speed=0, progress=False)
