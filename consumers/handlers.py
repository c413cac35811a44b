"""What each input kind does with its valid records; the loop in `loop.py` does the rest.

Hand-offs go through `Dispatcher`, which keeps anything the task broker refused and retries
it on the next batch; until then its offsets are held, so nothing is committed past work
that was not accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from pipeline import metrics
from pipeline.contracts import DeadLetter
from pipeline.reduce import Reducer, WindowBatch, WindowResult
from pipeline.settings import Settings
from consumers.loop import Record

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends work to the broker in order; keeps what failed, with the offsets it holds."""

    def __init__(self, kind: str, send: Callable[[Any], object]) -> None:
        self.kind = kind
        self.send = send
        self._pending: list[tuple[dict[int, int], Any]] = []

    def submit(self, work: Any, positions: dict[int, int]) -> None:
        self._pending.append((positions, work))
        self.drain()

    def drain(self) -> None:
        while self._pending:
            _, work = self._pending[0]
            try:
                self.send(work)
            except Exception as exc:  # the broker is away: keep the work, hold its offsets
                metrics.HANDOFF_FAILURES.labels(self.kind).inc()
                log.warning("hand-off failed, will retry", extra={"kind": self.kind, "error": repr(exc)})
                return
            self._pending.pop(0)

    def held_offsets(self) -> dict[int, int]:
        held: dict[int, int] = {}
        for positions, _ in self._pending:
            for partition, offset in positions.items():
                held[partition] = min(offset, held.get(partition, offset))
        return held

    @property
    def backlog(self) -> int:
        return len(self._pending)


def _merge(*helds: dict[int, int]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for held in helds:
        for partition, offset in held.items():
            merged[partition] = min(offset, merged.get(partition, offset))
    return merged


def _first_offsets(records: list[Record]) -> dict[int, int]:
    first: dict[int, int] = {}
    for record in records:
        first[record.partition] = min(record.offset, first.get(record.partition, record.offset))
    return first


class DanmakuHandler:
    """Comments → per-room reduction → one task chain per closed window."""

    kind = "danmaku"

    def __init__(self, settings: Settings, send_window: Callable[[WindowBatch], object],
                 send_moderations: Callable[[list[dict[str, Any]]], object],
                 send_dead_letters: Callable[[list[dict[str, Any]]], object]) -> None:
        self.reducer = Reducer.from_settings(settings)
        self.windows = Dispatcher("danmaku", send_window)
        self.moderations = Dispatcher("moderation", send_moderations)
        self.letters = Dispatcher("deadletter", send_dead_letters)

    def handle(self, records: list[Record], now: float) -> None:
        for record in records:
            self._submit(self.reducer.add(record.event, record.partition, record.offset, now))
        self._submit_moderations()

    def tick(self, now: float) -> None:
        for dispatcher in (self.windows, self.moderations, self.letters):
            dispatcher.drain()
        self._submit(self.reducer.due(now))

    def flush(self, partitions: set[int] | None, now: float, reason: str) -> None:
        self._submit(self.reducer.flush(now, partitions, reason))
        self._submit_moderations()

    def held_offsets(self) -> dict[int, int]:
        return _merge(self.reducer.held_offsets(), self.windows.held_offsets(), self.moderations.held_offsets(),
                      self.letters.held_offsets())

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        _submit_letters(self.letters, letters)

    def _submit(self, results: list[WindowResult]) -> None:
        for result in results:
            batch = result.batch
            metrics.WINDOWS.labels(batch.close_reason).inc()
            for outcome, count in msgspec.structs.asdict(batch.stats).items():
                metrics.COMMENTS.labels(outcome).inc(count)
            self.windows.submit(batch, {batch.partition: batch.first_offset})

    def _submit_moderations(self) -> None:
        decisions = self.reducer.take_moderations()
        if decisions:
            positions: dict[int, int] = {}
            for d in decisions:
                positions[d.partition] = min(d.offset, positions.get(d.partition, d.offset))
            self.moderations.submit([msgspec.to_builtins(d) for d in decisions], positions)


class StoreHandler:
    """ASR segments or stock updates: each batch is one storage task."""

    def __init__(self, kind: str, send_batch: Callable[[list[dict[str, Any]]], object],
                 send_dead_letters: Callable[[list[dict[str, Any]]], object]) -> None:
        self.kind = kind
        self.batches = Dispatcher(kind, send_batch)
        self.letters = Dispatcher("deadletter", send_dead_letters)

    def handle(self, records: list[Record], now: float) -> None:
        self.batches.submit([msgspec.to_builtins(r.event) for r in records], _first_offsets(records))

    def tick(self, now: float) -> None:
        self.batches.drain()
        self.letters.drain()

    def flush(self, partitions: set[int] | None, now: float, reason: str) -> None:
        self.tick(now)

    def held_offsets(self) -> dict[int, int]:
        return _merge(self.batches.held_offsets(), self.letters.held_offsets())

    def dead_letters(self, letters: list[DeadLetter]) -> None:
        _submit_letters(self.letters, letters)


def _submit_letters(dispatcher: Dispatcher, letters: list[DeadLetter]) -> None:
    positions: dict[int, int] = {}
    for letter in letters:
        positions[letter.partition] = min(letter.offset, positions.get(letter.partition, letter.offset))
    dispatcher.submit([msgspec.to_builtins(letter) for letter in letters], positions)
