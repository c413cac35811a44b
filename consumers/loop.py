"""The one consumer loop every input kind runs: poll → decode → hand off → commit.

The at-least-once promise rests on the order of the steps in `_process`:

1. decode every record; a record that breaks its contract becomes a dead letter;
2. hand the valid records to the kind's handler, which passes finished work to the task
   broker and keeps unfinished work (open windows) in memory;
3. flush the producer: the dead letters must be confirmed by the broker, or we stop here;
4. commit, per partition, up to the first record whose work is not handed off yet
   (`handler.held_offsets()`), never past it.

A crash between any two steps re-reads records from the last commit; the work they cause is
keyed by its cause, so doing it twice yields nothing new. When partitions are revoked, their
open work is flushed and committed first; on SIGTERM/SIGINT the loop finishes its batch,
flushes everything, commits and closes.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pipeline import metrics
from pipeline.contracts import ContractError, DeadLetter, Event, Limits, decode, encoder
from pipeline.kafka import Publisher, consumer_config
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """A valid event and where it came from."""

    event: Event
    partition: int
    offset: int


class Handler(Protocol):
    kind: str

    def handle(self, records: list[Record], now: float) -> None:
        """Take valid records; hand off whatever work is complete."""

    def tick(self, now: float) -> None:
        """Hand off work that became due with time (windows that aged)."""

    def flush(self, partitions: set[int] | None, now: float, reason: str) -> None:
        """Hand off all work of `partitions` (all when None), complete or not."""

    def held_offsets(self) -> dict[int, int]:
        """Per partition, the first offset whose work is not handed off yet."""

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        """Hand off the dead letters for storage."""


@dataclass
class LoopStats:
    consumed: int = 0
    valid: int = 0
    dead_lettered: int = 0
    commits: int = 0
    errors: list[str] = field(default_factory=list)


class ConsumerLoop:
    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        bootstrap: str,
        topic: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.topic = topic
        self.clock = clock
        self.stats = LoopStats()
        self.limits = Limits(
            settings.max_record_bytes, settings.max_text_chars, settings.max_future_skew_s, settings.max_event_age_s
        )
        self._stop = threading.Event()
        self._next_offsets: dict[int, int] = {}  # partition → offset after the last one consumed
        self._committed: dict[int, int] = {}
        self._last_poll = 0.0
        self._lag_checked = 0.0
        self.publisher = Publisher(bootstrap)
        self.consumer = Consumer(consumer_config(bootstrap, settings.group_id(handler.kind),
                                                 **{"fetch.wait.max.ms": settings.fetch_wait_max_ms}))

    # ---- lifecycle -----------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> LoopStats:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("consuming", extra={"kind": self.handler.kind, "topic": self.topic})
        try:
            while not self._stop.is_set():
                messages = self.consumer.consume(self.settings.consume_batch, self.settings.consume_timeout_s)
                self._last_poll = time.monotonic()
                with metrics.BATCH_SECONDS.labels(self.handler.kind).time():
                    self._process(messages)
                self._report_lag()
            # Shutdown: the batch is finished; hand off everything still open, commit, close.
            self.handler.flush(None, self.clock(), "shutdown")
            self.publisher.flush()
            self._commit(set(self._next_offsets))
        finally:
            self.consumer.close()
        log.info("stopped", extra={"kind": self.handler.kind, "consumed": self.stats.consumed})
        return self.stats

    def ready(self) -> bool:
        """Polling, with partitions to work on (for /readyz)."""
        return time.monotonic() - self._last_poll < 10 * self.settings.consume_timeout_s + 5 and bool(
            self.consumer.assignment())

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked < 5.0:
            return
        self._lag_checked = now
        for tp in self.consumer.position(self.consumer.assignment()):
            _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high >= 0:
                metrics.CONSUMER_LAG.labels(self.handler.kind, str(tp.partition)).set(max(0, high - tp.offset))

    # ---- one batch -----------------------------------------------------------------------
    def _process(self, messages: list[Message]) -> None:
        now = self.clock()
        records: list[Record] = []
        letters: list[DeadLetter] = []
        touched: set[int] = set()
        # 1. decode; contract failures become dead letters
        for message in messages:
            if message.error() is not None:
                self._broker_error(message.error())
                continue
            partition, offset = message.partition(), message.offset()
            touched.add(partition)
            self._next_offsets[partition] = offset + 1
            self.stats.consumed += 1
            try:
                event = decode(self.handler.kind, message.value(), now=now, limits=self.limits)
            except ContractError as exc:
                letters.append(DeadLetter.of(message.topic(), partition, offset, str(exc), message.value(), message.key()))
                continue
            records.append(Record(event, partition, offset))
        self.stats.valid += len(records)
        metrics.RECORDS.labels(self.handler.kind, "valid").inc(len(records))
        if letters:
            self._dead_letter(letters)
        # 2. hand off what is complete
        if records:
            self.handler.handle(records, now)
        self.handler.tick(now)
        # 3. the broker must have confirmed the dead letters before their offsets are committed
        self.publisher.flush()
        # 4. commit up to the first record whose work is still held
        self._commit(touched | set(self.handler.held_offsets()) | set(self._next_offsets))

    def _dead_letter(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            log.warning(
                "dead letter",
                extra={"kind": self.handler.kind, "partition": letter.partition, "offset": letter.offset,
                       "error": letter.error},
            )
            self.publisher.produce(self.settings.topic_deadletter, encoder.encode(letter), key=letter.key)
        self.handler.dead_letters(letters)
        self.stats.dead_lettered += len(letters)
        metrics.RECORDS.labels(self.handler.kind, "dead_letter").inc(len(letters))
        metrics.DEAD_LETTERS.labels(self.handler.kind).inc(len(letters))

    def _commit(self, partitions: set[int]) -> None:
        held = self.handler.held_offsets()
        offsets = []
        for partition in partitions:
            if partition not in self._next_offsets:
                continue
            safe = min(self._next_offsets[partition], held.get(partition, self._next_offsets[partition]))
            if self._committed.get(partition) != safe:
                offsets.append(TopicPartition(self.topic, partition, safe))
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the records are re-read after a restart and their work is idempotent.
            log.warning("commit failed: %s", exc, extra={"kind": self.handler.kind, "error": str(exc)})
            return
        for tp in offsets:
            self._committed[tp.partition] = tp.offset
        self.stats.commits += 1
        metrics.COMMITS.labels(self.handler.kind).inc()

    def _broker_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:  # not created yet: it will be on first write
            log.info("topic not there yet", extra={"kind": self.handler.kind, "error": str(error)})
            return
        self.stats.errors.append(str(error))
        log.error("kafka error", extra={"kind": self.handler.kind, "error": str(error)})

    # ---- rebalancing ---------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned", extra={"kind": self.handler.kind, "partitions": [p.partition for p in partitions]})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Another consumer takes these rooms over: hand off their windows and commit first."""
        lost = {p.partition for p in partitions}
        log.info("revoked", extra={"kind": self.handler.kind, "partitions": sorted(lost)})
        self.handler.flush(lost, self.clock(), "revoked")
        self.publisher.flush()
        self._commit(lost)
        for partition in lost:
            self._next_offsets.pop(partition, None)
            self._committed.pop(partition, None)
