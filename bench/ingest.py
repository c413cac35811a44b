"""Ingest throughput: consume + decode + validate through the mock cluster, against baselines.

In one run, on the same records (danmaku with 1 % malformed):
  * baseline `json.loads`: a plain `json.loads` loop over the records in memory;
  * baseline `consume + json.loads`: a bare confluent-kafka consumer loop that only parses;
  * livebot: the real `ConsumerLoop` (batch consume, strict decode and validation, dead
    letters produced, offsets committed) with a handler that only counts.
Prints records/s for each and the ratios; the last line is one JSON object.

    .venv/bin/python bench/ingest.py [--records 200000]
"""

from __future__ import annotations

import argparse
import logging
import json
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Consumer, Producer  # noqa: E402

from consumers.loop import ConsumerLoop, Record  # noqa: E402
from pipeline.contracts import DeadLetter  # noqa: E402
from pipeline.kafka import MockCluster, consumer_config, producer_config  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

TEXTS = ["这个精华多少钱", "敏感肌能用吗", "还有货吗", "666", "哈哈哈哈", "卫衣有XL吗", "拍了", "主播好美啊啊啊"]


def make_records(n: int) -> list[bytes]:
    now_ms = int(time.time() * 1000)
    records = []
    for i in range(n):
        if i % 100 == 99:
            records.append(b'{"event_id": "bad", "text": 1}')
            continue
        records.append(json.dumps({
            "event_id": f"e{i}", "room_id": f"room-{i % 50}", "user_id": f"u{i % 5000}", "text": TEXTS[i % len(TEXTS)],
            "ts": now_ms, "platform": "douyin",
            "user": {"nickname": "观众", "level": i % 30, "is_member": i % 7 == 0, "spend_tier": "mid"},
        }, ensure_ascii=False).encode())
    return records


def bench_json_loads(records: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in records:
        try:
            json.loads(raw)
        except ValueError:
            pass
    return len(records) / (time.perf_counter() - started)


def bench_bare_consumer(bootstrap: str, topic: str, n: int) -> float:
    consumer = Consumer(consumer_config(bootstrap, f"bench.bare.{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([topic])
    seen, started = 0, None
    while seen < n:
        for message in consumer.consume(500, 1.0):
            if message.error() is not None:
                continue
            started = started or time.perf_counter()
            json.loads(message.value())
            seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


class CountingHandler:
    kind = "danmaku"

    def __init__(self) -> None:
        self.valid = 0
        self.dead = 0
        self.first_at: float | None = None

    def handle(self, records: list[Record], now: float) -> None:
        self.first_at = self.first_at or time.perf_counter()
        self.valid += len(records)

    def tick(self, now: float) -> None: ...
    def flush(self, partitions: set[int] | None, now: float, reason: str) -> None: ...
    def held_offsets(self) -> dict[int, int]:
        return {}

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        self.dead += len(letters)


def bench_livebot(bootstrap: str, topic: str, n: int) -> tuple[float, int]:
    settings = Settings(consumer_group_prefix=f"bench.{uuid.uuid4().hex[:6]}", topic_deadletter=f"{topic}.dlq")
    handler = CountingHandler()
    loop = ConsumerLoop(settings, handler, bootstrap, topic)
    thread = threading.Thread(target=loop.run)
    thread.start()
    while handler.valid + handler.dead < n:
        time.sleep(0.01)
    elapsed = time.perf_counter() - (handler.first_at or time.perf_counter())
    loop.stop()
    thread.join()
    return n / elapsed, handler.dead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the 1 % malformed records would log a line each

    cluster = MockCluster()
    topic = f"bench.danmaku.{uuid.uuid4().hex[:6]}"
    records = make_records(args.records)
    producer = Producer(producer_config(cluster.bootstrap, **{"linger.ms": 20}))
    for i, raw in enumerate(records):
        while True:
            try:
                producer.produce(topic, raw, key=f"room-{i % 50}")
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    print(f"produced {len(records)} records ({sum(map(len, records)) / len(records):.0f} B avg) to the mock cluster")

    loads = bench_json_loads(records)
    print(f"baseline json.loads in memory     {loads:>12,.0f} records/s")
    bare = bench_bare_consumer(cluster.bootstrap, topic, len(records))
    print(f"baseline consume + json.loads     {bare:>12,.0f} records/s")
    livebot, dead = bench_livebot(cluster.bootstrap, topic, len(records))
    print(f"livebot consume+decode+validate   {livebot:>12,.0f} records/s  ({dead} dead-lettered)")
    print(f"ratio livebot / consume+json.loads: {livebot / bare:.2f}; livebot / json.loads: {livebot / loads:.2f}")
    print(json.dumps({
        "bench": "ingest", "records": len(records), "dead_lettered": dead,
        "json_loads_per_s": round(loads), "bare_consume_json_loads_per_s": round(bare),
        "livebot_per_s": round(livebot), "ratio_vs_bare_consumer": round(livebot / bare, 3),
        "ratio_vs_json_loads": round(livebot / loads, 3),
    }))


if __name__ == "__main__":
    main()
