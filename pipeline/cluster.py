"""Cluster one room window's comments into distinct questions and rank them.

A busy room asks the same few questions hundreds of times. When a window closes, the consumer
hands its cued comments to `cluster_window`, which returns one `Cluster` per distinct question
(with the member that best stands for it) plus the comments that belong to none; `rank` then
orders the clusters by how much answering them is worth and keeps the top K for the models.

How a window is clustered:

1. Comments with the same matching key (the normalised, symbol-stripped text) are collapsed into
   one point that carries their count as its DBSCAN `sample_weight`: the embedder and the
   neighbour search see each phrasing once however often it was sent, and a phrasing sent
   `min_samples` times is a cluster by itself.
2. The distinct keys are embedded (rows are L2-normalised, so a dot product is the cosine).
3. DBSCAN with cosine distance, brute-force neighbour search (sparse vectors have no tree
   index). Euclidean distance on the unit vectors is the same clustering (d² = 2 - 2cos), and
   so is a precomputed sparse radius graph, but on real danmaku windows neither was faster
   (2,000 comments: ~4.5 ms for each of the three), so eps stays in cosine units.
4. Each cluster's representative is its most central member: the key with the highest weighted
   mean similarity to all the cluster's comments (its own copies included, so a phrasing many
   viewers used is favoured). The seed approach took the shortest member, which picks "多少"
   over "这个多少钱" and drops the words the answer needs.
5. Points DBSCAN leaves as noise are still answered, as clusters of one key, when they carry a
   cue in `answer_noise_cues` (question, purchase and complaint by default: a lone "怎么退款"
   or "拍了怎么还没发货" deserves an answer as much as a lone question does, and chatter never
   reaches the window) at `lone_min_strength` or above: a lone "多少钱" (cue strength 1.0) is
   answered, a lone "?" (0.5) or a bare "吗" (0.4) is not, since on real danmaku those are
   mostly rhetorical. Other noise is returned in `Clustering.noise` for the caller to count.

Every input item lands exactly once, either in one cluster's members or in `noise`.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN

from pipeline.embed import Embedder, Vectors

CUES: tuple[str, ...] = ("question", "purchase", "complaint")
"""The cue labels the prefilter gives comments that may deserve an answer."""

DEFAULT_EPS: float = 0.4
"""Cosine *distance* radius for DBSCAN with `CharNgramEmbedder(ngram_range=(1, 3))`.

At 0.4 (similarity >= 0.6) "多少钱"/"多少钱呀" (0.70) and "多少钱"/"这个多少钱" (0.63) are
neighbours, so the three form one cluster, while different questions built from the same
filler ("这个多少钱"/"这个还有货吗" 0.29, "什么价"/"什么快递" 0.44) stay apart. Known miss
of any character-overlap measure: "3号多少钱" (0.63) joins "多少钱" although it asks about
another product. A neural encoder has its own similarity scale: the caller passes eps from
settings, tuned per embedder.
"""

DEFAULT_MIN_SAMPLES: int = 2
"""Comments (counting duplicates) within eps that make a core point: two viewers asking the same
thing is already a cluster; lone questions are answered anyway as cued noise."""

_CUE_TIE_ORDER: tuple[str, ...] = ("complaint", "question", "purchase")
# Ties between cues break toward complaints: an ignored complaint spreads through a live room,
# a duplicate purchase signal costs nothing.

@dataclass(frozen=True, slots=True)
class Item:
    """One cued comment of a room window, as the clustering stage needs it."""

    event_id: str
    user_id: str
    text: str
    """Normalised text (what a model would read)."""
    key: str
    """Normalised, symbol-stripped text used for matching; identical keys are collapsed."""
    cue: str
    """"question", "purchase", "complaint", or "" when the prefilter found none."""
    ts: float
    """Event time, epoch seconds."""
    cue_strength: float = 1.0
    """How sure the prefilter is of the cue, 0..1."""
    viewer_value: float = 0.0
    """The sender's value to the room, 0..1; see `viewer_value()`."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """One distinct question of a window: who asked it, how often, and who stands for it."""

    cluster_id: str
    """Short hash of the representative's key: a redelivered window yields the same ids."""
    representative: Item
    members: tuple[Item, ...]
    """Every comment of the cluster, duplicates included, ordered by (ts, event_id)."""
    size: int
    """Number of comments, counting duplicates."""
    distinct_viewers: int
    cue: str
    cue_strength: float
    """Mean cue strength over the members."""
    viewer_value: float
    """The highest viewer value among the members: one valuable viewer asking is enough."""
    first_ts: float
    last_ts: float
    from_noise: bool = False
    """True for a cued comment DBSCAN left as noise, answered as a cluster of one key."""
    score: float = 0.0
    """Priority, set by `rank`; 0 until then."""
    row: int = field(default=-1, compare=False)
    """The representative's row in `Clustering.vectors` (-1: none)."""

    @property
    def event_ids(self) -> tuple[str, ...]:
        """The members' event ids, for an action's `source_event_ids`."""
        return tuple(item.event_id for item in self.members)


