"""The Celery app: queues, routing and the delivery guarantees every livebot task relies on.

Queues: `nlp` (understanding and recommendation), `llm` (reply generation), `io` (database
and Kafka writes). Tasks are acknowledged after they finish (`acks_late`) and requeued if the
worker dies, so every task is written to run twice safely. With the broker set to
`embedded`, `tasks.dispatch` runs the same task functions on an in-process worker thread.
"""

from __future__ import annotations

from celery import Celery, Task
from celery.signals import worker_process_init, worker_ready
from sqlalchemy.exc import OperationalError

from pipeline.kafka import PublishError
from pipeline.settings import EMBEDDED, Settings, get_settings

QUEUES = ("nlp", "llm", "io")
ROUTES = {
    "livebot.understand": {"queue": "nlp"},
    "livebot.recommend": {"queue": "nlp"},
    "livebot.generate": {"queue": "llm"},
    "livebot.publish": {"queue": "io"},
    "livebot.answer_window": {"queue": "nlp"},  # all four stages: needs the models
    "livebot.publish_moderations": {"queue": "io"},
    "livebot.store_dead_letters": {"queue": "io"},
    "livebot.store_asr": {"queue": "io"},
    "livebot.apply_stock": {"queue": "io"},
}


class StageTask(Task):
    """Retries what is worth retrying (database or broker away) for about three minutes.

    Waits 1, 2, 4, 8, 16, then 30 s (181 s over 10 retries): a database restart or failover
    (tens of seconds) is outlasted. No jitter: Celery's is "full jitter", each wait uniform in
    [0, backoff], which let a task spend all its retries within a few seconds of an outage's
    start and then be acknowledged as failed, its window lost (tests/test_faults.py, c).
    """

    autoretry_for = (OperationalError, PublishError, ConnectionError, TimeoutError)
    max_retries = 10
    retry_backoff = 1  # 1, 2, 4, ... seconds
    retry_backoff_max = 30
    retry_jitter = False


def make_app(settings: Settings) -> Celery:
    embedded = settings.celery_broker == EMBEDDED
    app = Celery(
        "livebot",
        broker="memory://" if embedded else settings.celery_broker,
        backend=settings.celery_result_backend or None,
        include=["tasks.window", "tasks.ingest"],
        task_cls=StageTask,
    )
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=not settings.celery_result_backend,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_routes=ROUTES,
        task_default_queue="io",
        broker_connection_retry_on_startup=True,
        # A task unacknowledged this long (its worker vanished) is handed to another worker.
        broker_transport_options={"visibility_timeout": settings.task_visibility_timeout_s},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


app = make_app(get_settings())


@worker_process_init.connect
def _warm_up_child(**_: object) -> None:
    """A prefork child loads its models after the fork, never before (CUDA cannot be forked)."""
    from tasks.runtime import runtime

    runtime().warm_up()


@worker_ready.connect
def _warm_up_single_process(sender: object = None, **_: object) -> None:
    """Solo and thread pools work in this process: load models once, before the first task."""
    from pipeline import metrics
    from tasks.runtime import runtime

    metrics.serve(get_settings().metrics_port, ready=lambda: runtime().warm or _prefork(sender))
    if not _prefork(sender):
        runtime().warm_up()


def _prefork(worker: object) -> bool:
    return "prefork" in str(getattr(worker, "pool_cls", "")).lower()
