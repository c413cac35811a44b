"""Per-room windows: collect a room's comments until the window is big enough or old enough.

One consumer owns a room's partition, so a room's window has a single writer. A window
remembers the Kafka positions it holds: the consumer may only commit a partition's offset
up to the first comment still sitting in an open window (`held_offsets`), which is what
keeps the at-least-once promise across a crash.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Window(Generic[T]):
    room_id: str
    partition: int
    first_offset: int
    opened_at: float  # wall clock, seconds
    last_offset: int = -1
    items: list[T] = field(default_factory=list)
    # Comments of this window that were settled on arrival (moderated, chatter, ...).
    outcomes: Counter[str] = field(default_factory=Counter)
    comments_in: int = 0

    @property
    def window_id(self) -> str:
        # Derived from the first comment's position: a replay after a crash rebuilds the same id.
        return f"{self.room_id}@{self.partition}:{self.first_offset}"


@dataclass(frozen=True)
class ClosedWindow(Generic[T]):
    window: Window[T]
    closed_at: float
    reason: str  # "size", "age", "revoked", "shutdown"


class RoomWindows(Generic[T]):
    """Open windows, one per room; closes them by size, by age, or on demand."""

    def __init__(self, max_size: int, max_age_s: float) -> None:
        if max_size < 1 or max_age_s <= 0:
            raise ValueError(f"window bounds must be positive, got size={max_size} age={max_age_s}")
        self.max_size = max_size
        self.max_age_s = max_age_s
        self._open: dict[str, Window[T]] = {}

    def window_for(self, room_id: str, partition: int, offset: int, now: float) -> Window[T]:
        window = self._open.get(room_id)
        if window is None:
            window = self._open[room_id] = Window(room_id, partition, offset, now)
        window.last_offset = max(window.last_offset, offset)
        window.comments_in += 1
        return window

    def close_if_full(self, room_id: str, now: float) -> ClosedWindow[T] | None:
        window = self._open.get(room_id)
        if window is not None and len(window.items) >= self.max_size:
            return self._close(room_id, now, "size")
        return None

    def due(self, now: float) -> list[ClosedWindow[T]]:
        """Windows whose age bound has passed."""
        expired = [room for room, w in self._open.items() if now - w.opened_at >= self.max_age_s]
        return [self._close(room, now, "age") for room in expired]

    def flush(self, now: float, partitions: set[int] | None = None, reason: str = "revoked") -> list[ClosedWindow[T]]:
        """Close every window (of `partitions`, if given): on revocation and on shutdown."""
        rooms = [r for r, w in self._open.items() if partitions is None or w.partition in partitions]
        return [self._close(room, now, reason) for room in rooms]

    def held_offsets(self) -> dict[int, int]:
        """Per partition, the lowest offset still held in an open window."""
        held: dict[int, int] = {}
        for window in self._open.values():
            held[window.partition] = min(held.get(window.partition, window.first_offset), window.first_offset)
        return held

    def __len__(self) -> int:
        return len(self._open)

    def _close(self, room_id: str, now: float, reason: str) -> ClosedWindow[T]:
        return ClosedWindow(self._open.pop(room_id), now, reason)
