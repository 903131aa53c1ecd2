"""City configuration from TOML files a city edits without touching code.

Every error names the file, the line and the reason, and stops start-up:
a half-understood unit tree would route cases to the wrong office.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from hub.config_norms import NormSpec, load_norms

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class ConfigError(ValueError):
    """Invalid configuration, with the place it was found."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str  # city | county | department | county_department | enterprise
    parent: str | None = None
    county: str | None = None
    mirrors: str | None = None  # the municipal department a county unit mirrors
    discipline: bool = False
    # other names citizens use for it (城管, 城管局): a misconduct report naming the unit
    # by any of them never goes to it (hub/whistleblower.py)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CountySpec:
    code: str
    name: str
    aliases: tuple[str, ...]
    towns: tuple[str, ...]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    title: str
    options: dict[str, Any]
    interval_seconds: int = 0
    api_key_env: str | None = None
    dev_api_key: str | None = None
    enabled: bool = True
    path: Path = Path("sources.toml")  # where it was written, for error messages
    line: int | None = None  # its [[sources]] line
    option_lines: dict[str, int] = field(default_factory=dict, compare=False)

    def line_of(self, option: str) -> int | None:
        return self.option_lines.get(option, self.line)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    terms: tuple[str, ...]
    unit: str
    category: str | None
    hide_identity: bool
    county_level: bool
    description: str = ""


@dataclass(frozen=True)
class SurgeSpec:
    """热点突发: ``threshold`` near-duplicate appeals about one matter within
    ``window_minutes`` raise a surge (see hub/surge/)."""

    enabled: bool = True
    threshold: int = 20
    window_minutes: int = 60


@dataclass(frozen=True)
class RoutingSpec:
    categories: dict[str, str]
    rules: tuple[RuleSpec, ...]
    triage_threshold: float
    urgency_terms: tuple[str, ...]
    urgency_negations: tuple[str, ...]
    surge: SurgeSpec = field(default_factory=SurgeSpec)


@dataclass(frozen=True)
class DeadlineSpec:
    timezone: str = "Asia/Shanghai"
    reply_days: dict[str, int] = field(default_factory=lambda: {"normal": 3})
    due_soon_days: int = 1
    escalate_after_urges: int = 2
    escalate_after_returns: int = 2  # 退回 of one case this many times goes to supervisors
    sign_days: int = 1  # 签收: by the end of this many working days after assignment
    callback_days: int = 2  # 回访 within this many working days after a reply
    callback_attempts: int = 3  # unanswered calls before a case is 未回访
    extra_holidays: tuple[str, ...] = ()
    extra_workdays: tuple[str, ...] = ()
    # office hours, limits per category, staged warnings (hub/config_norms.py)
    norms: NormSpec = field(default_factory=NormSpec)


#: indicators a tier may weigh (the names rankings and ranking.toml use)
INDICATORS = ("sign", "on_time", "completion", "satisfaction", "resolution", "returns",
              "redo", "reply_speed")
UNIT_KINDS = ("county", "department", "county_department", "enterprise")


@dataclass(frozen=True)
class TierSpec:
    """Units ranked against each other (区县, 市直部门, 公共企事业单位 ...)."""

    code: str
    title: str
    kinds: tuple[str, ...]
    weights: dict[str, float]
    min_cases: int
    list_size: int
    include_children: bool = False  # a county's figures include its own departments'
    chart: bool = True  # drawn in the report's charts (long tiers only in tables)


@dataclass(frozen=True)
class RankingSpec:
    weights: dict[str, float]
    prior_strength: float
    min_cases: int
    list_size: int
    bottom3_notice: int
    bottom3_interview: int
    misconduct_rank_first: bool
    tiers: tuple[TierSpec, ...] = ()


@dataclass(frozen=True)
class CityConfig:
    city_code: str
    city_name: str
    units: tuple[UnitSpec, ...]
    counties: tuple[CountySpec, ...]
    sources: tuple[SourceSpec, ...]
    routing: RoutingSpec
    deadlines: DeadlineSpec
    ranking: RankingSpec
    # the first day of the city's appeals platform: an appeal dated earlier is implausible
    since: date = date(2000, 1, 1)

    @property
    def earliest(self) -> datetime:
        """The first moment an appeal may plausibly be dated (city time)."""
        from zoneinfo import ZoneInfo

        return datetime.combine(self.since, time(), ZoneInfo(self.deadlines.timezone))

    def unit(self, code: str) -> UnitSpec:
        for unit in self.units:
            if unit.code == code:
                return unit
        raise KeyError(code)

    def source(self, name: str) -> SourceSpec:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)


