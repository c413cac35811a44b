"""`livebot loadgen`: drive the input topics like a busy evening of live rooms, or replay a recording.

Three streams go out, merged on one timeline:

- **danmaku** from `livebot.traffic.generate` (Zipf-sized rooms, floods after price reveals,
  chatter and emoji floods, spam waves, complaints, repeats), or, with `replay_csv`, the real
  danmaku of a CSV file of the data folder (`livebot.inspect.read_comments`) at its recorded
  pace times `speed`;
- **ASR**: each room's host talks continuously, one segment every few seconds about the product
  on screen (name, price, promotion, selling points), moving from product to product;
- **ERP stock**: every catalogue sku sells down every few seconds and is restocked when it runs
  out; some updates carry the price and promotion price.

Every event time is stamped when the record is sent, so what a benchmark measures from the
actions' `event_time` is real end-to-end latency. On top of the valid records, a share
(`malformed_share` of everything sent, per topic) is malformed in every way the contracts
reject: not JSON, invalid UTF-8, not an object, missing and mistyped fields, oversized records,
over-long text, NUL characters, times in the future, the absurd past or unparseable, an end
before its start, an empty value and a tombstone. They cycle through the kinds, so a short run
carries each of them.

Pacing sleeps only when the schedule is a whole quantum (5 ms) ahead, so at thousands of
records a second the generator sends in small batches between sleeps rather than sleeping per
message; when it falls behind it sends without sleeping until it has caught up.

`pace="traffic"` (the default) sends comments when the traffic model says they happen, floods
included, so the instantaneous rate swings around `rate`; `pace="constant"` sends the same
comments, in the same order, at exactly `rate` per second, which is what a throughput sweep
wants.

    run_loadgen(bootstrap, settings, rooms=20, rate=2000, duration_s=60, seed=7,
                malformed_share=0.01, asr=True, stock=True)
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
from tqdm import tqdm

from livebot.inspect import read_comments
from livebot.traffic import generate, room_ids
from pipeline.catalogue import Catalogue, Product
from pipeline.contracts import Danmaku
from pipeline.kafka import Publisher
from pipeline.settings import Settings

Pace = Literal["traffic", "constant"]
QUANTUM_S = 0.005
"""Pacing granularity: the generator sleeps only when it is this far ahead of its schedule."""

ASR_EVERY_S = (3.0, 8.0)  # pause between two segments of one host
ASR_LENGTH_S = (2.0, 6.0)  # how long one segment lasts
SEGMENT_S = (90.0, 240.0)  # how long a host presents one product
STOCK_EVERY_S = (2.0, 6.0)  # between two ERP updates of one sku
MAX_REPLAY_GAP_S = 5.0
"""Replay: a silence longer than this in the recording (the hours before a stream starts) is cut
to this, before `speed` applies."""

_ENCODER = msgspec.json.Encoder()


# ---------------------------------------------------------------------------------------------
# The timeline: (seconds after start, sequence, what to send)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Danmaku:
    event: Danmaku


@dataclass(frozen=True, slots=True)
class _Asr:
    event_id: str
    room_id: str
    text: str
    length_s: float


@dataclass(frozen=True, slots=True)
class _Stock:
    event_id: str
    sku: str
    stock: int
    price: float | None
    promo_price: float | None


_Item = _Danmaku | _Asr | _Stock


def _traffic_schedule(rooms: int, rate: float, duration_s: float, seed: int, pace: Pace,
                      kinds: Collection[str] | None, catalogue: Catalogue) -> Iterator[tuple[float, _Item]]:
    if pace == "constant":
        total = max(0, round(rate * duration_s))
        comments = itertools.islice(_endless_traffic(rooms, rate, duration_s, seed, kinds, catalogue), total)
        for n, comment in enumerate(comments):
            yield n / rate, _Danmaku(comment.danmaku)
        return
    for comment in generate(rooms=rooms, rate=rate, duration_s=duration_s, seed=seed, start=0.0, catalogue=catalogue):
        if kinds is None or comment.kind in kinds:
            yield float(comment.danmaku.ts), _Danmaku(comment.danmaku)


def _endless_traffic(rooms: int, rate: float, duration_s: float, seed: int, kinds: Collection[str] | None,
                     catalogue: Catalogue) -> Iterator[Any]:
    """Generated comments in stream order; if the model made fewer than asked, another seed goes on."""
    for n in itertools.count():
        for comment in generate(rooms=rooms, rate=rate, duration_s=duration_s, seed=seed + 7919 * n, start=0.0,
                                catalogue=catalogue):
            if kinds is None or comment.kind in kinds:
                yield comment


def _replay_schedule(path: Path, speed: float, duration_s: float | None,
                     errors: list[str]) -> tuple[list[tuple[float, _Item]], list[str]]:
    """The recording's comments on a timeline from 0, its long silences cut, `speed` applied.

    Comments stamped with the same time (the live recordings have whole seconds) are spread
    evenly up to the next stamp, at most one second, instead of leaving in one lump.
    """
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        comments = sorted(read_comments(handle, errors), key=lambda c: float(c.ts))
    timeline: list[tuple[float, _Item]] = []
    rooms: dict[str, None] = {}
    clock = 0.0
    i = 0
    while i < len(comments):
        ts = float(comments[i].ts)
        j = i
        while j < len(comments) and float(comments[j].ts) == ts:
            j += 1
        following = float(comments[j].ts) if j < len(comments) else ts + 1.0
        spread = min(1.0, following - ts)
        for k in range(i, j):
            at = (clock + spread * (k - i) / (j - i)) / speed
            if duration_s and at >= duration_s:
                return timeline, list(rooms)
            timeline.append((at, _Danmaku(comments[k])))
            rooms.setdefault(comments[k].room_id)
        clock += min(following - ts, MAX_REPLAY_GAP_S)
        i = j
    return timeline, list(rooms)


def _asr_schedule(rooms: list[str], products: tuple[Product, ...], duration_s: float,
                  seed: int) -> Iterator[tuple[float, _Item]]:
    """Each room's host: a segment every few seconds about the product on screen."""
    streams = [_one_host(room, products, duration_s, random.Random(f"livebot.loadgen.asr:{seed}:{room}"))
               for room in rooms]
    yield from heapq.merge(*streams, key=lambda entry: entry[0])


