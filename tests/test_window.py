"""Windows close by size and by age, hold back their offsets, and every comment is accounted for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contracts import Danmaku
from pipeline.reduce import ReduceConfig, Reducer
from pipeline.window import RoomWindows

T0 = 1_795_000_000.0


def comment(n: int, room: str = "r1", user: str | None = None, text: str = "多少钱", ts: float | None = None) -> Danmaku:
    return Danmaku(event_id=f"e{n}", room_id=room, user_id=user or f"u{n}", text=text, ts=T0 + n if ts is None else ts)


def test_window_closes_at_its_size_bound() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=3, window_max_age_s=60))
    assert reducer.add(comment(0), 0, 100, T0) == []
    assert reducer.add(comment(1), 0, 101, T0) == []
    [batch] = reducer.add(comment(2), 0, 102, T0)
    assert (batch.window_id, batch.first_offset, batch.last_offset, batch.close_reason) == ("r1@0:100", 100, 102, "size")


def test_window_closes_at_its_age_bound_and_not_before() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=2.0))
    reducer.add(comment(0), 0, 5, T0)
    assert reducer.due(T0 + 1.9) == []
    [batch] = reducer.due(T0 + 2.0)
    assert batch.close_reason == "age" and batch.stats.comments_in == 1


def test_open_windows_hold_back_their_partitions_offsets() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60))
    reducer.add(comment(0, room="a"), 1, 40, T0)
    reducer.add(comment(1, room="b"), 1, 41, T0)
    reducer.add(comment(2, room="c"), 2, 7, T0)
    assert reducer.held_offsets() == {1: 40, 2: 7}
    reducer.flush(T0, partitions={1})
    assert reducer.held_offsets() == {2: 7}


def test_flush_on_revocation_closes_only_the_revoked_partitions() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60))
    reducer.add(comment(0, room="a"), 0, 1, T0)
    reducer.add(comment(1, room="b"), 3, 1, T0)
    flushed = reducer.flush(T0, partitions={3}, reason="revoked")
    assert [(b.room_id, b.close_reason) for b in flushed] == [("b", "revoked")]


def test_same_viewer_repeating_within_the_dedup_window_counts_once() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60, dedup_window_s=30))
    reducer.add(comment(0, user="v", ts=T0), 0, 0, T0)
    reducer.add(comment(1, user="v", ts=T0 + 10), 0, 1, T0)  # repeat: deduplicated
    reducer.add(comment(2, user="v", ts=T0 + 100), 0, 2, T0)  # long after: counts again
    [batch] = reducer.flush(T0)
    assert (batch.stats.comments_in, batch.stats.deduplicated, batch.stats.clustered) == (3, 1, 2)


def test_identical_questions_become_one_representative_with_every_source_id() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60, top_k=5))
    for n in range(4):
        reducer.add(comment(n, text="多少钱？"), 0, n, T0)
    reducer.add(comment(9, text="有货吗"), 0, 9, T0)
    [batch] = reducer.flush(T0)
    top = batch.representatives[0]
    assert (top.size, top.distinct_viewers) == (4, 4)
    assert sorted(top.source_event_ids) == ["e0", "e1", "e2", "e3"]
    assert batch.stats.clusters == 2 and batch.stats.sent == 2


def test_top_k_limits_what_is_sent_on() -> None:
    reducer = Reducer(ReduceConfig(window_max_size=100, window_max_age_s=60, top_k=1))
    reducer.add(comment(0, text="a"), 0, 0, T0)
    reducer.add(comment(1, text="b"), 0, 1, T0)
    [batch] = reducer.flush(T0)
    assert (batch.stats.clusters, batch.stats.sent, len(batch.representatives)) == (2, 1, 1)


def test_room_windows_reject_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="positive"):
        RoomWindows(0, 1.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("uvw"), st.text(max_size=20),
                          st.floats(0, 120)), max_size=200),
       st.integers(1, 20))
def test_every_comment_is_accounted_for(comments: list[tuple[str, str, str, float]], size: int) -> None:
    reducer = Reducer(ReduceConfig(window_max_size=size, window_max_age_s=5, top_k=3))
    batches = []
    for n, (room, user, text, dt) in enumerate(comments):
        batches += reducer.add(comment(n, room=room, user=user, text=text, ts=T0 + dt), n % 4, n, T0 + n * 0.1)
        batches += reducer.due(T0 + n * 0.1)
    batches += reducer.flush(T0 + 1000, reason="shutdown")
    assert sum(b.stats.comments_in for b in batches) == len(comments)
    for batch in batches:
        assert batch.stats.settled() == batch.stats.comments_in
        assert batch.stats.sent + batch.stats.suppressed <= batch.stats.clusters