@dataclass(frozen=True, slots=True)
class Clustering:
    """What `cluster_window` made of a window: answerable clusters and uncued noise."""

    clusters: tuple[Cluster, ...]
    """Largest first, then by cluster_id; not yet ranked."""
    noise: tuple[Item, ...] = ()
    """Comments in no cluster and with no answerable cue: counted, not answered."""
    vectors: Vectors | None = field(default=None, compare=False, repr=False)
    """The embeddings clustering computed, one row per distinct key (see `Cluster.row`)."""

    @property
    def n_clustered(self) -> int:
        """Comments that ended up in a cluster (cued singletons included)."""
        return sum(cluster.size for cluster in self.clusters)


@dataclass(frozen=True, slots=True)
class RankWeights:
    """How much each signal counts in a cluster's priority (see `rank`)."""

    size: float = 1.0
    """Weight of log(1 + comments)."""
    distinct_viewers: float = 1.0
    """Weight of log(1 + distinct viewers): many people asking beats one person asking often."""
    viewer_value: float = 1.0
    """Weight of the best member's viewer value (0..1)."""
    cue_strength: float = 0.5
    """Weight of the mean cue strength (0..1)."""
    recency: float = 1.0
    """Weight of 0.5 ** (age / recency_half_life_s) of the newest member."""
    recency_half_life_s: float = 20.0
    """A question asked this long ago counts half as fresh as one asked now."""

    def __post_init__(self) -> None:
        if self.recency_half_life_s <= 0:
            raise ValueError(f"recency_half_life_s must be > 0, got {self.recency_half_life_s}")


@dataclass(frozen=True, slots=True)
class ViewerValueWeights:
    """The parts of `viewer_value`; the defaults sum to 1 so a value stays within 0..1."""

    level: float = 0.35
    """Times min(level, level_cap) / level_cap."""
    level_cap: int = 50
    member: float = 0.25
    """Fan-club / membership."""
    spend_tier: float = 0.25
    """Times tier / max_spend_tier."""
    max_spend_tier: int = 4
    new_viewer: float = 0.15
    """A newcomer's first question is the moment they convert or leave."""


SPEND_TIERS: dict[str, int] = {
    "none": 0,
    "low": 1,
    "mid": 2,
    "medium": 2,
    "high": 3,
    "vip": 4,
    "svip": 4,
    "top": 4,
}
"""Names a platform may use for `spend_tier`; digits are read as the tier itself."""


def viewer_value(
    level: int | None,
    is_member: bool | None,
    spend_tier: str | int | None,
    new_viewer: bool | None,
    weights: ViewerValueWeights = ViewerValueWeights(),
) -> float:
    """A viewer's value to the room in 0..1, from the optional `user` fields of a danmaku event.

    Missing or unrecognised fields count as zero rather than failing: the platforms differ in
    what they send, and a comment must never be lost over its sender's profile.
    """
    value = 0.0
    if level is not None and weights.level_cap > 0:
        value += weights.level * min(max(int(level), 0), weights.level_cap) / weights.level_cap
    if is_member:
        value += weights.member
    tier = _spend_tier(spend_tier)
    if tier and weights.max_spend_tier > 0:
        value += weights.spend_tier * min(tier, weights.max_spend_tier) / weights.max_spend_tier
    if new_viewer:
        value += weights.new_viewer
    return value


