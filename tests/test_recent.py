"""Remembering what a room's bot answered, so the same question is not answered twice."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.embed import CharNgramEmbedder
from pipeline.recent import Candidate, RecentAnswers


def memory(**kwargs: object) -> RecentAnswers:
    options: dict[str, object] = {"ttl_s": 180.0, "similarity": 0.6}
    options.update(kwargs)
    return RecentAnswers(CharNgramEmbedder(), **options)  # type: ignore[arg-type]


def test_the_same_question_within_the_ttl_is_a_repeat() -> None:
    recent = memory()
    recent.remember("room1", "多少钱", now=1000.0)

    assert recent.is_repeat("room1", "多少钱", now=1100.0)


def test_a_paraphrase_of_an_answered_question_is_a_repeat() -> None:
    recent = memory()
    recent.remember("room1", "多少钱", now=1000.0)

    assert recent.is_repeat("room1", "这个多少钱", now=1010.0)


def test_a_different_question_is_not_a_repeat() -> None:
    recent = memory()
    recent.remember("room1", "多少钱", now=1000.0)

    assert not recent.is_repeat("room1", "有货吗", now=1010.0)


def test_an_answer_stops_suppressing_once_it_expires() -> None:
    recent = memory(ttl_s=180.0)
    recent.remember("room1", "多少钱", now=1000.0)

    assert recent.is_repeat("room1", "多少钱", now=1180.0)
    assert not recent.is_repeat("room1", "多少钱", now=1180.5)
    assert len(recent) == 0  # expired entries are dropped, not just ignored


def test_rooms_do_not_suppress_each_other() -> None:
    recent = memory()
    recent.remember("room1", "多少钱", now=1000.0)

    assert not recent.is_repeat("room2", "多少钱", now=1001.0)


def test_a_scope_per_product_lets_the_same_question_be_answered_for_a_new_product() -> None:
    recent = memory()
    recent.remember("room1:sku-1", "多少钱", now=1000.0)

    assert recent.is_repeat("room1:sku-1", "多少钱", now=1001.0)
    assert not recent.is_repeat("room1:sku-2", "多少钱", now=1001.0)


def test_a_room_keeps_at_most_max_per_room_answers_dropping_the_oldest() -> None:
    recent = memory(max_per_room=2)
    for n, key in enumerate(["多少钱", "发什么快递", "包邮吗"]):
        recent.remember("room1", key, now=1000.0 + n)

    assert len(recent) == 2
    assert not recent.is_repeat("room1", "多少钱", now=1003.0)
    assert recent.is_repeat("room1", "包邮吗", now=1003.0)


def test_the_least_recently_used_room_is_forgotten_past_max_rooms() -> None:
    recent = memory(max_rooms=2)
    recent.remember("room1", "多少钱", now=1000.0)
    recent.remember("room2", "多少钱", now=1001.0)
    recent.is_repeat("room1", "有货吗", now=1002.0)  # room1 is now the more recently used
    recent.remember("room3", "多少钱", now=1003.0)

    assert recent.is_repeat("room1", "多少钱", now=1004.0)
    assert not recent.is_repeat("room2", "多少钱", now=1004.0)
    assert recent.is_repeat("room3", "多少钱", now=1004.0)


def test_without_an_embedder_only_identical_keys_are_repeats() -> None:
    recent = RecentAnswers(None)
    recent.remember("room1", "多少钱", now=1000.0)

    assert recent.is_repeat("room1", "多少钱", now=1001.0)
    assert not recent.is_repeat("room1", "这个多少钱", now=1001.0)


def test_vectors_the_caller_already_has_are_used_instead_of_encoding() -> None:
    recent = RecentAnswers(None, similarity=0.9)
    recent.remember("room1", "a", now=0.0, vector=np.array([1.0, 0.0], dtype=np.float32))

    assert recent.is_repeat("room1", "b", now=1.0, vector=np.array([0.99, 0.141], dtype=np.float32))
    assert not recent.is_repeat("room1", "c", now=1.0, vector=np.array([0.0, 1.0], dtype=np.float32))


def test_the_similarity_threshold_decides_how_close_a_repeat_must_be() -> None:
    strict = memory(similarity=0.95)
    strict.remember("room1", "多少钱", now=1000.0)

    assert not strict.is_repeat("room1", "这个多少钱", now=1001.0)


def test_forget_room_drops_its_answers() -> None:
    recent = memory()
    recent.remember("room1", "多少钱", now=1000.0)
    recent.forget_room("room1")

    assert not recent.is_repeat("room1", "多少钱", now=1001.0)
    assert len(recent) == 0


@pytest.mark.parametrize(
    "kwargs", [{"ttl_s": 0.0}, {"similarity": 1.5}, {"max_per_room": 0}, {"max_rooms": 0}]
)
def test_recent_answers_rejects_impossible_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        memory(**kwargs)


# --- a window's checks at once -------------------------------------------------------------

PHRASES = ["多少钱", "这个多少钱", "多少钱呀", "有货吗", "还有货吗", "敏感肌能用吗", "包邮吗", "几号链接",
           "精华多少钱", "面霜多少钱", "怎么买", "发什么快递"]


@pytest.mark.parametrize("seed", range(20))
def test_screen_decides_exactly_as_one_check_and_remember_at_a_time(seed: int) -> None:
    import random

    rng = random.Random(seed)
    one_by_one, batched = memory(ttl_s=30.0), memory(ttl_s=30.0)
    now = 1000.0
    for _window in range(12):
        now += rng.choice([1.0, 5.0, 20.0])
        candidates = [Candidate(rng.choice(["r1", "r1:sku-1", "r2"]), rng.choice(PHRASES), now + rng.random())
                      for _ in range(rng.randint(1, 8))]
        send_at_most = rng.randint(1, 5)
        expected, sent = [], 0
        for c in candidates:
            if sent >= send_at_most:
                expected.append("below")
            elif one_by_one.is_repeat(c.scope, c.key, c.ts):
                expected.append("repeat")
            else:
                one_by_one.remember(c.scope, c.key, c.ts)
                expected.append("sent")
                sent += 1
        screen, got, sent = batched.screen(candidates), [], 0
        for index in range(len(candidates)):
            if sent >= send_at_most:
                got.append("below")
            elif screen.is_repeat(index):
                got.append("repeat")
            else:
                screen.remember(index)
                got.append("sent")
                sent += 1
        assert got == expected


def test_screen_uses_the_vectors_it_is_given_instead_of_encoding() -> None:
    recent = RecentAnswers(None, similarity=0.9)
    recent.remember("r1", "a", now=0.0, vector=np.array([1.0, 0.0], dtype=np.float32))
    vectors = np.array([[0.99, 0.141], [0.0, 1.0]], dtype=np.float32)

    screen = recent.screen([Candidate("r1", "b", 1.0), Candidate("r1", "c", 1.0)], vectors)

    assert screen.is_repeat(0) and not screen.is_repeat(1)


def test_screen_rejects_vectors_that_do_not_match_the_candidates() -> None:
    with pytest.raises(ValueError, match="expected 2 vectors"):
        memory().screen([Candidate("r1", "a", 0.0), Candidate("r1", "b", 0.0)], np.zeros((3, 2), np.float32))
