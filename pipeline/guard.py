"""The output guard: every reply, generated or templated, is checked here before the room sees it.

    result = check_reply(text, facts, sensitive=prefilter, max_chars=persona.max_reply_chars)
    result.passed, result.violations   # e.g. False, ["price_mismatch:99", "absolute:最"]

A violation is "kind:detail". The kinds:

- `empty`, `no_chinese`: nothing to say, or not a Chinese reply.
- `too_long`: longer than the persona's cap (`too_long:95>80`).
- `sensitive`: a word of the prefilter's sensitive lexicon, matched on the normalised reply
  exactly as comments are matched. `solicit`: a spam-lexicon cue in the reply ("加个微信",
  "私聊"): a reply must never send viewers off the platform.
- `pii`: anything `mask_pii` finds (phone, WeChat, QQ, e-mail, link, ID number).
- `absolute`: advertising-law absolutes (广告法 art. 9): 最, 第一, 唯一, 国家级, 顶级, 极品,
  万能, 绝对, 永久, 100%, 百分百, 独家, 首选, 史上, NO.1 ... Decisions on "最" and "第一", which
  also begin ordinary words:
    * allowed: 最近, 最后, 最终, 最初, 最晚, 最迟 (time words, not claims about the product);
      最多 / 最少 / 最快 followed by a number or 今天/明天/后天 (a purchase limit or a
      delivery bound: "最多拍两件", "最快明天发"); every other 最 is rejected (最好, 最低,
      最新, 最多人买, 最快见效).
    * allowed: 第一 / 第1 as an ordinal before a classifier or 时间 (第一次, 第一件, 第一支,
      第一时间); rejected otherwise (第一名, 第一品牌, 销量第一, 全网第一).
    * 100% is always rejected, even "100%棉": write 纯棉.
- `price_mismatch` / `price_unreadable`: a number that reads as a price that is not the facts'
  list or promotion price (any price when the facts have no product). A number reads as a price
  when followed by 元/块/块钱/圆/rmb/人民币/大洋 ("99元", "9块9" = 9.9), preceded by ¥/￥/$/rmb,
  followed by 包邮 / 到手 / 入手 / 带走 / 的价格 / 一件 (a price per piece), or preceded by a
  price word (到手, 到手价, 只要, 只需, 仅需, 才, 券后, 售价, 原价, 日常价, 直播价, 活动价,
  专享价, 秒杀价, 一口价, 低至, 价格, 价, 直播间, 现在..., optionally with 是/在/不到...) and not followed by a
  unit (件, 支, ml, 天, %, 折...). Chinese numerals are read: 九十九, 一百四十九, 一九九 (digit by
  digit), 两百五, 九块九, 十九块九毛, 九点九. A lone Chinese numeral after a price word counts
  unless a word follows ("只要一下单" is not a price); "一块" without 钱 counts unless a noun
  follows ("送一块香皂"). Approximate prices ("一百多元", "十几块", "价格在99左右") are
  `price_unreadable`: never the catalogue's. Amounts off (减40元, 省50元, 50元券) are left to
  `promo_mismatch`. Not handled: a bare number with no price word or unit ("这款99"),
  "米" as slang for 元 (too often a height), currencies other than yuan and dollars.
- `promo_mismatch`: a number in a promotion shape (满N, 减N, 省N, 返N, 送N, 前N, N折) that the
  promotion text does not contain.
- `stock_claim`: availability ("有货", "还有", "现货", "库存充足", "马上发", "抓紧拍", ...) when
  the product is sold out or there is no product; plenty ("库存充足", "不缺货") when stock is
  low. A claim right after a negation (没/无/不/未/暂无/没有/不是) is not a claim: "暂无现货",
  "没有货了" pass.
- `stock_count`: "仅剩 N 件" and the like where N is not the facts' low-stock count.
- `crowd_claim`: "N位宝宝/人..." above the number of viewers who asked, or a vague crowd
  ("上万人", "几千位宝宝"). `sales_claim`: any sales figure ("已售10000件", "卖了上万单"):
  the facts hold none.

Numbers, absolutes and claims are read on a view of the reply with width folded (NFKC),
traditional characters simplified, case lowered and invisible characters removed, so
"１００％", "絕對" and "最\u200b好" are caught. The guard is pure and allocation-light: it runs on
every reply of every window.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Final

import opencc

from pipeline.text import mask_pii

if TYPE_CHECKING:
    from pipeline.facts import Facts
    from pipeline.prefilter import Prefilter

__all__ = ["GuardResult", "check_reply", "numbers_in", "read_number"]


@dataclass(frozen=True)
class GuardResult:
    passed: bool
    violations: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        """The distinct violation kinds, first seen first ("price_mismatch", "absolute")."""
        return list(dict.fromkeys(v.split(":", 1)[0] for v in self.violations))


def check_reply(
    text: str,
    facts: Facts,
    *,
    sensitive: Prefilter | None,
    max_chars: int | None = None,
) -> GuardResult:
    """Check one reply against `facts`; `sensitive` is the prefilter (None skips lexicon checks)."""
    violations: list[str] = []
    stripped = text.strip()
    if not stripped:
        return GuardResult(False, ["empty"])
    view = _view(stripped)
    if not _CJK.search(view):
        violations.append("no_chinese")
    if max_chars is not None and len(stripped) > max_chars:
        violations.append(f"too_long:{len(stripped)}>{max_chars}")
    if sensitive is not None:
        violations += _lexicon(stripped, sensitive)
    violations += [f"pii:{kind}" for kind in dict.fromkeys(mask_pii(stripped).kinds + mask_pii(view).kinds)]
    violations += [f"absolute:{word}" for word in _absolutes(view)]
    violations += _prices(view, facts)
    violations += _promo_numbers(view, facts)
    violations += _stock(view, facts)
    violations += _crowd(view, facts)
    return GuardResult(not violations, list(dict.fromkeys(violations)))


# ---------------------------------------------------------------------------------------------
# The view the checks read
# ---------------------------------------------------------------------------------------------

_T2S: Final = opencc.OpenCC("t2s")
_CJK: Final = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_INVISIBLE_CATEGORIES: Final = frozenset({"Cf", "Cc", "Mn", "Me"})


@lru_cache(maxsize=4096)
def _view(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in folded
        if ch in "\t\n\r" or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
    )
    return _T2S.convert(folded).lower()


# ---------------------------------------------------------------------------------------------
# Lexicons: sensitive words and off-platform soliciting
# ---------------------------------------------------------------------------------------------


def _lexicon(text: str, prefilter: Prefilter) -> list[str]:
    verdict = prefilter.check(text)
    if verdict.label == "sensitive":
        return [f"sensitive:{cue}" for cue in verdict.cues]
    if verdict.label == "spam":
        # PII cues are reported by the PII check itself.
        return [f"solicit:{cue}" for cue in verdict.cues if not cue.startswith("pii:")]
    return []


# ---------------------------------------------------------------------------------------------
# Advertising-law absolutes
# ---------------------------------------------------------------------------------------------

_CN_DIGITS: Final = "零〇一二两三四五六七八九幺"
_CN_NUMERALS: Final = _CN_DIGITS + "十百千万"
_NUMBER_START: Final = rf"(?:\d|[{_CN_NUMERALS}])"

_ABSOLUTE_WORDS: Final = (
    "唯一", "顶级", "顶尖", "极品", "极致", "国家级", "世界级", "全球级", "宇宙级", "万能",
    "绝对", "永久", "百分百", "百分之百", "百分之一百", "史上", "独家", "首个", "首选", "无敌", "王牌",
    "冠军", "遥遥领先", "根治", "特效", "零风险", "无副作用", "特供", "绝无仅有", "独一无二",
    "史无前例", "前所未有", "空前绝后",
)
_ABSOLUTE_RE: Final = re.compile(
    "|".join(re.escape(w) for w in sorted(_ABSOLUTE_WORDS, key=len, reverse=True))
    + r"|100\s*%|(?<![a-z])no\.?\s*1(?!\d)|(?<![a-z])top\s*1(?!\d)"
    # 最, except time words and a bound before a number or a day (see the module docstring)
    + r"|最(?!近|后|终|初|晚|迟)"
    + r"(?!(?:多|少)\s*(?:拍|买|购买|下单|可以拍|能拍|限购)?\s*" + _NUMBER_START + ")"
    + r"(?!快\s*(?:" + _NUMBER_START + r"|今天|明天|后天))"
    # 第一 / 第1, except as an ordinal before a classifier or 时间 (第10 is not 第1)
    + r"|第(?:一|1(?!\d))(?![十百千万]|次|件|支|瓶|套|单|批|天|步|时间|个|位|份|盒|款|页|排|号|轮|波|期)"
)


def _absolutes(view: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).replace(" ", "") for m in _ABSOLUTE_RE.finditer(view)))


# ---------------------------------------------------------------------------------------------
# Reading numbers: digits and Chinese numerals
# ---------------------------------------------------------------------------------------------

_DIGIT_VALUE: Final = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2, "幺": 1}
_UNIT_VALUE: Final = {"十": 10, "百": 100, "千": 1000}

# A number starts where no number of its own kind goes on to the left (so "1000" is never read
# as "000"), but a digit right after a Chinese numeral starts one ("统一99元").
_DIGITS_NUM: Final = r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_CN_NUM: Final = rf"(?<![{_CN_NUMERALS}])[{_CN_NUMERALS}](?:[{_CN_NUMERALS}]|点(?=[{_CN_DIGITS}]))*"
NUM: Final = rf"(?:{_DIGITS_NUM}|{_CN_NUM})"


def read_number(token: str) -> Decimal | None:
    """'149' → 149, '1,299.00' → 1299, '一百四十九' → 149, '一九九' → 199, '两百五' → 250,
    '三万五' → 35000, '九点九' → 9.9; None when it cannot be read."""
    token = token.strip().replace(",", "")
    if not token:
        return None
    if token[0].isdigit():
        try:
            return Decimal(token)
        except InvalidOperation:
            return None
    whole, _, frac = token.partition("点")
    value = _read_cn_integer(whole)
    if value is None:
        return None
    if frac:
        if any(c not in _DIGIT_VALUE for c in frac):
            return None
        return Decimal(f"{value}.{''.join(str(_DIGIT_VALUE[c]) for c in frac)}")
    return Decimal(value)


def _read_cn_integer(text: str) -> int | None:
    if not text:
        return None
    if all(c in _DIGIT_VALUE for c in text):
        return int("".join(str(_DIGIT_VALUE[c]) for c in text))  # digit by digit: 一九九 → 199
    if "万" in text:
        high, _, low = text.partition("万")
        high_value = _read_cn_integer(high) if high else 1
        if high_value is None:
            return None
        if not low:
            return high_value * 10_000
        if len(low) == 1 and low in _DIGIT_VALUE:
            return high_value * 10_000 + _DIGIT_VALUE[low] * 1000  # 三万五 = 35000
        low_value = _read_positional(low)
        return None if low_value is None else high_value * 10_000 + low_value
    return _read_positional(text)


def _read_positional(text: str) -> int | None:
    """十九 → 19, 一百零五 → 105, 一百四十九 → 149, 两百五 → 250, 一千二 → 1200."""
    total = 0
    digit: int | None = None
    last_unit = 10_000
    for ch in text:
        if ch in _DIGIT_VALUE:
            if digit not in (None, 0) and _DIGIT_VALUE[ch] != 0:
                return None  # two digits in a row inside a positional number
            digit = _DIGIT_VALUE[ch]
        elif ch in _UNIT_VALUE:
            unit = _UNIT_VALUE[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        # A digit right after 百 or 千 is one place lower (两百五 = 250); after 零 or 十, ones.
        total += digit * (last_unit // 10 if len(text) > 1 and text[-2] in "百千" else 1)
    return total


def numbers_in(text: str) -> list[Decimal]:
    """Every number written in `text` (digits or Chinese numerals), in order."""
    out = []
    for m in re.finditer(NUM, _view(text)):
        value = read_number(m.group(0))
        if value is not None:
            out.append(value)
    return out


# ---------------------------------------------------------------------------------------------
# Prices
# ---------------------------------------------------------------------------------------------

_JIAO: Final = rf"(?:\d|[{_CN_DIGITS}])"
_PARTICLES: Final = "了吧呀啊哦哈啦嘛呢噢喔哟哇就"
# A unit after a number makes it a quantity, a size or a share, not a price.
_UNIT_AFTER: Final = (
    r"件|个|支|瓶|套|单|份|盒|袋|包(?!邮)|片|条|双|张|罐|管|只|台|ml|毫升|g|克|kg|公斤|斤|l|升|cm|厘米|mm|"
    r"码|号|天|小时|分钟|秒|周|月|年|岁|位|人|名|%|折|倍|次|点|款|色|层|重|度|\+|-"
)
# Amounts off and coupons are checked against the promotion text instead (`promo_mismatch`).
_PROMO_BEFORE: Final = ("满", "减", "立减", "省", "返", "优惠", "便宜", "差价", "领", "送")
_MONEY_AFTER_RE: Final = re.compile(
    rf"(?P<n>{NUM})\s*(?P<approx>几|多|来|余)?\s*(?P<unit>块钱|块|元|圆|rmb|人民币|大洋|软妹币)(?!券|红包|优惠券)"
    rf"(?P<tail>\s*(?P<jiao>{_JIAO})\s*(?P<jiao_unit>毛钱|毛|角)?(?:\s*(?P<fen>{_JIAO})\s*分)?)?"
)
_MONEY_BEFORE_RE: Final = re.compile(rf"(?:¥|\$|rmb|人民币)\s*(?P<n>{NUM})")
_FREE_SHIPPING_RE: Final = re.compile(rf"(?P<n>{NUM})\s*(?:块|元)?\s*包邮")
# "两百五到手", "99入手", "99一瓶": a price word or a per-piece after the number
_PRICE_AFTER_RE: Final = re.compile(
    rf"(?P<n>{NUM})\s*(?:到手|入手|带走|拿下|秒杀|的?价(?:格|位|钱)?|一(?:件|瓶|支|套|盒|个|份|罐|双|条))"
)
_VAGUE_PRICE_RE: Final = re.compile(r"(?:十几|几十|几百|几千|上百|上千|小几百|百来|千把|几)\s*(?:块钱|块|元)")
_PRICE_WORDS: Final = (
    "到手价", "到手", "券后价", "券后", "折后价", "折后", "只要", "只需", "仅需", "仅要", "仅售", "只卖",
    "才要", "才", "售价", "原价", "日常价", "直播价", "直播间价", "直播间", "现在", "特价", "秒杀价", "活动价", "专享价",
    "福利价", "优惠价", "一口价", "低至", "价格", "价位", "价钱", "价", "卖", "拍下",
)
_PRICE_WORD_RE: Final = re.compile(
    "(?:" + "|".join(re.escape(w) for w in sorted(_PRICE_WORDS, key=len, reverse=True)) + r")"
    rf"\s*(?:是|为|在|只有|只要|也就|就|才|仅|只|不到|不超过|低于)?\s*:?\s*(?P<n>{NUM})(?P<approx>几|多|来|出头|左右)?(?!\s*(?:{_UNIT_AFTER}|\d))"
)


def _price_mentions(view: str) -> dict[int, tuple[str, Decimal | None]]:
    """{position of the number: (as written, value)} for every number that reads as a price.

    A value of None means unreadable or approximate ("十几块", "一百多元"). Money written with
    its unit (9块9) is read first; a number inside it (the 9 of 块9) is not read again.
    """
    found: dict[int, tuple[str, Decimal | None]] = {}
    covered: list[tuple[int, int]] = []
    for m in _MONEY_AFTER_RE.finditer(view):
        number, start = m.group("n"), m.start("n")
        if _after_any(view, start, _PROMO_BEFORE):
            continue
        lone_numeral = not number[0].isdigit() and len(number) == 1
        if lone_numeral and m.group("unit") == "块" and not m.group("tail"):
            # 一块 without 钱 is as often "one piece" (一块香皂) as one yuan; it is a price
            # after a price word or at the end of a phrase ("这个一块", "一块啦").
            after = view[m.end():m.end() + 1]
            if not _after_any(view, start, _PRICE_WORDS) and after and _CJK.match(after) and after not in _PARTICLES:
                continue
        value = None if m.group("approx") else read_number(number)
        jiao = _jiao(m, number)
        if value is not None and jiao is not None:
            value += jiao
            covered.append((m.start("tail"), m.end()))
        found[start] = (m.group(0).strip(), value)

    def add(start: int, written: str, value: Decimal | None) -> None:
        if start not in found and not any(a <= start < b for a, b in covered):
            found[start] = (written.strip(), value)

    for regex in (_MONEY_BEFORE_RE, _FREE_SHIPPING_RE, _PRICE_AFTER_RE):
        for m in regex.finditer(view):
            add(m.start("n"), m.group(0), read_number(m.group("n")))
    for m in _PRICE_WORD_RE.finditer(view):
        number, end = m.group("n"), m.end("n")
        if not number[0].isdigit() and len(number) == 1 and not m.group("approx"):
            if end < len(view) and _CJK.match(view, end) and view[end] not in _PARTICLES:
                continue  # 只要一下单, 才一会儿: a lone numeral inside a phrase
        add(m.start("n"), m.group(0), None if m.group("approx") else read_number(number))
    for m in _VAGUE_PRICE_RE.finditer(view):
        add(m.start(), m.group(0), None)
    return found


def _jiao(m: re.Match[str], number: str) -> Decimal | None:
    """The 毛 (and 分) after 块/元, when the text has them: 9块9 → 0.9, 十九块九毛 → 0.9."""
    jiao = m.group("jiao")
    if not jiao:
        return None
    following = m.string[m.end("jiao"):m.end("jiao") + 2].lstrip()
    if m.group("jiao_unit") is None:
        if re.match(rf"[\d{_CN_NUMERALS}]|{_UNIT_AFTER}", following):
            return None  # 99元3件, 149元两瓶: a quantity, not 毛
        if not jiao.isdigit() and number[0].isdigit():
            return None  # 149元一样: a Chinese digit after a written number is a word
    value = read_number(jiao)
    fen = read_number(m.group("fen")) if m.group("fen") else Decimal(0)
    if value is None or fen is None:
        return None
    return value / 10 + fen / 100


def _after_any(view: str, position: int, words: tuple[str, ...]) -> bool:
    before = view[max(0, position - 6):position].rstrip()
    return any(before.endswith(w) for w in words)


def _prices(view: str, facts: Facts) -> list[str]:
    allowed = facts.product.prices if facts.product is not None else frozenset()
    out = []
    for _, (written, value) in sorted(_price_mentions(view).items()):
        if value is None:
            out.append(f"price_unreadable:{written}")
        elif value not in allowed:
            out.append(f"price_mismatch:{_plain(value)}")
    return out


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# ---------------------------------------------------------------------------------------------
# Promotion numbers
# ---------------------------------------------------------------------------------------------

_PROMO_RE: Final = re.compile(
    rf"(?:满|立减|减|省|返|送|前|优惠|便宜|领)\s*(?P<n>{NUM})"
    rf"|(?P<m>{NUM})\s*(?:块|元)?\s*(?:折|券|优惠券|红包)"
)


def _promo_numbers(view: str, facts: Facts) -> list[str]:
    allowed = facts.promo_numbers
    out = []
    for m in _PROMO_RE.finditer(view):
        written = m.group("n") or m.group("m")
        if m.group("n") and not written[0].isdigit() and len(written) == 1 and _CJK.match(view, m.end()):
            continue  # 送一份小样, 领一张券: a lone numeral before a word is a count, not an amount
        value = read_number(written)
        if value is None or value not in allowed:
            out.append(f"promo_mismatch:{m.group(0).strip()}")
    return out


# ---------------------------------------------------------------------------------------------
# Stock claims and counts
# ---------------------------------------------------------------------------------------------

_AVAILABLE: Final = (
    "有货", "有库存", "还有", "现货", "库存充足", "货源充足", "货很多", "不缺货", "管够", "马上发",
    "现在拍", "抓紧拍", "赶紧拍", "快拍", "快去拍", "能拍", "可以拍", "可以下单", "随便拍",
    "手慢无", "在售", "还剩", "仅剩", "只剩", "就剩", "补到货", "去拍", "冲鸭", "库存有", "还能拍",
    "还能买", "还能抢", "能买", "可以买", "能抢到", "可以抢", "补货了", "到货了", "补上了",
)
# "有少量库存", "有一些货": availability with a few words between
_AVAILABLE_LOOSE_RE: Final = re.compile(r"有(?P<between>[^，。！？,.!?~～\s]{1,3}?)(?:库存|现货|货)")
_PLENTY: Final = ("库存充足", "货源充足", "货很多", "不缺货", "管够", "随便拍")
_NOT_A_CLAIM_AFTER: Final = {"在售": "后", "能拍": "照", "可以拍": "照", "去拍": "照"}
_NEGATIONS: Final = ("没有", "暂无", "不是", "并非", "没", "无", "不", "未", "别")
_AVAILABLE_RE: Final = re.compile("|".join(re.escape(w) for w in sorted(_AVAILABLE, key=len, reverse=True)))
_COUNT_RE: Final = re.compile(
    rf"(?:仅剩|只剩|还剩|就剩|剩下|剩余|最后|库存)\s*(?:了|只有|仅有|就)?\s*(?P<n>{NUM})\s*(?:件|个|支|瓶|套|单|份|盒|袋|双|条)"
)


def _negated(view: str, start: int) -> bool:
    """True when the word at `start` follows a negation that is not itself negated."""
    before = view[max(0, start - 2):start]
    for neg in _NEGATIONS:
        if before.endswith(neg):
            # 并不是没有货: two negations make a claim again.
            return not _negated(view, start - len(neg)) if start - len(neg) > 0 else True
    return False


def _stock(view: str, facts: Facts) -> list[str]:
    product = facts.product
    out = []
    available_claims = product is None or product.sold_out
    for m in _AVAILABLE_RE.finditer(view):
        word = m.group(0)
        if view[m.end():m.end() + 1] == _NOT_A_CLAIM_AFTER.get(word) or _negated(view, m.start()):
            continue
        if available_claims or (product.low and word in _PLENTY):
            out.append(f"stock_claim:{word}")
    if available_claims:
        for m in _AVAILABLE_LOOSE_RE.finditer(view):
            if not any(n in m.group("between") for n in ("没", "无", "不")) and not _negated(view, m.start()):
                out.append(f"stock_claim:{m.group(0)}")
    for m in _COUNT_RE.finditer(view):
        value = read_number(m.group("n"))
        if product is None or not product.low or value != product.stock_left:
            out.append(f"stock_count:{m.group(0)}")
    return out


# ---------------------------------------------------------------------------------------------
# Crowds and sales
# ---------------------------------------------------------------------------------------------

_PEOPLE: Final = r"宝宝|家人|姐妹|朋友|观众|粉丝|小伙伴|顾客|用户|人"
_CROWD_RE: Final = re.compile(
    rf"(?<!前)(?P<n>{NUM})\s*(?:多|余)?\s*(?:位|个|名)?\s*(?:{_PEOPLE})"
)
_VAGUE_CROWD_RE: Final = re.compile(rf"(?:上|近|几|数|成)(?:十|百|千|万)(?:万)?\s*(?:位|个|名)?\s*(?:{_PEOPLE})")
_SALES_RE: Final = re.compile(
    rf"(?:已售|已卖|卖了|卖出|售出|销量|成交|已抢|抢了|抢购了|回购)\s*(?:了|超|超过|破)?\s*(?:{NUM}|上|近|几|数)"
)


def _crowd(view: str, facts: Facts) -> list[str]:
    out = []
    for m in _CROWD_RE.finditer(view):
        number = m.group("n")
        if not number[0].isdigit() and len(number) == 1:
            continue  # 一个人用, 两位朋友: a lone numeral is a small phrase, not a crowd
        value = read_number(number)
        if value is None or value > facts.asked_by:
            out.append(f"crowd_claim:{m.group(0)}")
    out += [f"crowd_claim:{m.group(0)}" for m in _VAGUE_CROWD_RE.finditer(view)]
    out += [f"sales_claim:{m.group(0)}" for m in _SALES_RE.finditer(view)]
    return out
