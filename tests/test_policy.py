"""The per-room reply policy: pace, priority, staleness, the room's mood and its alerts."""

from __future__ import annotations

import json

import pytest

from pipeline.contracts import Viewer
from pipeline.policy import (
    Candidate,
    PolicyConfig,
    PolicyState,
    block,
    decide,
    observe_moderated,
    observe_understood,
    unblock,
)
from pipeline.reduce import Representative
from pipeline.taxonomy import Understanding

T0 = 1_700_000_000.0
CONFIG = PolicyConfig()


def question(score: float = 1.0, at: float = T0, **fields: object) -> Candidate:
    return Candidate(score=score, event_time=at, **fields)  # type: ignore[arg-type]


def understood(intent: str = "price", sentiment: str = "neu", product: str | None = None) -> Understanding:
    return Understanding(intent=intent, confidence=0.9, slots={"product": product} if product else {}, sentiment=sentiment)


def angry(n: int) -> list[Understanding]:
    return [understood("complaint", "neg") for _ in range(n)]


def test_one_reply_per_cooldown() -> None:
    state = PolicyState()
    state, first, _ = decide(state, [question(at=T0)], T0, CONFIG)
    state, soon, _ = decide(state, [question(at=T0 + 1)], T0 + 1, CONFIG)
    state, after, _ = decide(state, [question(at=T0 + 3)], T0 + CONFIG.reply_cooldown_s, CONFIG)

    assert (first[0].reason, soon[0].reason, after[0].reason) == ("sent", "cooldown", "sent")
    assert soon[0].action == "skip"


def test_a_window_gets_one_reply_when_the_cooldown_allows_one() -> None:
    _, decisions, _ = decide(PolicyState(), [question(), question(), question()], T0, CONFIG)

    assert [d.reason for d in decisions] == ["sent", "cooldown", "cooldown"]


def test_replies_per_minute_are_capped() -> None:
    config = PolicyConfig(reply_cooldown_s=0.0, replies_per_minute=5)
    state, decisions, _ = decide(PolicyState(), [question() for _ in range(8)], T0, config)

    assert [d.reason for d in decisions].count("sent") == 5
    assert [d.reason for d in decisions].count("cap") == 3
    # the minute rolls on: still capped at 59 s, free again at 60 s
    state, still, _ = decide(state, [question(at=T0 + 59)], T0 + 59, config)
    _, free, _ = decide(state, [question(at=T0 + 60)], T0 + 60, config)
    assert still[0].reason == "cap"
    assert free[0].reason == "sent"


def test_the_highest_priority_question_gets_the_reply() -> None:
    candidates = [question(score=0.2), question(score=0.9), question(score=0.5)]

    _, decisions, _ = decide(PolicyState(), candidates, T0, CONFIG)

    assert [d.candidate_index for d in decisions] == [0, 1, 2]  # input order
    assert [d.reason for d in decisions] == ["cooldown", "sent", "cooldown"]


def test_stale_questions_are_dropped_even_with_room_to_reply() -> None:
    config = PolicyConfig(reply_cooldown_s=0.0)
    old = question(score=0.9, at=T0 - config.stale_after_s - 1)
    fresh = question(score=0.1, at=T0 - 1)

    _, decisions, _ = decide(PolicyState(), [old, fresh], T0, config)

    assert [(d.action, d.reason) for d in decisions] == [("skip", "stale"), ("reply", "sent")]


def test_an_anger_surge_raises_one_alert_and_soothes_with_apologies() -> None:
    state, alerts = observe_understood(PolicyState(), angry(6), T0, CONFIG)
    state, more_alerts = observe_understood(state, angry(4), T0 + 5, CONFIG)
    state, decisions, decide_alerts = decide(state, [question(at=T0 + 5, sentiment="neu")], T0 + 5, CONFIG)

    assert [a.kind for a in alerts] == ["anger_surge"]
    assert "6 of 6" in alerts[0].detail
    assert alerts[0].since == T0
    assert more_alerts == [] and decide_alerts == []
    assert state.mode == "soothing"
    assert decisions[0].strategy == "apology"


