"""Misconduct reports (举报) and the people who write them.

A routing rule with ``hide_identity`` (config/routing.toml: misconduct by officials)
sends the report to a discipline body (纪委监委, ``discipline = true`` in units.toml)
and hides the writer. Here that is enforced wherever a case can move, not only when
the router first sends it:

- the units the report names (by name, local name or alias, in any county) are its
  *accused* units: it never goes to them, whoever asks;
- it may go only to discipline bodies, unless a supervisor overrides with a reason,
  which is kept in the case's event log;
- outside discipline bodies, dispatchers and supervisors, the writer's identity and
  every personal detail in the text stay masked (hub/web/access.py).
"""

from __future__ import annotations

from hub.config import CityConfig


class AssignmentRefused(ValueError):
    """The move would expose a whistleblower; the message says why, in Chinese."""


def accused_units(config: CityConfig, text: str) -> list[str]:
    """Codes of the units ``text`` names (longest names first; never the city)."""
    found: set[str] = set()
    for unit in config.units:
        if unit.kind == "city" or unit.discipline:
            continue
        names = {unit.name, *unit.aliases}
        if any(len(n) >= 2 and n in text for n in names):
            found.add(unit.code)
    return sorted(found)


def check_assignment(config: CityConfig, text: str, accused: list[str] | None,
                     unit_code: str, override_reason: str | None) -> str | None:
    """Raise AssignmentRefused unless a hidden-identity case may go to ``unit_code``;
    returns the note to record (the override's reason) or None."""
    named = set(accused or ()) | set(accused_units(config, text))
    if unit_code in named:
        raise AssignmentRefused("该举报件反映的正是此单位，不能交由其办理")
    try:
        unit = config.unit(unit_code)
    except KeyError:
        return None  # the service reports the unknown unit
    if unit.discipline:
        return None
    reason = (override_reason or "").strip()
    if not reason:
        raise AssignmentRefused("保密举报件只能交办纪检监察机关；如确需交其他单位，"
                                "须由督办员填写改派理由")
    return f"保密件改派非纪检单位，理由：{reason[:300]}"
