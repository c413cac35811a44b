"""The `livebot` command: run the embedded demo, the consumers, the workers and the tools."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from pipeline import logs
from pipeline.settings import Settings, get_settings

log = logging.getLogger("livebot")


@click.group()
def main() -> None:
    """livebot: answers live-commerce rooms. Configuration: LIVEBOT_* variables (see README)."""


@main.command()
@click.option("--session", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="session file to replay (default: the sample live-shopping session)")
@click.option("--speed", type=float, default=12.0, show_default=True, help="replay this many times faster than recorded")
@click.option("--rate", type=float, default=None, help="replay at this many records/s instead of the recorded pace")
def run(session: Path | None, speed: float, rate: float | None) -> None:
    """Run the whole pipeline on the embedded defaults and replay the sample session."""
    from livebot.embedded import SAMPLE_SESSION, format_summary
    from livebot.embedded import run as run_embedded

    settings = get_settings()
    # Dead letters and hand-off retries are in the summary; only errors interrupt the progress bar.
    logs.setup("ERROR" if settings.log_level.upper() == "INFO" else settings.log_level)
    summary = run_embedded(settings, session or SAMPLE_SESSION, speed=speed, rate=rate)
    click.echo(format_summary(summary, settings))


@main.command()
def kafka() -> None:
    """Start librdkafka's mock cluster and print its bootstrap address; runs until stopped."""
    from pipeline.kafka import start_embedded_cluster

    cluster = start_embedded_cluster()
    click.echo(cluster.bootstrap, nl=True)
    sys.stdout.flush()
    click.echo(f"mock Kafka cluster up; export LIVEBOT_KAFKA_BOOTSTRAP={cluster.bootstrap}", err=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@main.command()
@click.argument("kind", type=click.Choice(["danmaku", "asr", "stock"]))
def consume(kind: str) -> None:
    """Consume one input kind until SIGTERM/SIGINT."""
    from consumers import build_consumer
    from pipeline import metrics
    from pipeline.kafka import resolve_bootstrap

    settings = get_settings()
    logs.setup(settings.log_level)
    loop = build_consumer(kind, settings, resolve_bootstrap(settings))
    metrics.serve(settings.metrics_port, ready=loop.ready)
    loop.install_signal_handlers()
    stats = loop.run()
    click.echo(f"{kind}: consumed {stats.consumed}, dead-lettered {stats.dead_lettered}", err=True)


@main.command()
@click.option("--queues", default="nlp,llm,io", show_default=True, help="comma-separated queues to take tasks from")
@click.option("--concurrency", type=int, default=None, help="task slots (default: 1 for model queues, 4 for io)")
@click.option("--pool", type=click.Choice(["solo", "threads", "prefork"]), default=None,
              help="default: solo when a model queue is served (one process, CUDA-safe), threads for io only")
def worker(queues: str, concurrency: int | None, pool: str | None) -> None:
    """Run a Celery worker for the given queues."""
    from tasks.app import QUEUES, app

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {unknown}; livebot has {list(QUEUES)}", param_hint="--queues")
    models = bool({"nlp", "llm"} & set(names))
    # Model workers never fork after loading a model (CUDA cannot survive a fork): one solo process.
    pool = pool or ("solo" if models else "threads")
    concurrency = concurrency or (1 if models else 4)
    app.worker_main(["worker", "-Q", ",".join(names), "-P", pool, "-c", str(concurrency), "-l", "INFO",
                     "--without-gossip", "--without-mingle", "-n", f"livebot-{'-'.join(names)}@%h"])


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rate", type=float, default=None, help="records per second (default: the recorded pace)")
@click.option("--speed", type=float, default=1.0, show_default=True, help="with no --rate: this many times faster")
def replay(file: Path, rate: float | None, speed: float) -> None:
    """Send a recorded session (or plain event JSON lines) into Kafka."""
    from livebot.replay import replay as replay_file
    from pipeline.kafka import Publisher, resolve_bootstrap

    settings = get_settings()
    sent = replay_file(file, Publisher(resolve_bootstrap(settings)), settings, rate=rate, speed=speed)
    click.echo(f"sent {sum(sent.values())} records: {dict(sent)}", err=True)


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8", errors="surrogateescape"), default="-")
def reduce(source: click.utils.LazyFile) -> None:
    """Reduce danmaku (JSON lines or the data folder's CSV) from SOURCE or stdin: one JSON line
    per cluster, then {"stats": {...}}."""
    from livebot.inspect import reduce_stream

    settings = get_settings()
    logs.setup("WARNING")
    reduce_stream(source, sys.stdout, settings)


@main.command()
@click.option("--since", default="1h", show_default=True, help="ISO-8601 time, or a span back from now: 15m, 2h, 7d")
@click.option("--until", default=None, help="ISO-8601 time (default: now)")
@click.option("--room", default=None, help="only this room")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=Path("livebot-report.png"),
              show_default=True, help="where to draw the per-minute chart")
