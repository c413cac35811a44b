"""How consumers hand work to the workers: Celery on a real broker, or the in-process worker.

With `LIVEBOT_CELERY_BROKER=embedded` (the `livebot run` default) the same task functions
run on one background thread of the consumer's own process, in arrival order, like a single
solo worker. With a broker URL they go to Celery queues; a `send_*` call returns once the
broker has accepted the message, which is the hand-off the consumer commits after.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
from celery import chain

from pipeline.reduce import WindowBatch
from pipeline.settings import EMBEDDED
from tasks.runtime import runtime
from tasks import ingest, window

log = logging.getLogger(__name__)


class InProcessWorker:
    """One thread running submitted task functions in order; retries each a few times."""

    def __init__(self, attempts: int = 5) -> None:
        self.attempts = attempts
        self.failed = 0
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="livebot-inprocess-worker", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def join(self) -> None:
        """Wait until everything submitted so far has run."""
        self._queue.join()

    def _work(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                for attempt in range(1, self.attempts + 1):
                    try:
                        fn(*args)
                        break
                    except Exception:
                        log.exception("in-process task failed", extra={"task": fn.__name__, "attempt": attempt})
                        if attempt == self.attempts:
                            self.failed += 1
                        else:
                            time.sleep(min(2 ** attempt * 0.1, 5.0))
            finally:
                self._queue.task_done()


_worker: InProcessWorker | None = None
_worker_lock = threading.Lock()


def in_process_worker() -> InProcessWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = InProcessWorker()
        return _worker


def _embedded() -> bool:
    return runtime().settings.celery_broker == EMBEDDED


def send_window(batch: WindowBatch) -> None:
    payload = msgspec.to_builtins(batch)
    if not batch.representatives:  # nothing to answer: only the statistics row to write
        if _embedded():
            in_process_worker().submit(window.publish.run, payload)
        else:
            window.publish.apply_async((payload,))
        return
    if _embedded():
        in_process_worker().submit(window.answer_window.run, payload)
    elif runtime().settings.window_tasks == "fused":
        window.answer_window.apply_async((payload,))
    else:
        chain(window.understand.s(payload), window.recommend.s(), window.generate.s(), window.publish.s()).apply_async()


def _sender(task: Any) -> Callable[[list[dict[str, Any]]], None]:
    def send(records: list[dict[str, Any]]) -> None:
        if _embedded():
            in_process_worker().submit(task.run, records)
        else:
            task.apply_async((records,))

    send.__name__ = f"send_{task.name.rsplit('.', 1)[-1]}"
    return send


send_dead_letters = _sender(ingest.store_dead_letters)
send_moderations = _sender(window.publish_moderations)
send_asr = _sender(ingest.store_asr)
send_stock = _sender(ingest.apply_stock)
