"""Seeded live-shopping traffic: danmaku for many rooms, each comment with its ground truth.

No public corpus of live-commerce danmaku exists, so the project writes its own, from the room's
catalogue (`livebot/sample/catalog.yaml` by default) and phrase lists written here. What it
imitates, room by room:

- **Room sizes** follow Zipf's law: room k (0-based) gets a share ∝ 1 / (k + 1) ** zipf_s of
  the overall base `rate`, so a few rooms are huge and most are small.
- **Steady traffic** per room is a Poisson stream mixing questions, purchase signals, chatter,
  emoji, complaints and a little spam (`TrafficConfig.mix`). The host sells one product at a
  time (segments of `segment_s`); most questions are about the product on screen, some about
  another one of the room's catalogue, some about the whole order (shipping, coupons).
- **Price-reveal floods**: at each price reveal (a Poisson process per room) one question —
  the price, how to order, or the stock of the product on screen — is asked by hundreds of
  viewers within seconds, together with a wave of "拍了"; the flood peaks at `flood_peak` times
  the room's base rate and decays with `flood_decay_s`.
- **Chatter and emoji floods** ("666", "哈哈哈", "🎉🎉🎉"), **spam waves** (a few accounts
  posting contact details with evasions: "加 薇 信", "v❤x", "jia weixin", full-width digits),
  **complaints**, and **same-viewer repeats** (the same question sent again, often with more
  "？？？").
- **Colloquial variety**: each distinct question is asked many ways (多少钱 / 什么价 / 多少米 /
  价格多少 / 这个多钱 ...), with fillers, typos and homophones, emoji, repeated punctuation,
  spaces, full-width forms, mixed English and traditional characters.

`rate` is the overall long-run rate in comments per second, floods, waves and repeats included:
the steady rate of each room is its Zipf share of `rate` divided by the expected overhead of its
bursts (`TrafficConfig.burst_overhead`), so a flood is a spike above an ordinary level, as in a
real room. Over a short stream the count varies (floods are few and large). Every comment carries its ground truth: its `kind` and, for questions, a `question_id`
naming the distinct question ("SKU-SERUM-01:price" is the price of the serum, "any:ship_time"
is when the order ships), which is what a benchmark needs to score coverage and cluster purity.

The output is deterministic for a seed: each room draws from its own generator seeded by
(seed, room), and the merged stream is sorted by (event time, room, sequence). Event times start
at `start` (a fixed evening by default; pass `time.time()` to produce live traffic) and event
ids are `dm-<seed>-<n>` in stream order. `generate` is lazy, so a load generator can produce an
hour of traffic without holding it in memory.

    for comment in generate(rooms=50, rate=2000, duration_s=60, seed=7):
        producer.produce("live.danmaku", comment.to_json(), key=comment.danmaku.room_id)
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

import msgspec

from pipeline.catalogue import Catalogue, Product
from pipeline.contracts import Danmaku, Viewer

__all__ = [
    "DEFAULT_START",
    "KINDS",
    "Kind",
    "LabelledComment",
    "TrafficConfig",
    "generate",
    "room_ids",
    "room_rates",
]

Kind = Literal["question", "purchase", "chatter", "emoji", "complaint", "spam"]
KINDS: Final[tuple[Kind, ...]] = ("question", "purchase", "chatter", "emoji", "complaint", "spam")

DEFAULT_START: Final = 1_795_262_400.0
"""2026-11-21 20:00 China time, prime time for live shopping; a fixed default keeps a seed's
output identical from run to run."""

_ENCODER: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class LabelledComment:
    """One generated comment and what it really is."""

    danmaku: Danmaku
    """The event as the platform sends it; `ts` is epoch seconds (millisecond precision)."""
    kind: Kind
    question_id: str | None = None
    """The distinct question this comment asks (`"<sku>:<topic>"` or `"any:<topic>"`), or None
    when it asks none."""
    burst: str | None = None
    """The flood, chatter flood or spam wave this comment belongs to (`"<room>/flood/3"`), or
    None for steady traffic."""
    repeat: bool = False
    """The same viewer sending (nearly) the same comment again."""

    def to_json(self) -> bytes:
        """The `live.danmaku` record: JSON with `ts` in epoch milliseconds, as on the wire."""
        return _ENCODER.encode(msgspec.structs.replace(self.danmaku, ts=round(float(self.danmaku.ts) * 1000)))


@dataclass(frozen=True)
class TrafficConfig:
    """The shape of the traffic; the defaults imitate an evening of busy live-shopping rooms."""

    zipf_s: float = 1.1
    """Zipf exponent of room sizes: room k gets a share ∝ 1 / (k + 1) ** zipf_s."""
    mix: Mapping[Kind, float] = field(default_factory=lambda: {
        "question": 0.32, "purchase": 0.14, "chatter": 0.40, "emoji": 0.08, "complaint": 0.04, "spam": 0.02,
    })
    """Kinds of the steady traffic (normalised to sum to 1)."""
    other_product_share: float = 0.15
    """Product questions about a product of the room other than the one on screen."""
    segment_s: tuple[float, float] = (90.0, 240.0)
    """How long the host presents one product, uniform in this range."""
    viewers_per_rate: float = 90.0
    """Size of a room's audience per comment/s of its base rate (at least `min_viewers`)."""
    min_viewers: int = 40
    price_reveal_every_s: float = 45.0
    """Mean time between two price reveals in a room; each one sets off a flood. 0 = none."""
    flood_peak: float = 8.0
    """A flood starts at this many times the room's base rate ..."""
    flood_decay_s: float = 3.0
    """... and decays exponentially with this time constant (most of it is over in 3x)."""
    flood_question_share: float = 0.65
    """Share of a flood asking its one question; most of the rest says it bought ("拍了")."""
    chatter_flood_every_s: float = 60.0
    """Mean time between chatter / emoji floods in a room. 0 = none."""
    chatter_flood_peak: float = 4.0
    chatter_flood_s: tuple[float, float] = (4.0, 10.0)
    spam_wave_every_s: float = 90.0
    """Mean time between spam waves in a room of `spam_wave_room_rate` comments/s; spammers go
    where the audience is, so a room twice that size sees them twice as often. 0 = none."""
    spam_wave_room_rate: float = 20.0
    spam_wave_s: tuple[float, float] = (15.0, 40.0)
    spammers: tuple[int, int] = (1, 3)
    spam_interval_s: tuple[float, float] = (1.0, 4.0)
    """Each spam account posts again after a pause uniform in this range."""
    repeat_share: float = 0.08
    """Questions (and chatter, at 1.5x this) that the same viewer sends again, 1-3 times."""
    repeat_gap_s: tuple[float, float] = (0.5, 8.0)
    typo_share: float = 0.12
    traditional_share: float = 0.05
    english_share: float = 0.06
    spaces_share: float = 0.05
    fullwidth_share: float = 0.05
    punctuation_share: float = 0.35
    emoji_share: float = 0.15
    platforms: tuple[str, ...] = ("douyin", "kuaishou", "taobao")

    def burst_overhead(self) -> float:
        """Expected comments per steady comment, floods, waves and repeats included (>= 1)."""
        mix = {k: w / sum(self.mix.values()) for k, w in self.mix.items()}

        def mean(bounds: tuple[float, float] | tuple[int, int]) -> float:
            return (bounds[0] + bounds[1]) / 2

        def repeats(question: float, chatter: float) -> float:  # 1-3 repeats, 2 on average
            return 2.0 * self.repeat_share * (question + 1.5 * chatter)

        flood_question = self.flood_question_share
        flood_chatter = (1 - flood_question) * 0.35
        overhead = 1.0 + repeats(mix.get("question", 0.0), mix.get("chatter", 0.0) + mix.get("emoji", 0.0))
        if self.price_reveal_every_s > 0:
            overhead += (self.flood_peak * self.flood_decay_s / self.price_reveal_every_s
                         * (1.0 + repeats(flood_question, flood_chatter)))
        if self.chatter_flood_every_s > 0:
            overhead += self.chatter_flood_peak * mean(self.chatter_flood_s) / self.chatter_flood_every_s
        if self.spam_wave_every_s > 0:
            posts = mean(self.spammers) * mean(self.spam_wave_s) / mean(self.spam_interval_s)
            overhead += posts / (self.spam_wave_every_s * self.spam_wave_room_rate)
        return overhead

    def __post_init__(self) -> None:
        if self.zipf_s < 0:
            raise ValueError(f"zipf_s must be >= 0, got {self.zipf_s}")
        unknown = set(self.mix) - set(KINDS)
        if unknown or not self.mix or any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError(f"mix must give non-negative weights to kinds from {KINDS}, got {dict(self.mix)}")
        for name in ("segment_s", "chatter_flood_s", "spam_wave_s", "spam_interval_s", "repeat_gap_s"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range 0 < low <= high, got {(lo, hi)}")


# ---------------------------------------------------------------------------------------------
# Phrases (written by the project)
# ---------------------------------------------------------------------------------------------

# Product questions: topic → (weight, templates). "{p}" is where a product reference goes (it
# may be empty when the product is the one on screen: "多少钱"); "{c}" a colour, "{s}" a size.
_PRICE = ("{p}多少钱", "{p}什么价", "{p}多少米", "{p}价格多少", "{p}多钱", "{p}几块钱", "{p}到手多少",
          "{p}现在什么价格", "{p}啥价", "{p}怎么卖", "{p}价格", "多少钱{p}", "{p}多少钱一个", "{p}今天多少钱",
          "{p}直播间什么价", "{p}价格是多少", "{p}到手价多少", "{p}多少钱啊")
_PRODUCT_TOPICS: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "price": (0.30, _PRICE),
    "stock": (0.12, ("{p}还有货吗", "{p}还有吗", "{p}有货没", "{p}没货了吗", "{p}还能拍吗", "{p}补货吗",
                     "{p}卖完了吗", "{p}还有库存吗", "{p}有现货吗", "{p}还有没有")),
    "howto": (0.12, ("{p}几号链接", "{p}链接在哪", "{p}在哪拍", "{p}怎么拍", "{p}怎么买", "{p}哪个链接",
                     "{p}链接呢", "{p}怎么下单", "{p}在哪里买", "{p}链接在哪里")),
    "promo": (0.06, ("{p}有优惠吗", "{p}有券吗", "{p}送什么", "{p}有赠品吗", "{p}有什么活动", "{p}能便宜点吗")),
}
_SKINCARE_TOPICS: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "sensitive_skin": (0.08, ("敏感肌能用{p}吗", "{p}敏感肌能用吗", "敏感肌可以用吗", "敏皮能用吗", "{p}敏感肌适合吗",
                              "敏感肌能不能用")),
    "oily_skin": (0.05, ("油皮能用吗", "{p}油皮能用吗", "油皮适合{p}吗", "大油皮可以用吗", "油皮用{p}会油吗")),
    "dry_skin": (0.04, ("干皮能用吗", "{p}干皮适合吗", "大干皮可以用吗", "干皮用{p}够滋润吗")),
    "usage": (0.04, ("{p}怎么用", "{p}用法是什么", "{p}早晚都能用吗", "{p}什么时候用")),
    "pregnancy": (0.02, ("孕妇能用{p}吗", "孕妇可以用吗", "孕期能用{p}吗")),
}
_VOLUME_TOPICS: Final = {"volume": (0.04, ("{p}多少毫升", "{p}容量多大", "{p}多大容量", "{p}容量是多少", "{p}多少ml"))}
_COLOUR_TOPICS: Final = {
    "colours": (0.06, ("{p}有什么颜色", "{p}有几个色号", "{p}色号有哪些", "{p}有哪些颜色", "{p}几个颜色")),
    "colour_stock": (0.06, ("{c}还有吗", "{c}有货吗", "{p}{c}还有吗", "{c}还有没有", "{p}{c}有货吗")),
}
_MAKEUP_TOPICS: Final = {
    "yellow_skin": (0.05, ("黄皮适合哪个色", "黄皮能用{p}吗", "黄黑皮选哪个色号", "黄皮用哪个色号好")),
    "dry_lips": (0.03, ("{p}拔干吗", "{p}会不会干", "{p}干不干")),
}
_SIZE_TOPICS: Final = {
    "size_advice": (0.08, ("160穿什么码", "我165 110斤穿什么码", "{p}尺码怎么选", "{p}偏大还是偏小", "身高170穿多大",
                           "{p}码数正吗", "一米六穿什么码")),
    "has_size": (0.05, ("{p}有{s}吗", "有{s}码吗", "{s}码还有吗", "{p}{s}还有吗")),
    "pilling": (0.03, ("{p}会起球吗", "{p}起不起球", "{p}洗了会不会起球")),
    "material": (0.04, ("{p}什么材质", "{p}是纯棉吗", "{p}面料怎么样", "{p}什么面料")),
}
_CONTENTS_TOPICS: Final = {
    "contents": (0.06, ("{p}里面有什么", "{p}包含哪些", "{p}有几件", "{p}都有啥")),
    "gifting": (0.03, ("{p}送礼合适吗", "{p}有手提袋吗", "{p}送人可以吗")),
}
# Questions about the order rather than a product: question_id "any:<topic>".
_ROOM_TOPICS: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "free_shipping": (0.05, ("包邮吗", "包不包邮", "邮费多少", "偏远地区包邮吗", "新疆包邮吗")),
    "ship_time": (0.05, ("什么时候发货", "几天发货", "多久能到", "啥时候发货呀", "今天拍明天能发吗")),
    "courier": (0.02, ("发什么快递", "能发顺丰吗", "什么快递")),
    "returns": (0.02, ("能退换吗", "支持七天无理由吗", "不合适能退吗", "有运费险吗")),
    "authentic": (0.02, ("是正品吗", "正品吗", "保真吗", "是不是正品")),
    "coupon": (0.03, ("怎么领券", "券在哪领", "优惠券在哪", "怎么用券")),
}
_FLOOD_TOPICS: Final = (("price", 0.5), ("howto", 0.25), ("stock", 0.25))

