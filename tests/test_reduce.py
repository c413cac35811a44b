"""The reduction the consumer runs: windows, outcomes on arrival, clustering, suppression,
shedding, and every comment accounted for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contracts import Danmaku, Viewer
from pipeline.reduce import ReduceConfig, Reducer, WindowBatch
from pipeline.window import RoomWindows

T0 = 1_795_000_000.0


def comment(n: int, room: str = "r1", user: str | None = None, text: str = "多少钱", ts: float | None = None,
            viewer: Viewer | None = None) -> Danmaku:
    return Danmaku(event_id=f"e{n}", room_id=room, user_id=user or f"u{n}", text=text,
                   ts=T0 + n if ts is None else ts, user=viewer)


def reducer(**config: object) -> Reducer:
    defaults: dict[str, object] = {"window_max_size": 100, "window_max_age_s": 60.0}
    defaults.update(config)
    return Reducer(ReduceConfig(**defaults))  # type: ignore[arg-type]


def flush_one(r: Reducer) -> WindowBatch:
    [result] = r.flush(T0 + 1000)
    return result.batch


def test_window_closes_at_its_size_bound() -> None:
    r = reducer(window_max_size=3)
    assert r.add(comment(0), 0, 100, T0) == [] and r.add(comment(1), 0, 101, T0) == []
    [result] = r.add(comment(2), 0, 102, T0)
    batch = result.batch
    assert (batch.window_id, batch.first_offset, batch.last_offset, batch.close_reason) == ("r1@0:100", 100, 102, "size")


def test_window_closes_at_its_age_bound_and_not_before() -> None:
    r = reducer(window_max_age_s=2.0)
    r.add(comment(0), 0, 5, T0)
    assert r.due(T0 + 1.9) == []
    [result] = r.due(T0 + 2.0)
    assert result.batch.close_reason == "age" and result.batch.stats.comments_in == 1


def test_open_windows_hold_back_their_partitions_offsets() -> None:
    r = reducer()
    r.add(comment(0, room="a"), 1, 40, T0)
    r.add(comment(1, room="b"), 1, 41, T0)
    r.add(comment(2, room="c"), 2, 7, T0)
    assert r.held_offsets() == {1: 40, 2: 7}
    r.flush(T0, partitions={1})
    assert r.held_offsets() == {2: 7}


def test_flush_on_revocation_closes_only_the_revoked_partitions() -> None:
    r = reducer()
    r.add(comment(0, room="a"), 0, 1, T0)
    r.add(comment(1, room="b"), 3, 1, T0)
    assert [(x.batch.room_id, x.batch.close_reason) for x in r.flush(T0, partitions={3})] == [("b", "revoked")]


def test_same_viewer_repeating_within_the_dedup_window_counts_once() -> None:
    r = reducer(dedup_window_s=30)
    r.add(comment(0, user="v", ts=T0), 0, 0, T0)
    r.add(comment(1, user="v", ts=T0 + 10, text="多少钱！！"), 0, 1, T0)  # same key after cleaning
    r.add(comment(2, user="v", ts=T0 + 100), 0, 2, T0)  # long after: counts again
    stats = flush_one(r).stats
    assert (stats.comments_in, stats.deduplicated, stats.clustered) == (3, 1, 2)


def test_spam_and_sensitive_comments_become_moderation_decisions_and_never_reach_a_window() -> None:
    r = reducer()
    r.add(comment(0, text="加微信 abc12345 领福利"), 0, 0, T0)
    r.add(comment(1, text="这个多少钱"), 0, 1, T0)
    decisions = r.take_moderations()
    assert [(d.event_id, d.label) for d in decisions] == [("e0", "spam")]
    assert "spam" in decisions[0].reason
    assert r.take_moderations() == []
    batch = flush_one(r)
    assert batch.stats.spam == 1 and batch.stats.clustered == 1
    assert all("微信" not in rep.text for rep in batch.representatives)


def test_moderated_comments_hold_their_offsets_until_taken() -> None:
    r = reducer()
    r.add(comment(0, text="加微信 abc12345"), 2, 9, T0)
    r.flush(T0)
    assert r.held_offsets() == {2: 9}
    r.take_moderations()
    assert r.held_offsets() == {}


def test_chatter_is_counted_not_answered() -> None:
    r = reducer()
    for n, text in enumerate(["666", "哈哈哈哈哈", "主播好美", "多少钱"]):
        r.add(comment(n, text=text), 0, n, T0)
    batch = flush_one(r)
    assert batch.stats.chatter == 3 and [rep.text for rep in batch.representatives] == ["多少钱"]


def test_paraphrases_collapse_into_one_representative_carrying_every_source_id() -> None:
    r = reducer(top_k=5)
    texts = ["多少钱", "多少钱呀", "这个多少钱", "多少钱？？", "多少钱", "有货吗", "还有货吗"]
    for n, text in enumerate(texts):
        r.add(comment(n, text=text), 0, n, T0)
    batch = flush_one(r)
    price = next(rep for rep in batch.representatives if "多少钱" in rep.text)
    assert sorted(price.source_event_ids) == ["e0", "e1", "e2", "e3", "e4"]
    assert batch.stats.clusters == 2 and batch.stats.sent == 2


def test_top_k_limits_what_is_sent_on() -> None:
    r = reducer(top_k=1)
    for n, text in enumerate(["多少钱", "多少钱呀", "敏感肌能用吗"]):
        r.add(comment(n, text=text), 0, n, T0)
    [result] = r.flush(T0)
    assert (result.batch.stats.clusters, result.batch.stats.sent) == (2, 1)
    assert [c.outcome for c in result.clusters] == ["sent", "below_top_k"]
    assert "多少钱" in result.batch.representatives[0].text  # the bigger cluster wins


def test_a_question_answered_recently_in_the_room_is_suppressed() -> None:
    r = reducer(repeat_ttl_s=180)
    r.add(comment(0, text="精华多少钱"), 0, 0, T0)
    assert flush_one(r).stats.sent == 1
    r.add(comment(1, text="精华多少钱", ts=T0 + 60), 0, 1, T0 + 60)
    r.add(comment(2, text="精华多少钱", ts=T0 + 60, room="r2"), 0, 2, T0 + 60)  # another room: answered
    results = {x.batch.room_id: x.batch.stats for x in r.flush(T0 + 60)}
    assert (results["r1"].sent, results["r1"].suppressed) == (0, 1)
    assert results["r2"].sent == 1
    r.add(comment(3, text="精华多少钱", ts=T0 + 400), 0, 3, T0 + 400)  # long after: answered again
    assert flush_one(r).stats.sent == 1


def test_past_the_memory_bound_the_lowest_value_comment_is_shed_and_counted() -> None:
    r = reducer(max_open_comments=2)
    vip = Viewer(level=50, is_member=True, spend_tier="high")
    r.add(comment(0, text="多少钱"), 0, 0, T0)
    r.add(comment(1, text="敏感肌能用吗"), 0, 1, T0)
    r.add(comment(2, text="有货吗", viewer=vip), 0, 2, T0)  # worth more: replaces one
    r.add(comment(3, text="包邮吗"), 0, 3, T0)  # worth no more: shed itself
    batch = flush_one(r)
    assert batch.stats.shed == 2 and batch.stats.clustered == 2
    assert "有货吗" in {rep.text for rep in batch.representatives}
    assert batch.stats.settled() == batch.stats.comments_in == 4


def test_room_windows_reject_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="positive"):
        RoomWindows(0, 1.0)


TEXTS = st.one_of(
    st.sampled_from(["多少钱", "多少钱呀", "有货吗", "666", "哈哈哈哈", "加微信abc123", "敏感肌能用吗", "拍了", "垃圾骗子",
                     "", "🎉🎉🎉", "？？？", "\u202eمرحبا", "ＡＢＣ１２３", "\x00\x01", "a" * 500]),
    st.text(max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("uvw"), TEXTS, st.floats(0, 400)), max_size=150),
       st.integers(1, 20), st.integers(1, 60), st.integers(0, 4))
def test_every_comment_is_accounted_for(comments: list[tuple[str, str, str, float]], size: int, bound: int,
                                        top_k: int) -> None:
    r = reducer(window_max_size=size, window_max_age_s=5.0, top_k=top_k, max_open_comments=bound)
    results = []
    for n, (room, user, text, dt) in enumerate(comments):
        results += r.add(comment(n, room=room, user=user, text=text, ts=T0 + dt), n % 4, n, T0 + n * 0.1)
        results += r.due(T0 + n * 0.1)
    results += r.flush(T0 + 1000, reason="shutdown")
    batches = [x.batch for x in results]
    assert sum(b.stats.comments_in for b in batches) == len(comments)
    for batch in batches:
        assert batch.stats.settled() == batch.stats.comments_in
        assert batch.stats.sent + batch.stats.suppressed <= batch.stats.clusters
        assert len(batch.representatives) == batch.stats.sent <= max(top_k, 0)


def test_dedup_memory_stays_bounded_and_cheap_under_a_flood_of_distinct_texts() -> None:
    r = reducer(dedup_memory=100, dedup_window_s=30)
    for n in range(1_000):  # all within the dedup window, all distinct: more than the bound
        r.add(comment(n, user=f"v{n}", text=f"问题{n}吗", ts=T0 + n * 0.001), 0, n, T0)
        assert len(r._last_seen) <= 100
    r.add(comment(5000, user="v999", text="问题999吗", ts=T0 + 1.0), 0, 5000, T0)  # recent: still remembered
    assert flush_one(r).stats.deduplicated == 1


def test_repeat_suppression_is_scoped_by_the_product_a_question_names() -> None:
    from pipeline.catalogue import Catalogue
    from pipeline.reduce import product_finder

    r = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60.0), products=product_finder(Catalogue.load()))
    r.add(comment(0, text="价格多少"), 0, 0, T0)  # no product named: the one on screen
    assert flush_one(r).stats.sent == 1
    r.add(comment(1, text="请问霜价格多少", ts=T0 + 10), 0, 1, T0 + 10)  # the face cream: not answered yet
    r.add(comment(2, text="价格多少呀", ts=T0 + 10), 0, 2, T0 + 10)  # the unnamed one again
    [result] = r.flush(T0 + 10)
    outcomes = {c.cluster.representative.text: c.outcome for c in result.clusters}
    assert outcomes == {"请问霜价格多少": "sent", "价格多少呀": "suppressed"}
    r.add(comment(3, text="面霜价格多少", ts=T0 + 20), 0, 3, T0 + 20)  # the cream again, by another alias
    assert flush_one(r).stats.suppressed == 1


def test_a_lone_bare_question_mark_is_counted_as_chatter_by_default() -> None:
    r = reducer()
    r.add(comment(0, text="主播今天真好看吗"), 0, 0, T0)  # cued only by a bare 吗
    r.add(comment(1, text="多少钱"), 0, 1, T0)
    batch = flush_one(r)
    assert [rep.text for rep in batch.representatives] == ["多少钱"]
    assert (batch.stats.chatter, batch.stats.clustered) == (1, 1)
