"""What every figure in a published report means, in plain Chinese, with the city's
own settings filled in. The report prints these at its end; the JSON carries them.
"""

from __future__ import annotations

from typing import Any

from hub.config import CityConfig
from hub.ranking.score import INDICATORS, SPEED_LABEL


def definitions(config: CityConfig) -> list[dict[str, str]]:
    d = config.deadlines
    days = d.reply_days
    hard, redo = days.get("hard", days["normal"]), days.get("redo", days["normal"])
    own = d.norms.categories  # limits per category (deadlines.toml [categories])
    sign_own = "；".join(f"{name}类为交办后{n.sign_hours:g}个工作小时" for name, n in own.items()
                        if n.sign_hours)
    reply_own = "；".join(f"{name}类一般件{n.reply_days}个工作日" for name, n in own.items()
                         if n.reply_days)
    items = [
        ("受理", "本期收到并受理的群众诉求件数（合并的重复件不计）。"),
        ("交办", "本期交办或改派给该单位的工单件数。"),
        ("直接答复", "热线话务员依据知识库当场答复的诉求件数，不交办、不计入任何单位的指标；"
                   "直接答复率 = 直接答复 ÷ 受理。"),
        ("应签收", f"签收时限（交办后第{d.sign_days}个工作日结束"
                  + (f"；{sign_own}" if sign_own else "") + "）在本期届满的交办件次；"
                  "时限内被派单员改派走的不计。"),
        ("签收及时率", "应签收件次中，单位在时限内签收或退回的比例：按时签收 ÷ 应签收。"),
        ("应办结", "办理期限在本期内届满的工单，加上期限在本期之前届满、本期开始时仍未答复"
                  "且仍由该单位办理的工单（往期超期未答复）。期限以交办当时记录的为准："
                  f"一般件{days['normal']}个工作日，疑难件{hard}个，"
                  f"重办件{redo}个，批准延期的按延期后的期限"
                  + (f"（{reply_own}）" if reply_own else "") + "。"
                  "事后改标疑难件或调整期限，不改变已结束期次的数字。"),
        ("已答复", "应办结工单中，到本期结束时单位已向群众作出答复的件数。答复不等于办结。"),
        ("按期答复率", "应办结工单中，在期限内作出答复的比例：按期答复 ÷ 应办结"
                     "（一些通报称“按期办结率”）。"),
        ("已办结", "应办结工单中，到本期结束时已经结案（群众评价满意或基本满意）的件数。"),
        ("办结率", "已办结 ÷ 应办结。"),
        ("满意率", "（满意 + 基本满意）÷ 本期评价数。表中同时列出评价数和满意、基本满意、"
                 "不满意各多少件。"),
        ("解决率", "本期评价中，群众表示问题已解决的件数 ÷ 回答了“是否解决”的件数，与满意率"
                 "分开统计；本期没有人回答的单位，这项不计入得分。"),
        ("回退率", "本期被认定为错误退回（错退：单位退回后，派单员仲裁退回不成立、派回该单位，"
                 "办理期限仍按退回前的计算）的件数 ÷ 交办件数。"
                 "派单员认定退回正确的（改派其他单位），不计入回退率，也不计入该单位的其他指标；"
                 "期限届满后才退回的工单，只有在期末前被认定为错退的，才计入该单位的应办结。"),
        ("重办率", "本期因群众评价不满意或表示未解决而重新办理的件数 ÷ 本期答复件数。"),
        ("答复用时", "从交办（或改派、重办）到答复经过的工作日数，取中位数和90分位；"
                   "节假日和调休上班日按国务院办公厅公布的安排计算。"),
        (SPEED_LABEL, f"1 − 答复用时中位数 ÷ {days['normal']}个工作日，最低为0。"),
        ("超期未答复", "应办结工单中，到本期结束时仍未答复的件数。"),
        ("协办", "多个单位共同办理的工单，由主办单位统一答复群众，工单计入主办单位的各项指标；"
                "协办单位按协办事项的期限（交办协办后"
                f"{days.get('cohandle', days['normal'])}个工作日）统计：协办应回复为期限在本期"
                "届满的协办事项，协办按期回复为其中在期限内回复主办单位的件数。只列数字，不计入得分。"),
        ("质检提示答复", "本期答复中，经答复质检提示（过短、套话、答非所问、含他人个人信息、"
                    "承诺无时限）后单位仍坚持发送的件数。只列数字，不计入得分。"),
    ]
    return [{"name": n, "text": t} for n, t in items]


def method(config: CityConfig) -> list[str]:
    spec = config.ranking
    tiers = "、".join(t.title for t in spec.tiers)
    return [
        "数据来源：全部数字来自工单办理记录。每一次交办、签收、答复、退回、评价都记有时间，"
        "本报告只统计本期结束前发生的事，办理期限按当时记录的期限计算，所以同一期次"
        "任何时候重新计算，结果都完全相同。",
        f"分层排名：{tiers}分别排名。区县的数字包含本区县各部门办理的工单。",
        "综合得分：各项比率按各层级的权重加权，满分100分（权重见各层级表格下方）。"
        "回退率、重办率越低越好，按“1 − 比率”计分。某项指标本期整个层级都没有数据的，"
        "不计入，其余指标按原比例折算。",
        f"防止“靠运气”：件数少的单位，其比率向本层级平均水平靠拢，相当于在实际件数之外"
        f"再加{spec.prior_strength:g}件本层级平均水平的工单。应办结、交办或应签收件数少于"
        "门槛的单位列为“样本过少”，不评分、不排名；本期没有任何交办的单位列为“无交办”。",
        "红榜和最难办事榜：每个层级分别列出得分最高和最低的单位，每榜不超过该层级已排名"
        "单位的一半，两榜不重复。经纪检监察机关查实违纪的单位，直接列入最难办事榜首位。"
        f"连续{spec.bottom3_notice}期处于后三名的予以通报，连续{spec.bottom3_interview}期"
        "的予以约谈（已排名单位不少于7个的层级才计算后三名）。",
        "保护个人信息：本报告不含任何群众的姓名、电话、证件号码和地址。热点问题的关键词"
        "先去除个人信息，再从多数诉求共有的词语中选出，姓名和数字不作关键词。",
    ]


def indicator_labels() -> dict[str, Any]:
    labels: dict[str, Any] = {name: ind.label for name, ind in INDICATORS.items()}
    labels["reply_speed"] = SPEED_LABEL
    return labels