def _spend_tier(spend_tier: str | int | None) -> int:
    if spend_tier is None or isinstance(spend_tier, bool):
        return 0
    if isinstance(spend_tier, int):
        return max(spend_tier, 0)
    name = spend_tier.strip().lower()
    if name.isdigit():
        return int(name)
    return SPEND_TIERS.get(name, 0)


def cluster_window(
    items: Sequence[Item],
    embedder: Embedder,
    *,
    eps: float,
    min_samples: int,
    answer_noise_cues: Iterable[str] = CUES,
    lone_min_strength: float = 0.0,
) -> Clustering:
    """Cluster a window's comments; see the module docstring for the method.

    `eps` is a cosine distance (1 - similarity) in (0, 2); `min_samples` counts comments,
    duplicates included. The result does not depend on the order of `items`. Items whose key
    and text are both empty cannot be matched to anything and are returned as noise.
    """
    if not 0.0 < eps < 2.0:
        raise ValueError(f"eps is a cosine distance and must be in (0, 2), got {eps}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples}")
    answerable = frozenset(answer_noise_cues)

    # Sorting first makes every later choice (group order, representative ties) independent of
    # the order in which a redelivered window arrives.
    ordered = sorted(items, key=lambda item: (item.ts, item.event_id))
    groups: dict[str, list[Item]] = defaultdict(list)
    unmatchable: list[Item] = []
    for item in ordered:
        match = _match_string(item)
        if match:
            groups[match].append(item)
        else:
            unmatchable.append(item)
    if not groups:
        return Clustering(clusters=(), noise=tuple(unmatchable))

    keys = list(groups)
    weights = np.fromiter((len(groups[key]) for key in keys), dtype=np.float64, count=len(keys))
    vectors = embedder.encode(keys)
    if vectors.shape[0] != len(keys):
        raise ValueError(
            f"embedder {embedder!r} returned {vectors.shape[0]} rows for {len(keys)} texts"
        )
    labels = _dbscan_labels(vectors, weights, eps=eps, min_samples=min_samples)

    representatives = _most_central(vectors, weights, labels)
    clusters: list[Cluster] = []
    noise: list[Item] = list(unmatchable)
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels.tolist()):
        by_label[label].append(index)
    for label, indices in by_label.items():
        if label >= 0:
            center = keys[representatives[label]]
            members = [item for index in indices for item in groups[keys[index]]]
            clusters.append(_make_cluster(center, groups[center], members, from_noise=False,
                                          row=representatives[label]))
            continue
        for index in indices:
            group = groups[keys[index]]
            strength = sum(item.cue_strength for item in group) / len(group)
            if strength >= lone_min_strength and any(item.cue in answerable for item in group):
                clusters.append(_make_cluster(keys[index], group, group, from_noise=True, row=index))
            else:
                noise.extend(group)

    clusters.sort(key=lambda cluster: (-cluster.size, cluster.cluster_id))
    noise.sort(key=lambda item: (item.ts, item.event_id))
    return Clustering(clusters=tuple(clusters), noise=tuple(noise), vectors=vectors)


def rank(
    clusters: Iterable[Cluster],
    now: float,
    *,
    top_k: int,
    weights: RankWeights = RankWeights(),
) -> list[Cluster]:
    """The `top_k` clusters by priority, highest first, each with its `score` set.

    score = size·log1p(size) + distinct_viewers·log1p(viewers) + viewer_value·best value
            + cue_strength·mean strength + recency·0.5^(age / half-life)

    Counts enter through a logarithm so that a flood of one question cannot drown every other
    signal: 200 comments outrank 20, but a valuable viewer's lone question can still beat a
    question two anonymous viewers asked. Ties break by size, then cluster_id, so the choice is
    deterministic.
    """
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    scored = [replace(cluster, score=_score(cluster, now, weights)) for cluster in clusters]
    scored.sort(key=lambda cluster: (-cluster.score, -cluster.size, cluster.cluster_id))
    return scored[:top_k]


