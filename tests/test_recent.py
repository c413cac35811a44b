"""Remembering what a room's bot answered, so the same question is not answered twice."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.embed import CharNgramEmbedder
from pipeline.recent import RecentAnswers


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
