"""A local multi-process deployment: consumers and Celery workers as real processes on one machine.

What the fault tests and the end-to-end benchmark need from "the real thing": start N danmaku
consumer processes and M worker processes against given Kafka, Redis and Postgres addresses,
each with its own log file and metrics port; SIGKILL, terminate and restart any of them; read
their /metrics and /readyz; read the Celery queue depths from Redis; follow each process's
peak resident memory (VmHWM in /proc, kept across restarts); and read the consumer group's lag
from Kafka itself (committed offsets against the partitions' ends).

    with LocalDeployment(kafka=bootstrap, redis_url=..., database_url=..., workdir=tmp,
                         consumers=2, workers=1, env={"LIVEBOT_TOPIC_DANMAKU": ...}) as deployment:
        deployment.wait_ready()
        deployment.kill("worker-0")          # SIGKILL
        deployment.restart("worker-0")
        deployment.queue_depths()            # {"nlp": 0, "llm": 3, "io": 1}
        deployment.metric("consumer-0", "livebot_records_total", kind="danmaku", outcome="valid")

Processes are started with this interpreter's `livebot` script, in the repository root (or in
`root`, another source tree such as a `git archive` of a commit, put first on PYTHONPATH); the
deployment's `env` is added to the caller's environment (and `LIVEBOT_*` of the caller that it
does not set are removed, so a developer's shell cannot leak into a run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIVEBOT = str(Path(sys.executable).with_name("livebot"))
QUEUES = ("nlp", "llm", "io")
_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: a queue's priority lists are "<queue>\x06\x16<n>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    """One process of the deployment and what is known of its earlier lives."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    metrics_port: int
    process: subprocess.Popen[bytes] | None = None
    lives: int = 0
    exit_codes: list[int] = field(default_factory=list)
    peak_rss_kb: int = 0  # highest VmHWM seen, over every life
    cpu_s_before: float = 0.0  # CPU seconds of the earlier lives (as last sampled)
    cpu_s_now: float = 0.0  # CPU seconds of the current life, as last sampled

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalDeployment:
    def __init__(
        self,
        *,
        kafka: str,
        redis_url: str,
        database_url: str,
        workdir: Path,
        consumers: int = 1,
        workers: int = 1,
        worker_queues: str = "nlp,llm,io",
        worker_args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        livebot: str = LIVEBOT,
        root: Path = ROOT,
    ) -> None:
        self.kafka = kafka
        self.redis_url = redis_url
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.livebot = livebot
        self.root = Path(root)
        self.env = {
            "LIVEBOT_KAFKA_BOOTSTRAP": kafka,
            "LIVEBOT_CELERY_BROKER": redis_url,
            "LIVEBOT_DATABASE_URL": database_url,
            **(env or {}),
        }
        self.services: dict[str, Service] = {}
        for n in range(consumers):
            self.add(f"consumer-{n}", ["consume", "danmaku"])
        for n in range(workers):
            self.add(f"worker-{n}", ["worker", "--queues", worker_queues, *worker_args])
        self._redis: Any = None
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()
        self.samples: list[dict[str, Any]] = []

    # ---- processes -------------------------------------------------------------------------
    def add(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Service:
        """Declare one more process (`livebot ARGS...`); `start` or `restart` runs it."""
        if name in self.services:
            raise ValueError(f"a service named {name!r} exists already")
        service = Service(name, [self.livebot, *args], {**self.env, **(env or {})},
                          self.workdir / f"{name}.log", free_port())
        self.services[name] = service
        return service

    def start(self, names: Iterable[str] | None = None) -> None:
        for name in names or list(self.services):
            if not self.services[name].alive():
                self._spawn(self.services[name])

    def _spawn(self, service: Service) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBOT_")}
        env = {**base, **service.env, "LIVEBOT_METRICS_PORT": str(service.metrics_port), "PYTHONUNBUFFERED": "1"}
        if self.root != ROOT:  # another source tree (a snapshot of a commit): its modules come first
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH", "")]))
        handle = service.log_path.open("ab")
        handle.write(f"\n==== life {service.lives + 1}: {' '.join(service.args)}\n".encode())
        handle.flush()
        service.process = subprocess.Popen(service.args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=self.root)
        handle.close()
        service.lives += 1
        service.cpu_s_before += service.cpu_s_now
        service.cpu_s_now = 0.0

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30.0) -> int:
        """Send `sig` (SIGKILL by default) and wait for the process to end; returns its exit code."""
        service = self.services[name]
        if service.process is None:
            raise RuntimeError(f"{name} was never started")
        self._track_rss(service)
        if service.alive():
            service.cpu_s_now = read_cpu_s(service.process.pid) or service.cpu_s_now
        if service.process.poll() is None:
            service.process.send_signal(sig)
        try:
            code = service.process.wait(timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            code = service.process.wait(10)
        service.exit_codes.append(code)
        return code

    def terminate(self, name: str, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops a process; returns the exit code."""
        return self.kill(name, signal.SIGTERM, timeout)

    def restart(self, name: str) -> None:
        service = self.services[name]
        if service.alive():
            self.kill(name)
        self._spawn(service)

    def alive(self, name: str) -> bool:
        return self.services[name].alive()

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """Terminate everything still running (consumers first, so their last windows reach workers)."""
        self.stop_sampling()
        codes: dict[str, int] = {}
        for prefix in ("consumer", ""):
            for name, service in self.services.items():
                if service.alive() and name.startswith(prefix):
                    codes[name] = self.terminate(name, timeout)
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        return codes

    def __enter__(self) -> "LocalDeployment":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- health and metrics ----------------------------------------------------------------
    def status(self, name: str, path: str = "/readyz") -> int:
        """HTTP status of `path` on the process's metrics port (0 when it does not answer)."""
        try:
            url = f"http://127.0.0.1:{self.services[name].metrics_port}{path}"
            return int(urllib.request.urlopen(url, timeout=3).status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def wait_ready(self, names: Iterable[str] | None = None, timeout: float = 90.0) -> None:
        """Until every process answers /readyz with 200; fails with the logs of those that did not."""
        waiting = list(names or self.services)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                if not self.services[name].alive():
                    raise RuntimeError(f"{name} exited with {self.services[name].process.poll()} "  # type: ignore[union-attr]
                                       f"before it was ready:\n{self.log(name, 3000)}")
                if self.status(name) == 200:
                    waiting.remove(name)
            if waiting:
                time.sleep(0.25)
        if waiting:
            raise TimeoutError(f"not ready after {timeout:.0f} s: {waiting}\n"
                               + "\n".join(self.log(n, 2000) for n in waiting))

    def metrics(self, name: str) -> list[tuple[str, dict[str, str], float]]:
        """Every sample of the process's /metrics: (sample name, labels, value); [] if it is down."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            url = f"http://127.0.0.1:{self.services[name].metrics_port}/metrics"
            text = urllib.request.urlopen(url, timeout=3).read().decode()
        except OSError:
            return []
        return [(s.name, dict(s.labels), float(s.value))
                for family in text_string_to_metric_families(text) for s in family.samples]

    def metric(self, name: str, sample: str, **labels: str) -> float:
        """Sum of the samples called `sample` whose labels include `labels` (0 when none)."""
        return sum(value for sample_name, got, value in self.metrics(name)
                   if sample_name == sample and all(got.get(k) == v for k, v in labels.items()))

    def metric_total(self, sample: str, prefix: str = "", **labels: str) -> float:
        """`metric` summed over every live process whose name starts with `prefix`."""
        return sum(self.metric(name, sample, **labels) for name, s in self.services.items()
                   if name.startswith(prefix) and s.alive())

    # ---- Redis ------------------------------------------------------------------------------
    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=3, socket_timeout=5)
        return self._redis

    def queue_depths(self) -> dict[str, int]:
        """Tasks waiting in each Celery queue (priority sub-queues included)."""
        depths: dict[str, int] = {}
        for queue in QUEUES:
            keys = [queue] + [f"{queue}{_PRIORITY_SEP}{step}" for step in (3, 6, 9)]
            pipe = self.redis.pipeline()
            for key in keys:
                pipe.llen(key)
            depths[queue] = int(sum(pipe.execute()))
        return depths

    def unacked(self) -> list[str]:
        """Routing keys (queues) of the tasks a worker took but has not acknowledged yet."""
        import json

        out = []
        for raw in self.redis.hvals("unacked"):
            try:
                _message, _exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                routing_key = "?"
            out.append(str(routing_key))
        return out

    def flush_redis(self) -> None:
        """Empty the deployment's Redis database (queues, unacked tasks) before a run."""
        self.redis.flushdb()

    # ---- memory -----------------------------------------------------------------------------
    def rss_kb(self, name: str) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the process now, in KiB; (0, 0) when it is not running."""
        service = self.services[name]
        if not service.alive():
            return 0, 0
        return read_rss_kb(service.pid)  # type: ignore[arg-type]

    def _track_rss(self, service: Service) -> int:
        if service.alive():
            _rss, hwm = read_rss_kb(service.pid)  # type: ignore[arg-type]
            service.peak_rss_kb = max(service.peak_rss_kb, hwm)
        return service.peak_rss_kb

    def peak_rss_mb(self) -> dict[str, float]:
        """Highest resident memory of each process so far, over all its lives, in MiB."""
        return {name: round(self._track_rss(s) / 1024, 1) for name, s in self.services.items()}

    # ---- sampling ---------------------------------------------------------------------------
    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each process has used so far, over all its lives."""
        out = {}
        for name, service in self.services.items():
            if service.alive():
                service.cpu_s_now = read_cpu_s(service.pid) or service.cpu_s_now  # type: ignore[arg-type]
            out[name] = round(service.cpu_s_before + service.cpu_s_now, 3)
        return out

    def sample(self, extra: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
        """One observation: time, RSS and CPU seconds per process, queue depths, unacked tasks,
        plus `extra()`."""
        rss = {}
        for name, service in self.services.items():
            current, hwm = read_rss_kb(service.pid) if service.alive() else (0, 0)  # type: ignore[arg-type]
            service.peak_rss_kb = max(service.peak_rss_kb, hwm)
            rss[name] = current
        doc: dict[str, Any] = {"t": time.time(), "rss_kb": rss, "cpu_s": self.cpu_seconds()}
        try:
            doc["queues"] = self.queue_depths()
            doc["unacked"] = len(self.unacked())
        except Exception as exc:  # Redis away (a fault test cut it): note it and go on
            doc["queues"], doc["unacked"], doc["redis_error"] = {}, 0, repr(exc)
        if extra is not None:
            doc.update(extra())
        return doc

    def start_sampling(self, interval_s: float = 0.5, extra: Callable[[], dict[str, Any]] | None = None) -> None:
        """Sample in a background thread into `self.samples` until `stop_sampling`."""
        self._sampling.clear()

        def run() -> None:
            while not self._sampling.is_set():
                self.samples.append(self.sample(extra))
                self._sampling.wait(interval_s)

        self._sampler = threading.Thread(target=run, name="livebot-local-sampler", daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._sampling.set()
        if self._sampler is not None:
            self._sampler.join(10)
            self._sampler = None

    # ---- logs -------------------------------------------------------------------------------
    def log(self, name: str, tail: int = 4000) -> str:
        path = self.services[name].log_path
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"==== {name} ({path})\n{text[-tail:]}"

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(self.log(name, tail) for name in self.services)


def read_rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` in KiB from /proc (no psutil); (0, 0) if it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0, 0
    return rss, hwm


_TICKS = os.sysconf("SC_CLK_TCK")


def read_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` from /proc/<pid>/stat; 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return _stat_cpu_s(stat.read())
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def _stat_cpu_s(stat: str) -> float:
    """utime + stime of a /proc/<pid>/stat line, in seconds (fields 14 and 15 of proc(5);
    counted after the command name, which may itself hold spaces or parentheses)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_by_command() -> dict[str, float]:
    """CPU seconds used so far by every running process, summed by command name (`comm`):
    who else is using the machine (postgres, redis-server, another job's python)."""
    out: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        out[name] = out.get(name, 0.0) + _stat_cpu_s(text)
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


def ensure_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Create `topics` (the mock cluster creates a topic when a client asks for its metadata)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for topic in topics:
        producer.list_topics(topic, timeout=10)
    producer.flush(1)


# ---- Kafka-side views -----------------------------------------------------------------------


class GroupLag:
    """A consumer group's lag on a topic, from Kafka: partition end minus committed offset.

    Uses a consumer that never subscribes, so it never joins (or disturbs) the group.
    """

    def __init__(self, bootstrap: str, group_id: str, topic: str) -> None:
        from confluent_kafka import Consumer

        from pipeline.kafka import consumer_config

        self.topic = topic
        self._consumer = Consumer(consumer_config(bootstrap, group_id))
        self._partitions: list[int] = []

    def partitions(self) -> list[int]:
        if not self._partitions:
            metadata = self._consumer.list_topics(self.topic, timeout=5)
            topic = metadata.topics.get(self.topic)
            if topic is not None and topic.error is None:
                self._partitions = sorted(topic.partitions)
        return self._partitions

    def lag(self) -> dict[int, int]:
        """Per partition: records not committed yet (the whole partition when nothing is)."""
        from confluent_kafka import TopicPartition

        partitions = self.partitions()
        if not partitions:
            return {}
        committed = self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=5)
        out = {}
        for tp in committed:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition), timeout=5)
            start = tp.offset if tp.offset >= 0 else low
            out[tp.partition] = max(0, high - start)
        return out

    def total(self) -> int:
        return sum(self.lag().values())

    def close(self) -> None:
        self._consumer.close()


def unique_tag() -> str:
    return uuid.uuid4().hex[:8]


def topics_env(prefix: str) -> dict[str, str]:
    """`LIVEBOT_TOPIC_*` and the consumer group prefix for a run of its own (nothing shared)."""
    return {
        "LIVEBOT_TOPIC_DANMAKU": f"{prefix}.danmaku",
        "LIVEBOT_TOPIC_ASR": f"{prefix}.asr",
        "LIVEBOT_TOPIC_STOCK": f"{prefix}.stock",
        "LIVEBOT_TOPIC_REPLY": f"{prefix}.reply",
        "LIVEBOT_TOPIC_PRODUCT": f"{prefix}.product",
        "LIVEBOT_TOPIC_MODERATION": f"{prefix}.moderation",
        "LIVEBOT_TOPIC_ALERT": f"{prefix}.alert",
        "LIVEBOT_TOPIC_DEADLETTER": f"{prefix}.deadletter",
        "LIVEBOT_CONSUMER_GROUP_PREFIX": prefix,
    }


def iter_samples(samples: list[dict[str, Any]], key: str) -> Iterator[tuple[float, Any]]:
    for sample in samples:
        if key in sample:
            yield sample["t"], sample[key]