_PREFIXES: Final = (("", 60), ("主播", 10), ("请问", 8), ("问下", 6), ("想问一下", 4), ("主播主播", 3),
                    ("姐妹们", 3), ("宝宝", 3), ("主播你好", 3))
_SUFFIXES: Final = (("", 60), ("呀", 8), ("啊", 8), ("呢", 6), ("哈", 4), ("鸭", 3), ("捏", 3), ("啊啊啊", 2))
_PUNCTUATION: Final = ("?", "？", "？？？", "??", "???", "！！", "!", "~", "。。。", "？！", "？？？？？？")
_EMOJI: Final = ("😂", "🤔", "❤️", "👍", "🙏", "😭", "🔥", "💰", "😍", "🥺", "👀", "🎉")
_TYPOS: Final = (("多少钱", "多少前"), ("钱", "钳"), ("多少", "多小"), ("吗", "嘛"), ("吗", "麻"), ("货", "获"),
                 ("链接", "连接"), ("什么", "神马"), ("什么", "什莫"), ("怎么", "咋"), ("怎么", "怎莫"),
                 ("还有", "还又"), ("发货", "法货"), ("包邮", "包油"), ("颜色", "言色"), ("尺码", "尺马"),
                 ("适合", "试合"), ("敏感", "敏敢"), ("优惠", "优会"), ("能用", "能拥"), ("多钱", "多前"),
                 ("价格", "价个"), ("容量", "溶量"), ("起球", "起求"))
