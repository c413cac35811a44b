"""`livebot report`: per-room figures for a time range, from the conversation database.

For each room: comments in, answered clusters, moderated comments, reply latency percentiles
(earliest comment → reply published), the top intents and the top unanswered questions; as a
text table, and as a PNG chart of comments in and answers per minute.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select

from pipeline.schema import conversation_turns, unanswered_questions, window_stats

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime) -> datetime:
    """ISO-8601 (UTC if no zone) or a span back from now: `90s`, `15m`, `2h`, `7d`."""
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class RoomReport:
    room_id: str
    comments_in: int = 0
    moderated: int = 0
    answered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    intents: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    per_minute_in: Counter[datetime] = field(default_factory=Counter)
    per_minute_answered: Counter[datetime] = field(default_factory=Counter)

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None


def build(engine: Engine, since: datetime, until: datetime, room: str | None = None) -> list[RoomReport]:
    rooms: dict[str, RoomReport] = defaultdict(lambda: RoomReport(""))

    def get(room_id: str) -> RoomReport:
        report = rooms[room_id]
        report.room_id = room_id
        return report

    with engine.connect() as conn:
        windows = select(window_stats.c.room_id, window_stats.c.closed_at, window_stats.c.comments_in,
                         window_stats.c.moderated, window_stats.c.spam).where(
            window_stats.c.closed_at >= since, window_stats.c.closed_at < until)
        turns = select(conversation_turns.c.room_id, conversation_turns.c.answered_at, conversation_turns.c.intent,
                       conversation_turns.c.end_to_end_ms).where(
            conversation_turns.c.answered_at >= since, conversation_turns.c.answered_at < until)
        missed = select(unanswered_questions.c.room_id, unanswered_questions.c.question_text,
                        func.sum(unanswered_questions.c.cluster_size)).where(
            unanswered_questions.c.first_event_at >= since, unanswered_questions.c.first_event_at < until
        ).group_by(unanswered_questions.c.room_id, unanswered_questions.c.question_text)
        if room:
            windows = windows.where(window_stats.c.room_id == room)
            turns = turns.where(conversation_turns.c.room_id == room)
            missed = missed.where(unanswered_questions.c.room_id == room)
        for room_id, closed_at, comments_in, moderated, spam in conn.execute(windows):
            report = get(room_id)
            report.comments_in += comments_in
            report.moderated += moderated + spam
            report.per_minute_in[_minute(closed_at)] += comments_in
        for room_id, answered_at, intent, latency in conn.execute(turns):
            report = get(room_id)
            report.answered += 1
            report.intents[intent] += 1
            report.per_minute_answered[_minute(answered_at)] += 1
            if latency is not None:
                report.latencies_ms.append(latency)
        for room_id, text, asked_by in conn.execute(missed):
            get(room_id).unanswered[text] += int(asked_by or 0)
    return sorted(rooms.values(), key=lambda r: -r.comments_in)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0, tzinfo=moment.tzinfo or timezone.utc)


def format_table(reports: list[RoomReport], since: datetime, until: datetime) -> str:
    header = f"livebot report {since.isoformat(timespec='seconds')} → {until.isoformat(timespec='seconds')}"
    columns = f"{'room':<20} {'in':>8} {'answered':>9} {'moderated':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    lines = [header, "", columns, "-" * len(columns)]
    for r in reports:
        p50, p95, p99 = (r.latency(q) for q in (50, 95, 99))
        lines.append(f"{r.room_id[:20]:<20} {r.comments_in:>8} {r.answered:>9} {r.moderated:>10} "
                     f"{_ms(p50):>8} {_ms(p95):>8} {_ms(p99):>8}")
    for r in reports:
        lines += ["", f"{r.room_id}:"]
        lines.append("  top intents:    " + (", ".join(f"{i} {n}" for i, n in r.intents.most_common(5)) or "none"))
        lines.append("  top unanswered: " + ("; ".join(f"{t} ({n})" for t, n in r.unanswered.most_common(5)) or "none"))
    if not reports:
        lines.append("(no windows in this range)")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def draw(reports: list[RoomReport], path: Path) -> None:
    """Comments in and answers per minute, one panel per room (at most eight rooms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    shown = reports[:8] or [RoomReport("(no data)")]
    figure, axes = plt.subplots(len(shown), 1, figsize=(9, 2.6 * len(shown)), squeeze=False)
    for axis, report in zip(axes[:, 0], shown, strict=True):
        minutes = sorted(set(report.per_minute_in) | set(report.per_minute_answered))
        axis.bar(minutes, [report.per_minute_in[m] for m in minutes], width=1 / 1440 * 0.8, label="comments in",
                 align="edge", alpha=0.6)
        if minutes:
            axis.set_xlim(minutes[0] - timedelta(minutes=1), minutes[-1] + timedelta(minutes=2))
        locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
        axis.xaxis.set_major_locator(locator)
        axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        twin = axis.twinx()
        twin.plot(minutes, [report.per_minute_answered[m] for m in minutes], color="tab:orange",
                  label="answered", marker=".")
        twin.set_ylim(bottom=0)
        axis.set_title(report.room_id)
        axis.set_ylabel("comments / min")
        twin.set_ylabel("answers / min")
        axis.legend(loc="upper left")
        twin.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