def report(since: str, until: str | None, room: str | None, png: Path) -> None:
    """Per-room figures for a time range: comments in, answered, moderated, latency, intents, unanswered."""
    from datetime import datetime, timezone

    from livebot import report as room_report
    from pipeline.storage import make_engine

    now = datetime.now(timezone.utc)
    start = room_report.parse_time(since, now)
    end = room_report.parse_time(until, now) if until else now
    reports = room_report.build(make_engine(get_settings().database_url), start, end, room)
    click.echo(room_report.format_table(reports, start, end))
    room_report.draw(reports, png)
    click.echo(f"\nchart: {png}")


@main.command()
@click.option("--catalog", "catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="catalogue YAML (default: LIVEBOT_CATALOGUE_PATH or the sample room's)")
def respond(catalog: Path | None) -> None:
    """Answer viewer questions from stdin (text, or JSON with room context): one JSON line each
    with reply, sku, reasons, strategy, model and guard; exactly the code the tasks run."""
    from livebot.try_reply import respond_stream
    from tasks.runtime import install

    settings = get_settings()
    if catalog is not None:
        settings = settings.model_copy(update={"catalogue_path": str(catalog)})
    logs.setup("WARNING")
    respond_stream(sys.stdin, sys.stdout, install(settings))


@main.command()
def classify() -> None:
    """Understand comments from stdin, one per line: one JSON line each with intent, confidence,
    slots and sentiment (exactly what the `understand` task runs)."""
    import json

    from tasks.runtime import runtime

    logs.setup("WARNING")
    rt = runtime()
    batch: list[str] = []

    def flush() -> None:
        for understood in rt.understand(batch):
            click.echo(json.dumps(understood.to_dict(), ensure_ascii=False))
        batch.clear()

    for line in sys.stdin:
        batch.append(line.rstrip("\n"))
        if len(batch) >= 128:  # the models work in batches, as they do for a window
            flush()
    if batch:
        flush()


@main.command()
@click.argument("task", type=click.Choice(["intent", "sentiment", "embedder", "all"]))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="model folder to write (with `all`: OUT/intent, with its sentiment head, and OUT/embedder)")
@click.option("--base", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="fine-tune this pretrained BERT-style checkpoint instead of training from scratch")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="CPU threads for torch")
@click.option("--lr", type=float, default=None,
              help="peak learning rate (default 1e-3 from scratch or on a `models.pretrain` base, 5e-5 on another --base)")
@click.option("--pretrain", is_flag=True,
              help="with `all`: MLM pre-training of the encoder on unlabelled text first, every model fine-tuned "
              "from it (how the shipped defaults are built; ≈35 minutes on two cores in all)")
def train(task: str, out: Path, base: Path | None, seed: int, threads: int, lr: float | None, pretrain: bool) -> None:
    """Train a model reproducibly (fixed seeds; data versions recorded in OUT/meta.json)."""
    from models.train import main as train_main

    settings = get_settings()
    argv = (["--all"] if task == "all" else [task]) + ["--out", str(out), "--seed", str(seed), "--threads",
                                                        str(threads)]
    argv += ["--base", str(base)] if base else []
    argv += ["--lr", str(lr)] if lr is not None else []
    argv += ["--pretrain"] if pretrain else []
    argv += ["--data-dir", settings.data_dir] if settings.data_dir else []
    argv += ["--catalogue", settings.catalogue_path] if settings.catalogue_path else []
    raise SystemExit(train_main(argv))