_ENGLISH: Final = (("多少钱", "how much"), ("多少钱", "多少money"), ("价格", "price"), ("链接", "link"),
                   ("尺码", "size"), ("有货", "有stock"), ("颜色", "color"), ("什么码", "什么size"),
                   ("包邮", "free shipping"), ("还有", "还有stock"), ("能用", "能use"))
_ENGLISH_TAILS: Final = (" pls", " plz", " thx", " ok?", " asap")

_PURCHASES: Final = ("拍了", "已拍", "拍了拍了", "已下单", "下单了", "买了买了", "冲冲冲", "冲", "已拍两件", "拍了{n}号",
                     "{a}拍了", "想要", "要了要了", "抢到了", "没抢到", "蹲一个", "已入手", "拿下", "已拍+1", "付款了")
_CHATTER: Final = ("666", "6666666", "哈哈哈哈", "哈哈哈哈哈哈", "来了来了", "主播好美", "主播好", "打卡", "好看", "好好看",
                   "主播今天好漂亮", "前排", "晚上好", "爱了爱了", "yyds", "绝了", "支持主播", "刚来", "这是什么情况",
                   "主播辛苦了", "可爱", "啊啊啊啊啊", "1", "1111", "扣1", "笑死", "主播声音好好听", "又来了", "路过",
                   "这个颜色好看", "姐妹们冲")
