"""Kafka wiring: client configs, a publisher that fails loudly, and the embedded mock cluster.

The embedded broker is librdkafka's own mock cluster: the process that creates it holds it
(`MockCluster`), and any other process connects to its address as a normal bootstrap server
for as long as that process lives.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from pipeline.settings import EMBEDDED, Settings

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Records were not confirmed by the broker; the caller must not treat them as handed off."""


class MockCluster:
    """librdkafka's in-process mock cluster, alive while this object is."""

    def __init__(self, brokers: int = 1) -> None:
        self._holder = Producer({"test.mock.num.brokers": brokers, "log_level": 3})
        metadata = self._holder.list_topics(timeout=10)
        self.bootstrap = ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())

    def close(self) -> None:
        self._holder.flush(1)


_embedded: MockCluster | None = None
_embedded_lock = threading.Lock()


def start_embedded_cluster() -> MockCluster:
    """Start (once per process) the mock cluster that `embedded` settings resolve to."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = MockCluster()
        return _embedded


def resolve_bootstrap(settings: Settings) -> str:
    if settings.kafka_bootstrap != EMBEDDED:
        return settings.kafka_bootstrap
    if _embedded is None:
        raise RuntimeError(
            "LIVEBOT_KAFKA_BOOTSTRAP is 'embedded' but no mock cluster runs in this process: "
            "start one with `livebot kafka` and set LIVEBOT_KAFKA_BOOTSTRAP to the address it prints"
        )
    return _embedded.bootstrap


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,  # retries never duplicate or reorder within a partition
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "log_level": 3,
    }
    config.update(overrides)
    return config


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,  # offsets are committed only after the hand-off
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "max.poll.interval.ms": 300_000,
        "log_level": 3,
    }
    config.update(overrides)
    return config


class Publisher:
    """An idempotent producer whose `flush` raises unless every record was confirmed."""

    def __init__(self, bootstrap: str, **overrides: Any) -> None:
        self._producer = Producer(producer_config(bootstrap, **overrides))
        self._failures: list[str] = []
        self._lock = threading.Lock()

    def produce(self, topic: str, value: bytes, key: str | bytes | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let librdkafka drain, then try again
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if remaining:
            raise PublishError(f"{remaining} record(s) not confirmed by the broker within {timeout:.0f} s")
        if failures:
            raise PublishError(f"{len(failures)} record(s) failed: {failures[0]}")

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            with self._lock:
                self._failures.append(f"{msg.topic()}: {err}")


def read_all(bootstrap: str, topics: list[str], *, idle_s: float = 3.0, max_wait_s: float = 60.0) -> list[Message]:
    """Every record now in `topics`, read from the start by a throwaway consumer group.

    Returns once nothing new arrived for `idle_s` after the first assignment (or `max_wait_s`).
    For summaries, tests and benchmarks: consumers of the action topics in production keep
    their own group and offsets.
    """
    import time
    import uuid

    from confluent_kafka import Consumer

    consumer = Consumer(consumer_config(bootstrap, f"livebot.reader.{uuid.uuid4().hex[:8]}"))
    consumer.subscribe(topics)
    records: list[Message] = []
    started = time.monotonic()
    last: float | None = None  # when something last happened, once partitions are assigned
    try:
        while time.monotonic() - started < max_wait_s:
            batch = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            records.extend(batch)
            now = time.monotonic()
            if batch or (last is None and consumer.assignment()):
                last = now
            elif last is not None and now - last >= idle_s:
                break
    finally:
        consumer.close()
    return records
