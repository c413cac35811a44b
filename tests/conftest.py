"""Shared fixtures: the real services (Postgres, Redis, the Kafka mock cluster) and settings.

Integration tests use the services for real. On a laptop without Postgres or Redis they
skip, saying what to start; with LIVEBOT_REQUIRE_SERVICES=1 (set by `.ci/run`) a missing
service fails the run instead, so CI always runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIVEBOT = str(Path(sys.executable).with_name("livebot"))
PG_URL = os.environ.get("LIVEBOT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SHARED_DATA = ROOT.parent / "shared" / "data"


def _unavailable(what: str, how: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error}); start it: {how}"
    if os.environ.get("LIVEBOT_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    import psycopg

    schema = f"livebot_test_{uuid.uuid4().hex[:10]}"
    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL at " + plain, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", exc)
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.flushdb()
    except redis.RedisError as exc:
        _unavailable("Redis at " + REDIS_URL, "redis-server --daemonize yes --port 6379 --save '' --appendonly no", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """librdkafka's mock cluster, held by the test process; returns its bootstrap address."""
    from pipeline.kafka import MockCluster

    cluster = MockCluster()
    yield cluster.bootstrap
    cluster.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'livebot.db'}"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """`configure(database_url=..., ...)` sets LIVEBOT_* for code that reads `get_settings()`."""
    from pipeline.settings import get_settings
    from tasks.runtime import reset_runtime

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"LIVEBOT_{name.upper()}", str(value))
        get_settings.cache_clear()
        reset_runtime()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_runtime()


def wait_for(condition, timeout: float, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A livebot process with its output in `log_path` (shown when a test fails)."""
    handle = log_path.open("wb")
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
