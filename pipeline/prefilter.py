"""The Aho-Corasick prefilter: one pass over a comment's key sorts it into exactly one label.

Labels, in precedence order (the first label with a cue wins):

    sensitive > spam > complaint > question > purchase > chatter

- `sensitive` and `spam` go to moderation; no model ever sees them. Sensitive outranks spam
  because it is the graver reason to hide a comment and the one an operator must see.
- `complaint`, `question` and `purchase` go to the room's window. Complaint outranks question:
  an angry question ("骗子 怎么还没发货") should be handled as a complaint. Question outranks
  purchase: "拍了 几号发货?" needs an answer, "拍了" alone needs none. (The brief proposed
  purchase above question; since both reach the window the order only decides the label, and a
  question is the more useful label for a comment that has both.)
- `chatter` ("666", "来了", "主播好") is counted, never answered. A comment with no cue at all
  is chatter too: on real danmaku an uncued comment is nearly always banter, the question
  lexicon carries the product words ("色号", "尺码", "链接") that make a terse question, and
  `Verdict.cues == ()` still tells an uncued comment from a cued one.

Besides the lexicons, two signals come from the text itself: a "?" in a comment that has any
letters or digits is a question cue of weight 0.5, and every kind of PII that `mask_pii` found
(phone, WeChat, QQ, e-mail, link, ID number) is a spam cue ("pii:phone"): posting contact data
in a live room is soliciting, and hiding a posted ID number protects its owner.

Lexicons are plain UTF-8 files in a directory (`pipeline/lexicons/` by default), one file per
label named `<label>.txt` or `<label>.<anything>.txt` (so an operator can add
`sensitive.local.txt` beside the shipped list), one entry a line, `#` starting a comment and
`entry | weight` giving a cue weight in [0, 1] (default 1.0). Entries are normalised like
comments, so spacing, case, width and traditional characters do not matter. `neutral.txt`
holds ordinary words that contain a cue by accident ("路口交通", "不想要"): a cue found wholly
inside a neutral entry is ignored. An entry that starts or ends with a Latin letter only matches
where the key has no Latin letter on that side ("nb" is not found in "nba").

`current_prefilter()` gives the process-wide prefilter and rebuilds it, atomically, when a
lexicon file changes (checked at most every few seconds).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Final, NamedTuple

import ahocorasick
import msgspec

from pipeline.text import Normalized, mask_pii, normalize

__all__ = [
    "LABELS",
    "MODERATED",
    "WINDOWED",
    "LEXICON_DIR",
    "LexiconError",
    "Verdict",
    "Prefilter",
    "PrefilterCache",
    "read_lexicon",
    "current_prefilter",
]

log = logging.getLogger(__name__)

LABELS: Final[tuple[str, ...]] = ("sensitive", "spam", "complaint", "question", "purchase", "chatter")
MODERATED: Final = frozenset({"sensitive", "spam"})
WINDOWED: Final = frozenset({"complaint", "question", "purchase"})
NEUTRAL: Final = "neutral"
LEXICON_DIR: Final = Path(__file__).resolve().parent / "lexicons"
DEFAULT_CHECK_EVERY_S: Final = 5.0

QUESTION_MARK_WEIGHT: Final = 0.5
_RANK: Final = {label: rank for rank, label in enumerate(LABELS)}
_SPAM: Final = _RANK["spam"]
_QUESTION: Final = _RANK["question"]
_ASCII_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_CACHE_ENTRIES: Final = 1 << 16


class LexiconError(ValueError):
    """A lexicon file or directory that cannot be used; the message names the file and line."""


class Verdict(msgspec.Struct, frozen=True, gc=False):
    """The prefilter's decision on one comment.

    `cues` are the entries (or "?", "pii:<kind>", "emoji") behind the winning label, first seen
    first; `strength` combines their weights (1 - Π(1 - w)), in [0, 1], for ranking within a
    window; `labels` lists every label that had a cue, in precedence order.
    """

    label: str
    cues: tuple[str, ...] = ()
    strength: float = 0.0
    labels: tuple[str, ...] = ()

    @property
    def moderated(self) -> bool:
        return self.label in MODERATED

    @property
    def windowed(self) -> bool:
        return self.label in WINDOWED


class _Entry(NamedTuple):
    key: str
    length: int
    latin_start: bool
    latin_end: bool
    neutral: bool
    cues: tuple[tuple[int, float], ...]  # (label rank, weight)


# ---------------------------------------------------------------------------------------------
# Lexicon files
# ---------------------------------------------------------------------------------------------


def read_lexicon(path: str | Path) -> list[tuple[str, float]]:
    """Read one lexicon file into (key, weight) pairs; raise `LexiconError` on a bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"cannot read lexicon {path}: {exc}") from exc
    entries = []
    for lineno, line in enumerate(lines, 1):
        # "#" and "|" can never be part of a key (keys are letters and digits), so they are free
        # to mark a comment and a weight.
        entry, _, weight_text = line.partition("#")[0].partition("|")
        if not entry.strip():
            continue
        key = normalize(entry).key
        if not key:
            raise LexiconError(
                f"{path}:{lineno}: entry {entry.strip()!r} has no letters or digits to match"
            )
        weight = 1.0
        if weight_text.strip():
            try:
                weight = float(weight_text)
            except ValueError:
                weight = math.nan
            if not 0.0 <= weight <= 1.0:
                raise LexiconError(
                    f"{path}:{lineno}: weight {weight_text.strip()!r} is not a number in [0, 1]"
                )
        entries.append((key, weight))
    return entries


