"""The events livebot reads and writes, as typed structs with strict decoding.

Inbound records (`live.danmaku`, `live.asr`, `erp.stock`) are decoded by `decode(kind, raw)`,
which either returns a valid struct or raises `ContractError` with a reason precise enough to
act on ("`$.user_id`: Expected `str`, got `int`"). The consumer turns that into a
`DeadLetter`. Outbound actions share one tagged union so a commerce system can decode
any action topic with one decoder.

After decoding, every event time is epoch seconds as a float, whatever the wire carried
(ISO-8601 string or epoch milliseconds).
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from datetime import datetime, timezone
from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
WireTime = str | int | float

# Events before this are "absurd past" whatever the configured age limit (2001-09-09).
_EPOCH_FLOOR_S = 1_000_000_000.0


class ContractError(ValueError):
    """A record broke its contract; the message says which field and how."""


class Limits(msgspec.Struct, frozen=True):
    max_record_bytes: int = 16_384
    max_text_chars: int = 500
    max_future_skew_s: float = 300.0
    max_event_age_s: float = 7 * 86_400.0


# ----------------------------------------------------------------------------------------
# inbound
# ----------------------------------------------------------------------------------------
class Viewer(msgspec.Struct, frozen=True, omit_defaults=True):
    nickname: str | None = None
    level: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    is_member: bool | None = None
    new_viewer: bool | None = None
    spend_tier: str | int | None = None


class Danmaku(msgspec.Struct, frozen=True, omit_defaults=True):
    event_id: Id
    room_id: Id
    user_id: Id
    text: str
    ts: WireTime
    platform: str | None = None
    user: Viewer | None = None


class AsrSegment(msgspec.Struct, frozen=True, omit_defaults=True):
    event_id: Id
    room_id: Id
    text: str
    ts_start: WireTime
    ts_end: WireTime
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None


class StockUpdate(msgspec.Struct, frozen=True, omit_defaults=True):
    event_id: Id
    sku: Id
    stock: Annotated[int, msgspec.Meta(ge=0)]
    ts: WireTime
    price: Annotated[float, msgspec.Meta(ge=0)] | None = None
    promo_price: Annotated[float, msgspec.Meta(ge=0)] | None = None


Event = Danmaku | AsrSegment | StockUpdate
KINDS: dict[str, type[Event]] = {"danmaku": Danmaku, "asr": AsrSegment, "stock": StockUpdate}
_DECODERS = {kind: msgspec.json.Decoder(cls) for kind, cls in KINDS.items()}


def decode(kind: str, raw: bytes | None, *, now: float | None = None, limits: Limits = Limits()) -> Event:
    """Decode and validate one record of `kind` ("danmaku", "asr" or "stock").

    Raises ContractError naming what was wrong. Returns the event with times as epoch seconds.
    """
    if raw is None:
        raise ContractError("empty record: no value")
    if len(raw) > limits.max_record_bytes:
        raise ContractError(f"record of {len(raw)} bytes exceeds the {limits.max_record_bytes}-byte limit")
    try:
        event = _DECODERS[kind].decode(raw)
    except UnicodeDecodeError:
        raise ContractError(f"not valid UTF-8: {_utf8_error(raw)}") from None
    except msgspec.ValidationError as exc:
        raise ContractError(f"invalid {kind}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ContractError(f"not JSON: {exc}") from None
    now = time.time() if now is None else now
    if isinstance(event, Danmaku):
        _check_text(event.text, "text", limits)
        _check_no_nul(event, ("event_id", "room_id", "user_id", "platform"))
        return msgspec.structs.replace(event, ts=_event_time(event.ts, "ts", now, limits))
    if isinstance(event, AsrSegment):
        _check_text(event.text, "text", limits)
        _check_no_nul(event, ("event_id", "room_id"))
        start = _event_time(event.ts_start, "ts_start", now, limits)
        end = _event_time(event.ts_end, "ts_end", now, limits)
        if end < start:
            raise ContractError(f"`$.ts_end` ({end}) is before `$.ts_start` ({start})")
        return msgspec.structs.replace(event, ts_start=start, ts_end=end)
    _check_no_nul(event, ("event_id", "sku"))
    return msgspec.structs.replace(event, ts=_event_time(event.ts, "ts", now, limits))


def _utf8_error(raw: bytes) -> str:
    try:  # msgspec does not say where; the standard decoder does
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte {exc.start} ({raw[exc.start:exc.start + 1]!r}): {exc.reason}"
    return "invalid escape"


def _check_text(text: str, field: str, limits: Limits) -> None:
    if len(text) > limits.max_text_chars:
        raise ContractError(f"`$.{field}` has {len(text)} characters, over the {limits.max_text_chars} limit")
    if "\x00" in text:
        raise ContractError(f"`$.{field}` contains a NUL character at index {text.index(chr(0))}")


def _check_no_nul(event: msgspec.Struct, fields: tuple[str, ...]) -> None:
    for field in fields:
        value = getattr(event, field)
        if isinstance(value, str) and "\x00" in value:
            raise ContractError(f"`$.{field}` contains a NUL character")


def _event_time(value: WireTime, field: str, now: float, limits: Limits) -> float:
    """ISO-8601 string or epoch milliseconds → epoch seconds, within sane bounds."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ContractError(f"`$.{field}`: {value[:40]!r} is not ISO-8601 (or send epoch milliseconds)") from None
        if parsed.tzinfo is None:  # platforms that omit the zone send UTC
            parsed = parsed.replace(tzinfo=timezone.utc)
        seconds = parsed.timestamp()
    else:
        if not math.isfinite(value):
            raise ContractError(f"`$.{field}`: {value} is not a finite number")
        seconds = value / 1000.0
    if seconds > now + limits.max_future_skew_s:
        raise ContractError(f"`$.{field}` is {seconds - now:.0f} s in the future (limit {limits.max_future_skew_s:.0f} s)")
    if seconds < max(_EPOCH_FLOOR_S, now - limits.max_event_age_s):
        raise ContractError(f"`$.{field}` is {now - seconds:.0f} s in the past (limit {limits.max_event_age_s:.0f} s)")
    return seconds