class _File:
    """A parsed TOML file that can point at the line of a value."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(path, None, "file not found") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(path, None, f"not UTF-8: {exc}") from None
        try:
            self.data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            raise ConfigError(path, int(match.group(1)) if match else None, str(exc)) from None

    def line_of(self, needle: object) -> int | None:
        """First line mentioning the value: good enough to point a person at it."""
        token = str(needle)
        for number, line in enumerate(self.text.splitlines(), start=1):
            if token in line:
                return number
        return None

    def fail(self, near: object, reason: str) -> ConfigError:
        return ConfigError(self.path, self.line_of(near), reason)

    def req(self, table: dict[str, Any], key: str, kind: type, near: object) -> Any:
        if key not in table:
            raise self.fail(near, f"missing required key {key!r}")
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(value if kind is not dict else key,
                            f"{key!r} must be {kind.__name__}, got {type(value).__name__}")
        return value


def _load_units(f: _File) -> tuple[str, str, list[UnitSpec], list[CountySpec]]:
    city = f.req(f.data, "city", dict, "[city]")
    city_code = f.req(city, "code", str, "[city]")
    city_name = f.req(city, "name", str, "[city]")
    units = [UnitSpec(code="city", name=city_name, kind="city")]
    seen: set[str] = {"city"}
    depts: dict[str, dict[str, Any]] = {}

    def add(spec: UnitSpec) -> None:
        if not CODE_RE.match(spec.code):
            raise f.fail(spec.code, f"unit code {spec.code!r} must be 1-40 letters, digits, - or _")
        if spec.code in seen:
            raise f.fail(spec.code, f"duplicate unit code {spec.code!r}")
        seen.add(spec.code)
        units.append(spec)

    for dept in f.data.get("departments", []):
        code = f.req(dept, "code", str, "[[departments]]")
        name = f.req(dept, "name", str, code)
        depts[code] = dept
        aliases = tuple(str(a) for a in dept.get("aliases", []))
        local_name = dept.get("local_name")
        add(UnitSpec(code=code, name=name, kind="department", parent="city",
                     discipline=bool(dept.get("discipline", False)),
                     aliases=aliases + ((local_name,) if local_name else ())))
    counties: list[CountySpec] = []
    for county in f.data.get("counties", []):
        code = f.req(county, "code", str, "[[counties]]")
        name = f.req(county, "name", str, code)
        add(UnitSpec(code=code, name=name, kind="county", parent="city", county=code))
        counties.append(CountySpec(code=code, name=name,
                                   aliases=tuple(county.get("aliases", [])),
                                   towns=tuple(county.get("towns", []))))
        for mirrored in county.get("mirrors", []):
            if mirrored not in depts:
                raise f.fail(mirrored, f"county {code} mirrors unknown department {mirrored!r}")
            local = depts[mirrored].get("local_name") or depts[mirrored]["name"]
            add(UnitSpec(code=f"{code}-{mirrored}", name=f"{name}{local}",
                         kind="county_department", parent=code, county=code, mirrors=mirrored,
                         discipline=bool(depts[mirrored].get("discipline", False)),
                         aliases=(local, *depts[mirrored].get("aliases", []))))
    if not counties:
        raise f.fail("[[counties]]", "at least one county/district is required")
    for company in f.data.get("enterprises", []):
        code = f.req(company, "code", str, "[[enterprises]]")
        add(UnitSpec(code=code, name=f.req(company, "name", str, code), kind="enterprise",
                     parent="city"))
    return city_code, city_name, units, counties


def _source_blocks(text: str) -> list[tuple[int, dict[str, int]]]:
    """Each [[sources]] table's first line and the line of each of its keys."""
    blocks: list[tuple[int, dict[str, int]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            if re.match(r"^\[\[\s*sources\s*\]\]", stripped):
                blocks.append((number, {}))
            elif blocks:
                blocks.append((0, {}))  # another table: keys below are not this source's
            continue
        key = re.match(r"^([A-Za-z0-9_-]+)\s*=", stripped)
        if key and blocks and blocks[-1][0]:
            blocks[-1][1].setdefault(key.group(1), number)
    return [b for b in blocks if b[0]]


def _load_sources(f: _File) -> list[SourceSpec]:
    out: list[SourceSpec] = []
    names: set[str] = set()
    blocks = _source_blocks(f.text)
    for index, src in enumerate(f.data.get("sources", [])):
        start, key_lines = blocks[index] if index < len(blocks) else (None, {})
        name = f.req(src, "name", str, "[[sources]]")
        if not CODE_RE.match(name):
            raise f.fail(name, f"source name {name!r} must be letters, digits, - or _")
        if name in names:
            raise f.fail(name, f"duplicate source {name!r}")
        names.add(name)
        kind = f.req(src, "kind", str, name)
        known = {"name", "kind", "title", "interval_seconds", "api_key_env", "dev_api_key",
                 "enabled"}
        interval = src.get("interval_seconds", 0)
        if not isinstance(interval, int) or interval < 0:
            raise f.fail(name, "interval_seconds must be a whole number >= 0")
        out.append(SourceSpec(
            name=name, kind=kind, title=str(src.get("title", name)),
            options={k: v for k, v in src.items() if k not in known},
            interval_seconds=interval, api_key_env=src.get("api_key_env"),
            dev_api_key=src.get("dev_api_key"), enabled=bool(src.get("enabled", True)),
            path=f.path, line=start, option_lines=key_lines,
        ))
    return out


def _load_routing(f: _File, unit_codes: set[str]) -> RoutingSpec:
    categories = f.req(f.data, "categories", dict, "[categories]")
    for category, unit in categories.items():
        if unit not in unit_codes:
            raise f.fail(category, f"category {category!r} maps to unknown unit {unit!r}")
    rules = []
    for rule in f.data.get("rules", []):
        name = f.req(rule, "name", str, "[[rules]]")
        unit = f.req(rule, "unit", str, name)
        if unit not in unit_codes:
            raise f.fail(unit, f"rule {name!r} routes to unknown unit {unit!r}")
        terms = f.req(rule, "terms", list, name)
        rules.append(RuleSpec(name=name, terms=tuple(terms), unit=unit,
                              category=rule.get("category"),
                              hide_identity=bool(rule.get("hide_identity", False)),
                              county_level=bool(rule.get("county_level", False)),
                              description=str(rule.get("description", ""))))
    threshold = float(f.data.get("triage_threshold", 0.55))
    if not 0.0 <= threshold <= 1.0:
        raise f.fail("triage_threshold", "triage_threshold must be between 0 and 1")
    urgency = f.data.get("urgency", {})
    return RoutingSpec(categories=dict(categories), rules=tuple(rules),
                       triage_threshold=threshold,
                       urgency_terms=tuple(urgency.get("terms", [])),
                       urgency_negations=tuple(urgency.get("negations", [])),
                       surge=_load_surge(f))


def _load_surge(f: _File) -> SurgeSpec:
    table = f.data.get("surge", {})
    if not isinstance(table, dict):
        raise f.fail("surge", "[surge] must be a table")
    unknown = set(table) - {"enabled", "threshold", "window_minutes"}
    if unknown:
        raise f.fail(sorted(unknown)[0], f"unknown key {sorted(unknown)[0]!r} in [surge]")
    threshold = table.get("threshold", SurgeSpec.threshold)
    window = table.get("window_minutes", SurgeSpec.window_minutes)
    for key, value, top in (("threshold", threshold, 100_000), ("window_minutes", window, 10_080)):
        if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= top:
            raise f.fail(f"{key} = {value}", f"surge.{key} must be a whole number from 2 to {top}")
    return SurgeSpec(enabled=bool(table.get("enabled", True)), threshold=threshold,
                     window_minutes=window)


def _load_deadlines(f: _File, categories: set[str]) -> DeadlineSpec:
    reply = f.req(f.data, "reply_days", dict, "[reply_days]")
    for key, value in reply.items():
        if not isinstance(value, int) or value < 1 or value > 60:
            raise f.fail(key, f"reply_days.{key} must be a whole number from 1 to 60")
    if "normal" not in reply:
        raise f.fail("[reply_days]", "reply_days.normal is required")
    alerts = f.data.get("alerts", {})
    sign_days = f.data.get("signing", {}).get("working_days", 1)
    if not isinstance(sign_days, int) or isinstance(sign_days, bool) or not 1 <= sign_days <= 10:
        raise f.fail("working_days", "signing.working_days must be a whole number from 1 to 10")
    callback = f.data.get("callback", {})
    for key, top in (("within_days", 10), ("attempts", 10)):
        value = callback.get(key, 2 if key == "within_days" else 3)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise f.fail(key, f"callback.{key} must be a whole number from 1 to {top}")
    cal = f.data.get("calendar", {})
    for day in [*cal.get("extra_holidays", []), *cal.get("extra_workdays", [])]:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(day)):
            raise f.fail(day, f"calendar day {day!r} must be written YYYY-MM-DD")
    tz = str(f.data.get("timezone", "Asia/Shanghai"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        raise f.fail("timezone", f"unknown time zone {tz!r}") from None
    return DeadlineSpec(timezone=tz, reply_days=dict(reply),
                        due_soon_days=int(alerts.get("due_soon_days", 1)),
                        escalate_after_urges=int(alerts.get("escalate_after_urges", 2)),
                        escalate_after_returns=_whole(f, alerts, "escalate_after_returns", 2,
                                                      low=1),
                        sign_days=sign_days,
                        callback_days=callback.get("within_days", 2),
                        callback_attempts=callback.get("attempts", 3),
                        extra_holidays=tuple(str(d) for d in cal.get("extra_holidays", [])),
                        extra_workdays=tuple(str(d) for d in cal.get("extra_workdays", [])),
                        norms=load_norms(f, categories))


def _weights(f: _File, weights: Any, where: str) -> dict[str, float]:
    if not isinstance(weights, dict):
        raise f.fail(where, f"{where} must be a table of indicator = weight")
    for key, value in weights.items():
        if key not in INDICATORS:
            raise f.fail(key, f"unknown indicator {key!r} in {where} "
                              f"(known: {', '.join(INDICATORS)})")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise f.fail(key, f"weight {key!r} must be a number >= 0")
    if sum(weights.values()) <= 0:
        raise f.fail(where, "weights must not all be zero")
    return {k: float(v) for k, v in weights.items()}


def _whole(f: _File, table: dict[str, Any], key: str, default: int, low: int = 0) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise f.fail(key, f"{key!r} must be a whole number >= {low}")
    return value


DEFAULT_TIERS = (("county", "区县（市）", ("county",), True, True),
                 ("department", "市直部门", ("department",), False, True),
                 ("enterprise", "公共企事业单位", ("enterprise",), False, True),
                 ("county_department", "区县部门", ("county_department",), False, False))


def _load_ranking(f: _File) -> RankingSpec:
    weights = _weights(f, f.req(f.data, "weights", dict, "[weights]"), "[weights]")
    listing = f.data.get("listing", {})
    esc = f.data.get("escalation", {})
    min_cases = _whole(f, listing, "min_cases", 5)
    list_size = _whole(f, listing, "list_size", 10, low=1)
    tiers: list[TierSpec] = []
    raw_tiers = f.data.get("tiers") or [
        {"code": c, "title": t, "kinds": list(k), "include_children": i, "chart": ch}
        for c, t, k, i, ch in DEFAULT_TIERS]
    seen: set[str] = set()
    for tier in raw_tiers:
        code = f.req(tier, "code", str, "[[tiers]]")
        if code in seen or not CODE_RE.match(code):
            raise f.fail(code, f"tier code {code!r} is repeated or not letters, digits, - or _")
        seen.add(code)
        kinds = f.req(tier, "kinds", list, code)
        for kind in kinds:
            if kind not in UNIT_KINDS:
                raise f.fail(kind, f"tier {code}: unknown unit kind {kind!r} "
                                   f"(known: {', '.join(UNIT_KINDS)})")
        tiers.append(TierSpec(
            code=code, title=str(tier.get("title", code)), kinds=tuple(kinds),
            weights=_weights(f, tier["weights"], f"[tiers.weights] of {code}")
            if "weights" in tier else weights,
            min_cases=_whole(f, tier, "min_cases", min_cases),
            list_size=_whole(f, tier, "list_size", list_size, low=1),
            include_children=bool(tier.get("include_children", False)),
            chart=bool(tier.get("chart", True))))
    return RankingSpec(
        weights=weights,
        prior_strength=float(f.data.get("shrinkage", {}).get("prior_strength", 10)),
        min_cases=min_cases, list_size=list_size,
        bottom3_notice=int(esc.get("bottom3_consecutive_notice", 2)),
        bottom3_interview=int(esc.get("bottom3_consecutive_interview", 3)),
        misconduct_rank_first=bool(esc.get("misconduct_rank_first", True)),
        tiers=tuple(tiers),
    )


def load_config(config_dir: Path) -> CityConfig:
    """Read and validate every file in ``config_dir``; raise ConfigError on the first fault."""
    units_file = _File(config_dir / "units.toml")
    city_code, city_name, units, counties = _load_units(units_file)
    routing = _load_routing(_File(config_dir / "routing.toml"), {u.code for u in units})
    since = units_file.data.get("city", {}).get("since", date(2000, 1, 1))
    if isinstance(since, str):
        try:
            since = date.fromisoformat(since)
        except ValueError:
            raise units_file.fail("since", f"[city] since must be a date, not {since!r}") \
                from None
    if not isinstance(since, date) or isinstance(since, datetime):
        raise units_file.fail("since", "[city] since must be a date like 2000-01-01")
    return CityConfig(since=since,
        city_code=city_code, city_name=city_name, units=tuple(units), counties=tuple(counties),
        sources=tuple(_load_sources(_File(config_dir / "sources.toml"))),
        routing=routing,
        deadlines=_load_deadlines(_File(config_dir / "deadlines.toml"),
                                  set(routing.categories)),
        ranking=_load_ranking(_File(config_dir / "ranking.toml")),
    )
