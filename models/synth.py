"""A seeded generator of labelled live-shopping comments, written by the livebot project.

No public corpus of live-commerce danmaku with intents exists, so the project writes its own:
templates per intent × the room's catalogue (names, aliases, colours, sizes, prices) ×
colloquial variants viewers really type (typos and homophones, emoji, internet slang, mixed
English such as "这个price多少", order cards and placeholders as masked by the PII stage,
greetings glued in front, two questions in one comment). Every example carries its intent, its
sentiment and its slots as character spans, so the same data trains the classifiers and
measures the slot taggers. `generate(catalogue, n, seed)` is deterministic for a seed.

The intent conventions follow `../shared/data/intents/LABELLING.md`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from pipeline.catalogue import Catalogue, Product
from pipeline.taxonomy import INTENT_INDEX, SENTIMENT_INDEX, SLOTS

# ---------------------------------------------------------------------------------------------
# Data types


@dataclass(frozen=True, slots=True)
class Span:
    """One slot mention: `text[start:end]` is the surface form, `value` the resolved value."""

    slot: str
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    sentiment: str
    spans: tuple[Span, ...] = ()
    paraphrase_group: str = ""  # template id: examples of one group ask the same thing

    @property
    def slots(self) -> dict[str, str]:
        """First value per slot, the shape `Understanding.slots` has."""
        out: dict[str, str] = {}
        for span in self.spans:
            out.setdefault(span.slot, span.value)
        return out


def validate(example: Example) -> None:
    """Raise ValueError when an example's labels are inconsistent with its text."""
    if example.intent not in INTENT_INDEX:
        raise ValueError(f"bad intent {example.intent!r} in {example.text!r}")
    if example.sentiment not in SENTIMENT_INDEX:
        raise ValueError(f"bad sentiment {example.sentiment!r} in {example.text!r}")
    last_end = 0
    for span in example.spans:
        if span.slot not in SLOTS:
            raise ValueError(f"bad slot {span.slot!r} in {example.text!r}")
        if not (last_end <= span.start < span.end <= len(example.text)):
            raise ValueError(f"span {span} out of order or range in {example.text!r}")
        if not span.value:
            raise ValueError(f"empty value for {span} in {example.text!r}")
        last_end = span.end


# ---------------------------------------------------------------------------------------------
# Lexicons (the project's own)

GENERIC_COLOURS = ("黑色", "白色", "红色", "粉色", "蓝色", "灰色", "卡其色", "米白", "杏色", "绿色", "紫色", "奶白色")
GENERIC_SIZES = ("S", "M", "L", "XL", "XXL", "XS", "大码", "均码", "小码", "中码", "2XL", "3XL")
SKIN_TYPES = {
    "干皮": "干皮", "大干皮": "干皮", "油皮": "油皮", "大油皮": "油皮", "油痘肌": "油皮",
    "混油皮": "混油皮", "混油": "混油皮", "混干皮": "混干皮", "混干": "混干皮",
    "敏感肌": "敏感肌", "敏皮": "敏感肌", "痘痘肌": "痘痘肌", "黄皮": "黄皮", "黄黑皮": "黄皮",
    "黑皮": "黑皮", "白皮": "白皮", "冷白皮": "白皮", "中性皮": "中性皮", "梨形身材": "梨形身材",
    "微胖": "微胖", "小个子": "小个子", "大体重": "大体重", "孕妇": "孕妇", "学生党": "学生党",
}
SKIN_TYPE_CANON = {canon: canon for canon in SKIN_TYPES.values()}
CN_DIGITS = {2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 10: "十"}
MEASURES = ("件", "个", "瓶", "支", "套", "盒", "份", "单")
GENERIC_GOODS = ("连衣裙", "洗面奶", "粉底液", "牛仔裤", "眼影盘", "面膜", "零食", "耳机", "保温杯", "拖鞋", "电饭煲", "充电宝",
                 "手机", "洗衣机", "显示器", "路由器")
DEICTICS = ("这个", "这款", "主播手上这个", "刚刚那个", "左边那个", "这个东西", "你手里的", "现在讲的这个", "它")
CARD_PARTS = ("咨询订单号:[订单x]", "订单号:[订单x]", "订单金额:[金额x]", "下单时间:[日期x]", "商品ID:[数字x]")
PLACEHOLDERS = ("[订单x]", "[数字x]", "[金额x]", "[日期x]", "[时间x]", "[姓名x]", "[链接x]", "[电话x]", "[地址x]", "[身份证号x]")

