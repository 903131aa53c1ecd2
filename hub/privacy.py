"""Masking personal data for everyone who does not need to see it: the one module
every page, export, public look-up, published report and log line uses.

Free text is masked as citizens actually write it, not only the contact fields:

- mobile numbers, with +86 / 86 / 0086 prefixes, spaces, dashes or dots between
  digits, full-width digits (１３８…): 138****5678;
- landlines with an area code, in brackets or not (0731-84561234, （0731）84561234):
  0731-****1234; service numbers (12345, 400/800 lines) are not personal and stay;
- e-mail addresses (also with a full-width ＠): z***@qq.com;
- ID card numbers, 18 or 15 digits, spaces allowed: 430102********123X;
- a name where the writer introduces themselves (我是/我叫/本人/举报人/投诉人/
  反映人/联系人/姓名 …, with or without a colon) and the name starts with a Chinese
  family name: 我叫张**.

Full-width digits and symbols are read as their ASCII twins for matching (the text
keeps its length, so positions carry over) and the masked text keeps the rest as
written.
"""

from __future__ import annotations

import logging
import re

# -- contact fields -----------------------------------------------------------------------


def mask_phone(phone: str | None) -> str | None:
    """13812345678 -> 138****5678; other numbers keep only their last four digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", _ascii(phone))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[7:]}"
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """张三丰 -> 张**: the family name only (two characters for 欧阳, 司马 …)."""
    if not name:
        return name
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * (len(name) - keep)


_PLACE_LEVEL = re.compile(r"^.*?(?:街道|社区|[区县市镇乡村])")


def mask_location(location: str | None) -> str | None:
    """An address down to its district, town or street (A3区含浦街道***): where the
    matter is stays readable, which door the citizen lives behind does not."""
    if not location:
        return location
    match = _PLACE_LEVEL.match(location[:40])
    kept = match.group(0) if match and len(match.group(0)) < len(location) else \
        (match.group(0) if match else "")
    if kept == location:
        return mask_text(location)
    return f"{mask_text(kept)}***"


# -- free text ----------------------------------------------------------------------------
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                             "＋": "+", "－": "-", "＠": "@", "（": "(", "）": ")",
                             "．": ".", "\u3000": " "})
_SEP = r"[ \-.\u00a0]?"


def _ascii(text: str) -> str:
    """Full-width digits and signs as ASCII, same length (positions carry over)."""
    return text.translate(_FULL_WIDTH)


_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})[ ]?(\d{4}[ ]?\d{4})[ ]?(\d{3}[0-9Xx])(?![0-9A-Za-z])"
                 r"|(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9+])((?:\+|00)?86[ \-]?)?(1[3-9]\d(?:" + _SEP + r"\d){8})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(\(?0\d{2,3}\)?[ \-]?)(\d{3,4}" + _SEP + r"\d{4})(?![0-9])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+\-]+)@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})")

COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 "
    "端木 独孤 南宫 西门 百里 呼延 澹台 公冶 太史 申屠 钟离 闻人 万俟 赫连 拓跋".split())
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟"
    "殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛"
    "靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜"
    "冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查"
    "麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚"
    "花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿"
    "薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭"
    "干但尹过幸弓")
# words after which a self-introduction names the writer
_INTRO = ("我的名字叫", "我的名字是", "我的姓名是", "本人名叫", "本人姓名", "我名叫", "我叫",
          "我是", "本人", "举报人", "投诉人", "反映人", "来电人", "联系人", "申请人", "求助人",
          "留言人", "当事人", "姓名")
# characters that end a name: the text goes on to say something else
_NAME_STOP = set("，,。.；;：:、！!？?（）()《》“”\"' \t\n男女今住家现在是的从于系电手联和与"
                 "去前上本近昨该此贵各向对就已曾反投举说请被")
_INTRO_RE = re.compile("(" + "|".join(sorted(map(re.escape, _INTRO), key=len, reverse=True))
                       + r")[：:\s]*")


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _name_at(text: str, start: int) -> int:
    """The length of a Chinese personal name starting at ``start`` (0 if none)."""
    surname = 2 if text[start:start + 2] in COMPOUND_SURNAMES else \
        1 if text[start:start + 1] in SURNAMES else 0
    if not surname:
        return 0
    given = 0
    while given < 2 and start + surname + given < len(text):
        ch = text[start + surname + given]
        if not _is_han(ch) or ch in _NAME_STOP:
            break
        given += 1
    return surname + given if given else 0


def _mask_names(text: str) -> str:
    out, last = [], 0
    for match in _INTRO_RE.finditer(text):
        start = match.end()
        if start < last:
            continue
        length = _name_at(text, start)
        if not length:
            continue
        name = text[start:start + length]
        out.append(text[last:start])
        out.append(mask_name(name) or "")
        last = start + length
    out.append(text[last:])
    return "".join(out)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def mask_text(text: str | None, known: tuple[str | None, ...] = ()) -> str:
    """Mask phones, landlines, e-mail addresses, ID numbers and self-introduced names
    inside free text (bodies, replies, comments, notes, logs). ``known`` are the
    case's own contact name and phone: masked wherever the text repeats them, even
    bare (a reply saying 已电话联系王建国)."""
    if not text:
        return text or ""
    for value in known:
        if value and len(value) >= 2 and value in text:
            masked = mask_name(value) if not any(c.isdigit() for c in value) \
                else mask_phone(value)
            text = text.replace(value, masked or "")
    plain = _ascii(text)
    spans: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in spans)

    for m in _ID.finditer(plain):
        digits = _digits(m.group(0)) + ("X" if m.group(0)[-1] in "Xx" else "")
        spans.append((m.start(), m.end(), f"{digits[:6]}{'*' * (len(digits) - 10)}"
                      f"{m.group(0)[-4:]}"))
    for m in _MOBILE.finditer(plain):
        if free(m.start(), m.end()):
            digits = _digits(m.group(2))
            prefix = m.group(1) or ""
            spans.append((m.start(), m.end(), f"{prefix}{digits[:3]}****{digits[-4:]}"))
    for m in _LANDLINE.finditer(plain):
        if free(m.start(), m.end()):
            local = _digits(m.group(2))
            spans.append((m.start(), m.end(),
                          f"{m.group(1)}{'*' * (len(local) - 4)}{local[-4:]}"))
    for m in _EMAIL.finditer(plain):
        if free(m.start(), m.end()):
            spans.append((m.start(), m.end(), f"{m.group(1)[:1]}***@{m.group(2)}"))
    if spans:
        spans.sort()
        pieces, last = [], 0
        for start, end, masked in spans:
            pieces.append(text[last:start])
            pieces.append(masked)
            last = end
        pieces.append(text[last:])
        text = "".join(pieces)
    return _mask_names(text)


# -- logs ---------------------------------------------------------------------------------
class MaskingFilter(logging.Filter):
    """Masks personal data in every log record's message (and its traceback text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Attach MaskingFilter to every handler of ``logger`` (the root by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
