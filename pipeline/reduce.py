"""Reduce the flood: comments in, one representative per distinct question out.

`Reducer` is the whole per-room reduction the danmaku consumer runs and `livebot reduce`
runs: every comment is settled on arrival (duplicate, or into its room's window), and a
closed window becomes a `WindowBatch`: its statistics and its top representatives, which is
all the model tasks ever see. The counts of every window add up to what came in.

FOUNDATION PLACEHOLDER (issue 2): normalisation is NFKC + case folding and a cluster is an
exact normalised text. Issue 3 replaces both with the cleaning pass, the Aho-Corasick
prefilter and DBSCAN over embeddings; the interface stays.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import msgspec

from pipeline.contracts import Danmaku, Viewer, derive_id
from pipeline.window import ClosedWindow, RoomWindows

SAMPLE_MEMBERS = 5
MAX_SOURCE_IDS = 500  # an action names at most this many of the comments behind it


class WindowStats(msgspec.Struct):
    comments_in: int = 0
    deduplicated: int = 0
    moderated: int = 0
    spam: int = 0
    chatter: int = 0
    clustered: int = 0
    shed: int = 0
    clusters: int = 0
    sent: int = 0
    suppressed: int = 0

    def settled(self) -> int:
        return self.deduplicated + self.moderated + self.spam + self.chatter + self.clustered + self.shed


class Representative(msgspec.Struct):
    cluster_id: str
    event_id: str
    user_id: str
    text: str
    size: int
    distinct_viewers: int
    cue: str
    first_event_time: float
    last_event_time: float
    source_event_ids: list[str]
    sample_members: list[str]
    viewer: Viewer | None = None


class WindowBatch(msgspec.Struct):
    window_id: str
    room_id: str
    partition: int
    first_offset: int
    last_offset: int
    opened_at: float
    closed_at: float
    close_reason: str
    stats: WindowStats
    representatives: list[Representative]


@dataclass(frozen=True)
class ReduceConfig:
    window_max_size: int = 200
    window_max_age_s: float = 2.0
    dedup_window_s: float = 30.0
    top_k: int = 5


@dataclass(frozen=True)
class _Comment:
    event: Danmaku
    text: str
    key: str


class Reducer:
    def __init__(self, config: ReduceConfig) -> None:
        self.config = config
        self.windows: RoomWindows[_Comment] = RoomWindows(config.window_max_size, config.window_max_age_s)
        self._last_seen: dict[tuple[str, str, str], float] = {}

    def add(self, event: Danmaku, partition: int, offset: int, now: float) -> list[WindowBatch]:
        """Settle one comment; returns the window it filled, if it filled one."""
        window = self.windows.window_for(event.room_id, partition, offset, now)
        text = _normalise(event.text)
        key = "".join(ch for ch in text if ch.isalnum())
        seen_key = (event.room_id, event.user_id, key)
        last = self._last_seen.get(seen_key)
        self._last_seen[seen_key] = float(event.ts)
        if last is not None and abs(float(event.ts) - last) <= self.config.dedup_window_s:
            window.outcomes["deduplicated"] += 1
        else:
            window.items.append(_Comment(event, text, key))
        closed = self.windows.close_if_full(event.room_id, now)
        return [self._reduce(closed)] if closed else []

    def due(self, now: float) -> list[WindowBatch]:
        self._forget_before(now)
        return [self._reduce(closed) for closed in self.windows.due(now)]

    def flush(self, now: float, partitions: set[int] | None = None, reason: str = "revoked") -> list[WindowBatch]:
        return [self._reduce(closed) for closed in self.windows.flush(now, partitions, reason)]

    def held_offsets(self) -> dict[int, int]:
        return self.windows.held_offsets()

    def _forget_before(self, now: float) -> None:
        # Event times, not wall clock: the dedup memory is bounded by the dedup window.
        if len(self._last_seen) > 50_000:
            horizon = max(self._last_seen.values()) - self.config.dedup_window_s
            self._last_seen = {k: t for k, t in self._last_seen.items() if t >= horizon}

    def _reduce(self, closed: ClosedWindow[_Comment]) -> WindowBatch:
        window = closed.window
        groups: dict[str, list[_Comment]] = defaultdict(list)
        for comment in window.items:
            groups[comment.key].append(comment)
        clusters = sorted(groups.values(), key=lambda g: (len(g), len({c.event.user_id for c in g})), reverse=True)
        stats = WindowStats(
            comments_in=window.comments_in,
            deduplicated=window.outcomes["deduplicated"],
            clustered=len(window.items),
            clusters=len(clusters),
        )
        representatives = [_representative(window.window_id, group) for group in clusters[: self.config.top_k]]
        stats.sent = len(representatives)
        return WindowBatch(
            window_id=window.window_id,
            room_id=window.room_id,
            partition=window.partition,
            first_offset=window.first_offset,
            last_offset=window.last_offset,
            opened_at=window.opened_at,
            closed_at=closed.closed_at,
            close_reason=closed.reason,
            stats=stats,
            representatives=representatives,
        )


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _representative(window_id: str, group: list[_Comment]) -> Representative:
    first = min(group, key=lambda c: float(c.event.ts))
    times = [float(c.event.ts) for c in group]
    return Representative(
        cluster_id=derive_id(window_id, first.key)[:16],
        event_id=first.event.event_id,
        user_id=first.event.user_id,
        text=first.text,
        size=len(group),
        distinct_viewers=len({c.event.user_id for c in group}),
        cue="question",
        first_event_time=min(times),
        last_event_time=max(times),
        source_event_ids=[c.event.event_id for c in group[:MAX_SOURCE_IDS]],
        sample_members=list(dict.fromkeys(c.event.text for c in group))[:SAMPLE_MEMBERS],
        viewer=first.event.user,
    )
