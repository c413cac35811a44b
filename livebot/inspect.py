"""`livebot reduce`: run the consumer's reduction over comments from a file or stdin.

Input: danmaku JSON lines (the `live.danmaku` contract), or the danmaku CSV files of the
project's data folder (Bilibili live: `session, user_hash, send_ts, row_id, text`; Bilibili
video: `bvid, user_crc32, video_offset_s, dmid, text`). The reducer is the one the consumer
runs, built from the same settings; its clock is the comments' own event time, so a
recording is reduced as it happened, as fast as the machine goes.

Output: one JSON line per cluster of every closed window, then one line
`{"stats": {in, deduplicated, moderated, spam, chatter, clustered, clusters, sent, suppressed, shed}}`.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from pipeline.contracts import ContractError, Danmaku, Limits, decode
from pipeline.reduce import Reducer, WindowResult
from pipeline.settings import Settings

STATS_FIELDS = ("in", "deduplicated", "moderated", "spam", "chatter", "clustered", "clusters", "sent", "suppressed",
                "shed")
# Recordings are old: only the contract's shape and size limits apply, not the clock's.
_RECORDING_LIMITS = Limits(max_future_skew_s=float("inf"), max_event_age_s=float("inf"))
_VIDEO_EPOCH_S = 1_600_000_000.0  # video danmaku have no wall clock: offsets count from here


def read_comments(stream: IO[str], errors: list[str]) -> Iterator[Danmaku]:
    """Danmaku from JSON lines or one of the known CSV layouts; bad lines go to `errors`."""
    first = stream.readline()
    if not first:
        return
    if first.lstrip().startswith("{"):
        yield from _json_lines([first], errors)
        yield from _json_lines(stream, errors)
    else:
        yield from _csv_rows(csv.DictReader([first, *stream]), errors)


def _json_lines(lines: Iterable[str], errors: list[str]) -> Iterator[Danmaku]:
    for line in lines:
        if not line.strip():
            continue
        try:
            event = decode("danmaku", line.encode("utf-8", "surrogateescape"), limits=_RECORDING_LIMITS)
        except ContractError as exc:
            errors.append(str(exc))
            continue
        assert isinstance(event, Danmaku)
        yield event


def _csv_rows(rows: csv.DictReader[str], errors: list[str]) -> Iterator[Danmaku]:
    for n, row in enumerate(rows):
        try:
            if "send_ts" in row:  # Bilibili live
                yield Danmaku(event_id=f"{row['session']}:{row['row_id']}", room_id=row["session"],
                              user_id=row["user_hash"], text=row["text"] or "", ts=float(row["send_ts"]))
            elif "video_offset_s" in row:  # Bilibili video
                yield Danmaku(event_id=row["dmid"], room_id=row["bvid"], user_id=row["user_crc32"],
                              text=row["text"] or "", ts=_VIDEO_EPOCH_S + float(row["video_offset_s"]))
            else:
                errors.append(f"row {n}: unknown CSV layout {sorted(row)}")
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(f"row {n}: {exc!r}")


def reduce_stream(stream: IO[str], out: IO[str], settings: Settings) -> dict[str, int]:
    """Reduce every comment of `stream`, writing cluster lines and the stats line to `out`."""
    reducer = Reducer.from_settings(settings)
    totals = dict.fromkeys(STATS_FIELDS, 0)
    errors: list[str] = []
    clock = 0.0
    for offset, event in enumerate(read_comments(stream, errors)):
        clock = max(clock, float(event.ts))
        results = reducer.add(event, 0, offset, clock) + reducer.due(clock)
        _write(results, out, totals)
        reducer.take_moderations()
    _write(reducer.flush(clock + settings.window_max_age_s, reason="shutdown"), out, totals)
    out.write(json.dumps({"stats": totals}) + "\n")
    if errors:
        print(f"livebot reduce: {len(errors)} invalid line(s) skipped; first: {errors[0]}", file=sys.stderr)
    return totals


def _write(results: list[WindowResult], out: IO[str], totals: dict[str, int]) -> None:
    for result in results:
        batch = result.batch
        for ranked in result.clusters:
            cluster = ranked.cluster
            line: dict[str, Any] = {
                "window_id": batch.window_id,
                "room_id": batch.room_id,
                "representative": cluster.representative.text,
                "members": list(dict.fromkeys(item.text for item in cluster.members))[:20],
                "size": cluster.size,
                "distinct_viewers": cluster.distinct_viewers,
                "cue": cluster.cue,
                "score": round(cluster.score, 3),
                "outcome": ranked.outcome,
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        stats = batch.stats
        totals["in"] += stats.comments_in
        for name in STATS_FIELDS[1:]:
            totals[name] += getattr(stats, name)
