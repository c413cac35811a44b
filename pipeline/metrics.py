"""Prometheus metrics and health endpoints shared by consumers and workers (one per process).

`serve(port, ready)` exposes `/metrics`, `/healthz` (the process answers) and `/readyz`
(`ready()` says whether it can do its work: a consumer with partitions and a recent poll, a
worker with its models loaded).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

RECORDS = Counter("livebot_records_total", "Input records by consumer kind and outcome", ["kind", "outcome"])
DEAD_LETTERS = Counter("livebot_dead_letters_total", "Records sent to the dead-letter topic", ["kind"])
COMMENTS = Counter("livebot_comments_total", "Comments by what became of them", ["outcome"])
WINDOWS = Counter("livebot_windows_total", "Closed windows by close reason", ["reason"])
HANDOFF_FAILURES = Counter("livebot_handoff_failures_total", "Failed hand-offs to the task broker", ["kind"])
COMMITS = Counter("livebot_offset_commits_total", "Offset commits", ["kind"])
BATCH_SECONDS = Histogram("livebot_consume_batch_seconds", "Time to process one consumed batch", ["kind"])
CONSUMER_LAG = Gauge("livebot_consumer_lag", "Records behind the partition's end", ["kind", "partition"])
STAGE_SECONDS = Histogram("livebot_stage_seconds", "Time per task stage for one window batch", ["stage"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ACTIONS = Counter("livebot_actions_total", "Actions published", ["type"])
REPLIES = Counter("livebot_replies_total", "Replies by how they were made (generated, fallback, template, ...)",
                  ["outcome"])
MODEL_BATCH = Histogram("livebot_model_batch_size", "Texts per model call", ["model"],
                        buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))


def serve(port: int, ready: Callable[[], bool] = lambda: True) -> ThreadingHTTPServer | None:
    """Serve /metrics, /healthz and /readyz on `port` in a daemon thread (0 = off)."""
    if not port:
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                self._reply(200, b"ok\n")
            elif self.path.startswith("/readyz"):
                ok = _safe(ready)
                self._reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # scrapes every few seconds: not worth a log line
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="livebot-metrics", daemon=True).start()
    return server


def _safe(ready: Callable[[], bool]) -> bool:
    try:
        return bool(ready())
    except Exception:
        return False
