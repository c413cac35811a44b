"""Every inbound contract violation gets a precise error; valid events decode with epoch-second times."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contracts import (
    AsrSegment,
    ContractError,
    Danmaku,
    DeadLetter,
    Limits,
    ReplyAction,
    StockUpdate,
    decode,
    decode_action,
    derive_id,
)

NOW = 1_795_000_000.0  # a fixed clock: 2026-11-18
NOW_MS = int(NOW * 1000)


def danmaku(**fields: object) -> bytes:
    doc = {"event_id": "e1", "room_id": "r1", "user_id": "u1", "text": "多少钱", "ts": NOW_MS}
    doc.update(fields)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}, ensure_ascii=False).encode()


def rejects(kind: str, raw: bytes | None, *fragments: str) -> str:
    with pytest.raises(ContractError) as caught:
        decode(kind, raw, now=NOW)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_valid_danmaku_decodes_with_epoch_seconds_and_viewer() -> None:
    raw = danmaku(user={"nickname": "小鹿", "level": 12, "is_member": True, "spend_tier": "high"}, platform="douyin")
    event = decode("danmaku", raw, now=NOW)
    assert isinstance(event, Danmaku)
    assert event.ts == pytest.approx(NOW)
    assert event.user is not None and event.user.level == 12 and event.user.is_member


def test_iso_8601_times_are_accepted_with_and_without_zone() -> None:
    with_zone = decode("danmaku", danmaku(ts="2026-11-18T08:53:20+08:00"), now=NOW)
    assert with_zone.ts == pytest.approx(NOW - 8 * 3600 + 0.0, abs=86_400)  # parsed, in range
    utc = decode("danmaku", danmaku(ts="2026-11-18T00:53:20Z"), now=NOW)
    naive = decode("danmaku", danmaku(ts="2026-11-18T00:53:20"), now=NOW)
    assert utc.ts == naive.ts


def test_not_json_is_rejected() -> None:
    rejects("danmaku", b"this is not json", "not JSON")


def test_invalid_utf8_names_the_byte() -> None:
    rejects("danmaku", b'{"event_id": "\xff"}', "not valid UTF-8", "byte 14")


def test_missing_field_is_named() -> None:
    rejects("danmaku", danmaku(user_id=...), "missing required field `user_id`")


def test_mistyped_field_is_named_with_its_path() -> None:
    rejects("danmaku", danmaku(user_id=42), "Expected `str`, got `int`", "$.user_id")
    rejects("danmaku", danmaku(user={"level": "high"}), "$.user.level")


def test_empty_ids_are_rejected() -> None:
    rejects("danmaku", danmaku(room_id=""), "$.room_id")


def test_text_over_the_limit_is_rejected_with_its_length() -> None:
    rejects("danmaku", danmaku(text="刷" * 501), "501 characters", "500 limit")


def test_oversized_record_is_rejected_before_parsing() -> None:
    with pytest.raises(ContractError, match="bytes exceeds"):
        decode("danmaku", b"{" + b" " * 20_000 + b"}", now=NOW, limits=Limits(max_record_bytes=16_384))


def test_nul_characters_are_rejected_in_text_and_ids() -> None:
    rejects("danmaku", danmaku(text="藏了\u0000空字符"), "NUL", "index 2")
    rejects("danmaku", danmaku(user_id="u\u00001"), "NUL", "$.user_id")


def test_future_and_absurd_past_times_are_rejected() -> None:
    rejects("danmaku", danmaku(ts=NOW_MS + 3_600_000), "in the future")
    rejects("danmaku", danmaku(ts=0), "in the past")
    rejects("danmaku", danmaku(ts=NOW_MS - 30 * 86_400_000), "in the past")
    rejects("danmaku", danmaku(ts="2099-01-01T00:00:00Z"), "in the future")


def test_unparseable_and_boolean_times_are_rejected() -> None:
    rejects("danmaku", danmaku(ts="yesterday"), "not ISO-8601")
    rejects("danmaku", danmaku(ts=True), "got `bool`", "$.ts")


def test_empty_record_and_wrong_shape_are_rejected() -> None:
    rejects("danmaku", None, "no value")
    rejects("danmaku", b"[1, 2]", "Expected `object`")
    rejects("danmaku", b"", "not JSON")


def test_asr_segment_times_must_be_ordered() -> None:
    good = {"event_id": "a1", "room_id": "r1", "text": "精华149", "ts_start": NOW_MS - 5000, "ts_end": NOW_MS}
    segment = decode("asr", json.dumps(good).encode(), now=NOW)
    assert isinstance(segment, AsrSegment) and segment.ts_end - segment.ts_start == pytest.approx(5.0)
    backwards = {**good, "ts_start": NOW_MS, "ts_end": NOW_MS - 5000}
    rejects("asr", json.dumps(backwards).encode(), "before `$.ts_start`")
    rejects("asr", json.dumps({**good, "confidence": 1.5}).encode(), "$.confidence")


def test_stock_must_be_a_non_negative_integer() -> None:
    good = {"event_id": "s1", "sku": "SKU-1", "stock": 3, "ts": NOW_MS, "price": 99.0}
    assert isinstance(decode("stock", json.dumps(good).encode(), now=NOW), StockUpdate)
    rejects("stock", json.dumps({**good, "stock": -1}).encode(), "$.stock")
    rejects("stock", json.dumps({**good, "stock": "3"}).encode(), "$.stock")


def test_dead_letter_keeps_original_bytes_as_text_or_base64() -> None:
    text = DeadLetter.of("live.danmaku", 2, 41, "not JSON", "坏了".encode(), b"room")
    assert text.payload_encoding == "utf-8" and text.original_bytes() == "坏了".encode()
    binary = DeadLetter.of("live.danmaku", 2, 42, "not valid UTF-8", b"\xff\xfe\x00", None)
    assert binary.payload_encoding == "base64" and binary.original_bytes() == b"\xff\xfe\x00"
    decoded = msgspec.json.decode(msgspec.json.encode(binary), type=DeadLetter)
    assert (decoded.partition, decoded.offset, decoded.error) == (2, 42, "not valid UTF-8")


def test_actions_round_trip_through_the_tagged_union() -> None:
    action = ReplyAction(action_id="a", room_id="r", created_at="t", source_event_ids=["e1"], cluster_size=3,
                         text="149元", tts=True, intent="price", sku="SKU-1", model="template")
    raw = msgspec.json.encode(action)
    assert json.loads(raw)["type"] == "reply"
    assert decode_action(raw) == action


def test_derived_ids_are_stable_and_distinct() -> None:
    assert derive_id("r1", "w1", "c1", "reply") == derive_id("r1", "w1", "c1", "reply")
    assert derive_id("r1", "w1", "c1", "reply") != derive_id("r1", "w1", "c1", "turn")
    assert derive_id("a", "bc") != derive_id("ab", "c")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000) | st.text(max_size=600).map(str.encode))
def test_arbitrary_bytes_either_decode_or_raise_contract_error(raw: bytes) -> None:
    for kind in ("danmaku", "asr", "stock"):
        try:
            decode(kind, raw, now=NOW)
        except ContractError as exc:
            assert str(exc)
