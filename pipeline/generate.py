"""Template replies: Jinja2 files by intent × sentiment × strategy, the fallback and the default.

Templates are files operators edit (`pipeline/templates/`, or their own folder: a file there
overrides the shipped one of the same name, the rest still come from the shipped set). For a
question the first file that exists wins:

    {intent}.{sentiment}.{strategy}.j2     stock.neg.apology.j2
    {intent}.{strategy}.j2                 price.discount.j2
    {intent}.{sentiment}.j2                complaint.neg.j2
    {intent}.j2                            price.j2
    generic.{strategy}.j2
    generic.j2

A template sees only the facts (`pipeline.facts`), never the viewer's text:

    intent, sentiment, strategy, asked_by, viewer_need   the question
    product         ProductFacts or none: name, price, promo_price, selling_price, promo,
                    stock_state (in_stock / low / sold_out), stock_left (when low), sold_out,
                    low, selling_points, suitable_for, not_for, attributes [(label, value)]
    persona         name, address (宝宝们), address_one (宝宝), catchphrases
    me, all, one    persona.name, persona.address, persona.address_one
    catchphrase     one of the persona's catchphrases, stable for the question
    filters         yuan (149 → "149", 9.90 → "9.9")

The rendered text is joined into one line (template authors may break lines freely) and
checked by the output guard like any generated reply (`pipeline.respond`). Edits are picked up
without a restart: Jinja checks a file's modification time when it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from pipeline.catalogue import Product
from pipeline.facts import LOW_STOCK_AT, Facts, yuan
from pipeline.persona import Persona

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class TemplateError(RuntimeError):
    """No template could be found or rendered for a question; the message says which and why."""


@dataclass(frozen=True)
class Rendered:
    text: str
    template: str  # the file that produced it, e.g. "price.discount.j2"


def candidates(intent: str, sentiment: str, strategy: str) -> list[str]:
    """The template names tried for a question, most specific first."""
    return [
        f"{intent}.{sentiment}.{strategy}.j2",
        f"{intent}.{strategy}.j2",
        f"{intent}.{sentiment}.j2",
        f"{intent}.j2",
        f"generic.{strategy}.j2",
        "generic.j2",
    ]


class Templates:
    """The template set of one folder (plus the shipped files it does not override)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        folders = [str(TEMPLATES_DIR)]
        if directory is not None and Path(directory).resolve() != TEMPLATES_DIR:
            if not Path(directory).is_dir():
                raise TemplateError(f"template directory {directory} does not exist")
            folders.insert(0, str(directory))
        self.directory = Path(folders[0])
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        self.env.filters["yuan"] = yuan

    def render(self, facts: Facts, persona: Persona, strategy: str | None = None) -> Rendered:
        """The reply for `facts` in `persona`'s voice; raises `TemplateError` on a broken file."""
        facts = facts.with_strategy(strategy) if strategy else facts
        names = candidates(facts.intent, facts.sentiment, facts.strategy)
        try:
            template = self.env.select_template(names)
        except jinja2.TemplatesNotFound as exc:
            raise TemplateError(f"no template among {names} in {self.directory}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {exc.filename}:{exc.lineno}: {exc.message}") from exc
        try:
            raw = template.render(_context(facts, persona))
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {template.name} failed for intent={facts.intent} "
                                f"strategy={facts.strategy}: {exc}") from exc
        return Rendered(text=_one_line(raw), template=str(template.name))


@lru_cache(maxsize=8)
def templates(directory: str | None = None) -> Templates:
    """The process-wide template set for `directory` (None: the shipped templates)."""
    return Templates(directory)


def render_template(facts: Facts, persona: Persona, strategy: str | None = None) -> str:
    """The shipped templates' reply for `facts` (see `Templates.render` for the file used)."""
    return templates().render(facts, persona, strategy).text


def _context(facts: Facts, persona: Persona) -> dict[str, Any]:
    key = f"{facts.intent}|{facts.strategy}|{facts.product.sku if facts.product else ''}"
    return {
        "intent": facts.intent,
        "sentiment": facts.sentiment,
        "strategy": facts.strategy,
        "asked_by": facts.asked_by,
        "viewer_need": facts.viewer_need,
        "product": facts.product,
        "persona": persona,
        "me": persona.name,
        "all": persona.address,
        "one": persona.address_one,
        "catchphrase": persona.catchphrase(key),
    }


@lru_cache(maxsize=1)
def _sample_persona() -> Persona:
    return Persona.load()


def _one_line(text: str) -> str:
    return "".join(line.strip() for line in text.splitlines())


def generate(intent: str, product: Product | None, in_stock: bool, persona: str = "主播") -> dict[str, Any]:
    """The foundation's entry point, kept so `tasks/window.py` works until it calls `respond`.

    Renders the new templates without a guard or a model; `persona` (a display name) is
    ignored in favour of the sample persona.
    """
    stock = (product.stock if product.stock > 0 else LOW_STOCK_AT + 1) if in_stock and product else 0
    facts = Facts.build(product, {"intent": intent, "confidence": 1.0}, stock=stock)
    rendered = templates().render(facts, _sample_persona())
    return {"text": rendered.text, "model": f"template:{rendered.template}"}
