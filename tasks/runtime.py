"""What a worker process loads once and keeps: settings, catalogue, database, Kafka, models.

Built lazily on first use and again after a fork (the pid is checked), so a CUDA context or a
librdkafka handle is never shared across processes. `warm_up` runs when a worker starts so
the first window does not pay for loading models.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import cached_property

from sqlalchemy import Engine

from pipeline.catalogue import Catalogue
from pipeline.kafka import Publisher, resolve_bootstrap
from pipeline.settings import Settings, get_settings
from pipeline.storage import make_engine

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warm = False

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue.load(self.settings.catalogue_file)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def publisher(self) -> Publisher:
        return Publisher(resolve_bootstrap(self.settings))

    def warm_up(self) -> None:
        """Load everything a task needs now, so the first window does not pay for it."""
        started = time.perf_counter()
        _ = self.catalogue
        with self.engine.connect():
            pass
        self.warm = True
        log.info("warmed up", extra={"pid": os.getpid(), "seconds": round(time.perf_counter() - started, 3)})


_lock = threading.Lock()
_runtime: Runtime | None = None
_pid: int | None = None


def runtime() -> Runtime:
    global _runtime, _pid
    with _lock:
        if _runtime is None or _pid != os.getpid():
            _runtime, _pid = Runtime(get_settings()), os.getpid()
        return _runtime


def reset_runtime() -> None:
    """Forget the process's resources (tests change settings between cases)."""
    global _runtime
    with _lock:
        _runtime = None