# ---------------------------------------------------------------------------------------------
# Templates: "(a|b|)" picks one alternative, {p} product, {p2} another product, {c} colour,
# {s}/{s2} size, {q} quantity, {k} skin or body type, {m} a price, {g} a generic good (no slot),
# {ph} a PII placeholder, {card} an order card. A leading "neg:"/"pos:" sets the sentiment.

TEMPLATES: dict[str, tuple[str, ...]] = {
    "price": (
        "{p}多少钱", "{p}(现在|今天|直播间)(什么价|啥价|多少钱)", "{p}(价格|价钱)是多少", "(这个|)多少钱(啊|呀|)",
        "{p}(几块钱|多少米|多少r|什么价位)", "{p}{m}(吗|嘛|是吧)", "{p}是{m}还是{m}", "{m}能买到{p}吗",
        "{p}原价多少", "{p}到手价(多少|是多少|几块)", "{q}{p}多少钱", "{p}和{p2}一起买多少钱", "(报|说)(一下|下)价格",
        "刚才说的{m}是到手价吗", "怎么卖的",
        "付款的时候是{m}对吗", "为啥我这(显示|是){m}", "{p}单价多少", "{q}(多少钱|一共多少)",
        "neg:{p}(怎么|咋)这么贵 能便宜点吗", "{p}(卖|是)多少", "(那|){p}呢 多少钱",
        "{g}多少钱", "{p}(贵不贵|便宜吗)", "{p}(一瓶|一支|一件)多少", "多少钱一(瓶|件|支|套)",
    ),
    "buy_howto": (
        "(怎么|咋|如何)(买|拍|下单)", "{p}(在|是)几号链接", "(链接|link)在哪(里|儿|)", "(怎么|咋)拍{c}",
        "{c}(在哪|怎么)选", "{p}怎么下单", "(拍|买){q}(怎么拍|怎么下单|拍几个)", "{s}(码|)的(话|)(拍|选)哪个",
        "分开拍还是一起拍", "(在哪|怎么)付款", "{p}(上|上链接|上架)了吗", "(求|)(链接|link)(呀|)",
        "(小黄车|购物车)里哪个是{p}", "{p}拍哪个链接", "(几号|哪个)链接是{p}", "{c}{s}(怎么拍|在哪拍)",
        "(能|可以)(一起|合并)下单吗", "(拍了|下单)(怎么|)(没有|找不到){c}", "(没找到|找不到){p}的链接",
        "{p}(拍几号|是哪个链接)", "要(拍|买){p}(点哪|点哪里)", "(怎么|咋)加(购物车|小黄车)", "(直接|)拍(就行|就可以)了吗",
        "(可以|能)(用|)(花呗|信用卡)(付|付款)吗",
    ),
    "stock": (
        "{p}(还有货吗|有货吗|还有吗|有现货吗)", "{c}(还有吗|有货吗|没了吗)", "{s}(码|)(还有吗|有吗|断码了吗)",
        "{p}(什么时候|啥时候|多久)补货", "(是不是|)(卖完了|断货了|没货了|抢光了)", "{p}(还剩|剩)多少",
        "{c}{s}(有吗|还有吗)", "{p}(能|可以)预定吗", "{p}缺货(多久|到什么时候)", "(多久|什么时候)(能|)(到货|补货)",
        "(还能|能)抢到{p}吗", "(库存|货)(还有|有)多少", "(为啥|怎么)(显示|)无货", "{p}还会(返场|再上)吗",
        "{p}{c}(是不是|)没了", "neg:(怎么|咋)又没货了", "neg:{p}(刚上就|又)(没了|抢光了)",
        "(还有|有){q}吗", "(补|上)点(库存|货)吧", "{p}(还|)剩几(件|个|瓶)", "{s}(没了吗|还会补吗)",
    ),
    "spec": (
        "{p}(多大|多少ml|容量多少|几毫升|多少克)", "{p}(是什么|啥)成分", "{p}(有|有没有){c}(吗|)", "{p}(有几个|有哪些|几种)颜色",
        "{p}(什么|啥)材质", "{p}(是|)(加绒|加厚|纯棉)的吗", "{c}是(什么|啥)色号", "{p}(怎么用|怎么使用|用法是什么)",
        "{p}(要|需要)(先用|后用)吗", "{p}(有|)(香味|味道)吗", "{p}(保质期|有效期)多久", "{p}(防水|持久|防汗)吗",
        "{p}(油不油|粘不粘|厚不厚|搓泥吗)", "{p}(尺码|码数)(偏大|偏小|标准)吗", "{s}(码|)(是|)多大", "{p}(是|)(正装|小样)吗",
        "{p}(能|可以)(和|跟){p2}一起用吗", "(这个|{p})(怎么|咋)(设置|调节|安装)", "{p}里面(有|是)(什么|啥)",
        "{p}(防晒|SPF|spf)(多少|几倍)", "{p}(是|)(长袖|短款|宽松)的吗", "{s}(码|)(衣长|胸围)多少", "{c}(实物|)(偏|)(深|浅)吗",
        "{p}(能|可以)(机洗|水洗)吗", "{p}(几点用|早上用还是晚上用)", "{p}的(质地|颜色)(是|)(什么样|怎样)",
        "{p}(多重|多长|尺寸多少)", "(这个|{p})能(连|连接)手机吗", "{p}(要|需要)卸妆吗", "{p}(是|)哑光(的|)吗",
    ),
    "suitability": (
        "{k}(能用|可以用|适合)吗", "{p}{k}(能用|可以用|适合吗|合适吗)", "{k}(用|)(哪个|哪款)(好|合适|更好)",
        "{k}(能|可以)(穿|用){p}吗", "我{k}(选|用)(哪个|什么)", "{k}(涂|用){c}(显白|好看)吗", "{k}穿{s}(合适吗|行吗)",
        "(是|)正品吗", "(会|)(过敏|烂脸|闷痘)吗", "{p}(质量|品质)(怎么样|好吗|靠谱吗)", "(是|)(假货|真的)吗",
        "{p}(和|跟){p2}哪个好", "(送|给)(妈妈|女朋友|男朋友|闺蜜)(送|买)(哪个|{p})(合适|好)", "{k}(会|)刺激吗",
        "(哪个|哪款)(更|)(补水|保湿|控油|显白)", "(身高|我)(160|165|170|155)(体重|)(100斤|110斤|120斤|130斤)穿(什么|多大|哪个)码",
        "{p}(男生|男的|小孩|老人)(能用|可以用|能穿)吗", "{k}(用|){p}(会|)(闷痘|过敏)吗",
        "{p}(适合|)(什么|哪种)(肤质|人|年龄)", "{p}(靠谱|好用)吗", "{p}(值得|值不值得)买吗", "{k}(推荐|适合)哪个",
        "{p}(有|)(假的|仿的)吗", "{p}(用着|穿着)(舒服|闷)吗",
    ),
    "shipping": (
        "(什么时候|啥时候|几天|多久)发货", "{p}(多久|几天)(能|)到", "(发什么|哪家|什么)快递", "(包邮|包不包邮)(吗|)",
        "(偏远地区|新疆|西藏|海南)(包邮|发|能发)吗", "运费(多少|怎么算)", "neg:(快点|赶紧)发货(啊|吧)",
        "(催单|催一下发货)", "neg:(拍了|下单)(三天|好几天|一周)了(还|)(没发货|没到)", "neg:物流(一直|怎么)(不动|没更新|没有信息)",
        "(地址|收货地址)(填错了|写错了)(能|可以)改吗", "(能|可以)(帮我|)改(一下|)(地址|收件人|电话)吗",
        "(预计|大概)(什么时候|几号)(送到|到)", "(从哪里|哪里|哪)发货", "(能|可以)(到|去)(驿站|自提点)(取|拿)吗",
        "(今天|现在)拍(今天|明天)(能发|发)吗", "neg:(快递|包裹)(显示|)(签收了|已签收)但(我|)没收到",
        "neg:{card}(怎么|)还没(发货|到)", "(顺丰|京东)(能|可以)发吗",
        "(能|可以)(加急|先发)吗",
        "(下单|拍了)(多久|几天)发",
    ),
    "promotion": (
        "(有|有没有)(优惠券|券|coupon)(吗|)", "(怎么|在哪)领(券|优惠券)", "(满减|满多少减)(怎么算|是多少)",
        "{p}(送|有)(什么赠品|赠品吗|小样吗)", "(还有|)(小样|赠品)吗", "(第二件|第二支)(半价|打折)吗",
        "(拍二发三|买一送一)(还有吗|怎么拍)", "(什么时候|几点)(抽奖|发福袋)", "(抽奖|福袋)(怎么参加|开了吗)",
        "(能|可以)(叠加|一起用)(券|优惠)吗", "(双十一|618|年货节)(还会|会)更便宜吗", "neg:(买了|刚买)(就|)降价了(能|可以)(退差价|价保)吗",
        "(有|)(新人|会员)(优惠|券)吗", "前(100|一百)名(送|有)什么", "{p}(的|)(活动|优惠)(是什么|到几点)",
        "(下单|)送(化妆包|小样)吗", "{p}(有|)(活动|折扣)吗", "(价保|保价)(吗|多久)", "(满|)(300|299|200)减(40|30|多少)",
        "{q}(有|能)优惠吗",
        "{p}(送|赠)(同款|)小样吗", "(福利|红包)(什么时候|几点)发",
    ),
    "after_sales": (
        "(怎么|如何)退(货|款)", "(能|可以)(退|换)吗", "{p}(能|可以)(换|换个){c}吗", "{s}(小了|大了)(能|可以)换{s2}吗",
        "neg:(收到|到手)(的|)(东西|{p})(坏了|漏了|破了|碎了)", "(退款|退货)(什么时候|多久)(到账|到)", "(我要|申请)退款",
        "(开|要)发票", "(发票|电子发票)(怎么开|在哪看|开了吗)", "(能|可以)开(专票|增值税专票)吗", "(取消|退掉)订单",
        "neg:(少发了|漏发了)(一件|{q}|)", "(七天|7天)无理由(退货|)(吗|支持吗)", "(保修|质保)(多久|几年)",
        "(坏了|有问题)(能|)(保修|维修|修)吗", "(运费险|退货运费)(谁出|有吗)", "neg:(过敏了|烂脸了)(能|)退吗",
        "neg:(东西|{p})(有问题|是坏的|有瑕疵|起球了)", "neg:(寄回去了|退回去了)(怎么|)还没退款", "(上门取件|取件)(什么时候来|怎么约)",
        "(安装|上门安装)(怎么约|收费吗)",
        "(我想|想)(退|退掉){q}",
    ),
    "complaint": (
        "neg:(什么|啥)(垃圾|破)(东西|玩意)", "neg:(太|真)(坑|黑心)了", "neg:(主播|客服)(不理人|装死|不回|不回答)",
        "neg:(骗子|割韭菜)(吧|)", "neg:(再也不买了|拉黑了)", "neg:(质量|东西)(太差了|真差|好差)", "neg:(气死我了|无语|醉了|服了)",
        "neg:(这么贵|贵死了)(谁买啊|抢钱啊)", "neg:(一直不回答|问了八百遍了)", "neg:(差评|投诉你们)", "neg:(什么|啥)破直播",
        "neg:(烂|无聊|尬)死了", "neg:(眼瞎啊|有病吧)",
        "neg:(物流|发货)(太|好)慢了", "neg:(狗都不|谁)(买|看)",
        "neg:(退钱|还钱)!", "neg:(又|总是)(这样|卡我)", "neg:(虚假宣传|骗人的)",
    ),
    "chitchat": (
        "(你好|您好|在吗|哈喽|hello|晚上好|来了来了|打卡|签到)", "(好的|好吧|嗯嗯|嗯|哦|哦哦|ok|OK|可以|行|知道了|明白了|懂了|是的|对|收到)",
        "(不用了|没有了|没了|没事|不需要|就这样)", "pos:(谢谢|谢谢主播|感谢|多谢|谢了|3q|谢谢你)", "pos:好的(,|，| )(谢谢|谢谢你|多谢)",
        "pos:没(有|)了(,|，| )(谢谢|谢谢啦)", "pos:(主播好美|好看|爱了爱了|可爱|太好看了|喜欢|支持|冲冲冲)",
        "pos:(666|6666|666666|777|7777777|888|88888|999)", "(哈哈哈|哈哈哈哈哈|hhhh|笑死)", "(第一次来|新来的|刚来|来晚了)",
        "(晚安|拜拜|再见|下次见)", "pos:(主播|姐姐|小姐姐)(好可爱|真好看|声音好听)", "pos:(支持主播|主播辛苦了|辛苦啦)",
        "(是的|对的|对)(!|。|)",
        "(在|在的)", "(主播|你)(在|在干)(嘛|什么)呢", "(哈哈|嘿嘿)(好的|可以)",
        "(刷起来|扣1|111)", "(前排|沙发|第一)",
    ),
    "other": (
        "{card}", "(订单号|单号)(:|：|是|)(\\[订单x\\]|\\[数字x\\])", "(\\[订单x\\]|\\[链接x\\])", "(转人工|人工客服|我要人工|找人工)",
        "(账号|登录|密码)(登不上|忘了|怎么找回)", "(手机号|电话|联系电话)(是|:|)\\[电话x\\]", "(帮我|麻烦)备注(一下|)",
        "(上传了|发过去了|忘记了|已经填了)", "(入驻|开店|商家入驻)(怎么弄|流程)", "(那怎么办|催一下|怎么弄)",
        "neg:(卡了|有点卡|声音太小|音乐太大|黑屏了|画面糊)", "{card} (是的|好的|对)",
        "(\\[链接x\\]) (是的|这个)", "(\\[姓名x\\])",
    ),
}

