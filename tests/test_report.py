"""`livebot report`: per-room figures from the database for a time range, and the chart."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.schema import conversation_turns, unanswered_questions, window_stats
from pipeline.storage import insert_ignore, make_engine, upgrade
from livebot.report import build, draw, format_table, parse_time

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def _seed(url: str) -> None:
    upgrade(url)
    with make_engine(url).begin() as conn:
        insert_ignore(conn, window_stats, [
            {"window_id": f"a{n}", "room_id": "a", "kafka_partition": 0, "first_offset": n, "last_offset": n,
             "opened_at": T0, "closed_at": T0 + timedelta(seconds=30 * n), "close_reason": "age",
             "comments_in": 100, "moderated": 2, "spam": 3, "clustered": 95} for n in range(4)
        ] + [{"window_id": "old", "room_id": "a", "kafka_partition": 0, "first_offset": 0, "last_offset": 0,
              "opened_at": T0, "closed_at": T0 - timedelta(hours=5), "close_reason": "age", "comments_in": 999,
              "moderated": 0, "spam": 0, "clustered": 999}])
        insert_ignore(conn, conversation_turns, [
            {"turn_id": f"t{n}", "room_id": "a", "window_id": "a0", "cluster_id": f"c{n}", "question_text": "多少钱",
             "cluster_size": 5, "distinct_viewers": 5, "intent": "price" if n < 7 else "stock", "sentiment": "neu",
             "reply_model": "template", "first_event_at": T0, "answered_at": T0 + timedelta(seconds=n),
             "end_to_end_ms": 100.0 * (n + 1)} for n in range(10)])
        insert_ignore(conn, unanswered_questions, [
            {"unanswered_id": "u1", "room_id": "a", "window_id": "a0", "cluster_id": "x", "question_text": "能便宜吗",
             "cluster_size": 9, "distinct_viewers": 9, "reason": "below_top_k", "first_event_at": T0}])


def test_report_sums_the_range_and_computes_latency_percentiles(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    _seed(url)
    [room] = build(make_engine(url), T0 - timedelta(minutes=1), T0 + timedelta(hours=1))
    assert (room.room_id, room.comments_in, room.moderated, room.answered) == ("a", 400, 20, 10)  # "old" excluded
    assert room.latency(50) == 550.0 and room.latency(95) > 900.0
    assert room.intents.most_common(1) == [("price", 7)]
    assert room.unanswered == {"能便宜吗": 9}
    table = format_table([room], T0, T0)
    assert "能便宜吗 (9)" in table and "price 7" in table
    chart = tmp_path / "r.png"
    draw([room], chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_ranges_accept_iso_and_spans() -> None:
    assert parse_time("15m", T0) == T0 - timedelta(minutes=15)
    assert parse_time("2h", T0) == T0 - timedelta(hours=2)
    assert parse_time("2026-11-21T10:00:00", T0) == datetime(2026, 11, 21, 10, tzinfo=timezone.utc)