def test_the_room_is_back_to_idle_after_the_window_and_a_new_surge_alerts_again() -> None:
    state, _ = observe_understood(PolicyState(), angry(6), T0, CONFIG)
    later = T0 + CONFIG.mood_window_s + CONFIG.soothing_calm_s + 1

    state, decisions, _ = decide(state, [question(at=later)], later, CONFIG)
    assert state.mode == "idle"
    assert decisions[0].strategy == "plain"

    state, alerts = observe_understood(state, angry(6), later + 1, CONFIG)
    assert [a.kind for a in alerts] == ["anger_surge"]
    assert alerts[0].since == later + 1


def test_soothing_outlasts_the_surge_by_the_calm_period() -> None:
    # the negatives are outnumbered by calm questions soon after: the surge is over, calm is not
    state, _ = observe_understood(PolicyState(), angry(6), T0, CONFIG)
    state, _ = observe_understood(state, [understood("price")] * 20, T0 + 10, CONFIG)

    assert decide(state, [], T0 + 10 + 1, CONFIG)[0].mode == "soothing"
    assert decide(state, [], T0 + CONFIG.soothing_calm_s + 1, CONFIG)[0].mode != "soothing"


def test_a_few_complaints_in_a_busy_room_are_not_a_surge() -> None:
    busy = angry(6) + [understood("price")] * 40

    state, alerts = observe_understood(PolicyState(), busy, T0, CONFIG)

    assert alerts == []
    assert state.mode != "soothing"


def test_one_complaint_in_a_quiet_room_is_not_a_surge() -> None:
    state, alerts = observe_understood(PolicyState(), angry(1), T0, CONFIG)

    assert alerts == []
    assert state.mode == "idle"


def test_a_big_angry_cluster_counts_every_viewer_in_it() -> None:
    state, alerts = observe_understood(PolicyState(), angry(1), T0, CONFIG, weights=[30])

    assert [a.kind for a in alerts] == ["anger_surge"]
    assert state.mode == "soothing"


def test_a_negative_question_gets_an_apology_in_any_mode() -> None:
    _, decisions, _ = decide(PolicyState(), [question(sentiment="neg")], T0, CONFIG)

    assert decisions[0].strategy == "apology"


def test_strategy_follows_stock_cluster_size_and_promotion() -> None:
    config = PolicyConfig(reply_cooldown_s=0.0)
    candidates = [
        question(stock_level="low", viewers=50),
        question(viewers=config.social_proof_viewers),
        question(intent="promotion", promo=True),
        question(intent="promotion", promo=False),
        question(),
    ]

    _, decisions, _ = decide(PolicyState(), candidates, T0, config)

    assert [d.strategy for d in decisions] == ["urgency", "social_proof", "discount", "plain", "plain"]


def test_a_room_full_of_price_questions_is_in_promotion_mode_and_replies_with_discounts() -> None:
    state, _ = observe_understood(PolicyState(), [understood("price")] * 4 + [understood("promotion")] * 2, T0, CONFIG)
    state, decisions, _ = decide(state, [question(intent="spec", promo=True)], T0 + 1, CONFIG)

    assert state.mode == "promotion"
    assert decisions[0].strategy == "discount"


def test_the_host_pushing_a_promotion_puts_the_room_in_promotion_mode() -> None:
    state, _, _ = decide(PolicyState(), [], T0, CONFIG, host_promoting=True)
    quiet, _, _ = decide(PolicyState(), [], T0, CONFIG, host_promoting=False)

    assert state.mode == "promotion"
    assert quiet.mode == "idle"


def test_questions_about_products_put_the_room_in_product_inquiry() -> None:
    asks = [understood("spec"), understood("suitability"), understood("other", product="SKU-SERUM-01"), understood("chitchat")]

    state, _ = observe_understood(PolicyState(), asks, T0, CONFIG)

    assert state.mode == "product_inquiry"
    assert decide(state, [], T0 + CONFIG.mood_window_s + 1, CONFIG)[0].mode == "idle"