_CHATTER_FLOODS: Final = (
    ("666", "6666666", "666666", "6666", "66666666666", "666主播", "６６６"),
    ("哈哈哈哈", "哈哈哈哈哈哈哈", "hhhh", "哈哈哈", "笑死", "哈哈哈哈哈哈哈哈哈哈"),
    ("来了来了", "来了", "我来了", "来啦", "来了来了来了"),
    ("1", "1111", "11111111", "扣1", "111"),
    ("🎉🎉🎉", "🎉🎉", "👏👏👏", "🔥🔥🔥", "❤️❤️❤️", "🎉🎉🎉🎉🎉🎉"),
)
_EMOJI_COMMENTS: Final = ("🎉🎉🎉", "👍👍👍", "❤️❤️❤️", "🔥🔥🔥", "😍😍", "👏👏👏👏", "🎉", "💗💗💗", "😂😂😂", "🌹🌹")
_COMPLAINTS: Final = ("上次买的还没发货", "客服不回消息", "收到的有破损", "说好的赠品没收到", "一直不发货 骗子吧", "质量太差了",
                      "退款一直不处理", "买了五天还没到", "发错颜色了", "用了过敏了", "怎么又涨价了 坑人",
                      "上次的卫衣起球了", "物流太慢了", "假货吧这是", "直播间价格比店铺还贵 虚假宣传", "客服不理人",
                      "拍了三天了还不发货", "少发了一件")
_SPAM: Final = ("加 薇 信 {wx} 领福利", "v❤x：{wx}", "jia weixin {wx} 看主页", "加V {wx} 有惊喜", "➕v {wx} 低价",
                "私聊我 低价出货", "兼职刷单 日赚五百 加vx {wx}", "威信 {wx} 内部价", "q群 {qq} 福利多多", "扣扣 {qq}",
                "看我主页有惊喜", "同款低价 加我 {phone}", "v x {wx}", "薇❤ {wx}", "加微 {wx} 返现",
                "关注我领红包 {url}", "免费领取 {url}", "代购 正品低价 v {wx}", "wei xin {wx}", "➕ 微 {wx}",
                "需要的私我 {phone}", "Ｖ：{wx}")
