"""Reduce the flood: comments in, one representative per distinct question out.

`Reducer` is the whole per-room reduction that the danmaku consumer runs and that
`livebot reduce` runs. Every comment is settled on arrival, in this order:

1. normalise (`text.normalize`) and mask personal data (`text.mask_pii`);
2. one Aho-Corasick pass (`prefilter`): `sensitive` and `spam` become moderation decisions
   and go no further;
3. the same viewer repeating the same key within the dedup window is counted once;
4. `chatter` is counted, not answered;
5. question, purchase and complaint comments join the room's window; past the process-wide
   bound the lowest-value comment is shed.

A window closes by size or age. Its comments are embedded and clustered with DBSCAN
(`cluster`; a lone comment is answered only when its cue is strong enough), the clusters are
ranked, questions this room answered recently about the same product are suppressed (the
products a question names come from the catalogue's names and aliases: "面霜多少钱" does not
repeat "多少钱" answered while the lipstick was on screen), and the top K go on as a
`WindowBatch`: its statistics and representatives, which is all the model tasks ever see.
The counts of every window add up to what came in:
comments_in = deduplicated + moderated + spam + chatter + clustered + shed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from pipeline.cluster import Cluster, Item, RankWeights, cluster_window, rank, viewer_value
from pipeline.contracts import Danmaku, Viewer
from pipeline.catalogue import Catalogue
from pipeline.embed import CharNgramEmbedder, Embedder, Vectors, load_embedder
from pipeline.host import HostContext
from pipeline.prefilter import LEXICON_DIR, Prefilter, PrefilterCache
from pipeline.recent import Candidate, RecentAnswers
from pipeline.settings import Settings
from pipeline.text import mask_pii, normalize
from pipeline.window import ClosedWindow, RoomWindows, Window

SAMPLE_MEMBERS = 5
MAX_SOURCE_IDS = 500  # an action names at most this many of the comments behind it
MAX_UNANSWERED = 20  # unanswered clusters a window reports, largest first


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
    score: float = 0.0


class Unanswered(msgspec.Struct):
    """A cluster of the window that got no reply, and why (for the analysts' unanswered list)."""

    cluster_id: str
    text: str
    size: int
    distinct_viewers: int
    reason: str  # "suppressed" (answered recently) or "below_top_k"
    first_event_time: float


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
    unanswered: list[Unanswered] = []


class Moderation(msgspec.Struct, frozen=True):
    """A comment to hide: sensitive or spam, decided on arrival."""

    event_id: str
    room_id: str
    user_id: str
    label: Literal["sensitive", "spam"]
    reason: str
    event_time: float
    partition: int
    offset: int


@dataclass(frozen=True)
class RankedCluster:
    """A cluster of a closed window and what became of it (for `livebot reduce`)."""

    cluster: Cluster
    outcome: Literal["sent", "suppressed", "below_top_k"]


@dataclass(frozen=True)
class WindowResult:
    batch: WindowBatch
    clusters: list[RankedCluster]


@dataclass(frozen=True)
class ReduceConfig:
    window_max_size: int = 200
    window_max_age_s: float = 2.0
    dedup_window_s: float = 30.0
    top_k: int = 30
    cluster_eps: float = 0.5
    cluster_min_samples: int = 2
    lone_min_cue_strength: float = 0.6
    repeat_ttl_s: float = 180.0
    repeat_similarity: float = 0.6
    max_open_comments: int = 50_000
    dedup_memory: int = 200_000  # (room, viewer, text) keys remembered for same-viewer dedup
    rank_weights: RankWeights = field(default_factory=RankWeights)


@dataclass(frozen=True, slots=True)
class _Comment:
    item: Item
    viewer: Viewer | None


class Reducer:
    def __init__(
        self,
        config: ReduceConfig,
        *,
        prefilter: Prefilter | PrefilterCache | None = None,
        embedder: Embedder | None = None,
        products: Callable[[str], list[str]] | None = None,
    ) -> None:
        """`products(text)` names the skus a question mentions (e.g. `HostContext.mentions`'s
        first half); repeat suppression is then scoped by them. None: scoped by room only."""
        self.config = config
        self.products = products
        self.prefilter = prefilter or PrefilterCache()
        self.embedder = embedder or CharNgramEmbedder()
        self.windows: RoomWindows[_Comment] = RoomWindows(config.window_max_size, config.window_max_age_s)
        self.recent = RecentAnswers(self.embedder, ttl_s=config.repeat_ttl_s, similarity=config.repeat_similarity)
        self._last_seen: dict[tuple[str, str, str], float] = {}
        self._moderations: list[Moderation] = []
        self._open_comments = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "Reducer":
        config = ReduceConfig(
            window_max_size=settings.window_max_size,
            window_max_age_s=settings.window_max_age_s,
            dedup_window_s=settings.dedup_window_s,
            top_k=settings.top_k_per_window,
            cluster_eps=settings.cluster_eps,
            cluster_min_samples=settings.cluster_min_samples,
            lone_min_cue_strength=settings.lone_min_cue_strength,
            repeat_ttl_s=settings.repeat_ttl_s,
            repeat_similarity=settings.repeat_similarity,
            max_open_comments=settings.max_open_comments,
        )
        lexicons = PrefilterCache(settings.lexicon_dir or LEXICON_DIR, check_every_s=settings.lexicon_reload_s)
        return cls(config, prefilter=lexicons, embedder=load_embedder(settings.embedder_path),
                   products=product_finder(Catalogue.load(settings.catalogue_file)))

    # ---- arrival ---------------------------------------------------------------------------
    def add(self, event: Danmaku, partition: int, offset: int, now: float) -> list[WindowResult]:
        """Settle one comment; returns the window it filled, if it filled one."""
        window = self.windows.window_for(event.room_id, partition, offset, now)
        norm = normalize(event.text)
        masked = mask_pii(norm.text)
        verdict = self._prefilter().classify(norm, masked.kinds)
        ts = float(event.ts)
        if verdict.moderated:
            window.outcomes["moderated" if verdict.label == "sensitive" else "spam"] += 1
            reason = f"{verdict.label}: {', '.join(verdict.cues) or 'lexicon'}"
            self._moderations.append(Moderation(event.event_id, event.room_id, event.user_id, verdict.label,  # type: ignore[arg-type]
                                                reason, ts, partition, offset))
        elif self._is_repeat_by_viewer(event, norm.key or norm.text, ts):
            window.outcomes["deduplicated"] += 1
        elif not verdict.windowed:
            window.outcomes["chatter"] += 1
        else:
            user = event.user
            item = Item(
                event_id=event.event_id, user_id=event.user_id, text=masked.text, key=norm.key, cue=verdict.label,
                ts=ts, cue_strength=verdict.strength,
                viewer_value=viewer_value(user.level, user.is_member, user.spend_tier, user.new_viewer) if user else 0.0,
            )
            self._admit(window, _Comment(item, user))
        closed = self.windows.close_if_full(event.room_id, now)
        return [self._reduce(closed, now)] if closed else []

    def take_moderations(self) -> list[Moderation]:
        """The moderation decisions made since the last call."""
        taken, self._moderations = self._moderations, []
        return taken

    def _prefilter(self) -> Prefilter:
        return self.prefilter.get() if isinstance(self.prefilter, PrefilterCache) else self.prefilter

    def _is_repeat_by_viewer(self, event: Danmaku, key: str, ts: float) -> bool:
        seen_key = (event.room_id, event.user_id, key)
        last = self._last_seen.get(seen_key)
        self._last_seen[seen_key] = ts
        if len(self._last_seen) > self.config.dedup_memory:
            self._forget(ts)
        return last is not None and abs(ts - last) <= self.config.dedup_window_s

    def _forget(self, now: float) -> None:
        """Bound the dedup memory: drop what is past the dedup window, and if that is not enough,
        keep only the most recent half. Pruning to half (not just under the bound) keeps the
        cost amortised: the next prune is half a bound of comments away, whatever the load."""
        horizon = now - self.config.dedup_window_s
        kept = {k: t for k, t in self._last_seen.items() if t >= horizon}
        keep = self.config.dedup_memory // 2
        if len(kept) > keep:  # a flood of distinct texts: the dedup window shrinks, memory does not grow
            kept = dict(sorted(kept.items(), key=lambda item: item[1])[-keep:])
        self._last_seen = kept

    def _admit(self, window: Window[_Comment], comment: _Comment) -> None:
        """Add to the window; past the process-wide bound, shed the lowest-value comment."""
        if self._open_comments < self.config.max_open_comments:
            window.items.append(comment)
            self._open_comments += 1
            return
        # Full: the new comment replaces this room's lowest-value one if it is worth more.
        weakest = min(range(len(window.items)), key=lambda i: _value(window.items[i]), default=None)
        if weakest is not None and _value(window.items[weakest]) < _value(comment):
            window.items[weakest] = comment
        window.outcomes["shed"] += 1

    # ---- closing ---------------------------------------------------------------------------
    def due(self, now: float) -> list[WindowResult]:
        return [self._reduce(closed, now) for closed in self.windows.due(now)]

    def flush(self, now: float, partitions: set[int] | None = None, reason: str = "revoked") -> list[WindowResult]:
        return [self._reduce(closed, now) for closed in self.windows.flush(now, partitions, reason)]

    def held_offsets(self) -> dict[int, int]:
        held = self.windows.held_offsets()
        for moderation in self._moderations:  # decided but not handed off yet
            held[moderation.partition] = min(moderation.offset, held.get(moderation.partition, moderation.offset))
        return held

    def _reduce(self, closed: ClosedWindow[_Comment], now: float) -> WindowResult:
        window = closed.window
        self._open_comments -= len(window.items)
        viewers = {c.item.event_id: c.viewer for c in window.items}
        clustering = cluster_window([c.item for c in window.items], self.embedder,
                                    eps=self.config.cluster_eps, min_samples=self.config.cluster_min_samples,
                                    lone_min_strength=self.config.lone_min_cue_strength)
        stats = WindowStats(
            comments_in=window.comments_in,
            deduplicated=window.outcomes["deduplicated"],
            moderated=window.outcomes["moderated"],
            spam=window.outcomes["spam"],
            chatter=window.outcomes["chatter"] + len(clustering.noise),  # cue-less leftovers are chatter
            clustered=clustering.n_clustered,
            shed=window.outcomes["shed"],
            clusters=len(clustering.clusters),
        )
        ranked: list[RankedCluster] = []
        representatives: list[Representative] = []
        ordered = rank(clustering.clusters, closed.closed_at, top_k=len(clustering.clusters),
                       weights=self.config.rank_weights)
        keys = [cluster.representative.key or cluster.representative.text for cluster in ordered]
        screen = self.recent.screen(
            [Candidate(self._scope(window.room_id, key), key, cluster.last_ts) for key, cluster in zip(keys, ordered)],
            _rows(clustering.vectors, [cluster.row for cluster in ordered]),
        )
        for index, cluster in enumerate(ordered):
            if len(representatives) >= self.config.top_k:
                ranked.append(RankedCluster(cluster, "below_top_k"))
            elif screen.is_repeat(index):
                stats.suppressed += 1
                ranked.append(RankedCluster(cluster, "suppressed"))
            else:
                screen.remember(index)
                representatives.append(_representative(cluster, viewers))
                ranked.append(RankedCluster(cluster, "sent"))
        stats.sent = len(representatives)
        batch = WindowBatch(
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
            unanswered=_unanswered(ranked),
        )
        return WindowResult(batch, ranked)


    def _scope(self, room_id: str, key: str) -> str:
        """The repeat memory a question is checked against: its room, and the products it names."""
        if self.products is None:
            return room_id
        skus = sorted(set(self.products(key)))
        return f"{room_id}:{'+'.join(skus)}" if skus else room_id


def product_finder(catalogue: Catalogue) -> Callable[[str], list[str]]:
    """The skus a text names, by the catalogue's names and aliases (longest match first)."""
    host = HostContext(catalogue)
    return lambda text: host.mentions(text)[0]


def _rows(vectors: Vectors | None, rows: list[int]) -> Vectors | None:
    """The given rows of the clustering's vectors; None unless every cluster has one."""
    if vectors is None or not rows or min(rows) < 0:
        return None
    return vectors[rows]


def _unanswered(ranked: list[RankedCluster]) -> list[Unanswered]:
    left = sorted((r for r in ranked if r.outcome != "sent"), key=lambda r: -r.cluster.size)[:MAX_UNANSWERED]
    return [
        Unanswered(r.cluster.cluster_id, r.cluster.representative.text, r.cluster.size, r.cluster.distinct_viewers,
                   r.outcome, r.cluster.first_ts)
        for r in left
    ]


def _value(comment: _Comment) -> float:
    return comment.item.viewer_value + comment.item.cue_strength


def _representative(cluster: Cluster, viewers: dict[str, Viewer | None]) -> Representative:
    rep = cluster.representative
    return Representative(
        cluster_id=cluster.cluster_id,
        event_id=rep.event_id,
        user_id=rep.user_id,
        text=rep.text,
        size=cluster.size,
        distinct_viewers=cluster.distinct_viewers,
        cue=cluster.cue,
        first_event_time=cluster.first_ts,
        last_event_time=cluster.last_ts,
        source_event_ids=list(cluster.event_ids[:MAX_SOURCE_IDS]),
        sample_members=list(dict.fromkeys(item.text for item in cluster.members))[:SAMPLE_MEMBERS],
        viewer=viewers.get(rep.event_id),
        score=round(cluster.score, 4),
    )
