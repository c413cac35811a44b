"""Kafka consumer processes, one consumer group per input kind (`livebot consume KIND`)."""

from __future__ import annotations

from consumers.loop import ConsumerLoop
from pipeline.settings import Settings

KINDS = ("danmaku", "asr", "stock")


def build_consumer(kind: str, settings: Settings, bootstrap: str) -> ConsumerLoop:
    """The loop for `kind`, wired to the Celery tasks that take its work."""
    from consumers.handlers import DanmakuHandler, StoreHandler
    from tasks import dispatch

    letters = dispatch.send_dead_letters
    if kind == "danmaku":
        handler = DanmakuHandler(settings, dispatch.send_window, dispatch.send_moderations, letters)
        return ConsumerLoop(settings, handler, bootstrap, settings.topic_danmaku)
    if kind == "asr":
        return ConsumerLoop(settings, StoreHandler("asr", dispatch.send_asr, letters), bootstrap, settings.topic_asr)
    if kind == "stock":
        return ConsumerLoop(settings, StoreHandler("stock", dispatch.send_stock, letters), bootstrap, settings.topic_stock)
    raise ValueError(f"unknown consumer kind {kind!r}; expected one of {', '.join(KINDS)}")