_CN_DIGITS: Final = "零一二三四五六七八九"


# ---------------------------------------------------------------------------------------------
# Rooms
# ---------------------------------------------------------------------------------------------


def room_rates(rooms: int, rate: float, zipf_s: float = TrafficConfig.zipf_s) -> list[float]:
    """Long-run comments/s of each room (bursts included): Zipf shares of `rate`, largest first."""
    if rooms < 1:
        raise ValueError(f"rooms must be >= 1, got {rooms}")
    if rate <= 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be a positive number of comments/s, got {rate}")
    weights = [1.0 / (k + 1) ** zipf_s for k in range(rooms)]
    total = sum(weights)
    return [rate * w / total for w in weights]


def room_ids(rooms: int) -> list[str]:
    """The room ids `generate` uses, largest room first."""
    width = max(4, len(str(rooms - 1)))
    return [f"room-{k:0{width}d}" for k in range(rooms)]


@dataclass(frozen=True, slots=True)
class _Pending:
    ts: float
    user: int  # viewer index; negative for spam accounts
    text: str
    kind: Kind
    question_id: str | None
    burst: str | None
    repeat: bool


class _Room:
    """One room: its audience, its product segments, its scheduled floods and waves."""

    def __init__(self, index: int, room_id: str, base_rate: float, products: Sequence[Product], seed: int,
                 duration_s: float, config: TrafficConfig) -> None:
        self.index = index
        self.room_id = room_id
        self.base_rate = base_rate
        self.config = config
        self.duration_s = duration_s
        self.rng = random.Random(f"livebot.traffic:{seed}:{room_id}")
        self.seed = seed
        rng = self.rng
        self.platform = rng.choice(config.platforms)
        self.n_viewers = max(config.min_viewers, round(base_rate * config.viewers_per_rate))
        self.products = list(products)
        self.numbers = {p.sku: _link_number(p, i) for i, p in enumerate(products)}
        order = rng.sample(self.products, len(self.products))
        self.segments: list[tuple[float, Product]] = []
        t = 0.0
        while t < duration_s or not self.segments:
            self.segments.append((t, order[len(self.segments) % len(order)]))
            t += rng.uniform(*config.segment_s)
        # Scheduled events: (time, kind, number). Materialised when the stream reaches them.
        self.events: list[tuple[float, str, int]] = []
        spam_every = config.spam_wave_every_s * config.spam_wave_room_rate / base_rate if base_rate > 0 else 0.0
        for kind, every in (("flood", config.price_reveal_every_s), ("chatter", config.chatter_flood_every_s),
                            ("spam", spam_every)):
            if every <= 0:
                continue
            # The first flood comes early (the host reveals a price soon after going live);
            # spam waves are a plain Poisson process.
            t = rng.expovariate(1.0 / every) if kind == "spam" else rng.uniform(1.0, min(every, max(duration_s / 3, 2.0)))
            n = 0
            while t < duration_s:
                self.events.append((t, kind, n))
                n += 1
                t += rng.expovariate(1.0 / every)
        self.events.sort()
        self.viewers: dict[int, Viewer] = {}
        self.topics = {p.sku: _topics_for(p) for p in products}
        kinds = [k for k in KINDS if config.mix.get(k, 0) > 0]
        self.kinds = kinds
        self.kind_weights = _cumulative([config.mix[k] for k in kinds])

    # -- who and what ------------------------------------------------------------------------
    def product_at(self, t: float) -> Product:
        current = self.segments[0][1]
        for start, product in self.segments:
            if start > t:
                break
            current = product
        return current

    def viewer(self, user: int) -> Viewer | None:
        if user < 0:  # a spam account: new, level 0, never a member
            return Viewer(level=0, is_member=False, new_viewer=True, spend_tier="none")
        viewer = self.viewers.get(user)
        if viewer is None:
            # Derived from a hash, not the room's generator, so a profile does not depend on
            # when the viewer first speaks.
            h = hashlib.blake2b(f"{self.seed}:{self.room_id}:{user}".encode(), digest_size=8).digest()
            level = min(60, int(-8.0 * math.log(1.0 - h[0] / 256.0)))
            tier = ("none", "none", "none", "low", "low", "low", "mid", "mid", "high", "vip")[h[2] % 10]
            viewer = Viewer(level=level, is_member=h[1] < 38, new_viewer=h[3] < 31, spend_tier=tier)
            self.viewers[user] = viewer
        return viewer

    def regular(self) -> int:
        """A viewer, the talkative ones more often (a few viewers write most of the comments)."""
        return int(self.n_viewers * self.rng.random() ** 2)

    def anyone(self) -> int:
        return self.rng.randrange(self.n_viewers)

    # -- comments ----------------------------------------------------------------------------
    def steady(self, second: int) -> list[_Pending]:
        rng = self.rng
        out = []
        for _ in range(_poisson(rng, self.base_rate)):
            t = second + rng.random()
            kind = self.kinds[_pick(rng, self.kind_weights)]
            out.extend(self.comment(kind, t, self.regular(), None))
        return out

    def comment(self, kind: Kind, t: float, user: int, burst: str | None,
                question: tuple[Product, str] | None = None) -> list[_Pending]:
        """One comment of `kind` at `t`, plus the same viewer's repeats of it, if any."""
        rng = self.rng
        question_id = None
        if kind == "question":
            text, question_id = self.question(t, question)
        elif kind == "purchase":
            text = self.purchase(t)
        elif kind == "chatter":
            text = rng.choice(_CHATTER)
        elif kind == "emoji":
            text = rng.choice(_EMOJI_COMMENTS)
        elif kind == "complaint":
            text = _decorate(rng, rng.choice(_COMPLAINTS), self.config, punctuation="！！")
        else:
            text = _spam(rng)
            user = -1 - rng.randrange(1000) if user >= 0 else user
        first = _Pending(t, user, text, kind, question_id, burst, False)
        out = [first]
        share = self.config.repeat_share * (1.5 if kind in ("chatter", "emoji") else 1.0 if kind == "question" else 0.0)
        if share and rng.random() < share:
            again = t
            for _ in range(rng.randint(1, 3)):
                again += rng.uniform(*self.config.repeat_gap_s)
                if again >= self.duration_s:
                    break
                roll = rng.random()
                repeated = text if roll < 0.6 else text + rng.choice(("？？？", "??", "！！", "?")) if roll < 0.85 \
                    else rng.choice(("回答一下", "主播看看我", "主播")) + text
                out.append(_Pending(again, user, repeated, kind, question_id, burst, True))
        return out

    def question(self, t: float, fixed: tuple[Product, str] | None) -> tuple[str, str]:
        rng = self.rng
        on_screen = self.product_at(t)
        if fixed is not None:
            product, topic = fixed
            templates = self.topics[product.sku][topic][1]
        elif rng.random() < _ROOM_TOPIC_SHARE:
            topic, (_, templates) = _weighted_item(rng, _ROOM_TOPICS)
            return _decorate(rng, _fill(rng, rng.choice(templates), ""), self.config), f"any:{topic}"
        else:
            product = on_screen
            if len(self.products) > 1 and rng.random() < self.config.other_product_share:
                product = rng.choice([p for p in self.products if p.sku != on_screen.sku])
            topic, (_, templates) = _weighted_item(rng, self.topics[product.sku])
        template = rng.choice(templates)
        question_id = f"{product.sku}:{topic}"
        colour = size = ""
        if "{c}" in template:
            colour = rng.choice(_attribute_list(product, "colours"))
            question_id += f":{colour}"
        if "{s}" in template:
            size = rng.choice(_attribute_list(product, "sizes"))
            question_id += f":{size}"
        reference = self.reference(product, product.sku == on_screen.sku, template)
        text = _fill(rng, template, reference, colour=colour, size=size)
        return _decorate(rng, text, self.config), question_id

    def reference(self, product: Product, on_screen: bool, template: str) -> str:
        """How a viewer names `product`: not at all when it is on screen, else by name or number."""
        rng = self.rng
        if "{p}" not in template:
            return ""
        roll = rng.random()
        if on_screen and roll < 0.45:
            return ""
        if on_screen and roll < 0.6:
            return rng.choice(("这个", "这款", "这个", "主播手上这个", "这个"))
        number = self.numbers[product.sku]
        names = [a for a in product.aliases if "链接" not in a] or [product.name]
        roll = rng.random()
        if roll < 0.55:
            return rng.choice(names)
        if roll < 0.7:
            return product.name
        return rng.choice((f"{number}号", f"{number}号链接", f"{number}号的", f"{number}号链接的"))

    def purchase(self, t: float) -> str:
        rng = self.rng
        product = self.product_at(t)
        names = [a for a in product.aliases if "链接" not in a] or [product.name]
        text = rng.choice(_PURCHASES).format(n=self.numbers[product.sku], a=rng.choice(names))
        if rng.random() < 0.2:
            text += rng.choice(("!", "！！", "～", "🎉", "❤️"))
        return text

    def materialise(self, event: tuple[float, str, int]) -> list[_Pending]:
        """All comments of one scheduled flood or wave."""
        t0, what, n = event
        rng = self.rng
        config = self.config
        burst = f"{self.room_id}/{what}/{n}"
        out: list[_Pending] = []
        if what == "flood":
            # The host reveals the price; viewers who missed it, and those ready to buy, pile in.
            product = self.product_at(t0)
            topic = _FLOOD_TOPICS[_pick(rng, _cumulative([w for _, w in _FLOOD_TOPICS]))][0]
            expected = config.flood_peak * self.base_rate * config.flood_decay_s
            for _ in range(_poisson(rng, expected)):
                t = t0 + rng.expovariate(1.0 / config.flood_decay_s)
                if t >= self.duration_s:
                    continue
                roll = rng.random()
                if roll < config.flood_question_share:
                    out.extend(self.comment("question", t, self.anyone(), burst, (product, topic)))
                elif roll < config.flood_question_share + (1 - config.flood_question_share) * 0.65:
                    out.extend(self.comment("purchase", t, self.anyone(), burst))
                else:
                    out.extend(self.comment("chatter" if rng.random() < 0.6 else "emoji", t, self.anyone(), burst))
        elif what == "chatter":
            family = rng.choice(_CHATTER_FLOODS)
            length = rng.uniform(*config.chatter_flood_s)
            for _ in range(_poisson(rng, config.chatter_flood_peak * self.base_rate * length)):
                t = t0 + rng.random() * length
                if t >= self.duration_s:
                    continue
                text = rng.choice(family)
                kind: Kind = "emoji" if not any(ch.isalnum() for ch in text) else "chatter"
                out.append(_Pending(t, self.anyone(), text, kind, None, burst, False))
        else:
            length = rng.uniform(*config.spam_wave_s)
            for account in range(rng.randint(*config.spammers)):
                user = -1 - (n * 10 + account)
                t = t0 + rng.uniform(0.0, 2.0)
                while t < min(t0 + length, self.duration_s):
                    out.extend(self.comment("spam", t, user, burst))
                    t += rng.uniform(*config.spam_interval_s)
        return out