def _label_of(path: Path) -> str:
    label = path.name.split(".", 1)[0]
    if label not in _RANK and label != NEUTRAL:
        raise LexiconError(
            f"lexicon file {path} names no label; expected <label>.txt with a label from "
            f"{LABELS + (NEUTRAL,)}"
        )
    return label


def _lexicon_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.txt") if not p.name.startswith("."))


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a lexicon file is edited, added or removed."""
    try:
        stats = [(p.name, p.stat()) for p in _lexicon_files(directory)]
    except OSError:
        return ()
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


# ---------------------------------------------------------------------------------------------
# The prefilter
# ---------------------------------------------------------------------------------------------


class Prefilter:
    """One Aho-Corasick automaton over every lexicon; immutable once built, safe to share."""

    def __init__(
        self, lexicons: Mapping[str, Iterable[str | tuple[str, float]]], *, source: str = ""
    ) -> None:
        """Build from `{label: entries}`; an entry is a string or an (entry, weight) pair."""
        cues: dict[str, list[tuple[int, float]]] = {}
        neutral: set[str] = set()
        counts = dict.fromkeys(LABELS, 0)
        for label, entries in lexicons.items():
            if label not in _RANK and label != NEUTRAL:
                raise LexiconError(
                    f"unknown label {label!r} in lexicons {source!r}; expected one of {LABELS + (NEUTRAL,)}"
                )
            for item in entries:
                text, weight = (item, 1.0) if isinstance(item, str) else item
                key = normalize(text).key
                if not key:
                    continue
                if label == NEUTRAL:
                    neutral.add(key)
                    continue
                cues.setdefault(key, []).append((_RANK[label], float(weight)))
                counts[label] += 1
        self.source = source
        self.counts: dict[str, int] = {**counts, NEUTRAL: len(neutral)}
        self._automaton: ahocorasick.Automaton | None = None
        if cues or neutral:
            automaton = ahocorasick.Automaton()
            for key in cues.keys() | neutral:
                entry = _Entry(
                    key,
                    len(key),
                    key[0] in _ASCII_LETTERS,
                    key[-1] in _ASCII_LETTERS,
                    key in neutral,
                    tuple(cues.get(key, ())),
                )
                automaton.add_word(key, entry)
            automaton.make_automaton()
            self._automaton = automaton
        # Per instance, so a rebuilt prefilter never answers from the old lexicons' cache.
        self._classify_key = lru_cache(maxsize=_CACHE_ENTRIES)(self._classify_uncached)

    @classmethod
    def from_dir(cls, directory: str | Path = LEXICON_DIR) -> Prefilter:
        """Build from the lexicon files in `directory`; raise `LexiconError` if one is bad."""
        directory = Path(directory)
        if not directory.is_dir():
            raise LexiconError(f"lexicon directory {directory} does not exist")
        files = _lexicon_files(directory)
        if not files:
            raise LexiconError(f"lexicon directory {directory} has no *.txt lexicon files")
        lexicons: dict[str, list[tuple[str, float]]] = {}
        for path in files:
            lexicons.setdefault(_label_of(path), []).extend(read_lexicon(path))
        return cls(lexicons, source=str(directory))

    def classify(self, norm: Normalized, pii: Sequence[str] = ()) -> Verdict:
        """Label one normalised comment; `pii` is `mask_pii(norm.text).kinds`."""
        kinds = pii if isinstance(pii, tuple) else tuple(pii)
        return self._classify_key(norm.key, "?" in norm.text, kinds, bool(norm.emoji))

    def check(self, raw: str) -> Verdict:
        """Normalise, mask and classify a raw comment in one call."""
        norm = normalize(raw)
        return self.classify(norm, mask_pii(norm.text).kinds)

    def _classify_uncached(
        self, key: str, question_mark: bool, pii: tuple[str, ...], emoji: bool
    ) -> Verdict:
        found = list(self._automaton.iter(key)) if key and self._automaton is not None else []
        if not found and not pii and not (question_mark and key):
            # Most comments end here: no cue at all.
            return _EMOJI_ONLY if emoji and not key else _NO_CUE
        by_rank: dict[int, dict[str, float]] = {}
        for rank, weight, cue in _cues(key, found):
            by_rank.setdefault(rank, {}).setdefault(cue, weight)
        for kind in pii:
            by_rank.setdefault(_SPAM, {})[f"pii:{kind}"] = 1.0
        if question_mark and key:
            by_rank.setdefault(_QUESTION, {}).setdefault("?", QUESTION_MARK_WEIGHT)
        if not by_rank:
            return _EMOJI_ONLY if emoji and not key else _NO_CUE
        best = min(by_rank)
        cues = by_rank[best]
        strength = 1.0 - math.prod(1.0 - w for w in cues.values())
        labels = tuple(LABELS[rank] for rank in sorted(by_rank))
        return Verdict(LABELS[best], tuple(cues), round(strength, 4), labels)


_NO_CUE: Final = Verdict("chatter")
_EMOJI_ONLY: Final = Verdict("chatter", ("emoji",))


def _cues(key: str, found: list[tuple[int, _Entry]]) -> list[tuple[int, float, str]]:
    """The (label rank, weight, entry) of each match that is a real cue in `key`."""
    kept = []
    neutral_spans = []
    for end, entry in found:
        start = end - entry.length + 1
        if entry.latin_start and start > 0 and key[start - 1] in _ASCII_LETTERS:
            continue
        if entry.latin_end and end + 1 < len(key) and key[end + 1] in _ASCII_LETTERS:
            continue
        if entry.neutral:
            neutral_spans.append((start, end))
        kept.append((start, end, entry))
    return [
        (rank, weight, entry.key)
        for start, end, entry in kept
        if not any(ns <= start and end <= ne for ns, ne in neutral_spans)
        for rank, weight in entry.cues
    ]


# ---------------------------------------------------------------------------------------------
# Reloading
# ---------------------------------------------------------------------------------------------


class PrefilterCache:
    """Holds the prefilter for one lexicon directory and rebuilds it when a file there changes.

    `get()` looks at the files' modification times at most every `check_every_s` seconds. A
    rebuild happens beside the live prefilter, which is swapped in only once complete, so a
    caller always gets a whole automaton. A lexicon that fails to load is logged and the last
    good prefilter stays in service until the file changes again.
    """

    def __init__(
        self,
        directory: str | Path = LEXICON_DIR,
        *,
        check_every_s: float = DEFAULT_CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.check_every_s = check_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._signature = _signature(self.directory)
        self._current = Prefilter.from_dir(self.directory)
        self._checked_at = clock()

    def get(self) -> Prefilter:
        """The current prefilter, rebuilt first if a lexicon file changed since the last look."""
        if self._clock() - self._checked_at >= self.check_every_s:
            self.reload()
        return self._current

    def reload(self) -> bool:
        """Look at the files now; rebuild if they changed. True when a new prefilter went live."""
        # One thread rebuilds; the others keep using the current prefilter meanwhile.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._checked_at = self._clock()
            signature = _signature(self.directory)
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                rebuilt = Prefilter.from_dir(self.directory)
            except LexiconError as exc:
                log.error(
                    "lexicon reload failed, keeping the previous prefilter: %s",
                    exc,
                    extra={"lexicon_dir": str(self.directory), "error": str(exc)},
                )
                return False
            self._current = rebuilt
            log.info(
                "lexicons reloaded from %s: %s",
                self.directory,
                rebuilt.counts,
                extra={"lexicon_dir": str(self.directory), "entries": rebuilt.counts},
            )
            return True
        finally:
            self._lock.release()


_caches: dict[Path, PrefilterCache] = {}
_caches_lock = threading.Lock()


def current_prefilter(
    directory: str | Path | None = None, *, check_every_s: float = DEFAULT_CHECK_EVERY_S
) -> Prefilter:
    """The process-wide prefilter for `directory` (the shipped lexicons by default).

    Built on first use, then reloaded when a lexicon file changes; `check_every_s` applies
    from the first call for a directory.
    """
    path = Path(directory).resolve() if directory is not None else LEXICON_DIR
    cache = _caches.get(path)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(path)
            if cache is None:
                cache = _caches[path] = PrefilterCache(path, check_every_s=check_every_s)
    return cache.get()
