"""End to end under load: a sweep over comment rate and room count through the real processes.

Each point of the sweep starts a fresh deployment (`livebot.local.LocalDeployment`): danmaku
consumer processes and Celery worker processes on Redis, a fresh Postgres schema, topics of its
own in librdkafka's mock cluster (held by this process). `livebot.loadgen` sends generated
live-shopping comments at a constant `rate` (plus ASR and ERP stock events, and 0.5 % malformed
records), event times stamped at send time; replies are made by templates (no LLM). The reply
policy's cooldown and per-minute cap are lifted (`--keep-policy` keeps them), so every question
cluster is answered: the most work for the workers, and enough replies for latency percentiles.

Reported per point, over the steady part of the run (after `--warmup` seconds):
  * throughput: comments the consumers took per second (their `livebot_records_total`);
  * latency p50 / p95 / p99 of reply actions: event time of the earliest comment behind the
    action → publish (`latency_ms` of the action), and the same to the broker's timestamp;
  * where the time goes (medians from Postgres): comment → window close, close → publish task;
  * reduction: representatives sent to the models per comment, and model batches (windows with
    a question) per comment;
  * max consumer lag (Kafka: partition end − committed offset; open windows hold commits back,
    so a healthy consumer shows about rate × window age) and its slope over the steady part;
    max Celery queue depth; drain time after the last comment;
  * peak RSS and CPU share of every process, and how busy the whole machine was.

The knee, per room count: the highest rate at which p95 ≤ `--p95-target-ms` (1,000 ms) and the
consumers keep up (throughput ≥ 95 % of the offered rate, lag not growing: slope ≤ 2 % of the
rate per second). It also checks issue 5's target: p95 ≤ window age + 300 ms.

    .venv/bin/python bench/e2e.py                 # 100 ... 2,000 comments/s × 20, 100 rooms, 45 s each (~20 min)
    .venv/bin/python bench/e2e.py --quick         # 500, 2000 × 20 rooms, 15 s each
    .venv/bin/python bench/e2e.py --root /tmp/snapshot   # processes run another source tree

Prints a table; draws bench/e2e.png; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from livebot.loadgen import run_loadgen  # noqa: E402
from livebot.local import (ROOT, GroupLag, LocalDeployment, cpu_by_command, ensure_topics,  # noqa: E402
                           machine_cpu, topics_env)
from pipeline.catalogue import Catalogue  # noqa: E402
from pipeline.kafka import MockCluster, read_all  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.storage import load_catalogue, make_engine, upgrade  # noqa: E402

PG_URL = os.environ.get("LIVEBOT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVEBOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# Every question cluster is answered (no reply cooldown or cap): the most work for the workers,
# and enough replies to measure latency percentiles on. `--keep-policy` keeps the defaults.
LIFT_POLICY = {"LIVEBOT_REPLY_COOLDOWN_S": "0", "LIVEBOT_REPLIES_PER_MINUTE": "1000000"}
SLOPE_SHARE = 0.02  # lag "grows" when it rises faster than this share of the rate per second
KEEP_UP_SHARE = 0.95


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 1)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    if len(points) < 3:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / var if var else 0.0


class Schema:
    """A fresh Postgres schema for one point, migrated and with the catalogue loaded."""

    def __init__(self, base_url: str) -> None:
        self.name = f"bench_e2e_{uuid.uuid4().hex[:8]}"
        self.plain = base_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(self.plain, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        separator = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{separator}options=-csearch_path%3D{self.name}"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        with self.engine.begin() as conn:
            load_catalogue(conn, Catalogue.load())

    def drop(self) -> None:
        self.engine.dispose()
        with psycopg.connect(self.plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.name}" CASCADE')


def run_point(args: argparse.Namespace, cluster: MockCluster, rate: float, rooms: int, workdir: Path) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    env = {
        **topics_env(f"e2e{tag}"),
        "LIVEBOT_WINDOW_MAX_AGE_S": str(args.window_age),
        "LIVEBOT_WINDOW_TASKS": args.window_tasks,
        "LIVEBOT_LOG_LEVEL": "WARNING",
        **({} if args.keep_policy else LIFT_POLICY),
        **dict(kv.split("=", 1) for kv in args.env),
    }
    settings = Settings(**{k.removeprefix("LIVEBOT_").lower(): v for k, v in env.items()
                           if k.removeprefix("LIVEBOT_").lower() in Settings.model_fields})
    schema = Schema(args.database_url)
    ensure_topics(cluster.bootstrap, [settings.topic_danmaku, settings.topic_asr, settings.topic_stock,
                                      settings.topic_reply, settings.topic_moderation])
    deployment = LocalDeployment(kafka=cluster.bootstrap, redis_url=args.redis_url, database_url=schema.url,
                                 workdir=workdir / f"r{int(rate)}-rooms{rooms}-{tag}", consumers=args.consumers,
                                 workers=args.workers, worker_queues=args.worker_queues, env=env, root=args.root)
    lag = GroupLag(cluster.bootstrap, settings.group_id("danmaku"), settings.topic_danmaku)
    point: dict[str, Any] = {"rate": rate, "rooms": rooms}
    try:
        deployment.flush_redis()
        deployment.start()
        deployment.wait_ready(timeout=120)

        def observe() -> dict[str, Any]:
            return {"lag": lag.total(),
                    "consumed": deployment.metric_total("livebot_records_total", "consumer", kind="danmaku")}

        busy0, total0 = machine_cpu()
        cpu0 = deployment.cpu_seconds()
        by_command0 = cpu_by_command()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        deployment.start_sampling(0.5, observe)
        started = time.time()
        sent = run_loadgen(cluster.bootstrap, settings, rooms=rooms, rate=rate, duration_s=args.duration,
                           seed=args.seed, malformed_share=args.malformed, asr=True, stock=True, pace="constant",
                           progress=False)
        ended = time.time()
        busy1, total1 = machine_cpu()
        cpu1 = deployment.cpu_seconds()
        by_command1 = cpu_by_command()
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        # Drain: everything consumed and committed, no task waiting or running.
        drained_at = None
        while time.time() - ended < args.drain_timeout:
            time.sleep(0.5)
            last = deployment.samples[-1] if deployment.samples else {}
            if last.get("lag") == 0 and not sum(last.get("queues", {}).values()) and not last.get("unacked"):
                drained_at = time.time()
                break
        deployment.stop_sampling()
        samples = deployment.samples

        steady_from = started + args.warmup
        steady = [s for s in samples if steady_from <= s["t"] <= ended]
        consumed = [(s["t"], s["consumed"]) for s in steady if "consumed" in s]
        throughput = ((consumed[-1][1] - consumed[0][1]) / (consumed[-1][0] - consumed[0][0])
                      if len(consumed) >= 2 and consumed[-1][0] > consumed[0][0] else 0.0)
        lags = [(s["t"] - started, s["lag"]) for s in steady if "lag" in s]
        lag_slope = slope(lags)

        replies = [json.loads(m.value()) | {"_broker_ms": m.timestamp()[1]}
                   for m in read_all(cluster.bootstrap, [settings.topic_reply], idle_s=2.0, max_wait_s=120)]
        moderations = [json.loads(m.value()) for m in read_all(cluster.bootstrap, [settings.topic_moderation],
                                                               idle_s=1.0, max_wait_s=60)]
        in_steady = [a for a in replies if steady_from <= a["event_time"] <= ended]
        latencies = [a["latency_ms"] for a in in_steady]
        broker_latencies = [a["_broker_ms"] - a["event_time"] * 1000 for a in in_steady]
        mod_latencies = [a["latency_ms"] for a in moderations if steady_from <= a["event_time"] <= ended]
        action_ids = [a["action_id"] for a in replies]

        with schema.engine.connect() as conn:
            totals = conn.execute(text(
                "SELECT count(*), coalesce(sum(comments_in), 0), coalesce(sum(sent), 0),"
                " count(*) FILTER (WHERE sent > 0), coalesce(sum(shed), 0) FROM window_stats")).one()
            breakdown = conn.execute(text(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.closed_at - t.first_event_at)),"
                "       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.answered_at - w.closed_at)),"
                "       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t.answered_at - w.closed_at)),"
                "       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.understand_ms),"
                "       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.recommend_ms),"
                "       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.generate_ms)"
                " FROM conversation_turns t JOIN window_stats w USING (window_id)"
                " WHERE t.first_event_at >= to_timestamp(:a) AND t.first_event_at <= to_timestamp(:b)"),
                {"a": steady_from, "b": ended}).one()
        windows, comments_in, reps, batches, shed = totals
        span = ended - started
        cpu_share = {name: round((cpu1[name] - cpu0.get(name, 0.0)) / span, 3) for name in cpu1}
        self_cpu = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / span
        p95 = percentile(latencies, 0.95)
        keeps_up = throughput >= KEEP_UP_SHARE * rate and lag_slope <= SLOPE_SHARE * rate
        point.update({
            "sent": sent["danmaku"], "malformed": sent["malformed"], "asr": sent["asr"], "stock": sent["stock"],
            "throughput": round(throughput, 1),
            "replies": len(replies), "replies_steady": len(in_steady),
            "duplicate_action_ids": len(action_ids) - len(set(action_ids)),
            "p50_ms": percentile(latencies, 0.50), "p95_ms": p95, "p99_ms": percentile(latencies, 0.99),
            "p95_to_broker_ms": percentile(broker_latencies, 0.95),
            "moderation_p95_ms": percentile(mod_latencies, 0.95),
            "median_comment_to_close_ms": _ms(breakdown[0]), "median_close_to_publish_ms": _ms(breakdown[1]),
            "p95_close_to_publish_ms": _ms(breakdown[2]),
            "median_stage_ms": {stage: None if v is None else round(float(v), 1)
                                for stage, v in zip(("understand", "recommend", "generate"), breakdown[3:6])},
            "windows": windows, "comments_in_windows": int(comments_in), "shed": int(shed),
            "reps_per_comment": round(reps / comments_in, 4) if comments_in else None,
            "model_batches_per_comment": round(batches / comments_in, 4) if comments_in else None,
            "windows_per_s": round(windows / span, 1),
            "max_lag": max((lag for _, lag in lags), default=None),
            "lag_slope_per_s": round(lag_slope, 1),
            "max_queue_depth": max((sum(s.get("queues", {}).values()) for s in samples), default=0),
            "max_queue_depth_by_queue": {q: max((s.get("queues", {}).get(q, 0) for s in samples), default=0)
                                         for q in ("nlp", "llm", "io")},
            "drain_s": round(drained_at - ended, 1) if drained_at else None,
            "peak_rss_mb": deployment.peak_rss_mb(),
            "cpu_share": cpu_share | {"bench(kafka mock+loadgen)": round(self_cpu, 3)},
            "machine_busy": round((busy1 - busy0) / (total1 - total0), 3) if total1 > total0 else None,
            # cores used during the load, by command name, over 0.02 (livebot = consumers + workers)
            "cores_by_command": {name: round(used / span, 2) for name, used in sorted(
                ((n, by_command1[n] - by_command0.get(n, 0.0)) for n in by_command1), key=lambda kv: -kv[1])
                if used / span >= 0.02},
            "loadavg": os.getloadavg()[0],
            "keeps_up": keeps_up,
            "meets_p95_1s": p95 is not None and p95 <= args.p95_target_ms and keeps_up,
            "meets_window_plus_300ms": p95 is not None and p95 <= args.window_age * 1000 + 300 and keeps_up,
        })
        return point
    except BaseException:
        print(deployment.logs(3000), file=sys.stderr)
        raise
    finally:
        deployment.stop()
        lag.close()
        schema.drop()


def _ms(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) * 1000, 1)


def knees(points: list[dict[str, Any]], key: str) -> dict[int, float | None]:
    """Per room count: the highest rate meeting `key`, with every lower rate meeting it too."""
    out: dict[int, float | None] = {}
    for rooms in sorted({p["rooms"] for p in points}):
        best = None
        for point in sorted((p for p in points if p["rooms"] == rooms), key=lambda p: p["rate"]):
            if not point.get(key):
                break
            best = point["rate"]
        out[rooms] = best
    return out


def draw(points: list[dict[str, Any]], path: Path, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    (ax_tp, ax_lat), (ax_lag, ax_q) = axes
    for rooms in sorted({p["rooms"] for p in points}):
        series = sorted((p for p in points if p["rooms"] == rooms), key=lambda p: p["rate"])
        rates = [p["rate"] for p in series]
        ax_tp.plot(rates, [p["throughput"] for p in series], "o-", label=f"{rooms} rooms")
        for q, style in (("p50_ms", ":"), ("p95_ms", "-"), ("p99_ms", "--")):
            ax_lat.plot(rates, [p[q] if p[q] is not None else float("nan") for p in series], "o" + style,
                        label=f"{rooms} rooms {q[:3]}")
        ax_lag.plot(rates, [p["max_lag"] or 0 for p in series], "o-", label=f"{rooms} rooms")
        ax_q.plot(rates, [p["max_queue_depth"] for p in series], "o-", label=f"{rooms} rooms")
    top = max(p["rate"] for p in points)
    ax_tp.plot([0, top], [0, top], color="grey", lw=0.8, label="offered")
    ax_tp.set(title="sustained throughput", xlabel="offered comments/s", ylabel="consumed comments/s")
    ax_lat.axhline(args.p95_target_ms, color="red", lw=0.8, label="p95 target 1 s")
    ax_lat.axhline(args.window_age * 1000 + 300, color="orange", lw=0.8, label="window age + 300 ms")
    ax_lat.set(title="reply latency (event → published)", xlabel="offered comments/s", ylabel="ms", yscale="log")
    ax_lag.set(title="max consumer lag (end − committed)", xlabel="offered comments/s", ylabel="records")
    ax_q.set(title="max Celery queue depth (nlp+llm+io)", xlabel="offered comments/s", ylabel="tasks")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"livebot end to end: {args.consumers} consumer(s), {args.workers} worker(s) "
                 f"[{args.worker_queues}], window age {args.window_age} s, {args.duration:.0f} s per point")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,300,500,750,1000,1500,2000", help="comments/s, comma-separated")
    parser.add_argument("--rooms", default="20,100", help="room counts, comma-separated")
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of load per point")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds left out of the steady figures")
    parser.add_argument("--quick", action="store_true", help="a short sweep: 500, 2000 × 20 rooms, 15 s each")
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-queues", default="nlp,llm,io")
    parser.add_argument("--window-age", type=float, default=0.5, help="LIVEBOT_WINDOW_MAX_AGE_S")
    parser.add_argument("--window-tasks", choices=("fused", "chain"), default="fused",
                        help="LIVEBOT_WINDOW_TASKS: every worker here serves every queue, so fused by default")
    parser.add_argument("--malformed", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--p95-target-ms", type=float, default=1000.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--keep-policy", action="store_true", help="keep the reply cooldown and per-minute cap")
    parser.add_argument("--env", action="append", default=[], help="extra LIVEBOT_X=value for the processes")
    parser.add_argument("--root", type=Path, default=ROOT, help="source tree the processes run (default: this one)")
    parser.add_argument("--database-url", default=PG_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--png", type=Path, default=Path(__file__).resolve().parent / "e2e.png")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-e2e"), help="process logs go here")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.rooms, args.duration, args.warmup = "500,2000", "20", 15.0, 4.0
    logging.disable(logging.WARNING)
    rates = [float(r) for r in args.rates.split(",")]
    room_counts = [int(r) for r in args.rooms.split(",")]

    cluster = MockCluster()
    points = []
    print(f"{'rooms':>5} {'rate':>6} {'tput/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'close→pub p50':>13} "
          f"{'reps/cmt':>8} {'lag max':>7} {'slope':>6} {'queue':>5} {'drain':>5} {'busy':>5} ok", flush=True)
    for rooms in room_counts:
        for rate in rates:
            point = run_point(args, cluster, rate, rooms, args.workdir)
            points.append(point)
            print(f"{rooms:>5} {rate:>6.0f} {point['throughput']:>7.0f} {_f(point['p50_ms'])} {_f(point['p95_ms'])} "
                  f"{_f(point['p99_ms'])} {_f(point['median_close_to_publish_ms'], 13)} "
                  f"{point['reps_per_comment'] or 0:>8.4f} {point['max_lag'] or 0:>7} {point['lag_slope_per_s']:>6.0f} "
                  f"{point['max_queue_depth']:>5} {_f(point['drain_s'], 5)} {point['machine_busy'] or 0:>5.2f} "
                  f"{'yes' if point['meets_p95_1s'] else 'no'}", flush=True)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    draw(points, args.png, args)
    knee = knees(points, "meets_p95_1s")
    knee_issue5 = knees(points, "meets_window_plus_300ms")
    print(f"knee (p95 ≤ {args.p95_target_ms:.0f} ms and keeping up), per room count: {knee}")
    print(f"issue 5 target (p95 ≤ window age + 300 ms = {args.window_age * 1000 + 300:.0f} ms): {knee_issue5}")
    print(f"chart: {args.png}")
    cluster.close()
    print(json.dumps({
        "bench": "e2e",
        "date": datetime.now(timezone.utc).date().isoformat(),
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "loadavg_end": os.getloadavg()},
        "config": {"reply_policy": "defaults" if args.keep_policy else "lifted", "consumers": args.consumers, "workers": args.workers, "worker_queues": args.worker_queues,
                   "window_tasks": args.window_tasks, "window_age_s": args.window_age, "duration_s": args.duration, "warmup_s": args.warmup,
                   "malformed_share": args.malformed, "pace": "constant", "llm": "templates"},
        "knee_rate_by_rooms": knee, "knee_window_plus_300ms_by_rooms": knee_issue5,
        "points": [{k: v for k, v in p.items() if k not in ("max_queue_depth_by_queue",)} for p in points],
    }, ensure_ascii=False))


def _f(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.0f}"


if __name__ == "__main__":
    main()
