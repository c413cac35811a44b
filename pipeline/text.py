"""Comment text cleaning: normalise a danmaku comment and mask the personal data in it.

Two pure functions, both cached because floods repeat the same text thousands of times:

- `normalize(raw)` gives the cleaned `text` (for models and storage), the matching `key` (for the
  Aho-Corasick prefilter and same-viewer dedup) and the `emoji` found (kept as information).
- `mask_pii(text)` replaces phone numbers, WeChat / QQ ids, ID-card numbers, e-mails and links
  with placeholders such as `[电话]`, before anything is stored or shown to a model.

The pipeline runs `mask_pii(normalize(raw).text)`: what is stored is the masked text. The key
is *not* masked (a phone number stays in it), so it is for matching only, never for storage.

Normalisation rules, in order:

1. Emoji (pictographs, flags, keycaps, ZWJ sequences with their skin-tone modifiers) are taken
   out of the text and returned in `emoji`.
2. Traditional Chinese becomes simplified (OpenCC's t2s tables, see below).
3. One character table, built lazily and applied with `str.translate`: NFKC per character
   (full-width letters, digits and punctuation become ASCII, "？" → "?", "１" → "1"; circled
   digits, ligatures and other compatibility forms are unfolded); letters lower-cased; CJK
   punctuation folded to its ASCII counterpart ("。" → ".", "【" → "["); control, format
   (zero-width, bidi), surrogate and private-use characters, variation selectors, combining
   marks left over after NFKC (zalgo text) and decorative symbols (★, ♪, box drawing)
   removed; every kind of space becomes " ".
   NFKC per character equals NFKC of the whole text except where a base character and a
   following combining mark would compose; those marks are dropped anyway (a Latin accent
   typed as two code points loses its accent, a price worth paying for a table lookup).
4. Repeats collapsed:
   - a run of the same punctuation or symbol becomes one ("???" → "?", "~~~" → "~"), except
     "/" (so "https://" survives);
   - a run of the same CJK (or other non-ASCII) letter keeps 2 ("哈哈哈哈哈" → "哈哈");
   - a run of the same ASCII letter keeps 3 ("wwwww" → "www", so "www." links survive);
   - a number made of one repeated digit keeps 3 ("6666666" → "666", "77777" → "777");
     any other number is left whole, so prices ("10000") and phone numbers survive;
   - a text that is one phrase (2 characters or more, no digits or Latin letters) pasted
     several times is kept once ("然然超可爱然然超可爱" → "然然超可爱", "可爱可爱" → "可爱");
   - Chinese numerals are never collapsed: they spell phone numbers too ("幺三八零零...").
5. Runs of whitespace become one space; leading and trailing space is stripped.

The key is the text with everything but letters and digits removed ("加 微-信" → "加微信").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Final

import msgspec
import opencc

__all__ = ["Normalized", "Masked", "PII_PLACEHOLDERS", "normalize", "mask_pii"]

# Floods repeat one text thousands of times, so both functions are cached. Texts up to this
# length are cached; a longer one is a rarity not worth a slot. 65,536 slots of a short comment
# are about 20 MB.
_CACHE_TEXT_CHARS: Final = 512
_CACHE_ENTRIES: Final = 1 << 16


# gc=False: the structs hold only strings, and skipping GC tracking makes them about as cheap
# to build as a tuple, which counts at 100,000 comments a second.
class Normalized(msgspec.Struct, frozen=True, gc=False):
    """A cleaned comment: `text` for models and storage (after `mask_pii`), `key` for matching."""

    text: str
    key: str
    emoji: tuple[str, ...] = ()


class Masked(msgspec.Struct, frozen=True, gc=False):
    """Text with its personal data replaced; `kinds` lists what was found, first seen first."""

    text: str
    kinds: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------------------------

_PICTO = (
    "\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff"
)
_EMOJI_TAIL = "(?:\ufe0f|[\U0001f3fb-\U0001f3ff]|[\U000e0020-\U000e007f])*"
_EMOJI_RE: Final = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag is a pair of regional indicators
    "|[0-9#*]\ufe0f?\u20e3"  # keycap
    f"|[{_PICTO}]{_EMOJI_TAIL}(?:\u200d[{_PICTO}]{_EMOJI_TAIL})*"
)

# ---------------------------------------------------------------------------------------------
# Traditional → simplified
# ---------------------------------------------------------------------------------------------

# OpenCC's t2s converts phrase by phrase (longest match) and otherwise takes a character's first
# candidate. Characters that take part in no phrase override are mapped in the character table
# directly (one C-level translate pass); a text containing any other traditional character goes
# through OpenCC itself, which is slow but rare and cached.
_OPENCC_DICT = Path(opencc.__file__).resolve().parent / "dictionary"


def _read_opencc(name: str) -> dict[str, str]:
    table = {}
    with open(_OPENCC_DICT / name, encoding="utf-8") as fh:
        for line in fh:
            source, _, targets = line.rstrip("\n").partition("\t")
            if source and targets:
                table[source] = targets.split(" ")[0]
    return table


def _build_t2s() -> tuple[dict[int, str], frozenset[str]]:
    chars = _read_opencc("TSCharacters.txt")
    phrases = _read_opencc("TSPhrases.txt")
    needs_opencc: set[str] = set()
    for source, target in phrases.items():
        if "".join(chars.get(c, c) for c in source) != target:
            needs_opencc.update(c for c in source + target if c in chars)
    table = {
        ord(src): dst
        for src, dst in chars.items()
        if src != dst and src not in needs_opencc and len(src) == 1
    }
    return table, frozenset(needs_opencc)


_T2S_CHARS, _NEEDS_OPENCC = _build_t2s()
_SPECIAL_RE: Final = re.compile(
    f"[{_PICTO}\U0001f1e6-\U0001f1ff\u20e3{''.join(sorted(_NEEDS_OPENCC))}]"
)
_OPENCC = opencc.OpenCC("t2s")  # reads its dictionaries on first use, not at import


# ---------------------------------------------------------------------------------------------
# The character table
# ---------------------------------------------------------------------------------------------

_PUNCT_FOLD: Final = {
    "。": ".", "｡": ".", "、": ",", "､": ",",
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "「": '"', "」": '"', "『": '"', "』": '"',
    "【": "[", "】": "]", "〔": "[", "〕": "]", "〖": "[", "〗": "]", "［": "[", "］": "]",
    "《": "<", "》": ">", "〈": "<", "〉": ">",
    "—": "-", "–": "-", "‐": "-", "‑": "-", "‒": "-", "―": "-", "−": "-", "～": "~", "〜": "~",
}
_DELETED_RANGES: Final = (
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0100, 0xE01EF),
    (0x1F3FB, 0x1F3FF),  # skin-tone modifiers (category Sk) left over from a broken emoji
    # Combining marks that survive NFKC composition are decoration (zalgo text), not accents.
    (0x0300, 0x036F),
    (0x0483, 0x0489),
)
_DELETED_CATEGORIES: Final = frozenset({"Cf", "Cs", "Co", "So", "Me"})
_SPACE_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp"})
# A table that learns: each code point is classified once, on first sight, then looked up in C.
# The bound keeps a text that walks the whole of Unicode from growing it without end.
_TABLE_MAX_ENTRIES: Final = 200_000


def _classify_char(cp: int) -> int | str | None:
    ch = chr(cp)
    category = unicodedata.category(ch)
    if category in ("Cs", "Co"):
        return None
    if category == "Cc":
        return " " if ch.isspace() else None
    if cp in _T2S_CHARS:
        return _T2S_CHARS[cp]
    if ch in _PUNCT_FOLD:
        return _PUNCT_FOLD[ch]
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch:
        # The characters NFKC yields are already NFKC, so classifying each of them ends here.
        return "".join(_as_str(_classify_char(ord(c))) for c in folded)
    if any(lo <= cp <= hi for lo, hi in _DELETED_RANGES):
        return None
    if category in _DELETED_CATEGORIES:
        return None
    if category in _SPACE_CATEGORIES:
        return " "
    lower = ch.lower()
    if lower != ch and len(lower) == 1:
        return lower
    return cp


def _as_str(value: int | str | None) -> str:
    return "" if value is None else chr(value) if isinstance(value, int) else value


class _CharTable(dict[int, "int | str | None"]):
    def __missing__(self, cp: int) -> int | str | None:
        value = _classify_char(cp)
        if len(self) < _TABLE_MAX_ENTRIES:
            self[cp] = value
        return value


_TABLE: Final = _CharTable()
for _cp in range(128):
    _TABLE[_cp]  # noqa: B018 - prefill ASCII so the common path never calls Python
del _cp

# ---------------------------------------------------------------------------------------------
# Repeats
# ---------------------------------------------------------------------------------------------

# Chinese numerals are digits in disguise ("幺三八零零..."), so they are never collapsed.
_CN_NUMERALS: Final = "〇零一二三四五六七八九十百千万幺两"
_RUN_RE: Final = re.compile(
    r"(?<!\d)(\d)\1{3,}(?!\d)"  # 1: a number of one repeated digit
    r"|([a-z])\2{3,}"  # 2: ASCII letter
    rf"|([^\W\d_a-z{_CN_NUMERALS}])\3{{2,}}"  # 3: other letter (CJK, kana, ...)
    r"|([^\w\s/]|_)\4+"  # 4: punctuation or symbol; "//" is left for "https://"
)
_RUN_GATE: Final = re.compile(r"(.)\1\1|([^\w\s/]|_)\2")  # cheap: is there any run to collapse?
_NOT_A_PHRASE: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyz" + _CN_NUMERALS)
_NON_KEY_RE: Final = re.compile(r"[\W_]+")


def _collapse_run(match: re.Match[str]) -> str:
    group = match.lastindex
    ch = match.group(group)  # type: ignore[arg-type]
    return ch * (3 if group in (1, 2) else 2 if group == 3 else 1)


def _collapse(text: str) -> str:
    if _RUN_GATE.search(text):
        text = _RUN_RE.sub(_collapse_run, text)
    # A text that is one phrase pasted k times ("然然超可爱然然超可爱") has a period shorter than
    # itself; str.find locates it in C. Digits and Latin letters are left alone: ids and
    # numbers may legitimately repeat ("1212", "abab12ab").
    period = (text + text).find(text, 1)
    if 2 <= period < len(text) and _NOT_A_PHRASE.isdisjoint(text[:period]):
        text = text[:period]
    return text


# ---------------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------------


def normalize(text: str) -> Normalized:
    """Clean one raw comment; never raises on any `str`, lone surrogates included."""
    if len(text) <= _CACHE_TEXT_CHARS:
        return _normalize_cached(text)
    return _normalize(text)


def _normalize(raw: str) -> Normalized:
    text = raw
    emoji: tuple[str, ...] = ()
    # One scan finds the rare comments that need more than the table: emoji to take out, or a
    # traditional character that only OpenCC's phrase rules convert correctly.
    if not raw.isascii() and _SPECIAL_RE.search(raw):
        emoji = tuple(_EMOJI_RE.findall(raw))
        if emoji:
            text = _EMOJI_RE.sub("", raw)
        if not _NEEDS_OPENCC.isdisjoint(text):
            text = _OPENCC.convert(text)
    text = " ".join(_collapse(text.translate(_TABLE)).split())
    return Normalized(text, _NON_KEY_RE.sub("", text), emoji)


_normalize_cached = lru_cache(maxsize=_CACHE_ENTRIES)(_normalize)

# ---------------------------------------------------------------------------------------------
# mask_pii
# ---------------------------------------------------------------------------------------------

PII_PLACEHOLDERS: Final[dict[str, str]] = {
    "url": "[链接]",
    "email": "[邮箱]",
    "id_card": "[身份证]",
    "wechat": "[微信]",
    "qq": "[QQ]",
    "phone": "[电话]",
}

_D = r"[\d零〇一二三四五六七八九幺]"  # a digit, also written as a Chinese numeral (an evasion)
_SEP = r"[\s\-]{0,2}"  # "138 0013 8000", "138-0013-8000"
_MOBILE = rf"(?:\+?86{_SEP})?[1一幺]{_SEP}[3-9三四五六七八九](?:{_SEP}{_D}){{9}}"
# Raw text may carry full-width forms ("１３８", "ＶＸ"); the patterns run on a copy folded to
# ASCII character for character, so match positions still index the original text.
_WIDTH_FOLD: Final = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_URL_CHARS = r"[a-z0-9\-._~:/?#@!$&'*+,;=%]"
_TLD = (
    r"(?:com|cn|net|org|top|xyz|vip|shop|club|cc|io|tv|co|info|link|site|app|ly|gl|ink|ltd"
    r"|wang|xin|store|online|biz|mobi|asia|hk|tw|jp|us|uk|ru)"
)
_WECHAT_TRIGGER = (
    r"(?:微信号?|薇信|威信|微芯|徽信|维信|围信|卫星号|v\s?[信芯]号?"
    r"|(?<![a-z])(?:vx|wx|wechat|wei\s?xin)号?|加\s?v|\+\s?v|(?<![a-z])v(?=\s*[:=])"
    # Evasions: the letters split ("v x", "v.x"), a lone 微/薇/威 ("➕ 微 abc123" once the
    # normaliser drops the ➕), a bare "v" before an id ("正品低价 v abc123"). Each needs the
    # space and an id shape after it (6+ letters and digits, or 5+ digits).
    r"|(?<![a-z])v[\s.\-_*]{1,3}x(?![a-z])|[微薇威]\s+[信芯]号?|[微薇威](?=\s)|(?<![a-z])v(?=\s))"
)
_QQ_TRIGGER = (
    r"(?:(?<![a-z])qq(?:号|群)?|扣扣号?|抠抠|企鹅号?|球球号?|q[号群]|扣号|群号"
    r"|(?<![a-z])q(?=\s*[:=]))"
)
_ANNOUNCE = r"[\s:=\-]*(?:号码|号|id|是|为)?[\s:=\-]*"
_PII_RE: Final = re.compile(
    rf"(?P<url>(?:https?://|www\.){_URL_CHARS}+"
    rf"|(?<![a-z0-9\-.@])[a-z0-9\-]+(?:\.[a-z0-9\-]+)*(?:\.|点|dot){_TLD}(?![a-z0-9])(?:/{_URL_CHARS}*)?)"
    r"|(?P<email>(?<![a-z0-9._%+\-])[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,})"
    r"|(?P<id_card>(?<!\d)[1-9]\d{5}[\s\-]?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"[\s\-]?\d{3}[\dx](?![\da-z]))"
    rf"|(?P<wechat_pre>{_WECHAT_TRIGGER}{_ANNOUNCE})"
    rf"(?P<wechat>[a-z][a-z0-9_\-]{{5,19}}|{_D}(?:{_SEP}{_D}){{4,12}})"
    rf"|(?P<qq_pre>{_QQ_TRIGGER}{_ANNOUNCE})(?P<qq>[1-9一二三四五六七八九](?:{_SEP}{_D}){{4,11}})"
    rf"|(?P<phone>(?<!\d){_MOBILE}(?!\d)"
    r"|(?<!\d)(?:0\d{2,3}-\d{7,8}|400[\s\-]?\d{3}[\s\-]?\d{4})(?!\d))",
    re.IGNORECASE,
)
# Cheap tests for "could there be any PII here", on the lower-cased text. First a character
# class (two comments in three fail it), then the shapes: something like a domain, an "@", a
# trigger word, or five digits (any script, Chinese numerals too) close together. Only about
# one comment in a hundred reaches the full regex.
_PII_CHARS: Final = re.compile(r"[\da-z@:+零〇一二三四五六七八九幺微薇威徽维围卫扣抠企球群点]")
_PII_SHAPES: Final = re.compile(
    rf"[a-z0-9](?:\.|点|dot)[a-z]|@|://|(?:{_D}[\s\-]{{0,2}}){{5}}"
    r"|微信|薇信|威信|微芯|徽信|维信|围信|卫星|v\s?[信芯x]|wx|wechat|weixin|wei\s|[加+]\s?v"
    r"|v[\s.\-_*]{1,3}x|[微薇威]\s|(?<![a-z])v\s+[a-z0-9]"
    r"|[vq]\s*[:=]|qq|扣扣|扣号|抠抠|企鹅|球球|q[号群]|群号"
)


def mask_pii(text: str) -> Masked:
    """Replace personal data in `text` (normalised or raw) with placeholders; never raises."""
    folded = text.translate(_WIDTH_FOLD) if max(text, default=" ") >= "\uff01" else text
    lowered = folded.lower()
    if not _PII_CHARS.search(lowered) or not _PII_SHAPES.search(lowered):
        return Masked(text)
    # Only texts that pass the gate are cached: they are the costly ones, and a spam flood
    # repeats the same contact details thousands of times.
    if len(text) <= _CACHE_TEXT_CHARS:
        return _mask_cached(text, folded)
    return _mask(text, folded)


def _mask(text: str, folded: str) -> Masked:
    parts: list[str] = []
    kinds: list[str] = []
    done = 0
    for match in _PII_RE.finditer(folded):
        kind = match.lastgroup or ""
        if kind not in kinds:
            kinds.append(kind)
        # A WeChat or QQ match includes the words that announce the id; those stay.
        start = match.start(kind)
        parts += (text[done:start], PII_PLACEHOLDERS[kind])
        done = match.end()
    if not kinds:
        return Masked(text)
    parts.append(text[done:])
    return Masked("".join(parts), tuple(kinds))


_mask_cached = lru_cache(maxsize=_CACHE_ENTRIES)(_mask)