def _score(cluster: Cluster, now: float, weights: RankWeights) -> float:
    age = max(0.0, now - cluster.last_ts)
    freshness = 0.5 ** (age / weights.recency_half_life_s)
    return (
        weights.size * math.log1p(cluster.size)
        + weights.distinct_viewers * math.log1p(cluster.distinct_viewers)
        + weights.viewer_value * cluster.viewer_value
        + weights.cue_strength * min(max(cluster.cue_strength, 0.0), 1.0)
        + weights.recency * freshness
    )


def cluster_id_for(key: str) -> str:
    """The id of a cluster whose representative has this key: 16 hex digits of BLAKE2b."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _match_string(item: Item) -> str:
    # An all-symbol comment has an empty key; its text is the only thing left to match on.
    return item.key or item.text.strip()


def _dbscan_labels(
    vectors: Vectors, weights: np.ndarray, *, eps: float, min_samples: int
) -> np.ndarray:
    if len(weights) == 1:
        # DBSCAN of one point needs no neighbour search: core iff its own weight suffices.
        return np.array([0 if weights[0] >= min_samples else -1])
    model = DBSCAN(eps=eps, min_samples=min_samples, metric="cosine", algorithm="brute")
    return model.fit(vectors, sample_weight=weights).labels_


def _most_central(vectors: Vectors, weights: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """For each cluster label, the index of its member with the highest centrality.

    Centrality is the weighted mean similarity to the cluster's comments, computed without
    the m x m similarity matrix: the mean of x_i . x_j over members j is x_i . c, where c is
    the weighted mean of the members' vectors, so one centroid per cluster and one row-wise
    dot product cover every cluster at once.
    """
    clustered = np.flatnonzero(labels >= 0)
    if clustered.size == 0:
        return {}
    member_labels = labels[clustered]
    n_clusters = int(member_labels.max()) + 1
    membership = sp.csr_matrix(
        (weights[clustered], (member_labels, clustered)), shape=(n_clusters, len(labels))
    )
    totals = np.asarray(membership.sum(axis=1)).ravel()
    centroids = membership @ vectors  # weighted sums; dividing by the totals comes last
    member_vectors = vectors[clustered]
    own_centroids = centroids[member_labels]
    if sp.issparse(member_vectors):
        dots = np.asarray(member_vectors.multiply(own_centroids).sum(axis=1)).ravel()
    else:
        dots = np.einsum("ij,ij->i", member_vectors, np.asarray(own_centroids))
    centrality = dots / totals[member_labels]
    # Sort by cluster, then centrality (rounded so float noise cannot beat the tie-breaks),
    # then the more frequent phrasing, then the earliest key (keys are in time order);
    # np.lexsort sorts by its last key first.
    order = np.lexsort(
        (clustered, -weights[clustered], -np.round(centrality, 6), member_labels)
    )
    best: dict[int, int] = {}
    for position in order.tolist():
        best.setdefault(int(member_labels[position]), int(clustered[position]))
    return best


def _make_cluster(
    key: str, key_items: list[Item], members: list[Item], *, from_noise: bool, row: int = -1
) -> Cluster:
    members = sorted(members, key=lambda item: (item.ts, item.event_id))
    return Cluster(
        cluster_id=cluster_id_for(key),
        representative=_representative_item(key_items),
        members=tuple(members),
        size=len(members),
        distinct_viewers=len({item.user_id for item in members}),
        cue=_dominant_cue(members),
        cue_strength=sum(item.cue_strength for item in members) / len(members),
        viewer_value=max(item.viewer_value for item in members),
        first_ts=members[0].ts,
        last_ts=max(item.ts for item in members),
        from_noise=from_noise,
        row=row,
    )


def _representative_item(key_items: list[Item]) -> Item:
    # Same key, possibly different punctuation: show the spelling most viewers used, and of
    # those the earliest comment (key_items is in time order).
    spelling_counts = Counter(item.text for item in key_items)
    best = max(spelling_counts.values())
    return next(item for item in key_items if spelling_counts[item.text] == best)


def _dominant_cue(members: list[Item]) -> str:
    counts = Counter(item.cue for item in members if item.cue)
    if not counts:
        return ""
    best = max(counts.values())
    tied = [cue for cue, count in counts.items() if count == best]
    for cue in _CUE_TIE_ORDER:
        if cue in tied:
            return cue
    return min(tied)
