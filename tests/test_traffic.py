"""The traffic generator: deterministic, labelled, Zipf-sized rooms, floods, and valid events."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import islice

import pytest

from livebot.traffic import DEFAULT_START, KINDS, LabelledComment, TrafficConfig, generate, room_ids, room_rates
from pipeline.catalogue import Catalogue
from pipeline.contracts import Danmaku, decode
from pipeline.text import normalize

DURATION_S = 60.0


@pytest.fixture(scope="module")
def stream() -> list[LabelledComment]:
    return list(generate(rooms=12, rate=400, duration_s=DURATION_S, seed=11))


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    first = [c.to_json() for c in generate(rooms=5, rate=100, duration_s=20, seed=3)]
    again = [c.to_json() for c in generate(rooms=5, rate=100, duration_s=20, seed=3)]
    other = [c.to_json() for c in generate(rooms=5, rate=100, duration_s=20, seed=4)]
    assert first == again
    assert first != other


def test_every_comment_is_a_valid_danmaku_whose_wire_json_decodes_to_itself(stream: list[LabelledComment]) -> None:
    now = DEFAULT_START + DURATION_S
    for comment in stream:
        decoded = decode("danmaku", comment.to_json(), now=now)
        assert isinstance(decoded, Danmaku)
        original = comment.danmaku
        assert (decoded.event_id, decoded.room_id, decoded.user_id, decoded.text, decoded.user) == (
            original.event_id, original.room_id, original.user_id, original.text, original.user)
        assert decoded.ts == pytest.approx(float(original.ts), abs=1e-6)
        assert original.user is not None and original.user.level is not None


def test_comments_come_in_event_time_order_within_the_duration_with_unique_ids(stream: list[LabelledComment]) -> None:
    times = [float(c.danmaku.ts) for c in stream]
    assert times == sorted(times)
    assert DEFAULT_START <= times[0] and times[-1] < DEFAULT_START + DURATION_S
    assert len({c.danmaku.event_id for c in stream}) == len(stream)
    assert {c.danmaku.room_id for c in stream} == set(room_ids(12))


def test_labels_are_valid_and_only_questions_carry_a_question_id(stream: list[LabelledComment]) -> None:
    skus = {p.sku for p in Catalogue.load().products}
    kinds = Counter(c.kind for c in stream)
    assert set(kinds) == set(KINDS)
    for comment in stream:
        assert comment.kind in KINDS
        if comment.kind == "question":
            assert comment.question_id is not None
            scope, topic = comment.question_id.split(":", 1)[0], comment.question_id.split(":", 2)[1]
            assert (scope in skus or scope == "any") and topic
        else:
            assert comment.question_id is None


def test_room_sizes_follow_zipf() -> None:
    rates = room_rates(30, 3000.0, zipf_s=1.1)
    assert sum(rates) == pytest.approx(3000.0)
    assert rates == sorted(rates, reverse=True)
    quiet = TrafficConfig(price_reveal_every_s=0, chatter_flood_every_s=0, spam_wave_every_s=0)
    counts = Counter(c.danmaku.room_id for c in generate(rooms=30, rate=3000, duration_s=20, seed=5, config=quiet))
    sizes = [counts[room] for room in room_ids(30)]
    # Least-squares slope of log(size) on log(rank): -zipf_s for a Zipf law.
    xs = [math.log(k + 1) for k in range(30)]
    ys = [math.log(max(size, 1)) for size in sizes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    assert -1.3 < slope < -0.9
    assert sizes[0] > 5 * sizes[9] > 0


def test_a_price_reveal_floods_the_room_with_one_question_from_hundreds_of_viewers(
    stream: list[LabelledComment],
) -> None:
    askers: dict[tuple[str, str], set[str]] = defaultdict(set)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for c in stream:
        if c.burst and "/flood/" in c.burst and c.kind == "question":
            askers[(c.burst, c.question_id or "")].add(c.danmaku.user_id)
            times[(c.burst, c.question_id or "")].append(float(c.danmaku.ts))
    assert askers, "no flood"
    burst, question = max(askers, key=lambda key: len(askers[key]))
    # One question per flood, asked by hundreds of distinct viewers, most of it within seconds.
    assert len({q for b, q in askers if b == burst}) == 1
    assert len(askers[(burst, question)]) >= 200
    ts = sorted(times[(burst, question)])
    assert ts[int(len(ts) * 0.8)] - ts[0] < 10.0


def test_chatter_and_emoji_floods_spam_waves_complaints_and_repeats_are_present(
    stream: list[LabelledComment],
) -> None:
    bursts = Counter(c.burst.split("/")[1] for c in stream if c.burst)
    assert bursts["chatter"] > 100 and bursts["spam"] > 10
    assert any(c.kind == "emoji" and c.burst and "/chatter/" in c.burst for c in stream)
    spam = [c.danmaku.text for c in stream if c.kind == "spam"]
    spam_accounts = Counter(c.danmaku.user_id for c in stream if c.burst and "/spam/" in c.burst)
    assert spam_accounts.most_common(1)[0][1] >= 3  # a wave is one account posting again and again
    assert any(" " in text for text in spam) and any("❤" in text or "➕" in text for text in spam)
    assert sum(c.kind == "complaint" for c in stream) > 20
    repeats = [c for c in stream if c.repeat]
    assert repeats
    firsts = {(c.danmaku.room_id, c.danmaku.user_id, c.question_id) for c in stream if not c.repeat}
    assert all((c.danmaku.room_id, c.danmaku.user_id, c.question_id) in firsts for c in repeats)


def test_one_question_is_asked_many_colloquial_ways(stream: list[LabelledComment]) -> None:
    by_question: dict[str, list[str]] = defaultdict(list)
    for c in stream:
        if c.question_id:
            by_question[c.question_id].append(c.danmaku.text)
    price = max((q for q in by_question if q.endswith(":price")), key=lambda q: len(by_question[q]))
    texts = by_question[price]
    assert len({normalize(t).key for t in texts}) >= 30
    everything = "".join(c.danmaku.text for c in stream if c.question_id)
    assert any(ch in everything for ch in "錢價還貨嗎")  # traditional characters
    assert any("\uff01" <= ch <= "\uff5e" for ch in everything)  # full-width forms
    assert any(word in everything for word in ("how much", "price", "size", "link"))  # mixed English
    assert any(t.endswith(("？？？", "???")) for t in texts)


def test_generation_is_lazy() -> None:
    first = list(islice(generate(rooms=200, rate=50_000, duration_s=3600, seed=1), 100))
    assert len(first) == 100


def test_bad_parameters_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="rooms"):
        list(generate(rooms=0))
    with pytest.raises(ValueError, match="rate"):
        list(generate(rate=-1))
    with pytest.raises(ValueError, match="duration_s"):
        list(generate(duration_s=0))
    with pytest.raises(ValueError, match="mix"):
        TrafficConfig(mix={"question": 1.0, "gossip": 1.0})  # type: ignore[dict-item]
