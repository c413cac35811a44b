"""The generate stage: a window's questions in, one guarded reply each out.

    replies = respond([ReplyRequest(facts, "discount"), ...], persona=persona,
                      generator=generator, sensitive=current_prefilter())
    count_outcomes(replies)   # {"generated": 3, "fallback": 1, "template": 0, ...}

With a generator, the whole batch goes to the model in ONE `generate` call (that is what makes a
GPU pay). Every generated reply is checked by the output guard against its own facts; a reply
that fails is replaced by the template reply, and `guard` says what was caught
("fallback:price_mismatch"). Without a generator the templates answer directly. The template
reply is guarded too: if even it fails (an operator's edit, an odd catalogue entry) the reply is
a minimal one that states no fact at all. Nothing here raises for a bad reply or a failing
model: the room always gets an answer, and the outcome says which path produced it.

Outcomes (`Reply.outcome`, for metrics and the turn row):

    generated        the model's reply passed the guard
    fallback         the model's reply failed the guard; the template answered
    generator_error  the model raised (server down, out of memory); the template answered
    template         no generator configured; the template answered
    minimal          the template failed the guard or could not be rendered; a minimal reply
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pipeline.facts import Facts
from pipeline.generate import TemplateError, Templates, templates
from pipeline.guard import GuardResult, check_reply
from pipeline.persona import Persona
from pipeline.prompt import build_messages

if TYPE_CHECKING:
    from models.generator import Generator
    from pipeline.prefilter import Prefilter

log = logging.getLogger(__name__)

OUTCOMES: Final[tuple[str, ...]] = ("generated", "fallback", "generator_error", "template", "minimal")
MINIMAL_MODEL: Final = "minimal"


@dataclass(frozen=True)
class ReplyRequest:
    """One question to answer: its facts and the strategy the policy chose (None: facts')."""

    facts: Facts
    strategy: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    model: str  # the generator's name (model path or id), "template:<file>", or "minimal"
    strategy: str
    guard: str  # "passed", "fallback:<kinds>" (what was caught in the generated text), "minimal:<kinds>"
    violations: list[str] = field(default_factory=list)  # everything the guard caught, on any path
    outcome: str = "template"  # one of OUTCOMES
    generated: str | None = None  # the model's own text, kept even when it was rejected

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "model": self.model,
            "strategy": self.strategy,
            "guard": self.guard,
            "violations": list(self.violations),
            "outcome": self.outcome,
            "generated": self.generated,
        }


def respond(
    items: list[ReplyRequest],
    *,
    persona: Persona,
    generator: Generator | None,
    sensitive: Prefilter | None,
    template_set: Templates | None = None,
) -> list[Reply]:
    """One reply per request, in order; see the module docstring for the paths."""
    if not items:
        return []
    facts_list = [item.facts.with_strategy(item.strategy) if item.strategy else item.facts for item in items]
    tset = template_set or templates()
    if generator is None:
        return [_from_template(facts, persona, tset, sensitive, "template", "passed", []) for facts in facts_list]

    try:
        generated = generator.generate([build_messages(facts, persona) for facts in facts_list])
        if len(generated) != len(facts_list):
            raise ValueError(f"{len(generated)} replies for {len(facts_list)} questions")
    except Exception as exc:  # noqa: BLE001 - any model failure falls back; the room still gets a reply
        log.error("generator failed, answering from templates: %s", exc,
                  extra={"model": getattr(generator, "name", "?"), "batch": len(facts_list), "error": str(exc)})
        return [
            _from_template(facts, persona, tset, sensitive, "generator_error", "fallback:generator_error",
                           [f"generator_error:{type(exc).__name__}"])
            for facts in facts_list
        ]

    replies = []
    for facts, raw in zip(facts_list, generated, strict=True):
        text = clean_generated(raw)
        result = check_reply(text, facts, sensitive=sensitive, max_chars=persona.max_reply_chars)
        if result.passed:
            replies.append(Reply(text, generator.name, facts.strategy, "passed", [], "generated", raw))
            continue
        replies.append(_from_template(facts, persona, tset, sensitive, "fallback", _label("fallback", result),
                                      result.violations, generated=raw))
    return replies


def count_outcomes(replies: list[Reply]) -> dict[str, int]:
    """How many replies took each path (every outcome present, zeros included)."""
    counts = Counter(r.outcome for r in replies)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def clean_generated(text: str) -> str:
    """The model's text as a reply: one line, without wrapping quotes or a 'reply:' label."""
    line = " ".join(text.split())
    for prefix in ("回复：", "回复:", "回答：", "回答:", "assistant:", "Assistant:"):
        if line.startswith(prefix):
            line = line[len(prefix):].lstrip()
    if len(line) >= 2 and line[0] in "\"“「'" and line[-1] in "\"”」'":
        line = line[1:-1].strip()
    return line


def minimal_reply(persona: Persona) -> str:
    """A reply that states no fact: the last resort when even the template fails the guard."""
    return f"{persona.address_one}稍等，{persona.name}马上为大家解答～"


_LAST_RESORT: Final = "稍等，马上为大家解答～"


def _from_template(
    facts: Facts,
    persona: Persona,
    tset: Templates,
    sensitive: Prefilter | None,
    outcome: str,
    guard: str,
    violations: list[str],
    *,
    generated: str | None = None,
) -> Reply:
    try:
        rendered = tset.render(facts, persona)
    except TemplateError as exc:
        log.error("template failed: %s", exc, extra={"intent": facts.intent, "strategy": facts.strategy})
        return _minimal(facts, persona, sensitive, [*violations, "template_error"], generated)
    result = check_reply(rendered.text, facts, sensitive=sensitive, max_chars=persona.max_reply_chars)
    if not result.passed:
        log.warning("template reply failed the guard", extra={
            "template": rendered.template, "violations": result.violations, "intent": facts.intent})
        return _minimal(facts, persona, sensitive, [*violations, *result.violations], generated,
                        template_kinds=result.kinds)
    return Reply(rendered.text, f"template:{rendered.template}", facts.strategy, guard, list(violations),
                 outcome, generated)


def _minimal(
    facts: Facts,
    persona: Persona,
    sensitive: Prefilter | None,
    violations: list[str],
    generated: str | None,
    template_kinds: list[str] | None = None,
) -> Reply:
    text = minimal_reply(persona)
    if not check_reply(text, Facts.none(facts.intent), sensitive=sensitive, max_chars=persona.max_reply_chars).passed:
        text = _LAST_RESORT
    kinds = template_kinds or ["template_error"]
    return Reply(text, MINIMAL_MODEL, "plain", f"minimal:{','.join(kinds)}", violations, "minimal", generated)


def _label(prefix: str, result: GuardResult) -> str:
    return f"{prefix}:{','.join(result.kinds)}"