def test_an_operator_block_stops_every_reply_until_lifted() -> None:
    state = block(PolicyState(), T0, "host asked for silence")
    state, decisions, _ = decide(state, [question(score=1.0), question(score=0.5)], T0, CONFIG)

    assert [(d.action, d.reason) for d in decisions] == [("skip", "blocked"), ("skip", "blocked")]
    assert state.mode == "blocked"

    state = unblock(state, T0 + 10)
    state, decisions, _ = decide(state, [question(at=T0 + 10)], T0 + 10, CONFIG)
    assert decisions[0].reason == "sent"
    assert state.mode == "idle"


def test_a_sensitive_surge_blocks_replies_alerts_once_and_expires() -> None:
    config = PolicyConfig(sensitive_surge_count=10, sensitive_block_s=120.0)
    state, first = observe_moderated(PolicyState(), 6, T0, config)
    state, second = observe_moderated(state, 6, T0 + 5, config)
    state, third = observe_moderated(state, 3, T0 + 6, config)

    assert first == [] and [a.kind for a in second] == ["sensitive_surge"] and third == []
    assert second[0].since == T0  # the surge's first comments: a stable alert id on retries
    _, decisions, _ = decide(state, [question(at=T0 + 7)], T0 + 7, config)
    assert decisions[0].reason == "blocked"
    later = T0 + 6 + config.sensitive_block_s + 1
    state, decisions, _ = decide(state, [question(at=later)], later, config)
    assert decisions[0].reason == "sent"
    assert state.mode == "idle"


def test_a_redelivered_window_changes_nothing_and_gets_the_same_decisions() -> None:
    state, alerts = observe_understood(PolicyState(), angry(6), T0, CONFIG, window_key="w1")
    again, again_alerts = observe_understood(state, angry(6), T0 + 1, CONFIG, window_key="w1")
    assert again == state and again_alerts == [] and len(alerts) == 1

    state, decisions, _ = decide(state, [question(0.5), question(0.9)], T0 + 1, CONFIG, window_key="w1")
    redo, redo_decisions, _ = decide(state, [question(0.5), question(0.9)], T0 + 2, CONFIG, window_key="w1")

    assert redo_decisions == decisions
    assert redo == state  # the retried window did not count a second reply

    state, _ = observe_moderated(state, 4, T0 + 3, CONFIG, window_key="w1")  # same window, other input
    redo, _ = observe_moderated(state, 4, T0 + 4, CONFIG, window_key="w1")
    assert sum(n for _, n in state.sensitive) == 4
    assert redo == state


def test_the_state_round_trips_through_json_unchanged() -> None:
    state, _ = observe_understood(PolicyState(), angry(6) + [understood("spec", product="SKU-SERUM-01")], T0, CONFIG,
                                  window_key="w1")
    state, _ = observe_moderated(state, 2, T0 + 1, CONFIG)
    state, _, _ = decide(state, [question(at=T0 + 1), question(at=T0 + 1)], T0 + 1.5, CONFIG, window_key="w1")
    state = block(state, T0 + 2, "operator")

    back = PolicyState.from_dict(json.loads(json.dumps(state.to_dict(), ensure_ascii=False)))

    assert back == state
    assert decide(back, [question(at=T0 + 3)], T0 + 3, CONFIG) == decide(state, [question(at=T0 + 3)], T0 + 3, CONFIG)


def test_a_candidate_is_built_from_a_representative_its_understanding_and_recommendation() -> None:
    rep = Representative(
        cluster_id="c1", event_id="e1", user_id="u1", text="口红还有吗", size=40, distinct_viewers=25, cue="question",
        first_event_time=T0 - 5, last_event_time=T0 - 1, source_event_ids=["e1"], sample_members=["口红还有吗"],
        viewer=Viewer(level=3), score=0.8,
    )
    candidate = Candidate.of(rep, understood("stock", "neg"), {"sku": "SKU-LIPSTICK-04", "stock_level": "low"}, promo=True)

    assert candidate == Candidate(score=0.8, event_time=T0 - 1, viewers=25, intent="stock", sentiment="neg",
                                  stock_level="low", promo=True)


def test_nonsense_pacing_is_refused() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(replies_per_minute=-1)
