"""Per-room reply policy: which questions get a reply, when, and in which tone.

A room's `PolicyState` is a small value (a few KB at most) that the workers keep in the room's
row; every function here takes it with `now` and returns the new state with its decisions.

Pace. At most one reply per `reply_cooldown_s` and `replies_per_minute` per rolling minute.
Candidates (a window's representatives) are considered highest `score` first, so when only
one may go out it is the most valuable question; a question whose latest ask is older than
`stale_after_s` is dropped as stale (the room has moved on) whatever room is left.

Mood. `observe_understood` records each understood question (intent, sentiment, whether it is
about a product, weighted by the viewers who asked it) for `mood_window_s`; the room's mode is
then, first match wins:

| mode | when |
| --- | --- |
| `blocked` | an operator blocked the room, or `sensitive_surge_count` sensitive comments came within the window (until `sensitive_block_s` after the last of them) |
| `soothing` | an anger surge: at least `surge_min_negative` negative viewers *and* a negative share of at least `surge_negative_share` within the window; it lasts while that holds and `soothing_calm_s` after the last negative question |
| `promotion` | the host is pushing a promotion (`HostContext.promoting`), or price and promotion questions make up `promotion_share` of the window |
| `product_inquiry` | questions naming or asking about a product make up `inquiry_share` of the window |
| `idle` | otherwise |

Both surge conditions are required because either alone misfires: a count alone fires on the
normal trickle of complaints in a 10,000-viewer room, a share alone on one complaint in a quiet
one. `promotion` and `product_inquiry` need `mode_min_questions` viewers in the window.

Strategy per reply (first match): `apology` in soothing mode or for a negative question;
`urgency` when the product is low on stock; `social_proof` when `social_proof_viewers` or more
asked; `discount` in promotion mode (or for a promotion question) when the product has a
promotion; `plain` otherwise.

Alerts for a human: `anger_surge` once per surge (again only after the room calmed down) and
`sensitive_surge` once per automatic block. Each carries `since`, the surge's start, so an
alert action id derived from (room, kind, since) is stable across retries.

Redelivery: pass `window_key` (the window id) and a window seen before changes nothing, and
`decide` returns the decisions it made the first time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from pipeline.taxonomy import Understanding

__all__ = [
    "Alert",
    "Candidate",
    "Decision",
    "PolicyConfig",
    "PolicyState",
    "block",
    "decide",
    "observe_moderated",
    "observe_understood",
    "unblock",
]

Mode = Literal["idle", "product_inquiry", "promotion", "soothing", "blocked"]
Strategy = Literal["plain", "urgency", "social_proof", "discount", "apology"]
Reason = Literal["sent", "cooldown", "cap", "stale", "blocked"]

_MINUTE_S = 60.0
_PRODUCT_INTENTS = frozenset({"price", "buy_howto", "stock", "spec", "suitability", "promotion"})
_PROMOTION_INTENTS = frozenset({"price", "promotion"})


@dataclass(frozen=True)
class PolicyConfig:
    reply_cooldown_s: float = 3.0
    """Least time between two replies in a room: one reply every few seconds is what a host's
    screen and the viewers can follow (`LIVEBOT_REPLY_COOLDOWN_S`)."""
    replies_per_minute: int = 20
    """Cap per rolling minute (`LIVEBOT_REPLIES_PER_MINUTE`)."""
    stale_after_s: float = 30.0
    """A question last asked longer ago than this is dropped: in a live room the host has moved
    on within half a minute, and a late answer reads as a bot catching up."""
    mood_window_s: float = 60.0
    """How far back the room's mood (surge, promotion, product inquiry) looks."""
    surge_min_negative: float = 5.0
    """Negative viewers (weighted by cluster viewers) needed within the window for a surge."""
    surge_negative_share: float = 0.3
    """... and the share of all viewers' questions in the window they must make up."""
    soothing_calm_s: float = 30.0
    """Soothing lasts this long after the last negative question of the surge."""
    mode_min_questions: float = 3.0
    """Viewers' questions in the window needed before `promotion` or `product_inquiry` is read."""
    promotion_share: float = 0.6
    inquiry_share: float = 0.5
    social_proof_viewers: int = 10
    """A question this many viewers asked gets a "大家都在问" reply."""
    sensitive_surge_count: int = 10
    """Sensitive comments within the window that stop replies (a raid or a brigading)."""
    sensitive_block_s: float = 120.0
    max_observations: int = 256
    """The oldest observations beyond this are dropped, keeping the row small in busy rooms."""
    remembered_windows: int = 16
    """Window keys remembered to make a redelivered window a no-op."""

    def __post_init__(self) -> None:
        if self.replies_per_minute < 0 or self.reply_cooldown_s < 0 or self.stale_after_s <= 0:
            raise ValueError(f"invalid reply pacing in {self}")
        if self.mood_window_s <= 0:
            raise ValueError(f"mood_window_s must be > 0, got {self.mood_window_s}")

    @classmethod
    def from_settings(cls, settings: Any) -> "PolicyConfig":
        """Each field from the settings attribute of the same name, where the settings have one."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)})


class Observation(msgspec.Struct, frozen=True, array_like=True):
    ts: float
    intent: str
    sentiment: str
    product: bool
    weight: float


class Decision(msgspec.Struct, frozen=True):
    candidate_index: int
    action: Literal["reply", "skip"]
    reason: Reason
    strategy: Strategy


class Alert(msgspec.Struct, frozen=True):
    kind: str
    detail: str
    since: float


class _Remembered(msgspec.Struct, frozen=True, array_like=True):
    key: str
    decisions: list[Decision]


class PolicyState(msgspec.Struct, frozen=True, kw_only=True):
    """One room's reply policy state; `to_dict` / `from_dict` round-trip through JSON."""

    mode: Mode = "idle"
    mode_since: float = 0.0
    replies: list[float] = []
    observations: list[Observation] = []
    sensitive: list[tuple[float, int]] = []
    operator_block: str | None = None
    blocked_until: float | None = None
    block_since: float | None = None
    surge_since: float | None = None
    soothing_until: float | None = None
    observed_windows: list[str] = []
    decided_windows: list[_Remembered] = []

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PolicyState":
        return msgspec.convert(dict(data), cls)


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """What the policy needs to know of one representative question."""

    score: float
    event_time: float
    """The latest comment of the cluster: staleness is measured from the last time anyone asked."""
    viewers: int = 1
    intent: str = "other"
    sentiment: str = "neu"
    stock_level: str = ""
    """Of the recommended product: "ok", "low", "sold_out", or "" for none."""
    promo: bool = False
    """The recommended product has a running promotion."""

    @classmethod
    def of(
        cls,
        representative: Any,
        understanding: Understanding | Mapping[str, Any] | None = None,
        recommendation: Any = None,
        *,
        promo: bool = False,
    ) -> "Candidate":
        """From a `Representative` (or its dict), its understanding and its `Recommendation` (or dict)."""
        rep = representative if isinstance(representative, Mapping) else msgspec.structs.asdict(representative)
        intent, sentiment = "other", "neu"
        if isinstance(understanding, Understanding):
            intent, sentiment = understanding.intent, understanding.sentiment
        elif understanding is not None:
            intent, sentiment = understanding.get("intent", "other"), understanding.get("sentiment", "neu")
        level = ""
        if recommendation is not None:
            level = (recommendation.get("stock_level") if isinstance(recommendation, Mapping)
                     else getattr(recommendation, "stock_level", "")) or ""
        return cls(
            score=float(rep.get("score", 0.0)),
            event_time=float(rep["last_event_time"]),
            viewers=int(rep.get("distinct_viewers", 1) or 1),
            intent=str(intent),
            sentiment=str(sentiment),
            stock_level=str(level),
            promo=promo,
        )


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
def observe_understood(
    state: PolicyState,
    understandings: Sequence[Understanding | Mapping[str, Any]],
    now: float,
    config: PolicyConfig = PolicyConfig(),
    *,
    weights: Sequence[float] | None = None,
    window_key: str | None = None,
    host_promoting: bool = False,
) -> tuple[PolicyState, list[Alert]]:
    """Record a window's understood questions (weights: viewers per question, default 1 each)."""
    if weights is not None and len(weights) != len(understandings):
        raise ValueError(f"{len(weights)} weights for {len(understandings)} understandings")
    if window_key is not None and window_key in state.observed_windows:
        return state, []
    # one observation per kind of question in the window keeps the row small in busy rooms
    grouped: dict[tuple[str, str, bool], float] = {}
    for i, u in enumerate(understandings):
        if isinstance(u, Understanding):
            intent, sentiment, named = u.intent, u.sentiment, bool(u.slots.get("product"))
        else:
            intent, sentiment = str(u.get("intent", "other")), str(u.get("sentiment", "neu"))
            named = bool((u.get("slots") or {}).get("product"))
        weight = 1.0 if weights is None else float(weights[i])
        if weight > 0:
            kind = (intent, sentiment, named or intent in _PRODUCT_INTENTS)
            grouped[kind] = grouped.get(kind, 0.0) + weight
    added = [Observation(now, intent, sentiment, product, w) for (intent, sentiment, product), w in grouped.items()]
    observations = [*state.observations, *added][-config.max_observations:]
    keys = state.observed_windows if window_key is None else [*state.observed_windows, window_key][-config.remembered_windows:]
    state = msgspec.structs.replace(state, observations=observations, observed_windows=keys)
    return _advance(state, now, config, host_promoting)


