"""Masking personal data for everyone who does not need to see it."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID = re.compile(r"(?<![0-9Xx])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9Xx])")


def mask_phone(phone: str | None) -> str | None:
    """13812345678 -> 138****5678; other numbers keep only their last four digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[7:]}"
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """张三丰 -> 张**: the family name only."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_text(text: str) -> str:
    """Mask phone and ID numbers inside free text (bodies, replies, logs)."""
    text = _ID.sub(lambda m: f"{m.group(1)}********{m.group(3)[-1]}", text)
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
