"""Slot tagging over a room's catalogue: an Aho-Corasick + rules tagger, and value resolution.

Products, colours, sizes and skin types are closed vocabularies in a live room (the catalogue
and a short lexicon), so one pass of an Aho-Corasick automaton (leftmost-longest,
non-overlapping) finds them; quantities and prices are numbers with a measure word or a currency
around them, found by regular expressions. `resolve` turns a surface string that a learned
tagger found into the same canonical value the rules give (a sku, a canonical colour/size/skin
type, digits), so both taggers are scored on the same terms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import ahocorasick

from models.synth import GENERIC_COLOURS, SKIN_TYPES, Span
from pipeline.catalogue import Catalogue

_CN_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_EXTRA_COLOURS = ("白色系", "藏青", "酒红", "卡其", "咖啡色", "棕色", "银色", "金色", "橘色", "橙色", "黄色", "墨绿")
_CN_SIZES = ("大码", "均码", "小码", "中码", "加大码", "大号", "中号", "小号")
_SIZE_RE = re.compile(r"(?<![A-Za-z])([2-5]XL|XXXL|XXL|XL|XXS|XS|S|M|L)(?![A-Za-z])", re.IGNORECASE)
_QTY_RE = re.compile(r"(?<![第哪这那每0-9])([0-9]{1,3}|[一二两俩三四五六七八九十]{1,2})\s?(件|个|瓶|支|套|盒|份|单)")
_PRICE_RE = re.compile(
    r"[¥￥]\s?([0-9]+(?:\.[0-9]+)?)"
    r"|(?<![A-Za-z0-9满减.])([0-9]+(?:\.[0-9]+)?)\s?(?:块钱|块|元|rmb|RMB|r(?![a-z])|米)"
    r"|(?<![A-Za-z0-9满减.高])([0-9]{2,5})(?=\s?(?:吗|嘛|么|麻|马|还是|能买|对吗|是吧|[?？]))"
    r"|(?<=[是示付])([0-9]{2,5})(?![0-9])"
)
_LINK_RE = re.compile(r"(?:([1-9一二三四五六七八九])\s?号\s?(?:链接|链|宝贝)|链接\s?([1-9一二三四五六七八九]))")


def cn_number(text: str) -> int | None:
    """'3' -> 3, '两' -> 2, '十' -> 10, '十二' -> 12; None when it is not a number."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if len(text) == 2 and text[0] == "十" and text[1] in _CN_NUM:
        return 10 + _CN_NUM[text[1]]
    if len(text) == 2 and text[1] == "十" and text[0] in _CN_NUM:
        return 10 * _CN_NUM[text[0]]
    if len(text) == 1 and text in _CN_NUM:
        return _CN_NUM[text]
    return None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class _Entry:
    slot: str
    value: str


class RuleTagger:
    """Catalogue + lexicon tagger; build once per catalogue, `tag` is pure and thread-safe."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._automaton = ahocorasick.Automaton()
        entries: dict[str, _Entry] = {}
        self._names: dict[str, str] = {}
        self._links: dict[int, str] = {}
        colours: set[str] = set(GENERIC_COLOURS) | set(_EXTRA_COLOURS)
        for product in catalogue.products:
            for name in product.names:
                self._names[_fold(name)] = product.sku
                m = _LINK_RE.fullmatch(name)
                if m:
                    self._links[cn_number(m.group(1) or m.group(2)) or 0] = product.sku
            colours.update(str(c) for c in product.attributes.get("colours", ()) or ())
        for colour in colours:
            entries[_fold(colour)] = _Entry("colour", colour)
        for size in _CN_SIZES:
            entries[_fold(size)] = _Entry("size", size)
        for surface, canon in SKIN_TYPES.items():
            entries[_fold(surface)] = _Entry("skin_type", canon)
        for name, sku in self._names.items():  # products last: a product name wins a tie
            entries[name] = _Entry("product", sku)
        for key, entry in entries.items():
            self._automaton.add_word(key, (len(key), entry))
        self._automaton.make_automaton()
        self._colours = {_fold(c): c for c in colours}

    # -- tagging -----------------------------------------------------------------------------

    def tag(self, text: str) -> list[Span]:
        """Non-overlapping spans, leftmost-longest, in text order."""
        folded = _fold(text)
        if len(folded) != len(text):  # NFKC changed the length: offsets would drift, match raw
            folded = text.lower()
        candidates: list[tuple[int, int, str, str]] = []
        for end, (length, entry) in self._automaton.iter(folded):
            candidates.append((end - length + 1, end + 1, entry.slot, entry.value))
        for m in _LINK_RE.finditer(folded):
            sku = self._links.get(cn_number(m.group(1) or m.group(2)) or -1)
            if sku:
                candidates.append((m.start(), m.end(), "product", sku))
        for m in _SIZE_RE.finditer(text):
            candidates.append((m.start(1), m.end(1), "size", m.group(1).upper()))
        for m in _QTY_RE.finditer(text):
            n = cn_number(m.group(1))
            if n and n > 1:  # "一个/一瓶" is how a price is quoted (多少钱一瓶), not an amount
                candidates.append((m.start(), m.end(), "quantity", str(n)))
        for m in _PRICE_RE.finditer(text):
            group = next(i for i in (1, 2, 3, 4) if m.group(i))
            value = m.group(group)
            candidates.append((m.start(), m.end(), "price_mentioned", value[:-2] if value.endswith(".0") else value))
        # leftmost, then longest; drop anything overlapping a span already taken
        candidates.sort(key=lambda c: (c[0], -(c[1] - c[0])))
        spans: list[Span] = []
        last_end = 0
        for start, end, slot, value in candidates:
            if start >= last_end:
                spans.append(Span(slot, start, end, value))
                last_end = end
        return spans

    def slots(self, text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for span in self.tag(text):
            out.setdefault(span.slot, span.value)
        return out

    # -- resolving a learned tagger's surface strings -----------------------------------------

    def resolve(self, slot: str, surface: str) -> str | None:
        """Canonical value for a surface string, or None when it resolves to nothing."""
        surface = surface.strip()
        if not surface:
            return None
        key = _fold(surface)
        if slot == "product":
            if key in self._names:
                return self._names[key]
            m = _LINK_RE.search(key)
            if m:
                return self._links.get(cn_number(m.group(1) or m.group(2)) or -1)
            best, best_score = None, 0.0
            chars = set(key)
            for name, sku in self._names.items():
                score = len(chars & set(name)) / len(chars | set(name))
                if score > best_score:
                    best, best_score = sku, score
            return best if best_score >= 0.5 else None
        if slot == "colour":
            return self._colours.get(key, surface)
        if slot == "size":
            return surface.upper()
        if slot == "skin_type":
            return SKIN_TYPES.get(surface, surface)
        if slot == "quantity":
            m = re.match(r"([0-9]+|[一二两俩三四五六七八九十]{1,2})", surface)
            n = cn_number(m.group(1)) if m else None
            return str(n) if n else None
        if slot == "price_mentioned":
            m = re.search(r"[0-9]+(?:\.[0-9]+)?", surface)
            return m.group(0) if m else None
        return None


__all__ = ["RuleTagger", "cn_number"]
