"""Clustering a room window into distinct questions, choosing representatives, ranking."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cluster import (
    DEFAULT_EPS,
    DEFAULT_MIN_SAMPLES,
    Cluster,
    Clustering,
    Item,
    RankWeights,
    ViewerValueWeights,
    cluster_id_for,
    cluster_window,
    rank,
    viewer_value,
)
from pipeline.embed import CharNgramEmbedder

_ids = itertools.count()


def item(
    key: str,
    *,
    text: str | None = None,
    user: str | None = None,
    cue: str = "question",
    ts: float = 0.0,
    cue_strength: float = 1.0,
    value: float = 0.0,
    event_id: str | None = None,
) -> Item:
    n = next(_ids)
    return Item(
        event_id=event_id or f"ev{n}",
        user_id=user or f"user{n}",
        text=key if text is None else text,
        key=key,
        cue=cue,
        ts=ts,
        cue_strength=cue_strength,
        viewer_value=value,
    )


class RecordingEmbedder:
    """Character n-grams, remembering what it was asked to encode."""

    def __init__(self) -> None:
        self.inner = CharNgramEmbedder()
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return self.inner.encode(texts)


class FixedEmbedder:
    """Vectors chosen by the test, for exact control over geometry."""

    def __init__(self, vectors: Mapping[str, list[float]]) -> None:
        self.vectors = {key: np.asarray(v, dtype=np.float32) for key, v in vectors.items()}

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.stack([self.vectors[text] for text in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def run(items: list[Item], embedder: object | None = None, **kwargs: object) -> Clustering:
    options: dict[str, object] = {"eps": DEFAULT_EPS, "min_samples": DEFAULT_MIN_SAMPLES}
    options.update(kwargs)
    return cluster_window(items, embedder or CharNgramEmbedder(), **options)  # type: ignore[arg-type]


def by_representative(result: Clustering) -> dict[str, Cluster]:
    return {cluster.representative.key: cluster for cluster in result.clusters}


def all_event_ids(result: Clustering) -> list[str]:
    ids = [member.event_id for cluster in result.clusters for member in cluster.members]
    return ids + [noise.event_id for noise in result.noise]


# --- collapsing identical keys -------------------------------------------------------------


def test_identical_keys_collapse_into_one_point_whose_cluster_counts_every_comment() -> None:
    embedder = RecordingEmbedder()
    items = [item("多少钱", text="多少钱？"), item("多少钱"), item("多少钱", text="多少钱!!")]
    items += [item("多少钱") for _ in range(4)]

    result = run(items, embedder)

    assert embedder.calls == [["多少钱"]]
    [cluster] = result.clusters
    assert cluster.size == 7
    assert cluster.distinct_viewers == 7
    assert not cluster.from_noise


def test_a_key_sent_min_samples_times_is_a_cluster_by_its_weight_alone() -> None:
    # Weights are what make the difference: three copies reach min_samples=3, two do not.
    three = [item("还有货吗") for _ in range(3)]
    two = [item("发什么快递") for _ in range(2)]

    clusters = by_representative(run(three + two, min_samples=3))

    assert not clusters["还有货吗"].from_noise
    assert clusters["发什么快递"].from_noise
    assert clusters["发什么快递"].size == 2


def test_cluster_counts_distinct_viewers_separately_from_comments() -> None:
    items = [item("包邮吗", user="a"), item("包邮吗", user="a"), item("包邮吗", user="b")]

    [cluster] = run(items).clusters

    assert (cluster.size, cluster.distinct_viewers) == (3, 2)


# --- which comments end up together --------------------------------------------------------


def test_price_paraphrases_cluster_together_and_a_stock_question_stays_apart() -> None:
    items = [item("多少钱"), item("多少钱呀"), item("这个多少钱"), item("有货吗")]

    clusters = by_representative(run(items))

    price = clusters["多少钱"]
    assert sorted(m.key for m in price.members) == ["多少钱", "多少钱呀", "这个多少钱"]
    assert [m.key for m in clusters["有货吗"].members] == ["有货吗"]
    assert clusters["有货吗"].from_noise


def test_questions_sharing_only_filler_words_are_not_merged() -> None:
    items = [item(k) for k in ["这个多少钱", "这个多少钱呀", "这个还有货吗", "这个还有货吗"]]

    clusters = by_representative(run(items))

    assert len(clusters) == 2
    assert {m.key for m in clusters["这个还有货吗"].members} == {"这个还有货吗"}


def test_representative_is_the_most_central_member_not_the_shortest() -> None:
    items = [item(k) for k in ["这个多少钱呀", "多少钱", "这个多少钱啊", "这个多少钱"]]

    [cluster] = run(items).clusters

    assert cluster.size == 4
    assert cluster.representative.key == "这个多少钱"


def test_representative_weighs_members_by_how_often_they_were_sent() -> None:
    # Geometrically b is the middle of a-b-c; but c was sent ten times, which pulls the
    # weighted centre to c.
    embedder = FixedEmbedder({"a": [1.0, 0.0], "b": [0.9, 0.44], "c": [0.6, 0.8]})
    unweighted = run([item("a"), item("b"), item("c")], embedder, eps=0.5)
    weighted = run([item("a"), item("b")] + [item("c") for _ in range(10)], embedder, eps=0.5)

    assert unweighted.clusters[0].representative.key == "b"
    assert weighted.clusters[0].representative.key == "c"


def test_representative_shows_the_spelling_most_viewers_used() -> None:
    items = [item("多少钱", text="多少钱??"), item("多少钱", text="多少钱？"), item("多少钱", text="多少钱？")]

    [cluster] = run(items).clusters

    assert cluster.representative.text == "多少钱？"


def test_distinct_keys_with_identical_vectors_are_neighbours() -> None:
    embedder = FixedEmbedder({"x": [1.0, 0.0], "y": [1.0, 0.0]})

    [cluster] = run([item("x"), item("y")], embedder).clusters

    assert cluster.size == 2 and not cluster.from_noise


# --- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cue", ["question", "purchase", "complaint"])
def test_a_lone_cued_comment_is_answered_as_a_cluster_of_one(cue: str) -> None:
    lone = item("主播身高多少", cue=cue)

    [cluster] = run([lone]).clusters

    assert cluster.from_noise
    assert cluster.members == (lone,)
    assert cluster.cue == cue


def test_lone_comments_without_an_answerable_cue_are_reported_as_noise() -> None:
    chatter = [item("今天好漂亮", cue=""), item("主播加油", cue="")]
    question = item("能退吗")

    result = run(chatter + [question])

    assert [c.representative for c in result.clusters] == [question]
    assert sorted(n.event_id for n in result.noise) == sorted(c.event_id for c in chatter)


def test_answer_noise_cues_limits_which_lone_comments_are_answered() -> None:
    purchase = item("拍了", cue="purchase")
    question = item("几号链接")

    result = run([purchase, question], answer_noise_cues={"question"})

    assert [c.representative for c in result.clusters] == [question]
    assert result.noise == (purchase,)


def test_comments_with_nothing_to_match_on_are_noise() -> None:
    blank = item("", text="   ")

    result = run([blank, item("", text="")])

    assert result.clusters == ()
    assert len(result.noise) == 2


# --- edge sizes and accounting ---------------------------------------------------------------


def test_an_empty_window_gives_nothing_and_never_calls_the_embedder() -> None:
    embedder = RecordingEmbedder()

    result = run([], embedder)

    assert result == Clustering(clusters=(), noise=())
    assert embedder.calls == []


def test_a_window_of_one_identical_comment_repeated_is_one_cluster() -> None:
    items = [item("链接在哪", ts=float(i)) for i in range(1000)]

    [cluster] = run(items).clusters

    assert cluster.size == 1000
    assert (cluster.first_ts, cluster.last_ts) == (0.0, 999.0)


def test_two_thousand_comments_are_each_accounted_for_exactly_once() -> None:
    rng = random.Random(7)
    phrasings = ["多少钱", "多少钱呀", "这个多少钱", "有货吗", "还有货吗", "发什么快递", "包邮吗",
                 "尺码怎么选", "160斤穿什么码", "什么时候发货", "几号链接", "能退吗", "质量怎么样"]
    items = []
    for i in range(2000):
        base = rng.choice(phrasings)
        # A tail of one-off variants, as in a real room.
        key = base if rng.random() < 0.8 else f"{base}{rng.randrange(1000)}"
        items.append(item(key, cue=rng.choice(["question", "purchase", ""]), ts=i / 10))

    result = run(items)

    assert sorted(all_event_ids(result)) == sorted(i.event_id for i in items)
    assert result.n_clustered + len(result.noise) == 2000


_keys = st.sampled_from(["多少钱", "多少钱呀", "这个多少钱", "有货吗", "还有货吗", "包邮吗",
                         "哈哈", "", "a", "xl码有吗", "🙂"])


@st.composite
def windows(draw: st.DrawFn) -> list[Item]:
    n = draw(st.integers(min_value=0, max_value=40))
    return [
        Item(
            event_id=f"e{i}",
            user_id=draw(st.sampled_from(["u1", "u2", "u3"])),
            text=(key := draw(_keys)),
            key=key,
            cue=draw(st.sampled_from(["question", "purchase", "complaint", ""])),
            ts=draw(st.floats(min_value=0, max_value=100)),
            cue_strength=draw(st.floats(min_value=0, max_value=1)),
            viewer_value=draw(st.floats(min_value=0, max_value=1)),
        )
        for i in range(n)
    ]


@settings(max_examples=100, deadline=None)
@given(window=windows(), min_samples=st.integers(min_value=1, max_value=4))
def test_every_comment_lands_in_exactly_one_cluster_or_in_noise(
    window: list[Item], min_samples: int
) -> None:
    result = run(window, min_samples=min_samples)

    assert Counter(all_event_ids(result)) == Counter(i.event_id for i in window)
    for cluster in result.clusters:
        assert cluster.size == len(cluster.members)
        assert cluster.distinct_viewers == len({m.user_id for m in cluster.members})
        assert cluster.representative in cluster.members
        assert cluster.cluster_id == cluster_id_for(cluster.representative.key)
    assert len({c.cluster_id for c in result.clusters}) == len(result.clusters)


# --- determinism -----------------------------------------------------------------------------


def test_a_redelivered_window_in_another_order_yields_the_same_clusters() -> None:
    rng = random.Random(3)
    keys = ["多少钱", "多少钱呀", "这个多少钱", "有货吗", "还有货吗", "这个还有货吗", "包邮吗"]
    items = [item(rng.choice(keys), ts=float(i)) for i in range(60)]
    shuffled = items[:]
    rng.shuffle(shuffled)

    first, second = run(items), run(shuffled)

    assert first == second
    assert [c.cluster_id for c in first.clusters] == [
        cluster_id_for(c.representative.key) for c in first.clusters
    ]


def test_cluster_ids_depend_on_the_representative_not_on_the_window() -> None:
    earlier = run([item("多少钱"), item("多少钱呀")])
    later = run([item("多少钱", ts=60.0), item("多少钱", ts=61.0)])

    assert earlier.clusters[0].cluster_id == later.clusters[0].cluster_id
    assert len(cluster_id_for("多少钱")) == 16


@pytest.mark.parametrize("eps", [0.0, -0.1, 2.0])
def test_cluster_window_rejects_an_eps_outside_the_cosine_distance_range(eps: float) -> None:
    with pytest.raises(ValueError, match="eps"):
        run([item("多少钱")], eps=eps)


# --- ranking ---------------------------------------------------------------------------------


def _cluster(
    key: str,
    *,
    size: int = 1,
    viewers: int | None = None,
    value: float = 0.0,
    strength: float = 1.0,
    last_ts: float = 100.0,
) -> Cluster:
    viewers = size if viewers is None else viewers
    members = tuple(
        item(key, user=f"{key}-viewer{i % viewers}", ts=last_ts, value=value, cue_strength=strength)
        for i in range(size)
    )
    return Cluster(
        cluster_id=cluster_id_for(key),
        representative=members[0],
        members=members,
        size=size,
        distinct_viewers=viewers,
        cue="question",
        cue_strength=strength,
        viewer_value=value,
        first_ts=last_ts,
        last_ts=last_ts,
    )


def test_rank_puts_the_most_asked_question_first_and_sets_scores() -> None:
    small, big, medium = _cluster("a", size=2), _cluster("b", size=40), _cluster("c", size=8)

    ranked = rank([small, big, medium], now=100.0, top_k=3)

    assert [c.representative.key for c in ranked] == ["b", "c", "a"]
    assert ranked[0].score > ranked[1].score > ranked[2].score > 0


def test_rank_prefers_many_viewers_over_one_viewer_asking_often() -> None:
    crowd = _cluster("crowd", size=10, viewers=10)
    repeater = _cluster("repeater", size=10, viewers=1)

    assert rank([repeater, crowd], now=100.0, top_k=1)[0].representative.key == "crowd"


def test_rank_lets_a_valuable_viewer_outrank_an_equal_anonymous_question() -> None:
    member = _cluster("member", value=viewer_value(40, True, "vip", False))
    anonymous = _cluster("anonymous", value=viewer_value(None, None, None, None))

    assert rank([anonymous, member], now=100.0, top_k=1)[0].representative.key == "member"


def test_rank_lets_the_most_valuable_lone_viewer_beat_two_anonymous_ones_but_not_a_crowd() -> None:
    vip = _cluster("vip", value=viewer_value(50, True, "vip", True))
    pair = _cluster("pair", size=2)
    crowd = _cluster("crowd", size=10)

    ranked = rank([pair, crowd, vip], now=100.0, top_k=3)

    assert [c.representative.key for c in ranked] == ["crowd", "vip", "pair"]


def test_rank_prefers_the_fresher_of_otherwise_equal_questions() -> None:
    old = _cluster("old", last_ts=40.0)
    fresh = _cluster("fresh", last_ts=99.0)

    assert rank([old, fresh], now=100.0, top_k=2)[0].representative.key == "fresh"


def test_rank_prefers_the_stronger_cue_of_otherwise_equal_questions() -> None:
    weak = _cluster("weak", strength=0.2)
    strong = _cluster("strong", strength=0.9)

    assert rank([weak, strong], now=100.0, top_k=1)[0].representative.key == "strong"


def test_rank_weights_are_configurable() -> None:
    big_old = _cluster("big_old", size=50, last_ts=0.0)
    small_fresh = _cluster("small_fresh", size=1, last_ts=100.0)
    recency_only = RankWeights(size=0, distinct_viewers=0, viewer_value=0, cue_strength=0)

    assert rank([big_old, small_fresh], now=100.0, top_k=1)[0].representative.key == "big_old"
    assert (
        rank([big_old, small_fresh], now=100.0, top_k=1, weights=recency_only)[0]
        .representative.key
        == "small_fresh"
    )


def test_rank_returns_only_the_top_k_and_breaks_ties_deterministically() -> None:
    clusters = [_cluster(k) for k in ["p", "q", "r", "s"]]

    first = rank(clusters, now=100.0, top_k=2)
    second = rank(list(reversed(clusters)), now=100.0, top_k=2)

    assert len(first) == 2
    assert [c.cluster_id for c in first] == [c.cluster_id for c in second]
    assert rank(clusters, now=100.0, top_k=0) == []


def test_rank_rejects_a_negative_top_k() -> None:
    with pytest.raises(ValueError, match="top_k"):
        rank([], now=0.0, top_k=-1)


# --- viewer value ----------------------------------------------------------------------------


def test_viewer_value_of_an_unknown_viewer_is_zero_and_of_the_best_viewer_one() -> None:
    assert viewer_value(None, None, None, None) == 0.0
    assert viewer_value(60, True, "svip", True) == pytest.approx(1.0)


def test_viewer_value_grows_with_each_signal() -> None:
    base = viewer_value(10, False, 0, False)

    assert viewer_value(30, False, 0, False) > base
    assert viewer_value(10, True, 0, False) > base
    assert viewer_value(10, False, 2, False) > base
    assert viewer_value(10, False, 0, True) > base


@pytest.mark.parametrize("tier, expected", [("high", 3), ("3", 3), (3, 3), ("HIGH ", 3), ("金卡", 0)])
def test_viewer_value_reads_spend_tiers_by_name_or_number(tier: str | int, expected: int) -> None:
    weights = ViewerValueWeights()

    assert viewer_value(None, None, tier, None) == pytest.approx(
        weights.spend_tier * expected / weights.max_spend_tier
    )


def test_viewer_value_caps_out_of_range_profile_fields() -> None:
    assert viewer_value(10_000, None, 99, None) == viewer_value(50, None, 4, None)
    assert viewer_value(-5, None, -1, None) == 0.0


def test_a_lone_comment_with_a_weak_cue_is_noise_under_a_cue_strength_floor() -> None:
    strong = item("主播身高多少", cue_strength=1.0)
    weak = item("真的假的", cue_strength=0.5)  # a bare "?" or "吗": mostly rhetorical in real danmaku

    result = run([strong, weak], lone_min_strength=0.6)

    assert [c.representative for c in result.clusters] == [strong]
    assert result.noise == (weak,)


def test_the_cue_strength_floor_never_breaks_up_a_real_cluster() -> None:
    weak = [item("真的吗", cue_strength=0.4, user=f"u{n}") for n in range(3)]

    [cluster] = run(weak, lone_min_strength=0.6).clusters

    assert cluster.size == 3 and not cluster.from_noise


def test_each_cluster_points_at_its_representatives_vector() -> None:
    embedder = CharNgramEmbedder()
    items = [item("多少钱"), item("这个多少钱"), item("多少钱呀"), item("敏感肌能用吗")]

    result = run(items, embedder)

    assert result.vectors is not None
    for cluster in result.clusters:
        expected = embedder.encode([cluster.representative.key]).toarray()
        assert np.allclose(result.vectors[cluster.row].toarray(), expected)