_ROOM_TOPIC_SHARE: Final = 0.19  # questions about the order (shipping, coupons) rather than a product


def _topics_for(product: Product) -> dict[str, tuple[float, tuple[str, ...]]]:
    topics = dict(_PRODUCT_TOPICS)
    attributes = product.attributes or {}
    if product.category == "skincare" and "contents" not in attributes:
        topics.update(_SKINCARE_TOPICS)
    if "volume" in attributes:
        topics.update(_VOLUME_TOPICS)
    if product.category == "makeup":
        topics.update(_MAKEUP_TOPICS)
    if "colours" in attributes:
        topics.update(_COLOUR_TOPICS)
    if "sizes" in attributes:
        topics.update(_SIZE_TOPICS)
    if "contents" in attributes:
        topics.update(_CONTENTS_TOPICS)
    return topics


def _attribute_list(product: Product, name: str) -> list[str]:
    value = (product.attributes or {}).get(name) or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _link_number(product: Product, index: int) -> int:
    for alias in product.aliases:
        digits = alias.removesuffix("号链接")
        if digits != alias and digits.isdigit():
            return int(digits)
    return index + 1


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def _fill(rng: random.Random, template: str, reference: str, *, colour: str = "", size: str = "") -> str:
    text = template.format(p=reference, c=colour, s=size)
    prefix = _weighted_choice(rng, _PREFIXES)
    suffix = _weighted_choice(rng, _SUFFIXES)
    return prefix + text + suffix


