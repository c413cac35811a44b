"""Prometheus metrics shared by consumers and workers (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RECORDS = Counter("livebot_records_total", "Input records by consumer kind and outcome", ["kind", "outcome"])
DEAD_LETTERS = Counter("livebot_dead_letters_total", "Records sent to the dead-letter topic", ["kind"])
COMMENTS = Counter("livebot_comments_total", "Comments by what became of them", ["outcome"])
WINDOWS = Counter("livebot_windows_total", "Closed windows by close reason", ["reason"])
HANDOFF_FAILURES = Counter("livebot_handoff_failures_total", "Failed hand-offs to the task broker", ["kind"])
COMMITS = Counter("livebot_offset_commits_total", "Offset commits", ["kind"])
BATCH_SECONDS = Histogram("livebot_consume_batch_seconds", "Time to process one consumed batch", ["kind"])


def serve(port: int) -> None:
    """Expose /metrics on `port` (0 = off)."""
    if port:
        start_http_server(port)
