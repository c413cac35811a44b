"""The project's character-level tokenizer, built from its own training text.

One token per character (Chinese has no spaces and comments are short, so characters are the
natural unit and the vocabulary stays a few thousand entries). Text is NFKC-normalised and
lower-cased. Traditional characters are folded to simplified ones before tokenizing by
`prepare` (one `str.translate` over OpenCC's character table, shipped inside the
`opencc-python-reimplemented` package): a C-speed pass, so "這個" and "这个" read the same.
(Aliasing traditional characters to simplified ids inside the WordLevel vocabulary does not
survive tokenizer.json serialisation, which keeps one token per id.)

Saved as a `tokenizers` tokenizer.json with the usual HuggingFace side files, so
`transformers.AutoTokenizer.from_pretrained(dir)` and sentence-transformers load it offline, and
a plain `vocab.txt` (id order) for people and tools that want one.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# A fixed reserve, present whatever the training text: ASCII, common CJK punctuation, the
# emoji viewers use most, and unused slots an operator's fine-tune may claim later.
RESERVE = (
    tuple(string.ascii_lowercase + string.digits + string.punctuation)
    + tuple("，。！？、；：“”‘’（）《》【】…—～·¥￥")
    + ("😂", "😭", "🤔", "👍", "❤", "🙏", "😍", "🥺", "😅", "🔥", "💯", "✨", "😄", "🌹", "😡", "👏", "💕", "🐶")
    + tuple(f"[unused{i}]" for i in range(50))
)
DEFAULT_MAX_LENGTH = 64


@functools.cache
def _t2s_table() -> dict[str, str]:
    """Traditional → simplified single characters from OpenCC's table (empty if unavailable)."""
    try:
        import opencc

        path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
        table: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                simp = parts[1].split(" ")[0]
                if len(simp) == 1 and simp != parts[0]:
                    table[parts[0]] = simp
        return table
    except (ImportError, OSError):
        return {}


@functools.cache
def _t2s_translation() -> dict[int, str]:
    return str.maketrans(_t2s_table())


def prepare(text: str) -> str:
    """Traditional → simplified, character by character; apply before the tokenizer."""
    return text.translate(_t2s_translation())


def clip_text(text: str, max_chars: int) -> str:
    """Head + tail of a long text (a review's verdict is often in its last sentence)."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return text[:head] + text[len(text) - (max_chars - head) :]


def normalise(text: str) -> str:
    """The tokenizer's normalisation (NFKC + lower case) plus `prepare`, for counting characters."""
    return prepare(unicodedata.normalize("NFKC", text).lower())


def build_vocab(texts: Iterable[str], *, max_size: int = 6000, min_freq: int = 2) -> list[str]:
    """Specials, the reserve, then the most frequent characters of `texts` (simplified)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(normalise(text))
    vocab = list(SPECIALS) + [t for t in RESERVE if t not in SPECIALS]
    seen = set(vocab)
    for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= max_size:
            break
        if n >= min_freq and ch not in seen and not ch.isspace():
            vocab.append(ch)
            seen.add(ch)
    return vocab


def make_tokenizer(vocab: list[str], *, max_length: int = DEFAULT_MAX_LENGTH) -> PreTrainedTokenizerFast:
    """A fast tokenizer over `vocab`: one token per character, [CLS] text [SEP]."""
    ids = {tok: i for i, tok in enumerate(vocab)}
    tok = Tokenizer(WordLevel(ids, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def build_tokenizer(
    texts: Iterable[str], out_dir: str | Path | None = None, *, max_size: int = 6000, min_freq: int = 2,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> PreTrainedTokenizerFast:
    """Build the vocabulary from `texts` and, with `out_dir`, save tokenizer.json + vocab.txt there."""
    vocab = build_vocab(texts, max_size=max_size, min_freq=min_freq)
    tokenizer = make_tokenizer(vocab, max_length=max_length)
    if out_dir is not None:
        save_tokenizer(tokenizer, vocab, out_dir)
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, vocab: list[str], out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")


def vocab_size(tokenizer: PreTrainedTokenizerFast) -> int:
    """Embedding rows needed: the largest id + 1."""
    return max(tokenizer.get_vocab().values()) + 1


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a saved tokenizer from a local folder; never touches the network."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