# ----------------------------------------------------------------------------------------
# outbound
# ----------------------------------------------------------------------------------------
class _Action(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    action_id: str
    room_id: str
    created_at: str
    source_event_ids: list[str]
    cluster_size: int = 1
    window_id: str = ""
    event_time: float = 0.0  # earliest event behind the action, epoch seconds
    latency_ms: float = 0.0  # event time → publish, set at publish


class ReplyAction(_Action, tag="reply"):
    text: str
    tts: bool
    intent: str
    sku: str | None
    model: str


class ProductAction(_Action, tag="product"):
    sku: str
    reasons: list[str]


class ModerationAction(_Action, tag="moderation"):
    event_id: str
    reason: str


class AlertAction(_Action, tag="alert"):
    kind: str
    detail: str


Action = ReplyAction | ProductAction | ModerationAction | AlertAction
_action_decoder = msgspec.json.Decoder(Action)


def decode_action(raw: bytes) -> Action:
    return _action_decoder.decode(raw)


class DeadLetter(msgspec.Struct, frozen=True):
    source_topic: str
    partition: int
    offset: int
    error: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    key: str | None = None
    failed_at: str = ""

    @classmethod
    def of(cls, topic: str, partition: int, offset: int, error: str, raw: bytes | None, key: bytes | None) -> "DeadLetter":
        payload, encoding = _text_or_base64(raw or b"")
        key_text = None if key is None else _text_or_base64(key)[0]
        return cls(topic, partition, offset, error, payload, encoding, key_text, iso_now())

    def original_bytes(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")


def _text_or_base64(raw: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"
    # NULs survive JSON, but a database text column or a terminal may not: keep them exact.
    if "\x00" in text:
        return base64.b64encode(raw).decode("ascii"), "base64"
    return text, "utf-8"


# ----------------------------------------------------------------------------------------
# identity
# ----------------------------------------------------------------------------------------
def derive_id(*parts: object) -> str:
    """A stable id from what caused something: the same causes give the same id on any retry."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:32]


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


encoder = msgspec.json.Encoder()
