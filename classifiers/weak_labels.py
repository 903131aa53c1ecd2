"""Weak labels from past replies: the unit that answered tells the category.

In a running hub the cases a unit handled are the router's main training signal;
for historical data (message + the department's reply) the reply usually names the
answering unit. A label is taken only when one category's units are named more
than any other's.
"""

from __future__ import annotations

REPLY_UNIT_TERMS: dict[str, tuple[str, ...]] = {
    "教育文体": ("教育局", "教体局", "教育和体育局", "文体局", "体育局"),
    "劳动和社会保障": ("人社局", "人力资源和社会保障局", "社会保障局", "社保局", "劳动监察",
                  "社保中心", "医保局", "医疗保障局", "劳动保障监察"),
    "交通运输": ("交通运输局", "交通局", "公路局", "运管处", "运输管理", "交通运输委"),
    "环境保护": ("环保局", "环境保护局", "生态环境局", "环境局", "生态环境分局"),
    "卫生计生": ("卫生健康委", "卫健委", "卫生和计划生育", "卫计委", "卫计局", "卫生局",
             "卫生健康局", "食品药品监督"),
    "城乡建设": ("住建局", "住房和城乡建设局", "城乡建设局", "住建委", "住房保障局", "规划局",
             "城乡规划局", "不动产登记", "住房公积金", "房产局", "房屋交易", "城管局", "市政局",
             "行政执法局"),
    "商贸旅游": ("商务局", "工商局", "工商分局", "市场监督管理局", "市场监管局", "质监局",
             "旅游局", "文旅局", "文化旅游", "物价局", "商务和粮食"),
}


def label_from_reply(reply: str, head_chars: int = 600) -> str | None:
    head = reply[:head_chars]
    hits = {c: sum(head.count(t) for t in terms) for c, terms in REPLY_UNIT_TERMS.items()}
    ranked = sorted(hits.values(), reverse=True)
    if ranked[0] == 0 or ranked[0] == ranked[1]:
        return None
    return max(hits, key=lambda c: hits[c])
