"""Write the sample live-shopping session that `livebot run` replays (`session.jsonl`).

Three minutes of one room selling the sample catalogue: viewers asking the same few
questions many ways, buying, chatting, a spammer, an unhappy customer; the host's speech
moving from product to product; ERP stock falling until the lipstick sells out; and a few
malformed records that must end up in the dead-letter topic. Written by the livebot project
(no outside data); deterministic: `python -m livebot.sample.make_session` rewrites it.

Each line is `{"at": seconds into the session, "topic": ..., "key": ..., "event": {...}}`
or, for malformed records, `"raw"` (text) / `"raw_b64"` (bytes) instead of `"event"`.
Event times are left out: the replayer stamps them when it sends.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

ROOM = "room-demo"
DURATION_S = 180
OUT = Path(__file__).with_name("session.jsonl")

HOST_SEGMENTS = [
    (0, "SKU-SERUM-01", ["欢迎来到直播间，今天先给大家上1号链接玻尿酸保湿精华", "这个精华三重玻尿酸，干皮敏感肌都能用",
                         "直播间专享价149，拍二发三，姐妹们冲"]),
    (45, "SKU-CREAM-02", ["接下来是2号链接修护面霜，换季泛红的宝宝看过来", "面霜下单送同款小样，数量不多"]),
    (90, "SKU-LIPSTICK-04", ["4号链接丝绒雾面口红，三个颜色正红豆沙枫叶棕", "口红第二支半价，黄皮也显白"]),
    (135, "SKU-HOODIE-05", ["最后给大家看看5号链接加绒卫衣，燕麦色黑色雾霾蓝", "卫衣SML XL都有，满300减40"]),
]
QUESTIONS = {
    "SKU-SERUM-01": ["精华多少钱", "精华多少钱啊", "这个精华什么价", "1号链接多少钱", "敏感肌能用吗", "敏感肌可以用这个精华吗",
                     "干皮适合吗", "精华还有货吗", "拍二发三怎么拍", "精华多大容量"],
    "SKU-CREAM-02": ["面霜多少钱", "面霜价格多少", "油皮能用面霜吗", "面霜送小样吗", "2号链接还有吗", "面霜怎么买"],
    "SKU-LIPSTICK-04": ["口红多少钱", "口红有什么颜色", "黄皮适合哪个色号", "口红还有货吗", "豆沙色还有吗", "第二支半价怎么拍"],
    "SKU-HOODIE-05": ["卫衣多少钱", "卫衣有XL吗", "160穿什么码", "卫衣起球吗", "卫衣什么时候发货", "卫衣还有货吗"],
}
GENERAL = ["包邮吗", "什么时候发货", "有优惠券吗", "怎么领券", "有赠品吗", "几号链接是精华"]
PURCHASE = ["拍了", "已拍", "已拍两件", "下单了", "冲冲冲", "想要", "买了买了"]
CHATTER = ["666", "哈哈哈哈哈", "来了来了", "主播好美", "主播好", "👍👍👍", "好好看", "打卡", "6666666", "。。。"]
COMPLAINTS = ["上次买的还没发货", "客服不回消息，垃圾", "收到的有破损要退款", "说好的赠品没收到"]
SPAM = ["加微信 wx123456 领福利", "私聊我有低价货源", "兼职刷单日赚500 加v"]


def main(seed: int = 20261121) -> None:
    rng = random.Random(seed)
    lines: list[dict[str, object]] = []
    viewers = [f"u{n:04d}" for n in range(400)]
    levels = {v: rng.choice([1, 3, 8, 15, 30]) for v in viewers}
    members = {v: rng.random() < 0.2 for v in viewers}

    for start, sku, sentences in HOST_SEGMENTS:
        for i, sentence in enumerate(sentences):
            at = start + i * 12 + 1.0
            lines.append({"at": at, "topic": "live.asr", "key": ROOM, "event": {
                "event_id": f"asr-{start}-{i}", "room_id": ROOM, "text": sentence, "duration_s": 6.0,
                "confidence": round(rng.uniform(0.85, 0.99), 2)}})

    n = 0
    t = 0.0
    while t < DURATION_S:
        t += rng.expovariate(8.0)  # about eight comments a second
        current = max(s for s in HOST_SEGMENTS if s[0] <= t)[1]
        roll = rng.random()
        if roll < 0.45:
            text = rng.choice(QUESTIONS[current])
        elif roll < 0.55:
            text = rng.choice(GENERAL)
        elif roll < 0.65:
            text = rng.choice(PURCHASE)
        elif roll < 0.93:
            text = rng.choice(CHATTER)
        elif roll < 0.97:
            text = rng.choice(COMPLAINTS)
        else:
            text = rng.choice(SPAM)
        viewer = rng.choice(viewers)
        n += 1
        lines.append({"at": round(t, 3), "topic": "live.danmaku", "key": ROOM, "event": {
            "event_id": f"dm-{n:05d}", "room_id": ROOM, "user_id": viewer, "text": text, "platform": "demo",
            "user": {"nickname": f"观众{viewer[1:]}", "level": levels[viewer], "is_member": members[viewer],
                     "new_viewer": rng.random() < 0.1, "spend_tier": rng.choice(["low", "mid", "high"])}}})

    stock = {"SKU-LIPSTICK-04": 12, "SKU-CREAM-02": 45}
    for i, at in enumerate(range(20, DURATION_S, 15)):
        sku = "SKU-LIPSTICK-04" if at >= 90 else "SKU-CREAM-02"
        stock[sku] = max(0, stock[sku] - rng.randint(2, 6))
        lines.append({"at": float(at), "topic": "erp.stock", "key": sku, "event": {
            "event_id": f"stock-{i:03d}", "sku": sku, "stock": stock[sku]}})

    malformed = [
        {"raw": "this is not json"},
        {"raw_b64": base64.b64encode(b'{"event_id": "x", "text": "\xff\xfe bad bytes"}').decode()},
        {"raw": json.dumps({"event_id": "bad-1", "room_id": ROOM, "text": "没有用户和时间"})},
        {"raw": json.dumps({"event_id": "bad-2", "room_id": ROOM, "user_id": 42, "text": "用户id是数字", "ts": 1})},
        {"raw": json.dumps({"event_id": "bad-3", "room_id": ROOM, "user_id": "u1", "text": "刷屏" * 400}), "stamp": "ts"},
        {"raw": json.dumps({"event_id": "bad-4", "room_id": ROOM, "user_id": "u1", "text": "藏了\u0000空字符"}), "stamp": "ts"},
        {"raw": json.dumps({"event_id": "bad-5", "room_id": ROOM, "user_id": "u1", "text": "来自未来", "ts": "2099-01-01T00:00:00Z"})},
        {"raw": json.dumps({"event_id": "bad-6", "room_id": ROOM, "user_id": "u1", "text": "来自远古", "ts": 0})},
    ]
    for i, record in enumerate(malformed):
        lines.append({"at": 10.0 + i * 20, "topic": "live.danmaku", "key": ROOM, **record})

    lines.sort(key=lambda line: line["at"])
    with OUT.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} records ({n} comments) to {OUT}")


if __name__ == "__main__":
    main()
