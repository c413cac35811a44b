"""The host's current product from ASR, and the heat of viewers' questions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipeline.catalogue import Catalogue, Product
from pipeline.host import HeatState, HostConfig, HostContext, HostState, heat, observe_questions

SERUM, CREAM, SUNSCREEN = "SKU-SERUM-01", "SKU-CREAM-02", "SKU-SUNSCREEN-03"
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def ctx() -> HostContext:
    return HostContext(Catalogue.load())


def say(ctx: HostContext, state: HostState, *segments: tuple[float, str]) -> HostState:
    for ts, text in segments:
        state, _ = ctx.observe(state, text, ts)
    return state


def test_a_segment_naming_a_product_makes_it_current(ctx: HostContext) -> None:
    state, about = ctx.observe(HostState(), "家人们看这款玻尿酸精华，质地很清爽", T0)

    assert about == SERUM
    assert ctx.current(state, T0) == (SERUM, 1.0)


def test_a_segment_naming_no_product_changes_nothing(ctx: HostContext) -> None:
    state, about = ctx.observe(HostState(), "大家晚上好，欢迎来到直播间", T0)

    assert about is None
    assert ctx.current(state, T0) == (None, 0.0)


def test_the_longest_name_wins_over_an_alias_inside_it(ctx: HostContext) -> None:
    # "霜" alone is the face cream's alias; "防晒霜" is the sunscreen
    skus, _ = ctx.mentions("这个防晒霜不泛白")

    assert skus == [SUNSCREEN]


def test_a_spoken_link_number_and_spacing_still_match(ctx: HostContext) -> None:
    assert ctx.mentions("一号链接 大家快去拍")[0] == [SERUM]
    assert ctx.mentions("2 号 链 接")[0] == [CREAM]


def test_the_segment_is_about_the_product_it_names_most(ctx: HostContext) -> None:
    _, about = ctx.observe(HostState(), "面霜和精华一起用，这个面霜真的修护，面霜", T0)

    assert about == CREAM


def test_the_current_product_switches_when_the_host_moves_on(ctx: HostContext) -> None:
    # two minutes on the serum, named every five seconds, then the host turns to the cream
    state = say(ctx, HostState(), *((T0 + t, "这款精华补水特别好") for t in range(0, 120, 5)))
    assert ctx.current(state, T0 + 120)[0] == SERUM

    state = say(ctx, state, (T0 + 125, "接下来看面霜"), (T0 + 135, "面霜修护屏障"), (T0 + 145, "2号链接面霜"))

    sku, weight = ctx.current(state, T0 + 145)
    assert sku == CREAM
    assert weight > 0.5


def test_a_passing_mention_does_not_replace_the_product_being_presented(ctx: HostContext) -> None:
    state = say(ctx, HostState(), *((T0 + t, "这款精华补水特别好") for t in range(0, 60, 10)))

    state = say(ctx, state, (T0 + 62, "面霜我们下一场再讲"))

    assert ctx.current(state, T0 + 62)[0] == SERUM


def test_the_current_product_fades_and_then_is_gone(ctx: HostContext) -> None:
    half_life = ctx.config.host_half_life_s
    state = say(ctx, HostState(), (T0, "这款精华"))

    assert ctx.current(state, T0) == (SERUM, 1.0)
    assert ctx.current(state, T0 + half_life) == (SERUM, 0.5)
    assert ctx.current(state, T0 + 2 * half_life) == (SERUM, 0.25)
    assert ctx.current(state, T0 + 10 * half_life) == (None, 0.0)


def test_two_products_mentioned_equally_are_each_half_sure(ctx: HostContext) -> None:
    state = say(ctx, HostState(), (T0, "精华和面霜"))

    sku, weight = ctx.current(state, T0)
    assert sku in (SERUM, CREAM)
    assert weight == pytest.approx(0.5)


def test_a_low_confidence_segment_counts_less(ctx: HostContext) -> None:
    state, _ = ctx.observe(HostState(), "精华", T0, confidence=1.0)
    state, _ = ctx.observe(state, "面霜", T0, confidence=0.3)

    assert ctx.current(state, T0)[0] == SERUM


def test_a_late_segment_counts_as_of_its_own_time(ctx: HostContext) -> None:
    in_order = say(ctx, HostState(), (T0, "精华"), (T0 + 20, "面霜"), (T0 + 25, "精华"))
    late_arrival = say(ctx, HostState(), (T0 + 25, "精华"), (T0 + 20, "面霜"), (T0, "精华"))

    assert ctx.current(late_arrival, T0 + 30) == ctx.current(in_order, T0 + 30)
    assert late_arrival.mentions[SERUM].at(T0 + 30, 30.0) == pytest.approx(in_order.mentions[SERUM].at(T0 + 30, 30.0))


def test_a_name_two_products_share_points_to_neither() -> None:
    products = (
        Product(sku="A", name="春季套装", price=Decimal("99"), aliases=("套装",)),
        Product(sku="B", name="秋季套装", price=Decimal("99"), aliases=("套装",)),
    )
    ctx = HostContext(Catalogue("r", "room", products))

    assert ctx.mentions("这个套装")[0] == []
    assert ctx.mentions("秋季套装")[0] == ["B"]


def test_promotion_words_mark_the_host_as_promoting_for_a_while(ctx: HostContext) -> None:
    window = ctx.config.promo_window_s
    quiet = say(ctx, HostState(), (T0, "这款精华质地很清爽"))
    pushing = say(ctx, HostState(), (T0, "今天精华拍二发三，到手价超划算"))

    assert not ctx.promoting(quiet, T0)
    assert ctx.promoting(pushing, T0 + window - 1)
    assert not ctx.promoting(pushing, T0 + window + 1)


def test_the_catalogues_own_promotion_phrase_is_a_promotion_cue() -> None:
    ctx = HostContext(Catalogue.load(), HostConfig(promo_cues=()))

    assert ctx.mentions("口红第二支半价")[1]
    assert not ctx.mentions("口红显白")[1]


def test_heat_grows_with_the_viewers_asking_and_decays() -> None:
    config = HostConfig()
    state = observe_questions(HeatState(), [(SERUM, 5.0), (CREAM, 1.0), (None, 9.0)], T0, config)

    now = heat(state, T0, config)
    assert now[SERUM] == pytest.approx(0.5)  # five viewers = half saturation
    assert now[CREAM] < now[SERUM]
    later = heat(state, T0 + config.heat_half_life_s, config)
    assert later[SERUM] < now[SERUM]
    assert heat(state, T0 + 20 * config.heat_half_life_s, config) == {}


def test_host_and_heat_state_round_trip_through_json(ctx: HostContext) -> None:
    host = say(ctx, HostState(), (T0, "精华到手价"), (T0 + 7.5, "面霜"))
    hot = observe_questions(HeatState(), [(SERUM, 3.0)], T0)

    host_back = HostState.from_dict(json.loads(json.dumps(host.to_dict())))
    heat_back = HeatState.from_dict(json.loads(json.dumps(hot.to_dict())))

    assert host_back == host
    assert heat_back == hot
    assert ctx.current(host_back, T0 + 10) == ctx.current(host, T0 + 10)


def test_old_mentions_are_pruned_so_the_state_stays_small(ctx: HostContext) -> None:
    state = say(ctx, HostState(), (T0, "精华"), (T0 + 3600, "面霜"))

    assert set(state.mentions) == {CREAM}
