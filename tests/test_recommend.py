"""The recommender: an explainable score per sku, stock required, and the product card cooldown."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.catalogue import Catalogue
from pipeline.contracts import Viewer
from pipeline.recommend import CardCooldown, Recommendation, recommend, should_show
from pipeline.taxonomy import Understanding

SERUM, CREAM, SUNSCREEN, LIPSTICK, HOODIE, GIFTSET = (
    "SKU-SERUM-01", "SKU-CREAM-02", "SKU-SUNSCREEN-03", "SKU-LIPSTICK-04", "SKU-HOODIE-05", "SKU-GIFTSET-06",
)
ENTRY = {SERUM, SUNSCREEN, LIPSTICK, HOODIE}
PREMIUM = {CREAM, GIFTSET}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


def ask(intent: str, **slots: str) -> Understanding:
    return Understanding(intent=intent, confidence=0.9, slots=slots)


def contributions(reasons: list[str]) -> list[float]:
    return [float(m.group(1)) for r in reasons if (m := re.search(r"\(([+-]\d+(?:\.\d+)?)\)$", r))]


def test_the_named_product_in_stock_is_chosen_and_says_so(catalogue: Catalogue) -> None:
    rec = recommend(ask("price", product=SERUM), catalogue, stock={SERUM: 320})

    assert rec.sku == SERUM
    assert rec.in_stock
    assert "named in the question (+3.0)" in rec.reasons
    assert rec.alternative is None


def test_a_sold_out_named_product_is_answered_but_not_as_in_stock(catalogue: Catalogue) -> None:
    rec = recommend(ask("stock", product=CREAM), catalogue, stock={CREAM: 0}, host=(SERUM, 0.8))

    assert rec.sku == CREAM
    assert not rec.in_stock
    assert rec.stock == 0
    assert rec.stock_level == "sold_out"
    assert not rec.show_card
    assert any(r.startswith("sold out") for r in rec.reasons)


def test_a_sold_out_named_product_names_an_in_stock_alternative(catalogue: Catalogue) -> None:
    rec = recommend(ask("stock", product=CREAM), catalogue, stock={CREAM: 0}, host=(SERUM, 0.8))

    # the serum: same category as the cream and the product on stage
    assert rec.alternative == SERUM
    alternative_line = next(r for r in rec.reasons if r.startswith("in-stock alternative"))
    assert "玻尿酸保湿精华" in alternative_line and SERUM in alternative_line


def test_no_alternative_is_invented_when_nothing_in_stock_fits(catalogue: Catalogue) -> None:
    # the hoodie is sold out in the sample and is the only apparel; promotions alone do not qualify
    rec = recommend(ask("price", product=HOODIE), catalogue)

    assert rec.sku == HOODIE
    assert not rec.in_stock
    assert rec.alternative is None
    assert "no in-stock alternative fits" in rec.reasons


def test_a_sold_out_product_is_never_recommended_unnamed(catalogue: Catalogue) -> None:
    # the host is presenting the (sold-out) hoodie and viewers ask about it, unnamed
    rec = recommend(ask("price"), catalogue, stock={HOODIE: 0}, host=(HOODIE, 1.0), heat={HOODIE: 1.0})

    assert rec.sku != HOODIE
    assert rec.scores[HOODIE] == max(rec.scores.values())  # it scored best, and still lost


def test_the_host_product_answers_an_unnamed_question(catalogue: Catalogue) -> None:
    rec = recommend(ask("price"), catalogue, host=(LIPSTICK, 0.9))

    assert rec.sku == LIPSTICK
    assert "host is presenting it (+2.25)" in rec.reasons
    assert rec.show_card


def test_a_named_product_beats_the_host_product(catalogue: Catalogue) -> None:
    rec = recommend(ask("price", product=SUNSCREEN), catalogue, host=(LIPSTICK, 1.0))

    assert rec.sku == SUNSCREEN


def test_a_faded_host_product_alone_is_not_enough(catalogue: Catalogue) -> None:
    rec = recommend(ask("price"), catalogue, host=(LIPSTICK, 0.2))

    assert rec.sku is None
    assert not rec.show_card


def test_a_promotion_alone_never_chooses_a_product(catalogue: Catalogue) -> None:
    rec = recommend(ask("price"), catalogue)

    assert rec.sku is None
    assert rec.reasons and "no product named" in rec.reasons[0]


def test_a_new_viewer_gets_an_entry_product_with_the_coupon_reason(catalogue: Catalogue) -> None:
    rec = recommend(ask("other"), catalogue, viewer=Viewer(new_viewer=True))

    assert rec.sku in ENTRY
    assert rec.in_stock
    assert all(rec.scores[sku] < rec.scores[rec.sku] for sku in PREMIUM)
    assert rec.new_viewer_coupon
    assert any("new-viewer coupon" in r for r in rec.reasons)


def test_a_high_spender_gets_a_premium_product(catalogue: Catalogue) -> None:
    rec = recommend(ask("other"), catalogue, viewer=Viewer(spend_tier="vip"))

    assert rec.sku in PREMIUM
    assert not rec.new_viewer_coupon
    assert any("high-spending viewer" in r for r in rec.reasons)


@pytest.mark.parametrize("viewer", [Viewer(level=40), Viewer(is_member=True), {"spend_tier": 3}])
def test_high_level_members_and_tier_three_count_as_high_value(catalogue: Catalogue, viewer: object) -> None:
    rec = recommend(ask("other"), catalogue, viewer=viewer)  # type: ignore[arg-type]

    assert rec.sku in PREMIUM


def test_an_ordinary_viewer_gets_no_tier_bonus(catalogue: Catalogue) -> None:
    rec = recommend(ask("other"), catalogue, viewer=Viewer(level=3, spend_tier="low"))

    assert rec.sku is None


def test_the_reasons_add_up_to_the_winning_score(catalogue: Catalogue) -> None:
    rec = recommend(
        ask("price", skin_type="敏感肌"), catalogue,
        stock={LIPSTICK: 3}, host=(SERUM, 0.7), heat={SERUM: 0.4}, viewer=Viewer(new_viewer=True),
    )

    assert rec.sku == SERUM
    parts = contributions(rec.reasons)
    assert len(parts) == 5  # host, suits, new viewer, promotion, heat
    assert sum(parts) == pytest.approx(rec.scores[SERUM], abs=0.01 * len(parts))
    assert rec.scores[SERUM] == max(rec.scores.values())


def test_a_skin_type_the_named_product_is_not_for_offers_a_better_fit(catalogue: Catalogue) -> None:
    rec = recommend(ask("suitability", product=CREAM, skin_type="油皮"), catalogue)

    assert rec.sku == CREAM  # the reply answers what was asked
    assert "not for 油皮 (-3.0)" in rec.reasons
    assert rec.alternative == SUNSCREEN
    assert any(r.startswith("fits the question better") for r in rec.reasons)


def test_a_colour_picks_the_product_that_comes_in_it(catalogue: Catalogue) -> None:
    rec = recommend(ask("spec", colour="豆沙"), catalogue)

    assert rec.sku == LIPSTICK
    assert "comes in 豆沙 (+1.0)" in rec.reasons
    assert rec.scores[HOODIE] < rec.scores[SERUM]  # the hoodie has colours, not this one


def test_a_need_named_in_the_question_text_counts_as_a_fit(catalogue: Catalogue) -> None:
    rec = recommend(ask("suitability"), catalogue, question="送礼选哪个好")

    assert rec.sku == GIFTSET
    assert "suits 送礼 (+1.5)" in rec.reasons


def test_an_attribute_value_in_the_question_text_points_to_its_product(catalogue: Catalogue) -> None:
    rec = recommend(ask("price"), catalogue, question="SPF50+的那个多少钱")

    assert rec.sku == SUNSCREEN
    assert "question mentions SPF50+ (+1.0)" in rec.reasons


def test_a_name_the_slot_tagger_missed_is_read_from_the_text(catalogue: Catalogue) -> None:
    rec = recommend(ask("price"), catalogue, question="口红多少钱")
    sold_out = recommend(ask("price"), catalogue, question="卫衣多少钱")

    assert rec.sku == LIPSTICK
    assert "named in the question (+3.0)" in rec.reasons
    assert sold_out.sku == HOODIE and not sold_out.in_stock


def test_products_compared_in_the_text_each_count(catalogue: Catalogue) -> None:
    rec = recommend(ask("suitability"), catalogue, question="精华和面霜哪个适合干皮")

    assert rec.sku in (SERUM, CREAM)
    assert rec.scores[SERUM] >= 3.0 and rec.scores[CREAM] >= 3.0
    assert any(r.startswith("name in the question: ") for r in rec.reasons)


def test_low_stock_is_reported_and_ranks_higher(catalogue: Catalogue) -> None:
    plenty = recommend(ask("price", product=LIPSTICK), catalogue, stock={LIPSTICK: 50})
    few = recommend(ask("price", product=LIPSTICK), catalogue, stock={LIPSTICK: 3})

    assert few.stock_level == "low" and plenty.stock_level == "ok"
    assert "only 3 left (+0.5)" in few.reasons
    assert few.scores[LIPSTICK] == pytest.approx(plenty.scores[LIPSTICK] + 0.5)


def test_heat_decides_between_otherwise_equal_products(catalogue: Catalogue) -> None:
    rec = recommend(ask("other"), catalogue, viewer=Viewer(new_viewer=True), heat={LIPSTICK: 0.6})

    assert rec.sku == LIPSTICK
    assert "viewers are asking about it now (+0.6)" in rec.reasons


def test_no_product_is_chosen_for_a_shipping_question(catalogue: Catalogue) -> None:
    rec = recommend(ask("shipping"), catalogue, host=(SERUM, 1.0))

    assert rec.sku is None
    assert rec.reasons == ["no product needed for a shipping question"]


def test_a_card_is_wanted_only_for_purchase_questions_about_stocked_products(catalogue: Catalogue) -> None:
    assert recommend(ask("buy_howto", product=SERUM), catalogue).show_card
    assert recommend(ask("price", product=SERUM), catalogue).show_card
    assert not recommend(ask("spec", product=SERUM), catalogue).show_card
    assert not recommend(ask("buy_howto", product=HOODIE), catalogue).show_card


def test_a_missing_stock_entry_falls_back_to_the_catalogue(catalogue: Catalogue) -> None:
    assert recommend(ask("price", product=HOODIE), catalogue, stock={}).in_stock is False
    assert recommend(ask("price", product=HOODIE), catalogue, stock={HOODIE: 9}).in_stock is True


def test_the_task_payload_form_works_and_round_trips(catalogue: Catalogue) -> None:
    understanding = {"intent": "stock", "confidence": 0.8, "slots": {"product": LIPSTICK}, "sentiment": "neu"}
    rec = recommend(understanding, catalogue, {LIPSTICK: 2}, viewer={"new_viewer": True})

    assert rec.sku == LIPSTICK and rec.stock == 2
    assert Recommendation.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec


# ---- product card cooldown -------------------------------------------------------------------
def test_a_card_is_not_pushed_again_within_the_cooldown() -> None:
    state, first = should_show(CardCooldown(), "room1", SERUM, 1000.0, cooldown_s=60.0)
    state, again = should_show(state, "room1", SERUM, 1030.0, cooldown_s=60.0)
    state, later = should_show(state, "room1", SERUM, 1061.0, cooldown_s=60.0)

    assert (first, again, later) == (True, False, True)


def test_the_card_cooldown_is_per_sku_and_per_room() -> None:
    state, _ = should_show(CardCooldown(), "room1", SERUM, 1000.0, cooldown_s=60.0)

    assert should_show(state, "room1", CREAM, 1001.0, cooldown_s=60.0)[1]
    assert should_show(state, "room2", SERUM, 1001.0, cooldown_s=60.0)[1]


def test_a_late_caller_does_not_push_a_card_pushed_after_its_time() -> None:
    state, _ = should_show(CardCooldown(), "room1", SERUM, 1000.0, cooldown_s=60.0)

    assert not should_show(state, "room1", SERUM, 990.0, cooldown_s=60.0)[1]


def test_expired_cards_are_forgotten_and_the_state_round_trips() -> None:
    state, _ = should_show(CardCooldown(), "room1", SERUM, 1000.0, cooldown_s=60.0)
    state, _ = should_show(state, "room1", CREAM, 2000.0, cooldown_s=60.0)

    assert state.shown == {"room1": {CREAM: 2000.0}}
    assert CardCooldown.from_dict(json.loads(json.dumps(state.to_dict()))) == state