def observe_moderated(
    state: PolicyState,
    sensitive_count: int,
    now: float,
    config: PolicyConfig = PolicyConfig(),
    *,
    window_key: str | None = None,
    host_promoting: bool = False,
) -> tuple[PolicyState, list[Alert]]:
    """Record sensitive comments the prefilter caught (a window's `moderated` count)."""
    if window_key is not None:
        window_key = f"moderated:{window_key}"
        if window_key in state.observed_windows:
            return state, []
        state = msgspec.structs.replace(
            state, observed_windows=[*state.observed_windows, window_key][-config.remembered_windows:]
        )
    if sensitive_count > 0:
        state = msgspec.structs.replace(state, sensitive=[*state.sensitive, (now, int(sensitive_count))])
    return _advance(state, now, config, host_promoting)


def block(state: PolicyState, now: float, reason: str) -> PolicyState:
    """An operator stops the room's replies until `unblock`."""
    if not reason:
        raise ValueError("an operator block needs a reason")
    return msgspec.structs.replace(state, operator_block=reason, mode="blocked", mode_since=now)


def unblock(state: PolicyState, now: float) -> PolicyState:
    """Lift an operator block (an automatic sensitive-surge block still runs its course)."""
    return msgspec.structs.replace(state, operator_block=None)


# ----------------------------------------------------------------------------------------
# decisions
# ----------------------------------------------------------------------------------------
def decide(
    state: PolicyState,
    candidates: Sequence[Candidate],
    now: float,
    config: PolicyConfig = PolicyConfig(),
    *,
    host_promoting: bool = False,
    window_key: str | None = None,
) -> tuple[PolicyState, list[Decision], list[Alert]]:
    """One decision per candidate, in input order; replies are granted highest `score` first."""
    if window_key is not None:
        for remembered in state.decided_windows:
            if remembered.key == window_key:
                return state, list(remembered.decisions), []
    state, alerts = _advance(state, now, config, host_promoting)
    replies = list(state.replies)
    decisions: dict[int, Decision] = {}
    order = sorted(range(len(candidates)), key=lambda i: (-candidates[i].score, -candidates[i].viewers, i))
    for i in order:
        candidate = candidates[i]
        strategy = _strategy(state.mode, candidate, config)
        if state.mode == "blocked":
            reason: Reason = "blocked"
        elif now - candidate.event_time > config.stale_after_s:
            reason = "stale"
        elif sum(1 for t in replies if now - t < _MINUTE_S) >= config.replies_per_minute:
            reason = "cap"
        elif replies and now - max(replies) < config.reply_cooldown_s:
            reason = "cooldown"
        else:
            reason = "sent"
            replies.append(now)
        decisions[i] = Decision(i, "reply" if reason == "sent" else "skip", reason, strategy)
    ordered = [decisions[i] for i in range(len(candidates))]
    remembered = state.decided_windows
    if window_key is not None:
        remembered = [*remembered, _Remembered(window_key, ordered)][-config.remembered_windows:]
    state = msgspec.structs.replace(state, replies=replies, decided_windows=remembered)
    return state, ordered, alerts