def _one_host(room: str, products: tuple[Product, ...], duration_s: float,
              rng: random.Random) -> Iterator[tuple[float, _Item]]:
    order = rng.sample(list(products), len(products))
    segment_end = rng.uniform(*SEGMENT_S)
    on_screen = 0
    t = rng.uniform(0.0, ASR_EVERY_S[1])
    n = 0
    while True:
        length = rng.uniform(*ASR_LENGTH_S)
        if t + length >= duration_s:  # a segment is sent when it ends
            return
        if t >= segment_end:
            on_screen += 1
            segment_end = t + rng.uniform(*SEGMENT_S)
        product = order[on_screen % len(order)]
        yield t + length, _Asr(f"asr-{room}-{n}", room, _host_line(product, rng), length)
        n += 1
        t += length + rng.uniform(*ASR_EVERY_S)


def _host_line(product: Product, rng: random.Random) -> str:
    name = rng.choice((product.name, *product.aliases[:2]))
    price = product.promo_price if product.promo_price is not None else product.price
    lines = [f"来看一下这款{name}，日常价{product.price}元", f"今天直播间{name}只要{price}元",
             f"{name}库存不多了，喜欢的宝宝抓紧拍", f"{name}的链接已经上架了，直接拍就可以"]
    if product.promo:
        lines.append(f"{name}{product.promo}")
    lines.extend(f"{name}{point}" for point in product.selling_points)
    lines.extend(f"{name}{who}也能用" for who in product.suitable_for)
    return rng.choice(lines)


