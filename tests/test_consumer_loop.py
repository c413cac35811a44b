"""The consumer loop against the Kafka mock cluster: dead letters, commits held back by open
work, flush on revocation, clean stop."""

from __future__ import annotations

import json
import threading
import time
import uuid

import msgspec
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from consumers.loop import ConsumerLoop, Record
from pipeline.contracts import DeadLetter
from pipeline.kafka import consumer_config, read_all
from pipeline.settings import Settings
from tests.conftest import wait_for


class RecordingHandler:
    """Holds back every offset at or after `hold_from` in each partition, like an open window."""

    kind = "danmaku"

    def __init__(self, hold_from: int | None = None) -> None:
        self.hold_from = hold_from
        self.records: list[Record] = []
        self.letters: list[DeadLetter] = []
        self.flushes: list[tuple[set[int] | None, str]] = []
        self.partitions: set[int] = set()

    def handle(self, records: list[Record], now: float) -> None:
        self.records += records
        self.partitions |= {r.partition for r in records}

    def tick(self, now: float) -> None:
        pass

    def flush(self, partitions: set[int] | None, now: float, reason: str) -> None:
        self.flushes.append((partitions, reason))
        if partitions is None or self.partitions <= partitions:
            self.hold_from = None

    def held_offsets(self) -> dict[int, int]:
        if self.hold_from is None:
            return {}
        return {p: self.hold_from for p in self.partitions}

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        self.letters += letters


def _settings(tag: str) -> Settings:
    return Settings(consumer_group_prefix=f"t{tag}", topic_danmaku=f"t{tag}.danmaku",
                    topic_deadletter=f"t{tag}.dlq", consume_timeout_s=0.1)


def _send(bootstrap: str, topic: str, values: list[bytes | None], key: str = "room-1") -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(10) == 0


def _danmaku(n: int) -> bytes:
    return json.dumps({"event_id": f"e{n}", "room_id": "room-1", "user_id": "u", "text": "多少钱",
                       "ts": int(time.time() * 1000)}).encode()


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer(consumer_config(bootstrap, group))
    offsets = consumer.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    consumer.close()
    return {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}


def _run(loop: ConsumerLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def test_malformed_records_go_to_the_dead_letter_topic_and_the_loop_carries_on(kafka: str) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = _settings(tag)
    _send(kafka, settings.topic_danmaku, [_danmaku(0), b"not json", b"\xff\xfe", None, _danmaku(1)])
    handler = RecordingHandler()
    loop = ConsumerLoop(settings, handler, kafka, settings.topic_danmaku)
    thread = _run(loop)
    wait_for(lambda: len(handler.records) == 2 and len(handler.letters) == 3, 30, what="records and dead letters")
    loop.stop()
    thread.join(20)
    letters = [msgspec.json.decode(m.value(), type=DeadLetter) for m in read_all(kafka, [settings.topic_deadletter])]
    assert sorted(letter.offset for letter in letters) == [1, 2, 3]
    by_offset = {letter.offset: letter for letter in letters}
    assert by_offset[2].payload_encoding == "base64" and by_offset[2].original_bytes() == b"\xff\xfe"
    assert "not JSON" in by_offset[1].error and "no value" in by_offset[3].error
    assert loop.stats.dead_lettered == 3 and loop.stats.valid == 2
    assert _committed(kafka, settings.group_id("danmaku"), settings.topic_danmaku) == {letters[0].partition: 5}


def test_offsets_are_not_committed_past_work_still_held(kafka: str) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = _settings(tag)
    _send(kafka, settings.topic_danmaku, [_danmaku(n) for n in range(6)])
    handler = RecordingHandler(hold_from=2)  # records 2.. sit in an open window
    loop = ConsumerLoop(settings, handler, kafka, settings.topic_danmaku)
    thread = _run(loop)
    wait_for(lambda: len(handler.records) == 6, 30, what="records")
    wait_for(lambda: loop.stats.commits > 0, 10, what="a commit")
    partition = handler.records[0].partition
    assert _committed(kafka, settings.group_id("danmaku"), settings.topic_danmaku) == {partition: 2}
    loop.stop()  # shutdown flushes the window, then commits everything
    thread.join(20)
    assert (None, "shutdown") in handler.flushes
    assert _committed(kafka, settings.group_id("danmaku"), settings.topic_danmaku) == {partition: 6}


def test_revoked_partitions_are_flushed_and_committed_before_another_consumer_takes_them(kafka: str) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = _settings(tag)
    rooms = [f"room-{n}" for n in range(12)]  # spread over the four partitions
    producer = Producer({"bootstrap.servers": kafka})
    for n, room in enumerate(rooms):
        producer.produce(settings.topic_danmaku, value=_danmaku(n), key=room)
    producer.flush(10)
    first = RecordingHandler(hold_from=0)
    loop1 = ConsumerLoop(settings, first, kafka, settings.topic_danmaku)
    thread1 = _run(loop1)
    wait_for(lambda: len(first.records) == len(rooms), 30, what="first consumer to read everything")
    second = RecordingHandler()
    loop2 = ConsumerLoop(settings, second, kafka, settings.topic_danmaku)
    thread2 = _run(loop2)
    wait_for(lambda: any(reason == "revoked" for _, reason in first.flushes), 40, what="a revocation")
    revoked = next(p for p, reason in first.flushes if reason == "revoked")
    assert revoked == first.partitions  # the old owner flushed what it handed over
    wait_for(lambda: second.partitions or loop2.stats.commits >= 0 and loop2.consumer.assignment(), 30,
             what="the second consumer to be assigned partitions")
    time.sleep(1.0)
    for loop, thread in ((loop1, thread1), (loop2, thread2)):
        loop.stop()
        thread.join(20)
    # The old owner tries to commit before letting go. librdkafka's mock cluster refuses commits
    # while a rebalance is in progress (a real broker accepts them from the current generation),
    # so the new owners may re-read from the last commit: nothing is lost either way, and both
    # commit everything when they stop.
    ends = {p: 1 + max(r.offset for r in first.records if r.partition == p) for p in first.partitions}
    assert _committed(kafka, settings.group_id("danmaku"), settings.topic_danmaku) == ends
    read = {(r.partition, r.offset) for r in first.records + second.records}
    assert read == {(p, o) for p, end in ends.items() for o in range(end)}


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_signal_stops_the_loop_cleanly(kafka: str, signal_name: str) -> None:
    import signal as signals

    tag = uuid.uuid4().hex[:6]
    settings = _settings(tag)
    handler = RecordingHandler()
    loop = ConsumerLoop(settings, handler, kafka, settings.topic_danmaku)
    previous = {s: signals.getsignal(s) for s in (signals.SIGTERM, signals.SIGINT)}
    try:
        loop.install_signal_handlers()
        signals.raise_signal(getattr(signals, signal_name))
        assert loop.stopping
        stats = loop.run()  # returns at once: finishes, flushes, commits, closes
        assert handler.flushes == [(None, "shutdown")] and stats.consumed == 0
    finally:
        for sig, handler_fn in previous.items():
            signals.signal(sig, handler_fn)