# Colloquial rewrites of the literal (non-slot) text: (pattern, replacements).
HOMOPHONES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("吗", ("嘛", "么", "麻", "马")), ("什么", ("神马", "啥", "森么")), ("怎么", ("咋", "肿么", "怎摸", "zen么")),
    ("这个", ("介个", "这个", "zhe个")), ("没有", ("木有", "米有", "没")), ("有没有", ("有木有", "有米有", "有没")),
    ("是不是", ("是8是", "是不")), ("可以", ("可已", "阔以", "k以", "行")), ("多少", ("多扫", "duo少", "多少")),
    ("谢谢", ("xx", "3q", "蟹蟹", "thx")), ("喜欢", ("稀饭", "xh")), ("知道", ("造", "知到")), ("好的", ("好滴", "hao的", "ok", "好哒")),
    ("觉得", ("jio得", "觉的")), ("主播", ("主bo", "煮播", "zb")), ("发货", ("fa货", "发huo")), ("时候", ("时后", "shi候")),
    ("还有", ("还有", "hai有", "还又")), ("现在", ("现再", "xz")), ("优惠", ("优会", "yh")), ("退款", ("tk", "退kuan")),
    ("哪个", ("哪个", "那个", "哪一个")), ("链接", ("连接", "链结", "lj")), ("一下", ("一哈", "一下下")), ("的", ("滴", "的", "d")),
)
MIXED_ENGLISH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("多少钱", ("price多少", "多少money", "how much")), ("价格", ("price", "价格")), ("链接", ("link", "链接")),
    ("尺码", ("size", "尺码")), ("颜色", ("color", "颜色")), ("发货", ("ship", "发货")), ("退货", ("return", "退货")),
    ("优惠券", ("coupon", "优惠券")), ("质量", ("quality", "质量")), ("推荐", ("recommend", "推荐")), ("好看", ("nice", "好看")),
    ("谢谢", ("thanks", "thank you")), ("你好", ("hi", "hello")), ("快递", ("express", "快递")), ("有货", ("有stock", "有货")),
)
EMOJI = ("😂", "😭", "🤔", "👍", "❤️", "🙏", "😍", "🥺", "😅", "🔥", "💯", "✨", "[doge]", "[捂脸]", "(๑•̀ㅂ•́)و✧", "😄", "🌹")
PREFIXES = ("主播", "主播主播", "家人们", "宝宝", "姐妹们", "小姐姐", "老板", "亲", "在吗 ", "滴滴", "求问", "请问", "你好 ", "您好，", "那个")
CONTEXTS = ("我昨天买的{g}，", "我刚下的单 ", "之前买过 ", "朋友推荐的 ", "你好 我想咨询下，", "我想问一下 ", "是这样的，",
            "我在你们家买了{g} ", "{card} ", "[订单x] ", "上次买的{g}用完了 ", "我看了一下 ", "亲，", "麻烦问一下，")