def _decorate(rng: random.Random, text: str, config: TrafficConfig, punctuation: str = "") -> str:
    """How people really type: typos, traditional characters, English, spaces, width, emoji."""
    if rng.random() < config.typo_share:
        candidates = [(a, b) for a, b in _TYPOS if a in text]
        if candidates:
            a, b = rng.choice(candidates)
            text = text.replace(a, b, 1)
    if rng.random() < config.english_share:
        candidates = [(a, b) for a, b in _ENGLISH if a in text]
        if candidates:
            a, b = rng.choice(candidates)
            text = text.replace(a, b, 1)
        else:
            text += rng.choice(_ENGLISH_TAILS)
    if rng.random() < config.traditional_share:
        text = _traditional(text)
    if rng.random() < config.spaces_share and len(text) > 2:
        chars = list(text)
        for i in sorted(rng.sample(range(1, len(chars)), k=min(len(chars) - 1, rng.randint(1, 3))), reverse=True):
            chars.insert(i, " ")
        text = "".join(chars)
    if rng.random() < config.punctuation_share:
        text += punctuation or rng.choice(_PUNCTUATION)
    if rng.random() < config.fullwidth_share:
        text = text.translate(_FULLWIDTH)
    if rng.random() < config.emoji_share:
        emoji = "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 3)))
        text = emoji + text if rng.random() < 0.25 else text + emoji
    return text


_FULLWIDTH: Final = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)} | {0x20: 0x3000}


@lru_cache(maxsize=4096)
def _traditional(text: str) -> str:
    return _opencc_s2t().convert(text)