def _strategy(mode: str, c: Candidate, config: PolicyConfig) -> Strategy:
    if mode == "soothing" or c.sentiment == "neg":
        return "apology"
    if c.stock_level == "low":
        return "urgency"
    if c.viewers >= config.social_proof_viewers:
        return "social_proof"
    if c.promo and (mode == "promotion" or c.intent == "promotion"):
        return "discount"
    return "plain"


def _advance(state: PolicyState, now: float, config: PolicyConfig, host_promoting: bool) -> tuple[PolicyState, list[Alert]]:
    """Bring the state to `now`: forget what left the windows, re-read the mode, raise alerts."""
    since = now - config.mood_window_s
    observations = [o for o in state.observations if o.ts > since]
    sensitive = [s for s in state.sensitive if s[0] > since]
    # the last minute's replies; one stamped ahead of `now` (another worker's clock) is kept
    replies = [t for t in state.replies if now - t < _MINUTE_S or t > now]
    alerts: list[Alert] = []

    # automatic block on a sensitive surge
    blocked_until, block_since = state.blocked_until, state.block_since
    if blocked_until is not None and now >= blocked_until:
        blocked_until, block_since = None, None
    flagged = sum(n for _, n in sensitive)
    if flagged >= config.sensitive_surge_count:
        if block_since is None:
            block_since = min(ts for ts, _ in sensitive)
            alerts.append(Alert("sensitive_surge", f"{flagged} sensitive comments in the last "
                                f"{config.mood_window_s:.0f} s; replies paused for {config.sensitive_block_s:.0f} s",
                                block_since))
        blocked_until = max(blocked_until or 0.0, max(ts for ts, _ in sensitive) + config.sensitive_block_s)

    # anger surge
    total = sum(o.weight for o in observations)
    negative = [o for o in observations if o.sentiment == "neg"]
    neg = sum(o.weight for o in negative)
    surge = neg >= config.surge_min_negative and total > 0 and neg / total >= config.surge_negative_share
    surge_since, soothing_until = state.surge_since, state.soothing_until
    if surge:
        calm_from = max(o.ts for o in negative)
        soothing_until = max(soothing_until or 0.0, calm_from + config.soothing_calm_s)
        if surge_since is None:
            surge_since = min(o.ts for o in negative)
            alerts.append(Alert("anger_surge", f"{neg:g} of {total:g} viewers' questions negative ({neg / total:.0%}) "
                                f"in the last {config.mood_window_s:.0f} s; replies switch to apology", surge_since))
    soothing = surge or (soothing_until is not None and now < soothing_until)
    if not soothing:
        surge_since, soothing_until = None, None

    # mode, first match wins
    mode: Mode
    if state.operator_block is not None or blocked_until is not None:
        mode = "blocked"
    elif soothing:
        mode = "soothing"
    elif host_promoting or _share(observations, _PROMOTION_INTENTS, config) >= config.promotion_share:
        mode = "promotion"
    elif _product_share(observations, config) >= config.inquiry_share:
        mode = "product_inquiry"
    else:
        mode = "idle"
    new = msgspec.structs.replace(
        state,
        mode=mode,
        mode_since=state.mode_since if mode == state.mode else now,
        replies=replies,
        observations=observations,
        sensitive=sensitive,
        blocked_until=blocked_until,
        block_since=block_since,
        surge_since=surge_since,
        soothing_until=soothing_until,
    )
    return new, alerts


def _share(observations: list[Observation], intents: frozenset[str], config: PolicyConfig) -> float:
    total = sum(o.weight for o in observations)
    if total < config.mode_min_questions:
        return 0.0
    return sum(o.weight for o in observations if o.intent in intents) / total


def _product_share(observations: list[Observation], config: PolicyConfig) -> float:
    total = sum(o.weight for o in observations)
    if total < config.mode_min_questions:
        return 0.0
    return sum(o.weight for o in observations if o.product) / total