SUFFIXES = ("求回", "蹲一个", "在线等", "？", "？？？", "!!", "啊", "呀", "呢", "哈", "~", "。", "?", "谢谢", "麻烦了")
NEG_MARKERS = ("急死了", "气死了", "5555", "我晕", "😡", "都几天了", "烦死了", "服了")
POS_MARKERS = ("爱了", "❤️", "太喜欢了", "好开心", "😍")
PRODUCT_TYPOS = {"精": "晶", "华": "化", "霜": "双", "防": "房", "晒": "嗮", "卫": "为", "衣": "依", "口": "扣",
                 "红": "宏", "礼": "里", "盒": "和", "面": "棉", "乳": "如", "玻": "波", "酸": "算", "套": "逃", "装": "妆"}

_TOKEN = re.compile(r"(\((?:\\.|[^()])*\)|\{[a-z0-9]+\})")


# ---------------------------------------------------------------------------------------------
# Generation


class _Builder:
    """Concatenates pieces while recording slot spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)

    def slot(self, slot: str, surface: str, value: str) -> None:
        self.spans.append(Span(slot, self.length, self.length + len(surface), value))
        self.text(surface)

    def build(self) -> tuple[str, tuple[Span, ...]]:
        return "".join(self.parts), tuple(self.spans)


class Generator:
    """Deterministic generator over one catalogue; `rng` is the only source of randomness."""

    def __init__(self, catalogue: Catalogue, seed: int = 0, noise: float = 0.5) -> None:
        if not catalogue.products:
            raise ValueError("the catalogue has no products to generate comments about")
        self.catalogue = catalogue
        self.rng = random.Random(seed)
        self.noise = noise
        self.templates = {intent: tuple(_parse(t) for t in ts) for intent, ts in TEMPLATES.items()}
        # slot values held fixed while a paraphrase group is generated
        self._pinned: dict[str, object] = {}

    # -- slot values -------------------------------------------------------------------------

    def _product(self, avoid: Product | None = None) -> Product:
        choices = [p for p in self.catalogue.products if p is not avoid] or list(self.catalogue.products)
        return self.rng.choice(choices)

    def _product_surface(self, product: Product) -> str:
        # Product.names orders equal lengths by set iteration (string hashing differs per process)
        surface = self.rng.choice(sorted(product.names))
        if self.rng.random() < 0.06:  # a homophone typo inside the name: only a learned tagger can catch it
            idx = [i for i, ch in enumerate(surface) if ch in PRODUCT_TYPOS]
            if idx:
                i = self.rng.choice(idx)
                surface = surface[:i] + PRODUCT_TYPOS[surface[i]] + surface[i + 1 :]
        return surface

    def _colour(self, product: Product | None) -> str:
        colours = _list_attr(product, "colours") if product else []
        if colours and self.rng.random() < 0.8:
            return self.rng.choice(colours)
        return self.rng.choice(GENERIC_COLOURS)

    def _size(self, product: Product | None) -> str:
        sizes = _list_attr(product, "sizes") if product else []
        if sizes and self.rng.random() < 0.8:
            size = self.rng.choice(sizes)
        else:
            size = self.rng.choice(GENERIC_SIZES)
        return size.lower() if size.isascii() and self.rng.random() < 0.15 else size

    def _quantity(self) -> tuple[str, str]:
        n = self.rng.choice((2, 2, 2, 3, 3, 4, 5, 6, 10))
        digits = CN_DIGITS[n] if self.rng.random() < 0.5 else str(n)
        if n == 2 and digits == "两" and self.rng.random() < 0.3:
            digits = "二"
        return digits + self.rng.choice(MEASURES), str(n)

    def _money(self, product: Product | None) -> tuple[str, str]:
        if product is not None and self.rng.random() < 0.6:
            value = int(self.rng.choice([product.price, product.selling_price]))
        else:
            value = self.rng.choice((9, 19, 29, 39, 49, 59, 69, 79, 89, 99, 109, 129, 149, 199, 299, 399, 499))
        fmt = self.rng.choice(("{}", "{}块", "{}元", "{}r", "¥{}", "{}米", "{}块钱"))
        return fmt.format(value), str(value)

    # -- one example -------------------------------------------------------------------------

    def _fill(self, intent: str, index: int) -> Example:
        sentiment, pieces = self.templates[intent][index]
        builder = _Builder()
        product: Product | None = None
        noisy = self.rng.random() < self.noise
        for kind, payload in pieces:
            if kind == "lit":
                builder.text(self._colloquial(payload) if noisy else payload)
            elif kind == "alt":
                slot_alts = [a for a in payload if a.startswith("{") and a.endswith("}")]
                # inside a paraphrase group the named thing stays named (no "这个" for "面霜")
                choice = self.rng.choice(slot_alts if self._pinned and slot_alts else payload)
                if choice.startswith("{") and choice.endswith("}"):
                    product = self._fill_slot(builder, choice[1:-1], product)
                else:
                    builder.text(self._colloquial(choice) if noisy else choice)
            else:
                product = self._fill_slot(builder, payload, product)
        text, spans = builder.build()
        return Example(text, intent, sentiment, spans, paraphrase_group=f"{intent}:{index}")

    def _fill_slot(self, builder: _Builder, name: str, product: Product | None) -> Product | None:
        rng = self.rng
        if name in ("p", "p2"):
            if name == "p" and not self._pinned and rng.random() < 0.25:
                builder.text(rng.choice(DEICTICS))
                return product
            chosen = self._pinned.get(name) or self._product(avoid=product if name == "p2" else None)
            builder.slot("product", self._product_surface(chosen), chosen.sku)
            return chosen if name == "p" else product
        pinned = self._pinned.get(name)
        if name == "c":
            colour = pinned or self._colour(product)
            builder.slot("colour", colour, colour)
        elif name in ("s", "s2"):
            size = pinned or self._size(product)
            builder.slot("size", size, size.upper())
        elif name == "q":
            surface, value = pinned or self._quantity()
            builder.slot("quantity", surface, value)
        elif name == "k":
            surface = pinned or rng.choice(tuple(SKIN_TYPES))
            builder.slot("skin_type", surface, SKIN_TYPES[surface])
        elif name == "m":
            surface, value = pinned or self._money(product)
            builder.slot("price_mentioned", surface, value)
        elif name == "g":
            builder.text(pinned or rng.choice(GENERIC_GOODS))
        elif name == "ph":
            builder.text(rng.choice(PLACEHOLDERS))
        elif name == "card":
            k = rng.randint(1, 3)
            parts = (CARD_PARTS[rng.randint(0, 1)],) + tuple(rng.sample(CARD_PARTS[2:], k - 1))
            builder.text(" ".join(parts))
        else:
            raise ValueError(f"unknown template slot {{{name}}}")
        return product

    def _colloquial(self, text: str) -> str:
        rng = self.rng
        for pattern, subs in HOMOPHONES:
            if pattern in text and rng.random() < 0.3:
                text = text.replace(pattern, rng.choice(subs), 1)
        for pattern, subs in MIXED_ENGLISH:
            if pattern in text and rng.random() < 0.25:
                text = text.replace(pattern, rng.choice(subs), 1)
        if len(text) >= 2 and rng.random() < 0.05:  # a stretched character: 多少钱钱钱
            i = rng.randrange(len(text))
            text = text[: i + 1] + text[i] * rng.randint(1, 3) + text[i + 1 :]
        return text

    def _decorate(self, ex: Example) -> Example:
        """Prefixes, suffixes, emoji and mood markers around a whole comment."""
        rng = self.rng
        text, spans, sentiment = ex.text, list(ex.spans), ex.sentiment
        prefix = suffix = ""
        if ex.intent not in ("chitchat", "other") and rng.random() < 0.3:
            prefix = rng.choice(PREFIXES)
        elif ex.intent not in ("chitchat", "other", "complaint") and rng.random() < 0.2:
            prefix = self._context()
        if rng.random() < 0.35:
            suffix += rng.choice(SUFFIXES)
        if rng.random() < 0.2:
            suffix += rng.choice(EMOJI) * rng.randint(1, 3)
        if ex.intent not in ("chitchat", "complaint", "other") and rng.random() < 0.12:
            suffix += rng.choice((" ", "", "，")) + rng.choice(NEG_MARKERS)
            sentiment = "neg"
        elif ex.intent == "chitchat" and sentiment == "neu" and rng.random() < 0.1:
            suffix += rng.choice(POS_MARKERS)
            sentiment = "pos"
        if prefix:
            spans = [Span(s.slot, s.start + len(prefix), s.end + len(prefix), s.value) for s in spans]
        return Example(prefix + text + suffix, ex.intent, sentiment, tuple(spans), ex.paraphrase_group)

    def _context(self) -> str:
        context = self.rng.choice(CONTEXTS)
        if "{g}" in context:
            context = context.replace("{g}", self.rng.choice(GENERIC_GOODS))
        if "{card}" in context:
            k = self.rng.randint(1, 3)
            context = context.replace("{card}", " ".join((CARD_PARTS[0],) + tuple(self.rng.sample(CARD_PARTS[2:], k - 1))))
        return context

    def example(self, intent: str | None = None) -> Example:
        intent = intent or self.rng.choice(_INTENT_ORDER)
        ex = self._decorate(self._fill(intent, self.rng.randrange(len(self.templates[intent]))))
        if ex.intent not in ("chitchat", "other", "complaint") and self.rng.random() < 0.08:
            ex = self._combine(ex)
        validate(ex)
        return ex

    def _combine(self, first: Example) -> Example:
        """Two questions in one comment; the first one asked is the primary intent."""
        other_intent = self.rng.choice([i for i in _INTENT_ORDER if i not in ("chitchat", "other", "complaint")])
        second = self._decorate(self._fill(other_intent, self.rng.randrange(len(self.templates[other_intent]))))
        sep = self.rng.choice((" ", "，", "？", "。", "  ", "? "))
        offset = len(first.text) + len(sep)
        spans = first.spans + tuple(Span(s.slot, s.start + offset, s.end + offset, s.value) for s in second.spans)
        sentiment = "neg" if "neg" in (first.sentiment, second.sentiment) else first.sentiment
        return Example(first.text + sep + second.text, first.intent, sentiment, spans, "")

    def paraphrase_group(self, intent: str | None = None, size: int = 4) -> list[Example]:
        """`size` comments asking the same thing: one template, the same product and values,
        different wording (template alternatives, aliases, colloquial noise, decoration)."""
        intent = intent or self.rng.choice(_INTENT_ORDER)
        index = self.rng.randrange(len(self.templates[intent]))
        first = self._product()
        self._pinned = {
            "p": first, "p2": self._product(avoid=first), "c": self._colour(first), "s": self._size(first),
            "s2": self._size(first), "q": self._quantity(), "k": self.rng.choice(tuple(SKIN_TYPES)),
            "m": self._money(first), "g": self.rng.choice(GENERIC_GOODS),
        }
        try:
            return [self._decorate(self._fill(intent, index)) for _ in range(size)]
        finally:
            self._pinned = {}


_INTENT_ORDER = tuple(INTENT_INDEX)


def _parse(template: str) -> tuple[str, tuple[tuple[str, object], ...]]:
    sentiment = "neu"
    for mood in ("neg", "pos"):
        if template.startswith(mood + ":"):
            sentiment, template = mood, template[len(mood) + 1 :]
    pieces: list[tuple[str, object]] = []
    for token in _TOKEN.split(template):
        if not token:
            continue
        if token.startswith("(") and token.endswith(")"):
            alts = tuple(a.replace("\\[", "[").replace("\\]", "]") for a in re.split(r"(?<!\\)\|", token[1:-1]))
            pieces.append(("alt", alts))
        elif token.startswith("{") and token.endswith("}"):
            pieces.append(("slot", token[1:-1]))
        else:
            pieces.append(("lit", token.replace("\\[", "[").replace("\\]", "]")))
    return sentiment, tuple(pieces)


def _list_attr(product: Product, name: str) -> list[str]:
    value = product.attributes.get(name)
    return [str(v) for v in value] if isinstance(value, list) else []


def generate(catalogue: Catalogue, n: int, seed: int = 0, *, noise: float = 0.5, balanced: bool = True) -> list[Example]:
    """`n` labelled comments; intents cycle evenly when `balanced`, else drawn at random."""
    gen = Generator(catalogue, seed=seed, noise=noise)
    if balanced:
        return [gen.example(_INTENT_ORDER[i % len(_INTENT_ORDER)]) for i in range(n)]
    return [gen.example() for _ in range(n)]


def paraphrase_groups(catalogue: Catalogue, n_groups: int, seed: int = 0, size: int = 4) -> list[list[Example]]:
    """Groups of comments asking the same question, for contrastive training of the embedder."""
    gen = Generator(catalogue, seed=seed)
    return [gen.paraphrase_group(_INTENT_ORDER[i % len(_INTENT_ORDER)], size=size) for i in range(n_groups)]

