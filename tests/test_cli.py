"""The `livebot` command as users call it: run, kafka + replay, db upgrade, worker arguments, sql."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from livebot.cli import main
from pipeline.kafka import read_all
from pipeline.schema import conversation_turns, dead_letters, window_stats
from pipeline.storage import make_engine
from tests.conftest import LIVEBOT

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBOT_")}


def test_run_replays_the_sample_session_and_summarises_it(tmp_path: Path) -> None:
    result = subprocess.run([LIVEBOT, "run", "--speed", "60"], cwd=tmp_path, env=CLEAN_ENV,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    events_in = int(re.search(r"events in\s+(\d+)", out).group(1))
    dead = int(re.search(r"dead-lettered\s+(\d+)", out).group(1))
    replies = int(re.search(r"reply (\d+)", out).group(1))
    session_lines = sum(1 for _ in (Path(__file__).parent.parent / "livebot/sample/session.jsonl").open())
    assert events_in == session_lines
    assert dead == 8  # the sample session's malformed records
    assert replies > 0 and "→" in out and "livebot sql" in out
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'livebot.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(dead_letters)) == 8
        assert conn.scalar(select(func.count()).select_from(conversation_turns)) == replies
        comments = conn.scalar(select(func.sum(window_stats.c.comments_in)))
    danmaku = int(re.search(r"danmaku (\d+)", out).group(1))
    assert comments == danmaku - dead  # every valid comment is in some window's statistics


def test_kafka_command_serves_a_cluster_that_replay_can_write_to(tmp_path: Path) -> None:
    kafka = subprocess.Popen([LIVEBOT, "kafka"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=CLEAN_ENV)
    try:
        bootstrap = kafka.stdout.readline().strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*", bootstrap)
        events = tmp_path / "events.jsonl"
        events.write_text("\n".join(json.dumps({"event_id": f"e{n}", "room_id": "r", "user_id": "u", "text": "hi",
                                                "ts": 0}) for n in range(5)) + "\n")
        env = {**CLEAN_ENV, "LIVEBOT_KAFKA_BOOTSTRAP": bootstrap, "LIVEBOT_TOPIC_DANMAKU": "cli.danmaku"}
        replayed = subprocess.run([LIVEBOT, "replay", str(events), "--rate", "100"], env=env, capture_output=True,
                                  text=True, timeout=60)
        assert replayed.returncode == 0, replayed.stderr
        values = [json.loads(m.value()) for m in read_all(bootstrap, ["cli.danmaku"], idle_s=1.0)]
        assert sorted(v["event_id"] for v in values) == [f"e{n}" for n in range(5)]
        assert all(v["ts"] > 1_700_000_000_000 for v in values)  # stamped at send time
    finally:
        kafka.send_signal(signal.SIGTERM)
        assert kafka.wait(10) == 0


def test_db_upgrade_then_sql_query(tmp_path: Path) -> None:
    env = {"LIVEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    runner = CliRunner()
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    try:
        upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
        assert upgraded.exit_code == 0, upgraded.output
        get_settings.cache_clear()
        queried = runner.invoke(main, ["sql", "SELECT count(*) AS n FROM window_stats"], env=env)
        assert queried.exit_code == 0 and queried.output.splitlines() == ["n", "0"]
    finally:
        get_settings.cache_clear()


def test_worker_rejects_unknown_queues() -> None:
    result = CliRunner().invoke(main, ["worker", "--queues", "nlp,gpu"])
    assert result.exit_code != 0 and "unknown queue" in result.output


def test_consume_rejects_unknown_kinds() -> None:
    result = CliRunner().invoke(main, ["consume", "orders"])
    assert result.exit_code != 0 and "danmaku" in result.output


def test_reduce_writes_cluster_lines_then_the_stats_line() -> None:
    lines = [json.dumps({"event_id": f"e{n}", "room_id": "r", "user_id": f"u{n}", "text": text,
                         "ts": 1_700_000_000_000 + n * 100}, ensure_ascii=False)
             for n, text in enumerate(["多少钱", "多少钱呀", "这个多少钱", "666", "加微信abc123", "敏感肌能用吗"])]
    lines.append("not json")
    result = CliRunner().invoke(main, ["reduce"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    *clusters, last = out
    stats = last["stats"]
    assert list(stats) == ["in", "deduplicated", "moderated", "spam", "chatter", "clustered", "clusters", "sent",
                           "suppressed", "shed"]
    assert stats["in"] == 6 and stats["spam"] == 1 and stats["chatter"] == 1
    assert stats["in"] == sum(stats[k] for k in ("deduplicated", "moderated", "spam", "chatter", "clustered", "shed"))
    assert stats["sent"] + stats["suppressed"] <= stats["clusters"] == len(clusters) == 2
    price = next(c for c in clusters if c["size"] == 3)
    assert {"representative", "members", "size", "cue"} <= set(price)
    assert sorted(price["members"]) == ["多少钱", "多少钱呀", "这个多少钱"] and price["cue"] == "question"


def test_reduce_reads_the_bilibili_csv_layout() -> None:
    csv_text = ("session,streamer,offset_s,send_ts,send_time_cst,mode,font_size,color,pool,user_hash,row_id,text\n"
                "s,s,0,1607630590,x,1,25,0,0,aa,0,主播好\n"
                "s,s,0,1607630591,x,1,25,0,0,bb,1,链接在哪呀?\n")
    result = CliRunner().invoke(main, ["reduce"], input=csv_text)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout.splitlines()[-1])["stats"]
    assert (stats["in"], stats["chatter"], stats["clustered"]) == (2, 1, 1)


def test_classify_writes_intent_confidence_slots_and_sentiment_per_line() -> None:
    result = CliRunner().invoke(main, ["classify"], input="精华多少钱\n敏感肌能用吗\n\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3  # one line out per line in, empty ones included
    for row in rows:
        assert {"intent", "confidence", "slots", "sentiment"} <= set(row)
        assert 0.0 <= row["confidence"] <= 1.0 and row["sentiment"] in ("neg", "neu", "pos")
    assert rows[0]["intent"] == "price" and rows[0]["slots"]["product"] == "SKU-SERUM-01"


def test_eval_all_writes_every_report_of_the_shipped_models_in_one_command(tmp_path: Path) -> None:
    """No --model: the shipped models, where sentiment is the intent model's head."""
    env = {**CLEAN_ENV, "LIVEBOT_DATA_DIR": str(tmp_path / "no-real-data")}  # generated held-out only
    result = subprocess.run([LIVEBOT, "eval", "all", "--out", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for task, a_class in (("intent", "price"), ("sentiment", "neu")):
        report = (tmp_path / task / "report.md").read_text()
        assert f"| {a_class} |" in report and "macro" in report
        assert list((tmp_path / task).glob("*.png"))
    assert json.loads((tmp_path / "embedder" / "metrics.json").read_text())["generated_pairs"]["n"] > 0


def test_loadgen_command_sends_comments_and_malformed_records(kafka: str) -> None:
    env = {"LIVEBOT_KAFKA_BOOTSTRAP": kafka, "LIVEBOT_TOPIC_DANMAKU": "cli.loadgen.danmaku"}
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["loadgen", "--rooms", "3", "--rate", "200", "--duration", "1",
                                           "--malformed", "0.2", "--no-asr", "--no-stock"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    values = [m.value() for m in read_all(kafka, ["cli.loadgen.danmaku"], idle_s=1.0)]
    assert len(values) > 50
    malformed = 0
    for value in values:
        try:
            json.loads(value)["event_id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            malformed += 1
    assert 0 < malformed < len(values)


def test_train_hands_its_options_to_the_training_module(tmp_path, monkeypatch) -> None:
    import models.train

    seen: list[list[str]] = []
    monkeypatch.setattr(models.train, "main", lambda argv: seen.append(argv) or 0)
    base = tmp_path / "mlm"
    base.mkdir()
    result = CliRunner().invoke(main, ["train", "intent", "--out", str(tmp_path / "out"), "--base", str(base),
                                       "--lr", "0.001", "--threads", "1"])
    assert result.exit_code == 0, result.output
    [argv] = seen
    assert argv[:1] == ["intent"] and ["--base", str(base)] == argv[argv.index("--base"):argv.index("--base") + 2]
    assert argv[argv.index("--lr") + 1] == "0.001" and argv[argv.index("--threads") + 1] == "1"
    assert "--pretrain" not in argv
    result = CliRunner().invoke(main, ["train", "all", "--out", str(tmp_path / "out"), "--pretrain"])
    assert result.exit_code == 0, result.output
    assert seen[-1][:1] == ["--all"] and "--pretrain" in seen[-1]
