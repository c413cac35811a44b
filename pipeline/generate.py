"""Write the reply text for one understood question and its chosen product.

FOUNDATION PLACEHOLDER (issue 2): one Jinja2 template with the room persona's name. Issue 5
adds ChatGLM/GLM generation, templates by intent × sentiment × strategy and the output guard;
the output shape (`text`, `model`) stays.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from pipeline.catalogue import Product

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=4)
def _environment(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory), autoescape=False, undefined=jinja2.StrictUndefined
    )


def generate(intent: str, product: Product | None, in_stock: bool, persona: str = "主播") -> dict[str, Any]:
    template = _environment(str(TEMPLATES_DIR)).get_template("reply.j2")
    text = template.render(intent=intent, product=product, in_stock=in_stock, persona=persona).strip()
    return {"text": text, "model": "template:reply.j2"}
