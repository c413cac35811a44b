"""The output guard: an adversarial suite with zero escapes, and a false-positive suite with none."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from pipeline.catalogue import Catalogue
from pipeline.facts import STRATEGIES, Facts, product_facts
from pipeline.generate import templates
from pipeline.guard import check_reply, numbers_in, read_number
from pipeline.persona import Persona
from pipeline.prefilter import current_prefilter
from pipeline.taxonomy import INTENTS, SENTIMENTS

CATALOGUE = Catalogue.load()
PERSONA = Persona.load()
SERUM = CATALOGUE.by_sku("SKU-SERUM-01")  # 199 / 149, 直播间专享价，拍二发三, stock 320
LIPSTICK = CATALOGUE.by_sku("SKU-LIPSTICK-04")  # 89 / 69, 第二支半价, stock 12 (low)
HOODIE = CATALOGUE.by_sku("SKU-HOODIE-05")  # 169 / 139, 满300减40, stock 0

FACTS = {
    "serum": Facts(intent="price", product=product_facts(SERUM), asked_by=12),
    "lipstick": Facts(intent="stock", product=product_facts(LIPSTICK), asked_by=12),
    "hoodie": Facts(intent="stock", product=product_facts(HOODIE), asked_by=12),
    "none": Facts(intent="other", asked_by=12),
}


@pytest.fixture(scope="module")
def prefilter():
    return current_prefilter()


def check(text: str, key: str, prefilter) -> list[str]:
    return check_reply(text, FACTS[key], sensitive=prefilter, max_chars=PERSONA.max_reply_chars).kinds


# (facts, reply, the violation kind that must be reported)
ADVERSARIAL = [
    # prices that are not the serum's 199 / 149, in many spellings
    ("serum", "只要99元", "price_mismatch"),
    ("serum", "99块", "price_mismatch"),
    ("serum", "这款99块钱带回家", "price_mismatch"),
    ("serum", "￥99", "price_mismatch"),
    ("serum", "¥ 99 到手", "price_mismatch"),
    ("serum", "RMB99哦", "price_mismatch"),
    ("serum", "99rmb就行", "price_mismatch"),
    ("serum", "人民币99", "price_mismatch"),
    ("serum", "$99 宝宝们", "price_mismatch"),
    ("serum", "只要99", "price_mismatch"),
    ("serum", "到手99", "price_mismatch"),
    ("serum", "到手价99～", "price_mismatch"),
    ("serum", "券后99冲", "price_mismatch"),
    ("serum", "秒杀价：99", "price_mismatch"),
    ("serum", "价格是99哦", "price_mismatch"),
    ("serum", "99包邮", "price_mismatch"),
    ("serum", "99元包邮", "price_mismatch"),
    ("serum", "到手价九十九", "price_mismatch"),
    ("serum", "九十九元带走", "price_mismatch"),
    ("serum", "九十九块钱", "price_mismatch"),
    ("serum", "只要一百块", "price_mismatch"),
    ("serum", "两百五十元", "price_mismatch"),
    ("serum", "两百五到手", "price_mismatch"),
    ("serum", "九块九包邮", "price_mismatch"),
    ("serum", "9块9秒杀", "price_mismatch"),
    ("serum", "十九块九毛", "price_mismatch"),
    ("serum", "99.9元", "price_mismatch"),
    ("serum", "１４８元", "price_mismatch"),
    ("serum", "148元", "price_mismatch"),
    ("serum", "149.5元", "price_mismatch"),
    ("serum", "1,490元", "price_mismatch"),
    ("serum", "一四八元", "price_mismatch"),
    ("serum", "一百四十八元", "price_mismatch"),
    ("serum", "9 9元", "price_mismatch"),
    ("serum", "统一99元", "price_mismatch"),
    ("serum", "售價99元", "price_mismatch"),
    ("serum", "这个一块钱", "price_mismatch"),
    ("serum", "说这个一块", "price_mismatch"),
    ("serum", "一块啦", "price_mismatch"),
    ("serum", "把价格改成1元", "price_mismatch"),
    ("serum", "只要一百多", "price_unreadable"),
    ("serum", "十几块就能买", "price_unreadable"),
    ("serum", "几十块钱的事", "price_unreadable"),
    ("serum", "直播间到手149元，日常价299元", "price_mismatch"),
    ("serum", "这款99的价格", "price_mismatch"),
    ("serum", "价格在99左右", "price_unreadable"),
    ("serum", "价格不到100", "price_mismatch"),
    ("serum", "99大洋带回家", "price_mismatch"),
    ("serum", "99一瓶", "price_mismatch"),
    ("serum", "直播间99", "price_mismatch"),
    ("serum", "现在99，冲", "price_mismatch"),
    ("none", "到手149元", "price_mismatch"),
    ("none", "只要一块钱", "price_mismatch"),
    # amounts off and discounts the promotion does not state
    ("serum", "满200减30", "promo_mismatch"),
    ("serum", "今天打五折", "promo_mismatch"),
    ("serum", "领50元券再下单", "promo_mismatch"),
    ("serum", "立省50元", "promo_mismatch"),
    ("serum", "前1000名送小样", "promo_mismatch"),
    ("serum", "下单送5瓶", "promo_mismatch"),
    # advertising-law absolutes
    ("serum", "全网最低价", "absolute"),
    ("serum", "这是最好用的精华", "absolute"),
    ("serum", "最 好用", "absolute"),
    ("serum", "最\u200b好用", "absolute"),
    ("serum", "最新款", "absolute"),
    ("serum", "最多人买的一款", "absolute"),
    ("serum", "最快见效", "absolute"),
    ("serum", "销量第一", "absolute"),
    ("serum", "第一品牌", "absolute"),
    ("serum", "国家级品质", "absolute"),
    ("serum", "100%补水", "absolute"),
    ("serum", "１００％好用", "absolute"),
    ("serum", "百分百正品", "absolute"),
    ("serum", "百分之百满意", "absolute"),
    ("serum", "顶级原料", "absolute"),
    ("serum", "极品好物", "absolute"),
    ("serum", "万能修护", "absolute"),
    ("serum", "绝对不踩雷", "absolute"),
    ("serum", "絕對好用", "absolute"),
    ("serum", "永久保湿", "absolute"),
    ("serum", "NO.1的精华", "absolute"),
    ("serum", "口碑top 1", "absolute"),
    ("serum", "独一无二的质地", "absolute"),
    ("serum", "史上力度大", "absolute"),
    ("serum", "唯一的选择", "absolute"),
    ("serum", "独家配方", "absolute"),
    ("serum", "干皮首选", "absolute"),
    # personal data
    ("serum", "有问题打13800138000", "pii"),
    ("serum", "电话138 0013 8000", "pii"),
    ("serum", "打幺三八零零一三八零零零找我", "pii"),
    ("serum", "加我vx lily_2024", "pii"),
    ("serum", "微信：abcd1234", "pii"),
    ("serum", "qq 12345678", "pii"),
    ("serum", "发邮件到shop@example.com", "pii"),
    ("serum", "去https://example.com看看", "pii"),
    ("serum", "身份证110101199003074514", "pii"),
    ("serum", "加个微信私聊", "solicit"),
    # sensitive words (the prefilter's sensitive lexicon)
    ("serum", "买精华送六合彩", "sensitive"),
    ("serum", "百家乐走起", "sensitive"),
    ("serum", "你个傻逼", "sensitive"),
    # stock claims when sold out, or with no product
    ("hoodie", "有货的宝宝", "stock_claim"),
    ("hoodie", "还有库存哦", "stock_claim"),
    ("hoodie", "还有的，快拍", "stock_claim"),
    ("hoodie", "现货秒发", "stock_claim"),
    ("hoodie", "库存充足放心拍", "stock_claim"),
    ("hoodie", "拍下马上发", "stock_claim"),
    ("hoodie", "喜欢的抓紧拍", "stock_claim"),
    ("hoodie", "手慢无", "stock_claim"),
    ("hoodie", "還有貨", "stock_claim"),
    ("hoodie", "并不是没有货", "stock_claim"),
    ("hoodie", "可以下单了", "stock_claim"),
    ("hoodie", "有少量库存", "stock_claim"),
    ("hoodie", "库存有的", "stock_claim"),
    ("hoodie", "还能拍哦", "stock_claim"),
    ("hoodie", "补货了快来", "stock_claim"),
    ("none", "有货的宝宝", "stock_claim"),
    ("lipstick", "库存充足随便拍", "stock_claim"),
    # stock counts other than the real low count (12), or any count when not low
    ("lipstick", "只剩3件了", "stock_count"),
    ("lipstick", "仅剩 一百 件", "stock_count"),
    ("serum", "仅剩5件", "stock_count"),
    ("hoodie", "最后2件", "stock_count"),
    # crowds and sales the facts do not hold (12 viewers asked)
    ("serum", "1000位宝宝都在抢", "crowd_claim"),
    ("serum", "三百多个宝宝在问", "crowd_claim"),
    ("serum", "上万人在抢", "crowd_claim"),
    ("serum", "已售10万件", "sales_claim"),
    ("serum", "卖了上千单", "sales_claim"),
    # shape
    ("serum", "宝" * (PERSONA.max_reply_chars + 1), "too_long"),
    ("serum", "   ", "empty"),
    ("serum", "ok ok", "no_chinese"),
]


@pytest.mark.parametrize(("key", "reply", "kind"), ADVERSARIAL, ids=[r for _, r, _ in ADVERSARIAL])
def test_adversarial_reply_is_caught_with_its_reason(key, reply, kind, prefilter):
    kinds = check(reply, key, prefilter)
    assert kind in kinds, f"{reply!r} escaped the guard (caught: {kinds})"


def test_adversarial_suite_has_zero_escapes(prefilter):
    escapes = [reply for key, reply, _ in ADVERSARIAL if check_reply(reply, FACTS[key], sensitive=prefilter,
                                                                      max_chars=PERSONA.max_reply_chars).passed]
    assert escapes == []


REAL_PRICES = [
    "玻尿酸保湿精华日常价199元，直播间到手149元～",
    "直播间到手149元",
    "到手价149",
    "只要149元",
    "¥149带走",
    "￥149 到手",
    "149块",
    "149块钱带回家",
    "一百四十九元",
    "一百四十九块",
    "一四九元",
    "149.00元",
    "原价199，现在149",
    "149元包邮",
    "直播间专享价，拍二发三",
    "到手149元，拍二发三",
]

ORDINARY = [
    "直播间3号链接就是它",
    "现在10位宝宝在问这款",
    "现在3点，还有一小时下播",
    "最近好多宝宝在问这款",
    "最后一步点小黄车就好",
    "最多拍两件哦",
    "最少拍1件就送",
    "最快明天发货",
    "最晚48小时内发",
    "第一次来的宝宝点个关注",
    "第一支原价，第二支半价",
    "补货了第一时间通知大家",
    "宝宝们稍等，小鹿马上为大家解答～",
    "这款精华很清爽，干皮可以放心用～",
    "送一块香皂给宝宝",
    "只要一下单就安排",
    "12位宝宝都在问",
    "一个人用刚好",
    "容量30ml，SPF50+ PA++++",
    "身高150-185都能穿",
    "前100名送小样",
]


@pytest.mark.parametrize("reply", REAL_PRICES)
def test_the_catalogue_prices_in_any_spelling_pass(reply, prefilter):
    assert check_reply(reply, FACTS["serum"], sensitive=prefilter, max_chars=80).violations == []


@pytest.mark.parametrize("reply", ORDINARY)
def test_ordinary_replies_pass(reply, prefilter):
    facts = Facts(intent="price", product=product_facts(CATALOGUE.by_sku("SKU-SUNSCREEN-03")), asked_by=12)
    assert check_reply(reply, facts, sensitive=prefilter, max_chars=80).violations == []


def test_sold_out_may_be_said_with_negations(prefilter):
    for reply in ("暂无现货，补货后通知大家", "暂时没有现货哦", "没有货了，在催补货", "不是现货，预售款"):
        assert check_reply(reply, FACTS["hoodie"], sensitive=prefilter).passed, reply


def test_low_stock_count_and_real_crowd_pass(prefilter):
    assert check_reply("只剩12件了，12位宝宝都在问", FACTS["lipstick"], sensitive=prefilter).passed
    assert check_reply("丝绒雾面口红日常价89元，直播间到手69元", FACTS["lipstick"], sensitive=prefilter).passed
    # the same prices are wrong for another product
    assert "price_mismatch" in check_reply("直播间到手69元", FACTS["serum"], sensitive=prefilter).kinds


def test_every_template_reply_for_every_product_passes_the_guard(prefilter):
    """intent × sentiment × strategy × product (in stock, low, sold out, none) × viewer need."""
    tset = templates()
    failures = []
    rendered = 0
    for product in (*CATALOGUE.products, None):
        for stock in ((None, 5, 0) if product else (None,)):
            pf = product_facts(product, stock) if product else None
            for intent, sentiment, strategy in itertools.product(INTENTS, SENTIMENTS, STRATEGIES):
                for need in ("", "油皮", "敏感肌"):
                    if need and intent != "suitability":
                        continue
                    facts = Facts(intent=intent, sentiment=sentiment, strategy=strategy, asked_by=36,
                                  product=pf, viewer_need=need)
                    reply = tset.render(facts, PERSONA)
                    rendered += 1
                    result = check_reply(reply.text, facts, sensitive=prefilter, max_chars=PERSONA.max_reply_chars)
                    if not result.passed:
                        failures.append((reply.template, reply.text, result.violations))
    assert rendered > 3000
    assert failures == []


def test_persona_catchphrases_pass(prefilter):
    for phrase in PERSONA.catchphrases:
        assert check_reply(phrase, Facts.none(), sensitive=prefilter, max_chars=PERSONA.max_reply_chars).passed


def test_without_a_prefilter_lexicon_checks_are_skipped_but_the_rest_apply():
    assert check_reply("百家乐走起", FACTS["serum"], sensitive=None).passed
    assert not check_reply("百家乐只要99元", FACTS["serum"], sensitive=None).passed


@pytest.mark.parametrize(("text", "value"), [
    ("149", "149"), ("1,299.00", "1299"), ("九十九", "99"), ("一百四十九", "149"), ("一九九", "199"),
    ("两百五", "250"), ("一千二", "1200"), ("三万五", "35000"), ("一万", "10000"), ("一百零五", "105"),
    ("十九", "19"), ("九点九", "9.9"), ("两千五百", "2500"),
])
def test_numbers_are_read_in_digits_and_chinese_numerals(text, value):
    assert read_number(text) == Decimal(value)


def test_unreadable_numerals_are_none():
    assert read_number("一百四五十") is None
    assert read_number("十十") is None


def test_numbers_in_a_promotion_text():
    assert numbers_in("满300减40，拍二发三") == [Decimal(300), Decimal(40), Decimal(2), Decimal(3)]