@lru_cache(maxsize=1)
def _opencc_s2t():  # type: ignore[no-untyped-def]
    import opencc  # the normaliser's dependency; loaded only when a traditional comment is made

    return opencc.OpenCC("s2t")


def _spam(rng: random.Random) -> str:
    letters = "abcdefghijkmnpqrstuvwxyz"
    wx = rng.choice(letters) + "".join(rng.choice(letters + "0123456789_") for _ in range(rng.randint(5, 9)))
    qq = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(5, 9)))
    digits = "1" + str(rng.randint(3, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
    style = rng.random()
    if style < 0.25:
        phone = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    elif style < 0.45:
        phone = digits.translate(_FULLWIDTH)
    elif style < 0.55:
        phone = "".join(_CN_DIGITS[int(d)] for d in digits)
    else:
        phone = digits
    domain = "".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
    url = f"{domain}.{rng.choice(('com', 'cn', 'top', 'vip', 'xyz'))}"
    return rng.choice(_SPAM).format(wx=wx, qq=qq, phone=phone, url=url)


# ---------------------------------------------------------------------------------------------
# Sampling helpers
# ---------------------------------------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw from Python's generator (stable across versions, unlike numpy's)."""
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation; exact enough for traffic counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    x = rng.random()
    for i, edge in enumerate(cumulative):
        if x < edge:
            return i
    return len(cumulative) - 1


def _weighted_choice(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    x = rng.random() * sum(w for _, w in options)
    for value, w in options:
        x -= w
        if x < 0:
            return value
    return options[-1][0]


def _weighted_item(rng: random.Random, table: Mapping[str, tuple[float, tuple[str, ...]]]) -> tuple[str, tuple[float, tuple[str, ...]]]:
    x = rng.random() * sum(w for w, _ in table.values())
    for name, entry in table.items():
        x -= entry[0]
        if x < 0:
            return name, entry
    name = next(reversed(table))
    return name, table[name]


# ---------------------------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------------------------


def generate(
    rooms: int = 20,
    rate: float = 500.0,
    duration_s: float = 60.0,
    seed: int = 0,
    *,
    start: float = DEFAULT_START,
    config: TrafficConfig | None = None,
    catalogue: Catalogue | None = None,
) -> Iterator[LabelledComment]:
    """Comments of `rooms` rooms over `duration_s` seconds, in event-time order.

    `rate` is the overall base rate (comments/s, shared Zipf-wise among the rooms); floods and
    spam waves come on top. Deterministic for (rooms, rate, duration_s, seed, start, config,
    catalogue). Lazy: comments are made one second of traffic at a time.
    """
    # Checked here, not on the first next(): a load generator should fail when it is set up.
    if duration_s <= 0 or not math.isfinite(duration_s):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s}")
    config = config or TrafficConfig()
    catalogue = catalogue or Catalogue.load()
    if not catalogue.products:
        raise ValueError("the catalogue has no products to ask about")
    overhead = config.burst_overhead()
    rates = room_rates(rooms, rate, config.zipf_s)
    ids = room_ids(rooms)
    room_list = [_Room(k, ids[k], rates[k] / overhead, catalogue.products, seed, duration_s, config)
                 for k in range(rooms)]
    return _stream(room_list, duration_s, seed, start)


def _stream(room_list: list[_Room], duration_s: float, seed: int, start: float) -> Iterator[LabelledComment]:
    rooms = len(room_list)
    next_event = [0] * rooms
    heap: list[tuple[float, int, int, _Pending]] = []
    pushed = 0
    emitted = 0
    for second in range(math.ceil(duration_s)):
        horizon = float(second + 1)
        for room in room_list:
            made = room.steady(second)
            events = room.events
            while next_event[room.index] < len(events) and events[next_event[room.index]][0] < horizon:
                made.extend(room.materialise(events[next_event[room.index]]))
                next_event[room.index] += 1
            for pending in made:
                if pending.ts < duration_s:
                    # Whole milliseconds (the wire's resolution), rounded down so that a comment
                    # stays inside its second and the stream inside its duration.
                    heapq.heappush(heap, (math.floor(pending.ts * 1000) / 1000, room.index, pushed, pending))
                    pushed += 1
        while heap and heap[0][0] < horizon:
            ts, index, _, pending = heapq.heappop(heap)
            room = room_list[index]
            user_id = f"{room.room_id}-u{pending.user}" if pending.user >= 0 else f"{room.room_id}-s{-pending.user}"
            danmaku = Danmaku(
                event_id=f"dm-{seed}-{emitted}",
                room_id=room.room_id,
                user_id=user_id,
                text=pending.text,
                ts=round(start + ts, 3),
                platform=room.platform,
                user=room.viewer(pending.user),
            )
            emitted += 1
            yield LabelledComment(danmaku, pending.kind, pending.question_id, pending.burst, pending.repeat)