@main.command("eval")
@click.argument("task", type=click.Choice(["intent", "sentiment", "embedder", "all"]))
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="model folder (with `all`: the folder holding intent/ and embedder/; default: the shipped one)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True,
              help="where to write the reports, one folder per task (Markdown, JSON and confusion-matrix PNG)")
def evaluate(task: str, model_dir: Path | None, out: Path) -> None:
    """Evaluate a model, or with `all` every model: per-class precision/recall/F1, confusion
    matrix, the data used."""
    import json

    from models import evaluate as model_eval
    from models.understand import DEFAULT_MODEL_DIR, default_model_folder

    settings = get_settings()
    runs = {"intent": model_eval.evaluate_intent, "sentiment": model_eval.evaluate_sentiment,
            "embedder": model_eval.evaluate_embedder}
    for name in runs if task == "all" else (task,):
        if task == "all":
            folder = default_model_folder(name, model_dir or DEFAULT_MODEL_DIR)
        else:
            folder = model_dir or default_model_folder(name)
        report = runs[name](folder, out / name, data_dir=settings.data_dir or None,
                            catalogue=settings.catalogue_path or None)
        click.echo(json.dumps(report, ensure_ascii=False, default=str)[:4000])
        click.echo(f"report written to {out / name}", err=True)


@main.command()
@click.option("--rooms", type=int, default=20, show_default=True, help="rooms, with Zipf-distributed sizes")
@click.option("--rate", type=float, default=500.0, show_default=True, help="comments per second, all rooms together")
@click.option("--duration", type=float, default=60.0, show_default=True, help="seconds of traffic")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--malformed", type=float, default=0.01, show_default=True, help="share of malformed records")
@click.option("--asr/--no-asr", default=True, help="also send host transcripts")
@click.option("--stock/--no-stock", default=True, help="also send ERP stock events")
@click.option("--replay", "replay_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="replay this real danmaku CSV instead of generating traffic")
@click.option("--speed", type=float, default=1.0, show_default=True, help="with --replay: this many times faster")
def loadgen(rooms: int, rate: float, duration: float, seed: int, malformed: float, asr: bool, stock: bool,
            replay_csv: Path | None, speed: float) -> None:
    """Produce realistic live-shopping load (floods, spam waves, malformed records) into Kafka."""
    from livebot.loadgen import run_loadgen
    from pipeline.kafka import resolve_bootstrap

    settings = get_settings()
    sent = run_loadgen(resolve_bootstrap(settings), settings, rooms=rooms, rate=rate, duration_s=duration, seed=seed,
                       malformed_share=malformed, asr=asr, stock=stock, replay_csv=replay_csv, speed=speed)
    click.echo(f"sent {sum(sent.values())} records: {dict(sent)}", err=True)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations to LIVEBOT_DATABASE_URL (SQLite or Postgres)."""
    from pipeline.storage import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {settings.database_url} is at revision {revision}", err=True)


@main.command()
@click.argument("query")
def sql(query: str) -> None:
    """Run one SQL query against the conversation database and print the rows."""
    from sqlalchemy import text

    from pipeline.storage import make_engine

    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        result = conn.execute(text(query))
        if result.returns_rows:
            click.echo("\t".join(result.keys()))
            for row in result:
                click.echo("\t".join("" if v is None else str(v) for v in row))


@main.command()
@click.option("--markdown", is_flag=True, help="print the README's configuration table")
def config(markdown: bool) -> None:
    """Show every setting, its environment variable and its current value."""
    settings = get_settings()
    if markdown:
        click.echo("| variable | default | what it sets |\n| --- | --- | --- |")
    for name, field in Settings.model_fields.items():
        env = f"LIVEBOT_{name.upper()}"
        if markdown:
            click.echo(f"| `{env}` | `{field.default}` | {field.description} |")
        else:
            click.echo(f"{env}={getattr(settings, name)}")


if __name__ == "__main__":
    main()
