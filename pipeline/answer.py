"""Decide and answer one window's questions: the logic of the recommend and generate tasks.

`decide_window` takes the window's representatives and their understandings, and the room's
state (what the host presents, recent heat, the reply policy's memory, product-card
cooldowns, stock), and returns the new state with, per question, the chosen product, the
policy's decision (reply or skip, and the template strategy) and whether to push a product
card; plus alerts for a human. `reply_requests` turns the questions to answer into grounded
`ReplyRequest`s for `respond`. The Celery tasks load and store the state around these calls;
`livebot respond` runs them on state given on the command line. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.catalogue import Catalogue
from pipeline.contracts import Viewer
from pipeline.facts import Facts
from pipeline.host import HeatState, HostConfig, HostContext, HostState, heat, observe_questions
from pipeline.policy import Alert, Candidate, Decision, PolicyConfig, PolicyState, decide, observe_understood
from pipeline.recommend import CardCooldown, Recommendation, RecommendConfig, recommend, should_show
from pipeline.respond import ReplyRequest
from pipeline.taxonomy import Understanding


@dataclass(frozen=True)
class AnswerConfig:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    host: HostConfig = field(default_factory=HostConfig)
    card_cooldown_s: float = 60.0
    low_stock_threshold: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> "AnswerConfig":
        recommend_config = RecommendConfig.from_settings(settings)
        return cls(
            policy=PolicyConfig.from_settings(settings),
            recommend=recommend_config,
            host=HostConfig.from_settings(settings),
            card_cooldown_s=settings.card_cooldown_s,
            low_stock_threshold=recommend_config.low_stock_threshold,
        )


@dataclass(frozen=True)
class RoomContext:
    """A room's live state, as stored in its `room_state` row, plus current stock levels."""

    host: HostState = field(default_factory=HostState)
    heat: HeatState = field(default_factory=HeatState)
    policy: PolicyState = field(default_factory=PolicyState)
    cards: CardCooldown = field(default_factory=CardCooldown)
    stock: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], stock: dict[str, int]) -> "RoomContext":
        return cls(
            host=HostState.from_dict(row.get("host") or {}),
            heat=HeatState.from_dict(row.get("heat") or {}),
            policy=PolicyState.from_dict(row.get("policy") or {}),
            cards=CardCooldown.from_dict(row.get("cards") or {}),
            stock=stock,
        )


@dataclass(frozen=True)
class Choice:
    """What was decided for one question."""

    recommendation: Recommendation
    decision: Decision
    show_card: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendation": self.recommendation.to_dict(),
            "decision": {"action": self.decision.action, "reason": self.decision.reason,
                         "strategy": self.decision.strategy},
            "show_card": self.show_card,
        }


def decide_window(
    room_id: str,
    window_key: str,
    representatives: Sequence[Mapping[str, Any]],
    understandings: Sequence[Understanding],
    context: RoomContext,
    catalogue: Catalogue,
    host_context: HostContext,
    config: AnswerConfig,
    now: float,
) -> tuple[RoomContext, list[Choice], list[Alert]]:
    """Choose products, apply the reply policy, and pick product cards for one window.

    `window_key` makes a redelivered window a no-op for the policy's memory.
    """
    current = host_context.current(context.host, now)
    promoting = host_context.promoting(context.host, now)
    heat_now = heat(context.heat, now, config.host)
    recommendations = [
        recommend(understanding, catalogue, context.stock, host=current, heat=heat_now,
                  viewer=_viewer(rep.get("viewer")), question=rep.get("text"), config=config.recommend)
        for rep, understanding in zip(representatives, understandings, strict=True)
    ]
    viewers = [int(rep.get("distinct_viewers", 1) or 1) for rep in representatives]
    policy, alerts = observe_understood(context.policy, list(understandings), now, config.policy, weights=viewers,
                                       window_key=window_key, host_promoting=promoting)
    candidates = [
        Candidate.of(rep, understanding, rec, promo=_has_promo(catalogue, rec.sku))
        for rep, understanding, rec in zip(representatives, understandings, recommendations, strict=True)
    ]
    policy, decisions, more_alerts = decide(policy, candidates, now, config.policy, host_promoting=promoting,
                                            window_key=window_key)
    cards = context.cards
    choices = []
    for rec, decision in zip(recommendations, sorted(decisions, key=lambda d: d.candidate_index), strict=True):
        show = False
        if decision.action == "reply" and rec.show_card and rec.sku:
            cards, show = should_show(cards, room_id, rec.sku, now, config.card_cooldown_s)
        choices.append(Choice(rec, decision, show))
    asked = [(rec.sku, n) for rec, n in zip(recommendations, viewers, strict=True) if rec.sku]
    new_heat = observe_questions(context.heat, asked, now, config.host) if asked else context.heat
    return replace(context, heat=new_heat, policy=policy, cards=cards), choices, alerts + more_alerts


def reply_requests(
    representatives: Sequence[Mapping[str, Any]],
    understandings: Sequence[Understanding],
    choices: Sequence[Choice],
    catalogue: Catalogue,
    stock: Mapping[str, int],
    config: AnswerConfig,
) -> list[ReplyRequest | None]:
    """A grounded request per question the policy answers (None for the skipped ones).

    `stock` should be read just before generating, so that a product that sold out while the
    window was in flight is not claimed in stock.
    """
    requests: list[ReplyRequest | None] = []
    for rep, understanding, choice in zip(representatives, understandings, choices, strict=True):
        if choice.decision.action != "reply":
            requests.append(None)
            continue
        sku = choice.recommendation.sku
        product = catalogue.by_sku(sku) if sku else None
        facts = Facts.build(
            product, understanding,
            stock=stock.get(sku) if sku else None,
            asked_by=int(rep.get("distinct_viewers", 1) or 1),
            question=str(rep.get("text", "")),
            strategy=choice.decision.strategy,
            low_stock_at=config.low_stock_threshold,
        )
        requests.append(ReplyRequest(facts, choice.decision.strategy))
    return requests


def _viewer(raw: Any) -> Viewer | None:
    if raw is None or isinstance(raw, Viewer):
        return raw
    import msgspec

    return msgspec.convert(raw, Viewer)


def _has_promo(catalogue: Catalogue, sku: str | None) -> bool:
    product = catalogue.by_sku(sku) if sku else None
    return bool(product and product.promo)