def _stock_schedule(products: tuple[Product, ...], duration_s: float, seed: int) -> Iterator[tuple[float, _Item]]:
    """Every sku sells down in steps and is restocked when it runs out."""
    rng = random.Random(f"livebot.loadgen.stock:{seed}")
    state = {p.sku: max(p.stock, 1) for p in products}
    pending = [(rng.uniform(0.0, STOCK_EVERY_S[1]), p.sku) for p in products]
    heapq.heapify(pending)
    by_sku = {p.sku: p for p in products}
    n = 0
    while pending:
        t, sku = heapq.heappop(pending)
        if t >= duration_s:
            continue
        level = state[sku]
        level = level - rng.randint(1, max(1, level // 10 + 2)) if level > 0 else rng.randint(20, 200)
        state[sku] = level = max(0, level)
        product = by_sku[sku]
        with_price = rng.random() < 0.2
        yield t, _Stock(f"stock-{seed}-{n}", sku, level, float(product.price) if with_price else None,
                        float(product.promo_price) if with_price and product.promo_price is not None else None)
        n += 1
        heapq.heappush(pending, (t + rng.uniform(*STOCK_EVERY_S), sku))


# ---------------------------------------------------------------------------------------------
# Malformed records: every way a record can break its contract
# ---------------------------------------------------------------------------------------------

Malformed = Callable[[str, int, str, Settings], bytes | None]


def _doc(kind: str, now_ms: int, key: str, **changes: Any) -> dict[str, Any]:
    """A valid record of `kind`, then `changes` applied (a None value removes the field)."""
    if kind == "danmaku":
        doc: dict[str, Any] = {"event_id": f"bad-{now_ms}", "room_id": key, "user_id": "viewer-bad", "text": "多少钱",
                               "ts": now_ms}
    elif kind == "asr":
        doc = {"event_id": f"bad-{now_ms}", "room_id": key, "text": "今天直播间特价", "ts_start": now_ms - 3000,
               "ts_end": now_ms}
    else:
        doc = {"event_id": f"bad-{now_ms}", "sku": key, "stock": 10, "ts": now_ms}
    for name, value in changes.items():
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
    return doc


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _time_field(kind: str) -> str:
    return "ts_end" if kind == "asr" else "ts"


def _text_field(kind: str) -> str:
    return "sku" if kind == "stock" else "text"


MALFORMED: dict[str, Malformed] = {
    "not_json": lambda kind, now, key, s: b'{"event_id": "bad", "room_id": ' + key.encode() + b", oops",
    "invalid_utf8": lambda kind, now, key, s: _json(_doc(kind, now, key, **{_text_field(kind): "@@"})).replace(
        b"@@", b"\xff\xfe"),
    "not_object": lambda kind, now, key, s: b"[1, 2, 3]",
    "missing_field": lambda kind, now, key, s: _json(_doc(kind, now, key, event_id=None)),
    "wrong_type": lambda kind, now, key, s: _json(
        _doc(kind, now, key, **({"stock": "many"} if kind == "stock" else {"room_id": 42}))),
    "oversized": lambda kind, now, key, s: _json(_doc(kind, now, key, padding="x" * (s.max_record_bytes + 64))),
    "text_too_long": lambda kind, now, key, s: _json(
        _doc(kind, now, key, **({"stock": -5} if kind == "stock" else {"text": "长" * (s.max_text_chars + 1)}))),
    "nul": lambda kind, now, key, s: _json(_doc(kind, now, key, **{_text_field(kind): "藏了\u0000空字符"})),
    "future_time": lambda kind, now, key, s: _json(
        _doc(kind, now, key, **{_time_field(kind): now + int(s.max_future_skew_s * 1000) + 86_400_000})),
    "past_time": lambda kind, now, key, s: _json(_doc(kind, now, key, **{_time_field(kind): 1000})),
    "bad_time": lambda kind, now, key, s: _json(_doc(kind, now, key, **{_time_field(kind): "昨天晚上"})),
    "empty_id": lambda kind, now, key, s: _json(_doc(kind, now, key, event_id="")),
    "end_before_start": lambda kind, now, key, s: _json(_doc(kind, now, key, ts_start=now, ts_end=now - 60_000)),
    "empty": lambda kind, now, key, s: b"",
    "tombstone": lambda kind, now, key, s: None,
}
"""Each malformed kind: (topic kind, now in ms, key, settings) → the bytes (None = no value)."""


def malformed_kinds(kind: str) -> list[str]:
    """The malformed kinds that apply to records of `kind` (only ASR has a start and an end)."""
    return [name for name in MALFORMED if name != "end_before_start" or kind == "asr"]


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


def run_loadgen(
    bootstrap: str,
    settings: Settings,
    *,
    rooms: int = 20,
    rate: float = 500.0,
    duration_s: float = 60.0,
    seed: int = 0,
    malformed_share: float = 0.0,
    asr: bool = True,
    stock: bool = True,
    replay_csv: Path | None = None,
    speed: float = 1.0,
    pace: Pace = "traffic",
    kinds: Collection[str] | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    on_sent: Callable[[str, str], None] | None = None,
    publisher: Publisher | None = None,
) -> Counter[str]:
    """Send the streams into the configured topics until `duration_s` is over; returns the counts.

    Counts: `danmaku`, `asr`, `stock` (valid records), `malformed` and `malformed.<kind>`.
    `rate` is comments/s (malformed records come on top); `kinds` keeps only these generated
    comment kinds (e.g. `{"question"}`). With `replay_csv` the file's comments replace the
    generated ones, at the recorded pace times `speed`, ASR for its rooms; `rooms`, `rate`,
    `pace` and `kinds` do not apply, and `duration_s` (0 or None: the whole file) caps the run.
    `on_sent(kind, event_id)` is called for every valid record sent and `("malformed", kind)` for
    the others; `stop` ends the run early.
    """
    if not 0.0 <= malformed_share < 1.0:
        raise ValueError(f"malformed_share must be in [0, 1), got {malformed_share}")
    if speed <= 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be a positive number, got {speed}")
    catalogue = Catalogue.load(settings.catalogue_file)
    errors: list[str] = []
    if replay_csv is not None:
        timeline, room_list = _replay_schedule(Path(replay_csv), speed, duration_s, errors)
        span = (timeline[-1][0] if timeline else 0.0) + 1e-3
        comments: Iterable[tuple[float, _Item]] = timeline
        expected = len(timeline)
    else:
        if rate <= 0 or duration_s <= 0:
            raise ValueError(f"rate and duration_s must be positive, got rate={rate} duration_s={duration_s}")
        span = duration_s
        room_list = room_ids(rooms)
        comments = _traffic_schedule(rooms, rate, duration_s, seed, pace, kinds, catalogue)
        expected = round(rate * duration_s)
    # The hosts and the ERP keep real time, also when a recording is sped up.
    streams: list[Iterable[tuple[float, _Item]]] = [comments]
    if asr:
        streams.append(_asr_schedule(room_list, catalogue.products, span, seed))
    if stock:
        streams.append(_stock_schedule(catalogue.products, span, seed))
    timeline_all = heapq.merge(*streams, key=lambda entry: entry[0])

    publisher = publisher or Publisher(bootstrap, **{"linger.ms": 10, "queue.buffering.max.messages": 500_000})
    sender = _Sender(publisher, settings, malformed_share, on_sent)
    bar = tqdm(total=expected, desc="loadgen", unit="comment", mininterval=0.5, disable=not progress, smoothing=0.1)
    started = time.monotonic()
    try:
        for due, item in timeline_all:
            if stop is not None and stop.is_set():
                break
            ahead = due - (time.monotonic() - started)
            if ahead > QUANTUM_S:
                time.sleep(ahead)
            sender.send(item, time.time())
            if isinstance(item, _Danmaku):
                bar.update(1)
    finally:
        bar.close()
        publisher.flush(60.0)
    sent = sender.sent
    if errors:
        sent["replay_skipped"] = len(errors)
    return sent


class _Sender:
    """Encodes one timeline item with its event time set to now, plus the malformed share."""

    def __init__(self, publisher: Publisher, settings: Settings, malformed_share: float,
                 on_sent: Callable[[str, str], None] | None) -> None:
        self.publisher = publisher
        self.settings = settings
        self.topics = {"danmaku": settings.topic_danmaku, "asr": settings.topic_asr, "stock": settings.topic_stock}
        self.per_valid = malformed_share / (1.0 - malformed_share)  # malformed records per valid one
        self.debt = dict.fromkeys(self.topics, 0.0)  # per topic, so each gets its share
        self.next_malformed = dict.fromkeys(self.topics, 0)
        self.names = {kind: malformed_kinds(kind) for kind in self.topics}
        self.on_sent = on_sent
        self.sent: Counter[str] = Counter()

    def send(self, item: _Item, now: float) -> None:
        now_ms = int(now * 1000)
        if isinstance(item, _Danmaku):
            kind, key, event_id = "danmaku", item.event.room_id, item.event.event_id
            raw = _ENCODER.encode(msgspec.structs.replace(item.event, ts=now_ms))
        elif isinstance(item, _Asr):
            kind, key, event_id = "asr", item.room_id, item.event_id
            raw = _ENCODER.encode({"event_id": item.event_id, "room_id": item.room_id, "text": item.text,
                                   "ts_start": now_ms - int(item.length_s * 1000), "ts_end": now_ms,
                                   "confidence": 0.93})
        else:
            kind, key, event_id = "stock", item.sku, item.event_id
            doc: dict[str, Any] = {"event_id": item.event_id, "sku": item.sku, "stock": item.stock, "ts": now_ms}
            if item.price is not None:
                doc["price"] = item.price
            if item.promo_price is not None:
                doc["promo_price"] = item.promo_price
            raw = _ENCODER.encode(doc)
        self.publisher.produce(self.topics[kind], raw, key=key)
        self.sent[kind] += 1
        if self.on_sent is not None:
            self.on_sent(kind, event_id)
        self.debt[kind] += self.per_valid
        while self.debt[kind] >= 1.0:
            self.debt[kind] -= 1.0
            self._malformed(kind, key, now_ms)

    def _malformed(self, kind: str, key: str, now_ms: int) -> None:
        names = self.names[kind]
        name = names[self.next_malformed[kind] % len(names)]
        self.next_malformed[kind] += 1
        raw = MALFORMED[name](kind, now_ms, key, self.settings)
        self.publisher.produce(self.topics[kind], raw, key=key)  # type: ignore[arg-type]
        self.sent["malformed"] += 1
        self.sent[f"malformed.{name}"] += 1
        if self.on_sent is not None:
            self.on_sent("malformed", name)
