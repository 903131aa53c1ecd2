"""答复质检: what a reply to a citizen should not be, checked before it goes out.

Five rules, each with a flag the unit reads in Chinese (it may still send, giving a
reason; supervisors see such replies in their 答复质检 view and rankings count them):

- ``too_short``: after the courtesies (网友您好, 留言已收悉, 感谢您的关注 …) too
  little is left to answer the question: under a quarter of its length, at least
  30 and at most 80 characters.
- ``boilerplate``: nearly the same (character 3-gram Jaccard ≥ 0.7 after the
  courtesies) as three or more of the unit's earlier replies (敷衍塞责).
- ``off_topic``: touches none of the places and matters the citizen raised (the
  appeal's key words: road, community, village, school … names and jieba's TF-IDF
  keywords of its title and text; any two characters of one in the reply count).
- ``third_party_data``: a mobile number or an ID number that is not the citizen's own.
- ``promise_without_date``: promises to act (将尽快, 下一步将, 计划 … 解决/整改) with
  no date or time limit anywhere in the reply.

``benchmarks/reply_quality.py`` runs the rules over the departments' real replies
in ../shared/data and prints what they flag, with examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from hub.textsim import jaccard

COURTESY = re.compile("|".join((
    r"(尊敬的)?(网友|市民|先生|女士|同志)?[“\"「]?[A-Za-z0-9_\u4e00-\u9fa5]{0,12}"
    r"[”\"」]?[:：，,]?\s*(您好|你好)[！!，,。]?",
    r"(您的|你的)?(留言|来信|诉求|网帖|反映的问题)[^。！]{0,30}?(已)?收悉[。，,！!]?",
    r"(现将|现就|现对)?[^。]{0,12}(有关|相关)?(情况|问题)?(回复|答复)如下[:：]?",
    r"(感谢|谢谢)(您|你)[^。！]{0,30}?(关心|关注|支持|监督|理解)[^。！]{0,10}[。！!]?",
    r"(此复|特此回复|特此答复)[。！]?",
    r"\d{4}年\d{1,2}月\d{1,2}日",
)))
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9Xx])\d{17}[\dXx](?![0-9Xx])")
SUFFIXES = ("路", "街", "大道", "巷", "小区", "社区", "村", "镇", "乡", "学校", "中学",
            "小学", "幼儿园", "医院", "公司", "广场", "花园", "公园", "市场", "大厦", "公寓",
            "工地", "车站")
PLACE = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{2,6}?(?:" + "|".join(SUFFIXES) + ")")
FUNCTION_CHARS = set("的是在和了当现这那也都就还又与及或被把给对向从为请我你您他她它们")
#: words every appeal and reply share: not what makes an appeal this appeal
GENERIC = {"问题", "部门", "相关", "情况", "领导", "希望", "要求", "反映", "处理", "解决", "工作",
           "政府", "单位", "有关", "群众", "市民", "网友", "建议", "投诉", "咨询", "请求"}
PROMISE = re.compile(r"(将|会|拟|计划|争取|尽快|近期|下一步|下阶段|后续)[^。！；]{0,16}?"
                     r"(解决|处理|实施|安排|修复|整改|完成|建设|改造|落实|维修|清理)")
WHEN = re.compile(r"\d{4}年|\d{1,2}月|[上中下]旬|月底|年底|年内|年前|月内|节前|底前|"
                  r"\d+\s*个?(工作日|日|天|周|月)内|本周|下周|本月|下月|今年|明年|\d{1,2}日前")
MIN_CONTENT, MAX_CONTENT = 30, 80
SIMILAR, SIMILAR_COUNT = 0.7, 3


@dataclass(frozen=True)
class Flag:
    code: str
    text: str  # what the unit reads


def content_of(reply: str) -> str:
    """The reply without its courtesies and dates: what actually answers."""
    return re.sub(r"\s+", "", COURTESY.sub("", reply or ""))


def shingles(text: str) -> frozenset[str]:
    return frozenset(text[i:i + 3] for i in range(max(0, len(text) - 2)))


@lru_cache(maxsize=1)
def _keywords_engine() -> object:
    import jieba.analyse

    return jieba.analyse


def key_terms(title: str, body: str) -> list[str]:
    """Places and matters the citizen raised: place names (a name ending in 路, 小区,
    村 …) and jieba's TF-IDF keywords of the title and text, generic words left out."""
    text = f"{title}。{body}"[:3000]
    places = [m.group(0) for m in PLACE.finditer(text)
              if not FUNCTION_CHARS & set(m.group(0))]
    tags = _keywords_engine().extract_tags(text, topK=10)  # type: ignore[attr-defined]
    terms = [t for t in (*places, *tags)
             if len(t) >= 2 and not t.isascii() and t not in GENERIC]
    return list(dict.fromkeys(terms))[:10]


def _mentions(reply: str, term: str) -> bool:
    """Whether the reply touches the term at all: any two characters of its name
    (a place without its 路/小区/村 … ending) appear in it. Lenient on purpose: the
    rule is for replies that share nothing with what the citizen raised."""
    core = next((term[:-len(x)] for x in SUFFIXES
                 if term.endswith(x) and len(term) > len(x) + 1), term)
    return any(core[i:i + 2] in reply for i in range(max(1, len(core) - 1)))


def check(title: str, body: str, reply: str, earlier: Iterable[frozenset[str]] = (),
          known: Sequence[str | None] = ()) -> list[Flag]:
    """The flags for ``reply`` to the appeal (``title``, ``body``); ``earlier`` holds
    the shingles of the unit's earlier replies' content; ``known`` the citizen's own
    contact details (not a third party's)."""
    flags: list[Flag] = []
    content = content_of(reply)
    needed = min(MAX_CONTENT, max(MIN_CONTENT, len(body or "") // 4))
    if len(content) < needed:
        flags.append(Flag("too_short", f"答复过短：除去问候语只有{len(content)}字，"
                                       f"未具体回应诉求（至少{needed}字）"))
    mine = shingles(content)
    alike = sum(1 for other in earlier if jaccard(mine, other) >= SIMILAR) if mine else 0
    if alike >= SIMILAR_COUNT:
        flags.append(Flag("boilerplate", f"与本单位{alike}件以往答复几乎相同，像是套话"))
    terms = key_terms(title, body)
    if terms and len(content) >= needed and not any(_mentions(reply, t) for t in terms):
        flags.append(Flag("off_topic", "未提及诉求中的地点或事项（如："
                                       + "、".join(terms[:3]) + "）"))
    own = {re.sub(r"\D", "", k or "") for k in known if k}
    others = [n for n in (*MOBILE.findall(reply), *ID_NUMBER.findall(reply)) if n not in own]
    if others:
        flags.append(Flag("third_party_data", "含有他人的手机号或身份证号，请删除"))
    if PROMISE.search(content) and not WHEN.search(reply):
        flags.append(Flag("promise_without_date", "承诺办理但没有写明时间（如“将尽快处理”），"
                                                  "请写明完成时限"))
    return flags


LABELS = {"too_short": "答复过短", "boilerplate": "套话答复", "off_topic": "答非所问",
          "third_party_data": "含他人个人信息", "promise_without_date": "承诺无时限",
          "unedited": "模板未修改"}
