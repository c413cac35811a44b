"""The room's persona: who is speaking in every reply, read from a YAML file the operator edits.

A persona is the voice of the room (the seed article's 人设): a name the host's assistant goes by,
a few traits, a speaking style, catchphrases, the way viewers are addressed (宝宝们, 家人们) and
a cap on reply length (replies are read out by TTS and scroll past in the comment area, so they
stay short). The prompt builder turns it into the LLM's system message; the templates use the
name, the address term and the catchphrases; the output guard enforces the length cap.

    persona = Persona.load()              # the sample room's persona (livebot/sample/persona.yaml)
    persona = Persona.load("room.yaml")   # an operator's persona

Catchphrases go into replies verbatim, so loading checks each one against the output guard's
rules (no absolutes, prices, PII, stock claims): a persona file can never make every reply fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.facts import Facts
from pipeline.guard import check_reply

SAMPLE_PERSONA = Path(__file__).resolve().parent.parent / "livebot" / "sample" / "persona.yaml"

MIN_REPLY_CHARS = 20
MAX_REPLY_CHARS = 300


class PersonaError(ValueError):
    """The persona file is missing, malformed, or says something a reply may not say."""


@dataclass(frozen=True)
class Persona:
    name: str
    role: str = "直播间主播助理"
    traits: tuple[str, ...] = ()
    speaking_style: str = ""
    catchphrases: tuple[str, ...] = ()
    address: str = "宝宝们"
    address_one: str = "宝宝"
    max_reply_chars: int = 80

    def catchphrase(self, key: str = "") -> str:
        """One catchphrase, the same for the same `key` (so a reply is reproducible), or ""."""
        if not self.catchphrases:
            return ""
        # A stable choice: Python's str hash is salted per process, a byte sum is not.
        return self.catchphrases[sum(key.encode("utf-8")) % len(self.catchphrases)]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Persona:
        """Read a persona YAML file; `None` means the sample room's persona."""
        path = Path(path) if path is not None else SAMPLE_PERSONA
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PersonaError(f"cannot read persona {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise PersonaError(f"{path}: expected a mapping with at least 'name'")
        return cls.from_dict(doc, source=str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, source: str = "<dict>") -> Persona:
        unknown = set(doc) - set(cls.__dataclass_fields__)
        if unknown:
            raise PersonaError(f"{source}: unknown persona field(s) {sorted(unknown)}")
        name = str(doc.get("name") or "").strip()
        if not name:
            raise PersonaError(f"{source}: the persona needs a 'name'")
        address = str(doc.get("address") or "宝宝们").strip()
        try:
            max_chars = int(doc.get("max_reply_chars", 80))
        except (TypeError, ValueError) as exc:
            raise PersonaError(f"{source}: max_reply_chars must be a whole number: {exc}") from exc
        if not MIN_REPLY_CHARS <= max_chars <= MAX_REPLY_CHARS:
            raise PersonaError(
                f"{source}: max_reply_chars {max_chars} is outside [{MIN_REPLY_CHARS}, {MAX_REPLY_CHARS}]"
            )
        persona = cls(
            name=name,
            role=str(doc.get("role") or cls.role).strip(),
            traits=_strings(doc.get("traits"), "traits", source),
            speaking_style=str(doc.get("speaking_style") or "").strip(),
            catchphrases=_strings(doc.get("catchphrases"), "catchphrases", source),
            address=address,
            address_one=str(doc.get("address_one") or address.removesuffix("们") or address).strip(),
            max_reply_chars=max_chars,
        )
        _check_catchphrases(persona, source)
        return persona


def _strings(value: Any, field: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise PersonaError(f"{source}: '{field}' must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _check_catchphrases(persona: Persona, source: str) -> None:
    for phrase in (*persona.catchphrases, persona.name, persona.address):
        result = check_reply(phrase, Facts.none(), sensitive=None, max_chars=persona.max_reply_chars // 2)
        if not result.passed:
            raise PersonaError(
                f"{source}: {phrase!r} would fail the output guard ({', '.join(result.violations)}); "
                "catchphrases, the name and the address term go into replies verbatim"
            )
