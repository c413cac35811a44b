"""Replay a recorded session into Kafka at a chosen pace.

Reads the sample-session format (`{"at", "topic", "key", "event" | "raw" | "raw_b64"}` per
line) or plain event JSON lines (danmaku, ASR or stock, told apart by their fields). Event
times are stamped at send time, so a replayed session is "live" and end-to-end latency is
real; malformed records are sent byte for byte.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.kafka import Publisher
from pipeline.settings import Settings


@dataclass(frozen=True)
class Line:
    at: float  # seconds into the session
    kind: str  # danmaku | asr | stock
    key: str | None
    event: dict[str, Any] | None = None
    raw: bytes | None = None
    stamp: bool = False  # raw JSON that still needs its event time


_TOPIC_KIND = {"live.danmaku": "danmaku", "live.asr": "asr", "erp.stock": "stock"}


def read_lines(path: Path) -> list[Line]:
    lines = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                lines.append(Line(number, "danmaku", None, raw=text.rstrip("\n").encode()))
                continue
            lines.append(_line(doc, number))
    return lines


def _line(doc: dict[str, Any], number: int) -> Line:
    if "topic" not in doc:  # a plain event
        kind = "stock" if "sku" in doc else "asr" if "ts_start" in doc else "danmaku"
        return Line(float(number), kind, doc.get("room_id") or doc.get("sku"), event=doc)
    kind = _TOPIC_KIND.get(doc["topic"], "danmaku")
    at = float(doc.get("at", number))
    if "raw_b64" in doc:
        return Line(at, kind, doc.get("key"), raw=base64.b64decode(doc["raw_b64"]))
    if "raw" in doc:
        return Line(at, kind, doc.get("key"), raw=doc["raw"].encode("utf-8"), stamp=doc.get("stamp") == "ts")
    return Line(at, kind, doc.get("key"), event=doc["event"])


def stamped(line: Line, now: float) -> bytes:
    """The bytes to send: the event with its times set to `now`."""
    now_ms = int(now * 1000)
    if line.raw is not None:
        if not line.stamp:
            return line.raw
        doc = json.loads(line.raw)
        doc["ts"] = now_ms
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    event = dict(line.event or {})
    if line.kind == "asr":
        duration_ms = int(float(event.pop("duration_s", 5.0)) * 1000)
        event["ts_start"], event["ts_end"] = now_ms - duration_ms, now_ms
    else:
        event["ts"] = now_ms
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def schedule(lines: list[Line], rate: float | None, speed: float) -> Iterator[tuple[float, Line]]:
    """(seconds after start to send, line): `rate` records/s if given, else `at` / `speed`."""
    for i, line in enumerate(lines):
        yield (i / rate if rate else line.at / speed), line


def replay(
    path: Path,
    publisher: Publisher,
    settings: Settings,
    *,
    rate: float | None = None,
    speed: float = 1.0,
    progress: bool = True,
) -> Counter[str]:
    """Send every line of `path`; returns records sent per kind."""
    topics = {"danmaku": settings.topic_danmaku, "asr": settings.topic_asr, "stock": settings.topic_stock}
    lines = read_lines(path)
    sent: Counter[str] = Counter()
    started = time.monotonic()
    for due, line in tqdm(schedule(lines, rate, speed), total=len(lines), desc="replay", unit="rec", mininterval=0.5,
                          disable=not progress):
        delay = due - (time.monotonic() - started)
        if delay > 0:
            time.sleep(delay)
        publisher.produce(topics[line.kind], stamped(line, time.time()), key=line.key)
        sent[line.kind] += 1
    publisher.flush()
    return sent
